/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kcancel devices: requests served by hardware slots, and the DPC.
 *
 * Not a library API: what this header declares is exported to the KUnit
 * suites only (EXPORT_SYMBOL_IF_KUNIT).
 *
 * DOC: Overview
 *
 * A &struct kc_dev is one backing device, the QEMU edu PCI device (edu.c) or
 * the software device (sim.c), behind one character device (chardev.c). It
 * runs &struct kc_io requests in hardware *slots*: slot N finishes with bit N
 * of the device's interrupt status, and each channel (factorial, DMA,
 * doorbell) owns a set of slots.
 *
 * A request waits in its channel's software queue, marked cancelable: that is
 * the first KMDF pattern, a cancel callback that completes it. When a slot
 * frees up, the dispatcher takes the request off the queue:
 *
 * - factorial and DMA requests are unmarked (if the cancel won, the callback
 *   has it) and sent to the device's &struct kc_target: the second pattern, a
 *   collection of sent requests that a cancel looks up by id;
 * - doorbell requests stay cancelable while the hardware has them: a cancel
 *   completes them at once, and the DPC, when the doorbell rings, completes
 *   only if kc_request_unmark_cancelable() did not return -ECANCELED.
 *
 * The hard interrupt handler (the ISR) only reads and acknowledges the status
 * bits and hands them to the DPC, kc_dev_dpc(), which runs in a thread under
 * the queue's synchronization: the backend's DPC thread, or the thread that
 * waits for the interrupt (handoff.c). A slot keeps a reference to its request
 * until its bit has been seen, so a late interrupt for a request already
 * completed touches nothing freed. The DPC takes a bit only for a slot whose
 * operation was started and has not ended yet (&kc_dev.started): spurious,
 * duplicate and stale bits are counted and ignored. A cancel aborts an
 * operation in flight if the backend can (the software device), so that its
 * bit, and the slot, come back at once. The edu device cannot abort: a
 * cancelled in-flight request completes -ECANCELED after its interrupt, and
 * its DMA buffer stays with the device until then; a cancelled doorbell
 * completes at once but keeps its slot until its bit.
 *
 * A device that stops answering is not waited for forever: close() and
 * removal wait at most &kc_dev.op_timeout for the hardware, then
 * kc_dev_fail() stops it (&kc_dev_ops.halt), ends every started slot with an
 * error and completes everything queued; the device then takes nothing new.
 *
 * Every request holds a reference to its device from kc_dev_prepare() (or
 * kc_dev_bind()) until its release, so a timeout or a cancel that runs while its request completes
 * never finds the device freed.
 *
 * Lock order: written once, for the whole of kcancel, in &struct kc_queue's
 * kernel-doc (request.h).
 */
#ifndef _KCANCEL_DEV_H
#define _KCANCEL_DEV_H

#include <linux/jiffies.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rcuwait.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>

#include <kcancel/chardev.h>
#include <kcancel/request.h>
#include <kcancel/target.h>

#include <uapi/linux/kcancel.h>

/* Slots per device: bits of a u64 status word. */
#define KC_DEV_SLOTS	64
/* How much longer than its own latency an operation may take, at most. */
#define KC_DEV_OP_MARGIN	(5 * HZ)

struct kc_dev;

/**
 * enum kc_chan - the channels of a device; each has its software queue
 * @KC_CHAN_FACT: factorial.
 * @KC_CHAN_DMA: DMA in both directions.
 * @KC_CHAN_BELL: doorbells.
 * @KC_CHAN_NR: the number of channels.
 */
enum kc_chan {
	KC_CHAN_FACT,
	KC_CHAN_DMA,
	KC_CHAN_BELL,
	KC_CHAN_NR,
};

/**
 * struct kc_io - a request to a device
 * @req: the cancelable request; &kc_request.id is the id users see. Its
 *	queue is the device's: kc_io_dev() finds the device from it.
 * @owner_ops: the owner's request operations, called through the device's.
 * @arg: the operation's argument (factorial n, doorbell value).
 * @buf: DMA data, @len bytes, owned by the owner of @req.
 * @result: the result the device produced, set by the DPC.
 * @op: an &enum kcancel_op.
 * @len: DMA length.
 * @offset: DMA offset in the device memory.
 * @slot: the hardware slot (below %KC_DEV_SLOTS), or -1 while queued; under
 *	&kc_dev.lock.
 * @chan: its channel, an &enum kc_chan.
 * @queue_node: entry in the channel's software queue, under &kc_dev.lock.
 * @tio: the request's record in the device's target, for a factorial or
 *	DMA request.
 *
 * One is allocated per request in flight: the small fields are packed
 * together, and the device is not stored but found from the queue.
 */
