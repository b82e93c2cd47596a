#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make profile`: where the time of a kcancel request goes, sampled with perf
# in one boot of Debian's stock 6.12 kernel (not the debug kernel) in QEMU
# (TCG, two vCPUs, -device edu), as `make bench` runs it.
#
# Builds kcancel.ko, kcfloor.ko (bench/floor) and kcancel-bench (bench/,
# static, with liburing) against the kernel's headers, puts them and the
# host's Debian perf (/usr/bin/perf from linux-perf, with its shared
# libraries: scripts/initramfs.sh --with) in the initramfs, and runs
# scripts/guest-profile.sh in the guest. Each workload (kcancel's batched
# ioctl at depth 64 on the zero-latency software device, from one thread
# and from two on two files, its io_uring path at depth 64 on the same
# device, io_uring's NOP at depth 64, edu doorbells through kcancel and
# through kcfloor.ko) runs twice: under `perf record -a -g -e cpu-clock` for
# a few seconds, reported with `perf report --stdio --no-children --sort
# sym`; then under hist triggers, which count context switches, wake-ups,
# IPIs, idle entries and kcancel's events, and ftrace, whose summary gives
# the mean time from submit to send, send to complete, interrupt to DPC, and
# the time in the interrupt handlers, over a window as long (the counting
# run). TCG has no PMU: cpu-clock samples guest time, which under emulation
# is indicative only.
#
# Prints, per workload, the rate, the top symbols and the share of time in
# idle, kcancel (kc_*), io_uring, syscall entry and exit, the scheduler,
# hrtimers and IRQs, the points where interrupts are enabled again
# (_raw_spin_unlock_irq*, finish_task_switch: under TCG a sampling
# interrupt that came while they were masked lands there, so these stand for
# the masked sections before them, and their callers are listed), locking,
# memory and copies, user space and the rest; each also as guest
# microseconds of CPU (both vCPUs) per request; then the counts per request
# and the trace's summary. Everything is in build/profile-DATE/: the
# console; per workload WORKLOAD.flat.txt (the flat report),
# WORKLOAD.graph.txt (with call chains), WORKLOAD.stat.txt (the counts and
# the trace's summary), WORKLOAD.json and WORKLOAD.counts.json
# (kcancel-bench's lines); summary.txt (what is printed) and summary.json.
#
# Options:
#   --seconds S        the perf record window, and the counting window
#                      (default 3)
#   --extra-seconds S  how much longer kcancel-bench runs than the window
#                      (default 12: perf starts slowly under TCG)
#   --no-counts        no counting run
#   --freq F           samples a second a vCPU (default 1000)
#   --workloads LIST   a comma list of batch,batch2,uring,nop,doorbell,floor,
#                      batch1,nop1 (default all but batch1 and nop1: batch
#                      and nop at depth 1, what one call costs)
#   --top N            symbols printed per workload (default 25)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: $0 [--seconds S] [--extra-seconds S] [--no-counts] [--freq F] [--workloads LIST] [--top N]" >&2
	exit 2
}
seconds=3 extra_seconds=12 counts=1 freq=1000 workloads=batch,batch2,uring,nop,doorbell,floor top=25
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) [ $# -ge 2 ] || usage; seconds=$2; shift ;;
	--extra-seconds) [ $# -ge 2 ] || usage; extra_seconds=$2; shift ;;
	--no-counts) counts=0 ;;
	--freq) [ $# -ge 2 ] || usage; freq=$2; shift ;;
	--workloads) [ $# -ge 2 ] || usage; workloads=$2; shift ;;
	--top) [ $# -ge 2 ] || usage; top=$2; shift ;;
	*) usage ;;
	esac
	shift
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || usage
[[ $extra_seconds =~ ^[1-9][0-9]*$ ]] || usage
[[ $freq =~ ^[1-9][0-9]*$ ]] || usage
[[ $top =~ ^[1-9][0-9]*$ ]] || usage
[[ $workloads =~ ^(batch|batch2|uring|nop|doorbell|floor|batch1|nop1)(,(batch|batch2|uring|nop|doorbell|floor|batch1|nop1))*$ ]] || usage

