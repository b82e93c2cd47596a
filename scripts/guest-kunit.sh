#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The kcancel test run inside the guest (busybox sh, as /guest.sh of the
# initramfs): when kcancel-stress is there, load kcancel.ko with a software
# device, run the stress tool on each /dev/kcancelN (kernel argument
# kcancel_stress_seconds, default 20) and unload; then load kcancel.ko and,
# when present, kcancel_test.ko (whose KUnit suites run at load and print
# KTAP on the console), unload both, then have kmemleak scan and print what
# it found. Every step prints a
# "kcancel-guest:" line; a failed step prints "kcancel-guest: FAIL ...". The
# last line, "kcancel-guest: done", tells the host the run finished.
set -u

say() { echo "kcancel-guest: $*"; }
fail() { say "FAIL: $*"; }
now() { cut -d' ' -f1 /proc/uptime; }

kmemleak=/sys/kernel/debug/kmemleak
say "start at $(now) s"
# The hung-task detector keeps its 120 s: insmod waits, uninterruptibly, for
# each KUnit case, and a 100k-request race case takes about 50 s under TCG.

# Scan only when asked; what boot leaked is reported now and forgotten.
if [ -w "$kmemleak" ]; then
	echo scan=off >"$kmemleak" && echo scan >"$kmemleak" &&
		echo clear >"$kmemleak" || fail "kmemleak does not answer"
	say "kmemleak cleared at $(now) s"
else
	fail "no $kmemleak (CONFIG_DEBUG_KMEMLEAK, debugfs)"
fi

# stress DEV [SUFFIX] - run kcancel-stress on DEV and print its JSON line for
# the host, named after DEV's backend and SUFFIX.
stress() {
	name=$(cat "/sys/class/misc/${1#/dev/}/backend" 2>/dev/null || echo unknown)${2:-}
	say "stress $1 ($name) for ${kcancel_stress_seconds:-20} s at $(now) s"
	/modules/kcancel-stress -d "$1" -s "${kcancel_stress_seconds:-20}" \
		--progress-ms 5000 >/tmp/stress.out
	rc=$?
	cat /tmp/stress.out
	echo "kcancel-stress-json $name: $(tail -n 1 /tmp/stress.out)"
	[ "$rc" -eq 0 ] || fail "kcancel-stress on $1 exited with $rc"
}

# The char devices under load: the edu device (kcancel0, MSI) and a software
# device, then the edu device again on its INTx line; each time removal of
# the devices by unloading.
if [ -x /modules/kcancel-stress ]; then
	if insmod /modules/kcancel.ko sim_devices=1; then
		for dev in /dev/kcancel*; do
			[ -c "$dev" ] && stress "$dev"
		done
		rmmod kcancel || fail "rmmod kcancel after the stress runs"
	else
		fail "insmod kcancel.ko sim_devices=1"
	fi
	if insmod /modules/kcancel.ko intx=1; then
		if [ -c /dev/kcancel0 ]; then
			stress /dev/kcancel0 -intx
		else
			fail "no /dev/kcancel0: is QEMU's edu device there?"
		fi
		rmmod kcancel || fail "rmmod kcancel after the INTx stress run"
	else
		fail "insmod kcancel.ko intx=1"
	fi
fi

if insmod /modules/kcancel.ko; then
	if [ -f /modules/kcancel_test.ko ]; then
		say "KUnit start at $(now) s"
		insmod /modules/kcancel_test.ko || fail "insmod kcancel_test.ko"
		say "KUnit end at $(now) s"
		rmmod kcancel_test || fail "rmmod kcancel_test"
	else
		say "no kcancel_test.ko: kcancel.ko loaded alone"
	fi
	rmmod kcancel || fail "rmmod kcancel"
else
	fail "insmod kcancel.ko"
fi
grep kcancel /proc/modules && fail "a kcancel module is still loaded"

if [ -w "$kmemleak" ]; then
	# kmemleak reports only objects older than 5 s.
	sleep 6
	say "kmemleak scan at $(now) s"
	echo scan >"$kmemleak" && echo scan >"$kmemleak" ||
		fail "kmemleak scan"
	say "kmemleak report at $(now) s:"
	cat "$kmemleak"
fi
say "done"
