#!/usr/bin/env bash
# Install every Debian package mailward needs to build, run and test, if missing.
# Usage: scripts/deps.sh [build|test|bench|sa|fuzz]...   (default: build test)
#   bench also brings the peers measured side by side (Postfix, bogofilter,
#   Rspamd with a private redis-server) and npm for the labeled corpus;
#   sa adds SpamAssassin (spamd, spamc), the slow optional peer of `SA=1 make eval`.
set -euo pipefail

build_pkgs="build-essential pkg-config libevent-dev libssl-dev libsqlite3-dev libinih-dev libjansson-dev openssl sqlite3 libgmime-3.0-dev libpsl-dev publicsuffix liblzma-dev zlib1g-dev"
test_pkgs="libcmocka-dev python3 python3-pytest swaks postfix clang libclang-rt-14-dev 7zip libarchive-tools python3-olefile python3-xlwt python3-xlrd python3-docx"
bench_pkgs="postfix bogofilter rspamd redis-server"
# npm fetches the labeled corpus; a machine whose Node.js already brings npm
# (e.g. not from Debian) must not get Debian's npm package on top of it.
command -v npm >/dev/null 2>&1 || bench_pkgs="$bench_pkgs nodejs npm"
fuzz_pkgs="clang libclang-rt-14-dev"
sa_pkgs="spamassassin spamd spamc"

want=""
[ $# -eq 0 ] && set -- build test
for group in "$@"; do
	case "$group" in
	build) want="$want $build_pkgs" ;;
	test) want="$want $test_pkgs" ;;
	bench) want="$want $bench_pkgs" ;;
	sa) want="$want $sa_pkgs" ;;
	fuzz) want="$want $fuzz_pkgs" ;;
	*) echo "deps.sh: unknown group '$group'" >&2; exit 2 ;;
	esac
done

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		case " $missing " in *" $p "*) ;; *) missing="$missing $p" ;; esac
	fi
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
# Postfix is only a test tool (smtp-source, smtp-sink, a peer for benchmarks):
# never let its installer configure a system mailer.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing
