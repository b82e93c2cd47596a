#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make profile` inside the guest (busybox sh, /guest.sh of the initramfs made
# by scripts/profile.sh), on Debian's stock kernel: where the time of one
# request goes. Each workload's kcancel-bench runs twice in the background:
# first while Debian's perf (/usr/bin/perf, from the host's linux-perf)
# samples both vCPUs with cpu-clock (TCG has no PMU) and call chains for a
# few seconds, then while hist triggers count context switches, wake-ups,
# IPIs, idle entries and kcancel's events, and ftrace records kcancel's
# tracepoints and the interrupt handlers' entries and exits, over a window
# as long (the counting run; without perf in the guest, the fallback, it is
# all there is). Kernel symbols, kcancel.ko's too, come from /proc/kallsyms.
#
#   batch      kcancel-bench batch -d /dev/kcancel1 --depth 64 (the
#              zero-latency software device: sim_devices=1 sim_latency_us=0)
#   batch2     the same with --threads 2, each thread on its own file (P4 of
#              `make bench`: what two submitters on one device share)
#   uring      kcancel-bench uring -d /dev/kcancel1 --depth 64 (the same, via
#              KCANCEL_URING_CMD_SUBMIT)
#   nop        kcancel-bench nop --depth 64 (io_uring's NOP, the baseline)
#   batch1     batch at depth 1: one request a call, what a call costs
#   nop1       nop at depth 1, batch1's baseline
#   doorbell   kcancel-bench doorbell -d /dev/kcancel0 (edu doorbells through
#              kcancel, P3 of `make bench`)
#   floor      kcancel-bench floor (the same doorbells through kcfloor.ko)
# The two doorbell workloads are placed as `p3_ratio` is: kcancel-bench on
# CPU 0, the edu interrupt on CPU 1.
#
# Every line for the host starts with "kcancel-profile-KIND WORKLOAD: ":
# json and cjson (kcancel-bench's line, of the perf run and of the counting
# run), flat (`perf report --stdio --no-children --sort sym -g none`), graph
# (the same with call chains, entries of 1% and more), stat (the counting
# run: "EVENT HITS" lines, "# EVENT" lines of the busiest tasks, "% KEY
# VALUE" lines of the trace's summary). Parameters from the kernel command
# line: kcancel_profile_seconds (the perf record window, and the counting
# window; default 3), kcancel_profile_extra_seconds (how much longer than
# the window kcancel-bench runs: perf starts slowly under TCG; default 12, the
# first second before the window), kcancel_profile_counts (1, the default:
# the counting run; 0: none), kcancel_profile_freq (samples a second a vCPU,
# default 1000), kcancel_profile_workloads (a comma list, default
# batch,batch2,uring,nop,doorbell,floor; batch1 and nop1 only if named). The
# last line, "kcancel-guest: done", tells the host the run finished.
set -u

# shellcheck source=scripts/guest-lib.sh
. /guest-lib.sh

secs=${kcancel_profile_seconds:-3}
extra=${kcancel_profile_extra_seconds:-12}
use_counts=${kcancel_profile_counts:-1}
freq=${kcancel_profile_freq:-1000}
workloads=",${kcancel_profile_workloads:-batch,batch2,uring,nop,doorbell,floor},"
bench=/modules/kcancel-bench
perf=/usr/bin/perf
export HOME=/tmp PAGER=cat
say "profile start at $(now) s, kernel $(uname -r), $secs s a window"

echo 0 >/proc/sys/kernel/kptr_restrict
echo -1 >/proc/sys/kernel/perf_event_paranoid
[ -d /sys/kernel/tracing/events ] || mount -t tracefs tracefs /sys/kernel/tracing
tracing=/sys/kernel/tracing
have_hist=0
[ -f $tracing/events/sched/sched_switch/hist ] && have_hist=1

use_perf=0
if [ -x $perf ] && $perf --version >/tmp/perf.version 2>&1; then
	say "perf: $(cat /tmp/perf.version)"
	use_perf=1
