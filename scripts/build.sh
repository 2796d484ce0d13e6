#!/usr/bin/env bash
# scripts/build.sh — configure and build into build/ (Release with debug info), two jobs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$top" -B "$top/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$top/build" -j "${JOBS:-2}"
