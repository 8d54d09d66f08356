#!/usr/bin/env bash
# `make check-latest`: run the fast tests, and the embedded-model tests, against the NEWEST
# versions pyproject.toml allows (not the lock), in a throw-away venv, so an upstream release
# that breaks us is seen here before a user sees it. Prints what differs from constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bash .ci/newest-venv.sh "$work/venv"
"$work/venv/bin/pip" list --format=freeze --exclude-editable | grep -v -i -E '^(pip|setuptools|wheel)==' | sed -E 's/\+[A-Za-z0-9.]+$//' \
    | LC_ALL=C sort -f > "$work/latest.txt"
echo "check-latest: newest allowed versions that differ from constraints.txt:"
grep -v '^#' constraints.txt | LC_ALL=C sort -f | diff - "$work/latest.txt" | grep '^[<>]' || echo "  (none)"
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider -m "not slow or embedded_model"
