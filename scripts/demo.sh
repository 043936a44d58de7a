#!/usr/bin/env bash
# `make run`: provision the demo tenant (once) and run the gateway in the foreground.
#   tenant example.test: alice@example.test, bob@example.test -> maildir ./var/maildir
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release/mailward}
conf=${MAILWARD_DEMO_CONF:-etc/mailward.demo.ini}
mw() { "$bin" -c "$conf" "$@"; }

mkdir -p var
if ! mw tenant show example >/dev/null 2>&1; then
	mw tenant add example --action reject
	mw domain add example.test --tenant example --deliver "maildir:$PWD/var/maildir"
	mw user add alice@example.test
	mw user add bob@example.test --alias robert@example.test
	echo "demo: tenant 'example' with alice@example.test and bob@example.test (alias robert@) -> $PWD/var/maildir"
fi
cat <<TXT
demo: SMTP on 127.0.0.1:2525, data in ./var.  In another terminal:
  swaks --server 127.0.0.1:2525 --to alice@example.test
  $bin -c $conf log search --recipient alice@example.test
  ls var/maildir/alice@example.test/new/
Stop with Ctrl-C.
TXT
exec "$bin" -c "$conf" serve
