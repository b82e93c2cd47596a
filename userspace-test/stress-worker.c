// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-stress: one worker thread.
 *
 * A worker owns an open file of the device: the ids it submits belong to
 * that file, and so do their events. It keeps up to depth requests in
 * flight, cancels the chosen share of them after a random delay, and reaps
 * the events with poll() and read(), checking each against the request it
 * completes. The loop never blocks but in ppoll(), whose timeout is the
 * time to the next planned cancel, so that cancels fire close to their
 * deadline, microseconds apart if need be.
 *
 * Unbatched (the default), a worker submits whenever a request is done and
 * reads until no event is left. With a batch of N, it submits N requests
 * at once, once there is room for N, with one KCANCEL_IOC_BATCH per file
 * (the DMA file gets the batch's one DMA, if it has one), and each such
 * call also reaps up to N events of its file: the shape of io_uring's
 * submit-and-wait. A call on a file with nothing to submit only reaps.
 * When a file is the one thing the worker waits for (nothing in flight on
 * the other, no submit-and-wait call, no cancel waiting for poll()) and
 * no further batch fits, its call also waits for one event, at most until
 * the next cancel is due: it stands in for ppoll() then.
 *
 * When submitting stops (time up, a signal, or the request budget spent),
 * the worker drains: it waits up to STRESS_DRAIN_NS for the events of the
 * requests still in flight. At the end of time or on a signal it first
 * cancels them all, to be quick; the budget's end lets them finish, so that
 * each request meets the fate it was dealt.
 *
 * With --sync-pct, a share of the requests goes to the worker's
 * submit-and-wait thread (stress-sync.c), which submits each with
 * KCANCEL_IOC_SUBMIT_WAIT and hands the call's outcome back; the worker
 * checks the completion written back as it checks an event read. Such a
 * request has no id until the call returns, so it is never cancelled, and it
 * must never show up in read().
 *
 * With --removal, the device may go away: an event with -ENODEV is right
 * for any request, a submit refused with ENODEV stops the worker's
 * submitting, and a file that reports end of file (read() returns 0) or
 * POLLHUP has nothing more to give. The first sign of the removal, in any
 * worker, makes every worker drain without cancelling; a worker ends when
 * every request has its event, or when both its files have hung up and no
 * submit-and-wait call is left (what is still in flight then is lost).
 *
 * With --fail-alloc, ENOMEM from a submit is counted, not an error: the
 * next request is drawn anew, but a submit-and-wait request is handed back
 * to the thread as it is (as after EAGAIN), so that the budget of --requests
 * is met whatever fails.
 *
 * With --io-uring, the worker owns an io_uring ring (SQE128 and CQE32) and
 * submits each request as a KCANCEL_URING_CMD_SUBMIT SQE on the request's
 * file, its tag as the SQE's user_data: unique in the run, so that a second
 * CQE for it shows. The SQEs prepared in a turn go with one
 * io_uring_submit(); the worker waits for CQEs, at most until the next
 * cancel is due, in io_uring_wait_cqe_timeout(). Each CQE completes its
 * request, checked as an event is: res is the status, big_cqe[0] the
 * result. Cancels go by user_data, half as KCANCEL_URING_CMD_CANCEL SQEs
 * (whose own CQE, with user_data | URING_CANCEL_BIT, says 0, EALREADY or
 * ENOENT, and may come before or after the request's: the request's is kept
 * until both are in), half as KCANCEL_IOC_CANCEL with
 * KCANCEL_CANCEL_USER_DATA, after the request's SQE has been submitted.
 * ENOENT is a completion that won there: the request has completed and its
 * CQE is on its way, or in the CQ. Cancels at an event fire when the CQ has
 * a CQE, before it is reaped. A submit refused by the driver (EAGAIN,
 * ENOMEM, EINVAL, EFAULT in res) was not queued: it is counted as a failed
 * submit, not as submitted. With --ring-teardown, the worker ends the run
 * by closing its ring with its requests in flight (the CQEs io_uring then
 * posts cannot be read): each must then leave its file, which the worker
 * checks by cancelling it by user_data until that says ENOENT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "stress.h"

/* How often a waiting worker looks at the stop flag, at the latest. */
#define WORKER_TICK_NS		(50 * NSEC_PER_MSEC)
/* Events per read() unbatched: several at once is the point of read(). */
#define WORKER_READ_EVENTS	64
/* A worker stops submitting after this many failed submits. */
#define WORKER_MAX_SUBMIT_ERRORS	16
/* The tag is the thread in the top 16 bits and a sequence number below. */
#define TAG_SEQ_BITS		48
#define TAG_SEQ_MASK		((1ULL << TAG_SEQ_BITS) - 1)
/* learn_cancel(): the step and the bound of the cancel bias, a logarithm. */
/*
 * The share of the cancels (in percent) issued when poll() next says an event
 * is ready on the request's file, before it is read: the cancel then races
 * with completions that are already done, whatever the operation's latency.
 * A random delay alone almost never lands between a DMA's interrupt and its
 * reaping; on the DMA file, readable means the one DMA has completed, so
 * DMA requests take this path more often.
 */
#define CANCEL_AT_EVENT_PCT	20
#define CANCEL_AT_EVENT_DMA_PCT	50
/*
 * The share of the other cancels (in percent) issued right after their
 * submit: they race with the operation's start and its first microseconds
 * on the device. The delays of the rest follow the latency the thread sees,
 * from submit to reap, which is milliseconds when the thread is busy; a DMA
 * of the software device is on it for tens of microseconds, and only a
 * cancel this early aborts it there.
 */
#define CANCEL_AT_ONCE_PCT	5
#define CANCEL_AT_ONCE_DMA_PCT	25
#define CANCEL_BIAS_STEP	0.02
#define CANCEL_BIAS_MAX		3.0
/* Room for req_desc(). */
#define REQ_DESC_LEN		192
/* The user_data of a KCANCEL_URING_CMD_CANCEL SQE: its request's, and this. */
#define URING_CANCEL_BIT	0x8000000000000000ULL
/* The share of the io_uring cancels (in percent) that go as SQEs. */
#define URING_CANCEL_SQE_PCT	50
/* The most entries of a ring: io_uring's limit. */
#define URING_MAX_ENTRIES	32768
/* With --ring-teardown, how often a request is looked for in its file. */
#define URING_PROBE_NS		(1 * NSEC_PER_MSEC)

static const u64 factorials[KCANCEL_FACTORIAL_MAX + 1] = {
	1, 1, 2, 6, 24, 120, 720, 5040, 40320, 362880, 3628800, 39916800,
	479001600,
};

/*
 * The latencies to start from, until requests tell better: the edu
 * device's factorial and doorbells take tens of microseconds through the
 * driver, its DMA about 100 ms.
 */
static const double initial_latency_ns[KCANCEL_OP_MAX + 1] = {
	[KCANCEL_OP_FACTORIAL] = 50 * NSEC_PER_USEC,
	[KCANCEL_OP_DMA_TO_DEV] = 100 * NSEC_PER_MSEC,
	[KCANCEL_OP_DMA_FROM_DEV] = 100 * NSEC_PER_MSEC,
	[KCANCEL_OP_DOORBELL] = 50 * NSEC_PER_USEC,
};

static bool op_is_dma(u32 op)
{
	return op == KCANCEL_OP_DMA_TO_DEV || op == KCANCEL_OP_DMA_FROM_DEV;
}

/* splitmix64: turns the seed and the thread index into a state. */
static u64 rng_mix(u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* xorshift64*: fast, and good enough to pick operations and delays. */
static u64 rng_next(struct worker *w)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545f4914f6cdd1dULL;
}

static u64 rng_below(struct worker *w, u64 n)
{
	return rng_next(w) % n;
}

/* Uniform in [0, 1). */
static double rng_unit(struct worker *w)
{
	return (rng_next(w) >> 11) / (double)(1ULL << 53);
}

static bool rng_pct(struct worker *w, unsigned int pct)
{
	return rng_below(w, 100) < pct;
}

/* The ring's size: room for a depth of submits and as many cancels. */
static unsigned int uring_entries(unsigned int depth)
{
	unsigned int n = 8;

	while (n < 2 * depth && n < URING_MAX_ENTRIES)
		n *= 2;
	return n;
}

static int uring_setup(struct io_uring *ring, unsigned int entries)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32,
	};

	return io_uring_queue_init_params(entries, ring, &p);
}

/*
 * Whether a ring that KCANCEL_URING_CMD_SUBMIT takes can be set up: 0, or
 * the negative errno of io_uring_queue_init_params().
 */
int worker_uring_probe(void)
{
	struct io_uring ring;
	int ret = uring_setup(&ring, 1);

	if (!ret)
		io_uring_queue_exit(&ring);
	return ret;
}

static int uring_init(struct worker *w)
{
	int ret;

	w->ring = calloc(1, sizeof(*w->ring));
	if (!w->ring)
		return -1;
	ret = uring_setup(w->ring, uring_entries(w->sh->cfg.depth));
	if (ret < 0) {
		fprintf(stderr, STRESS_PROG ": thread %u: io_uring_queue_init_params: %s\n",
			w->idx, strerror(-ret));
		free(w->ring);
		w->ring = NULL;
		return -1;
	}
	return 0;
}

