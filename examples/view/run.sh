#!/usr/bin/env bash
# See a batch job's judgments in the browser: `judge batch` on the example rows, then
# `judge view --bundle`, a static copy of the viewer that opens from disk (or `judge view` on the
# output, to filter, label and compare it served from this machine). Run from the repository
# root; extra arguments go to `judge batch` (the judging flags: --backend, --model, --reasoning,
# ...). OUT (default view-example) is where the output and the site are written.
set -euo pipefail
out="${OUT:-view-example}"
mkdir -p "$out"
judge batch examples/data/rows.jsonl "$out/scored.jsonl" --rubric helpfulness --id-field id "$@"
judge view "$out/scored.jsonl" --bundle "$out/site"
echo "open $out/site/index.html, or serve it: judge view $out/scored.jsonl"
