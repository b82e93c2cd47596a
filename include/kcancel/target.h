/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kcancel targets: requests forwarded to a lower device, and their cancel.
 *
 * DOC: Overview
 *
 * A &struct kc_target is what KMDF calls an I/O target, with the collection of
 * sent requests that "Synchronizing Cancellation of Sent Requests" asks the
 * driver to keep. kc_target_send() puts a request in the collection (an
 * xarray keyed by &kc_request.id, so a look-up stays cheap with 100k requests
 * in flight) with a reference; the lower device's end of the I/O calls
 * kc_target_io_done(); the completion routine then takes the request out of
 * the collection under its lock and completes it outside the lock.
 *
 * A cancel finds the request by id under the collection lock, takes a
 * reference with kref_get_unless_zero(), drops the lock, asks the target to
 * cancel (kc_target_cancel_sent(), WdfRequestCancelSentRequest), then drops
 * its reference. The completion routine may run inside that call, so no lock
 * is held across it.
 *
 * Who completes is decided by &kc_target_io.count, as in KMDF: it is 1
 * while the request is in flight; a cancel raises it only if it is not zero;
 * kc_target_io_done() and the cancel each lower it, and whoever brings it to
 * zero runs the completion routine.
 *
 * The collection lock is the xarray's own (taken with interrupts disabled);
 * its place in kcancel's lock order is written in &struct kc_queue's
 * kernel-doc (request.h).
 */
#ifndef _KCANCEL_TARGET_H
#define _KCANCEL_TARGET_H

#include <linux/xarray.h>

#include <kcancel/request.h>

struct kc_target;

/**
 * struct kc_target_io - a request's passage through a target
 * @req: the request; set by kc_target_io_init().
 * @count: who runs the completion routine: 1 while the request is in
 *	flight, raised by a cancel only if it is not zero; whoever brings it to
 *	zero runs the routine.
 * @status: the status the lower device finished the I/O with.
 *
 * What the target keeps of a request it was sent, owned by target.c: the
 * driver embeds it in its per-request structure, next to the request, and
 * hands it to every kc_target_*() call for that request. It is valid as
 * long as the request is: a reference on the request keeps both.
 */
struct kc_target_io {
	struct kc_request *req;
	atomic_t count;
	int status;
};

/**
 * struct kc_target_ops - the lower device's side of a target
 * @cancel: optional; asks the lower device to abort @req. It may finish the
 *	I/O (call kc_target_io_done()) before returning, or later, or never
 *	abort at all (the edu device cannot): the I/O then ends normally.
 * @completion: the completion routine (CompletionRoutine): called once per
 *	send, after @req has left the collection, with the status passed to
 *	kc_target_io_done(); normally completes @req. kc_request_is_canceled()
 *	tells whether a cancel was asked for.
 *
 * Context: both are called in any context and may not sleep, with no
 * kcancel lock held but, for @completion called from a DPC run through
 * kc_queue_synchronize() in %KC_SYNC_AUTOMATIC mode, that queue's sync lock
 * (KMDF runs a CompletionRoutine under no framework lock: keep @completion
 * free of the sync lock and of anything that waits for the DPC).
 */
struct kc_target_ops {
	void (*cancel)(struct kc_target *t, struct kc_request *req);
	void (*completion)(struct kc_target *t, struct kc_request *req,
			   int status);
};

/**
 * struct kc_target - an I/O target and its collection of sent requests
 * @sent: the collection: &kc_request.id -> &struct kc_target_io, each
 *	holding a reference on its request; its xa_lock is the collection lock.
 * @ops: the lower device's operations.
 * @busy: sent requests whose completion routine has not returned yet;
 *	kc_target_drain() waits for zero.
 */
struct kc_target {
	struct xarray sent;
	const struct kc_target_ops *ops;
	atomic_t busy;
};

void kc_target_init(struct kc_target *t, const struct kc_target_ops *ops);
void kc_target_io_init(struct kc_target_io *tio, struct kc_request *req);
int kc_target_reserve(struct kc_target *t, struct kc_target_io *tio,
		      gfp_t gfp);
void kc_target_unreserve(struct kc_target *t, struct kc_target_io *tio);
int kc_target_send(struct kc_target *t, struct kc_target_io *tio, gfp_t gfp);
void kc_target_io_done(struct kc_target *t, struct kc_target_io *tio,
		       int status);
bool kc_target_abort_sent(struct kc_target *t, struct kc_target_io *tio);
bool kc_target_cancel_sent(struct kc_target *t, struct kc_target_io *tio,
			   int reason);
int kc_target_cancel_id(struct kc_target *t, u64 id, int reason);
struct kc_request *kc_target_lookup(struct kc_target *t, u64 id);
void kc_target_cancel_all(struct kc_target *t, int reason);
void kc_target_drain(struct kc_target *t);
bool kc_target_is_empty(struct kc_target *t);
void kc_target_destroy(struct kc_target *t);

#endif /* _KCANCEL_TARGET_H */
