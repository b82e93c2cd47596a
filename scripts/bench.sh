#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: kcancel's request path measured against io_uring and against
# the bare edu device, as ratios taken in one boot of Debian's stock 6.12
# kernel (not the debug kernel) in QEMU (TCG, two vCPUs, -device edu).
# Absolute rates under TCG mean little; a ratio of two paths measured in
# the same guest, alternately, round after round, does.
#
# Builds kcancel.ko and the bench-only kcfloor.ko (bench/floor) against the
# kernel's headers and kcancel-bench (bench/, static, with liburing), runs
# scripts/guest-bench.sh in the guest, then writes bench/results.json and
# bench/results.md: each figure's median over the rounds, its minimum and
# maximum, the method, and the host it ran on.
#
# Options:
#   --rounds N    rounds of every figure (default 5, at least 5 for results
#                 that count)
#   --seconds S   each throughput run (default 2)
#   --out DIR     where results.json and results.md go (default bench/)
#   --figures LIST  a comma list of p1,p2,p3,p4,p5 (default all); with
#                 fewer, the table shows the others as not measured, and
#                 goes to the run's log directory unless --out says where
# Logs go to build/bench-DATE/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: $0 [--rounds N] [--seconds S] [--out DIR] [--figures LIST]" >&2
	exit 2
}
rounds=5 seconds=2 out='' figures=p1,p2,p3,p4,p5
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) [ $# -ge 2 ] || usage; rounds=$2; shift ;;
	--seconds) [ $# -ge 2 ] || usage; seconds=$2; shift ;;
	--out) [ $# -ge 2 ] || usage; out=$2; shift ;;
	--figures) [ $# -ge 2 ] || usage; figures=$2; shift ;;
	*) usage ;;
	esac
	shift
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || usage
[[ $seconds =~ ^[1-9][0-9]*$ ]] || usage
[[ $figures =~ ^p[1-5](,p[1-5])*$ ]] || usage

cd "$KC_TOP"
run=$KC_TOP/build/bench-$(date +%Y%m%d-%H%M%S)
mkdir -p "$run"
# Some figures only: the results stay with the run's logs unless --out.
[ "$figures" = p1,p2,p3,p4,p5 ] || out=${out:-$run}
out=${out:-$KC_TOP/bench}
mkdir -p "$out"
out=$(cd "$out" && pwd -P)
kc_need_pkgs gcc make libc6-dev liburing-dev python3 qemu-system-x86

kc_bench_build "$run" bench
bzimage=$KC_BZIMAGE release=$KC_RELEASE
scripts/initramfs.sh "$run/initramfs.cpio.gz" scripts/guest-bench.sh \
	"$run/tree/kcancel.ko" "$run/tree/bench/floor/kcfloor.ko" \
	"$run/tree/bench/kcancel-bench" || kc_die "cannot make the initramfs"

log=$run/console.log
kc_log "bench: booting $release, $rounds rounds, console in $log"
start=$SECONDS
KCANCEL_QEMU_TIMEOUT=${KCANCEL_QEMU_TIMEOUT:-3600} \
	scripts/qemu.sh "$bzimage" "$run/initramfs.cpio.gz" "$log" loglevel=5 \
	kcancel_bench_rounds="$rounds" kcancel_bench_seconds="$seconds" \
	kcancel_bench_figures="$figures" ||
	kc_die "the guest did not finish, see $log"
kc_log "bench: the guest ran for $((SECONDS - start)) s"

qemu=$(qemu-system-x86_64 --version | head -n 1)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo +changes)
KCANCEL_BENCH_FIGURES=$figures python3 scripts/bench-results.py "$log" "$out" "$release" "$qemu" \
	"$cpu, $(nproc) CPUs" "$commit" "$rounds" "$seconds"
grep -q 'kcancel-guest: FAIL' "$log" && kc_die "a bench step failed, see $log"
exit 0
