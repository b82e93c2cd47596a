#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The Promela model of kcancel's cancel machinery (model/, described in
# model/README.md), checked exhaustively by spin. For each scenario:
#
# - a safety run: every assertion (a request completed twice, a request, a
#   device, a file or the backend's data used after its last reference, any
#   refusal of the request core, a request not completed or not released
#   once nothing can move, a lock still held then) and no invalid end state
#   (no deadlock);
# - a liveness run: the LTL property "the request is eventually completed",
#   acceptance cycles, with no fairness assumed;
# - the races the scenario was built for were reached (the model's
#   witnesses), so that a pass is not vacuous.
#
# Then each broken variant of the model (the DPC completing whatever unmark
# answered, the completion count without its dec-and-test or its
# inc-not-zero, the cancel losing the completion, the mark delivering the
# callback under the caller's lock, and three errors the model once found in
# the C code: close() cancelling without a reference, removal not waiting
# for a failure halting the hardware, an abort after the slot's bit) must
# fail with the error it stands for.
#
# pan is generated and compiled in a temporary directory; the counterexample
# of each failed run, and of each broken variant, goes to LOGDIR (default
# build/model). Prints one line per check, then "N passed, N failed"; fails
# if any check did.
#
# Environment: KCANCEL_MODEL_FLAGS, extra spin -D flags for every run (see
# model/README.md).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ $# -gt 1 ] || [[ ${1:-} == -* ]]; then
	echo "usage: $0 [LOGDIR]" >&2
	exit 2
fi
logdir=${1:-$KC_TOP/build/model}
kc_need_pkgs spin gcc
mkdir -p "$logdir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
read -r -a extra <<<"${KCANCEL_MODEL_FLAGS:-}"

# NAME|spin flags|the witnesses (REACHED(n) in the model) its safety run
# must reach.
scenarios=(
	"core|-DS_CORE|1 2 8 12 14 15 17"
	"core-driver|-DS_CORE -DSYNC_DRIVER=1|1 2 8 12 14 15 17"
	"bell|-DS_BELL|1 2 9 12 15 16 17"
	"bell-driver|-DS_BELL -DSYNC_DRIVER=1|1 2 9 12 15 16 17"
	"sent|-DS_SENT|1 2 3 4 7 9 10 11 12 15 16"
	"sent-driver|-DS_SENT -DSYNC_DRIVER=1|1 2 3 4 7 9 10 11 12 15 16"
	"sent-edu|-DS_SENT_EDU|1 2 3 4 10 11 12 15 16"
	"remove|-DS_REMOVE|1 2 5 8 9 12 13 15 16 17 18"
	"remove-sent|-DS_REMOVE_SENT|1 2 3 4 5 7 8 9 10 11 13 15 16 18"
	"wait|-DS_WAIT|1 2 3 4 6 10 11 12 15 16"
	"close-fail|-DS_CLOSE_FAIL|1 5 8 9 13 15 16 17 18"
)
# NAME|spin flags|run|an ERE the error it must be caught with matches.
broken=(
	"broken-unmark|-DS_BELL -DBREAK_UNMARK|safety|second completion|completion while still cancelable"
	"broken-sent-dec|-DS_SENT -DBREAK_SENT_DEC|safety|second completion"
	"broken-sent-inc|-DS_SENT -DBREAK_SENT_INC|safety|second completion"
	"broken-sent-lost|-DS_SENT -DBREAK_SENT_LOST|liveness|never completed"
	"broken-defer|-DS_BELL -DBREAK_DEFER|safety|deadlock"
	"broken-close-noref|-DS_WAIT -DBREAK_CLOSE_NOREF|safety|used after its last reference"
	"broken-fail-nowait|-DS_CLOSE_FAIL -DBREAK_FAIL_NOWAIT|safety|used after removal freed it"
	"broken-abort-stale|-DS_SENT -DBREAK_ABORT_STALE|safety|abort is left"
)