else
	say "perf does not run in the guest ($(tail -n 1 /tmp/perf.version 2>/dev/null)): the ftrace fallback"
fi
# Without perf, the counts and the trace are the profile.
[ $use_perf = 1 ] || use_counts=1

wanted() { case $workloads in *",$1,"*) return 0 ;; esac; return 1; }

# emit KIND NAME FILE - FILE's lines for the host.
emit() { sed "s/^/kcancel-profile-$1 $2: /" "$3"; }

# The events counted, through hist triggers (CONFIG_HIST_TRIGGERS): armed,
# paused, before kcancel-bench starts and removed after it ends, so that
# code is patched (static keys and calls, with int3 under TCG) only while
# the guest is quiet; enabling a tracepoint under load, as `perf stat -e
# TRACEPOINT` does, crashed the guest under TCG (an int3 Oops in
# __hrtimer_run_queues during text_poke_bp). power:cpu_idle fires on going
# idle and on leaving it: half its hits are wake-ups of a halted vCPU.
counted="sched/sched_switch sched/sched_wakeup sched/sched_waking
	irq_vectors/call_function_single_entry irq_vectors/reschedule_entry
	irq/irq_handler_entry power/cpu_idle io_uring/io_uring_complete
	io_uring/io_uring_task_work_run kcancel/kcancel_submit kcancel/kcancel_send
	kcancel/kcancel_irq kcancel/kcancel_dpc kcancel/kcancel_complete"
hist=hist:keys=common_pid.execname

# counts VERB - pause, continue or remove (!) the triggers; arm them first.
counts() {
	[ $have_hist = 1 ] || return 0
	for e in $counted; do
		t=$tracing/events/$e/trigger
		[ -f "$t" ] || continue
		case $1 in
		arm) echo "$hist:pause" >"$t" 2>/dev/null || say "no hist trigger on $e" ;;
		remove) echo "!$hist" >>"$t" 2>/dev/null ;;
		*) echo "$hist:$1" >>"$t" 2>/dev/null ;;
		esac
	done
}

# count_report - EVENT HITS a line, then the busiest tasks of each.
count_report() {
	[ $have_hist = 1 ] || return 0
	for e in $counted; do
		h=$tracing/events/$e/hist
		[ -f "$h" ] || continue
		echo "${e#*/} $(sed -n 's/^ *Hits: *//p' "$h" | tail -n 1)"
	done
	for e in $counted; do
		h=$tracing/events/$e/hist
		[ -f "$h" ] || continue
		grep '^{' "$h" | sed "s/^/# ${e#*/} /" | sort -t: -k3 -rn 2>/dev/null | head -n 8
	done
}

# The events traced in the counting run (enabled while the guest is quiet,
# recorded only during the window): per request the time from submit to
# send and from send to complete, the hop from kcancel_irq to the next
# completion (through the DPC), and
# the time spent in the timer, IPI and device interrupt handlers, which
# cpu-clock under-samples (its samples come from the timer interrupt too).
traced="kcancel/kcancel_submit kcancel/kcancel_send kcancel/kcancel_irq
	kcancel/kcancel_dpc kcancel/kcancel_complete
	irq_vectors/local_timer_entry irq_vectors/local_timer_exit
	irq_vectors/call_function_single_entry irq_vectors/call_function_single_exit
	irq/irq_handler_entry irq/irq_handler_exit"

# trace_events 0|1 - enable or disable the traced events, the buffer off.
trace_events() {
	echo 0 >$tracing/tracing_on
	echo 8192 >$tracing/buffer_size_kb
	for e in $traced; do
		[ -f "$tracing/events/$e/enable" ] && echo "$1" >"$tracing/events/$e/enable"
	done
	echo >$tracing/trace
}

