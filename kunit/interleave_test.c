// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite kcancel_interleave: every ordering of the three actors that
 * race for a cancelable request, the DPC, a cancel and a timeout, forced on
 * purpose. The DPC and the cancel run in their own threads and the timeout in
 * its hrtimer; completions release them one at a time in the order a table
 * row gives, so each outcome is reached by design rather than by luck.
 */
#include <kunit/test.h>
#include <linux/kthread.h>
#include <linux/sched/task.h>
#include <linux/ktime.h>

#include "kc_test.h"

enum kc_actor { KC_DPC, KC_CANCEL, KC_TIMEOUT, KC_ACTORS };

struct kc_interleave_row {
	const char *name;
	enum kc_actor order[KC_ACTORS];
	enum kc_sync_mode mode;
};

#define KC_ROW(a, b, c, m)						\
	{ .name = #a ", " #b ", " #c " (" #m ")",			\
	  .order = { KC_##a, KC_##b, KC_##c }, .mode = KC_SYNC_##m }

static const struct kc_interleave_row kc_interleave_rows[] = {
	KC_ROW(DPC, CANCEL, TIMEOUT, AUTOMATIC),
	KC_ROW(DPC, TIMEOUT, CANCEL, AUTOMATIC),
	KC_ROW(CANCEL, DPC, TIMEOUT, AUTOMATIC),
	KC_ROW(CANCEL, TIMEOUT, DPC, AUTOMATIC),
	KC_ROW(TIMEOUT, DPC, CANCEL, AUTOMATIC),
	KC_ROW(TIMEOUT, CANCEL, DPC, AUTOMATIC),
	KC_ROW(DPC, CANCEL, TIMEOUT, DRIVER),
	KC_ROW(DPC, TIMEOUT, CANCEL, DRIVER),
	KC_ROW(CANCEL, DPC, TIMEOUT, DRIVER),
	KC_ROW(CANCEL, TIMEOUT, DPC, DRIVER),
	KC_ROW(TIMEOUT, DPC, CANCEL, DRIVER),
	KC_ROW(TIMEOUT, CANCEL, DPC, DRIVER),
};

static void kc_interleave_desc(const struct kc_interleave_row *row, char *desc)
{
	strscpy(desc, row->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kc_interleave, kc_interleave_rows, kc_interleave_desc);

/**
 * struct kc_actor_thread - one actor, released by its gate
 * @req: the request the actors race for.
 * @go: completed by the test thread to let the actor act.
 * @done: completed by the actor once it has acted.
 * @ret: what the actor's call returned.
 */
struct kc_actor_thread {
	struct kc_request *req;
	struct completion go;
	struct completion done;
	int ret;
};

/* The DPC of the seeds: complete only if the unmark did not lose. */
static void kc_interleave_dpc(void *arg)
{
	struct kc_actor_thread *a = arg;

	a->ret = kc_request_unmark_cancelable(a->req);
	if (a->ret != -ECANCELED)
		kc_request_complete(a->req, 0, 42);
}

static int kc_interleave_dpc_thread(void *arg)
{
	struct kc_actor_thread *a = arg;

	wait_for_completion(&a->go);
	kc_queue_synchronize(a->req->queue, kc_interleave_dpc, a);
	complete(&a->done);
	return 0;
}

static int kc_interleave_cancel_thread(void *arg)
{
	struct kc_actor_thread *a = arg;

	wait_for_completion(&a->go);
	a->ret = kc_request_cancel(a->req, -ECANCELED);
	complete(&a->done);
	return 0;
}

static struct task_struct *kc_actor_start(struct kunit *test,
					  struct kc_actor_thread *a,
					  int (*fn)(void *), struct kc_request *req)
{
	struct task_struct *task;

	a->req = req;
	init_completion(&a->go);
	init_completion(&a->done);
	task = kthread_run(fn, a, "kc_actor");
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	get_task_struct(task);
	return task;
}

static void kc_actor_release(struct kc_actor_thread *a)
{
	complete(&a->go);
	wait_for_completion(&a->done);
}

/*
 * The timeout acts: the timer armed at submission (for a minute) is brought
 * forward to now if it is still armed, and the step ends when its callback
 * has returned. A completion before this step has disarmed it already.
 */
static bool kc_interleave_expire(struct kc_request *req)
{
	struct hrtimer *timer;
	bool armed;

	if (!req->timer)
		return false;
	timer = &req->timer->timer;
	armed = hrtimer_active(timer);
	if (armed)
		hrtimer_start(timer, 0, HRTIMER_MODE_REL_SOFT);
	while (hrtimer_active(timer))
		cpu_relax();
	return armed;
}

static void kc_interleave_order(struct kunit *test)
{
	const struct kc_interleave_row *row = test->param_value;
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, row->mode);
	struct kc_test_req *tr = kc_test_req_alloc(ctx);
	struct kc_actor_thread dpc, cancel;
	struct task_struct *threads[2];
	bool timer_fired = false;
	enum kc_actor first = row->order[0];
	int i;

	KUNIT_ASSERT_NOT_NULL(test, tr);
	kc_request_get(&tr->req);
	kc_request_start_timer(&tr->req, &tr->timer, 60 * NSEC_PER_SEC);
	KUNIT_ASSERT_EQ(test, kc_request_mark_cancelable(&tr->req, kc_test_cancel_complete), 0);
	threads[0] = kc_actor_start(test, &dpc, kc_interleave_dpc_thread, &tr->req);
	threads[1] = kc_actor_start(test, &cancel, kc_interleave_cancel_thread, &tr->req);

	for (i = 0; i < KC_ACTORS; i++) {
		if (row->order[i] == KC_DPC)
			kc_actor_release(&dpc);
		else if (row->order[i] == KC_CANCEL)
			kc_actor_release(&cancel);
		else
			timer_fired = kc_interleave_expire(&tr->req);
	}
	for (i = 0; i < ARRAY_SIZE(threads); i++) {
		kthread_stop(threads[i]);
		put_task_struct(threads[i]);
	}

	/* The first actor wins; the others learn that they lost. */
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 1);
	KUNIT_EXPECT_EQ(test, dpc.ret, first == KC_DPC ? 0 : -ECANCELED);
	KUNIT_EXPECT_EQ(test, cancel.ret, first == KC_CANCEL);
	/* Completion disarms the timer: it is still armed only if first. */
	KUNIT_EXPECT_EQ(test, timer_fired, first == KC_TIMEOUT);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->cb_calls), first == KC_DPC ? 0 : 1);
	KUNIT_EXPECT_EQ(test, tr->req.status,
			first == KC_DPC ? 0 : first == KC_CANCEL ? -ECANCELED : -ETIMEDOUT);
	KUNIT_EXPECT_EQ(test, tr->req.result, first == KC_DPC ? 42ULL : 0ULL);
	kc_request_put(&tr->req);
	kc_test_finish(ctx);
}

