// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel request core: the KMDF cancel/complete state machine.
 *
 * DOC: Arbitration
 *
 * Every transition of a request is one atomic_try_cmpxchg() on
 * &kc_request.state; whoever makes a transition owns what follows it:
 *
 * - mark (OWNED -> CANCELABLE) puts the request on its queue's cancelable
 *   list with a reference, under &kc_queue.lock so that a purge walking the
 *   list sees either the request on it or the purge flag before marking;
 * - unmark (CANCELABLE -> OWNED) and cancel (CANCELABLE -> CANCEL_PENDING)
 *   race for a cancelable request; the winner takes it off the list and drops
 *   the list's reference, the loser learns that it lost;
 * - the cancel that won delivers the callback (CANCEL_PENDING ->
 *   CANCEL_DELIVERED), inline or, when marking found the request already
 *   cancelled, from a workqueue: never under the marker's locks;
 * - complete (OWNED or CANCEL_DELIVERED -> COMPLETED) happens once.
 *
 * The full barriers of atomic_try_cmpxchg() order the plain fields around
 * them: &kc_request.cancel_fn and the list's reference are set before mark's
 * cmpxchg publishes CANCELABLE and read after cancel's cmpxchg claims it.
 * The cancel reason is not a plain field: it is part of the state word, set
 * by the very cmpxchg that sets %KC_REQ_F_CANCELED, so two cancels racing
 * (a timeout and the cancel ioctl) cannot leave the loser's reason behind.
 */
#include <linux/bug.h>
#include <linux/errno.h>
#include <linux/export.h>
#include <linux/lockdep.h>
#include <linux/sched.h>
#include <linux/wait_bit.h>

#include <kcancel/request.h>

#include "trace.h"

/* Kbuild defines KC_HAVE_STATIC_STUB where the kernel has it (6.2 on). */
#ifdef KC_HAVE_STATIC_STUB
#include <kunit/static_stub.h>
#else
#define KUNIT_STATIC_STUB_REDIRECT(...) do { } while (0)
#endif

/* Delivers cancel callbacks that may not run in the context that claimed. */
static struct workqueue_struct *kc_cancel_wq;

static const char *const kc_state_names[] = {
	[KC_REQ_OWNED] = "owned",
	[KC_REQ_CANCELABLE] = "cancelable",
	[KC_REQ_CANCEL_PENDING] = "cancel pending",
	[KC_REQ_CANCEL_DELIVERED] = "cancel delivered",
	[KC_REQ_COMPLETED] = "completed",
};

/**
 * kc_request_report_misuse() - refuse a call that breaks the KMDF rules
 * @req: the request the call was made on.
 * @what: what was wrong, for the warning.
 *
 * KMDF catches these only with its verifier on; kcancel always does, and
 * counts it in the queue's &kc_queue.refused. KUnit cases that misuse the API
 * on purpose redirect this function to count the reports instead of warning.
 *
 * Context: any context.
 */
void kc_request_report_misuse(struct kc_request *req, const char *what)
{
	unsigned int state = atomic_read(&req->state);

	if (req->queue)
		atomic_inc(&req->queue->refused);
	KUNIT_STATIC_STUB_REDIRECT(kc_request_report_misuse, req, what);
	WARN_ONCE(1, "kcancel: %s (request %llu is %s%s)\n", what, req->id,
		  kc_state_names[state & KC_REQ_STATE_MASK],
		  state & KC_REQ_F_CANCELED ? ", cancel asked" : "");
}
EXPORT_SYMBOL_GPL(kc_request_report_misuse);

static void kc_queue_get_active(struct kc_queue *q)
{
	atomic_inc(&q->active);
}

/**
 * kc_queue_put_active() - let go of a queue kept busy
 * @q: the queue.
 *
 * Drop what kept @q busy. wake_up_var() only hashes the address, so the
 * purge that this wakes may free @q at once without harm.
 *
 * Context: any context; may not sleep.
 */
static void kc_queue_put_active(struct kc_queue *q)
{
	if (atomic_dec_and_test(&q->active))
		wake_up_var(&q->active);
}

