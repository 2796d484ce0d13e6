#!/usr/bin/env bash
# scripts/test.sh — on a fresh Debian 12: install what is missing, build, and run every test:
# unit (GoogleTest), black-box (pytest with real clients and peers) and bounded fuzzing.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh" --test
"$top/scripts/build.sh"
cd "$top/build"
ctest --output-on-failure -j 1 "$@"
