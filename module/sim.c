// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel software device: an hrtimer "device" and a kthread DPC.
 *
 * DOC: Software device
 *
 * Each slot has an hrtimer that plays the hardware: started by the
 * dispatcher, it fires in hard interrupt context after the configured
 * latency, where its handler, the ISR, only hands the slot's bit off
 * (kc_dev_isr_handoff()) and, unless the thread that waits for it takes it,
 * queues the DPC on the device's kthread worker (both RT-safe: atomics, an
 * rcuwait and a raw spinlock). The DPC passes the bits to kc_dev_dpc(), the
 * same path the edu device's threaded handler takes. An operation of no
 * latency (sim_latency_us=0 with no jitter, or a jitter that drew 0) arms no
 * timer and raises no bit: it ends as it starts, as on a device that ends it
 * before its doorbell write returns, and the dispatcher that started it
 * finishes it (kc_dev_end_now()) in its own context, the submitter's or the
 * DPC's, so that a request of no latency costs no interrupt and no thread
 * wake-up.
 *
 * Slots: factorial 0 to parallel - 1, DMA 16 to 16 + parallel - 1, and 30
 * doorbells from 32. DMA moves data between the request's buffer and a
 * 4096-byte memory when the operation ends, as a device would.
 *
 * For the fault tests, a software device created with a character device
 * has debugfs knobs besides those of every device (debugfs.c), in
 * /sys/kernel/debug/kcancel/kcancelN/:
 *
 * - remove (write 1): remove the device, as a PCI device is removed: its
 *   requests complete -ENODEV, its node goes; asynchronous (the knob's own
 *   directory goes with it), the node is gone shortly after;
 * - stall (write 1 or 0): the device stops ending the operations it starts
 *   from now on, as a device that stopped answering; 0 makes new ones end
 *   again.
 *
 * and /sys/kernel/debug/kcancel/new_sim (write 1) creates one more software
 * device with the module's parameters.
 */
#include <linux/bitmap.h>
#include <linux/debugfs.h>
#include <linux/errno.h>
#include <linux/export.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/workqueue.h>
#include <kunit/visibility.h>

#include <kcancel/chardev.h>
#include <kcancel/debugfs.h>
#include <kcancel/sim.h>

#include "trace.h"

static unsigned int sim_devices;
module_param(sim_devices, uint, 0444);
MODULE_PARM_DESC(sim_devices, "Software devices to create at load (0-8, default 0)");

static unsigned int sim_latency_us = 20;
module_param(sim_latency_us, uint, 0444);
MODULE_PARM_DESC(sim_latency_us, "Software device: least latency of an operation, in microseconds (default 20)");

static unsigned int sim_jitter_us = 20;
module_param(sim_jitter_us, uint, 0444);
MODULE_PARM_DESC(sim_jitter_us, "Software device: random extra latency, up to this many microseconds (default 20)");

static unsigned int sim_parallel = 4;
module_param(sim_parallel, uint, 0444);
MODULE_PARM_DESC(sim_parallel, "Software device: factorial and DMA operations that run at once, each (1-16, default 4)");

static bool sim_abort = true;
module_param(sim_abort, bool, 0444);
MODULE_PARM_DESC(sim_abort, "Software device: a cancel stops an operation in flight (default Y)");

#define KC_SIM_MAX_DEVICES	8
#define KC_SIM_FACT_SLOT	0
#define KC_SIM_DMA_SLOT		16
#define KC_SIM_BELL_SLOT	32

struct kc_sim;

/**
 * struct kc_sim_slot - one slot's "hardware"
 * @timer: ends the operation; hard interrupt context.
 * @sim: the device.
 * @n: the slot number.
 */
struct kc_sim_slot {
	struct hrtimer timer;
	struct kc_sim *sim;
	unsigned int n;
};

