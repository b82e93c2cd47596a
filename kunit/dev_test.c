// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite kcancel_dev: software devices driven through the kc_dev API
 * (dev.c and sim.c), without a character device.
 *
 * DOC: How a case drives a device
 *
 * Each case creates its own software device with kc_sim_create() and submits
 * requests exactly as file.c does: kc_dev_check_io(), kc_dev_next_id(),
 * kc_dev_prepare() with the suite's &struct kc_request_ops, kc_dev_queue();
 * it cancels them with kc_dev_cancel(). The device's hrtimers play the
 * hardware and its kthread runs kc_dev_dpc(). The case keeps a reference to
 * each request so that it can look at the status after completion, and each
 * request counts its completions. A case ends by removing the device, which
 * must complete every request, then expects each completed exactly once and,
 * once the case's references are dropped, released.
 *
 * Latencies are chosen so that what a case asserts does not depend on the
 * speed of the machine: a request that must still be in the hardware runs
 * on a device that takes a second (or a minute, when the device can abort),
 * and queueing is forced with one slot per channel.
 */
#include <kunit/test.h>
#include <linux/bitops.h>
#include <linux/delay.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/moduleparam.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/wait_bit.h>

#include <kcancel/dev.h>
#include <kcancel/sim.h>

#include "kc_test.h"

static unsigned int kc_dt_race_requests = 1500;
module_param_named(dev_race_requests, kc_dt_race_requests, uint, 0444);
MODULE_PARM_DESC(dev_race_requests,
		 "requests per kcancel_dev race case (default 1500)");

/* The longest a case waits for one request. */
#define KC_DT_WAIT		(20 * HZ)
/* A device that finishes at once, as far as a case can tell. */
#define KC_DT_FAST_NS		(10 * NSEC_PER_USEC)
/* Long enough that what a case just submitted has not finished yet. */
#define KC_DT_SLOW_NS		(300 * NSEC_PER_MSEC)
/* For cases that look at a request in the hardware several times. */
#define KC_DT_INFLIGHT_NS	(1000 * NSEC_PER_MSEC)
/* A timeout that fires well before KC_DT_INFLIGHT_NS. */
#define KC_DT_TIMEOUT_NS	(50 * NSEC_PER_MSEC)
/* A device that can abort and otherwise never finishes within a case. */
#define KC_DT_NEVER_NS		(60ULL * NSEC_PER_SEC)
/* DMA buffers are filled with this before the device writes them. */
#define KC_DT_POISON		0xcc

/* n! for n = 0..12, independently of kc_dev_factorial(). */
static const u64 kc_dt_factorials[KCANCEL_FACTORIAL_MAX + 1] = {
	1, 1, 2, 6, 24, 120, 720, 5040, 40320, 362880, 3628800, 39916800,
	479001600,
};

/**
 * struct kc_dt - a case's software device and its requests
 * @test: the case.
 * @sim: the device; NULL once removed.
 * @kd: its &struct kc_dev.
 * @ios: the case's requests, each holding a reference of the case's;
 *	used by the test thread only.
 * @alive: requests prepared and not yet released.
 * @bad: requests completed more than once, or released without exactly
 *	one completion.
 * @refused: the device's &kc_queue.refused when kc_dt_remove() removed it.
 */
struct kc_dt {
	struct kunit *test;
	struct kc_sim *sim;
	struct kc_dev *kd;
	struct list_head ios;
	atomic_t alive;
	atomic_t bad;
	int refused;
};

/**
 * struct kc_dt_io - a counted request of a case
 * @io: the device request.
 * @dt: its case.
 * @node: entry in &kc_dt.ios.
 * @completions: how many times it completed.
 * @cancel_wins: how many kc_dev_cancel() calls on it returned true.
 * @completer: the task its completion ran in.
 * @timed: queued with a timeout.
 * @queued_ns: when it was queued.
 * @timer: its timeout, when @timed.
 */
struct kc_dt_io {
	struct kc_io io;
	struct kc_dt *dt;
	struct list_head node;
	atomic_t completions;
	atomic_t cancel_wins;
	struct task_struct *completer;
	bool timed;
	u64 queued_ns;
	struct kc_request_timer timer;
};

static struct kc_dt_io *kc_dt_io_of(struct kc_request *req)
{
	return container_of(req, struct kc_dt_io, io.req);
}

/*
 * &kc_request_ops.completed: any context, count only. It runs after the
 * request's waiters are woken, so kc_dt_wait() waits for this count too.
 */
static void kc_dt_completed(struct kc_request *req)
{
	struct kc_dt_io *tio = kc_dt_io_of(req);

	WRITE_ONCE(tio->completer, current);
	if (atomic_inc_return(&tio->completions) != 1)
		atomic_inc(&tio->dt->bad);
	/* Only hashes the address: @tio may be freed right after. */
	wake_up_var(&tio->completions);
}

static void kc_dt_free(struct kc_dt_io *tio)
{
	kfree(tio->io.buf);
	kfree(tio);
}

static void kc_dt_release(struct kc_request *req)
{
	struct kc_dt_io *tio = kc_dt_io_of(req);
	struct kc_dt *dt = tio->dt;

	if (atomic_read(&tio->completions) != 1)
		atomic_inc(&dt->bad);
	kc_dt_free(tio);
	atomic_dec(&dt->alive);
}

static const struct kc_request_ops kc_dt_ops = {
	.release = kc_dt_release,
	.completed = kc_dt_completed,
};

/*
 * kunit action: remove the device, completing whatever it still has, and
 * keep how many calls on its requests the core refused as misuse.
 */
static void kc_dt_remove(void *arg)
{
	struct kc_dt *dt = arg;
	struct kc_dev *kd = dt->kd;

	kc_dev_get(kd);
	kc_sim_destroy(dt->sim);
	dt->sim = NULL;
	dt->refused = atomic_read(&kd->queue.refused);
	kc_dev_put(kd);
}

/* kunit action: drop the case's references. */
static void kc_dt_put_all(void *arg)
{
	struct kc_dt *dt = arg;
	struct kc_dt_io *tio, *tmp;

	list_for_each_entry_safe(tio, tmp, &dt->ios, node) {
		list_del(&tio->node);
		kc_request_put(&tio->io.req);
	}
}

/**
 * kc_dt_init() - create a case's software device
 * @test: the case.
 * @latency_ns: how long an operation takes.
 * @jitter_ns: up to this much more, at random.
 * @parallel: factorial and DMA slots, each.
 * @abort: whether a cancel stops an operation in flight.
 * @mode: the synchronization mode.
 *
 * Removal of the device and the drop of the case's references are kunit
 * actions, so that a failed assertion leaves nothing behind.
 *
 * Context: the test thread.
 * Return: the fixture, also in @test->priv.
 */
static struct kc_dt *kc_dt_init(struct kunit *test, u64 latency_ns,
				u64 jitter_ns, unsigned int parallel,
				bool abort, enum kc_sync_mode mode)
{
	struct kc_sim_params p = {
		.latency_ns = latency_ns,
		.jitter_ns = jitter_ns,
		.parallel = parallel,
		.abort = abort,
		.mode = mode,
	};
	struct kc_dt *dt = kunit_kzalloc(test, sizeof(*dt), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, dt);
	dt->test = test;
	INIT_LIST_HEAD(&dt->ios);
	test->priv = dt;
	/* Actions run in reverse: the device goes before the references. */
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kc_dt_put_all, dt), 0);
	dt->sim = kc_sim_create(&p, false);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dt->sim);
	dt->kd = kc_sim_dev(dt->sim);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kc_dt_remove, dt), 0);
	return dt;
}

/* Byte @i of the data a DMA request with @seed writes. */
static u8 kc_dt_pattern(unsigned int seed, unsigned int i)
{
	return seed * 31 + i * 7 + (i >> 8);
}

/**
 * kc_dt_alloc() - allocate a request, not yet prepared
 * @dt: the case.
 * @op: the operation.
 * @arg: its argument.
 * @len: DMA length; a buffer of that size is allocated, filled with the
 *	pattern of @seed for a DMA to the device, with %KC_DT_POISON otherwise.
 * @offset: DMA offset.
 * @seed: see kc_dt_pattern().
 *
 * Context: process context.
 * Return: the request, or NULL if out of memory.
 */
static struct kc_dt_io *kc_dt_alloc(struct kc_dt *dt, u32 op, u64 arg,
				    u32 len, u32 offset, unsigned int seed)
{
	struct kc_dt_io *tio = kzalloc(sizeof(*tio), GFP_KERNEL);
	u8 *buf;
	u32 i;

	if (!tio)
		return NULL;
	tio->dt = dt;
	INIT_LIST_HEAD(&tio->node);
	tio->io.op = op;
	tio->io.arg = arg;
	tio->io.len = len;
	tio->io.offset = offset;
	if (!len)
		return tio;
	buf = kmalloc(len, GFP_KERNEL);
	if (!buf) {
		kfree(tio);
		return NULL;
	}
	for (i = 0; i < len; i++)
		buf[i] = op == KCANCEL_OP_DMA_TO_DEV ? kc_dt_pattern(seed, i) :
						       KC_DT_POISON;
	tio->io.buf = buf;
	return tio;
}

/**
 * kc_dt_prepare() - check and prepare a request, as file.c does
 * @dt: the case.
 * @tio: a request of kc_dt_alloc().
 *
 * On success the case holds a reference and @tio is on &kc_dt.ios; on
 * failure the caller still owns @tio.
 *
 * Context: the test thread.
 * Return: 0, or what kc_dev_check_io() or kc_dev_prepare() returned.
 */
static int kc_dt_prepare(struct kc_dt *dt, struct kc_dt_io *tio)
{
	struct kc_dev *kd = dt->kd;
	int ret;

	ret = kc_dev_check_io(kd, &tio->io);
	if (ret)
		return ret;
	ret = kc_dev_prepare(kd, &tio->io, kc_dev_next_id(kd), &kc_dt_ops);
	if (ret)
		return ret;
	atomic_inc(&dt->alive);
	kc_request_get(&tio->io.req);	/* the case's reference */
	list_add_tail(&tio->node, &dt->ios);
	return 0;
}

/* Queue a prepared request, with a timeout if @timeout_ns. */
static void kc_dt_queue(struct kc_dt *dt, struct kc_dt_io *tio, u64 timeout_ns)
{
	tio->timed = timeout_ns;
	tio->queued_ns = ktime_get_ns();
	kc_dev_queue(dt->kd, &tio->io, timeout_ns ? &tio->timer : NULL,
		     timeout_ns);
}

/* Prepare and queue; on failure the caller still owns @tio. */
static int kc_dt_start(struct kc_dt *dt, struct kc_dt_io *tio, u64 timeout_ns)
{
	int ret = kc_dt_prepare(dt, tio);

	if (!ret)
		kc_dt_queue(dt, tio, timeout_ns);
	return ret;
}

