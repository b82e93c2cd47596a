// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel files: the requests of an open /dev/kcancelN, their table, their
 * lifetime and their events. chardev.c (the file ABI) and uring.c (its
 * io_uring commands) reach them through file.h; neither touches the table
 * or the event list itself.
 *
 * DOC: Files and events
 *
 * Each open file is a &struct kc_file: a table of its requests (an xarray,
 * which no other file can reach; see "Ids" below) and a list of completion
 * events.
 * The table holds a reference to each request from its submit until its
 * event is reaped, by read() or KCANCEL_IOC_WAIT, whichever comes first.
 * The table's lock (taken with interrupts disabled: requests complete in any
 * context) also guards the event list, &kc_file_io.reaped and
 * &kc_file_io.completed.
 *
 * A request's completion (&kc_request_ops.completed) delivers the data of a
 * DMA from the device, queues its event, wakes readers and pollers, then
 * drops the file's count of requests outstanding. close() cancels every
 * request of the file and waits for that count to reach zero before it
 * frees anything; a device that does not end them within its time limit is
 * failed (kc_dev_fail()).
 *
 * A request touches only its submitter's memory: a DMA to the device copies
 * the data at submit; a DMA from the device pins the submitter's pages at
 * submit and writes them at completion, so that read() and KCANCEL_IOC_WAIT,
 * which may run in another process sharing the file, write nothing but
 * event records. The pages are unpinned when the event is reaped, in process
 * context, and marked dirty if they were written.
 *
 * Every allocation made for a file and its requests is charged to the
 * caller's memory cgroup (GFP_KERNEL_ACCOUNT, or SLAB_ACCOUNT for the cache
 * of requests).
 *
 * DOC: Ids
 *
 * The file's table gives each request the lowest free index (xa_alloc()), so
 * that it stays as small as what the file has in flight: one entry in the
 * xarray's head, one node for 64, no node allocated or freed a request. The
 * id the caller gets is the request's sequence number on the device
 * (kc_dev_next_id()) above that index (kc_file_id()): unique on the device,
 * never reused, growing with each submit, and a look-up goes straight to
 * the index and then checks the whole id (kc_file_lookup()), so that the id
 * of a request gone does not find the one that took its index.
 */
#include <linux/errno.h>
#include <linux/highmem.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/wait_bit.h>
#include <linux/xarray.h>

#include <kcancel/chardev.h>

#include "file.h"
#include "trace.h"

/**
 * kc_max_pending_set() - set the max_pending module parameter
 * @val: the value given.
 * @kp: the parameter.
 *
 * Accepts 1 to %KC_FILE_MAX_PENDING_LIMIT.
 *
 * Context: process context, at module load.
 * Return: 0, or a negative errno if @val is not a number in that range.
 */
static int kc_max_pending_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, KC_FILE_MAX_PENDING_LIMIT);
}

static const struct kernel_param_ops kc_max_pending_ops = {
	.set = kc_max_pending_set,
	.get = param_get_uint,
};

static unsigned int max_pending = KC_FILE_MAX_PENDING;
module_param_cb(max_pending, &kc_max_pending_ops, &max_pending, 0444);
__MODULE_PARM_TYPE(max_pending, "uint");
MODULE_PARM_DESC(max_pending,
		 "Requests one file may have submitted and not yet reaped (1-1048576, default 4096)");

/**
 * kc_file_max_pending() - the max_pending module parameter
 *
 * Context: any context.
 * Return: how many requests one file may have submitted and not yet reaped.
 */
unsigned int kc_file_max_pending(void)
{
	return max_pending;
}

/*
 * The requests of files, charged to the submitter's memory cgroup: one
 * object each, of its own size (a kmalloc() would round it up to a power of
 * two); a request with a time limit comes from the second cache, with its
 * timer (struct kc_file_io_timed), so that the others do not carry one.
 */
static struct kmem_cache *kc_file_io_cache, *kc_file_io_timed_cache;

/**
 * kc_file_io_alloc() - allocate a request of a file
 * @timed: it has a time limit: allocate its timer with it.
 *
 * Context: process context; sleeps.
 * Return: the zeroed request, or NULL.
 */
static struct kc_file_io *kc_file_io_alloc(bool timed)
{
	struct kc_file_io_timed *t;
	struct kc_file_io *fio;

	if (!timed)
		return kmem_cache_zalloc(kc_file_io_cache, GFP_KERNEL);
	t = kmem_cache_zalloc(kc_file_io_timed_cache, GFP_KERNEL);
	if (!t)
		return NULL;
	fio = &t->fio;
	fio->timed = true;
	return fio;
}

/**
 * kc_file_io_free() - free what kc_file_io_alloc() allocated
 * @fio: the request.
 *
 * Context: any context.
 */
static void kc_file_io_free(struct kc_file_io *fio)
{
	if (fio->timed)
		kmem_cache_free(kc_file_io_timed_cache,
				container_of(fio, struct kc_file_io_timed, fio));
	else
		kmem_cache_free(kc_file_io_cache, fio);
}

/**
 * kc_file_io_release() - free a request of a file
 * @req: the request whose last reference went.
 *
 * Context: any context, that of the last reference.
 */
static void kc_file_io_release(struct kc_request *req)
{
	struct kc_file_io *fio = to_fio(req);

	kfree(fio->dma);
	kfree(fio->io.buf);
	kc_file_io_free(fio);
}

/**
 * kc_file_pin() - pin the pages a DMA from the device will write
 * @fio: the request; @fio->io.len is set.
 * @ubuf: the submitter's buffer.
 *
 * Context: process context, in the submitter's address space; sleeps.
 * Return: 0, -EFAULT if the buffer cannot be written, or -ENOMEM.
 */
static int kc_file_pin(struct kc_file_io *fio, u64 ubuf)
{
	unsigned long start = ubuf & PAGE_MASK;
	int n = DIV_ROUND_UP(offset_in_page(ubuf) + fio->io.len, PAGE_SIZE);
	struct kc_file_dma *dma;
	int ret;

	dma = kmalloc(sizeof(*dma), GFP_KERNEL_ACCOUNT);
	if (!dma)
		return -ENOMEM;
	dma->ubuf = ubuf;
	dma->npages = 0;
	fio->dma = dma;
	ret = pin_user_pages_fast(start, n, FOLL_WRITE, dma->pages);
	if (ret == n) {
		dma->npages = n;
		return 0;
	}
	if (ret > 0)
		unpin_user_pages(dma->pages, ret);
	return ret == -ENOMEM ? -ENOMEM : -EFAULT;
}

/**
 * kc_file_unpin() - let go of the pages of a DMA from the device
 * @fio: the request.
 * @dirty: whether the completion wrote them.
 *
 * Context: process context if @dirty (marking a file page dirty takes its
 * lock); any context otherwise.
 */
static void kc_file_unpin(struct kc_file_io *fio, bool dirty)
{
	struct kc_file_dma *dma = fio->dma;

	if (!dma || !dma->npages)
		return;
	if (dirty)
		unpin_user_pages_dirty_lock(dma->pages, dma->npages, true);
	else
		unpin_user_pages(dma->pages, dma->npages);
	dma->npages = 0;
}

/**
 * kc_file_io_wrote() - did the completion write the pinned pages?
 * @fio: the request.
 *
 * Context: any context.
 * Return: true for a DMA from the device that completed with status 0.
 */
static bool kc_file_io_wrote(const struct kc_file_io *fio)
{
	return fio->io.op == KCANCEL_OP_DMA_FROM_DEV && !fio->io.req.status;
}

/**
 * kc_file_copy_out() - deliver the data of a DMA from the device
 * @fio: a DMA from the device that completed with status 0.
 *
 * Copies the data into the submitter's pinned pages.
 *
 * Context: any context (kmap_local_page()).
 */
static void kc_file_copy_out(struct kc_file_io *fio)
{
	struct kc_file_dma *dma = fio->dma;
	unsigned int off = offset_in_page(dma->ubuf), done = 0, n, i;

	for (i = 0; i < dma->npages && done < fio->io.len; i++, off = 0) {
		n = min_t(unsigned int, PAGE_SIZE - off, fio->io.len - done);
		memcpy_to_page(dma->pages[i], off, fio->io.buf + done, n);
		done += n;
	}
}

/**
 * kc_file_index() - where a request is in its file's table
 * @id: the request's id.
 *
 * Context: any context.
 * Return: the index of its entry.
 */
static unsigned long kc_file_index(u64 id)
{
	return id & KC_FILE_INDEX_MASK;
}

/**
 * kc_file_id() - the id of a request
 * @seq: its sequence number on the device, at most %KC_FILE_SEQ_MAX.
 * @index: its entry in the file's table, at most %KC_FILE_INDEX_MASK.
 *
 * Context: any context.
 * Return: the id; never 0, as sequence numbers start at 1.
 */
static u64 kc_file_id(u64 seq, u32 index)
{
	return seq << KC_FILE_INDEX_BITS | index;
}

/**
 * kc_file_io_completed() - a request of a file completed
 * @req: the request.
 *
 * Runs before its waiters are woken: delivers its data, then queues its
 * event unless a waiter took it already, or takes it out of the file if its
 * waiter was killed (no status 0 then: the waiter cancelled it first). An
 * io_uring request posts its CQE instead, unless the ring's cancel did:
 * then it is an orphan, and its data is not delivered.
 * After the count of outstanding requests drops, close() may free the file.
 *
 * Context: any context; may not sleep. Takes the table's lock, interrupts
 * disabled.
 */
static void kc_file_io_completed(struct kc_request *req)
{
	struct kc_file_io *fio = to_fio(req);
	struct io_uring_cmd *ucmd = NULL;
	struct kc_file *f = fio->f;
	bool deliver = true;
	unsigned long flags;
	bool orphan, sync, waited;

	if (fio->uring) {
		/*
		 * The CQE first: once the ring's cancel has posted it, the
		 * request is an orphan whose buffer must not be written.
		 */
		xa_lock_irqsave(&f->ios, flags);
		ucmd = fio->ucmd;
		WRITE_ONCE(fio->ucmd, NULL);
		xa_unlock_irqrestore(&f->ios, flags);
		deliver = ucmd;
	}
	if (deliver && kc_file_io_wrote(fio))
		kc_file_copy_out(fio);
	xa_lock_irqsave(&f->ios, flags);
	/* Read without the lock by its waiter too (kc_file_io_done()). */
	WRITE_ONCE(fio->completed, true);
	orphan = fio->orphan;
	sync = fio->sync;
	waited = fio->waited;
	if (orphan) {
		__xa_erase(&f->ios, kc_file_index(req->id));
		atomic_dec(&f->count);
	} else if (!fio->uring && !fio->reaped && !sync) {
		list_add_tail(&fio->event_node, &f->events);
	}
	xa_unlock_irqrestore(&f->ios, flags);
	/* Its waiter is the device's, which no completion wakes. */
	if (waited)
		kc_dev_waiter_wake(f->kd);
	if (orphan) {
		kc_file_unpin(fio, false);
		kc_request_put(req);	/* the table's; not the last */
	}
	if (ucmd)
		kc_uring_complete(ucmd);
	/*
	 * Only if someone waits: a submitter that reaps in its own batch
	 * takes no wait queue lock a request. The full barrier of
	 * wq_has_sleeper() pairs with the one a waiter makes between queueing
	 * itself and looking at the events (set_current_state() in
	 * wait_event*(), smp_mb() in kc_fop_poll()): either it sees the waiter
	 * or the waiter sees the event.
	 */
	if (wq_has_sleeper(&f->wq))
		wake_up_poll(&f->wq, EPOLLIN | EPOLLRDNORM);
	/*
	 * Fully ordered: kc_file_hup() that reads the new count sees the event
	 * queued above. wake_up_var() only hashes the address: @f may be freed
	 * already.
	 */
	if (atomic_dec_and_test(&f->outstanding))
		wake_up_var(&f->outstanding);
}

static const struct kc_request_ops kc_file_io_ops = {
	.release = kc_file_io_release,
	.completed = kc_file_io_completed,
};

/**
 * kc_file_hup() - whether a file has hung up
 * @f: the file.
 *
 * The acquire pairs with the fully ordered decrement in
 * kc_file_io_completed(): a count of zero comes with the last event on the
 * list.
 *
 * Context: any context.
 * Return: true if the device is gone and nothing is left to read or to wait
 * for.
 */
bool kc_file_hup(struct kc_file *f)
{
	return READ_ONCE(f->kd->dead) &&
	       !atomic_read_acquire(&f->outstanding) &&
	       list_empty_careful(&f->events);
}

/**
 * kc_file_found() - whether a look-up may take a request of a file's table
 * @fio: the entry, or NULL.
 *
 * A request enters the table at its reserve, before it is bound: until
 * kc_file_queue_many() marks it queued, it has no reference to take and is
 * no one's to find. The acquire pairs with the release there.
 *
 * Context: the table's lock held.
 * Return: true if @fio is a queued request.
 */
static bool kc_file_found(struct kc_file_io *fio)
{
	/* Pairs with the release in kc_file_queue_many(). */
	return fio && smp_load_acquire(&fio->queued);
}

/**
 * kc_file_get_at() - the request at an index of a file's table
 * @f: the file.
 * @index: the index.
 * @id: the request's id, or 0 for whichever is there.
 *
 * Context: process context (takes the table's lock with xa_lock_irq()).
 * Return: the request, with a reference the caller drops, or NULL if there
 * is none, or if it has another id than @id: the request of @id is gone,
 * and another took its index.
 */
