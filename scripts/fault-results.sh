#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Read the fault scenarios' results from a test guest's console LOG
# (scripts/guest-faults.sh, booted by scripts/check-faults.sh). Prints one
# check line per scenario, "PASS|FAIL fault NAME: ...", then
# "N passed, N failed".
#
# A scenario passes when the guest said PASS for it, every stress run of it
# (its "kcancel-fault-json" lines: as many as the guest counted, "runs=",
# with the requests it counted, "ops=") submitted requests and lost,
# doubled and got wrong none and had no error (a run with the device removed
# must say so, "removed"; a run under failslab must have seen ENOMEM), and
# the kernel reported nothing (scripts/scan-log.sh) between its start and
# the next scenario's. Reports before the first scenario fail a "fault boot" line.
# Failures of the host's hot-plug agent ("kcancel-agent: ... FAIL", appended
# to LOG by scripts/qemu.sh) fail a "fault qemu agent" line, and a guest
# that did not finish fails a "fault guest" line.
#
# --steps LIST: the steps that must have left results (a comma list of
# removal, hotplug, unload, kill, failslab, hostile, race); a step with no
# scenario fails. --summary FILE: also write the figures as JSON (per
# scenario: verdict, its counts, runs, ops, enodev, enomem, lost, double,
# wrong, seconds; and the kernel, the reports, the guest's time), for
# scripts/soak.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

steps='' summary=''
while [ $# -gt 1 ]; do
	case $1 in
	--steps) steps=$2; shift ;;
	--summary) summary=$2; shift ;;
	*) break ;;
	esac
	shift