/* Allocate and start a request; the case fails if either fails. */
static struct kc_dt_io *kc_dt_submit(struct kc_dt *dt, u32 op, u64 arg,
				     u32 len, u32 offset, unsigned int seed,
				     u64 timeout_ns)
{
	struct kc_dt_io *tio = kc_dt_alloc(dt, op, arg, len, offset, seed);
	int ret;

	KUNIT_ASSERT_NOT_NULL(dt->test, tio);
	ret = kc_dt_start(dt, tio, timeout_ns);
	if (ret)
		kc_dt_free(tio);
	KUNIT_ASSERT_EQ(dt->test, ret, 0);
	return tio;
}

static struct kc_dt_io *kc_dt_fact(struct kc_dt *dt, u64 n, u64 timeout_ns)
{
	return kc_dt_submit(dt, KCANCEL_OP_FACTORIAL, n, 0, 0, 0, timeout_ns);
}

static struct kc_dt_io *kc_dt_bell(struct kc_dt *dt, u64 arg, u64 timeout_ns)
{
	return kc_dt_submit(dt, KCANCEL_OP_DOORBELL, arg, 0, 0, 0, timeout_ns);
}

static struct kc_dt_io *kc_dt_dma(struct kc_dt *dt, u32 op, u32 offset,
				  u32 len, unsigned int seed)
{
	return kc_dt_submit(dt, op, 0, len, offset, seed, 0);
}

/* Drop the case's reference to @tio early; the test thread only. */
static void kc_dt_put(struct kc_dt_io *tio)
{
	list_del(&tio->node);
	kc_request_put(&tio->io.req);
}

/*
 * Wait up to @timeout jiffies for @tio to complete and for its completion
 * callback to have counted; 0 or -ETIMEDOUT.
 */
static int kc_dt_wait_for(struct kc_dt_io *tio, long timeout)
{
	if (kc_request_wait(&tio->io.req, timeout))
		return -ETIMEDOUT;
	if (!wait_var_event_timeout(&tio->completions,
				    atomic_read(&tio->completions), KC_DT_WAIT))
		return -ETIMEDOUT;
	return 0;
}

/* Wait for @tio to complete; the case fails if it does not. */
static void kc_dt_wait(struct kc_dt_io *tio)
{
	KUNIT_ASSERT_EQ_MSG(tio->dt->test, kc_dt_wait_for(tio, KC_DT_WAIT), 0,
			    "request %llu (op %u) never completed",
			    tio->io.req.id, tio->io.op);
}

static bool kc_dt_done(struct kc_dt_io *tio)
{
	return completion_done(&tio->io.req.done);
}

static bool kc_dt_cancel(struct kc_dt_io *tio)
{
	bool won = kc_dev_cancel(kc_io_dev(&tio->io), &tio->io, -ECANCELED);

	if (won)
		atomic_inc(&tio->cancel_wins);
	return won;
}

/* The hardware slot of @tio, or -1 while it is in its software queue. */
static int kc_dt_slot(struct kc_dt_io *tio)
{
	struct kc_dev *kd = kc_io_dev(&tio->io);
	unsigned long flags;
	int slot;

	spin_lock_irqsave(&kd->lock, flags);
	slot = tio->io.slot;
	spin_unlock_irqrestore(&kd->lock, flags);
	return slot;
}

static u64 kc_dt_busy(struct kc_dt *dt)
{
	unsigned long flags;
	u64 busy;

	spin_lock_irqsave(&dt->kd->lock, flags);
	busy = dt->kd->busy;
	spin_unlock_irqrestore(&dt->kd->lock, flags);
	return busy;
}

/* The result @tio must complete with when it runs to its end. */
static u64 kc_dt_expected(const struct kc_dt_io *tio)
{
	switch (tio->io.op) {
	case KCANCEL_OP_FACTORIAL:
		return kc_dt_factorials[tio->io.arg];
	case KCANCEL_OP_DOORBELL:
		return tio->io.arg;
	default:
		return tio->io.len;
	}
}

/* Did @tio's buffer keep the poison (no data reached it)? */
static bool kc_dt_poisoned(const struct kc_dt_io *tio)
{
	return !memchr_inv(tio->io.buf, KC_DT_POISON, tio->io.len);
}

/* Does @tio's buffer hold the data a DMA to the device with @seed wrote? */
static bool kc_dt_has_pattern(const struct kc_dt_io *tio, unsigned int seed)
{
	const u8 *buf = tio->io.buf;
	u32 i;

	for (i = 0; i < tio->io.len; i++)
		if (buf[i] != kc_dt_pattern(seed, i))
			return false;
	return true;
}

/* Expect @tio completed once with @status, and the result that goes with it. */
static void kc_dt_expect(struct kc_dt_io *tio, int status)
{
	struct kunit *test = tio->dt->test;
	struct kc_request *req = &tio->io.req;

	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&tio->completions), 1,
			    "request %llu", req->id);
	KUNIT_EXPECT_EQ_MSG(test, req->status, status, "request %llu", req->id);
	KUNIT_EXPECT_EQ_MSG(test, req->result, status ? 0 : kc_dt_expected(tio),
			    "request %llu", req->id);
}

/* Wait, bounded, until @n requests of the case are alive. */
static bool kc_dt_wait_alive(struct kc_dt *dt, int n)
{
	unsigned long deadline = jiffies + KC_DT_WAIT;

	while (atomic_read(&dt->alive) != n) {
		if (time_after(jiffies, deadline))
			return false;
		usleep_range(1000, 2000);
	}
	return true;
}

/**
 * kc_dt_finish() - the checks every case ends with
 * @dt: the fixture.
 *
 * Removes the device (unless the case did), which completes every request,
 * then expects each request completed exactly once and no call on the
 * device's requests refused as misuse (a second completion is refused and
 * warns, from whatever thread: the case fails too), drops the case's
 * references and expects every request released.
 *
 * Context: the test thread; sleeps.
 */
static void kc_dt_finish(struct kc_dt *dt)
{
	struct kunit *test = dt->test;
	unsigned int wrong = 0;
	struct kc_dt_io *tio;

	kunit_release_action(test, kc_dt_remove, dt);
	list_for_each_entry(tio, &dt->ios, node)
		wrong += atomic_read(&tio->completions) != 1 ||
			 kc_request_state(&tio->io.req) != KC_REQ_COMPLETED;
	KUNIT_EXPECT_EQ_MSG(test, wrong, 0U,
			    "requests not completed exactly once by removal");
	KUNIT_EXPECT_EQ_MSG(test, dt->refused, 0,
			    "calls on requests refused as misuse");
	kunit_release_action(test, kc_dt_put_all, dt);
	/* A timer may drop its reference just after the removal returned. */
	KUNIT_EXPECT_TRUE_MSG(test, kc_dt_wait_alive(dt, 0),
			      "requests never released");
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&dt->bad), 0,
			    "requests completed other than once");
}

/**
 * struct kc_dt_param - how a case's device behaves
 * @mode: its synchronization mode.
 * @abort: whether it can abort an operation in flight.
 */
struct kc_dt_param {
	enum kc_sync_mode mode;
	bool abort;
};

static const char *kc_dt_mode_name(enum kc_sync_mode mode)
{
	return mode == KC_SYNC_AUTOMATIC ? "automatic sync" : "driver sync";
}

static const struct kc_dt_param kc_dt_modes[] = {
	{ KC_SYNC_AUTOMATIC, true },
	{ KC_SYNC_DRIVER, true },
};

static void kc_dt_mode_desc(const struct kc_dt_param *p, char *desc)
{
	strscpy(desc, kc_dt_mode_name(p->mode), KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kc_dt_mode, kc_dt_modes, kc_dt_mode_desc);

static const struct kc_dt_param kc_dt_aborts[] = {
	{ KC_SYNC_AUTOMATIC, true },
	{ KC_SYNC_AUTOMATIC, false },
	{ KC_SYNC_DRIVER, true },
	{ KC_SYNC_DRIVER, false },
};

static void kc_dt_abort_desc(const struct kc_dt_param *p, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s, %s",
		 kc_dt_mode_name(p->mode),
		 p->abort ? "aborts" : "cannot abort (edu-like)");
}

KUNIT_ARRAY_PARAM(kc_dt_abort, kc_dt_aborts, kc_dt_abort_desc);

/**
 * kc_dt_ops_complete_once() - every operation completes once with its result
 * @test: the case, with a &struct kc_dt_param.
 * @latency_ns: how long an operation takes on the case's device.
 * @jitter_ns: up to this much more, at random.
 *
 * n! for n = 0..12, more doorbells than slots each returning its arg, and
 * DMA to then from the device, byte for byte, including a transfer that
 * ends at the last byte.
 *
 * Context: the test thread.
 */
static void kc_dt_ops_complete_once(struct kunit *test, u64 latency_ns,
				    u64 jitter_ns)
{
	const struct kc_dt_param *p = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, latency_ns, jitter_ns, 4,
				      p->abort, p->mode);
	struct kc_dt_io *fact[KCANCEL_FACTORIAL_MAX + 1];
	struct kc_dt_io *bell[KC_SIM_DOORBELLS + 10];
	struct kc_dt_io *whole, *tail, *all, *end;
	u8 *image;
	u32 i;

	for (i = 0; i < ARRAY_SIZE(fact); i++)
		fact[i] = kc_dt_fact(dt, i, 0);
	for (i = 0; i < ARRAY_SIZE(bell); i++)
		bell[i] = kc_dt_bell(dt, 0xb0e11ULL << 32 | i, 0);
	for (i = 0; i < ARRAY_SIZE(fact); i++) {
		kc_dt_wait(fact[i]);
		kc_dt_expect(fact[i], 0);
		KUNIT_EXPECT_EQ(test, fact[i]->io.req.result, kc_dev_factorial(i));
	}
	for (i = 0; i < ARRAY_SIZE(bell); i++) {
		kc_dt_wait(bell[i]);
		kc_dt_expect(bell[i], 0);
	}

	/* One at a time: the device memory sees them in this order. */
	whole = kc_dt_dma(dt, KCANCEL_OP_DMA_TO_DEV, 0, KCANCEL_DMA_SIZE, 1);
	kc_dt_wait(whole);
	kc_dt_expect(whole, 0);
	tail = kc_dt_dma(dt, KCANCEL_OP_DMA_TO_DEV, KCANCEL_DMA_SIZE - 100, 100, 2);
	kc_dt_wait(tail);
	kc_dt_expect(tail, 0);
	all = kc_dt_dma(dt, KCANCEL_OP_DMA_FROM_DEV, 0, KCANCEL_DMA_SIZE, 0);
	end = kc_dt_dma(dt, KCANCEL_OP_DMA_FROM_DEV, KCANCEL_DMA_SIZE - 100, 100, 0);
	kc_dt_wait(all);
	kc_dt_expect(all, 0);
	kc_dt_wait(end);
	kc_dt_expect(end, 0);

	image = kunit_kmalloc(test, KCANCEL_DMA_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, image);
	for (i = 0; i < KCANCEL_DMA_SIZE; i++)
		image[i] = i < KCANCEL_DMA_SIZE - 100 ?
			   kc_dt_pattern(1, i) :
			   kc_dt_pattern(2, i - (KCANCEL_DMA_SIZE - 100));
	KUNIT_EXPECT_MEMEQ(test, all->io.buf, image, KCANCEL_DMA_SIZE);
	KUNIT_EXPECT_TRUE(test, kc_dt_has_pattern(end, 2));
	kc_dt_finish(dt);
}