static struct kc_file_io *kc_file_get_at(struct kc_file *f,
					 unsigned long index, u64 id)
{
	struct kc_file_io *fio;

	xa_lock_irq(&f->ios);
	fio = xa_load(&f->ios, index);
	if (!kc_file_found(fio) || (id && fio->io.req.id != id))
		fio = NULL;
	if (fio)
		kc_request_get(&fio->io.req);
	xa_unlock_irq(&f->ios);
	return fio;
}

/**
 * kc_file_lookup() - look up a request of a file by id
 * @f: the file.
 * @id: the request's id.
 *
 * Context: process context (takes the table's lock with xa_lock_irq()).
 * Return: the request, with a reference the caller drops, or NULL.
 */
struct kc_file_io *kc_file_lookup(struct kc_file *f, u64 id)
{
	return id ? kc_file_get_at(f, kc_file_index(id), id) : NULL;
}

/**
 * kc_file_drop() - the end of a request taken out of its file's table
 * @fio: the request.
 *
 * Unpins its pages (dirty if the completion wrote them) and drops the
 * table's reference.
 *
 * Context: process context.
 */
static void kc_file_drop(struct kc_file_io *fio)
{
	kc_file_unpin(fio, kc_file_io_wrote(fio));
	kc_request_put(&fio->io.req);	/* the table's reference */
}

/**
 * kc_file_forget() - drop a reaped request from its file
 * @f: the file.
 * @fio: a request of @f whose event was reaped, or that has none (a
 *	KCANCEL_IOC_SUBMIT_WAIT or io_uring request that completed).
 *
 * Takes @fio out of the file's table, then kc_file_drop().
 *
 * Context: process context.
 */
void kc_file_forget(struct kc_file *f, struct kc_file_io *fio)
{
	xa_erase_irq(&f->ios, kc_file_index(fio->io.req.id));
	atomic_dec(&f->count);
	kc_file_drop(fio);
}

/**
 * kc_file_forget_many() - drop reaped requests from their file
 * @f: the file.
 * @done: the requests, on their &kc_file_io.event_node; emptied.
 *
 * kc_file_forget() of each, in one critical section of the table's lock.
 *
 * Context: process context.
 */
static void kc_file_forget_many(struct kc_file *f, struct list_head *done)
{
	struct kc_file_io *fio, *tmp;
	int n = 0;

	xa_lock_irq(&f->ios);
	list_for_each_entry(fio, done, event_node) {
		__xa_erase(&f->ios, kc_file_index(fio->io.req.id));
		n++;
	}
	xa_unlock_irq(&f->ios);
	atomic_sub(n, &f->count);
	list_for_each_entry_safe(fio, tmp, done, event_node) {
		list_del_init(&fio->event_node);
		kc_file_drop(fio);
	}
}

/**
 * kc_file_event() - the event of a completed request
 * @fio: the completed request; its data, if any, is in place already.
 * @ev: out: the event.
 *
 * Context: any context.
 */
void kc_file_event(struct kc_file_io *fio, struct kcancel_event *ev)
{
	struct kc_request *req = &fio->io.req;

	ev->id = req->id;
	ev->tag = fio->tag;
	ev->result = req->result;
	ev->status = req->status;
	ev->op = fio->io.op;
}

/**
 * kc_file_check_submit() - check what the caller may set in a submit
 * @s: the submit, copied from the caller.
 *
 * kc_dev_check_io() does the rest.
 *
 * Context: any context.
 * Return: 0, or -EINVAL.
 */
static int kc_file_check_submit(const struct kcancel_submit *s)
{
	bool dma = s->op == KCANCEL_OP_DMA_TO_DEV ||
		   s->op == KCANCEL_OP_DMA_FROM_DEV;

	if (s->flags || s->reserved[0] || s->reserved[1])
		return -EINVAL;
	if (s->timeout_ns > KTIME_MAX)
		return -EINVAL;
	if (!dma && s->buf)
		return -EINVAL;
	return 0;
}

/**
 * kc_file_free_io() - free a request that was never prepared
 * @fio: the request.
 *
 * Context: any context.
 */
static void kc_file_free_io(struct kc_file_io *fio)
{
	kc_file_unpin(fio, false);
	kc_file_io_release(&fio->io.req);
}

/**
 * kc_file_new_io() - build the request of a submit
 * @f: the file.
 * @s: the submit, copied from the caller.
 * @mode: how it was submitted.
 *
 * Builds the request of @s: its fields, and its DMA data from the caller (to
 * the device) or the caller's pages pinned (from the device).
 *
 * Context: process context, the caller's; sleeps.
 * Return: the request, or an ERR_PTR() of -ENOMEM, -EINVAL or -EFAULT.
 */
static struct kc_file_io *kc_file_new_io(struct kc_file *f,
					 const struct kcancel_submit *s,
					 enum kc_file_mode mode)
{
	struct kc_file_io *fio = kc_file_io_alloc(s->timeout_ns != 0);
	int ret = -ENOMEM;

	if (!fio)
		return ERR_PTR(-ENOMEM);
	fio->f = f;
	fio->tag = s->tag;
	fio->sync = mode == KC_FILE_SYNC;
	fio->uring = mode == KC_FILE_URING;
	INIT_LIST_HEAD(&fio->event_node);
	fio->io.op = s->op;
	fio->io.arg = s->arg;
	fio->io.len = s->len;
	fio->io.offset = s->offset;
	/* A DMA has a buffer: kc_dev_check_io() wants it. */
	if (s->len && s->len <= KCANCEL_DMA_SIZE) {
		fio->io.buf = kmalloc(s->len, GFP_KERNEL_ACCOUNT);
		if (!fio->io.buf)
			goto err;
	}
	ret = kc_dev_check_io(f->kd, &fio->io);
	if (ret)
		goto err;
	if (s->op == KCANCEL_OP_DMA_TO_DEV) {
		ret = -EFAULT;
		if (copy_from_user(fio->io.buf, u64_to_user_ptr(s->buf), s->len))
			goto err;
	} else if (s->op == KCANCEL_OP_DMA_FROM_DEV) {
		ret = kc_file_pin(fio, s->buf);
		if (ret)
			goto err;
	}
	return fio;
err:
	kc_file_free_io(fio);
	return ERR_PTR(ret);
}

/**
 * kc_file_make() - the first step of kc_file_reserve(): build a request
 * @f: the file.
 * @s: the submit, copied from the caller.
 * @mode: how it was submitted: what its completion does.
 * @seq: out: its sequence number on the device.
 *
 * Checks @s, counts the request against max_pending and builds it
 * (kc_file_new_io()). kc_file_place_many() gives it its place in the
 * file's table next, or kc_file_unmake() gives it up.
 *
 * Context: process context, the caller's; sleeps.
 * Return: the request, or an ERR_PTR() of a negative errno of
 * KCANCEL_IOC_SUBMIT: -EOVERFLOW once the device has given out its last
 * id.
 */
