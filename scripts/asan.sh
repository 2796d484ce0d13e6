#!/usr/bin/env bash
# scripts/asan.sh [PYTEST ARGS] — build the daemon with AddressSanitizer and UndefinedBehaviorSanitizer
# (g++, into build-asan/) and run the black-box suite against it: the whole suite, or the tests named.
# The first report ends the daemon (or CLI command) that made it, and the harness fails the test whose
# daemon log or command output holds a report.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-asan
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DMAILKEEP_SANITIZE=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target mailkeep
export MAILKEEP_BIN=$build/mailkeep
# halt_on_error: nothing runs on past a report; reports go to stderr, which the harness keeps.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:print_summary=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:print_summary=1
cd "$top"
if [ $# -eq 0 ]; then set -- tests/blackbox; fi
# Not under ASan: its allocator keeps freed memory in quarantine (test_memory_release measures what
# malloc gives back), and it slows the daemon past the 0-60 ms window in which test_fetch_crash kills it.
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider --ignore=tests/blackbox/test_memory_release.py \
  --ignore=tests/blackbox/test_fetch_crash.py "$@"
