#!/usr/bin/env bash
# scripts/fuzz.sh [--minutes N] OUT_DIR — build every tests/fuzz/fuzz_*.cpp (or those matching the glob
# FUZZ_ONLY) with libFuzzer + ASan/UBSan and run each for FUZZ_SECONDS (default 10): CI's bounded run,
# which replays tests/fuzz/seeds/<target>/ (a finding kept there fails it until fixed).
#
# With --minutes N, a campaign instead (outside CI, issue 15): each target N minutes on the committed
# corpus tests/fuzz/corpus/<target>/ and its seeds, restarted after a finding (at most 3 per target);
# at the end the corpus is minimized (libFuzzer -merge=1 of the old corpus and the new inputs into an
# empty directory, which then replaces it), every finding (crash-*, leak-*, timeout-*, oom-*) is copied
# into tests/fuzz/seeds/<target>/, and a table of execs/s, coverage (cov and ft of libFuzzer's last
# status line), corpus size and findings per target is printed and written to OUT_DIR/campaign.txt.
#
# The code under test is compiled once into an archive that every target links: the pure parsers, and
# for the session targets (fuzz_*_session, a whole server session over the in-memory pipe) what the
# SMTP, POP3 and IMAP sessions reach: Connection and the pipe over Boost.Asio, TLS, SASL, the login
# throttle, the intake and Maildir, the mail index (SQLite), routing, the config types; and for fuzz_smtp_odmr the SMTP client
# that the provider runs on the reversed connection after ATRN. An object is rebuilt when its source or
# a header it includes changed (clang's dependency files), so a second run only fuzzes.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
minutes=
if [ "${1:-}" = --minutes ]; then
  minutes=${2:?--minutes needs a number}
  if ! [[ $minutes =~ ^[1-9][0-9]*$ ]]; then echo "fuzz: --minutes takes a whole number above 0"; exit 2; fi
  shift 2
fi
out=${1:-$top/build/fuzz}
seconds=${FUZZ_SECONDS:-10}
jobs=${JOBS:-2}
mkdir -p "$out"
cxx=clang++-14
# -fno-sanitize=function: clang 14 cannot place that check's signature next to a coroutine's split
# parts ("Cannot represent a difference across sections"); every other check stays on.
# shellcheck disable=SC2054 # the commas belong to the flag
sanitize=(-fsanitize=address,undefined -fno-sanitize=function -fno-sanitize-recover=undefined)
defines=(-DBOOST_ASIO_NO_DEPRECATED -DFMT_HEADER_ONLY=1 -DSPDLOG_FMT_EXTERNAL -DTOML_HEADER_ONLY=1)
# Line tables only in the archive: enough for a symbolised report, and it builds faster.
lib_flags=(-std=c++20 -O1 -gline-tables-only -fsanitize=fuzzer-no-link "${sanitize[@]}" -I"$top/src" "${defines[@]}")
target_flags=(-std=c++20 -O1 -g -fsanitize=fuzzer "${sanitize[@]}" -I"$top/src" -I"$top/tests/unit" "${defines[@]}")
lib_sources=(
  core/address core/text core/base64 core/cram_md5 net/sasl net/dot_stuffer smtp/command smtp/dot_decoder pop3/command
  imap/response imap/structure imap/command   # the parsers
  core/config core/config_read core/config_values core/config_listen core/config_users core/config_relay
  core/config_remote core/config_odmr core/config_default core/cidr core/size core/password core/ids core/date core/pread
  core/durable core/enhanced_status core/secret
  net/connection net/pipe net/offload net/auth_throttle net/tls
  route/router route/multidrop mime/gmime
  store/intake store/queue store/maildir store/crlf store/envelope store/json_impl
  smtp/reply smtp/server_session pop3/server_session
  imap/search imap/fetch_items imap/mailbox_list imap/server_session store/mail_index store/sqlite_file
  smtp/client smtp/header_rewrite net/client net/sasl_client mime/seven_bit)   # the client side of ATRN
lib="$out/libmailkeep_fuzz.a"
objdir="$out/obj"