struct kc_io {
	struct kc_request req;
	const struct kc_request_ops *owner_ops;
	u64 arg;
	void *buf;
	u64 result;
	u32 op;
	u32 len;
	u32 offset;
	s16 slot;
	u8 chan;
	struct list_head queue_node;
	struct kc_target_io tio;
};

/* Per-operation tables are indexed by &enum kcancel_op. */
#define KC_DEV_OPS	(KCANCEL_OP_MAX + 1)

/**
 * enum kc_dev_end - how a request ended, for the statistics
 * @KC_END_OK: status 0.
 * @KC_END_CANCELED: -ECANCELED.
 * @KC_END_TIMEDOUT: -ETIMEDOUT.
 * @KC_END_NODEV: -ENODEV (removal).
 * @KC_END_IO: -EIO (the device failed or could not run it).
 * @KC_END_OTHER: any other status.
 * @KC_END_NR: how many.
 */
enum kc_dev_end {
	KC_END_OK,
	KC_END_CANCELED,
	KC_END_TIMEDOUT,
	KC_END_NODEV,
	KC_END_IO,
	KC_END_OTHER,
	KC_END_NR,
};

/**
 * struct kc_handoff - status bits on their way from the ISR to a DPC
 * @bits: bits the ISR handed off (kc_dev_isr_handoff()) and no DPC took.
 * @waiter: the thread that takes them, if one waits (kc_dev_waiter_begin()).
 * @claimed: a thread is the waiter, from kc_dev_waiter_begin() until it has
 *	taken what was left to it in kc_dev_waiter_end().
 * @by_waiter: bits the waiter took, in all.
 *
 * See handoff.c.
 */
struct kc_handoff {
	atomic64_t bits;
	struct rcuwait waiter;
	atomic_t claimed;
	atomic64_t by_waiter;
};

/**
 * struct kc_dev_stats - a device's counters of one CPU
 * @ended: completions by operation (&enum kcancel_op) and status.
 * @cancel_won: completions by operation of requests whose cancel was asked
 *	for and decided the status.
 * @completion_won: kc_dev_cancel() calls by operation that came after the
 *	request had completed (and had not been cancelled before).
 *
 * Each CPU counts its own (this_cpu_inc()); readers sum them.
 */
struct kc_dev_stats {
	unsigned long ended[KC_DEV_OPS][KC_END_NR];
	unsigned long cancel_won[KC_DEV_OPS];
	unsigned long completion_won[KC_DEV_OPS];
};

/**
 * struct kc_dev_ops - a backend: what runs the operations
 * @start: start @io in slot @io->slot. The slot's status bit must reach
 *	kc_dev_dpc() exactly once when the operation ends (from an ISR:
 *	through kc_dev_isr_handoff()), which may happen before @start
 *	returns. An operation that ends as it starts may instead call
 *	kc_dev_end_now() from @start: the caller of the dispatcher then
 *	finishes it before it returns, in its own context, with no interrupt
 *	and no DPC thread to wake.
 * @fetch: called by the DPC for a finished slot, before the slot is reused:
 *	set @io->result and, for %KCANCEL_OP_DMA_FROM_DEV, fill @io->buf.
 *	Returns 0, -ECANCELED if @abort stopped the operation, or -EIO.
 * @abort: optional: try to stop the operation of @io; its bit must still
 *	reach kc_dev_dpc(). Called under &kc_dev.lock, only while @io holds its
 *	slot, possibly more than once and after the operation has ended on its
 *	own: a call that finds nothing left to stop must do nothing.
 * @halt: stop the hardware for good: once it returns, no operation moves
 *	data or raises a bit any more (a bit already on its way to the DPC is
 *	harmless). Called by kc_dev_fail(), once, in process context; may
 *	sleep.
 * @raise: optional, for tests: make the device raise the status bits
 *	@mask, as a hostile or broken device would. Process context.
 *
 * Context: @start, @fetch and @abort are called in any context, with
 * interrupts possibly disabled, and may not sleep.
 */
