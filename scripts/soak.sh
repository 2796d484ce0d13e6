#!/usr/bin/env bash
# scripts/soak.sh [--trials N] [--seed S] [--areas intake,relay,fetch,odmr,imap] [--minutes M] [--out FILE]
# — the SIGKILL soak (outside CI): N SIGKILLs (default 1,000) at random moments across SMTP intake, the
# relay to a smarthost, the fetcher (a Dovecot provider), the ODMR hand-over and IMAP APPEND/MOVE/EXPUNGE,
# shared out round-robin, with a tally per area of acknowledged, lost and duplicated messages, printed at
# the end and written to FILE (default soak-SEED.txt; one JSON line per trial beside it). The trials are
# the crash tests' own (tests/blackbox/soak.py), against $MAILKEEP_BIN (default build/mailkeep). Exit 1
# if a trial lost or duplicated a message beyond its area's in-flight window, or failed otherwise.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export MAILKEEP_BIN=${MAILKEEP_BIN:-$top/build/mailkeep}
exec /usr/bin/python3 "$top/tests/blackbox/soak.py" "$@"
