// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel devices: software queues, hardware slots, dispatch and the DPC.
 *
 * DOC: Life of a request
 *
 * kc_dev_prepare() gives the request its id and binds it to the device's
 * queue; kc_dev_queue() puts it on its channel's software queue, marked
 * cancelable, and runs the dispatcher in the same critical section under
 * &kc_dev.lock. A batch does each of the two for many requests at once:
 * kc_dev_reserve() for each, then kc_dev_bind() and kc_dev_queue_many(), one
 * critical section each. The dispatcher (kc_dev_dispatch_locked()) moves queued
 * requests to free slots and starts them, send and start together. When a
 * slot's status bit reaches kc_dev_dpc(), the DPC takes the slot, the
 * backend fetches the result, the slot is freed (and the dispatcher starts
 * what waits, in the same critical section), and the request is finished:
 * through the target's completion routine for a sent request, or, for a
 * doorbell, by the DPC itself if unmarking it returned 0.
 */
#include <linux/bitops.h>
#include <linux/errno.h>
#include <linux/export.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/wait_bit.h>
#include <kunit/visibility.h>

#include <kcancel/dev.h>

#include "trace.h"

static bool driver_sync;
module_param(driver_sync, bool, 0444);
MODULE_PARM_DESC(driver_sync,
		 "Devices created from now on synchronize their cancel callbacks and DPC themselves (KC_SYNC_DRIVER) instead of under the queue's sync lock (default N)");

/* The channel of each operation. */
static const enum kc_chan kc_op_chan[KCANCEL_OP_MAX + 1] = {
	[KCANCEL_OP_FACTORIAL] = KC_CHAN_FACT,
	[KCANCEL_OP_DMA_TO_DEV] = KC_CHAN_DMA,
	[KCANCEL_OP_DMA_FROM_DEV] = KC_CHAN_DMA,
	[KCANCEL_OP_DOORBELL] = KC_CHAN_BELL,
};

/**
 * kc_dev_factorial() - n!, as the devices compute it
 * @n: at most %KCANCEL_FACTORIAL_MAX.
 *
 * Context: any context.
 * Return: @n factorial.
 */
u64 kc_dev_factorial(unsigned int n)
{
	u64 f = 1;

	while (n > 1)
		f *= n--;
	return f;
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_factorial);

static void kc_dev_sent_cancel(struct kc_target *t, struct kc_request *req);
static void kc_dev_dpc_taken(struct kc_dev *kd, u64 taken);
static void kc_dev_sent_done(struct kc_target *t, struct kc_request *req,
			     int status);

static const struct kc_target_ops kc_dev_target_ops = {
	.cancel = kc_dev_sent_cancel,
	.completion = kc_dev_sent_done,
};

/**
 * kc_dev_create() - create a device
 * @ops: the backend's operations.
 * @priv: the backend's data.
 * @backend: which backend it is.
 * @chan_slots: the slots of each channel; the sets must not overlap.
 * @dma_size: how much of its memory DMA may reach, at most
 *	%KCANCEL_DMA_SIZE.
 * @mode: how cancel callbacks and the DPC are serialized, unless the module
 *	parameter driver_sync forces %KC_SYNC_DRIVER.
 *
 * The caller holds the one reference, dropped with kc_dev_put() after
 * kc_dev_shutdown().
 *
 * Context: process context.
 * Return: the device, or NULL if out of memory.
 */
struct kc_dev *kc_dev_create(const struct kc_dev_ops *ops, void *priv,
			     enum kcancel_backend backend,
			     const u64 chan_slots[KC_CHAN_NR], u32 dma_size,
			     enum kc_sync_mode mode)
{
	struct kc_dev *kd = kzalloc(sizeof(*kd), GFP_KERNEL);
	int c;

	if (!kd)
		return NULL;
	kd->stats = alloc_percpu(struct kc_dev_stats);
	if (!kd->stats) {
		kfree(kd);
		return NULL;
	}
	kref_init(&kd->ref);
	kd->ops = ops;
	kd->priv = priv;
	kd->backend = backend;
	kd->dma_size = min_t(u32, dma_size, KCANCEL_DMA_SIZE);
	kc_queue_init(&kd->queue, driver_sync ? KC_SYNC_DRIVER : mode);
	kc_target_init(&kd->target, &kc_dev_target_ops);
	spin_lock_init(&kd->lock);
	mutex_init(&kd->fail_lock);
	for (c = 0; c < KC_CHAN_NR; c++) {
		INIT_LIST_HEAD(&kd->pending[c]);
		kd->chan_slots[c] = chan_slots[c];
	}
	kd->op_timeout = KC_DEV_OP_MARGIN;
	atomic64_set(&kd->spurious, 0);
	atomic64_set(&kd->forced, 0);
	atomic64_set(&kd->next_id, 0);
	kc_handoff_init(&kd->handoff);
	kc_chardev_init(&kd->chardev);
	return kd;
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_create);

/**
 * kc_dev_release() - free a device whose last reference went
 * @ref: &kc_dev.ref.
 *
 * Destroys the target's collection and frees the per-CPU counters and the
 * device.
 *
 * Context: any context, that of the last kc_dev_put().
 */
static void kc_dev_release(struct kref *ref)
{
	struct kc_dev *kd = container_of(ref, struct kc_dev, ref);

	kc_target_destroy(&kd->target);
	free_percpu(kd->stats);
	kfree(kd);
}

/**
 * kc_dev_put() - drop a reference to a device
 * @kd: the device.
 *
 * The last reference frees it: the backend's, after kc_dev_shutdown(), or
 * that of an open file or of a request's release.
 *
 * Context: any context.
 */
