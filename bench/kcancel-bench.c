// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-bench: how fast kcancel's paths are, against io_uring's NOP and the
 * raw doorbell of bench/floor/kcfloor.ko.
 *
 * One binary, the mode first: nop, batch, single, uring, cancel, doorbell,
 * floor, memory (see usage_text below and README.md). On success it prints
 * exactly one JSON line on stdout and exits 0; diagnostics go to stderr; a
 * failure (a lost, doubled or wrong completion, a call that failed) exits 1
 * with a message; a bad command line prints the usage and exits 2. A mode
 * the module cannot run (uring without KCANCEL_FEATURE_URING_CMD) prints one
 * JSON line that says why, in "missing", and exits 3.
 *
 * Times are CLOCK_MONOTONIC. The throughput modes count the completions of
 * the whole run, the drain of the requests still in flight at the end
 * included, over the time from the start to the end of that drain.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/kcancel.h>

#include "cli.h"
#include "floor/kcfloor.h"

#define NSEC_PER_MSEC		1000000ULL
#define NSEC_PER_SEC		1000000000ULL

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

/* How long one KCANCEL_IOC_BATCH waits for its first event. */
#define REAP_TIMEOUT_NS		NSEC_PER_SEC
/* Empty reaps in a row, with requests in flight, before they count as lost. */
#define REAP_STALLS		10
/* How long a worker may take to end after the run: else an event is lost. */
#define WATCHDOG_NS		(30 * NSEC_PER_SEC)
/* How long the cancel mode waits for the event of a cancelled request. */
#define CANCEL_EVENT_NS		(10 * NSEC_PER_SEC)
/* How often the main thread looks whether a worker failed. */
#define TICK_NS			(100 * NSEC_PER_MSEC)

#define MAX_SECONDS		86400
#define MAX_THREADS		256
#define MAX_INFLIGHT		1048576		/* max_pending's upper bound */
#define MAX_SAMPLES		1000000
#define MEMORY_REPS		3
#define FLOOR_DEVICE		"/dev/kcfloor"
#define SLABINFO		"/proc/slabinfo"
#define LATENCY_HINT		"is sim_latency_us long enough?"

#define PROG			"kcancel-bench"

/* What a mode's run returns when the module lacks what it needs. */
#define MODE_UNSUPPORTED	1
/* The exit status then: not a failure, not a measurement. */
#define EXIT_UNSUPPORTED	3

const char cli_prog[] = PROG;

static const char usage_text[] =
"usage: kcancel-bench MODE [OPTIONS]\n"
"\n"
"  nop      [--depth D] [--seconds S] [--threads T] [--pin]\n"
"           io_uring NOPs, D in flight per thread, a ring each: ops/s\n"
"  batch    -d DEV [--depth D] [--seconds S] [--threads T] [--pin]\n"
"           doorbells, D in flight per thread, only KCANCEL_IOC_BATCH\n"
"  single   -d DEV [--depth D] [--seconds S] [--threads T] [--pin]\n"
"           doorbells, D in flight per thread, KCANCEL_IOC_SUBMIT and read()\n"
"  uring    -d DEV [--depth D] [--seconds S]\n"
"           doorbells, D in flight, KCANCEL_URING_CMD_SUBMIT on an io_uring\n"
"           ring (SQE128, CQE32); needs KCANCEL_FEATURE_URING_CMD\n"
"  cancel   -d DEV --inflight N [--samples K]\n"
"           K cancels among N pending doorbells: KCANCEL_IOC_CANCEL and the\n"
"           cancel-to-event latency (needs a software device with a long\n"
"           sim_latency_us, and max_pending >= N)\n"
"  doorbell -d DEV [--seconds S]\n"
"           one KCANCEL_IOC_SUBMIT_WAIT doorbell at a time: doorbells/s\n"
"  floor    [-d DEV] [--seconds S]\n"
"           the raw edu doorbell of kcfloor.ko (DEV: " FLOOR_DEVICE "): doorbells/s\n"
"  memory   -d DEV --inflight N\n"
"           slab bytes per pending doorbell, median of 3 (root; a long\n"
"           sim_latency_us, and max_pending >= N)\n"
"\n"
"  -d, --device DEV   the device, e.g. /dev/kcancel0\n"
"  --depth D          requests in flight, 1-4096 (default 32)\n"
"  --seconds S        how long, 1-86400 (default 5)\n"
"  --threads T        threads, each with its own file (nop: its own\n"
"                     ring), 1-256 (default 1)\n"
"  --pin              thread i runs only on the i-th CPU the process may\n"
"                     use (round robin)\n"
"  --inflight N       pending requests, 1-1048576\n"
"  --samples K        cancels measured, 1-1000000 (default 1000); each\n"
"                     cancelled request is replaced: N stay pending\n"
"  -h, --help         this text\n"
"\n"
"On success one JSON line on stdout, exit 0; failure: exit 1; bad usage: 2;\n"
"a mode the module cannot run: one JSON line with \"missing\", exit 3.\n";

void cli_print_help(FILE *f)
{
	fputs(usage_text, f);
}

enum opt_bit {
	OPT_DEVICE = 1 << 0,
	OPT_DEPTH = 1 << 1,
	OPT_SECONDS = 1 << 2,
	OPT_THREADS = 1 << 3,
	OPT_INFLIGHT = 1 << 4,
	OPT_SAMPLES = 1 << 5,
	OPT_PIN = 1 << 6,
	OPT_COUNT = 7,
};

/**
 * struct opts - the command line
 * @device: -d.
 * @depth: --depth.
 * @seconds: --seconds.
 * @threads: --threads.
 * @inflight: --inflight.
 * @samples: --samples.
 * @pin: --pin.
 * @given: the &enum opt_bit of the options given.
 */
struct opts {
	const char *device;
	unsigned int depth;
	unsigned int seconds;
	unsigned int threads;
	unsigned int inflight;
	unsigned int samples;
	bool pin;
	unsigned int given;
};

/**
 * struct tput - the result of a throughput mode
 * @mode: its name.
 * @depth: requests in flight per thread.
 * @threads: how many threads.
 * @ops: completions counted.
 * @ns: how long, in nanoseconds.
 * @syscalls: system calls on the device, if @has_syscalls.
 * @has_syscalls: report @syscalls.
 */
struct tput {
	const char *mode;
	unsigned int depth;
	unsigned int threads;
	__u64 ops;
	__u64 ns;
	__u64 syscalls;
	bool has_syscalls;
};

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void sleep_until(__u64 t)
{
	struct timespec ts = {
		.tv_sec = t / NSEC_PER_SEC,
		.tv_nsec = t % NSEC_PER_SEC,
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL))
		;
}

