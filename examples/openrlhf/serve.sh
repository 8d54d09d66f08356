#!/usr/bin/env bash
# The judge as OpenRLHF's remote reward model: `judge serve` speaks its /get_reward protocol.
#
#   bash examples/openrlhf/serve.sh                       # the embedded CPU model (for trying)
#   bash examples/openrlhf/serve.sh --backend sglang-server --base-url http://127.0.0.1:30000
#
# Extra arguments go to `judge serve` (any judging flag: --strategy, --reasoning, ...).
# PORT (default 5000) is where it listens, on 127.0.0.1; --token or JUDGE_SERVE_TOKEN asks
# every request for a bearer token (OpenRLHF can pass it as ?access_token=...).
set -euo pipefail
exec judge serve --rubric helpfulness --port "${PORT:-5000}" "$@"