struct kc_interleave_pending {
	struct kc_request *req;
	struct completion go;
	bool seen_pending;
	int unmark;
};

static int kc_interleave_arm_thread(void *arg)
{
	struct kc_interleave_pending *p = arg;

	wait_for_completion(&p->go);
	/* Armed here, it fires on this CPU, not on the DPC's. */
	kc_request_start_timer(p->req, &kc_test_req(p->req)->timer, 0);
	return 0;
}

static void kc_interleave_dpc_holding_sync(void *arg)
{
	struct kc_interleave_pending *p = arg;
	ktime_t deadline = ktime_add_ms(ktime_get(), 5000);

	complete(&p->go);
	while (kc_request_state(p->req) != KC_REQ_CANCEL_PENDING &&
	       ktime_before(ktime_get(), deadline))
		cpu_relax();
	p->seen_pending = kc_request_state(p->req) == KC_REQ_CANCEL_PENDING;
	p->unmark = kc_request_unmark_cancelable(p->req);
	if (p->unmark != -ECANCELED)
		kc_request_complete(p->req, 0, 42);
}

/*
 * Automatic synchronization: a timeout that fires while the DPC holds the
 * sync lock claims the request but cannot deliver its callback until the DPC
 * lets go; the DPC sees it pending, its unmark fails, and the callback
 * completes the request with -ETIMEDOUT afterwards.
 */
static void kc_interleave_timeout_waits_for_dpc(struct kunit *test)
{
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, KC_SYNC_AUTOMATIC);
	struct kc_test_req *tr = kc_test_req_alloc(ctx);
	struct kc_interleave_pending p;
	struct task_struct *armer;

	KUNIT_ASSERT_NOT_NULL(test, tr);
	kc_request_get(&tr->req);
	p.req = &tr->req;
	init_completion(&p.go);
	KUNIT_ASSERT_EQ(test, kc_request_mark_cancelable(&tr->req, kc_test_cancel_complete), 0);
	armer = kc_test_run_on_other_cpu(test, kc_interleave_arm_thread, &p);
	kc_queue_synchronize(&ctx->q, kc_interleave_dpc_holding_sync, &p);
	KUNIT_EXPECT_EQ(test, kc_request_wait(&tr->req, 10 * HZ), 0);
	kc_test_join(armer);

	KUNIT_EXPECT_TRUE(test, p.seen_pending);
	KUNIT_EXPECT_EQ(test, p.unmark, -ECANCELED);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->cb_calls), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&tr->completions), 1);
	KUNIT_EXPECT_EQ(test, tr->req.status, -ETIMEDOUT);
	kc_request_put(&tr->req);
	kc_test_finish(ctx);
}

static struct kunit_case kc_interleave_cases[] = {
	KUNIT_CASE_PARAM(kc_interleave_order, kc_interleave_gen_params),
	KUNIT_CASE(kc_interleave_timeout_waits_for_dpc),
	{}
};

struct kunit_suite kc_interleave_suite = {
	.name = "kcancel_interleave",
	.test_cases = kc_interleave_cases,
};
