#!/usr/bin/env bash
# certpilot.tls demo: the nightly renew job against the local sandbox, told as a story.
# Called by `make demo` after the dependencies are installed and the sandbox is up.
# Safe to run again and again: the second run of the job (and every later `make demo`) changes nothing
# until a certificate is due.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SANDBOX_DIR=${CERTPILOT_SANDBOX_DIR:-$ROOT/.sandbox}
export ANSIBLE_COLLECTIONS_PATH=$ROOT/.build/collections
export ANSIBLE_CONFIG=$SANDBOX_DIR/ansible.cfg
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0
PLAYBOOK=$ROOT/.venv/bin/ansible-playbook
PY=$ROOT/.venv/bin/python
VARS=$ROOT/playbooks/demo/vars.yml
LOGDIR=$SANDBOX_DIR/demo/logs
REPORT_DIR=$SANDBOX_DIR/demo/report
mkdir -p "$SANDBOX_DIR/demo" "$LOGDIR" "$REPORT_DIR"

say()  { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }

recap() { sed -n '/^PLAY RECAP/,$p' "$1" | sed '/^$/d'; }

total_changed() { recap "$1" | sed -n 's/.*changed=\([0-9]*\).*/\1/p' | awk '{s+=$1} END {print s+0}'; }

say "1. What is running: the sandbox (pebble ACME CA, DNS, three nginx web hosts, an appliance)"
"$PY" tests/sandbox/sandbox.py status

# pebble creates a new root CA every time the sandbox starts: certificates from an earlier sandbox
# chain to a root nobody trusts any more. Start from an empty demo store in that case (a real CA keeps its root).
ROOT_SHA=$("$PY" -c 'import hashlib,json,sys; sb=json.load(open(sys.argv[1])); print(hashlib.sha256("".join(open(p).read() for p in sb["acme"]["roots"]).encode()).hexdigest())' "$SANDBOX_DIR/sandbox.json")
if [ -f "$SANDBOX_DIR/demo/pebble-root.sha256" ] && [ "$(cat "$SANDBOX_DIR/demo/pebble-root.sha256")" != "$ROOT_SHA" ]; then
    note "pebble was restarted since the last demo (new root CA): starting with an empty demo store"
    rm -rf "$SANDBOX_DIR/demo/store" "$SANDBOX_DIR/demo/account.key"
fi
echo "$ROOT_SHA" > "$SANDBOX_DIR/demo/pebble-root.sha256"

say "2. The nightly job: ansible-playbook certpilot.tls.renew (playbooks/renew.yml)"
note "certificates (playbooks/demo/vars.yml): demo-web1 -> web1, demo-web2 -> web2, demo-web3 -> web3,"
note "demo-shared (shop.example.test) -> all three. Steps: webroots -> ACME orders (all at once)"
note "-> http-01 files -> finalize -> push + nginx -t + one reload per host -> TLS verification."
start=$(date +%s)
if ! "$PLAYBOOK" playbooks/renew.yml -e "@$VARS" > "$LOGDIR/run1.log" 2>&1; then
    recap "$LOGDIR/run1.log"
    echo "The first run failed; full log: $LOGDIR/run1.log" >&2
    tail -40 "$LOGDIR/run1.log" >&2
    exit 1
fi
note "finished in $(( $(date +%s) - start ))s; what the ACME step did:"
grep -o '"msg": "demo-[^"]*"' "$LOGDIR/run1.log" | sed 's/"msg": "\(.*\)"/      \1/' || true
recap "$LOGDIR/run1.log" | sed 's/^/    /'

say "3. What the web hosts serve now (TLS handshake, chain checked against pebble's root)"
"$PY" - "$SANDBOX_DIR/sandbox.json" <<'PYEOF'
import hashlib, json, socket, ssl, sys
sb = json.load(open(sys.argv[1]))
roots = ''.join(open(p).read() for p in sb['acme']['roots'])
checks = [('web1', 'web1.example.test'), ('web1', 'www.web1.example.test'), ('web2', 'web2.example.test'),
          ('web3', 'web3.example.test'), ('web1', 'shop.example.test'), ('web2', 'shop.example.test'),
          ('web3', 'shop.example.test')]