void kc_dev_put(struct kc_dev *kd)
{
	kref_put(&kd->ref, kc_dev_release);
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_put);

/**
 * kc_dev_doorbells() - how many doorbell requests a device runs at once
 * @kd: the device.
 *
 * Context: any context.
 * Return: the number of doorbell slots.
 */
unsigned int kc_dev_doorbells(const struct kc_dev *kd)
{
	return hweight64(kd->chan_slots[KC_CHAN_BELL]);
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_doorbells);

/**
 * kc_dev_check_io() - validate an operation before it is prepared
 * @kd: the device.
 * @io: the request's operation fields (@op, @arg, @len, @offset, @buf).
 *
 * Context: any context.
 * Return: 0, or -EINVAL if the operation is unknown or an argument is out of
 * range.
 */
int kc_dev_check_io(const struct kc_dev *kd, const struct kc_io *io)
{
	bool dma = io->op == KCANCEL_OP_DMA_TO_DEV ||
		   io->op == KCANCEL_OP_DMA_FROM_DEV;

	if (io->op < KCANCEL_OP_FACTORIAL || io->op > KCANCEL_OP_MAX)
		return -EINVAL;
	if (io->op == KCANCEL_OP_FACTORIAL && io->arg > KCANCEL_FACTORIAL_MAX)
		return -EINVAL;
	if (dma && (!io->len || io->len > kd->dma_size ||
		    io->offset > kd->dma_size - io->len || !io->buf))
		return -EINVAL;
	if (!dma && (io->len || io->offset))
		return -EINVAL;
	if (dma && io->arg)
		return -EINVAL;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_check_io);

/**
 * kc_dev_next_id() - give out a request id
 * @kd: the device.
 *
 * Ids start at 1 and are never reused on a device. The character device
 * uses them as sequence numbers: it puts the index of the request in its
 * file's table below (file.c, "Ids").
 *
 * Context: any context.
 * Return: the id.
 */
u64 kc_dev_next_id(struct kc_dev *kd)
{
	return atomic64_inc_return(&kd->next_id);
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_next_id);

/**
 * kc_dev_io_release() - release a device's request
 * @req: the request whose last reference went.
 *
 * The device's request operations: the owner's, then the device's part (the
 * device reference taken by kc_dev_bind()).
 *
 * Context: any context, that of the request's last reference.
 */
static void kc_dev_io_release(struct kc_request *req)
{
	struct kc_io *io = container_of(req, struct kc_io, req);
	struct kc_dev *kd = kc_io_dev(io);

	io->owner_ops->release(req);
	kc_dev_put(kd);		/* taken by kc_dev_bind() */
}

/**
 * kc_dev_end_of() - the counter a completion status falls in
 * @status: the request's completion status.
 *
 * Context: any context.
 * Return: the &enum kc_dev_end of @status, %KC_END_OTHER for an errno
 * without a counter of its own.
 */
static enum kc_dev_end kc_dev_end_of(int status)
{
	switch (status) {
	case 0:
		return KC_END_OK;
	case -ECANCELED:
		return KC_END_CANCELED;
	case -ETIMEDOUT:
		return KC_END_TIMEDOUT;
	case -ENODEV:
		return KC_END_NODEV;
	case -EIO:
		return KC_END_IO;
	default:
		return KC_END_OTHER;
	}
}

/**
 * kc_dev_account() - count a completion
 * @kd: the device.
 * @io: the request that completes.
 *
 * Counts its status, and who won if a cancel was asked for. Called once a
 * request, when it completes, before its owner hears of it.
 *
 * Context: any context; may not sleep.
 */
static void kc_dev_account(struct kc_dev *kd, const struct kc_io *io)
{
	const struct kc_request *req = &io->req;
	u32 op = io->op;	/* checked by kc_dev_reserve() */

	this_cpu_inc(kd->stats->ended[op][kc_dev_end_of(req->status)]);
	if (kc_request_is_canceled(req) &&
	    req->status == kc_request_cancel_reason(req))
		this_cpu_inc(kd->stats->cancel_won[op]);
	atomic_dec(&kd->in_flight);
}

/**
 * kc_dev_io_completed() - a device's request completed
 * @req: the request.
 *
 * Counts the completion with kc_dev_account(), then calls the owner's
 * &kc_request_ops.completed, if any.
 *
 * Context: any context, that of kc_request_complete(); may not sleep.
 */
static void kc_dev_io_completed(struct kc_request *req)
{
	struct kc_io *io = container_of(req, struct kc_io, req);

	kc_dev_account(kc_io_dev(io), io);
	if (io->owner_ops->completed)
		io->owner_ops->completed(req);
}

/**
 * kc_dev_stats_sum() - add up a device's per-CPU counters
 * @kd: the device.
 * @sum: out: the totals.
 *
 * Each counter is exact once the requests it counts have completed; while
 * they run, the sum is a snapshot.
 *
 * Context: any context.
 */
void kc_dev_stats_sum(const struct kc_dev *kd, struct kc_dev_stats *sum)
{
	const struct kc_dev_stats *s;
	int cpu, op, e;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		s = per_cpu_ptr(kd->stats, cpu);
		for (op = 0; op < KC_DEV_OPS; op++) {
			for (e = 0; e < KC_END_NR; e++)
				sum->ended[op][e] += READ_ONCE(s->ended[op][e]);
			sum->cancel_won[op] += READ_ONCE(s->cancel_won[op]);
			sum->completion_won[op] +=
				READ_ONCE(s->completion_won[op]);
		}
	}
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_stats_sum);

