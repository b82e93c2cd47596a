// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel devices: software queues, hardware slots, dispatch and the DPC.
 *
 * DOC: Life of a request
 *
 * kc_dev_prepare() gives the request its id and binds it to the device's
 * queue; kc_dev_queue() puts it on its channel's software queue, marked
 * cancelable, and kicks the dispatcher. The dispatcher (kc_dev_kick()) moves
 * queued requests to free slots under &kc_dev.lock and starts them outside
 * it. When a slot's status bit reaches kc_dev_dpc(), the backend fetches the
 * result, the slot is freed, and the request is finished: through the
 * target's completion routine for a sent request, or, for a doorbell, by the
 * DPC itself if unmarking it did not return -ECANCELED.
 */
#include <linux/bitops.h>
#include <linux/errno.h>
#include <linux/export.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include <kcancel/dev.h>

static bool driver_sync;
module_param(driver_sync, bool, 0444);
MODULE_PARM_DESC(driver_sync,
		 "Devices created from now on synchronize their cancel callbacks and DPC themselves (KC_SYNC_DRIVER) instead of under the queue's sync lock");

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
EXPORT_SYMBOL_GPL(kc_dev_factorial);

static void kc_dev_sent_cancel(struct kc_target *t, struct kc_request *req);
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
	kref_init(&kd->ref);
	kd->ops = ops;
	kd->priv = priv;
	kd->backend = backend;
	kd->dma_size = min_t(u32, dma_size, KCANCEL_DMA_SIZE);
	kc_queue_init(&kd->queue, driver_sync ? KC_SYNC_DRIVER : mode);
	kc_target_init(&kd->target, &kc_dev_target_ops);
	spin_lock_init(&kd->lock);
	for (c = 0; c < KC_CHAN_NR; c++) {
		INIT_LIST_HEAD(&kd->pending[c]);
		kd->chan_slots[c] = chan_slots[c];
	}
	init_waitqueue_head(&kd->idle);
	atomic64_set(&kd->next_id, 0);
	spin_lock_init(&kd->files_lock);
	INIT_LIST_HEAD(&kd->files);
	kd->minor_id = -1;
	return kd;
}
EXPORT_SYMBOL_GPL(kc_dev_create);

static void kc_dev_release(struct kref *ref)
{
	struct kc_dev *kd = container_of(ref, struct kc_dev, ref);

	kc_target_destroy(&kd->target);
	kfree(kd);
}

/**
 * kc_dev_put() - drop a reference to a device
 * @kd: the device.
 *
 * Context: process context.
 */
void kc_dev_put(struct kc_dev *kd)
{
	kref_put(&kd->ref, kc_dev_release);
}
EXPORT_SYMBOL_GPL(kc_dev_put);

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
EXPORT_SYMBOL_GPL(kc_dev_doorbells);

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
EXPORT_SYMBOL_GPL(kc_dev_check_io);

/**
 * kc_dev_next_id() - give out a request id
 * @kd: the device.
 *
 * Ids start at 1 and are never reused on a device.
 *
 * Context: any context.
 * Return: the id.
 */
u64 kc_dev_next_id(struct kc_dev *kd)
{
	return atomic64_inc_return(&kd->next_id);
}
EXPORT_SYMBOL_GPL(kc_dev_next_id);

/**
 * kc_dev_prepare() - bind a request to a device
 * @kd: the device.
 * @io: the request, its operation fields set and checked by
 *	kc_dev_check_io().
 * @id: its id, from kc_dev_next_id().
 * @ops: the owner's request operations; @ops->completed is called once when
 *	the request completes.
 *
 * Everything that can fail happens here, before the request exists for the
 * request core: on error @io is untouched and the caller frees it. On success
 * the caller must pass @io to kc_dev_queue(), which never fails.
 *
 * Context: process context; sleeps.
 * Return: 0, -ENODEV if the device is being removed, or -ENOMEM.
 */
