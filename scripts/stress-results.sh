#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Read the kcancel-stress results a test guest printed on its console
# ("kcancel-stress-json BACKEND: {...}" lines, from scripts/guest-kunit.sh)
# and print one check line per run, then "N passed, N failed". A run passes
# when it submitted requests and lost none, completed none twice, got no
# wrong result and no error. With --races, every operation must also have
# seen a cancel win and a completion win.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

races=0
if [ "${1:-}" = --races ]; then
	races=1
	shift
fi
if [ $# -ne 1 ]; then
	echo "usage: $0 [--races] CONSOLE.LOG" >&2
	exit 2
fi
[ -f "$1" ] || kc_die "no console log $1"
command -v python3 >/dev/null ||
	kc_die "python3 is missing; install it with: apt-get install python3"

python3 - "$1" "$races" <<'PY'
import json, re, sys

log, races = sys.argv[1], sys.argv[2] == "1"
passed = failed = 0
pat = re.compile(r"kcancel-stress-json (\S+): (\{.*\})\s*$")
for line in open(log, errors="replace"):
    m = pat.search(line)
    if not m:
        continue
    name = m.group(1)
    try:
        r = json.loads(m.group(2))
    except ValueError as e:
        print(f"FAIL stress {name}: its JSON does not parse ({e})")
        failed += 1
        continue
    bad = [k for k in ("lost", "double", "wrong_result", "errors") if r.get(k, 1)]
    if r.get("submitted", 0) <= 0:
        bad.append("submitted")
    ops = r.get("ops", {})
    if races:
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
    if bad:
        print(f"FAIL stress {name}: {', '.join(bad)}: {summary}")
        failed += 1
    else:
        print(f"PASS stress {name}: {summary}")
        passed += 1
if passed + failed == 0:
    print("FAIL stress: no kcancel-stress result in the log")
    failed += 1
print(f"{passed} passed, {failed} failed")
PY