bad = 0
for host, name in checks:
    h = sb['hosts'][host]
    ctx = ssl.create_default_context(cadata=roots)
    try:
        with socket.create_connection((h['address'], h['https_port']), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname=name) as t:
                der = t.getpeercert(binary_form=True)
                cert = t.getpeercert()
        print('    %-5s %-24s valid until %s  sha256 %s...' % (host, name, cert['notAfter'], hashlib.sha256(der).hexdigest()[:16]))
    except (OSError, ssl.SSLError) as exc:
        bad += 1
        print('    %-5s %-24s FAILED: %s' % (host, name, exc))
sys.exit(1 if bad else 0)
PYEOF

say "4. The same job again: nothing is due, so nothing may change"
"$PLAYBOOK" playbooks/renew.yml -e "@$VARS" > "$LOGDIR/run2.log" 2>&1 || { tail -40 "$LOGDIR/run2.log" >&2; exit 1; }
recap "$LOGDIR/run2.log" | sed 's/^/    /'
changed=$(total_changed "$LOGDIR/run2.log")
if [ "$changed" != "0" ]; then
    echo "    the second run reported changed=$changed; it must be 0 (see $LOGDIR/run2.log)" >&2
    exit 1
fi
note "changed=0 on every host: certificates valid, deployed and served."

say "5. Expiry report"
if [ -d roles/expiry_report ]; then
    ROOT_CA=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["acme"]["roots"][0])' "$SANDBOX_DIR/sandbox.json")
    note "the job with renew_expiry_report=true: one handshake per name, chain checked against pebble's root"
    if "$PLAYBOOK" playbooks/renew.yml -e "@$VARS" -e renew_expiry_report=true \
        -e "expiry_report_dir=$REPORT_DIR" -e "expiry_report_ca_bundle=$ROOT_CA" \
        -e '{"expiry_report_endpoints": [{"host": "web1.example.test", "address": "127.42.0.11", "port": 5443},
                                         {"host": "web2.example.test", "address": "127.42.0.12", "port": 5443},
                                         {"host": "web3.example.test", "address": "127.42.0.13", "port": 5443},
                                         {"host": "shop.example.test", "address": "127.42.0.11", "port": 5443}]}' \
        > "$LOGDIR/report.log" 2>&1; then
        for f in "$REPORT_DIR"/*.md; do [ -f "$f" ] && sed 's/^/    /' "$f" && break; done
        note "all formats: $REPORT_DIR"
    else
        note "the expiry report step failed (see $LOGDIR/report.log)"
    fi
else
    note "role certpilot.tls.expiry_report is not installed in this checkout; skipped"
fi

say "Where to look next"
note "logs of this demo:      $LOGDIR/run1.log, run2.log"
note "ACME store:             $SANDBOX_DIR/demo/store/<name>/{fullchain,privkey,chain}.pem"
note "expiry report:          $REPORT_DIR"
note "force a renewal:        ANSIBLE_CONFIG=$ANSIBLE_CONFIG $PLAYBOOK certpilot.tls.renew \\"
note "                            -e @$VARS -e acme_certificates_force=true"
note "stop the sandbox:       make sandbox-down   (make demo starts it again)"
note "Let's Encrypt staging:  use your own inventory and vars, with"
note "                        acme_certificates_directory=https://acme-staging-v02.api.letsencrypt.org/directory"
note "                        acme_certificates_ca_bundle='' acme_certificates_terms_agreed=true"
note "                        ansible-playbook certpilot.tls.renew -i inventory.yml -e @my-vars.yml"
note "AWX:                    docs/awx.md"
