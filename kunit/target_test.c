// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite kcancel_target: the collection of sent requests (target.c).
 *
 * DOC: Simulated lower devices
 *
 * Each case drives a &struct kc_target whose lower device it simulates. The
 * case ends a request's I/O by calling kc_target_io_done(); the device's
 * cancel operation either aborts the I/O (calls kc_target_io_done() with
 * -ECANCELED inline), records the cancel and lets the I/O run to its end (a
 * device that cannot abort, like edu), or is absent.
 *
 * Completion status: a device that can abort completes the request with the
 * status its I/O ended with, so that a cancel that came too late to abort
 * does not throw away a transfer that happened; an I/O the device aborted
 * reports the reason of the cancel (-ETIMEDOUT for a timeout). A device that
 * cannot abort runs the I/O to its end and reports the cancel the caller
 * asked for instead of a result nobody waits for.
 *
 * Every completion routine and cancel operation checks that it runs without
 * the collection lock (lockdep) and that its request has already left the
 * collection; kc_tt_end() expects none of them to have seen otherwise.
 */
#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/errno.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/wait_bit.h>

#include <kcancel/target.h>

#include "kc_test.h"

/* Who ended a request's simulated I/O, in &kc_test_req.hw_done. */
enum {
	KC_TT_IO_RUNNING,
	KC_TT_BY_DEVICE,	/* the device finished it */
	KC_TT_BY_CANCEL,	/* the cancel operation aborted it */
};

/**
 * struct kc_tt - a target and the record of what its device saw
 * @t: the target.
 * @cancels: calls of the cancel operation.
 * @completions: calls of the completion routine.
 * @locked: cancel operations and completion routines that ran with the
 *	collection lock held by their own thread (lockdep).
 * @found: completion routines that still found their request in the
 *	collection.
 * @in_cancel: set by the case around a kc_target_cancel_sent() call.
 * @last_in_cancel: @in_cancel, as the last completion routine saw it.
 * @last_task: the thread the last completion routine ran on.
 * @last_status: the status the last completion routine was given.
 * @last_canceled: whether it saw kc_request_is_canceled().
 * @last_unlocked: whether its thread did not hold the collection lock.
 * @last_irqs_off: whether interrupts were disabled then.
 *
 * The @last_ fields are meaningful in the single-threaded cases only.
 */
struct kc_tt {
	struct kc_target t;
	atomic_t cancels;
	atomic_t completions;
	atomic_t locked;
	atomic_t found;
	bool in_cancel;
	bool last_in_cancel;
	struct task_struct *last_task;
	int last_status;
	bool last_canceled;
	bool last_unlocked;
	bool last_irqs_off;
};

static struct kc_tt *kc_tt_of(struct kc_target *t)
{
	return container_of(t, struct kc_tt, t);
}

/*
 * Count a call made with the collection lock held by the caller's thread,
 * as lockdep knows; return whether it was.
 */
static bool kc_tt_check_unlocked(struct kc_tt *tt)
{
	if (IS_ENABLED(CONFIG_LOCKDEP) &&
	    lockdep_is_held(&tt->t.sent.xa_lock) == LOCK_STATE_HELD) {
		atomic_inc(&tt->locked);
		return false;
	}
	return true;
}

/**
 * kc_tt_record() - what every completion routine of the suite checks first
 * @t: the target.
 * @req: the request, which must have left the collection.
 * @status: the status the I/O ended with.
 *
 * Looks @req's id up: this must find nothing, and must not deadlock, since
 * no kcancel lock is held while a completion routine runs.
 *
 * Context: any context.
 */
static void kc_tt_record(struct kc_target *t, struct kc_request *req,
			 int status)
{
	struct kc_tt *tt = kc_tt_of(t);
	struct kc_request *found;

	WRITE_ONCE(tt->last_unlocked, kc_tt_check_unlocked(tt));
	WRITE_ONCE(tt->last_irqs_off, irqs_disabled());
	WRITE_ONCE(tt->last_in_cancel, READ_ONCE(tt->in_cancel));
	WRITE_ONCE(tt->last_task, current);
	WRITE_ONCE(tt->last_status, status);
	WRITE_ONCE(tt->last_canceled, kc_request_is_canceled(req));
	found = kc_target_lookup(t, req->id);
	if (found) {
		atomic_inc(&tt->found);
		kc_request_put(found);
	}
	atomic_inc(&tt->completions);
}

/*
 * Completion routine of a device that can abort: the status of the I/O, or
 * the cancel's reason if the device aborted the I/O because of a cancel.
 */
static void kc_tt_complete(struct kc_target *t, struct kc_request *req,
			   int status)
{
	kc_tt_record(t, req, status);
	if (status == -ECANCELED && kc_request_is_canceled(req))
		status = kc_request_cancel_reason(req);
	kc_request_complete(req, status, 0);
}

/*
 * Completion routine of a device that cannot abort: the I/O ran to its end;
 * a request cancelled meanwhile reports the cancel's reason.
 */
static void kc_tt_complete_reported(struct kc_target *t,
				    struct kc_request *req, int status)
{
	kc_tt_record(t, req, status);
	if (kc_request_is_canceled(req))
		status = kc_request_cancel_reason(req);
	kc_request_complete(req, status, 0);
}

/* How long the device takes to refuse an abort that comes too late. */
#define KC_TT_REFUSE_US		20

/*
 * Cancel operation of a device that can abort: whichever of the device and
 * the cancel claims &kc_test_req.hw_done first ends the I/O, exactly once.
 * An abort that comes too late takes the device a moment to refuse, during
 * which the end of the I/O may be reported.
 */
static void kc_tt_cancel_abort(struct kc_target *t, struct kc_request *req)
{
	struct kc_test_req *tr = kc_test_req(req);
	struct kc_tt *tt = kc_tt_of(t);

	kc_tt_check_unlocked(tt);
	atomic_inc(&tt->cancels);
	atomic_inc(&tr->cb_calls);
	if (atomic_cmpxchg(&tr->hw_done, KC_TT_IO_RUNNING,
			   KC_TT_BY_CANCEL) == KC_TT_IO_RUNNING)
		kc_target_io_done(t, &tr->tio, -ECANCELED);
	else
		udelay(KC_TT_REFUSE_US);
}

/* Cancel operation of a device that cannot abort: it only takes note. */
static void kc_tt_cancel_ignore(struct kc_target *t, struct kc_request *req)
{
	struct kc_tt *tt = kc_tt_of(t);

	kc_tt_check_unlocked(tt);
	atomic_inc(&tt->cancels);
	atomic_inc(&kc_test_req(req)->cb_calls);
}