/* Print a failure to stderr; returns -1 for the caller to return. */
static int fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cli_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static void print_tput(const struct tput *t)
{
	double s = t->ns / (double)NSEC_PER_SEC;

	printf("{\"mode\":\"%s\",\"depth\":%u,\"threads\":%u,\"ops\":%llu,",
	       t->mode, t->depth, t->threads, t->ops);
	printf("\"seconds\":%.6f,\"ops_per_sec\":%.1f", s, s > 0 ? t->ops / s : 0);
	if (t->has_syscalls)
		printf(",\"syscalls\":%llu", t->syscalls);
	printf("}\n");
}

/* An event, for a message; in a static buffer. */
static const char *event_str(const struct kcancel_event *ev)
{
	static __thread char buf[128];

	snprintf(buf, sizeof(buf), "id %llu tag %llu op %u status %d result %llu",
		 ev->id, ev->tag, ev->op, ev->status, ev->result);
	return buf;
}

/* Open a kcancel device and check it speaks KCANCEL_IOC_BATCH. */
static int open_kcancel(const char *path, int flags, struct kcancel_info *info)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | flags);

	if (fd < 0)
		return fail("cannot open %s: %s", path, strerror(errno));
	if (ioctl(fd, KCANCEL_IOC_INFO, info) < 0) {
		fail("%s: KCANCEL_IOC_INFO: %s (not a kcancel device?)", path,
		     strerror(errno));
		close(fd);
		return -1;
	}
	if (info->abi_version < KCANCEL_ABI_VERSION) {
		fail("%s: ABI version %u, this tool needs %u", path,
		     info->abi_version, KCANCEL_ABI_VERSION);
		close(fd);
		return -1;
	}
	return fd;
}

/* Is @n within what the device lets one file have pending? */
static int check_pending(const char *path, const struct kcancel_info *info,
			 unsigned int n)
{
	if (n <= info->max_pending)
		return 0;
	return fail("%s: max_pending is %u, below %u: load the module with max_pending=%u",
		    path, info->max_pending, n, n);
}

/* ---- batch and single: doorbells in flight, many threads ---- */

/**
 * struct worker - one thread of the batch, single or uring mode, and its file
 * @tid: the thread.
 * @index: its number, from 0.
 * @fd: its own open file of the device.
 * @features: the device's %KCANCEL_FEATURE_* bits.
 * @depth: requests it keeps in flight.
 * @batch: KCANCEL_IOC_BATCH only; else KCANCEL_IOC_SUBMIT and read().
 * @subs: the submits of one KCANCEL_IOC_BATCH (@depth).
 * @events: the events one call reaps (@depth).
 * @slot_id: the id of the request in each slot (its tag), 0 if free; the
 *	uring mode, which learns no ids, keeps the request's arg there.
 * @slot_arg: the arg it was submitted with, the result its event must have.
 * @free_slots: the free slots, a stack of @nr_free.
 * @nr_free: how many.
 * @in_flight: submitted and not reaped: @depth - @nr_free.
 * @next_arg: the arg of the next request.
 * @submitted: requests queued.
 * @completed: events reaped and checked.
 * @syscalls: submit, batch and read calls.
 * @stalls: empty reaps in a row with requests in flight.
 * @failed: it failed (said why on stderr).
 */
struct worker {
	pthread_t tid;
	unsigned int index;
	int fd;
	__u32 features;
	unsigned int depth;
	bool batch;
	struct kcancel_submit *subs;
	struct kcancel_event *events;
	__u64 *slot_id;
	__u64 *slot_arg;
	unsigned int *free_slots;
	unsigned int nr_free;
	unsigned int in_flight;
	__u64 next_arg;
	__u64 submitted;
	__u64 completed;
	__u64 syscalls;
	unsigned int stalls;
	bool failed;
};

static pthread_barrier_t start_barrier;
/* Set when the run is over, or a worker failed: workers drain and end. */
static int stop_flag;

static bool stopping(void)
{
	return __atomic_load_n(&stop_flag, __ATOMIC_RELAXED);
}

static void stop_all(void)
{
	__atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
}

/* A worker failed: say why, and stop everyone. */
static int worker_fail(struct worker *w, const char *what, int err)
{
	w->failed = true;
	stop_all();
	if (err)
		return fail("thread %u: %s: %s", w->index, what, strerror(err));
	return fail("thread %u: %s", w->index, what);
}

/* Fill @s with a doorbell for a free slot; the slot stays taken. */
static void slot_take(struct worker *w, struct kcancel_submit *s)
{
	unsigned int slot = w->free_slots[--w->nr_free];

	memset(s, 0, sizeof(*s));
	s->op = KCANCEL_OP_DOORBELL;
	s->tag = slot;
	s->arg = ++w->next_arg;
	w->slot_arg[slot] = s->arg;
}

/* The request of slot @slot was queued as @id. */
static int slot_queued(struct worker *w, unsigned int slot, __u64 id)
{
	if (!id)
		return worker_fail(w, "a queued request has id 0", 0);
	w->slot_id[slot] = id;
	w->in_flight++;
	w->submitted++;
	return 0;
}

/* The request of slot @slot was not queued. */
static void slot_put(struct worker *w, unsigned int slot)
{
	w->free_slots[w->nr_free++] = slot;
}

/* A request of the slot completed as expected: count it, free the slot. */
static void slot_done(struct worker *w, unsigned int slot)
{
	w->slot_id[slot] = 0;
	slot_put(w, slot);
	w->in_flight--;
	w->completed++;
}

/* Check an event against its slot and free the slot. */
static int slot_complete(struct worker *w, const struct kcancel_event *ev)
{
	char msg[256];
	__u64 slot = ev->tag;

	if (slot >= w->depth || w->slot_id[slot] != ev->id) {
		snprintf(msg, sizeof(msg), "event %s: %s", event_str(ev),
			 "no such request in flight (doubled or unknown)");
		return worker_fail(w, msg, 0);
	}
	if (ev->op != KCANCEL_OP_DOORBELL || ev->status ||
	    ev->result != w->slot_arg[slot]) {
		snprintf(msg, sizeof(msg), "event %s: expected %s %llu", event_str(ev),
			 "a doorbell, status 0, result", w->slot_arg[slot]);
		return worker_fail(w, msg, 0);
	}
	slot_done(w, slot);
	return 0;
}

/* Count an empty reap; too many in a row with requests in flight fail. */
static int note_reaped(struct worker *w, int n)
{
	char msg[128];

	if (n > 0 || !w->in_flight) {
		w->stalls = 0;
		return 0;
	}
	if (++w->stalls < REAP_STALLS)
		return 0;
	snprintf(msg, sizeof(msg),
		 "%u reaps in a row (1 s each) got no event, %u in flight: %s",
		 REAP_STALLS, w->in_flight, "lost, or the device is gone");
	return worker_fail(w, msg, 0);
}

/*
 * One KCANCEL_IOC_BATCH: submit @nr doorbells, reap up to depth events,
 * waiting for @min. Returns the events reaped, or -1.
 */