static struct kc_file_io *kc_file_make(struct kc_file *f,
				       const struct kcancel_submit *s,
				       enum kc_file_mode mode, u64 *seq)
{
	struct kc_file_io *fio;
	int ret;

	ret = kc_file_check_submit(s);
	if (ret)
		return ERR_PTR(ret);
	if (atomic_inc_return(&f->count) > max_pending) {
		ret = -EAGAIN;
		goto err_count;
	}
	fio = kc_file_new_io(f, s, mode);
	if (IS_ERR(fio)) {
		ret = PTR_ERR(fio);
		goto err_count;
	}
	*seq = kc_dev_next_id(f->kd);
	if (*seq <= KC_FILE_SEQ_MAX)
		return fio;
	ret = -EOVERFLOW;
	kc_file_free_io(fio);
err_count:
	atomic_dec(&f->count);
	return ERR_PTR(ret);
}

/**
 * kc_file_unmake() - give up a request kc_file_make() built
 * @f: the file.
 * @fio: the request, not in the file's table.
 *
 * Context: any context.
 */
static void kc_file_unmake(struct kc_file *f, struct kc_file_io *fio)
{
	kc_file_free_io(fio);
	atomic_dec(&f->count);
}

/**
 * kc_file_place_many() - the second step: places in the file's table
 * @f: the file.
 * @fios: requests built by kc_file_make().
 * @seqs: their sequence numbers.
 * @n: how many.
 * @placed: out: how many have their place, the first ones.
 *
 * One critical section of the table's lock for all of them; each gets its
 * id, its sequence number above its index. The table is never full: it
 * holds at most max_pending requests. Each is in the table itself, not a
 * zero entry (xa_reserve()'s), which never sits in the xarray's head: with
 * one request in flight at a time, the file would allocate a node at every
 * submit and free it through RCU at every reap. Look-ups pass them over
 * until they are queued (kc_file_found()).
 *
 * Context: process context, the caller's; sleeps (the xarray may drop its
 * lock to allocate).
 * Return: 0, or -ENOMEM for the request at *@placed: it and those after it
 * have no place.
 */
static int kc_file_place_many(struct kc_file *f, struct kc_file_io **fios,
			      const u64 *seqs, unsigned int n,
			      unsigned int *placed)
{
	unsigned int i;
	u32 index;
	int ret = 0;

	xa_lock_irq(&f->ios);
	for (i = 0; i < n; i++) {
		ret = __xa_alloc(&f->ios, &index, fios[i],
				 XA_LIMIT(0, KC_FILE_INDEX_MASK),
				 GFP_KERNEL_ACCOUNT);
		if (ret)
			break;
		fios[i]->io.req.id = kc_file_id(seqs[i], index);
	}
	xa_unlock_irq(&f->ios);
	*placed = i;
	return ret;
}

/**
 * kc_file_unplace() - give up a request that has its place in the table
 * @f: the file.
 * @fio: the request, placed by kc_file_place_many(), not reserved on the
 *	device.
 *
 * Context: process context.
 */
static void kc_file_unplace(struct kc_file *f, struct kc_file_io *fio)
{
	xa_erase_irq(&f->ios, kc_file_index(fio->io.req.id));
	kc_file_unmake(f, fio);
}

/**
 * kc_file_finish_reserve() - the last step: the id out, the device's place
 * @f: the file.
 * @fio: the request, placed by kc_file_place_many().
 * @uid: where the caller wants the id, or NULL (io_uring).
 *
 * Writes the id to @uid, then reserves the request on the device
 * (kc_dev_reserve()). On error the request is given up: its id written
 * back to 0, its place and count given back, it is freed.
 *
 * Context: process context, the caller's; sleeps.
 * Return: 0, -EFAULT, or an error of kc_dev_reserve().
 */
static int kc_file_finish_reserve(struct kc_file *f, struct kc_file_io *fio,
				  __u64 __user *uid)
{
	u64 id = fio->io.req.id;
	int ret;

	if (uid && put_user(id, uid)) {
		kc_file_unplace(f, fio);
		return -EFAULT;
	}
	ret = kc_dev_reserve(f->kd, &fio->io, id, &kc_file_io_ops);
	if (ret) {
		/*
		 * Not queued: an id left there would say it was
		 * (KCANCEL_IOC_BATCH). The id was written a moment ago; if the
		 * page went since, the caller's error stands.
		 */
		if (uid)
			(void)put_user(0, uid);
		kc_file_unplace(f, fio);
	}
	return ret;
}

/**
 * kc_file_reserve() - make a request of a file, ready to bind
 * @f: the file.
 * @s: the request, copied from the caller; @s->id is set on success.
 * @uid: where the caller wants the id, or NULL (io_uring).
 * @mode: how it was submitted: what its completion does.
 *
 * Everything of a submit that can fail, but the device's removal, in three
 * steps that a batch takes a chunk at a time (kc_file_submit_many()):
 * kc_file_make(), kc_file_place_many(), kc_file_finish_reserve(). The id
 * is written to @uid before the request exists for the device, so that a
 * failure leaves nothing queued. On success the request counts against
 * max_pending, is in the file's table (where look-ups pass it over until
 * it is queued) and has its place in the device's collection reserved:
 * kc_dev_bind() then kc_file_bound(), or kc_file_unreserve().
 *
 * Context: process context, the caller's; sleeps.
 * Return: the request, or an ERR_PTR() of a negative errno of
 * KCANCEL_IOC_SUBMIT.
 */
static struct kc_file_io *kc_file_reserve(struct kc_file *f,
					  struct kcancel_submit *s,
					  __u64 __user *uid,
					  enum kc_file_mode mode)
{
	struct kc_file_io *fio;
	unsigned int placed;
	u64 seq;
	int ret;

	fio = kc_file_make(f, s, mode, &seq);
	if (IS_ERR(fio))
		return fio;
	ret = kc_file_place_many(f, &fio, &seq, 1, &placed);
	if (ret) {
		kc_file_unmake(f, fio);
		return ERR_PTR(ret);
	}
	ret = kc_file_finish_reserve(f, fio, uid);
	if (ret)
		return ERR_PTR(ret);
	s->id = fio->io.req.id;
	return fio;
}

/**
 * kc_file_unreserve() - give up a request kc_file_reserve() made
 * @f: the file.
 * @fio: the request, not bound: its device is being removed.
 * @uid: where its id was written, or NULL: set back to 0.
 *
 * Context: process context, the caller's; may fault.
 */
static void kc_file_unreserve(struct kc_file *f, struct kc_file_io *fio,
			      __u64 __user *uid)
{
	kc_dev_unreserve(f->kd, &fio->io);
	xa_erase_irq(&f->ios, kc_file_index(fio->io.req.id));
	if (uid)
		(void)put_user(0, uid);
	kc_file_free_io(fio);
	atomic_dec(&f->count);
}

