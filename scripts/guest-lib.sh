# SPDX-License-Identifier: GPL-2.0
#
# What the guest scripts share (busybox sh): scripts/initramfs.sh puts this
# file in every test guest as /guest-lib.sh, and the scripts source it.
#
#   say TEXT...      a line for the console: "kcancel-guest: TEXT"
#   fail TEXT...     a failed step: "kcancel-guest: FAIL: TEXT", which the host
#                    looks for
#   now              seconds since boot
#   wait_node DEV    wait up to 5 s for the character device DEV; fails if
#                    it did not come
#   load ARGS...     insmod kcancel.ko ARGS and wait for /dev/kcancel0 (the edu
#                    device; a software device is /dev/kcancel1)
#   unload [WHEN]    rmmod kcancel, a failure if it refuses
#   backend DEV      edu or sim, from sysfs
#   irq_to NAME CPU  route an interrupt (and its handler's thread) to CPU
#   thread_to NAME CPU
#                    pin the kernel threads named NAME to CPU

say() { echo "kcancel-guest: $*"; }
fail() { say "FAIL: $*"; }
now() { cut -d' ' -f1 /proc/uptime; }

wait_node() {
	i=0
	while [ ! -c "$1" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -c "$1" ]
}

load() {
	insmod /modules/kcancel.ko "$@" || { fail "insmod kcancel.ko $*"; return 1; }
	wait_node /dev/kcancel0 && return 0
	fail "no /dev/kcancel0 after insmod kcancel.ko $*: is QEMU's edu device there?"
	rmmod kcancel
	return 1
}

unload() { rmmod kcancel || fail "rmmod kcancel $*"; }

backend() { cat "/sys/class/misc/${1#/dev/}/backend" 2>/dev/null || echo unknown; }

# irq_to NAME CPU - route the interrupt that NAME's handler was requested
# under (/proc/interrupts) to CPU; a threaded handler's thread follows it.
irq_to() {
	irq=$(awk -v n="$1" '$NF == n { sub(":", "", $1); print $1; exit }' /proc/interrupts)
	if [ -z "$irq" ]; then
		fail "no interrupt of $1 in /proc/interrupts"
		return 1
	fi
	echo "$2" >/proc/irq/"$irq"/smp_affinity_list ||
		fail "cannot route IRQ $irq ($1) to CPU $2"
}

# thread_to NAME CPU - pin every kernel thread whose name is NAME to CPU.
thread_to() {
	n=0
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = "$1" ] || continue
		taskset -p -c "$2" "${p#/proc/}" >/dev/null ||
			{ fail "cannot pin thread ${p#/proc/} ($1) to CPU $2"; return 1; }
		n=$((n + 1))
	done
	[ $n -gt 0 ] && return 0
	fail "no thread named $1"
	return 1
}
