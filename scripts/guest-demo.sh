#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The kcancel demo run inside the guest (busybox sh, as /guest.sh of the
# initramfs): load kcancel.ko, whose PCI driver binds QEMU's edu device and
# makes /dev/kcancel0, run /modules/kcancel-stress on it with its output on
# the console, then unload the module. Every step prints a "kcancel-guest:"
# line; a failed step prints "kcancel-guest: FAIL ...". The host finds the
# stress tool's output between "kcancel-guest: stress start" and
# "kcancel-guest: stress exit status N". The last line, "kcancel-guest: done",
# tells the host the run finished.
#
# Parameters come from the kernel command line: kcancel_seconds=N (how long
# the stress tool runs, default 20), kcancel_loglevel=N (the console's log
# level from here on, default 5: warnings and worse, so that every report
# reaches the console while the boot before stays quiet) and
# kcancel.PARAM=VALUE (module parameters, given to insmod as PARAM=VALUE:
# busybox's insmod does not read the command line).
set -u

# shellcheck source=scripts/guest-lib.sh
. /guest-lib.sh

seconds=20 loglevel=5 modargs=
# shellcheck disable=SC2013 # the command line is one line of words
for arg in $(cat /proc/cmdline); do
	case $arg in
	kcancel_seconds=*) seconds=${arg#*=} ;;
	kcancel_loglevel=*) loglevel=${arg#*=} ;;
	kcancel.*=*) modargs="$modargs ${arg#kcancel.}" ;;
	esac
done
case $seconds in
'' | *[!0-9]*) fail "kcancel_seconds=$seconds is not a number; running 20 s"; seconds=20 ;;
esac

echo # after the firmware's last line, which has no line end
echo "$loglevel" >/proc/sys/kernel/printk || fail "cannot set the console log level"
say "start at $(now) s, kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPUs"
# shellcheck disable=SC2086 # modargs is a list of words
if ! insmod /modules/kcancel.ko $modargs; then
	fail "insmod kcancel.ko$modargs"
	say "done"
	exit 1
fi
say "kcancel.ko loaded${modargs:+ with$modargs} at $(now) s"

# udev is not there: devtmpfs makes the node when the driver registers it.
i=0
while [ ! -c /dev/kcancel0 ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
ls -l /dev/kcancel* 2>&1
for d in /sys/class/misc/kcancel*; do
	[ -e "$d" ] || { say "no /sys/class/misc/kcancel*"; break; }
	info="dev $(cat "$d/dev")"
	[ ! -r "$d/backend" ] || info="$info, backend $(cat "$d/backend")"
	if [ -e "$d/device" ]; then
		dev=$(readlink -f "$d/device")
		info="$info, device ${dev##*/}"
	fi
	if [ -e "$d/device/driver" ]; then
		drv=$(readlink -f "$d/device/driver")
		info="$info, driver ${drv##*/}"
	fi
	say "${d##*/}: $info"
done

if [ -c /dev/kcancel0 ]; then
	# A serial console is no terminal to kcancel-stress: ask for progress.
	say "stress start: /modules/kcancel-stress -d /dev/kcancel0 -s $seconds --progress-ms 1000"
	/modules/kcancel-stress -d /dev/kcancel0 -s "$seconds" --progress-ms 1000
	rc=$?
	say "stress exit status $rc at $(now) s"
	[ $rc -eq 0 ] || fail "kcancel-stress exited with status $rc"
else
	fail "no /dev/kcancel0 5 s after insmod"
fi

rmmod kcancel || fail "rmmod kcancel"
grep kcancel /proc/modules && fail "kcancel is still loaded"
say "done"
