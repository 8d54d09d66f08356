# Sourced by the .ci install scripts: sets `constraint_args` to pip's `-c FILE` for
# $JUDGE_CONSTRAINTS (default: the repository's constraints.txt), or to nothing for "none"
# (what `make lock` uses, to resolve the newest versions).
constraints="${JUDGE_CONSTRAINTS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/constraints.txt}"
constraint_args=()
if [[ "$constraints" != "none" ]]; then constraint_args=(-c "$constraints"); fi