static void kc_dev_ops_complete_once(struct kunit *test)
{
	kc_dt_ops_complete_once(test, KC_DT_FAST_NS, KC_DT_FAST_NS);
}

/*
 * The same on a device of no latency, whose operations end as they start
 * (kc_dev_end_now()), with no timer.
 */
static void kc_dev_ops_complete_once_zero_latency(struct kunit *test)
{
	kc_dt_ops_complete_once(test, 0, 0);
}

/*
 * On a device of no latency a request completes before kc_dev_queue()
 * returns, in the submitter's thread: no interrupt, no DPC thread to wake.
 * Every operation, and more doorbells than the device has slots.
 */
static void kc_dev_zero_latency_ends_in_submitter(struct kunit *test)
{
	const struct kc_dt_param *p = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, 0, 0, 4, false, p->mode);
	struct kc_dt_io *tio[KC_SIM_DOORBELLS + 10 + 3];
	u32 i, n = 0;

	tio[n++] = kc_dt_fact(dt, 5, 0);
	tio[n++] = kc_dt_dma(dt, KCANCEL_OP_DMA_TO_DEV, 0, 64, 3);
	tio[n++] = kc_dt_dma(dt, KCANCEL_OP_DMA_FROM_DEV, 0, 64, 0);
	for (i = 0; i < KC_SIM_DOORBELLS + 10; i++)
		tio[n++] = kc_dt_bell(dt, i, 0);
	for (i = 0; i < n; i++) {
		struct task_struct *completer = READ_ONCE(tio[i]->completer);

		KUNIT_EXPECT_EQ_MSG(test, atomic_read(&tio[i]->completions), 1,
				    "request %u not complete when queued", i);
		KUNIT_EXPECT_PTR_EQ_MSG(test, completer, current,
					"request %u completed in another task", i);
		kc_dt_expect(tio[i], 0);
	}
	KUNIT_EXPECT_EQ(test, tio[0]->io.req.result, kc_dev_factorial(5));
	KUNIT_EXPECT_TRUE(test, kc_dt_has_pattern(tio[2], 3));
	kc_dt_finish(dt);
}

/* Requests of one kc_dev_queue_many(): more than the device has doorbells. */
#define KC_DT_MANY	(KC_SIM_DOORBELLS + 10)

/*
 * A batch of requests bound by one kc_dev_bind() and queued by one
 * kc_dev_queue_many(): doorbells, more than the device has, every other one
 * with a timeout, and a factorial. Each completes once with its own result;
 * on a device of no latency before the call returns, in the submitter's
 * thread. Then, with the device removed, kc_dev_bind() refuses a batch
 * -ENODEV and binds none of it.
 */
static void kc_dt_queue_many(struct kunit *test, u64 latency_ns)
{
	const struct kc_dt_param *p = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, latency_ns, 0, 2, p->abort, p->mode);
	struct kc_dev_submit *subs;
	struct kc_dev *kd = dt->kd;
	struct kc_dt_io **tio;
	unsigned int i;
	int before;

	subs = kunit_kcalloc(test, KC_DT_MANY + 1, sizeof(*subs), GFP_KERNEL);
	tio = kunit_kcalloc(test, KC_DT_MANY + 1, sizeof(*tio), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, subs);
	KUNIT_ASSERT_NOT_NULL(test, tio);
	for (i = 0; i <= KC_DT_MANY; i++) {
		tio[i] = i < KC_DT_MANY ?
			 kc_dt_alloc(dt, KCANCEL_OP_DOORBELL, 0xba7c4ULL << 32 | i,
				     0, 0, 0) :
			 kc_dt_alloc(dt, KCANCEL_OP_FACTORIAL, 7, 0, 0, 0);
		KUNIT_ASSERT_NOT_NULL(test, tio[i]);
		/* The case's reference and list own it from here. */
		KUNIT_ASSERT_EQ(test, kc_dev_reserve(kd, &tio[i]->io,
						     kc_dev_next_id(kd),
						     &kc_dt_ops), 0);
		tio[i]->timed = i % 2;
		subs[i].io = &tio[i]->io;
		subs[i].timer = tio[i]->timed ? &tio[i]->timer : NULL;
		subs[i].timeout_ns = tio[i]->timed ? 10ULL * NSEC_PER_SEC : 0;
	}
	KUNIT_ASSERT_EQ(test, kc_dev_bind(kd, subs, KC_DT_MANY + 1), 0);
	for (i = 0; i <= KC_DT_MANY; i++) {
		atomic_inc(&dt->alive);
		kc_request_get(&tio[i]->io.req);	/* the case's reference */
		list_add_tail(&tio[i]->node, &dt->ios);
	}
	kc_dev_queue_many(kd, subs, KC_DT_MANY + 1);
	for (i = 0; i <= KC_DT_MANY; i++) {
		if (!latency_ns)
			KUNIT_EXPECT_PTR_EQ_MSG(test, READ_ONCE(tio[i]->completer),
						current, "request %u", i);
		kc_dt_wait(tio[i]);
		kc_dt_expect(tio[i], 0);
	}

	kc_dev_get(kd);
	kunit_release_action(test, kc_dt_remove, dt);
	before = atomic_read(&kd->in_flight);
	for (i = 0; i < 2; i++) {
		tio[i] = kc_dt_alloc(dt, KCANCEL_OP_DOORBELL, i, 0, 0, 0);
		KUNIT_ASSERT_NOT_NULL(test, tio[i]);
		KUNIT_EXPECT_EQ(test, kc_dev_reserve(kd, &tio[i]->io,
						     kc_dev_next_id(kd),
						     &kc_dt_ops), 0);
		subs[i].io = &tio[i]->io;
	}
	KUNIT_EXPECT_EQ(test, kc_dev_bind(kd, subs, 2), -ENODEV);
	for (i = 0; i < 2; i++) {
		/* Never bound: no queue, no device reference to drop. */
		KUNIT_EXPECT_NULL(test, tio[i]->io.req.queue);
		kc_dev_unreserve(kd, &tio[i]->io);
		kc_dt_free(tio[i]);
	}
	KUNIT_EXPECT_EQ(test, atomic_read(&kd->in_flight), before);
	kc_dev_put(kd);
	kc_dt_finish(dt);
}

static void kc_dev_queue_many_once(struct kunit *test)
{
	kc_dt_queue_many(test, KC_DT_FAST_NS);
}

static void kc_dev_queue_many_once_zero_latency(struct kunit *test)
{
	kc_dt_queue_many(test, 0);
}

/**
 * struct kc_dt_check_row - one operation for kc_dev_check_io()
 * @desc: what it is.
 * @op: &kc_io.op.
 * @arg: &kc_io.arg.
 * @len: &kc_io.len.
 * @offset: &kc_io.offset.
 * @buf: whether &kc_io.buf is set.
 * @ret: what kc_dev_check_io() must return.
 */
struct kc_dt_check_row {
	const char *desc;
	u32 op;
	u64 arg;
	u32 len;
	u32 offset;
	bool buf;
	int ret;
};

#define KC_DT_TO	KCANCEL_OP_DMA_TO_DEV
#define KC_DT_FROM	KCANCEL_OP_DMA_FROM_DEV

static const struct kc_dt_check_row kc_dt_check_rows[] = {
	/* desc, op, arg, len, offset, buf, ret */
	{ "factorial of 0", KCANCEL_OP_FACTORIAL, 0, 0, 0, false, 0 },
	{ "factorial of 12", KCANCEL_OP_FACTORIAL, 12, 0, 0, false, 0 },
	{ "doorbell of U64_MAX", KCANCEL_OP_DOORBELL, U64_MAX, 0, 0, false, 0 },
	{ "DMA of the whole memory", KC_DT_TO, 0, KCANCEL_DMA_SIZE, 0, true, 0 },
	{ "DMA of the last byte", KC_DT_FROM, 0, 1, KCANCEL_DMA_SIZE - 1, true, 0 },
	{ "op 0", 0, 0, 0, 0, false, -EINVAL },
	{ "op KCANCEL_OP_MAX + 1", KCANCEL_OP_MAX + 1, 0, 0, 0, false, -EINVAL },
	{ "op U32_MAX", U32_MAX, 0, 0, 0, false, -EINVAL },
	{ "factorial of 13", KCANCEL_OP_FACTORIAL, 13, 0, 0, false, -EINVAL },
	{ "factorial of 2^32 + 12", KCANCEL_OP_FACTORIAL, BIT_ULL(32) + 12, 0, 0,
	  false, -EINVAL },
	{ "DMA to device of 0 bytes", KC_DT_TO, 0, 0, 0, true, -EINVAL },
	{ "DMA from device of 0 bytes", KC_DT_FROM, 0, 0, 0, true, -EINVAL },
	{ "DMA of dma_size + 1 bytes", KC_DT_TO, 0, KCANCEL_DMA_SIZE + 1, 0, true,
	  -EINVAL },
	{ "DMA of U32_MAX bytes", KC_DT_FROM, 0, U32_MAX, 0, true, -EINVAL },
	{ "DMA one byte past the end", KC_DT_TO, 0, KCANCEL_DMA_SIZE, 1, true,
	  -EINVAL },
	{ "DMA at offset dma_size", KC_DT_FROM, 0, 1, KCANCEL_DMA_SIZE, true,
	  -EINVAL },
	{ "DMA whose offset + len wraps to 0", KC_DT_TO, 0, 1, U32_MAX, true,
	  -EINVAL },
	{ "DMA whose offset + len wraps to 1", KC_DT_FROM, 0, KCANCEL_DMA_SIZE,
	  U32_MAX - KCANCEL_DMA_SIZE + 2, true, -EINVAL },
	{ "DMA to device without a buffer", KC_DT_TO, 0, 64, 0, false, -EINVAL },
	{ "DMA from device without a buffer", KC_DT_FROM, 0, 64, 0, false,
	  -EINVAL },
	{ "factorial with a length", KCANCEL_OP_FACTORIAL, 3, 8, 0, true,
	  -EINVAL },
	{ "factorial with an offset", KCANCEL_OP_FACTORIAL, 3, 0, 8, false,
	  -EINVAL },
	{ "doorbell with a length", KCANCEL_OP_DOORBELL, 3, 8, 0, true, -EINVAL },
	{ "doorbell with an offset", KCANCEL_OP_DOORBELL, 3, 0, 8, false,
	  -EINVAL },
	{ "DMA to device with an arg", KC_DT_TO, 1, 64, 0, true, -EINVAL },
	{ "DMA from device with an arg", KC_DT_FROM, 1, 64, 0, true, -EINVAL },
};

