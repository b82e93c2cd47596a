#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# kcancel's fault scenarios, inside a test guest (busybox sh, as /guest.sh of
# the initramfs, on the debug kernel). Each scenario loads kcancel.ko, runs
# its faults against /modules/kcancel-stress (and kcancel-fuzz), unloads the
# module, which must succeed, and, with kcancel_kmemleak=1, has kmemleak
# scan: any leak fails it.
#
#   removal   removal-edu: the edu device removed through sysfs
#             (/sys/bus/pci/devices/ADDR/remove) while kcancel-stress
#             --removal runs on it with every operation in the mix; the run
#             must end by itself with nothing lost, doubled or wrong; a PCI
#             rescan brings the device back and a short run passes on it.
#             removal-sim: the same for a software device, removed through
#             debugfs (kcancel/kcancelN/remove) and replaced (kcancel/new_sim)
#   hotplug   hotplug-edu: the same with QEMU's device_del and device_add,
#             which the host's agent (scripts/qemu-agent.py) sends when this
#             script prints "kcancel-qemu: SEQ device_del edu0"; the edu
#             device on its INTx line
#   unload    rmmod refused while a file of the device is open, and while a
#             stress run is on; then insmod, a short run on each device and
#             rmmod, again and again
#   kill      SIGKILL at random moments to kcancel-stress runs (with
#             --sync-pct: threads blocked in KCANCEL_IOC_SUBMIT_WAIT), to
#             runs on a device that another run shares (which must pass),
#             and to kcancel-fuzz with the processes it forked, which share
#             its files; each must be gone within 30 s; then a run must pass
#             on each device and the module must unload
#   failslab  failslab and fail_page_alloc on for the tasks that ask
#             (task-filter), kcancel-stress --fail-alloc on each device: it
#             must see ENOMEM and still pass
#   hostile   spurious status bits (debugfs kcancel/kcancelN/raise) stormed
#             at a device while kcancel-stress runs doorbells only; it must
#             pass and the device's stats must count spurious_bits
#   race      kcancel-stress runs of a number of requests at once, on the
#             edu device and on three software devices, one submitting with
#             KCANCEL_IOC_SUBMIT, one with KCANCEL_IOC_BATCH, one through
#             io_uring (the soak's racing operations; not a default step)
#   mmio      what the edu device's registers read, and whether writes
#             land, once its memory decoding is off, with no driver bound
#             (QEMU 7.2: reads 0, writes dropped; not a default step)
#
# Parameters come from the kernel command line, which the kernel hands to
# init as environment variables:
#   kcancel_fault_steps     a comma list of the steps above (default all but
#                           race and mmio)
#   kcancel_fault_removals  removals of the edu device (default 3)
#   kcancel_fault_sim_removals
#                           removals of a software device (default:
#                           kcancel_fault_removals)
#   kcancel_fault_hotplugs  device_del/device_add cycles (default 3)
#   kcancel_fault_unloads   insmod/rmmod cycles (default 3)
#   kcancel_fault_kills     processes to kill, in all (default 15)
#   kcancel_fault_kill_burst
#                           stress runs killed in one round, or children
#                           of kcancel-fuzz (at least 2) (default 1)
#   kcancel_fault_seconds   each failslab and hostile stress run (default 5)
#   kcancel_fault_requests  requests of each race run on a software
#                           device (default 100000)
#   kcancel_fault_edu_requests
#                           requests of the race run on the edu device
#                           (default: kcancel_fault_requests; 0: none)
#   kcancel_fault_threads   threads of every kcancel-stress run (default 4)
#   kcancel_kmemleak=1      the kernel has kmemleak: scan after each scenario
#   kcancel_qemu_agent=1    set by scripts/qemu.sh when its agent runs
#
# Lines for the host (scripts/fault-results.sh):
#   kcancel-fault-begin NAME           a scenario starts (for the kernel's
#   kcancel-fault-end NAME             reports to be put down to it)
#   kcancel-fault-json NAME KIND RUN: {...}
#                                      the JSON line of each stress run of
#                                      the scenario NAME; KIND: plain,
#                                      removal (the device went during the
#                                      run) or enomem (allocations failed)
#   kcancel-fault NAME: PASS|FAIL k=v ... [- problem; problem]
# with NAME starting with its step's word (removal-edu, kill, ...) and k=v
# the counts of what was done (removals=3 runs=7 ops=12345 kills=15 secs=41
# ...; kills counts every process killed). The last line, "kcancel-guest:
# done", tells the host the run finished.

