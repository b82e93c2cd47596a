#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make soak`: kcancel's races and fault scenarios at length, in guest
# boots of scripts/check-faults.sh ... soak:
#   part 01   on Debian's stock 6.12 kernel (scripts/stock-kernel.sh):
#             10,000,000 racing requests of kcancel-stress, all submit paths
#             at once: 1,000,000 on the edu device and 3,000,000 on each of
#             three software devices, through KCANCEL_IOC_SUBMIT and read(),
#             KCANCEL_IOC_BATCH and io_uring (the race step); then 600
#             SIGKILLs (the kill step, in rounds of 8 processes)
#   part 02+  on the debug kernel (scripts/kernel.sh: KASAN, lockdep,
#             kmemleak, fault injection), in two boots: 100 removals of the
#             edu device through sysfs and 20 of a software device through
#             debugfs, 100 hot-unplugs of the edu device (QEMU's
#             device_del/device_add), 100 module unload cycles and 400
#             SIGKILLs, each under load, plus allocation failures and a
#             hostile device in each boot; kmemleak scans after every
#             scenario
# Every kernel report fails. About an hour on two host cores that run
# nothing else; --percent 5 takes about 7.
#
# Then it writes RUN/reliability.md with the figures (date, kernels, counts,
# lost, doubled and wrong completions, kernel reports, durations), and, for
# a whole soak (--percent 100), copies it to docs/reliability.md.
#
# Options:
#   --percent P   run P % of the soak (1-100, default 100): fewer requests
#                 and faults, in fewer boots, for a try
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
stock=$(scripts/stock-kernel.sh 6.12-amd64) ||
	kc_die "no stock 6.12 kernel (scripts/stock-kernel.sh failed, its error is above)"
stock_kdir=$(sed -n 's/^KDIR=//p' <<<"$stock")
stock_image=$(sed -n 's/^BZIMAGE=//p' <<<"$stock")

# The whole soak: racing requests (a tenth on the edu device, the rest
# shared by three software devices), and the faults, shared by FPARTS boots
# of the debug kernel.
T_REQUESTS=10000000 T_REMOVALS=100 T_SIM_REMOVALS=20 T_HOTPLUGS=100 T_UNLOADS=100
T_KILLS=1000 T_DEBUG_KILLS=400 FPARTS=2
# ceil(A * B / C)
cdiv() { echo $((($1 * $2 + $3 - 1) / $3)); }
fparts=$(cdiv "$FPARTS" "$percent" 100)
parts=$((fparts + 1))
per() { cdiv "$1" "$percent" $((100 * fparts)); }
edu_requests=$(cdiv "$T_REQUESTS" "$percent" 1000)
requests=$(cdiv "$T_REQUESTS" $((9 * percent)) 3000)
removals=$(per "$T_REMOVALS") sim_removals=$(per "$T_SIM_REMOVALS")
hotplugs=$(per "$T_HOTPLUGS") unloads=$(per "$T_UNLOADS")
kills=$(per "$T_DEBUG_KILLS")
stock_kills=$(cdiv $((T_KILLS - T_DEBUG_KILLS)) "$percent" 100)

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
	percent=$percent parts=$parts requests=$requests edu_requests=$edu_requests
	removals=$removals sim_removals=$sim_removals hotplugs=$hotplugs
	unloads=$unloads kills=$kills stock_kills=$stock_kills
	commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo +changes)
	started="$(date -u '+%Y-%m-%d %H:%M UTC')"
	EOF
	# shellcheck disable=SC1091
	. "$run/soak.conf"
fi
ln -sfn "$(basename "$run")" "$KC_TOP/build/soak-last"

# An estimate from the costs seen under TCG on an idle host: 30,000 racing
# requests a second and a kill 0.3 s on the stock kernel; on the debug
# kernel a removal or hot-unplug cycle 6 s (7 s for a software device), an
# unload cycle 6 s, a kill 1.2 s, and 4 minutes a boot for the rest (boot,
# kmemleak, failslab, hostile).
est=$(( ((edu_requests + 3 * requests) / 30000 + 3 * stock_kills / 10 + 60 +
	(parts - 1) * (6 * (removals + hotplugs + unloads) + 7 * sim_removals +
		12 * kills / 10 + 240) + 59) / 60 ))
kc_log "soak in $run: $((edu_requests + 3 * requests)) racing requests and $stock_kills kills; $((parts - 1)) boot(s) of $removals + $sim_removals removals, $hotplugs hot-unplugs, $unloads unload cycles, $kills kills: about $est minutes"

