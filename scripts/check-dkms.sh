#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# kcancel installed as a driver: the DKMS package (dkms.conf, `make
# dkms-install`, `make dkms-uninstall`), what `modinfo` tells of the module,
# and the udev rule of /dev/kcancelN, checked against an installed headers
# package: Debian 12's own kernel headers (linux-headers-amd64, the 6.1
# series), installed with apt-get if they are missing, as a driver's user
# would; DKMS builds against /lib/modules/RELEASE/build. KCANCEL_DKMS_KERNEL
# names a stock kernel of scripts/stock-kernel.sh instead (6.12-amd64, ...),
# whose headers are unpacked into the cache rather than installed, since
# the 6.12 headers packages depend on their kernel image.
#
# A copy of the work tree, whose VERSION is made unique, goes through `make
# dkms-install` and `make dkms-uninstall` with DKMS's trees (sources,
# dkms_tree, the installed modules) and its module signing key in a
# temporary directory, so that neither /usr/src, /var/lib/dkms nor
# /lib/modules, nor an installed kcancel, is touched. The checks:
#
#   dkms install    the package is added, built for the stock release and
#                   installed into updates/dkms, kcancel.ko alone
#   dkms vermagic   the module's vermagic is the stock release's
#   dkms modinfo    author, description, license GPL, the package's version,
#                   the edu PCI alias, and every module_param of module/*.c
#                   with a description that gives its default
#   dkms uninstall  nothing of the package is left
#   dkms udev rule  udev/60-kcancel.rules: `udevadm verify` where udev has it
#                   (systemd 254 on), and always kcancel's own reading of it:
#                   the rule syntax of udev(7), and a rule that gives
#                   /dev/kcancelN group-only access
#
# Prints one "PASS dkms ..." or "FAIL dkms ..." line per check, then, last,
# "N passed, N failed"; fails if any check did. Logs go to LOGDIR (default
# build/dkms). Needs root (dkms does).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ $# -gt 1 ] || [[ ${1:-} == -* ]]; then
	echo "usage: $0 [LOGDIR]   (environment: KCANCEL_DKMS_KERNEL, e.g. 6.12-amd64)" >&2
	exit 2
fi
logdir=${1:-$KC_TOP/build/dkms}
mkdir -p "$logdir"
logdir=$(cd "$logdir" && pwd)
flavour=${KCANCEL_DKMS_KERNEL:-}
rules=$KC_TOP/udev/60-kcancel.rules

