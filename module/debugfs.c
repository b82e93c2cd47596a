// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel debugfs: counters and fault-test knobs of each device.
 *
 * DOC: debugfs
 *
 * /sys/kernel/debug/kcancel/ holds a directory per character device, named
 * as the device (kcancelN), with:
 *
 * - stats: one "name value" line per counter: dead, failed, busy_slots,
 *   spurious_bits (status bits the DPC ignored: no operation was started in
 *   their slot), forced_slots (started slots that kc_dev_fail() ended),
 *   waiter_bits (status bits the thread waiting for them took, handoff.c),
 *   in_flight (requests queued and not completed) and in_flight_max (its
 *   high-water mark); then a line per operation, "OP ok N canceled N
 *   timedout N nodev N io N other N cancel_won N completion_won N": its
 *   completions by status, how many of them a cancel decided, and how many
 *   cancels came after the request had completed;
 * - raise (write "MASK [COUNT]", where the backend can): make the device
 *   raise the status bits MASK, COUNT times (default 1, at most 1000000), as
 *   a hostile or broken device would: edu through its raise register, the
 *   software device through its interrupt path.
 *
 * The software device adds its own knobs (sim.c). Nothing here is ABI: it
 * is for tests and for looking at a device.
 */
#include <linux/debugfs.h>
#include <linux/kernel.h>
#include <linux/seq_file.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include <kcancel/debugfs.h>

/* The most interrupts one write to "raise" asks for. */
#define KC_DEBUGFS_RAISE_MAX	1000000

static struct dentry *kc_debugfs_dir;

/**
 * kc_debugfs_root() - the kcancel directory of debugfs
 *
 * Context: any context.
 * Return: the directory, or an error pointer (debugfs functions accept it
 * and do nothing) when debugfs is not available.
 */
struct dentry *kc_debugfs_root(void)
{
	return kc_debugfs_dir;
}

static const char *const kc_debugfs_op_names[KC_DEV_OPS] = {
	[KCANCEL_OP_FACTORIAL] = "factorial",
	[KCANCEL_OP_DMA_TO_DEV] = "dma_to_dev",
	[KCANCEL_OP_DMA_FROM_DEV] = "dma_from_dev",
	[KCANCEL_OP_DOORBELL] = "doorbell",
};

/**
 * kc_debugfs_show_ops() - the per-operation lines of "stats"
 * @m: the seq_file.
 * @kd: the device.
 *
 * One line an operation: its completions by status, and who won. Prints
 * nothing if out of memory.
 *
 * Context: process context; sleeps (GFP_KERNEL).
 */
static void kc_debugfs_show_ops(struct seq_file *m, const struct kc_dev *kd)
{
	struct kc_dev_stats *s = kmalloc(sizeof(*s), GFP_KERNEL);
	unsigned int op;

	if (!s)
		return;
	kc_dev_stats_sum(kd, s);
	for (op = KCANCEL_OP_FACTORIAL; op <= KCANCEL_OP_MAX; op++)
		seq_printf(m, "%s ok %lu canceled %lu timedout %lu nodev %lu io %lu other %lu cancel_won %lu completion_won %lu\n",
			   kc_debugfs_op_names[op], s->ended[op][KC_END_OK],
			   s->ended[op][KC_END_CANCELED],
			   s->ended[op][KC_END_TIMEDOUT],
			   s->ended[op][KC_END_NODEV], s->ended[op][KC_END_IO],
			   s->ended[op][KC_END_OTHER], s->cancel_won[op],
			   s->completion_won[op]);
	kfree(s);
}

/**
 * kc_debugfs_stats_show() - show the "stats" file of a device
 * @m: the seq_file; its private data is the device.
 * @unused: unused.
 *
 * Context: process context; sleeps. Takes &kc_dev.lock.
 * Return: 0.
 */
