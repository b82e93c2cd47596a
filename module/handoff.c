// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel ISR to DPC hand-off: the DPC's thread, or a thread that waits.
 *
 * DOC: Who runs the DPC
 *
 * An ISR hands the status bits it acknowledged to kc_dev_isr_handoff(),
 * which adds them to &kc_handoff.bits. Whoever takes them runs the DPC,
 * kc_dev_dpc(), with them; two contexts can:
 *
 * - the backend's DPC thread (edu's threaded handler, the software device's
 *   kthread worker), through kc_dev_dpc_handoff(): the ISR wakes it when no
 *   thread waits in kc_dev_waiter_wait();
 * - the device's *waiter*: one thread at a time that waits for a request of
 *   the device (KCANCEL_IOC_SUBMIT_WAIT) between kc_dev_waiter_begin() and
 *   kc_dev_waiter_end(). The ISR wakes it instead of the DPC thread, and it
 *   runs the DPC itself, in its own context, before it looks at its
 *   request again. An interrupt then costs one wake-up, that of the thread
 *   which waits for it, instead of two (the DPC thread's, then the
 *   waiter's), and none when it comes while the waiter is still running.
 *
 * The DPC is the same either way: the same bits, the same serialization
 * (kc_queue_synchronize()); only the thread differs, as the CPU a KMDF DPC
 * runs on does. The bits are taken with one atomic64_xchg(), so each goes to
 * one DPC.
 *
 * No bit is stranded with a waiter that leaves: the ISR adds its bits, then
 * (a full barrier in between) reads whether a waiter is registered; the
 * waiter, in kc_dev_waiter_end(), unregisters, then (a full barrier: the
 * xchg) takes what is left. Either the ISR sees no waiter and wakes the DPC
 * thread, or the waiter sees the bits.
 *
 * The waiter is registered in &kc_handoff.waiter, an rcuwait: the ISR wakes
 * the task without a lock, so it stays a hard handler on PREEMPT_RT, and
 * RCU keeps the task alive while the ISR wakes it. The waiter is registered
 * before its request is queued, so that an interrupt that comes before the
 * wait is its own to take, and only once nothing is left that could block
 * on anything but its request (its submit's copies from user memory are
 * done), so the bits it is handed never wait on a page fault.
 *
 * A waiter's DPC may finish the requests of other threads and files: their
 * owners are woken as by any DPC. It runs at the waiter's priority, not at
 * that of the DPC thread (a threaded handler is SCHED_FIFO): where other
 * users of a device must not wait on an ordinary thread, the waiter_dpc
 * module parameter (writable at run time) turns the hand-off to a waiter
 * off.
 *
 * A DPC a waiter runs after the device was shut down finds no slot started
 * (kc_dev_shutdown() waits for every slot), so it touches nothing of the
 * backend, whose data may be freed by then.
 */
#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/export.h>
#include <linux/moduleparam.h>
#include <linux/rcuwait.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <kunit/visibility.h>

#include <kcancel/dev.h>

static bool waiter_dpc = true;
module_param(waiter_dpc, bool, 0644);
MODULE_PARM_DESC(waiter_dpc,
		 "A thread waiting in KCANCEL_IOC_SUBMIT_WAIT runs the DPC itself when the interrupt comes, instead of waking the DPC thread (default Y; N: the DPC thread always runs it, at its own priority)");

/**
 * kc_handoff_init() - set up a device's hand-off
 * @h: the hand-off.
 *
 * Context: any context.
 */
void kc_handoff_init(struct kc_handoff *h)
{
	atomic64_set(&h->bits, 0);
	rcuwait_init(&h->waiter);
	atomic_set(&h->claimed, 0);
	atomic64_set(&h->by_waiter, 0);
}

/**
 * kc_dev_isr_handoff() - hand status bits from the ISR to the DPC
 * @kd: the device.
 * @bits: the status bits the ISR acknowledged.
 *
 * Fully ordered: what the caller wrote before is seen by the DPC that takes
 * these bits.
 *
 * Context: any context, hard IRQ included, RT too; takes no lock.
 * Return: true if the device's waiter takes them; false if the caller must
 * have its DPC thread run kc_dev_dpc_handoff().
 */
bool kc_dev_isr_handoff(struct kc_dev *kd, u64 bits)
{
	struct kc_handoff *h = &kd->handoff;

	atomic64_fetch_or(bits, &h->bits);
	/*
	 * The fetch_or is fully ordered: if this reads no waiter, one that
	 * just left does not see the bits, and the DPC thread must run.
	 */
	if (!rcuwait_active(&h->waiter))
		return false;
	rcuwait_wake_up(&h->waiter);
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_isr_handoff);

/**
 * kc_dev_take_handoff() - run the DPC with the bits handed off, if any
 * @kd: the device.
 * @waiter: the caller is the device's waiter (it counts what it takes).
 *
 * Context: process context, no kcancel lock held.
 */
static void kc_dev_take_handoff(struct kc_dev *kd, bool waiter)
{
	struct kc_handoff *h = &kd->handoff;
	u64 bits = atomic64_xchg(&h->bits, 0);

	if (!bits)
		return;
	if (waiter)
		atomic64_add(hweight64(bits), &h->by_waiter);
	kc_dev_dpc(kd, bits);
}

/**
 * kc_dev_dpc_handoff() - the DPC thread's part: run the DPC with the bits
 * @kd: the device.
 *
 * Takes the bits kc_dev_isr_handoff() was given, if the waiter has not
 * taken them, and runs kc_dev_dpc() with them.
 *
 * Context: process context (the backend's DPC thread), no kcancel lock
 * held.
 */
void kc_dev_dpc_handoff(struct kc_dev *kd)
{
	kc_dev_take_handoff(kd, false);
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_dpc_handoff);

/**
 * kc_dev_waiter_begin() - become the device's waiter, if no thread is
 * @kd: the device.
 *
 * From now until kc_dev_waiter_end(), the ISR hands its bits to the caller
 * and wakes it; the caller must call kc_dev_waiter_wait() to wait.
 *
 * Context: process context.
 * Return: true if the caller is the waiter; false if another thread is, or
 * the waiter_dpc parameter is off: the caller waits as any other thread
 * does then, and its request is finished by the DPC thread or the waiter.
 */
bool kc_dev_waiter_begin(struct kc_dev *kd)
{
	struct kc_handoff *h = &kd->handoff;

	if (!READ_ONCE(waiter_dpc) || atomic_xchg_acquire(&h->claimed, 1))
		return false;
	prepare_to_rcuwait(&h->waiter);
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_waiter_begin);

/**
 * kc_dev_waiter_wait() - wait for a condition, running the DPC meanwhile
 * @kd: the device; the caller is its waiter (kc_dev_waiter_begin()).
 * @cond: the condition; whoever makes it true calls kc_dev_waiter_wake()
 *	after, unless the DPC the waiter runs makes it true.
 * @arg: its argument.
 * @state: %TASK_INTERRUPTIBLE, %TASK_KILLABLE or %TASK_UNINTERRUPTIBLE.
 *
 * Runs the DPC with each batch of bits the ISR hands off until @cond is
 * true.
 *
 * Context: process context, no kcancel lock held; sleeps.
 * Return: 0 once @cond is true; -EINTR if a signal @state allows came first.
 */
int kc_dev_waiter_wait(struct kc_dev *kd, bool (*cond)(void *arg), void *arg,
		       unsigned int state)
{
	struct kc_handoff *h = &kd->handoff;
	int ret = 0;

	for (;;) {
		/* Pairs with the barrier of kc_dev_waiter_wake(). */
		set_current_state(state);
		if (cond(arg))
			break;
		if (atomic64_read(&h->bits)) {
			__set_current_state(TASK_RUNNING);
			kc_dev_take_handoff(kd, true);
			continue;
		}
		if (signal_pending_state(state, current)) {
			ret = -EINTR;
			break;
		}
		schedule();
	}
	__set_current_state(TASK_RUNNING);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_waiter_wait);

/**
 * kc_dev_waiter_end() - stop being the device's waiter
 * @kd: the device; the caller is its waiter.
 *
 * Unregisters, then runs the DPC with whatever bits an ISR handed to the
 * caller and it did not take: from now on the ISR wakes the DPC thread.
 *
 * Context: process context, no kcancel lock held.
 */
void kc_dev_waiter_end(struct kc_dev *kd)
{
	struct kc_handoff *h = &kd->handoff;

	finish_rcuwait(&h->waiter);
	/* The xchg is a full barrier: see the ISR's in kc_dev_isr_handoff(). */
	kc_dev_take_handoff(kd, true);
	atomic_set_release(&h->claimed, 0);
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_waiter_end);

/**
 * kc_dev_waiter_wake() - wake the device's waiter: its condition may be true
 * @kd: the device.
 *
 * For what completes a request otherwise than through the waiter's own
 * DPC: a cancel, a timeout, the DPC thread, another device's waiter. Wakes
 * nobody if no thread waits.
 *
 * Context: any context.
 */
void kc_dev_waiter_wake(struct kc_dev *kd)
{
	/* A full barrier, then the waiter: pairs with set_current_state(). */
	rcuwait_wake_up(&kd->handoff.waiter);
}
EXPORT_SYMBOL_IF_KUNIT(kc_dev_waiter_wake);