# trace_summary - from the trace buffer, "% KEY VALUE" lines: the span, the
# requests completed, mean microseconds from submit to send and from send
# to complete (by id), from the first kcancel_irq after a completion to the
# next completion (the hop from the interrupt to the DPC), and the time in each kind of interrupt handler (entry to exit on
# one CPU), in total and a request.
trace_summary() {
	grep -v '^#' $tracing/trace >/tmp/trace.txt
	# Twice: first each CPU's first event, then from the latest of those on
	# (a CPU whose buffer filled lost its oldest events).
	awk '
	NR == FNR {
		for (i = 1; i <= NF; i++) if ($i ~ /^\[[0-9]+\]$/) c = $i
		for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) break
		if (i <= NF && !(c in cpu0)) {
			cpu0[c] = substr($i, 1, length($i) - 1) * 1e6
			if (cpu0[c] > start) start = cpu0[c]
		}
		next
	}
	{
		ts = ""; ev = ""; cpu = ""
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^\[[0-9]+\]$/) cpu = $i
			else if (ts == "" && $i ~ /^[0-9]+\.[0-9]+:$/) { ts = substr($i, 1, length($i) - 1) * 1e6; ev = $(i + 1); sub(/:$/, "", ev) }
		}
		if (ts == "" || ts < start) next
		if (first == "") first = ts
		last = ts
		id = ""
		if (match($0, / id=[0-9]+/)) id = substr($0, RSTART + 4, RLENGTH - 4)
		if (ev == "kcancel_submit") sub_ts[id] = ts
		else if (ev == "kcancel_send") {
			send_ts[id] = ts
			if (id in sub_ts) { ss += ts - sub_ts[id]; nss++ }
		} else if (ev == "kcancel_complete") {
			ncomp++
			if (id in send_ts) { sc += ts - send_ts[id]; nsc++; delete send_ts[id] }
			delete sub_ts[id]
			if (irq0 != "") { id_ += ts - irq0; nid++ }
			irq0 = ""
		} else if (ev == "kcancel_irq") {
			if (irq0 == "") irq0 = ts
		} else if (ev == "kcancel_dpc") {
			ndpc++
		} else if (ev ~ /_entry$/) {
			k = ev; sub(/_entry$/, "", k); open[cpu, k] = ts
		} else if (ev ~ /_exit$/) {
			k = ev; sub(/_exit$/, "", k)
			if ((cpu, k) in open) { busy[k] += ts - open[cpu, k]; n[k]++; delete open[cpu, k] }
		}
	}
	END {
		req = ncomp
		printf "%% span_us %.0f\n", last - first
		printf "%% requests_completed %d\n", ncomp
		if (nss) printf "%% submit_to_send_us_mean %.1f (%d)\n", ss / nss, nss
		if (nsc) printf "%% send_to_complete_us_mean %.1f (%d)\n", sc / nsc, nsc
		if (nid) printf "%% irq_to_next_complete_us_mean %.1f (%d)\n", id_ / nid, nid
		if (ndpc && req) printf "%% requests_per_dpc %.1f\n", req / ndpc
		for (k in busy) {
			printf "%% %s_us_total %.0f (%d, mean %.1f us)\n", k, busy[k], n[k], busy[k] / n[k]
			if (req) printf "%% %s_us_per_request %.2f\n", k, busy[k] / req
		}
	}' /tmp/trace.txt /tmp/trace.txt
}

# count_run NAME ARGS... - kcancel-bench ARGS again, with the counts and the
# trace over one window of it; the summary for the host.
count_run() {
	name=$1
	shift
	counts arm
	trace_events 1
	tb=$(now)
	$on_cpu "$bench" "$@" --seconds $((secs + extra)) >/tmp/"$name".cjson 2>/tmp/"$name".err &
	pid=$!
	sleep 1
	t0=$(now)
	counts continue
	echo 1 >$tracing/tracing_on
	sleep 1
	echo 0 >$tracing/tracing_on
	[ "$secs" -le 1 ] || sleep $((secs - 1))
	counts pause
	say "$name: counts from $t0 s to $(now) s"
	wait $pid
	st=$?
	say "$name: kcancel-bench (counts) from $tb s to $(now) s"
	[ $st -eq 0 ] || { cat /tmp/"$name".err; fail "$name: kcancel-bench $* exited with $st"; }
	{ count_report; trace_summary; } >/tmp/"$name".stat
	counts remove
	trace_events 0
	emit stat "$name" /tmp/"$name".stat
	emit cjson "$name" /tmp/"$name".cjson
}