# busybox's ash has $RANDOM.
# shellcheck disable=SC3028
set -u

say() { echo "kcancel-guest: $*"; }
now() { cut -d' ' -f1 /proc/uptime; }

steps=",${kcancel_fault_steps:-removal,hotplug,unload,kill,failslab,hostile},"
removals=${kcancel_fault_removals:-3}
sim_removals=${kcancel_fault_sim_removals:-$removals}
hotplugs=${kcancel_fault_hotplugs:-3}
unloads=${kcancel_fault_unloads:-3}
kills=${kcancel_fault_kills:-15}
burst=${kcancel_fault_kill_burst:-1}
seconds=${kcancel_fault_seconds:-5}
requests=${kcancel_fault_requests:-100000}
edu_requests=${kcancel_fault_edu_requests:-$requests}
threads=${kcancel_fault_threads:-4}
kmemleak=/sys/kernel/debug/kmemleak
dbg=/sys/kernel/debug/kcancel
stress_bin=/modules/kcancel-stress
fuzz_bin=/modules/kcancel-fuzz
say "faults start at $(now) s, kernel $(uname -r), steps ${steps#,}"

step() { case $steps in *",$1,"*) return 0 ;; esac; return 1; }

# --- A scenario's bookkeeping -------------------------------------------
# begin NAME; then problem TEXT for each failure and count KEY N for each
# figure; finish prints the result line.
scenario='' problems='' counts='' t_begin=0
begin() {
	scenario=$1 problems='' counts='' t_begin=$(now)
	echo "kcancel-fault-begin $scenario at $t_begin s"
}
problem() {
	say "$scenario: FAIL: $*"
	problems="${problems:+$problems; }$*"
}
# count KEY N - add N to the figure KEY.
count() {
	old=$(echo " $counts " | sed -n "s/.* $1=\([0-9]*\) .*/\1/p")
	if [ -n "$old" ]; then
		counts=$(echo " $counts " | sed "s/ $1=[0-9]* / $1=$((old + $2)) /; s/^ //; s/ $//")
	else
		counts="${counts:+$counts }$1=$2"
	fi
}
finish() {
	t=$(now)
	secs=$(awk -v a="$t_begin" -v b="$t" 'BEGIN { printf "%d", b - a + 0.5 }')
	echo "kcancel-fault-end $scenario at $t s"
	if [ -z "$problems" ]; then
		echo "kcancel-fault $scenario: PASS ${counts:+$counts }secs=$secs"
	else
		echo "kcancel-fault $scenario: FAIL ${counts:+$counts }secs=$secs - $problems"
	fi
	scenario=''
}

# --- Helpers ----------------------------------------------------------------
rand() { echo $((RANDOM % $1)); }

# alive PID - is PID running (not a zombie)?
alive() {
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed -n 's/^[^)]*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}

# await PID SECONDS - wait up to SECONDS for PID to end; its status in
# $waited; false (and the process left running) if it did not end.
await() {
	n=0
	while alive "$1"; do
		if [ "$n" -ge $(($2 * 10)) ]; then
			return 1
		fi
		sleep 0.1
		n=$((n + 1))
	done
	wait "$1"
	waited=$?
	return 0
}

# stuck PID - describe a process that does not end.
stuck() {
	echo "state $(sed -n 's/^State:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null | tr ' ' _) wchan $(cat "/proc/$1/wchan" 2>/dev/null)"
}

# has_option TOOL OPTION - does the tool know OPTION (from its --help)?
has_option() { "$1" --help 2>&1 | grep -q -e "$2"; }

# jget FILE KEY - the first value of KEY in FILE's last line (JSON).
jget() {
	tail -n 1 "$1" | awk -v k="\"$2\":" '{
		i = index($0, k)
		if (i) { s = substr($0, i + length(k)); sub(/[,}].*/, "", s); print s }
	}'
}

