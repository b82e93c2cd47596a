#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Test kcancel on one of Debian's stock kernels: fetch it
# (scripts/stock-kernel.sh FLAVOUR), build kcancel.ko against its headers,
# boot it in QEMU (TCG, two CPUs, the edu device) with the user-space tools
# found in TOOLDIR (kcancel-selftest, kcancel-stress, kcancel-fuzz, static),
# and run scripts/guest-check.sh's selftest, stress, fuzz and trace steps there.
# Logs go to LOGDIR. Prints one line for the kernel, PASS or FAIL with what
# each tool said, then "N passed, N failed" (one check); fails if it failed.
#
# Environment: KCANCEL_MATRIX_STRESS_SECONDS (each stress run, default 5),
# KCANCEL_MATRIX_FUZZ_CALLS (in all, default 100000).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ $# -ne 3 ]; then
	echo "usage: $0 FLAVOUR TOOLDIR LOGDIR   (FLAVOUR: 6.12-amd64, 6.1-amd64, 6.12-rt-amd64, ...)" >&2
	exit 2
fi
flavour=$1 tools=$2 logdir=$3
mkdir -p "$logdir"
cd "$KC_TOP"

# verdict PASS|FAIL TEXT - the kernel's line and the count line; then exit.
verdict() {
	echo "$1 kernel $flavour: $2"
	if [ "$1" = PASS ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
	[ "$1" = PASS ]
	exit
}

stock=$(scripts/stock-kernel.sh "$flavour" 2>"$logdir/stock-kernel.log") ||
	verdict FAIL "cannot get the kernel, see $logdir/stock-kernel.log"
kdir=$(sed -n 's/^KDIR=//p' <<<"$stock")
bzimage=$(sed -n 's/^BZIMAGE=//p' <<<"$stock")
release=$(sed -n 's/^RELEASE=//p' <<<"$stock")

kc_build_modules "$kdir" "$logdir/tree" "$logdir/build.log" ||
	verdict FAIL "$release: kcancel.ko does not build, see $logdir/build.log"
files=("$logdir/tree/kcancel.ko")
for t in kcancel-selftest kcancel-stress kcancel-fuzz; do
	[ -x "$tools/$t" ] || verdict FAIL "$release: no $tools/$t"
	files+=("$tools/$t")
done
scripts/initramfs.sh "$logdir/initramfs.cpio.gz" scripts/guest-check.sh "${files[@]}" ||
	verdict FAIL "$release: cannot make the initramfs"

log=$logdir/console.log
start=$SECONDS
# loglevel=5: warnings and worse reach the console, for scan-log.sh.
if ! scripts/qemu.sh "$bzimage" "$logdir/initramfs.cpio.gz" "$log" loglevel=5 \
	kcancel_steps=stress,selftest,fuzz,trace \
	kcancel_stress_seconds="${KCANCEL_MATRIX_STRESS_SECONDS:-5}" \
	kcancel_fuzz_calls="${KCANCEL_MATRIX_FUZZ_CALLS:-100000}" 2>"$logdir/qemu.err"; then
	verdict FAIL "$release: the guest did not finish: $(kc_guest_failure "$log" "$logdir/qemu.err")"
fi
secs=$((SECONDS - start))

problems=()
results=$(scripts/guest-results.sh --steps stress,selftest,fuzz,trace "$log") || true
sed '$d' <<<"$results" >"$logdir/results.txt"
grep -q '^FAIL' "$logdir/results.txt" && problems+=("$(grep '^FAIL' "$logdir/results.txt" | sed 's/^FAIL //' | paste -sd ';' -)")
grep -q 'kcancel-guest: FAIL' "$log" && problems+=("a step failed: $(grep -m1 'kcancel-guest: FAIL' "$log" | tr -d '\r' | sed 's/.*FAIL: //')")
if ! scripts/scan-log.sh "$log" >"$logdir/reports.txt" 2>/dev/null; then
	problems+=("kernel reports: $(grep -c '^>' "$logdir/reports.txt") line(s), see $logdir/reports.txt")
fi
# The line: each run's figures, shortened.
summary=$(sed -E 's/^(PASS|FAIL) //; s/; cancel\/completion won:.*//; s/, errors [0-9]+//' \
	"$logdir/results.txt" | paste -sd ';' - | sed 's/;/; /g')
if [ ${#problems[@]} -ne 0 ]; then
	verdict FAIL "$release in $secs s: ${problems[*]}; logs in $logdir"
fi
verdict PASS "$release in $secs s: $summary"