passed=0 failed=0
# check PASS|FAIL NAME... - one check's line and count.
check() {
	echo "$1 dkms ${*:2}"
	if [ "$1" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
finish() {
	echo "$passed passed, $failed failed"
	exit $((failed > 0))
}

[ "$(id -u)" -eq 0 ] || kc_die "dkms needs root: run sudo $0"
kc_need_pkgs dkms kmod openssl git make gcc

# udev_syntax FILE - kcancel's reading of a udev rules file, as udev(7)
# (systemd 252) defines it: a rule is a line of comma-separated KEY or
# KEY{ATTR}, an operator and a double-quoted value; match keys take == and
# !=, assignments =, +=, -= and :=; a rule has a match and an assignment.
# Then the rules of kcancel: one rule matches SUBSYSTEM "misc" and names
# kcancel0, kcancel7 and kcancel12 but neither kcancel nor kcancelx, and gives
# them a GROUP and a MODE with no access for others. Prints what is wrong, one
# line each; fails if anything is.
udev_syntax() {
	local file=$1 n=0 line rest key op val bad=0 has_match has_assign
	local sub kern group mode good=0 name p pat pats ok
	local -A match_keys=([ACTION]=1 [DEVPATH]=1 [KERNEL]=1 [KERNELS]=1
		[SUBSYSTEM]=1 [SUBSYSTEMS]=1 [DRIVER]=1 [DRIVERS]=1 [ATTRS]=1
		[TAGS]=1 [CONST]=1 [TEST]=1 [PROGRAM]=1 [RESULT]=1 [NAME]=1
		[SYMLINK]=1 [ATTR]=1 [SYSCTL]=1 [ENV]=1 [TAG]=1 [IMPORT]=1)
	local -A assign_keys=([NAME]=1 [SYMLINK]=1 [OWNER]=1 [GROUP]=1 [MODE]=1
		[SECLABEL]=1 [ATTR]=1 [SYSCTL]=1 [ENV]=1 [TAG]=1 [RUN]=1 [LABEL]=1
		[GOTO]=1 [IMPORT]=1 [OPTIONS]=1)
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		[[ $line =~ ^[[:space:]]*(#|$) ]] && continue
		if [[ $line == *\\ ]]; then
			echo "$file:$n: a continued line"
			bad=1
			continue
		fi
		rest=$line has_match=0 has_assign=0 sub='' kern='' group='' mode=''
		while [ -n "$rest" ]; do
			if ! [[ $rest =~ ^[[:space:]]*([A-Z_]+)(\{[^}]+\})?[[:space:]]*(==|!=|\+=|-=|:=|=)[[:space:]]*\"([^\"]*)\"[[:space:]]*(,(.*))?$ ]]; then
				echo "$file:$n: not KEY OP \"VALUE\": $rest"
				bad=1
				break
			fi
			key=${BASH_REMATCH[1]} op=${BASH_REMATCH[3]}
			val=${BASH_REMATCH[4]} rest=${BASH_REMATCH[6]}
			[ -n "${BASH_REMATCH[5]}" ] && [ -z "$rest" ] &&
				{ echo "$file:$n: a comma ends the rule"; bad=1; }
			case $op in
			== | !=)
				[ -n "${match_keys[$key]:-}" ] ||
					{ echo "$file:$n: $key is not a match key"; bad=1; }
				has_match=1 ;;
			*)
				[ -n "${assign_keys[$key]:-}" ] ||
					{ echo "$file:$n: $key cannot be assigned"; bad=1; }
				has_assign=1 ;;
			esac
			case $key$op in
			SUBSYSTEM==) sub=$val ;;
			KERNEL==) kern=$val ;;
			GROUP=* | GROUP:=*) group=$val ;;
			MODE=* | MODE:=*) mode=$val ;;
			esac
		done
		[ "$has_match" -eq 1 ] && [ "$has_assign" -eq 1 ] ||
			{ echo "$file:$n: a rule needs a match and an assignment"; bad=1; }
		[ "$sub" = misc ] && [ -n "$kern" ] || continue
		# KERNEL is a shell glob, alternatives separated by |.
		ok=1
		for name in kcancel0 kcancel7 kcancel12 kcancel kcancelx; do
			p=0
			IFS='|' read -ra pats <<<"$kern"
			for pat in "${pats[@]}"; do
				# shellcheck disable=SC2053
				[[ $name == $pat ]] && p=1
			done
			case $name in
			kcancel[0-9]*) [ "$p" -eq 1 ] || { echo "$file:$n: KERNEL==\"$kern\" misses $name"; ok=0; } ;;
			*) [ "$p" -eq 0 ] || { echo "$file:$n: KERNEL==\"$kern\" matches $name"; ok=0; } ;;
			esac
		done
		if ! [[ $mode =~ ^0?[0-7]{3}$ ]]; then
			echo "$file:$n: MODE \"$mode\" is not an octal mode"
			ok=0
		elif (((8#$mode & 8#007) != 0 || (8#$mode & 8#060) != 8#060)); then
			echo "$file:$n: MODE \"$mode\" is not read-write for the group and nothing for others"
			ok=0
		fi
		[ -n "$group" ] || { echo "$file:$n: no GROUP"; ok=0; }
		[ "$ok" -eq 0 ] || good=1
		[ "$ok" -eq 1 ] || bad=1
	done <"$file"
	[ "$good" -eq 1 ] ||
		{ echo "$file: no rule gives /dev/kcancelN (SUBSYSTEM \"misc\") its GROUP and MODE"; bad=1; }
	[ "$bad" -eq 0 ]
}

kc_log "dkms: udev rule"
{
	if command -v udevadm >/dev/null && udevadm verify --help >/dev/null 2>&1; then
		udevadm verify --resolve-names=never "$rules" &&
			echo "udevadm verify: ok"
	else
		echo "udevadm verify: not run (needs systemd 254 or later; this udev is" \
			"$(udevadm --version 2>/dev/null || echo 'not installed'))"
	fi
} >"$logdir/udev.log" 2>&1 && uv=$? || uv=$?
udev_syntax "$rules" >>"$logdir/udev.log" 2>&1 && us=$? || us=$?
rule=$(grep -vE '^[[:space:]]*(#|$)' "$rules" | head -n 1)
if [ "$uv" -eq 0 ] && [ "$us" -eq 0 ]; then
	check PASS "udev rule: $rule ($(grep -q 'verify: ok' "$logdir/udev.log" &&
		echo 'udevadm verify and the' || echo 'the')" \
		"udev(7) syntax; group-only access)"