int kc_dev_prepare(struct kc_dev *kd, struct kc_io *io, u64 id,
		   const struct kc_request_ops *ops)
{
	int ret;

	if (READ_ONCE(kd->dead))
		return -ENODEV;
	io->kd = kd;
	io->chan = kc_op_chan[io->op];
	io->slot = -1;
	io->result = 0;
	INIT_LIST_HEAD(&io->queue_node);
	io->req.id = id;
	if (io->chan != KC_CHAN_BELL) {
		ret = kc_target_reserve(&kd->target, &io->req, GFP_KERNEL);
		if (ret)
			return ret;
	}
	kc_request_init(&io->req, &kd->queue, ops);
	return 0;
}
EXPORT_SYMBOL_GPL(kc_dev_prepare);

/*
 * The cancel callback of a request on a software queue, or of a doorbell the
 * hardware has: takes it off its queue (a doorbell keeps its slot until its
 * bit is seen) and completes it with the cancel's reason.
 */
static void kc_dev_cancel_io(struct kc_request *req)
{
	struct kc_io *io = container_of(req, struct kc_io, req);
	struct kc_dev *kd = io->kd;
	unsigned long flags;
	bool queued;

	kc_queue_assert_synchronized(&kd->queue);
	spin_lock_irqsave(&kd->lock, flags);
	queued = io->slot < 0;
	if (queued)
		list_del_init(&io->queue_node);
	spin_unlock_irqrestore(&kd->lock, flags);
	if (queued)
		kc_target_unreserve(&kd->target, req);
	kc_request_complete(req, kc_request_cancel_reason(req), 0);
}

/* Complete a request that ends before it reaches the hardware. */
static void kc_dev_fail_io(struct kc_io *io, int status)
{
	kc_target_unreserve(&io->kd->target, &io->req);
	kc_request_finish(&io->req, status, 0);
}

/*
 * Under kd->lock: move what can start from the software queues to free
 * slots, onto @start. Factorial and DMA requests are unmarked first; one
 * whose cancel won stays queued for its callback to take off.
 */
static void kc_dev_claim_slots(struct kc_dev *kd, struct list_head *start)
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
			io->slot = __ffs64(free);
			kd->busy |= BIT_ULL(io->slot);
			kc_request_get(&io->req);	/* the slot's reference */
			kd->slot_io[io->slot] = io;
			list_move_tail(&io->queue_node, start);
		}
	}
}

/* Give back @io's slot. Returns true if the device went idle. */
static bool kc_dev_free_slot(struct kc_dev *kd, struct kc_io *io)
{
	unsigned long flags;
	bool idle;

	spin_lock_irqsave(&kd->lock, flags);
	kd->busy &= ~BIT_ULL(io->slot);
	kd->slot_io[io->slot] = NULL;
	io->slot = -1;
	idle = !kd->busy;
	spin_unlock_irqrestore(&kd->lock, flags);
	return idle;
}

static void kc_dev_put_slot(struct kc_dev *kd, struct kc_io *io)
{
	if (kc_dev_free_slot(kd, io))
		wake_up(&kd->idle);
	kc_request_put(&io->req);	/* the slot's reference */
}

/*
 * Hand a claimed request to the hardware. A factorial or DMA request enters
 * the collection of sent requests first, so that its interrupt, which may
 * come before the backend's start returns, finds it there. A cancel that
 * finds it there before the backend has started it has nothing to abort
 * yet, so the abort is asked for again once the operation has started.
 */
static void kc_dev_start_io(struct kc_dev *kd, struct kc_io *io)
{
	int ret;

	if (io->chan == KC_CHAN_BELL) {
		kd->ops->start(kd, io);
		return;
	}
	ret = kc_target_send(&kd->target, &io->req, GFP_ATOMIC);
	if (ret) {
		kc_dev_put_slot(kd, io);
		/* A cancel since the unmark: finish uses its reason. */
		kc_dev_fail_io(io, ret == -ECANCELED ? ret : -EIO);
		return;
	}
	/* Its interrupt may end it, and free it, before start returns. */
	kc_request_get(&io->req);
	kd->ops->start(kd, io);
	/*
	 * Either a cancel's abort saw the started operation, or this sees the
	 * cancel: pairs with the full barrier of the cmpxchg in
	 * kc_request_cancel(), which sets the flag before the cancel looks for
	 * the request to abort.
	 */
	smp_mb();
	if (kc_request_is_canceled(&io->req))
		kc_dev_sent_cancel(&kd->target, &io->req);
	kc_request_put(&io->req);
}

