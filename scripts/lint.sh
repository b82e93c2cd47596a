#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Static checks of kcancel against the kernel build directory KDIR, each one
# reported on its own line: checkpatch (--strict) and kernel-doc (-Wall) on
# every .c and .h file, a W=1 build of the modules, sparse (C=2) on every
# file, a W=1 build with clang (LLVM=1), and the layout of the ABI's
# structures (scripts/check-uapi.sh: pahole finds no padding, on x86_64 and
# i386). Any message fails its check.
#
# The clang build is against its own kernel: an external module is built
# with the flags of the kernel's configuration, which are its compiler's, and
# KDIR's is gcc (clang then warns that the compiler differs and refuses
# -fconserve-stack, -mfunction-return=thunk-extern, ...). So Debian's
# linux-source-6.12 with the test kernel's configuration (kunit/.kunitconfig)
# is built once with Debian's clang, lld and llvm, and cached, as
# scripts/kernel.sh does, in $KCANCEL_CACHE/kernel-clang-KEY (about 15
# minutes on two CPUs), keyed by the source package's version, clang's
# version and the configuration lines.
#
# The builds run in a copy of the sources, so the work tree is left as it
# was. Logs go to LOGDIR (default: build/lint). The last line is "N passed, N
# failed"; fails if any check did.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 KDIR [LOGDIR]" >&2
	exit 2
fi
kdir=$1
[ -f "$kdir/Makefile" ] || kc_die "$kdir is not a kernel build directory"
kc_need_pkgs perl sparse make gcc git clang lld llvm pahole linux-libc-dev
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
	grep -E 'warning:|error:|WARNING:' "$logdir/$1.log" | sed "s|$work/[^/]*/||g" || true
}

# clang_kernel - build (or reuse) the kernel of the clang check, and print
# its build directory. Its build log is the directory's build.log. (Called
# as a condition, where set -e does not hold: each step checks itself.)
clang_kernel() {
	local tarball=/usr/src/linux-source-6.12.tar.xz srcver lines key src out line
	kc_need_pkgs linux-source-6.12 bc bison flex libelf-dev libssl-dev xz-utils \
		cpio kmod python3
	[ -f "$tarball" ] || kc_die "$tarball is missing; reinstall linux-source-6.12"
	srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
	lines=$(grep -hE '^CONFIG_' "$KC_TOP/kunit/.kunitconfig")
	key=$( (echo "$srcver"; clang --version | head -n 1; echo LLVM=1; echo "$lines") |
		sha256sum | cut -c1-16)
	src=$KC_CACHE/src/linux-source-6.12-$srcver
	out=$KC_CACHE/kernel-clang-$key
	if [ ! -f "$src/.kc-extracted" ]; then
		kc_log "unpacking $tarball"
		rm -rf "$src" && mkdir -p "$src" &&
			tar -xf "$tarball" -C "$src" --strip-components=1 &&
			touch "$src/.kc-extracted" || kc_die "cannot unpack $tarball into $src"
	fi
	if [ ! -f "$out/.kc-built" ]; then
		kc_log "building the clang kernel in $out (about 15 minutes, once per configuration)"
		rm -rf "$out" && mkdir -p "$out" || kc_die "cannot make $out"
		sed 's/^\(CONFIG_[A-Z0-9_]*\)=n$/# \1 is not set/' <<<"$lines" >"$out/.config"
		make -s -C "$src" O="$out" ARCH=x86_64 LLVM=1 olddefconfig >"$out/build.log" 2>&1 ||
			kc_die "the clang kernel's configuration failed, see $out/build.log"
		while IFS= read -r line; do
			case "$line" in
			*=n) ! grep -q "^${line%=n}=" "$out/.config" ||
				kc_die "the clang kernel's configuration did not keep '$line'" ;;
			*) grep -qx "$line" "$out/.config" ||
				kc_die "the clang kernel's configuration did not keep '$line'" ;;
			esac
		done <<<"$lines"
		# vmlinux and modules make Module.symvers, which modpost reads.
		make -C "$out" ARCH=x86_64 LLVM=1 -j"$KC_JOBS" vmlinux modules \
			>>"$out/build.log" 2>&1 || kc_die "the clang kernel's build failed, see $out/build.log"
		touch "$out/.kc-built" || kc_die "cannot write $out"
	fi
	echo "$out"
}

kc_log "lint: checkpatch"
# The sources, not what an in-tree build leaves (*.mod.c).
mapfile -t files < <(cd "$KC_TOP" && find module include kunit userspace-test bench \
	-name '*.[ch]' ! -name '*.mod.c' 2>/dev/null | LC_ALL=C sort)
# A tracepoint header is written in TRACE_EVENT()'s own layout, as the
# kernel's include/trace/events/ are: lines that open a macro argument, and
# continuation lines aligned on the argument, not on the parenthesis.
trace_layout=OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT
mapfile -t plain < <(printf '%s\n' "${files[@]}" | grep -v '^module/trace\.h$')
rc=0
[ ${#files[@]} -eq 0 ] || (cd "$KC_TOP" &&
	"$srctree/scripts/checkpatch.pl" --strict --no-tree -q --show-types \
		-f "${plain[@]}" &&
	"$srctree/scripts/checkpatch.pl" --strict --no-tree -q --show-types \
		--ignore "$trace_layout" -f module/trace.h) \
	>"$logdir/checkpatch.log" 2>&1 || rc=$?
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

kc_log "lint: clang W=1 build"
start=$SECONDS
if ! ckdir=$(clang_kernel 2>"$logdir/clang-kernel.log"); then
	echo "error: no clang kernel" >>"$logdir/clang-kernel.log"
	result "clang W=1" "$logdir/clang-kernel.log" 1
else
	kc_build_modules "$ckdir" "$work/clang" "$logdir/build-clang.log" LLVM=1 W=1 ||
		echo "error: the clang W=1 build failed" >>"$logdir/build-clang.log"
	messages build-clang >"$logdir/clang.log"
	[ -f "$work/clang/kcancel.ko" ] || echo "error: no kcancel.ko" >>"$logdir/clang.log"
	result "clang W=1 ($(clang --version | head -n 1), $((SECONDS - start)) s)" \
		"$logdir/clang.log" "$(wc -l <"$logdir/clang.log")"
fi

kc_log "lint: uapi padding"
"$KC_TOP/scripts/check-uapi.sh" >"$logdir/uapi.log" 2>&1 ||
	grep -q '^error:' "$logdir/uapi.log" || echo "error: check-uapi.sh failed" >>"$logdir/uapi.log"
result "uapi padding (pahole, x86_64 and i386:$(sed -n 's/^checked x86_64://p' "$logdir/uapi.log" |
	sed -E 's/ ([a-z_0-9]+) [0-9]+/ \1/g'))" "$logdir/uapi.log" \
	"$(grep -c '^error:' "$logdir/uapi.log" || true)"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
