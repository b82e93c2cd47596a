// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite kcancel_request: the request core, call by call, and the
 * scenarios of the KMDF semantics that a single thread can drive.
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/sched/task.h>
#include <linux/ktime.h>
#include <linux/lockdep.h>
#include <linux/preempt.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "kc_test.h"

/* A lock the cancel callback takes, held by a marker (scenario 5). */
static DEFINE_SPINLOCK(kc_test_driver_lock);

static struct kc_test_req *kc_test_new(struct kunit *test,
				       enum kc_sync_mode mode)
{
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, mode);
	struct kc_test_req *tr = kc_test_req_alloc(ctx);

	KUNIT_ASSERT_NOT_NULL(test, tr);
	/* The test's own reference, to look at the request after completion. */
	kc_request_get(&tr->req);
	return tr;
}

static void kc_test_done(struct kunit *test, struct kc_test_req *tr)
{
	kc_request_put(&tr->req);
	kc_test_finish(test->priv);
}

/* Scenario 1: the DPC's unmark wins; a later cancel never calls back. */
static void kc_request_unmark_wins_then_cancel_is_noop(struct kunit *test)
{
	struct kc_test_req *tr = kc_test_new(test, KC_SYNC_AUTOMATIC);
	struct kc_request *req = &tr->req;

	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable(req, kc_test_cancel_complete), 0);
	KUNIT_EXPECT_EQ(test, kc_request_state(req), KC_REQ_CANCELABLE);
	KUNIT_EXPECT_EQ(test, kc_request_unmark_cancelable(req), 0);
	KUNIT_EXPECT_EQ(test, kc_request_state(req), KC_REQ_OWNED);
	KUNIT_EXPECT_EQ(test, kc_request_complete(req, 0, 42), 0);
	KUNIT_EXPECT_FALSE(test, kc_request_cancel(req, -ECANCELED));

	KUNIT_EXPECT_EQ(test, kc_request_state(req), KC_REQ_COMPLETED);
	KUNIT_EXPECT_EQ(test, req->status, 0);
	KUNIT_EXPECT_EQ(test, req->result, 42ULL);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->cb_calls), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 1);
	KUNIT_EXPECT_FALSE(test, kc_request_is_canceled(req));
	kc_test_done(test, tr);
}

/*
 * Scenario 2: a cancel wins while the request is cancelable; the callback
 * runs once; the DPC's unmark then fails and the DPC does not complete. The
 * callback hands the request over, so the unmark sees it delivered and not
 * yet completed.
 */
static void kc_request_cancel_wins_dpc_unmark_fails(struct kunit *test)
{
	struct kc_test_req *tr = kc_test_new(test, KC_SYNC_DRIVER);
	struct kc_request *req = &tr->req;

	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable(req, kc_test_cancel_record), 0);
	KUNIT_EXPECT_TRUE(test, kc_request_cancel(req, -ECANCELED));
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->cb_calls), 1);
	KUNIT_EXPECT_EQ(test, kc_request_state(req), KC_REQ_CANCEL_DELIVERED);
	KUNIT_EXPECT_EQ(test, kc_request_unmark_cancelable(req), -ECANCELED);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 0);

	/* The callback's delegate completes it. */
	KUNIT_EXPECT_EQ(test, kc_request_complete(req, kc_request_cancel_reason(req), 0), 0);
	KUNIT_EXPECT_EQ(test, req->status, -ECANCELED);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 1);
	kc_test_done(test, tr);
}

/* Scenario 2, later: the callback already completed; unmark still says so. */
static void kc_request_cancel_completed_dpc_unmark_fails(struct kunit *test)
{
	struct kc_test_req *tr = kc_test_new(test, KC_SYNC_AUTOMATIC);
	struct kc_request *req = &tr->req;

	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable(req, kc_test_cancel_complete), 0);
	KUNIT_EXPECT_TRUE(test, kc_request_cancel(req, -ECANCELED));
	KUNIT_EXPECT_EQ(test, kc_request_state(req), KC_REQ_COMPLETED);
	KUNIT_EXPECT_EQ(test, kc_request_unmark_cancelable(req), -ECANCELED);
	KUNIT_EXPECT_FALSE(test, kc_request_cancel(req, -ECANCELED));
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->cb_calls), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 1);
	KUNIT_EXPECT_EQ(test, req->status, -ECANCELED);
	kc_test_done(test, tr);
}

