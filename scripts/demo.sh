#!/usr/bin/env bash
# `make run`: provision the demo tenant (once) and run the gateway in the foreground.
#   tenant example (action quarantine): alice@example.test, bob@example.test -> maildir ./var/maildir
# On the first run it also sends one test spam (the GTUBE string) to bob, so
# the quarantine has something in it, and mails bob his quarantine digest.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release/mailward}
conf=${MAILWARD_DEMO_CONF:-etc/mailward.demo.ini}
mw() { "$bin" -c "$conf" "$@"; }

# host:port of a "listen = host:port" line of section $1 in the demo config.
listen_of() {
	awk -v sec="[$1]" '$0 == sec { on = 1; next } /^\[/ { on = 0 }
		on && $1 == "listen" { sub(/^[^=]*=[ \t]*/, ""); print; exit }' "$conf"
}
smtp=$(listen_of smtp)
admin=$(listen_of admin)

mkdir -p var
first=0
if ! mw tenant show example >/dev/null 2>&1; then
	mw tenant add example --action quarantine
	mw domain add example.test --tenant example --deliver "maildir:$PWD/var/maildir"
	mw user add alice@example.test
	mw user add bob@example.test --alias robert@example.test
	# A spam trap: mail to it is answered 250 and never delivered, and its
	# sender's reputation remembers the hit (docs/reputation.md).
	mw trap add spamtrap@example.test --tenant example
	echo "demo: tenant 'example' (probable spam is quarantined) with alice@example.test and"
	echo "      bob@example.test (alias robert@) -> $PWD/var/maildir; spam trap spamtrap@example.test"
	first=1
fi

# One SMTP transaction over bash's /dev/tcp: the demo needs no client installed.
send_demo_spam() {
	local host=${smtp%:*} port=${smtp##*:} line
	exec 3<>"/dev/tcp/$host/$port" || return 1
	expect() { while IFS= read -r -t 10 line <&3; do [[ $line == "$1 "* ]] && return 0;
		[[ $line == [0-9][0-9][0-9]" "* ]] && { echo "demo: unexpected reply: $line" >&2; return 1; }; done; return 1; }
	expect 220 && printf 'EHLO demo.example\r\n' >&3 && expect 250 &&
	printf 'MAIL FROM:<offers@spam-demo.example>\r\n' >&3 && expect 250 &&
	printf 'RCPT TO:<bob@example.test>\r\n' >&3 && expect 250 &&
	printf 'DATA\r\n' >&3 && expect 354 &&
	printf '%s\r\n' "From: Offers <offers@spam-demo.example>" "To: bob@example.test" \
		"Subject: demo: you have won (a test spam)" "" \
		"This is the standard anti-spam test message:" \
		'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X' "." >&3 &&
	expect 250 && printf 'QUIT\r\n' >&3
	local rc=$?
	exec 3<&-
	return $rc
}

"$bin" -c "$conf" serve &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server' INT TERM
if [ "$first" = 1 ]; then
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/${smtp%:*}/${smtp##*:}") 2>/dev/null && break; sleep 0.1; done
	if send_demo_spam; then
		# The delivery worker holds it within a moment; then bob gets his digest.
		for _ in $(seq 50); do
			mw quarantine list --user bob@example.test --json 2>/dev/null | grep -q '"id"' && break
			sleep 0.1
		done
		mw quarantine digest >/dev/null || true
	fi
fi
cat <<TXT
demo: SMTP on $smtp, admin/release links on http://$admin, data in ./var.  In another terminal:
  swaks --server $smtp --to alice@example.test
  $bin -c $conf log search --recipient alice@example.test
  ls var/maildir/alice@example.test/new/
  $bin -c $conf quarantine list                 # the demo spam held for bob
  $bin -c $conf quarantine show ID              # why it was held
  $bin -c $conf quarantine release ID           # deliver it to bob, once
  grep -o 'http://[^ ]*release[^ ]*' var/maildir/bob@example.test/new/*   # bob's digest links
  swaks --server $smtp --to spamtrap@example.test   # a trap: 250, never delivered
  $bin -c $conf reputation show 127.0.0.1       # the hit, and what it does to the next message
Stop with Ctrl-C.
TXT
wait $server
