#!/usr/bin/env bash
# Fuzz ChronoModel's decoders with libFuzzer + AddressSanitizer for a bounded time.
#
#   scripts/fuzz.sh [seconds]          # default 30, or FUZZ_SECONDS
#   FUZZ_JOBS=2 scripts/fuzz.sh 60     # parallel workers (default 1)
#
# Builds Tests/Fuzz/DecoderFuzz.swift with Sources/ChronoModel/*.swift into .build-fuzz/decoder-fuzz,
# seeds the corpus .build-fuzz/corpus, and runs libFuzzer with -max_total_time.
# Crashes are written to .build-fuzz/artifacts/ and make the script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-${FUZZ_SECONDS:-30}}"
JOBS="${FUZZ_JOBS:-1}"
OUT=.build-fuzz
mkdir -p "$OUT/corpus" "$OUT/artifacts" "$OUT/module-cache"

swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
    -module-name ChronoFuzz -module-cache-path "$OUT/module-cache" \
    Tests/Fuzz/DecoderFuzz.swift Sources/ChronoModel/*.swift \
    -o "$OUT/decoder-fuzz"

# Seed the corpus (first run only) with a valid encoding of every message type and a chunk layout,
# written by the target's LLVMFuzzerInitialize; the corpus then grows across runs.
if [ -z "$(ls -A "$OUT/corpus")" ]; then
    CHRONOLOG_X_FUZZ_SEED_DIR="$OUT/corpus" "$OUT/decoder-fuzz" -runs=0 "$OUT/corpus" >/dev/null 2>&1 || true
fi

PARALLEL=()
if [ "$JOBS" -gt 1 ]; then PARALLEL=(-jobs="$JOBS" -workers="$JOBS"); fi

echo "fuzzing ChronoModel decoders for ${SECONDS_TO_RUN}s (jobs: $JOBS)" >&2
"$OUT/decoder-fuzz" "$OUT/corpus" \
    -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$OUT/artifacts/" -print_final_stats=1 \
    "${PARALLEL[@]}" 2>&1 | tail -n 25
status=${PIPESTATUS[0]}
if ls "$OUT"/artifacts/crash-* "$OUT"/artifacts/leak-* "$OUT"/artifacts/timeout-* >/dev/null 2>&1; then
    echo "fuzz: found failing inputs in $OUT/artifacts/" >&2
    exit 1
fi
exit "$status"