done
if [ $# -ne 1 ] || [[ $1 == -* ]]; then
	echo "usage: $0 [--steps removal,hotplug,...] [--summary FILE.json] CONSOLE.LOG" >&2
	exit 2
fi
log=$1
[ -f "$log" ] || kc_die "no console log $log"
command -v python3 >/dev/null ||
	kc_die "python3 is missing; install it with: apt-get install python3"

# The kernel's reports, with their line numbers ('>' lines of scan-log.sh).
reports=$("$KC_TOP/scripts/scan-log.sh" "$log" 2>/dev/null | grep '^>' || true)

PYTHONPATH=$KC_TOP/scripts python3 - "$log" "$steps" "$summary" "$reports" <<'PY'
import json, re, sys
import kc_console

log, steps, summary_path, reports_text = sys.argv[1:5]
steps = [s for s in steps.split(",") if s]
lines = kc_console.lines(log)

begin_re = re.compile(r"kcancel-fault-begin (\S+) at ([\d.]+) s")
result_re = re.compile(r"kcancel-fault (\S+): (PASS|FAIL)\s*(.*?)\s*$")
json_re = re.compile(r"kcancel-fault-json (\S+) (\S+) (.*?): (\{.*|)\s*$")
kv_re = re.compile(r"(?<![^ ])([a-z_]+)=(\S+)")

scen = {}          # name -> dict
order = []
spans = []         # (first line number, name), 1-based
kernel = None
start = end = None


def get(name):
    if name not in scen:
        scen[name] = {"name": name, "verdict": None, "detail": "", "counts": {},
                      "runs": 0, "ops": 0, "enodev": 0, "enomem": 0, "lost": 0,
                      "double": 0, "wrong": 0, "errors": 0, "bad_runs": [],
                      "reports": []}
        order.append(name)
    return scen[name]


def check_run(kind, run, text):
    """The problems of one stress run's JSON line, and the run."""
    try:
        r = json.loads(text)
    except ValueError:
        return [f"{run}: its JSON does not parse"], {}
    bad = [f"{k} {r.get(k)}" for k in ("lost", "double", "wrong_result", "errors")
           if r.get(k, 1) != 0]
    if r.get("submitted", 0) <= 0:
        bad.append("nothing submitted")
    if kind == "removal" and r.get("removed") not in (True,) and \
            not (isinstance(r.get("removed"), int) and r.get("removed") > 0):
        bad.append(f"removed {r.get('removed')}")
    if kind == "enomem" and not r.get("enomem", 0) > 0:
        bad.append(f"enomem {r.get('enomem')}")
    return ([f"{run}: {', '.join(bad)}"] if bad else []), r


done = False
agent_fail = []
for no, line in enumerate(lines, 1):
    m = begin_re.search(line)
    if m:
        get(m.group(1))
        spans.append((no, m.group(1)))
        if start is None:
            start = float(m.group(2))
        continue
    m = json_re.search(line)
    if m:
        s = get(m.group(1))
        bad, r = check_run(m.group(2), m.group(3), m.group(4))
        s["runs"] += 1
        s["ops"] += int(r.get("submitted", 0) or 0)
        for k, key in (("enodev", "enodev"), ("enomem", "enomem"), ("lost", "lost"),
                       ("double", "double"), ("wrong", "wrong_result"),
                       ("errors", "errors")):
            v = r.get(key, 0)
            s[k] += v if isinstance(v, int) else 0
        s["bad_runs"] += bad
        continue
    m = result_re.search(line)
    if m:
        s = get(m.group(1))
        s["verdict"], s["detail"] = m.group(2), m.group(3)
        s["counts"] = {k: int(v) if v.isdigit() else v
                       for k, v in kv_re.findall(m.group(3).split(" - ")[0])}
        continue
    m = re.search(r"kcancel-guest: faults start at [\d.]+ s, kernel ([^,\s]+)", line)
    if m:
        kernel = m.group(1)
    m = re.search(r"kcancel-guest: faults end at ([\d.]+) s", line)
    if m:
        end = float(m.group(1))
    if "kcancel-guest: done" in line:
        done = True
    if re.search(r"kcancel-agent: .* FAIL ", line):
        agent_fail.append(line.split("FAIL ", 1)[1])

# Kernel reports, put down to the scenario that ran when they came.
boot_reports = []
for rl in reports_text.splitlines():
    m = re.match(r">\s*(\d+): (.*)", rl)
    if not m:
        continue
    no, text = int(m.group(1)), m.group(2)
    owner = None
    for first, name in spans:
        if first <= no:
            owner = name
    if owner is None:
        boot_reports.append(text)
    else:
        scen[owner]["reports"].append(text)

results = []  # (ok, line)
for name in order:
    s = scen[name]
    problems = []
    if s["verdict"] is None:
        problems.append("no result (the scenario did not end)")
    elif s["verdict"] == "FAIL":
        problems.append(s["detail"].split(" - ", 1)[1] if " - " in s["detail"]
                        else "the guest says FAIL")
    # The runs that the guest did not already name.
    problems += [b for b in s["bad_runs"]
                 if not (s["verdict"] == "FAIL" and b.split(": ")[0] + ":" in s["detail"])]
    # Every run the guest counted must be in the log, whole.
    for k, what in (("runs", "stress runs"), ("ops", "requests")):
        if k in s["counts"] and s["counts"][k] != s[k]:
            problems.append(f"the guest counts {s['counts'][k]} {what}, "
                            f"its lines here {s[k]}")
    if s["reports"]:
        problems.append(f"{len(s['reports'])} kernel report line(s), first: "
                        f"{s['reports'][0].strip()[:160]}")
    c = s["counts"]
    figures = ", ".join(f"{k} {v}" for k, v in c.items()
                        if k not in ("runs", "ops", "enodev", "enomem", "secs"))
    parts = [figures] if figures else []
    if s["runs"]:
        parts.append(f"{s['runs']} stress runs, {s['ops']} requests")
        if s["enodev"]:
            parts.append(f"enodev {s['enodev']}")
        if s["enomem"]:
            parts.append(f"enomem {s['enomem']}")
        parts.append(f"lost {s['lost']}, double {s['double']}, wrong {s['wrong']}")
    parts.append(f"{c.get('secs', '?')} s")
    summary = ", ".join(parts)
    s["passed"] = not problems
    if problems:
        results.append((False, f"FAIL fault {name}: {'; '.join(problems)} ({summary})"))
    else:
        results.append((True, f"PASS fault {name}: {summary}"))
for step in steps:
    if not any(n == step or n.startswith(step + "-") for n in order):
        results.append((False, f"FAIL fault {step}: no result in the log"))
if boot_reports:
    results.append((False, f"FAIL fault boot: {len(boot_reports)} kernel report line(s) "
                           f"before the first scenario, first: {boot_reports[0].strip()[:160]}"))
if agent_fail:
    results.append((False, f"FAIL fault qemu agent: {'; '.join(agent_fail[:3])}"))
if not done:
    results.append((False, "FAIL fault guest: did not finish ('kcancel-guest: done' is missing)"))

for ok, line in results:
    print(line)
passed = sum(ok for ok, _ in results)
print(f"{passed} passed, {len(results) - passed} failed")

if summary_path:
    keep = ("passed", "verdict", "counts", "runs", "ops", "enodev", "enomem",
            "lost", "double", "wrong", "errors")
    out = {"kernel": kernel, "done": done,
           "guest_seconds": (end - start) if start is not None and end is not None else None,
           "reports": sum(len(s["reports"]) for s in scen.values()) + len(boot_reports),
           "agent_failures": len(agent_fail),
           "passed": passed, "failed": len(results) - passed,
           "scenarios": {n: {k: scen[n][k] for k in keep} for n in order}}
    with open(summary_path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
PY