/* Scenario 4: MarkEx on a cancelled request fails; the caller completes. */
static void kc_request_mark_ex_already_canceled(struct kunit *test)
{
	struct kc_test_req *tr = kc_test_new(test, KC_SYNC_AUTOMATIC);
	struct kc_request *req = &tr->req;

	KUNIT_EXPECT_TRUE(test, kc_request_cancel(req, -ECANCELED));
	KUNIT_EXPECT_EQ(test, kc_request_state(req), KC_REQ_OWNED);
	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable_ex(req, kc_test_cancel_complete),
			-ECANCELED);
	KUNIT_EXPECT_EQ(test, kc_request_state(req), KC_REQ_OWNED);
	KUNIT_EXPECT_EQ(test, kc_request_complete(req, kc_request_cancel_reason(req), 0), 0);

	KUNIT_EXPECT_EQ(test, atomic_read(&tr->cb_calls), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 1);
	KUNIT_EXPECT_EQ(test, req->status, -ECANCELED);
	kc_test_done(test, tr);
}

static void kc_test_cancel_locked(struct kc_request *req)
{
	unsigned long flags;

	spin_lock_irqsave(&kc_test_driver_lock, flags);
	atomic_inc(&kc_test_req(req)->cb_calls);
	spin_unlock_irqrestore(&kc_test_driver_lock, flags);
	kc_request_complete(req, kc_request_cancel_reason(req), 0);
}

/*
 * Scenario 5: a plain mark of a cancelled request, made under a lock the
 * callback takes, defers the callback until the lock is dropped.
 */
static void kc_request_mark_under_lock_defers_callback(struct kunit *test)
{
	struct kc_test_req *tr = kc_test_new(test, KC_SYNC_AUTOMATIC);
	struct kc_request *req = &tr->req;
	unsigned long flags;

	KUNIT_EXPECT_TRUE(test, kc_request_cancel(req, -ECANCELED));
	spin_lock_irqsave(&kc_test_driver_lock, flags);
	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable(req, kc_test_cancel_locked), 0);
	mdelay(20);	/* room for a wrongly inline or early callback */
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->cb_calls), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 0);
	spin_unlock_irqrestore(&kc_test_driver_lock, flags);

	KUNIT_EXPECT_EQ(test, kc_request_wait(req, 10 * HZ), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->cb_calls), 1);
	KUNIT_EXPECT_EQ(test, req->status, -ECANCELED);
	kc_test_done(test, tr);
}

struct kc_test_pending {
	struct kc_test_req *tr;
	struct completion go;
	int unmark;
	int complete;
	bool seen_pending;
};

static int kc_test_cancel_thread(void *arg)
{
	struct kc_test_pending *p = arg;

	wait_for_completion(&p->go);
	kc_request_cancel(&p->tr->req, -ECANCELED);
	return 0;
}

/* Spin, bounded, until @req reaches @state; a DPC waits like this. */
static bool kc_test_spin_for_state(struct kc_request *req,
				   enum kc_req_state state)
{
	ktime_t deadline = ktime_add_ms(ktime_get(), 5000);

	while (kc_request_state(req) != state) {
		if (ktime_after(ktime_get(), deadline))
			return false;
		cpu_relax();
	}
	return true;
}

/* Runs as the DPC, under the queue's sync lock. */
static void kc_test_dpc_sees_pending(void *arg)
{
	struct kc_test_pending *p = arg;
	struct kc_request *req = &p->tr->req;

	kc_queue_assert_synchronized(req->queue);
	complete(&p->go);
	p->seen_pending = kc_test_spin_for_state(req, KC_REQ_CANCEL_PENDING);
	p->unmark = kc_request_unmark_cancelable(req);
	if (p->unmark == -ECANCELED)
		p->complete = kc_request_complete(req, 0, 0);
}

/*
 * Scenario 6: unmark returned -ECANCELED but the callback has not run (it
 * waits for the sync lock the DPC holds): completing now is refused, and the
 * callback completes the request afterwards.
 */
static void kc_request_complete_before_callback_refused(struct kunit *test)
{
	struct kc_test_req *tr = kc_test_new(test, KC_SYNC_AUTOMATIC);
	struct kc_test_ctx *ctx = test->priv;
	struct kc_test_pending p = { .tr = tr };
	struct task_struct *canceller;

	init_completion(&p.go);
	kc_test_count_misuse(test);
	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable(&tr->req, kc_test_cancel_complete), 0);
	canceller = kc_test_run_on_other_cpu(test, kc_test_cancel_thread, &p);
	kc_queue_synchronize(&ctx->q, kc_test_dpc_sees_pending, &p);
	kc_test_join(canceller);

	KUNIT_EXPECT_TRUE(test, p.seen_pending);
	KUNIT_EXPECT_EQ(test, p.unmark, -ECANCELED);
	KUNIT_EXPECT_EQ(test, p.complete, -EINVAL);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->misuse), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->cb_calls), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 1);
	KUNIT_EXPECT_EQ(test, tr->req.status, -ECANCELED);
	kc_test_done(test, tr);
}