static const struct kc_target_ops kc_tt_abort_ops = {
	.cancel = kc_tt_cancel_abort,
	.completion = kc_tt_complete,
};

static const struct kc_target_ops kc_tt_noabort_ops = {
	.cancel = kc_tt_cancel_ignore,
	.completion = kc_tt_complete_reported,
};

static const struct kc_target_ops kc_tt_nocancel_ops = {
	.completion = kc_tt_complete,
};

/* The simulated device finishes @tr's I/O with @status, if nobody did. */
static void kc_tt_device_done(struct kc_tt *tt, struct kc_test_req *tr,
			      int status)
{
	if (atomic_cmpxchg(&tr->hw_done, KC_TT_IO_RUNNING,
			   KC_TT_BY_DEVICE) == KC_TT_IO_RUNNING)
		kc_target_io_done(&tt->t, &tr->tio, status);
}

static void kc_tt_setup(struct kc_tt *tt, const struct kc_target_ops *ops)
{
	kc_target_init(&tt->t, ops);
	atomic_set(&tt->cancels, 0);
	atomic_set(&tt->completions, 0);
	atomic_set(&tt->locked, 0);
	atomic_set(&tt->found, 0);
}

static struct kc_tt *kc_tt_alloc(struct kunit *test,
				 const struct kc_target_ops *ops)
{
	struct kc_tt *tt = kunit_kzalloc(test, sizeof(*tt), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, tt);
	kc_tt_setup(tt, ops);
	return tt;
}

static struct kc_test_req *kc_tt_req(struct kunit *test,
				     struct kc_test_ctx *ctx)
{
	struct kc_test_req *tr = kc_test_req_alloc(ctx);

	KUNIT_ASSERT_NOT_NULL(test, tr);
	return tr;
}

/**
 * kc_tt_end() - the checks every case ends its target with
 * @test: the case.
 * @tt: the target; destroyed unless requests are still in it.
 *
 * Context: the test thread.
 */
static void kc_tt_end(struct kunit *test, struct kc_tt *tt)
{
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->t.busy), 0);
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&tt->locked), 0,
			    "called with the collection lock held");
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&tt->found), 0,
			    "completion routine found its request in the collection");
	if (!kc_target_is_empty(&tt->t)) {
		KUNIT_FAIL(test, "requests left in the collection");
		return;
	}
	kc_target_destroy(&tt->t);
}

/*
 * Scenario 11, the completion first: the completion routine runs once and
 * completes with the I/O's status; a later cancel by id finds nothing and
 * never reaches the device.
 */
static void kc_target_io_done_then_cancel_id_enoent(struct kunit *test)
{
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, KC_SYNC_DRIVER);
	struct kc_tt *tt = kc_tt_alloc(test, &kc_tt_abort_ops);
	struct kc_test_req *tr = kc_tt_req(test, ctx);
	u64 id = tr->req.id;

	KUNIT_ASSERT_EQ(test, kc_target_send(&tt->t, &tr->tio, GFP_KERNEL), 0);
	KUNIT_EXPECT_PTR_EQ(test, xa_load(&tt->t.sent, id), &tr->tio);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->t.busy), 1);
	kc_request_get(&tr->req);

	kc_tt_device_done(tt, tr, -EIO);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->completions), 1);
	KUNIT_EXPECT_EQ(test, tt->last_status, -EIO);
	KUNIT_EXPECT_FALSE(test, tt->last_canceled);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 1);
	KUNIT_EXPECT_EQ(test, kc_request_state(&tr->req), KC_REQ_COMPLETED);
	KUNIT_EXPECT_EQ(test, tr->req.status, -EIO);
	KUNIT_EXPECT_NULL(test, xa_load(&tt->t.sent, id));
	kc_request_put(&tr->req);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->alive), 0);

	KUNIT_EXPECT_EQ(test, kc_target_cancel_id(&tt->t, id, -ECANCELED),
			-ENOENT);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->cancels), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->completions), 1);
	kc_tt_end(test, tt);
	kc_test_finish(ctx);
}

/*
 * Scenario 11, the cancel racing the completion, made deterministic: the
 * canceller's reference (from the look-up) keeps the request alive across
 * its completion; the cancel then reports "already completed" and touches
 * nothing; the canceller's put frees it.
 */
static void kc_target_cancel_sent_after_completion_keeps_ref(struct kunit *test)
{
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, KC_SYNC_DRIVER);
	struct kc_tt *tt = kc_tt_alloc(test, &kc_tt_abort_ops);
	struct kc_test_req *tr = kc_tt_req(test, ctx);
	struct kc_request *req;

	KUNIT_ASSERT_EQ(test, kc_target_send(&tt->t, &tr->tio, GFP_KERNEL), 0);
	req = kc_target_lookup(&tt->t, tr->req.id);
	KUNIT_ASSERT_PTR_EQ(test, req, &tr->req);

	/* The completion routine drops the I/O and collection references. */
	kc_tt_device_done(tt, tr, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->completions), 1);
	KUNIT_EXPECT_EQ(test, kc_request_state(req), KC_REQ_COMPLETED);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->alive), 1);
	KUNIT_EXPECT_EQ(test, kref_read(&req->ref), 1);

	KUNIT_EXPECT_FALSE(test, kc_target_cancel_sent(&tt->t, &tr->tio,
						       -ECANCELED));
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->cancels), 0);
	KUNIT_EXPECT_FALSE(test, kc_request_is_canceled(req));
	KUNIT_EXPECT_EQ(test, kc_request_cancel_reason(req), 0);
	KUNIT_EXPECT_EQ(test, req->status, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 1);
	KUNIT_EXPECT_EQ(test, kc_target_cancel_id(&tt->t, req->id, -ECANCELED),
			-ENOENT);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->alive), 1);

	kc_request_put(req);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->alive), 0);
	kc_tt_end(test, tt);
	kc_test_finish(ctx);
}

/*
 * Scenario 12, the completion inside the cancel: the device aborts inline, so
 * the completion routine runs on the canceller's thread before
 * kc_target_cancel_sent() returns, with the collection lock free (it can
 * look the id up itself) and interrupts enabled.
 */