static int batch_round(struct worker *w, unsigned int nr, unsigned int min)
{
	struct kcancel_batch b = {
		.submits = (uintptr_t)w->subs,
		.events = (uintptr_t)w->events,
		.nr_submits = nr,
		.max_events = w->depth,
		.min_events = min,
		.timeout_ns = REAP_TIMEOUT_NS,
	};
	unsigned int i;
	int n;

	for (i = 0; i < nr; i++)
		slot_take(w, &w->subs[i]);
	n = ioctl(w->fd, KCANCEL_IOC_BATCH, &b);
	w->syscalls++;
	/* EINTR: the submits stand, as submitted says; nothing was reaped. */
	if (n < 0 && errno != EINTR)
		return worker_fail(w, "KCANCEL_IOC_BATCH", errno);
	if (b.submitted > nr || n > (int)w->depth)
		return worker_fail(w, "KCANCEL_IOC_BATCH: more submitted or reaped than asked",
				   0);
	for (i = 0; i < b.submitted; i++)
		if (slot_queued(w, w->subs[i].tag, w->subs[i].id))
			return -1;
	for (; i < nr; i++)
		slot_put(w, w->subs[i].tag);
	if (b.error)
		return worker_fail(w, "KCANCEL_IOC_BATCH: a submit", -b.error);
	if (n < 0)
		n = 0;
	for (i = 0; i < (unsigned int)n; i++)
		if (slot_complete(w, &w->events[i]))
			return -1;
	return note_reaped(w, n) ? -1 : n;
}

static void batch_loop(struct worker *w)
{
	struct kcancel_batch b = {
		.events = (uintptr_t)w->events,
		.max_events = w->depth,
	};
	int n;

	while (!stopping())
		if (batch_round(w, w->depth - w->in_flight, 1) < 0)
			return;
	while (w->in_flight)
		if (batch_round(w, 0, w->in_flight) < 0)
			return;
	/* Nothing more may come: one look, not counted as a call of the run. */
	n = ioctl(w->fd, KCANCEL_IOC_BATCH, &b);
	if (n < 0)
		worker_fail(w, "KCANCEL_IOC_BATCH (the last look)", errno);
	else if (n > 0)
		slot_complete(w, &w->events[0]);
}

static int single_submit(struct worker *w)
{
	struct kcancel_submit s;

	slot_take(w, &s);
	w->syscalls++;
	if (ioctl(w->fd, KCANCEL_IOC_SUBMIT, &s) < 0) {
		slot_put(w, s.tag);
		return worker_fail(w, "KCANCEL_IOC_SUBMIT", errno);
	}
	return slot_queued(w, s.tag, s.id);
}

/* One blocking read() of up to depth events. */
static int single_read(struct worker *w)
{
	ssize_t len;
	size_t i, n;

	w->syscalls++;
	len = read(w->fd, w->events, w->depth * sizeof(*w->events));
	if (len < 0 && errno == EINTR)
		return 0;
	if (len < 0)
		return worker_fail(w, "read", errno);
	if (!len)
		return worker_fail(w, "read: end of file (the device is gone)",
				   0);
	if (len % sizeof(*w->events))
		return worker_fail(w, "read: a partial event", 0);
	n = len / sizeof(*w->events);
	for (i = 0; i < n; i++)
		if (slot_complete(w, &w->events[i]))
			return -1;
	return 0;
}

static void single_loop(struct worker *w)
{
	struct pollfd p = { .fd = w->fd, .events = POLLIN };

	while (!stopping()) {
		while (w->in_flight < w->depth)
			if (single_submit(w))
				return;
		if (single_read(w))
			return;
	}
	while (w->in_flight)
		if (single_read(w))
			return;
	/* Nothing more may come: one look, not counted. */
	if (poll(&p, 1, 0) > 0 && (p.revents & POLLIN) &&
	    read(w->fd, w->events, sizeof(*w->events)) > 0)
		slot_complete(w, &w->events[0]);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(&start_barrier);
	if (w->batch)
		batch_loop(w);
	else
		single_loop(w);
	return NULL;
}

static int worker_init(struct worker *w, unsigned int index, const char *path,
		       unsigned int depth, bool batch)
{
	struct kcancel_info info;
	unsigned int i;

	w->index = index;
	w->depth = depth;
	w->batch = batch;
	w->fd = open_kcancel(path, 0, &info);
	if (w->fd < 0)
		return -1;
	w->features = info.features;
	if (check_pending(path, &info, depth))
		return -1;
	w->subs = calloc(depth, sizeof(*w->subs));
	w->events = calloc(depth, sizeof(*w->events));
	w->slot_id = calloc(depth, sizeof(*w->slot_id));
	w->slot_arg = calloc(depth, sizeof(*w->slot_arg));
	w->free_slots = calloc(depth, sizeof(*w->free_slots));
	if (!w->subs || !w->events || !w->slot_id || !w->slot_arg ||
	    !w->free_slots)
		return fail("out of memory");
	/* Slot 0 on top of the stack. */
	for (i = 0; i < depth; i++)
		w->free_slots[i] = depth - 1 - i;
	w->nr_free = depth;
	if (!index)
		fprintf(stderr, "%s: %s: backend %s, %u doorbells\n", cli_prog,
			path, cli_backend_name(info.backend), info.doorbells);
	return 0;
}

static void worker_free(struct worker *w)
{
	close(w->fd);
	free(w->subs);
	free(w->events);
	free(w->slot_id);
	free(w->slot_arg);
	free(w->free_slots);
}

/* Sleep until @end, or until a worker failed. */
static void run_clock(__u64 end)
{
	__u64 t;

	while (!stopping() && (t = now_ns()) < end)
		sleep_until(end - t > TICK_NS ? t + TICK_NS : end);
	stop_all();
}

/**
 * pin_attr() - the attributes of a thread that runs on one CPU only
 * @attr: out: initialised; the caller destroys it.
 * @i: the thread's index: it gets the i-th CPU (round robin) of those the
 *	process may run on.
 *
 * Return: 0, or -1 with a message.
 */
static int pin_attr(pthread_attr_t *attr, unsigned int i)
{
	cpu_set_t allowed, one;
	int cpu, n, ret;

	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		return fail("sched_getaffinity: %s", strerror(errno));
	n = CPU_COUNT(&allowed);
	if (!n)
		return fail("sched_getaffinity: no CPU");
	i %= n;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &allowed) && !i--)
			break;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	ret = pthread_attr_init(attr);
	if (ret)
		return fail("pthread_attr_init: %s", strerror(ret));
	ret = pthread_attr_setaffinity_np(attr, sizeof(one), &one);
	if (ret) {
		pthread_attr_destroy(attr);
		return fail("pthread_attr_setaffinity_np: %s", strerror(ret));
	}
	return 0;
}

/**
 * run_threads() - start a run's threads together, then run its clock
 * @ws: the threads' records: @n of @size bytes, each with its pthread_t at
 *	@tid_off; each thread is given its own record.
 * @n: how many.
 * @size: the size of a record.
 * @tid_off: where a record keeps its pthread_t.
 * @fn: the threads' function, which waits at start_barrier first.
 * @pin: each thread on a CPU of its own (pin_attr()).
 * @seconds: how long the run lasts.
 * @t0: set to the run's start.
 *
 * Return: 0 once the run's time is up (or a thread failed); -1 if a thread
 * could not start: the others wait at the barrier and exit() ends them.
 */
