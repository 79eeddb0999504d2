#!/usr/bin/env bash
# Install everything certpilot.tls needs to be developed and tested, idempotently:
#   1. Debian packages (pebble, nginx, openssh-server, chromium, ...) when missing;
#   2. a virtualenv (.venv by default) with ansible-core and the Python deps;
#   3. the link that makes this checkout importable as ansible_collections.certpilot.tls.
# Usage: tests/tools/bootstrap.sh [apt|venv|link|all]   (default: all)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
APT_PACKAGES=(pebble nginx-light openssh-server openssh-client sudo curl openssl iproute2
              psmisc procps rsync git chromium fonts-dejavu-core)

log() { printf '==> %s\n' "$*"; }

need_apt() {
    local missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        log "apt packages present"
        return 0
    fi
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    log "installing apt packages: ${missing[*]}"
    $sudo apt-get update -qq
    # policy-rc.d keeps Debian from starting the system nginx/sshd: the sandbox runs its own.
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
        $sudo chmod 755 "$policy"
        created_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ "$created_policy" -eq 0 ] || $sudo rm -f "$policy"
}

pick_python() {
    # ansible-core 2.21 needs Python >= 3.12; fall back to 2.19 on 3.11.
    if [ -n "${CONTROLLER_PYTHON:-}" ]; then echo "$CONTROLLER_PYTHON"; return; fi
    local cand
    for cand in "$HOME"/.pyenv/versions/3.12.*/bin/python3 "$HOME"/.pyenv/versions/3.13.*/bin/python3 \
                "$(command -v python3.12 || true)" "$(command -v python3.13 || true)" "$(command -v python3 || true)"; do
        [ -n "$cand" ] && [ -x "$cand" ] && { echo "$cand"; return; }
    done
    echo "no python3 found" >&2; exit 1
}

ansible_core_spec() {
    local py=$1
    if "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then
        echo "${ANSIBLE_CORE_SPEC:-ansible-core>=2.21,<2.22}"
    else
        echo "${ANSIBLE_CORE_SPEC:-ansible-core>=2.19,<2.20}"
    fi
}

make_venv() {
    local py stamp want
    py=$(pick_python)
    want="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])') $(ansible_core_spec "$py") $(sha256sum "$ROOT/tests/requirements.txt" | cut -c1-16)"
    stamp="$VENV/.certpilot-stamp"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/ansible-playbook" ]; then
        log "venv $VENV up to date ($want)"
        return 0
    fi
    log "building venv $VENV with $py ($want)"
    rm -rf "$VENV"
    "$py" -m venv "$VENV"
    # (pip's "Location ... is ignored" lines come from this machine's pip config; they are noise.)
    "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v 'is ignored' || true
    "$VENV/bin/python" -m pip install -q "$(ansible_core_spec "$py")" -r "$ROOT/tests/requirements.txt" 2>&1 | grep -v 'is ignored' || true
    "$VENV/bin/python" -c 'import ansible, cryptography, requests, paramiko, pytest, aiosmtpd' \
        || { echo "venv install failed: see pip output above" >&2; rm -f "$stamp"; exit 1; }
    echo "$want" > "$stamp"
}

ansible_test_pip_bootstrap() {
    # ansible-test's --venv mode downloads get-pip.py from a CI file host that this
    # network cannot reach. It runs whatever it finds in its cache instead, so we put a
    # small stand-in there: bootstrap pip with ensurepip, then let pip install the
    # exact versions ansible-test asked for from PyPI.
    local versions v cache
    versions=$("$VENV/bin/python" - <<'PY' 2>/dev/null || true
import os, re
import ansible_test
src = open(os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')).read()
print(' '.join(sorted(set(re.findall(r"pip='([0-9.]+)'", src)))))
PY
)
    for v in $versions; do
        cache="$HOME/.ansible/test/cache/get_pip_${v//./_}.py"
        [ -f "$cache" ] && grep -q 'ensurepip runs in a subprocess' "$cache" && continue
        [ -f "$cache" ] && ! grep -q 'certpilot stand-in' "$cache" && continue   # a real get-pip.py is fine too
        mkdir -p "$(dirname "$cache")"
        cat > "$cache" <<'PY'
# certpilot stand-in for get-pip.py: ensurepip, then 'pip install' the requested packages.
# ensurepip runs in a subprocess: in-process it would set PIP_CONFIG_FILE=/dev/null and
# hide the machine's pip configuration (index, CA bundle) from the install that follows.
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install', '-q'] + args))
PY
        log "installed ansible-test pip $v bootstrap stand-in"
    done
}

make_link() {
    # ansible-playbook finds the collection through this link; nothing is copied.
    local dir="$ROOT/.build/collections/ansible_collections/certpilot"
    mkdir -p "$dir"
    ln -sfn "$ROOT" "$dir/tls"
}

make_bench_venv() {
    # community.crypto for side-by-side benchmarks, from PyPI's 'ansible' package,
    # kept apart from our own venv so it can never leak into the tests.
    local bench="$ROOT/.venv-bench" py
    if [ -x "$bench/bin/ansible-playbook" ] && "$bench/bin/ansible-doc" -t module community.crypto.acme_certificate >/dev/null 2>&1; then
        log "bench venv up to date"; return 0
    fi
    py=$(pick_python)
    log "building bench venv $bench (ansible + community.crypto)"
    rm -rf "$bench"
    "$py" -m venv "$bench"
    "$bench/bin/python" -m pip install -q ansible cryptography requests 2>&1 | grep -v 'is ignored' || true
    [ -x "$bench/bin/ansible-playbook" ] || { echo "bench venv install failed" >&2; exit 1; }
}

case "${1:-all}" in
    apt) need_apt ;;
    venv) make_venv; ansible_test_pip_bootstrap; make_link ;;
    link) make_link ;;
    bench) make_bench_venv ;;
    all) need_apt; make_venv; ansible_test_pip_bootstrap; make_link ;;
    *) echo "usage: $0 [apt|venv|link|all]" >&2; exit 2 ;;
esac