int worker_init(struct worker *w, struct stress_shared *sh, unsigned int idx,
		int fd, int dma_fd)
{
	const struct stress_config *cfg = &sh->cfg;
	u32 size = cfg->info.dma_size / cfg->threads;
	unsigned int op;

	memset(w, 0, sizeof(*w));
	w->sh = sh;
	w->idx = idx;
	w->fd = fd;
	w->dma_fd = dma_fd;
	w->rng = rng_mix(cfg->seed ^ rng_mix(idx)) | 1;
	for (op = 1; op <= KCANCEL_OP_MAX; op++)
		w->est_log[op] = log(initial_latency_ns[op]);
	if (size < STRESS_DMA_MIN_REGION)
		size = 0;
	w->evbuf_len = cfg->batch ? cfg->batch : WORKER_READ_EVENTS;
	w->evbuf = calloc(w->evbuf_len, sizeof(*w->evbuf));
	w->syncer.efd = -1;
	if (!w->evbuf || reqtab_init(&w->tab, cfg->depth))
		return -1;
	if (cfg->batch) {
		w->bsub[0] = calloc(cfg->batch, sizeof(*w->bsub[0]));
		w->breq[0] = calloc(cfg->batch, sizeof(*w->breq[0]));
		w->bsub[1] = calloc(1, sizeof(*w->bsub[1]));
		w->breq[1] = calloc(1, sizeof(*w->breq[1]));
		if (!w->bsub[0] || !w->breq[0] || !w->bsub[1] || !w->breq[1])
			return -1;
	}
	if (cfg->sync_pct && syncer_init(&w->syncer, cfg->depth))
		return -1;
	if (cfg->io_uring && uring_init(w))
		return -1;
	return dma_region_init(&w->dma, idx * size, size);
}

void worker_destroy(struct worker *w)
{
	unsigned int i;

	syncer_destroy(&w->syncer);
	if (w->ring && !w->ring_closed)
		io_uring_queue_exit(w->ring);
	free(w->ring);
	w->ring = NULL;
	reqtab_destroy(&w->tab);
	dma_region_destroy(&w->dma);
	free(w->evbuf);
	w->evbuf = NULL;
	for (i = 0; i < 2; i++) {
		free(w->bsub[i]);
		free(w->breq[i]);
		w->bsub[i] = NULL;
		w->breq[i] = NULL;
	}
}

static const char *cancel_desc(const struct req *r)
{
	if (r->cancel_pending)
		return "sent as an SQE, no CQE yet";
	switch (r->cancel_state) {
	case REQ_CANCEL_NONE:
		return "none";
	case REQ_CANCEL_PLANNED:
		return "planned";
	case REQ_CANCEL_AT_EVENT:
		return "planned at an event";
	}
	switch (r->cancel_rc) {
	case 0:
		return "returned 0";
	case EALREADY:
		return "returned EALREADY";
	case ENOENT:
		return "returned ENOENT";
	}
	return "failed";
}

/* @r in one line, for the diagnostics. */
static const char *req_desc(const struct req *r, char *buf, size_t size)
{
	snprintf(buf, size,
		 "id %llu %s tag %#llx arg %llu len %u off %u timeout %llu cancel %s%s%s",
		 r->id, op_name(r->op), r->tag, r->arg, r->len, r->offset,
		 r->timeout_ns, cancel_desc(r),
		 r->sync ? ", submit-and-wait" : "",
		 r->cqe_seen ? ", CQE reaped" : "");
	return buf;
}

static void worker_error(struct worker *w, const char *what, int err)
{
	stat_add(&w->stats.errors, 1);
	diag(w->sh, "thread %u: %s: %s\n", w->idx, what, strerror(err));
}

/* Submitting is over: drain, and with @cancel_all cancel what is in flight. */
static void begin_drain(struct worker *w, bool cancel_all);
static void handle_event(struct worker *w, const struct kcancel_event *ev,
			 u64 now);

/*
 * The device went away. With --removal, submitting is over: drain, and let
 * the removal decide how each request in flight ends.
 */
static void device_gone(struct worker *w)
{
	__atomic_store_n(&w->sh->removed, 1, __ATOMIC_RELAXED);
	if (w->sh->cfg.removal)
		begin_drain(w, false);
}

/* Whether @op may be submitted now. */
static bool op_allowed(const struct worker *w, u32 op)
{
	if (!w->sh->cfg.weight[op])
		return false;
	/* DMA only in a region of its own, one at a time: its content is known. */
	return !op_is_dma(op) || (w->dma.size && !w->dma_busy);
}

/*
 * The operation to submit next, drawn by the weights of the mix among those
 * that may be submitted now; 0 if none may be.
 */
static u32 choose_op(struct worker *w)
{
	const struct stress_config *cfg = &w->sh->cfg;
	u64 total = 0, pick;
	u32 op;

	for (op = 1; op <= KCANCEL_OP_MAX; op++)
		if (op_allowed(w, op))
			total += cfg->weight[op];
	if (!total)
		return 0;
	pick = rng_below(w, total);
	for (op = 1; op <= KCANCEL_OP_MAX; op++) {
		if (!op_allowed(w, op))
			continue;
		if (pick < cfg->weight[op])
			return op;
		pick -= cfg->weight[op];
	}
	return 0;
}

/* A delay drawn from [0, 2 x the latency @op has shown lately), in ns. */
static u64 draw_delay(struct worker *w, u32 op)
{
	return rng_unit(w) * 2 * exp(w->est_log[op]);
}

/* Uniform in [@min, @max]. */
static u64 draw_between(struct worker *w, u64 min, u64 max)
{
	return min + rng_below(w, max - min + 1);
}

/*
 * The delay of a random cancel: in the range the command line gave, or
 * draw_delay() scaled by the bias that learn_cancel() keeps. The latency
 * seen here ends when the event is reaped, after the completion that a
 * cancel races with, and a cancel fires a little after its deadline while
 * the thread is busy: for operations of a few microseconds, both would make
 * cancels lose far more often than win.
 */
static u64 draw_cancel_delay(struct worker *w, u32 op)
{
	const struct stress_config *cfg = &w->sh->cfg;

	if (cfg->cancel_delay_set)
		return draw_between(w, cfg->cancel_delay_min_ns,
				    cfg->cancel_delay_max_ns);
	return draw_delay(w, op) * exp(w->cancel_bias[op]);
}

/* A timeout: in the range the command line gave, or around the latency. */
static u64 draw_timeout(struct worker *w, u32 op)
{
	const struct stress_config *cfg = &w->sh->cfg;
	u64 ns;

	if (cfg->timeout_set)
		ns = draw_between(w, cfg->timeout_min_ns, cfg->timeout_max_ns);
	else
		ns = draw_delay(w, op);
	return ns ? ns : 1;	/* 0 would mean none */
}

static void prepare_dma(struct worker *w, struct req *r,
			struct kcancel_submit *s)
{
	struct dma_region *d = &w->dma;
	u32 i;

	r->len = 1 + rng_below(w, d->size);
	r->offset = rng_below(w, d->size - r->len + 1);
	s->len = r->len;
	s->offset = d->base + r->offset;
	if (r->op == KCANCEL_OP_DMA_TO_DEV) {
		for (i = 0; i < r->len; i++)
			d->wbuf[i] = rng_next(w) >> 56;
		s->buf = (uintptr_t)d->wbuf;
	} else {
		dma_region_poison(d, r->offset, r->len);
		s->buf = (uintptr_t)d->rbuf;
	}
}

static void prepare(struct worker *w, struct req *r, u32 op,
		    struct kcancel_submit *s)
{
	memset(s, 0, sizeof(*s));
	r->op = op;
	r->tag = (u64)w->idx << TAG_SEQ_BITS | (w->next_seq++ & TAG_SEQ_MASK);
	if (op == KCANCEL_OP_FACTORIAL)
		r->arg = rng_below(w, KCANCEL_FACTORIAL_MAX + 1);
	else if (op == KCANCEL_OP_DOORBELL)
		r->arg = rng_next(w);
	else
		prepare_dma(w, r, s);
	if (rng_pct(w, w->sh->cfg.timeout_pct))
		r->timeout_ns = draw_timeout(w, op);
	s->op = op;
	s->tag = r->tag;
	s->arg = r->arg;
	s->timeout_ns = r->timeout_ns;
}

/*
 * Take one unit of the request budget, if there is one. A unit taken and not
 * used, because the submit got EAGAIN (or, with --fail-alloc, ENOMEM), is
 * kept for the next try, and so are those of the requests of a batch that
 * were not reached (&worker.spare).
 */
static bool reserve(struct worker *w)
{
	struct stress_shared *sh = w->sh;

	if (!sh->cfg.requests || w->reserved)
		return true;
	if (w->spare) {
		w->spare--;
		w->reserved = true;
		return true;
	}
	if (__atomic_fetch_add(&sh->issued, 1, __ATOMIC_RELAXED) >=
	    sh->cfg.requests)
		return false;
	w->reserved = true;
	return true;
}

