#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: every test of kcancel. Builds (once) the debug KUnit kernel,
# runs the static checks, builds the modules and kcancel-stress, boots them in
# QEMU where the stress tool runs on each device and the KUnit suites run,
# parses their KTAP and the stress results, and scans the console for kernel
# reports (KASAN, lockdep, kmemleak, ...). KCANCEL_STRESS_SECONDS sets the
# length of each stress run (default 20). Prints one line per check, then, last,
# "N passed, N failed": KUnit test cases plus one for each other check. Fails
# if anything failed. Logs stay in build/check-DATE (build/check-last).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ $# -ne 0 ]; then
	echo "usage: $0" >&2
	exit 2
fi

passed=0 failed=0
# check PASS|FAIL NAME... - one check's line and count.
check() {
	echo "$*"
	if [ "$1" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
# tally NAME CMD... - run a script that prints a line per check, then
# "N passed, N failed": show its lines and add its numbers.
tally() {
	local name=$1 out last
	shift
	out=$("$@") || true
	last=$(tail -n 1 <<<"$out")
	sed '$d' <<<"$out"
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		passed=$((passed + BASH_REMATCH[1])) failed=$((failed + BASH_REMATCH[2]))
	else
		[ -z "$last" ] || echo "$last"
		check FAIL "$name: $1 stopped before its results"
	fi
}

cd "$KC_TOP"
if ! kdir=$(scripts/kernel.sh); then
	check FAIL "test kernel: scripts/kernel.sh failed (its error is above)"
	echo "$passed passed, $failed failed"
	exit 1
fi
run=$KC_TOP/build/check-$(date +%Y%m%d-%H%M%S)
mkdir -p "$run"
ln -sfn "$(basename "$run")" "$KC_TOP/build/check-last"
kc_log "logs in $run"

tally lint scripts/lint.sh "$kdir" "$run/lint"

kc_log "building the modules"
ko=$run/tree/kcancel.ko test_ko=$run/tree/kunit/kcancel_test.ko
if kc_build_modules "$kdir" "$run/tree" "$run/build.log"; then
	check PASS build modules
else
	grep -E 'error|Error' "$run/build.log" | sed "s|$run/tree/||g" >&2 || true
	check FAIL "build modules: see $run/build.log"
fi
stress_bin=$run/tree/userspace-test/kcancel-stress
if make -C "$run/tree/userspace-test" >"$run/userspace.log" 2>&1; then
	check PASS build kcancel-stress
else
	check FAIL "build kcancel-stress: see $run/userspace.log"
fi

log=$run/console.log
mods=("$ko")
[ ! -f "$test_ko" ] || mods+=("$test_ko")
[ ! -f "$stress_bin" ] || mods+=("$stress_bin")
start=$SECONDS
if [ ! -f "$ko" ]; then
	check FAIL "guest: not run, no kcancel.ko"
elif ! scripts/initramfs.sh "$run/initramfs.cpio.gz" scripts/guest-kunit.sh "${mods[@]}"; then
	check FAIL "guest: cannot make the initramfs"
# acpi=noirq: the debug kernel's ACPI interpreter takes about 30 s, under
# TCG, to route the edu device's INTx; the MP table routes it at once.
elif ! scripts/qemu.sh "$kdir/arch/x86/boot/bzImage" "$run/initramfs.cpio.gz" \
	"$log" acpi=noirq kcancel_stress_seconds="${KCANCEL_STRESS_SECONDS:-20}"; then
	check FAIL "guest: did not finish, see $log"
elif grep 'kcancel-guest: FAIL' "$log" >&2; then
	check FAIL "guest: a step failed, see $log"
else
	check PASS "guest: booted, loaded and unloaded the modules in $((SECONDS - start)) s"
fi

if [ ! -f "$log" ]; then
	check FAIL "kunit: not run"
elif [ ! -f "$test_ko" ]; then
	check FAIL "kunit: kunit/kcancel_test.ko was not built"
else
	tally kunit scripts/kunit-results.sh "$kdir" "$log"
fi

if [ ! -f "$log" ]; then
	check FAIL "stress: not run"
else
	tally stress scripts/stress-results.sh "$log"
fi

if [ ! -f "$log" ]; then
	check FAIL "kernel reports: no console log"
elif scripts/scan-log.sh "$log" >"$run/reports.txt"; then
	check PASS "kernel reports: none"
else
	cat "$run/reports.txt" >&2
	check FAIL "kernel reports: $(grep -c '^>' "$run/reports.txt") line(s), see $run/reports.txt"
fi

echo "logs: $run"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