cd "$KC_TOP"
kc_need_pkgs gcc make libc6-dev liburing-dev python3 qemu-system-x86 linux-perf
perf=/usr/bin/perf
{ [ -x "$perf" ] && "$perf" --version >/dev/null 2>&1; } ||
	kc_die "$perf does not run; reinstall Debian's perf with: sudo apt-get install --reinstall linux-perf"
# Debian's /usr/bin/perf may be the wrapper that picks perf_VERSION by the
# running kernel: the guest needs the binary itself.
if ! head -c 4 "$(readlink -f "$perf")" | grep -q ELF; then
	bin=$(find /usr/bin -maxdepth 1 -name 'perf_[0-9]*' -type f | sort -V | tail -n 1)
	[ -n "$bin" ] || kc_die "$perf is not a program and there is no /usr/bin/perf_VERSION; install linux-perf"
	perf=$bin
fi

run=$KC_TOP/build/profile-$(date +%Y%m%d-%H%M%S)
mkdir -p "$run"
kc_bench_build "$run" profile
bzimage=$KC_BZIMAGE release=$KC_RELEASE
scripts/initramfs.sh --with "$perf=/usr/bin/perf" "$run/initramfs.cpio.gz" \
	scripts/guest-profile.sh "$run/tree/kcancel.ko" \
	"$run/tree/bench/floor/kcfloor.ko" "$run/tree/bench/kcancel-bench" ||
	kc_die "cannot make the initramfs"

log=$run/console.log
kc_log "profile: booting $release, console in $log"
start=$SECONDS
KCANCEL_QEMU_TIMEOUT=${KCANCEL_QEMU_TIMEOUT:-1800} \
	scripts/qemu.sh "$bzimage" "$run/initramfs.cpio.gz" "$log" loglevel=5 \
	kcancel_profile_seconds="$seconds" kcancel_profile_extra_seconds="$extra_seconds" \
	kcancel_profile_counts="$counts" \
	kcancel_profile_freq="$freq" kcancel_profile_workloads="$workloads" ||
	kc_die "the guest did not finish, see $log"
kc_log "profile: the guest ran for $((SECONDS - start)) s"

PYTHONPATH=$KC_TOP/scripts python3 - "$log" "$run" "$top" "$release" "$seconds" "$freq" <<'PY' |
import json, re, sys
import kc_console

log, run, top, release, secs, freq = sys.argv[1:]
top, secs, freq = int(top), int(secs), int(freq)
NCPU = 2