/**
 * kc_queue_synchronize() - run a DPC under the queue's synchronization
 * @q: the queue.
 * @fn: the function to run, typically the driver's DPC.
 * @arg: its argument.
 *
 * In %KC_SYNC_AUTOMATIC mode @fn runs under &kc_queue.sync_lock, the lock
 * held around cancel callbacks, as KMDF holds the sync-scope lock around
 * EvtInterruptDpc with AutomaticSerialization; in %KC_SYNC_DRIVER mode it is
 * simply called. @fn must not cancel a request of @q (the cancel would deliver
 * the callback under the lock @fn already holds).
 *
 * Context: any context that may take a spinlock; @fn runs with interrupts
 * disabled in %KC_SYNC_AUTOMATIC mode.
 */
void kc_queue_synchronize(struct kc_queue *q, void (*fn)(void *arg), void *arg)
{
	unsigned long flags;

	if (q->mode == KC_SYNC_DRIVER) {
		fn(arg);
		return;
	}
	spin_lock_irqsave(&q->sync_lock, flags);
	fn(arg);
	spin_unlock_irqrestore(&q->sync_lock, flags);
}
EXPORT_SYMBOL_GPL(kc_queue_synchronize);

/**
 * kc_queue_assert_synchronized() - assert the caller runs synchronized
 * @q: the queue.
 *
 * For cancel callbacks and DPCs of %KC_SYNC_AUTOMATIC queues: lockdep checks
 * that &kc_queue.sync_lock is held. Nothing to check in %KC_SYNC_DRIVER mode.
 *
 * Context: any context.
 */
void kc_queue_assert_synchronized(struct kc_queue *q)
{
	if (q->mode == KC_SYNC_AUTOMATIC)
		lockdep_assert_held(&q->sync_lock);
}
EXPORT_SYMBOL_GPL(kc_queue_assert_synchronized);

/**
 * kc_request_deliver_locked() - run a claimed request's cancel callback
 * @req: a request in CANCEL_PENDING.
 *
 * CANCEL_PENDING -> CANCEL_DELIVERED, then the callback, once. In
 * %KC_SYNC_AUTOMATIC mode both happen under the sync lock, so a DPC holding
 * it sees a claimed request as CANCEL_PENDING until it lets go.
 *
 * Context: &kc_queue.sync_lock held in %KC_SYNC_AUTOMATIC mode (interrupts
 * disabled); any context that may take a spinlock in %KC_SYNC_DRIVER mode.
 */
static void kc_request_deliver_locked(struct kc_request *req)
{
	unsigned int old = atomic_read(&req->state);

	kc_queue_assert_synchronized(req->queue);
	do {
		if ((old & KC_REQ_STATE_MASK) != KC_REQ_CANCEL_PENDING) {
			kc_request_report_misuse(req, "cancel delivered twice");
			return;
		}
	} while (!atomic_try_cmpxchg(&req->state, &old,
				     (old & ~KC_REQ_STATE_MASK) |
				     KC_REQ_F_DELIVERED |
				     KC_REQ_CANCEL_DELIVERED));
	req->cancel_fn(req);
}

/**
 * kc_request_deliver_cancel() - deliver a claimed request's cancel callback
 * @req: a request in CANCEL_PENDING.
 *
 * Runs kc_request_deliver_locked() under &kc_queue.sync_lock in
 * %KC_SYNC_AUTOMATIC mode, or simply calls it in %KC_SYNC_DRIVER mode.
 *
 * Context: any context; may not sleep. The caller must not hold the queue's
 * sync lock.
 */
static void kc_request_deliver_cancel(struct kc_request *req)
{
	struct kc_queue *q = req->queue;
	unsigned long flags;

	if (q->mode == KC_SYNC_DRIVER) {
		kc_request_deliver_locked(req);
		return;
	}
	spin_lock_irqsave(&q->sync_lock, flags);
	kc_request_deliver_locked(req);
	spin_unlock_irqrestore(&q->sync_lock, flags);
}

/**
 * kc_queue_deliver_work() - deliver the cancel callbacks marking deferred
 * @work: &kc_queue.deliver.
 *
 * Takes the requests of &kc_queue.deferred one at a time, delivers each
 * callback away from the marker's locks, then lets go of the queue and
 * drops the references that marking took for the delivery.
 *
 * A run is queued only when a request lands on an empty list, and it stops
 * right after it takes the one that empties the list: so every run finds a
 * request, and the queue, which that request keeps busy, is not touched
 * again after the last one lets go of it (the queue may live in what the
 * request's release frees, this work item with it).
 *
 * Context: process context, from the kcancel workqueue.
 */
