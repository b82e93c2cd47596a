# SPDX-License-Identifier: GPL-2.0
# Shared helpers of the kcancel scripts. Source it; do not run it.

KC_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KC_CACHE=${KCANCEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kcancel}
KC_JOBS=${KCANCEL_JOBS:-$(nproc)}

kc_log() { printf 'kcancel: %s\n' "$*" >&2; }
kc_die() { printf 'kcancel: error: %s\n' "$*" >&2; exit 1; }

# kc_apt ARGS... - apt-get, non-interactive, waiting up to 10 minutes for
# the locks that another apt-get or dpkg (an unattended upgrade) holds
# instead of failing at once: dpkg's through DPkg::Lock::Timeout, and the
# package lists' (apt-get update), which that option does not cover, by
# trying again every 5 s. Its output comes once it is done.
kc_apt() {
	local deadline=$((SECONDS + 600)) out rc
	while :; do
		rc=0
		out=$(DEBIAN_FRONTEND=noninteractive apt-get \
			-o DPkg::Lock::Timeout=600 "$@" 2>&1) || rc=$?
		if [ "$rc" -ne 0 ] && [ "$SECONDS" -lt "$deadline" ] &&
			grep -q 'Could not get lock' <<<"$out"; then
			sleep 5
			continue
		fi
		printf '%s\n' "$out"
		return "$rc"
	done
}

# kc_guest_failure LOG ERR - why a guest did not finish, on one line: the
# last error that scripts/qemu.sh wrote to ERR (its stderr) and the last
# step the guest began; the console's last lines go to stderr, so that a
# failure is read from the output of `make check` without its logs.
kc_guest_failure() {
	local log=$1 err=$2 why step
	why=$(grep -a '^kcancel: error: ' "$err" 2>/dev/null | tail -n 1 |
		sed 's/^kcancel: error: //')
	step=$(grep -a 'kcancel-guest: ' "$log" 2>/dev/null | tail -n 1 |
		tr -d '\r' | sed 's/.*kcancel-guest: //')
	echo "${why:-scripts/qemu.sh failed, see $err}; last step begun: ${step:-none}"
	{
		echo "kcancel: the last lines of $log:"
		tail -n 30 "$log" 2>/dev/null | tr -d '\r' | sed 's/^/  | /'
	} >&2
}

# kc_need_pkgs PKG... - install the Debian packages that are missing.
# Without root (or apt-get) it names them and how to get them, then fails.
kc_need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
		kc_die "missing Debian packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}"
	fi
	kc_log "installing ${missing[*]}"
	if ! kc_apt install -y -q \
		--no-install-recommends "${missing[@]}" >"$KC_CACHE/apt.log" 2>&1; then
		kc_apt update -q >>"$KC_CACHE/apt.log" 2>&1 ||
			kc_die "apt-get update failed, see $KC_CACHE/apt.log"
		kc_apt install -y -q \
			--no-install-recommends "${missing[@]}" >>"$KC_CACHE/apt.log" 2>&1 ||
			kc_die "cannot install ${missing[*]}, see $KC_CACHE/apt.log"
	fi
}

mkdir -p "$KC_CACHE"

# kc_srctree KDIR - print the kernel source tree that the build directory KDIR
# was made from (KDIR itself for an in-tree build).
kc_srctree() {
	local src=$1
	[ -e "$1/source" ] && src=$(readlink -f "$1/source")
	[ -f "$src/scripts/checkpatch.pl" ] ||
		kc_die "cannot find the kernel source tree of $1 (no $src/scripts/checkpatch.pl)"
	echo "$src"
}

# kc_build_modules KDIR DIR LOG [MAKE-ARGS...] - copy the work tree's sources
# (git's tracked and unignored files) into a fresh DIR and build the modules
# there, so that the work tree is left as it was. Output goes to LOG; the exit
# status is make's.
kc_build_modules() {
	local kdir=$1 dir=$2 log=$3 f
	shift 3
	command -v git >/dev/null || kc_die "git is missing; install it with: apt-get install git"
	git -C "$KC_TOP" rev-parse --git-dir >/dev/null 2>&1 ||
		kc_die "$KC_TOP is not a git work tree: cannot tell its sources from build products"
	rm -rf "$dir" && mkdir -p "$dir"
	git -C "$KC_TOP" ls-files -z -co --exclude-standard |
		while IFS= read -r -d '' f; do
			[ ! -f "$KC_TOP/$f" ] || printf '%s\0' "$f"
		done | tar -C "$KC_TOP" --null -T - -cf - | tar -C "$dir" -xf -
	make -C "$kdir" M="$dir" -j"$KC_JOBS" "$@" modules >"$log" 2>&1
}

# kc_bench_build RUN WHAT - for make bench and make profile: fetch Debian's
# stock 6.12 kernel into the cache (KC_KDIR, KC_BZIMAGE and KC_RELEASE are
# set) and build, against it, kcancel.ko, kcfloor.ko and kcancel-bench in
# RUN/tree; WHAT names the caller in the log. Dies on a failure.
kc_bench_build() {
	local run=$1 what=$2 stock
	stock=$("$KC_TOP/scripts/stock-kernel.sh" 6.12-amd64 2>"$run/stock-kernel.log") ||
		kc_die "cannot get Debian's 6.12 kernel, see $run/stock-kernel.log"
	KC_KDIR=$(sed -n 's/^KDIR=//p' <<<"$stock")
	KC_BZIMAGE=$(sed -n 's/^BZIMAGE=//p' <<<"$stock")
	KC_RELEASE=$(sed -n 's/^RELEASE=//p' <<<"$stock")
	kc_log "$what: building kcancel.ko, kcfloor.ko and kcancel-bench for $KC_RELEASE"
	kc_build_modules "$KC_KDIR" "$run/tree" "$run/build.log" ||
		kc_die "kcancel.ko does not build, see $run/build.log"
	make -C "$run/tree/bench/floor" KDIR="$KC_KDIR" >"$run/floor.log" 2>&1 ||
		kc_die "kcfloor.ko does not build, see $run/floor.log"
	make -C "$run/tree/bench" kcancel-bench >"$run/tool.log" 2>&1 ||
		kc_die "kcancel-bench does not build, see $run/tool.log"
}
