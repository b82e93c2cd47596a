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
# to also show the console on stderr as the guest runs (Ctrl-C stops QEMU),
# KCANCEL_QEMU_AGENT=1 to let the guest unplug and plug the edu device.
#
# The agent: the edu device is then edu0 (-device edu,id=edu0), QEMU opens
# its QMP monitor on a unix socket, and scripts/qemu-agent.py follows LOG as
# the guest writes it and carries the guest's "kcancel-qemu: device_del
# edu0" and "kcancel-qemu: device_add edu,id=edu0" lines to the monitor.
# The kernel command line gets kcancel_qemu_agent=1, so that the guest knows.
# The agent stops with QEMU (or this script); its lines ("kcancel-agent:
# ...", "kcancel-agent: ... FAIL ..." for a failure) are in LOG.agent and are
# appended to LOG once QEMU has stopped.
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
agent=${KCANCEL_QEMU_AGENT:-0}
marker=${KCANCEL_DONE_MARKER:-kcancel-guest: done}
[ -f "$bzimage" ] || kc_die "no kernel image $bzimage"
[ -f "$initrd" ] || kc_die "no initramfs $initrd"

case $agent in
0) kc_need_pkgs qemu-system-x86 ;;
1) kc_need_pkgs qemu-system-x86 python3 ;;
*) kc_die "KCANCEL_QEMU_AGENT must be 0 or 1, not '$agent'" ;;
esac

# KVM is not used: TCG only. panic=-1 and -no-reboot end QEMU on a panic.
# loglevel=7 puts KERN_INFO (KTAP) and every report on the console;
# printk.time=1 starts each kernel line with its time, by which the readers
# of the console tell a kernel line cut into one of the guest's
# (scripts/kc_console.py).
append="console=ttyS0 loglevel=7 printk.time=1 panic=-1 $*"
edu=(-device edu)
agent_pid='' qmpdir=''
# stop_agent - end the agent (it ends by itself once QEMU closes the
# monitor; this is for every other way out) and remove the socket.
stop_agent() {
	if [ -n "$agent_pid" ]; then
		kill -TERM "$agent_pid" 2>/dev/null || true
		wait "$agent_pid" 2>/dev/null || true
		agent_pid=''
	fi
	[ -z "$qmpdir" ] || rm -rf "$qmpdir"
	qmpdir=''
}
if [ "$agent" = 1 ]; then
	trap stop_agent EXIT
	qmpdir=$(mktemp -d /tmp/kcancel-qmp.XXXXXX)
	edu=(-device "edu,id=edu0" -qmp "unix:$qmpdir/qmp.sock,server=on,wait=off")
	append+=" kcancel_qemu_agent=1"
	# A fresh LOG: the agent must not act on an older guest's lines.
	: >"$log"
	: >"$log.agent"
	echo_arg=()
	[ "$live" != 1 ] || echo_arg=(--echo)
	# shellcheck disable=SC2094 # the agent appends to LOG.agent, reads LOG
	python3 "$KC_TOP/scripts/qemu-agent.py" --qmp "$qmpdir/qmp.sock" \
		--console "$log" --agent-log "$log.agent" --parent $$ \
		--remove-dir "$qmpdir" "${echo_arg[@]}" </dev/null 2>>"$log.agent" &
	agent_pid=$!
fi
kc_log "booting $bzimage (TCG, at most ${timeout} s), console in $log"
start=$SECONDS
qemu=(qemu-system-x86_64
	-accel tcg -smp 2 -m 2G -nographic -no-reboot -monitor none -nic none
	"${edu[@]}" -kernel "$bzimage" -initrd "$initrd" -append "$append")
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

if [ -n "$agent_pid" ]; then
	# QEMU closed the monitor: the agent ends within a tick.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 "$agent_pid" 2>/dev/null || break
		sleep 0.2
	done
	arc=0
	kill -TERM "$agent_pid" 2>/dev/null || true
	wait "$agent_pid" || arc=$?
	agent_pid=''
	stop_agent
	if [ "$arc" -ne 0 ] && ! grep -q 'kcancel-agent: .* FAIL' "$log.agent"; then
		echo "kcancel-agent: FAIL the agent exited with status $arc" >>"$log.agent"
	fi
	cat "$log.agent" >>"$log"
	if grep 'kcancel-agent: .* FAIL' "$log.agent" >&2; then
		kc_log "the agent failed, see $log.agent"
	fi
fi

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