static void kc_target_cancel_sent_completes_inline(struct kunit *test)
{
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, KC_SYNC_DRIVER);
	struct kc_tt *tt = kc_tt_alloc(test, &kc_tt_abort_ops);
	struct kc_test_req *tr = kc_tt_req(test, ctx);
	bool in_flight;

	KUNIT_ASSERT_EQ(test, kc_target_send(&tt->t, &tr->tio, GFP_KERNEL), 0);
	kc_request_get(&tr->req);

	WRITE_ONCE(tt->in_cancel, true);
	in_flight = kc_target_cancel_sent(&tt->t, &tr->tio, -ETIMEDOUT);
	WRITE_ONCE(tt->in_cancel, false);

	KUNIT_EXPECT_TRUE(test, in_flight);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->cancels), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->hw_done), KC_TT_BY_CANCEL);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->completions), 1);
	KUNIT_EXPECT_TRUE(test, tt->last_in_cancel);
	KUNIT_EXPECT_PTR_EQ(test, tt->last_task, current);
	KUNIT_EXPECT_TRUE(test, tt->last_unlocked);
	KUNIT_EXPECT_FALSE(test, tt->last_irqs_off);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->found), 0);
	KUNIT_EXPECT_TRUE(test, tt->last_canceled);
	KUNIT_EXPECT_EQ(test, tt->last_status, -ECANCELED);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 1);
	KUNIT_EXPECT_EQ(test, tr->req.status, -ETIMEDOUT);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->t.busy), 0);
	kc_request_put(&tr->req);
	kc_tt_end(test, tt);
	kc_test_finish(ctx);
}

/*
 * Scenario 12, the cancel before the send: nothing is in flight, so the
 * cancel returns false, but it is recorded and the send then fails with
 * -ECANCELED, leaving the collection empty; the caller completes once.
 */
static void kc_target_send_after_cancel_ecanceled(struct kunit *test)
{
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, KC_SYNC_DRIVER);
	struct kc_tt *tt = kc_tt_alloc(test, &kc_tt_abort_ops);
	struct kc_test_req *tr = kc_tt_req(test, ctx);

	KUNIT_EXPECT_FALSE(test, kc_target_cancel_sent(&tt->t, &tr->tio,
						       -ECANCELED));
	KUNIT_EXPECT_TRUE(test, kc_request_is_canceled(&tr->req));
	KUNIT_EXPECT_EQ(test, kc_request_state(&tr->req), KC_REQ_OWNED);

	KUNIT_EXPECT_EQ(test, kc_target_send(&tt->t, &tr->tio, GFP_KERNEL),
			-ECANCELED);
	KUNIT_EXPECT_TRUE(test, kc_target_is_empty(&tt->t));
	KUNIT_EXPECT_NULL(test, kc_target_lookup(&tt->t, tr->req.id));
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->t.busy), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->cancels), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->completions), 0);

	kc_request_get(&tr->req);
	KUNIT_EXPECT_EQ(test, kc_request_complete(&tr->req, -ECANCELED, 0), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 1);
	KUNIT_EXPECT_EQ(test, tr->req.status, -ECANCELED);
	kc_request_put(&tr->req);
	kc_tt_end(test, tt);
	kc_test_finish(ctx);
}

/*
 * A device that cannot abort: the cancel reaches it and returns 0, but the
 * request stays in flight and in the collection; the I/O ends normally later
 * and the completion routine, seeing the cancel, reports it.
 */
static void kc_target_cancel_id_no_abort_completes_canceled(struct kunit *test)
{
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, KC_SYNC_DRIVER);
	struct kc_tt *tt = kc_tt_alloc(test, &kc_tt_noabort_ops);
	struct kc_test_req *tr = kc_tt_req(test, ctx);
	struct kc_request *req;

	KUNIT_ASSERT_EQ(test, kc_target_send(&tt->t, &tr->tio, GFP_KERNEL), 0);
	kc_request_get(&tr->req);

	KUNIT_EXPECT_EQ(test, kc_target_cancel_id(&tt->t, tr->req.id,
						  -ECANCELED), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->cancels), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->completions), 0);
	KUNIT_EXPECT_TRUE(test, kc_request_is_canceled(&tr->req));
	KUNIT_EXPECT_EQ(test, kc_request_state(&tr->req), KC_REQ_OWNED);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->t.busy), 1);
	req = kc_target_lookup(&tt->t, tr->req.id);
	KUNIT_EXPECT_PTR_EQ(test, req, &tr->req);
	if (req)
		kc_request_put(req);

	kc_tt_device_done(tt, tr, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->completions), 1);
	KUNIT_EXPECT_EQ(test, tt->last_status, 0);
	KUNIT_EXPECT_TRUE(test, tt->last_canceled);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 1);
	KUNIT_EXPECT_EQ(test, tr->req.status, -ECANCELED);
	KUNIT_EXPECT_EQ(test, kc_target_cancel_id(&tt->t, tr->req.id,
						  -ECANCELED), -ENOENT);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->cancels), 1);
	kc_request_put(&tr->req);
	kc_tt_end(test, tt);
	kc_test_finish(ctx);
}

/*
 * An id in flight is refused with -EEXIST and the request holding it stays;
 * the refused request is still the caller's and can be sent once the id is
 * free again.
 */
static void kc_target_send_duplicate_id_eexist(struct kunit *test)
{
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, KC_SYNC_DRIVER);
	struct kc_tt *tt = kc_tt_alloc(test, &kc_tt_abort_ops);
	struct kc_test_req *first = kc_tt_req(test, ctx);
	struct kc_test_req *second = kc_tt_req(test, ctx);
	struct kc_request *req;
	u64 id = first->req.id;

	second->req.id = id;
	KUNIT_ASSERT_EQ(test, kc_target_send(&tt->t, &first->tio, GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, kc_target_send(&tt->t, &second->tio, GFP_KERNEL),
			-EEXIST);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->t.busy), 1);
	req = kc_target_lookup(&tt->t, id);
	KUNIT_EXPECT_PTR_EQ(test, req, &first->req);
	if (req)
		kc_request_put(req);
	KUNIT_EXPECT_EQ(test, kc_request_state(&second->req), KC_REQ_OWNED);

	kc_tt_device_done(tt, first, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->completions), 1);
	KUNIT_EXPECT_NULL(test, kc_target_lookup(&tt->t, id));

	KUNIT_EXPECT_EQ(test, kc_target_send(&tt->t, &second->tio, GFP_KERNEL), 0);
	req = kc_target_lookup(&tt->t, id);
	KUNIT_EXPECT_PTR_EQ(test, req, &second->req);
	if (req)
		kc_request_put(req);
	kc_request_get(&second->req);
	kc_tt_device_done(tt, second, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->completions), 2);
	KUNIT_EXPECT_EQ(test, atomic_read(&second->completions), 1);
	KUNIT_EXPECT_EQ(test, second->req.status, 0);
	kc_request_put(&second->req);
	kc_tt_end(test, tt);
	kc_test_finish(ctx);
}

/* Cleanup action: free what kmalloc() or kvmalloc() allocated. */
static void kc_tt_kvfree(void *p)
{
	kvfree(p);
}

