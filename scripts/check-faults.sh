#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# kcancel's fault scenarios on the debug kernel: device removal through
# sysfs and through QEMU's hot-unplug, module unload, SIGKILL, allocation
# failures and a hostile device (scripts/guest-faults.sh). Makes an
# initramfs with kcancel.ko (built from the work tree into LOGDIR/tree, or
# KO) and the tools of TOOLDIR (kcancel-stress, kcancel-fuzz), boots the
# kernel of the build directory KDIR (or the image BZIMAGE, KDIR then being
# its headers) in QEMU with the hot-plug agent (scripts/qemu.sh,
# KCANCEL_QEMU_AGENT=1), and reads the results (scripts/fault-results.sh).
# kmemleak scans after each scenario when KDIR's configuration has it.
# Prints one line per scenario, then "N passed, N failed"; fails if one
# failed. Logs go to LOGDIR (console.log, console.log.agent, results.txt,
# summary.json).
#
# MODE: short (the default: a few of each fault, 4 to 6 minutes of guest
# time), or soak (10 of each removal and unload, 100 kills, 500,000 racing
# requests on each device; scripts/soak.sh sets its own counts). Counts
# can be set by the environment, over the mode's:
#   KCANCEL_FAULT_STEPS     the steps (removal,hotplug,unload,kill,failslab,
#                           hostile; soak adds race; mmio, not run by
#                           default, probes what the edu device reads
#                           with its memory decoding off)
#   KCANCEL_FAULT_REMOVALS, KCANCEL_FAULT_HOTPLUGS, KCANCEL_FAULT_UNLOADS
#                           how many of each
#   KCANCEL_FAULT_SIM_REMOVALS
#                           removals of a software device (default:
#                           KCANCEL_FAULT_REMOVALS)
#   KCANCEL_FAULT_KILLS     processes to kill, in all
#   KCANCEL_FAULT_KILL_BURST
#                           processes killed in one round (default 1)
#   KCANCEL_FAULT_SECONDS   each failslab and hostile stress run
#   KCANCEL_FAULT_REQUESTS  requests of each race run on a software device
#                           (three)
#   KCANCEL_FAULT_EDU_REQUESTS
#                           requests of the race run on the edu device
#                           (default: KCANCEL_FAULT_REQUESTS)
#   KCANCEL_FAULT_THREADS   threads of every stress run
#   KCANCEL_QEMU_TIMEOUT    the guest's time limit (default: from the counts)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: $0 [--ko KCANCEL.KO] [--kernel BZIMAGE] KDIR TOOLDIR LOGDIR [short|soak]" >&2
	exit 2
}
ko='' bzimage=''
while [ $# -gt 0 ]; do
	case $1 in
	--ko) [ $# -ge 2 ] || usage; ko=$2; shift 2 ;;
	--kernel) [ $# -ge 2 ] || usage; bzimage=$2; shift 2 ;;
	*) break ;;
	esac
done
[ $# -eq 3 ] || [ $# -eq 4 ] || usage
kdir=$1 tools=$2 logdir=$3 mode=${4:-short}
case $mode in
short)	d_steps=removal,hotplug,unload,kill,failslab,hostile
	d_removals=3 d_hotplugs=3 d_unloads=3 d_kills=15 d_seconds=5
	d_requests=20000 ;;
soak)	d_steps=race,removal,hotplug,unload,kill,failslab,hostile
	d_removals=10 d_hotplugs=10 d_unloads=10 d_kills=100 d_seconds=20
	d_requests=500000 ;;
*)	usage ;;
esac
steps=${KCANCEL_FAULT_STEPS:-$d_steps}
removals=${KCANCEL_FAULT_REMOVALS:-$d_removals}
sim_removals=${KCANCEL_FAULT_SIM_REMOVALS:-$removals}
hotplugs=${KCANCEL_FAULT_HOTPLUGS:-$d_hotplugs}
unloads=${KCANCEL_FAULT_UNLOADS:-$d_unloads}
kills=${KCANCEL_FAULT_KILLS:-$d_kills}
seconds=${KCANCEL_FAULT_SECONDS:-$d_seconds}
requests=${KCANCEL_FAULT_REQUESTS:-$d_requests}
edu_requests=${KCANCEL_FAULT_EDU_REQUESTS:-$requests}
burst=${KCANCEL_FAULT_KILL_BURST:-1}
threads=${KCANCEL_FAULT_THREADS:-4}
for n in "$removals" "$sim_removals" "$hotplugs" "$unloads" "$kills" "$burst" "$seconds" \
	"$requests" "$edu_requests" "$threads"; do
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

bzimage=${bzimage:-$kdir/arch/x86/boot/bzImage}
[ -f "$bzimage" ] || verdict "no kernel image $bzimage (scripts/kernel.sh builds it)"
kmemleak=0
if grep -qx 'CONFIG_DEBUG_KMEMLEAK=y' "$kdir/.config" 2>/dev/null; then
	kmemleak=1
fi
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
# debug kernel under TCG (a race request costs about 1.5 ms there, both
# devices at once; less than 0.2 ms on a kernel without kmemleak, KASAN
# and lockdep).
per_s=250
[ "$kmemleak" = 1 ] || per_s=2500
guess=$((300 + 30 * (removals + sim_removals) + 30 * hotplugs + 20 * unloads +
	10 * kills + 4 * (seconds + 30) + (3 * requests + edu_requests) / per_s))
timeout=${KCANCEL_QEMU_TIMEOUT:-$guess}

log=$logdir/console.log
start=$SECONDS
kc_log "fault scenarios ($mode: $steps), at most $timeout s, console in $log"
# acpi=noirq as in make check: the MP table routes the edu INTx at once;
# ACPI hot-plug of the edu device works all the same.
guest_ok=1
KCANCEL_QEMU_AGENT=1 KCANCEL_QEMU_TIMEOUT=$timeout \
	scripts/qemu.sh "$bzimage" "$logdir/initramfs.cpio.gz" "$log" \
	acpi=noirq kcancel_kmemleak="$kmemleak" \
	kcancel_fault_steps="$steps" kcancel_fault_removals="$removals" \
	kcancel_fault_sim_removals="$sim_removals" \
	kcancel_fault_hotplugs="$hotplugs" kcancel_fault_unloads="$unloads" \
	kcancel_fault_kills="$kills" kcancel_fault_seconds="$seconds" \
	kcancel_fault_requests="$requests" kcancel_fault_edu_requests="$edu_requests" \
	kcancel_fault_kill_burst="$burst" kcancel_fault_threads="$threads" \
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