/*
 * The dispatcher: start queued requests while slots are free. Runs after a
 * submit and in the DPC; several may run at once, each starting what it
 * claimed.
 */
static void kc_dev_kick(struct kc_dev *kd)
{
	struct kc_io *io, *tmp;
	unsigned long flags;
	LIST_HEAD(start);

	do {
		spin_lock_irqsave(&kd->lock, flags);
		kc_dev_claim_slots(kd, &start);
		spin_unlock_irqrestore(&kd->lock, flags);
		if (list_empty(&start))
			return;
		list_for_each_entry_safe(io, tmp, &start, queue_node) {
			list_del_init(&io->queue_node);
			kc_dev_start_io(kd, io);
		}
	} while (true);
}

/*
 * A request's timeout: cancel it wherever it is, as the cancel ioctl does,
 * so that a backend that can abort stops an operation in flight at once.
 */
static void kc_dev_io_timeout(struct kc_request *req)
{
	struct kc_io *io = container_of(req, struct kc_io, req);

	kc_dev_cancel(io->kd, io, -ETIMEDOUT);
}

/**
 * kc_dev_queue() - queue a prepared request and start what can start
 * @kd: the device.
 * @io: a request prepared by kc_dev_prepare().
 * @timeout_ns: 0, or cancel @io with -ETIMEDOUT after that long.
 *
 * From here on @io completes exactly once, through its owner's
 * &kc_request_ops.completed: with -ENODEV if the device is being removed.
 *
 * Context: process context, no kcancel lock held.
 */
void kc_dev_queue(struct kc_dev *kd, struct kc_io *io, u64 timeout_ns)
{
	unsigned long flags;

	if (timeout_ns)
		kc_request_start_timer_fn(&io->req, timeout_ns,
					  kc_dev_io_timeout);
	spin_lock_irqsave(&kd->lock, flags);
	if (kd->dead) {
		spin_unlock_irqrestore(&kd->lock, flags);
		kc_dev_fail_io(io, -ENODEV);
		return;
	}
	list_add_tail(&io->queue_node, &kd->pending[io->chan]);
	/* Never calls kc_dev_cancel_io() inline, which takes kd->lock. */
	kc_request_mark_cancelable(&io->req, kc_dev_cancel_io);
	spin_unlock_irqrestore(&kd->lock, flags);
	kc_dev_kick(kd);
}
EXPORT_SYMBOL_GPL(kc_dev_queue);

/**
 * kc_dev_cancel() - cancel a request, wherever it is
 * @kd: the device.
 * @io: the request; the caller holds a reference.
 * @reason: the status it should complete with, for example -ECANCELED.
 *
 * Cancels @io if it is queued or a doorbell (its cancel callback completes
 * it), then, for a factorial or DMA request, asks the target to cancel it by
 * id: the seeds' lock, find, reference, unlock, cancel, dereference. Such a
 * request is finished with @reason when its interrupt comes.
 *
 * Context: any context, no kcancel lock held; may not sleep.
 * Return: true if this call cancelled @io: it completes with @reason. False
 * if it had completed, or an earlier cancel or its timeout came first.
 */
bool kc_dev_cancel(struct kc_dev *kd, struct kc_io *io, int reason)
{
	bool canceled = kc_request_cancel(&io->req, reason);

	if (io->chan != KC_CHAN_BELL)
		kc_target_cancel_id(&kd->target, io->req.id, reason);
	return canceled;
}
EXPORT_SYMBOL_GPL(kc_dev_cancel);

/* The target's cancel: abort the operation if the backend can. */
static void kc_dev_sent_cancel(struct kc_target *t, struct kc_request *req)
{
	struct kc_dev *kd = container_of(t, struct kc_dev, target);
	struct kc_io *io = container_of(req, struct kc_io, req);
	unsigned long flags;

	if (!kd->ops->abort)
		return;
	spin_lock_irqsave(&kd->lock, flags);
	if (io->slot >= 0 && kd->slot_io[io->slot] == io)
		kd->ops->abort(kd, io);
	spin_unlock_irqrestore(&kd->lock, flags);
}

