/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared fixture of the kcancel KUnit suites: counted test requests and the
 * checks every case ends with.
 */
#ifndef _KC_TEST_H
#define _KC_TEST_H

#include <kunit/test.h>
#include <linux/atomic.h>

#include <kcancel/request.h>
#include <kcancel/target.h>

/**
 * struct kc_test_ctx - per-case fixture, in &kunit.priv
 * @test: the case.
 * @q: the queue the case's requests belong to.
 * @alive: test requests allocated and not yet released.
 * @misuse: kc_request_report_misuse() calls made on the test thread.
 * @last_misuse: what the last of them said.
 * @bad: broken rules seen off the test thread (a second completion, a
 *	request released without exactly one completion).
 * @completed: completions of test requests.
 */
struct kc_test_ctx {
	struct kunit *test;
	struct kc_queue q;
	atomic_t alive;
	atomic_t misuse;
	const char *last_misuse;
	atomic_t bad;
	atomic_t completed;
};

/**
 * struct kc_test_req - a counted test request
 * @req: the request.
 * @ctx: its fixture.
 * @cb_calls: how many times its cancel callback ran.
 * @completions: how many times it completed.
 * @hw_done: set by whoever ends its simulated I/O first.
 * @owners: DriverSync ownership count, for the cases that use one.
 * @cancel_wins: how many kc_request_cancel() calls on it returned true.
 * @tio: its record in a target, for the target cases.
 * @timer: its timeout, for the cases that start one.
 */
struct kc_test_req {
	struct kc_request req;
	struct kc_test_ctx *ctx;
	atomic_t cb_calls;
	atomic_t completions;
	atomic_t hw_done;
	atomic_t owners;
	atomic_t cancel_wins;
	struct kc_target_io tio;
	struct kc_request_timer timer;
};

static inline struct kc_test_req *kc_test_req(struct kc_request *req)
{
	return container_of(req, struct kc_test_req, req);
}

/*
 * The mode of the suites' IRQ-context cancellers: hard IRQ, except on
 * PREEMPT_RT where kcancel's spinlock_t locks sleep and cancels come from
 * softirq context instead.
 */
#define KC_TEST_HRTIMER_MODE \
	(IS_ENABLED(CONFIG_PREEMPT_RT) ? HRTIMER_MODE_REL : HRTIMER_MODE_REL_HARD)

struct kc_test_ctx *kc_test_ctx_init(struct kunit *test, enum kc_sync_mode mode);
void kc_test_count_misuse(struct kunit *test);
struct kc_test_req *kc_test_req_alloc(struct kc_test_ctx *ctx);
void kc_test_cancel_complete(struct kc_request *req);
void kc_test_cancel_record(struct kc_request *req);
void kc_test_finish(struct kc_test_ctx *ctx);
struct task_struct *kc_test_run_on_other_cpu(struct kunit *test,
					     int (*fn)(void *arg), void *arg);
void kc_test_join(struct task_struct *task);

extern struct kunit_suite kc_request_suite;
extern struct kunit_suite kc_interleave_suite;
extern struct kunit_suite kc_race_suite;
extern struct kunit_suite kc_target_suite;
extern struct kunit_suite kc_dev_suite;
extern struct kunit_suite kc_chardev_suite;

#endif /* _KC_TEST_H */
