#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch (or reuse) one of Debian's stock kernels, its image and its headers,
# without installing it: the packages are downloaded with `apt-get download`
# and unpacked with `dpkg-deb -x` into $KCANCEL_CACHE/stock/RELEASE_VERSION
# (default ~/.cache/kcancel), where the next run finds them. Nothing is
# written outside that directory and no package scripts run. The headers'
# links to /usr/src and /usr/lib/linux-kbuild-* are made to point into the
# cache, so that KDIR works for `make -C KDIR M=... modules`; the Debian
# packages that building against them needs (the compiler, pahole, ...) are
# installed on the host with apt-get.
#
# FLAVOUR names Debian's meta-packages linux-image-FLAVOUR and
# linux-headers-FLAVOUR, whose dependency (the current version) is taken:
# 6.12-amd64 (the default), 6.12-rt-amd64, 6.12-cloud-amd64, amd64 (the
# distribution's own series, 6.1 on Debian 12), rt-amd64, ...; SERIES-FLAVOUR
# with no such meta-package (6.1-amd64) means FLAVOUR if that is SERIES. An
# exact release (6.12.117+deb12-amd64) works too.
#
# Prints on stdout, one per line:
#   KDIR=<the headers, a kernel build directory>
#   BZIMAGE=<the kernel image, bootable with qemu -kernel>
#   MODULES=<the kernel's /lib/modules/RELEASE>
#   RELEASE=<uname -r of that kernel>
#   VERSION=<the Debian version of its packages>
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ $# -gt 1 ] || [[ ${1:-} == -* ]]; then
	echo "usage: $0 [FLAVOUR]   (default 6.12-amd64; e.g. 6.12-rt-amd64, 6.1-amd64)" >&2
	exit 2
fi
flavour=${1:-6.12-amd64}

kc_need_pkgs apt dpkg make

# records PKG[=VERSION]... - the records of the candidates (or the given
# versions) of the packages that apt's lists know, separated by empty lines.
records() { apt-cache show --no-all-versions "$@" 2>/dev/null || true; }
# field PKG FIELD - from the records on stdin, a field of PKG.
field() {
	awk -v p="$1" -v f="$2: " '
		/^Package: / { cur = substr($0, 10) }
		cur == p && index($0, f) == 1 { print substr($0, length(f) + 1); exit }'
}
# deps - from one record on stdin, its Depends, one "name version" a line
# (version empty unless pinned with "="), the first of each alternative.
deps() {
	sed -n 's/^Depends: //p' | tr ',' '\n' | sed 's/|.*//' |
		sed -E 's/^ *([^ (]+) *(\(= *([^)]*)\))?.*$/\1 \3/'
}
# image_dep - from a meta-package's record on stdin, the image it depends on.
image_dep() { deps | awk '$1 ~ /^linux-image-/ { print $1; exit }'; }

