#!/usr/bin/env bash
# Which configuration should I judge with? `judge tune` on a small labelled set, then the
# configuration it chose, used as a config file. Run from the repository root; extra arguments
# go to `judge tune` (the judging flags: --backend, --model, --reasoning, ...). OUT (default
# tune-example) is where the report, tuned.yaml and the per-configuration journals are written;
# a second run with the same OUT judges nothing again.
#
# examples/data/answers.jsonl: 12 questions with a right or a wrong answer and the label;
# examples/tune/grid.yaml: two rubrics. With 12 items no configuration can beat the naive
# baseline beyond its interval: use a few hundred items of your own task.
set -euo pipefail
out="${OUT:-tune-example}"
judge tune examples/data/answers.jsonl --grid examples/tune/grid.yaml --n-boot 200 \
    --output "$out" "$@"
judge --config "$out/tuned.yaml" score --prompt "What is the capital of France?" \
    --response "The capital of France is Paris." --json