/**
 * struct kc_tt_drain - a kc_target_drain() call on another thread
 * @tt: the target.
 * @started: set just before the call.
 * @done: completed when kc_target_drain() has returned.
 * @seen: completion routine calls counted when it returned.
 */
struct kc_tt_drain {
	struct kc_tt *tt;
	bool started;
	struct completion done;
	int seen;
};

static int kc_tt_drain_fn(void *arg)
{
	struct kc_tt_drain *d = arg;

	WRITE_ONCE(d->started, true);
	kc_target_drain(&d->tt->t);
	d->seen = atomic_read(&d->tt->completions);
	complete(&d->done);
	return 0;
}

/*
 * kc_target_drain() returns only once the last sent request's completion
 * routine has returned, and at once on an empty target; kc_target_destroy()
 * frees an empty target, used or not.
 */
static void kc_target_drain_waits_for_last_io_done(struct kunit *test)
{
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, KC_SYNC_DRIVER);
	struct kc_tt *tt = kc_tt_alloc(test, &kc_tt_abort_ops);
	struct kc_tt *unused = kc_tt_alloc(test, &kc_tt_abort_ops);
	struct kc_test_req *tr[3];
	struct task_struct *task;
	struct kc_tt_drain *d;
	unsigned int i;

	kc_target_drain(&unused->t);
	kc_tt_end(test, unused);

	/* Not kunit_kzalloc(): a drain thread that never returns keeps it. */
	d = kzalloc(sizeof(*d), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, d);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kc_tt_kvfree, d),
			0);
	d->tt = tt;
	init_completion(&d->done);
	for (i = 0; i < ARRAY_SIZE(tr); i++) {
		tr[i] = kc_tt_req(test, ctx);
		KUNIT_ASSERT_EQ(test, kc_target_send(&tt->t, &tr[i]->tio,
						     GFP_KERNEL), 0);
	}
	task = kc_test_run_on_other_cpu(test, kc_tt_drain_fn, d);

	msleep(50);
	KUNIT_EXPECT_TRUE(test, READ_ONCE(d->started));
	KUNIT_EXPECT_FALSE(test, completion_done(&d->done));
	kc_tt_device_done(tt, tr[0], 0);
	kc_tt_device_done(tt, tr[1], 0);
	msleep(50);
	KUNIT_EXPECT_FALSE(test, completion_done(&d->done));
	kc_tt_device_done(tt, tr[2], 0);
	if (!wait_for_completion_timeout(&d->done, 10 * HZ)) {
		KUNIT_FAIL(test, "kc_target_drain() did not return");
		kunit_remove_action(test, kc_tt_kvfree, d);
		return;
	}
	KUNIT_EXPECT_EQ(test, d->seen, (int)ARRAY_SIZE(tr));
	kc_test_join(task);

	kc_target_drain(&tt->t);
	kc_tt_end(test, tt);
	kc_test_finish(ctx);
}

#define KC_TT_MANY	100000

/**
 * struct kc_tt_many - one thread's half of the requests of the look-up case
 * @ctx: the fixture.
 * @tt: the target.
 * @trs: the case's requests; a slot is NULL if its request was not sent.
 * @from: the first index of the half.
 * @to: the index after its last.
 * @end_io: end the I/O of the half rather than allocate and send it.
 * @sent: requests of the half sent.
 * @done: completed when the half is done.
 */
struct kc_tt_many {
	struct kc_test_ctx *ctx;
	struct kc_tt *tt;
	struct kc_test_req **trs;
	unsigned int from;
	unsigned int to;
	bool end_io;
	unsigned int sent;
	struct completion done;
};

static int kc_tt_many_fn(void *arg)
{
	struct kc_tt_many *m = arg;
	struct kc_test_req **trs = m->trs;
	unsigned int i;

	for (i = m->from; i < m->to; i++) {
		if (!(i % 1024))
			cond_resched();
		if (m->end_io) {
			if (trs[i])
				kc_tt_device_done(m->tt, trs[i], 0);
			continue;
		}
		trs[i] = kc_test_req_alloc(m->ctx);
		if (!trs[i])
			continue;
		if (kc_target_send(&m->tt->t, &trs[i]->tio, GFP_KERNEL)) {
			kc_request_complete(&trs[i]->req, -EIO, 0);
			trs[i] = NULL;
			continue;
		}
		m->sent++;
	}
	complete(&m->done);
	return 0;
}

/* Run @m[0] on this thread and @m[1] on another one, concurrently. */
static void kc_tt_many_run(struct kc_tt_many *m)
{
	struct task_struct *task;

	init_completion(&m[0].done);
	init_completion(&m[1].done);
	task = kthread_create(kc_tt_many_fn, &m[1], "kc_tt/many");
	if (IS_ERR(task)) {
		kc_tt_many_fn(&m[1]);
		kc_tt_many_fn(&m[0]);
		return;
	}
	get_task_struct(task);
	wake_up_process(task);
	kc_tt_many_fn(&m[0]);
	/* kthread_stop() before the thread ran would skip its function. */
	wait_for_completion(&m[1].done);
	kc_test_join(task);
}

/*
 * With KC_TT_MANY requests in flight at once, sent from two threads, every id
 * finds its own request and ids never sent find nothing; then every I/O ends,
 * on two threads again.
 */
static void kc_target_lookup_100k_in_flight(struct kunit *test)
{
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, KC_SYNC_DRIVER);
	struct kc_tt *tt = kc_tt_alloc(test, &kc_tt_abort_ops);
	unsigned int i, sent, wrong = 0;
	struct kc_tt_many m[2];
	struct kc_test_req **trs;
	struct kc_request *req;
	u64 last = 0;

	trs = kvcalloc(KC_TT_MANY, sizeof(*trs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, trs);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kc_tt_kvfree,
							trs), 0);
	for (i = 0; i < ARRAY_SIZE(m); i++)
		m[i] = (struct kc_tt_many){
			.ctx = ctx, .tt = tt, .trs = trs,
			.from = i * KC_TT_MANY / 2,
			.to = (i + 1) * KC_TT_MANY / 2,
		};
	kc_tt_many_run(m);
	sent = m[0].sent + m[1].sent;
	KUNIT_EXPECT_EQ(test, sent, KC_TT_MANY);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->t.busy), sent);

	for (i = 0; i < KC_TT_MANY; i++) {
		if (!(i % 1024))
			cond_resched();
		if (!trs[i])
			continue;
		last = max(last, trs[i]->req.id);
		req = kc_target_lookup(&tt->t, trs[i]->req.id);
		if (req != &trs[i]->req)
			wrong++;
		if (req)
			kc_request_put(req);
	}
	KUNIT_EXPECT_EQ(test, wrong, 0);
	KUNIT_EXPECT_NULL(test, kc_target_lookup(&tt->t, 0));
	KUNIT_EXPECT_NULL(test, kc_target_lookup(&tt->t, last + 1));
	KUNIT_EXPECT_NULL(test, kc_target_lookup(&tt->t, last + 4096));
	KUNIT_EXPECT_NULL(test, kc_target_lookup(&tt->t, U64_MAX));
	KUNIT_EXPECT_EQ(test, kc_target_cancel_id(&tt->t, last + 1, -ECANCELED),
			-ENOENT);

	m[0].end_io = true;
	m[1].end_io = true;
	kc_tt_many_run(m);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->completions), sent);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->completed), KC_TT_MANY);
	kc_tt_end(test, tt);
	kc_test_finish(ctx);
}