# With $on_cpu set ("taskset -c N"), kcancel-bench runs under it.
on_cpu=
# profile NAME ARGS... - kcancel-bench ARGS in the background with perf
# record over it, then again with the counts; everything for the host.
profile() {
	name=$1
	shift
	tb=$(now)
	$on_cpu "$bench" "$@" --seconds $((secs + extra)) >/tmp/"$name".json 2>/tmp/"$name".err &
	pid=$!
	sleep 1
	if [ $use_perf = 1 ]; then
		t0=$(now)
		if ! $perf record -a -g -e cpu-clock -F "$freq" -N -B -q \
			-o /tmp/"$name".data -- sleep "$secs" >/tmp/"$name".rec 2>&1; then
			cat /tmp/"$name".rec
			fail "$name: perf record"
		fi
		say "$name: perf record from $t0 s to $(now) s"
	else
		say "$name: no perf, the counts and the trace only"
	fi
	wait $pid
	st=$?
	say "$name: kcancel-bench from $tb s to $(now) s"
	if [ $st -ne 0 ]; then
		cat /tmp/"$name".err
		fail "$name: kcancel-bench $* exited with $st"
	fi
	emit json "$name" /tmp/"$name".json
	if [ $use_perf = 1 ]; then
		$perf report -i /tmp/"$name".data --stdio --no-children --sort sym \
			-g none --percent-limit 0 >/tmp/"$name".flat 2>/tmp/"$name".rep ||
			{ cat /tmp/"$name".rep; fail "$name: perf report"; }
		emit flat "$name" /tmp/"$name".flat
		$perf report -i /tmp/"$name".data --stdio --no-children --sort sym \
			--percent-limit 1 >/tmp/"$name".graph 2>/dev/null ||
			fail "$name: perf report -g"
		emit graph "$name" /tmp/"$name".graph
		rm -f /tmp/"$name".data /tmp/"$name".flat /tmp/"$name".graph
	fi
	[ "$use_counts" = 1 ] && count_run "$name" "$@"
	say "$name: profiled at $(now) s"
}

if wanted batch || wanted batch2 || wanted uring || wanted nop ||
	wanted batch1 || wanted nop1; then
	if load sim_devices=1 sim_latency_us=0 sim_jitter_us=0; then
		wanted batch && profile batch batch -d /dev/kcancel1 --depth 64
		wanted batch2 && profile batch2 batch -d /dev/kcancel1 --depth 64 --threads 2
		wanted uring && profile uring uring -d /dev/kcancel1 --depth 64
		wanted nop && profile nop nop --depth 64
		wanted batch1 && profile batch1 batch -d /dev/kcancel1 --depth 1
		wanted nop1 && profile nop1 nop --depth 1
		unload "after the software device"
	fi
fi
if wanted doorbell && load; then
	on_cpu="taskset -c 0"
	irq_to kcancel 1 && profile doorbell doorbell -d /dev/kcancel0
	on_cpu=
	unload "after the doorbells"
fi
if wanted floor; then
	if insmod /modules/kcfloor.ko; then
		wait_node /dev/kcfloor || fail "no /dev/kcfloor after insmod kcfloor.ko"
		on_cpu="taskset -c 0"
		irq_to kcfloor 1 && profile floor floor
		on_cpu=
		rmmod kcfloor || fail "rmmod kcfloor"
	else
		fail "insmod kcfloor.ko"
	fi
fi
say "profile end at $(now) s"
say "done"