/**
 * kc_dev_count_in_flight() - count more requests in flight
 * @kd: the device.
 * @more: how many more.
 *
 * Raises the high-water mark if it is passed.
 *
 * Context: any context.
 */
static void kc_dev_count_in_flight(struct kc_dev *kd, unsigned int more)
{
	int n = atomic_add_return(more, &kd->in_flight);
	int max = atomic_read(&kd->in_flight_max);

	while (n > max && !atomic_try_cmpxchg(&kd->in_flight_max, &max, n))
		;
}

static const struct kc_request_ops kc_dev_io_ops = {
	.release = kc_dev_io_release,
	.completed = kc_dev_io_completed,
};

/**
 * kc_dev_reserve() - make a request ready to bind to a device
 * @kd: the device.
 * @io: the request, its operation fields set.
 * @id: its id, from kc_dev_next_id().
 * @ops: the owner's request operations; @ops->completed is called once when
 *	the request completes, @ops->release when its last reference goes.
 *
 * Everything that can fail, but the device's removal, happens here, before
 * the request exists for the request core: the operation is checked (here,
 * where its fields index the device's tables, whether or not the caller
 * checked it before), and a factorial's or a DMA's place in the device's
 * collection is reserved. On error @io is untouched and the caller frees
 * it; on success kc_dev_bind(), or kc_dev_unreserve() to give up.
 *
 * Context: process context; sleeps.
 * Return: 0, -EINVAL (see kc_dev_check_io()) or -ENOMEM.
 */
int kc_dev_reserve(struct kc_dev *kd, struct kc_io *io, u64 id,
		   const struct kc_request_ops *ops)
{
	int ret;

	ret = kc_dev_check_io(kd, io);
	if (ret)
		return ret;
	io->owner_ops = ops;
	io->chan = kc_op_chan[array_index_nospec(io->op, ARRAY_SIZE(kc_op_chan))];
	io->slot = -1;
	io->result = 0;
	INIT_LIST_HEAD(&io->queue_node);
	io->req.id = id;
	kc_target_io_init(&io->tio, &io->req);
	if (io->chan == KC_CHAN_BELL)
		return 0;
	return kc_target_reserve(&kd->target, &io->tio, GFP_KERNEL_ACCOUNT);
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_reserve);

/**
 * kc_dev_unreserve() - give up a request kc_dev_reserve() made ready
 * @kd: the device.
 * @io: the request, not bound: the caller frees it next.
 *
 * Context: any context.
 */
void kc_dev_unreserve(struct kc_dev *kd, struct kc_io *io)
{
	kc_target_unreserve(&kd->target, &io->tio);
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_unreserve);

/**
 * kc_dev_bind() - bind reserved requests to their device
 * @kd: the device.
 * @subs: the requests, each reserved by kc_dev_reserve().
 * @n: how many.
 *
 * All or none, in one critical section of &kc_dev.lock, the lock removal
 * sets &kc_dev.dead under, so that its purge waits for them. On success
 * each request holds a reference to @kd until its release, and the caller
 * must pass @subs to kc_dev_queue_many() (or each to kc_dev_queue()), which
 * never fails, without sleeping in between (a removal waits for them to
 * complete). On error nothing is bound: the caller gives each up with
 * kc_dev_unreserve().
 *
 * Context: process context.
 * Return: 0, or -ENODEV if the device is being removed or has failed.
 */
int kc_dev_bind(struct kc_dev *kd, const struct kc_dev_submit *subs,
		unsigned int n)
{
	unsigned long flags;
	unsigned int i;

	spin_lock_irqsave(&kd->lock, flags);
	if (kd->dead) {
		spin_unlock_irqrestore(&kd->lock, flags);
		return -ENODEV;
	}
	for (i = 0; i < n; i++) {
		kc_request_init(&subs[i].io->req, &kd->queue, &kc_dev_io_ops);
		kc_dev_get(kd);		/* dropped by kc_dev_io_release() */
	}
	spin_unlock_irqrestore(&kd->lock, flags);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_bind);

/**
 * kc_dev_prepare() - reserve and bind one request
 * @kd: the device.
 * @io: the request, its operation fields set.
 * @id: its id, from kc_dev_next_id().
 * @ops: see kc_dev_reserve().
 *
 * kc_dev_reserve() then kc_dev_bind(): on error @io is untouched and the
 * caller frees it; on success the caller must pass @io to kc_dev_queue()
 * without sleeping in between.
 *
 * Context: process context; sleeps.
 * Return: 0, -EINVAL (see kc_dev_check_io()), -ENODEV if the device is being
 * removed or has failed, or -ENOMEM.
 */
int kc_dev_prepare(struct kc_dev *kd, struct kc_io *io, u64 id,
		   const struct kc_request_ops *ops)
{
	struct kc_dev_submit sub = { .io = io };
	int ret;

	ret = kc_dev_reserve(kd, io, id, ops);
	if (ret)
		return ret;
	ret = kc_dev_bind(kd, &sub, 1);
	if (ret)
		kc_dev_unreserve(kd, io);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_prepare);

/**
 * kc_dev_abort_locked() - stop a started operation, if the backend can
 * @kd: the device.
 * @io: the request; nothing happens unless its operation was started and
 *	its bit has not been taken: a stale abort would stay.
 *
 * The operation's bit still comes, promptly (&kc_dev_ops.abort), and frees
 * the slot as every bit does.
 *
 * Context: &kc_dev.lock held, interrupts disabled; may not sleep.
 */
