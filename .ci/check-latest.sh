#!/usr/bin/env bash
# `make check-latest`: run the fast tests, and the embedded-model tests, against the NEWEST
# versions pyproject.toml allows (not the lock), in a throw-away venv, so an upstream release
# that breaks us is seen here before a user sees it. Prints what differs from constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bash .ci/newest-venv.sh "$work/venv"
bash .ci/freeze.sh "$work/venv" > "$work/latest.txt"
echo "check-latest: installed versions that differ from constraints.txt (the lock):"
# Join on the normalised name; the lock's llama.cpp server packages are not installed here.
awk -F'==' '
    function key(name) { name = tolower(name); gsub(/[-_.]+/, "-", name); return name }
    FNR == NR { if ($0 !~ /^#/) locked[key($1)] = $2; next }
    { k = key($1); if (!(k in locked)) { print "  " $1 " " $2 " (not in the lock)"; n++ }
      else if (locked[k] != $2) { print "  " $1 " " locked[k] " -> " $2; n++ } }
    END { if (!n) print "  none: the lock is the newest allowed set" }
' constraints.txt "$work/latest.txt"
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider -m "not slow or embedded_model"