static int run_threads(void *ws, unsigned int n, size_t size, size_t tid_off,
		       void *(*fn)(void *), bool pin, unsigned int seconds,
		       __u64 *t0)
{
	pthread_attr_t attr;
	char *rec = ws;
	unsigned int i;
	int ret;

	ret = pthread_barrier_init(&start_barrier, NULL, n + 1);
	if (ret)
		return fail("pthread_barrier_init: %s", strerror(ret));
	for (i = 0; i < n; i++) {
		if (pin && pin_attr(&attr, i))
			return -1;
		ret = pthread_create((pthread_t *)(rec + i * size + tid_off),
				     pin ? &attr : NULL, fn, rec + i * size);
		if (pin)
			pthread_attr_destroy(&attr);
		if (ret)
			return fail("pthread_create: %s", strerror(ret));
	}
	pthread_barrier_wait(&start_barrier);
	*t0 = now_ns();
	run_clock(*t0 + seconds * NSEC_PER_SEC);
	return 0;
}

/* The end of the time the threads of a run have to end: WATCHDOG_NS. */
static struct timespec join_limit(void)
{
	__u64 limit = now_ns() + WATCHDOG_NS;
	struct timespec ts = {
		.tv_sec = limit / NSEC_PER_SEC,
		.tv_nsec = limit % NSEC_PER_SEC,
	};

	return ts;
}

/* Join thread @i of a run, by @limit (join_limit()). */
static int join_thread(pthread_t tid, unsigned int i,
		       const struct timespec *limit)
{
	int ret = pthread_clockjoin_np(tid, NULL, CLOCK_MONOTONIC, limit);

	if (ret == ETIMEDOUT)
		return fail("thread %u has not ended %llu s after the run: %s",
			    i, WATCHDOG_NS / NSEC_PER_SEC,
			    "its events are lost");
	if (ret)
		return fail("pthread_clockjoin_np: %s", strerror(ret));
	return 0;
}

/* Join every worker, giving them WATCHDOG_NS after the end of the run. */
static int join_workers(struct worker *ws, unsigned int n)
{
	struct timespec limit = join_limit();
	unsigned int i;

	for (i = 0; i < n; i++)
		if (join_thread(ws[i].tid, i, &limit))
			return -1;
	return 0;
}

static int run_workers(const struct opts *o, bool batch)
{
	struct tput t = {
		.mode = batch ? "batch" : "single",
		.depth = o->depth,
		.threads = o->threads,
		.has_syscalls = true,
	};
	struct worker *ws = calloc(o->threads, sizeof(*ws));
	unsigned int i;
	bool failed = false;
	__u64 t0;

	if (!ws)
		return fail("out of memory");
	for (i = 0; i < o->threads; i++)
		if (worker_init(&ws[i], i, o->device, o->depth, batch))
			return -1;
	if (run_threads(ws, o->threads, sizeof(*ws),
			offsetof(struct worker, tid), worker_main, o->pin,
			o->seconds, &t0))
		return -1;
	if (join_workers(ws, o->threads))
		return -1;
	t.ns = now_ns() - t0;
	for (i = 0; i < o->threads; i++) {
		struct worker *w = &ws[i];

		failed |= w->failed;
		if (!w->failed && w->completed != w->submitted) {
			fail("thread %u: %llu submitted, %llu completed", i,
			     w->submitted, w->completed);
			failed = true;
		}
		t.ops += w->completed;
		t.syscalls += w->syscalls;
		worker_free(w);
	}
	free(ws);
	if (failed)
		return -1;
	print_tput(&t);
	return 0;
}

/* ---- nop: io_uring's floor, one ring a thread ---- */

/**
 * struct nop_worker - one thread of the nop mode
 * @tid: the thread.
 * @index: its number, from 0.
 * @depth: NOPs it keeps in flight.
 * @ring: its own ring.
 * @ops: NOPs completed.
 * @failed: it failed, and said why.
 */
struct nop_worker {
	pthread_t tid;
	unsigned int index;
	unsigned int depth;
	struct io_uring ring;
	__u64 ops;
	bool failed;
};

/* A nop thread failed: say why, and stop everyone. */
static void nop_fail(struct nop_worker *w, const char *what, int err)
{
	fail("thread %u: %s: %s", w->index, what, strerror(err));
	w->failed = true;
	stop_all();
}

/* Keep @w->depth NOPs in flight until the run stops, then drain. */
static void nop_loop(struct nop_worker *w)
{
	unsigned int in_flight = 0, head, n;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	bool refill = true;
	int ret;

	for (;;) {
		if (refill)
			refill = !stopping();
		while (refill && in_flight < w->depth) {
			sqe = io_uring_get_sqe(&w->ring);
			if (!sqe)
				break;
			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data64(sqe, w->ops + in_flight);
			in_flight++;
		}
		if (!in_flight)
			return;
		ret = io_uring_submit_and_wait(&w->ring, 1);
		if (ret < 0 && ret != -EINTR) {
			nop_fail(w, "io_uring_submit_and_wait", -ret);
			return;
		}
		n = 0;
		io_uring_for_each_cqe(&w->ring, head, cqe) {
			if (cqe->res < 0) {
				nop_fail(w, "a NOP completed with an error",
					 -cqe->res);
				return;
			}
			n++;
		}
		io_uring_cq_advance(&w->ring, n);
		in_flight -= n;
		w->ops += n;
	}
}

static void *nop_main(void *arg)
{
	struct nop_worker *w = arg;

	pthread_barrier_wait(&start_barrier);
	nop_loop(w);
	return NULL;
}

/* Start @o->threads nop threads, each with its own ring; run; join. */
static int run_nop(const struct opts *o)
{
	struct tput t = {
		.mode = "nop",
		.depth = o->depth,
		.threads = o->threads,
	};
	struct nop_worker *ws = calloc(o->threads, sizeof(*ws));
	struct timespec limit;
	bool failed = false;
	unsigned int i;
	__u64 t0;
	int ret;

	if (!ws)
		return fail("out of memory");
	for (i = 0; i < o->threads; i++) {
		ws[i].index = i;
		ws[i].depth = o->depth;
		ret = io_uring_queue_init(o->depth, &ws[i].ring, 0);
		if (ret < 0)
			return fail("io_uring_queue_init: %s", strerror(-ret));
	}
	if (run_threads(ws, o->threads, sizeof(*ws),
			offsetof(struct nop_worker, tid), nop_main, o->pin,
			o->seconds, &t0))
		return -1;
	limit = join_limit();
	for (i = 0; i < o->threads; i++)
		if (join_thread(ws[i].tid, i, &limit))
			return -1;
	t.ns = now_ns() - t0;
	for (i = 0; i < o->threads; i++) {
		failed |= ws[i].failed;
		t.ops += ws[i].ops;
		io_uring_queue_exit(&ws[i].ring);
	}
	free(ws);
	if (failed)
		return -1;
	print_tput(&t);
	return 0;
}