static void kc_queue_deliver_work(struct work_struct *work)
{
	struct kc_queue *q = container_of(work, struct kc_queue, deliver);
	struct kc_request *req;
	unsigned long flags;
	bool last;

	do {
		spin_lock_irqsave(&q->lock, flags);
		req = list_first_entry(&q->deferred, struct kc_request,
				       cancel_node);
		list_del_init(&req->cancel_node);
		last = list_empty(&q->deferred);
		spin_unlock_irqrestore(&q->lock, flags);

		kc_request_deliver_cancel(req);
		/* @q may go with the last reference: let go of it first. */
		kc_queue_put_active(q);
		kc_request_put(req);
	} while (!last);
}

/**
 * kc_queue_init() - initialise a queue (WdfIoQueueCreate)
 * @q: the queue.
 * @mode: how cancel callbacks and the DPC are serialized.
 *
 * Context: any context.
 */
void kc_queue_init(struct kc_queue *q, enum kc_sync_mode mode)
{
	spin_lock_init(&q->lock);
	spin_lock_init(&q->sync_lock);
	INIT_LIST_HEAD(&q->cancelable);
	INIT_LIST_HEAD(&q->deferred);
	INIT_WORK(&q->deliver, kc_queue_deliver_work);
	q->purging = false;
	q->purge_reason = 0;
	q->mode = mode;
	atomic_set(&q->active, 0);
	atomic_set(&q->refused, 0);
}
EXPORT_SYMBOL_GPL(kc_queue_init);

/**
 * kc_request_timer_fn() - a request's timeout fired
 * @timer: &kc_request_timer.timer.
 *
 * Calls &kc_request_timer.fn, or kc_request_cancel() with -ETIMEDOUT when
 * there is none, then lets go of the queue and drops the timer's reference.
 *
 * Context: the hrtimer softirq (a soft hrtimer).
 * Return: %HRTIMER_NORESTART.
 */
static enum hrtimer_restart kc_request_timer_fn(struct hrtimer *timer)
{
	struct kc_request_timer *t = container_of(timer, struct kc_request_timer,
						  timer);
	struct kc_request *req = t->req;
	struct kc_queue *q = req->queue;

	if (t->fn)
		t->fn(req);
	else
		kc_request_cancel(req, -ETIMEDOUT);
	/* @q may go with the last reference: let go of it first. */
	kc_queue_put_active(q);
	kc_request_put(req);
	return HRTIMER_NORESTART;
}

/**
 * kc_request_release() - free a request whose last reference went
 * @ref: &kc_request.ref.
 *
 * Context: any context, that of the last kc_request_put().
 */
static void kc_request_release(struct kref *ref)
{
	struct kc_request *req = container_of(ref, struct kc_request, ref);

	req->ops->release(req);
}

/**
 * kc_request_put() - drop a reference (WdfObjectDereference)
 * @req: the request.
 *
 * The last reference frees the request through &kc_request_ops.release.
 *
 * Context: any context.
 */
void kc_request_put(struct kc_request *req)
{
	kref_put(&req->ref, kc_request_release);
}
EXPORT_SYMBOL_GPL(kc_request_put);

/**
 * kc_request_init() - initialise a request and bind it to a queue
 * @req: the request, embedded in the driver's own structure.
 * @q: the queue it belongs to; kc_queue_purge() waits for its completion.
 * @ops: the driver's operations; @ops->release is required.
 *
 * The request starts %KC_REQ_OWNED with one reference, the I/O reference,
 * which kc_request_complete() drops. &kc_request.id is left to the caller.
 *
 * Context: any context.
 */
void kc_request_init(struct kc_request *req, struct kc_queue *q,
		     const struct kc_request_ops *ops)
{
	atomic_set(&req->state, KC_REQ_OWNED);
	kref_init(&req->ref);
	req->queue = q;
	req->ops = ops;
	req->cancel_fn = NULL;
	INIT_LIST_HEAD(&req->cancel_node);
	req->timer = NULL;
	init_completion(&req->done);
	req->status = 0;
	req->result = 0;
	kc_queue_get_active(q);
}
EXPORT_SYMBOL_GPL(kc_request_init);