/* How a submit was made, for submit_failed(). */
enum submit_kind {
	SUBMIT_IOCTL,
	SUBMIT_SYNC,
	SUBMIT_URING,
};

static const char *const submit_kind_names[] = {
	[SUBMIT_IOCTL] = "submit",
	[SUBMIT_SYNC] = "submit-and-wait",
	[SUBMIT_URING] = "io_uring submit",
};

/*
 * A submit failed with @err; @kind: a KCANCEL_IOC_SUBMIT (or a batch's
 * entry), a KCANCEL_IOC_SUBMIT_WAIT call, or a KCANCEL_URING_CMD_SUBMIT
 * whose CQE said so. The unit of the budget that the worker holds for its
 * next submit is kept when that submit may use it; a submit-and-wait
 * request took its own with it, and an io_uring one gave its own back.
 */
static void submit_failed(struct worker *w, enum submit_kind kind, int err)
{
	const struct stress_config *cfg = &w->sh->cfg;
	char buf[64];

	if (err == EAGAIN) {
		stat_add(&w->stats.eagain, 1);
		if (w->tab.used) {
			/* Backpressure: wait for an event to make room. */
			w->backpressure = true;
			return;
		}
		/*
		 * io_uring makes a refused submit again in io-wq, later: its
		 * EAGAIN may tell of requests reaped since. Only a run of
		 * them, with no completion between, says the count is wrong.
		 */
		if (kind == SUBMIT_URING &&
		    ++w->uring_idle_eagain < WORKER_MAX_SUBMIT_ERRORS)
			return;
	}
	if (err == ENOMEM && cfg->fail_alloc) {
		stat_add(&w->stats.enomem, 1);
		return;
	}
	if (kind == SUBMIT_IOCTL)
		w->reserved = false;
	if (err == ENODEV && cfg->removal) {
		stat_add(&w->stats.enodev_submits, 1);
		device_gone(w);
		return;
	}
	w->submit_errors++;
	snprintf(buf, sizeof(buf), "%s%s", submit_kind_names[kind],
		 err == EAGAIN ? ": EAGAIN with nothing in flight" : "");
	worker_error(w, buf, err);
	if (err == ENODEV)
		__atomic_store_n(&w->sh->removed, 1, __ATOMIC_RELAXED);
	if (err == ENODEV || w->submit_errors >= WORKER_MAX_SUBMIT_ERRORS)
		begin_drain(w, true);
}

/*
 * Without a cancel delay range, draw whether @r's cancel waits for its
 * event or comes right after the submit.
 */
static bool plan_unsteered(struct worker *w, struct req *r)
{
	bool dma = op_is_dma(r->op);

	if (rng_pct(w, dma ? CANCEL_AT_EVENT_DMA_PCT : CANCEL_AT_EVENT_PCT)) {
		r->cancel_state = REQ_CANCEL_AT_EVENT;
	} else if (rng_pct(w, dma ? CANCEL_AT_ONCE_DMA_PCT :
				   CANCEL_AT_ONCE_PCT)) {
		r->cancel_at = r->t_submit;
		r->cancel_state = REQ_CANCEL_PLANNED;
	} else {
		return false;
	}
	r->unsteered = true;
	return true;
}

/*
 * Draw the cancel of @r, if it is one of the share: @r->t_submit plus a
 * delay. With a cancel delay range, every cancel is timed; else some wait
 * for an event and some come right after the submit (plan_unsteered()).
 * Nothing is planned yet: see track_planned().
 */
static void plan_cancel(struct worker *w, struct req *r)
{
	const struct stress_config *cfg = &w->sh->cfg;

	r->unsteered = false;
	if (!rng_pct(w, cfg->cancel_pct))
		return;
	if (!cfg->cancel_delay_set && plan_unsteered(w, r))
		return;
	r->cancel_at = r->t_submit + draw_cancel_delay(w, r->op);
	r->cancel_state = REQ_CANCEL_PLANNED;
}

/* Count @r as submitted, and plan the cancel plan_cancel() drew for it. */
static void track_planned(struct worker *w, struct req *r)
{
	reqtab_insert(&w->tab, r);
	stat_add(&w->stats.submitted, 1);
	stat_add(&w->stats.op[r->op].submitted, 1);
	stat_add(&w->stats.inflight, 1);
	w->async_inflight[r->fd == w->dma_fd]++;
	if (op_is_dma(r->op))
		w->dma_busy = true;
	if (r->cancel_state == REQ_CANCEL_AT_EVENT)
		w->at_event++;
	else if (r->cancel_state == REQ_CANCEL_PLANNED)
		cancelq_push(&w->tab, r);
}

/* Count @r as submitted, and plan its cancel if it is one of the share. */
static void track_submitted(struct worker *w, struct req *r)
{
	plan_cancel(w, r);
	track_planned(w, r);
}

/*
 * Hand @r, prepared as @s, to the submit-and-wait thread. It holds its slot
 * of the table (and, for a DMA, the region) until the call returns.
 */
static void submit_sync(struct worker *w, struct req *r,
			const struct kcancel_submit *s)
{
	r->sync = true;
	r->t_submit = now_ns();
	w->reserved = false;
	if (op_is_dma(r->op))
		w->dma_busy = true;
	w->sync_pending++;
	stat_add(&w->stats.inflight, 1);
	syncer_push(&w->syncer, r->slot, r->fd, s);
}

/*
 * Whether a submit-and-wait call refused with @err is to be made again:
 * EAGAIN while other requests hold the file (backpressure), ENOMEM with
 * --fail-alloc. The request goes back to the thread as it is, so that it
 * keeps its unit of the budget.
 */
static bool sync_may_retry(const struct worker *w, int err)
{
	return (err == EAGAIN && w->tab.used > 1) ||
	       (err == ENOMEM && w->sh->cfg.fail_alloc);
}

/* Hand @r back to the thread, unless the run is stopping. */
static bool sync_retry(struct worker *w, struct req *r)
{
	const struct stress_config *cfg = &w->sh->cfg;
	struct kcancel_submit s = w->syncer.io[r->slot].sw.req;

	if (w->drain_cancelled ||
	    (cfg->removal && __atomic_load_n(&w->sh->removed, __ATOMIC_RELAXED)))
		return false;
	s.id = 0;
	w->sync_pending++;
	syncer_push(&w->syncer, r->slot, r->fd, &s);
	return true;
}

/*
 * A submit-and-wait call returned: count @r as submitted if it was, and
 * check its completion as an event read at the time the call returned.
 */
static void sync_returned(struct worker *w, struct req *r,
			  const struct sync_io *io)
{
	if (io->rc && io->rc != EINTR) {
		bool again = sync_may_retry(w, io->rc);

		if (again) {
			stat_add(io->rc == EAGAIN ? &w->stats.eagain :
				 &w->stats.enomem, 1);
			if (sync_retry(w, r))
				return;
		}
		stat_add(&w->stats.inflight, -1);
		if (op_is_dma(r->op))
			w->dma_busy = false;
		reqtab_release(&w->tab, r);
		/* Dropped, or refused as the run stops: not an error. */
		if (io->rc != SYNC_DROPPED && !again)
			submit_failed(w, SUBMIT_SYNC, io->rc);
		return;
	}
	r->id = io->sw.req.id;
	r->t_submit = io->t_submit;
	reqtab_insert(&w->tab, r);
	stat_add(&w->stats.submitted, 1);
	stat_add(&w->stats.sync_submitted, 1);
	stat_add(&w->stats.op[r->op].submitted, 1);
	stat_add(&w->stats.op[r->op].sync, 1);
	w->backpressure = false;
	/* Nothing here sends a signal: a cancelled call is an error. */
	if (io->rc == EINTR)
		worker_error(w, "submit-and-wait", EINTR);
	handle_event(w, &io->sw.done, io->t_done);
}