/**
 * kc_file_bound() - the file's references to a request kc_dev_bind() bound
 * @fio: the request.
 * @mode: as for kc_file_reserve().
 *
 * The table's reference, and the waiter's for %KC_FILE_SYNC.
 *
 * Context: any context.
 */
static void kc_file_bound(struct kc_file_io *fio, enum kc_file_mode mode)
{
	kc_request_get(&fio->io.req);	/* the table's reference */
	if (mode == KC_FILE_SYNC)
		kc_request_get(&fio->io.req);	/* the waiter's */
}

/**
 * kc_file_prepare() - make a request of a file, ready to queue
 * @f: the file.
 * @s: the request, copied from the caller; @s->id is set on success.
 * @uid: where the caller wants the id, or NULL (io_uring).
 * @mode: how it was submitted: what its completion does.
 *
 * kc_file_reserve(), then the request is bound to the device and holds the
 * table's reference (and the waiter's, for %KC_FILE_SYNC): kc_file_queue()
 * must follow, without sleeping in between. A failure sets the id written
 * to @uid back to 0.
 *
 * Context: process context, the caller's; sleeps.
 * Return: the request, or an ERR_PTR() of a negative errno of
 * KCANCEL_IOC_SUBMIT.
 */
struct kc_file_io *kc_file_prepare(struct kc_file *f, struct kcancel_submit *s,
				   __u64 __user *uid, enum kc_file_mode mode)
{
	struct kc_dev_submit sub;
	struct kc_file_io *fio;
	int ret;

	fio = kc_file_reserve(f, s, uid, mode);
	if (IS_ERR(fio))
		return fio;
	sub.io = &fio->io;
	ret = kc_dev_bind(f->kd, &sub, 1);
	if (ret) {
		kc_file_unreserve(f, fio, uid);
		return ERR_PTR(ret);
	}
	kc_file_bound(fio, mode);
	return fio;
}

/**
 * kc_file_timer() - the storage of a request's timeout
 * @fio: the request.
 *
 * Context: any context.
 * Return: its timer, or NULL if it has no time limit.
 */
static struct kc_request_timer *kc_file_timer(struct kc_file_io *fio)
{
	if (!fio->timed)
		return NULL;
	return &container_of(fio, struct kc_file_io_timed, fio)->timer;
}

/**
 * kc_file_queue_many() - queue bound requests of a file
 * @f: the file.
 * @subs: the requests, bound by kc_dev_bind(), with their timeouts.
 * @n: how many.
 *
 * The requests, in the file's table since their reserve, are marked
 * queued before they are queued: look-ups find them from then on, and a
 * completion, which may come at once, finds everything in place. No lock
 * section of the table: the release orders the bind and the file's
 * references before the mark. This cannot fail.
 *
 * Context: process context.
 */
static void kc_file_queue_many(struct kc_file *f,
			       const struct kc_dev_submit *subs, unsigned int n)
{
	unsigned int i;

	atomic_add(n, &f->outstanding);
	for (i = 0; i < n; i++)
		/* Pairs with the acquire in kc_file_found(). */
		smp_store_release(&to_fio(&subs[i].io->req)->queued, true);
	kc_dev_queue_many(f->kd, subs, n);
}

/**
 * kc_file_queue() - queue a request kc_file_prepare() made
 * @f: the file.
 * @fio: the request.
 * @timeout_ns: its time limit, 0 for none: the one of the submit that
 *	kc_file_prepare() made it from.
 *
 * kc_file_queue_many() of one. This cannot fail.
 *
 * Context: process context.
 */
void kc_file_queue(struct kc_file *f, struct kc_file_io *fio, u64 timeout_ns)
{
	struct kc_dev_submit sub = {
		.io = &fio->io,
		.timer = kc_file_timer(fio),
		.timeout_ns = timeout_ns,
	};

	kc_file_queue_many(f, &sub, 1);
}

/**
 * kc_file_queue_sync() - queue a KCANCEL_IOC_SUBMIT_WAIT request
 * @f: the file.
 * @fio: the request, made by kc_file_prepare() with %KC_FILE_SYNC.
 * @timeout_ns: as for kc_file_queue().
 *
 * The caller becomes the device's waiter if no thread is
 * (kc_dev_waiter_begin()), then queues: an interrupt that comes before the
 * wait is its own to take. Only then does the completion of @fio wake the
 * device's waiter. Every copy from user memory must be done by now, so
 * that the bits the caller is handed never wait on a page fault.
 *
 * Context: process context.
 * Return: true if the caller is the device's waiter: it waits with
 * kc_file_wait_sync(), then calls kc_dev_waiter_end().
 */
bool kc_file_queue_sync(struct kc_file *f, struct kc_file_io *fio,
			u64 timeout_ns)
{
	bool waiter = kc_dev_waiter_begin(f->kd);

	/* Published with the request by the release in kc_file_queue_many(). */
	fio->waited = waiter;
	kc_file_queue(f, fio, timeout_ns);
	return waiter;
}

/**
 * kc_file_submit() - submit a request on a file
 * @f: the file.
 * @s: the submit, copied from the caller.
 * @uid: where the caller wants the id.
 *
 * kc_file_prepare() and kc_file_queue().
 *
 * Context: process context, the caller's; sleeps.
 * Return: 0, or a negative errno of KCANCEL_IOC_SUBMIT: nothing was queued
 * then.
 */
int kc_file_submit(struct kc_file *f, struct kcancel_submit *s,
		   __u64 __user *uid)
{
	struct kc_file_io *fio;

	fio = kc_file_prepare(f, s, uid, KC_FILE_EVENT);
	if (IS_ERR(fio))
		return PTR_ERR(fio);
	kc_file_queue(f, fio, s->timeout_ns);
	return 0;
}

/**
 * kc_file_cancel() - cancel a request of a file
 * @f: the file.
 * @fio: the request, with a reference the caller holds.
 * @how: who asks: a KC_FILE_CANCEL_* of trace.h.
 *
 * Context: as kc_dev_cancel().
 * Return: true if this call cancelled it.
 */
bool kc_file_cancel(struct kc_file *f, struct kc_file_io *fio, int how)
{
	bool canceled = kc_dev_cancel(f->kd, &fio->io, -ECANCELED);

	trace_kcancel_file_cancel(f->kd, fio->io.req.id, how, canceled);
	return canceled;
}

/**
 * kc_file_unreap() - give back an event a waiter could not deliver
 * @f: the file.
 * @fio: the request whose event the waiter took.
 *
 * The event goes back at the head, for read() and KCANCEL_IOC_WAIT: also
 * that of a KCANCEL_IOC_SUBMIT_WAIT request, which then becomes an ordinary
 * one. Waiters wake only after kc_file_io_completed() has run, so
 * @fio->completed is set here.
 *
 * Context: process context (takes the table's lock with xa_lock_irq()).
 */
