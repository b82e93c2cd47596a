// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel character devices: the file ABI of include/uapi/linux/kcancel.h
 * on /dev/kcancelN, and its sysfs attributes. Each call copies and checks
 * its arguments, then acts on the file's requests through file.h (file.c:
 * their table, their lifetime and their events).
 */
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/jiffies.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <kcancel/chardev.h>
#include <kcancel/debugfs.h>

#include "file.h"
#include "trace.h"

static DEFINE_IDA(kc_minor_ida);

/**
 * kc_ioctl_submit() - KCANCEL_IOC_SUBMIT
 * @f: the file.
 * @uarg: the caller's &struct kcancel_submit; its id is written back.
 *
 * Context: process context; sleeps.
 * Return: 0, or a negative errno: nothing was queued then.
 */
static long kc_ioctl_submit(struct kc_file *f, void __user *uarg)
{
	struct kcancel_submit s;

	if (copy_from_user(&s, uarg, sizeof(s)))
		return -EFAULT;
	return kc_file_submit(f, &s, uarg + offsetof(typeof(s), id));
}

/**
 * kc_wait_for_signal() - wait for a request or a signal
 * @f: the file.
 * @fio: the KCANCEL_IOC_SUBMIT_WAIT request.
 * @waiter: as for kc_file_wait_sync().
 *
 * Pending task work (TIF_NOTIFY_SIGNAL: io_uring's, for one) ends an
 * interruptible sleep too, but is not a signal: it runs on the way back to
 * user space, so the wait goes on, killable only.
 *
 * Context: process context; sleeps.
 * Return: false once the request completed, true if a signal came first.
 */
static bool kc_wait_for_signal(struct kc_file *f, struct kc_file_io *fio,
			       bool waiter)
{
	if (!kc_file_wait_sync(f, fio, waiter, TASK_INTERRUPTIBLE))
		return false;
	if (task_sigpending(current))
		return true;
	return kc_file_wait_sync(f, fio, waiter, TASK_KILLABLE) != 0;
}

/**
 * kc_ioctl_submit_wait() - KCANCEL_IOC_SUBMIT_WAIT: submit and wait
 * @f: the file.
 * @uarg: the caller's &struct kcancel_submit_wait.
 *
 * A signal cancels the request; the wait for its completion then goes on,
 * killable: on a fatal signal the request is left to complete on its own
 * (kc_file_orphan()).
 *
 * Context: process context; sleeps.
 * Return: 0; -EINTR if a signal came (the event is written all the same
 * unless the signal was fatal); -EFAULT; or a negative errno of
 * KCANCEL_IOC_SUBMIT.
 */
static long kc_ioctl_submit_wait(struct kc_file *f, void __user *uarg)
{
	struct kcancel_submit_wait __user *usw = uarg;
	struct kcancel_submit_wait sw;
	struct kc_file_io *fio;
	bool intr = false, killed = false;
	bool waiter;

	if (copy_from_user(&sw, uarg, sizeof(sw)))
		return -EFAULT;
	fio = kc_file_prepare(f, &sw.req, &usw->req.id, KC_FILE_SYNC);
	if (IS_ERR(fio))
		return PTR_ERR(fio);
	/* Every copy from user memory is done: the caller may be the waiter. */
	waiter = kc_file_queue_sync(f, fio, sw.req.timeout_ns);
	if (kc_wait_for_signal(f, fio, waiter)) {
		intr = true;
		kc_file_cancel(f, fio, KC_FILE_CANCEL_SIGNAL);
		killed = kc_file_wait_sync(f, fio, waiter, TASK_KILLABLE);
	}
	if (waiter)
		kc_dev_waiter_end(f->kd);
	if (killed) {
		kc_file_orphan(f, fio);
		kc_request_put(&fio->io.req);
		return -EINTR;
	}
	kc_file_event(fio, &sw.done);
	if (copy_to_user(uarg, &sw, sizeof(sw))) {
		/* Not lost: its event goes to read(), as a failed wait's. */
		kc_file_unreap(f, fio);
		kc_request_put(&fio->io.req);
		return -EFAULT;
	}
	/* A sync request is on no event list: nothing else can reap it. */
	kc_file_forget(f, fio);
	kc_request_put(&fio->io.req);
	return intr ? -EINTR : 0;
}

