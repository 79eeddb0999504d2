#!/usr/bin/env bash
# Run every gate of certpilot.tls in turn, keep going after a failure so one run
# shows everything that is wrong, always stop the sandbox, and end with one
# summary line ("certpilot: N passed, N failed") that CI can read.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
VENV=${VENV:-$ROOT/.venv}
GATES=${GATES:-"sanity units lint docs-check docs-lint build-check galaxy-importer changelog-lint integration awx-second-leg"}
declare -a PASSED=() FAILED=()
start_all=$(date +%s)

cleanup() { "$VENV/bin/python" tests/sandbox/sandbox.py down >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM

for gate in $GATES; do
    echo
    echo "################ $gate ################"
    t0=$(date +%s)
    make --no-print-directory "$gate" VENV="$VENV"
    rc=$?
    # pytest exit code 5 = "no tests collected": say so loudly, but it is not a broken suite.
    if [ $rc -eq 5 ]; then echo "NOTE: $gate collected no tests"; rc=0; fi
    dt=$(( $(date +%s) - t0 ))
    if [ $rc -eq 0 ]; then PASSED+=("$gate(${dt}s)"); else FAILED+=("$gate(${dt}s, rc=$rc)"); fi
done

echo
echo "################ summary ################"
echo "total time: $(( $(date +%s) - start_all ))s"
[ ${#PASSED[@]} -eq 0 ] || echo "passed gates: ${PASSED[*]}"
[ ${#FAILED[@]} -eq 0 ] || echo "FAILED gates: ${FAILED[*]}"
echo "certpilot: ${#PASSED[@]} passed, ${#FAILED[@]} failed"
[ ${#FAILED[@]} -eq 0 ]