# The categories, first match wins, by a symbol's name ([.] is user space).
CATS = [
    ("idle", r"^(default_idle|default_idle_call|pv_native_safe_halt|native_safe_halt|"
             r"arch_cpu_idle|acpi_idle\w*|acpi_safe_halt|cpuidle\w*|__cpuidle\w*|do_idle|"
             r"cpu_idle_poll|poll_idle|intel_idle\w*|mwait_idle\w*|haltpoll\w*|"
             r"cpu_startup_entry|tick_nohz_idle\w*|amd_e400_idle|halt)$"),
    ("kcancel", r"^(_*kc_|\w*kcancel)"),
    ("kcfloor", r"^\w*kcfloor"),
    ("io_uring", r"^(_*io_(?!schedule)|io_uring|tctx_task_work)"),
    ("IRQ re-enable points", r"^(_raw_spin_unlock_irq|_raw_spin_unlock_irqrestore|"
             r"_raw_write_unlock_irq\w*|_raw_read_unlock_irq\w*|finish_task_switch\S*|"
             r"\w*local_irq_enable\w*|rcu_nocb_unlock_irqrestore\S*)$"),
    ("syscall entry/exit", r"^(entry_SYSCALL\w*|entry_SYSRETQ\w*|do_syscall_64|syscall_exit\w*|"
             r"\w*exit_to_user_mode\w*|syscall_return\w*|__x64_sys_\w+|x64_sys_call|"
             r"__do_sys_\w+|__se_sys_\w+|ksys_\w+|syscall_enter_from_user_mode\w*|"
             r"do_vfs_ioctl|fpregs_\w+|switch_fpu\w*|restore_fpregs\w*|__fdget\w*|fdget\w*|"
             r"fget\w*|fput|__fput\w*|clear_bhb_loop|entry_ibpb|srso_\w+|__x86_return_thunk|"
             r"__x86_indirect_thunk\w*|security_file_ioctl|\w*tomoyo\w*|\w*lsm_file_ioctl|"
             r"hook_file_ioctl|apparmor_file_ioctl)$"),
    ("locking", r"^(_raw_\w*lock\w*|queued_\w*lock\w*|native_queued\w*|__mutex\w*|mutex_\w+|"
             r"down_\w+|up_\w+|rwsem\w*|__down\w*|__up\w*|__pv_queued\w*)$"),
    ("scheduler", r"^(schedule\w*|__schedule|try_to_wake_up|ttwu\w*|\w*enqueue_\w+|\w*dequeue_\w+|"
             r"pick_next\w*|pick_task\w*|pick_eevdf|__switch_to\w*|"
             r"switch_mm\w*|update_curr\w*|update_load_avg|update_cfs\w*|set_next_\w+|put_prev\w*|"
             r"\w*wake_up\w*|autoremove_wake_function|default_wake_function|prepare_to_\w*wait\w*|"
             r"finish_\w*wait|psi_\w+|select_task_rq\w*|select_idle\w*|context_switch|raw_spin_rq\w*|"
             r"sched_\w+|\w*resched\w*|reweight\w*|check_preempt\w*|wakeup_preempt\w*|"
             r"newidle_balance|\w*load_balance\w*|update_rq_clock\w*|kthread\w*|"
             r"\w*wait_for_common\w*|wait_for_completion\w*|complete|complete_all|swake_up\w*|"
             r"task_tick\w*|available_idle_cpu|place_entity|avg_vruntime|__calc_delta\w*|"
             r"cpuacct\w*|account_\w+|vtime\w*|migrate_\w+|set_task_cpu|__smp_call_single_queue|"
             r"flush_smp_call\w*|__flush_smp_call\w*|llist_\w+|update_min_vruntime|"
             r"__update_load_avg\w*|attach_entity\w*|detach_entity\w*|entity_eligible|"
             r"nohz_\w+|cpus_share_cache|worker_thread|process_one_work|"
             r"__kthread_\w+|smpboot_thread_fn|ret_from_fork\w*|hrtick\w*|yield\w*|"
             r"do_sched_yield|mm_cid\w*|__mm_cid\w*|irq_thread\w*|active_load_balance\w*|"
             r"update_sd_lb_stats\S*|update_sg_lb_stats\S*|find_busiest\w*|__cond_resched|"
             r"do_nanosleep|\w*nanosleep\w*)$"),
    ("hrtimer/IRQ", r"^(\w*hrtimer\w*|timerqueue\w*|\w*irq\w*|\w*sysvec\w*|\w*apic\w*|tick_\w+|"
             r"clockevents\w*|ktime_get\w*|\w*IPI\w*|\w*ipi\w*|handle_edge\w*|handle_fasteoi\w*|"
             r"\w*common_interrupt|\w*softirq\w*|run_timer\w*|__run_timers|\w*timer_\w+|"
             r"native_write_msr\w*|native_read_msr\w*|read_tsc|native_sched_clock|sched_clock\w*|"
             r"\w*_interrupt|rcu_\w+|note_gp_changes|perf_\w+|__perf_\w+|calc_global_load\w*|"
             r"update_process_times|update_wall_time|timekeeping_\w+|raise_softirq\w*|"
             r"smp_call_function\w*|generic_exec_single|csd_\w+|send_call_function\w*|"
             r"lock_timer_base|call_timer_fn|schedule_timeout\w*)$"),
    ("memory/copy", r"^(\w*kmem_cache\w*|\w*kfree\w*|\w*kmalloc\w*|__slab\w*|slab_\w+|___slab\w*|"
             r"\w*memcg\w*|\w*obj_cgroup\w*|\w*objcg\w*|memset\w*|memcpy\w*|memmove\w*|"
             r"\w*copy_to_user\w*|\w*copy_from_user\w*|_copy_\w+|rep_movs\w*|rep_stos\w*|"
             r"clear_user\w*|__get_user\w*|__put_user\w*|\w*page\w*|\w*folio\w*|"
             r"get_partial\w*|allocate_slab|__kmem\w*|refill_obj_stock|mod_objcg\w*|"
             r"kvfree|kvmalloc\w*|xa_\w+|xas_\w+|__xa_\w+|idr_\w+)$"),
]
CATS = [(n, re.compile(r)) for n, r in CATS]
CAT_NAMES = [n for n, _ in CATS] + ["user space", "other kernel"]
REENABLE = dict(CATS)["IRQ re-enable points"]


