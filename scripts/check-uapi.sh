#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The structures of kcancel's ABI have no implicit padding. Each struct and
# union that HEADER (default include/uapi/linux/kcancel.h) defines is
# compiled, with -g, into an object for x86_64 and one for i386 (-m32: 32-bit
# processes call the same ioctls, and __u64 is 4-byte aligned there), and
# pahole reads their layout. A hole between members or padding at the end
# fails: the kernel would copy bytes that no field holds to user space, and
# their place differs between ABIs. So does a size that differs between the
# two ABIs, which would give an ioctl two numbers. The structures are taken
# from HEADER, so that one added later is checked too.
#
# The header is compiled against the host's user-space kernel headers
# (linux-libc-dev), whose x86 <asm/...> serve both ABIs; no 32-bit C
# library is needed, as nothing is linked.
#
# Prints a line per ABI, "checked ABI: NAME SIZE ...", and a line "error: ..."
# for each problem; fails if there is one.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ $# -gt 1 ] || [[ ${1:-} == -* ]]; then
	echo "usage: $0 [HEADER]   (default include/uapi/linux/kcancel.h)" >&2
	exit 2
fi
header=$(readlink -f "${1:-$KC_TOP/include/uapi/linux/kcancel.h}")
[ -f "$header" ] || kc_die "no header $header"
kc_need_pkgs gcc pahole linux-libc-dev

# The structures and unions the header defines, "struct NAME" a line.
mapfile -t types < <(sed -nE \
	's/^[[:space:]]*(struct|union)[[:space:]]+([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*\{.*/\1 \2/p' \
	"$header")
[ ${#types[@]} -gt 0 ] || kc_die "$header defines no struct or union"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
	echo "#include \"$header\""
	i=0
	for t in "${types[@]}"; do
		echo "$t kc_uapi_$i;"
		i=$((i + 1))
	done
} >"$work/uapi.c"

errors=0
error() { echo "error: $*"; errors=$((errors + 1)); }
declare -A size
for abi in x86_64 i386; do
	case $abi in
	x86_64) flags=(-m64) ;;
	i386) flags=(-m32 -I/usr/include/x86_64-linux-gnu) ;;
	esac
	if ! gcc "${flags[@]}" -g -O0 -c "$work/uapi.c" -o "$work/$abi.o" \
		>"$work/$abi.log" 2>&1; then
		sed 's/^/  /' "$work/$abi.log"
		error "$abi: the header does not compile"
		continue
	fi
	line="checked $abi:"
	for t in "${types[@]}"; do
		name=${t#* }
		pahole -C "$name" "$work/$abi.o" >"$work/$name.$abi" 2>&1 || true
		s=$(sed -nE 's|^[[:space:]]*/\* size: ([0-9]+),.*|\1|p' "$work/$name.$abi")
		if [ -z "$s" ]; then
			sed 's/^/  /' "$work/$name.$abi"
			error "$abi: pahole finds no $t"
			continue
		fi
		# pahole names every hole and padding: "XXX 4 bytes hole",
		# "XXX 3 bits hole", "padding: 4", "bit_padding: 3", and sums.
		if grep -qiE 'XXX|hole|padding' "$work/$name.$abi"; then
			sed 's/^/  /' "$work/$name.$abi"
			error "$abi: $t has implicit padding: $(grep -iE 'XXX|hole|padding' \
				"$work/$name.$abi" | sed -E 's|^[[:space:]]*/\* *||; s| *\*/$||' |
				paste -sd ';' | sed 's/;/; /g')"
		fi
		if [ -n "${size[$name]:-}" ] && [ "${size[$name]}" != "$s" ]; then
			error "$t is $s bytes on $abi but ${size[$name]} on x86_64"
		fi
		size[$name]=$s
		line+=" $name $s"
	done
	echo "$line"
done
[ "$errors" -eq 0 ]
