// SPDX-License-Identifier: GPL-2.0
/*
 * Shared fixture of the kcancel KUnit suites.
 */
#include <kunit/static_stub.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/slab.h>

#include "kc_test.h"

/* Runs where the misuse happened, often under a spinlock: count only. */
static void kc_test_misuse_stub(struct kc_request *req, const char *what)
{
	struct kc_test_ctx *ctx = kunit_get_current_test()->priv;

	WRITE_ONCE(ctx->last_misuse, what);
	atomic_inc(&ctx->misuse);
}

/**
 * kc_test_count_misuse() - count misuse reports instead of warning
 * @test: the case; its fixture must be set up.
 *
 * For cases that break the API's rules on purpose, on the test thread only:
 * a misuse anywhere else still warns, and the log scan fails the run.
 *
 * Context: the test thread.
 */
void kc_test_count_misuse(struct kunit *test)
{
	kunit_activate_static_stub(test, kc_request_report_misuse,
				   kc_test_misuse_stub);
}

/**
 * kc_test_ctx_init() - set up a case's fixture
 * @test: the case.
 * @mode: the synchronization mode of its queue.
 *
 * Context: the test thread.
 * Return: the fixture, also in @test->priv.
 */
struct kc_test_ctx *kc_test_ctx_init(struct kunit *test, enum kc_sync_mode mode)
{
	struct kc_test_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, ctx);
	ctx->test = test;
	kc_queue_init(&ctx->q, mode);
	test->priv = ctx;
	return ctx;
}

static void kc_test_completed(struct kc_request *req)
{
	struct kc_test_req *tr = kc_test_req(req);

	atomic_inc(&tr->ctx->completed);
	if (atomic_inc_return(&tr->completions) != 1)
		atomic_inc(&tr->ctx->bad);
	/* Waiters go only once this hook has run. */
	if (completion_done(&req->done))
		atomic_inc(&tr->ctx->bad);
}

static void kc_test_release(struct kc_request *req)
{
	struct kc_test_req *tr = kc_test_req(req);
	struct kc_test_ctx *ctx = tr->ctx;

	if (atomic_read(&tr->completions) != 1)
		atomic_inc(&ctx->bad);
	kfree(tr);
	atomic_dec(&ctx->alive);
}

static const struct kc_request_ops kc_test_ops = {
	.release = kc_test_release,
	.completed = kc_test_completed,
};

/**
 * kc_test_req_alloc() - allocate a counted request on the case's queue
 * @ctx: the fixture.
 *
 * Context: process context.
 * Return: the request, or NULL.
 */
struct kc_test_req *kc_test_req_alloc(struct kc_test_ctx *ctx)
{
	static atomic64_t next_id;
	struct kc_test_req *tr = kzalloc(sizeof(*tr), GFP_KERNEL);

	if (!tr)
		return NULL;
	tr->ctx = ctx;
	kc_request_init(&tr->req, &ctx->q, &kc_test_ops);
	tr->req.id = atomic64_inc_return(&next_id);
	kc_target_io_init(&tr->tio, &tr->req);
	atomic_inc(&ctx->alive);
	return tr;
}

/**
 * kc_test_cancel_complete() - cancel callback: complete with the reason
 * @req: the request.
 *
 * Context: any context.
 */
void kc_test_cancel_complete(struct kc_request *req)
{
	atomic_inc(&kc_test_req(req)->cb_calls);
	kc_request_complete(req, kc_request_cancel_reason(req), 0);
}

/**
 * kc_test_cancel_record() - cancel callback: record, complete nothing
 * @req: the request; whoever the callback hands it to completes it.
 *
 * Context: any context.
 */
void kc_test_cancel_record(struct kc_request *req)
{
	atomic_inc(&kc_test_req(req)->cb_calls);
}

/* Wait, bounded, until no request of @ctx is alive. */
static bool kc_test_wait_released(struct kc_test_ctx *ctx)
{
	unsigned long deadline = jiffies + 10 * HZ;

	while (atomic_read(&ctx->alive)) {
		if (time_after(jiffies, deadline))
			return false;
		usleep_range(100, 1000);
	}
	return true;
}

/**
 * kc_test_finish() - the checks every case ends with
 * @ctx: the fixture.
 *
 * Purges the queue (waiting for every completion, timer and delivery), then
 * expects every request released exactly once, each after one completion. A
 * timer or a deferred delivery may drop a request's last reference just
 * after the purge returns: the release is waited for, bounded. The core
 * refused no call but the test thread's misuses on purpose: a second
 * completion on another thread is refused and warns, and fails the case too.
 *
 * Context: the test thread; sleeps.
 */
void kc_test_finish(struct kc_test_ctx *ctx)
{
	kc_queue_purge(&ctx->q, -ENODEV);
	KUNIT_EXPECT_TRUE_MSG(ctx->test, kc_test_wait_released(ctx),
			      "requests never released");
	KUNIT_EXPECT_EQ_MSG(ctx->test, atomic_read(&ctx->bad), 0,
			    "requests completed other than once");
	KUNIT_EXPECT_EQ_MSG(ctx->test, atomic_read(&ctx->q.refused),
			    atomic_read(&ctx->misuse),
			    "calls refused as misuse off the test thread");
}

/**
 * kc_test_run_on_other_cpu() - run @fn on a CPU other than the test thread's
 * @test: the case; skipped with fewer than two online CPUs.
 * @fn: the function.
 * @arg: its argument.
 *
 * Pins the test thread to the first online CPU and @fn's thread to the
 * second, so that the test thread may spin with interrupts off waiting for
 * @fn to reach a point, as the deterministic interleavings do.
 *
 * Context: the test thread.
 * Return: the thread, for kc_test_join().
 */
struct task_struct *kc_test_run_on_other_cpu(struct kunit *test,
					     int (*fn)(void *arg), void *arg)
{
	unsigned int first = cpumask_first(cpu_online_mask);
	unsigned int second = cpumask_next(first, cpu_online_mask);
	struct task_struct *task;

	if (second >= nr_cpu_ids)
		kunit_skip(test, "needs two online CPUs");
	KUNIT_ASSERT_EQ(test, set_cpus_allowed_ptr(current, cpumask_of(first)), 0);
	task = kthread_create(fn, arg, "kc_test/%u", second);
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	kthread_bind(task, second);
	get_task_struct(task);
	wake_up_process(task);
	return task;
}

/**
 * kc_test_join() - wait for a thread of kc_test_run_on_other_cpu()
 * @task: the thread; its function may have returned already.
 *
 * Context: the test thread; sleeps.
 */
void kc_test_join(struct task_struct *task)
{
	kthread_stop(task);
	put_task_struct(task);
}

kunit_test_suites(&kc_request_suite, &kc_interleave_suite, &kc_race_suite,
		  &kc_target_suite, &kc_dev_suite, &kc_chardev_suite);

/* kcancel's device layer exports to the suites only (EXPORT_SYMBOL_IF_KUNIT). */
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
MODULE_DESCRIPTION("KUnit suites of kcancel");
MODULE_LICENSE("GPL");
