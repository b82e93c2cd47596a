#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Make the initramfs of a kcancel test guest: busybox-static, FILES (the
# modules) in /modules, and an /init that mounts proc, sysfs, devtmpfs and
# debugfs, runs GUEST_SCRIPT (with scripts/guest-lib.sh beside it, as
# /guest-lib.sh), then powers the guest off (`reboot -f`, which
# ends QEMU when it runs with -no-reboot).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ $# -lt 2 ]; then
	echo "usage: $0 OUT.cpio.gz GUEST_SCRIPT [FILES...]" >&2
	exit 2
fi
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