/*
 * The race: requests per case and per batch, the most helper threads, the
 * requests a device thread ends together, the timer's period.
 */
#define KC_TT_RACE_REQS		(50 * 2048)
#define KC_TT_RACE_BATCH	2048
#define KC_TT_MAX_THREADS	8
#define KC_TT_CLAIM		32
#define KC_TT_TIMER_NS		(500 * NSEC_PER_USEC)
static_assert(KC_TT_RACE_REQS % KC_TT_RACE_BATCH == 0);

struct kc_tt_race;

/**
 * struct kc_tt_helper - a thread of the race
 * @race: the race.
 * @task: the thread.
 * @go: completed once per batch, and to stop.
 * @cancel: a canceller (kc_target_cancel_id()); a device thread otherwise.
 * @reverse: walks the batch from its end.
 */
struct kc_tt_helper {
	struct kc_tt_race *race;
	struct task_struct *task;
	struct completion go;
	bool cancel;
	bool reverse;
};

/**
 * struct kc_tt_race - state of one run of the race case
 * @tt: the target.
 * @helpers: the threads; @nthreads of them.
 * @nthreads: how many.
 * @bufs: two batches of requests, each with a reference of the case: the
 *	helpers race over one while the case sends the other.
 * @batch: the batch the helpers race over, one of @bufs.
 * @batch_n: how many requests it has.
 * @ids: the ids of every request of the run, for the timer.
 * @batch_start: index in @ids of the first request of @batch.
 * @batch_end: index in @ids after its last, published with release.
 * @stop: tells the helpers to return.
 * @pending: helpers still walking @batch.
 * @batch_done: completed by the last of them.
 * @timer: the hard IRQ timer that cancels too.
 * @timer_stop: tells @timer not to re-arm.
 * @timer_cursor: index in @ids of the timer's next cancel.
 * @timer_fires: times @timer ran.
 * @timer_hits: its cancels that found the request in flight.
 * @found: cancels by id of the helpers that found the request in flight.
 * @gone: ... that found no request (-ENOENT).
 * @late: ... that found it completing (-EALREADY).
 * @odd: ... that returned anything else.
 * @inline_done: completion routines run inside a cancel.
 * @inline_after_device: those of them for an I/O that the device ended.
 * @stopped: kc_tt_race_stop() ran.
 */
struct kc_tt_race {
	struct kc_tt tt;
	struct kc_tt_helper helpers[KC_TT_MAX_THREADS];
	unsigned int nthreads;
	struct kc_test_req **bufs[2];
	struct kc_test_req **batch;
	unsigned int batch_n;
	u64 *ids;
	unsigned int batch_start;
	unsigned int batch_end;
	bool stop;
	atomic_t pending;
	struct completion batch_done;
	struct hrtimer timer;
	bool timer_stop;
	unsigned int timer_cursor;
	unsigned int timer_fires;
	unsigned int timer_hits;
	atomic_t found;
	atomic_t gone;
	atomic_t late;
	atomic_t odd;
	atomic_t inline_done;
	atomic_t inline_after_device;
	bool stopped;
};

static bool kc_tt_race_is_canceller(struct kc_tt_race *r,
				    struct task_struct *task)
{
	unsigned int i;

	for (i = 0; i < r->nthreads; i++)
		if (r->helpers[i].task == task)
			return r->helpers[i].cancel;
	return false;
}

/*
 * Completion routine of the race: counts the routines that run inside a
 * cancel (from a canceller thread or the timer), then completes as a device
 * that can abort.
 */
static void kc_tt_race_complete(struct kc_target *t, struct kc_request *req,
				int status)
{
	struct kc_tt_race *r = container_of(t, struct kc_tt_race, tt.t);

	if (in_hardirq() || kc_tt_race_is_canceller(r, current)) {
		atomic_inc(&r->inline_done);
		if (atomic_read(&kc_test_req(req)->hw_done) == KC_TT_BY_DEVICE)
			atomic_inc(&r->inline_after_device);
	}
	kc_tt_complete(t, req, status);
}

static const struct kc_target_ops kc_tt_race_ops = {
	.cancel = kc_tt_cancel_abort,
	.completion = kc_tt_race_complete,
};

static void kc_tt_race_count(struct kc_tt_race *r, int ret)
{
	if (!ret)
		atomic_inc(&r->found);
	else if (ret == -ENOENT)
		atomic_inc(&r->gone);
	else if (ret == -EALREADY)
		atomic_inc(&r->late);
	else
		atomic_inc(&r->odd);
}

/*
 * A device thread ends the I/O of KC_TT_CLAIM requests at a time: it claims
 * them, lets the other threads of its CPU run, then calls
 * kc_target_io_done() on each, as an interrupt handler finishing a burst
 * would. A cancel that comes in between cannot abort any more and races the
 * end of the I/O for the completion.
 */
static void kc_tt_race_device(struct kc_tt_helper *h)
{
	struct kc_test_req *claimed[KC_TT_CLAIM];
	struct kc_tt_race *r = h->race;
	unsigned int k, i, j, n = 0;
	struct kc_test_req *tr;

	for (k = 0; k < r->batch_n; k++) {
		i = h->reverse ? r->batch_n - 1 - k : k;
		tr = r->batch[i];
		if (atomic_cmpxchg(&tr->hw_done, KC_TT_IO_RUNNING,
				   KC_TT_BY_DEVICE) == KC_TT_IO_RUNNING)
			claimed[n++] = tr;
		if (n < KC_TT_CLAIM && k + 1 < r->batch_n)
			continue;
		if (n)
			usleep_range(10, 20);
		for (j = 0; j < n; j++)
			kc_target_io_done(&r->tt.t, &claimed[j]->tio, 0);
		n = 0;
		cond_resched();
	}
}

/*
 * A canceller cancels every request of the batch by id, except those it sees
 * completed already: their cancel could only find nothing, and skipping them
 * keeps it where the device threads are.
 */