/* The DriverSync sample's callback: complete only as the last owner. */
static void kc_test_cancel_driversync(struct kc_request *req)
{
	struct kc_test_req *tr = kc_test_req(req);

	atomic_inc(&tr->cb_calls);
	if (atomic_dec_and_test(&tr->owners))
		kc_request_complete(req, -ECANCELED, 0);
}

/*
 * Scenario 7: with driver locks, the callback declines to complete because
 * the DPC holds ownership; the DPC completes with the cancelled status when
 * the ownership count reaches zero.
 */
static void kc_request_driversync_dpc_completes_canceled(struct kunit *test)
{
	struct kc_test_req *tr = kc_test_new(test, KC_SYNC_DRIVER);
	struct kc_request *req = &tr->req;

	atomic_set(&tr->owners, 1);
	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable(req, kc_test_cancel_driversync), 0);

	/* The DPC takes ownership, only while someone still owns it. */
	KUNIT_ASSERT_TRUE(test, atomic_inc_not_zero(&tr->owners));
	/* The cancel arrives; the callback is not the last owner. */
	KUNIT_EXPECT_TRUE(test, kc_request_cancel(req, -ECANCELED));
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->cb_calls), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 0);

	/* The DPC's unmark fails; its release of ownership is the last. */
	KUNIT_EXPECT_EQ(test, kc_request_unmark_cancelable(req), -ECANCELED);
	KUNIT_EXPECT_TRUE(test, atomic_dec_and_test(&tr->owners));
	KUNIT_EXPECT_EQ(test, kc_request_complete(req, -ECANCELED, 0), 0);

	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 1);
	KUNIT_EXPECT_EQ(test, req->status, -ECANCELED);
	kc_test_done(test, tr);
}

/* Scenario 8: a second unmark is an error distinct from -ECANCELED. */
static void kc_request_unmark_twice_refused(struct kunit *test)
{
	struct kc_test_req *tr = kc_test_new(test, KC_SYNC_AUTOMATIC);
	struct kc_test_ctx *ctx = test->priv;
	struct kc_request *req = &tr->req;

	kc_test_count_misuse(test);
	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable(req, kc_test_cancel_complete), 0);
	KUNIT_EXPECT_EQ(test, kc_request_unmark_cancelable(req), 0);
	KUNIT_EXPECT_EQ(test, kc_request_unmark_cancelable(req), -EINVAL);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->misuse), 1);
	KUNIT_EXPECT_EQ(test, kc_request_complete(req, 0, 0), 0);
	kc_test_done(test, tr);
}

/* Scenario 8: unmarking a request never marked is refused, not cancelled. */
static void kc_request_unmark_never_marked_refused(struct kunit *test)
{
	struct kc_test_req *tr = kc_test_new(test, KC_SYNC_DRIVER);
	struct kc_test_ctx *ctx = test->priv;
	struct kc_request *req = &tr->req;

	kc_test_count_misuse(test);
	KUNIT_EXPECT_EQ(test, kc_request_unmark_cancelable(req), -EINVAL);
	/* Even once a cancel was asked for: the driver must not be fooled. */
	KUNIT_EXPECT_TRUE(test, kc_request_cancel(req, -ECANCELED));
	KUNIT_EXPECT_EQ(test, kc_request_unmark_cancelable(req), -EINVAL);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->misuse), 2);
	KUNIT_EXPECT_EQ(test, kc_request_complete(req, -ECANCELED, 0), 0);
	KUNIT_EXPECT_EQ(test, kc_request_unmark_cancelable(req), -EINVAL);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->misuse), 3);
	kc_test_done(test, tr);
}

