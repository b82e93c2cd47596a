#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Make the initramfs of a kcancel test guest: busybox-static, FILES (the
# modules) in /modules, and an /init that mounts proc, sysfs, devtmpfs and
# debugfs, runs GUEST_SCRIPT (with scripts/guest-lib.sh beside it, as
# /guest-lib.sh), then powers the guest off (`reboot -f`, which
# ends QEMU when it runs with -no-reboot).
#
# Optional, before OUT: `--with SRC=DEST` (repeatable) also puts the file SRC
# at the absolute path DEST of the image (a dynamically linked program, say
# --with /usr/bin/perf=/usr/bin/perf), with every shared library that `ldd
# SRC` lists and the program loader, each at the path ldd names (links
# followed: the files themselves are copied). Without it the image is as
# before.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: $0 [--with SRC=DEST]... OUT.cpio.gz GUEST_SCRIPT [FILES...]" >&2
	exit 2
}
extras=()
while [ $# -gt 0 ]; do
	case $1 in
	--with)
		[ $# -ge 2 ] || usage
		[[ $2 == ?*=/?* ]] || usage
		extras+=("$2")
		shift 2
		;;
	--with=*)
		[[ ${1#--with=} == ?*=/?* ]] || usage
		extras+=("${1#--with=}")
		shift
		;;
	*) break ;;
	esac
done
[ $# -ge 2 ] || usage
out=$1 guest=$2
shift 2
[ -f "$guest" ] || kc_die "no guest script $guest"

kc_need_pkgs busybox-static cpio gzip

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,tmp,modules}
cp /bin/busybox "$stage/bin/busybox"
cp "$guest" "$stage/guest.sh"
cp "$(dirname "$0")/guest-lib.sh" "$stage/guest-lib.sh"
for f in "$@"; do
	[ -f "$f" ] || kc_die "no file $f to put in the initramfs"
	cp "$f" "$stage/modules/"
done
# add_file SRC DEST - SRC at DEST in the image, its directories made.
add_file() {
	mkdir -p "$stage$(dirname "$2")"
	cp -L "$1" "$stage$2"
}
for e in ${extras[@]+"${extras[@]}"}; do
	src=${e%%=*} dest=${e#*=}
	[ -f "$src" ] || kc_die "no file $src to put in the initramfs at $dest"
	add_file "$src" "$dest"
	# ldd's lines: "libX.so => /path (addr)", "/lib64/ld-linux... (addr)",
	# "linux-vdso.so.1 (addr)" (no file); a static program has none.
	command -v ldd >/dev/null || kc_die "ldd is missing; install it with: sudo apt-get install libc-bin"
	libs=$(LC_ALL=C ldd "$src" 2>/dev/null |
		sed -n -e 's/^.*=> \(\/[^ ]*\) (0x[0-9a-f]*)$/\1/p' \
			-e 's/^[[:space:]]*\(\/[^ ]*\) (0x[0-9a-f]*)$/\1/p') || true
	if LC_ALL=C ldd "$src" 2>/dev/null | grep -q 'not found'; then
		kc_die "$src needs libraries that are missing: $(LC_ALL=C ldd "$src" | grep 'not found' | tr -s '\t\n' '  ')"
	fi
	for l in $libs; do
		[ -e "$stage$l" ] || add_file "$l" "$l"
	done
done

cat >"$stage/init" <<'INIT'
#!/bin/busybox sh
# kcancel test guest: mount the pseudo file systems, run /guest.sh, power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp
sh /guest.sh
echo "kcancel-init: /guest.sh exited with status $?; powering off"
sync
reboot -f
INIT
chmod 755 "$stage/init" "$stage/guest.sh"

(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	gzip -9 >"$out"