static int run_batch(const struct opts *o)
{
	return run_workers(o, true);
}

static int run_single(const struct opts *o)
{
	return run_workers(o, false);
}

/* ---- uring: doorbells through io_uring commands ---- */

/* The command data of an SQE128 entry: from cmd to the end of its 128 bytes. */
#define SQE128_CMD_SIZE \
	(2 * sizeof(struct io_uring_sqe) - offsetof(struct io_uring_sqe, cmd))

static_assert(sizeof(struct kcancel_submit) <= SQE128_CMD_SIZE,
	      "struct kcancel_submit does not fit an SQE128 entry");

/* Why the uring mode cannot run: a module without KCANCEL_FEATURE_URING_CMD. */
#define URING_MISSING \
	"the module has no io_uring commands (KCANCEL_FEATURE_URING_CMD): built for a kernel before 6.7 or without CONFIG_IO_URING"

/* Fill the free slots with KCANCEL_URING_CMD_SUBMIT doorbells, unsubmitted. */
static void uring_fill(struct worker *w, struct io_uring *ring)
{
	struct io_uring_sqe *sqe;
	struct kcancel_submit s;

	while (w->nr_free) {
		sqe = io_uring_get_sqe(ring);
		if (!sqe)
			return;
		slot_take(w, &s);
		/* A whole SQE128 entry: two struct io_uring_sqe. */
		memset(sqe, 0, 2 * sizeof(*sqe));
		io_uring_prep_rw(IORING_OP_URING_CMD, sqe, w->fd, NULL, 0, 0);
		sqe->cmd_op = KCANCEL_URING_CMD_SUBMIT;
		memcpy(sqe->cmd, &s, sizeof(s));
		io_uring_sqe_set_data64(sqe, s.tag);
		w->slot_id[s.tag] = s.arg;
		w->in_flight++;
		w->submitted++;
	}
}

/*
 * Check a CQE against its slot (its user_data) and free the slot: res 0
 * and, in big_cqe[0], the arg the doorbell was submitted with.
 */
static int uring_complete(struct worker *w, const struct io_uring_cqe *cqe)
{
	__u64 slot = cqe->user_data;
	char msg[256];

	if (slot >= w->depth || !w->slot_id[slot]) {
		snprintf(msg, sizeof(msg),
			 "CQE user_data %llu res %d: %s", slot, cqe->res,
			 "no such request in flight (doubled or unknown)");
		return worker_fail(w, msg, 0);
	}
	if (cqe->res || cqe->big_cqe[0] != w->slot_arg[slot]) {
		snprintf(msg, sizeof(msg),
			 "CQE user_data %llu res %d (%s) result %llu: expected res 0, result %llu",
			 slot, cqe->res, strerror(cqe->res < 0 ? -cqe->res : 0),
			 cqe->big_cqe[0], w->slot_arg[slot]);
		return worker_fail(w, msg, 0);
	}
	slot_done(w, slot);
	return 0;
}

/*
 * Keep the slots full until @end, then drain: submit what is prepared and
 * wait for one CQE (at most REAP_TIMEOUT_NS), reap every ready CQE, again.
 */
static int uring_loop(struct worker *w, struct io_uring *ring, __u64 end)
{
	struct __kernel_timespec ts = {
		.tv_sec = REAP_TIMEOUT_NS / NSEC_PER_SEC,
		.tv_nsec = REAP_TIMEOUT_NS % NSEC_PER_SEC,
	};
	struct io_uring_cqe *cqe;
	bool refill = true;
	unsigned int head;
	int ret, n;

	for (;;) {
		if (refill)
			refill = now_ns() < end;
		if (refill)
			uring_fill(w, ring);
		if (!w->in_flight)
			break;
		ret = io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts,
						       NULL);
		w->syscalls++;
		/* ETIME: nothing came within the timeout, note_reaped() counts. */
		if (ret < 0 && ret != -ETIME && ret != -EINTR)
			return worker_fail(w, "io_uring_submit_and_wait_timeout",
					   -ret);
		n = 0;
		io_uring_for_each_cqe(ring, head, cqe) {
			if (uring_complete(w, cqe))
				return -1;
			n++;
		}
		io_uring_cq_advance(ring, n);
		if (note_reaped(w, n))
			return -1;
	}
	/* Nothing more may come: one look, not counted. */
	if (!io_uring_peek_cqe(ring, &cqe))
		return uring_complete(w, cqe);
	return 0;
}

/* Say that the figure is missing, and why: the JSON line of exit status 3. */
static int uring_unsupported(const struct opts *o, const char *why)
{
	fprintf(stderr, "%s: %s: %s\n", cli_prog, o->device, why);
	printf("{\"mode\":\"uring\",\"depth\":%u,\"threads\":1,\"missing\":\"%s\"}\n",
	       o->depth, why);
	return MODE_UNSUPPORTED;
}

static int run_uring(const struct opts *o)
{
	struct tput t = {
		.mode = "uring",
		.depth = o->depth,
		.threads = 1,
		.has_syscalls = true,
	};
	struct io_uring_params p = {
		.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32,
	};
	struct worker w = { .fd = -1 };
	struct io_uring ring;
	__u64 t0;
	int ret;

	if (worker_init(&w, 0, o->device, o->depth, false)) {
		ret = -1;
		goto out;
	}
	if (!(w.features & KCANCEL_FEATURE_URING_CMD)) {
		ret = uring_unsupported(o, URING_MISSING);
		goto out;
	}
	ret = io_uring_queue_init_params(o->depth, &ring, &p);
	if (ret < 0) {
		ret = fail("io_uring_queue_init_params (SQE128, CQE32): %s",
			   strerror(-ret));
		goto out;
	}
	t0 = now_ns();
	ret = uring_loop(&w, &ring, t0 + o->seconds * NSEC_PER_SEC);
	t.ns = now_ns() - t0;
	/* On a failure, the ring's end cancels what is still in flight. */
	io_uring_queue_exit(&ring);
	if (!ret && w.completed != w.submitted)
		ret = fail("%llu submitted, %llu completed", w.submitted,
			   w.completed);
	if (ret)
		goto out;
	t.ops = w.completed;
	t.syscalls = w.syscalls;
	print_tput(&t);
out:
	worker_free(&w);
	return ret;
}

/* ---- doorbell and floor: one at a time, synchronous ---- */