# resolve - set rel (the kernel release), ver and image (the package to take
# the image from, the signed one if there is one) from apt's lists; fails if
# they do not know the flavour or lack its headers. (apt-cache may take a
# second a call: they are few.)
resolve() {
	local meta=linux-image-$flavour r dep
	r=$(records "$meta")
	if [ -z "$r" ] && [[ $flavour =~ ^([0-9]+\.[0-9]+)-(.+)$ ]]; then
		meta=linux-image-${BASH_REMATCH[2]}
		r=$(records "$meta")
		dep=$(image_dep <<<"$r")
		[[ ${dep#linux-image-} == "${BASH_REMATCH[1]}".* ]] || return 1
	fi
	[ -n "$r" ] || return 1
	# A meta-package depends on the image of the current release; an exact
	# release's image depends on no other.
	dep=$(image_dep <<<"$r")
	rel=${dep:-$meta}
	rel=${rel#linux-image-}
	rel=${rel%-unsigned}
	r=$(records "linux-image-$rel" "linux-image-$rel-unsigned" "linux-headers-$rel")
	image=linux-image-$rel
	ver=$(field "$image" Version <<<"$r")
	if [ -z "$ver" ]; then
		image=$image-unsigned
		ver=$(field "$image" Version <<<"$r")
	fi
	[ -n "$ver" ] && [ "$(field "linux-headers-$rel" Version <<<"$r")" = "$ver" ]
}

if ! resolve; then
	if [ "$(id -u)" -eq 0 ]; then
		kc_log "apt does not know linux-image-$flavour; running apt-get update"
		kc_apt update -q >"$KC_CACHE/apt.log" 2>&1 ||
			kc_die "apt-get update failed, see $KC_CACHE/apt.log"
	fi
	resolve || kc_die "no Debian kernel linux-image-$flavour with headers in apt's lists; \
check the flavour (6.12-amd64, 6.12-rt-amd64, amd64, ...) and that apt's sources have \
bookworm and bookworm-security (the 6.12 kernels), then run apt-get update as root"
fi

dir=$KC_CACHE/stock/${rel}_$ver
root=$dir/root
kdir=$root/usr/src/linux-headers-$rel
bzimage=$root/boot/vmlinuz-$rel

# The headers' own dependencies (the compiler, kbuild's libraries and pahole)
# go on the host; the linux-* packages are unpacked into the cache.
host_pkgs() {
	local p v
	while read -r p v; do
		case $p in
		linux-base | linux-image-* | linux-headers-* | linux-kbuild-*) ;;
		*) echo "$p" ;;
		esac
	done
}

if [ ! -f "$dir/.kc-ready" ]; then
	# The headers need their -common package and kbuild, named in Depends.
	pkgs=("$image=$ver" "linux-headers-$rel=$ver")
	while read -r p v; do
		case $p in
		linux-headers-* | linux-kbuild-*) pkgs+=("$p${v:+=$v}") ;;
		esac
	done < <(records "linux-headers-$rel=$ver" | deps)

	tmp=$dir.tmp
	rm -rf "$tmp" && mkdir -p "$tmp/debs" "$tmp/root"
	kc_log "downloading ${pkgs[*]} (about 130 MB, once) into $dir"
	fetch() {
		(cd "$tmp/debs" && kc_apt download -q -o APT::Sandbox::User=root "${pkgs[@]}") \
			>"$tmp/download.log" 2>&1
	}
	if ! fetch; then
		# The lists may be older than the archive, which dropped the files.
		if [ "$(id -u)" -eq 0 ] && kc_apt update -q >>"$tmp/download.log" 2>&1 && fetch; then
			:
		else
			tail -n 5 "$tmp/download.log" >&2
			kc_die "cannot download ${pkgs[*]} from Debian's archive, see $tmp/download.log; \
check the network and apt's sources (bookworm-security for 6.12) and run apt-get update as root"
		fi
	fi
	for f in "$tmp"/debs/*.deb; do
		dpkg-deb -x "$f" "$tmp/root" || kc_die "cannot unpack $f"
	done
	rm -rf "$tmp/debs"

	# Absolute links (lib/modules/RELEASE/build -> /usr/src/...) and the
	# headers' `include /usr/src/...-common/Makefile` point into the cache.
	find "$tmp/root" -type l -lname '/*' -print0 |
		while IFS= read -r -d '' l; do
			t=$(readlink "$l")
			[ ! -e "$tmp/root$t" ] || ln -sfn "$root$t" "$l"
		done
	sed -i -E "s#^(include[[:space:]]+)(/usr/(src|lib)/)#\1$root\2#" \
		"$tmp/root/usr/src/linux-headers-$rel/Makefile"
	[ -f "$tmp/root/boot/vmlinuz-$rel" ] ||
		kc_die "$image=$ver has no /boot/vmlinuz-$rel"
	{
		records "linux-headers-$rel=$ver" | deps
		for p in "${pkgs[@]}"; do
			[[ $p != linux-kbuild-* ]] || records "$p" | deps
		done
	} | host_pkgs | sort -u >"$tmp/host-packages"
	rm -rf "$dir" && mv "$tmp" "$dir"
	touch "$dir/.kc-ready"
fi

mapfile -t need <"$dir/host-packages"
[ ${#need[@]} -eq 0 ] || kc_need_pkgs "${need[@]}"

# The headers' Makefile works, and modules built with it get the release.
got=$(make -s -C "$kdir" kernelversion 2>&1) ||
	kc_die "the headers in $kdir do not work: $got"
got=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$kdir/include/generated/utsrelease.h")
[ "$got" = "$rel" ] || kc_die "the headers in $kdir are of release '$got', not $rel"

echo "KDIR=$kdir"
echo "BZIMAGE=$bzimage"
echo "MODULES=$root/lib/modules/$rel"
echo "RELEASE=$rel"
echo "VERSION=$ver"
