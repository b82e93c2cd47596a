#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make soak`: kcancel's fault scenarios at length on the debug kernel
# (scripts/kernel.sh), in parts of one guest boot each
# (scripts/check-faults.sh ... soak): in all 10,000,000 racing requests of
# kcancel-stress (5,000,000 on the edu device, 5,000,000 on a software
# device, alongside), 100 removals of the edu device through sysfs and 100
# of a software device through debugfs, 100 hot-unplugs of the edu device
# (QEMU's device_del/device_add), 100 module unload cycles and 1,000
# SIGKILLs, each under load, plus allocation failures and a hostile device
# in each part; kmemleak scans after every scenario and every kernel report
# fails. About 5 hours on two host cores that run nothing else but light
# loads (10 parts of about 30 minutes; 3 hours on an idle host, more when
# other guests share the cores); --percent 1, one small part, takes 5 to 7
# minutes.
#
# Then it writes RUN/reliability.md with the figures (date, kernel, counts,
# lost, doubled and wrong completions, kernel reports, durations), and, for
# a whole soak (--percent 100), copies it to docs/reliability.md.
#
# Options:
#   --percent P   run P % of the soak (1-100, default 100): fewer parts and
#                 fewer faults in each, for a try
#   --resume DIR  go on with the soak in DIR (a build/soak-DATE): the parts
#                 that finished are kept, the others run again, with the
#                 kcancel.ko and tools built for DIR
# Prints one line per part and a line per figure; the last line is
# "N passed, N failed" (the scenarios of all the parts). Fails if one failed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: $0 [--percent P] [--resume DIR]" >&2
	exit 2
}
percent=100 resume=''
while [ $# -gt 0 ]; do
	case $1 in
	--percent) [ $# -ge 2 ] || usage; percent=$2; shift ;;
	--resume) [ $# -ge 2 ] || usage; resume=$2; shift ;;
	*) usage ;;
	esac
	shift
done
if ! [[ $percent =~ ^[0-9]+$ ]] || [ "$percent" -lt 1 ] || [ "$percent" -gt 100 ]; then
	usage
fi

cd "$KC_TOP"
kc_need_pkgs gcc make libc6-dev liburing-dev python3
kdir=$(scripts/kernel.sh) || kc_die "no debug kernel (scripts/kernel.sh failed, its error is above)"

# The whole soak, and its parts.
T_REQUESTS=10000000 T_REMOVALS=100 T_HOTPLUGS=100 T_UNLOADS=100 T_KILLS=1000 PARTS=10
# ceil(A * B / C)
cdiv() { echo $((($1 * $2 + $3 - 1) / $3)); }
parts=$(cdiv "$PARTS" "$percent" 100)
per() { cdiv "$1" "$percent" $((100 * parts)); }
requests=$(( $(per "$T_REQUESTS") / 2 + $(per "$T_REQUESTS") % 2 ))
removals=$(per "$T_REMOVALS") hotplugs=$(per "$T_HOTPLUGS")
unloads=$(per "$T_UNLOADS") kills=$(per "$T_KILLS")

if [ -n "$resume" ]; then
	run=$(cd "$resume" && pwd -P) || kc_die "no soak directory $resume"
	[ -f "$run/soak.conf" ] || kc_die "$run has no soak.conf: not a soak directory"
	# The run's own figures, whatever --percent says now.
	# shellcheck disable=SC1091
	. "$run/soak.conf"
	kc_log "resuming the soak in $run"
else
	run=$KC_TOP/build/soak-$(date +%Y%m%d-%H%M%S)
	mkdir -p "$run"
	cat >"$run/soak.conf" <<-EOF
	percent=$percent parts=$parts requests=$requests removals=$removals
	hotplugs=$hotplugs unloads=$unloads kills=$kills
	commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo +changes)
	started="$(date -u '+%Y-%m-%d %H:%M UTC')"
	EOF
	# shellcheck disable=SC1091
	. "$run/soak.conf"
fi
ln -sfn "$(basename "$run")" "$KC_TOP/build/soak-last"

# An estimate from the costs seen on the debug kernel under TCG, on a host
# with some load: 1,500 racing requests a second (both devices at once), a
# removal or hot-unplug cycle 12 s, an unload cycle 6 s, a kill round 4 s,
# and 4 minutes a part for the rest (boot, kmemleak, failslab, hostile).
est=$(( (parts * (2 * requests / 1500 + 12 * (2 * removals + hotplugs) +
	6 * unloads + 4 * kills + 240) + 59) / 60 ))
