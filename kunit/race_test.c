// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite kcancel_race: the DPC against cancels and timeouts on several
 * CPUs, for many requests (scenario 3 of the KMDF semantics).
 *
 * DOC: How a case races
 *
 * The test thread produces requests: it allocates one, arms a short timeout on
 * every eighth, marks it cancelable and publishes it. DPC threads and cancel
 * threads follow right behind, each DPC thread unmarking (and completing, if
 * the unmark won) its share of the requests, each cancel thread cancelling the
 * same share in the same order, so that both reach a request at nearly the same
 * time. An hrtimer in hard IRQ context cancels requests next to the front.
 * Helper threads only count; the test thread checks, once everything has
 * completed, that each request completed exactly once, with a status that
 * matches whether its callback ran, and that every reference was dropped.
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/sched/task.h>
#include <linux/moduleparam.h>
#include <linux/random.h>
#include <linux/slab.h>

#include "kc_test.h"

static unsigned int kc_race_requests = 100000;
module_param_named(race_requests, kc_race_requests, uint, 0444);
MODULE_PARM_DESC(race_requests, "requests per race case (default 100000)");

#define KC_RACE_TIMER_PERIOD_NS	(50 * NSEC_PER_USEC)
#define KC_RACE_MAX_THREADS	8

struct kc_race_param {
	enum kc_sync_mode mode;
	unsigned int threads;
};

static const struct kc_race_param kc_race_params[] = {
	{ KC_SYNC_AUTOMATIC, 2 }, { KC_SYNC_AUTOMATIC, 4 }, { KC_SYNC_AUTOMATIC, 8 },
	{ KC_SYNC_DRIVER, 2 }, { KC_SYNC_DRIVER, 4 }, { KC_SYNC_DRIVER, 8 },
};

static void kc_race_desc(const struct kc_race_param *p, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s sync, %u threads",
		 p->mode == KC_SYNC_AUTOMATIC ? "automatic" : "driver", p->threads);
}

KUNIT_ARRAY_PARAM(kc_race, kc_race_params, kc_race_desc);

/**
 * struct kc_race - one race case
 * @ctx: the fixture.
 * @reqs: the requests, each with a reference of the test's.
 * @n: how many.
 * @ready: requests published so far (release/acquire).
 * @front: the next request DPC thread 0 works on; the hrtimer aims there.
 * @stride: DPC threads (and cancel threads): thread k takes indices k + i * stride.
 * @timer: the hard IRQ canceller.
 * @timer_cancels: cancels the hrtimer asked for first.
 */
struct kc_race {
	struct kc_test_ctx *ctx;
	struct kc_test_req **reqs;
	unsigned int n;
	unsigned int ready;
	unsigned int front;
	unsigned int stride;
	struct hrtimer timer;
	atomic_t timer_cancels;
};

struct kc_race_worker {
	struct kc_race *race;
	unsigned int first;
	struct completion done;
};

/*
 * Wait until request @i is published. Sleep rather than yield: with more
 * threads than CPUs, yielding waiters would starve the producer.
 */
static void kc_race_wait_ready(struct kc_race *race, unsigned int i)
{
	/* Pairs with the release in kc_race_produce(): @i is marked. */
	while (smp_load_acquire(&race->ready) <= i)
		usleep_range(20, 50);
}

/*
 * Half the requests end as in the seeds, with kc_request_complete(); the
 * other half as kcancel's devices end them, with kc_request_finish(), which
 * lets a cancel that came after the unmark name the status.
 */
static bool kc_race_dpc_finishes(const struct kc_test_req *tr)
{
	return tr->req.id & 1;
}

/* The DPC of the seeds, for one finished request. */
static void kc_race_dpc_one(void *arg)
{
	struct kc_test_req *tr = arg;
	int ret = kc_request_unmark_cancelable(&tr->req);

	if (ret == 0 && kc_race_dpc_finishes(tr))
		ret = kc_request_finish(&tr->req, 0, tr->req.id);
	else if (ret == 0)
		ret = kc_request_complete(&tr->req, 0, tr->req.id);
	else if (ret == -ECANCELED)
		ret = 0;
	/* A refused completion or unmark is a broken rule, whatever follows. */
	if (ret)
		atomic_inc(&tr->ctx->bad);
}