static void kc_dt_check_desc(const struct kc_dt_check_row *row, char *desc)
{
	strscpy(desc, row->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kc_dt_check, kc_dt_check_rows, kc_dt_check_desc);

/* kc_dev_check_io() accepts the edges and refuses each bad argument. */
static void kc_dev_check_io_table(struct kunit *test)
{
	const struct kc_dt_check_row *row = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, KC_DT_FAST_NS, 0, 1, true,
				      KC_SYNC_AUTOMATIC);
	/* Never read: kc_dev_check_io() only looks at the pointer. */
	static u8 dummy;
	struct kc_io io = {
		.op = row->op,
		.arg = row->arg,
		.len = row->len,
		.offset = row->offset,
		.buf = row->buf ? &dummy : NULL,
	};

	KUNIT_EXPECT_EQ(test, kc_dev_check_io(dt->kd, &io), row->ret);
	kc_dt_finish(dt);
}

/*
 * A request still in its software queue (one slot, held by a request that
 * never ends on its own): the cancel wins, completes it at once, and it never
 * reaches the hardware; a second cancel loses.
 */
static void kc_dev_cancel_queued(struct kunit *test)
{
	const struct kc_dt_param *p = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, KC_DT_NEVER_NS, 0, 1, true, p->mode);
	struct kc_dev *kd = dt->kd;
	struct kc_dt_io *first, *queued, *dma;
	int slot;

	first = kc_dt_fact(dt, 5, 0);
	slot = kc_dt_slot(first);
	KUNIT_ASSERT_GE(test, slot, 0);
	queued = kc_dt_fact(dt, 6, 0);
	KUNIT_ASSERT_LT(test, kc_dt_slot(queued), 0);
	/* The DMA channel is free: its request goes to the hardware. */
	dma = kc_dt_dma(dt, KCANCEL_OP_DMA_TO_DEV, 0, 16, 3);
	KUNIT_EXPECT_GE(test, kc_dt_slot(dma), 0);

	KUNIT_EXPECT_TRUE(test, kc_dt_cancel(queued));
	/* Completed inside the cancel call, by its cancel callback. */
	kc_dt_expect(queued, -ECANCELED);
	KUNIT_EXPECT_FALSE(test, kc_dt_cancel(queued));
	KUNIT_EXPECT_TRUE(test, list_empty(&kd->pending[KC_CHAN_FACT]));

	/* The only factorial slot stayed @first's all along. */
	KUNIT_EXPECT_FALSE(test, kc_dt_done(first));
	KUNIT_EXPECT_EQ(test, kc_dt_slot(first), slot);
	KUNIT_EXPECT_EQ(test, kc_dt_busy(dt) & kd->chan_slots[KC_CHAN_FACT],
			BIT_ULL(slot));

	/* The device aborts the others; they end with the cancel too. */
	KUNIT_EXPECT_TRUE(test, kc_dt_cancel(first));
	KUNIT_EXPECT_TRUE(test, kc_dt_cancel(dma));
	kc_dt_wait(first);
	kc_dt_expect(first, -ECANCELED);
	kc_dt_wait(dma);
	kc_dt_expect(dma, -ECANCELED);
	kc_dt_finish(dt);
}

/*
 * A request in the hardware: the cancel wins and the request completes
 * -ECANCELED when its interrupt comes. A device that aborts raises it at
 * once and moves no data in either direction; an edu-like device runs the
 * operation to its end (its data reaches the device memory) first.
 */
static void kc_dev_cancel_in_flight(struct kunit *test)
{
	const struct kc_dt_param *p = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, KC_DT_INFLIGHT_NS, 0, 3, p->abort,
				      p->mode);
	struct kc_dt_io *to, *from, *check;
	u64 took;

	to = kc_dt_dma(dt, KCANCEL_OP_DMA_TO_DEV, 0, 256, 5);
	from = kc_dt_dma(dt, KCANCEL_OP_DMA_FROM_DEV, 0, 256, 0);
	KUNIT_ASSERT_GE(test, kc_dt_slot(to), 0);
	KUNIT_ASSERT_GE(test, kc_dt_slot(from), 0);

	KUNIT_EXPECT_TRUE(test, kc_dt_cancel(to));
	KUNIT_EXPECT_TRUE(test, kc_dt_cancel(from));
	KUNIT_EXPECT_FALSE(test, kc_dt_cancel(to));
	if (!p->abort) {
		KUNIT_EXPECT_FALSE(test, kc_dt_done(to));
		KUNIT_EXPECT_FALSE(test, kc_dt_done(from));
	}
	/* Ends after @to in both orders the device keeps: timers and slots. */
	check = kc_dt_dma(dt, KCANCEL_OP_DMA_FROM_DEV, 0, 256, 0);

	kc_dt_wait(to);
	took = ktime_get_ns() - to->queued_ns;
	kc_dt_expect(to, -ECANCELED);
	kc_dt_wait(from);
	kc_dt_expect(from, -ECANCELED);
	kc_dt_wait(check);
	kc_dt_expect(check, 0);
	if (p->abort) {
		KUNIT_EXPECT_LT(test, took, KC_DT_INFLIGHT_NS / 2);
		KUNIT_EXPECT_TRUE(test, kc_dt_poisoned(from));
		KUNIT_EXPECT_TRUE_MSG(test, !memchr_inv(check->io.buf, 0, 256),
				      "an aborted DMA wrote the device memory");
	} else {
		KUNIT_EXPECT_GE(test, took, KC_DT_INFLIGHT_NS);
		KUNIT_EXPECT_TRUE(test, kc_dt_has_pattern(check, 5));
	}
	kc_dt_finish(dt);
}

/* Once a request has completed, every cancel loses and changes nothing. */
static void kc_dev_cancel_after_completion(struct kunit *test)
{
	const struct kc_dt_param *p = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, KC_DT_FAST_NS, 0, 1, p->abort,
				      p->mode);
	struct kc_dt_io *tio[3];
	unsigned int i;

	tio[0] = kc_dt_fact(dt, 6, 0);
	tio[1] = kc_dt_bell(dt, 42, 0);
	tio[2] = kc_dt_dma(dt, KCANCEL_OP_DMA_TO_DEV, 8, 8, 4);
	for (i = 0; i < ARRAY_SIZE(tio); i++) {
		kc_dt_wait(tio[i]);
		KUNIT_EXPECT_FALSE(test, kc_dt_cancel(tio[i]));
		KUNIT_EXPECT_FALSE(test, kc_dt_cancel(tio[i]));
		kc_dt_expect(tio[i], 0);
	}
	kc_dt_finish(dt);
}

#define KC_DT_CHAIN_REQUESTS	200
#define KC_DT_CHAIN_WAIT_MS	2000

/**
 * struct kc_dt_chain - requests cancelled as they are started
 * @ios: the requests, one at a time on one slot of a device that aborts.
 * @n: how many the test thread submits; lowered if it stops early.
 * @ready: requests prepared so far (release/acquire).
 * @done: the canceller went through every request.
 */
struct kc_dt_chain {
	struct kc_dt_io *ios[KC_DT_CHAIN_REQUESTS];
	unsigned int n;
	unsigned int ready;
	struct completion done;
};

/*
 * The canceller, on another CPU than the test thread: wait for each request
 * to leave the software queue, then cancel it at once, while the test
 * thread, which started it inside kc_dev_queue(), may still be between
 * sending it to the target and starting the hardware. Counts only.
 */
static int kc_dt_chain_canceller(void *arg)
{
	struct kc_dt_chain *chain = arg;
	struct kc_dt_io *tio;
	unsigned int i;
	u64 deadline;

	for (i = 0; i < READ_ONCE(chain->n); i++) {
		/* Pairs with the release in kc_dev_cancel_as_it_starts(). */
		while (smp_load_acquire(&chain->ready) <= i) {
			if (i >= READ_ONCE(chain->n))
				goto out;
			usleep_range(10, 20);
		}
		tio = chain->ios[i];
		deadline = ktime_get_ns() + KC_DT_CHAIN_WAIT_MS * NSEC_PER_MSEC;
		while (kc_dt_slot(tio) < 0 && !kc_dt_done(tio) &&
		       ktime_get_ns() < deadline)
			cond_resched();
		kc_dt_cancel(tio);
	}
out:
	complete(&chain->done);
	return 0;
}

/*
 * A device that aborts must abort every cancelled request in the hardware,
 * also one cancelled while its dispatcher is between sending it to the
 * target and starting it. One request at a time, each of which would run
 * for a minute, is cancelled by another CPU as soon as it leaves the
 * software queue; each must complete -ECANCELED within two seconds.
 */
static void kc_dev_cancel_as_it_starts(struct kunit *test)
{
	const struct kc_dt_param *p = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, KC_DT_NEVER_NS, 0, 1, true, p->mode);
	struct task_struct *canceller;
	struct kc_dt_chain *chain;
	unsigned int i, late = 0;
	struct kc_dt_io *tio;

	chain = kunit_kzalloc(test, sizeof(*chain), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, chain);
	chain->n = KC_DT_CHAIN_REQUESTS;
	init_completion(&chain->done);
	canceller = kc_test_run_on_other_cpu(test, kc_dt_chain_canceller, chain);

	for (i = 0; i < KC_DT_CHAIN_REQUESTS; i++) {
		tio = kc_dt_alloc(dt, KCANCEL_OP_FACTORIAL, i % 13, 0, 0, 0);
		if (!tio || kc_dt_prepare(dt, tio)) {
			if (tio)
				kc_dt_free(tio);
			break;
		}
		chain->ios[i] = tio;
		/* Publish the prepared request; pairs with the canceller. */
		smp_store_release(&chain->ready, i + 1);
		kc_dt_queue(dt, tio, 0);
		if (kc_dt_wait_for(tio, msecs_to_jiffies(KC_DT_CHAIN_WAIT_MS))) {
			late++;
			i++;
			break;
		}
	}
	WRITE_ONCE(chain->n, i);
	/* A stop before the thread ran would skip it: wait for it first. */
	wait_for_completion(&chain->done);
	kc_test_join(canceller);
	KUNIT_EXPECT_EQ_MSG(test, late, 0U,
			    "a cancelled request was not aborted within %u ms",
			    KC_DT_CHAIN_WAIT_MS);
	KUNIT_EXPECT_EQ(test, i, KC_DT_CHAIN_REQUESTS);
	for (i = 0; i < chain->n - late; i++) {
		KUNIT_EXPECT_EQ(test, atomic_read(&chain->ios[i]->cancel_wins), 1);
		kc_dt_expect(chain->ios[i], -ECANCELED);
	}
	kc_dt_finish(dt);
}

