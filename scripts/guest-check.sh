#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The kcancel tests run inside a guest (busybox sh, as /guest.sh of the
# initramfs), on the debug kernel and on Debian's stock kernels alike. Each
# step loads kcancel.ko with the parameters it needs, runs its tool from
# /modules on every /dev/kcancelN, and unloads the module (which removes the
# devices, with whatever is still in flight):
#
#   stress    kcancel-stress on the edu device (MSI) and a software device,
#             on the software device through KCANCEL_IOC_BATCH (--batch),
#             through io_uring on both (--io-uring; on edu also ending
#             with its rings closed under it, --ring-teardown; skipped
#             where the module has no io_uring commands), then on the edu
#             device on its INTx line, then on a software device of no
#             latency through each submit path ("-now" runs)
#   selftest  kcancel-selftest, with MSI and then with INTx; the software
#             device is slow and serial there, so cancels can be aimed
#   fuzz      kcancel-fuzz on the edu device and on a software device
#   trace     kcancel's tracepoints enabled around a short stress run on the
#             edu device: every event kind shows up, each submitted request
#             has exactly one completion, and no event was lost; the
#             device's debugfs counters must agree with the trace
#   kunit     kcancel_test.ko, whose KUnit suites print KTAP as they load
#
# Parameters come from the kernel command line, which the kernel hands to
# init as environment variables: kcancel_steps (a comma list, default all
# five), kcancel_stress_seconds (per stress run, default 20),
# kcancel_fuzz_calls (in all, default 200000), kcancel_selftest_args
# (options of kcancel-selftest, commas for spaces: -v,sim), kcancel_kunit_args
# (module parameters of kcancel_test.ko, commas for spaces, e.g.
# race_requests=20000,dev_race_requests=500) and
# kcancel_kmemleak=1 (the kernel has kmemleak: report what it finds once the
# modules are gone).
#
# Each tool's outcome is one line for the host: "kcancel-stress-json NAME:",
# "kcancel-selftest-totals NAME:", "kcancel-fuzz-json NAME:" and
# "kcancel-trace-json NAME:". A step that
# fails prints "kcancel-guest: FAIL ..."; a missing tool is a failure too.
# The last line, "kcancel-guest: done", tells the host the run finished.
set -u

# shellcheck source=scripts/guest-lib.sh
. /guest-lib.sh

steps=",${kcancel_steps:-stress,selftest,fuzz,trace,kunit},"
seconds=${kcancel_stress_seconds:-20}
fuzz_calls=${kcancel_fuzz_calls:-200000}
kmemleak=/sys/kernel/debug/kmemleak
say "start at $(now) s, kernel $(uname -r), steps ${steps#,}"

if [ "${kcancel_kmemleak:-0}" = 1 ]; then
	# Scan only when asked; what boot leaked is reported now and forgotten.
	if [ -w "$kmemleak" ]; then
		echo scan=off >"$kmemleak" && echo scan >"$kmemleak" &&
			echo clear >"$kmemleak" || fail "kmemleak does not answer"
		say "kmemleak cleared at $(now) s"
	else
		fail "no $kmemleak (CONFIG_DEBUG_KMEMLEAK, debugfs)"
	fi
fi

# step NAME - is NAME one of the steps asked for?
step() { case $steps in *",$1,"*) return 0 ;; esac; return 1; }

# tool NAME - is /modules/NAME there? A step without its tool fails.
tool() {
	[ -x "/modules/$1" ] && return 0
	fail "no /modules/$1"
	return 1
}