/**
 * kc_ioctl_cancel() - KCANCEL_IOC_CANCEL
 * @f: the file.
 * @uarg: the caller's &struct kcancel_cancel.
 *
 * Context: process context.
 * Return: as kc_file_cancel_by(), or -EFAULT.
 */
static long kc_ioctl_cancel(struct kc_file *f, void __user *uarg)
{
	struct kcancel_cancel c;

	if (copy_from_user(&c, uarg, sizeof(c)))
		return -EFAULT;
	return kc_file_cancel_by(f, &c, KC_FILE_CANCEL_IOCTL);
}

/**
 * kc_wait_jiffies() - KCANCEL_IOC_WAIT's timeout in jiffies
 * @timeout_ns: the timeout, or %KCANCEL_WAIT_FOREVER.
 *
 * Context: any context.
 * Return: the timeout in jiffies: 0 stays 0, anything else >= 1;
 * MAX_SCHEDULE_TIMEOUT for %KCANCEL_WAIT_FOREVER.
 */
static long kc_wait_jiffies(u64 timeout_ns)
{
	u64 j;

	if (timeout_ns == KCANCEL_WAIT_FOREVER)
		return MAX_SCHEDULE_TIMEOUT;
	if (!timeout_ns)
		return 0;
	j = nsecs_to_jiffies(timeout_ns);
	return clamp_t(u64, j, 1, MAX_SCHEDULE_TIMEOUT - 1);
}

/**
 * kc_ioctl_wait() - KCANCEL_IOC_WAIT
 * @f: the file.
 * @uarg: the caller's &struct kcancel_wait; the event is written back.
 *
 * Waits for the request and reaps its event. An event that cannot be written
 * back stays, for another reaper.
 *
 * Context: process context; sleeps.
 * Return: 0; -ENOENT if there is no such request or another reaper took its
 * event; -EINVAL for a KCANCEL_IOC_SUBMIT_WAIT or io_uring request;
 * -ETIMEDOUT; -EINTR; -EFAULT.
 */
static long kc_ioctl_wait(struct kc_file *f, void __user *uarg)
{
	struct kcancel_wait w;
	struct kc_file_io *fio;
	int ret;

	if (copy_from_user(&w, uarg, sizeof(w)))
		return -EFAULT;
	fio = kc_file_lookup(f, w.id);
	if (!fio)
		return -ENOENT;
	ret = fio->sync || fio->uring ? -EINVAL :
		kc_file_wait_done(f, fio, kc_wait_jiffies(w.timeout_ns));
	if (ret)
		goto out;
	ret = -ENOENT;
	if (!kc_file_take_one(f, fio))
		goto out;
	kc_file_event(fio, &w.done);
	if (copy_to_user(uarg, &w, sizeof(w))) {
		/* As read() does: the event stays, for another reaper. */
		kc_file_unreap(f, fio);
		ret = -EFAULT;
		goto out;
	}
	kc_file_forget(f, fio);
	ret = 0;
out:
	kc_request_put(&fio->io.req);
	return ret;
}

/**
 * kc_ioctl_info() - KCANCEL_IOC_INFO
 * @f: the file.
 * @uarg: where the caller wants its &struct kcancel_info.
 *
 * Context: process context.
 * Return: 0, or -EFAULT.
 */
