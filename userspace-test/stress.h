/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kcancel-stress: what the option parser, the workers and the report share.
 *
 * Each worker thread owns one open file of the device, a table of its
 * requests in flight, the deadlines of the cancels it has planned, and a
 * region of the device memory for DMA. Its counters are written by it alone
 * and read, relaxed, by the main thread for the progress line; everything
 * else is read only after the worker has been joined. With --sync-pct, a
 * second thread per worker makes the worker's KCANCEL_IOC_SUBMIT_WAIT calls
 * and hands each completion back to it, through a &struct syncer. With
 * --io-uring, each worker also owns an io_uring ring, through which it
 * submits and reaps.
 */
#ifndef KCANCEL_STRESS_H
#define KCANCEL_STRESS_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/kcancel.h>

typedef __u8 u8;
typedef __u32 u32;
typedef __s32 s32;
typedef __u64 u64;

#define STRESS_PROG	"kcancel-stress"

/* The exit status when --io-uring finds no io_uring commands to use. */
#define STRESS_EXIT_NO_URING	4

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define NSEC_PER_USEC	1000ULL
#define NSEC_PER_MSEC	1000000ULL
#define NSEC_PER_SEC	1000000000ULL

/* How long the drain waits for the events of the requests still in flight. */
#define STRESS_DRAIN_NS		(15 * NSEC_PER_SEC)
/* Regions smaller than this get no DMA: too few offsets and lengths. */
#define STRESS_DMA_MIN_REGION	8
/* Candidate contents of a region before it is given up as unknown. */
#define STRESS_DMA_MAX_CAND	8

/* Latency histogram: 64 linear buckets per power of two, up to 2^42 ns. */
#define HIST_SUB_BITS	6
#define HIST_SUB	64
#define HIST_MAX_EXP	42
#define HIST_BUCKETS	(HIST_SUB * (HIST_MAX_EXP - HIST_SUB_BITS + 2))
/* Rows of the printed table: < 1 us, then [2^(k-1), 2^k) us up to 2^32 us. */
#define HIST_LOG2_ROWS	34

/**
 * struct hist - a log-linear histogram of latencies in nanoseconds
 * @count: the number of samples.
 * @max_ns: the largest sample.
 * @bucket: the samples per bucket; the relative width of a bucket is 1/64.
 * @log2_us: the samples per row of the printed table: row 0 counts those
 *	below 1 us, row k those in [2^(k-1), 2^k) us, the last row the rest.
 */
struct hist {
	u64 count;
	u64 max_ns;
	u64 bucket[HIST_BUCKETS];
	u64 log2_us[HIST_LOG2_ROWS];
};

void hist_add(struct hist *h, u64 ns);
void hist_merge(struct hist *dst, const struct hist *src);
double hist_quantile_us(const struct hist *h, double q);
double hist_max_us(const struct hist *h);