static void kc_dev_abort_locked(struct kc_dev *kd, struct kc_io *io)
{
	lockdep_assert_held(&kd->lock);
	if (kd->ops->abort && io->slot >= 0 && kd->slot_io[io->slot] == io &&
	    (kd->started & BIT_ULL(io->slot)))
		kd->ops->abort(kd, io);
}

/**
 * kc_dev_cancel_io() - cancel callback of a queued request or a doorbell
 * @req: a request on a software queue, or a doorbell the hardware has.
 *
 * Takes @req off its queue, or aborts its doorbell if the backend can (one
 * that cannot keeps the slot until its bit is seen), and completes it with
 * the cancel's reason.
 *
 * Context: a cancel callback: with &kc_queue.sync_lock held, interrupts
 * disabled, in %KC_SYNC_AUTOMATIC mode; may not sleep. Takes &kc_dev.lock,
 * which the caller must not hold.
 */
static void kc_dev_cancel_io(struct kc_request *req)
{
	struct kc_io *io = container_of(req, struct kc_io, req);
	struct kc_dev *kd = kc_io_dev(io);
	unsigned long flags;
	bool queued;

	kc_queue_assert_synchronized(&kd->queue);
	spin_lock_irqsave(&kd->lock, flags);
	queued = io->slot < 0;
	if (queued)
		list_del_init(&io->queue_node);
	else
		kc_dev_abort_locked(kd, io);
	spin_unlock_irqrestore(&kd->lock, flags);
	if (queued)
		kc_target_unreserve(&kd->target, &io->tio);
	kc_request_complete(req, kc_request_cancel_reason(req), 0);
}

/**
 * kc_dev_fail_io() - complete a request that ends before the hardware
 * @io: the request, which never reached the hardware.
 * @status: the status it completes with, unless a cancel was asked for.
 *
 * Gives back its reserved place in the collection and finishes it.
 *
 * Context: any context; may not sleep; &kc_dev.lock not held.
 */
static void kc_dev_fail_io(struct kc_io *io, int status)
{
	kc_target_unreserve(&kc_io_dev(io)->target, &io->tio);
	kc_request_finish(&io->req, status, 0);
}

/**
 * kc_dev_start_locked() - start a queued request in a free slot
 * @kd: the device.
 * @io: the request, owned (unmarked) unless it is a doorbell.
 * @slot: the free slot it gets.
 * @failed: where @io goes if a cancel refused its send; the caller completes
 *	it once &kc_dev.lock is dropped.
 *
 * A factorial or DMA request enters the collection of sent requests first, so
 * that its interrupt, which may come before the backend's start returns,
 * finds it there. The send, the slot and the start are one critical section:
 * the DPC takes a bit only for a started slot, and a cancel's abort, which
 * takes &kc_dev.lock too, finds either no request in flight (its send then
 * failed with -ECANCELED) or the operation started.
 *
 * Context: &kc_dev.lock held, interrupts disabled.
 */
static void kc_dev_start_locked(struct kc_dev *kd, struct kc_io *io,
				unsigned int slot, struct list_head *failed)
{
	lockdep_assert_held(&kd->lock);
	if (io->chan != KC_CHAN_BELL &&
	    kc_target_send(&kd->target, &io->tio, GFP_ATOMIC)) {
		list_move_tail(&io->queue_node, failed);
		return;
	}
	list_del_init(&io->queue_node);
	io->slot = slot;
	kd->busy |= BIT_ULL(slot);
	kd->started |= BIT_ULL(slot);
	kc_request_get(&io->req);	/* the slot's reference */
	kd->slot_io[slot] = io;
	trace_kcancel_send(kd, io);
	kd->ops->start(kd, io);
}

/**
 * kc_dev_start_queued() - start what the software queues hold, slots allowing
 * @kd: the device.
 * @failed: see kc_dev_start_locked().
 *
 * Factorial and DMA requests are unmarked first; one whose cancel won stays
 * queued for its callback to take off. Nothing starts once @kd is dead.
 *
 * Context: &kc_dev.lock held, interrupts disabled.
 */
static void kc_dev_start_queued(struct kc_dev *kd, struct list_head *failed)
{
	struct kc_io *io, *tmp;
	u64 free;
	int c;

	lockdep_assert_held(&kd->lock);
	if (kd->dead)
		return;
	for (c = 0; c < KC_CHAN_NR; c++) {
		list_for_each_entry_safe(io, tmp, &kd->pending[c], queue_node) {
			free = kd->chan_slots[c] & ~kd->busy;
			if (!free)
				break;
			if (c != KC_CHAN_BELL &&
			    kc_request_unmark_cancelable(&io->req))
				continue;
			kc_dev_start_locked(kd, io, __ffs64(free), failed);
		}
	}
}

/**
 * kc_dev_take_bits() - take the bits of started slots
 * @kd: the device.
 * @done: the status bits that came.
 *
 * Each start's bit is taken once, by the DPC or by kc_dev_fail(): a bit for
 * a slot that was not started, or whose bit was taken already (spurious,
 * duplicate, stale, or a shared line's), is counted in &kc_dev.spurious.
 * A taken slot is its taker's until kc_dev_put_slots() frees it: its
 * &kc_dev.slot_io entry, and its request, held by the slot's reference,
 * stay as they are.
 *
 * Context: any context that may take &kc_dev.lock, which the caller must
 * not hold.
 * Return: the slots taken, the bits of @done that were started.
 */