/*
 * Per-request timeouts: a queued request and a doorbell in the hardware
 * complete -ETIMEDOUT when the timer fires; a factorial in the hardware
 * completes -ETIMEDOUT at its interrupt, which a device that can abort
 * raises as soon as the timeout asks it to. Cancels afterwards lose.
 */
static void kc_dev_timeout(struct kunit *test)
{
	const struct kc_dt_param *p = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, KC_DT_INFLIGHT_NS, 0, 1, p->abort,
				      p->mode);
	struct kc_dt_io *running, *queued, *bell;

	running = kc_dt_fact(dt, 7, KC_DT_TIMEOUT_NS);
	KUNIT_EXPECT_GE(test, kc_dt_slot(running), 0);
	queued = kc_dt_fact(dt, 8, KC_DT_TIMEOUT_NS);
	KUNIT_EXPECT_LT(test, kc_dt_slot(queued), 0);
	bell = kc_dt_bell(dt, 9, KC_DT_TIMEOUT_NS);
	KUNIT_EXPECT_GE(test, kc_dt_slot(bell), 0);

	kc_dt_wait(queued);
	kc_dt_expect(queued, -ETIMEDOUT);
	kc_dt_wait(bell);
	kc_dt_expect(bell, -ETIMEDOUT);
	KUNIT_EXPECT_LT(test, ktime_get_ns() - bell->queued_ns, KC_DT_INFLIGHT_NS);
	kc_dt_wait(running);
	kc_dt_expect(running, -ETIMEDOUT);
	if (p->abort)
		KUNIT_EXPECT_LT(test, ktime_get_ns() - running->queued_ns,
				KC_DT_INFLIGHT_NS / 2);
	else
		KUNIT_EXPECT_GE(test, ktime_get_ns() - running->queued_ns,
				KC_DT_INFLIGHT_NS);

	KUNIT_EXPECT_FALSE(test, kc_dt_cancel(running));
	KUNIT_EXPECT_FALSE(test, kc_dt_cancel(queued));
	KUNIT_EXPECT_FALSE(test, kc_dt_cancel(bell));
	kc_dt_finish(dt);
}

#define KC_DT_TVC_REQUESTS	200
#define KC_DT_TVC_MAX_US	60

/*
 * Cancels racing timeouts on a fast device with one factorial and one DMA
 * slot: each such request waits behind another of its channel, so that its
 * timeout and its cancel come while it is queued or in the hardware
 * (doorbells have slots to spare and race in the hardware). A cancel that returns
 * true sees its own reason in the status; one that returns false lost to
 * the timeout or to the end of the operation. The request ahead completes
 * untouched.
 */
static void kc_dev_timeout_vs_cancel(struct kunit *test)
{
	const struct kc_dt_param *p = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, 20 * NSEC_PER_USEC, 20 * NSEC_PER_USEC,
				      1, p->abort, p->mode);
	unsigned int i, canceled = 0, timed_out = 0, done = 0, wrong = 0;
	static const u32 ops[] = {
		KCANCEL_OP_FACTORIAL, KCANCEL_OP_DOORBELL, KCANCEL_OP_DMA_TO_DEV,
	};
	struct kc_dt_io *ahead, *tio;
	u64 timeout, arg;
	u32 op, len;
	int status;
	bool won;

	for (i = 0; i < KC_DT_TVC_REQUESTS; i++) {
		op = ops[i % ARRAY_SIZE(ops)];
		arg = op == KCANCEL_OP_DMA_TO_DEV ? 0 : i % 13;
		len = op == KCANCEL_OP_DMA_TO_DEV ? 32 : 0;
		timeout = (1 + get_random_u32_below(KC_DT_TVC_MAX_US)) * NSEC_PER_USEC;
		ahead = kc_dt_submit(dt, op, arg, len, 0, i, 0);
		tio = kc_dt_submit(dt, op, arg, len, 0, i, timeout);
		udelay(get_random_u32_below(KC_DT_TVC_MAX_US));
		won = kc_dt_cancel(tio);
		if (kc_dt_cancel(tio))
			wrong++;
		kc_dt_wait(tio);
		status = tio->io.req.status;
		if (won && status == -ECANCELED)
			canceled++;
		else if (!won && status == -ETIMEDOUT)
			timed_out++;
		else if (!won && !status && tio->io.req.result == kc_dt_expected(tio))
			done++;
		else
			wrong++;
		kc_dt_wait(ahead);
		kc_dt_expect(ahead, 0);
		kc_dt_put(tio);
		kc_dt_put(ahead);
	}
	kunit_info(test, "%u requests: cancel won %u, timeout won %u, completed %u\n",
		   KC_DT_TVC_REQUESTS, canceled, timed_out, done);
	KUNIT_EXPECT_EQ(test, wrong, 0U);
	KUNIT_EXPECT_GT(test, canceled, 0U);
	KUNIT_EXPECT_GT(test, timed_out, 0U);
	kc_dt_finish(dt);
}

/*
 * A doorbell cancelled in the hardware completes at once. A device that
 * can abort gives its slot back at once too, long before the doorbell's
 * latency (so that removal and unload need not wait for it); one that
 * cannot (edu) keeps the slot until its bit comes, and another doorbell
 * takes another slot meanwhile; the slot's reference keeps the request
 * alive until then, and the late bit touches only that live request (KASAN
 * would report otherwise).
 */
static void kc_dev_bell_cancel_slot(struct kunit *test)
{
	const struct kc_dt_param *p = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, KC_DT_INFLIGHT_NS, 0, 1, p->abort,
				      p->mode);
	struct kc_dt_io *bell, *next;
	u64 queued_ns;
	int slot;

	bell = kc_dt_bell(dt, 77, 0);
	slot = kc_dt_slot(bell);
	queued_ns = bell->queued_ns;
	KUNIT_ASSERT_GE(test, slot, 0);
	KUNIT_EXPECT_TRUE(test, kc_dt_cancel(bell));
	kc_dt_expect(bell, -ECANCELED);
	if (p->abort) {
		kc_dt_put(bell);
		KUNIT_EXPECT_TRUE_MSG(test, kc_dt_wait_alive(dt, 0),
				      "the cancelled doorbell was never released");
		KUNIT_EXPECT_LT(test, ktime_get_ns() - queued_ns,
				KC_DT_INFLIGHT_NS / 2);
		KUNIT_EXPECT_FALSE(test, kc_dt_busy(dt) & BIT_ULL(slot));
		kc_dt_finish(dt);
		return;
	}
	KUNIT_EXPECT_EQ(test, kc_dt_slot(bell), slot);
	KUNIT_EXPECT_TRUE(test, kc_dt_busy(dt) & BIT_ULL(slot));

	next = kc_dt_bell(dt, 78, 0);
	KUNIT_EXPECT_GE(test, kc_dt_slot(next), 0);
	KUNIT_EXPECT_NE(test, kc_dt_slot(next), slot);

	/* Only the slot holds @bell now. */
	kc_dt_put(bell);
	KUNIT_EXPECT_EQ(test, atomic_read(&dt->alive), 2);
	kc_dt_wait(next);
	kc_dt_expect(next, 0);
	KUNIT_EXPECT_TRUE_MSG(test, kc_dt_wait_alive(dt, 1),
			      "the cancelled doorbell was never released");
	kc_dt_finish(dt);
}

/*
 * Removal with requests queued, in the hardware, doorbells and a timed one:
 * kc_sim_destroy() completes every one -ENODEV (or with its result, if it
 * finished first; queued ones cannot) and returns. A device reference held
 * across it keeps &struct kc_dev, on which a prepare then fails -ENODEV.
 */
static void kc_dev_remove_completes_all(struct kunit *test)
{
	const struct kc_dt_param *p = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, KC_DT_SLOW_NS, 0, 2, p->abort,
				      p->mode);
	struct kc_dev *kd = dt->kd;
	unsigned int i, waiting = 0, wrong = 0;
	struct kc_dt_io *tio, *late;
	bool queued[16] = {};
	u64 start;

	for (i = 0; i < 4; i++)
		kc_dt_fact(dt, i + 3, 0);
	kc_dt_dma(dt, KCANCEL_OP_DMA_TO_DEV, 0, 64, 1);
	kc_dt_dma(dt, KCANCEL_OP_DMA_FROM_DEV, 64, 64, 0);
	kc_dt_dma(dt, KCANCEL_OP_DMA_FROM_DEV, 128, 64, 0);
	for (i = 0; i < 3; i++)
		kc_dt_bell(dt, i, 0);
	kc_dt_fact(dt, 12, 10ULL * NSEC_PER_SEC);
	i = 0;
	list_for_each_entry(tio, &dt->ios, node) {
		queued[i] = kc_dt_slot(tio) < 0;
		waiting += queued[i++];
	}
	KUNIT_ASSERT_EQ(test, i, 11U);
	/* Two factorials, one DMA and the timed factorial wait. */
	KUNIT_EXPECT_EQ(test, waiting, 4U);
	KUNIT_EXPECT_EQ(test, queued[2] + queued[3] + queued[6] + queued[10], 4);

	kc_dev_get(kd);
	start = ktime_get_ns();
	kunit_release_action(test, kc_dt_remove, dt);
	kunit_info(test, "removal took %llu ms\n",
		   (ktime_get_ns() - start) / NSEC_PER_MSEC);

	i = 0;
	list_for_each_entry(tio, &dt->ios, node) {
		if (atomic_read(&tio->completions) != 1 ||
		    (tio->io.req.status != -ENODEV &&
		     (queued[i] || tio->io.req.status ||
		      tio->io.req.result != kc_dt_expected(tio))))
			wrong++;
		i++;
	}
	KUNIT_EXPECT_EQ(test, wrong, 0U);

	late = kc_dt_alloc(dt, KCANCEL_OP_FACTORIAL, 3, 0, 0, 0);
	KUNIT_ASSERT_NOT_NULL(test, late);
	KUNIT_EXPECT_EQ(test, kc_dev_check_io(kd, &late->io), 0);
	KUNIT_EXPECT_EQ(test, kc_dev_prepare(kd, &late->io, kc_dev_next_id(kd),
					     &kc_dt_ops), -ENODEV);
	kc_dt_free(late);
	kc_dev_put(kd);
	kc_dt_finish(dt);
}

/*
 * A request holds its device: removed while the case still holds one of its
 * requests, the device stays until that request's release, and a cancel that
 * comes after the removal (a timeout, or a cancel ioctl racing it) finds the
 * device whole.
 */