static long kc_ioctl_info(struct kc_file *f, void __user *uarg)
{
	struct kcancel_info info = {
		.abi_version = KCANCEL_ABI_VERSION,
		.backend = f->kd->backend,
		.doorbells = kc_dev_doorbells(f->kd),
		.dma_size = f->kd->dma_size,
		.max_pending = kc_file_max_pending(),
		.features = KC_FILE_FEATURES,
	};

	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

/**
 * kc_fop_read() - read(): reap completion events
 * @file: the file.
 * @ubuf: the caller's buffer, for &struct kcancel_event records.
 * @count: its size; at least one record.
 * @ppos: unused (a stream).
 *
 * Waits for an event unless O_NONBLOCK, then reaps as many as fit.
 *
 * Context: process context; sleeps unless O_NONBLOCK.
 * Return: the bytes written, a multiple of the record size; 0 at end of file
 * (the device is gone); -EINVAL if @count is smaller than a record; -EAGAIN;
 * -ERESTARTSYS; -EFAULT if not even the first record could be written.
 */
static ssize_t kc_fop_read(struct file *file, char __user *ubuf, size_t count,
			   loff_t *ppos)
{
	struct kc_file *f = file->private_data;
	LIST_HEAD(got);
	size_t n;
	int ret;

	if (count < sizeof(struct kcancel_event))
		return -EINVAL;
	ret = kc_file_pop(f, count / sizeof(struct kcancel_event), &got,
			  file->f_flags & O_NONBLOCK);
	if (ret)
		return ret;
	if (list_empty(&got))
		return 0;
	n = kc_file_deliver(f, &got, (struct kcancel_event __user *)ubuf);
	return n ? n * sizeof(struct kcancel_event) : -EFAULT;
}

/**
 * kc_ioctl_batch() - KCANCEL_IOC_BATCH
 * @f: the file.
 * @uarg: the caller's &struct kcancel_batch.
 *
 * The submits in order, as KCANCEL_IOC_SUBMIT makes each, up to the first
 * that fails (kc_file_submit_batch()); their count and that failure go back
 * before anything is reaped, so that a caller always knows what was queued.
 * Then reaps events as kc_file_reap() does, without waiting if a submit
 * failed.
 *
 * Context: process context; sleeps.
 * Return: how many events were reaped; -EINVAL for a bad field; -EFAULT;
 * or -EINTR as kc_file_reap().
 */
static long kc_ioctl_batch(struct kc_file *f, void __user *uarg)
{
	struct kcancel_batch __user *ub = uarg;
	struct kcancel_batch b;
	u32 queued;
	int err;

	if (copy_from_user(&b, uarg, sizeof(b)))
		return -EFAULT;
	if (b.flags || b.reserved[0] || b.reserved[1] ||
	    b.nr_submits > KCANCEL_BATCH_MAX ||
	    b.max_events > KCANCEL_BATCH_MAX || b.min_events > b.max_events)
		return -EINVAL;
	err = kc_file_submit_batch(f, u64_to_user_ptr(b.submits), b.nr_submits,
				   &queued);
	if (put_user(queued, &ub->submitted) || put_user(err, &ub->error))
		return -EFAULT;
	/* A failed submit is the caller's to look at first: no wait. */
	return kc_file_reap(f, u64_to_user_ptr(b.events), b.max_events,
			    err ? 0 : b.min_events,
			    err ? 0 : kc_wait_jiffies(b.timeout_ns));
}

/**
 * kc_fop_ioctl() - ioctl(): dispatch a KCANCEL_IOC_* command
 * @file: the file.
 * @cmd: the command.
 * @arg: its argument, a user pointer.
 *
 * Context: process context; may sleep.
 * Return: the command's result, or -ENOTTY for an unknown command.
 */
static long kc_fop_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kc_file *f = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case KCANCEL_IOC_SUBMIT:
		return kc_ioctl_submit(f, uarg);
	case KCANCEL_IOC_SUBMIT_WAIT:
		return kc_ioctl_submit_wait(f, uarg);
	case KCANCEL_IOC_CANCEL:
		return kc_ioctl_cancel(f, uarg);
	case KCANCEL_IOC_WAIT:
		return kc_ioctl_wait(f, uarg);
	case KCANCEL_IOC_INFO:
		return kc_ioctl_info(f, uarg);
	case KCANCEL_IOC_BATCH:
		return kc_ioctl_batch(f, uarg);
	default:
		return -ENOTTY;
	}
}