# build DIR RUN FLAGS... - generate and compile pan for a safety or a
# liveness run. -O0: the runs are short, an optimized build is not.
build() {
	local dir=$1 run=$2 cflags=()
	shift 2
	mkdir -p "$dir"
	cp "$KC_TOP"/model/*.pml "$dir"
	if [ "$run" = liveness ]; then
		set -- "$@" -DLIVENESS
	else
		cflags=(-DSAFETY -DNOCLAIM)
	fi
	(cd "$dir" && spin -a "$@" "${extra[@]}" kcancel.pml >spin.log 2>&1 &&
		gcc -O0 -w -DMEMLIM=4096 "${cflags[@]}" -o pan pan.c >gcc.log 2>&1)
}

# verify DIR RUN - run pan; writes DIR/pan.out and DIR/seconds.
verify() {
	local dir=$1 run=$2 t0 args=(-n -m20000)
	[ "$run" = liveness ] && args+=(-a)
	t0=$EPOCHREALTIME
	(cd "$dir" && ./pan "${args[@]}" >pan.out 2>&1) || true
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }' \
		>"$dir/seconds"
}

# figures DIR - "N states, depth N, N s" of a finished run.
figures() {
	local states depth
	states=$(awk '/states, stored/ { print $1; exit }' "$1/pan.out")
	depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$1/pan.out")
	echo "${states:-?} states, depth ${depth:-?}, $(cat "$1/seconds") s"
}

# complete DIR - whether pan searched the whole state space, with no error.
complete() {
	grep -q 'errors: 0$' "$1/pan.out" &&
		! grep -qE 'max search depth too small|out of memory|search not completed' "$1/pan.out"
}

# explain DIR FLAGS... - what pan found, in words, then where: the
# assertion's place in the model and the depth. The replayed trail,
# condensed to one line per run of steps of one process, goes to DIR/trail.
explain() {
	local dir=$1 err what where misuse
	shift
	err=$(grep -m1 -E '^pan:[0-9]+: |^pan: ' "$dir/pan.out" || true)
	misuse=$(sed -n 's/^kcancel-misuse: //p' "$dir/pan.out" | head -n 1)
	case $err in
	*"acceptance cycle"*) what="the request is never completed" ;;
	*"invalid end state"*) what="deadlock: a process waits forever" ;;
	*"violated 0 "* | *"violated 0("*) what="the request core refuses: $misuse" ;;
	*"l_sync==0"*) what="deadlock: a lock is still held when nothing can move" ;;
	*priv_alive*) what="the backend's data is used after removal freed it" ;;
	*kd_alive*) what="the device is used after its last reference" ;;
	*f_alive*) what="the file is used after close() freed it" ;;
	*"!(prepared)"*) what="the request is never completed" ;;
	*"ncompl[0]==1"*) what="the request completes twice" ;;
	*"alive[0]"*) what="the request is used after its last reference" ;;
	*aborted*) what="an abort is left for the slot's next operation" ;;
	*) what=${err:-"no result (see $dir/pan.out)"} ;;
	esac
	[ -n "$misuse" ] && [[ $what != *"$misuse"* ]] && what="$what (the request core refuses: $misuse)"
	where=""
	if [ -f "$dir/kcancel.pml.trail" ]; then
		(cd "$dir" && spin -t -p "$@" "${extra[@]}" kcancel.pml \
			>replay.txt 2>&1) || true
		where=$(sed -n 's/^spin: \([a-z.]*:[0-9]*\), Error:.*/\1/p' "$dir/replay.txt" | head -n 1)
		awk -F '\t' '
		$2 ~ /^proc / && $3 ~ /^\[.*\]$/ {
			p = $2; sub(/^proc +[0-9]+ \(/, "", p); sub(/:.*/, "", p)
			s = substr($3, 2, length($3) - 2)
			if (s ~ /^(else|\.\(goto\)|\(1\)|assert\(.*)$/) next
			if (p != cur) { if (cur != "") print cur ": " line; cur = p; line = s; next }
			line = line "; " s
			next
		}
		/Error:|violated|acceptance|timeout/ { if (cur != "") print cur ": " line; cur = ""; print }
		END { if (cur != "") print cur ": " line }
		' "$dir/replay.txt" >"$dir/trail"
	fi
	echo "$what${where:+ ($where)}, depth $(sed -n 's/.*(at depth \([0-9]*\)).*/\1/p' <<<"$err" | head -n 1)"
}

# keep DIR NAME - the counterexample, for LOGDIR.
keep() {
	{
		grep -E '^pan:[0-9]+: |^kcancel-misuse: ' "$1/pan.out" || true
		echo
		cat "$1/trail" 2>/dev/null || true
	} >"$logdir/$2.txt"
}

# scenario ID NAME FLAGS WITNESSES - the three checks of a scenario, their
# lines to $work/res/ID.1 (safety), ID.2 (liveness) and ID.3 (races).
scenario() {
	local id=$1 name=$2 want=$4 flags dir run out w missing got
	read -r -a flags <<<"$3"
	for run in safety liveness; do
		dir=$work/$name-$run
		out=$work/res/$id.$([ "$run" = safety ] && echo 1 || echo 2)
		rm -f "$logdir/$name-$run.txt"
		if ! build "$dir" "$run" "${flags[@]}"; then
			cat "$dir"/*.log >&2
			echo "FAIL model $name $run: the model does not build (spin or gcc output above)" >"$out"
			continue
		fi
		verify "$dir" "$run"
		if complete "$dir"; then
			echo "PASS model $name $run: $(figures "$dir")" >"$out"
		else
			echo "FAIL model $name $run: $(explain "$dir" "${flags[@]}"); trail in $logdir/$name-$run.txt" >"$out"
			keep "$dir" "$name-$run"
		fi
	done
	# A safety run stops at its counterexample: search on past errors.
	dir=$work/$name-safety
	[ -x "$dir/pan" ] || return 0
	complete "$dir" || (cd "$dir" && ./pan -n -m20000 -c0 >pan.out 2>&1) || true
	got=$(sed -n 's/^kcancel-witness \([0-9]*\) .*/\1/p' "$dir/pan.out" | sort -n | tr '\n' ' ')
	missing=""
	for w in $want; do
		[[ " $got " == *" $w "* ]] || missing+=" $w"
	done
	if grep -qE 'max search depth too small|out of memory|search not completed' "$dir/pan.out"; then
		echo "FAIL model $name races: the search did not complete" >"$work/res/$id.3"
	elif [ -n "$missing" ]; then
		echo "FAIL model $name races: witnesses${missing} not reached (model/README.md)" >"$work/res/$id.3"
	else
		echo "PASS model $name races: witnesses ${want} reached" >"$work/res/$id.3"
	fi
}

# variant ID NAME FLAGS RUN ERE - a broken variant must fail with ERE.
variant() {
	local id=$1 name=$2 run=$4 ere=$5 dir=$work/$2 flags why
	read -r -a flags <<<"$3"
	rm -f "$logdir/$name.txt"
	if ! build "$dir" "$run" "${flags[@]}"; then
		cat "$dir"/*.log >&2
		echo "FAIL model $name is caught: the model does not build (spin or gcc output above)" >"$work/res/$id"
		return
	fi
	verify "$dir" "$run"
	if complete "$dir"; then
		echo "FAIL model $name is not caught: $(figures "$dir")" >"$work/res/$id"
		return
	fi
	why=$(explain "$dir" "${flags[@]}")
	keep "$dir" "$name"
	if grep -qE "$ere" <<<"$why"; then
		echo "PASS model $name is caught: $why, $(figures "$dir" | sed 's/, depth [0-9?]*//')" >"$work/res/$id"
	else
		echo "FAIL model $name is caught for another reason: $why" >"$work/res/$id"
	fi
}

# At most KC_JOBS checks at once; each writes its own result lines.
mkdir -p "$work/res"
t0=$SECONDS
n=0
for s in "${scenarios[@]}"; do
	IFS='|' read -r name flags want <<<"$s"
	while [ "$(jobs -rp | wc -l)" -ge "$KC_JOBS" ]; do wait -n || true; done
	scenario "$(printf '%02d' "$n")" "$name" "$flags" "$want" &
	n=$((n + 1))
done
for b in "${broken[@]}"; do
	IFS='|' read -r name flags run ere <<<"$b"
	while [ "$(jobs -rp | wc -l)" -ge "$KC_JOBS" ]; do wait -n || true; done
	variant "$(printf '%02d' "$n")" "$name" "$flags" "$run" "$ere" &
	n=$((n + 1))
done
wait

passed=0 failed=0
for f in "$work"/res/*; do
	line=$(cat "$f")
	echo "$line"
	if [[ $line == PASS* ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
# Three lines per scenario, one per broken variant: a check that stopped
# before its line is a failure too.
lost=$((3 * ${#scenarios[@]} + ${#broken[@]} - passed - failed))
if [ "$lost" -gt 0 ]; then
	echo "FAIL model: $lost check(s) stopped before their result"
	failed=$((failed + lost))
fi
kc_log "model: $((SECONDS - t0)) s; counterexamples in $logdir"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
