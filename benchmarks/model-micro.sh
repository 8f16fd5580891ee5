#!/usr/bin/env bash
# Micro-benchmarks of ChronoModel (issue 3): batch append, chunk merge, chunk encode/decode.
# Builds chronolog-bench in release mode and runs `chronolog-bench model`.
# Usage: benchmarks/model-micro.sh [--json] [--iterations N] [other `chronolog-bench model` options]
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH="${SCRATCH_PATH:-.build-release}"
swift build -c release --product chronolog-bench --scratch-path "$SCRATCH" >&2
exec "$SCRATCH/release/chronolog-bench" model "$@"