static int run_doorbell(const struct opts *o)
{
	struct tput t = { .mode = "doorbell", .depth = 1, .threads = 1 };
	struct kcancel_submit_wait sw;
	struct kcancel_info info;
	__u64 t0, end, arg = 0;
	int fd;

	fd = open_kcancel(o->device, 0, &info);
	if (fd < 0)
		return -1;
	if (info.backend != KCANCEL_BACKEND_EDU)
		fprintf(stderr, "%s: %s: backend %s, not edu\n", cli_prog,
			o->device, cli_backend_name(info.backend));
	t0 = now_ns();
	end = t0 + o->seconds * NSEC_PER_SEC;
	while (now_ns() < end) {
		memset(&sw, 0, sizeof(sw));
		sw.req.op = KCANCEL_OP_DOORBELL;
		sw.req.tag = t.ops;
		sw.req.arg = ++arg;
		if (ioctl(fd, KCANCEL_IOC_SUBMIT_WAIT, &sw) < 0) {
			close(fd);
			return fail("KCANCEL_IOC_SUBMIT_WAIT: %s",
				    strerror(errno));
		}
		if (sw.done.id != sw.req.id || sw.done.tag != sw.req.tag ||
		    sw.done.op != KCANCEL_OP_DOORBELL || sw.done.status ||
		    sw.done.result != arg) {
			close(fd);
			return fail("id %llu tag %llu arg %llu: completion %s",
				    sw.req.id, sw.req.tag, arg,
				    event_str(&sw.done));
		}
		t.ops++;
	}
	t.ns = now_ns() - t0;
	close(fd);
	print_tput(&t);
	return 0;
}

static int run_floor(const struct opts *o)
{
	struct tput t = { .mode = "floor", .depth = 1, .threads = 1 };
	const char *path = o->device ? o->device : FLOOR_DEVICE;
	__u64 t0, end;
	int fd;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail("cannot open %s: %s (%s)", path, strerror(errno),
			    "load bench/floor/kcfloor.ko, with kcancel.ko unloaded");
	t0 = now_ns();
	end = t0 + o->seconds * NSEC_PER_SEC;
	while (now_ns() < end) {
		if (ioctl(fd, KCFLOOR_RING) < 0) {
			close(fd);
			return fail("KCFLOOR_RING: %s", strerror(errno));
		}
		t.ops++;
	}
	t.ns = now_ns() - t0;
	close(fd);
	print_tput(&t);
	return 0;
}

/* ---- cancel and memory: many requests pending ---- */

/*
 * Submit @k doorbells, tagged (and arg) from @tag, from @subs with one
 * KCANCEL_IOC_BATCH that reaps nothing. All are queued, or it fails.
 */
static int submit_chunk(int fd, struct kcancel_submit *subs, unsigned int k,
			__u64 tag)
{
	struct kcancel_batch b = {
		.submits = (uintptr_t)subs,
		.nr_submits = k,
	};
	unsigned int i;

	memset(subs, 0, k * sizeof(*subs));
	for (i = 0; i < k; i++) {
		subs[i].op = KCANCEL_OP_DOORBELL;
		subs[i].tag = tag + i;
		subs[i].arg = tag + i;
	}
	if (ioctl(fd, KCANCEL_IOC_BATCH, &b) < 0)
		return fail("KCANCEL_IOC_BATCH: %s", strerror(errno));
	if (b.error || b.submitted != k)
		return fail("KCANCEL_IOC_BATCH: request %llu not queued: %s",
			    tag + b.submitted,
			    strerror(b.error ? -b.error : EPROTO));
	return 0;
}

/*
 * Submit @n doorbells, KCANCEL_BATCH_MAX a call, reaping nothing; their
 * ids go to @ids if not NULL. All are queued, or it fails.
 */
static int submit_pending(int fd, unsigned int n, __u64 *ids)
{
	struct kcancel_submit *subs = calloc(KCANCEL_BATCH_MAX, sizeof(*subs));
	unsigned int done, k, i;
	int ret = 0;

	if (!subs)
		return fail("out of memory");
	for (done = 0; done < n && !ret; done += k) {
		k = n - done < KCANCEL_BATCH_MAX ? n - done : KCANCEL_BATCH_MAX;
		ret = submit_chunk(fd, subs, k, done);
		for (i = 0; ids && !ret && i < k; i++)
			ids[done + i] = subs[i].id;
	}
	free(subs);
	return ret;
}

/*
 * Read events until the one of @id, which must say -ECANCELED; any other
 * means a request ended on its own: the latency is too short.
 */