# json_ok NAME FILE [EXTRA] - report a stress run's JSON line for the host
# and check it: submitted some, nothing lost, doubled, wrong or failed.
# EXTRA: removal (the run saw the device go), enomem (it saw ENOMEM).
json_ok() {
	last=$(tail -n 1 "$2" 2>/dev/null)
	echo "kcancel-fault-json $scenario ${3:-plain} $1: $last"
	count runs 1
	case $last in
	"{"*"}") ;;
	*)	problem "$1: no JSON line from kcancel-stress"
		return 1 ;;
	esac
	sub=$(jget "$2" submitted)
	count ops "${sub:-0}"
	bad=''
	for k in lost double wrong_result errors; do
		v=$(jget "$2" $k)
		[ "$v" = 0 ] || bad="$bad $k=$v"
	done
	[ "${sub:-0}" -gt 0 ] 2>/dev/null || bad="$bad submitted=${sub:-none}"
	case ${3:-} in
	removal)
		v=$(jget "$2" enodev)
		count enodev "${v:-0}"
		v=$(jget "$2" removed)
		case $v in
		true | [1-9]*) ;;
		*) bad="$bad removed=${v:-none}" ;;
		esac ;;
	enomem)
		v=$(jget "$2" enomem)
		count enomem "${v:-0}"
		[ "${v:-0}" -gt 0 ] 2>/dev/null || bad="$bad enomem=${v:-none}" ;;
	esac
	[ -z "$bad" ] && return 0
	problem "$1:$bad"
	return 1
}

