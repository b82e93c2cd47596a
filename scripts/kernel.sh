#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) the kcancel test kernel: Debian's linux-source-6.12 with
# kunit/.kunitconfig. The build lives outside the repository, in
# $KCANCEL_CACHE (default ~/.cache/kcancel), keyed by the source package's
# version and the configuration lines, so that an unchanged configuration is
# built once. Prints the build directory (usable as KDIR) on stdout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kc_need_pkgs linux-source-6.12 gcc make bc bison flex libelf-dev libssl-dev \
	xz-utils cpio kmod python3

tarball=/usr/src/linux-source-6.12.tar.xz
[ -f "$tarball" ] || kc_die "$tarball is missing; reinstall linux-source-6.12"
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
frag=$KC_TOP/kunit/.kunitconfig
# Only the configuration lines count: comments may change without a rebuild.
key=$( (echo "$srcver"; grep -E '^CONFIG_' "$frag") | sha256sum | cut -c1-16)
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

kc_log "building the test kernel in $out (several minutes, once per configuration)"
rm -rf "$out" && mkdir -p "$out"
# As kunit.py does: the fragment alone, completed with Kconfig's defaults.
grep -E '^CONFIG_' "$frag" | sed 's/^\(CONFIG_[A-Z0-9_]*\)=n$/# \1 is not set/' >"$out/.config"
make -s -C "$src" O="$out" ARCH=x86_64 olddefconfig >"$out/build.log" 2>&1
while IFS= read -r line; do
	case "$line" in
	*=n) grep -qx "# ${line%=n} is not set" "$out/.config" ||
		! grep -q "^${line%=n}=" "$out/.config" ||
		kc_die "the kernel configuration did not keep '$line'" ;;
	*) grep -qx "$line" "$out/.config" ||
		kc_die "the kernel configuration did not keep '$line'" ;;
	esac
done < <(grep -E '^CONFIG_' "$frag")

if ! make -C "$out" ARCH=x86_64 -j"$KC_JOBS" bzImage modules \
	>>"$out/build.log" 2>&1; then
	tail -n 30 "$out/build.log" >&2
	kc_die "kernel build failed, see $out/build.log"
fi
touch "$out/.kc-built"
echo "$out"