static u64 kc_dev_take_bits(struct kc_dev *kd, u64 done)
{
	unsigned int spurious;
	unsigned long flags;
	u64 taken;

	spin_lock_irqsave(&kd->lock, flags);
	taken = done & kd->started;
	kd->started &= ~taken;
	spin_unlock_irqrestore(&kd->lock, flags);
	spurious = hweight64(done & ~taken);
	if (spurious)
		atomic64_add(spurious, &kd->spurious);
	trace_kcancel_dpc(kd, done, spurious);
	return taken;
}

/**
 * kc_dev_dispatch_locked() - start queued requests while slots are free
 * @kd: the device.
 * @failed: where requests whose send a cancel refused go; the caller
 *	completes them with kc_dev_fail_unsent() once &kc_dev.lock is dropped.
 *
 * The dispatcher: runs in a submit and in the DPC, in the critical section
 * that queued a request or freed slots; several may run at once. Takes the
 * slots of the operations that ended as they started (kc_dev_end_now()) in
 * the same critical section as their start, as kc_dev_take_bits() takes a
 * slot whose bit came, so that no other dispatcher, DPC or kc_dev_fail()
 * sees them: the caller ends them (kc_dev_end_taken()).
 *
 * Context: &kc_dev.lock held, interrupts disabled.
 * Return: the slots taken, of the operations that ended as they started.
 */
static u64 kc_dev_dispatch_locked(struct kc_dev *kd, struct list_head *failed)
{
	u64 taken;

	lockdep_assert_held(&kd->lock);
	kc_dev_start_queued(kd, failed);
	taken = kd->ended_now;
	kd->ended_now = 0;
	kd->started &= ~taken;
	return taken;
}

/**
 * kc_dev_fail_unsent() - complete the requests the dispatcher could not send
 * @failed: the list kc_dev_dispatch_locked() filled.
 *
 * A cancel since the unmark refused each send: finish uses its reason.
 *
 * Context: any context; may not sleep; &kc_dev.lock not held.
 */
static void kc_dev_fail_unsent(struct list_head *failed)
{
	struct kc_io *io, *tmp;

	list_for_each_entry_safe(io, tmp, failed, queue_node) {
		list_del_init(&io->queue_node);
		kc_dev_fail_io(io, -EIO);
	}
}

/*
 * Slots a DPC ends between two takings of &kc_dev.lock: fetched, then
 * freed together, then finished.
 */
#define KC_DEV_END_BATCH	8

/**
 * struct kc_dev_ending - taken slots being ended, a few at a time
 * @io: their requests.
 * @status: how each operation ended.
 * @n: how many.
 */
struct kc_dev_ending {
	struct kc_io *io[KC_DEV_END_BATCH];
	int status[KC_DEV_END_BATCH];
	unsigned int n;
};

/**
 * kc_dev_put_slots() - free taken slots, and start queued requests in them
 * @kd: the device.
 * @e: the slots' requests; each keeps the slot's reference, which the
 *	caller drops once it has finished the request.
 * @dispatch: start queued requests in the freed slots.
 *
 * One critical section frees the slots and starts what can start. Wakes a
 * removal waiting for the device to go idle (kc_dev_wait_idle()).
 *
 * Context: any context; may not sleep. Takes &kc_dev.lock, which the caller
 * must not hold.
 * Return: the slots taken by the dispatcher (kc_dev_dispatch_locked()).
 */
static u64 kc_dev_put_slots(struct kc_dev *kd, const struct kc_dev_ending *e,
			    bool dispatch)
{
	unsigned long flags;
	LIST_HEAD(failed);
	unsigned int i;
	u64 taken = 0;
	bool wake;

	spin_lock_irqsave(&kd->lock, flags);
	for (i = 0; i < e->n; i++) {
		struct kc_io *io = e->io[i];

		kd->busy &= ~BIT_ULL(io->slot);
		kd->slot_io[io->slot] = NULL;
		io->slot = -1;
	}
	if (dispatch)
		taken = kc_dev_dispatch_locked(kd, &failed);
	/*
	 * Only kc_dev_shutdown() waits for idle, and it sets @dead under the
	 * lock first: a section that does not see @dead ends before the
	 * waiter's first look at @busy, which then sees it cleared.
	 */
	wake = !kd->busy && kd->dead;
	spin_unlock_irqrestore(&kd->lock, flags);
	if (wake) {
		/*
		 * wait_var_event() on the word, as the other drains of kcancel.
		 * Unlike theirs, the word was not cleared by a fully ordered
		 * atomic, and the unlock is only a release: without the barrier
		 * the look at the wait queue could pass the store, and miss a
		 * waiter that then sees the device busy (see wake_up_bit()).
		 */
		smp_mb();
		wake_up_var(&kd->busy);
	}
	kc_dev_fail_unsent(&failed);
	return taken;
}

/**
 * kc_dev_end_now() - the operation of @io ended as it started
 * @kd: the device.
 * @io: the request whose &kc_dev_ops.start is running.
 *
 * For a backend whose operation ends before its start returns (a software
 * device of no latency): in place of its status bit reaching kc_dev_dpc()
 * through an interrupt or a thread, the dispatcher that started it finishes
 * it before it returns, in its caller's context (the submitter's, or the
 * DPC's).
 *
 * Context: &kc_dev_ops.start: &kc_dev.lock held, interrupts disabled.
 */
void kc_dev_end_now(struct kc_dev *kd, struct kc_io *io)
{
	lockdep_assert_held(&kd->lock);
	kd->ended_now |= BIT_ULL(io->slot);
}

/**
 * kc_dev_io_timeout() - a request's timeout
 * @req: the request whose timer fired.
 *
 * Cancels @req wherever it is, as the cancel ioctl does, so that a backend
 * that can abort stops an operation in flight at once.
 *
 * Context: the request's timer: the hrtimer softirq.
 */
