#!/usr/bin/env bash
# Can I trust this judge? `judge eval` on a small labelled set, then a recalibration fitted on
# its records. Run from the repository root; extra arguments go to `judge eval` (the judging
# flags: --backend, --model, --strategy, --reasoning, ...). OUT (default eval-example) is where
# the report, the records and the calibrator are written.
#
# examples/data/answers.jsonl: 12 questions with a right or a wrong answer and the label. With
# 12 items every interval in the report is wide: use a few hundred items of your own task.
set -euo pipefail
out="${OUT:-eval-example}"
judge eval examples/data/answers.jsonl --rubric examples/data/factual_accuracy.yaml \
    --n-boot 200 --output "$out/report" "$@"
judge calibrate fit "$out/report/records.jsonl" --method temperature --output "$out/calibrator.json"
echo "report: $out/report/report.md  calibrator: $out/calibrator.json"
