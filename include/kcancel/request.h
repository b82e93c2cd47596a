/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kcancel request core: cancelable requests with exactly-once completion.
 *
 * This header and target.h are kcancel's library API: kcancel.ko exports
 * their functions (EXPORT_SYMBOL_GPL) to drivers built on it. The device
 * layer (dev.h, sim.h) is kcancel's own; it exports only to the KUnit
 * suites (EXPORT_SYMBOL_IF_KUNIT).
 *
 * DOC: Overview
 *
 * A &struct kc_request is one I/O request. It is ported from KMDF's
 * WDFREQUEST and keeps its cancel rules: a driver that may take a long time
 * marks the request cancelable with a cancel callback; whoever finishes the
 * request (the DPC, a timeout, the callback) first arbitrates for it; exactly
 * one side completes it.
 *
 * The arbitration point is one atomic state word changed with cmpxchg; no lock
 * is held across a callback. The states are those of the KMDF state machine:
 *
 * ==================  =========================================================
 * OWNED               the driver owns the request; it is not cancelable
 * CANCELABLE          marked cancelable: on the queue's list, callback set
 * CANCEL_PENDING      a cancel claimed it; the callback has not run yet
 * CANCEL_DELIVERED    the callback runs or has run; it (or whom it hands the
 *                     request to) completes the request
 * COMPLETED           completed, once; the I/O reference is gone
 * ==================  =========================================================
 *
 * Independently of the state, %KC_REQ_F_CANCELED records that a cancel was
 * asked for (by the cancel ioctl, close(), a signal, a timeout or device
 * removal), so that a request that is not cancelable at that moment is seen as
 * cancelled when it is next marked, and so that a forwarded request cannot be
 * sent once cancelled (see target.h).
 *
 * References: kc_request_init() gives the request one reference, the I/O
 * reference, which kc_request_complete() drops, as WdfRequestComplete()
 * deletes the request. Anyone who looks at the request after its completion
 * (a waiter reading the status, a lookup table) holds a reference of its own.
 *
 * Every misuse that KMDF's verifier catches (complete twice, complete while
 * cancelable, unmark a request that is not cancelable, mark twice) is refused
 * here unconditionally, with WARN_ONCE and an error code.
 */
#ifndef _KCANCEL_REQUEST_H
#define _KCANCEL_REQUEST_H

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/hrtimer.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>

struct kc_request;
struct kc_queue;

/**
 * enum kc_req_state - state of a request, the low bits of its state word
 * @KC_REQ_OWNED: owned by the driver, not cancelable.
 * @KC_REQ_CANCELABLE: marked cancelable; on its queue's cancelable list.
 * @KC_REQ_CANCEL_PENDING: claimed by a cancel; callback not yet run.
 * @KC_REQ_CANCEL_DELIVERED: the cancel callback runs or has run.
 * @KC_REQ_COMPLETED: completed.
 */
enum kc_req_state {
	KC_REQ_OWNED,
	KC_REQ_CANCELABLE,
	KC_REQ_CANCEL_PENDING,
	KC_REQ_CANCEL_DELIVERED,
	KC_REQ_COMPLETED,
};

#define KC_REQ_STATE_MASK	0x7
/* A cancel was asked for; never cleared. */
#define KC_REQ_F_CANCELED	0x8
/* The cancel callback was called; kept after completion. */
#define KC_REQ_F_DELIVERED	0x10
/* The first cancel's reason, a negative errno, stored negated; 0 if none. */
#define KC_REQ_REASON_SHIFT	8
#define KC_REQ_REASON_MAX	0xfff
#define KC_REQ_REASON_MASK	(KC_REQ_REASON_MAX << KC_REQ_REASON_SHIFT)

/**
 * enum kc_sync_mode - how a queue serializes cancel callbacks and its DPC
 * @KC_SYNC_AUTOMATIC: KMDF's automatic synchronization (sync scope queue):
 *	the queue's sync lock is held around every cancel callback and around
 *	the driver's DPC when it runs it through kc_queue_synchronize().
 * @KC_SYNC_DRIVER: no framework lock; the driver synchronizes its cancel
 *	callback and its DPC itself (KMDF's "framework locks" model).
 */
enum kc_sync_mode {
	KC_SYNC_AUTOMATIC,
	KC_SYNC_DRIVER,
};

/**
 * typedef kc_cancel_fn - a request's cancel callback (EvtRequestCancel)
 * @req: the request being cancelled; its state is %KC_REQ_CANCEL_DELIVERED.
 *
 * Runs at most once per marking. It must complete @req, or hand it to
 * whoever will complete it (see kc_request_complete()).
 *
 * Context: any context, hard IRQ included (a driver may cancel from its ISR
 * or a hard hrtimer; a timeout cancels from the hrtimer softirq); may not
 * sleep. Under the queue's sync lock in %KC_SYNC_AUTOMATIC mode, under
 * no kcancel lock otherwise.
 */
