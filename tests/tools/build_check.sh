#!/usr/bin/env bash
# Build gate: `ansible-galaxy collection build` in a DIRTY copy of the tree (every kind of junk a
# developer's or CI's checkout has: artifacts, caches, a nested .ansible collection copy, sandbox state,
# venvs, test output, byte code, old tarballs) and fail if any of it is in the tarball.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree=$work/tree
mkdir -p "$tree"
# the tracked files plus the untracked ones that are not git-ignored (what a publisher's checkout holds)
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard) | (cd "$ROOT" && xargs -0 cp --parents -t "$tree" 2>/dev/null || true)
[ -f "$tree/galaxy.yml" ] || { echo "build-check: could not copy the tree"; exit 1; }
junk_dirs=(artifacts .pytest_cache .ansible/collections/ansible_collections/certpilot/tls .sandbox .venv .venv-importer
           .venv-bench .build/collections tests/output .mypy_cache .tox plugins/modules/__pycache__ tests/bench/results)
for d in "${junk_dirs[@]}"; do mkdir -p "$tree/$d"; echo junk > "$tree/$d/JUNK"; done
echo junk > "$tree/plugins/modules/__pycache__/x.cpython-312.pyc"
echo junk > "$tree/tests/bench/results/run.tmp"
echo junk > "$tree/certpilot-tls-0.0.1.tar.gz"
out=$work/out
mkdir -p "$out"
(cd "$tree" && "$VENV/bin/ansible-galaxy" collection build --output-path "$out" >/dev/null)
tarball=$(ls "$out"/*.tar.gz)
listing=$(tar -tzf "$tarball")
bad=$(echo "$listing" | grep -E '(^|/)(JUNK|[^/]*\.pyc|[^/]*\.tar\.gz|run\.tmp)$|^(artifacts|\.pytest_cache|\.ansible|\.sandbox|\.venv[^/]*|\.build|tests/output|\.mypy_cache|\.tox|\.git)(/|$)|(^|/)__pycache__(/|$)' || true)
if [ -n "$bad" ]; then
    echo "build-check: FAILED, $(basename "$tarball") ships junk:"
    echo "$bad" | sed 's/^/  /'
    exit 1
fi
for must in MANIFEST.json LICENSE README.md meta/runtime.yml plugins/modules roles; do
    echo "$listing" | grep -E "^$must(/|$)" >/dev/null || { echo "build-check: FAILED, $must is missing from the tarball"; exit 1; }
done
echo "build-check: $(basename "$tarball") has $(echo "$listing" | wc -l) entries, no junk"