def category(kind, sym):
    if kind == ".":
        return "user space"
    for n, r in CATS:
        if r.search(sym):
            return n
    return "other kernel"


def callers(graph):
    """The first callers of each IRQ re-enable point, from the call-chain
    report: {symbol: [(share, caller), ...]}."""
    res, cur = {}, None
    entry = re.compile(r"^\s*([0-9.]+)%\s+\[(.)\]\s+(.*?)\s*$")
    branch = re.compile(r"^ {12}(?:\|--| --)([0-9.]+)%--(\S+)")
    single = re.compile(r"^ {12}---(\S+)")
    for l in graph:
        m = entry.match(l)
        if m:
            cur = m.group(3) if REENABLE.search(m.group(3)) else None
            if cur:
                res[cur] = {"share": float(m.group(1)), "callers": []}
            continue
        if not cur:
            continue
        m = branch.match(l)
        if m:
            res[cur]["callers"].append((float(m.group(1)), m.group(2)))
            continue
        m = single.match(l)
        if m and not res[cur]["callers"]:
            res[cur]["callers"].append((res[cur]["share"], m.group(1)))
    return res


data, marks = {}, []
pat = re.compile(r"^kcancel-profile-(\w+) (\w+): ?(.*)$")
for line in kc_console.lines(log):
    m = pat.match(line)
    if m:
        kind, wl, rest = m.groups()
        data.setdefault(wl, {}).setdefault(kind, []).append(rest)
    elif line.startswith("kcancel-guest: "):
        marks.append(line)

order = [w for w in ("batch", "batch2", "uring", "nop", "batch1", "nop1",
                     "doorbell", "floor")
         if w in data]
summary = {"release": release, "seconds": secs, "freq": freq, "vcpus": NCPU,
           "workloads": {}}