typedef void (*kc_cancel_fn)(struct kc_request *req);

/**
 * typedef kc_timeout_fn - what a request's timeout does
 * @req: the request whose timer fired; the timer holds a reference to it
 *	until this returns.
 *
 * The default, without one, is kc_request_cancel(@req, -ETIMEDOUT). A driver
 * whose requests may be in its hardware when the timer fires gives its own,
 * which also hurries the hardware, as its cancel path does (for a sent
 * request: kc_target_cancel_sent()).
 *
 * Context: the timer's: the hrtimer softirq (a soft hrtimer, on every
 * kernel as on PREEMPT_RT); may not sleep; no kcancel lock held.
 */
typedef void (*kc_timeout_fn)(struct kc_request *req);

/**
 * struct kc_request_timer - a request's timeout
 * @timer: the hrtimer.
 * @req: the request it times.
 * @fn: what the timeout does; NULL for kc_request_cancel() with
 *	-ETIMEDOUT.
 *
 * Only a request that may time out needs one, so it is not part of &struct
 * kc_request: the driver provides it to kc_request_start_timer(), in memory
 * that lives as long as the request (next to it, or in a larger allocation
 * kept for requests with a time limit). kcancel initialises it.
 */
struct kc_request_timer {
	struct hrtimer timer;
	struct kc_request *req;
	kc_timeout_fn fn;
};

/**
 * struct kc_request_ops - what the embedding driver provides
 * @release: frees the request when its last reference is dropped.
 * @completed: optional; called once by kc_request_complete() or
 *	kc_request_finish() after the status and result are set, before
 *	waiters are woken and before the I/O reference is dropped (for example
 *	to deliver data and queue a completion event, which a woken waiter then
 *	finds in place).
 *
 * Context: both are called in any context, hard IRQ included, and may not
 * sleep.
 */
struct kc_request_ops {
	void (*release)(struct kc_request *req);
	void (*completed)(struct kc_request *req);
};

/**
 * struct kc_queue - a queue of cancelable requests (a KMDF I/O queue)
 * @lock: guards @cancelable, @deferred and @purging.
 * @sync_lock: the automatic-synchronization lock; held around cancel
 *	callbacks and kc_queue_synchronize() in %KC_SYNC_AUTOMATIC mode.
 * @cancelable: requests in %KC_REQ_CANCELABLE, linked by
 *	&kc_request.cancel_node; each entry holds a reference.
 * @deferred: requests that marking found cancelled, in
 *	%KC_REQ_CANCEL_PENDING, linked by &kc_request.cancel_node, waiting for
 *	@deliver; each entry holds a reference and keeps the queue busy.
 * @deliver: delivers the cancel callbacks of @deferred, away from the
 *	marker's locks, from the kcancel workqueue.
 * @purging: set by kc_queue_purge(): marks on this queue count as cancelled
 *	with @purge_reason, until kc_queue_resume().
 * @purge_reason: the cancel reason of requests marked while @purging.
 * @mode: the synchronization mode, fixed at kc_queue_init().
 * @active: what still needs the queue: requests bound to it and not yet
 *	completed, armed timeouts, and cancel deliveries in progress.
 *	kc_queue_purge() waits for it to drop to zero (wait_var_event()).
 * @refused: calls on its requests that kc_request_report_misuse() refused,
 *	from any thread: a test expects none but those it makes on purpose.
 *
 * Lock order, for the whole of kcancel, outermost first:
 *
 * 0. io_uring's ring lock (uring.c: held around io_uring's cancel and the
 *    task work that posts a CQE); kcancel calls into io_uring holding none
 *    of its own locks;
 * 1. the mutex of the software devices' list (sim.c), held while a software
 *    device is created or removed;
 * 2. a device's &kc_dev.fail_lock (dev.h), a mutex held while kc_dev_fail()
 *    halts the hardware;
 * 3. @sync_lock (%KC_SYNC_AUTOMATIC mode: cancel callbacks and the DPC);
 * 4. a device's &kc_dev.lock (dev.h: software queues and slots);
 * 5. either @lock or a target's collection lock (target.h; a send runs
 *    under &kc_dev.lock), never one under the other.
 *
 * A file's lock (file.c, taken when a request completes) and
 * &kc_chardev.files_lock are leaves: taken under none of these but @sync_lock,
 * and nothing is taken under them. No kcancel lock is held while a cancel
 * callback or a target's completion routine runs, except @sync_lock in
 * %KC_SYNC_AUTOMATIC mode (the routine, when a synchronized DPC ends the
 * I/O). Every spinlock but &kc_chardev.files_lock
 * is taken with interrupts disabled: a cancel may come from hard IRQ (a
 * driver's ISR or hard hrtimer; kcancel's own timeouts fire in softirq).
 */
