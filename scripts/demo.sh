#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: kcancel on Debian's stock kernel. Fetches the kernel image and
# headers (scripts/stock-kernel.sh, cached in ~/.cache/kcancel), builds
# kcancel.ko against them and the stress tool (userspace-test/kcancel-stress),
# boots the kernel in QEMU (TCG, two CPUs, the edu PCI device) with both in a
# busybox initramfs, where scripts/guest-demo.sh loads the module and runs
# the stress tool on /dev/kcancel0 for SECONDS seconds.
#
# The guest's console is shown on stderr as it runs. The last line, on
# stdout, is the stress tool's JSON summary. Fails if the guest did not
# finish, a step in it failed, the stress tool exited non-zero or printed no
# JSON, an operation did not see both a cancel win and a completion win, or
# the console has a kernel report (scripts/scan-log.sh). Logs, the
# build copy and the initramfs stay in build/demo-DATE (build/demo-last).
#
# Environment:
#   KCANCEL_DEMO_SECONDS  how long the stress tool runs (default 20; the
#                         SECONDS argument wins)
#   KCANCEL_DEMO_KERNEL   the Debian kernel, as stock-kernel.sh's FLAVOUR
#                         (default 6.12-amd64)
#   KCANCEL_DEMO_MODARGS  module parameters for insmod, e.g. "sim_devices=1"
#   KCANCEL_DEMO_LOGLEVEL the console's log level once booted (default 5,
#                         warnings and worse; 7 shows the driver's messages)
#   KCANCEL_DEMO_STRESS   a ready stress binary to run instead of building
#                         userspace-test (static, or a busybox sh script)
#   KCANCEL_QEMU_TIMEOUT  the guest's time limit (default SECONDS + 300)
#   KCANCEL_CACHE, KCANCEL_JOBS as for every script (see lib.sh)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ $# -gt 1 ] || ! [[ ${1:-0} =~ ^[0-9]+$ ]]; then
	echo "usage: $0 [SECONDS]" >&2
	exit 2
fi
seconds=${1:-${KCANCEL_DEMO_SECONDS:-20}}
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
	kc_die "the duration must be a number of seconds, at least 1, not '$seconds'"
fi
flavour=${KCANCEL_DEMO_KERNEL:-6.12-amd64}

cd "$KC_TOP"
kc_need_pkgs gcc make libc6-dev liburing-dev python3

# KDIR=..., BZIMAGE=..., RELEASE=...
kdir='' bzimage='' release=''
stock=$(scripts/stock-kernel.sh "$flavour") ||
	kc_die "cannot get Debian's $flavour kernel (the error is above)"
while IFS='=' read -r k v; do
	case $k in
	KDIR) kdir=$v ;;
	BZIMAGE) bzimage=$v ;;
	RELEASE) release=$v ;;
	esac
done <<<"$stock"
if [ -z "$kdir" ] || [ -z "$bzimage" ]; then
	kc_die "stock-kernel.sh printed no KDIR or BZIMAGE"
fi

run=$KC_TOP/build/demo-$(date +%Y%m%d-%H%M%S)
mkdir -p "$run"
ln -sfn "$(basename "$run")" "$KC_TOP/build/demo-last"
kc_log "logs in $run"

kc_log "building kcancel.ko for $release"
if ! kc_build_modules "$kdir" "$run/tree" "$run/build.log"; then
	grep -E 'error|Error' "$run/build.log" | sed "s|$run/tree/||g" >&2 || true
	kc_die "cannot build kcancel.ko against $kdir, see $run/build.log"
fi
ko=$run/tree/kcancel.ko
[ -f "$ko" ] || kc_die "the build made no kcancel.ko, see $run/build.log"

# The stress tool is built in the build copy too; the initramfs wants it
# under its own name.
mkdir -p "$run/bin"
if [ -n "${KCANCEL_DEMO_STRESS:-}" ]; then
	[ -x "$KCANCEL_DEMO_STRESS" ] || kc_die "KCANCEL_DEMO_STRESS=$KCANCEL_DEMO_STRESS is not an executable"
	kc_log "using $KCANCEL_DEMO_STRESS as the stress tool"
	cp "$KCANCEL_DEMO_STRESS" "$run/bin/kcancel-stress"