static void kc_tt_race_cancel(struct kc_tt_helper *h)
{
	struct kc_tt_race *r = h->race;
	unsigned int k, i;

	for (k = 0; k < r->batch_n; k++) {
		i = h->reverse ? r->batch_n - 1 - k : k;
		if (kc_request_state(&r->batch[i]->req) == KC_REQ_COMPLETED)
			continue;
		kc_tt_race_count(r, kc_target_cancel_id(&r->tt.t,
							r->ids[r->batch_start + i],
							-ECANCELED));
		if (!(k % 16))
			cond_resched();
	}
}

static int kc_tt_race_fn(void *arg)
{
	struct kc_tt_helper *h = arg;
	struct kc_tt_race *r = h->race;

	for (;;) {
		wait_for_completion(&h->go);
		if (READ_ONCE(r->stop))
			return 0;
		if (h->cancel)
			kc_tt_race_cancel(h);
		else
			kc_tt_race_device(h);
		if (atomic_dec_and_test(&r->pending))
			complete(&r->batch_done);
	}
}

/*
 * Hard IRQ: cancel the next request of the batch the helpers race over
 * (-ETIMEDOUT, as a timeout would), then re-arm until stopped.
 */
static enum hrtimer_restart kc_tt_race_timer(struct hrtimer *timer)
{
	struct kc_tt_race *r = container_of(timer, struct kc_tt_race, timer);
	unsigned int end, i;

	if (READ_ONCE(r->timer_stop))
		return HRTIMER_NORESTART;
	r->timer_fires++;
	/* Paired with the smp_store_release() in kc_tt_race_batch(). */
	end = smp_load_acquire(&r->batch_end);
	i = max(r->timer_cursor, READ_ONCE(r->batch_start));
	if (i < end) {
		if (!kc_target_cancel_id(&r->tt.t, r->ids[i], -ETIMEDOUT))
			r->timer_hits++;
		r->timer_cursor = i + 1;
	}
	hrtimer_forward_now(timer, ns_to_ktime(KC_TT_TIMER_NS));
	return HRTIMER_RESTART;
}

/* Stop the timer and the helpers; also the case's cleanup action. */
static void kc_tt_race_stop(void *arg)
{
	struct kc_tt_race *r = arg;
	unsigned int i;

	if (r->stopped)
		return;
	r->stopped = true;
	WRITE_ONCE(r->timer_stop, true);
	hrtimer_cancel(&r->timer);
	WRITE_ONCE(r->stop, true);
	for (i = 0; i < r->nthreads; i++) {
		complete(&r->helpers[i].go);
		kthread_stop(r->helpers[i].task);
		put_task_struct(r->helpers[i].task);
	}
}

/*
 * Start @nthreads helpers, alternately device threads and cancellers, spread
 * so that each CPU runs both kinds, half of each kind walking backwards; then
 * the timer.
 */
static bool kc_tt_race_start(struct kunit *test, struct kc_tt_race *r,
			     unsigned int nthreads)
{
	unsigned int ncpus = num_online_cpus();
	struct task_struct *task;
	struct kc_tt_helper *h;
	unsigned int i;

	hrtimer_init(&r->timer, CLOCK_MONOTONIC, KC_TEST_HRTIMER_MODE);
	r->timer.function = kc_tt_race_timer;
	init_completion(&r->batch_done);
	if (kunit_add_action_or_reset(test, kc_tt_race_stop, r))
		return false;
	for (i = 0; i < nthreads; i++) {
		h = &r->helpers[i];
		h->race = r;
		h->cancel = i & 1;
		h->reverse = (i / 2) & 1;
		init_completion(&h->go);
		task = kthread_create(kc_tt_race_fn, h, "kc_tt/%u", i);
		if (IS_ERR(task))
			return false;
		kthread_bind(task, cpumask_nth((i + i / 2) % ncpus,
					       cpu_online_mask));
		get_task_struct(task);
		h->task = task;
		r->nthreads = i + 1;
		wake_up_process(task);
	}
	hrtimer_start(&r->timer, ns_to_ktime(KC_TT_TIMER_NS),
		      KC_TEST_HRTIMER_MODE);
	return true;
}

/* Allocate and send into @buf the KC_TT_RACE_BATCH requests from @first. */
static bool kc_tt_race_send(struct kunit *test, struct kc_tt_race *r,
			    struct kc_test_ctx *ctx, struct kc_test_req **buf,
			    unsigned int first)
{
	struct kc_test_req *tr;
	unsigned int i;
	int ret;

	for (i = 0; i < KC_TT_RACE_BATCH; i++) {
		tr = kc_test_req_alloc(ctx);
		if (!tr) {
			KUNIT_FAIL(test, "out of memory at request %u",
				   first + i);
			return false;
		}
		kc_request_get(&tr->req);	/* the case's, for the checks */
		buf[i] = tr;
		r->ids[first + i] = tr->req.id;
		ret = kc_target_send(&r->tt.t, &tr->tio, GFP_KERNEL);
		if (ret) {
			KUNIT_FAIL(test, "send of request %llu: %d",
				   tr->req.id, ret);
			return false;
		}
	}
	return true;
}

/**
 * struct kc_tt_tally - outcomes of the race's requests
 * @by_device: the device ended the I/O: completed with status 0.
 * @by_cancel: a cancel aborted it: completed with the cancel's reason.
 * @timed_out: of those, the timer's cancel came first (-ETIMEDOUT).
 * @too_late: the device ended the I/O although a cancel was asked for.
 * @wrong: requests not completed exactly once with the right status.
 */
struct kc_tt_tally {
	unsigned int by_device;
	unsigned int by_cancel;
	unsigned int timed_out;
	unsigned int too_late;
	unsigned int wrong;
};

static void kc_tt_race_check(struct kunit *test, struct kc_test_req *tr,
			     struct kc_tt_tally *tally)
{
	struct kc_request *req = &tr->req;
	int who = atomic_read(&tr->hw_done);
	int want = -EINVAL;

	if (who == KC_TT_BY_DEVICE) {
		tally->by_device++;
		tally->too_late += kc_request_is_canceled(req);
		want = 0;
	} else if (who == KC_TT_BY_CANCEL && kc_request_is_canceled(req)) {
		tally->by_cancel++;
		want = kc_request_cancel_reason(req);
		tally->timed_out += want == -ETIMEDOUT;
	}
	if (atomic_read(&tr->completions) == 1 &&
	    kc_request_state(req) == KC_REQ_COMPLETED &&
	    atomic_read(&tr->tio.count) == 0 && req->status == want &&
	    (want == 0 || want == -ECANCELED || want == -ETIMEDOUT))
		return;
	if (!tally->wrong++)
		kunit_err(test, "request %llu: I/O ended by %d, %d completions, state %d, sent count %d, status %d\n",
			  req->id, who, atomic_read(&tr->completions),
			  kc_request_state(req), atomic_read(&tr->tio.count),
			  req->status);
}

