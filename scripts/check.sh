#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: every test of kcancel. Builds (once) the debug KUnit kernel,
# runs the static checks (with a clang build and the uapi padding), the
# readers of the guests' consoles on made-up logs
# (scripts/check-parsers.sh), the spin model (scripts/check-model.sh) and a
# DKMS install against Debian's installed headers (scripts/check-dkms.sh),
# builds the modules and the user-space tools (kcancel-stress,
# kcancel-selftest, kcancel-fuzz), boots the debug kernel in QEMU where the
# tools run on each device and the KUnit suites run, parses
# their results, and scans the console for kernel reports (KASAN, lockdep,
# kmemleak, ...). Then the fault scenarios on the debug kernel
# (scripts/check-faults.sh: removal, hot-unplug, unload, kill, failslab,
# hostile device), stress and KUnit on the KCSAN kernel
# (scripts/check-kcsan.sh), and the kernel matrix: the same module, the
# selftests and shorter stress and fuzz runs on each of Debian's stock
# kernels (scripts/check-kernel.sh), one line per kernel.
#
# Environment: KCANCEL_STRESS_SECONDS (each stress run on the debug kernel,
# default 20), KCANCEL_FUZZ_CALLS (fuzz calls on the debug kernel, default
# 1000000), KCANCEL_MATRIX (the stock kernels, default "6.1-amd64 6.12-amd64
# 6.12-rt-amd64"; empty for none), KCANCEL_FAULTS=0 and KCANCEL_KCSAN=0 to
# skip the fault scenarios or the KCSAN run. Prints one line per check, then, last,
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
kc_log "the readers of the guests' consoles"
tally parsers scripts/check-parsers.sh
kc_log "checking the Promela model with spin"
tally model scripts/check-model.sh "$run/model"
kc_log "DKMS, modinfo and the udev rule"
tally dkms scripts/check-dkms.sh "$run/dkms"

kc_log "building the modules"
ko=$run/tree/kcancel.ko test_ko=$run/tree/kunit/kcancel_test.ko
if kc_build_modules "$kdir" "$run/tree" "$run/build.log"; then
	check PASS build modules
else
	grep -E 'error|Error' "$run/build.log" | sed "s|$run/tree/||g" >&2 || true
	check FAIL "build modules: see $run/build.log"
fi
tools=(kcancel-stress kcancel-selftest kcancel-fuzz)
kc_need_pkgs liburing-dev
tooldir=$run/tree/userspace-test
# kcancel-selftest takes the kselftest harness from the kernel's source tree.
if make -C "$tooldir" KSRC="$(kc_srctree "$kdir")" >"$run/userspace.log" 2>&1; then
	check PASS "build user-space tools: ${tools[*]}"
else
	grep -E 'error|Error' "$run/userspace.log" | sed "s|$run/tree/||g" >&2 || true
	check FAIL "build user-space tools: see $run/userspace.log"
fi
# Built, not run (make bench runs them): they keep up with the uapi.
if make -C "$run/tree/bench" kcancel-bench >"$run/bench-tool.log" 2>&1 &&
	make -C "$run/tree/bench/floor" KDIR="$kdir" >"$run/bench-floor.log" 2>&1; then
	check PASS "build bench tools: kcancel-bench, kcfloor.ko"
else
	grep -E 'error|Error' "$run/bench-tool.log" "$run/bench-floor.log" | sed "s|$run/tree/||g" >&2 || true
	check FAIL "build bench tools: see $run/bench-tool.log and $run/bench-floor.log"
fi
# kcancel-bench's command line, on the host: each bad one exits 2 with the
# usage, before it opens a device or a ring.
bench_usage() {
	local bench=$run/tree/bench/kcancel-bench args st
	[ -x "$bench" ] || { check FAIL "kcancel-bench bad usage: not built"; return; }
	for args in "" "bogus" "floor --pin" "nop --threads 0" "batch --depth 8" \
		"nop --pin extra" "cancel -d /dev/null --inflight 0" "nop --seconds"; do
		st=0
		# shellcheck disable=SC2086 # a list of arguments
		"$bench" $args >/dev/null 2>"$run/bench-usage.log" || st=$?
		if [ "$st" -ne 2 ] || ! grep -q '^usage: kcancel-bench' "$run/bench-usage.log"; then
			check FAIL "kcancel-bench bad usage: '$args' exited with $st, see $run/bench-usage.log"
			return
		fi
	done
	check PASS "kcancel-bench bad usage: 8 command lines refused with the usage"
}
bench_usage

log=$run/console.log
mods=("$ko")
[ ! -f "$test_ko" ] || mods+=("$test_ko")
for t in "${tools[@]}"; do
	[ ! -f "$tooldir/$t" ] || mods+=("$tooldir/$t")
done
start=$SECONDS
if [ ! -f "$ko" ]; then
	check FAIL "guest: not run, no kcancel.ko"
elif ! scripts/initramfs.sh "$run/initramfs.cpio.gz" scripts/guest-check.sh "${mods[@]}"; then
	check FAIL "guest: cannot make the initramfs"
# acpi=noirq: the debug kernel's ACPI interpreter takes about 30 s, under
# TCG, to route the edu device's INTx; the MP table routes it at once.
elif ! KCANCEL_QEMU_TIMEOUT=${KCANCEL_QEMU_TIMEOUT:-2400} \
	scripts/qemu.sh "$kdir/arch/x86/boot/bzImage" "$run/initramfs.cpio.gz" \
	"$log" acpi=noirq kcancel_kmemleak=1 \
	kcancel_stress_seconds="${KCANCEL_STRESS_SECONDS:-20}" \
	kcancel_fuzz_calls="${KCANCEL_FUZZ_CALLS:-1000000}"; then
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
	check FAIL "user-space tools: not run"
else
	tally tools scripts/guest-results.sh --races --steps stress,selftest,fuzz,trace "$log"
fi

if [ ! -f "$log" ]; then
	check FAIL "kernel reports: no console log"
elif scripts/scan-log.sh "$log" >"$run/reports.txt"; then
	check PASS "kernel reports: none"
else
	cat "$run/reports.txt" >&2
	check FAIL "kernel reports: $(grep -c '^>' "$run/reports.txt") line(s), see $run/reports.txt"
fi

if [ "${KCANCEL_FAULTS:-1}" != 0 ]; then
	kc_log "fault scenarios on the debug kernel"
	tally faults scripts/check-faults.sh --ko "$ko" "$kdir" "$tooldir" "$run/faults"
fi
if [ "${KCANCEL_KCSAN:-1}" != 0 ]; then
	kc_log "stress and KUnit on the KCSAN kernel"
	tally kcsan scripts/check-kcsan.sh "$tooldir" "$run/kcsan"
fi

for flavour in ${KCANCEL_MATRIX-6.1-amd64 6.12-amd64 6.12-rt-amd64}; do
	kc_log "kernel matrix: Debian's $flavour"
	tally "kernel $flavour" scripts/check-kernel.sh "$flavour" "$tooldir" "$run/$flavour"
done

echo "logs: $run"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