/* Take back what the submit-and-wait thread has done. */
static void sync_reap(struct worker *w)
{
	struct syncer *sy = &w->syncer;
	unsigned int slot;
	u64 count;
	int err;

	if (!sy->cap)
		return;
	if (read(sy->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		worker_error(w, "eventfd", errno);
	while (syncer_pop_done(sy, &slot)) {
		w->sync_pending--;
		sync_returned(w, &w->tab.slots[slot], &sy->io[slot]);
	}
	err = __atomic_load_n(&sy->setup_err, __ATOMIC_RELAXED);
	if (err && !sy->setup_seen) {
		sy->setup_seen = true;
		worker_error(w, "submit-and-wait thread: " MAKE_IT_FAIL, err);
	}
}

/*
 * ---- io_uring: SQEs ----
 */

/*
 * Hand the SQEs prepared so far to the kernel, which issues them in order.
 * What it does not take now stays for the next call.
 */
static void uring_flush(struct worker *w)
{
	int ret;

	while (io_uring_sq_ready(w->ring)) {
		ret = io_uring_submit(w->ring);
		stat_add(&w->stats.uring_submits, 1);
		if (ret > 0 || ret == -EINTR)
			continue;
		if (!ret || ret == -EAGAIN || ret == -EBUSY)
			return;
		worker_error(w, "io_uring_submit", -ret);
		w->gone = true;
		return;
	}
}

/*
 * A KCANCEL_URING_CMD_* SQE on @fd, with @len bytes of payload in its cmd
 * and @key as user_data; NULL (counted as an error) if the SQ stays full.
 */
static struct io_uring_sqe *uring_cmd_sqe(struct worker *w, int fd, u32 cmd_op,
					  const void *payload, size_t len,
					  u64 key)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(w->ring);

	if (!sqe) {
		uring_flush(w);
		sqe = io_uring_get_sqe(w->ring);
	}
	if (!sqe) {
		worker_error(w, "io_uring_get_sqe: the SQ is full", EBUSY);
		return NULL;
	}
	/* An SQE128 ring: the command's payload runs into the second half. */
	memset(sqe, 0, 2 * sizeof(*sqe));
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = cmd_op;
	memcpy(sqe->cmd, payload, len);
	io_uring_sqe_set_data64(sqe, key);
	return sqe;
}

/*
 * Submit @r, prepared as @s, as a KCANCEL_URING_CMD_SUBMIT SQE, its tag as
 * its user_data; it goes to the kernel with the next uring_flush(). False
 * if there was no SQE for it.
 */
static bool uring_submit_one(struct worker *w, struct req *r,
			     const struct kcancel_submit *s)
{
	r->id = r->tag;
	if (!uring_cmd_sqe(w, r->fd, KCANCEL_URING_CMD_SUBMIT, s, sizeof(*s),
			   r->id)) {
		reqtab_release(&w->tab, r);
		w->gone = true;
		return false;
	}
	r->t_submit = now_ns();
	w->reserved = false;
	track_submitted(w, r);
	return true;
}

/*
 * Cancel @r with a KCANCEL_URING_CMD_CANCEL SQE, by its user_data, behind
 * its submit in the SQ; its CQE tells the outcome. False if there was no
 * SQE for it.
 */
static bool uring_cancel_sqe(struct worker *w, struct req *r, int state)
{
	struct kcancel_cancel c = {
		.id = r->id,
		.flags = KCANCEL_CANCEL_USER_DATA,
	};

	if (!uring_cmd_sqe(w, r->fd, KCANCEL_URING_CMD_CANCEL, &c, sizeof(c),
			   r->id | URING_CANCEL_BIT))
		return false;
	r->t_cancel = now_ns();
	r->cancel_state = state;
	r->cancel_rc = 0;
	r->cancel_sqe = true;
	r->cancel_pending = true;
	stat_add(state == REQ_CANCEL_RANDOM ? &w->stats.cancels :
		 &w->stats.drain_cancels, 1);
	stat_add(&w->stats.uring_cancel_sqes, 1);
	return true;
}

/* Submit one request of @op; false if the submit failed. */
static bool submit_one(struct worker *w, u32 op)
{
	const struct stress_config *cfg = &w->sh->cfg;
	struct kcancel_submit s;
	struct req *r = reqtab_alloc(&w->tab);
	int rc;

	prepare(w, r, op, &s);
	r->fd = op_is_dma(op) ? w->dma_fd : w->fd;
	if (cfg->sync_pct && rng_pct(w, cfg->sync_pct)) {
		submit_sync(w, r, &s);
		return true;
	}
	if (w->ring)
		return uring_submit_one(w, r, &s);
	r->t_submit = now_ns();
	do {
		rc = ioctl(r->fd, KCANCEL_IOC_SUBMIT, &s);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		int err = errno;

		reqtab_release(&w->tab, r);
		submit_failed(w, SUBMIT_IOCTL, err);
		return false;
	}
	w->reserved = false;
	r->id = s.id;
	track_submitted(w, r);
	return true;
}

/*
 * The cancel of @r answered &req.cancel_rc: 0 and EALREADY are right, and
 * so is ENOENT by user_data (the request completed; its CQE is not reaped
 * yet); anything else is an error.
 */
static void cancel_answered(struct worker *w, const struct req *r)
{
	char buf[REQ_DESC_LEN];

	if (!r->cancel_rc || r->cancel_rc == EALREADY)
		return;
	if (r->cancel_rc == ENOENT && w->ring) {
		stat_add(&w->stats.uring_cancel_enoent, 1);
		return;
	}
	/* The event is not reaped (it would have left the table): a bug. */
	if (r->cancel_rc == ENOENT)
		stat_add(&w->stats.op[r->op].cancel_enoent, 1);
	stat_add(&w->stats.errors, 1);
	diag(w->sh, "thread %u: cancel%s: %s: %s\n", w->idx,
	     r->cancel_sqe ? " SQE" : "", strerror(r->cancel_rc),
	     req_desc(r, buf, sizeof(buf)));
}

/* Whether the cancel of @r lost to its completion: it found nothing to do. */
static bool cancel_lost(const struct worker *w, const struct req *r)
{
	return r->cancel_rc == EALREADY || (w->ring && r->cancel_rc == ENOENT);
}

/*
 * Issue the cancel of @r; @state says whether it is random or the drain's.
 * With io_uring, by its user_data: as an SQE or, after the SQ is flushed
 * (its submit must be in the kernel first), with KCANCEL_IOC_CANCEL.
 */
static void issue_cancel(struct worker *w, struct req *r, int state)
{
	struct kcancel_cancel c = { .id = r->id };
	int rc;

	if (w->ring) {
		if (rng_pct(w, URING_CANCEL_SQE_PCT) &&
		    uring_cancel_sqe(w, r, state))
			return;
		c.flags = KCANCEL_CANCEL_USER_DATA;
		uring_flush(w);
		stat_add(&w->stats.uring_cancel_ioctls, 1);
	}
	r->t_cancel = now_ns();
	do {
		rc = ioctl(r->fd, KCANCEL_IOC_CANCEL, &c);
	} while (rc < 0 && errno == EINTR);
	r->cancel_state = state;
	r->cancel_rc = rc < 0 ? errno : 0;
	if (state == REQ_CANCEL_RANDOM)
		hist_add(&w->stats.cancel_ioctl, now_ns() - r->t_cancel);
	stat_add(state == REQ_CANCEL_RANDOM ? &w->stats.cancels :
		 &w->stats.drain_cancels, 1);
	cancel_answered(w, r);
}

static void fire_cancels(struct worker *w, u64 now)
{
	struct req *r;

	while ((r = cancelq_first(&w->tab)) && r->cancel_at <= now) {
		cancelq_remove(&w->tab, r);
		issue_cancel(w, r, REQ_CANCEL_RANDOM);
	}
}

/*
 * An event is ready on @fd (with io_uring, the CQ holds the CQE of one of
 * its requests): issue the cancels of its requests that wait for one,
 * before reading it. Each races with whatever has completed and is not
 * reaped yet.
 */
static void fire_at_event(struct worker *w, int fd)
{
	struct reqtab *t = &w->tab;
	unsigned int i;

	for (i = 0; i <= t->index_mask && w->at_event; i++) {
		struct req *r;

		if (!t->index[i])
			continue;
		r = &t->slots[t->index[i] - 1];
		if (r->cancel_state != REQ_CANCEL_AT_EVENT || r->fd != fd)
			continue;
		w->at_event--;
		issue_cancel(w, r, REQ_CANCEL_RANDOM);
	}
}

static void begin_drain(struct worker *w, bool cancel_all)
{
	struct reqtab *t = &w->tab;
	unsigned int i;

	if (!w->draining) {
		w->draining = true;
		w->drain_deadline = now_ns() + STRESS_DRAIN_NS;
	}
	if (!cancel_all || w->drain_cancelled)
		return;
	w->drain_cancelled = true;
	/* A submit-and-wait request cannot be cancelled: drop those not sent. */
	if (w->syncer.cap)
		syncer_drop(&w->syncer);
	for (i = 0; i <= t->index_mask; i++) {
		struct req *r;

		if (!t->index[i])
			continue;
		r = &t->slots[t->index[i] - 1];
		if (r->cancel_state == REQ_CANCEL_PLANNED)
			cancelq_remove(t, r);
		if (r->cancel_state == REQ_CANCEL_AT_EVENT)
			w->at_event--;
		if (r->cancel_state < REQ_CANCEL_RANDOM)
			issue_cancel(w, r, REQ_CANCEL_DRAIN);
	}
}

/* Whether the status-0 result of @r is right. */
static const char *check_result(const struct req *r,
				const struct kcancel_event *ev)
{
	switch (r->op) {
	case KCANCEL_OP_FACTORIAL:
		return ev->result == factorials[r->arg] ? NULL :
		       "wrong factorial";
	case KCANCEL_OP_DOORBELL:
		return ev->result == r->arg ? NULL : "doorbell result != arg";
	}
	return ev->result == r->len ? NULL : "DMA result != len";
}

/*
 * What is wrong with @ev as the completion of @r, or NULL. -ECANCELED comes
 * only from a cancel that returned 0 (nothing here closes the file while
 * requests are in flight), and such a cancel admits nothing else, but,
 * with @removal, -ENODEV: the removal may complete a request whose cancel
 * it overtook. -ENODEV is right for any request then; without @removal it
 * is counted as an error, not here.
 */
static const char *check_event(const struct req *r,
			       const struct kcancel_event *ev, bool removal)
{
	bool cancel_won = r->cancel_state >= REQ_CANCEL_RANDOM &&
			  !r->cancel_rc;

	if (ev->tag != r->tag)
		return "tag differs";
	if (ev->op != r->op)
		return "op differs";
	if (ev->status && ev->result)
		return "result set with a nonzero status";
	if (cancel_won && ev->status != -ECANCELED &&
	    !(removal && ev->status == -ENODEV))
		return "the cancel returned 0 but the status is not -ECANCELED";
	switch (ev->status) {
	case 0:
		return check_result(r, ev);
	case -ECANCELED:
		return cancel_won ? NULL : "-ECANCELED without a cancel that returned 0";
	case -ETIMEDOUT:
		return r->timeout_ns ? NULL : "-ETIMEDOUT without a timeout";
	case -EIO:
	case -ENODEV:
		return NULL;
	}
	return "unexpected status";
}

static void wrong_result(struct worker *w, const struct req *r,
			 const struct kcancel_event *ev, const char *why)
{
	char buf[REQ_DESC_LEN];

	stat_add(&w->stats.wrong_result, 1);
	diag(w->sh, "thread %u: wrong result: %s: %s: got %d %llu op %u tag %#llx\n",
	     w->idx, why, req_desc(r, buf, sizeof(buf)), ev->status,
	     ev->result, ev->op, ev->tag);
}

static void count_status(struct worker *w, const struct req *r,
			 const struct kcancel_event *ev)
{
	struct op_stats *os = &w->stats.op[r->op];
	bool cancel_won = !r->cancel_rc && ev->status == -ECANCELED;

	switch (ev->status) {
	case 0:
		stat_add(&w->stats.ok, 1);
		stat_add(&os->ok, 1);
		break;
	case -ECANCELED:
		stat_add(&w->stats.cancelled, 1);
		stat_add(&os->cancelled, 1);
		break;
	case -ETIMEDOUT:
		stat_add(&w->stats.timed_out, 1);
		stat_add(&os->timed_out, 1);
		break;
	case -ENODEV:
		__atomic_store_n(&w->sh->removed, 1, __ATOMIC_RELAXED);
		if (!w->sh->cfg.removal) {
			worker_error(w, op_name(r->op), ENODEV);
			break;
		}
		stat_add(&w->stats.enodev, 1);
		stat_add(&os->enodev, 1);
		if (r->cancel_state >= REQ_CANCEL_RANDOM && !r->cancel_rc)
			stat_add(&w->stats.cancel_enodev, 1);
		device_gone(w);
		break;
	case -EIO:
		worker_error(w, op_name(r->op), EIO);
		break;
	}
	if (r->cancel_state == REQ_CANCEL_RANDOM && cancel_won)
		stat_add(&os->cancel_won, 1);
	else if (r->cancel_state == REQ_CANCEL_RANDOM && cancel_lost(w, r) &&
		 !ev->status)
		stat_add(&os->completion_won, 1);
	else if (r->cancel_state == REQ_CANCEL_DRAIN && cancel_won)
		stat_add(&w->stats.drain_cancel_won, 1);
}

/*
 * Learn the latency of @r's operation from requests that nothing cut short:
 * cancelled or timed-out ones would teach that it is shorter than it is.
 * If every request is cut short, learn from those that completed anyway.
 * The average of the logarithm follows the median, not the rare stalls.
 */
static void learn_latency(struct worker *w, const struct req *r,
			  const struct kcancel_event *ev, u64 lat)
{
	const struct stress_config *cfg = &w->sh->cfg;
	bool all_cut = cfg->cancel_pct == 100 || cfg->timeout_pct == 100;

	if (ev->status || (!all_cut && (r->cancel_state || r->timeout_ns)))
		return;
	w->est_log[r->op] += (log(lat + 1) - w->est_log[r->op]) / 8;
}

/*
 * Steer the cancel delays of @r's operation so that as many random cancels
 * win as lose, each outcome moving the bias by a small step its way; the
 * bias stays within a factor of 20 of the latency.
 */
static void learn_cancel(struct worker *w, const struct req *r,
			 const struct kcancel_event *ev)
{
	double *bias = &w->cancel_bias[r->op];

	if (r->cancel_state == REQ_CANCEL_AT_EVENT) {
		/* Reaped by the loop's own read() before poll() said a word. */
		stat_add(&w->stats.op[r->op].cancel_late, 1);
		w->at_event--;
		return;
	}
	if (r->cancel_state == REQ_CANCEL_PLANNED)
		stat_add(&w->stats.op[r->op].cancel_late, 1);
	if (r->unsteered)
		return;
	if (r->cancel_state == REQ_CANCEL_PLANNED) {
		*bias -= CANCEL_BIAS_STEP;
	} else if (r->cancel_state == REQ_CANCEL_RANDOM && !r->cancel_rc &&
		   ev->status == -ECANCELED) {
		*bias += CANCEL_BIAS_STEP;
	} else if (r->cancel_state == REQ_CANCEL_RANDOM && cancel_lost(w, r)) {
		*bias -= CANCEL_BIAS_STEP;
	}
	if (*bias > CANCEL_BIAS_MAX)
		*bias = CANCEL_BIAS_MAX;
	if (*bias < -CANCEL_BIAS_MAX)
		*bias = -CANCEL_BIAS_MAX;
}

/* Update the region's model; false if a read returned the wrong data. */
static bool dma_event(struct worker *w, const struct req *r,
		      const struct kcancel_event *ev)
{
	struct dma_region *d = &w->dma;
	enum dma_check res;
	u32 bad;
	u8 want;

	w->dma_busy = false;
	if (r->op == KCANCEL_OP_DMA_TO_DEV) {
		dma_region_write(d, r->offset, r->len, !ev->status);
		return true;
	}
	if (ev->status)
		return true;
	res = dma_region_read(d, r->offset, r->len, d->rbuf, &bad, &want);
	if (res == DMA_UNCHECKED) {
		stat_add(&w->stats.dma_unchecked, 1);
		return true;
	}
	stat_add(&w->stats.dma_checked, 1);
	if (res == DMA_MATCH)
		return true;
	diag(w->sh, "thread %u: DMA data: device offset %u is %#x, expected %#x\n",
	     w->idx, d->base + bad, d->rbuf[bad - r->offset], want);
	return false;
}

static void stray_event(struct worker *w, const struct kcancel_event *ev)
{
	u64 seq = ev->tag & TAG_SEQ_MASK;
	bool ours = ev->tag >> TAG_SEQ_BITS == w->idx && seq < w->next_seq;

	stat_add(&w->stats.dbl, 1);
	diag(w->sh, "thread %u: id %llu is not in flight (%s): got %d %llu op %u tag %#llx\n",
	     w->idx, ev->id, ours ? "tag of a completed request" : "unknown tag",
	     ev->status, ev->result, ev->op, ev->tag);
}

/* @ev, reaped at @now, completes @r: check it, count it, forget @r. */
static void complete_req(struct worker *w, struct req *r,
			 const struct kcancel_event *ev, u64 now)
{
	const char *why;
	u64 lat;

	lat = now - r->t_submit;
	w->uring_idle_eagain = 0;
	hist_add(&w->stats.op[r->op].lat, lat);
	if (r->cancel_state == REQ_CANCEL_RANDOM && !r->cancel_rc &&
	    ev->status == -ECANCELED)
		hist_add(&w->stats.op[r->op].cancel_lat, now - r->t_cancel);
	stat_add(&w->stats.completed, 1);
	stat_add(&w->stats.inflight, -1);
	if (!r->sync)
		w->async_inflight[r->fd == w->dma_fd]--;
	why = check_event(r, ev, w->sh->cfg.removal);
	count_status(w, r, ev);
	learn_latency(w, r, ev, lat);
	learn_cancel(w, r, ev);
	if (op_is_dma(r->op) && !dma_event(w, r, ev) && !why)
		why = "DMA data differ";
	if (why)
		wrong_result(w, r, ev, why);
	reqtab_release(&w->tab, r);
}

static void handle_event(struct worker *w, const struct kcancel_event *ev,
			 u64 now)
{
	struct req *r = reqtab_find(&w->tab, ev->id);

	if (!r) {
		stray_event(w, ev);
		return;
	}
	complete_req(w, r, ev, now);
}

/*
 * With --removal: file @i (0: &worker.fd, 1: &worker.dma_fd) said end of
 * file or POLLHUP. No event will come from it any more, so it is polled and
 * read no more; its requests still in the table are lost.
 */
static void file_hup(struct worker *w, int i)
{
	if (w->hup[i])
		return;
	w->hup[i] = true;
	stat_add(&w->stats.hangups, 1);
	device_gone(w);
}

/*
 * Read the events there are on @fd, which is non-blocking: all of them. (With
 * a batch, KCANCEL_IOC_BATCH reaps; read() only at a hang-up.)
 */
static void reap_fd(struct worker *w, int fd)
{
	struct kcancel_event *ev = w->evbuf;
	size_t size = w->evbuf_len * sizeof(*ev);
	ssize_t n;
	size_t i;
	u64 now;

	for (;;) {
		n = read(fd, ev, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (!n && w->sh->cfg.removal) {
			file_hup(w, fd == w->dma_fd);
			return;
		}
		if (n <= 0) {
			/* A read that returns 0 would make poll() spin. */
			worker_error(w, "read", n ? errno : EPROTO);
			w->gone = true;
			return;
		}
		if (n % sizeof(ev[0]))
			worker_error(w, "read: a partial event", EPROTO);
		stat_add(&w->stats.reads, 1);
		w->backpressure = false;
		now = now_ns();
		for (i = 0; i < n / sizeof(ev[0]); i++)
			handle_event(w, &ev[i], now);
		if ((size_t)n < size)
			return;
	}
}

static void reap(struct worker *w)
{
	if (!w->hup[0])
		reap_fd(w, w->fd);
	if (!w->gone && !w->hup[1])
		reap_fd(w, w->dma_fd);
	sync_reap(w);
}

/* Submit one more request; false if none may be submitted now. */
static bool submit_next(struct worker *w)
{
	u32 op = choose_op(w);

	if (!op)
		return false;
	if (!reserve(w)) {
		begin_drain(w, false);
		return false;
	}
	return submit_one(w, op);
}

/*
 * Submit until depth requests are in flight, or something says stop (the
 * unbatched mode; see batch_turn()).
 */
static void fill(struct worker *w)
{
	bool more;

	while (!w->draining && !w->backpressure && w->tab.used < w->tab.cap) {
		more = submit_next(w);
		fire_cancels(w, now_ns());
		if (!more)
			return;
	}
}

/*
 * How long to sleep from @now: until @due (the next cancel), a tick at
 * most, and not past the drain's deadline.
 */
static u64 sleep_ns(const struct worker *w, u64 now, u64 due)
{
	u64 timeout = due > now ? due - now : 0;

	if (timeout > WORKER_TICK_NS)
		timeout = WORKER_TICK_NS;
	if (w->draining && w->drain_deadline < now + timeout)
		timeout = w->drain_deadline > now ? w->drain_deadline - now : 0;
	return timeout;
}

static struct timespec ns_to_timespec(u64 ns)
{
	return (struct timespec){
		.tv_sec = ns / NSEC_PER_SEC,
		.tv_nsec = ns % NSEC_PER_SEC,
	};
}

/*
 * ---- with a batch: KCANCEL_IOC_BATCH ----
 */

/* Whether a whole batch fits in the table, and may be submitted now. */
static bool batch_fits(const struct worker *w)
{
	return !w->draining && !w->backpressure &&
	       w->tab.used + w->sh->cfg.batch <= w->tab.cap;
}

/* Whether a batch fits and choose_op() has something to choose from. */
static bool batch_ready(const struct worker *w)
{
	u32 op;

	if (!batch_fits(w))
		return false;
	for (op = 1; op <= KCANCEL_OP_MAX; op++)
		if (op_allowed(w, op))
			return true;
	return false;
}

/*
 * Prepare the next batch: up to a batch of requests, each to the
 * KCANCEL_IOC_BATCH of its file, or with --sync-pct to the submit-and-wait
 * thread, each with its unit of the budget. The cancel of each is drawn
 * now, its deadline relative to the submit (whose time comes with the
 * call). Returns how many were prepared.
 */
static unsigned int batch_build(struct worker *w)
{
	const struct stress_config *cfg = &w->sh->cfg;
	struct kcancel_submit s;
	unsigned int i;
	struct req *r;
	u32 op;
	int f;

	for (i = 0; i < cfg->batch; i++) {
		op = choose_op(w);
		if (!op)
			break;
		if (!reserve(w)) {
			begin_drain(w, false);
			break;
		}
		r = reqtab_alloc(&w->tab);
		prepare(w, r, op, &s);
		r->fd = op_is_dma(op) ? w->dma_fd : w->fd;
		if (cfg->sync_pct && rng_pct(w, cfg->sync_pct)) {
			submit_sync(w, r, &s);
			continue;
		}
		w->reserved = false;
		/* One DMA in flight: choose_op() picks no other meanwhile. */
		if (op_is_dma(op))
			w->dma_busy = true;
		plan_cancel(w, r);
		f = r->fd == w->dma_fd;
		w->bsub[f][w->nsub[f]] = s;
		w->breq[f][w->nsub[f]++] = r;
	}
	return i;
}

/*
 * The KCANCEL_IOC_BATCH of file @f queued the first @k of its requests, at
 * @t_submit; the next one failed with @err, if @err is not 0. Track the
 * queued ones, let go of the others, and count the failure as a submit's.
 */
static void batch_submitted(struct worker *w, int f, u32 k, int err,
			    u64 t_submit)
{
	const struct stress_config *cfg = &w->sh->cfg;
	unsigned int i, n = w->nsub[f];
	struct req *r;

	w->nsub[f] = 0;
	for (i = 0; i < n; i++) {
		r = w->breq[f][i];
		if (i < k) {
			r->id = w->bsub[f][i].id;
			r->t_submit = t_submit;
			track_planned(w, r);
			continue;
		}
		if (op_is_dma(r->op))
			w->dma_busy = false;
		reqtab_release(&w->tab, r);
		/* The unit of a request not reached is for the next submit. */
		if (i > k && cfg->requests)
			w->spare++;
	}
	if (k >= n || !err)
		return;
	/* The one that failed holds its unit as a submit does. */
	if (cfg->requests) {
		if (w->reserved)
			w->spare++;
		w->reserved = true;
	}
	submit_failed(w, SUBMIT_IOCTL, err);
}

/* The requests before the first whose id is still 0: those queued. */
static u32 queued_by_ids(const struct kcancel_submit *s, unsigned int n)
{
	u32 k = 0;

	while (k < n && s[k].id)
		k++;
	return k;
}

/*
 * One KCANCEL_IOC_BATCH on file @f (0: &worker.fd, 1: &worker.dma_fd): the
 * requests prepared for it, then up to a batch of its events. With @may_wait,
 * it waits for one event, as long as ppoll() would (see sleep_ns()), unless
 * a request of the call has its cancel at an event. Returns how many events
 * it reaped.
 */
static int batch_call(struct worker *w, int f, bool may_wait)
{
	unsigned int nsub = w->nsub[f], i;
	struct req *first = cancelq_first(&w->tab);
	u64 t0, due = first ? first->cancel_at : UINT64_MAX, now;
	bool at_event = w->at_event;
	struct kcancel_batch b = {
		.submits = (uintptr_t)w->bsub[f],
		.events = (uintptr_t)w->evbuf,
		.nr_submits = nsub,
		.max_events = w->evbuf_len,
	};
	int n, err = 0;
	u32 k;

	t0 = now_ns();
	for (i = 0; i < nsub; i++) {
		struct req *r = w->breq[f][i];

		/* Ids are never 0: the queued requests show by theirs. */
		w->bsub[f][i].id = 0;
		r->t_submit = t0;
		if (r->cancel_state == REQ_CANCEL_PLANNED) {
			r->cancel_at += t0;
			if (r->cancel_at < due)
				due = r->cancel_at;
		}
		at_event |= r->cancel_state == REQ_CANCEL_AT_EVENT;
	}
	if (may_wait && !at_event) {
		b.timeout_ns = sleep_ns(w, t0, due);
		b.min_events = b.timeout_ns ? 1 : 0;
	}
	n = ioctl(f ? w->dma_fd : w->fd, KCANCEL_IOC_BATCH, &b);
	if (n < 0)
		err = errno;
	stat_add(&w->stats.batches, 1);
	/* EINTR, which nothing here sends, still says what was submitted. */
	if (err && err != EINTR) {
		worker_error(w, "batch", err);
		batch_submitted(w, f, queued_by_ids(w->bsub[f], nsub), 0, t0);
		w->gone = true;
		return 0;
	}
	k = b.submitted;
	if (k > nsub || b.error > 0 || (k < nsub && !b.error) ||
	    (k == nsub && b.error)) {
		worker_error(w, "batch: submitted and error disagree", EPROTO);
		batch_submitted(w, f, queued_by_ids(w->bsub[f], nsub), 0, t0);
	} else {
		batch_submitted(w, f, k, -b.error, t0);
	}
	if (n <= 0)
		return 0;
	if ((unsigned int)n > w->evbuf_len) {
		worker_error(w, "batch: more events than max_events", EPROTO);
		n = w->evbuf_len;
	}
	stat_add(&w->stats.reads, 1);
	w->backpressure = false;
	now = now_ns();
	for (i = 0; i < (unsigned int)n; i++)
		handle_event(w, &w->evbuf[i], now);
	return n;
}

/*
 * The file whose KCANCEL_IOC_BATCH may wait for an event, 0 or 1; -1 if
 * none may: it must be the one thing the worker waits for (nothing in
 * flight on the other file, no submit-and-wait call, no cancel waiting for
 * poll()), and no other batch must be ready to go.
 */
static int batch_wait_file(const struct worker *w, unsigned int built)
{
	bool busy[2];
	int f;

	if ((built && batch_fits(w)) || w->sync_pending || w->at_event)
		return -1;
	for (f = 0; f < 2; f++)
		busy[f] = w->async_inflight[f] || w->nsub[f];
	if (busy[0] == busy[1])
		return -1;
	f = busy[1];
	return w->hup[f] ? -1 : f;
}

/*
 * One turn with a batch: prepare a batch if one fits, submit it with one
 * KCANCEL_IOC_BATCH per file, each of which also reaps (a file with nothing
 * to submit gets one that only reaps), the one that may wait last. Returns
 * true if the worker need not sleep in ppoll(): the call that waited
 * reaped, or a batch fits now (the calls may have made room for one).
 */
static bool batch_turn(struct worker *w)
{
	unsigned int built = 0, i;
	bool reaped = false;
	int wf, f;

	if (batch_fits(w))
		built = batch_build(w);
	wf = batch_wait_file(w, built);
	for (i = 0; i < 2; i++) {
		f = wf == 0 ? 1 - i : i;
		if (w->gone) {
			batch_submitted(w, f, 0, 0, 0);
			continue;
		}
		if (w->hup[f] && !w->nsub[f])
			continue;
		if (batch_call(w, f, f == wf) > 0 && f == wf)
			reaped = true;
	}
	sync_reap(w);
	fire_cancels(w, now_ns());
	return reaped || batch_ready(w);
}

/*
 * Sleep until an event is ready, a submit-and-wait call returned, a cancel
 * is due, or the tick ends.
 */
static void wait_events(struct worker *w)
{
	struct pollfd p[3] = {
		{ .fd = w->hup[0] ? -1 : w->fd, .events = POLLIN },
		{ .fd = w->hup[1] ? -1 : w->dma_fd, .events = POLLIN },
		{ .fd = w->syncer.efd, .events = POLLIN },
	};
	nfds_t nfds = w->syncer.cap ? 3 : 2;
	struct req *first = cancelq_first(&w->tab);
	u64 now = now_ns();
	struct timespec ts;
	short revents;
	int i;

	ts = ns_to_timespec(sleep_ns(w, now, first ? first->cancel_at :
				     UINT64_MAX));
	if (ppoll(p, nfds, &ts, NULL) < 0) {
		if (errno != EINTR) {
			worker_error(w, "poll", errno);
			w->gone = true;
		}
		return;
	}
	for (i = 0; i < 2; i++)
		if ((p[i].revents & POLLIN) && w->at_event)
			fire_at_event(w, p[i].fd);
	revents = p[0].revents | p[1].revents | p[2].revents;
	if (revents & (POLLERR | POLLNVAL)) {
		worker_error(w, "poll", EIO);
		w->gone = true;
	} else if ((revents & POLLHUP) && w->sh->cfg.removal) {
		/* Read what came before the hang-up: nothing, in fact. */
		for (i = 0; i < 2; i++) {
			if (!(p[i].revents & POLLHUP))
				continue;
			reap_fd(w, p[i].fd);
			file_hup(w, i);
		}
	} else if (revents & POLLHUP) {
		/* The device is gone: what has no event now never will. */
		reap(w);
		worker_error(w, "poll: the device hung up", ENODEV);
		w->gone = true;
	}
}

/*
 * ---- with --io-uring: CQEs ----
 */

/* A submit refused by the driver: the request was not queued. */
static bool uring_refusal(int status)
{
	switch (status) {
	case -EAGAIN:
	case -ENOMEM:
	case -EINVAL:
	case -EFAULT:
		return true;
	}
	return false;
}

/*
 * The CQE of @r says that its submit was refused: undo its counting as
 * submitted, give its unit of the budget back for EAGAIN, and count the
 * failure as a submit's. A cancel must have found nothing (ENOENT).
 */
static void uring_refused(struct worker *w, struct req *r)
{
	const struct stress_config *cfg = &w->sh->cfg;
	int err = -r->ev.status;

	if (r->ev.result)
		wrong_result(w, r, &r->ev, "result set with a refused submit");
	else if (r->cancel_state >= REQ_CANCEL_RANDOM &&
		 (!r->cancel_rc || r->cancel_rc == EALREADY))
		wrong_result(w, r, &r->ev,
			     "a cancel found a request whose submit was refused");
	stat_add(&w->stats.submitted, -1);
	stat_add(&w->stats.op[r->op].submitted, -1);
	stat_add(&w->stats.inflight, -1);
	w->async_inflight[r->fd == w->dma_fd]--;
	if (op_is_dma(r->op))
		w->dma_busy = false;
	if (r->cancel_state == REQ_CANCEL_AT_EVENT)
		w->at_event--;
	reqtab_release(&w->tab, r);
	if (err == EAGAIN && cfg->requests)
		w->spare++;
	submit_failed(w, SUBMIT_URING, err);
}

/* Both the CQE of @r and that of its cancel, if any, are in: judge it. */
static void uring_req_done(struct worker *w, struct req *r)
{
	if (uring_refusal(r->ev.status))
		uring_refused(w, r);
	else
		complete_req(w, r, &r->ev, r->t_event);
}

/*
 * The CQE of a KCANCEL_URING_CMD_SUBMIT, with user_data @key. A request
 * that ends makes room: backpressure is over.
 */
static void uring_req_cqe(struct worker *w, u64 key, s32 res, u64 result,
			  u64 now)
{
	struct req *r = reqtab_find(&w->tab, key);
	struct kcancel_event ev = {
		.id = key,
		.tag = key,
		.result = result,
		.status = res,
	};

	if (!r || r->cqe_seen) {
		ev.op = r ? r->op : 0;
		stray_event(w, &ev);
		return;
	}
	ev.op = r->op;
	r->ev = ev;
	r->t_event = now;
	r->cqe_seen = true;
	w->backpressure = false;
	/* Its cancel's CQE tells how to read this one: wait for it. */
	if (!r->cancel_pending)
		uring_req_done(w, r);
}

/* The CQE of a KCANCEL_URING_CMD_CANCEL for the request of user_data @key. */
static void uring_cancel_cqe(struct worker *w, u64 key, s32 res, u64 extra)
{
	struct req *r = reqtab_find(&w->tab, key);

	if (!r || !r->cancel_pending) {
		stat_add(&w->stats.dbl, 1);
		diag(w->sh, "thread %u: a stray cancel CQE: user_data %#llx res %d\n",
		     w->idx, key, res);
		return;
	}
	r->cancel_pending = false;
	r->cancel_rc = -res;
	if (extra)
		worker_error(w, "KCANCEL_URING_CMD_CANCEL: big_cqe[0] is set",
			     EPROTO);
	cancel_answered(w, r);
	if (r->cqe_seen)
		uring_req_done(w, r);
}

/*
 * The CQ holds CQEs, not reaped yet: fire the cancels that wait for an
 * event on the files whose requests they complete, as poll() would say
 * (on the DMA file, that its one DMA has completed). They race with the
 * completions that are done already: the cancel of a request whose CQE is
 * there must find it completed (ENOENT).
 */
static void uring_fire_at_event(struct worker *w)
{
	bool ready[2] = { false, false };
	struct io_uring_cqe *cqe;
	unsigned int head;
	struct req *r;

	io_uring_for_each_cqe(w->ring, head, cqe) {
		if (cqe->user_data & URING_CANCEL_BIT)
			continue;
		r = reqtab_find(&w->tab, cqe->user_data);
		if (r)
			ready[r->fd == w->dma_fd] = true;
	}
	if (ready[0])
		fire_at_event(w, w->fd);
	if (ready[1])
		fire_at_event(w, w->dma_fd);
	uring_flush(w);
}

/*
 * Reap the CQEs there are, firing the cancels that wait for an event
 * first.
 */
static void uring_reap(struct worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;
	u64 now;

	if (!io_uring_cq_ready(w->ring))
		return;
	if (w->at_event)
		uring_fire_at_event(w);
	now = now_ns();
	io_uring_for_each_cqe(w->ring, head, cqe) {
		u64 key = cqe->user_data;

		if (key & URING_CANCEL_BIT)
			uring_cancel_cqe(w, key & ~URING_CANCEL_BIT, cqe->res,
					 cqe->big_cqe[0]);
		else
			uring_req_cqe(w, key, cqe->res, cqe->big_cqe[0], now);
		n++;
	}
	io_uring_cq_advance(w->ring, n);
	stat_add(&w->stats.reads, 1);
}

/*
 * Wait for a CQE, until the next cancel is due, a tick at most. Entering
 * the kernel also runs the task work that posts the CQEs of completed
 * requests.
 */
static void uring_wait(struct worker *w)
{
	struct req *first = cancelq_first(&w->tab);
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	u64 ns;
	int ret;

	if (io_uring_cq_ready(w->ring))
		return;
	ns = sleep_ns(w, now_ns(), first ? first->cancel_at : UINT64_MAX);
	ts.tv_sec = ns / NSEC_PER_SEC;
	ts.tv_nsec = ns % NSEC_PER_SEC;
	ret = io_uring_wait_cqe_timeout(w->ring, &cqe, &ts);
	if (ret && ret != -ETIME && ret != -EINTR) {
		worker_error(w, "io_uring_wait_cqe_timeout", -ret);
		w->gone = true;
	}
}

/* With --ring-teardown: @r left its file after its ring was closed. */
static void uring_torn_down(struct worker *w, struct req *r)
{
	stat_add(&w->stats.torn_down, 1);
	stat_add(&w->stats.inflight, -1);
	w->async_inflight[r->fd == w->dma_fd]--;
	if (op_is_dma(r->op)) {
		w->dma_busy = false;
		if (r->op == KCANCEL_OP_DMA_TO_DEV)
			dma_region_write(&w->dma, r->offset, r->len, false);
	}
	if (r->cancel_state == REQ_CANCEL_AT_EVENT)
		w->at_event--;
	reqtab_release(&w->tab, r);
}

/*
 * Whether @r has left its file: a cancel by its user_data finds nothing.
 * 0 and EALREADY: it is still there (cancelled by the teardown, the device
 * still holds it). Anything else is an error, and ends the looking.
 */
static int uring_gone(struct worker *w, const struct req *r)
{
	struct kcancel_cancel c = {
		.id = r->id,
		.flags = KCANCEL_CANCEL_USER_DATA,
	};
	int rc;

	do {
		rc = ioctl(r->fd, KCANCEL_IOC_CANCEL, &c);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0 && errno == ENOENT)
		return 1;
	if (!rc || errno == EALREADY)
		return 0;
	worker_error(w, "cancel after the ring's teardown", errno);
	return -1;
}

/* How many cancel SQEs of @w have no CQE yet. */
static unsigned int uring_cancels_pending(const struct worker *w)
{
	const struct reqtab *t = &w->tab;
	unsigned int i, n = 0;

	for (i = 0; i <= t->index_mask; i++)
		if (t->index[i] && t->slots[t->index[i] - 1].cancel_pending)
			n++;
	return n;
}

/*
 * --ring-teardown: submitting is over. Take the CQEs there are, and those
 * of the cancels sent (posted as their SQEs are issued), then close the
 * ring with the other requests in flight: io_uring cancels them as it goes,
 * and their CQEs go with it. Each must then leave its file, at once or when
 * the device lets go of it; one still there when the drain's time is up is
 * lost (count_lost()), and so is one whose CQE came but not its cancel's.
 */
static void uring_teardown(struct worker *w)
{
	struct reqtab *t = &w->tab;
	unsigned int *left, n = 0, i, k;
	struct timespec pause = ns_to_timespec(URING_PROBE_NS);
	struct __kernel_timespec wait = { 0 };
	struct io_uring_cqe *cqe;
	int gone, ret;

	/* No cancel waits for an event any more: it would come too late. */
	for (i = 0; i <= t->index_mask && w->at_event; i++) {
		struct req *r;

		if (!t->index[i])
			continue;
		r = &t->slots[t->index[i] - 1];
		if (r->cancel_state == REQ_CANCEL_AT_EVENT) {
			r->cancel_state = REQ_CANCEL_NONE;
			w->at_event--;
		}
	}
	do {
		uring_flush(w);
		/* Entering the kernel runs the task work that posts CQEs. */
		ret = io_uring_wait_cqe_timeout(w->ring, &cqe, &wait);
		if (ret && ret != -ETIME && ret != -EINTR) {
			worker_error(w, "io_uring_wait_cqe_timeout", -ret);
			break;
		}
		uring_reap(w);
		wait.tv_nsec = URING_PROBE_NS;
	} while (uring_cancels_pending(w) && now_ns() < w->drain_deadline &&
		 !w->gone);
	io_uring_queue_exit(w->ring);
	w->ring_closed = true;
	left = calloc(t->cap, sizeof(*left));
	if (!left) {
		worker_error(w, "teardown", ENOMEM);
		return;
	}
	for (i = 0; i <= t->index_mask; i++)
		if (t->index[i] && !t->slots[t->index[i] - 1].cqe_seen)
			left[n++] = t->index[i] - 1;
	while (n && now_ns() < w->drain_deadline &&
	       !__atomic_load_n(&w->sh->abort, __ATOMIC_RELAXED)) {
		for (i = 0, k = 0; i < n; i++) {
			gone = uring_gone(w, &t->slots[left[i]]);
			if (gone < 0)
				goto out;
			if (gone)
				uring_torn_down(w, &t->slots[left[i]]);
			else
				left[k++] = left[i];
		}
		n = k;
		if (n)
			nanosleep(&pause, NULL);
	}
out:
	free(left);
}

/* One turn of the loop with --io-uring; false when the worker is done. */
static bool uring_step(struct worker *w)
{
	struct stress_shared *sh = w->sh;
	u64 now;

	fire_cancels(w, now_ns());
	uring_flush(w);
	uring_reap(w);
	if (__atomic_load_n(&sh->stop, __ATOMIC_RELAXED))
		begin_drain(w, !sh->cfg.ring_teardown);
	if (sh->cfg.removal && __atomic_load_n(&sh->removed, __ATOMIC_RELAXED))
		begin_drain(w, false);
	fill(w);
	uring_flush(w);
	if (w->gone || __atomic_load_n(&sh->abort, __ATOMIC_RELAXED))
		return false;
	if (w->draining && sh->cfg.ring_teardown) {
		uring_teardown(w);
		return false;
	}
	now = now_ns();
	if (w->draining && (!w->tab.used || now >= w->drain_deadline))
		return false;
	uring_wait(w);
	return true;
}

/* One turn of the loop; false when the worker is done. */
static bool worker_step(struct worker *w)
{
	struct stress_shared *sh = w->sh;
	bool busy = false;
	u64 now;

	if (w->ring)
		return uring_step(w);

	fire_cancels(w, now_ns());
	if (!sh->cfg.batch)
		reap(w);
	if (__atomic_load_n(&sh->stop, __ATOMIC_RELAXED))
		begin_drain(w, true);
	if (sh->cfg.removal && __atomic_load_n(&sh->removed, __ATOMIC_RELAXED))
		begin_drain(w, false);
	if (sh->cfg.batch)
		busy = batch_turn(w);
	else
		fill(w);
	if (w->gone || __atomic_load_n(&sh->abort, __ATOMIC_RELAXED))
		return false;
	now = now_ns();
	if (w->draining && (!w->tab.used || now >= w->drain_deadline))
		return false;
	/* Both files hung up: only submit-and-wait calls can still end. */
	if (w->hup[0] && w->hup[1] && !w->sync_pending)
		return false;
	if (!busy)
		wait_events(w);
	return true;
}

/*
 * Whatever is still in flight has had its chance: it is lost. So is a
 * submit-and-wait call that has not returned; one not made yet is dropped.
 */
static void count_lost(struct worker *w)
{
	struct reqtab *t = &w->tab;
	u64 now = now_ns();
	unsigned int i, stuck;

	sync_reap(w);
	for (i = 0; i <= t->index_mask; i++) {
		const struct req *r;
		char buf[REQ_DESC_LEN];

		if (!t->index[i])
			continue;
		r = &t->slots[t->index[i] - 1];
		stat_add(&w->stats.lost, 1);
		diag(w->sh, "thread %u: lost: %s after %.3f s: %s\n", w->idx,
		     r->cqe_seen ? "no CQE for its cancel" :
		     w->ring_closed ? "still in its file, its ring closed," :
		     "no event",
		     (double)(now - r->t_submit) / NSEC_PER_SEC,
		     req_desc(r, buf, sizeof(buf)));
	}
	if (w->syncer.cap) {
		syncer_quit(&w->syncer);
		stuck = syncer_count(&w->syncer, SYNC_RUNNING);
		w->syncer.stuck = stuck;
		stat_add(&w->stats.lost, stuck);
		if (stuck)
			diag(w->sh, "thread %u: lost: %u submit-and-wait calls have not returned\n",
			     w->idx, stuck);
	}
	__atomic_store_n(&w->stats.inflight, 0, __ATOMIC_RELAXED);
}

void *worker_run(void *arg)
{
	struct worker *w = arg;
	int fi = -1;

	if (w->sh->cfg.fail_alloc) {
		fi = fail_alloc_begin();
		if (fi < 0) {
			worker_error(w, MAKE_IT_FAIL, errno);
			w->gone = true;
		}
	}
	while (!w->gone && worker_step(w))
		;
	count_lost(w);
	fail_alloc_end(fi);
	__atomic_fetch_add(&w->sh->done, 1, __ATOMIC_RELEASE);
	return NULL;
}