/**
 * struct stress_config - what the command line asked for
 * @device: the character device, e.g. /dev/kcancel0.
 * @threads: the number of worker threads, each with its own open file.
 * @seconds: how long to submit; 0 for no limit.
 * @requests: how many requests to submit in all; 0 for no limit.
 * @cancel_pct: the percentage of requests cancelled after a random delay.
 * @timeout_pct: the percentage of requests submitted with a timeout.
 * @depth: the most requests a thread keeps in flight.
 * @batch: 0: submit whenever there is room, read until nothing is left;
 *	else submit this many requests at once and reap at most this many
 *	events, with one KCANCEL_IOC_BATCH per file.
 * @weight: the share of each operation in the mix, indexed by &enum
 *	kcancel_op; 0 for an operation not submitted.
 * @cancel_delay_set: @cancel_delay_min_ns and @cancel_delay_max_ns bound
 *	every random cancel's delay; else the delays are steered so that about
 *	half of the cancels win.
 * @cancel_delay_min_ns: the shortest delay from a submit to its cancel.
 * @cancel_delay_max_ns: the longest.
 * @timeout_set: @timeout_min_ns and @timeout_max_ns bound the timeouts;
 *	else they are drawn like the steered cancel delays, without the steering.
 * @timeout_min_ns: the shortest timeout, at least 1.
 * @timeout_max_ns: the longest.
 * @seed: the seed of every thread's random numbers.
 * @progress_ms: how often to print the progress line; 0 for never.
 * @progress_set: --progress-ms was given: print progress even when stderr
 *	is not a terminal.
 * @json: print only the JSON line on stdout.
 * @quiet: no progress and no summary: only the JSON line on stdout.
 * @sync_pct: the percentage of requests submitted with
 *	KCANCEL_IOC_SUBMIT_WAIT, by the worker's submit-and-wait thread.
 * @removal: the device may be removed during the run: -ENODEV events,
 *	ENODEV from a submit, end of file and POLLHUP are expected, and end
 *	the run.
 * @fail_alloc: the threads that submit fail their kernel allocations
 *	(/proc/thread-self/make-it-fail); ENOMEM from a submit is expected.
 * @io_uring: submit with KCANCEL_URING_CMD_SUBMIT through a ring per
 *	thread, reap the CQEs, cancel by user_data.
 * @ring_teardown: with @io_uring, end the run by closing each ring with
 *	its requests in flight, for io_uring to cancel, instead of draining.
 * @info: what KCANCEL_IOC_INFO said about the device.
 */
struct stress_config {
	const char *device;
	unsigned int threads;
	unsigned int seconds;
	u64 requests;
	unsigned int cancel_pct;
	unsigned int timeout_pct;
	unsigned int depth;
	unsigned int batch;
	u32 weight[KCANCEL_OP_MAX + 1];
	bool cancel_delay_set;
	u64 cancel_delay_min_ns;
	u64 cancel_delay_max_ns;
	bool timeout_set;
	u64 timeout_min_ns;
	u64 timeout_max_ns;
	u64 seed;
	unsigned int progress_ms;
	bool progress_set;
	bool json;
	bool quiet;
	unsigned int sync_pct;
	bool removal;
	bool fail_alloc;
	bool io_uring;
	bool ring_teardown;
	struct kcancel_info info;
};

/**
 * struct op_stats - the counters of one operation
 * @submitted: requests submitted.
 * @ok: events with status 0.
 * @cancelled: events with status -ECANCELED.
 * @timed_out: events with status -ETIMEDOUT.
 * @cancel_won: random cancels that returned 0 (the event was -ECANCELED).
 * @completion_won: random cancels that returned EALREADY, event status 0.
 * @cancel_late: random cancels not issued: the event came before they were
 *	due.
 * @cancel_enoent: cancels that returned ENOENT although the event was not
 *	reaped yet.
 * @sync: requests submitted with KCANCEL_IOC_SUBMIT_WAIT (in @submitted).
 * @enodev: events with status -ENODEV, with --removal.
 * @lat: the submit-to-event latency of every event.
 * @cancel_lat: from the start of a random cancel that returned 0 to its
 *	event.
 */
struct op_stats {
	u64 submitted;
	u64 ok;
	u64 cancelled;
	u64 timed_out;
	u64 cancel_won;
	u64 completion_won;
	u64 cancel_late;
	u64 cancel_enoent;
	u64 sync;
	u64 enodev;
	struct hist lat;
	struct hist cancel_lat;
};