/* Scenario 8: a double mark is refused and the list stays intact. */
static void kc_request_mark_twice_refused(struct kunit *test)
{
	struct kc_test_req *tr = kc_test_new(test, KC_SYNC_AUTOMATIC);
	struct kc_test_ctx *ctx = test->priv;
	struct kc_request *req = &tr->req;

	kc_test_count_misuse(test);
	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable(req, kc_test_cancel_complete), 0);
	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable(req, kc_test_cancel_record), -EINVAL);
	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable_ex(req, kc_test_cancel_record), -EINVAL);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->misuse), 2);
	KUNIT_EXPECT_TRUE(test, list_is_singular(&ctx->q.cancelable));

	/* The first callback is the one that runs, once. */
	KUNIT_EXPECT_TRUE(test, kc_request_cancel(req, -ECANCELED));
	KUNIT_EXPECT_TRUE(test, list_empty(&ctx->q.cancelable));
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->cb_calls), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 1);
	kc_test_done(test, tr);
}

/* Scenario 9: completing a cancelable request is refused; list consistent. */
static void kc_request_complete_while_cancelable_refused(struct kunit *test)
{
	struct kc_test_req *tr = kc_test_new(test, KC_SYNC_AUTOMATIC);
	struct kc_test_ctx *ctx = test->priv;
	struct kc_request *req = &tr->req;

	kc_test_count_misuse(test);
	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable(req, kc_test_cancel_complete), 0);
	KUNIT_EXPECT_EQ(test, kc_request_complete(req, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->misuse), 1);
	KUNIT_EXPECT_EQ(test, kc_request_state(req), KC_REQ_CANCELABLE);
	KUNIT_EXPECT_TRUE(test, list_is_singular(&ctx->q.cancelable));
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 0);

	KUNIT_EXPECT_EQ(test, kc_request_unmark_cancelable(req), 0);
	KUNIT_EXPECT_TRUE(test, list_empty(&ctx->q.cancelable));
	KUNIT_EXPECT_EQ(test, kc_request_complete(req, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, kc_request_complete(req, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->misuse), 2);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 1);
	kc_test_done(test, tr);
}

#define KC_PURGE_CANCELABLE	8

struct kc_test_purge {
	struct kc_test_ctx *ctx;
	atomic_t returned;
};

static int kc_test_purge_thread(void *arg)
{
	struct kc_test_purge *p = arg;

	kc_queue_purge(&p->ctx->q, -ENODEV);
	atomic_set(&p->returned, 1);
	return 0;
}

static bool kc_test_wait_for(atomic_t *v, int value)
{
	int i;

	for (i = 0; i < 250 && atomic_read(v) != value; i++)
		msleep(20);
	return atomic_read(v) == value;
}

/*
 * Scenario 10: a purge gives every cancelable request its callback, counts
 * a mark made during the purge as cancelled, and returns only once every
 * request has completed; no callback runs after it returns.
 */
static void kc_request_purge_cancels_and_waits(struct kunit *test)
{
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, KC_SYNC_AUTOMATIC);
	struct kc_test_req *tr[KC_PURGE_CANCELABLE + 2];
	struct kc_test_purge p = { .ctx = ctx };
	struct task_struct *purger;
	int i, cb_calls = 0;

	for (i = 0; i < ARRAY_SIZE(tr); i++) {
		tr[i] = kc_test_req_alloc(ctx);
		KUNIT_ASSERT_NOT_NULL(test, tr[i]);
		kc_request_get(&tr[i]->req);
	}
	for (i = 0; i < KC_PURGE_CANCELABLE; i++)
		kc_request_mark_cancelable(&tr[i]->req, kc_test_cancel_complete);
	/* tr[8] and tr[9] stay owned by the "driver" during the purge. */
	purger = kthread_run(kc_test_purge_thread, &p, "kc_test_purge");
	KUNIT_ASSERT_FALSE(test, IS_ERR(purger));
	get_task_struct(purger);

	KUNIT_EXPECT_TRUE(test, kc_test_wait_for(&ctx->completed, KC_PURGE_CANCELABLE));
	KUNIT_EXPECT_EQ(test, atomic_read(&p.returned), 0);
	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable_ex(&tr[8]->req, kc_test_cancel_complete),
			-ECANCELED);
	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable(&tr[9]->req, kc_test_cancel_complete), 0);
	KUNIT_EXPECT_TRUE(test, kc_test_wait_for(&ctx->completed, KC_PURGE_CANCELABLE + 1));
	KUNIT_EXPECT_EQ(test, atomic_read(&p.returned), 0);
	KUNIT_EXPECT_EQ(test, kc_request_complete(&tr[8]->req, -ENODEV, 0), 0);
	kthread_stop(purger);
	put_task_struct(purger);
	KUNIT_EXPECT_EQ(test, atomic_read(&p.returned), 1);

	for (i = 0; i < ARRAY_SIZE(tr); i++) {
		KUNIT_EXPECT_EQ(test, atomic_read(&tr[i]->completions), 1);
		KUNIT_EXPECT_EQ(test, tr[i]->req.status, -ENODEV);
		KUNIT_EXPECT_FALSE(test, kc_request_cancel(&tr[i]->req, -ECANCELED));
		cb_calls += atomic_read(&tr[i]->cb_calls);
	}
	KUNIT_EXPECT_EQ(test, cb_calls, KC_PURGE_CANCELABLE + 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->q.active), 0);
	for (i = 0; i < ARRAY_SIZE(tr); i++)
		kc_request_put(&tr[i]->req);
	kc_test_finish(ctx);
}