void kc_file_unreap(struct kc_file *f, struct kc_file_io *fio)
{
	xa_lock_irq(&f->ios);
	fio->reaped = false;
	fio->sync = false;
	if (fio->completed)
		list_add(&fio->event_node, &f->events);
	xa_unlock_irq(&f->ios);
	wake_up_poll(&f->wq, EPOLLIN | EPOLLRDNORM);
}

/**
 * kc_file_orphan() - leave the request of a killed waiter to its completion
 * @f: the file.
 * @fio: the KCANCEL_IOC_SUBMIT_WAIT request, cancelled.
 *
 * A KCANCEL_IOC_SUBMIT_WAIT caller was killed while its request, cancelled,
 * has yet to complete: the completion takes the request out of the file. If
 * it completed meanwhile, it goes now. Either way it stops counting against
 * the file's max_pending, and leaves no event.
 *
 * Context: process context.
 */
void kc_file_orphan(struct kc_file *f, struct kc_file_io *fio)
{
	bool completed;

	xa_lock_irq(&f->ios);
	completed = fio->completed;
	fio->orphan = !completed;
	xa_unlock_irq(&f->ios);
	if (completed)
		kc_file_forget(f, fio);
}

/**
 * kc_file_io_done() - has a request of a file completed?
 * @arg: the &struct kc_file_io.
 *
 * The condition of kc_dev_waiter_wait() for a KCANCEL_IOC_SUBMIT_WAIT
 * request: kc_file_io_completed() has run, or is running its last steps.
 *
 * Context: any context.
 * Return: true once it completed.
 */
static bool kc_file_io_done(void *arg)
{
	struct kc_file_io *fio = arg;

	return READ_ONCE(fio->completed);
}

/**
 * kc_file_wait_sync() - wait for a KCANCEL_IOC_SUBMIT_WAIT request
 * @f: the file.
 * @fio: the request.
 * @waiter: the caller is the device's waiter (kc_dev_waiter_begin()): it
 *	runs the DPC itself when the interrupt comes.
 * @state: %TASK_INTERRUPTIBLE or %TASK_KILLABLE.
 *
 * Context: process context; sleeps.
 * Return: 0 once the request completed, or a negative errno if a signal
 * @state allows came first.
 */
int kc_file_wait_sync(struct kc_file *f, struct kc_file_io *fio,
		      bool waiter, unsigned int state)
{
	struct completion *done = &fio->io.req.done;
	int ret;

	if (!waiter)
		return state == TASK_KILLABLE ?
		       wait_for_completion_killable(done) :
		       wait_for_completion_interruptible(done);
	ret = kc_dev_waiter_wait(f->kd, kc_file_io_done, fio, state);
	/*
	 * kc_file_io_completed() has set @fio->completed: complete_all() comes
	 * next, and once it is done, so are the completion's stores.
	 */
	if (!ret)
		wait_for_completion(done);
	return ret;
}

/**
 * kc_file_lookup_user_data() - look up an io_uring request by user_data
 * @f: the file.
 * @user_data: the SQE's user_data.
 *
 * Looks up, with a reference, the oldest io_uring request of @f with this
 * user_data that has not completed. The walk lets go of the lock now and
 * then: a file may hold max_pending requests.
 *
 * Context: process context; may sleep (cond_resched()).
 * Return: the request, with a reference the caller drops, or NULL.
 */
static struct kc_file_io *kc_file_lookup_user_data(struct kc_file *f,
						   u64 user_data)
{
	XA_STATE(xas, &f->ios, 0);
	struct kc_file_io *fio, *found = NULL;
	unsigned int n = 0;

	xas_lock_irq(&xas);
	xas_for_each(&xas, fio, ULONG_MAX) {
		if (!kc_file_found(fio))
			continue;
		if (fio->uring && fio->tag == user_data &&
		    !fio->completed) {
			kc_request_get(&fio->io.req);
			found = fio;
			break;
		}
		if (!(++n % 64)) {
			xas_pause(&xas);
			xas_unlock_irq(&xas);
			cond_resched();
			xas_lock_irq(&xas);
		}
	}
	xas_unlock_irq(&xas);
	return found;
}

/**
 * kc_file_cancel_by() - KCANCEL_IOC_CANCEL and KCANCEL_URING_CMD_CANCEL
 * @f: the file.
 * @c: what to cancel, copied from the caller.
 * @how: who asks: a KC_FILE_CANCEL_* of trace.h.
 *
 * Context: process context.
 * Return: 0 if this call cancelled the request; -EALREADY if it had
 * completed or been cancelled already; -ENOENT if there is no such request;
 * -EINVAL for a bad flag or reserved field.
 */
int kc_file_cancel_by(struct kc_file *f, const struct kcancel_cancel *c,
		      int how)
{
	struct kc_file_io *fio;
	bool canceled;

	if ((c->flags & ~KCANCEL_CANCEL_USER_DATA) || c->reserved)
		return -EINVAL;
	if (c->flags & KCANCEL_CANCEL_USER_DATA)
		fio = kc_file_lookup_user_data(f, c->id);
	else
		fio = kc_file_lookup(f, c->id);
	if (!fio)
		return -ENOENT;
	canceled = kc_file_cancel(f, fio, how);
	kc_request_put(&fio->io.req);
	return canceled ? 0 : -EALREADY;
}

/**
 * kc_file_io_is_completed() - has kc_file_io_completed() run for a request?
 * @f: the file.
 * @fio: the request.
 *
 * Context: process context (takes the table's lock with xa_lock_irq()).
 * Return: true if it has run: the event is there.
 */
static bool kc_file_io_is_completed(struct kc_file *f, struct kc_file_io *fio)
{
	bool completed;

	xa_lock_irq(&f->ios);
	completed = fio->completed;
	xa_unlock_irq(&f->ios);
	return completed;
}

/**
 * kc_file_wait_done() - wait for a request to complete
 * @f: the file.
 * @fio: the request.
 * @t: the longest wait, in jiffies (MAX_SCHEDULE_TIMEOUT: no limit; 0: no
 *	wait).
 *
 * A look (@t 0) asks whether its event is there, which poll() may have
 * reported before the request's waiters are woken.
 *
 * Context: process context; sleeps unless @t is 0.
 * Return: 0, -ETIMEDOUT or -EINTR.
 */
int kc_file_wait_done(struct kc_file *f, struct kc_file_io *fio, long t)
{
	struct completion *done = &fio->io.req.done;
	long ret;

	if (!t)
		return kc_file_io_is_completed(f, fio) ? 0 : -ETIMEDOUT;
	ret = wait_for_completion_interruptible_timeout(done, t);
	if (ret < 0)
		return -EINTR;
	return ret ? 0 : -ETIMEDOUT;
}