out = []
flat_re = re.compile(r"^\s*([0-9.]+)%\s+\[(.)\]\s+(.*?)\s*$")
for wl in order:
    d = data[wl]
    for kind, ext in (("flat", "flat.txt"), ("graph", "graph.txt"), ("stat", "stat.txt"),
                      ("json", "json"), ("cjson", "counts.json")):
        if kind in d:
            with open(f"{run}/{wl}.{ext}", "w") as f:
                f.write("\n".join(d[kind]) + "\n")
    res = {}
    try:
        res = json.loads(d.get("json", ["{}"])[-1])
    except ValueError:
        pass
    rate = res.get("ops_per_sec")
    cres = {}
    try:
        cres = json.loads(d.get("cjson", ["{}"])[-1])
    except ValueError:
        pass
    syms, samples, count = [], None, None
    for l in d.get("flat", []):
        m = re.match(r"^# Samples: (\S+)", l)
        if m:
            samples = m.group(1)
        m = re.match(r"^# Event count \(approx\.\): (\d+)", l)
        if m:
            count = int(m.group(1))
        m = flat_re.match(l)
        if m:
            syms.append((float(m.group(1)), m.group(2), m.group(3)))
    shares = {n: 0.0 for n in CAT_NAMES}
    for pct, kind, sym in syms:
        shares[category(kind, sym)] += pct
    stats, busiest, trace = {}, [], []
    for l in d.get("stat", []):
        p = l.split()
        if len(p) == 2 and p[1].isdigit():
            stats[p[0]] = int(p[1])
        elif l.startswith("# "):
            busiest.append(l[2:])
        elif l.startswith("% "):
            trace.append(l[2:])
    win = [x for x in marks if x.startswith(f"kcancel-guest: {wl}: ")]
    w = {"bench": res, "samples": samples, "sampled_ns": count, "shares": shares,
         "top": [{"share": p, "kind": k, "symbol": s} for p, k, s in syms[:top]],
         "counts": stats, "reenable_callers": callers(d.get("graph", [])), "log": win}
    out.append(f"== {wl}: {json.dumps(res)}")
    for x in win:
        out.append("   " + x[len("kcancel-guest: "):])
    def window(what):
        for x in win:
            m = re.search(what + r" from ([0-9.]+) s to ([0-9.]+) s$", x)
            if m:
                return float(m.group(1)), float(m.group(2))
        return None
    for inner, outer, js in (("perf record", "kcancel-bench", res),
                             ("counts", r"kcancel-bench \(counts\)", cres)):
        i, o = window(inner), window(outer)
        if i and o and i[1] > o[0] + float(js.get("seconds", 0)):
            out.append(f"   WARNING: the {inner} window did not end inside kcancel-bench's "
                       "run: raise --extra-seconds")
    if samples:
        cov = f", {count / 1e7 / (secs * NCPU):.0f}% of {NCPU} x {secs} s" if count else ""
        out.append(f"   {samples} samples at {freq} Hz a vCPU{cov}")
    if rate:
        out.append(f"   {rate:,.0f} requests/s; CPU time per request (guest us, both vCPUs):"
                   f" {NCPU * 1e6 / rate:,.1f}, not idle: "
                   f"{NCPU * 1e6 * (100 - shares['idle']) / 100 / rate:,.1f}")
        w["us_per_request"] = {n: NCPU * 1e6 * v / 100 / rate for n, v in shares.items()}
    if not syms:
        out.append("   no perf report (see the console, and the trace file if any)")
    else:
        out.append("   share of time:")
        for n in CAT_NAMES:
            us = f"  ({NCPU * 1e6 * shares[n] / 100 / rate:,.2f} us/request)" if rate else ""
            out.append(f"     {shares[n]:6.2f}%  {n}{us}")
        for sym, c in w["reenable_callers"].items():
            if c["share"] >= 1:
                lst = ", ".join(f"{s} {p:.1f}%" for p, s in c["callers"] if p >= 0.5)
                out.append(f"   {sym} {c['share']:.1f}% from: {lst}")
        out.append(f"   top {top} symbols:")
        for p, k, s in syms[:top]:
            out.append(f"     {p:6.2f}%  [{k}] {s}  ({category(k, s)})")
    if stats:
        cwin = [re.search(r"counts from ([0-9.]+) s to ([0-9.]+) s", x) for x in win]
        cwin = [m for m in cwin if m]
        csecs = (float(cwin[0].group(2)) - float(cwin[0].group(1))) if cwin else secs
        reqs, how = None, None
        for ev in ("kcancel_complete", "io_uring_complete", "irq_handler_entry"):
            if stats.get(ev):
                reqs, how = stats[ev], f"{ev} events"
                break
        if not reqs and rate:
            reqs, how = rate * csecs, "the bench's rate"
        out.append(f"   counts over {csecs:.2f} s (per request: over {how}):")
        for k, v in stats.items():
            per = f"  {v / reqs:8.3f}/request" if reqs else ""
            note = " (going idle and leaving it: half are wake-ups)" if k == "cpu_idle" else ""
            out.append(f"     {v:12,}  {k}{per}{note}")
        if reqs:
            w["requests_in_count_window"] = reqs
            w["per_request"] = {k: v / reqs for k, v in stats.items()}
        w["busiest_tasks"] = busiest
    if trace:
        out.append("   trace of the counting window (us are guest microseconds):")
        out += [f"     {t}" for t in trace]
        w["trace"] = trace
    if cres.get("ops_per_sec"):
        out.append(f"   counting run: {cres['ops_per_sec']:,.0f} requests/s")
        w["counting_bench"] = cres
    summary["workloads"][wl] = w
if not order:
    out.append("no workload reported: see the console")
with open(f"{run}/summary.json", "w") as f:
    json.dump(summary, f, indent=1)
print("\n".join(out))
PY
	tee "$run/summary.txt"
kc_log "profile: reports in $run"
grep -q 'kcancel-guest: FAIL' "$log" && kc_die "a profile step failed, see $log"
exit 0