/**
 * kc_request_canceled_bits() - the cancel bits of a state word
 * @old: the current state word.
 * @reason: the negative errno of this cancel.
 *
 * The reason travels in the same cmpxchg as the flag, so whoever sees the
 * flag sees the reason of the cancel that set it.
 *
 * Context: any context.
 * Return: %KC_REQ_F_CANCELED and a cancel reason: @old's if it has one (the
 * first cancel names it), else @reason.
 */
static unsigned int kc_request_canceled_bits(unsigned int old, int reason)
{
	if (old & KC_REQ_REASON_MASK)
		return KC_REQ_F_CANCELED | (old & KC_REQ_REASON_MASK);
	return KC_REQ_F_CANCELED |
	       (((unsigned int)-reason << KC_REQ_REASON_SHIFT) &
		KC_REQ_REASON_MASK);
}

/**
 * kc_request_mark_locked() - the body of both mark calls
 * @req: a request the driver owns (%KC_REQ_OWNED).
 * @fn: the cancel callback.
 * @ex: true for kc_request_mark_cancelable_ex(): leave an already cancelled
 *	request as it was instead of scheduling @fn.
 *
 * Runs under &kc_queue.lock so that a purge sees either the request on the
 * cancelable list or its own flag before the mark.
 *
 * Context: &kc_queue.lock held, interrupts disabled; may not sleep.
 * Return: 0 when the request became cancelable (or, without @ex, was
 * already cancelled and @fn is scheduled), -ECANCELED when it was already
 * cancelled (with @ex), -EINVAL on misuse.
 */
static int kc_request_mark_locked(struct kc_request *req, kc_cancel_fn fn,
				  bool ex)
{
	struct kc_queue *q = req->queue;
	unsigned int old = atomic_read(&req->state);
	unsigned int new;
	bool canceled;

	lockdep_assert_held(&q->lock);
	do {
		if ((old & KC_REQ_STATE_MASK) != KC_REQ_OWNED) {
			kc_request_report_misuse(req, "mark of a request the driver does not own");
			return -EINVAL;
		}
		canceled = (old & KC_REQ_F_CANCELED) || q->purging;
		if (!canceled)
			new = KC_REQ_CANCELABLE;
		else if (ex)
			new = old | kc_request_canceled_bits(old, q->purge_reason);
		else
			new = kc_request_canceled_bits(old, q->purge_reason) |
			      KC_REQ_CANCEL_PENDING;
		req->cancel_fn = fn;
	} while (!atomic_try_cmpxchg(&req->state, &old, new));

	if (!canceled) {
		/* A cancel that claims it now waits for q->lock to unlink it. */
		kc_request_get(req);
		list_add_tail(&req->cancel_node, &q->cancelable);
		return 0;
	}
	if (ex)
		return -ECANCELED;
	/* Deliver later, from a context that holds none of the caller's locks. */
	kc_request_get(req);
	kc_queue_get_active(q);
	if (list_empty(&q->deferred))
		queue_work(kc_cancel_wq, &q->deliver);
	list_add_tail(&req->cancel_node, &q->deferred);
	return 0;
}

/**
 * kc_request_mark_cancelable() - make a request cancelable (WdfRequestMarkCancelable)
 * @req: a request the driver owns (%KC_REQ_OWNED).
 * @fn: the cancel callback.
 *
 * If @req was already cancelled, or its queue is being purged, @fn is
 * scheduled: it runs soon from a workqueue, never inside this call, so the
 * caller may hold a lock that @fn takes. Either way the driver must now treat
 * @req as cancelable: unmark it before completing it.
 *
 * Context: any context; may not sleep.
 * Return: 0, or -EINVAL (with a warning) if the driver does not own @req,
 * for example because it is already cancelable.
 */
int kc_request_mark_cancelable(struct kc_request *req, kc_cancel_fn fn)
{
	struct kc_queue *q = req->queue;
	unsigned long flags;
	int ret;

	spin_lock_irqsave(&q->lock, flags);
	ret = kc_request_mark_locked(req, fn, false);
	spin_unlock_irqrestore(&q->lock, flags);
	trace_kcancel_mark(req, ret);
	return ret;
}
EXPORT_SYMBOL_GPL(kc_request_mark_cancelable);