/* A purged queue cancels marks until kc_queue_resume(). */
static void kc_request_resume_after_purge(struct kunit *test)
{
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, KC_SYNC_AUTOMATIC);
	struct kc_test_req *tr;

	kc_queue_purge(&ctx->q, -ENODEV);
	tr = kc_test_req_alloc(ctx);
	KUNIT_ASSERT_NOT_NULL(test, tr);
	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable_ex(&tr->req, kc_test_cancel_complete),
			-ECANCELED);
	KUNIT_EXPECT_EQ(test, kc_request_cancel_reason(&tr->req), -ENODEV);
	KUNIT_EXPECT_EQ(test, kc_request_complete(&tr->req, -ENODEV, 0), 0);

	kc_queue_resume(&ctx->q);
	tr = kc_test_req_alloc(ctx);
	KUNIT_ASSERT_NOT_NULL(test, tr);
	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable_ex(&tr->req, kc_test_cancel_complete), 0);
	KUNIT_EXPECT_FALSE(test, kc_request_is_canceled(&tr->req));
	KUNIT_EXPECT_EQ(test, kc_request_unmark_cancelable(&tr->req), 0);
	KUNIT_EXPECT_EQ(test, kc_request_complete(&tr->req, 0, 0), 0);
	kc_test_finish(ctx);
}

/* The first cancel names the reason; later ones report they did nothing. */
static void kc_request_cancel_first_reason_kept(struct kunit *test)
{
	struct kc_test_req *tr = kc_test_new(test, KC_SYNC_DRIVER);
	struct kc_request *req = &tr->req;

	KUNIT_EXPECT_EQ(test, kc_request_cancel_reason(req), 0);
	KUNIT_EXPECT_TRUE(test, kc_request_cancel(req, -ETIMEDOUT));
	KUNIT_EXPECT_FALSE(test, kc_request_cancel(req, -ECANCELED));
	KUNIT_EXPECT_EQ(test, kc_request_cancel_reason(req), -ETIMEDOUT);
	KUNIT_EXPECT_TRUE(test, kc_request_is_canceled(req));
	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable(req, kc_test_cancel_complete), 0);
	KUNIT_EXPECT_EQ(test, kc_request_wait(req, 10 * HZ), 0);
	KUNIT_EXPECT_EQ(test, req->status, -ETIMEDOUT);
	kc_test_done(test, tr);
}

/* A timeout cancels a cancelable request from the timer. */
static void kc_request_timeout_cancels(struct kunit *test)
{
	struct kc_test_req *tr = kc_test_new(test, KC_SYNC_AUTOMATIC);
	struct kc_request *req = &tr->req;

	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable(req, kc_test_cancel_complete), 0);
	kc_request_start_timer(req, &tr->timer, 1 * NSEC_PER_MSEC);
	KUNIT_EXPECT_EQ(test, kc_request_wait(req, 10 * HZ), 0);
	KUNIT_EXPECT_EQ(test, req->status, -ETIMEDOUT);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->cb_calls), 1);
	kc_test_done(test, tr);
}

static bool kc_test_cb_hardirq, kc_test_cb_softirq;

static void kc_test_cancel_check_ctx(struct kc_request *req)
{
	kc_test_cb_hardirq = in_hardirq();
	kc_test_cb_softirq = in_serving_softirq();
	kc_test_cancel_complete(req);
}

/*
 * A timeout cancels from the hrtimer softirq, as it does on PREEMPT_RT: the
 * cancel callback and the completion it makes run out of hard IRQ context.
 */