else
	cat "$logdir/udev.log" >&2
	check FAIL "udev rule: see $logdir/udev.log"
fi

if [ -z "$flavour" ]; then
	kc_log "dkms: Debian's installed headers (linux-headers-amd64)"
	kc_need_pkgs linux-headers-amd64
	# The meta-package depends on the headers of the current release.
	rel=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 |
		sed -n 's/^linux-headers-\([^ ,]*\).*/\1/p')
	kdir=/lib/modules/$rel/build
	if [ -z "$rel" ] || [ ! -f "$kdir/Makefile" ]; then
		check FAIL "install: linux-headers-amd64 is installed but $kdir is not a kernel build directory"
		finish
	fi
	origin="Debian's installed linux-headers-$rel"
else
	kc_log "dkms: Debian's $flavour headers"
	if ! stock=$("$KC_TOP/scripts/stock-kernel.sh" "$flavour" 2>"$logdir/stock-kernel.log"); then
		cat "$logdir/stock-kernel.log" >&2
		check FAIL "install: no headers of Debian's $flavour, see $logdir/stock-kernel.log"
		finish
	fi
	kdir=$(sed -n 's/^KDIR=//p' <<<"$stock")
	rel=$(sed -n 's/^RELEASE=//p' <<<"$stock")
	origin="Debian's $flavour headers, unpacked"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The work tree's sources (git's tracked and unignored files), as
# kc_build_modules copies them.
mkdir "$tmp/tree"
git -C "$KC_TOP" ls-files -z -co --exclude-standard |
	while IFS= read -r -d '' f; do
		[ ! -f "$KC_TOP/$f" ] || printf '%s\0' "$f"
	done | tar -C "$KC_TOP" --null -T - -cf - | tar -C "$tmp/tree" -xf -
ver="$(cat "$KC_TOP/VERSION")+check.$(date +%s).$$"
echo "$ver" >"$tmp/tree/VERSION"
# DKMS signs the module where the kernel has sign-file: with a throwaway key.
export sign_file=$kdir/scripts/sign-file
# dkms installs only into a kernel whose modules directory is there.
mkdir -p "$tmp/dkms" "$tmp/modules/$rel"
export mok_signing_key=$tmp/mok.key mok_certificate=$tmp/mok.pub
dkms=(DKMS_SOURCE_TREE="$tmp/src"
	DKMS_FLAGS="--dkmstree $tmp/dkms --installtree $tmp/modules --no-depmod"
	DKMS_BUILD_FLAGS="-k $rel --kernelsourcedir $kdir")

kc_log "dkms: make dkms-install of kcancel $ver for $rel"
start=$SECONDS
rc=0
make -C "$tmp/tree" dkms-install "${dkms[@]}" >"$logdir/dkms-install.log" 2>&1 || rc=$?
secs=$((SECONDS - start))
arch=$(uname -m)
built=$tmp/dkms/kcancel/$ver/$rel/$arch
cp "$built/log/make.log" "$logdir/make.log" 2>/dev/null || true
mapfile -t installed < <(cd "$tmp/modules/$rel" 2>/dev/null && find . -type f | sed 's|^\./||' | sort)
mapfile -t modules < <(cd "$built/module" 2>/dev/null && find . -type f | sed 's|^\./||' | sort)
ko=${installed[0]:+$tmp/modules/$rel/${installed[0]}}
suites=$(find "$tmp/src/kcancel-$ver/kunit" -name '*.c' 2>/dev/null | tr '\n' ' ')
if [ "$rc" -ne 0 ]; then
	tail -n 20 "$logdir/dkms-install.log" >&2
	check FAIL "install: make dkms-install failed, see $logdir/dkms-install.log"