# stress DEV [SUFFIX [ARGS...]] - kcancel-stress on DEV, with ARGS; its JSON
# line for the host.
stress() {
	dev=$1
	name=$(backend "$dev")${2:-}
	shift $(($# < 2 ? $# : 2))
	say "stress $dev ($name) for $seconds s at $(now) s"
	/modules/kcancel-stress -d "$dev" -s "$seconds" --progress-ms 5000 "$@" >/tmp/stress.out
	rc=$?
	cat /tmp/stress.out
	echo "kcancel-stress-json $name: $(tail -n 1 /tmp/stress.out)"
	[ "$rc" -eq 0 ] || fail "kcancel-stress on $dev exited with $rc"
}

# stress_uring DEV SUFFIX ARGS... - as stress(); kcancel-stress exits 4
# when the module or the kernel has no io_uring commands (6.1): a skip.
stress_uring() {
	dev=$1
	name=$(backend "$dev")$2
	shift 2
	say "stress $dev ($name) for $seconds s at $(now) s"
	/modules/kcancel-stress -d "$dev" -s "$seconds" --progress-ms 5000 "$@" >/tmp/stress.out
	rc=$?
	if [ "$rc" -eq 4 ]; then
		say "SKIP: kcancel-stress $*: no io_uring commands in this module or kernel"
		return 0
	fi
	cat /tmp/stress.out
	echo "kcancel-stress-json $name: $(tail -n 1 /tmp/stress.out)"
	[ "$rc" -eq 0 ] || fail "kcancel-stress on $dev $* exited with $rc"
}

# selftest NAME - kcancel-selftest on every device; its totals for the host.
selftest() {
	say "selftest ($1) at $(now) s"
	# shellcheck disable=SC2046 # a list of options
	/modules/kcancel-selftest $(echo "${kcancel_selftest_args:-}" | tr ',' ' ') \
		>/tmp/selftest.out 2>&1
	rc=$?
	cat /tmp/selftest.out
	echo "kcancel-selftest-totals $1: rc $rc $(grep '^# Totals:' /tmp/selftest.out | tail -n 1)"
	[ "$rc" -eq 0 ] || fail "kcancel-selftest ($1) exited with $rc"
}

# fuzz DEV CALLS - kcancel-fuzz on DEV; its JSON line for the host.
fuzz() {
	name=$(backend "$1")
	say "fuzz $1 ($name), $2 calls, at $(now) s"
	/modules/kcancel-fuzz -d "$1" -n "$2" -P 2 >/tmp/fuzz.out
	rc=$?
	tail -n 40 /tmp/fuzz.out
	echo "kcancel-fuzz-json $name: $(tail -n 1 /tmp/fuzz.out)"
	[ "$rc" -eq 0 ] || fail "kcancel-fuzz on $1 exited with $rc"
}

if step stress && tool kcancel-stress; then
	if load sim_devices=1; then
		for d in /dev/kcancel*; do
			[ -c "$d" ] && stress "$d"
		done
		# KCANCEL_IOC_BATCH: submit and reap 16 at a time.
		stress /dev/kcancel1 -batch --batch 16
		# io_uring: KCANCEL_URING_CMD_SUBMIT, cancels by user_data.
		stress_uring /dev/kcancel0 -uring --io-uring
		stress_uring /dev/kcancel1 -uring --io-uring
		stress_uring /dev/kcancel0 -teardown --ring-teardown
		unload "after the stress runs"
	fi
	if load intx=1; then
		stress /dev/kcancel0 -intx
		unload "after the INTx stress run"
	fi
	# A software device of no latency: each request ends inside its
	# submit, in the submitter's thread (kc_dev_end_now()), so no cancel
	# can win; each must still end once, through every submit path.
	if load sim_devices=1 sim_latency_us=0 sim_jitter_us=0; then
		stress /dev/kcancel1 -now
		stress /dev/kcancel1 -now-batch --batch 16
		stress_uring /dev/kcancel1 -now-uring --io-uring
		unload "after the stress runs of no latency"
	fi
fi

if step selftest && tool kcancel-selftest; then
	slow="sim_devices=1 sim_latency_us=50000 sim_jitter_us=0 sim_parallel=1"
	# shellcheck disable=SC2086 # slow is a list of words
	if load $slow; then
		selftest msi
		unload "after the selftests"
	fi
	# shellcheck disable=SC2086
	if load intx=1 $slow; then
		selftest intx
		unload "after the INTx selftests"
	fi
fi

if step fuzz && tool kcancel-fuzz; then
	if load sim_devices=1; then
		for dev in /dev/kcancel*; do
			[ -c "$dev" ] && fuzz "$dev" $((fuzz_calls / 2))
		done
		unload "after the fuzz runs"
	fi
fi

# trace DEV - kcancel's events around a short stress run on DEV: a summary
# of the trace for the host (scripts/guest-results.sh checks it).
trace() {
	t=/sys/kernel/tracing
	[ -d $t/events ] || mount -t tracefs nodev $t 2>/dev/null
	if [ ! -d $t/events/kcancel ]; then
		fail "no $t/events/kcancel (CONFIG_EVENT_TRACING, tracefs)"
		return
	fi
	name=$(backend "$1")
	say "trace $1 ($name) at $(now) s"
	echo 0 >$t/tracing_on
	echo >$t/trace
	echo 16384 >$t/buffer_size_kb
	echo 1 >$t/events/kcancel/enable
	echo 1 >$t/tracing_on
	/modules/kcancel-stress -d "$1" -s 3 -t 2 -T 10 >/tmp/stress.out ||
		fail "kcancel-stress on $1 exited with $? under tracing"
	echo 0 >$t/tracing_on
	echo 0 >$t/events/kcancel/enable
	overrun=$(cat $t/per_cpu/cpu*/stats | awk '/^overrun:/ { n += $2 } END { print n + 0 }')
	# The device's own counters, to hold against the trace.
	counters=$(awk '
		/^in_flight / { f = $2 }
		/^in_flight_max / { m = $2 }
		NF == 17 {
			for (i = 2; i <= 12; i += 2)
				done += $(i + 1)
			won += $15
			lost += $17
		}
		END { printf "%d %d %d %d %d", done, won, lost, f, m }
	' "/sys/kernel/debug/kcancel/${1#/dev/}/stats")
	# One line per event: "task-pid [cpu] flags time: EVENT: fields".
	echo "kcancel-trace-json $name: $(awk -v overrun="$overrun" -v counters="$counters" '
	{
		ev = ""; id = ""
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^kcancel_[a-z_]+:$/ && ev == "")
				ev = substr($i, 9, length($i) - 9)
			else if ($i ~ /^id=/ && id == "")
				id = substr($i, 4)
		}
		if (ev == "")
			next
		n[ev]++
		if (ev == "submit")
			sub_n[id]++
		if (ev == "complete") {
			done_n[id]++
			if ($0 ~ /winner=cancel/)
				won++
			else if ($0 ~ /winner=completion/)
				lost++
		}
	}
	END {
		for (id in sub_n) {
			ids++
			if (done_n[id] != 1 || sub_n[id] != 1)
				bad++
		}
		for (id in done_n)
			if (!(id in sub_n))
				bad++
		split(counters, c, " ")
		printf "{\"ids\":%d,\"unmatched\":%d,\"overrun\":%d,", ids, bad, overrun
		printf "\"stats\":{\"completed\":%d,\"cancel_won\":%d,", c[1], c[2]
		printf "\"completion_won\":%d,\"in_flight\":%d,", c[3], c[4]
		printf "\"in_flight_max\":%d},", c[5]
		printf "\"cancel_won\":%d,\"completion_won\":%d,\"events\":{", won, lost
		sep = ""
		for (e in n) {
			printf "%s\"%s\":%d", sep, e, n[e]
			sep = ","
		}
		print "}}"
	}' $t/trace)"
	echo >$t/trace
	echo 1408 >$t/buffer_size_kb
}

if step trace && tool kcancel-stress; then
	if load; then
		trace /dev/kcancel0
		unload "after the trace run"
	fi
fi

if step kunit; then
	if [ ! -f /modules/kcancel_test.ko ]; then
		fail "no /modules/kcancel_test.ko"
	elif insmod /modules/kcancel.ko; then
		say "KUnit start at $(now) s"
		# insmod waits, uninterruptibly, while the suites run, and a
		# 100k-request race case takes 30-60 s under TCG (minutes on
		# a loaded host): the hung-task detector would report insmod
		# itself. KUnit's own limit, 300 s a case, still holds.
		hung=/proc/sys/kernel/hung_task_timeout_secs
		was=$(cat $hung 2>/dev/null)
		[ -z "$was" ] || echo 900 >$hung
		# shellcheck disable=SC2046 # a list of module parameters
		insmod /modules/kcancel_test.ko $(echo "${kcancel_kunit_args:-}" | tr ',' ' ') ||
			fail "insmod kcancel_test.ko"
		[ -z "$was" ] || echo "$was" >$hung
		say "KUnit end at $(now) s"
		rmmod kcancel_test || fail "rmmod kcancel_test"
		unload "after KUnit"
	else
		fail "insmod kcancel.ko"
	fi
fi
grep kcancel /proc/modules && fail "a kcancel module is still loaded"

if [ "${kcancel_kmemleak:-0}" = 1 ] && [ -w "$kmemleak" ]; then
	# kmemleak reports only objects older than 5 s.
	sleep 6
	say "kmemleak scan at $(now) s"
	echo scan >"$kmemleak" && echo scan >"$kmemleak" ||
		fail "kmemleak scan"
	say "kmemleak report at $(now) s:"
	cat "$kmemleak"
fi
say "done"
