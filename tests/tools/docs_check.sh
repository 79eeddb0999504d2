#!/usr/bin/env bash
# Every module must render with ansible-doc (text and JSON), and its EXAMPLES must be valid YAML.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
export ANSIBLE_COLLECTIONS_PATH=$ROOT/.build/collections
shopt -s nullglob
fail=0 count=0
for mod in "$ROOT"/plugins/modules/*.py; do
    name=$(basename "$mod" .py)
    [ "$name" = "__init__" ] && continue
    count=$((count + 1))
    if ! out=$("$VENV/bin/ansible-doc" -t module "certpilot.tls.$name" 2>&1) || grep -q '^\[ERROR\]\|ERROR!' <<<"$out"; then
        echo "FAIL: ansible-doc certpilot.tls.$name"; echo "$out" | tail -20; fail=1; continue
    fi
    if ! "$VENV/bin/ansible-doc" -t module --json "certpilot.tls.$name" | "$VENV/bin/python" -c '
import json, sys, yaml
doc = json.load(sys.stdin)
d = next(iter(doc.values()))
assert d["doc"].get("short_description"), "no short_description"
assert d["doc"].get("options") is not None, "no options"
assert d.get("examples"), "no EXAMPLES"
assert d.get("return"), "no RETURN"
yaml.safe_load(d["examples"])
'; then
        echo "FAIL: certpilot.tls.$name docs incomplete"; fail=1; continue
    fi
    echo "ok: certpilot.tls.$name"
done
for role in "$ROOT"/roles/*/; do
    [ -d "$role" ] || continue
    r=$(basename "$role")
    if ! "$VENV/bin/ansible-doc" -t role "certpilot.tls.$r" >/dev/null 2>&1; then
        echo "FAIL: ansible-doc -t role certpilot.tls.$r"; fail=1
    else
        echo "ok: role certpilot.tls.$r"
    fi
done
echo "docs-check: $count modules checked"
exit $fail