/* Wait until @n requests are in flight: those of the next batch. */
static bool kc_tt_race_wait_busy(struct kc_tt_race *r, int n)
{
	unsigned long deadline = jiffies + 30 * HZ;

	while (atomic_read(&r->tt.t.busy) != n) {
		if (time_after(jiffies, deadline))
			return false;
		usleep_range(200, 500);
	}
	return true;
}

/*
 * Let the helpers race over @buf, the batch from @first, while the case sends
 * @next_buf, the batch after it (NULL: none); then check and put @buf.
 */
static bool kc_tt_race_batch(struct kunit *test, struct kc_tt_race *r,
			     struct kc_test_ctx *ctx, unsigned int first,
			     struct kc_test_req **buf,
			     struct kc_test_req **next_buf,
			     struct kc_tt_tally *tally)
{
	bool sent = true;
	unsigned int i;

	r->batch = buf;
	r->batch_n = KC_TT_RACE_BATCH;
	WRITE_ONCE(r->batch_start, first);
	/* Paired with the smp_load_acquire() in kc_tt_race_timer(). */
	smp_store_release(&r->batch_end, first + KC_TT_RACE_BATCH);
	atomic_set(&r->pending, r->nthreads);
	reinit_completion(&r->batch_done);
	for (i = 0; i < r->nthreads; i++)
		complete(&r->helpers[i].go);

	if (next_buf)
		sent = kc_tt_race_send(test, r, ctx, next_buf,
				       first + KC_TT_RACE_BATCH);
	if (!wait_for_completion_timeout(&r->batch_done, 30 * HZ)) {
		KUNIT_FAIL(test, "batch at %u: helpers did not finish", first);
		return false;
	}
	/* Only the timer may still be in a cancel of this batch. */
	if (!sent || !kc_tt_race_wait_busy(r, next_buf ? KC_TT_RACE_BATCH : 0)) {
		KUNIT_FAIL(test, "batch at %u: %d requests in flight",
			   first, atomic_read(&r->tt.t.busy));
		return false;
	}
	for (i = 0; i < KC_TT_RACE_BATCH; i++) {
		kc_tt_race_check(test, buf[i], tally);
		kc_request_put(&buf[i]->req);
	}
	return true;
}

static const unsigned int kc_tt_race_threads[] = { 2, 4, 8 };

static void kc_tt_race_desc(const unsigned int *nthreads, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "threads=%u", *nthreads);
}

KUNIT_ARRAY_PARAM(kc_tt_race, kc_tt_race_threads, kc_tt_race_desc);

/*
 * Device threads end the I/O (kc_target_io_done(0)), canceller threads
 * cancel by id, and a hard IRQ timer cancels by id too, all over the same
 * requests, while the next batch is being sent. Every request must complete
 * exactly once, with 0 if the device ended its I/O and with the cancel's
 * reason if a cancel aborted it, and both must happen.
 */
static void kc_target_race_io_done_cancel_id(struct kunit *test)
{
	const unsigned int *nthreads = test->param_value;
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, KC_SYNC_DRIVER);
	struct kc_tt_tally tally = {};
	struct kc_test_req **buf, **next;
	unsigned int first, i;
	struct kc_tt_race *r;
	bool ok;

	r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	kc_tt_setup(&r->tt, &kc_tt_race_ops);
	r->ids = kvmalloc_array(KC_TT_RACE_REQS, sizeof(*r->ids), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r->ids);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kc_tt_kvfree,
							r->ids), 0);
	for (i = 0; i < ARRAY_SIZE(r->bufs); i++) {
		r->bufs[i] = kunit_kmalloc_array(test, KC_TT_RACE_BATCH,
						 sizeof(*r->bufs[i]),
						 GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, r->bufs[i]);
	}
	KUNIT_ASSERT_TRUE(test, kc_tt_race_start(test, r, *nthreads));

	ok = kc_tt_race_send(test, r, ctx, r->bufs[0], 0);
	for (first = 0, i = 0; ok && first < KC_TT_RACE_REQS;
	     first += KC_TT_RACE_BATCH, i++) {
		buf = r->bufs[i % 2];
		next = first + KC_TT_RACE_BATCH < KC_TT_RACE_REQS ?
		       r->bufs[(i + 1) % 2] : NULL;
		ok = kc_tt_race_batch(test, r, ctx, first, buf, next, &tally);
	}
	kc_tt_race_stop(r);

	kunit_info(test, "%u requests: %u ended by the device (%u of them cancelled too late), %u by a cancel (%u timeouts)\n",
		   first, tally.by_device, tally.too_late, tally.by_cancel,
		   tally.timed_out);
	kunit_info(test, "%d completion routines ran inside a cancel, %d after the device ended the I/O\n",
		   atomic_read(&r->inline_done),
		   atomic_read(&r->inline_after_device));
	kunit_info(test, "cancel_id: %d in flight, %d -ENOENT, %d -EALREADY; timer: %u runs, %u in flight\n",
		   atomic_read(&r->found), atomic_read(&r->gone),
		   atomic_read(&r->late), r->timer_fires, r->timer_hits);
	if (!ok)
		return;

	KUNIT_EXPECT_EQ(test, tally.by_device + tally.by_cancel,
			KC_TT_RACE_REQS);
	KUNIT_EXPECT_EQ(test, tally.wrong, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&r->odd), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&r->tt.completions),
			KC_TT_RACE_REQS);
	KUNIT_EXPECT_GT(test, tally.by_device, 0);
	KUNIT_EXPECT_GT(test, tally.by_cancel, 0);
	KUNIT_EXPECT_GT(test, r->timer_fires, 0);
	kc_tt_end(test, &r->tt);
	kc_test_finish(ctx);
}

/*
 * A target without a cancel operation: the cancel is recorded and reported
 * as in flight, the I/O runs to its end and completes with its own status.
 */