static int kc_race_dpc_thread(void *arg)
{
	struct kc_race_worker *w = arg;
	struct kc_race *race = w->race;
	unsigned int i;

	for (i = w->first; i < race->n; i += race->stride) {
		kc_race_wait_ready(race, i);
		if (!w->first)
			WRITE_ONCE(race->front, i);
		kc_queue_synchronize(&race->ctx->q, kc_race_dpc_one, race->reqs[i]);
		cond_resched();
	}
	complete(&w->done);
	return 0;
}

static int kc_race_cancel_thread(void *arg)
{
	struct kc_race_worker *w = arg;
	struct kc_race *race = w->race;
	unsigned int i;

	for (i = w->first; i < race->n; i += race->stride) {
		kc_race_wait_ready(race, i);
		if (kc_request_cancel(&race->reqs[i]->req, -ECANCELED))
			atomic_inc(&race->reqs[i]->cancel_wins);
		cond_resched();
	}
	complete(&w->done);
	return 0;
}

static enum hrtimer_restart kc_race_timer_fn(struct hrtimer *timer)
{
	struct kc_race *race = container_of(timer, struct kc_race, timer);
	unsigned int i = READ_ONCE(race->front) + get_random_u32_below(4);

	/* Pairs with the release in kc_race_produce(). */
	if (i < smp_load_acquire(&race->ready) &&
	    kc_request_cancel(&race->reqs[i]->req, -ECANCELED)) {
		atomic_inc(&race->reqs[i]->cancel_wins);
		atomic_inc(&race->timer_cancels);
	}
	hrtimer_forward_now(timer, ns_to_ktime(KC_RACE_TIMER_PERIOD_NS));
	return HRTIMER_RESTART;
}

/* Allocate every request up front: the race itself only marks them. */
static int kc_race_alloc(struct kc_race *race)
{
	struct kc_test_req *tr;
	unsigned int i;

	for (i = 0; i < race->n; i++) {
		tr = kc_test_req_alloc(race->ctx);
		if (!tr)
			goto undo;
		kc_request_get(&tr->req);
		race->reqs[i] = tr;
		if (i % 256 == 0)
			cond_resched();
	}
	return 0;
undo:
	while (i--) {
		kc_request_complete(&race->reqs[i]->req, -ENOMEM, 0);
		kc_request_put(&race->reqs[i]->req);
	}
	return -ENOMEM;
}

/* Maybe time, then mark and publish request @i. */
static void kc_race_produce(struct kc_race *race, unsigned int i)
{
	struct kc_request *req = &race->reqs[i]->req;

	if (i % 8 == 0)
		kc_request_start_timer(req, &race->reqs[i]->timer,
				       get_random_u32_below(30 * NSEC_PER_USEC));
	kc_request_mark_cancelable(req, kc_test_cancel_complete);
	/* Publish the marked request; pairs with the acquires of its users. */
	smp_store_release(&race->ready, i + 1);
}

static struct task_struct *kc_race_spawn(struct kunit *test,
					 int (*fn)(void *),
					 struct kc_race_worker *w)
{
	struct task_struct *task;

	init_completion(&w->done);
	task = kthread_run(fn, w, "kc_race/%u", w->first);

	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	get_task_struct(task);
	return task;
}

struct kc_race_tally {
	unsigned int dpc_won;
	unsigned int cancel_won;
	unsigned int timeout_won;
	unsigned int late_cancels;
	unsigned int wrong;
};

/*
 * The test thread's check of one request after the race. A request ends in
 * one of three ways:
 *
 * - the DPC's unmark won and nothing was asked afterwards, or the DPC used
 *   kc_request_complete(), which ignores a later cancel: status 0, no
 *   callback;
 * - a cancel (or the timeout) claimed it: the callback ran once and
 *   completed it with that cancel's reason;
 * - the DPC's unmark won, a cancel (or the timeout) came before the DPC's
 *   kc_request_finish(): that cancel's reason, no callback ("late").
 *
 * A cancel told it asked first must see its own reason: the request's
 * timeout (-ETIMEDOUT) racing the cancellers (-ECANCELED) must not swap
 * them. Only kc_request_complete() may end such a request with 0.
 */