/* The target's completion routine: the hardware status, or the cancel's. */
static void kc_dev_sent_done(struct kc_target *t, struct kc_request *req,
			     int status)
{
	struct kc_io *io = container_of(req, struct kc_io, req);

	kc_request_finish(req, status, status ? 0 : io->result);
}

/*
 * The DPC's work for one finished slot: fetch the result while the slot's
 * resources are still the request's, free the slot, then finish the request:
 * through the target's completion count for a sent request, or, for a
 * doorbell, as the first seed does: complete only if the cancel did not win.
 * The caller holds a reference to @io across the slot's release.
 */
static void kc_dev_finish_slot(struct kc_dev *kd, struct kc_io *io)
{
	int status = kd->ops->fetch(kd, io);

	kc_dev_put_slot(kd, io);
	if (io->chan != KC_CHAN_BELL)
		kc_target_io_done(&kd->target, &io->req, status);
	else if (!kc_request_unmark_cancelable(&io->req))
		kc_request_finish(&io->req, status, status ? 0 : io->result);
}

struct kc_dev_dpc_args {
	struct kc_dev *kd;
	u64 done;
};

static void kc_dev_dpc_locked(void *arg)
{
	struct kc_dev_dpc_args *a = arg;
	struct kc_dev *kd = a->kd;
	u64 done = a->done;
	unsigned long flags;
	unsigned int slot;
	struct kc_io *io;

	kc_queue_assert_synchronized(&kd->queue);
	for (; done; done &= done - 1) {
		slot = __ffs64(done);
		spin_lock_irqsave(&kd->lock, flags);
		io = kd->slot_io[slot];
		if (io)
			kc_request_get(&io->req);
		spin_unlock_irqrestore(&kd->lock, flags);
		/* No request: a shared interrupt's bit, or a spurious one. */
		if (!io)
			continue;
		kc_dev_finish_slot(kd, io);
		kc_request_put(&io->req);
	}
	kc_dev_kick(kd);
}

/**
 * kc_dev_dpc() - the DPC: finish the requests whose slots are done
 * @kd: the device.
 * @done: the status bits the ISR collected; bits of idle slots are ignored.
 *
 * Runs under kc_queue_synchronize(): in %KC_SYNC_AUTOMATIC mode, with the
 * queue's sync lock held, as KMDF runs EvtInterruptDpc with automatic
 * serialization. Then starts queued requests in the freed slots.
 *
 * Context: process context (a threaded interrupt handler or a kthread), no
 * kcancel lock held.
 */
void kc_dev_dpc(struct kc_dev *kd, u64 done)
{
	struct kc_dev_dpc_args a = { .kd = kd, .done = done };

	kc_queue_synchronize(&kd->queue, kc_dev_dpc_locked, &a);
}
EXPORT_SYMBOL_GPL(kc_dev_dpc);

/**
 * kc_dev_shutdown() - stop a device and complete all its requests
 * @kd: the device; its character device is already unregistered.
 *
 * New requests fail with -ENODEV. Requests in flight are cancelled with
 * -ENODEV through the target, queued and doorbell requests through a purge
 * of the queue, which waits until every request of @kd has completed. Then
 * waits for the slots of cancelled doorbells to see their interrupts. After
 * it returns no backend operation is called; the backend's interrupt may
 * then be freed, and kc_chardev_hangup() wakes the files' readers.
 *
 * Context: process context; sleeps until the hardware has finished what it
 * was given (the edu device cannot abort).
 */
void kc_dev_shutdown(struct kc_dev *kd)
{
	unsigned long flags;

	spin_lock_irqsave(&kd->lock, flags);
	kd->dead = true;
	spin_unlock_irqrestore(&kd->lock, flags);

	kc_target_cancel_all(&kd->target, -ENODEV);
	kc_queue_purge(&kd->queue, -ENODEV);
	wait_event(kd->idle, !READ_ONCE(kd->busy));
	kc_target_drain(&kd->target);
}
EXPORT_SYMBOL_GPL(kc_dev_shutdown);
