#!/usr/bin/env bash
# The demo: `jishi demo` records a realistic district transition (18 township
# party committees, ~260 candidates, ~2,750 events) through the procedure's
# gates on a fresh SQLite file (target/demo/jishi.db), prints one candidate's
# trail and responsibility chain, the compliance findings and the statistics,
# and verifies the chain. Extra arguments go to `jishi demo` (e.g. --seed 7).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release --quiet -- demo "$@"