kc_log "soak in $run: $parts part(s) of $((2 * requests)) racing requests, $removals + $removals removals, $hotplugs hot-unplugs, $unloads unload cycles, $kills kills: about $est minutes"

ko=$run/tree/kcancel.ko tools=$run/tree/userspace-test
if [ ! -f "$ko" ] || [ ! -x "$tools/kcancel-stress" ] || [ ! -x "$tools/kcancel-fuzz" ]; then
	kc_log "building kcancel.ko and the tools in $run/tree"
	kc_build_modules "$kdir" "$run/tree" "$run/build.log" ||
		kc_die "kcancel.ko does not build, see $run/build.log"
	make -C "$tools" kcancel-stress kcancel-fuzz >"$run/userspace.log" 2>&1 ||
		kc_die "the tools do not build, see $run/userspace.log"
fi

wall=$SECONDS
for i in $(seq 1 "$parts"); do
	part=$run/part-$(printf %02d "$i")
	if [ -f "$part/summary.json" ] && grep -q '"done": true' "$part/summary.json"; then
		kc_log "part $i of $parts: done already"
		continue
	fi
	rm -rf "$part"
	mkdir -p "$part"
	kc_log "part $i of $parts"
	t=$SECONDS
	KCANCEL_FAULT_STEPS=race,removal,hotplug,unload,kill,failslab,hostile \
	KCANCEL_FAULT_REQUESTS=$requests KCANCEL_FAULT_REMOVALS=$removals \
	KCANCEL_FAULT_HOTPLUGS=$hotplugs KCANCEL_FAULT_UNLOADS=$unloads \
	KCANCEL_FAULT_KILLS=$kills \
		scripts/check-faults.sh --ko "$ko" "$kdir" "$tools" "$part" soak \
		>"$part/check.out" 2>"$part/check.err" || true
	echo $((SECONDS - t)) >"$part/wall-seconds"
	echo "part $i of $parts in $((SECONDS - t)) s: $(tail -n 1 "$part/check.out")"
	grep '^FAIL' "$part/check.out" || true
done
kc_log "soak parts ran for $((SECONDS - wall)) s (this time)"

rc=0
python3 - "$run" "${run#"$KC_TOP"/}" <<'PY' || rc=$?
import glob, json, os, re, subprocess, sys, time

run, shown = sys.argv[1:3]
conf = {}
for line in open(os.path.join(run, "soak.conf")):
    for m in re.finditer(r'(\w+)=("[^"]*"|\S+)', line):
        conf[m.group(1)] = m.group(2).strip('"')
parts = sorted(glob.glob(os.path.join(run, "part-*")))
expected = int(conf["parts"])
tot = {k: 0 for k in ("ops", "race_ops", "removals_edu", "removals_sim", "unplugs",
                      "plugs", "unloads", "refused", "kills", "storms", "spurious",
                      "enodev", "enomem", "lost", "double", "wrong", "reports",
                      "agent_failures", "passed", "failed", "runs")}
guest = wall = 0.0
kernels, failures, missing, finished = set(), [], [], 0
for p in parts:
    sf = os.path.join(p, "summary.json")
    if not os.path.exists(sf):
        missing.append(os.path.basename(p))
        continue
    s = json.load(open(sf))
    if not s.get("done"):
        missing.append(os.path.basename(p))
    else:
        finished += 1
    if s.get("kernel"):
        kernels.add(s["kernel"])
    guest += s.get("guest_seconds") or 0
    try:
        wall += float(open(os.path.join(p, "wall-seconds")).read())
    except (OSError, ValueError):
        pass
    tot["reports"] += s.get("reports", 0)
    tot["agent_failures"] += s.get("agent_failures", 0)
    tot["passed"] += s.get("passed", 0)
    tot["failed"] += s.get("failed", 0)
    for name, sc in s["scenarios"].items():
        c = sc.get("counts", {})
        for k in ("ops", "runs", "enodev", "enomem", "lost", "double", "wrong"):
            tot[k] += sc.get(k, 0)
        if name == "race":
            tot["race_ops"] += sc.get("ops", 0)
        if name == "removal-edu":
            tot["removals_edu"] += c.get("removals", 0)
        if name == "removal-sim":
            tot["removals_sim"] += c.get("removals", 0)
        for k in ("unplugs", "plugs", "unloads", "refused", "kills", "storms", "spurious"):
            tot[k] += c.get(k, 0)
        if not sc.get("passed"):
            failures.append(f"{os.path.basename(p)} {name}")
    for line in open(os.path.join(p, "check.out"), errors="replace"):
        if line.startswith("FAIL") and not any(line.startswith(f"FAIL fault {n}")
                                               for n in s["scenarios"]):
            failures.append(f"{os.path.basename(p)}: {line.strip()}")