static void kc_dev_io_timeout(struct kc_request *req)
{
	struct kc_io *io = container_of(req, struct kc_io, req);

	kc_dev_cancel(kc_io_dev(io), io, -ETIMEDOUT);
}

/**
 * kc_dev_queue_locked() - queue one bound request, marked cancelable
 * @kd: the device.
 * @sub: the request and its timeout.
 *
 * Context: &kc_dev.lock held, interrupts disabled; @kd is not dead.
 */
static void kc_dev_queue_locked(struct kc_dev *kd,
				const struct kc_dev_submit *sub)
{
	struct kc_io *io = sub->io;

	lockdep_assert_held(&kd->lock);
	/* A timeout that fires before the mark below is seen by the mark. */
	if (sub->timeout_ns)
		kc_request_start_timer_fn(&io->req, sub->timer, sub->timeout_ns,
					  kc_dev_io_timeout);
	list_add_tail(&io->queue_node, &kd->pending[io->chan]);
	trace_kcancel_submit(kd, io, sub->timeout_ns);
	/* Never calls kc_dev_cancel_io() inline, which takes kd->lock. */
	kc_request_mark_cancelable(&io->req, kc_dev_cancel_io);
}

/**
 * kc_dev_queue_many() - queue bound requests and start what can start
 * @kd: the device.
 * @subs: the requests, in order, each bound by kc_dev_bind().
 * @n: how many.
 *
 * From here on each request completes exactly once, through its owner's
 * &kc_request_ops.completed: with -ENODEV if the device is being removed.
 * One critical section of &kc_dev.lock queues them all and runs the
 * dispatcher once. Requests may complete before this returns: operations
 * that end as they start (kc_dev_end_now()), theirs or those of requests
 * they started, are finished here, by the DPC's body in the caller's
 * context.
 *
 * Context: process context, no kcancel lock held.
 */
void kc_dev_queue_many(struct kc_dev *kd, const struct kc_dev_submit *subs,
		       unsigned int n)
{
	unsigned long flags;
	LIST_HEAD(failed);
	unsigned int i;
	u64 taken;

	kc_dev_count_in_flight(kd, n);
	spin_lock_irqsave(&kd->lock, flags);
	if (kd->dead) {
		spin_unlock_irqrestore(&kd->lock, flags);
		for (i = 0; i < n; i++)
			kc_dev_fail_io(subs[i].io, -ENODEV);
		return;
	}
	for (i = 0; i < n; i++)
		kc_dev_queue_locked(kd, &subs[i]);
	taken = kc_dev_dispatch_locked(kd, &failed);
	spin_unlock_irqrestore(&kd->lock, flags);
	kc_dev_fail_unsent(&failed);
	/* What ended as it started: no interrupt, no thread to wake. */
	if (taken)
		kc_dev_dpc_taken(kd, taken);
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_queue_many);

/**
 * kc_dev_queue() - queue one prepared request and start what can start
 * @kd: the device.
 * @io: a request prepared by kc_dev_prepare().
 * @timer: storage for the timeout, which must live as long as @io; NULL
 *	when @timeout_ns is 0.
 * @timeout_ns: 0, or cancel @io with -ETIMEDOUT after that long.
 *
 * kc_dev_queue_many() of one: @io may complete before this returns.
 *
 * Context: process context, no kcancel lock held.
 */
void kc_dev_queue(struct kc_dev *kd, struct kc_io *io,
		  struct kc_request_timer *timer, u64 timeout_ns)
{
	struct kc_dev_submit sub = {
		.io = io, .timer = timer, .timeout_ns = timeout_ns,
	};

	kc_dev_queue_many(kd, &sub, 1);
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_queue);

/**
 * kc_dev_cancel() - cancel a request, wherever it is
 * @kd: the device.
 * @io: the request; the caller holds a reference.
 * @reason: the status it should complete with, for example -ECANCELED.
 *
 * Cancels @io if it is queued or a doorbell (its cancel callback completes
 * it), then, for a factorial or DMA request, asks the target to abort it if
 * it is in flight: the caller's reference stands for the seeds' look-up, so
 * no id is looked up again. Such a request is finished with @reason when its
 * interrupt comes.
 *
 * Context: any context, no kcancel lock held; may not sleep.
 * Return: true if this call cancelled @io: it completes with @reason. False
 * if it had completed, or an earlier cancel or its timeout came first.
 */
bool kc_dev_cancel(struct kc_dev *kd, struct kc_io *io, int reason)
{
	bool canceled = kc_request_cancel(&io->req, reason);

	if (io->chan != KC_CHAN_BELL)
		kc_target_abort_sent(&kd->target, &io->tio);
	/* Too late, and not for an earlier cancel: the completion won. */
	if (!canceled && !kc_request_is_canceled(&io->req))
		this_cpu_inc(kd->stats->completion_won[io->op]);
	return canceled;
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_cancel);

/**
 * kc_dev_sent_cancel() - the target's cancel
 * @t: the device's target.
 * @req: the sent request to abort.
 *
 * Aborts the operation if the backend can.
 *
 * Context: as kc_target_abort_sent(): any context; may not sleep. Takes
 * &kc_dev.lock, which the caller must not hold.
 */
static void kc_dev_sent_cancel(struct kc_target *t, struct kc_request *req)
{
	struct kc_dev *kd = container_of(t, struct kc_dev, target);
	struct kc_io *io = container_of(req, struct kc_io, req);
	unsigned long flags;

	if (!kd->ops->abort)
		return;
	spin_lock_irqsave(&kd->lock, flags);
	kc_dev_abort_locked(kd, io);
	spin_unlock_irqrestore(&kd->lock, flags);
}