/**
 * struct kc_sim - a software device
 * @kd: its &struct kc_dev.
 * @params: how it behaves.
 * @slots: the slots.
 * @aborted: slots whose operation a cancel stopped.
 * @stalled: operations started from now on never end (the stall knob, or
 *	kc_sim_halt()).
 * @removing: the remove knob asked for the device to go.
 * @worker: runs the DPC.
 * @dpc: the DPC's work.
 * @chardev: whether /dev/kcancelN was created.
 * @node: entry in the list of devices with a character device.
 * @mem: the device memory DMA reaches.
 */
struct kc_sim {
	struct kc_dev *kd;
	struct kc_sim_params params;
	struct kc_sim_slot slots[KC_DEV_SLOTS];
	DECLARE_BITMAP(aborted, KC_DEV_SLOTS);
	bool stalled;
	bool removing;
	struct kthread_worker *worker;
	struct kthread_work dpc;
	bool chardev;
	struct list_head node;
	u8 mem[KCANCEL_DMA_SIZE];
};

static LIST_HEAD(kc_sim_list);
static DEFINE_MUTEX(kc_sim_lock);	/* guards kc_sim_list, kc_sim.removing */

/**
 * kc_sim_raise_bits() - raise status bits and have the DPC run
 * @sim: the device.
 * @mask: the bits.
 *
 * Fully ordered (kc_dev_isr_handoff()): what the caller wrote before (an
 * abort's bit in sim->aborted) is seen by the DPC that takes these bits.
 *
 * Context: any context, RT included.
 */
static void kc_sim_raise_bits(struct kc_sim *sim, u64 mask)
{
	trace_kcancel_irq(sim->kd, mask);
	if (!kc_dev_isr_handoff(sim->kd, mask))
		kthread_queue_work(sim->worker, &sim->dpc);
}

/**
 * kc_sim_raise() - raise a slot's bit and have the DPC run
 * @sim: the device.
 * @slot: the slot.
 *
 * Context: any context, RT included.
 */
static void kc_sim_raise(struct kc_sim *sim, unsigned int slot)
{
	kc_sim_raise_bits(sim, BIT_ULL(slot));
}

/**
 * kc_sim_timer_fn() - the ISR: the operation of this slot ended
 * @timer: the slot's &kc_sim_slot.timer.
 *
 * Context: hard IRQ (a hard hrtimer, on PREEMPT_RT too).
 * Return: %HRTIMER_NORESTART.
 */
static enum hrtimer_restart kc_sim_timer_fn(struct hrtimer *timer)
{
	struct kc_sim_slot *s = container_of(timer, struct kc_sim_slot, timer);

	kc_sim_raise(s->sim, s->n);
	return HRTIMER_NORESTART;
}

/**
 * kc_sim_dpc() - the DPC: pass the bits handed off to kc_dev_dpc()
 * @work: &kc_sim.dpc.
 *
 * Context: process context, the device's kthread worker; no kcancel lock
 * held.
 */
static void kc_sim_dpc(struct kthread_work *work)
{
	struct kc_sim *sim = container_of(work, struct kc_sim, dpc);

	kc_dev_dpc_handoff(sim->kd);
}

/**
 * kc_sim_start() - &kc_dev_ops.start: arm the slot's timer
 * @kd: the device.
 * @io: the request, in slot @io->slot.
 *
 * The timer fires after the configured latency and a random jitter; an
 * operation of no latency ends now (kc_dev_end_now()). A stalled device
 * starts nothing: the operation never ends.
 *
 * Context: &kc_dev.lock held, interrupts disabled; may not sleep.
 */
static void kc_sim_start(struct kc_dev *kd, struct kc_io *io)
{
	struct kc_sim *sim = kd->priv;
	u64 ns = sim->params.latency_ns;

	if (READ_ONCE(sim->stalled))
		return;

	if (sim->params.jitter_ns)
		ns += get_random_u64() % (sim->params.jitter_ns + 1);
	if (!ns) {
		/* Nothing to abort: kc_sim_abort() finds no timer armed. */
		trace_kcancel_irq(kd, BIT_ULL(io->slot));
		kc_dev_end_now(kd, io);
		return;
	}
	hrtimer_start(&sim->slots[io->slot].timer, ns_to_ktime(ns),
		      HRTIMER_MODE_REL_HARD);
}