/**
 * struct stress_stats - the counters of a worker, or of the whole run
 * @submitted: requests submitted.
 * @completed: events received for requests in flight (with io_uring, the
 *	CQEs of requests that were queued).
 * @ok: events with status 0.
 * @cancelled: events with status -ECANCELED.
 * @timed_out: events with status -ETIMEDOUT.
 * @errors: failed ioctls and reads (but EAGAIN backpressure, and what
 *	--removal and --fail-alloc expect), and events with status -EIO, or
 *	-ENODEV without --removal.
 * @lost: requests without an event at the end of the drain; with io_uring
 *	also a request whose cancel SQE got no CQE, and with --ring-teardown
 *	one still in its file at the end.
 * @dbl: events for an id not in flight: completed already, or unknown;
 *	with io_uring, CQEs for a user_data not in flight, or a cancel's CQE
 *	with no cancel SQE in flight.
 * @wrong_result: events that contradict the request or the cancel.
 * @eagain: submits refused with EAGAIN (backpressure, not an error).
 * @enodev: events with status -ENODEV, with --removal.
 * @cancel_enodev: of those, events of a request whose cancel returned 0.
 * @enodev_submits: submits refused with ENODEV, with --removal.
 * @hangups: files that reported end of file or POLLHUP, with --removal.
 * @enomem: submits refused with ENOMEM, with --fail-alloc.
 * @sync_submitted: requests submitted with KCANCEL_IOC_SUBMIT_WAIT.
 * @cancels: random cancels issued.
 * @drain_cancels: cancels issued at the end, to speed the drain.
 * @drain_cancel_won: of those, the ones that returned 0.
 * @dma_checked: DMA reads whose data was compared with the expected.
 * @dma_unchecked: DMA reads of a region whose content was unknown.
 * @inflight: requests submitted and not yet completed, for the progress.
 * @reads: read() calls that returned events; with a batch, the
 *	KCANCEL_IOC_BATCH calls that did; with io_uring, the reaps of the CQ
 *	that found CQEs.
 * @batches: KCANCEL_IOC_BATCH calls.
 * @uring_submits: with io_uring, io_uring_submit() calls.
 * @uring_cancel_sqes: cancels sent as KCANCEL_URING_CMD_CANCEL SQEs.
 * @uring_cancel_ioctls: cancels by user_data with KCANCEL_IOC_CANCEL.
 * @uring_cancel_enoent: cancels by user_data that found the request
 *	completed (ENOENT), its CQE not reaped yet: a completion that won.
 * @torn_down: requests left in flight to the closing of their ring
 *	(--ring-teardown), which then left their file as they should.
 * @cancel_ioctl: how long each random KCANCEL_IOC_CANCEL took.
 * @op: the counters of each operation, indexed by &enum kcancel_op.
 */
struct stress_stats {
	u64 submitted;
	u64 completed;
	u64 ok;
	u64 cancelled;
	u64 timed_out;
	u64 errors;
	u64 lost;
	u64 dbl;
	u64 wrong_result;
	u64 eagain;
	u64 enodev;
	u64 cancel_enodev;
	u64 enodev_submits;
	u64 hangups;
	u64 enomem;
	u64 sync_submitted;
	u64 cancels;
	u64 drain_cancels;
	u64 drain_cancel_won;
	u64 dma_checked;
	u64 dma_unchecked;
	u64 inflight;
	u64 reads;
	u64 batches;
	u64 uring_submits;
	u64 uring_cancel_sqes;
	u64 uring_cancel_ioctls;
	u64 uring_cancel_enoent;
	u64 torn_down;
	struct hist cancel_ioctl;
	struct op_stats op[KCANCEL_OP_MAX + 1];
};

/* Counters the main thread reads while the worker writes them. */
static inline void stat_add(u64 *p, u64 n)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

