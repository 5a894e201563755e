#!/usr/bin/env bash
# Shard container: write and read throughput in MB/s of uncompressed record bytes, and
# compression ratios, for token, problem and trajectory records at zstd levels 3 (the
# default), 1 and 9. Results go in tests/bench/RESULTS.md ("Shards").
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD:-build}/tests/shards/bench_shards
[ -x "$B" ] || { echo "bench_shards: $B is missing: run 'make bench' (or make $B)" >&2; exit 1; }
"$B" --mb "${SHARDS_BENCH_MB:-128}" --repeat "${SHARDS_BENCH_REPEAT:-3}"