/**
 * kc_sim_fetch() - &kc_dev_ops.fetch: the result of a finished slot
 * @kd: the device.
 * @io: the slot's request.
 *
 * Computes the result; a DMA moves its data between @io->buf and the device
 * memory now.
 *
 * Context: the DPC's (under kc_queue_synchronize()); may not sleep.
 * Return: 0, -ECANCELED if kc_sim_abort() stopped the operation, or -EIO
 * for an unknown operation.
 */
static int kc_sim_fetch(struct kc_dev *kd, struct kc_io *io)
{
	struct kc_sim *sim = kd->priv;

	if (test_and_clear_bit(io->slot, sim->aborted))
		return -ECANCELED;
	switch (io->op) {
	case KCANCEL_OP_FACTORIAL:
		io->result = kc_dev_factorial(io->arg);
		break;
	case KCANCEL_OP_DMA_TO_DEV:
		memcpy(sim->mem + io->offset, io->buf, io->len);
		io->result = io->len;
		break;
	case KCANCEL_OP_DMA_FROM_DEV:
		memcpy(io->buf, sim->mem + io->offset, io->len);
		io->result = io->len;
		break;
	case KCANCEL_OP_DOORBELL:
		io->result = io->arg;
		break;
	default:
		return -EIO;
	}
	return 0;
}

/**
 * kc_sim_abort() - &kc_dev_ops.abort: stop an operation in flight
 * @kd: the device.
 * @io: the request whose operation is stopped.
 *
 * Stops the timer if it has not fired; the bit still comes, after the
 * aborted bit (kc_sim_raise() orders them).
 *
 * Context: &kc_dev.lock held, interrupts disabled; may not sleep.
 */
static void kc_sim_abort(struct kc_dev *kd, struct kc_io *io)
{
	struct kc_sim *sim = kd->priv;

	lockdep_assert_held(&kd->lock);
	if (hrtimer_try_to_cancel(&sim->slots[io->slot].timer) == 1) {
		set_bit(io->slot, sim->aborted);
		kc_sim_raise(sim, io->slot);
	}
}

/**
 * kc_sim_halt() - &kc_dev_ops.halt, for kc_dev_fail()
 * @kd: the device.
 *
 * No operation ends any more. Nothing starts once the device is dead, so the
 * timers stay off once cancelled.
 *
 * Context: process context; sleeps (waits for running timers).
 */
static void kc_sim_halt(struct kc_dev *kd)
{
	struct kc_sim *sim = kd->priv;
	unsigned int n;

	WRITE_ONCE(sim->stalled, true);
	for (n = 0; n < KC_DEV_SLOTS; n++)
		hrtimer_cancel(&sim->slots[n].timer);
}

/**
 * kc_sim_raise_mask() - &kc_dev_ops.raise: a hostile device
 * @kd: the device.
 * @mask: the bits to raise, whatever the slots hold.
 *
 * Context: process context.
 */
static void kc_sim_raise_mask(struct kc_dev *kd, u64 mask)
{
	kc_sim_raise_bits(kd->priv, mask);
}

static const struct kc_dev_ops kc_sim_ops = {
	.start = kc_sim_start,
	.fetch = kc_sim_fetch,
	.abort = kc_sim_abort,
	.halt = kc_sim_halt,
	.raise = kc_sim_raise_mask,
};

static const struct kc_dev_ops kc_sim_ops_noabort = {
	.start = kc_sim_start,
	.fetch = kc_sim_fetch,
	.halt = kc_sim_halt,
	.raise = kc_sim_raise_mask,
};

/**
 * kc_sim_init_slots() - set up the slots' timers
 * @sim: the device.
 *
 * Context: any context.
 */