/**
 * kc_file_take_one() - take the event of one request
 * @f: the file.
 * @fio: a request of @f that completed (kc_file_wait_done()).
 *
 * Context: process context (takes the table's lock with xa_lock_irq()).
 * Return: true if this call took it, false if another reaper had.
 */
bool kc_file_take_one(struct kc_file *f, struct kc_file_io *fio)
{
	bool mine;

	xa_lock_irq(&f->ios);
	mine = !fio->reaped;
	if (mine) {
		fio->reaped = true;
		list_del_init(&fio->event_node);
	}
	xa_unlock_irq(&f->ios);
	return mine;
}

/**
 * kc_file_take() - take ready events
 * @f: the file.
 * @max: the most to take.
 * @got: the list they are moved onto, oldest first.
 *
 * Context: process context (takes the table's lock with xa_lock_irq()).
 * Return: how many were taken.
 */
static size_t kc_file_take(struct kc_file *f, size_t max,
			   struct list_head *got)
{
	struct kc_file_io *fio;
	size_t n = 0;

	xa_lock_irq(&f->ios);
	while (n < max && !list_empty(&f->events)) {
		fio = list_first_entry(&f->events, struct kc_file_io,
				       event_node);
		fio->reaped = true;
		list_move_tail(&fio->event_node, got);
		n++;
	}
	xa_unlock_irq(&f->ios);
	return n;
}

/**
 * kc_file_readable() - the condition of the file's wait queue
 * @f: the file.
 *
 * Context: any context.
 * Return: true if there is an event to reap, or nothing more to come.
 */
static bool kc_file_readable(struct kc_file *f)
{
	return !list_empty_careful(&f->events) || kc_file_hup(f);
}

/**
 * kc_file_pop() - take events, waiting for one
 * @f: the file.
 * @max: the most to take.
 * @got: the list they are moved onto.
 * @nonblock: do not wait.
 *
 * Takes up to @max events onto @got, waiting for one unless @nonblock.
 *
 * Context: process context; sleeps unless @nonblock.
 * Return: 0, with @got empty at end of file (the device is gone); -EAGAIN if
 * @nonblock and there is none; -ERESTARTSYS on a signal.
 */
int kc_file_pop(struct kc_file *f, size_t max, struct list_head *got,
		bool nonblock)
{
	int ret;

	for (;;) {
		if (kc_file_take(f, max, got) || kc_file_hup(f))
			return 0;
		if (nonblock)
			return -EAGAIN;
		ret = wait_event_interruptible(f->wq, kc_file_readable(f));
		if (ret)
			return ret;
	}
}

/**
 * kc_file_unpop() - give back events that could not be copied
 * @f: the file.
 * @got: the events, put back at the head, in order.
 *
 * Context: process context (takes the table's lock with xa_lock_irq()).
 */
static void kc_file_unpop(struct kc_file *f, struct list_head *got)
{
	struct kc_file_io *fio;

	xa_lock_irq(&f->ios);
	list_for_each_entry(fio, got, event_node)
		fio->reaped = false;
	list_splice(got, &f->events);
	xa_unlock_irq(&f->ios);
	wake_up_poll(&f->wq, EPOLLIN | EPOLLRDNORM);
}

/**
 * kc_file_deliver() - write taken events to the caller
 * @f: the file.
 * @got: the events, taken.
 * @uev: the caller's buffer.
 *
 * Writes the events on @got to @uev, in order; those written are taken out
 * of the file together (kc_file_forget_many()), those that cannot be
 * written go back (kc_file_unpop()).
 *
 * Context: process context; may fault.
 * Return: how many were written.
 */
size_t kc_file_deliver(struct kc_file *f, struct list_head *got,
		       struct kcancel_event __user *uev)
{
	struct kc_file_io *fio, *tmp;
	struct kcancel_event ev;
	LIST_HEAD(done);
	size_t n = 0;

	list_for_each_entry_safe(fio, tmp, got, event_node) {
		kc_file_event(fio, &ev);
		if (copy_to_user(&uev[n], &ev, sizeof(ev)))
			break;
		list_move_tail(&fio->event_node, &done);
		n++;
	}
	kc_file_forget_many(f, &done);
	if (!list_empty(got))
		kc_file_unpop(f, got);
	return n;
}

/**
 * kc_file_reap() - reap events, waiting for some
 * @f: the file.
 * @uev: the caller's buffer.
 * @max: the most to reap.
 * @min: how many to wait for.
 * @t: the longest wait, in jiffies (MAX_SCHEDULE_TIMEOUT: no limit; 0: no
 *	wait).
 *
 * Reaps up to @max events into @uev, waiting until @min are reaped, @t
 * jiffies have passed, or nothing more can come.
 *
 * Context: process context; sleeps unless @t is 0.
 * Return: how many, -EFAULT if not even the first ready one could be
 * written, -EINTR for a signal before any.
 */
long kc_file_reap(struct kc_file *f, struct kcancel_event __user *uev,
		  u32 max, u32 min, long t)
{
	size_t taken, written;
	LIST_HEAD(got);
	u32 n = 0;
	long ret;

	for (;;) {
		taken = kc_file_take(f, max - n, &got);
		if (taken) {
			written = kc_file_deliver(f, &got, uev + n);
			n += written;
			if (written < taken)
				return n ? n : -EFAULT;
		}
		if (n >= min || !t || kc_file_hup(f))
			return n;
		ret = wait_event_interruptible_timeout(f->wq,
						       kc_file_readable(f), t);
		if (ret < 0)
			return n ? n : -EINTR;
		/* Timed out: one last look, no more waiting. */
		t = ret;
	}
}

/* Submits of a KCANCEL_IOC_BATCH bound and queued together. */
#define KC_BATCH_CHUNK	16

/**
 * kc_file_make_many() - build some of a batch's requests
 * @f: the file.
 * @us: the caller's submits.
 * @nr: how many, at most %KC_BATCH_CHUNK.
 * @fios: out: the requests (kc_file_make()), up to the first that fails.
 * @seqs: out: their sequence numbers.
 * @subs: out: their timeouts.
 * @made: out: how many were built.
 *
 * Context: process context, the caller's; sleeps.
 * Return: 0, or the errno of the submit at *@made, which failed.
 */
static int kc_file_make_many(struct kc_file *f,
			     struct kcancel_submit __user *us, u32 nr,
			     struct kc_file_io **fios, u64 *seqs,
			     struct kc_dev_submit *subs, u32 *made)
{
	struct kcancel_submit s;
	int err = 0;
	u32 n;

	for (n = 0; n < nr; n++) {
		if (copy_from_user(&s, &us[n], sizeof(s))) {
			err = -EFAULT;
			break;
		}
		fios[n] = kc_file_make(f, &s, KC_FILE_EVENT, &seqs[n]);
		if (IS_ERR(fios[n])) {
			err = PTR_ERR(fios[n]);
			break;
		}
		subs[n].timer = kc_file_timer(fios[n]);
		subs[n].timeout_ns = s.timeout_ns;
	}
	*made = n;
	return err;
}

