#!/usr/bin/env bash
# galaxy-importer gate: build the collection tarball as a publisher would (ansible-galaxy collection build
# in the checkout, build_ignore applies) and run galaxy-importer on it, as Galaxy / Automation Hub do on
# upload, with flake8, ansible-doc and ansible-lint on and ansible-test off (tests/tools/galaxy-importer.cfg).
# It fails on a non-zero exit, and on every WARNING or ERROR line the importer logs: galaxy-importer itself
# only reports most findings, and a check it skips (a tool not found) is a failure, not a pass.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
IMPORTER_VENV=${IMPORTER_VENV:-$ROOT/.venv-importer}
for tool in python flake8 ansible-doc ansible-lint; do
    [ -x "$IMPORTER_VENV/bin/$tool" ] || { echo "galaxy-importer: $IMPORTER_VENV/bin/$tool is missing (run: bash tests/tools/bootstrap.sh importer)"; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$ROOT" && "$VENV/bin/ansible-galaxy" collection build --output-path "$work/dist" >/dev/null)
tarball=$(ls "$work"/dist/*.tar.gz)
log=$work/importer.log
rc=0
# Its own venv first on PATH: the importer runs flake8, ansible-doc and ansible-lint by name.
# cwd is the work dir: the importer writes importer_result.json there.
(cd "$work" && env -u ANSIBLE_COLLECTIONS_PATH -u ANSIBLE_CONFIG -u PYTHONPATH PATH="$IMPORTER_VENV/bin:$PATH" \
    GALAXY_IMPORTER_CONFIG="$ROOT/tests/tools/galaxy-importer.cfg" \
    "$IMPORTER_VENV/bin/python" -m galaxy_importer.main "$tarball") >"$log" 2>&1 || rc=$?
findings=$(grep -E '^(WARNING|ERROR)|[Tt]raceback|not found, skipping' "$log" || true)
version=$("$IMPORTER_VENV/bin/python" -c 'from importlib.metadata import version; print(version("galaxy-importer"))')
if [ "$rc" -ne 0 ] || [ -n "$findings" ] || ! grep -q 'Importer processing completed successfully' "$log"; then
    echo "galaxy-importer $version: FAILED on $(basename "$tarball") (exit $rc):"
    if [ -n "$findings" ]; then echo "$findings" | sed 's/^/  /'; else tail -20 "$log" | sed 's/^/  /'; fi
    exit 1
fi
contents=$("$VENV/bin/python" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["contents"]))' "$work/importer_result.json")
echo "galaxy-importer $version: $(basename "$tarball") imported, $contents contents, no warnings or errors"