static void kc_sim_init_slots(struct kc_sim *sim)
{
	unsigned int n;

	for (n = 0; n < KC_DEV_SLOTS; n++) {
		hrtimer_init(&sim->slots[n].timer, CLOCK_MONOTONIC,
			     HRTIMER_MODE_REL_HARD);
		sim->slots[n].timer.function = kc_sim_timer_fn;
		sim->slots[n].sim = sim;
		sim->slots[n].n = n;
	}
}

/**
 * kc_sim_stall() - make a software device stop ending its operations
 * @sim: the device.
 * @stall: true: the operations it starts from now on never end, as on a
 *	device that stopped answering; false: they end again.
 *
 * Context: any context.
 */
void kc_sim_stall(struct kc_sim *sim, bool stall)
{
	WRITE_ONCE(sim->stalled, stall);
}
EXPORT_SYMBOL_IF_KUNIT(kc_sim_stall);

/**
 * kc_sim_reap() - remove the software devices whose remove knob was written
 * @work: kc_sim_reap_work.
 *
 * Context: process context, from the system workqueue; sleeps. Takes
 * kc_sim_lock.
 */
static void kc_sim_reap(struct work_struct *work)
{
	struct kc_sim *sim, *tmp;
	LIST_HEAD(gone);

	mutex_lock(&kc_sim_lock);
	list_for_each_entry_safe(sim, tmp, &kc_sim_list, node)
		if (sim->removing)
			list_move_tail(&sim->node, &gone);
	mutex_unlock(&kc_sim_lock);
	list_for_each_entry_safe(sim, tmp, &gone, node) {
		list_del(&sim->node);
		kc_sim_destroy(sim);
	}
}

static DECLARE_WORK(kc_sim_reap_work, kc_sim_reap);

/**
 * kc_sim_write_yes() - what a write-only knob was given
 * @ubuf: what was written.
 * @len: its length.
 *
 * Context: process context.
 * Return: 0 for a true boolean ("1", "y", "on"...), -EINVAL for a false one
 * or for anything else, or -EFAULT.
 */
static int kc_sim_write_yes(const char __user *ubuf, size_t len)
{
	bool yes;
	int ret = kstrtobool_from_user(ubuf, len, &yes);

	if (ret)
		return ret;
	return yes ? 0 : -EINVAL;
}

/**
 * kc_sim_remove_write() - the remove knob
 * @file: the knob; its private data is the software device.
 * @ubuf: what was written: a true boolean.
 * @len: its length.
 * @ppos: unused.
 *
 * The removal waits for the handlers of the device's debugfs files, this one
 * too: it runs from a work item (kc_sim_reap()).
 *
 * Context: process context; sleeps (takes kc_sim_lock).
 * Return: @len, -EINVAL if not a true boolean, or -EFAULT.
 */
static ssize_t kc_sim_remove_write(struct file *file, const char __user *ubuf,
				   size_t len, loff_t *ppos)
{
	struct kc_sim *sim = file->private_data;
	int ret = kc_sim_write_yes(ubuf, len);

	if (ret)
		return ret;
	mutex_lock(&kc_sim_lock);
	sim->removing = true;
	mutex_unlock(&kc_sim_lock);
	schedule_work(&kc_sim_reap_work);
	return len;
}

static const struct file_operations kc_sim_remove_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = kc_sim_remove_write,
};

static int kc_sim_add(void);

/**
 * kc_sim_new_write() - the new_sim knob
 * @file: the knob.
 * @ubuf: what was written: a true boolean.
 * @len: its length.
 * @ppos: unused.
 *
 * Creates one more software device, with the module's parameters.
 *
 * Context: process context; sleeps.
 * Return: @len, -EINVAL if not a true boolean, -EFAULT, or as kc_sim_add().
 */
static ssize_t kc_sim_new_write(struct file *file, const char __user *ubuf,
				size_t len, loff_t *ppos)
{
	int ret = kc_sim_write_yes(ubuf, len);

	if (ret)
		return ret;
	ret = kc_sim_add();
	return ret ? ret : len;
}