# --- The module and its devices ----------------------------------------------
# load ARGS... - load kcancel.ko and wait for the edu device's node.
load() {
	if grep -q '^kcancel ' /proc/modules; then
		problem "kcancel is still loaded: the scenario before did not unload it"
		unload || return 1
	fi
	if ! insmod /modules/kcancel.ko "$@"; then
		problem "insmod kcancel.ko $*"
		return 1
	fi
	n=0
	while [ -z "$(devices edu)" ] && [ $n -lt 100 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	[ -n "$(devices edu)" ] && return 0
	problem "no edu device after insmod kcancel.ko $*"
	return 1
}

# unload - rmmod kcancel, waiting up to 30 s for its last users to go.
unload() {
	grep -q '^kcancel ' /proc/modules || return 0
	n=0
	while [ "$(cat /sys/module/kcancel/refcnt 2>/dev/null || echo 0)" != 0 ] &&
		[ $n -lt 300 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	if ! rmmod kcancel; then
		problem "rmmod kcancel failed (refcnt $(cat /sys/module/kcancel/refcnt 2>/dev/null); holders:$(holders))"
		return 1
	fi
	if grep -q '^kcancel ' /proc/modules; then
		problem "kcancel is still loaded after rmmod"
		return 1
	fi
	return 0
}

# holders - the processes that have a kcancel node open: pid, name, state
# and where they wait.
holders() {
	for f in /proc/[0-9]*/fd/*; do
		case $(readlink "$f" 2>/dev/null) in
		/dev/kcancel*)
			p=${f#/proc/}
			p=${p%%/*}
			echo "$p"
			;;
		esac
	done | sort -u | while read -r p; do
		printf ' %s %s %s' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)" "$(stuck "$p")"
	done
}

# devices BACKEND - the nodes (/dev/kcancelN) of that backend, by number.
devices() {
	for c in /sys/class/misc/kcancel*; do
		[ -e "$c/backend" ] || continue
		[ "$(cat "$c/backend" 2>/dev/null)" = "$1" ] || continue
		[ -c "/dev/${c##*/}" ] && echo "/dev/${c##*/}"
	done | sort -t l -k 2 -n
}

# edu_addr - the PCI address of QEMU's edu device, if it is there.
edu_addr() {
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor" 2>/dev/null)" = 0x1234 ] &&
			[ "$(cat "$d/device" 2>/dev/null)" = 0x11e8 ] &&
			{ echo "${d##*/}"; return 0; }
	done
	return 1
}

# wait_for SECONDS CMD... - wait until CMD succeeds; false after SECONDS.
wait_for() {
	limit=$(($1 * 10))
	shift
	n=0
	until "$@"; do
		if [ $n -ge $limit ]; then
			return 1
		fi
		sleep 0.1
		n=$((n + 1))
	done
	return 0
}
no_node() { [ ! -e "$1" ]; }
have_edu() { [ -n "$(devices edu)" ]; }
no_pci() { [ ! -e "/sys/bus/pci/devices/$1" ]; }

# stress_bg OUT ARGS... - start kcancel-stress; its pid in $spid.
stress_bg() {
	out=$1
	shift
	"$stress_bin" -t "$threads" --quiet "$@" >"$out" 2>"$out.err" &
	spid=$!
}

# stress_run NAME DEV ARGS... - a short kcancel-stress run that must pass.
stress_run() {
	name=$1 dev=$2
	shift 2
	"$stress_bin" -d "$dev" -t "$threads" --quiet "$@" >/tmp/run.out 2>/tmp/run.err
	rc=$?
	json_ok "$name" /tmp/run.out || { tail -n 5 /tmp/run.err; return 1; }
	[ "$rc" -eq 0 ] || { problem "$name: kcancel-stress exited with $rc"; return 1; }
	return 0
}

# end_stress NAME SECONDS [EXTRA] - wait for the stress run $spid writing
# $out to end by itself, then check it (EXTRA as for json_ok).
end_stress() {
	waited=0
	if ! await "$spid" "$2"; then
		problem "$1: kcancel-stress still runs $2 s after the fault ($(stuck "$spid"))"
		kill -INT "$spid" 2>/dev/null
		await "$spid" 30 || { kill -KILL "$spid" 2>/dev/null; await "$spid" 30; }
	fi
	if ! json_ok "$1" "$out" "${3:-}"; then
		tail -n 5 "$out.err"
	elif [ "$waited" -ne 0 ]; then
		tail -n 5 "$out.err"
		problem "$1: kcancel-stress exited with $waited"
	fi
}

# scan2 - two kmemleak scans, at least 5.5 s apart. An object is reported
# when a scan finds it unreferenced, 5 s old or more, and as it was at the
# scan before.
scan2() {
	t0=$(now)
	echo scan >"$kmemleak" || return 1
	sleep "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { d = 5.5 - (b - a); print (d > 0 ? d : 0) }')"
	echo scan >"$kmemleak"
}

# leaks - after a scenario: kmemleak must find nothing.
leaks() {
	[ "${kcancel_kmemleak:-0}" = 1 ] || return 0
	if [ ! -w "$kmemleak" ]; then
		problem "no $kmemleak (CONFIG_DEBUG_KMEMLEAK, debugfs)"
		return
	fi
	scan2 || problem "kmemleak scan"
	if grep -q unreferenced "$kmemleak"; then
		cat "$kmemleak"
		problem "kmemleak: $(grep -c unreferenced "$kmemleak") leak(s)"
	fi
	echo clear >"$kmemleak"
}

# end_scenario - unload, look for leaks, print the result line.
end_scenario() {
	unload
	leaks
	finish
}

# need_knob PATH - a debugfs knob the scenario needs.
need_knob() {
	[ -e "$1" ] && return 0
	problem "no $1: the module has no such knob"
	return 1
}

# tool_opts TOOL OPTION... - the options TOOL knows, in $opts; a problem for
# each one it does not know (the scenario goes on without it).
tool_opts() {
	tool=$1 opts=''
	shift
	for o in "$@"; do
		if has_option "$tool" "${o%% *}"; then
			opts="$opts $o"
		else
			problem "${tool##*/} has no ${o%% *} option"
		fi
	done
}

# --- removal -----------------------------------------------------------------
removal_edu() {
	begin removal-edu
	load || { end_scenario; return; }
	tool_opts "$stress_bin" --removal
	# shellcheck disable=SC2086 # a list of options
	set -- $opts
	i=1
	while [ $i -le "$removals" ]; do
		dev=$(devices edu | head -n 1) addr=$(edu_addr)
		if [ -z "$dev" ] || [ -z "$addr" ]; then
			problem "removal $i: no edu device"
			break
		fi
		stress_bg /tmp/rm.out -d "$dev" -s 300 "$@"
		usleep $((300000 + $(rand 1000) * 1000))
		t0=$(now)
		echo 1 >"/sys/bus/pci/devices/$addr/remove" ||
			problem "removal $i: writing $addr/remove failed"
		t1=$(now)
		wait_for 10 no_node "$dev" || problem "removal $i: $dev still there after the removal"
		end_stress "removal $i" 60 removal
		count removals 1
		say "removal $i of $addr: remove() took $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s, at $t0 s"
		echo 1 >/sys/bus/pci/rescan
		if ! wait_for 30 have_edu; then
			problem "removal $i: no edu device 30 s after the rescan"
			break
		fi
		stress_run "removal $i after rescan" "$(devices edu | head -n 1)" -s 1
		i=$((i + 1))
	done
	end_scenario
}

removal_sim() {
	begin removal-sim
	load sim_devices=1 || { end_scenario; return; }
	need_knob "$dbg/new_sim" || { end_scenario; return; }
	tool_opts "$stress_bin" --removal
	# shellcheck disable=SC2086
	set -- $opts
	i=1
	while [ $i -le "$sim_removals" ]; do
		dev=$(devices sim | tail -n 1)
		if [ -z "$dev" ]; then
			problem "removal $i: no software device"
			break
		fi
		knob=$dbg/${dev#/dev/}/remove
		need_knob "$knob" || break
		stress_bg /tmp/rm.out -d "$dev" -s 300 "$@"
		usleep $((300000 + $(rand 1000) * 1000))
		echo 1 >"$knob" || problem "removal $i: writing $knob failed"
		wait_for 30 no_node "$dev" || problem "removal $i: $dev still there 30 s after the removal"
		end_stress "removal $i" 60 removal
		count removals 1
		before=$(devices sim)
		echo 1 >"$dbg/new_sim" || problem "removal $i: writing $dbg/new_sim failed"
		new=''
		n=0
		while [ -z "$new" ] && [ $n -lt 100 ]; do
			for d in $(devices sim); do
				echo "$before" | grep -qx "$d" || new=$d
			done
			[ -n "$new" ] || sleep 0.1
			n=$((n + 1))
		done
		if [ -z "$new" ]; then
			problem "removal $i: no new software device after new_sim"
			break
		fi
		stress_run "removal $i new device" "$new" -s 1
		i=$((i + 1))
	done
	end_scenario
}

# --- hotplug -----------------------------------------------------------------
seq=0
# qemu_request SECONDS CHECK ARG COMMAND... - ask the host's agent for
# COMMAND, again every 10 s (the console may garble a line; the agent acts
# once on each number) until CHECK ARG holds; false after SECONDS.
qemu_request() {
	limit=$1 check=$2 arg=$3
	shift 3
	seq=$((seq + 1))
	t=0
	while [ $t -lt "$limit" ]; do
		echo "kcancel-qemu: $seq $*"
		wait_for 10 "$check" "$arg" && return 0
		t=$((t + 10))
	done
	return 1
}

hotplug_edu() {
	begin hotplug-edu
	if [ "${kcancel_qemu_agent:-0}" != 1 ]; then
		problem "no agent on the host to unplug the device: boot with KCANCEL_QEMU_AGENT=1 (scripts/qemu.sh)"
		finish
		return
	fi
	load intx=1 || { end_scenario; return; }
	tool_opts "$stress_bin" --removal
	# shellcheck disable=SC2086
	set -- $opts
	i=1
	while [ $i -le "$hotplugs" ]; do
		dev=$(devices edu | head -n 1) addr=$(edu_addr)
		if [ -z "$dev" ] || [ -z "$addr" ]; then
			problem "hot-unplug $i: no edu device"
			break
		fi
		stress_bg /tmp/hp.out -d "$dev" -s 300 "$@"
		usleep $((300000 + $(rand 1000) * 1000))
		t0=$(now)
		if ! qemu_request 60 no_pci "$addr" device_del edu0; then
			problem "hot-unplug $i: $addr still there 60 s after device_del"
			kill -INT "$spid" 2>/dev/null
			await "$spid" 60
			break
		fi
		t1=$(now)
		end_stress "hot-unplug $i" 60 removal
		count unplugs 1
		t2=$(now)
		if ! qemu_request 60 have_edu "" device_add edu,id=edu0; then
			problem "hot-plug $i: no edu device 60 s after device_add"
			break
		fi
		t3=$(now)
		count plugs 1
		say "hot-unplug $i at $t0 s: gone in $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s, back in $(awk -v a="$t2" -v b="$t3" 'BEGIN { print b - a }') s"
		stress_run "hot-plug $i" "$(devices edu | head -n 1)" -s 1
		i=$((i + 1))
	done
	end_scenario
}

# --- unload ------------------------------------------------------------------
unload_step() {
	begin unload
	load sim_devices=1 || { end_scenario; return; }
	dev=$(devices edu | head -n 1)
	# A process that holds the device open (a failed redirection of exec
	# would end this shell).
	sleep 600 3<>"$dev" &
	holder=$!
	sleep 0.5
	if ! alive "$holder"; then
		problem "cannot open $dev"
	elif rmmod kcancel 2>/dev/null; then
		problem "rmmod kcancel succeeded while $dev was open"
	else
		count refused 1
	fi
	kill "$holder"
	await "$holder" 10
	stress_bg /tmp/ul.out -d "$(devices sim | head -n 1)" -s 3
	sleep 1
	if rmmod kcancel 2>/dev/null; then
		problem "rmmod kcancel succeeded while kcancel-stress ran"
	else
		count refused 1
	fi
	end_stress "stress during rmmod" 30
	unload && count unloads 1
	i=1
	while [ $i -le "$unloads" ]; do
		load sim_devices=1 || break
		for d in $(devices edu) $(devices sim); do
			stress_run "cycle $i ${d#/dev/}" "$d" -n 200
		done
		unload || break
		count unloads 1
		i=$((i + 1))
	done
	end_scenario
}

# --- kill --------------------------------------------------------------------
# children PID - the processes whose parent is PID.
children() {
	sed -n "s/^\([0-9]*\) (.*) . $1 .*/\1/p" /proc/[0-9]*/stat 2>/dev/null
}

# kill_all WHAT PID... - SIGKILL each PID, a random moment of up to 0.2 s
# after the one before; each must have been running and must be gone
# within 30 s. Adds to $killed.
kill_all() {
	what=$1
	shift
	for p in "$@"; do
		if ! alive "$p"; then
			problem "$what: pid $p ended before its SIGKILL"
			return 1
		fi
		kill -KILL "$p" 2>/dev/null
		usleep $(($(rand 200) * 1000))
	done
	tk=$(now)
	for p in "$@"; do
		if ! await "$p" 30; then
			problem "$what: pid $p still there 30 s after SIGKILL ($(stuck "$p"))"
			return 1
		fi
		count kills 1
		killed=$((killed + 1))
	done
	say "$what: $# gone $(awk -v a="$tk" -v b="$(now)" 'BEGIN { print b - a }') s after the last SIGKILL, at $(now) s"
	return 0
}

# kill_one PID - SIGKILL PID, a process that may have ended by itself:
# counted in $killed if the signal reached it.
kill_one() {
	if kill -KILL "$1" 2>/dev/null; then
		count kills 1
		killed=$((killed + 1))
	fi
}

# stress_burst OUT DEV ARGS... - start $burst kcancel-stress runs on DEV, of
# one thread each; their pids in $pids.
stress_burst() {
	out=$1 dev=$2
	shift 2
	pids='' j=0
	while [ $j -lt "$burst" ]; do
		"$stress_bin" -d "$dev" -t 1 --quiet "$@" >"$out.$j" 2>&1 &
		pids="$pids $!"
		j=$((j + 1))
	done
}

# fuzz_alive - is a kcancel-fuzz process running (zombies, which init has
# not reaped yet, do not count)?
fuzz_alive() {
	for k in $(pidof kcancel-fuzz); do
		alive "$k" && return 0
	done
	return 1
}

kill_step() {
	begin kill
	load sim_devices=1 || { end_scenario; return; }
	tool_opts "$stress_bin" "--sync-pct 50"
	# shellcheck disable=SC2086
	set -- $opts
	i=1 killed=0
	while [ $killed -lt "$kills" ]; do
		if [ $((i % 2)) = 1 ]; then
			dev=$(devices edu | head -n 1)
		else
			dev=$(devices sim | head -n 1)
		fi
		case $((i % 3)) in
		1)	# stress runs, some threads blocked in a submit-and-wait
			stress_burst /tmp/k1.out "$dev" -s 300 "$@"
			usleep $(($(rand 2000) * 1000))
			# shellcheck disable=SC2086 # a list of pids
			kill_all "kill $i (stress)" $pids || break ;;
		2)	# runs on a device that one more shares; that one must
			# pass. It does no DMA: the runs share the device memory.
			stress_bg /tmp/k2.out -d "$dev" -s 4 --mix factorial=1,doorbell=1 "$@"
			keep=$spid
			stress_burst /tmp/k1.out "$dev" -s 300 "$@"
			usleep $(($(rand 2000) * 1000))
			# shellcheck disable=SC2086
			kill_all "kill $i (beside another stress run)" $pids || break
			spid=$keep out=/tmp/k2.out
			end_stress "kill $i, the other run" 60 ;;
		0)	# kcancel-fuzz: its children share its files
			if [ ! -x "$fuzz_bin" ]; then
				problem "no $fuzz_bin"
				i=$((i + 1))
				continue
			fi
			"$fuzz_bin" -d "$dev" -n 0 -P $((burst < 2 ? 2 : burst)) >/tmp/kf.out 2>&1 &
			fpid=$!
			usleep $((500000 + $(rand 2000) * 1000))
			# The parent first: once a child is gone, it may end by
			# itself.
			kids=$(children "$fpid")
			kill_all "kill $i (fuzz)" "$fpid" || break
			hit=" $fpid "
			for k in $kids; do
				kill_one "$k"
				hit="$hit$k "
			done
			# And what it forked meanwhile, now children of init.
			n=0
			while fuzz_alive && [ $n -lt 300 ]; do
				for k in $(pidof kcancel-fuzz); do
					case $hit in *" $k "*) continue ;; esac
					alive "$k" || continue
					hit="$hit$k "
					kill_one "$k"
				done
				sleep 0.1
				n=$((n + 1))
			done
			! fuzz_alive ||
				problem "kill $i: kcancel-fuzz still there 30 s after SIGKILL:$(for k in $(pidof kcancel-fuzz); do printf ' %s %s' "$k" "$(stuck "$k")"; done)" ;;
		esac
		i=$((i + 1))
	done
	count rounds $((i - 1))
	for d in $(devices edu) $(devices sim); do
		stress_run "after the kills ${d#/dev/}" "$d" -s 1
	done
	end_scenario
}