else
	kc_log "building userspace-test/kcancel-stress"
	[ -f "$run/tree/userspace-test/Makefile" ] ||
		kc_die "userspace-test/Makefile is missing: the stress tool cannot be built"
	# Only the stress tool: kcancel-selftest needs a kernel source tree.
	if ! make -C "$run/tree/userspace-test" -j"$KC_JOBS" kcancel-stress \
		>"$run/stress-build.log" 2>&1; then
		grep -E 'error|Error' "$run/stress-build.log" | sed "s|$run/tree/||g" >&2 || true
		kc_die "cannot build the stress tool, see $run/stress-build.log"
	fi
	[ -f "$run/tree/userspace-test/kcancel-stress" ] ||
		kc_die "make -C userspace-test made no kcancel-stress, see $run/stress-build.log"
	cp "$run/tree/userspace-test/kcancel-stress" "$run/bin/kcancel-stress"
fi

# The initramfs has busybox and no C library.
if readelf -l "$run/bin/kcancel-stress" 2>/dev/null | grep -q 'program interpreter'; then
	kc_die "the stress tool is dynamically linked; the guest needs a static binary"
fi
scripts/initramfs.sh "$run/initramfs.cpio.gz" scripts/guest-demo.sh \
	"$ko" "$run/bin/kcancel-stress"

# A quiet boot (loglevel=4); the guest then lets warnings and worse (every
# report that scan-log.sh looks for) reach the console.
args=(loglevel=4 "kcancel_seconds=$seconds" "kcancel_loglevel=${KCANCEL_DEMO_LOGLEVEL:-5}")
for a in ${KCANCEL_DEMO_MODARGS:-}; do
	args+=("kcancel.$a")
done
log=$run/console.log
guest_ok=1
KCANCEL_QEMU_LIVE=1 KCANCEL_QEMU_TIMEOUT=${KCANCEL_QEMU_TIMEOUT:-$((seconds + 300))} \
	scripts/qemu.sh "$bzimage" "$run/initramfs.cpio.gz" "$log" "${args[@]}" ||
	guest_ok=0

errors=()
[ "$guest_ok" = 1 ] || errors+=("the guest did not finish, see $log")
if [ -f "$log" ]; then
	# The serial console ends lines with \r\n, and a progress line may be
	# redrawn with \r: both split lines here.
	tr '\r' '\n' <"$log" | grep -v '^$' >"$run/console.txt" || true
	if grep 'kcancel-guest: FAIL' "$run/console.txt" >&2; then
		errors+=("a step in the guest failed, see $log")
	fi
	status=$(sed -n 's/^kcancel-guest: stress exit status \([0-9]*\).*/\1/p' "$run/console.txt")
	if [ -z "$status" ]; then
		errors+=("the stress tool did not finish")
	elif [ "$status" != 0 ]; then
		errors+=("the stress tool exited with status $status")
	fi
	sed -n '/^kcancel-guest: stress start/,/^kcancel-guest: stress exit status/p' \
		"$run/console.txt" | grep '^{' | tail -n 1 >"$run/result.json" || true
	if [ ! -s "$run/result.json" ]; then
		errors+=("the stress tool printed no JSON line")
	elif ! races=$(python3 - "$run/result.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bad = [op for op, c in sorted(r.get("ops", {}).items())
       if c.get("submitted") and not (c.get("cancel_won", 0) > 0 and
                                      c.get("completion_won", 0) > 0)]
print(", ".join(bad))
sys.exit(1 if bad else 0)
PY
	); then
		errors+=("no race both ways (a cancel won and a completion won) for: $races")
	fi
	if ! scripts/scan-log.sh "$log" >"$run/reports.txt"; then
		cat "$run/reports.txt" >&2
		errors+=("kernel reports: $(grep -c '^>' "$run/reports.txt") line(s), see $run/reports.txt")
	fi
fi

for e in "${errors[@]}"; do
	printf 'kcancel: error: %s\n' "$e" >&2
done
[ ${#errors[@]} -ne 0 ] || kc_log "done: $release, kcancel-stress ran ${seconds} s; logs in $run"
[ ! -s "$run/result.json" ] || cat "$run/result.json"
[ ${#errors[@]} -eq 0 ]
