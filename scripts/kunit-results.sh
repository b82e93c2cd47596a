#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Read the KUnit results of kcancel_test.ko from the console LOG of a test
# guest with the kernel tree's own parser (tools/testing/kunit/kunit.py parse).
# The results are the KTAP from the last top-level header with a non-empty
# plan ("KTAP version 1", "1..N"): the one KUnit prints when the module loads,
# not the empty one of the kernel's built-in suites at boot. A guest that died
# before a suite ended, or before the last suite, leaves test cases counted as
# failed. Prints one line per suite, then "N passed, N failed", counting test
# cases as the parser does (each parameter of a parameterised case is one
# case; skipped cases are in neither number). Fails unless every case passed.
# The parser's report and JSON are kept beside LOG (NAME-kunit.txt, .json).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ $# -ne 2 ]; then
	echo "usage: $0 KDIR LOG" >&2
	exit 2
fi
kdir=$1 log=$2
[ -f "$log" ] || kc_die "no log $log"
kc_need_pkgs python3
kunit_py=$(kc_srctree "$kdir")/tools/testing/kunit/kunit.py
[ -f "$kunit_py" ] || kc_die "no $kunit_py in the kernel tree of $kdir"

base=$(realpath "${log%.*}")
rc=0
rm -f "$base-kunit.json"
# The console's lines, mended (scripts/kc_console.py), without their printk
# time stamp, from the last header on.
PYTHONPATH=$KC_TOP/scripts python3 -c \
	'import sys, kc_console; print("\n".join(kc_console.lines(sys.argv[1])))' "$log" |
	sed -E 's/^\[ *[0-9]+\.[0-9]+\] //' | awk '
	{ line[NR] = $0 }
	/^1\.\.[1-9][0-9]*$/ && line[NR - 1] ~ /^KTAP version / { start = NR - 1 }
	END { for (i = start; start && i <= NR; i++) print line[i] }' |
	PYTHONDONTWRITEBYTECODE=1 python3 "$kunit_py" parse --json="$base-kunit.json" \
	>"$base-kunit.txt" 2>&1 || rc=$?

[ -f "$base-kunit.json" ] || kc_die "kunit.py parse failed, see $base-kunit.txt"
python3 - "$base-kunit.json" "$rc" "$base-kunit.txt" <<'PY'
import json
import sys

top = json.load(open(sys.argv[1]))
parser_failed, report = sys.argv[2] != "0", sys.argv[3]
# The parser's complaints (a suite without its result line, ...) are in its
# report only.
errors = [line.split("[ERROR] ", 1)[1].strip()
          for line in open(report, errors="replace") if "[ERROR] " in line]
total = {"PASS": 0, "SKIP": 0, "FAIL": 0}


def leaves(group, prefix=""):
    for case in group["test_cases"]:
        yield prefix + case["name"], case["status"]
    for sub in group["sub_groups"]:
        yield from leaves(sub, prefix + sub["name"] + ": ")


for suite in top["sub_groups"]:
    count = {"PASS": 0, "SKIP": 0, "FAIL": 0}
    bad = []
    for name, status in leaves(suite):
        status = status if status in count else "FAIL"
        count[status] += 1
        if status == "FAIL":
            bad.append(name or "(missing: crashed or never ran)")
    verdict = "FAIL" if count["FAIL"] else "PASS" if count["PASS"] else "SKIP"
    line = f"{verdict} kunit {suite['name']}: " \
           f"{count['PASS']} passed, {count['FAIL']} failed"
    print(line + (f", {count['SKIP']} skipped" if count["SKIP"] else ""))
    for name in bad:
        print(f"    not ok {name}")
    for k in total:
        total[k] += count[k]
# A case at the top level is a suite without cases: one that never ran
# (missing from the plan) or one reporting on itself, e.g. skipped.
for case in top["test_cases"]:
    status = case["status"] if case["status"] in total else "FAIL"
    total[status] += 1
    name = case["name"] or "(missing: crashed or never ran)"
    print(f"{status} kunit suite {name}")
if total["PASS"] + total["FAIL"] == 0:
    print(f"FAIL kunit: no test case ran, see {report}")
    total["FAIL"] += 1
elif (errors or parser_failed) and total["FAIL"] == 0:
    # The cases passed, yet the KTAP is incomplete or malformed.
    print(f"FAIL kunit: the KTAP output has errors, see {report}")
    total["FAIL"] += 1
for error in errors:
    print(f"    KTAP error: {error}")
print(f"{total['PASS']} passed, {total['FAIL']} failed")
sys.exit(1 if total["FAIL"] else 0)
PY