static void kc_request_timeout_in_softirq(struct kunit *test)
{
	struct kc_test_req *tr = kc_test_new(test, KC_SYNC_AUTOMATIC);
	struct kc_request *req = &tr->req;

	kc_test_cb_hardirq = true;
	kc_test_cb_softirq = false;
	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable(req, kc_test_cancel_check_ctx), 0);
	kc_request_start_timer(req, &tr->timer, 1 * NSEC_PER_MSEC);
	KUNIT_EXPECT_EQ(test, kc_request_wait(req, 10 * HZ), 0);
	KUNIT_EXPECT_EQ(test, req->status, -ETIMEDOUT);
	KUNIT_EXPECT_FALSE(test, kc_test_cb_hardirq);
	KUNIT_EXPECT_TRUE(test, kc_test_cb_softirq);
	kc_test_done(test, tr);
}

/* Completion disarms the timeout and releases what it held. */
static void kc_request_completion_disarms_timeout(struct kunit *test)
{
	struct kc_test_req *tr = kc_test_new(test, KC_SYNC_AUTOMATIC);
	struct kc_test_ctx *ctx = test->priv;
	struct kc_request *req = &tr->req;

	kc_request_start_timer(req, &tr->timer, 60 * NSEC_PER_SEC);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->q.active), 2);
	KUNIT_EXPECT_EQ(test, kc_request_complete(req, 0, 7), 0);
	KUNIT_EXPECT_FALSE(test, hrtimer_active(&tr->timer.timer));
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->q.active), 0);
	KUNIT_EXPECT_EQ(test, kref_read(&req->ref), 1U);
	KUNIT_EXPECT_FALSE(test, kc_request_is_canceled(req));
	kc_test_done(test, tr);
}

/* A wait gives up after its timeout; the request is untouched. */
static void kc_request_wait_times_out(struct kunit *test)
{
	struct kc_test_req *tr = kc_test_new(test, KC_SYNC_DRIVER);
	struct kc_request *req = &tr->req;

	KUNIT_EXPECT_EQ(test, kc_request_wait(req, 1), -ETIMEDOUT);
	KUNIT_EXPECT_EQ(test, kc_request_state(req), KC_REQ_OWNED);
	KUNIT_EXPECT_EQ(test, kc_request_complete(req, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, kc_request_wait(req, 1), 0);
	kc_test_done(test, tr);
}

/* A request has one timer: a second is refused; the first still fires. */
static void kc_request_second_timer_refused(struct kunit *test)
{
	struct kc_test_req *tr = kc_test_new(test, KC_SYNC_AUTOMATIC);
	struct kc_test_ctx *ctx = test->priv;
	struct kc_request *req = &tr->req;
	struct kc_request_timer other;

	kc_test_count_misuse(test);
	KUNIT_EXPECT_EQ(test, kc_request_mark_cancelable(req, kc_test_cancel_complete), 0);
	kc_request_start_timer(req, &tr->timer, 1 * NSEC_PER_MSEC);
	kc_request_start_timer(req, &other, 1 * NSEC_PER_MSEC);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->misuse), 1);
	KUNIT_EXPECT_PTR_EQ(test, req->timer, &tr->timer);
	KUNIT_EXPECT_EQ(test, kc_request_wait(req, 10 * HZ), 0);
	KUNIT_EXPECT_EQ(test, req->status, -ETIMEDOUT);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->cb_calls), 1);
	kc_test_done(test, tr);
}

#define KC_TEST_BURST	64

/*
 * Marks that find their requests cancelled, a burst of them on one queue,
 * made under a lock with interrupts off: every callback runs once, later,
 * from the queue's deliverer, and nothing of the queue is busy after.
 */
static void kc_request_deferred_burst_delivered_once(struct kunit *test)
{
	static const enum kc_sync_mode modes[] = { KC_SYNC_AUTOMATIC,
						   KC_SYNC_DRIVER };
	struct kc_test_req *trs[KC_TEST_BURST];
	int ret[KC_TEST_BURST];
	struct kc_test_ctx *ctx;
	spinlock_t lock;	/* held around the marks, as a driver's would be */
	int m, i;

	spin_lock_init(&lock);
	for (m = 0; m < ARRAY_SIZE(modes); m++) {
		ctx = kc_test_ctx_init(test, modes[m]);
		for (i = 0; i < KC_TEST_BURST; i++) {
			trs[i] = kc_test_req_alloc(ctx);
			KUNIT_ASSERT_NOT_NULL(test, trs[i]);
			kc_request_get(&trs[i]->req);
			KUNIT_EXPECT_TRUE(test, kc_request_cancel(&trs[i]->req, -ECANCELED));
		}
		spin_lock_irq(&lock);
		for (i = 0; i < KC_TEST_BURST; i++)
			ret[i] = kc_request_mark_cancelable(&trs[i]->req,
							    kc_test_cancel_complete);
		spin_unlock_irq(&lock);
		for (i = 0; i < KC_TEST_BURST; i++) {
			KUNIT_EXPECT_EQ(test, ret[i], 0);
			KUNIT_EXPECT_EQ(test, kc_request_wait(&trs[i]->req, 10 * HZ), 0);
			KUNIT_EXPECT_EQ(test, trs[i]->req.status, -ECANCELED);
			KUNIT_EXPECT_EQ(test, atomic_read(&trs[i]->cb_calls), 1);
			kc_request_put(&trs[i]->req);
		}
		kc_test_finish(ctx);
		KUNIT_EXPECT_EQ(test, atomic_read(&ctx->q.active), 0);
		KUNIT_EXPECT_TRUE(test, list_empty(&ctx->q.deferred));
	}
}