struct kc_dev_ops {
	void (*start)(struct kc_dev *kd, struct kc_io *io);
	int (*fetch)(struct kc_dev *kd, struct kc_io *io);
	void (*abort)(struct kc_dev *kd, struct kc_io *io);
	void (*halt)(struct kc_dev *kd);
	void (*raise)(struct kc_dev *kd, u64 mask);
};

/**
 * struct kc_dev - a backing device and its request machinery
 * @ref: the backend holds one reference, each open file one more.
 * @ops: the backend's operations.
 * @priv: the backend's data; valid until kc_dev_shutdown() returns.
 * @backend: an &enum kcancel_backend.
 * @dma_size: how much of the device memory DMA reaches.
 * @queue: the queue all requests of the device belong to.
 * @target: the collection of factorial and DMA requests in flight.
 * @lock: guards @pending, @busy, @slot_io, @started, @ended_now, @dead,
 *	@failed and &kc_io.slot.
 * @pending: the software queue of each channel.
 * @chan_slots: the slots of each channel; fixed at creation.
 * @busy: the slots in use.
 * @slot_io: the request in each busy slot, holding a reference.
 * @started: the slots whose operation was started and whose bit has not
 *	been taken yet; the DPC (or kc_dev_fail()) takes each bit once, so a
 *	bit of a slot not in it is ignored.
 * @ended_now: the bits of the operations that ended as they started
 *	(kc_dev_end_now()); the dispatcher takes them before it drops @lock.
 * @dead: set by kc_dev_shutdown() and kc_dev_fail(): nothing new starts
 *	and kc_dev_prepare() and kc_dev_bind() refuse. Written under @lock, read with
 *	READ_ONCE() where a stale value is harmless.
 * @failed: kc_dev_fail() ran: the hardware is halted.
 * @fail_lock: held by kc_dev_fail() while it decides and halts the
 *	hardware, and by kc_dev_shutdown() to set @gone.
 * @gone: kc_dev_shutdown() has returned: the backend may free its data, and
 *	kc_dev_fail() does nothing. Under @fail_lock.
 * @op_timeout: the longest, in jiffies, the hardware may take to end what
 *	it was given once cancelled; set by the backend before the device is
 *	used. close() and removal wait that long, then kc_dev_fail().
 * @spurious: status bits the DPC ignored: no operation was started in
 *	their slot (spurious, duplicate or stale interrupts).
 * @forced: started slots that kc_dev_fail() ended without their bit.
 * @handoff: the ISR's bits on their way to a DPC (handoff.c).
 * @stats: per-CPU completion counters (kc_dev_stats_sum()).
 * @in_flight: requests queued by kc_dev_queue_many() and not completed yet.
 * @in_flight_max: the highest @in_flight has been.
 * @next_id: the last id given out.
 * @chardev: its character device (chardev.c).
 * @name: "kcancelN", the name of the device and of its character device.
 * @debugfs: the device's debugfs directory (debugfs.c), or NULL.
 */
struct kc_dev {
	/* Read-mostly: set up before the device is used. */
	const struct kc_dev_ops *ops;
	void *priv;
	enum kcancel_backend backend;
	u32 dma_size;
	unsigned long op_timeout;
	struct kc_dev_stats __percpu *stats;
	u64 chan_slots[KC_CHAN_NR];
	struct kc_target target;

	/*
	 * Each group below is written by every request: each has cache lines
	 * of its own, so that two CPUs submitting to one device do not also
	 * fight over the lines of another group or of the read-mostly fields.
	 */
	struct kc_queue queue ____cacheline_aligned_in_smp;

	spinlock_t lock ____cacheline_aligned_in_smp;	/* see above */
	struct list_head pending[KC_CHAN_NR];
	u64 busy;
	u64 started;
	u64 ended_now;
	bool dead;
	bool failed;
	struct kc_io *slot_io[KC_DEV_SLOTS];