# --- failslab ----------------------------------------------------------------
# inject on|off - failslab and fail_page_alloc for the tasks that ask.
inject() {
	for f in /sys/kernel/debug/failslab /sys/kernel/debug/fail_page_alloc; do
		if [ ! -d "$f" ]; then
			problem "no $f (CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAULT_INJECTION_DEBUG_FS)"
			return 1
		fi
		if [ "$1" = on ]; then
			echo Y >"$f/task-filter"
			echo 0 >"$f/verbose"
			echo 1 >"$f/interval"
			echo -1 >"$f/times"
			echo N >"$f/ignore-gfp-wait"
			echo 15 >"$f/probability"
		else
			echo 0 >"$f/probability"
			echo 1 >"$f/times"
			echo Y >"$f/ignore-gfp-wait"
		fi
	done
}

failslab_step() {
	begin failslab
	load sim_devices=1 || { end_scenario; return; }
	tool_opts "$stress_bin" --fail-alloc
	# shellcheck disable=SC2086
	set -- $opts
	for backend in edu sim; do
		inject on || break
		stress_bg /tmp/fs.out -d "$(devices $backend | head -n 1)" -s "$seconds" "$@"
		end_stress "$backend" $((seconds + 120)) enomem
		inject off
	done
	end_scenario
}