static int kc_debugfs_stats_show(struct seq_file *m, void *unused)
{
	struct kc_dev *kd = m->private;
	unsigned long flags;
	bool dead, failed;
	u64 busy;

	spin_lock_irqsave(&kd->lock, flags);
	dead = kd->dead;
	failed = kd->failed;
	busy = kd->busy;
	spin_unlock_irqrestore(&kd->lock, flags);
	seq_printf(m, "dead %d\n", dead);
	seq_printf(m, "failed %d\n", failed);
	seq_printf(m, "busy_slots %u\n", (unsigned int)hweight64(busy));
	seq_printf(m, "spurious_bits %lld\n", atomic64_read(&kd->spurious));
	seq_printf(m, "forced_slots %lld\n", atomic64_read(&kd->forced));
	seq_printf(m, "waiter_bits %lld\n",
		   atomic64_read(&kd->handoff.by_waiter));
	seq_printf(m, "in_flight %d\n", atomic_read(&kd->in_flight));
	seq_printf(m, "in_flight_max %d\n", atomic_read(&kd->in_flight_max));
	kc_debugfs_show_ops(m, kd);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(kc_debugfs_stats);

/**
 * kc_debugfs_parse_raise() - parse "MASK [COUNT]"
 * @ubuf: what was written.
 * @len: its length.
 * @mask: out: the status bits.
 * @count: out: how many times, 1 if not given.
 *
 * Context: process context.
 * Return: 0, -EFAULT, or -EINVAL for anything else than one or two numbers,
 * a zero mask or count, or a count above %KC_DEBUGFS_RAISE_MAX.
 */
static int kc_debugfs_parse_raise(const char __user *ubuf, size_t len,
				  u64 *mask, unsigned int *count)
{
	char buf[64], *p, *tok;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	p = strim(buf);
	tok = strsep(&p, " \t");
	if (kstrtou64(tok, 0, mask) || !*mask)
		return -EINVAL;
	*count = 1;
	if (p && (kstrtouint(strim(p), 0, count) || !*count ||
		  *count > KC_DEBUGFS_RAISE_MAX))
		return -EINVAL;
	return 0;
}

/**
 * kc_debugfs_raise_write() - write "MASK [COUNT]" to "raise"
 * @file: the file; its private data is the device.
 * @ubuf: what was written.
 * @len: its length.
 * @ppos: unused.
 *
 * Makes the device raise the status bits MASK, COUNT times, through
 * &kc_dev_ops.raise.
 *
 * Context: process context; may sleep.
 * Return: @len, or the error of kc_debugfs_parse_raise().
 */
static ssize_t kc_debugfs_raise_write(struct file *file,
				      const char __user *ubuf, size_t len,
				      loff_t *ppos)
{
	struct kc_dev *kd = file->private_data;
	unsigned int count, i;
	u64 mask;
	int ret;

	ret = kc_debugfs_parse_raise(ubuf, len, &mask, &count);
	if (ret)
		return ret;
	for (i = 0; i < count; i++) {
		kd->ops->raise(kd, mask);
		if (!(i % 1024))
			cond_resched();
	}
	return len;
}

static const struct file_operations kc_debugfs_raise_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = kc_debugfs_raise_write,
};

/**
 * kc_debugfs_dev_add() - create the debugfs directory of a device
 * @kd: the device, its name set.
 *
 * Context: process context.
 */
void kc_debugfs_dev_add(struct kc_dev *kd)
{
	kd->debugfs = debugfs_create_dir(kd->name, kc_debugfs_dir);
	debugfs_create_file("stats", 0444, kd->debugfs, kd,
			    &kc_debugfs_stats_fops);
	if (kd->ops->raise)
		debugfs_create_file("raise", 0200, kd->debugfs, kd,
				    &kc_debugfs_raise_fops);
}

/**
 * kc_debugfs_dev_remove() - remove the debugfs directory of a device
 * @kd: the device.
 *
 * Waits for the files' handlers that are running to return.
 *
 * Context: process context; not from a handler of one of these files.
 */
void kc_debugfs_dev_remove(struct kc_dev *kd)
{
	debugfs_remove_recursive(kd->debugfs);
	kd->debugfs = NULL;
}

/**
 * kc_debugfs_init() - create /sys/kernel/debug/kcancel
 *
 * Context: process context, at module load.
 */
void kc_debugfs_init(void)
{
	kc_debugfs_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
}

/**
 * kc_debugfs_exit() - remove /sys/kernel/debug/kcancel
 *
 * Context: process context, at module unload, after every device is gone.
 */
void kc_debugfs_exit(void)
{
	debugfs_remove_recursive(kc_debugfs_dir);
}
