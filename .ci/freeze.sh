#!/usr/bin/env bash
# Print the packages of the venv at $1 as sorted `name==version` lines (constraints format):
# `list --format=freeze` names a wheel installed from a file by its version, not its path; pip,
# setuptools and wheel are left out; local version labels (torch's "+cpu") are dropped, since
# they would refuse the same release from another index.
set -euo pipefail
"${1:?usage: freeze.sh VENV_DIR}/bin/pip" list --format=freeze --exclude-editable \
    | grep -v -i -E '^(pip|setuptools|wheel)==' | sed -E 's/\+[A-Za-z0-9.]+$//' | LC_ALL=C sort -f
