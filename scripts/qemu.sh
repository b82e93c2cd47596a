#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kcancel test guest: the kernel BZIMAGE with INITRD in QEMU (TCG, two
# CPUs, the edu PCI device), its serial console written to LOG. Fails when the
# guest does not power off within the time limit, or when LOG lacks the line
# that the guest prints once it finished. KERNEL-ARGS are appended to the
# kernel command line, after the defaults, which they override (loglevel=4).
#
# Environment: KCANCEL_QEMU_TIMEOUT (seconds, default 1200),
# KCANCEL_DONE_MARKER (default "kcancel-guest: done"), KCANCEL_QEMU_LIVE=1
# to also show the console on stderr as the guest runs (Ctrl-C stops QEMU).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ $# -lt 3 ]; then
	echo "usage: $0 BZIMAGE INITRD LOG [KERNEL-ARGS...]" >&2
	exit 2
fi
bzimage=$1 initrd=$2 log=$3
shift 3
timeout=${KCANCEL_QEMU_TIMEOUT:-1200}
live=${KCANCEL_QEMU_LIVE:-0}
marker=${KCANCEL_DONE_MARKER:-kcancel-guest: done}
[ -f "$bzimage" ] || kc_die "no kernel image $bzimage"
[ -f "$initrd" ] || kc_die "no initramfs $initrd"

kc_need_pkgs qemu-system-x86

# KVM is not used: TCG only. panic=-1 and -no-reboot end QEMU on a panic.
# loglevel=7 puts KERN_INFO (KTAP) and every report on the console.
append="console=ttyS0 loglevel=7 panic=-1 $*"
kc_log "booting $bzimage (TCG, at most ${timeout} s), console in $log"
start=$SECONDS
qemu=(qemu-system-x86_64
	-accel tcg -smp 2 -m 2G -nographic -no-reboot -monitor none -nic none
	-device edu -kernel "$bzimage" -initrd "$initrd" -append "$append")
rc=0
if [ "$live" = 1 ]; then
	# The console on QEMU's stdout, copied to LOG and to stderr, there
	# without the firmware's escape sequences (which clear the screen). QEMU
	# stays in the terminal's process group, so that Ctrl-C reaches it.
	timeout --foreground --kill-after=10 "$timeout" "${qemu[@]}" \
		-serial stdio </dev/null 2>"$log.qemu" | tee "$log" |
		perl -e '$| = 1; my $b = ""; while (sysread(STDIN, $b, 65536, length $b)) {
			$b =~ s/\e(?:\[[0-9;?]*[A-Za-z]|[c78])//g;
			my $keep = $b =~ s/(\e\[?[0-9;?]*)\z// ? $1 : "";
			print $b; $b = $keep }' >&2 || rc=$?
else
	timeout --kill-after=10 "$timeout" "${qemu[@]}" \
		-serial "file:$log" </dev/null >"$log.qemu" 2>&1 || rc=$?
fi
kc_log "guest ran for $((SECONDS - start)) s"

if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	tail -n 20 "$log" >&2
	kc_die "the guest did not finish within $timeout s, see $log"
elif [ "$rc" -ne 0 ]; then
	cat "$log.qemu" >&2
	kc_die "qemu-system-x86_64 failed (status $rc), see $log.qemu"
elif ! grep -qF "$marker" "$log"; then
	tail -n 20 "$log" >&2
	kc_die "the guest stopped before '$marker' (panic?), see $log"
fi
