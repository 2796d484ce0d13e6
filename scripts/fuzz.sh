#!/usr/bin/env bash
# scripts/fuzz.sh OUT_DIR — build every tests/fuzz/fuzz_*.cpp with libFuzzer + ASan/UBSan and run
# each for FUZZ_SECONDS (default 20). The parsers it links have no dependencies beyond the STL.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build/fuzz}
seconds=${FUZZ_SECONDS:-20}
mkdir -p "$out"
cxx=clang++-14
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$top/src")
parsers=("$top/src/core/address.cpp" "$top/src/core/text.cpp" "$top/src/core/base64.cpp" "$top/src/net/sasl.cpp"
         "$top/src/net/dot_stuffer.cpp" "$top/src/smtp/command.cpp" "$top/src/smtp/dot_decoder.cpp"
         "$top/src/pop3/command.cpp" "$top/src/imap/response.cpp")
status=0
for target in "$top"/tests/fuzz/fuzz_*.cpp; do
  name=$(basename "$target" .cpp)
  bin="$out/$name"
  sources=("${parsers[@]}")
  extra=()
  libs=()
  if [ "$name" = fuzz_multidrop ]; then
    # Routing and the config it reads; GMime's headers only (multidrop.cpp loads it with dlopen).
    sources+=("$top/src/route/multidrop.cpp" "$top/src/mime/gmime.cpp" "$top/src/route/router.cpp" "$top/src/smtp/reply.cpp"
              "$top/src/core/config.cpp" "$top/src/core/cidr.cpp" "$top/src/core/size.cpp" "$top/src/core/password.cpp")
    read -r -a extra <<<"$(pkg-config --cflags gmime-3.0) -DTOML_HEADER_ONLY=1 -DFMT_HEADER_ONLY=1"
    libs=(-ldl -lcrypt -lcrypto)   # config.cpp checks [[user]] passwords with libxcrypt
  fi
  if [ ! -x "$bin" ] || [ -n "$(find "$target" "${sources[@]}" -newer "$bin" 2>/dev/null)" ]; then
    "$cxx" "${flags[@]}" "${extra[@]}" "$target" "${sources[@]}" "${libs[@]}" -o "$bin"
  fi
  corpus="$out/corpus-$name"
  mkdir -p "$corpus"
  seeds="$top/tests/fuzz/seeds/$name"
  [ -d "$seeds" ] || seeds=""
  echo "fuzz: $name for ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -max_len=4096 -print_final_stats=0 "$corpus" $seeds \
      >"$out/$name.log" 2>&1; then
    echo "fuzz: $name FAILED"; tail -n 40 "$out/$name.log"; status=1
  fi
done
exit $status