static int await_cancelled(int fd, __u64 id)
{
	__u64 end = now_ns() + CANCEL_EVENT_NS, t;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct kcancel_event ev;
	ssize_t len;

	for (;;) {
		len = read(fd, &ev, sizeof(ev));
		if (len == sizeof(ev))
			break;
		if (!len)
			return fail("read: end of file (the device is gone)");
		if (len > 0)
			return fail("read: a partial event");
		if (errno != EAGAIN && errno != EINTR)
			return fail("read: %s", strerror(errno));
		t = now_ns();
		if (t >= end)
			return fail("no event for cancelled id %llu in %llu s",
				    id, CANCEL_EVENT_NS / NSEC_PER_SEC);
		if (poll(&p, 1, (end - t) / NSEC_PER_MSEC + 1) < 0 &&
		    errno != EINTR)
			return fail("poll: %s", strerror(errno));
	}
	if (ev.id != id)
		return fail("id %llu completed with status %d while pending: %s",
			    ev.id, ev.status, LATENCY_HINT);
	if (ev.status != -ECANCELED)
		return fail("cancelled id %llu completed with status %d", id,
			    ev.status);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* The @p quantile (0 to 1) of @n sorted values, interpolated. */
static double quantile(const __u64 *v, unsigned int n, double p)
{
	double pos = p * (n - 1), f;
	unsigned int i = pos;

	if (i + 1 >= n)
		return v[n - 1];
	f = pos - i;
	return v[i] * (1 - f) + v[i + 1] * f;
}

static void print_quantiles(const char *key, __u64 *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("\"%s\":{\"median\":%.0f,\"p10\":%.0f,\"p90\":%.0f}", key,
	       quantile(v, n, 0.5), quantile(v, n, 0.1), quantile(v, n, 0.9));
}

/*
 * Cancel @k times the oldest of the @n pending requests in @ids (a ring,
 * oldest first from index 0), timing the ioctl into @lat_ioctl and the event
 * into @lat_event. Each is replaced, untimed, by a new one, which becomes the
 * newest: @n stay pending throughout, and @k may exceed @n.
 *
 * The device starts requests in the order they were submitted, so the
 * oldest is always started in a slot, whether 10 or 100,000 are pending:
 * every sample cancels a started operation, and the figures of two runs
 * differ by the number pending, not by the path the cancel takes.
 */
static int cancel_samples(int fd, __u64 *ids, unsigned int n, unsigned int k,
			  __u64 *lat_ioctl, __u64 *lat_event)
{
	struct kcancel_cancel c = { 0 };
	struct kcancel_submit s;
	unsigned int i, idx;
	__u64 t0, t1;
	int err;

	for (i = 0; i < k; i++) {
		idx = i % n;
		c.id = ids[idx];
		t0 = now_ns();
		err = ioctl(fd, KCANCEL_IOC_CANCEL, &c) < 0 ? errno : 0;
		t1 = now_ns();
		if (err)
			return fail("KCANCEL_IOC_CANCEL of id %llu: %s%s", c.id,
				    strerror(err),
				    err == EALREADY ? ": " LATENCY_HINT : "");
		if (await_cancelled(fd, c.id))
			return -1;
		lat_ioctl[i] = t1 - t0;
		lat_event[i] = now_ns() - t0;
		if (submit_chunk(fd, &s, 1, (__u64)n + i))
			return -1;
		ids[idx] = s.id;
	}
	return 0;
}

static int run_cancel(const struct opts *o)
{
	__u64 *ids = calloc(o->inflight, sizeof(*ids));
	__u64 *lat_ioctl = calloc(o->samples, sizeof(*lat_ioctl));
	__u64 *lat_event = calloc(o->samples, sizeof(*lat_event));
	struct kcancel_info info;
	int fd, ret = -1;
	__u64 t;

	if (!ids || !lat_ioctl || !lat_event) {
		fail("out of memory");
		goto out;
	}
	fd = open_kcancel(o->device, O_NONBLOCK, &info);
	if (fd < 0)
		goto out;
	ret = check_pending(o->device, &info, o->inflight);
	if (!ret)
		ret = submit_pending(fd, o->inflight, ids);
	if (!ret)
		ret = cancel_samples(fd, ids, o->inflight, o->samples,
				     lat_ioctl, lat_event);
	/* The rest are cancelled by the close, and waited for. */
	t = now_ns();
	close(fd);
	if (ret)
		goto out;
	fprintf(stderr, "%s: close() with %u requests pending: %.3f s\n",
		cli_prog, o->inflight,
		(now_ns() - t) / (double)NSEC_PER_SEC);
	printf("{\"mode\":\"cancel\",\"inflight\":%u,\"samples\":%u,",
	       o->inflight, o->samples);
	print_quantiles("cancel_ioctl_ns", lat_ioctl, o->samples);
	putchar(',');
	print_quantiles("cancel_to_event_ns", lat_event, o->samples);
	printf("}\n");
out:
	free(ids);
	free(lat_ioctl);
	free(lat_event);
	return ret;
}

/**
 * struct slab - one line of /proc/slabinfo
 * @name: the cache.
 * @active: its active objects.
 * @objsize: the size of one, in bytes.
 */
struct slab {
	char name[64];
	long long active;
	long long objsize;
};

/**
 * struct slabs - /proc/slabinfo at one time
 * @v: the caches.
 * @n: how many.
 */
struct slabs {
	struct slab *v;
	size_t n;
};

/**
 * struct memory_rep - one repetition of the memory mode
 * @before: /proc/slabinfo before the submits.
 * @after: and after.
 * @bytes_per_request: the growth of every cache, over the requests.
 */
struct memory_rep {
	struct slabs before;
	struct slabs after;
	double bytes_per_request;
};

static int slabs_read(struct slabs *s)
{
	FILE *f = fopen(SLABINFO, "r");
	char line[512];
	struct slab e, *v;
	unsigned int skip = 2;

	s->v = NULL;
	s->n = 0;
	if (!f)
		return fail("cannot open %s: %s (needs root)", SLABINFO,
			    strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (skip) {
			skip--;
			continue;
		}
		if (sscanf(line, "%63s %lld %*d %lld", e.name, &e.active,
			   &e.objsize) != 3)
			continue;
		v = realloc(s->v, (s->n + 1) * sizeof(*v));
		if (!v) {
			fclose(f);
			return fail("out of memory");
		}
		s->v = v;
		s->v[s->n++] = e;
	}
	fclose(f);
	if (!s->n)
		return fail("%s: no cache found", SLABINFO);
	return 0;
}

static const struct slab *slabs_find(const struct slabs *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].name, name))
			return &s->v[i];
	return NULL;
}

/* How many objects of @e's cache more there are in @after than @before. */
static long long slab_delta(const struct slabs *before,
			    const struct slabs *after, const struct slab *e)
{
	const struct slab *b = slabs_find(before, e->name);
	const struct slab *a = slabs_find(after, e->name);

	return (a ? a->active : 0) - (b ? b->active : 0);
}

/* The bytes that every cache grew by, caches that went away included. */
static long long slabs_growth(const struct slabs *before,
			      const struct slabs *after)
{
	long long bytes = 0;
	size_t i;

	for (i = 0; i < after->n; i++)
		bytes += slab_delta(before, after, &after->v[i]) *
			 after->v[i].objsize;
	for (i = 0; i < before->n; i++)
		if (!slabs_find(after, before->v[i].name))
			bytes -= before->v[i].active * before->v[i].objsize;
	return bytes;
}

/* One repetition: open, snapshot, @n requests pending, snapshot, close. */
static int memory_rep(const struct opts *o, struct memory_rep *r)
{
	struct pollfd p = { .events = POLLIN };
	struct kcancel_info info;
	int fd, ret;

	fd = open_kcancel(o->device, O_NONBLOCK, &info);
	if (fd < 0)
		return -1;
	ret = check_pending(o->device, &info, o->inflight);
	if (!ret)
		ret = slabs_read(&r->before);
	if (!ret)
		ret = submit_pending(fd, o->inflight, NULL);
	if (!ret)
		ret = slabs_read(&r->after);
	p.fd = fd;
	if (!ret && poll(&p, 1, 0) > 0)
		fprintf(stderr, "%s: requests completed before the second snapshot: %s\n",
			cli_prog, LATENCY_HINT);
	close(fd);
	if (ret)
		return -1;
	r->bytes_per_request = slabs_growth(&r->before, &r->after) /
			       (double)o->inflight;
	return 0;
}

static int cmp_rep(const void *a, const void *b)
{
	double x = ((const struct memory_rep *)a)->bytes_per_request;
	double y = ((const struct memory_rep *)b)->bytes_per_request;

	return x < y ? -1 : x > y;
}

/* The caches of @r that match: grew by @min_delta or more, or kmalloc-*. */
static void print_caches(const char *key, const struct memory_rep *r,
			 bool kmalloc, long long min_delta)
{
	const struct slab *e;
	const char *sep = "";
	long long d;
	size_t i;

	printf(",\"%s\":[", key);
	for (i = 0; i < r->after.n; i++) {
		e = &r->after.v[i];
		d = slab_delta(&r->before, &r->after, e);
		if (kmalloc ? strncmp(e->name, "kmalloc-", 8) || !d :
			      d < min_delta)
			continue;
		printf("%s{\"name\":\"%s\",\"objsize\":%lld,\"delta\":%lld}",
		       sep, e->name, e->objsize, d);
		sep = ",";
	}
	printf("]");
}