elif [ ${#installed[@]} -ne 1 ] || [[ ${installed[0]} != updates/dkms/kcancel.ko* ]] ||
	[ ${#modules[@]} -ne 1 ]; then
	check FAIL "install: DKMS built ${modules[*]:-nothing} and installed" \
		"${installed[*]:-nothing}, not kcancel.ko alone in updates/dkms"
elif [ -n "$suites" ]; then
	check FAIL "install: the package has the KUnit suites: $suites"
else
	signed=$(modinfo -F signer "$ko" 2>/dev/null || true)
	check PASS "install: make dkms-install added, built and installed kcancel/$ver for" \
		"$rel in $secs s: ${installed[0]}${signed:+, signed by \"$signed\"}"
fi

if [ -z "$ko" ]; then
	check FAIL "vermagic: no module"
	check FAIL "modinfo: no module"
else
	modinfo "$ko" >"$logdir/modinfo.txt" 2>&1 || true
	vermagic=$(modinfo -F vermagic "$ko" 2>/dev/null || true)
	if [ "${vermagic%% *}" = "$rel" ]; then
		check PASS "vermagic: ${vermagic% }"
	else
		check FAIL "vermagic: '$vermagic', not of $rel"
	fi

	# What modinfo must tell: each missing or wrong field is a line.
	{
		for f in author description; do
			[ -n "$(modinfo -F "$f" "$ko")" ] || echo "no $f"
		done
		[ "$(modinfo -F license "$ko")" = GPL ] || echo "license is not GPL"
		[ "$(modinfo -F version "$ko")" = "$ver" ] ||
			echo "version '$(modinfo -F version "$ko")', not the package's $ver"
		modinfo -F alias "$ko" | grep -qx 'pci:v00001234d000011E8sv\*sd\*bc\*sc\*i\*' ||
			echo "no alias pci:v00001234d000011E8sv*sd*bc*sc*i* (the edu device)"
		# Every module_param of the sources, described with its default.
		# (Their first argument is the parameter's name.)
		grep -hoE '^[[:space:]]*module_param(_named|_cb|_array|_string|_unsafe)?\([a-z_0-9]+' \
			"$KC_TOP"/module/*.c | sed 's/.*(//' | sort -u >"$tmp/params.src" || true
		modinfo -F parm "$ko" >"$tmp/params.ko" || true
		while IFS= read -r p; do
			desc=$(sed -n "s/^$p:\(.*\) ([a-z]*)\$/\1/p" "$tmp/params.ko")
			if [ -z "$desc" ]; then
				echo "parameter $p has no description"
			elif ! grep -q 'default' <<<"$desc"; then
				echo "parameter $p: its description does not give its default: $desc"
			fi
		done <"$tmp/params.src"
		cut -d: -f1 "$tmp/params.ko" | sort -u | comm -13 "$tmp/params.src" - |
			sed 's/^/parameter not in the sources: /'
	} >"$logdir/modinfo.errors" 2>&1
	if [ -s "$logdir/modinfo.errors" ]; then
		sed 's/^/  /' "$logdir/modinfo.errors" >&2
		check FAIL "modinfo: $(wc -l <"$logdir/modinfo.errors") problem(s), see $logdir/modinfo.errors"
	else
		check PASS "modinfo: author, description, license GPL, version $ver," \
			"alias pci:v00001234d000011E8*, $(wc -l <"$tmp/params.src") parameters" \
			"described with their defaults"
	fi
fi

kc_log "dkms: make dkms-uninstall"
rc=0
make -C "$tmp/tree" dkms-uninstall "${dkms[@]}" >"$logdir/dkms-uninstall.log" 2>&1 || rc=$?
left=$(cd "$tmp" && find src dkms modules -mindepth 1 \
	\( -path 'modules/*' -type f -o -path 'src/*' -prune -o -path 'dkms/*' -prune \) \
	-print 2>/dev/null || true)
if [ "$rc" -ne 0 ]; then
	tail -n 20 "$logdir/dkms-uninstall.log" >&2
	check FAIL "uninstall: make dkms-uninstall failed, see $logdir/dkms-uninstall.log"
elif [ -n "$left" ]; then
	check FAIL "uninstall: make dkms-uninstall left $(tr '\n' ' ' <<<"$left")"
else
	check PASS "uninstall: make dkms-uninstall removed kcancel/$ver and its sources"
fi

finish