static void kc_dev_request_holds_device(struct kunit *test)
{
	struct kc_dt *dt = kc_dt_init(test, KC_DT_NEVER_NS, 0, 1, true,
				      KC_SYNC_AUTOMATIC);
	unsigned int before = kref_read(&dt->kd->ref);
	struct kc_dt_io *tio = kc_dt_fact(dt, 5, 0);

	KUNIT_EXPECT_EQ(test, kref_read(&kc_io_dev(&tio->io)->ref), before + 1);
	kunit_release_action(test, kc_dt_remove, dt);
	kc_dt_expect(tio, -ENODEV);
	KUNIT_EXPECT_EQ(test, kref_read(&kc_io_dev(&tio->io)->ref), 1U);
	KUNIT_EXPECT_FALSE(test, kc_dev_cancel(kc_io_dev(&tio->io), &tio->io, -ECANCELED));
	KUNIT_EXPECT_TRUE(test, READ_ONCE(kc_io_dev(&tio->io)->dead));
	kc_dt_finish(dt);
}

/*
 * kc_dev_prepare() checks the operation itself, where it indexes the
 * device's tables: an unknown one is refused, never read out of bounds.
 */
static void kc_dev_prepare_checks_op(struct kunit *test)
{
	static const u32 ops[] = { KCANCEL_OP_MAX + 1, 0, KCANCEL_OP_MAX + 7 };
	struct kc_dt *dt = kc_dt_init(test, KC_DT_FAST_NS, 0, 1, true,
				      KC_SYNC_AUTOMATIC);
	struct kc_dt_io *tio;
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		tio = kc_dt_alloc(dt, ops[i], 0, 0, 0, 0);
		KUNIT_ASSERT_NOT_NULL(test, tio);
		ret = kc_dev_prepare(dt->kd, &tio->io, kc_dev_next_id(dt->kd),
				     &kc_dt_ops);
		KUNIT_EXPECT_EQ_MSG(test, ret, -EINVAL, "op %u", ops[i]);
		if (!ret) {
			/* Bound to the device: it must complete. */
			atomic_inc(&dt->alive);
			list_add_tail(&tio->node, &dt->ios);
			kc_request_get(&tio->io.req);
			kc_dt_queue(dt, tio, 0);
			continue;
		}
		kc_dt_free(tio);
	}
	kc_dt_finish(dt);
}

/* Have the device raise @mask, as a hostile device would. */
static void kc_dt_raise(struct kc_dt *dt, u64 mask)
{
	dt->kd->ops->raise(dt->kd, mask);
}

/* Wait, bounded, until the device has ignored @n spurious bits in all. */
static bool kc_dt_wait_spurious(struct kc_dt *dt, s64 n)
{
	unsigned long deadline = jiffies + KC_DT_WAIT;

	while (atomic64_read(&dt->kd->spurious) < n) {
		if (time_after(jiffies, deadline))
			return false;
		usleep_range(1000, 2000);
	}
	return atomic64_read(&dt->kd->spurious) == n;
}

/* Wait, bounded, until @tio holds a slot. */
static int kc_dt_wait_slot(struct kc_dt_io *tio)
{
	unsigned long deadline = jiffies + KC_DT_WAIT;
	int slot;

	while ((slot = kc_dt_slot(tio)) < 0 && time_before(jiffies, deadline))
		usleep_range(1000, 2000);
	return slot;
}

/*
 * A hostile device on a device that ends nothing by itself: the bits of
 * slots where no operation was started, and a second bit for a slot whose
 * bit was taken, are counted and ignored; the bit of a started slot ends its
 * request once, and the queued request then starts in that slot.
 */
static void kc_dev_spurious_bits_ignored(struct kunit *test)
{
	const struct kc_dt_param *p = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, KC_DT_NEVER_NS, 0, 1, true, p->mode);
	struct kc_dt_io *a, *b;
	int slot;

	kc_sim_stall(dt->sim, true);
	a = kc_dt_fact(dt, 5, 0);
	b = kc_dt_fact(dt, 6, 0);
	slot = kc_dt_slot(a);
	KUNIT_ASSERT_GE(test, slot, 0);
	KUNIT_ASSERT_LT(test, kc_dt_slot(b), 0);

	kc_dt_raise(dt, ~BIT_ULL(slot));
	KUNIT_EXPECT_TRUE(test, kc_dt_wait_spurious(dt, KC_DEV_SLOTS - 1));
	KUNIT_EXPECT_FALSE(test, kc_dt_done(a));
	KUNIT_EXPECT_FALSE(test, kc_dt_done(b));

	kc_dt_raise(dt, BIT_ULL(slot));
	kc_dt_wait(a);
	kc_dt_expect(a, 0);
	KUNIT_EXPECT_EQ(test, kc_dt_wait_slot(b), slot);
	kc_dt_raise(dt, BIT_ULL(slot));
	kc_dt_wait(b);
	kc_dt_expect(b, 0);
	kc_dt_raise(dt, BIT_ULL(slot));
	KUNIT_EXPECT_TRUE(test, kc_dt_wait_spurious(dt, KC_DEV_SLOTS));
	KUNIT_EXPECT_EQ(test, atomic_read(&a->completions), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&b->completions), 1);
	kc_dt_finish(dt);
}

/* How long the stalled-device cases let the hardware take. */
#define KC_DT_OP_TIMEOUT	(HZ / 2)

/* Submit what a stalled device then holds: 3 slots taken, 1 queued. */
static void kc_dt_fill_stalled(struct kc_dt *dt, struct kc_dt_io **tio)
{
	kc_sim_stall(dt->sim, true);
	dt->kd->op_timeout = KC_DT_OP_TIMEOUT;
	tio[0] = kc_dt_fact(dt, 3, 0);
	tio[1] = kc_dt_dma(dt, KCANCEL_OP_DMA_FROM_DEV, 0, 64, 0);
	tio[2] = kc_dt_bell(dt, 9, 0);
	tio[3] = kc_dt_fact(dt, 4, 0);
	KUNIT_EXPECT_GE(dt->test, kc_dt_slot(tio[2]), 0);
	KUNIT_EXPECT_LT(dt->test, kc_dt_slot(tio[3]), 0);
}

/*
 * Removal of a device that stopped answering (abort or not, nothing ends
 * the operations) waits op_timeout, then fails the device: the three
 * started slots end -ENODEV without their bits, the queued request too, and
 * nothing of the device touches them again.
 */
static void kc_dev_remove_stalled(struct kunit *test)
{
	const struct kc_dt_param *p = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, KC_DT_FAST_NS, 0, 1, p->abort,
				      p->mode);
	struct kc_dt_io *tio[4];
	struct kc_dev *kd = dt->kd;
	unsigned int i;
	u64 took;

	kc_dt_fill_stalled(dt, tio);
	took = ktime_get_ns();
	kunit_release_action(test, kc_dt_remove, dt);
	took = (ktime_get_ns() - took) / NSEC_PER_MSEC;
	kunit_info(test, "removal took %llu ms\n", took);
	KUNIT_EXPECT_GE(test, took, jiffies_to_msecs(KC_DT_OP_TIMEOUT) / 2);
	KUNIT_EXPECT_LT(test, took, 10ULL * MSEC_PER_SEC);
	for (i = 0; i < ARRAY_SIZE(tio); i++)
		kc_dt_expect(tio[i], -ENODEV);
	KUNIT_EXPECT_EQ(test, atomic64_read(&kd->forced), 3);
	KUNIT_EXPECT_TRUE(test, READ_ONCE(kd->failed));
	kc_dt_finish(dt);
}

/*
 * kc_dev_fail() on a device that stopped answering: every request it holds,
 * started or queued, completes with the status given; the device then takes
 * nothing new, and its removal has nothing left to wait for.
 */
static void kc_dev_fail_ends_everything(struct kunit *test)
{
	const struct kc_dt_param *p = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, KC_DT_FAST_NS, 0, 1, p->abort,
				      p->mode);
	struct kc_dt_io *tio[4], *late;
	struct kc_dev *kd = dt->kd;
	unsigned int i;

	kc_dt_fill_stalled(dt, tio);
	kc_dev_fail(kd, -EIO);
	for (i = 0; i < ARRAY_SIZE(tio); i++)
		kc_dt_expect(tio[i], -EIO);
	KUNIT_EXPECT_EQ(test, atomic64_read(&kd->forced), 3);
	KUNIT_EXPECT_EQ(test, kc_dt_busy(dt), 0ULL);
	/* A second failure, a late bit: nothing happens. */
	kc_dev_fail(kd, -ENODEV);
	kc_dt_raise(dt, BIT_ULL(0));
	KUNIT_EXPECT_TRUE(test, kc_dt_wait_spurious(dt, 1));
	late = kc_dt_alloc(dt, KCANCEL_OP_FACTORIAL, 3, 0, 0, 0);
	KUNIT_ASSERT_NOT_NULL(test, late);
	KUNIT_EXPECT_EQ(test, kc_dev_prepare(kd, &late->io, kc_dev_next_id(kd),
					     &kc_dt_ops), -ENODEV);
	kc_dt_free(late);
	kc_dt_finish(dt);
}

#define KC_DT_FAIL_ROUNDS	150

/**
 * struct kc_dt_storm - a thread that raises bits until stopped
 * @dt: the case.
 * @mask: the bits.
 */
struct kc_dt_storm {
	struct kc_dt *dt;
	u64 mask;
};

static int kc_dt_storm_fn(void *arg)
{
	struct kc_dt_storm *st = arg;

	while (!kthread_should_stop()) {
		kc_dt_raise(st->dt, st->mask);
		cond_resched();
	}
	return 0;
}

/*
 * kc_dev_fail() racing the DPC: the bits of three started slots keep coming
 * from another CPU while the device is failed. Each slot's bit is taken once,
 * by the DPC (its request ends with its result) or by the failure (-EIO),
 * never by both, in both synchronization modes.
 */
static void kc_dev_fail_races_dpc(struct kunit *test)
{
	const struct kc_dt_param *p = test->param_value;
	unsigned int round, i, by_dpc = 0, by_fail = 0, wrong = 0;
	struct task_struct *task;
	struct kc_dt_storm st;
	struct kc_dt_io *tio[3];
	struct kc_dt *dt;
	int status;

	for (round = 0; round < KC_DT_FAIL_ROUNDS; round++) {
		dt = kc_dt_init(test, KC_DT_FAST_NS, 0, 1, true, p->mode);
		kc_sim_stall(dt->sim, true);
		tio[0] = kc_dt_fact(dt, 7, 0);
		tio[1] = kc_dt_dma(dt, KCANCEL_OP_DMA_TO_DEV, 0, 32, 3);
		tio[2] = kc_dt_bell(dt, 5, 0);
		st = (struct kc_dt_storm){ .dt = dt };
		for (i = 0; i < ARRAY_SIZE(tio); i++)
			st.mask |= BIT_ULL(kc_dt_slot(tio[i]));
		task = kc_test_run_on_other_cpu(test, kc_dt_storm_fn, &st);
		udelay(get_random_u32_below(40));
		kc_dev_fail(dt->kd, -EIO);
		kc_test_join(task);
		for (i = 0; i < ARRAY_SIZE(tio); i++) {
			status = tio[i]->io.req.status;
			if (atomic_read(&tio[i]->completions) != 1 ||
			    (status && status != -EIO))
				wrong++;
			else if (status)
				by_fail++;
			else
				by_dpc++;
		}
		kc_dt_finish(dt);
	}
	kunit_info(test, "%u slots ended by the DPC, %u by the failure\n",
		   by_dpc, by_fail);
	KUNIT_EXPECT_EQ(test, wrong, 0U);
	KUNIT_EXPECT_EQ(test, by_dpc + by_fail, 3 * KC_DT_FAIL_ROUNDS);
}

