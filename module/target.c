// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel targets: the collection of sent requests and their cancel.
 *
 * DOC: Cancel before send
 *
 * kc_target_cancel_sent() records the cancel on the request (kc_request_cancel()
 * sets %KC_REQ_F_CANCELED with a full barrier) before it takes the collection
 * lock; kc_target_send() tests that flag under the same lock before it inserts.
 * Whichever critical section comes second sees the other's work: either the
 * send fails with -ECANCELED, or the cancel finds the request in flight.
 */
#include <linux/errno.h>
#include <linux/gfp.h>
#include <linux/sched.h>
#include <linux/export.h>
#include <linux/wait_bit.h>

#include <kcancel/target.h>

/**
 * kc_target_init() - initialise a target with an empty collection
 * @t: the target.
 * @ops: the lower device's operations; @ops->completion is required.
 *
 * Context: any context.
 */
void kc_target_init(struct kc_target *t, const struct kc_target_ops *ops)
{
	xa_init_flags(&t->sent, XA_FLAGS_LOCK_IRQ);
	t->ops = ops;
	atomic_set(&t->busy, 0);
}
EXPORT_SYMBOL_GPL(kc_target_init);

/**
 * kc_target_io_init() - bind a request's target record to the request
 * @tio: the record, embedded next to @req.
 * @req: the request.
 *
 * Once, before @tio is used: at the request's initialisation.
 *
 * Context: any context.
 */
void kc_target_io_init(struct kc_target_io *tio, struct kc_request *req)
{
	tio->req = req;
	atomic_set(&tio->count, 0);
	tio->status = 0;
}
EXPORT_SYMBOL_GPL(kc_target_io_init);

/**
 * kc_target_insert_locked() - insert a request unless it was cancelled
 * @t: the target.
 * @tio: the request to insert into the collection.
 * @gfp: allocation flags; may not block: they only matter when no slot was
 *	reserved.
 *
 * Insert the request unless it was cancelled, under the collection lock. On failure,
 * give back the slot kc_target_send() or kc_target_reserve() reserved, still
 * under the lock: it is taken in hard IRQ context, so xa_release() (irqs on)
 * would be wrong here.
 *
 * Context: the collection lock (the xa_lock of &kc_target.sent) held,
 * interrupts disabled; may not sleep.
 * Return: 0; -ECANCELED if a cancel was asked for; -EEXIST if the id is in
 * flight; or the error of the store (-ENOMEM).
 */
static int kc_target_insert_locked(struct kc_target *t,
				   struct kc_target_io *tio, gfp_t gfp)
{
	struct kc_request *req = tio->req;
	int ret = 0;

	lockdep_assert_held(&t->sent.xa_lock);
	if (kc_request_is_canceled(req))
		ret = -ECANCELED;
	else if (xa_load(&t->sent, req->id))
		ret = -EEXIST;
	else
		/* Allocates nothing if the slot is reserved. */
		ret = xa_err(__xa_store(&t->sent, req->id, tio, gfp));
	if (ret) {
		__xa_cmpxchg(&t->sent, req->id, XA_ZERO_ENTRY, NULL, 0);
		return ret;
	}
	kc_request_get(req);	/* the collection's reference */
	atomic_set(&tio->count, 1);
	atomic_inc(&t->busy);
	return 0;
}

/**
 * kc_target_reserve() - reserve a request's place in the collection
 * @t: the target.
 * @tio: a request's record; the request's &kc_request.id is set.
 * @gfp: allocation flags.
 *
 * Lets a later kc_target_send() in atomic context allocate nothing. A
 * reservation that is not used must be given back with kc_target_unreserve();
 * a failed send gives it back itself.
 *
 * Context: interrupts enabled (takes the collection lock with spin_lock_irq());
 * sleeps if @gfp allows.
 * Return: 0, -ERANGE if the id does not fit an xarray index, or -ENOMEM.
 */
