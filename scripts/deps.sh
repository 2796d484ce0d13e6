#!/usr/bin/env bash
# scripts/deps.sh — install what mailkeep needs to build and test on Debian 12; idempotent and quiet.
set -euo pipefail

build_pkgs=(g++ cmake ninja-build pkg-config
  libboost1.81-dev libssl-dev libsqlite3-dev libsqlitecpp-dev libtomlplusplus-dev libcli11-dev
  libspdlog-dev libfmt-dev libgmime-3.0-dev libc-ares-dev libcrypt-dev)
test_pkgs=(libgtest-dev clang-14 libfuzzer-14-dev libclang-rt-14-dev
  python3 python3-pytest libpython3.11-testsuite swaks libnet-ssleay-perl fetchmail dovecot-core dovecot-pop3d dovecot-imapd dovecot-lmtpd postfix openssl dnsmasq-base
  isync offlineimap3 curl)

want=("${build_pkgs[@]}")
[ "${1:-}" = "--test" ] && want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Postfix asks how to configure itself; the tests run their own instances, so: no configuration.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