#define KC_DT_ID_ROUNDS		4
#define KC_DT_ID_BATCH		16

/*
 * Ids start at 1 and only grow, also across requests freed in between and
 * ids given out without a request.
 */
static void kc_dev_ids_never_reused(struct kunit *test)
{
	const struct kc_dt_param *p = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, KC_DT_FAST_NS, KC_DT_FAST_NS, 4,
				      p->abort, p->mode);
	struct kc_dt_io *tio[KC_DT_ID_BATCH];
	unsigned int round, i, wrong = 0;
	u64 last = 0, id;

	for (round = 0; round < KC_DT_ID_ROUNDS; round++) {
		for (i = 0; i < KC_DT_ID_BATCH; i++) {
			tio[i] = i % 2 ? kc_dt_bell(dt, i, 0) : kc_dt_fact(dt, i % 13, 0);
			id = tio[i]->io.req.id;
			if (!last)
				KUNIT_EXPECT_EQ(test, id, 1ULL);
			wrong += id <= last;
			last = id;
		}
		id = kc_dev_next_id(dt->kd);
		wrong += id <= last;
		last = id;
		for (i = 0; i < KC_DT_ID_BATCH; i++) {
			kc_dt_wait(tio[i]);
			kc_dt_expect(tio[i], 0);
			kc_dt_put(tio[i]);
		}
		/* Every request of the round is freed before the next. */
		KUNIT_EXPECT_TRUE(test, kc_dt_wait_alive(dt, 0));
	}
	KUNIT_EXPECT_EQ(test, wrong, 0U);
	KUNIT_EXPECT_EQ(test, last, (u64)KC_DT_ID_ROUNDS * (KC_DT_ID_BATCH + 1));
	kc_dt_finish(dt);
}

#define KC_DT_RACE_TIMER_NS	(100 * NSEC_PER_USEC)
#define KC_DT_RACE_DELAY_US	40
/*
 * The longest every fourth cancel waits for its request to end first: far
 * past the device's latency, on TCG and KCSAN included.
 */
#define KC_DT_RACE_LATE_MS	1000

/**
 * struct kc_dt_race - one race of cancels against a device
 * @dt: the fixture.
 * @ios: the requests, in submission order.
 * @n: how many the test thread submits; lowered if it stops early.
 * @ready: requests submitted so far (release/acquire).
 * @timer: the hard IRQ canceller, aimed at the newest requests.
 * @done: the canceller thread went through every request.
 */
struct kc_dt_race {
	struct kc_dt *dt;
	struct kc_dt_io **ios;
	unsigned int n;
	unsigned int ready;
	struct hrtimer timer;
	struct completion done;
};

/*
 * Request @i is held back for its completion: the canceller thread waits for
 * it to end before it cancels, and the hrtimer leaves it alone.
 */
static bool kc_dt_race_held(unsigned int i)
{
	return i % 4 == 1;
}

/* Wait until request @i is submitted; false if it never will be. */
static bool kc_dt_race_wait(struct kc_dt_race *race, unsigned int i)
{
	/* Pairs with the release in kc_dt_race_submit(): @i is queued. */
	while (smp_load_acquire(&race->ready) <= i) {
		if (i >= READ_ONCE(race->n))
			return false;
		usleep_range(10, 20);
	}
	return true;
}

/*
 * The canceller thread: cancel every request soon after its submit, after a
 * random delay, some twice. Counts only. Most delays are shorter than the
 * device's latency; every fourth cancel waits for its request to end (up to
 * KC_DT_RACE_LATE_MS), so that completions also win, on a device that
 * aborts at once or cannot abort, however slow the machine (TCG, KCSAN)
 * makes the device against the canceller. The hrtimer, aimed at the newest
 * requests, spares those (kc_dt_race_held()): when the submitter is barely
 * ahead, it would otherwise cancel almost every one while it is waited for.
 */
static int kc_dt_race_canceller(void *arg)
{
	struct kc_dt_race *race = arg;
	unsigned int i;

	for (i = 0; kc_dt_race_wait(race, i); i++) {
		if (kc_dt_race_held(i))
			kc_request_wait(&race->ios[i]->io.req,
					msecs_to_jiffies(KC_DT_RACE_LATE_MS));
		else
			udelay(get_random_u32_below(KC_DT_RACE_DELAY_US));
		kc_dt_cancel(race->ios[i]);
		if (i % 4 == 0)
			kc_dt_cancel(race->ios[i]);
		cond_resched();
	}
	complete(&race->done);
	return 0;
}

static enum hrtimer_restart kc_dt_race_timer_fn(struct hrtimer *timer)
{
	struct kc_dt_race *race = container_of(timer, struct kc_dt_race, timer);
	/* Pairs with the release in kc_dt_race_submit(). */
	unsigned int ready = smp_load_acquire(&race->ready);
	unsigned int back = get_random_u32_below(4);

	if (ready > back && !kc_dt_race_held(ready - 1 - back))
		kc_dt_cancel(race->ios[ready - 1 - back]);
	hrtimer_forward_now(timer, ns_to_ktime(KC_DT_RACE_TIMER_NS));
	return HRTIMER_RESTART;
}

/* Request @i of a race: a mix of every operation, some with a timeout. */
static struct kc_dt_io *kc_dt_race_new(struct kc_dt *dt, unsigned int i,
				       u64 *timeout_ns)
{
	u32 offset = get_random_u32_below(KCANCEL_DMA_SIZE - 64);
	unsigned int kind = i % 8;

	*timeout_ns = 0;
	if (!get_random_u32_below(8))
		*timeout_ns = (1 + get_random_u32_below(60)) * NSEC_PER_USEC;
	if (kind < 3)
		return kc_dt_alloc(dt, KCANCEL_OP_FACTORIAL, i % 13, 0, 0, 0);
	if (kind == 3)
		return kc_dt_alloc(dt, KCANCEL_OP_DMA_TO_DEV, 0, 64, offset, i);
	if (kind == 4)
		return kc_dt_alloc(dt, KCANCEL_OP_DMA_FROM_DEV, 0, 64, offset, 0);
	return kc_dt_alloc(dt, KCANCEL_OP_DOORBELL, (u64)i << 20 | kind, 0, 0, 0);
}

/**
 * struct kc_dt_tally - how the requests of a race ended
 * @canceled: a cancel returned true; the request ended with its reason.
 * @completed: no cancel won; the request ended with its result.
 * @timed_out: no cancel won; its timeout did.
 * @wrong: anything else.
 */
struct kc_dt_tally {
	unsigned int canceled;
	unsigned int completed;
	unsigned int timed_out;
	unsigned int wrong;
};

/* The test thread's check of one request after the race. */
static void kc_dt_race_check(struct kc_dt_io *tio, struct kc_dt_tally *t)
{
	struct kc_request *req = &tio->io.req;
	int wins = atomic_read(&tio->cancel_wins);
	bool ok = atomic_read(&tio->completions) == 1 &&
		  kc_request_state(req) == KC_REQ_COMPLETED && wins <= 1;

	if (wins) {
		ok = ok && req->status == -ECANCELED && !req->result;
		t->canceled++;
	} else if (req->status == -ETIMEDOUT) {
		ok = ok && tio->timed && !req->result;
		t->timed_out++;
	} else {
		ok = ok && !req->status && req->result == kc_dt_expected(tio);
		t->completed++;
	}
	t->wrong += !ok;
}

/* Submit every request of the race, publishing each to the cancellers. */
static void kc_dt_race_submit(struct kc_dt_race *race)
{
	struct kc_dt_io *tio;
	unsigned int i;
	u64 timeout;

	for (i = 0; i < race->n; i++) {
		tio = kc_dt_race_new(race->dt, i, &timeout);
		if (!tio || kc_dt_start(race->dt, tio, timeout)) {
			if (tio)
				kc_dt_free(tio);
			WRITE_ONCE(race->n, i);
			break;
		}
		race->ios[i] = tio;
		/* Publish the queued request; pairs with the cancellers' acquires. */
		smp_store_release(&race->ready, i + 1);
		if (i % 32 == 0)
			cond_resched();
	}
}

/**
 * kc_dt_race_cancel() - cancels race completions, each request ends once
 * @test: the case, with a &struct kc_dt_param.
 * @latency_ns: how long an operation takes on the case's device.
 * @jitter_ns: up to this much more, at random.
 *
 * Mixed requests (dev_race_requests of them) on a device with four slots
 * per channel, some with a timeout, cancelled by a thread on another CPU
 * right behind the submits and by an hrtimer in hard IRQ context: each
 * completes exactly once, -ECANCELED if and only if one cancel returned
 * true, else with its result or by its timeout. Both cancels and
 * completions must win some, or nothing was raced; except on a device of
 * no latency, where each request has ended (kc_dev_end_now()) before its
 * submit returns and is published: there the cancels must all come late,
 * and the timeouts, armed before the request is queued, race its end.
 *
 * Context: the test thread.
 */
static void kc_dt_race_cancel(struct kunit *test, u64 latency_ns,
			      u64 jitter_ns)
{
	const struct kc_dt_param *p = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, latency_ns, jitter_ns, 4, p->abort,
				      p->mode);
	struct kc_dt_tally tally = {};
	struct task_struct *canceller;
	struct kc_dt_race *race;
	unsigned int i, stuck = 0;

	race = kunit_kzalloc(test, sizeof(*race), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, race);
	race->dt = dt;
	race->n = kc_dt_race_requests;
	race->ios = kunit_kcalloc(test, race->n, sizeof(*race->ios), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, race->ios);
	init_completion(&race->done);

	canceller = kc_test_run_on_other_cpu(test, kc_dt_race_canceller, race);
	hrtimer_init(&race->timer, CLOCK_MONOTONIC, KC_TEST_HRTIMER_MODE);
	race->timer.function = kc_dt_race_timer_fn;
	hrtimer_start(&race->timer, ns_to_ktime(KC_DT_RACE_TIMER_NS),
		      KC_TEST_HRTIMER_MODE);
	kc_dt_race_submit(race);
	/* A stop before the thread ran would skip it: wait for it first. */
	wait_for_completion(&race->done);
	kc_test_join(canceller);
	hrtimer_cancel(&race->timer);

	for (i = 0; i < race->n; i++) {
		if (kc_dt_wait_for(race->ios[i], KC_DT_WAIT)) {
			stuck++;
			continue;
		}
		kc_dt_race_check(race->ios[i], &tally);
	}
	kunit_info(test, "%u requests: cancel won %u, completion won %u, timeout won %u\n",
		   race->n, tally.canceled, tally.completed, tally.timed_out);
	KUNIT_EXPECT_EQ(test, race->n, kc_dt_race_requests);
	KUNIT_EXPECT_EQ(test, stuck, 0U);
	KUNIT_EXPECT_EQ(test, tally.wrong, 0U);
	if (latency_ns || jitter_ns)
		KUNIT_EXPECT_GT(test, tally.canceled, 0U);
	else
		KUNIT_EXPECT_EQ(test, tally.canceled, 0U);
	KUNIT_EXPECT_GT(test, tally.completed, 0U);
	kc_dt_finish(dt);
}

