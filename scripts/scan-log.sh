#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Scan the console log of a kcancel test guest for kernel reports: BUG,
# WARNING, KASAN, lockdep, kmemleak, hung task, Oops, panic, debugobjects,
# list corruption, UBSAN, lockups and RCU stalls. Prints each report line
# (marked '>', with its line number) and a few lines around it, and fails if
# there is any. Lines that only say a debug feature is on do not count.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 LOG" >&2
	exit 2
fi
log=$1
[ -f "$log" ] || { echo "scan-log: no log $log" >&2; exit 1; }

reports=(
	'BUG:' 'kernel BUG at' 'WARNING:' 'KASAN' 'UBSAN' 'Oops' 'Kernel panic'
	'general protection fault'
	# lockdep
	'possible recursive locking' 'possible circular locking'
	'inconsistent lock state' 'DEBUG_LOCKS_WARN_ON' 'INFO: possible'
	'non-static key' '(^|[^_A-Za-z0-9])lockdep($|[^_A-Za-z0-9])'
	# kmemleak
	'unreferenced object' 'suspected memory leak'
	'memory leak detector disabled'
	# debugobjects, list debugging
	'ODEBUG' 'list_(add|del) corruption'
	# hung tasks, lockups, RCU stalls
	'blocked for more than' 'soft lockup' 'hard LOCKUP' 'RCU stall'
	'self-detected stall' 'detected stalls on CPU'
)
# Boot lines that name a debug feature without reporting anything.
benign=(
	'KernelAddressSanitizer initialized'
	'kmemleak: Kernel memory leak detector initialized'
	'RCU lockdep checking is enabled'
)

join() { local IFS='|'; echo "$*"; }
awk -v re="$(join "${reports[@]}")" -v ok="$(join "${benign[@]}")" -v ctx=3 '
{
	sub(/\r$/, "")
	line[NR] = $0
	if ($0 ~ re && $0 !~ ok)
		hit[NR] = 1
}
END {
	for (i = 1; i <= NR; i++)
		if (i in hit) {
			n++
			for (j = i - ctx; j <= i + ctx; j++)
				show[j] = 1
		}
	for (i = 1; i <= NR; i++)
		if (i in show) {
			if (last && i > last + 1)
				print "--"
			printf "%s%6d: %s\n", (i in hit) ? ">" : " ", i, line[i]
			last = i
		}
	if (n) {
		printf "scan-log: %d report line(s) in %s\n", n, FILENAME > "/dev/stderr"
		exit 1
	}
}' "$log"