/**
 * kc_fop_poll() - poll(): is an event ready?
 * @file: the file.
 * @wait: the poll table.
 *
 * Context: process context.
 * Return: EPOLLIN | EPOLLRDNORM if an event is ready, else EPOLLHUP if the
 * file has hung up (kc_file_hup()), else 0.
 */
static __poll_t kc_fop_poll(struct file *file, poll_table *wait)
{
	struct kc_file *f = file->private_data;

	poll_wait(file, &f->wq, wait);
	/* Pairs with wq_has_sleeper() in kc_file_io_completed(). */
	smp_mb();
	if (!list_empty_careful(&f->events))
		return EPOLLIN | EPOLLRDNORM;
	return kc_file_hup(f) ? EPOLLHUP : 0;
}

/**
 * kc_fop_open() - open(): make a &struct kc_file
 * @inode: the inode.
 * @file: the file; misc_open() set its private data to the miscdevice.
 *
 * Takes a reference to the device, still registered as misc_open() holds
 * misc_mtx, and adds the file to its list.
 *
 * Context: process context.
 * Return: 0, or -ENOMEM.
 */
static int kc_fop_open(struct inode *inode, struct file *file)
{
	struct kc_dev *kd = container_of(file->private_data, struct kc_dev,
					 chardev.misc);
	struct kc_file *f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);

	if (!f)
		return -ENOMEM;
	/* misc_open() holds misc_mtx: the device is still registered. */
	kc_dev_get(kd);
	kc_file_init(f, kd);
	spin_lock(&kd->chardev.files_lock);
	list_add_tail(&f->node, &kd->chardev.files);
	spin_unlock(&kd->chardev.files_lock);
	file->private_data = f;
	return stream_open(inode, file);
}

/**
 * kc_fop_release() - close(): cancel every request of the file, wait, free
 * @inode: the inode.
 * @file: the file.
 *
 * kc_file_close() cancels every request of the file and waits for all;
 * then the file leaves the device's list and lets go of the device.
 *
 * Context: process context; sleeps.
 * Return: 0.
 */
static int kc_fop_release(struct inode *inode, struct file *file)
{
	struct kc_file *f = file->private_data;

	kc_file_close(f);
	spin_lock(&f->kd->chardev.files_lock);
	list_del(&f->node);
	spin_unlock(&f->kd->chardev.files_lock);
	kc_dev_put(f->kd);
	kfree(f);
	return 0;
}

static const struct file_operations kc_fops = {
	.owner = THIS_MODULE,
	.open = kc_fop_open,
	.release = kc_fop_release,
	.read = kc_fop_read,
	.poll = kc_fop_poll,
	.unlocked_ioctl = kc_fop_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
#ifdef KC_HAVE_URING_CMD
	.uring_cmd = kc_uring_cmd,
#endif
};

/**
 * kc_chardev_of() - the kcancel device of a misc device in sysfs
 * @dev: the device of /sys/class/misc/kcancelN.
 *
 * For the stable attributes of /sys/class/misc/kcancelN, documented in
 * docs/ABI/testing/sysfs-class-misc-kcancel.
 *
 * Context: any context.
 * Return: the &struct kc_dev.
 */
static struct kc_dev *kc_chardev_of(struct device *dev)
{
	struct miscdevice *misc = dev_get_drvdata(dev);

	return container_of(misc, struct kc_dev, chardev.misc);
}

static ssize_t backend_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  kc_chardev_of(dev)->backend == KCANCEL_BACKEND_EDU ?
			  "edu" : "sim");
}
static DEVICE_ATTR_RO(backend);

static ssize_t doorbells_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", kc_dev_doorbells(kc_chardev_of(dev)));
}
static DEVICE_ATTR_RO(doorbells);

static ssize_t dma_size_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%u\n", kc_chardev_of(dev)->dma_size);
}
static DEVICE_ATTR_RO(dma_size);

