#!/usr/bin/env bash
# scripts/fuzz.sh OUT_DIR — build every tests/fuzz/fuzz_*.cpp (or those matching the glob FUZZ_ONLY)
# with libFuzzer + ASan/UBSan and run each for FUZZ_SECONDS (default 10).
#
# The code under test is compiled once into an archive that every target links: the pure parsers, and
# for the session targets (fuzz_*_session, a whole server session over the in-memory pipe) what the
# SMTP, POP3 and IMAP sessions reach: Connection and the pipe over Boost.Asio, TLS, SASL, the login
# throttle, the intake and Maildir, the mail index (SQLite), routing, the config types; and for fuzz_smtp_odmr the SMTP client
# that the provider runs on the reversed connection after ATRN. An object is rebuilt when its source or
# a header it includes changed (clang's dependency files), so a second run only fuzzes.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
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

build_lib
for name in $(targets); do build_target "$name"; done
drain || { echo "fuzz: a target did not build"; exit 1; }
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
