#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The host's readers of a test guest's console (scripts/guest-results.sh,
# scripts/fault-results.sh, scripts/bench-results.py), fed made-up logs.
# The guest's lines and the kernel's share one serial console, and a
# kernel message can land inside a line of the guest's (scripts/kc_console.py
# says how); a reader must still read that line. Each case is a log and the
# line a reader must print for it; the cases that must fail (a line really
# cut short, a run that lost a request, an operation no cancel won) show
# that a reader does not pass whatever it is given.
#
# Prints one line per case, then "N passed, N failed"; fails if any case
# did. Runs on the host in a second or two.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ $# -ne 0 ]; then
	echo "usage: $0" >&2
	exit 2
fi
command -v python3 >/dev/null ||
	kc_die "python3 is missing; install it with: apt-get install python3"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

# expect NAME WANT CMD... - CMD's output must hold the line WANT.
expect() {
	local name=$1 want=$2 out
	shift 2
	out=$("$@" 2>&1) || true
	if grep -qxF -- "$want" <<<"$out"; then
		echo "PASS parsers $name"
		passed=$((passed + 1))
	else
		echo "FAIL parsers $name: wanted \"$want\", got:"
		sed 's/^/  /' <<<"$out"
		failed=$((failed + 1))
	fi
}

ok='{"submitted":200,"lost":0,"double":0,"wrong_result":0,"errors":0,"ops_per_sec":12.5,"ops":{}}'
lost='{"submitted":200,"lost":1,"double":0,"wrong_result":0,"errors":0,"ops_per_sec":12.5,"ops":{}}'
k1='[  236.149714] hrtimer: interrupt took 2203113 ns'
k2='[  236.150001] kcancel: /dev/kcancel1: software device'

# A fault scenario's log: one stress run's JSON line, as given.
fault_log() {
	printf '%s\n' \
		"kcancel-guest: faults start at 200.00 s, kernel 6.12.118, steps unload" \
		"kcancel-fault-begin unload at 216.24 s"
	printf '%b\n' "$1"
	printf '%s\n' \
		"kcancel-fault-end unload at 268.28 s" \
		"kcancel-fault unload: PASS refused=2 runs=1 ops=200 unloads=4 secs=52" \
		"kcancel-guest: faults end at 300.00 s" \
		"kcancel-guest: done"
}
fault() {
	fault_log "$2" >"$tmp/$1.log"
	scripts/fault-results.sh --steps unload "$tmp/$1.log"
}

pass='PASS fault unload: refused 2, unloads 4, 1 stress runs, 200 requests, lost 0, double 0, wrong 0, 52 s'
json="kcancel-fault-json unload plain cycle 3 kcancel1: $ok"
expect "fault: a whole line" "$pass" fault whole "$json"
expect "fault: a kernel line inside the JSON" "$pass" \
	fault cut "${json:0:80}$k1\n${json:80}"
expect "fault: two kernel lines inside, one after the other" "$pass" \
	fault cut2 "${json:0:80}$k1\n$k2\n${json:80}"
expect "fault: kernel lines inside it twice" "$pass" \
	fault cut3 "${json:0:50}$k1\n${json:50:40}$k2\n${json:90}"
expect "fault: a kernel line inside its prefix" "$pass" \
	fault prefix "${json:0:4}$k1\n${json:4}"
fail='FAIL fault unload: cycle 3 kcancel1: its JSON does not parse; the guest counts 200 requests, its lines here 0'
expect "fault: a line cut short fails" \
	"$fail (refused 2, unloads 4, 1 stress runs, 0 requests, lost 0, double 0, wrong 0, 52 s)" \
	fault short "${json:0:80}"
expect "fault: a line missing fails" \
	'FAIL fault unload: the guest counts 1 stress runs, its lines here 0; the guest counts 200 requests, its lines here 0 (refused 2, unloads 4, 52 s)' \
	fault missing "kcancel-guest: stress"
expect "fault: a lost request fails" \
	"FAIL fault unload: cycle 3 kcancel1: lost 1 (refused 2, unloads 4, 1 stress runs, 200 requests, lost 1, double 0, wrong 0, 52 s)" \
	fault lost "kcancel-fault-json unload plain cycle 3 kcancel1: ${lost:0:30}$k1\n${lost:30}"