missing += [f"part-{i:02d}" for i in range(len(parts) + 1, expected + 1)]
complete = not missing and len(parts) >= expected
ok = complete and not failures and tot["failed"] == 0

qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                      text=True).stdout.splitlines()[:1]
host = f"{os.cpu_count()} CPUs"


def n(v):
    return f"{v:,}"


pct = int(conf["percent"])
lines = [
    "# kcancel reliability: the soak",
    "",
    f"`make soak` (`scripts/soak.sh`{'' if pct == 100 else f' --percent {pct}'}), "
    f"started {conf.get('started', '?')}, finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
    f"**{'PASS' if ok else 'FAIL'}**.",
    "",
    f"- kernel: the debug kernel of `scripts/kernel.sh` ({', '.join(sorted(kernels)) or '?'}: "
    "KASAN, lockdep, kmemleak, DEBUG_OBJECTS, DEBUG_LIST, fault injection), "
    f"in QEMU TCG with two vCPUs ({qemu[0] if qemu else 'QEMU'}), host with {host}",
    f"- kcancel: {conf.get('commit', '?')}",
    f"- {finished} of {expected} part(s) finished"
    f"{'' if complete else ' (the soak is not complete: scripts/soak.sh --resume)'}; "
    f"guest time {guest / 3600:.1f} h, wall time {wall / 3600:.1f} h",
    "",
    "| what | count |",
    "|---|---|",
    f"| racing stress requests (race step, edu and software device at once) | {n(tot['race_ops'])} |",
    f"| stress requests in all (every run of every scenario) | {n(tot['ops'])} in {n(tot['runs'])} runs |",
    f"| edu removals through sysfs, under load | {n(tot['removals_edu'])} |",
    f"| software device removals through debugfs, under load | {n(tot['removals_sim'])} |",
    f"| edu hot-unplugs (device_del), under load / hot-plugs (device_add) | {n(tot['unplugs'])} / {n(tot['plugs'])} |",
    f"| module unloads / rmmod refused while in use | {n(tot['unloads'])} / {n(tot['refused'])} |",
    f"| processes killed with SIGKILL | {n(tot['kills'])} |",
    f"| spurious status bits stormed / counted by the driver | {n(tot['storms'])} writes / {n(tot['spurious'])} |",
    f"| requests ended -ENODEV by a removal | {n(tot['enodev'])} |",
    f"| submits failed -ENOMEM by fault injection | {n(tot['enomem'])} |",
    f"| **lost completions** | **{n(tot['lost'])}** |",
    f"| **doubled completions** | **{n(tot['double'])}** |",
    f"| **wrong results** | **{n(tot['wrong'])}** |",
    f"| **kernel reports** (BUG, WARNING, KASAN, lockdep, kmemleak, hung task, ...) | **{n(tot['reports'])}** |",
    f"| scenarios passed / failed | {n(tot['passed'])} / {n(tot['failed'])} |",
    "",
]
if failures or missing:
    lines += ["Failures:", ""] + [f"- {f}" for f in failures] + \
             [f"- {m}: did not finish" for m in missing] + [""]
lines += [
    "Each part is one boot of the guest (`scripts/check-faults.sh ... soak`, "
    "`scripts/guest-faults.sh`); its console and results are in "
    f"`{shown}/part-NN/`.",
    "",
]
md = "\n".join(lines)
open(os.path.join(run, "reliability.md"), "w").write(md)
json.dump({"ok": ok, "complete": complete, "totals": tot, "guest_seconds": guest,
           "wall_seconds": wall, "failures": failures, "missing": missing},
          open(os.path.join(run, "soak.json"), "w"), indent=1)
print(md)
print(f"{tot['passed']} passed, {tot['failed'] + len(missing)} failed")
sys.exit(0 if ok else 1 if complete else 3)
PY
# A whole soak that finished goes to docs/, passed or not.
if [ "$rc" -ne 3 ] && [ "$percent" -eq 100 ]; then
	cp "$run/reliability.md" docs/reliability.md
	kc_log "wrote docs/reliability.md"
fi
[ "$rc" -eq 0 ]