static int run_memory(const struct opts *o)
{
	struct memory_rep reps[MEMORY_REPS], *med;
	long long min_delta = (o->inflight + 1) / 2;
	unsigned int i;

	for (i = 0; i < MEMORY_REPS; i++) {
		/* Let the last close's deferred frees (RCU) happen first. */
		if (i)
			sleep(1);
		if (memory_rep(o, &reps[i]))
			return -1;
		fprintf(stderr, "%s: repetition %u: %.1f bytes per request\n",
			cli_prog, i + 1, reps[i].bytes_per_request);
	}
	qsort(reps, MEMORY_REPS, sizeof(reps[0]), cmp_rep);
	med = &reps[MEMORY_REPS / 2];
	printf("{\"mode\":\"memory\",\"inflight\":%u,\"repetitions\":%u,",
	       o->inflight, MEMORY_REPS);
	printf("\"bytes_per_request\":%.1f,\"bytes_per_request_reps\":[",
	       med->bytes_per_request);
	for (i = 0; i < MEMORY_REPS; i++)
		printf("%s%.1f", i ? "," : "", reps[i].bytes_per_request);
	printf("]");
	print_caches("caches", med, false, min_delta ? min_delta : 1);
	print_caches("kmalloc", med, true, 0);
	printf("}\n");
	for (i = 0; i < MEMORY_REPS; i++) {
		free(reps[i].before.v);
		free(reps[i].after.v);
	}
	return 0;
}

/* ---- the command line ---- */

/**
 * struct mode - a mode of the tool
 * @name: its name, the first argument.
 * @allowed: the &enum opt_bit options it takes.
 * @required: those it needs.
 * @run: runs it; 0 on success.
 */
struct mode {
	const char *name;
	unsigned int allowed;
	unsigned int required;
	int (*run)(const struct opts *o);
};

static const struct mode modes[] = {
	{ "nop", OPT_DEPTH | OPT_SECONDS | OPT_THREADS | OPT_PIN, 0, run_nop },
	{ "batch", OPT_DEVICE | OPT_DEPTH | OPT_SECONDS | OPT_THREADS | OPT_PIN,
	  OPT_DEVICE, run_batch },
	{ "single", OPT_DEVICE | OPT_DEPTH | OPT_SECONDS | OPT_THREADS | OPT_PIN,
	  OPT_DEVICE, run_single },
	{ "uring", OPT_DEVICE | OPT_DEPTH | OPT_SECONDS, OPT_DEVICE, run_uring },
	{ "cancel", OPT_DEVICE | OPT_INFLIGHT | OPT_SAMPLES,
	  OPT_DEVICE | OPT_INFLIGHT, run_cancel },
	{ "doorbell", OPT_DEVICE | OPT_SECONDS, OPT_DEVICE, run_doorbell },
	{ "floor", OPT_DEVICE | OPT_SECONDS, 0, run_floor },
	{ "memory", OPT_DEVICE | OPT_INFLIGHT, OPT_DEVICE | OPT_INFLIGHT,
	  run_memory },
};

enum {
	LONG_DEPTH = 256,
	LONG_SECONDS,
	LONG_THREADS,
	LONG_INFLIGHT,
	LONG_SAMPLES,
	LONG_PIN,
};

static const struct option long_opts[] = {
	{ "device", required_argument, NULL, 'd' },
	{ "depth", required_argument, NULL, LONG_DEPTH },
	{ "seconds", required_argument, NULL, LONG_SECONDS },
	{ "threads", required_argument, NULL, LONG_THREADS },
	{ "inflight", required_argument, NULL, LONG_INFLIGHT },
	{ "samples", required_argument, NULL, LONG_SAMPLES },
	{ "pin", no_argument, NULL, LONG_PIN },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The option's name, for messages: the bit's entry in long_opts. */
static const char *opt_name(unsigned int bit)
{
	static const char *const names[] = {
		"-d", "--depth", "--seconds", "--threads", "--inflight",
		"--samples", "--pin",
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (bit == 1U << i)
			return names[i];
	return "?";
}

/* Parse one option @c with argument @arg into @o; returns its bit. */
static unsigned int parse_opt(int c, const char *arg, struct opts *o)
{
	switch (c) {
	case 'd':
		o->device = arg;
		return OPT_DEVICE;
	case LONG_DEPTH:
		o->depth = cli_parse_uint("--depth", arg, 1, KCANCEL_BATCH_MAX);
		return OPT_DEPTH;
	case LONG_SECONDS:
		o->seconds = cli_parse_uint("--seconds", arg, 1, MAX_SECONDS);
		return OPT_SECONDS;
	case LONG_THREADS:
		o->threads = cli_parse_uint("--threads", arg, 1, MAX_THREADS);
		return OPT_THREADS;
	case LONG_INFLIGHT:
		o->inflight = cli_parse_uint("--inflight", arg, 1,
					     MAX_INFLIGHT);
		return OPT_INFLIGHT;
	case LONG_SAMPLES:
		o->samples = cli_parse_uint("--samples", arg, 1, MAX_SAMPLES);
		return OPT_SAMPLES;
	case LONG_PIN:
		o->pin = true;
		return OPT_PIN;
	case 'h':
		cli_print_help(stdout);
		exit(0);
	}
	cli_bad_usage("unknown option");
	return 0;
}

static void parse_args(const struct mode *m, int argc, char **argv,
		       struct opts *o)
{
	unsigned int bit, i;
	int c;

	*o = (struct opts){ .depth = 32, .seconds = 5, .threads = 1,
			    .samples = 1000 };
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:h", long_opts, NULL)) != -1) {
		if (c == '?' || c == ':')
			cli_bad_usage(c == ':' ? "%s: %s needs an argument" :
				      "%s: unknown option %s", m->name,
				      argv[optind - 1]);
		bit = parse_opt(c, optarg, o);
		if (!(m->allowed & bit))
			cli_bad_usage("%s does not take %s", m->name,
				      opt_name(bit));
		o->given |= bit;
	}
	if (optind < argc)
		cli_bad_usage("%s: unexpected argument '%s'", m->name,
			      argv[optind]);
	for (i = 0; i < OPT_COUNT; i++) {
		bit = 1U << i;
		if ((m->required & bit) && !(o->given & bit))
			cli_bad_usage("%s needs %s", m->name, opt_name(bit));
	}
}

int main(int argc, char **argv)
{
	const struct mode *m = NULL;
	struct opts o;
	unsigned int i;
	int ret;

	if (argc < 2)
		cli_bad_usage("no mode given");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		cli_print_help(stdout);
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(modes); i++)
		if (!strcmp(argv[1], modes[i].name))
			m = &modes[i];
	if (!m)
		cli_bad_usage("unknown mode '%s'", argv[1]);
	parse_args(m, argc - 1, argv + 1, &o);
	ret = m->run(&o);
	if (ret < 0)
		return 1;
	if (fflush(stdout) || ferror(stdout)) {
		fail("stdout: %s", strerror(errno));
		return 1;
	}
	return ret == MODE_UNSUPPORTED ? EXIT_UNSUPPORTED : 0;
}
