#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# kcancel under KCSAN: build (or reuse) the kcsan variant of the test kernel
# (scripts/kernel.sh kcsan: KCSAN in place of KASAN), build kcancel.ko and
# kcancel_test.ko against it, boot it in QEMU (TCG, two CPUs, the edu device)
# with kcancel-stress from TOOLDIR, and run scripts/guest-check.sh's stress
# and kunit steps there: a stress run on each device, then every KUnit suite,
# the race cases with fewer requests (KCSAN slows every access down). KCSAN
# watches one access in 400 (kcsan.skip_watch; its default, 4000, caught a
# plain counter shared by the race cases' threads in one run of two). A
# KCSAN report ("BUG: KCSAN: data-race ...") with a frame of kcancel's
# modules or a kc_ function is a kernel report: the log scan fails the run,
# as it fails it on any other report. One whose every stack is the kernel's
# own (the workqueue reading its worker's sum_exec_runtime while the tick
# updates it, for one) is not kcancel's to fix: it is counted on a line of
# its own and kept in LOGDIR/kernel-races.txt. Logs go to LOGDIR.
# Prints one line per check, each starting with "kcsan", then "N passed, N
# failed"; fails if any check failed.
#
# Environment: KCANCEL_KCSAN_STRESS_SECONDS (each stress run, default 10),
# KCANCEL_KCSAN_KUNIT_ARGS (kcancel_test.ko parameters, commas for spaces,
# default race_requests=20000,dev_race_requests=500).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ $# -ne 2 ]; then
	echo "usage: $0 TOOLDIR LOGDIR" >&2
	exit 2
fi
tools=$1 logdir=$2
mkdir -p "$logdir"
cd "$KC_TOP"

passed=0 failed=0
# say PASS|FAIL TEXT - one check's line.
say() {
	echo "$1 kcsan $2"
	if [ "$1" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
# finish - the count line; the exit status.
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}
# prefixed CMD... - a results script's lines, each marked kcsan, and its
# counts added to ours.
prefixed() {
	local out last
	out=$("$@") || true
	last=$(tail -n 1 <<<"$out")
	sed '$d' <<<"$out" | sed -E 's/^(PASS|FAIL|SKIP) /\1 kcsan /'
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		passed=$((passed + BASH_REMATCH[1])) failed=$((failed + BASH_REMATCH[2]))
	else
		say FAIL "$1: no results"
	fi
}

if ! kdir=$(scripts/kernel.sh kcsan 2>"$logdir/kernel.log"); then
	say FAIL "kernel: scripts/kernel.sh kcsan failed, see $logdir/kernel.log"
	finish
fi
[ -x "$tools/kcancel-stress" ] || { say FAIL "no $tools/kcancel-stress"; finish; }
if ! kc_build_modules "$kdir" "$logdir/tree" "$logdir/build.log"; then
	say FAIL "modules do not build against the KCSAN kernel, see $logdir/build.log"
	finish
fi
scripts/initramfs.sh "$logdir/initramfs.cpio.gz" scripts/guest-check.sh \
	"$logdir/tree/kcancel.ko" "$logdir/tree/kunit/kcancel_test.ko" \
	"$tools/kcancel-stress" || { say FAIL "cannot make the initramfs"; finish; }

log=$logdir/console.log
start=$SECONDS
if ! KCANCEL_QEMU_TIMEOUT=${KCANCEL_QEMU_TIMEOUT:-2400} \
	scripts/qemu.sh "$kdir/arch/x86/boot/bzImage" "$logdir/initramfs.cpio.gz" \
	"$log" acpi=noirq kcsan.skip_watch=400 kcancel_steps=stress,kunit \
	kcancel_stress_seconds="${KCANCEL_KCSAN_STRESS_SECONDS:-10}" \
	kcancel_kunit_args="${KCANCEL_KCSAN_KUNIT_ARGS:-race_requests=20000,dev_race_requests=500}" \
	2>"$logdir/qemu.err"; then
	say FAIL "guest: did not finish: $(kc_guest_failure "$log" "$logdir/qemu.err")"
elif grep -a 'kcancel-guest: FAIL' "$log" >&2; then
	say FAIL "guest: a step failed, see $log"
else
	say PASS "guest: stress and KUnit in $((SECONDS - start)) s"
fi
[ -f "$log" ] || finish
prefixed scripts/guest-results.sh --steps stress "$log"
prefixed scripts/kunit-results.sh "$kdir" "$log"
# kcsan_split LOG - LOG without the KCSAN reports that have no frame of
# kcancel's, on stdout; those reports go to $logdir/kernel-races.txt.
kcsan_split() {
	awk -v out="$logdir/kernel-races.txt" '
	# A report is the lines from a rule of "=" to the next one. Diverted
	# only if it is a KCSAN report and no line names kcancel; a block
	# that is not a report is printed as it came.
	function flush(   i, ours) {
		ours = 0
		for (i = 1; i <= n; i++)
			if (buf[i] ~ /\[kcancel(_test)?\]|[ (]kc_[a-z0-9_]+\+0x/)
				ours = 1
		for (i = 1; i <= n; i++)
			if (ours || !kcsan)
				print buf[i]
			else
				print buf[i] >out
		n = 0
		kcsan = 0
	}
	/========================================\r?$/ {
		buf[++n] = $0
		if (n > 1)
			flush()
		next
	}
	n {
		buf[++n] = $0
		if ($0 ~ /BUG: KCSAN:/)
			kcsan = 1
		if (n > 200)
			flush()
		next
	}
	{ print }
	END { if (n) flush() }
	' "$1"
}
: >"$logdir/kernel-races.txt"
kcsan_split "$log" >"$logdir/console.kcancel.log"
internal=$(grep -c 'BUG: KCSAN' "$logdir/kernel-races.txt" || true)
if [ "$internal" -gt 0 ]; then
	echo "NOTE kcsan kernel reports: $internal KCSAN data race(s) with no kcancel frame, the kernel's own, see $logdir/kernel-races.txt"
fi
if scripts/scan-log.sh "$logdir/console.kcancel.log" >"$logdir/reports.txt" 2>/dev/null; then
	say PASS "kernel reports: no data race, no other report"
else
	races=$(grep -c 'BUG: KCSAN' "$logdir/reports.txt" || true)
	say FAIL "kernel reports: $races KCSAN data race(s), $(grep -c '^>' "$logdir/reports.txt") report line(s) in all, see $logdir/reports.txt"
fi
finish