static void kc_race_check(struct kc_test_req *tr, struct kc_race_tally *t)
{
	struct kc_request *req = &tr->req;
	bool finishes = kc_race_dpc_finishes(tr);
	int cb_calls = atomic_read(&tr->cb_calls);
	int wins = atomic_read(&tr->cancel_wins);
	bool ok = atomic_read(&tr->completions) == 1 &&
		  kc_request_state(req) == KC_REQ_COMPLETED;

	if (wins)
		ok = ok && wins == 1 &&
		     (req->status == -ECANCELED || (req->status == 0 && !finishes));
	if (req->status == 0) {
		ok = ok && cb_calls == 0 && req->result == req->id;
		t->dpc_won++;
		t->late_cancels += kc_request_is_canceled(req);
	} else if (cb_calls == 0) {
		ok = ok && finishes && req->status == kc_request_cancel_reason(req);
		t->late_cancels++;
	} else {
		ok = ok && cb_calls == 1 && req->status == kc_request_cancel_reason(req);
		if (req->status == -ETIMEDOUT)
			t->timeout_won++;
		else
			t->cancel_won++;
	}
	t->wrong += !ok;
}

static void kc_race_run(struct kunit *test, struct kc_race *race,
			unsigned int threads)
{
	struct kc_race_worker workers[KC_RACE_MAX_THREADS];
	struct task_struct *tasks[KC_RACE_MAX_THREADS];
	unsigned int i, nr = 0;

	race->stride = threads / 2;
	for (i = 0; i < race->stride; i++) {
		workers[nr] = (struct kc_race_worker){ .race = race, .first = i };
		tasks[nr] = kc_race_spawn(test, kc_race_dpc_thread, &workers[nr]);
		nr++;
		workers[nr] = (struct kc_race_worker){ .race = race, .first = i };
		tasks[nr] = kc_race_spawn(test, kc_race_cancel_thread, &workers[nr]);
		nr++;
	}
	hrtimer_init(&race->timer, CLOCK_MONOTONIC, KC_TEST_HRTIMER_MODE);
	race->timer.function = kc_race_timer_fn;
	hrtimer_start(&race->timer, ns_to_ktime(KC_RACE_TIMER_PERIOD_NS),
		      KC_TEST_HRTIMER_MODE);

	for (i = 0; i < race->n; i++) {
		kc_race_produce(race, i);
		if (i % 64 == 0)
			cond_resched();
	}
	for (i = 0; i < nr; i++) {
		/* Stopped only once done: a stop before it ran would skip it. */
		wait_for_completion(&workers[i].done);
		kthread_stop(tasks[i]);
		put_task_struct(tasks[i]);
	}
	hrtimer_cancel(&race->timer);
}

static void kc_race_dpc_vs_cancel(struct kunit *test)
{
	const struct kc_race_param *param = test->param_value;
	struct kc_test_ctx *ctx = kc_test_ctx_init(test, param->mode);
	struct kc_race_tally tally = {};
	struct kc_race *race;
	unsigned int i;

	race = kunit_kzalloc(test, sizeof(*race), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, race);
	race->ctx = ctx;
	race->n = kc_race_requests;
	race->reqs = kvcalloc(race->n, sizeof(*race->reqs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, race->reqs);

	if (kc_race_alloc(race)) {
		kvfree(race->reqs);
		KUNIT_FAIL(test, "cannot allocate %u requests", kc_race_requests);
		kc_test_finish(ctx);
		return;
	}
	kc_race_run(test, race, param->threads);
	/* Every request had its DPC: wait for callbacks and timers to finish. */
	kc_queue_purge(&ctx->q, -ENODEV);

	for (i = 0; i < race->n; i++) {
		kc_race_check(race->reqs[i], &tally);
		kc_request_put(&race->reqs[i]->req);
		if (i % 256 == 0)
			cond_resched();
	}
	kvfree(race->reqs);
	kunit_info(test, "%u requests: DPC won %u, cancel won %u (%d from hard IRQ), timeout won %u, cancels after the unmark %u\n",
		   race->n, tally.dpc_won, tally.cancel_won,
		   atomic_read(&race->timer_cancels), tally.timeout_won,
		   tally.late_cancels);

	KUNIT_EXPECT_EQ(test, race->n, kc_race_requests);
	KUNIT_EXPECT_EQ(test, tally.wrong, 0U);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->completed), (int)race->n);
	/* The race must really have been raced: both sides won some. */
	KUNIT_EXPECT_GT(test, tally.dpc_won, 0U);
	KUNIT_EXPECT_GT(test, tally.cancel_won + tally.timeout_won, 0U);
	kc_test_finish(ctx);
}

static struct kunit_case kc_race_cases[] = {
	KUNIT_CASE_PARAM_ATTR(kc_race_dpc_vs_cancel, kc_race_gen_params,
			      { .speed = KUNIT_SPEED_SLOW }),
	{}
};

struct kunit_suite kc_race_suite = {
	.name = "kcancel_race",
	.test_cases = kc_race_cases,
};