static const struct file_operations kc_sim_new_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = kc_sim_new_write,
};

/**
 * kc_sim_debugfs_add() - create the knobs of a software device
 * @sim: a software device with a character device.
 *
 * Context: process context.
 */
static void kc_sim_debugfs_add(struct kc_sim *sim)
{
	struct dentry *dir = sim->kd->debugfs;

	debugfs_create_bool("stall", 0600, dir, &sim->stalled);
	debugfs_create_file("remove", 0200, dir, sim, &kc_sim_remove_fops);
}

/**
 * kc_sim_create() - create a software device
 * @p: its parameters; @p->parallel is clamped to 1..%KC_SIM_MAX_PARALLEL.
 * @chardev: also create /dev/kcancelN (KUnit cases go without).
 *
 * Context: process context.
 * Return: the device, or an ERR_PTR().
 */
struct kc_sim *kc_sim_create(const struct kc_sim_params *p, bool chardev)
{
	u64 slots[KC_CHAN_NR];
	struct kc_sim *sim;
	unsigned int par;
	int ret = -ENOMEM;

	sim = kzalloc(sizeof(*sim), GFP_KERNEL);
	if (!sim)
		return ERR_PTR(-ENOMEM);
	sim->params = *p;
	par = clamp(p->parallel, 1U, (unsigned int)KC_SIM_MAX_PARALLEL);
	sim->params.parallel = par;
	slots[KC_CHAN_FACT] = GENMASK_ULL(par - 1, 0) << KC_SIM_FACT_SLOT;
	slots[KC_CHAN_DMA] = GENMASK_ULL(par - 1, 0) << KC_SIM_DMA_SLOT;
	slots[KC_CHAN_BELL] = GENMASK_ULL(KC_SIM_DOORBELLS - 1, 0) <<
			      KC_SIM_BELL_SLOT;
	kc_sim_init_slots(sim);
	kthread_init_work(&sim->dpc, kc_sim_dpc);
	INIT_LIST_HEAD(&sim->node);