tools=$run/tree/userspace-test
build() {
	[ -f "$2/kcancel.ko" ] && return 0
	kc_log "building kcancel.ko in $2"
	kc_build_modules "$1" "$2" "$2.log" || kc_die "kcancel.ko does not build, see $2.log"
}
build "$kdir" "$run/tree"
build "$stock_kdir" "$run/tree-stock"
if [ ! -x "$tools/kcancel-stress" ] || [ ! -x "$tools/kcancel-fuzz" ]; then
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
	t=$SECONDS
	if [ "$i" = 1 ]; then
		kc_log "part 1 of $parts: racing requests and kills on the stock kernel"
		echo "Debian's stock kernel: racing requests, kills" >"$part/what"
		KCANCEL_FAULT_STEPS=race,kill KCANCEL_FAULT_REQUESTS=$requests \
		KCANCEL_FAULT_EDU_REQUESTS=$edu_requests \
		KCANCEL_FAULT_KILLS=$stock_kills KCANCEL_FAULT_KILL_BURST=8 \
			scripts/check-faults.sh --ko "$run/tree-stock/kcancel.ko" \
			--kernel "$stock_image" "$stock_kdir" "$tools" "$part" soak \
			>"$part/check.out" 2>"$part/check.err" || true
	else
		kc_log "part $i of $parts: faults on the debug kernel"
		echo "the debug kernel: removals, hot-unplugs, unloads, kills, failslab, hostile" >"$part/what"
		KCANCEL_FAULT_STEPS=removal,hotplug,unload,kill,failslab,hostile \
		KCANCEL_FAULT_REMOVALS=$removals KCANCEL_FAULT_SIM_REMOVALS=$sim_removals \
		KCANCEL_FAULT_HOTPLUGS=$hotplugs \
		KCANCEL_FAULT_UNLOADS=$unloads KCANCEL_FAULT_KILLS=$kills \
		KCANCEL_FAULT_KILL_BURST=8 \
			scripts/check-faults.sh --ko "$run/tree/kcancel.ko" "$kdir" \
			"$tools" "$part" soak >"$part/check.out" 2>"$part/check.err" || true
	fi
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
failures, missing, finished, rows = [], [], 0, []


def mins(secs):
    return f"{secs:.0f} s" if secs < 120 else f"{secs / 60:.0f} min"


for p in parts:
    sf = os.path.join(p, "summary.json")
    what = open(os.path.join(p, "what")).read().strip() if os.path.exists(
        os.path.join(p, "what")) else "?"
    try:
        pwall = float(open(os.path.join(p, "wall-seconds")).read())
    except (OSError, ValueError):
        pwall = 0.0
    wall += pwall
    if not os.path.exists(sf):
        missing.append(os.path.basename(p))
        rows.append(f"| {os.path.basename(p)} | {what} | ? | did not finish | |")
        continue
    s = json.load(open(sf))
    if not s.get("done"):
        missing.append(os.path.basename(p))
    else:
        finished += 1
    guest += s.get("guest_seconds") or 0
    rows.append(f"| {os.path.basename(p)} | {what} | {s.get('kernel') or '?'} | "
                f"{s.get('passed', 0)} passed, {s.get('failed', 0)} failed, "
                f"{s.get('reports', 0)} kernel reports | {mins(pwall)} |")
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
    f"- QEMU TCG with two vCPUs and `-device edu` ({qemu[0] if qemu else 'QEMU'}), host with {host}",
    f"- kcancel: {conf.get('commit', '?')}",
    f"- {finished} of {expected} part(s) finished"
    f"{'' if complete else ' (the soak is not complete: scripts/soak.sh --resume)'}; "
    f"guest time {guest / 3600:.1f} h, wall time {wall / 3600:.1f} h",
    "",
    "| part | kernel: what | release | scenarios | wall time |",
    "|---|---|---|---|---|",
] + rows + [
    "",
    "The racing requests and 60 % of the kills run on Debian's stock kernel, where "
    "kcancel-stress runs many times faster than on the debug kernel; the other faults "
    "and 40 % of the kills run on the debug kernel of `scripts/kernel.sh` (KASAN, "
    "lockdep, kmemleak, DEBUG_OBJECTS, DEBUG_LIST, fault injection), kmemleak scanning "
    "after each scenario. Every kernel report (BUG, WARNING, KASAN, lockdep, "
    "kmemleak, hung task) fails its scenario on either kernel.",
    "",
    "| what | count |",
    "|---|---|",
    f"| racing stress requests (race step: the edu device and three software devices, through SUBMIT, BATCH and io_uring, at once) | {n(tot['race_ops'])} |",
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