/**
 * kc_file_submit_many() - submit some of a batch's requests together
 * @f: the file.
 * @us: the caller's submits; each id is written back.
 * @nr: how many, at most %KC_BATCH_CHUNK.
 * @queued: out: how many were queued, the first ones.
 *
 * Each request is made as KCANCEL_IOC_SUBMIT makes it (kc_file_reserve()),
 * up to the first that fails, each step for all of them before the next:
 * their places in the file's table in one critical section of its lock.
 * Those reserved are bound to the device and queued together, one critical
 * section of the device's lock each, and nothing sleeps between the two (a
 * removal waits for them).
 *
 * Context: process context, the caller's; sleeps.
 * Return: 0, or the errno of the first submit that failed: -ENODEV for the
 * first of all if the device went before they were bound (none queued).
 */
static int kc_file_submit_many(struct kc_file *f,
			       struct kcancel_submit __user *us, u32 nr,
			       u32 *queued)
{
	struct kc_dev_submit subs[KC_BATCH_CHUNK];
	struct kc_file_io *fios[KC_BATCH_CHUNK];
	u64 seqs[KC_BATCH_CHUNK];
	u32 n, placed, i;
	int err, ret;

	*queued = 0;
	err = kc_file_make_many(f, us, nr, fios, seqs, subs, &n);
	/*
	 * A step that fails does so at an earlier submit than the step before
	 * it: its error is that of the first submit that failed.
	 */
	ret = kc_file_place_many(f, fios, seqs, n, &placed);
	if (ret)
		err = ret;
	for (i = placed; i < n; i++)
		kc_file_unmake(f, fios[i]);
	for (n = 0; n < placed; n++) {
		ret = kc_file_finish_reserve(f, fios[n], &us[n].id);
		if (ret) {
			err = ret;
			break;
		}
		subs[n].io = &fios[n]->io;
	}
	for (i = n + 1; i < placed; i++)
		kc_file_unplace(f, fios[i]);
	if (!n)
		return err;
	if (kc_dev_bind(f->kd, subs, n)) {
		for (i = 0; i < n; i++)
			kc_file_unreserve(f, fios[i], &us[i].id);
		return -ENODEV;
	}
	for (i = 0; i < n; i++)
		kc_file_bound(fios[i], KC_FILE_EVENT);
	kc_file_queue_many(f, subs, n);
	*queued = n;
	return err;
}

/**
 * kc_file_drain() - wait until no request of a file is outstanding
 * @f: the file.
 *
 * The hardware gets the device's own time limit to end what it holds; a
 * device that does not is failed, which ends everything it holds with -EIO.
 *
 * Context: process context; sleeps.
 */
static void kc_file_drain(struct kc_file *f)
{
	struct kc_dev *kd = f->kd;

	if (wait_var_event_timeout(&f->outstanding,
				   !atomic_read(&f->outstanding),
				   kd->op_timeout))
		return;
	pr_err("kcancel: %s: operations did not end within %u ms; the device is failed\n",
	       kd->name, jiffies_to_msecs(kd->op_timeout));
	kc_dev_fail(kd, -EIO);
	kc_chardev_hangup(kd);
	wait_var_event(&f->outstanding, !atomic_read(&f->outstanding));
}

/**
 * kc_file_submit_batch() - the submits of a KCANCEL_IOC_BATCH
 * @f: the file.
 * @us: the caller's submits; each id is written back.
 * @nr: how many, at most %KCANCEL_BATCH_MAX.
 * @queued: out: how many were queued, the first ones.
 *
 * The submits in order, as KCANCEL_IOC_SUBMIT makes each, up to the first
 * that fails, bound and queued %KC_BATCH_CHUNK at a time
 * (kc_file_submit_many()).
 *
 * Context: process context, the caller's; sleeps.
 * Return: 0, or the errno of the first submit that failed.
 */
int kc_file_submit_batch(struct kc_file *f, struct kcancel_submit __user *us,
			 u32 nr, u32 *queued)
{
	u32 i = 0, n;
	int err = 0;

	while (i < nr) {
		err = kc_file_submit_many(f, us + i,
					  min_t(u32, nr - i, KC_BATCH_CHUNK),
					  &n);
		i += n;
		if (err)
			break;
		cond_resched();
	}
	*queued = i;
	return err;
}

/**
 * kc_file_init() - set up a new file
 * @f: the file, zeroed.
 * @kd: its device, with a reference the caller holds until after
 *	kc_file_close().
 *
 * Context: any context.
 */
void kc_file_init(struct kc_file *f, struct kc_dev *kd)
{
	f->kd = kd;
	xa_init_flags(&f->ios, XA_FLAGS_ALLOC | XA_FLAGS_LOCK_IRQ);
	INIT_LIST_HEAD(&f->events);
	init_waitqueue_head(&f->wq);
	atomic_set(&f->outstanding, 0);
	atomic_set(&f->count, 0);
}

/**
 * kc_file_close() - cancel every request of a file, wait for all, let go
 * @f: the file, closed: no call of its own can come any more.
 *
 * Cancels every request of the file, waits for all (kc_file_drain()), then
 * takes each out of the table. An orphan (kc_file_orphan()) leaves the
 * table, and may be freed, as it completes: each request is cancelled under
 * a reference taken with the look-up.
 *
 * Context: process context; sleeps.
 */
void kc_file_close(struct kc_file *f)
{
	struct kc_file_io *fio;
	unsigned long index;

	xa_for_each(&f->ios, index, fio) {
		fio = kc_file_get_at(f, index, 0);
		if (fio) {
			kc_file_cancel(f, fio, KC_FILE_CANCEL_CLOSE);
			kc_request_put(&fio->io.req);
		}
		cond_resched();
	}
	kc_file_drain(f);
	xa_for_each(&f->ios, index, fio)
		kc_file_forget(f, fio);
	xa_destroy(&f->ios);
}

/**
 * kc_file_setup() - create the caches of the requests of files
 *
 * Context: process context, at module load.
 * Return: 0 or -ENOMEM.
 */
int kc_file_setup(void)
{
	kc_file_io_cache = KMEM_CACHE(kc_file_io, SLAB_ACCOUNT);
	kc_file_io_timed_cache = KMEM_CACHE(kc_file_io_timed, SLAB_ACCOUNT);
	if (kc_file_io_cache && kc_file_io_timed_cache)
		return 0;
	kc_file_exit();
	return -ENOMEM;
}

/**
 * kc_file_exit() - destroy the caches of the requests of files
 *
 * Every file is closed and every request freed by then.
 *
 * Context: process context, at module unload.
 */
void kc_file_exit(void)
{
	kmem_cache_destroy(kc_file_io_timed_cache);
	kmem_cache_destroy(kc_file_io_cache);
}