/**
 * kc_request_mark_cancelable_ex() - mark cancelable unless cancelled (WdfRequestMarkCancelableEx)
 * @req: a request the driver owns (%KC_REQ_OWNED).
 * @fn: the cancel callback.
 *
 * Unlike kc_request_mark_cancelable(), an already cancelled request is left
 * as it was and @fn is never called: the caller completes @req itself. Use it
 * when the caller holds a lock that @fn takes.
 *
 * Context: any context; may not sleep.
 * Return: 0 if @req is now cancelable; -ECANCELED if it was already cancelled
 * (or its queue is being purged) and the caller still owns it; -EINVAL (with a
 * warning) if the driver does not own @req.
 */
int kc_request_mark_cancelable_ex(struct kc_request *req, kc_cancel_fn fn)
{
	struct kc_queue *q = req->queue;
	unsigned long flags;
	int ret;

	spin_lock_irqsave(&q->lock, flags);
	ret = kc_request_mark_locked(req, fn, true);
	spin_unlock_irqrestore(&q->lock, flags);
	trace_kcancel_mark(req, ret);
	return ret;
}
EXPORT_SYMBOL_GPL(kc_request_mark_cancelable_ex);

/**
 * kc_request_unlink() - take a claimed request off the cancelable list
 * @req: the request, which the caller just claimed.
 *
 * Context: any context; may not sleep. Takes &kc_queue.lock, which the caller
 * must not hold.
 */
static void kc_request_unlink(struct kc_request *req)
{
	struct kc_queue *q = req->queue;
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	list_del_init(&req->cancel_node);
	spin_unlock_irqrestore(&q->lock, flags);
}

/**
 * kc_request_unmark_cancelable() - take back a cancelable request (WdfRequestUnmarkCancelable)
 * @req: a request the driver marked cancelable.
 *
 * The DPC's side of the race: on 0 the cancel callback will never run for
 * this marking and the driver owns @req again; on -ECANCELED a cancel won,
 * the callback has run or will run, and the driver must not complete @req
 * (the callback, or whoever it hands @req to, does).
 *
 * Context: any context; may not sleep.
 * Return: 0, -ECANCELED (also once the cancel callback has completed @req:
 * a DPC that holds a reference may still ask), or -EINVAL (with a warning) if
 * @req is not cancelable: never marked, unmarked twice, or completed by the
 * driver. KMDF without its
 * verifier returns CANCELLED there, and a driver following the pattern then
 * never completes the request; kcancel refuses with a distinct error.
 */
int kc_request_unmark_cancelable(struct kc_request *req)
{
	unsigned int old = atomic_read(&req->state);
	int ret = 0;

	do {
		switch (old & KC_REQ_STATE_MASK) {
		case KC_REQ_CANCELABLE:
			break;
		case KC_REQ_CANCEL_PENDING:
		case KC_REQ_CANCEL_DELIVERED:
			ret = -ECANCELED;
			goto out;
		case KC_REQ_COMPLETED:
			ret = -ECANCELED;
			if (old & KC_REQ_F_DELIVERED)
				goto out;
			fallthrough;
		default:
			kc_request_report_misuse(req, "unmark of a request that is not cancelable");
			ret = -EINVAL;
			goto out;
		}
	} while (!atomic_try_cmpxchg(&req->state, &old,
				     (old & ~KC_REQ_STATE_MASK) | KC_REQ_OWNED));

	kc_request_unlink(req);
	kc_request_put(req);	/* the cancelable list's reference */
out:
	trace_kcancel_unmark(req, ret);
	return ret;
}
EXPORT_SYMBOL_GPL(kc_request_unmark_cancelable);

/**
 * kc_request_stop_timer() - disarm a request's timeout
 * @req: the request.
 *
 * The timer's references go with it unless it runs.
 *
 * Context: any context; does not wait for a running timer.
 */
static void kc_request_stop_timer(struct kc_request *req)
{
	if (req->timer && hrtimer_try_to_cancel(&req->timer->timer) == 1) {
		kc_queue_put_active(req->queue);
		kc_request_put(req);
	}
}

