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
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q "$(ansible_core_spec "$py")" -r "$ROOT/tests/requirements.txt"
    echo "$want" > "$stamp"
}

make_link() {
    # ansible-playbook finds the collection through this link; nothing is copied.
    local dir="$ROOT/.build/collections/ansible_collections/certpilot"
    mkdir -p "$dir"
    ln -sfn "$ROOT" "$dir/tls"
}

case "${1:-all}" in
    apt) need_apt ;;
    venv) make_venv; make_link ;;
    link) make_link ;;
    all) need_apt; make_venv; make_link ;;
    *) echo "usage: $0 [apt|venv|link|all]" >&2; exit 2 ;;
esac
