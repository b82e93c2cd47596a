#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Static checks of kcancel against the kernel build directory KDIR, each one
# reported on its own line: checkpatch (--strict) and kernel-doc (-Wall) on
# every .c and .h file, a W=1 build of the modules, and sparse (C=2) on every
# file. Any message fails
# its check. The builds run in a copy of the sources, so the work tree is left
# as it was. Logs go to LOGDIR (default: build/lint). The last line is
# "N passed, N failed"; fails if any check did.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 KDIR [LOGDIR]" >&2
	exit 2
fi
kdir=$1
[ -f "$kdir/Makefile" ] || kc_die "$kdir is not a kernel build directory"
kc_need_pkgs perl sparse make gcc git
srctree=$(kc_srctree "$kdir")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
logdir=${2:-$KC_TOP/build/lint}
mkdir -p "$logdir"

passed=0 failed=0
# result NAME LOG COUNT - report a check: COUNT messages in LOG, none is a pass.
result() {
	if [ "$3" -gt 0 ]; then
		echo "FAIL lint $1: $3 message(s), see $2"
		cat "$2" >&2
		failed=$((failed + 1))
	else
		echo "PASS lint $1"
		passed=$((passed + 1))
	fi
}

# messages NAME - the compiler's or sparse's messages in the build log NAME,
# with paths relative to the sources.
messages() {
	grep -E 'warning:|error:|WARNING:' "$logdir/$1.log" | sed "s|$work/tree/||g" || true
}

kc_log "lint: checkpatch"
mapfile -t files < <(cd "$KC_TOP" && find module include kunit userspace-test \
	-name '*.[ch]' 2>/dev/null | LC_ALL=C sort)
rc=0
[ ${#files[@]} -eq 0 ] || (cd "$KC_TOP" && "$srctree/scripts/checkpatch.pl" --strict \
	--no-tree -q --show-types -f "${files[@]}") >"$logdir/checkpatch.log" 2>&1 || rc=$?
n=$(grep -cE '^(ERROR|WARNING|CHECK):' "$logdir/checkpatch.log" || true)
[ "$rc" -eq 0 ] || [ "$n" -gt 0 ] || n=1
result checkpatch "$logdir/checkpatch.log" "$n"

kc_log "lint: kernel-doc"
[ ${#files[@]} -eq 0 ] || (cd "$KC_TOP" && "$srctree/scripts/kernel-doc" -none -Wall \
	"${files[@]}") >"$logdir/kernel-doc.log" 2>&1 ||
	echo "error: kernel-doc failed" >>"$logdir/kernel-doc.log"
result kernel-doc "$logdir/kernel-doc.log" "$(grep -cE 'warning|error' "$logdir/kernel-doc.log" || true)"

kc_log "lint: W=1 build"
kc_build_modules "$kdir" "$work/tree" "$logdir/build-w1.log" W=1 ||
	echo "error: the W=1 build failed" >>"$logdir/build-w1.log"
messages build-w1 >"$logdir/w1.log"
result W=1 "$logdir/w1.log" "$(wc -l <"$logdir/w1.log")"

# The objects are up to date, so only sparse runs here.
kc_log "lint: sparse"
make -C "$kdir" M="$work/tree" -j"$KC_JOBS" W=1 C=2 CHECK=sparse modules \
	>"$logdir/build-sparse.log" 2>&1 ||
	echo "error: the sparse build failed" >>"$logdir/build-sparse.log"
messages build-sparse >"$logdir/sparse.log"
result sparse "$logdir/sparse.log" "$(wc -l <"$logdir/sparse.log")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