	sim->worker = kthread_create_worker(0, "kcancel-sim");
	if (IS_ERR(sim->worker)) {
		ret = PTR_ERR(sim->worker);
		goto err_free;
	}
	/* The DPC runs at the priority of a threaded interrupt handler. */
	sched_set_fifo(sim->worker->task);
	sim->kd = kc_dev_create(p->abort ? &kc_sim_ops : &kc_sim_ops_noabort,
				sim, KCANCEL_BACKEND_SIM, slots,
				KCANCEL_DMA_SIZE, p->mode);
	if (!sim->kd)
		goto err_worker;
	sim->kd->op_timeout = nsecs_to_jiffies(p->latency_ns + p->jitter_ns) +
			      KC_DEV_OP_MARGIN;
	if (chardev) {
		ret = kc_chardev_register(sim->kd, NULL);
		if (ret)
			goto err_dev;
		sim->chardev = true;
		kc_sim_debugfs_add(sim);
	}
	return sim;

err_dev:
	kc_dev_shutdown(sim->kd);
	kc_dev_put(sim->kd);
err_worker:
	kthread_destroy_worker(sim->worker);
err_free:
	kfree(sim);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_IF_KUNIT(kc_sim_create);

/**
 * kc_sim_dev() - the &struct kc_dev of a software device
 * @sim: the software device.
 *
 * Context: any context.
 * Return: its device.
 */
struct kc_dev *kc_sim_dev(struct kc_sim *sim)
{
	return sim->kd;
}
EXPORT_SYMBOL_IF_KUNIT(kc_sim_dev);

/**
 * kc_sim_destroy() - remove a software device
 * @sim: the device.
 *
 * Its requests complete with -ENODEV (see kc_dev_shutdown()); files still
 * open keep the &struct kc_dev until they are closed.
 *
 * Context: process context; sleeps.
 */
void kc_sim_destroy(struct kc_sim *sim)
{
	unsigned int n;

	if (sim->chardev)
		kc_chardev_unregister(sim->kd);
	kc_dev_shutdown(sim->kd);
	if (sim->chardev)
		kc_chardev_hangup(sim->kd);
	/* A timer's handler may still be queueing the DPC it already ran. */
	for (n = 0; n < KC_DEV_SLOTS; n++)
		hrtimer_cancel(&sim->slots[n].timer);
	kthread_destroy_worker(sim->worker);
	kc_dev_put(sim->kd);
	kfree(sim);
}
EXPORT_SYMBOL_IF_KUNIT(kc_sim_destroy);

/**
 * kc_sim_module_params() - the parameters of the module's software devices
 * @p: out: the parameters, from the module parameters.
 *
 * Context: any context.
 */
static void kc_sim_module_params(struct kc_sim_params *p)
{
	*p = (struct kc_sim_params){
		.latency_ns = (u64)sim_latency_us * NSEC_PER_USEC,
		.jitter_ns = (u64)sim_jitter_us * NSEC_PER_USEC,
		.parallel = sim_parallel,
		.abort = sim_abort,
		.mode = KC_SYNC_AUTOMATIC,
	};
}

/**
 * kc_sim_add() - create a software device with a character device
 *
 * Its parameters are the module's. At most %KC_SIM_MAX_DEVICES exist at once.
 *
 * Context: process context; takes the software devices' list mutex.
 * Return: 0, -ENOSPC if there are that many already, or a negative errno.
 */
static int kc_sim_add(void)
{
	struct kc_sim_params p;
	struct kc_sim *sim;
	unsigned int n = 0;
	int ret = 0;

	kc_sim_module_params(&p);
	mutex_lock(&kc_sim_lock);
	list_for_each_entry(sim, &kc_sim_list, node)
		n++;
	if (n >= KC_SIM_MAX_DEVICES) {
		ret = -ENOSPC;
		goto out;
	}
	sim = kc_sim_create(&p, true);
	if (IS_ERR(sim)) {
		ret = PTR_ERR(sim);
		goto out;
	}
	list_add_tail(&sim->node, &kc_sim_list);
	pr_info("kcancel: /dev/%s: software device\n", sim->kd->name);
out:
	mutex_unlock(&kc_sim_lock);
	return ret;
}

/**
 * kc_sim_init() - create the software devices the module parameters ask for
 *
 * Also creates the new_sim knob in kcancel's debugfs directory.
 *
 * Context: process context, at module load, after kc_debugfs_init().
 * Return: 0 or a negative errno.
 */
int kc_sim_init(void)
{
	unsigned int i;
	int ret;

	if (sim_devices > KC_SIM_MAX_DEVICES ||
	    sim_parallel < 1 || sim_parallel > KC_SIM_MAX_PARALLEL) {
		pr_err("kcancel: sim_devices must be 0-%d and sim_parallel 1-%d\n",
		       KC_SIM_MAX_DEVICES, KC_SIM_MAX_PARALLEL);
		return -EINVAL;
	}
	for (i = 0; i < sim_devices; i++) {
		ret = kc_sim_add();
		if (ret) {
			kc_sim_exit();
			return ret;
		}
	}
	debugfs_create_file("new_sim", 0200, kc_debugfs_root(), NULL,
			    &kc_sim_new_fops);
	return 0;
}

/**
 * kc_sim_exit() - remove the software devices with a character device
 *
 * Those created at load, by the new_sim knob, and not removed by their
 * remove knob yet.
 *
 * Context: process context, at module unload (no knob can be written then:
 * an open debugfs file holds the module).
 */
void kc_sim_exit(void)
{
	struct kc_sim *sim, *tmp;

	cancel_work_sync(&kc_sim_reap_work);
	mutex_lock(&kc_sim_lock);
	list_for_each_entry_safe(sim, tmp, &kc_sim_list, node) {
		list_del(&sim->node);
		kc_sim_destroy(sim);
	}
	mutex_unlock(&kc_sim_lock);
}