static void kc_target_cancel_sent_without_cancel_op(struct kunit *test)
{
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, KC_SYNC_DRIVER);
	struct kc_tt *tt = kc_tt_alloc(test, &kc_tt_nocancel_ops);
	struct kc_test_req *tr = kc_tt_req(test, ctx);
	struct kc_request *req;

	KUNIT_ASSERT_EQ(test, kc_target_send(&tt->t, &tr->tio, GFP_KERNEL), 0);
	kc_request_get(&tr->req);
	KUNIT_EXPECT_TRUE(test, kc_target_cancel_sent(&tt->t, &tr->tio,
						      -ECANCELED));
	KUNIT_EXPECT_TRUE(test, kc_request_is_canceled(&tr->req));
	KUNIT_EXPECT_EQ(test, kc_request_state(&tr->req), KC_REQ_OWNED);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->completions), 0);
	req = kc_target_lookup(&tt->t, tr->req.id);
	KUNIT_EXPECT_PTR_EQ(test, req, &tr->req);
	if (req)
		kc_request_put(req);

	kc_tt_device_done(tt, tr, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->completions), 1);
	KUNIT_EXPECT_TRUE(test, tt->last_canceled);
	KUNIT_EXPECT_EQ(test, tr->req.status, 0);
	kc_request_put(&tr->req);
	kc_tt_end(test, tt);
	kc_test_finish(ctx);
}

/*
 * Cancelling an id that was never sent finds nothing and leaves the request
 * with that id untouched: it can still be sent.
 */
static void kc_target_cancel_id_never_sent_enoent(struct kunit *test)
{
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, KC_SYNC_DRIVER);
	struct kc_tt *tt = kc_tt_alloc(test, &kc_tt_abort_ops);
	struct kc_test_req *tr = kc_tt_req(test, ctx);

	KUNIT_EXPECT_EQ(test, kc_target_cancel_id(&tt->t, tr->req.id,
						  -ECANCELED), -ENOENT);
	KUNIT_EXPECT_FALSE(test, kc_request_is_canceled(&tr->req));
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->cancels), 0);

	KUNIT_ASSERT_EQ(test, kc_target_send(&tt->t, &tr->tio, GFP_KERNEL), 0);
	kc_tt_device_done(tt, tr, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->completions), 1);
	KUNIT_EXPECT_EQ(test, tt->last_status, 0);
	KUNIT_EXPECT_FALSE(test, tt->last_canceled);
	kc_tt_end(test, tt);
	kc_test_finish(ctx);
}

/*
 * Two cancels of a request in flight on a device that cannot abort: both
 * reach the device, and the request reports the first one's reason.
 */
static void kc_target_cancel_id_twice_keeps_first_reason(struct kunit *test)
{
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, KC_SYNC_DRIVER);
	struct kc_tt *tt = kc_tt_alloc(test, &kc_tt_noabort_ops);
	struct kc_test_req *tr = kc_tt_req(test, ctx);
	u64 id = tr->req.id;

	KUNIT_ASSERT_EQ(test, kc_target_send(&tt->t, &tr->tio, GFP_KERNEL), 0);
	kc_request_get(&tr->req);
	KUNIT_EXPECT_EQ(test, kc_target_cancel_id(&tt->t, id, -ETIMEDOUT), 0);
	KUNIT_EXPECT_EQ(test, kc_target_cancel_id(&tt->t, id, -ECANCELED), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->cb_calls), 2);
	KUNIT_EXPECT_EQ(test, kc_request_cancel_reason(&tr->req), -ETIMEDOUT);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->completions), 0);

	kc_tt_device_done(tt, tr, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&tt->completions), 1);
	KUNIT_EXPECT_EQ(test, tr->req.status, -ETIMEDOUT);
	kc_request_put(&tr->req);
	kc_tt_end(test, tt);
	kc_test_finish(ctx);
}

/*
 * A reservation that runs out of memory half-way leaves the nodes it had
 * already linked into the collection, without an entry: xas_create() links
 * each node as it allocates it. Build that state (the failure needs two
 * allocations in a row to fail, which no single-shot fault injection gives)
 * and destroy the target: it holds nothing, so this must not warn.
 */
static void kc_target_destroy_after_enomem_nodes(struct kunit *test)
{
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, KC_SYNC_DRIVER);
	struct kc_tt *tt = kc_tt_alloc(test, &kc_tt_abort_ops);
	struct kc_test_req *tr = kc_tt_req(test, ctx);
	XA_STATE(xas, &tt->t.sent, 1UL << (2 * XA_CHUNK_SHIFT));

	do {
		xas_lock_irq(&xas);
		xas_create_range(&xas);
		xas_unlock_irq(&xas);
	} while (xas_nomem(&xas, GFP_KERNEL));
	KUNIT_ASSERT_EQ(test, xas_error(&xas), 0);
	KUNIT_ASSERT_FALSE_MSG(test, xa_empty(&tt->t.sent),
			       "no empty node to leave behind");
	KUNIT_EXPECT_TRUE(test, kc_target_is_empty(&tt->t));

	/* A reservation, and then a request, are something. */
	KUNIT_ASSERT_EQ(test, kc_target_reserve(&tt->t, &tr->tio, GFP_KERNEL),
			0);
	KUNIT_EXPECT_FALSE(test, kc_target_is_empty(&tt->t));
	kc_target_unreserve(&tt->t, &tr->tio);
	KUNIT_EXPECT_TRUE(test, kc_target_is_empty(&tt->t));
	KUNIT_ASSERT_EQ(test, kc_target_send(&tt->t, &tr->tio, GFP_KERNEL), 0);
	KUNIT_EXPECT_FALSE(test, kc_target_is_empty(&tt->t));
	kc_tt_device_done(tt, tr, 0);
	kc_tt_end(test, tt);
	kc_test_finish(ctx);
}

static struct kunit_case kc_target_cases[] = {
	KUNIT_CASE(kc_target_io_done_then_cancel_id_enoent),
	KUNIT_CASE(kc_target_cancel_sent_after_completion_keeps_ref),
	KUNIT_CASE(kc_target_cancel_sent_completes_inline),
	KUNIT_CASE(kc_target_send_after_cancel_ecanceled),
	KUNIT_CASE(kc_target_cancel_id_no_abort_completes_canceled),
	KUNIT_CASE(kc_target_send_duplicate_id_eexist),
	KUNIT_CASE(kc_target_drain_waits_for_last_io_done),
	KUNIT_CASE(kc_target_cancel_sent_without_cancel_op),
	KUNIT_CASE(kc_target_cancel_id_never_sent_enoent),
	KUNIT_CASE(kc_target_cancel_id_twice_keeps_first_reason),
	KUNIT_CASE(kc_target_lookup_100k_in_flight),
	KUNIT_CASE(kc_target_destroy_after_enomem_nodes),
	KUNIT_CASE_PARAM(kc_target_race_io_done_cancel_id,
			 kc_tt_race_gen_params),
	{}
};

struct kunit_suite kc_target_suite = {
	.name = "kcancel_target",
	.test_cases = kc_target_cases,
};