# A check guest's log: one stress run's JSON line, as given.
stress() {
	printf '%b\n' "$2" >"$tmp/$1.log"
	scripts/guest-results.sh --steps stress "$tmp/$1.log"
}
pass='PASS stress edu: submitted 200, lost 0, double 0, wrong 0, errors 0, 12.5 ops/s; cancel/completion won: '
json="kcancel-stress-json edu: $ok"
expect "stress: a whole line" "$pass" stress whole "$json"
expect "stress: a kernel line inside the JSON" "$pass" \
	stress cut "${json:0:60}$k1\n$k2\n${json:60}"
expect "stress: a lost request fails" \
	"FAIL stress edu: lost: submitted 200, lost 1, double 0, wrong 0, errors 0, 12.5 ops/s; cancel/completion won: " \
	stress lost "kcancel-stress-json edu: ${lost:0:20}$k1\n${lost:20}"

# --races: every operation of a run with latency saw both outcomes.
races() {
	printf '%b\n' "$2" >"$tmp/$1.log"
	scripts/guest-results.sh --races --steps stress "$tmp/$1.log"
}
won='{"cancel_won":3,"completion_won":5,"submitted":8}'
nowin='{"cancel_won":0,"completion_won":8,"submitted":8}'
both="{\"submitted\":200,\"lost\":0,\"double\":0,\"wrong_result\":0,\"errors\":0,\"ops_per_sec\":12.5,\"ops\":{\"dma_to_dev\":$won}}"
one="{\"submitted\":200,\"lost\":0,\"double\":0,\"wrong_result\":0,\"errors\":0,\"ops_per_sec\":12.5,\"ops\":{\"dma_to_dev\":$nowin}}"
pass='PASS stress sim: submitted 200, lost 0, double 0, wrong 0, errors 0, 12.5 ops/s; cancel/completion won: '
expect "races: both outcomes seen" "${pass}dma_to_dev 3/5" \
	races both "kcancel-stress-json sim: $both"
expect "races: an operation no cancel won fails" \
	"FAIL stress sim: dma_to_dev races: submitted 200, lost 0, double 0, wrong 0, errors 0, 12.5 ops/s; cancel/completion won: dma_to_dev 0/8" \
	races one "kcancel-stress-json sim: $one"
expect "races: a run of no latency, where no cancel can win" \
	"PASS stress sim-now: submitted 200, lost 0, double 0, wrong 0, errors 0, 12.5 ops/s; cancel/completion won: dma_to_dev 0/8" \
	races now "kcancel-stress-json sim-now: $one"

# A bench guest's log: one figure's two runs, one cut by the kernel.
bench() {
	printf '%b\n' "$1" >"$tmp/bench.log"
	scripts/bench-results.py "$tmp/bench.log" "$tmp/bench" 6.12 qemu host \
		0000000 1 10 >/dev/null 2>&1 || true
	python3 -c 'import json, sys; print("p1_ratio_qd1", json.load(open(sys.argv[1]))["p1_ratio_qd1"])' \
		"$tmp/bench/results.json"
}
line='kcancel-bench-json p1 1 kcancel-qd1: {"ops_per_sec":500.0,"completed":5000}'
nop='kcancel-bench-json p1 1 nop-qd1: {"ops_per_sec":1000.0,"completed":10000}'
expect "bench: a kernel line inside the JSON" "p1_ratio_qd1 0.5" \
	bench "$nop\n${line:0:50}$k1\n${line:50}"

# The mended lines keep the file's numbering: a report's line number
# (scripts/scan-log.sh) names the same line.
number() {
	printf '%b\n' "$1" >"$tmp/number.log"
	PYTHONPATH=$KC_TOP/scripts python3 -c '
import sys, kc_console
got = kc_console.lines(sys.argv[1])
print(len(got), got.index(sys.argv[2]) + 1)' "$tmp/number.log" "$k2"
}
expect "numbering: a report keeps its line" "4 3" \
	number "kcancel-guest: start\n${json:0:30}$k1\n$k2\n${json:30}"
# Not one of kcancel's lines: the firmware's, left as it came.
expect "numbering: other output is left alone" "2 2" \
	number "Booting from ROM..$k1\n$k2"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
