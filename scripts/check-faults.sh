#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# kcancel's fault scenarios on the debug kernel: device removal through
# sysfs and through QEMU's hot-unplug, module unload, SIGKILL, allocation
# failures and a hostile device (scripts/guest-faults.sh). Makes an
# initramfs with kcancel.ko (built from the work tree into LOGDIR/tree, or
# KO) and the tools of TOOLDIR (kcancel-stress, kcancel-fuzz), boots the
# kernel of the build directory KDIR in QEMU with the hot-plug agent
# (scripts/qemu.sh, KCANCEL_QEMU_AGENT=1), and reads the results
# (scripts/fault-results.sh). Prints one line per scenario, then
# "N passed, N failed"; fails if one failed. Logs go to LOGDIR (console.log,
# console.log.agent, results.txt, summary.json).
#
# MODE: short (the default: a few of each fault, 4 to 6 minutes of guest
# time), or soak (one part of scripts/soak.sh's long run: 10 of each
# removal and unload, 100 kills, 500,000 requests on each device). Counts
# can be set by the environment, over the mode's:
#   KCANCEL_FAULT_STEPS     the steps (removal,hotplug,unload,kill,failslab,
#                           hostile; soak adds race; mmio, not run by
#                           default, probes what the edu device reads
#                           with its memory decoding off)
#   KCANCEL_FAULT_REMOVALS, KCANCEL_FAULT_HOTPLUGS, KCANCEL_FAULT_UNLOADS,
#   KCANCEL_FAULT_KILLS     how many of each
#   KCANCEL_FAULT_SECONDS   each failslab and hostile stress run
#   KCANCEL_FAULT_REQUESTS  requests of each race run (one per device)
#   KCANCEL_FAULT_THREADS   threads of every stress run
#   KCANCEL_QEMU_TIMEOUT    the guest's time limit (default: from the counts)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: $0 [--ko KCANCEL.KO] KDIR TOOLDIR LOGDIR [short|soak]" >&2
	exit 2
}
ko=''
if [ "${1:-}" = --ko ]; then
	[ $# -ge 2 ] || usage
	ko=$2
	shift 2
fi
[ $# -eq 3 ] || [ $# -eq 4 ] || usage
kdir=$1 tools=$2 logdir=$3 mode=${4:-short}
case $mode in
short)	d_steps=removal,hotplug,unload,kill,failslab,hostile
	d_removals=3 d_hotplugs=3 d_unloads=3 d_kills=9 d_seconds=5
	d_requests=20000 ;;
soak)	d_steps=race,removal,hotplug,unload,kill,failslab,hostile
	d_removals=10 d_hotplugs=10 d_unloads=10 d_kills=100 d_seconds=20
	d_requests=500000 ;;
*)	usage ;;
esac
steps=${KCANCEL_FAULT_STEPS:-$d_steps}
removals=${KCANCEL_FAULT_REMOVALS:-$d_removals}
hotplugs=${KCANCEL_FAULT_HOTPLUGS:-$d_hotplugs}
unloads=${KCANCEL_FAULT_UNLOADS:-$d_unloads}
kills=${KCANCEL_FAULT_KILLS:-$d_kills}
seconds=${KCANCEL_FAULT_SECONDS:-$d_seconds}
requests=${KCANCEL_FAULT_REQUESTS:-$d_requests}
threads=${KCANCEL_FAULT_THREADS:-4}
for n in "$removals" "$hotplugs" "$unloads" "$kills" "$seconds" "$requests" "$threads"; do
	[[ $n =~ ^[0-9]+$ ]] || kc_die "fault counts are numbers, not '$n'"
done
[[ $steps =~ ^[a-z,]+$ ]] || kc_die "KCANCEL_FAULT_STEPS is a comma list of step names, not '$steps'"
mkdir -p "$logdir"
logdir=$(cd "$logdir" && pwd)
cd "$KC_TOP"

# verdict TEXT - the one line when the guest cannot run, and the count line.
verdict() {
	echo "FAIL faults: $1"
	echo "0 passed, 1 failed"
	exit 1
}

bzimage=$kdir/arch/x86/boot/bzImage
[ -f "$bzimage" ] || verdict "no kernel image $bzimage (scripts/kernel.sh builds it)"
if [ -z "$ko" ]; then
	kc_log "building kcancel.ko against $kdir"
	kc_build_modules "$kdir" "$logdir/tree" "$logdir/build.log" ||
		verdict "kcancel.ko does not build, see $logdir/build.log"
	ko=$logdir/tree/kcancel.ko
fi
[ -f "$ko" ] || verdict "no $ko"
files=("$ko")
for t in kcancel-stress kcancel-fuzz; do
	[ -x "$tools/$t" ] || verdict "no $tools/$t (make -C userspace-test)"
	files+=("$tools/$t")
done
scripts/initramfs.sh "$logdir/initramfs.cpio.gz" scripts/guest-faults.sh "${files[@]}" ||
	verdict "cannot make the initramfs"

# The time limit: the boot, and a generous guess at each fault's cost on the
# debug kernel under TCG (a race request costs about 2 ms there).
guess=$((300 + 30 * 2 * removals + 30 * hotplugs + 20 * unloads + 10 * kills +
	4 * (seconds + 30) + 2 * requests / 250))
timeout=${KCANCEL_QEMU_TIMEOUT:-$guess}

log=$logdir/console.log
start=$SECONDS
kc_log "fault scenarios ($mode: $steps), at most $timeout s, console in $log"
# acpi=noirq as in make check: the MP table routes the edu INTx at once;
# ACPI hot-plug of the edu device works all the same.
guest_ok=1
KCANCEL_QEMU_AGENT=1 KCANCEL_QEMU_TIMEOUT=$timeout \
	scripts/qemu.sh "$bzimage" "$logdir/initramfs.cpio.gz" "$log" \
	acpi=noirq kcancel_kmemleak=1 \
	kcancel_fault_steps="$steps" kcancel_fault_removals="$removals" \
	kcancel_fault_hotplugs="$hotplugs" kcancel_fault_unloads="$unloads" \
	kcancel_fault_kills="$kills" kcancel_fault_seconds="$seconds" \
	kcancel_fault_requests="$requests" kcancel_fault_threads="$threads" \
	2>"$logdir/qemu.err" || guest_ok=0
kc_log "the fault guest ran for $((SECONDS - start)) s"
[ -f "$log" ] || verdict "the guest did not start, see $logdir/qemu.err"

out=$(scripts/fault-results.sh --steps "$steps" --summary "$logdir/summary.json" "$log") || true
body=$(sed '$d' <<<"$out")
last=$(tail -n 1 <<<"$out")
if [ "$guest_ok" = 0 ]; then
	# What scripts/qemu.sh said: a time limit, a panic, QEMU failing.
	why=$(grep 'kcancel: error' "$logdir/qemu.err" | tail -n 1 | sed 's/^kcancel: error: //')
	if grep -q '^FAIL fault guest' <<<"$body"; then
		body=$(while IFS= read -r l; do
			[[ $l != "FAIL fault guest: "* ]] || l+=": $why"
			printf '%s\n' "$l"
		done <<<"$body")
	else
		body+=$'\n'"FAIL fault guest: $why"
	fi
fi
[ -z "$body" ] || echo "$body" | tee "$logdir/results.txt"
if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
	p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
	[ "$guest_ok" = 1 ] || grep -q '^FAIL fault guest' <<<"$out" || f=$((f + 1))
else
	echo "FAIL faults: scripts/fault-results.sh stopped before its results"
	p=0 f=1
fi
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