int kc_target_reserve(struct kc_target *t, struct kc_target_io *tio,
		      gfp_t gfp)
{
	u64 id = tio->req->id;

	if ((unsigned long)id != id)
		return -ERANGE;
	return xa_reserve_irq(&t->sent, id, gfp);
}
EXPORT_SYMBOL_GPL(kc_target_reserve);

/**
 * kc_target_unreserve() - give back an unused reservation
 * @t: the target.
 * @tio: the request's record; nothing happens unless its place is only
 *	reserved.
 *
 * Context: any context.
 */
void kc_target_unreserve(struct kc_target *t, struct kc_target_io *tio)
{
	u64 id = tio->req->id;
	unsigned long flags;

	if ((unsigned long)id != id)
		return;
	xa_lock_irqsave(&t->sent, flags);
	__xa_cmpxchg(&t->sent, id, XA_ZERO_ENTRY, NULL, 0);
	xa_unlock_irqrestore(&t->sent, flags);
}
EXPORT_SYMBOL_GPL(kc_target_unreserve);

/**
 * kc_target_send() - put a request in the collection of sent requests
 * @t: the target.
 * @tio: the record of a request the driver owns (kc_target_io_init());
 *	its &kc_request.id must be unique in @t.
 * @gfp: allocation flags for the collection's slot.
 *
 * Registers the request as in flight; the caller starts the I/O afterwards (the
 * device may finish it before the caller returns), and the end of the I/O,
 * successful or not, must call kc_target_io_done() exactly once.
 *
 * Context: with a @gfp that may block, interrupts enabled (the slot is
 * reserved with spin_lock_irq() first) and may sleep; with GFP_ATOMIC or
 * GFP_NOWAIT, any context (nothing is allocated if kc_target_reserve()
 * reserved the slot).
 * Return: 0; -ECANCELED if a cancel was asked for before the send (the
 * caller still owns the request and completes it); -EEXIST if the id is in flight;
 * -ERANGE if the id does not fit an xarray index; -ENOMEM.
 */
int kc_target_send(struct kc_target *t, struct kc_target_io *tio, gfp_t gfp)
{
	u64 id = tio->req->id;
	unsigned long flags;
	int ret;

	if ((unsigned long)id != id)
		return -ERANGE;
	if (gfpflags_allow_blocking(gfp)) {
		ret = xa_reserve_irq(&t->sent, id, gfp);
		if (ret)
			return ret;
		gfp = GFP_NOWAIT;
	}
	xa_lock_irqsave(&t->sent, flags);
	ret = kc_target_insert_locked(t, tio, gfp);
	xa_unlock_irqrestore(&t->sent, flags);
	return ret;
}
EXPORT_SYMBOL_GPL(kc_target_send);

/**
 * kc_target_finish() - the completion routine's frame
 * @t: the target.
 * @tio: the record of the sent request whose I/O and cancels are all done.
 *
 * Leave the collection, then complete: calls &kc_target_ops.completion and
 * drops the collection's reference.
 *
 * Context: any context; may not sleep. Takes the collection lock, which the
 * caller must not hold.
 */
static void kc_target_finish(struct kc_target *t, struct kc_target_io *tio)
{
	struct kc_request *req = tio->req;
	unsigned long flags;

	xa_lock_irqsave(&t->sent, flags);
	__xa_erase(&t->sent, req->id);
	xa_unlock_irqrestore(&t->sent, flags);

	t->ops->completion(t, req, tio->status);
	kc_request_put(req);	/* the collection's reference */
	/* wake_up_var() only hashes the address: @t may be gone already. */
	if (atomic_dec_and_test(&t->busy))
		wake_up_var(&t->busy);
}

/**
 * kc_target_io_done() - the lower device finished a sent request
 * @t: the target.
 * @tio: the record of the request, sent to @t.
 * @status: how the I/O ended: 0 or a negative errno.
 *
 * Runs the completion routine now, unless a cancel is in progress on the
 * request: then the cancel runs it when it is done with the request.
 *
 * Context: any context; may not sleep. No kcancel lock held but the sync
 * lock of a synchronized DPC (see &struct kc_target_ops).
 */