/**
 * __kc_request_complete() - the body of both completions
 * @req: the request.
 * @status: the completion status.
 * @result: the completion result.
 * @cancel_wins: let a cancel asked for first decide the status.
 *
 * With @cancel_wins, a cancel asked for before the state word turns
 * COMPLETED replaces @status with its reason: the same cmpxchg that completes
 * the request decides, so a kc_request_cancel() that returned true always
 * sees its reason in the final status.
 *
 * Context: any context; may not sleep.
 * Return: 0, or -EINVAL when refused.
 */
static int __kc_request_complete(struct kc_request *req, int status,
				 u64 result, bool cancel_wins)
{
	struct kc_queue *q = req->queue;
	unsigned int old = atomic_read(&req->state);

	do {
		switch (old & KC_REQ_STATE_MASK) {
		case KC_REQ_OWNED:
		case KC_REQ_CANCEL_DELIVERED:
			break;
		case KC_REQ_COMPLETED:
			kc_request_report_misuse(req, "second completion");
			return -EINVAL;
		default:
			kc_request_report_misuse(req, "completion while still cancelable");
			return -EINVAL;
		}
	} while (!atomic_try_cmpxchg(&req->state, &old,
				     (old & ~KC_REQ_STATE_MASK) |
				     KC_REQ_COMPLETED));

	if (cancel_wins && (old & KC_REQ_F_CANCELED)) {
		status = kc_request_cancel_reason(req);
		result = 0;
	}
	trace_kcancel_complete(req, old, status, result);
	kc_request_stop_timer(req);
	req->status = status;
	req->result = result;
	/* The owner's event is in place before any waiter wakes. */
	if (req->ops->completed)
		req->ops->completed(req);
	complete_all(&req->done);
	/* @q may go with the last reference: let go of it first. */
	kc_queue_put_active(q);
	kc_request_put(req);	/* the I/O reference */
	return 0;
}

/**
 * kc_request_complete() - complete a request, once (WdfRequestComplete)
 * @req: a request the driver owns, or whose cancel callback has been called.
 * @status: 0 or a negative errno (-ECANCELED, -ETIMEDOUT, ...).
 * @result: an operation-defined result.
 *
 * Sets the status and result, disarms the timeout, calls
 * &kc_request_ops.completed, wakes every waiter, lets go of the queue, and
 * drops the I/O reference: @req may be freed before this returns unless the
 * caller holds a reference of its own. The queue is let go of before the
 * last reference, so a queue may live in an object that the last request's
 * release frees.
 *
 * Refused with a warning: a second completion; completing a request still
 * cancelable (unmark it first); completing a request whose cancel won but
 * whose callback has not run yet (let the callback complete it).
 *
 * Context: any context; may not sleep.
 * Return: 0, or -EINVAL when refused.
 */
int kc_request_complete(struct kc_request *req, int status, u64 result)
{
	return __kc_request_complete(req, status, result, false);
}
EXPORT_SYMBOL_GPL(kc_request_complete);

/**
 * kc_request_finish() - complete a request, unless a cancel was asked for first
 * @req: as for kc_request_complete().
 * @status: the status the I/O ended with.
 * @result: its result.
 *
 * For a request the driver owns while the hardware runs it (a sent request):
 * completes it with @status and @result, or, if kc_request_cancel() was
 * called on it before this completion, with the cancel's reason and a result
 * of 0. The choice is made atomically with the completion, so the caller of
 * kc_request_cancel() knows the outcome from its return value.
 *
 * Context: any context; may not sleep.
 * Return: 0, or -EINVAL when refused (see kc_request_complete()).
 */
int kc_request_finish(struct kc_request *req, int status, u64 result)
{
	return __kc_request_complete(req, status, result, true);
}
EXPORT_SYMBOL_GPL(kc_request_finish);

/**
 * kc_request_cancel() - ask for a request to be cancelled
 * @req: the request; the caller holds a reference.
 * @reason: the negative errno the request should complete with, for example
 *	-ECANCELED (cancel ioctl, close), -ETIMEDOUT, -ENODEV (removal).
 *
 * The framework's side, used by every cancel source. Records the cancel; if
 * @req is cancelable, claims it and calls its cancel callback before
 * returning. A request that is not cancelable now is seen as cancelled when
 * next marked, and cannot be sent to a target (target.h).
 *
 * Context: any context, hard IRQ included except on PREEMPT_RT (the queue's
 * locks are spinlock_t, which sleep there); may not sleep. The caller must
 * not hold a lock that the cancel callback takes, nor the queue's sync lock,
 * and must keep the queue alive across the call.
 * Return: true if this call asked for the cancel; false if one was already
 * asked for or @req has completed.
 */
