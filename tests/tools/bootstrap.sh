#!/usr/bin/env bash
# Install everything certpilot.tls needs to be developed and tested, idempotently:
#   1. Debian packages (pebble, nginx, openssh-server, chromium, ...) when missing;
#   2. a virtualenv (.venv by default) with ansible-core and the Python deps;
#   3. the link that makes this checkout importable as ansible_collections.certpilot.tls;
#   4. a separate virtualenv (.venv-a2c) with acme2certifier, the sandbox's second ACME server.
#   importer (not part of all): a separate virtualenv (.venv-importer) with galaxy-importer, for its gate.
# Usage: tests/tools/bootstrap.sh [apt|venv|link|a2c|importer|all]   (default: all)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
A2C_VENV=${A2C_VENV:-$ROOT/.venv-a2c}
IMPORTER_VENV=${IMPORTER_VENV:-$ROOT/.venv-importer}
APT_PACKAGES=(pebble nginx-light haproxy apache2 openssh-server openssh-client sudo curl openssl iproute2
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
    # policy-rc.d keeps Debian from starting the system nginx/sshd/haproxy/apache2 (apache2 would take :80):
    # the sandbox runs its own, on its own addresses and ports.
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

tool_venv() {
    # tool_venv LABEL DIR REQUIREMENTS READY CHECK...: a pinned tool in its own venv DIR, so its dependencies
    # never reach ours. The stamp (Python version + requirements hash) makes a second run a no-op while DIR/READY
    # exists; pip's cache makes a rebuild cheap. CHECK... is run after the install and must succeed.
    local label=$1 dir=$2 req=$3 ready=$4 py want stamp
    shift 4
    # the tool's own Python, not the controller's: CONTROLLER_PYTHON (make test-matrix) must not flip-flop rebuilds
    py=$(CONTROLLER_PYTHON='' pick_python)
    want="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])') $(sha256sum "$req" | cut -c1-16)"
    stamp="$dir/.certpilot-stamp"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$dir/$ready" ]; then
        log "$label venv $dir up to date ($want)"
        return 0
    fi
    log "building $label venv $dir with $py ($want)"
    rm -rf "$dir"
    "$py" -m venv "$dir"
    "$dir/bin/python" -m pip install -q -r "$req" 2>&1 | grep -v 'is ignored' || true
    "$@" || { echo "$label venv install failed: see pip output above" >&2; rm -f "$stamp"; exit 1; }
    echo "$want" > "$stamp"
}

make_a2c_venv() {
    # acme2certifier (a second, independent ACME server: tests/sandbox/services/acme2certifier.py); its
    # dependencies (dnspython, jwcrypto, pyOpenSSL, ...) stay out of ours. The version is pinned in its requirements.
    tool_venv acme2certifier "$A2C_VENV" "$ROOT/tests/sandbox/services/acme2certifier_server/requirements.txt" \
        bin/python "$A2C_VENV/bin/python" -c \
        'import acme2certifier.acme_srv.version, acme2certifier.cahandlers.openssl_ca_handler'
}

importer_ready() {
    "$IMPORTER_VENV/bin/python" -c 'import galaxy_importer.main' && [ -x "$IMPORTER_VENV/bin/flake8" ] \
        && [ -x "$IMPORTER_VENV/bin/ansible-doc" ] && [ -x "$IMPORTER_VENV/bin/ansible-lint" ]
}

make_importer_venv() {
    # galaxy-importer (the `make galaxy-importer` gate): it pins its own ansible-core and ansible-lint, which must
    # never replace ours. Versions are in the requirements file.
    tool_venv galaxy-importer "$IMPORTER_VENV" "$ROOT/tests/tools/galaxy-importer-requirements.txt" bin/flake8 \
        importer_ready
}

case "${1:-all}" in
    apt) need_apt ;;
    venv) make_venv; ansible_test_pip_bootstrap; make_link ;;
    link) make_link ;;
    bench) make_bench_venv ;;
    a2c) make_a2c_venv ;;
    importer) make_importer_venv ;;
    all) need_apt; make_venv; ansible_test_pip_bootstrap; make_link; make_a2c_venv ;;
    *) echo "usage: $0 [apt|venv|link|a2c|importer|all]" >&2; exit 2 ;;
esac
