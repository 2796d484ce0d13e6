#!/usr/bin/env bash
# scripts/run.sh — on a fresh Debian 12: install what is missing, build, and run `mailkeep serve` on
# its built-in default (data in ./mailkeep-data, or the directory given as $1).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
"$top/scripts/build.sh"
exec "$top/build/mailkeep" serve --data "${1:-mailkeep-data}"