# --- hostile -----------------------------------------------------------------
hostile_step() {
	begin hostile
	load sim_devices=1 || { end_scenario; return; }
	for backend in edu sim; do
		dev=$(devices $backend | head -n 1)
		knob=$dbg/${dev#/dev/}/raise
		if ! need_knob "$knob" || ! need_knob "$dbg/${dev#/dev/}/stats"; then
			continue
		fi
		# edu: bit 0 factorial, 8 DMA, the others doorbells; the software
		# device: factorials 0-15, DMA 16-31, doorbells from 32. Only
		# doorbells run: every other slot is unused.
		if [ $backend = edu ]; then
			masks="0x101 0xfffffefe 0xffffffff 0x2"
		else
			masks="0xffffffff 0x3fffffff00000000 0xffffffffffffffff 0x100000000"
		fi
		stress_bg /tmp/ho.out -d "$dev" -s "$seconds" --mix doorbell=1
		n=0
		while alive "$spid"; do
			for m in $masks "$(printf '0x%x' $(((RANDOM << 49) ^ (RANDOM << 34) ^ (RANDOM << 19) ^ (RANDOM << 4) ^ RANDOM)))"; do
				[ $backend = edu ] && m=$(printf '0x%x' $((m & 0xffffffff)))
				[ "$m" = 0x0 ] && continue
				if ! echo "$m 20" >"$knob"; then
					problem "$backend: writing '$m 20' to $knob failed"
					break 2
				fi
				n=$((n + 1))
			done
			usleep $(($(rand 20) * 1000))
		done
		count storms "$n"
		end_stress "$backend" $((seconds + 120))
		sp=$(sed -n 's/^spurious_bits //p' "$dbg/${dev#/dev/}/stats")
		count spurious "${sp:-0}"
		[ "${sp:-0}" -gt 0 ] 2>/dev/null ||
			problem "$backend: spurious_bits is ${sp:-missing} after $n storms"
	done
	end_scenario
}

# --- race --------------------------------------------------------------------
race_step() {
	begin race
	# Every submit path at once, the software devices as wide as they go:
	# the edu device, and three software devices, through SUBMIT and read(),
	# KCANCEL_IOC_BATCH and io_uring.
	load sim_devices=3 sim_parallel=16 || { end_scenario; return; }
	# shellcheck disable=SC2046 # the nodes, one word each
	set -- $(devices sim)
	if [ $# -lt 3 ]; then
		problem "$# software devices with sim_devices=3"
		end_scenario
		return
	fi
	runs=''
	if [ "$edu_requests" -gt 0 ]; then
		stress_bg /tmp/race-edu.out -d "$(devices edu | head -n 1)" -n "$edu_requests"
		runs="$runs edu:$spid:/tmp/race-edu.out"
	fi
	if [ "$requests" -gt 0 ]; then
		stress_bg /tmp/race-sim.out -d "$1" -n "$requests"
		runs="$runs sim:$spid:/tmp/race-sim.out"
		stress_bg /tmp/race-batch.out -d "$2" -n "$requests" --batch 8
		runs="$runs sim-batch:$spid:/tmp/race-batch.out"
		if has_option "$stress_bin" --io-uring; then
			stress_bg /tmp/race-uring.out -d "$3" -n "$requests" --io-uring
			runs="$runs sim-io_uring:$spid:/tmp/race-uring.out"
		else
			problem "${stress_bin##*/} has no --io-uring option"
		fi
	fi
	limit=$(((requests > edu_requests ? requests : edu_requests) / 50 + 600))
	for r in $runs; do
		spid=${r#*:}
		out=${spid#*:} spid=${spid%%:*}
		end_stress "${r%%:*}" "$limit"
	done
	end_scenario
}

# --- mmio --------------------------------------------------------------------
# cmd ADDR VALUE - write the PCI command register of ADDR (16 bits).
cmd() {
	# shellcheck disable=SC2059 # the format is the two bytes, as escapes
	printf "\\$(printf %03o $(($2 & 255)))\\$(printf %03o $(($2 >> 8)))" |
		dd of="/sys/bus/pci/devices/$1/config" bs=1 seek=4 count=2 conv=notrunc 2>/dev/null
}

# What the edu device's registers read, and whether writes land, once its
# memory decoding is off (as a device that no longer answers), with no
# driver bound: busybox's devmem on BAR 0 (/dev/mem).
mmio_step() {
	begin mmio
	addr=$(edu_addr)
	bar=$(head -n 1 "/sys/bus/pci/devices/$addr/resource" 2>/dev/null | cut -d' ' -f1)
	if [ -z "$addr" ] || [ -z "$bar" ] || [ ! -e /dev/mem ]; then
		problem "no edu device, BAR 0 or /dev/mem"
		finish
		return
	fi
	was=$(od -An -tu2 -j4 -N2 "/sys/bus/pci/devices/$addr/config" | tr -d ' ')
	cmd "$addr" 2
	devmem $((bar + 4)) 32 0x12345678
	devmem $((bar + 0x64)) 32 0xffffffff
	on_id=$(devmem "$bar" 32) on_live=$(devmem $((bar + 4)) 32)
	cmd "$addr" 0
	off_id=$(devmem "$bar" 32) off_live=$(devmem $((bar + 4)) 32)
	off_status=$(devmem $((bar + 0x24)) 32)
	devmem $((bar + 4)) 32 0x0000ffff
	devmem $((bar + 0x60)) 32 0x4
	cmd "$addr" 2
	back_live=$(devmem $((bar + 4)) 32) back_status=$(devmem $((bar + 0x24)) 32)
	devmem $((bar + 0x64)) 32 0xffffffff
	cmd "$addr" "$was"
	say "mmio: decoding on: id $on_id liveness $on_live; off: id $off_id liveness $off_live status $off_status; on again: liveness $back_live status $back_status"
	[ "$on_live" = 0xEDCBA987 ] || problem "the liveness register does not answer ($on_live)"
	dropped=no
	[ "$back_live" = 0xEDCBA987 ] && [ "$back_status" = 0x00000000 ] && dropped=yes
	counts="off_id=$off_id off_status=$off_status writes_dropped=$dropped"
	finish
}

if [ ! -x "$stress_bin" ]; then
	say "FAIL: no $stress_bin"
else
	if [ "${kcancel_kmemleak:-0}" = 1 ] && [ -w "$kmemleak" ]; then
		# What boot leaked is reported now and forgotten (two scans, as
		# in leaks()); no automatic scans from here on.
		echo scan=off >"$kmemleak"
		scan2 && echo clear >"$kmemleak"
		say "kmemleak cleared at $(now) s"
	fi
	step mmio && mmio_step
	step race && race_step
	if step removal; then
		removal_edu
		removal_sim
	fi
	step hotplug && hotplug_edu
	step unload && unload_step
	step kill && kill_step
	step failslab && failslab_step
	step hostile && hostile_step
fi
grep kcancel /proc/modules && say "FAIL: a kcancel module is still loaded"
say "faults end at $(now) s"
say "done"