void kc_target_io_done(struct kc_target *t, struct kc_target_io *tio,
		       int status)
{
	tio->status = status;
	/* Fully ordered: whoever reaches zero sees the status. */
	if (atomic_dec_and_test(&tio->count))
		kc_target_finish(t, tio);
}
EXPORT_SYMBOL_GPL(kc_target_io_done);

/**
 * kc_target_abort_sent() - ask the lower device to abort a cancelled request
 * @t: the target.
 * @tio: the request's record; kc_request_cancel() has recorded the cancel
 *	already, and the caller holds a reference on the request, which keeps
 *	it and @tio valid even if its completion routine runs meanwhile.
 *
 * The second half of kc_target_cancel_sent(), for a caller that cancels
 * the request wherever it is and has a pointer to it: no look-up. If it is in
 * flight, asks the lower device to abort it; the completion routine may run
 * inside this call, on this thread.
 *
 * Context: any context, hard IRQ included except on PREEMPT_RT; may not
 * sleep. The caller must not hold the collection lock, a queue's sync lock,
 * or any lock the completion routine takes.
 * Return: true if the request was in flight; false if it was not: already
 * completed, or not sent yet (a send that comes now fails with -ECANCELED).
 */
bool kc_target_abort_sent(struct kc_target *t, struct kc_target_io *tio)
{
	unsigned long flags;
	bool in_flight;

	xa_lock_irqsave(&t->sent, flags);
	in_flight = atomic_inc_not_zero(&tio->count);
	xa_unlock_irqrestore(&t->sent, flags);
	if (!in_flight)
		return false;

	if (t->ops->cancel)
		t->ops->cancel(t, tio->req);
	if (atomic_dec_and_test(&tio->count))
		kc_target_finish(t, tio);
	return true;
}
EXPORT_SYMBOL_GPL(kc_target_abort_sent);

/**
 * kc_target_cancel_sent() - cancel a request sent to a target (WdfRequestCancelSentRequest)
 * @t: the target.
 * @tio: the request's record; the caller holds a reference on the request,
 *	which keeps it and @tio valid even if its completion routine runs
 *	meanwhile.
 * @reason: the cancel reason recorded on the request (see
 *	kc_request_cancel()).
 *
 * Records the cancel on the request, so that a send that has not happened
 * yet fails with -ECANCELED, then kc_target_abort_sent(): if it is in
 * flight, asks the lower device to abort it; the completion routine may run
 * inside this call, on this thread.
 *
 * Context: as kc_request_cancel(), which it calls: any context, hard IRQ
 * included except on PREEMPT_RT; may not sleep. The caller must not hold
 * the collection lock, a queue's sync lock, or any lock the completion
 * routine takes.
 * Return: true if the request was in flight (the lower device was asked to
 * cancel it, if it has a cancel operation); false if it was not: already
 * completed, or not sent yet.
 */
bool kc_target_cancel_sent(struct kc_target *t, struct kc_target_io *tio,
			   int reason)
{
	kc_request_cancel(tio->req, reason);
	return kc_target_abort_sent(t, tio);
}
EXPORT_SYMBOL_GPL(kc_target_cancel_sent);

/**
 * kc_target_find() - find a sent request's record by id, with a reference
 * @t: the target.
 * @id: the request's &kc_request.id.
 *
 * The look-up and kref_get_unless_zero() happen under the collection lock,
 * so the request cannot be freed in between.
 *
 * Context: any context.
 * Return: the request's record, with a reference on the request that the
 * caller drops with kc_request_put(), or NULL if no request with @id is in
 * the collection.
 */
static struct kc_target_io *kc_target_find(struct kc_target *t, u64 id)
{
	struct kc_target_io *tio;
	unsigned long flags;

	if ((unsigned long)id != id)
		return NULL;
	xa_lock_irqsave(&t->sent, flags);
	tio = xa_load(&t->sent, id);
	if (tio && !kref_get_unless_zero(&tio->req->ref))
		tio = NULL;
	xa_unlock_irqrestore(&t->sent, flags);
	return tio;
}