# stale - whether object $1 is missing or older than its source or a header it included (its .d file).
stale() {
  local obj=$1 dep=${1%.o}.d
  [ -f "$obj" ] && [ -f "$dep" ] || return 0
  # shellcheck disable=SC2046 # the dependency list is a list of paths
  [ -n "$(find $(sed -e 's/^[^:]*://' -e 's/\\$//' "$dep") -newer "$obj" -print -quit 2>/dev/null)" ]
}

# spawn - run a command in the background, at most jobs at a time; drain - wait for all, 1 if any failed.
pids=()
failed=0
spawn() {
  "$@" &
  pids+=($!)
  if [ "${#pids[@]}" -ge "$jobs" ]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
}
drain() {
  local pid
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  pids=()
  local f=$failed
  failed=0
  return "$f"
}

# build_lib - compile the stale objects of lib_sources and archive them all.
build_lib() {
  local src obj changed=0
  mkdir -p "$objdir"
  for src in "${lib_sources[@]}"; do
    obj="$objdir/${src//\//_}.o"
    stale "$obj" || continue
    changed=1
    # shellcheck disable=SC2046 # GMime's flags are a list; its headers only (the library is loaded with dlopen)
    spawn "$cxx" "${lib_flags[@]}" $(case $src in mime/gmime | mime/seven_bit | route/multidrop) pkg-config --cflags gmime-3.0 ;; esac) \
      -MMD -MF "${obj%.o}.d" -c "$top/src/$src.cpp" -o "$obj"
  done
  drain || { echo "fuzz: the library did not build"; return 1; }
  if [ "$changed" = 1 ] || [ ! -f "$lib" ]; then
    rm -f "$lib" && ar rcs "$lib" "$objdir"/*.o
  fi
}

# targets - the names of the targets to build and run.
targets() {
  local target name
  for target in "$top"/tests/fuzz/fuzz_*.cpp; do
    name=$(basename "$target" .cpp)
    # shellcheck disable=SC2053 # FUZZ_ONLY is a glob
    [[ $name == ${FUZZ_ONLY:-*} ]] && echo "$name"
  done
}

# build_target - link target $1 against the archive, when it or what it includes changed.
build_target() {
  local name=$1 src="$top/tests/fuzz/$1.cpp" bin="$out/$1" libs=("$lib")
  case "$name" in
    fuzz_multidrop) libs+=(-ldl -lcrypt -lcrypto) ;;   # GMime itself is loaded with dlopen; the config checks password hashes
    fuzz_imap_session) libs+=(-lssl -lcrypto -lcrypt -lpthread -lSQLiteCpp -lsqlite3 -ldl) ;;   # the mail index
    fuzz_*_session) libs+=(-lssl -lcrypto -lcrypt -lpthread) ;;
    fuzz_smtp_odmr) libs+=(-lssl -lcrypto -lcrypt -lpthread -ldl) ;;   # and the SMTP client (GMime with dlopen)
  esac
  if [ -x "$bin" ] && [ -z "$(find "$src" "$lib" "$top/tests/fuzz/session_fuzz.hpp" "$top/tests/unit/household.hpp" \
                                "$top/tests/unit/temp_dir.hpp" -newer "$bin" -print -quit)" ]; then
    return 0
  fi
  # shellcheck disable=SC2046
  spawn "$cxx" "${target_flags[@]}" $([ "$name" = fuzz_multidrop ] && pkg-config --cflags gmime-3.0) "$src" "${libs[@]}" -o "$bin"
}

# last_status - "cov ft execs exec/s" from a libFuzzer log: the last status line ("#N ... cov: C ft: F ...
# exec/s: E") and the final stats (-print_final_stats=1) when the run ended by itself.
last_status() {
  local log=$1 line execs rate
  line=$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: //p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: //p' "$log" | tail -n 1)
  [ -n "$execs" ] || execs=$(sed -E 's/^#([0-9]+).*/\1/' <<<"$line")
  [ -n "$rate" ] || rate=$(sed -nE 's/.*exec\/s: ([0-9]+).*/\1/p' <<<"$line")
  echo "$(sed -nE 's/.* cov: ([0-9]+) .*/\1/p' <<<"$line") $(sed -nE 's/.* ft: ([0-9]+) .*/\1/p' <<<"$line") ${execs:-0} ${rate:-0}"
}

