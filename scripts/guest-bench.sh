#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make bench` inside the guest (busybox sh, /guest.sh of the initramfs made
# by scripts/bench.sh), on Debian's stock kernel: every figure in one boot,
# each measured path alternating with its baseline, round after round, so
# that both see the same guest in the same state. kcancel-bench
# (bench/kcancel-bench.c) prints one JSON line a run; this script prefixes
# it with "kcancel-bench-json FIGURE ROUND PATH:" for scripts/bench.sh.
#
#   P1  the zero-latency software device, one thread, depth 1, 8 and 64:
#       the batched ioctl (and, at depth 64, one SUBMIT a request, and
#       KCANCEL_URING_CMD_SUBMIT through io_uring) against io_uring's
#       IORING_OP_NOP at the same depth
#   P2  cancel latency with 100,000 requests in flight against 10 in flight
#       (a software device whose operations take a minute), kcancel-bench
#       on CPU 0 and the device's DPC thread (kcancel-sim) on CPU 0, then
#       on CPU 1
#   P3  edu doorbells through kcancel's whole path against the raw floor of
#       kcfloor.ko (bench/floor), which only rings and waits for the IRQ;
#       both with the submitter on CPU 0 and the edu interrupt (and with it
#       kcancel's IRQ thread) on CPU 1, then both on CPU 0; kcancel also with
#       waiter_dpc=N, its DPC always in the IRQ thread
#   P4  two threads on two files against one, depth 64 each; and, as the
#       ceiling it is read against, io_uring NOPs on two rings against one
#   P5  kernel bytes per request in flight (slab deltas)
#
# Parameters from the kernel command line: kcancel_bench_rounds (default 5),
# kcancel_bench_seconds (each throughput run, default 2),
# kcancel_bench_samples (cancels timed a run, default 200) and
# kcancel_bench_figures (a comma list, default p1,p2,p3,p4,p5). The last line,
# "kcancel-guest: done", tells the host the run finished.
set -u

# shellcheck source=scripts/guest-lib.sh
. /guest-lib.sh

rounds=${kcancel_bench_rounds:-5}
secs=${kcancel_bench_seconds:-2}
samples=${kcancel_bench_samples:-200}
figures=",${kcancel_bench_figures:-p1,p2,p3,p4,p5},"
bench=/modules/kcancel-bench
say "bench start at $(now) s, kernel $(uname -r), $rounds rounds of $secs s"

figure() { case $figures in *",$1,"*) return 0 ;; esac; return 1; }

# run FIGURE ROUND PATH ARGS... - one kcancel-bench run, its line for the host.
# Exit status 3 is a path the module cannot run: its line (with "missing",
# the reason) goes to the host too, and the figure is shown as not measured.
# With $cpu set, kcancel-bench runs on that CPU only.
cpu=
run() {
	fig=$1 round=$2 path=$3
	shift 3
	if [ -n "$cpu" ]; then
		out=$(taskset -c "$cpu" "$bench" "$@" 2>/tmp/bench.err)
	else
		out=$("$bench" "$@" 2>/tmp/bench.err)
	fi
	st=$?
	case $st in
	0)
		echo "kcancel-bench-json $fig $round $path: $out"
		;;
	3)
		echo "kcancel-bench-json $fig $round $path: $out"
		say "$fig round $round $path: not measured: $(tail -n 1 /tmp/bench.err)"
		;;
	*)
		cat /tmp/bench.err
		fail "$fig round $round $path: kcancel-bench $* exited with $st"
		;;
	esac
}

if figure p1 || figure p4; then
	if load sim_devices=1 sim_latency_us=0 sim_jitter_us=0; then
		r=1
		while [ $r -le "$rounds" ]; do
			if figure p1; then
				for d in 1 8 64; do
					run p1 $r "kcancel-qd$d" batch -d /dev/kcancel1 --depth $d --seconds "$secs"
					run p1 $r "nop-qd$d" nop --depth $d --seconds "$secs"
				done
				run p1 $r single-qd64 single -d /dev/kcancel1 --depth 64 --seconds "$secs"
				run p1 $r uring-qd64 uring -d /dev/kcancel1 --depth 64 --seconds "$secs"
			fi
			if figure p4; then
				run p4 $r threads1 batch -d /dev/kcancel1 --depth 64 --seconds "$secs" --threads 1 --pin
				run p4 $r threads2 batch -d /dev/kcancel1 --depth 64 --seconds "$secs" --threads 2 --pin
				run p4 $r nop-threads1 nop --depth 64 --seconds "$secs" --threads 1 --pin
				run p4 $r nop-threads2 nop --depth 64 --seconds "$secs" --threads 2 --pin
			fi
			r=$((r + 1))
		done
		unload "after P1 and P4"
	fi
fi

# p2_pair ROUND SUFFIX DPC_CPU - cancels with 10 in flight, then with
# 100,000, kcancel-bench on CPU 0 and the software device's DPC on DPC_CPU.
p2_pair() {
	thread_to kcancel-sim "$3" || return 1
	cpu=0
	run p2 "$1" "inflight10$2" cancel -d /dev/kcancel1 --inflight 10 --samples "$samples"
	run p2 "$1" "inflight100000$2" cancel -d /dev/kcancel1 --inflight 100000 --samples "$samples"
	cpu=
}

if figure p2 || figure p5; then
	# A minute an operation: everything submitted stays in flight.
	if load sim_devices=1 sim_latency_us=60000000 sim_jitter_us=0 max_pending=100100; then
		r=1
		while [ $r -le "$rounds" ]; do
			# A cancel's abort wakes the device's DPC thread: on the
			# canceller's CPU it runs before the ioctl returns, on the
			# other it runs beside the canceller.
			figure p2 && p2_pair $r "" 0 && p2_pair $r -other-cpu 1
			figure p5 && run p5 $r memory memory -d /dev/kcancel1 --inflight 10000
			r=$((r + 1))
		done
		unload "after P2 and P5"
	fi
fi

# p3_pair ROUND SUFFIX IRQ_CPU - kcancel's doorbells, then kcfloor's, with
# kcancel-bench on CPU 0 and the edu interrupt on IRQ_CPU.
p3_pair() {
	if load; then
		if irq_to kcancel "$3"; then
			run p3 "$1" "kcancel$2" doorbell -d /dev/kcancel0 --seconds "$secs"
			# The same path with the DPC always in the IRQ thread.
			echo N >/sys/module/kcancel/parameters/waiter_dpc &&
				run p3 "$1" "kcancel-thread$2" doorbell \
					-d /dev/kcancel0 --seconds "$secs"
		fi
		unload "after the P3 round"
	fi
	if insmod /modules/kcfloor.ko; then
		wait_node /dev/kcfloor || fail "no /dev/kcfloor after insmod kcfloor.ko"
		irq_to kcfloor "$3" && run p3 "$1" "floor$2" floor --seconds "$secs"
		rmmod kcfloor || fail "rmmod kcfloor"
	else
		fail "insmod kcfloor.ko"
	fi
}

# Where the interrupt lands against the waiter decides whether the floor's
# waiter sleeps at all: each placement is a figure of its own.
if figure p3; then
	r=1
	cpu=0
	while [ $r -le "$rounds" ]; do
		p3_pair $r "" 1
		p3_pair $r -same-cpu 0
		r=$((r + 1))
	done
	cpu=
fi
say "bench end at $(now) s"
say "done"