/**
 * kc_target_lookup() - find a sent request by id and take a reference
 * @t: the target.
 * @id: the request's &kc_request.id.
 *
 * Context: any context.
 * Return: the request, with a reference the caller drops with
 * kc_request_put(), or NULL if no request with @id is in the collection.
 */
struct kc_request *kc_target_lookup(struct kc_target *t, u64 id)
{
	struct kc_target_io *tio = kc_target_find(t, id);

	return tio ? tio->req : NULL;
}
EXPORT_SYMBOL_GPL(kc_target_lookup);

/**
 * kc_target_cancel_id() - cancel a sent request by id
 * @t: the target.
 * @id: the request's &kc_request.id.
 * @reason: the cancel reason (see kc_request_cancel()).
 *
 * The seeds' sequence: lock, find, reference, unlock, cancel, dereference.
 *
 * Context: any context; may not sleep; no kcancel lock held.
 * Return: 0 if the request was in flight and the lower device was asked to
 * cancel it; -ENOENT if no request with @id is in the collection (its
 * completion routine already took it out); -EALREADY if it was found but its
 * completion had already begun.
 */
int kc_target_cancel_id(struct kc_target *t, u64 id, int reason)
{
	struct kc_target_io *tio = kc_target_find(t, id);
	struct kc_request *req;
	bool in_flight;

	if (!tio)
		return -ENOENT;
	req = tio->req;
	in_flight = kc_target_cancel_sent(t, tio, reason);
	kc_request_put(req);
	return in_flight ? 0 : -EALREADY;
}
EXPORT_SYMBOL_GPL(kc_target_cancel_id);

/**
 * kc_target_cancel_all() - cancel every request in flight
 * @t: the target.
 * @reason: the cancel reason (see kc_request_cancel()).
 *
 * kc_target_cancel_id() for each request in the collection, for removal.
 * Requests sent meanwhile may be missed: stop the senders first.
 *
 * Context: process context; no kcancel lock held.
 */
void kc_target_cancel_all(struct kc_target *t, int reason)
{
	struct kc_target_io *tio;
	unsigned long id;

	xa_for_each(&t->sent, id, tio) {
		kc_target_cancel_id(t, id, reason);
		cond_resched();
	}
}
EXPORT_SYMBOL_GPL(kc_target_cancel_all);

/**
 * kc_target_drain() - wait until no request of the target is in flight
 * @t: the target.
 *
 * Waits for every completion routine of @t to return. It does not cancel
 * anything: cancel first what must not be waited for. Stop the cancel sources
 * first as well: a cancel that found a request before the drain returned still
 * takes the collection lock afterwards.
 *
 * Context: process context; sleeps.
 */
void kc_target_drain(struct kc_target *t)
{
	wait_var_event(&t->busy, !atomic_read(&t->busy));
}
EXPORT_SYMBOL_GPL(kc_target_drain);

/**
 * kc_target_is_empty() - whether the collection holds nothing
 * @t: the target.
 *
 * Not xa_empty(): a store or a reservation that ran out of memory half-way
 * leaves behind the nodes it had already linked, and the array is then not
 * empty although it holds nothing.
 *
 * Context: any context.
 * Return: true if no request is in the collection and no place is reserved.
 */
bool kc_target_is_empty(struct kc_target *t)
{
	XA_STATE(xas, &t->sent, 0);
	unsigned long flags;
	void *entry;

	/* Under the lock, no retry entry; a reservation counts. */
	xas_lock_irqsave(&xas, flags);
	entry = xas_find(&xas, ULONG_MAX);
	xas_unlock_irqrestore(&xas, flags);
	return !entry;
}
EXPORT_SYMBOL_GPL(kc_target_is_empty);

/**
 * kc_target_destroy() - free the collection of a drained target
 * @t: the target, drained, with no cancel source left that could look in.
 *
 * Context: any context.
 */
void kc_target_destroy(struct kc_target *t)
{
	WARN_ON(!kc_target_is_empty(t));
	xa_destroy(&t->sent);
}
EXPORT_SYMBOL_GPL(kc_target_destroy);