static inline u64 stat_read(const u64 *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/**
 * struct req - a request in flight
 * @id: the id KCANCEL_IOC_SUBMIT returned; with io_uring, the user_data of
 *	its SQE (its tag: unique in the run, never reused).
 * @tag: the tag it was submitted with.
 * @arg: its argument.
 * @t_submit: CLOCK_MONOTONIC just before the submit, in ns.
 * @timeout_ns: its timeout, 0 for none.
 * @cancel_at: when its random cancel is due (if @heap_idx >= 0).
 * @t_cancel: CLOCK_MONOTONIC just before its cancel was issued, in ns.
 * @op: its &enum kcancel_op.
 * @len: DMA length.
 * @offset: DMA offset, relative to the thread's region.
 * @cancel_rc: 0 or the errno of the cancel issued for it, if @cancel_state
 *	says one was (and, for a KCANCEL_URING_CMD_CANCEL, once its CQE came).
 * @cancel_state: whether a cancel is planned or was issued, see &enum
 *	req_cancel.
 * @ev: with io_uring, its CQE, kept while the CQE of its cancel is awaited.
 * @t_event: when @ev was reaped.
 * @fd: the file it was submitted on.
 * @unsteered: its cancel was (or is to be) issued at an event or right
 *	after its submit, not after a drawn delay: it does not steer the
 *	cancel delays.
 * @sync: it is submitted with KCANCEL_IOC_SUBMIT_WAIT, by the worker's
 *	submit-and-wait thread; it has no id (and is not in the index) until
 *	that call returns, and no cancel.
 * @cancel_sqe: its cancel went as a KCANCEL_URING_CMD_CANCEL SQE.
 * @cancel_pending: that SQE's CQE has not come yet: @cancel_rc is unknown.
 * @cqe_seen: its CQE came (into @ev): a second one is a double.
 * @heap_idx: its place in the cancel heap, -1 if not there.
 * @slot: its place in the table.
 */
struct req {
	u64 id;
	u64 tag;
	u64 arg;
	u64 t_submit;
	u64 timeout_ns;
	u64 cancel_at;
	u64 t_cancel;
	u32 op;
	u32 len;
	u32 offset;
	int cancel_rc;
	int cancel_state;
	struct kcancel_event ev;
	u64 t_event;
	int fd;
	bool unsteered;
	bool sync;
	bool cancel_sqe;
	bool cancel_pending;
	bool cqe_seen;
	int heap_idx;
	int slot;
};

/**
 * enum req_cancel - the cancel of a request
 * @REQ_CANCEL_NONE: none planned.
 * @REQ_CANCEL_PLANNED: a random cancel waits in the heap.
 * @REQ_CANCEL_AT_EVENT: a cancel waits for the next time poll() says an
 *	event is ready on its file (with io_uring, the CQ holds a CQE of a
 *	request of its file), and is issued before that event is read.
 * @REQ_CANCEL_RANDOM: the random (or at-event) cancel was issued.
 * @REQ_CANCEL_DRAIN: a cancel was issued by the drain.
 *
 * The order matters: states below %REQ_CANCEL_RANDOM have issued nothing.
 */
enum req_cancel {
	REQ_CANCEL_NONE,
	REQ_CANCEL_PLANNED,
	REQ_CANCEL_AT_EVENT,
	REQ_CANCEL_RANDOM,
	REQ_CANCEL_DRAIN,
};

/**
 * struct reqtab - the requests of a thread in flight, by id and by cancel
 * @cap: how many requests it holds at most (the depth).
 * @used: how many it holds.
 * @slots: the requests.
 * @free: the free slots, a stack of @cap - @used entries.
 * @index: open-addressing hash of the ids: slot + 1, 0 for empty.
 * @index_mask: the size of @index, a power of two, minus one.
 * @heap: the slots with a planned cancel, a min-heap on &req.cancel_at.
 * @heap_len: how many there are.
 */
struct reqtab {
	unsigned int cap;
	unsigned int used;
	struct req *slots;
	unsigned int *free;
	unsigned int *index;
	unsigned int index_mask;
	unsigned int *heap;
	unsigned int heap_len;
};

int reqtab_init(struct reqtab *t, unsigned int cap);
void reqtab_destroy(struct reqtab *t);
struct req *reqtab_alloc(struct reqtab *t);
void reqtab_insert(struct reqtab *t, struct req *r);
void reqtab_release(struct reqtab *t, struct req *r);
struct req *reqtab_find(const struct reqtab *t, u64 id);
void cancelq_push(struct reqtab *t, struct req *r);
void cancelq_remove(struct reqtab *t, struct req *r);
struct req *cancelq_first(const struct reqtab *t);

/**
 * struct dma_image - one possible content of a DMA region
 * @data: the bytes.
 * @known: per byte, whether @data holds it (the device memory starts
 *	unknown, and a mismatch forgets everything).
 */
struct dma_image {
	u8 *data;
	u8 *known;
};

/**
 * struct dma_region - a thread's part of the device memory, and what it holds
 * @base: its offset in the device memory.
 * @size: its size in bytes; 0 when the thread does no DMA.
 * @ncand: how many candidate contents there are, at least 1.
 * @cand: the candidates: the region holds one of them. Room for twice
 *	%STRESS_DMA_MAX_CAND, since an uncertain write doubles them.
 * @wbuf: the data of the write in flight.
 * @rbuf: where the read in flight lands.
 */
struct dma_region {
	u32 base;
	u32 size;
	unsigned int ncand;
	struct dma_image cand[2 * STRESS_DMA_MAX_CAND];
	u8 *wbuf;
	u8 *rbuf;
};

/**
 * enum dma_check - what a DMA read told about the region
 * @DMA_MATCH: the data matched a candidate.
 * @DMA_UNCHECKED: no byte of the range was known.
 * @DMA_MISMATCH: the data matched no candidate.
 */
enum dma_check {
	DMA_MATCH,
	DMA_UNCHECKED,
	DMA_MISMATCH,
};

int dma_region_init(struct dma_region *d, u32 base, u32 size);
void dma_region_destroy(struct dma_region *d);
void dma_region_poison(struct dma_region *d, u32 off, u32 len);
void dma_region_write(struct dma_region *d, u32 off, u32 len, bool landed);
enum dma_check dma_region_read(struct dma_region *d, u32 off, u32 len,
			       const u8 *data, u32 *bad_off, u8 *want);

/**
 * struct stress_shared - the run, as every thread sees it
 * @cfg: the configuration.
 * @issued: requests reserved so far against &stress_config.requests.
 * @stop: set when submitting must stop (time up or a signal): cancel what
 *	is in flight and drain.
 * @abort: set by a second signal: give up the drain now.
 * @removed: the device went away: a -ENODEV event, ENODEV from a submit,
 *	end of file or POLLHUP. With --removal, every worker then drains.
 * @done: how many workers have finished.
 * @diag_budget: how many more diagnostic lines may be printed.
 */
struct stress_shared {
	struct stress_config cfg;
	u64 issued;
	int stop;
	int abort;
	int removed;
	unsigned int done;
	int diag_budget;
};

/**
 * enum sync_state - where a request handed to a submit-and-wait thread is
 * @SYNC_IDLE: nowhere: the slot is not a submit-and-wait request.
 * @SYNC_QUEUED: waiting for the thread.
 * @SYNC_RUNNING: in KCANCEL_IOC_SUBMIT_WAIT.
 * @SYNC_DONE: the call returned (or the request was dropped); the worker
 *	has not taken it back yet.
 */
enum sync_state {
	SYNC_IDLE,
	SYNC_QUEUED,
	SYNC_RUNNING,
	SYNC_DONE,
};

/* &sync_io.rc of a request dropped by the drain before it was submitted. */
#define SYNC_DROPPED	ESRCH

/**
 * struct sync_io - a request of a submit-and-wait thread
 * @sw: the request, then, once the call returned, its completion in
 *	@sw.done and its id in @sw.req.id.
 * @fd: the file to submit it on.
 * @rc: 0, the errno of KCANCEL_IOC_SUBMIT_WAIT, or %SYNC_DROPPED.
 * @state: an &enum sync_state.
 * @t_submit: CLOCK_MONOTONIC just before the call, in ns.
 * @t_done: just after it returned.
 */
struct sync_io {
	struct kcancel_submit_wait sw;
	int fd;
	int rc;
	int state;
	u64 t_submit;
	u64 t_done;
};

/**
 * struct syncer - a worker's submit-and-wait thread
 * @lock: guards the rings, the states of @io, @drop, @quit and @setup_err.
 * @cond: the thread waits here for a request, or for @quit.
 * @cap: the size of the rings and of @io: the worker's depth.
 * @io: one per slot of the worker's table.
 * @todo: the slots to submit, a ring of @todo_len from @todo_head.
 * @todo_head: the first.
 * @todo_len: how many.
 * @done: the slots whose call returned, a ring of @done_len from
 *	@done_head.
 * @done_head: the first.
 * @done_len: how many.
 * @efd: an eventfd, written when a slot enters @done: the worker polls it.
 * @drop: return the requests not yet submitted as %SYNC_DROPPED.
 * @quit: the thread exits once @todo is empty.
 * @setup_err: the errno with which its fault injection could not be
 *	turned on, 0 if it was (or was not asked for).
 * @setup_seen: the worker has counted @setup_err.
 * @started: @thread runs.
 * @stuck: a call had not returned when the worker ended: @thread is not
 *	joined and the worker's memory is not freed.
 * @thread: the thread.
 */
struct syncer {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int cap;
	struct sync_io *io;
	unsigned int *todo;
	unsigned int todo_head;
	unsigned int todo_len;
	unsigned int *done;
	unsigned int done_head;
	unsigned int done_len;
	int efd;
	bool drop;
	bool quit;
	int setup_err;
	bool setup_seen;
	bool started;
	bool stuck;
	pthread_t thread;
};

int syncer_init(struct syncer *sy, unsigned int cap);
void syncer_destroy(struct syncer *sy);
void syncer_push(struct syncer *sy, unsigned int slot, int fd,
		 const struct kcancel_submit *s);
bool syncer_pop_done(struct syncer *sy, unsigned int *slot);
void syncer_drop(struct syncer *sy);
void syncer_quit(struct syncer *sy);
unsigned int syncer_count(struct syncer *sy, enum sync_state state);
void *syncer_run(void *arg);

/* Where a thread turns the kernel's fault injection on for itself. */
#define MAKE_IT_FAIL	"/proc/thread-self/make-it-fail"

int fail_alloc_begin(void);
void fail_alloc_end(int fd);

struct io_uring;

/**
 * struct worker - one thread
 * @sh: the run.
 * @idx: its index, 0 to &stress_config.threads - 1.
 * @fd: its open file of the device, for factorial and doorbell requests.
 * @dma_fd: its file for DMA requests. With one DMA in flight, this file is
 *	readable exactly when that DMA has completed: a cancel issued then,
 *	before the read, races the completion the way a late user does.
 * @stats: its counters.
 * @tab: its requests in flight.
 * @evbuf: where read() or KCANCEL_IOC_BATCH puts the events.
 * @evbuf_len: how many it holds: the batch, or %WORKER_READ_EVENTS.
 * @bsub: with a batch, per file (@fd, @dma_fd), the requests of the next
 *	KCANCEL_IOC_BATCH: room for the batch on @fd, for one DMA on @dma_fd.
 * @breq: their entries in @tab, allocated but not findable yet.
 * @nsub: how many there are, per file.
 * @async_inflight: per file, the requests submitted with KCANCEL_IOC_SUBMIT
 *	or KCANCEL_IOC_BATCH whose event has not come yet.
 * @spare: units of &stress_shared.issued taken for requests of a batch
 *	that were not queued, and not lost: the next submits use them.
 * @dma: its DMA region.
 * @rng: its random number state.
 * @est_log: per operation, a running average of the logarithm of the
 *	latency of requests that nothing cut short: close to the median.
 * @cancel_bias: per operation, the logarithm of the factor applied to the
 *	cancel delays so that about half of the random cancels win.
 * @next_seq: the sequence number of its next request, in the tag.
 * @at_event: requests in %REQ_CANCEL_AT_EVENT.
 * @dma_busy: a DMA request is in flight.
 * @backpressure: the last submit got EAGAIN: reap before the next.
 * @reserved: one unit of &stress_shared.issued is held for the next submit.
 * @draining: submitting has stopped.
 * @drain_cancelled: the drain cancelled everything in flight.
 * @gone: the device went away, or the file broke.
 * @hup: per file (@fd, @dma_fd), with --removal: it reported end of file or
 *	POLLHUP: no event will come from it any more.
 * @submit_errors: failed submits so far.
 * @uring_idle_eagain: io_uring submits refused with EAGAIN with nothing
 *	else in flight, since the last completion.
 * @drain_deadline: when the drain gives up, in CLOCK_MONOTONIC ns.
 * @sync_pending: requests handed to @syncer and not taken back yet.
 * @syncer: its submit-and-wait thread, with --sync-pct.
 * @ring: with --io-uring, its ring (SQE128 and CQE32); NULL otherwise.
 * @ring_closed: @ring was closed (--ring-teardown).
 * @thread: its pthread.
 */
struct worker {
	struct stress_shared *sh;
	unsigned int idx;
	int fd;
	int dma_fd;
	struct stress_stats stats;
	struct reqtab tab;
	struct kcancel_event *evbuf;
	unsigned int evbuf_len;
	struct kcancel_submit *bsub[2];
	struct req **breq[2];
	unsigned int nsub[2];
	unsigned int async_inflight[2];
	unsigned int spare;
	struct dma_region dma;
	u64 rng;
	double est_log[KCANCEL_OP_MAX + 1];
	double cancel_bias[KCANCEL_OP_MAX + 1];
	u64 next_seq;
	unsigned int at_event;
	bool dma_busy;
	bool backpressure;
	bool reserved;
	bool draining;
	bool drain_cancelled;
	bool gone;
	bool hup[2];
	unsigned int submit_errors;
	unsigned int uring_idle_eagain;
	u64 drain_deadline;
	unsigned int sync_pending;
	struct syncer syncer;
	struct io_uring *ring;
	bool ring_closed;
	pthread_t thread;
};

/**
 * struct stress_result - what the run did, for the report
 * @cfg: the configuration.
 * @stats: the counters and histograms of every worker, summed.
 * @lat: the submit-to-event latency of every event.
 * @cancel_lat: from every random cancel that returned 0 to its event.
 * @seconds: how long the run took, the drain included.
 * @interrupted: a signal stopped it.
 * @removed: the device went away during the run.
 */
struct stress_result {
	const struct stress_config *cfg;
	struct stress_stats stats;
	struct hist lat;
	struct hist cancel_lat;
	double seconds;
	bool interrupted;
	bool removed;
};

void stress_parse_args(struct stress_config *cfg, int argc, char **argv);
void stress_check_device(const struct stress_config *cfg);
bool stress_passed(const struct stress_stats *s);
void stress_print_summary(const struct stress_result *res);
void stress_print_json(const struct stress_result *res);

int worker_init(struct worker *w, struct stress_shared *sh, unsigned int idx,
		int fd, int dma_fd);
void worker_destroy(struct worker *w);
void *worker_run(void *arg);
int worker_uring_probe(void);

u64 now_ns(void);
int diag_claim(struct stress_shared *sh);
void diag_print(const char *line, int left);

/*
 * Print a diagnostic line on stderr, within the budget. A macro, so that the
 * compiler checks the format against the arguments through snprintf().
 */
#define diag(sh, ...)							\
	do {								\
		int __left = diag_claim(sh);				\
		char __line[512];					\
									\
		if (__left > 0) {					\
			snprintf(__line, sizeof(__line), __VA_ARGS__);	\
			diag_print(__line, __left);			\
		}							\
	} while (0)

const char *op_name(u32 op);

#endif /* KCANCEL_STRESS_H */