bool kc_request_cancel(struct kc_request *req, int reason)
{
	struct kc_queue *q = req->queue;
	unsigned int old = atomic_read(&req->state);
	unsigned int new;

	if (reason >= 0 || reason < -KC_REQ_REASON_MAX) {
		kc_request_report_misuse(req, "cancel reason is not a negative errno");
		reason = -ECANCELED;
	}
	do {
		if ((old & KC_REQ_F_CANCELED) ||
		    (old & KC_REQ_STATE_MASK) == KC_REQ_COMPLETED) {
			trace_kcancel_cancel(req, reason, KC_CANCEL_LATE);
			return false;
		}
		new = old | kc_request_canceled_bits(old, reason);
		if ((old & KC_REQ_STATE_MASK) == KC_REQ_CANCELABLE)
			new = kc_request_canceled_bits(old, reason) |
			      KC_REQ_CANCEL_PENDING;
	} while (!atomic_try_cmpxchg(&req->state, &old, new));

	if ((old & KC_REQ_STATE_MASK) != KC_REQ_CANCELABLE) {
		trace_kcancel_cancel(req, reason, KC_CANCEL_RECORDED);
		return true;
	}
	trace_kcancel_cancel(req, reason, KC_CANCEL_CLAIMED);

	/* Claimed: the queue stays busy until the callback has returned. */
	kc_queue_get_active(q);
	kc_request_unlink(req);
	kc_request_deliver_cancel(req);
	kc_request_put(req);	/* the cancelable list's reference */
	kc_queue_put_active(q);
	return true;
}
EXPORT_SYMBOL_GPL(kc_request_cancel);

/**
 * kc_request_start_timer_fn() - run a timeout on a request after a delay
 * @req: a request the caller owns and has not completed.
 * @t: the timer's storage, which kcancel initialises; it must live as long
 *	as @req.
 * @timeout_ns: the delay, in nanoseconds.
 * @fn: what the timeout does, or NULL for kc_request_cancel(@req,
 *	-ETIMEDOUT); see &typedef kc_timeout_fn.
 *
 * The timer is a soft hrtimer: it fires in the hrtimer softirq, on every
 * kernel as on PREEMPT_RT, so that the cancel, its callback and the
 * completion it makes run out of hard IRQ context. It holds a reference to
 * @req and keeps its queue busy until @fn returns.
 * Completion disarms it. A request has one timer: a second call is refused
 * with a warning.
 *
 * Context: any context.
 */