static ssize_t max_pending_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", kc_file_max_pending());
}
static DEVICE_ATTR_RO(max_pending);

static ssize_t in_flight_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n",
			  atomic_read(&kc_chardev_of(dev)->in_flight));
}
static DEVICE_ATTR_RO(in_flight);

static struct attribute *kc_chardev_attrs[] = {
	&dev_attr_backend.attr,
	&dev_attr_doorbells.attr,
	&dev_attr_dma_size.attr,
	&dev_attr_max_pending.attr,
	&dev_attr_in_flight.attr,
	NULL,
};
ATTRIBUTE_GROUPS(kc_chardev);

/**
 * kc_chardev_init() - set up the character device of a new device
 * @cd: the character device, not registered yet.
 *
 * Context: any context.
 */
void kc_chardev_init(struct kc_chardev *cd)
{
	cd->minor_id = -1;
	spin_lock_init(&cd->files_lock);
	INIT_LIST_HEAD(&cd->files);
}

/**
 * kc_chardev_register() - create /dev/kcancelN for a device
 * @kd: the device.
 * @parent: the backing device in sysfs, or NULL.
 *
 * Its sysfs directory has the attributes backend ("edu" or "sim"),
 * doorbells, dma_size, max_pending (as KCANCEL_IOC_INFO reports them) and
 * in_flight; its debugfs directory (debugfs.c) is created too.
 *
 * Context: process context.
 * Return: 0 or a negative errno.
 */
int kc_chardev_register(struct kc_dev *kd, struct device *parent)
{
	struct kc_chardev *cd = &kd->chardev;
	int ret;

	cd->minor_id = ida_alloc(&kc_minor_ida, GFP_KERNEL);
	if (cd->minor_id < 0)
		return cd->minor_id;
	snprintf(kd->name, sizeof(kd->name), "kcancel%d", cd->minor_id);
	cd->misc.minor = MISC_DYNAMIC_MINOR;
	cd->misc.name = kd->name;
	cd->misc.fops = &kc_fops;
	cd->misc.parent = parent;
	cd->misc.groups = kc_chardev_groups;
	ret = misc_register(&cd->misc);
	if (ret) {
		ida_free(&kc_minor_ida, cd->minor_id);
		cd->minor_id = -1;
		return ret;
	}
	kc_debugfs_dev_add(kd);
	return 0;
}

/**
 * kc_chardev_unregister() - remove /dev/kcancelN
 * @kd: the device.
 *
 * Files already open keep working until closed: they hold a reference to
 * @kd, and once it is shut down their requests complete with -ENODEV.
 *
 * Context: process context.
 */
void kc_chardev_unregister(struct kc_dev *kd)
{
	struct kc_chardev *cd = &kd->chardev;

	kc_debugfs_dev_remove(kd);
	misc_deregister(&cd->misc);
	ida_free(&kc_minor_ida, cd->minor_id);
	cd->minor_id = -1;
}

/**
 * kc_chardev_hangup() - wake the readers and pollers of a removed device
 * @kd: the device, shut down: kc_file_hup() is now true for every file
 *	with nothing left to read.
 *
 * Context: process context.
 */
void kc_chardev_hangup(struct kc_dev *kd)
{
	struct kc_file *f;

	spin_lock(&kd->chardev.files_lock);
	list_for_each_entry(f, &kd->chardev.files, node)
		wake_up_poll(&f->wq, EPOLLHUP);
	spin_unlock(&kd->chardev.files_lock);
}

/**
 * kc_chardev_setup() - set up what the character devices share
 *
 * Context: process context, at module load.
 * Return: 0 or -ENOMEM.
 */
int kc_chardev_setup(void)
{
	return kc_file_setup();
}

/**
 * kc_chardev_exit() - free what the character devices share
 *
 * Every file is closed and every request freed by then.
 *
 * Context: process context, at module unload.
 */
void kc_chardev_exit(void)
{
	kc_file_exit();
	ida_destroy(&kc_minor_ida);
}