/**
 * struct kc_test_slow_hook - a request whose completion hook takes time
 * @req: the request.
 * @hooked: set at the end of the hook.
 */
struct kc_test_slow_hook {
	struct kc_request req;
	atomic_t hooked;
};

static void kc_test_slow_completed(struct kc_request *req)
{
	struct kc_test_slow_hook *h = container_of(req, struct kc_test_slow_hook, req);

	mdelay(20);
	atomic_set(&h->hooked, 1);
}

static void kc_test_slow_release(struct kc_request *req)
{
	kfree(container_of(req, struct kc_test_slow_hook, req));
}

static const struct kc_request_ops kc_test_slow_ops = {
	.completed = kc_test_slow_completed,
	.release = kc_test_slow_release,
};

static int kc_test_complete_thread(void *arg)
{
	kc_request_complete(arg, 0, 3);
	return 0;
}

/*
 * A request's waiters go only once the completion hook has run: one that
 * spins on the request's completion while another CPU completes it sees the
 * hook's work, the status and the result.
 */
static void kc_request_done_after_completed_hook(struct kunit *test)
{
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, KC_SYNC_DRIVER);
	struct kc_test_slow_hook *h = kzalloc(sizeof(*h), GFP_KERNEL);
	unsigned long deadline = jiffies + 10 * HZ;
	struct task_struct *completer;

	KUNIT_ASSERT_NOT_NULL(test, h);
	kc_request_init(&h->req, &ctx->q, &kc_test_slow_ops);
	kc_request_get(&h->req);
	completer = kc_test_run_on_other_cpu(test, kc_test_complete_thread, &h->req);
	while (!completion_done(&h->req.done) && time_before(jiffies, deadline))
		cpu_relax();
	KUNIT_EXPECT_TRUE(test, completion_done(&h->req.done));
	KUNIT_EXPECT_EQ(test, atomic_read(&h->hooked), 1);
	KUNIT_EXPECT_EQ(test, h->req.status, 0);
	KUNIT_EXPECT_EQ(test, h->req.result, 3ULL);
	kc_test_join(completer);
	kc_request_put(&h->req);
	kc_queue_purge(&ctx->q, -ENODEV);
}

/**
 * struct kc_test_owner - a queue that lives only as long as its request
 * @q: the queue.
 * @req: its one request; its release frees the whole.
 * @timer: the request's timeout.
 * @released: completed by the release.
 */
struct kc_test_owner {
	struct kc_queue q;
	struct kc_request req;
	struct kc_request_timer timer;
	struct completion *released;
};

static void kc_test_owner_release(struct kc_request *req)
{
	struct kc_test_owner *o = container_of(req, struct kc_test_owner, req);
	struct completion *released = o->released;

	kfree(o);
	complete(released);
}

static const struct kc_request_ops kc_test_owner_ops = {
	.release = kc_test_owner_release,
};

static void kc_test_owner_complete(struct kc_request *req)
{
	kc_request_complete(req, kc_request_cancel_reason(req), 0);
}

static void kc_test_owner_timeout(struct kc_request *req)
{
	kc_request_complete(req, -ETIMEDOUT, 0);
}

/*
 * End an owner's request in one of three ways in which the last reference
 * is not the completion's caller's: 0, the completion drops the I/O
 * reference, the last; 1, the timer completes it, then drops its own; 2, a
 * deferred cancel delivery completes it, then its work drops its own.
 */