struct kc_queue {
	spinlock_t lock;		/* guards cancelable, deferred, purging */
	spinlock_t sync_lock;		/* automatic synchronization */
	struct list_head cancelable;
	struct list_head deferred;
	struct work_struct deliver;
	bool purging;
	int purge_reason;
	enum kc_sync_mode mode;
	atomic_t active;
	atomic_t refused;
};

/**
 * struct kc_request - a cancelable request (a WDFREQUEST)
 * @state: the arbitration word: an &enum kc_req_state, the %KC_REQ_F_*
 *	flags and the first cancel's reason (%KC_REQ_REASON_MASK).
 * @ref: reference count; kc_request_init() returns it at one, the I/O
 *	reference.
 * @queue: the queue the request belongs to.
 * @ops: the embedding driver's operations.
 * @cancel_fn: the cancel callback, set by a successful mark; read only by the
 *	cancel that claimed the request.
 * @cancel_node: entry in &kc_queue.cancelable or &kc_queue.deferred, under
 *	&kc_queue.lock.
 * @timer: the timeout armed by kc_request_start_timer(), or NULL.
 * @done: completed (complete_all()) when the request completes.
 * @status: the completion status, valid once @done is complete.
 * @result: the completion result, valid once @done is complete.
 * @id: an identifier owned by the embedding driver; used as the key of a
 *	target's collection (target.h).
 */
struct kc_request {
	atomic_t state;
	struct kref ref;
	struct kc_queue *queue;
	const struct kc_request_ops *ops;
	kc_cancel_fn cancel_fn;
	struct list_head cancel_node;
	struct kc_request_timer *timer;
	struct completion done;
	int status;
	u64 result;
	u64 id;
};

void kc_queue_init(struct kc_queue *q, enum kc_sync_mode mode);
void kc_queue_synchronize(struct kc_queue *q, void (*fn)(void *arg), void *arg);
void kc_queue_assert_synchronized(struct kc_queue *q);
void kc_queue_purge(struct kc_queue *q, int reason);
void kc_queue_resume(struct kc_queue *q);

void kc_request_init(struct kc_request *req, struct kc_queue *q,
		     const struct kc_request_ops *ops);
int kc_request_mark_cancelable(struct kc_request *req, kc_cancel_fn fn);
int kc_request_mark_cancelable_ex(struct kc_request *req, kc_cancel_fn fn);
int kc_request_unmark_cancelable(struct kc_request *req);
int kc_request_complete(struct kc_request *req, int status, u64 result);
int kc_request_finish(struct kc_request *req, int status, u64 result);
bool kc_request_cancel(struct kc_request *req, int reason);
void kc_request_start_timer(struct kc_request *req, struct kc_request_timer *t,
			    u64 timeout_ns);
void kc_request_start_timer_fn(struct kc_request *req,
			       struct kc_request_timer *t, u64 timeout_ns,
			       kc_timeout_fn fn);
int kc_request_wait(struct kc_request *req, long timeout);

/**
 * kc_request_get() - take a reference (WdfObjectReference)
 * @req: a request the caller already holds a reference to, directly or
 *	through a lookup structure whose lock it holds.
 *
 * Context: any context.
 */
static inline void kc_request_get(struct kc_request *req)
{
	kref_get(&req->ref);
}

void kc_request_put(struct kc_request *req);

/**
 * kc_request_state() - the request's current state
 * @req: the request.
 *
 * Context: any context. The value may change as soon as it is read.
 * Return: an &enum kc_req_state.
 */
static inline enum kc_req_state kc_request_state(const struct kc_request *req)
{
	return atomic_read(&req->state) & KC_REQ_STATE_MASK;
}

/**
 * kc_request_is_canceled() - was a cancel asked for? (WdfRequestIsCanceled)
 * @req: the request.
 *
 * Context: any context.
 * Return: true once kc_request_cancel() or a purge has been called on @req.
 */
static inline bool kc_request_is_canceled(const struct kc_request *req)
{
	return atomic_read(&req->state) & KC_REQ_F_CANCELED;
}

/**
 * kc_request_cancel_reason() - the reason of the first cancel
 * @req: the request.
 *
 * Context: any context.
 * Return: the negative errno passed to the first kc_request_cancel(), or 0.
 */
static inline int kc_request_cancel_reason(const struct kc_request *req)
{
	unsigned int state = atomic_read(&req->state);

	return -(int)((state & KC_REQ_REASON_MASK) >> KC_REQ_REASON_SHIFT);
}

/*
 * kc_request_report_misuse() is how the core refuses a call the KMDF verifier
 * would catch. It is not static so that KUnit can redirect it and count the
 * reports of cases that misuse the API on purpose.
 */
void kc_request_report_misuse(struct kc_request *req, const char *what);

int kc_request_core_init(void);
void kc_request_core_exit(void);

#endif /* _KCANCEL_REQUEST_H */
