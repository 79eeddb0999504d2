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

# A certificate from elsewhere (bought, or an internal CA): the demo makes one once, with its own CA, in the
# drop folder that renew_imports reads. It travels the same path as the ACME ones: store, push, verify, report.
"$PY" - "$SANDBOX_DIR/demo/incoming" <<'PYEOF'
import datetime, os, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
base = sys.argv[1]
folder = os.path.join(base, 'demo-imported')
if not os.path.isdir(folder):
    now = datetime.datetime.now(datetime.timezone.utc)
    def make(cn, issuer=None, ca=False, days=365, dns=None):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        b = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer[0].subject if issuer else name)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=days))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if dns:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
        return b.sign(issuer[1] if issuer else key, hashes.SHA256()), key
    root = make('demo internal root CA', ca=True, days=3650)
    leaf = make('intranet.example.test', issuer=root, days=365, dns=['intranet.example.test'])
    os.makedirs(folder, 0o700)
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)
    with open(os.path.join(base, 'corp-root.pem'), 'wb') as f:
        f.write(pem(root[0]))
    with open(os.path.join(folder, 'intranet.crt'), 'wb') as f:
        f.write(pem(leaf[0]) + pem(root[0]))
    fd = os.open(os.path.join(folder, 'intranet.key'), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'wb') as f:
        f.write(leaf[1].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
PYEOF

say "2. The nightly job: ansible-playbook certpilot.tls.renew (playbooks/renew.yml)"
note "certificates (playbooks/demo/vars.yml): demo-web1 -> web1, demo-web2 -> web2, demo-web3 -> web3,"
note "demo-shared (shop.example.test) -> all three. Steps: webroots -> ACME orders (all at once)"
note "-> http-01 files -> finalize -> push + nginx -t + one reload per host -> TLS verification."
note "demo-imported (intranet.example.test -> web2) comes from an internal CA: imported, checked, never ordered."
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
corp = open(sb['dir'] + '/demo/incoming/corp-root.pem').read()
checks = [('web1', 'web1.example.test'), ('web1', 'www.web1.example.test'), ('web2', 'web2.example.test'),
          ('web3', 'web3.example.test'), ('web1', 'shop.example.test'), ('web2', 'shop.example.test'),
          ('web3', 'shop.example.test'), ('web2', 'intranet.example.test')]
bad = 0
for host, name in checks:
    h = sb['hosts'][host]
    ctx = ssl.create_default_context(cadata=corp if name.startswith('intranet.') else roots)
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
    tail -40 "$LOGDIR/report.log" >&2
    echo "The expiry report step failed; full log: $LOGDIR/report.log" >&2
    exit 1
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
