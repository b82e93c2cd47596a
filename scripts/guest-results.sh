#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Read what the user-space tools printed in a test guest's console LOG
# (scripts/guest-check.sh): "kcancel-stress-json NAME: {...}",
# "kcancel-selftest-totals NAME: rc N # Totals: ..." and
# "kcancel-fuzz-json NAME: {...}" and "kcancel-trace-json NAME: {...}" lines.
# Prints one check line per run, then "N passed, N failed".
#
# A stress run passes when it submitted requests and lost none, completed
# none twice, got no wrong result and no error; with --races, every operation
# must also have seen a cancel win and a completion win (but on the device of
# no latency, runs named "-now", where no cancel can win). A selftest run
# passes when the tool exited 0, ran tests and none failed. A fuzz run passes
# when it made calls, did not fail, and saw no undocumented errno or status,
# no wrong outcome, no bad and no lost event. A trace run passes when every
# kind of kcancel event was seen, each request submitted had exactly one
# completion (and none completed that was not submitted), a cancel won at
# least once, and the ring buffer lost nothing; and the device's debugfs
# counters agree (completions, cancel wins, nothing in flight) or saw what
# the run did (a late cancel, a high-water mark).
# --steps LIST (a comma list of stress, selftest, fuzz, trace) names the steps that
# must have left results: a step with none fails.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

races=0 steps=stress
while [ $# -gt 1 ]; do
	case $1 in
	--races) races=1 ;;
	--steps) steps=$2; shift ;;
	*) break ;;
	esac
	shift
done
if [ $# -ne 1 ] || [[ $1 == -* ]]; then
	echo "usage: $0 [--races] [--steps stress,selftest,fuzz,trace] CONSOLE.LOG" >&2
	exit 2
fi
[ -f "$1" ] || kc_die "no console log $1"
command -v python3 >/dev/null ||
	kc_die "python3 is missing; install it with: apt-get install python3"

PYTHONPATH=$KC_TOP/scripts python3 - "$1" "$races" "$steps" <<'PY'
import json, re, sys
import kc_console

log, races, steps = sys.argv[1], sys.argv[2] == "1", sys.argv[3].split(",")
results = []          # (passed, line)
seen = {s: 0 for s in steps}


def stress(name, text):
    r = json.loads(text)
    bad = [k for k in ("lost", "double", "wrong_result", "errors") if r.get(k, 1)]
    if r.get("submitted", 0) <= 0:
        bad.append("submitted")
    ops = r.get("ops", {})
    # A device of no latency ends each request inside its submit: no
    # cancel can win there ("-now" runs of scripts/guest-check.sh).
    if races and "-now" not in name:
        for op, c in sorted(ops.items()):
            if c.get("submitted", 0) and not (c.get("cancel_won", 0) > 0 and
                                               c.get("completion_won", 0) > 0):
                bad.append(f"{op} races")
    won = ", ".join(f"{op} {c.get('cancel_won', 0)}/{c.get('completion_won', 0)}"
                    for op, c in sorted(ops.items()))
    summary = (f"submitted {r.get('submitted')}, lost {r.get('lost')}, "
               f"double {r.get('double')}, wrong {r.get('wrong_result')}, "
               f"errors {r.get('errors')}, {r.get('ops_per_sec')} ops/s; "
               f"cancel/completion won: {won}")
    return bad, summary


def selftest(name, text):
    m = re.match(r"rc (\d+) # Totals: pass:(\d+) fail:(\d+) xfail:(\d+) "
                 r"xpass:(\d+) skip:(\d+) error:(\d+)", text)
    if not m:
        return ["no totals"], text
    rc, p, f, xf, xp, sk, err = map(int, m.groups())
    bad = [k for k, v in (("exit status", rc), ("failed", f), ("xpass", xp),
                          ("error", err)) if v]
    if p == 0:
        bad.append("nothing passed")
    return bad, f"{p} passed, {f} failed, {sk} skipped"


def fuzz(name, text):
    r = json.loads(text)
    bad = [k for k in ("undocumented", "wrong", "bad_events", "lost")
           if r.get(k, 1)]
    if r.get("calls", 0) <= 0:
        bad.append("calls")
    if r.get("failed", True):
        bad.append("failed")
    ev = r.get("events", {})
    events = sum(v for k, v in ev.items() if isinstance(v, int))
    return bad, (f"{r.get('calls')} calls, {r.get('calls_per_sec')} calls/s, "
                 f"{r.get('undocumented')} undocumented, {r.get('wrong')} wrong, "
                 f"{r.get('lost')} lost, {events} events, seed {r.get('seed')}")


TRACE_EVENTS = ("submit", "mark", "unmark", "send", "irq", "dpc", "cancel",
                "file_cancel", "complete")


def trace(name, text):
    r = json.loads(text)
    ev = r.get("events", {})
    bad = [f"no {e} event" for e in TRACE_EVENTS if not ev.get(e)]
    if r.get("ids", 0) <= 0:
        bad.append("no request")
    if r.get("unmatched", 1):
        bad.append(f"{r.get('unmatched')} request(s) without exactly one completion")
    if r.get("overrun", 1):
        bad.append(f"{r.get('overrun')} event(s) lost")
    if not r.get("cancel_won"):
        bad.append("no cancel won")
    st = r.get("stats", {})
    for k, want in (("completed", r.get("ids")), ("cancel_won", r.get("cancel_won")),
                    ("in_flight", 0)):
        if st.get(k) != want:
            bad.append(f"debugfs {k} {st.get(k)}, the trace says {want}")
    for k in ("completion_won", "in_flight_max"):
        if not st.get(k):
            bad.append(f"debugfs {k} 0")
    return bad, (f"{r.get('ids')} requests traced, {r.get('cancel_won')} won by a cancel, "
                 + ", ".join(f"{e} {ev.get(e, 0)}" for e in TRACE_EVENTS)
                 + f"; debugfs: completed {st.get('completed')}, cancel won "
                 f"{st.get('cancel_won')}, late cancels {st.get('completion_won')}, "
                 f"in flight {st.get('in_flight')} (at most {st.get('in_flight_max')})")


kinds = {"stress-json": ("stress", stress), "selftest-totals": ("selftest", selftest),
         "fuzz-json": ("fuzz", fuzz), "trace-json": ("trace", trace)}
pat = re.compile(r"kcancel-(stress-json|selftest-totals|fuzz-json|trace-json) (\S+): (.*?)\s*$")
for line in kc_console.lines(log):
    m = pat.search(line)
    if not m:
        continue
    kind, fn = kinds[m.group(1)]
    name = m.group(2)
    seen[kind] = seen.get(kind, 0) + 1
    try:
        bad, summary = fn(name, m.group(3))
    except ValueError as e:
        bad, summary = ["unreadable"], f"its result does not parse ({e})"
    verdict = "FAIL" if bad else "PASS"
    detail = f"{', '.join(bad)}: " if bad else ""
    results.append((not bad, f"{verdict} {kind} {name}: {detail}{summary}"))
for kind in steps:
    if not seen.get(kind):
        results.append((False, f"FAIL {kind}: no result in the log"))
for ok, line in results:
    print(line)
passed = sum(ok for ok, _ in results)
print(f"{passed} passed, {len(results) - passed} failed")
PY
