#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) a kcancel test kernel: Debian's linux-source-6.12 with
# kunit/.kunitconfig (VARIANT debug, the default: KASAN, lockdep, kmemleak,
# ...) or with kunit/.kunitconfig and kunit/kcsan.config on top (VARIANT
# kcsan: KCSAN in place of KASAN). The build lives outside the repository, in
# $KCANCEL_CACHE (default ~/.cache/kcancel), keyed by the source package's
# version and the configuration lines, so that an unchanged configuration is
# built once. Prints the build directory (usable as KDIR) on stdout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${1:-debug}
case $variant in
debug) overlay= ;;
kcsan) overlay=$KC_TOP/kunit/kcsan.config ;;
*) echo "usage: $0 [debug|kcsan]" >&2; exit 2 ;;
esac

kc_need_pkgs linux-source-6.12 gcc make bc bison flex libelf-dev libssl-dev \
	xz-utils cpio kmod python3

tarball=/usr/src/linux-source-6.12.tar.xz
[ -f "$tarball" ] || kc_die "$tarball is missing; reinstall linux-source-6.12"
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
# The configuration: .kunitconfig's lines, each replaced by the overlay's line
# for the same option if it has one, then the overlay's other lines. Only
# these lines count: comments may change without a rebuild.
lines=$(grep -hE '^CONFIG_' "$KC_TOP/kunit/.kunitconfig" ${overlay:+"$overlay"} |
	awk -F= '{ if (!($1 in v)) k[++n] = $1; v[$1] = $0 }
		END { for (i = 1; i <= n; i++) print v[k[i]] }')
key=$( (echo "$srcver"; echo "$lines") | sha256sum | cut -c1-16)
src=$KC_CACHE/src/linux-source-6.12-$srcver
out=$KC_CACHE/kernel-$key

if [ ! -f "$src/.kc-extracted" ]; then
	kc_log "unpacking $tarball"
	rm -rf "$src" && mkdir -p "$src"
	tar -xf "$tarball" -C "$src" --strip-components=1
	touch "$src/.kc-extracted"
fi

if [ -f "$out/.kc-built" ]; then
	echo "$out"
	exit 0
fi

kc_log "building the $variant test kernel in $out (several minutes, once per configuration)"
rm -rf "$out" && mkdir -p "$out"
# As kunit.py does: the fragment alone, completed with Kconfig's defaults.
sed 's/^\(CONFIG_[A-Z0-9_]*\)=n$/# \1 is not set/' <<<"$lines" >"$out/.config"
make -s -C "$src" O="$out" ARCH=x86_64 olddefconfig >"$out/build.log" 2>&1
while IFS= read -r line; do
	case "$line" in
	*=n) grep -qx "# ${line%=n} is not set" "$out/.config" ||
		! grep -q "^${line%=n}=" "$out/.config" ||
		kc_die "the kernel configuration did not keep '$line'" ;;
	*) grep -qx "$line" "$out/.config" ||
		kc_die "the kernel configuration did not keep '$line'" ;;
	esac
done <<<"$lines"

if ! make -C "$out" ARCH=x86_64 -j"$KC_JOBS" bzImage modules \
	>>"$out/build.log" 2>&1; then
	tail -n 30 "$out/build.log" >&2
	kc_die "kernel build failed, see $out/build.log"
fi
touch "$out/.kc-built"
echo "$out"