/**
 * kc_dev_sent_done() - the target's completion routine
 * @t: the device's target.
 * @req: the sent request.
 * @status: how the I/O ended.
 *
 * Finishes @req with the hardware status, or the cancel's.
 *
 * Context: any context; may not sleep; no kcancel lock held but the queue's
 * sync lock of a synchronized DPC.
 */
static void kc_dev_sent_done(struct kc_target *t, struct kc_request *req,
			     int status)
{
	struct kc_io *io = container_of(req, struct kc_io, req);

	kc_request_finish(req, status, status ? 0 : io->result);
}

/**
 * kc_dev_finish_io() - finish the request of a freed slot
 * @kd: the device.
 * @io: the request; the caller gives its slot's reference to this call.
 * @status: how the operation ended: what &kc_dev_ops.fetch returned, which
 *	ran while the slot's resources were still the request's, or the error
 *	kc_dev_fail() ends it with.
 *
 * Through the target's completion count for a sent request, or, for a
 * doorbell, as the first seed does: complete only if the cancel did not win.
 *
 * Context: the DPC's (under kc_queue_synchronize()).
 */
static void kc_dev_finish_io(struct kc_dev *kd, struct kc_io *io, int status)
{
	if (io->chan != KC_CHAN_BELL)
		kc_target_io_done(&kd->target, &io->tio, status);
	else if (!kc_request_unmark_cancelable(&io->req))
		kc_request_finish(&io->req, status, status ? 0 : io->result);
	kc_request_put(&io->req);	/* the slot's reference */
}

/**
 * kc_dev_end_taken() - end the slots whose bits were taken
 * @kd: the device.
 * @taken: the slots, from kc_dev_take_bits().
 * @force: 0 to end each operation with what &kc_dev_ops.fetch returns; an
 *	error to end them all with, without fetch (kc_dev_fail()).
 *
 * %KC_DEV_END_BATCH slots at a time: fetches each result while the slot is
 * still the request's, frees the slots (kc_dev_put_slots()), the last time
 * starting queued requests in them unless @force, then finishes the
 * requests. Every bit was taken before any slot is started again, so a
 * spurious bit among them cannot take a slot started meanwhile.
 *
 * Context: the DPC's (under kc_queue_synchronize()).
 * Return: the slots, taken, of the operations that ended as they started
 * in the freed slots: the caller ends them next.
 */
static u64 kc_dev_end_taken(struct kc_dev *kd, u64 taken, int force)
{
	struct kc_dev_ending e;
	unsigned int i;
	u64 next = 0;

	while (taken) {
		for (e.n = 0; taken && e.n < KC_DEV_END_BATCH;
		     taken &= taken - 1) {
			struct kc_io *io = kd->slot_io[__ffs64(taken)];

			e.io[e.n] = io;
			e.status[e.n++] = force ?: kd->ops->fetch(kd, io);
		}
		next |= kc_dev_put_slots(kd, &e, !force && !taken);
		for (i = 0; i < e.n; i++)
			kc_dev_finish_io(kd, e.io[i], e.status[i]);
	}
	return next;
}

/**
 * struct kc_dev_dpc_args - what a DPC is given
 * @kd: the device.
 * @bits: the status bits that came, or, if @taken, slots already taken.
 * @taken: @bits are slots the dispatcher took (kc_dev_dispatch_locked()).
 */
struct kc_dev_dpc_args {
	struct kc_dev *kd;
	u64 bits;
	bool taken;
};

/**
 * kc_dev_dpc_locked() - the body of the DPC
 * @arg: the &struct kc_dev_dpc_args.
 *
 * Takes the started slots of the bits (unless they are taken already) and
 * ends them, starting queued requests in the freed slots; then ends those
 * that ended as they started, until none did.
 *
 * Context: process context, under kc_queue_synchronize(): &kc_queue.sync_lock
 * held, interrupts disabled, in %KC_SYNC_AUTOMATIC mode.
 */
static void kc_dev_dpc_locked(void *arg)
{
	struct kc_dev_dpc_args *a = arg;
	struct kc_dev *kd = a->kd;
	u64 taken = a->bits;

	kc_queue_assert_synchronized(&kd->queue);
	if (a->taken)
		trace_kcancel_dpc(kd, taken, 0);
	else
		taken = kc_dev_take_bits(kd, taken);
	/* Requests started in freed slots may end at once: loop on them. */
	while (taken) {
		taken = kc_dev_end_taken(kd, taken, 0);
		if (taken)
			trace_kcancel_dpc(kd, taken, 0);
	}
}

/**
 * kc_dev_dpc() - the DPC: finish the requests whose slots are done
 * @kd: the device.
 * @done: the status bits the ISR collected; a bit of a slot whose operation
 *	was not started, or whose bit was taken already, is counted in
 *	&kc_dev.spurious and ignored.
 *
 * Runs under kc_queue_synchronize(): in %KC_SYNC_AUTOMATIC mode, with the
 * queue's sync lock held, as KMDF runs EvtInterruptDpc with automatic
 * serialization. Then starts queued requests in the freed slots.
 *
 * Context: process context (a threaded interrupt handler, a kthread, the
 * thread that waits for the interrupt, or kc_dev_queue()'s caller for
 * operations that ended as they started), no kcancel lock held.
 */
void kc_dev_dpc(struct kc_dev *kd, u64 done)
{
	struct kc_dev_dpc_args a = { .kd = kd, .bits = done };

	kc_queue_synchronize(&kd->queue, kc_dev_dpc_locked, &a);
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_dpc);