# campaign - run target $1 for $minutes minutes on its committed corpus, keep the findings as seeds,
# minimize the corpus back into tests/fuzz/corpus/$1; one row of the table on stdout.
campaign() {
  local name=$1 bin="$out/$1" corpus="$top/tests/fuzz/corpus/$1" seeds_dir="$top/tests/fuzz/seeds/$1"
  local work="$out/campaign/$1" findings="$out/campaign/$1-findings/" merged="$out/campaign/$1-merged"
  local deadline=$((SECONDS + minutes * 60)) runs=0 execs=0 cov=0 ft=0 rate=0 left f n
  local inputs=("$work" "$corpus")
  [ -d "$seeds_dir" ] && inputs+=("$seeds_dir")
  rm -rf "$work" "$findings" "$merged"
  mkdir -p "$work" "$findings" "$merged" "$corpus"
  # A finding stops libFuzzer: start again on what was learnt, for the time left (at most 3 findings).
  while left=$((deadline - SECONDS)); [ "$left" -gt 5 ] && [ "$(find "$findings" -type f | wc -l)" -lt 3 ]; do
    runs=$((runs + 1))
    "$bin" -max_total_time="$left" -max_len=4096 -rss_limit_mb=1024 -timeout=25 -print_final_stats=1 \
      -artifact_prefix="$findings" "${inputs[@]}" >"$out/campaign/$name.$runs.log" 2>&1 || true
    read -r cov ft n rate < <(last_status "$out/campaign/$name.$runs.log")
    execs=$((execs + n))
  done
  # Minimize: the old corpus and the new inputs merged into an empty directory, which replaces the old.
  "$bin" -merge=1 -max_len=4096 -rss_limit_mb=1024 -timeout=25 "$merged" "$corpus" "$work" \
    >"$out/campaign/$name.merge.log" 2>&1 || echo "fuzz: $name: merge failed (see $out/campaign/$name.merge.log)" >&2
  if [ -n "$(ls -A "$merged")" ]; then
    find "$corpus" -type f -delete
    cp "$merged"/* "$corpus"/
  fi
  n=0
  for f in "$findings"*; do
    [ -f "$f" ] || continue
    case $(basename "$f") in crash-* | leak-* | timeout-* | oom-*) ;; *) continue ;; esac
    mkdir -p "$seeds_dir"
    cp "$f" "$seeds_dir/"
    n=$((n + 1))
  done
  printf '%-22s %4s %4s %11s %8s %6s %7s %7s %8s\n' "$name" "$minutes" "$runs" "$execs" \
    "$((execs / (minutes * 60)))" "$cov" "$ft" "$(find "$corpus" -type f | wc -l)" "$n"
}

build_lib
for name in $(targets); do build_target "$name"; done
drain || { echo "fuzz: a target did not build"; exit 1; }
if [ -n "$minutes" ]; then
  mkdir -p "$out/campaign"
  table="$out/campaign.txt"
  {
    echo "fuzz campaign: $minutes min per target, $(date -u '+%Y-%m-%d %H:%M') UTC, $(git -C "$top" rev-parse --short HEAD 2>/dev/null)"
    printf '%-22s %4s %4s %11s %8s %6s %7s %7s %8s\n' target min runs execs exec/s cov ft corpus findings
  } >"$table"
  for name in $(targets); do
    echo "fuzz: $name for ${minutes} min (campaign)"
    campaign "$name" | tee -a "$table"
  done
  echo "execs/s: executions over the whole time (restarts included); cov, ft: libFuzzer's last status line;" >>"$table"
  echo "corpus: files in tests/fuzz/corpus/<target> after the merge; findings: copied to tests/fuzz/seeds/<target>" >>"$table"
  echo; cat "$table"
  grep -qE ' [1-9][0-9]*$' <(tail -n +3 "$table" | head -n -2) && exit 1
  exit 0
fi
status=0
for name in $(targets); do
  corpus="$out/corpus-$name"
  mkdir -p "$corpus"
  seeds=()
  [ -d "$top/tests/fuzz/seeds/$name" ] && seeds=("$top/tests/fuzz/seeds/$name")
  echo "fuzz: $name for ${seconds}s"
  if ! "$out/$name" -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=1024 -print_final_stats=0 "$corpus" \
      "${seeds[@]}" >"$out/$name.log" 2>&1; then
    echo "fuzz: $name FAILED"; tail -n 40 "$out/$name.log"; status=1
  fi
done
exit $status