void kc_request_start_timer_fn(struct kc_request *req,
			       struct kc_request_timer *t, u64 timeout_ns,
			       kc_timeout_fn fn)
{
	if (req->timer) {
		kc_request_report_misuse(req, "second timer");
		return;
	}
	hrtimer_init(&t->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
	t->timer.function = kc_request_timer_fn;
	t->req = req;
	t->fn = fn;
	kc_request_get(req);
	kc_queue_get_active(req->queue);
	req->timer = t;
	hrtimer_start(&t->timer, ns_to_ktime(timeout_ns), HRTIMER_MODE_REL_SOFT);
}
EXPORT_SYMBOL_GPL(kc_request_start_timer_fn);

/**
 * kc_request_start_timer() - cancel a request with -ETIMEDOUT after a delay
 * @req: a request the caller owns and has not completed.
 * @t: the timer's storage, as for kc_request_start_timer_fn().
 * @timeout_ns: the delay, in nanoseconds.
 *
 * When the timer fires it calls kc_request_cancel(@req, -ETIMEDOUT) from the
 * hrtimer softirq. Completion disarms it.
 *
 * Context: any context.
 */
void kc_request_start_timer(struct kc_request *req, struct kc_request_timer *t,
			    u64 timeout_ns)
{
	kc_request_start_timer_fn(req, t, timeout_ns, NULL);
}
EXPORT_SYMBOL_GPL(kc_request_start_timer);

/**
 * kc_request_wait() - wait for a request to complete
 * @req: the request; the caller holds a reference.
 * @timeout: the longest wait, in jiffies, or MAX_SCHEDULE_TIMEOUT.
 *
 * The wait is killable, never uninterruptible: on a fatal signal it returns
 * and the caller decides what becomes of @req (usually: cancel it).
 *
 * Context: process context; sleeps.
 * Return: 0 once @req has completed (its status is then in
 * &kc_request.status), -ETIMEDOUT, or -ERESTARTSYS on a fatal signal.
 */
int kc_request_wait(struct kc_request *req, long timeout)
{
	long ret = wait_for_completion_killable_timeout(&req->done, timeout);

	if (ret < 0)
		return ret;
	return ret ? 0 : -ETIMEDOUT;
}
EXPORT_SYMBOL_GPL(kc_request_wait);

/**
 * kc_queue_claim_all() - claim every cancelable request of a queue
 * @q: the queue.
 * @reason: the cancel reason given to the requests.
 * @claimed: the list the claimed requests are moved onto.
 *
 * Claim every cancelable request of @q onto @claimed.
 *
 * Context: &kc_queue.lock held, interrupts disabled; may not sleep.
 */
static void kc_queue_claim_all(struct kc_queue *q, int reason,
			       struct list_head *claimed)
{
	struct kc_request *req, *tmp;
	unsigned int old;

	lockdep_assert_held(&q->lock);
	list_for_each_entry_safe(req, tmp, &q->cancelable, cancel_node) {
		old = KC_REQ_CANCELABLE;
		if (!atomic_try_cmpxchg(&req->state, &old,
					kc_request_canceled_bits(old, reason) |
					KC_REQ_CANCEL_PENDING))
			continue;	/* its winner unlinks it after q->lock */
		list_move_tail(&req->cancel_node, claimed);
	}
}

/**
 * kc_queue_purge() - cancel every cancelable request and wait for all (WdfIoQueuePurge)
 * @q: the queue.
 * @reason: the cancel reason given to the requests, for example -ENODEV.
 *
 * Every request on the cancelable list gets its cancel callback; a request
 * marked from now on counts as cancelled (until kc_queue_resume()). Then
 * waits until every request bound to @q has completed and every cancel
 * delivery and timer of @q has finished: no cancel callback, timeout or
 * completion runs for @q after this returns. The last reference of a
 * request may still be dropped just after (a timer or a delivery lets go of
 * @q first), so &kc_request_ops.release must not need @q. Requests the
 * driver owns are not cancelled here; the driver completes them (or cancels
 * them through their target) for this to return.
 *
 * Context: process context; sleeps. Must not be called from a cancel
 * callback or a DPC of @q.
 */
void kc_queue_purge(struct kc_queue *q, int reason)
{
	struct kc_request *req, *tmp;
	unsigned long flags;
	LIST_HEAD(claimed);

	might_sleep();
	spin_lock_irqsave(&q->lock, flags);
	q->purge_reason = reason;
	q->purging = true;
	kc_queue_claim_all(q, reason, &claimed);
	spin_unlock_irqrestore(&q->lock, flags);

	list_for_each_entry_safe(req, tmp, &claimed, cancel_node) {
		list_del_init(&req->cancel_node);
		kc_request_deliver_cancel(req);
		kc_request_put(req);	/* the cancelable list's reference */
	}
	wait_var_event(&q->active, !atomic_read(&q->active));
}
EXPORT_SYMBOL_GPL(kc_queue_purge);

/**
 * kc_queue_resume() - accept cancelable requests again after a purge (WdfIoQueueStart)
 * @q: the queue.
 *
 * Context: any context.
 */
void kc_queue_resume(struct kc_queue *q)
{
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	q->purging = false;
	q->purge_reason = 0;
	spin_unlock_irqrestore(&q->lock, flags);
}
EXPORT_SYMBOL_GPL(kc_queue_resume);

/**
 * kc_request_core_init() - set up the request core
 *
 * Context: process context, at module load.
 * Return: 0 or -ENOMEM.
 */
int kc_request_core_init(void)
{
	kc_cancel_wq = alloc_workqueue("kcancel", 0, 0);
	return kc_cancel_wq ? 0 : -ENOMEM;
}

/**
 * kc_request_core_exit() - tear down the request core
 *
 * Every queue must have been purged: this waits for deferred deliveries.
 *
 * Context: process context, at module unload.
 */
void kc_request_core_exit(void)
{
	destroy_workqueue(kc_cancel_wq);
}