/**
 * kc_dev_dpc_taken() - the DPC, for operations that ended as they started
 * @kd: the device.
 * @taken: their slots, taken by kc_dev_dispatch_locked() in
 *	kc_dev_queue_many().
 *
 * Context: process context, no kcancel lock held.
 */
static void kc_dev_dpc_taken(struct kc_dev *kd, u64 taken)
{
	struct kc_dev_dpc_args a = { .kd = kd, .bits = taken, .taken = true };

	kc_queue_synchronize(&kd->queue, kc_dev_dpc_locked, &a);
}

struct kc_dev_force_args {
	struct kc_dev *kd;
	int status;
};

/**
 * kc_dev_force_locked() - kc_dev_fail()'s DPC
 * @arg: the &struct kc_dev_force_args: the device and the status.
 *
 * Ends every started slot with an error, the status in @arg.
 *
 * Context: process context, under kc_queue_synchronize(): &kc_queue.sync_lock
 * held, interrupts disabled, in %KC_SYNC_AUTOMATIC mode.
 */
static void kc_dev_force_locked(void *arg)
{
	struct kc_dev_force_args *a = arg;
	struct kc_dev *kd = a->kd;
	unsigned long flags;
	u64 taken;

	kc_queue_assert_synchronized(&kd->queue);
	spin_lock_irqsave(&kd->lock, flags);
	taken = kd->started;
	kd->started = 0;
	spin_unlock_irqrestore(&kd->lock, flags);
	atomic64_add(hweight64(taken), &kd->forced);
	kc_dev_end_taken(kd, taken, a->status);
}

/**
 * kc_dev_fail() - give up on hardware that stopped answering
 * @kd: the device.
 * @status: what the requests it holds complete with: -EIO when an operation
 *	did not end in time, -ENODEV when the device is gone.
 *
 * The device takes nothing new (kc_dev_prepare() then says -ENODEV), the
 * backend halts the hardware (&kc_dev_ops.halt: no more data moved, no more
 * bits), every started slot ends with @status as if its bit had come, and
 * every queued request is cancelled with @status. Returns once all of them
 * have completed. Only the first call does anything, and none once
 * kc_dev_shutdown() has returned; the device stays failed until it is
 * removed.
 *
 * Context: process context; sleeps. No kcancel lock held; not from a cancel
 * callback or a DPC.
 */
void kc_dev_fail(struct kc_dev *kd, int status)
{
	struct kc_dev_force_args a = { .kd = kd, .status = status };
	unsigned long flags;
	bool first;

	might_sleep();
	/* The backend's data lives until kc_dev_shutdown() returns: see there. */
	mutex_lock(&kd->fail_lock);
	spin_lock_irqsave(&kd->lock, flags);
	kd->dead = true;
	first = !kd->failed && !kd->gone;
	kd->failed |= first;
	spin_unlock_irqrestore(&kd->lock, flags);
	if (first)
		kd->ops->halt(kd);
	mutex_unlock(&kd->fail_lock);
	if (!first)
		return;
	/* No slot starts once @dead is set: one pass takes every bit left. */
	kc_queue_synchronize(&kd->queue, kc_dev_force_locked, &a);
	kc_queue_purge(&kd->queue, status);
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_fail);

/**
 * kc_dev_wait_idle() - wait until no slot is busy
 * @kd: the device.
 *
 * The wait is bounded by the device's own time limit, &kc_dev.op_timeout.
 *
 * Context: process context; sleeps.
 * Return: true if no slot is busy, false if the time limit passed first.
 */
static bool kc_dev_wait_idle(struct kc_dev *kd)
{
	return wait_var_event_timeout(&kd->busy, !READ_ONCE(kd->busy),
				      kd->op_timeout);
}

/**
 * kc_dev_shutdown() - stop a device and complete all its requests
 * @kd: the device; its character device is already unregistered.
 *
 * New requests fail with -ENODEV. Requests in flight are cancelled with
 * -ENODEV through the target, and the hardware is given &kc_dev.op_timeout
 * to end what it holds (the edu device cannot abort); if it does not, it is
 * failed (kc_dev_fail(): halted, its slots ended with -ENODEV). Then queued
 * and doorbell requests are cancelled by a purge of the queue, which waits
 * until every request of @kd has completed. After it returns no backend
 * operation is called; the backend's interrupt may then be freed, and
 * kc_chardev_hangup() wakes the files' readers.
 *
 * Context: process context; sleeps, at most about &kc_dev.op_timeout for
 * the hardware.
 */
void kc_dev_shutdown(struct kc_dev *kd)
{
	unsigned long flags;

	spin_lock_irqsave(&kd->lock, flags);
	kd->dead = true;
	spin_unlock_irqrestore(&kd->lock, flags);

	kc_target_cancel_all(&kd->target, -ENODEV);
	if (!kc_dev_wait_idle(kd))
		kc_dev_fail(kd, -ENODEV);
	kc_queue_purge(&kd->queue, -ENODEV);
	/* The slots of doorbells the purge cancelled wait for their bits. */
	if (!kc_dev_wait_idle(kd))
		kc_dev_fail(kd, -ENODEV);
	kc_target_drain(&kd->target);
	/*
	 * The backend frees its data once this returns: a kc_dev_fail() from a
	 * close() that gave up waiting must not halt it after that. One that
	 * is halting it now is waited for.
	 */
	mutex_lock(&kd->fail_lock);
	kd->gone = true;
	mutex_unlock(&kd->fail_lock);
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_shutdown);