/* On a fast device: operations of 20 to 50 us. */
static void kc_dev_race_cancel(struct kunit *test)
{
	kc_dt_race_cancel(test, 20 * NSEC_PER_USEC, 30 * NSEC_PER_USEC);
}

/* On a device of no latency: requests end in the submitter's thread. */
static void kc_dev_race_cancel_zero_latency(struct kunit *test)
{
	kc_dt_race_cancel(test, 0, 0);
}

/* Start a doorbell on a stalled device: it holds a slot until its bit. */
static struct kc_dt_io *kc_dt_stalled_bell(struct kc_dt *dt, u64 arg, int *slot)
{
	struct kc_dt_io *tio;

	kc_sim_stall(dt->sim, true);
	tio = kc_dt_bell(dt, arg, 0);
	*slot = kc_dt_slot(tio);
	KUNIT_ASSERT_GE(dt->test, *slot, 0);
	return tio;
}

/* The condition of kc_dev_waiter_wait() for a case's request. */
static bool kc_dt_done_cond(void *arg)
{
	return kc_dt_done(arg);
}

/*
 * The ISR's bits go to the device's waiter when one waits, and that thread
 * runs the DPC; with no waiter they go to the DPC thread. One waiter a
 * device: a second thread is told to wait its own way.
 */
static void kc_dev_handoff_to_waiter(struct kunit *test)
{
	const struct kc_dt_param *p = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, KC_DT_NEVER_NS, 0, 1, true, p->mode);
	struct kc_handoff *h = &dt->kd->handoff;
	struct kc_dt_io *a, *b;
	int slot;

	a = kc_dt_stalled_bell(dt, 11, &slot);
	KUNIT_ASSERT_TRUE(test, kc_dev_waiter_begin(dt->kd));
	KUNIT_EXPECT_FALSE(test, kc_dev_waiter_begin(dt->kd));
	/* An interrupt before the wait, as when it beats the submitter. */
	KUNIT_EXPECT_TRUE(test, kc_dev_isr_handoff(dt->kd, BIT_ULL(slot)));
	KUNIT_EXPECT_EQ(test, kc_dev_waiter_wait(dt->kd, kc_dt_done_cond, a,
						 TASK_UNINTERRUPTIBLE), 0);
	kc_dev_waiter_end(dt->kd);
	kc_dt_wait(a);
	kc_dt_expect(a, 0);
	KUNIT_EXPECT_PTR_EQ(test, READ_ONCE(a->completer), current);
	KUNIT_EXPECT_EQ(test, atomic64_read(&h->by_waiter), 1);

	b = kc_dt_bell(dt, 12, 0);
	slot = kc_dt_slot(b);
	KUNIT_ASSERT_GE(test, slot, 0);
	KUNIT_EXPECT_FALSE(test, kc_dev_isr_handoff(dt->kd, BIT_ULL(slot)));
	KUNIT_EXPECT_FALSE(test, kc_dt_done(b));
	kc_dev_dpc_handoff(dt->kd);
	kc_dt_wait(b);
	kc_dt_expect(b, 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&h->by_waiter), 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&h->bits), 0);
	kc_dt_finish(dt);
}

/*
 * A waiter that leaves after the ISR handed it bits, before it waited,
 * runs the DPC with them as it leaves: nothing is stranded.
 */
static void kc_dev_handoff_waiter_leaves(struct kunit *test)
{
	const struct kc_dt_param *p = test->param_value;
	struct kc_dt *dt = kc_dt_init(test, KC_DT_NEVER_NS, 0, 1, true, p->mode);
	struct kc_dt_io *a;
	int slot;

	a = kc_dt_stalled_bell(dt, 13, &slot);
	KUNIT_ASSERT_TRUE(test, kc_dev_waiter_begin(dt->kd));
	KUNIT_EXPECT_TRUE(test, kc_dev_isr_handoff(dt->kd, BIT_ULL(slot)));
	kc_dev_waiter_end(dt->kd);
	KUNIT_EXPECT_TRUE(test, kc_dt_done(a));
	kc_dt_wait(a);
	kc_dt_expect(a, 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&dt->kd->handoff.by_waiter), 1);
	/* The device has a waiter again only once another begins. */
	KUNIT_EXPECT_TRUE(test, kc_dev_waiter_begin(dt->kd));
	kc_dev_waiter_end(dt->kd);
	kc_dt_finish(dt);
}

#define KC_DT_HANDOFF_ROUNDS	3000

/*
 * struct kc_dt_comer - a thread that becomes the device's waiter and
 * leaves, again and again, until stopped
 */
struct kc_dt_comer {
	struct kc_dev *kd;
	unsigned int rounds;
};

static int kc_dt_comer_fn(void *arg)
{
	struct kc_dt_comer *c = arg;

	while (!kthread_should_stop()) {
		if (kc_dev_waiter_begin(c->kd)) {
			udelay(get_random_u32_below(4));
			kc_dev_waiter_end(c->kd);
			c->rounds++;
		}
		cond_resched();
	}
	return 0;
}

/*
 * The ISR racing a waiter that comes and goes on another CPU: each bit
 * reaches a DPC, the waiter's or the DPC thread's (played by the case, as
 * the ISR's return value asks), and its request completes once. Both must
 * have happened, or the race was not tried.
 */
static void kc_dev_handoff_race(struct kunit *test)
{
	struct kc_dt *dt = kc_dt_init(test, KC_DT_NEVER_NS, 0, 1, true,
				      KC_SYNC_AUTOMATIC);
	unsigned int i, to_waiter = 0, to_thread = 0, lost = 0;
	struct kc_dt_comer c = { .kd = dt->kd };
	struct task_struct *task;
	struct kc_dt_io *tio;
	unsigned long flags;
	bool taken;
	int slot;

	kc_sim_stall(dt->sim, true);
	task = kc_test_run_on_other_cpu(test, kc_dt_comer_fn, &c);
	for (i = 0; i < KC_DT_HANDOFF_ROUNDS && !lost; i++) {
		tio = kc_dt_bell(dt, i, 0);
		slot = kc_dt_slot(tio);
		KUNIT_ASSERT_GE(test, slot, 0);
		udelay(get_random_u32_below(4));
		local_irq_save(flags);
		taken = kc_dev_isr_handoff(dt->kd, BIT_ULL(slot));
		local_irq_restore(flags);
		if (taken) {
			to_waiter++;
		} else {
			to_thread++;
			kc_dev_dpc_handoff(dt->kd);
		}
		if (kc_dt_wait_for(tio, HZ))
			lost++;
		else
			kc_dt_expect(tio, 0);
		kc_dt_put(tio);
	}
	kc_test_join(task);
	kunit_info(test, "%u bits handed to the waiter, %u to the DPC thread, %u waiter rounds\n",
		   to_waiter, to_thread, c.rounds);
	KUNIT_EXPECT_EQ_MSG(test, lost, 0U, "a bit was stranded (round %u)", i);
	KUNIT_EXPECT_GT(test, to_waiter, 0U);
	KUNIT_EXPECT_GT(test, to_thread, 0U);
	kc_dt_finish(dt);
}

static struct kunit_case kc_dev_cases[] = {
	KUNIT_CASE_PARAM(kc_dev_ops_complete_once, kc_dt_mode_gen_params),
	KUNIT_CASE_PARAM(kc_dev_ops_complete_once_zero_latency,
			 kc_dt_mode_gen_params),
	KUNIT_CASE_PARAM(kc_dev_zero_latency_ends_in_submitter,
			 kc_dt_mode_gen_params),
	KUNIT_CASE_PARAM(kc_dev_queue_many_once, kc_dt_mode_gen_params),
	KUNIT_CASE_PARAM(kc_dev_queue_many_once_zero_latency,
			 kc_dt_mode_gen_params),
	KUNIT_CASE_PARAM(kc_dev_check_io_table, kc_dt_check_gen_params),
	KUNIT_CASE_PARAM(kc_dev_cancel_queued, kc_dt_mode_gen_params),
	KUNIT_CASE_PARAM_ATTR(kc_dev_cancel_in_flight, kc_dt_abort_gen_params,
			      { .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE_PARAM(kc_dev_cancel_after_completion, kc_dt_mode_gen_params),
	KUNIT_CASE_PARAM_ATTR(kc_dev_cancel_as_it_starts, kc_dt_mode_gen_params,
			      { .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE_PARAM_ATTR(kc_dev_timeout, kc_dt_abort_gen_params,
			      { .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE_PARAM_ATTR(kc_dev_timeout_vs_cancel, kc_dt_abort_gen_params,
			      { .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE_PARAM_ATTR(kc_dev_bell_cancel_slot, kc_dt_abort_gen_params,
			      { .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE_PARAM(kc_dev_remove_completes_all, kc_dt_abort_gen_params),
	KUNIT_CASE(kc_dev_request_holds_device),
	KUNIT_CASE(kc_dev_prepare_checks_op),
	KUNIT_CASE_PARAM(kc_dev_spurious_bits_ignored, kc_dt_mode_gen_params),
	KUNIT_CASE_PARAM(kc_dev_remove_stalled, kc_dt_abort_gen_params),
	KUNIT_CASE_PARAM(kc_dev_fail_ends_everything, kc_dt_abort_gen_params),
	KUNIT_CASE_PARAM_ATTR(kc_dev_fail_races_dpc, kc_dt_mode_gen_params,
			      { .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE_PARAM(kc_dev_ids_never_reused, kc_dt_mode_gen_params),
	KUNIT_CASE_PARAM_ATTR(kc_dev_race_cancel, kc_dt_abort_gen_params,
			      { .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE_PARAM_ATTR(kc_dev_race_cancel_zero_latency,
			      kc_dt_abort_gen_params,
			      { .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE_PARAM(kc_dev_handoff_to_waiter, kc_dt_mode_gen_params),
	KUNIT_CASE_PARAM(kc_dev_handoff_waiter_leaves, kc_dt_mode_gen_params),
	KUNIT_CASE_ATTR(kc_dev_handoff_race, { .speed = KUNIT_SPEED_SLOW }),
	{}
};

struct kunit_suite kc_dev_suite = {
	.name = "kcancel_dev",
	.test_cases = kc_dev_cases,
};