	struct kc_handoff handoff ____cacheline_aligned_in_smp;

	struct kref ref ____cacheline_aligned_in_smp;
	atomic_t in_flight;
	atomic_t in_flight_max;
	atomic64_t next_id;

	/* Cold: failure, removal, counters of the unusual, the interface. */
	struct mutex fail_lock ____cacheline_aligned_in_smp;	/* see above */
	bool gone;
	atomic64_t spurious;
	atomic64_t forced;
	struct kc_chardev chardev;
	char name[24];
	struct dentry *debugfs;
};

/**
 * kc_io_dev() - the device of a request
 * @io: a request that kc_dev_prepare() bound to its device.
 *
 * The request holds a reference to the device, from kc_dev_prepare() until
 * its release.
 *
 * Context: any context.
 * Return: the device.
 */
static inline struct kc_dev *kc_io_dev(const struct kc_io *io)
{
	return container_of(io->req.queue, struct kc_dev, queue);
}

struct kc_dev *kc_dev_create(const struct kc_dev_ops *ops, void *priv,
			     enum kcancel_backend backend,
			     const u64 chan_slots[KC_CHAN_NR], u32 dma_size,
			     enum kc_sync_mode mode);
void kc_dev_shutdown(struct kc_dev *kd);
void kc_dev_fail(struct kc_dev *kd, int status);
void kc_dev_put(struct kc_dev *kd);

/**
 * kc_dev_get() - take a reference to a device
 * @kd: the device.
 *
 * Context: any context.
 */
static inline void kc_dev_get(struct kc_dev *kd)
{
	kref_get(&kd->ref);
}

/**
 * struct kc_dev_submit - a request to bind and queue with others
 * @io: the request, reserved by kc_dev_reserve().
 * @timer: storage for its timeout, which must live as long as @io; NULL
 *	when @timeout_ns is 0.
 * @timeout_ns: 0, or cancel the request with -ETIMEDOUT after that long.
 *
 * For kc_dev_bind() and kc_dev_queue_many(), which take &kc_dev.lock once
 * for a whole array of these: a batch of submits pays one critical section
 * of the lock that every submitter of the device shares.
 */
struct kc_dev_submit {
	struct kc_io *io;
	struct kc_request_timer *timer;
	u64 timeout_ns;
};

int kc_dev_check_io(const struct kc_dev *kd, const struct kc_io *io);
u64 kc_dev_next_id(struct kc_dev *kd);
int kc_dev_reserve(struct kc_dev *kd, struct kc_io *io, u64 id,
		   const struct kc_request_ops *ops);
void kc_dev_unreserve(struct kc_dev *kd, struct kc_io *io);
int kc_dev_bind(struct kc_dev *kd, const struct kc_dev_submit *subs,
		unsigned int n);
int kc_dev_prepare(struct kc_dev *kd, struct kc_io *io, u64 id,
		   const struct kc_request_ops *ops);
void kc_dev_queue_many(struct kc_dev *kd, const struct kc_dev_submit *subs,
		       unsigned int n);
void kc_dev_queue(struct kc_dev *kd, struct kc_io *io,
		  struct kc_request_timer *timer, u64 timeout_ns);
bool kc_dev_cancel(struct kc_dev *kd, struct kc_io *io, int reason);
void kc_dev_dpc(struct kc_dev *kd, u64 done);
void kc_dev_end_now(struct kc_dev *kd, struct kc_io *io);
void kc_handoff_init(struct kc_handoff *h);
bool kc_dev_isr_handoff(struct kc_dev *kd, u64 bits);
void kc_dev_dpc_handoff(struct kc_dev *kd);
bool kc_dev_waiter_begin(struct kc_dev *kd);
int kc_dev_waiter_wait(struct kc_dev *kd, bool (*cond)(void *arg), void *arg,
		       unsigned int state);
void kc_dev_waiter_end(struct kc_dev *kd);
void kc_dev_waiter_wake(struct kc_dev *kd);
unsigned int kc_dev_doorbells(const struct kc_dev *kd);
void kc_dev_stats_sum(const struct kc_dev *kd, struct kc_dev_stats *sum);
u64 kc_dev_factorial(unsigned int n);

#endif /* _KCANCEL_DEV_H */