static void kc_test_owner_end(struct kc_test_owner *o, int how)
{
	switch (how) {
	case 0:
		kc_request_complete(&o->req, 0, 0);
		break;
	case 1:
		kc_request_start_timer_fn(&o->req, &o->timer, NSEC_PER_MSEC,
					  kc_test_owner_timeout);
		break;
	default:
		kc_request_cancel(&o->req, -ECANCELED);
		kc_request_mark_cancelable(&o->req, kc_test_owner_complete);
		break;
	}
}

/*
 * A queue may live in what its last request's release frees: the
 * completion, the timer and the deferred delivery let go of the queue
 * before they drop their reference to the request (KASAN reports the use
 * of the freed queue otherwise).
 */
static void kc_request_last_reference_frees_queue(struct kunit *test)
{
	static const char *const ways[] = { "completion", "timer", "deferred delivery" };
	struct kc_test_owner *o;
	int how;

	for (how = 0; how < ARRAY_SIZE(ways); how++) {
		DECLARE_COMPLETION_ONSTACK(released);

		o = kzalloc(sizeof(*o), GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, o);
		o->released = &released;
		kc_queue_init(&o->q, KC_SYNC_AUTOMATIC);
		kc_request_init(&o->req, &o->q, &kc_test_owner_ops);
		kc_test_owner_end(o, how);
		KUNIT_ASSERT_NE_MSG(test, wait_for_completion_timeout(&released,
								      10 * HZ),
				    0, "%s: never released", ways[how]);
	}
}

static bool kc_test_sync_held;

static void kc_test_cancel_check_sync(struct kc_request *req)
{
	kc_test_sync_held = lockdep_is_held(&req->queue->sync_lock);
	kc_test_cancel_complete(req);
}

/* The callback runs under the sync lock in automatic mode only. */
static void kc_request_callback_sync_by_mode(struct kunit *test)
{
	enum kc_sync_mode modes[] = { KC_SYNC_AUTOMATIC, KC_SYNC_DRIVER };
	int i;

	if (!IS_ENABLED(CONFIG_LOCKDEP))
		kunit_skip(test, "needs lockdep to tell which locks are held");

	for (i = 0; i < ARRAY_SIZE(modes); i++) {
		struct kc_test_req *tr = kc_test_new(test, modes[i]);

		kc_test_sync_held = !(modes[i] == KC_SYNC_AUTOMATIC);
		kc_request_mark_cancelable(&tr->req, kc_test_cancel_check_sync);
		KUNIT_EXPECT_TRUE(test, kc_request_cancel(&tr->req, -ECANCELED));
		KUNIT_EXPECT_EQ(test, kc_test_sync_held, modes[i] == KC_SYNC_AUTOMATIC);
		kc_test_done(test, tr);
	}
}

static struct kunit_case kc_request_cases[] = {
	KUNIT_CASE(kc_request_unmark_wins_then_cancel_is_noop),
	KUNIT_CASE(kc_request_cancel_wins_dpc_unmark_fails),
	KUNIT_CASE(kc_request_cancel_completed_dpc_unmark_fails),
	KUNIT_CASE(kc_request_mark_ex_already_canceled),
	KUNIT_CASE(kc_request_mark_under_lock_defers_callback),
	KUNIT_CASE(kc_request_complete_before_callback_refused),
	KUNIT_CASE(kc_request_driversync_dpc_completes_canceled),
	KUNIT_CASE(kc_request_unmark_twice_refused),
	KUNIT_CASE(kc_request_unmark_never_marked_refused),
	KUNIT_CASE(kc_request_mark_twice_refused),
	KUNIT_CASE(kc_request_complete_while_cancelable_refused),
	KUNIT_CASE(kc_request_purge_cancels_and_waits),
	KUNIT_CASE(kc_request_resume_after_purge),
	KUNIT_CASE(kc_request_cancel_first_reason_kept),
	KUNIT_CASE(kc_request_timeout_cancels),
	KUNIT_CASE(kc_request_timeout_in_softirq),
	KUNIT_CASE(kc_request_completion_disarms_timeout),
	KUNIT_CASE(kc_request_last_reference_frees_queue),
	KUNIT_CASE(kc_request_wait_times_out),
	KUNIT_CASE(kc_request_second_timer_refused),
	KUNIT_CASE(kc_request_deferred_burst_delivered_once),
	KUNIT_CASE(kc_request_done_after_completed_hook),
	KUNIT_CASE(kc_request_callback_sync_by_mode),
	{}
};

struct kunit_suite kc_request_suite = {
	.name = "kcancel_request",
	.test_cases = kc_request_cases,
};
