// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite kcancel_chardev: the file ABI of /dev/kcancelN (chardev.c and
 * file.c, include/uapi/linux/kcancel.h) through real open files.
 *
 * DOC: How a case uses the character device
 *
 * Each case creates a software device with its character device and opens
 * /dev/kcancelN with filp_open() (the test guest mounts devtmpfs on /dev).
 * The ioctl arguments, read() buffers and DMA data live in user memory that
 * kunit_vm_mmap() maps into the test thread: the case copies each argument
 * there, calls the file's &file_operations directly, and copies the result
 * back, so the driver's copy_from_user() and copy_to_user() run as for a
 * process. A file is closed with fput() then flush_delayed_fput(), so that
 * its release has run when the case goes on. Removal of the device and the
 * closing of the files left open are kunit actions.
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/mman.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include <kcancel/chardev.h>
#include <kcancel/sim.h>

#include "../module/file.h"
#include "kc_test.h"

/* The user mapping: the ioctl argument, the read() buffer, DMA data. */
#define KC_CT_ARG		0
#define KC_CT_EVENTS		PAGE_SIZE
#define KC_CT_DATA		(2 * PAGE_SIZE)
#define KC_CT_MAP_SIZE		(3 * PAGE_SIZE)
#define KC_CT_EV		sizeof(struct kcancel_event)
#define KC_CT_FILES		4
/* The start of x86-64's direct map: never a user address. */
#define KC_CT_KERNEL_ADDR	0xffff888000000000ULL
/* poll() masks. */
#define KC_CT_IN		((__force u32)(EPOLLIN | EPOLLRDNORM))
#define KC_CT_HUP		((__force u32)EPOLLHUP)

/* The longest a case waits for an event. */
#define KC_CT_WAIT_MS		20000
#define KC_CT_FAST_NS		(20 * NSEC_PER_USEC)
/* Requests run long enough for a close() or a removal to find them. */
#define KC_CT_SLOW_NS		(100 * NSEC_PER_MSEC)
/* ... and with room for a slow machine between submit and removal. */
#define KC_CT_INFLIGHT_NS	(1000 * NSEC_PER_MSEC)
/* The device aborts; otherwise a request never ends within a case. */
#define KC_CT_NEVER_NS		(60ULL * NSEC_PER_SEC)

/**
 * struct kc_ct - a case's character device and files
 * @test: the case.
 * @sim: the software device; NULL once removed.
 * @kd: its &struct kc_dev.
 * @path: "/dev/kcancelN".
 * @umem: the user mapping.
 * @files: the files the case has open.
 */
struct kc_ct {
	struct kunit *test;
	struct kc_sim *sim;
	struct kc_dev *kd;
	char path[32];
	unsigned long umem;
	struct file *files[KC_CT_FILES];
};

/* kunit action: remove the device. */
static void kc_ct_remove(void *arg)
{
	struct kc_ct *ct = arg;

	kc_sim_destroy(ct->sim);
	ct->sim = NULL;
}

/* kunit action: close the files still open, and wait for their release. */
static void kc_ct_close_all(void *arg)
{
	struct kc_ct *ct = arg;
	unsigned int i;

	for (i = 0; i < KC_CT_FILES; i++) {
		if (ct->files[i])
			fput(ct->files[i]);
		ct->files[i] = NULL;
	}
	flush_delayed_fput();
}

/**
 * kc_ct_init() - create a case's software device and its /dev/kcancelN
 * @test: the case.
 * @latency_ns: how long an operation takes, with no jitter.
 * @parallel: factorial and DMA slots, each.
 * @abort: whether a cancel stops an operation in flight.
 *
 * Context: the test thread.
 * Return: the fixture, also in @test->priv.
 */
static struct kc_ct *kc_ct_init(struct kunit *test, u64 latency_ns,
				unsigned int parallel, bool abort)
{
	struct kc_sim_params p = {
		.latency_ns = latency_ns,
		.parallel = parallel,
		.abort = abort,
		.mode = KC_SYNC_AUTOMATIC,
	};
	struct kc_ct *ct = kunit_kzalloc(test, sizeof(*ct), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, ct);
	ct->test = test;
	test->priv = ct;
	ct->umem = kunit_vm_mmap(test, NULL, 0, KC_CT_MAP_SIZE,
				 PROT_READ | PROT_WRITE,
				 MAP_ANONYMOUS | MAP_PRIVATE, 0);
	KUNIT_ASSERT_NE_MSG(test, ct->umem, 0, "no user mapping");
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(ct->umem));
	ct->sim = kc_sim_create(&p, true);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, ct->sim);
	ct->kd = kc_sim_dev(ct->sim);
	snprintf(ct->path, sizeof(ct->path), "/dev/%s", ct->kd->name);
	/* Actions run in reverse: the files close before the device goes. */
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kc_ct_remove, ct), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kc_ct_close_all, ct), 0);
	return ct;
}

/* Open /dev/kcancelN read-write with @flags (O_NONBLOCK or 0). */
static struct file *kc_ct_open(struct kc_ct *ct, int flags)
{
	struct file *file = filp_open(ct->path, O_RDWR | flags, 0);
	unsigned int i;

	KUNIT_ASSERT_FALSE_MSG(ct->test, IS_ERR(file), "cannot open %s: %ld",
			       ct->path, PTR_ERR(file));
	for (i = 0; i < KC_CT_FILES; i++) {
		if (!ct->files[i]) {
			ct->files[i] = file;
			return file;
		}
	}
	fput(file);
	KUNIT_FAIL_AND_ABORT(ct->test, "more than %d files open", KC_CT_FILES);
	return NULL;
}

/* close(): drop the file and wait until its release has run. */
static void kc_ct_close(struct kc_ct *ct, struct file *file)
{
	unsigned int i;

	for (i = 0; i < KC_CT_FILES; i++)
		if (ct->files[i] == file)
			ct->files[i] = NULL;
	fput(file);
	flush_delayed_fput();
}

static void __user *kc_ct_user(struct kc_ct *ct, unsigned long where)
{
	return (void __user *)(ct->umem + where);
}

/**
 * kc_ct_ioctl() - call an ioctl as a process would
 * @ct: the fixture.
 * @file: the file.
 * @cmd: the command.
 * @arg: the argument, copied to user memory before and back after the call.
 * @size: its size.
 *
 * Context: the test thread.
 * Return: what the file's unlocked_ioctl returned.
 */
static long kc_ct_ioctl(struct kc_ct *ct, struct file *file, unsigned int cmd,
			void *arg, size_t size)
{
	void __user *uarg = kc_ct_user(ct, KC_CT_ARG);
	long ret;

	KUNIT_ASSERT_EQ(ct->test, copy_to_user(uarg, arg, size), 0);
	ret = file->f_op->unlocked_ioctl(file, cmd, (unsigned long)uarg);
	KUNIT_ASSERT_EQ(ct->test, copy_from_user(arg, uarg, size), 0);
	return ret;
}

static long kc_ct_submit(struct kc_ct *ct, struct file *file,
			 struct kcancel_submit *s)
{
	return kc_ct_ioctl(ct, file, KCANCEL_IOC_SUBMIT, s, sizeof(*s));
}

/* Submit an operation that is not DMA; the case fails unless it is taken. */
static u64 kc_ct_submit_op(struct kc_ct *ct, struct file *file, u32 op,
			   u64 arg, u64 tag, u64 timeout_ns)
{
	struct kcancel_submit s = {
		.op = op,
		.arg = arg,
		.tag = tag,
		.timeout_ns = timeout_ns,
	};

	KUNIT_ASSERT_EQ(ct->test, kc_ct_submit(ct, file, &s), 0);
	KUNIT_ASSERT_NE(ct->test, s.id, 0);
	return s.id;
}

static u64 kc_ct_fact(struct kc_ct *ct, struct file *file, u64 n, u64 tag)
{
	return kc_ct_submit_op(ct, file, KCANCEL_OP_FACTORIAL, n, tag, 0);
}

/* Submit a DMA between the user data page and the device memory. */
static u64 kc_ct_dma(struct kc_ct *ct, struct file *file, u32 op, u32 offset,
		     u32 len, u64 tag)
{
	struct kcancel_submit s = {
		.op = op,
		.tag = tag,
		.buf = ct->umem + KC_CT_DATA,
		.len = len,
		.offset = offset,
	};

	KUNIT_ASSERT_EQ(ct->test, kc_ct_submit(ct, file, &s), 0);
	return s.id;
}

static long kc_ct_cancel(struct kc_ct *ct, struct file *file, u64 id)
{
	struct kcancel_cancel c = { .id = id };

	return kc_ct_ioctl(ct, file, KCANCEL_IOC_CANCEL, &c, sizeof(c));
}

static long kc_ct_wait(struct kc_ct *ct, struct file *file, u64 id,
		       u64 timeout_ns, struct kcancel_event *ev)
{
	struct kcancel_wait w = { .id = id, .timeout_ns = timeout_ns };
	long ret = kc_ct_ioctl(ct, file, KCANCEL_IOC_WAIT, &w, sizeof(w));

	if (ev)
		*ev = w.done;
	return ret;
}

/**
 * kc_ct_read() - read() as a process would
 * @ct: the fixture.
 * @file: the file.
 * @evs: where the events read are copied; room for @count bytes.
 * @count: read()'s count.
 *
 * Context: the test thread.
 * Return: what the file's read returned.
 */
static ssize_t kc_ct_read(struct kc_ct *ct, struct file *file,
			  struct kcancel_event *evs, size_t count)
{
	char __user *ubuf = kc_ct_user(ct, KC_CT_EVENTS);
	loff_t pos = 0;
	ssize_t ret;

	KUNIT_ASSERT_LE(ct->test, count, PAGE_SIZE);
	ret = file->f_op->read(file, ubuf, count, &pos);
	if (ret > 0)
		KUNIT_ASSERT_EQ(ct->test, copy_from_user(evs, ubuf, ret), 0);
	return ret;
}

/* poll()'s mask as a plain number, for the KUnit comparisons. */
static u32 kc_ct_poll(struct file *file)
{
	return (__force u32)vfs_poll(file, NULL);
}

/* Poll, bounded, until one of @want is reported; returns the last mask. */
static u32 kc_ct_poll_until(struct file *file, u32 want)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(KC_CT_WAIT_MS);
	u32 mask;

	while (!((mask = kc_ct_poll(file)) & want) &&
	       time_before(jiffies, deadline))
		usleep_range(1000, 2000);
	return mask;
}

/**
 * kc_ct_read_n() - read exactly @n events, polling for them
 * @ct: the fixture.
 * @file: a file opened with O_NONBLOCK.
 * @evs: room for @n events.
 * @n: how many; the case fails if fewer come.
 *
 * Context: the test thread.
 */
static void kc_ct_read_n(struct kc_ct *ct, struct file *file,
			 struct kcancel_event *evs, unsigned int n)
{
	unsigned int got = 0;
	ssize_t ret;

	while (got < n) {
		KUNIT_ASSERT_TRUE_MSG(ct->test,
				      kc_ct_poll_until(file, KC_CT_IN) & KC_CT_IN,
				      "%u of %u events", got, n);
		ret = kc_ct_read(ct, file, evs + got, (n - got) * KC_CT_EV);
		KUNIT_ASSERT_GT(ct->test, ret, 0);
		KUNIT_ASSERT_EQ(ct->test, ret % KC_CT_EV, 0);
		got += ret / KC_CT_EV;
	}
}

/* Read the next event, waiting for it. */
static struct kcancel_event kc_ct_read_one(struct kc_ct *ct, struct file *file)
{
	struct kcancel_event ev = {};

	kc_ct_read_n(ct, file, &ev, 1);
	return ev;
}

static void kc_ct_expect_event(struct kunit *test,
			       const struct kcancel_event *ev, u64 id, u64 tag,
			       u32 op, int status, u64 result)
{
	KUNIT_EXPECT_EQ(test, ev->id, id);
	KUNIT_EXPECT_EQ(test, ev->tag, tag);
	KUNIT_EXPECT_EQ(test, ev->op, op);
	KUNIT_EXPECT_EQ(test, ev->status, status);
	KUNIT_EXPECT_EQ(test, ev->result, result);
}

/* Write @len bytes of a pattern to the user data page, or zeros. */
static void kc_ct_put_data(struct kc_ct *ct, u8 *pattern, u32 len,
			   unsigned int seed)
{
	u32 i;

	for (i = 0; i < len; i++)
		pattern[i] = seed ? seed * 13 + i * 5 + (i >> 8) : 0;
	KUNIT_ASSERT_EQ(ct->test,
			copy_to_user(kc_ct_user(ct, KC_CT_DATA), pattern, len), 0);
}

static void kc_ct_get_data(struct kc_ct *ct, u8 *buf, u32 len)
{
	KUNIT_ASSERT_EQ(ct->test,
			copy_from_user(buf, kc_ct_user(ct, KC_CT_DATA), len), 0);
}

/*
 * Submit, then read the event: id, tag, op, status and result of each
 * operation, DMA data through user memory both ways; INFO describes the
 * device; a cancel after completion says -EALREADY and changes nothing.
 */
static void kc_chardev_submit_then_read(struct kunit *test)
{
	struct kc_ct *ct = kc_ct_init(test, KC_CT_FAST_NS, 2, true);
	struct file *file = kc_ct_open(ct, O_NONBLOCK);
	u8 *sent = kunit_kzalloc(test, 300, GFP_KERNEL);
	u8 *got = kunit_kzalloc(test, 300, GFP_KERNEL);
	struct kcancel_info info = {};
	struct kcancel_event ev;
	u64 id;

	KUNIT_ASSERT_NOT_NULL(test, sent);
	KUNIT_ASSERT_NOT_NULL(test, got);
	KUNIT_EXPECT_EQ(test, kc_ct_ioctl(ct, file, KCANCEL_IOC_INFO, &info,
					  sizeof(info)), 0);
	KUNIT_EXPECT_EQ(test, info.abi_version, KCANCEL_ABI_VERSION);
	KUNIT_EXPECT_EQ(test, info.backend, KCANCEL_BACKEND_SIM);
	KUNIT_EXPECT_EQ(test, info.doorbells, KC_SIM_DOORBELLS);
	KUNIT_EXPECT_EQ(test, info.dma_size, KCANCEL_DMA_SIZE);
	KUNIT_EXPECT_EQ(test, info.max_pending, KC_FILE_MAX_PENDING);
	KUNIT_EXPECT_FALSE(test, memchr_inv(info.reserved, 0, sizeof(info.reserved)));
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, &ev, KC_CT_EV), -EAGAIN);

	id = kc_ct_fact(ct, file, 10, 0x7a6);
	ev = kc_ct_read_one(ct, file);
	kc_ct_expect_event(test, &ev, id, 0x7a6, KCANCEL_OP_FACTORIAL, 0, 3628800);

	kc_ct_put_data(ct, sent, 300, 7);
	id = kc_ct_dma(ct, file, KCANCEL_OP_DMA_TO_DEV, 100, 300, 2);
	ev = kc_ct_read_one(ct, file);
	kc_ct_expect_event(test, &ev, id, 2, KCANCEL_OP_DMA_TO_DEV, 0, 300);
	kc_ct_put_data(ct, got, 300, 0);
	id = kc_ct_dma(ct, file, KCANCEL_OP_DMA_FROM_DEV, 100, 300, 3);
	ev = kc_ct_read_one(ct, file);
	kc_ct_expect_event(test, &ev, id, 3, KCANCEL_OP_DMA_FROM_DEV, 0, 300);
	kc_ct_get_data(ct, got, 300);
	KUNIT_EXPECT_MEMEQ(test, got, sent, 300);

	id = kc_ct_submit_op(ct, file, KCANCEL_OP_DOORBELL, 0xdeadbeefcafef00dULL,
			     4, 0);
	KUNIT_ASSERT_TRUE(test, kc_ct_poll_until(file, KC_CT_IN) & KC_CT_IN);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, id), -EALREADY);
	ev = kc_ct_read_one(ct, file);
	kc_ct_expect_event(test, &ev, id, 4, KCANCEL_OP_DOORBELL, 0,
			   0xdeadbeefcafef00dULL);
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, &ev, KC_CT_EV), -EAGAIN);
}

/*
 * A DMA from the device writes its data into the submitter's buffer when it
 * completes, before its event is read: read() and WAIT write only the event
 * (they may run in another process sharing the file). A buffer that cannot
 * be written fails the submit.
 */
static void kc_chardev_dma_data_before_reap(struct kunit *test)
{
	struct kc_ct *ct = kc_ct_init(test, KC_CT_FAST_NS, 1, true);
	struct file *file = kc_ct_open(ct, O_NONBLOCK);
	u8 *sent = kunit_kzalloc(test, 200, GFP_KERNEL);
	u8 *got = kunit_kzalloc(test, 200, GFP_KERNEL);
	struct kcancel_submit s = {
		.op = KCANCEL_OP_DMA_FROM_DEV, .len = 64,
		.buf = KC_CT_KERNEL_ADDR,
	};
	struct kcancel_event ev;
	u64 id;

	KUNIT_ASSERT_NOT_NULL(test, sent);
	KUNIT_ASSERT_NOT_NULL(test, got);
	kc_ct_put_data(ct, sent, 200, 11);
	id = kc_ct_dma(ct, file, KCANCEL_OP_DMA_TO_DEV, 1000, 200, 1);
	ev = kc_ct_read_one(ct, file);
	KUNIT_ASSERT_EQ(test, ev.status, 0);

	/* Straddling a page: the last 100 bytes of one, 100 of the next. */
	kc_ct_put_data(ct, got, 200, 0);
	KUNIT_ASSERT_EQ(test, copy_to_user(kc_ct_user(ct, KC_CT_DATA - 100), got,
					   100), 0);
	s.buf = ct->umem + KC_CT_DATA - 100;
	s.len = 200;
	s.offset = 1000;
	s.tag = 2;
	KUNIT_ASSERT_EQ(test, kc_ct_submit(ct, file, &s), 0);
	KUNIT_ASSERT_TRUE(test, kc_ct_poll_until(file, KC_CT_IN) & KC_CT_IN);
	KUNIT_ASSERT_EQ(test, copy_from_user(got, kc_ct_user(ct, KC_CT_DATA - 100),
					     200), 0);
	KUNIT_EXPECT_MEMEQ(test, got, sent, 200);
	KUNIT_EXPECT_EQ(test, kc_ct_wait(ct, file, s.id, 0, &ev), 0);
	kc_ct_expect_event(test, &ev, s.id, 2, KCANCEL_OP_DMA_FROM_DEV, 0, 200);

	/* A buffer that cannot be written: refused at once, nothing queued. */
	s.buf = KC_CT_KERNEL_ADDR;
	s.id = 0;
	KUNIT_EXPECT_EQ(test, kc_ct_submit(ct, file, &s), -EFAULT);
	KUNIT_EXPECT_EQ(test, s.id, 0);
	s.buf = 0;
	KUNIT_EXPECT_EQ(test, kc_ct_submit(ct, file, &s), -EFAULT);
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, &ev, KC_CT_EV), -EAGAIN);
	KUNIT_EXPECT_NE(test, id, 0);
}

/*
 * SUBMIT_WAIT returns the completion in the structure, DMA data included,
 * and leaves no event to read, wait for or cancel.
 */
static void kc_chardev_submit_wait(struct kunit *test)
{
	struct kc_ct *ct = kc_ct_init(test, KC_CT_FAST_NS, 1, true);
	struct file *file = kc_ct_open(ct, O_NONBLOCK);
	u8 *sent = kunit_kzalloc(test, 64, GFP_KERNEL);
	u8 *got = kunit_kzalloc(test, 64, GFP_KERNEL);
	struct kcancel_submit_wait sw = {
		.req = { .op = KCANCEL_OP_FACTORIAL, .arg = 12, .tag = 99 },
	};
	struct kcancel_event ev;

	KUNIT_ASSERT_NOT_NULL(test, sent);
	KUNIT_ASSERT_NOT_NULL(test, got);
	KUNIT_EXPECT_EQ(test, kc_ct_ioctl(ct, file, KCANCEL_IOC_SUBMIT_WAIT, &sw,
					  sizeof(sw)), 0);
	KUNIT_EXPECT_NE(test, sw.req.id, 0);
	kc_ct_expect_event(test, &sw.done, sw.req.id, 99, KCANCEL_OP_FACTORIAL,
			   0, 479001600);
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, &ev, KC_CT_EV), -EAGAIN);
	KUNIT_EXPECT_EQ(test, kc_ct_poll(file), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_wait(ct, file, sw.req.id, KCANCEL_WAIT_FOREVER,
					 NULL), -ENOENT);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, sw.req.id), -ENOENT);

	kc_ct_put_data(ct, sent, 64, 3);
	sw = (struct kcancel_submit_wait){ .req = {
		.op = KCANCEL_OP_DMA_TO_DEV, .buf = ct->umem + KC_CT_DATA,
		.len = 64, .offset = 4000, .tag = 1 } };
	KUNIT_EXPECT_EQ(test, kc_ct_ioctl(ct, file, KCANCEL_IOC_SUBMIT_WAIT, &sw,
					  sizeof(sw)), 0);
	KUNIT_EXPECT_EQ(test, sw.done.result, 64);
	kc_ct_put_data(ct, got, 64, 0);
	sw.req.op = KCANCEL_OP_DMA_FROM_DEV;
	KUNIT_EXPECT_EQ(test, kc_ct_ioctl(ct, file, KCANCEL_IOC_SUBMIT_WAIT, &sw,
					  sizeof(sw)), 0);
	kc_ct_expect_event(test, &sw.done, sw.req.id, 1, KCANCEL_OP_DMA_FROM_DEV,
			   0, 64);
	kc_ct_get_data(ct, got, 64);
	KUNIT_EXPECT_MEMEQ(test, got, sent, 64);

	sw.req.flags = 1;
	KUNIT_EXPECT_EQ(test, kc_ct_ioctl(ct, file, KCANCEL_IOC_SUBMIT_WAIT, &sw,
					  sizeof(sw)), -EINVAL);
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, &ev, KC_CT_EV), -EAGAIN);
}

/*
 * CANCEL: 0 for a queued or running request (its event says -ECANCELED),
 * -EALREADY for a second cancel or after its timeout, -ENOENT once reaped
 * and for ids the file never had.
 */
static void kc_chardev_cancel(struct kunit *test)
{
	struct kc_ct *ct = kc_ct_init(test, KC_CT_NEVER_NS, 1, true);
	struct file *file = kc_ct_open(ct, O_NONBLOCK);
	struct kcancel_event ev[2];
	u64 running, queued, timed;

	running = kc_ct_fact(ct, file, 5, 1);
	queued = kc_ct_fact(ct, file, 6, 2);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, queued), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, queued), -EALREADY);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, running), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, running), -EALREADY);
	/* The queued one completed inside its cancel call: it comes first. */
	kc_ct_read_n(ct, file, ev, 2);
	kc_ct_expect_event(test, &ev[0], queued, 2, KCANCEL_OP_FACTORIAL,
			   -ECANCELED, 0);
	kc_ct_expect_event(test, &ev[1], running, 1, KCANCEL_OP_FACTORIAL,
			   -ECANCELED, 0);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, running), -ENOENT);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, queued), -ENOENT);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, queued + 1000), -ENOENT);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, 0), -ENOENT);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, U64_MAX), -ENOENT);

	/* A queued request whose timeout came first, not yet reaped. */
	running = kc_ct_fact(ct, file, 7, 5);
	timed = kc_ct_submit_op(ct, file, KCANCEL_OP_FACTORIAL, 8, 6,
				NSEC_PER_MSEC);
	KUNIT_ASSERT_TRUE(test, kc_ct_poll_until(file, KC_CT_IN) & KC_CT_IN);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, timed), -EALREADY);
	ev[0] = kc_ct_read_one(ct, file);
	kc_ct_expect_event(test, &ev[0], timed, 6, KCANCEL_OP_FACTORIAL,
			   -ETIMEDOUT, 0);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, running), 0);
	ev[0] = kc_ct_read_one(ct, file);
	KUNIT_EXPECT_EQ(test, ev[0].status, -ECANCELED);
}

/*
 * WAIT: timeout 0 or a short one on a running request says -ETIMEDOUT and
 * cancels nothing; a completed request's event is consumed, so read() then
 * finds nothing and a second wait -ENOENT.
 */
static void kc_chardev_wait(struct kunit *test)
{
	struct kc_ct *ct = kc_ct_init(test, KC_CT_NEVER_NS, 1, true);
	struct file *file = kc_ct_open(ct, O_NONBLOCK);
	struct kcancel_event ev;
	u64 running, timed;

	running = kc_ct_fact(ct, file, 5, 1);
	KUNIT_EXPECT_EQ(test, kc_ct_wait(ct, file, running, 0, NULL), -ETIMEDOUT);
	KUNIT_EXPECT_EQ(test, kc_ct_wait(ct, file, running, 2 * NSEC_PER_MSEC, NULL),
			-ETIMEDOUT);
	KUNIT_EXPECT_EQ(test, kc_ct_wait(ct, file, running + 1, 0, NULL), -ENOENT);

	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, running), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_wait(ct, file, running, KCANCEL_WAIT_FOREVER, &ev),
			0);
	kc_ct_expect_event(test, &ev, running, 1, KCANCEL_OP_FACTORIAL,
			   -ECANCELED, 0);
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, &ev, KC_CT_EV), -EAGAIN);
	KUNIT_EXPECT_EQ(test, kc_ct_poll(file), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_wait(ct, file, running, 0, NULL), -ENOENT);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, running), -ENOENT);

	/* Completed before the wait: timeout 0 takes it. */
	running = kc_ct_fact(ct, file, 6, 2);
	timed = kc_ct_submit_op(ct, file, KCANCEL_OP_FACTORIAL, 7, 3,
				NSEC_PER_MSEC);
	KUNIT_ASSERT_TRUE(test, kc_ct_poll_until(file, KC_CT_IN) & KC_CT_IN);
	KUNIT_EXPECT_EQ(test, kc_ct_wait(ct, file, timed, 0, &ev), 0);
	kc_ct_expect_event(test, &ev, timed, 3, KCANCEL_OP_FACTORIAL,
			   -ETIMEDOUT, 0);
	KUNIT_EXPECT_EQ(test, kc_ct_poll(file), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, &ev, KC_CT_EV), -EAGAIN);
	KUNIT_EXPECT_EQ(test, kc_ct_wait(ct, file, running, 0, NULL), -ETIMEDOUT);
}

/* read() with room for less than one event: -EINVAL, the event stays. */
static void kc_chardev_read_short_buffer(struct kunit *test)
{
	struct kc_ct *ct = kc_ct_init(test, KC_CT_FAST_NS, 1, true);
	struct file *file = kc_ct_open(ct, O_NONBLOCK);
	struct kcancel_event ev;
	u64 id;

	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, &ev, KC_CT_EV - 1), -EINVAL);
	id = kc_ct_fact(ct, file, 3, 3);
	KUNIT_ASSERT_TRUE(test, kc_ct_poll_until(file, KC_CT_IN) & KC_CT_IN);
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, &ev, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, &ev, 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, &ev, KC_CT_EV - 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, &ev, KC_CT_EV), KC_CT_EV);
	kc_ct_expect_event(test, &ev, id, 3, KCANCEL_OP_FACTORIAL, 0, 6);
}

/*
 * One read() returns as many whole events as fit, oldest completion first:
 * queued requests cancelled in another order than they were submitted
 * complete in the order of the cancels.
 */
static void kc_chardev_read_in_completion_order(struct kunit *test)
{
	static const unsigned int order[] = { 3, 1, 4 };
	struct kc_ct *ct = kc_ct_init(test, KC_CT_NEVER_NS, 1, true);
	struct file *file = kc_ct_open(ct, O_NONBLOCK);
	struct kcancel_event ev[8];
	unsigned int i, k;
	u64 id[5];

	/* id[0] runs (for a minute), the others wait behind it. */
	for (i = 0; i < ARRAY_SIZE(id); i++)
		id[i] = kc_ct_fact(ct, file, i + 2, i);
	for (i = 0; i < ARRAY_SIZE(order); i++)
		KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, id[order[i]]), 0);

	/* Room for two and a half. */
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, ev, 2 * KC_CT_EV + KC_CT_EV / 2),
			2 * KC_CT_EV);
	for (i = 0; i < 2; i++) {
		k = order[i];
		kc_ct_expect_event(test, &ev[i], id[k], k, KCANCEL_OP_FACTORIAL,
				   -ECANCELED, 0);
	}
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, ev, sizeof(ev)), KC_CT_EV);
	kc_ct_expect_event(test, &ev[0], id[4], 4, KCANCEL_OP_FACTORIAL,
			   -ECANCELED, 0);
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, ev, sizeof(ev)), -EAGAIN);

	/* The running one ends by its abort; id[2] either waits or runs. */
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, id[0]), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, id[2]), 0);
	kc_ct_read_n(ct, file, ev, 2);
	KUNIT_EXPECT_EQ(test, ev[0].id + ev[1].id, id[0] + id[2]);
	KUNIT_EXPECT_TRUE(test, ev[0].id == id[0] || ev[0].id == id[2]);
}

/* poll() reports EPOLLIN exactly while an event is ready, and no EPOLLHUP. */
static void kc_chardev_poll(struct kunit *test)
{
	struct kc_ct *ct = kc_ct_init(test, KC_CT_NEVER_NS, 1, true);
	struct file *file = kc_ct_open(ct, O_NONBLOCK);
	struct kcancel_event ev;
	u64 running, queued;

	KUNIT_EXPECT_EQ(test, kc_ct_poll(file), 0);
	running = kc_ct_fact(ct, file, 5, 1);
	queued = kc_ct_fact(ct, file, 6, 2);
	KUNIT_EXPECT_EQ(test, kc_ct_poll(file), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, queued), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_poll(file), KC_CT_IN);
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, &ev, KC_CT_EV), KC_CT_EV);
	KUNIT_EXPECT_EQ(test, ev.id, queued);
	KUNIT_EXPECT_EQ(test, kc_ct_poll(file), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, running), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_poll_until(file, KC_CT_IN), KC_CT_IN);
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, &ev, KC_CT_EV), KC_CT_EV);
	KUNIT_EXPECT_EQ(test, ev.id, running);
	KUNIT_EXPECT_EQ(test, kc_ct_poll(file), 0);
}

/* The ids of one file are unknown to another: -ENOENT, nothing changes. */
static void kc_chardev_other_file_ids(struct kunit *test)
{
	struct kc_ct *ct = kc_ct_init(test, KC_CT_NEVER_NS, 1, true);
	struct file *mine = kc_ct_open(ct, O_NONBLOCK);
	struct file *other = kc_ct_open(ct, O_NONBLOCK);
	struct kcancel_event ev;
	u64 id, next;

	id = kc_ct_fact(ct, mine, 5, 1);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, other, id), -ENOENT);
	KUNIT_EXPECT_EQ(test, kc_ct_wait(ct, other, id, 0, NULL), -ENOENT);
	KUNIT_EXPECT_EQ(test, kc_ct_wait(ct, other, id, KCANCEL_WAIT_FOREVER, NULL),
			-ENOENT);
	KUNIT_EXPECT_EQ(test, kc_ct_wait(ct, mine, id, 0, NULL), -ETIMEDOUT);
	/* Ids are the device's: the other file's next one is larger. */
	next = kc_ct_fact(ct, other, 6, 2);
	KUNIT_EXPECT_GT(test, next, id);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, mine, next), -ENOENT);

	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, mine, id), 0);
	ev = kc_ct_read_one(ct, mine);
	kc_ct_expect_event(test, &ev, id, 1, KCANCEL_OP_FACTORIAL, -ECANCELED, 0);
	KUNIT_EXPECT_EQ(test, kc_ct_poll(other), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, other, &ev, KC_CT_EV), -EAGAIN);
}

/*
 * A file's table gives an index again once its request is reaped, the
 * lowest free one; an id, never: the old id finds nothing, not the request
 * that took its index.
 */
static void kc_chardev_index_reused(struct kunit *test)
{
	struct kc_ct *ct = kc_ct_init(test, KC_CT_NEVER_NS, 1, true);
	struct file *file = kc_ct_open(ct, O_NONBLOCK);
	struct kcancel_event ev;
	u64 old, id, next;

	old = kc_ct_fact(ct, file, 5, 1);
	KUNIT_EXPECT_EQ(test, old & KC_FILE_INDEX_MASK, 0);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, old), 0);
	ev = kc_ct_read_one(ct, file);
	kc_ct_expect_event(test, &ev, old, 1, KCANCEL_OP_FACTORIAL, -ECANCELED, 0);

	id = kc_ct_fact(ct, file, 6, 2);
	next = kc_ct_fact(ct, file, 7, 3);
	KUNIT_EXPECT_GT(test, id, old);
	KUNIT_EXPECT_GT(test, next, id);
	KUNIT_EXPECT_EQ(test, id & KC_FILE_INDEX_MASK, 0);
	KUNIT_EXPECT_EQ(test, next & KC_FILE_INDEX_MASK, 1);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, old), -ENOENT);
	KUNIT_EXPECT_EQ(test, kc_ct_wait(ct, file, old, 0, NULL), -ENOENT);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, old + 1), -ENOENT);

	/* The queued one completes inside its cancel call: it comes first. */
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, next), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, id), 0);
	ev = kc_ct_read_one(ct, file);
	kc_ct_expect_event(test, &ev, next, 3, KCANCEL_OP_FACTORIAL, -ECANCELED,
			   0);
	ev = kc_ct_read_one(ct, file);
	kc_ct_expect_event(test, &ev, id, 2, KCANCEL_OP_FACTORIAL, -ECANCELED, 0);
}

/*
 * A file with one request in flight at a time holds it in its table's head,
 * as an xarray holds a lone entry at index 0: no node. Reserved as
 * xa_reserve() does (a zero entry, which never sits in the head), each
 * request would allocate a node at submit and free it through RCU at reap.
 */
static void kc_chardev_table_flat(struct kunit *test)
{
	struct kc_ct *ct = kc_ct_init(test, KC_CT_NEVER_NS, 1, true);
	struct file *file = kc_ct_open(ct, O_NONBLOCK);
	struct kc_file *f = file->private_data;
	struct kcancel_event ev;
	void *head;
	u64 id;
	int i;

	for (i = 0; i < 2; i++) {
		id = kc_ct_fact(ct, file, 5, i);
		KUNIT_EXPECT_EQ(test, id & KC_FILE_INDEX_MASK, 0);
		xa_lock_irq(&f->ios);
		head = xa_head_locked(&f->ios);
		xa_unlock_irq(&f->ios);
		KUNIT_ASSERT_FALSE(test, xa_is_node(head));
		KUNIT_EXPECT_EQ(test, ((struct kc_file_io *)head)->io.req.id,
				id);
		KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, id), 0);
		ev = kc_ct_read_one(ct, file);
		kc_ct_expect_event(test, &ev, id, i, KCANCEL_OP_FACTORIAL,
				   -ECANCELED, 0);
		KUNIT_EXPECT_TRUE(test, xa_empty(&f->ios));
	}
}

/*
 * A device gives out %KC_FILE_SEQ_MAX ids; past the last, a submit fails
 * -EOVERFLOW, writes no id and queues nothing.
 */
static void kc_chardev_ids_run_out(struct kunit *test)
{
	struct kc_ct *ct = kc_ct_init(test, KC_CT_FAST_NS, 1, true);
	struct file *file = kc_ct_open(ct, O_NONBLOCK);
	struct kcancel_submit s = { .op = KCANCEL_OP_DOORBELL, .arg = 8 };
	struct kcancel_event ev;
	u64 id;

	atomic64_set(&ct->kd->next_id, KC_FILE_SEQ_MAX - 1);
	id = kc_ct_submit_op(ct, file, KCANCEL_OP_DOORBELL, 7, 1, 0);
	KUNIT_EXPECT_EQ(test, id >> KC_FILE_INDEX_BITS, KC_FILE_SEQ_MAX);
	KUNIT_EXPECT_EQ(test, kc_ct_submit(ct, file, &s), -EOVERFLOW);
	KUNIT_EXPECT_EQ(test, s.id, 0);
	KUNIT_EXPECT_EQ(test, kc_ct_submit(ct, file, &s), -EOVERFLOW);
	ev = kc_ct_read_one(ct, file);
	kc_ct_expect_event(test, &ev, id, 1, KCANCEL_OP_DOORBELL, 0, 7);
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, &ev, KC_CT_EV), -EAGAIN);
}

/* Where a row's &kcancel_submit.buf points. */
enum {
	KC_CT_BUF_AS_IS,	/* the row's value */
	KC_CT_BUF_USER,		/* the user data page */
};

/**
 * struct kc_ct_submit_row - one submit and what it must return
 * @desc: what is wrong with it, or that nothing is.
 * @s: the submit.
 * @buf: a KC_CT_BUF_* value.
 * @ret: what KCANCEL_IOC_SUBMIT must return.
 */
struct kc_ct_submit_row {
	const char *desc;
	struct kcancel_submit s;
	int buf;
	int ret;
};

#define KC_CT_FACT		KCANCEL_OP_FACTORIAL
#define KC_CT_TO		KCANCEL_OP_DMA_TO_DEV
#define KC_CT_FROM		KCANCEL_OP_DMA_FROM_DEV

static const struct kc_ct_submit_row kc_ct_submit_rows[] = {
	{ "a factorial", { .op = KC_CT_FACT, .arg = 3 }, KC_CT_BUF_AS_IS, 0 },
	{ "a DMA of the whole memory", { .op = KC_CT_TO, .len = KCANCEL_DMA_SIZE },
	  KC_CT_BUF_USER, 0 },
	{ "flags 1", { .op = KC_CT_FACT, .flags = 1 }, KC_CT_BUF_AS_IS, -EINVAL },
	{ "flags bit 31", { .op = KC_CT_FACT, .flags = BIT(31) }, KC_CT_BUF_AS_IS,
	  -EINVAL },
	{ "reserved[0] set", { .op = KC_CT_FACT, .reserved = { 1, 0 } },
	  KC_CT_BUF_AS_IS, -EINVAL },
	{ "reserved[1] set", { .op = KC_CT_FACT, .reserved = { 0, 1 } },
	  KC_CT_BUF_AS_IS, -EINVAL },
	{ "op 0", { .op = 0 }, KC_CT_BUF_AS_IS, -EINVAL },
	{ "op KCANCEL_OP_MAX + 1", { .op = KCANCEL_OP_MAX + 1 }, KC_CT_BUF_AS_IS,
	  -EINVAL },
	{ "factorial of 13", { .op = KC_CT_FACT, .arg = 13 }, KC_CT_BUF_AS_IS,
	  -EINVAL },
	{ "timeout 2^63", { .op = KC_CT_FACT, .timeout_ns = BIT_ULL(63) },
	  KC_CT_BUF_AS_IS, -EINVAL },
	{ "timeout U64_MAX", { .op = KC_CT_FACT, .timeout_ns = U64_MAX },
	  KC_CT_BUF_AS_IS, -EINVAL },
	{ "a buffer on a factorial", { .op = KC_CT_FACT }, KC_CT_BUF_USER,
	  -EINVAL },
	{ "a buffer on a doorbell", { .op = KCANCEL_OP_DOORBELL }, KC_CT_BUF_USER,
	  -EINVAL },
	{ "a length on a doorbell", { .op = KCANCEL_OP_DOORBELL, .len = 8 },
	  KC_CT_BUF_AS_IS, -EINVAL },
	{ "a DMA of 0 bytes", { .op = KC_CT_TO }, KC_CT_BUF_USER, -EINVAL },
	{ "a DMA of dma_size + 1 bytes",
	  { .op = KC_CT_FROM, .len = KCANCEL_DMA_SIZE + 1 }, KC_CT_BUF_USER,
	  -EINVAL },
	{ "a DMA one byte past the end",
	  { .op = KC_CT_TO, .len = 64, .offset = KCANCEL_DMA_SIZE - 63 },
	  KC_CT_BUF_USER, -EINVAL },
	{ "a DMA whose offset + len wraps",
	  { .op = KC_CT_FROM, .len = 64, .offset = U32_MAX - 62 }, KC_CT_BUF_USER,
	  -EINVAL },
	{ "a DMA with an arg", { .op = KC_CT_TO, .len = 64, .arg = 1 },
	  KC_CT_BUF_USER, -EINVAL },
	{ "a DMA to the device from NULL", { .op = KC_CT_TO, .len = 64 },
	  KC_CT_BUF_AS_IS, -EFAULT },
	{ "a DMA to the device from a kernel address",
	  { .op = KC_CT_TO, .len = 64, .buf = KC_CT_KERNEL_ADDR }, KC_CT_BUF_AS_IS,
	  -EFAULT },
	{ "a DMA from the device to a kernel address",
	  { .op = KC_CT_FROM, .len = 64, .buf = KC_CT_KERNEL_ADDR },
	  KC_CT_BUF_AS_IS, -EFAULT },
};

static void kc_ct_submit_desc(const struct kc_ct_submit_row *row, char *desc)
{
	strscpy(desc, row->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kc_ct_submit, kc_ct_submit_rows, kc_ct_submit_desc);

/*
 * SUBMIT refuses each bad field with its documented errno, writes no id and
 * queues nothing; the good rows go through, so the table's harness works.
 */
static void kc_chardev_submit_checks(struct kunit *test)
{
	const struct kc_ct_submit_row *row = test->param_value;
	struct kc_ct *ct = kc_ct_init(test, KC_CT_FAST_NS, 1, true);
	struct file *file = kc_ct_open(ct, O_NONBLOCK);
	struct kcancel_submit s = row->s;
	struct kcancel_event ev;

	if (row->buf == KC_CT_BUF_USER)
		s.buf = ct->umem + KC_CT_DATA;
	KUNIT_EXPECT_EQ(test, kc_ct_submit(ct, file, &s), row->ret);
	if (row->ret) {
		KUNIT_EXPECT_EQ(test, s.id, 0);
		KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, &ev, KC_CT_EV), -EAGAIN);
		return;
	}
	ev = kc_ct_read_one(ct, file);
	kc_ct_expect_event(test, &ev, s.id, 0, s.op, 0,
			   s.len ? s.len : 6);
}

/*
 * CANCEL with an unknown flag or reserved set: -EINVAL; by user_data, an id
 * finds no io_uring request: -ENOENT. The request runs on.
 */
static void kc_chardev_cancel_checks(struct kunit *test)
{
	struct kc_ct *ct = kc_ct_init(test, KC_CT_NEVER_NS, 1, true);
	struct file *file = kc_ct_open(ct, O_NONBLOCK);
	struct kcancel_cancel c = {};
	u64 id = kc_ct_fact(ct, file, 5, 0);

	c.id = id;
	c.flags = KCANCEL_CANCEL_USER_DATA << 1;
	KUNIT_EXPECT_EQ(test, kc_ct_ioctl(ct, file, KCANCEL_IOC_CANCEL, &c,
					  sizeof(c)), -EINVAL);
	c.flags = KCANCEL_CANCEL_USER_DATA;
	KUNIT_EXPECT_EQ(test, kc_ct_ioctl(ct, file, KCANCEL_IOC_CANCEL, &c,
					  sizeof(c)), -ENOENT);
	c.flags = 0;
	c.reserved = 1;
	KUNIT_EXPECT_EQ(test, kc_ct_ioctl(ct, file, KCANCEL_IOC_CANCEL, &c,
					  sizeof(c)), -EINVAL);
	KUNIT_EXPECT_EQ(test, kc_ct_wait(ct, file, id, 0, NULL), -ETIMEDOUT);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, id), 0);
}

/* Commands the device does not know: -ENOTTY. */
static void kc_chardev_unknown_ioctl(struct kunit *test)
{
	static const struct {
		const char *name;
		unsigned int cmd;
	} cmds[] = {
		{ "number 0", _IO(KCANCEL_IOC_MAGIC, 0) },
		{ "number 6", _IOWR(KCANCEL_IOC_MAGIC, 6, struct kcancel_wait) },
		{ "SUBMIT's number, wrong size",
		  _IOWR(KCANCEL_IOC_MAGIC, 1, __u32) },
		{ "INFO's number, written",
		  _IOW(KCANCEL_IOC_MAGIC, 5, struct kcancel_info) },
		{ "another magic", _IOR('k', 5, struct kcancel_info) },
	};
	struct kc_ct *ct = kc_ct_init(test, KC_CT_FAST_NS, 1, true);
	struct file *file = kc_ct_open(ct, O_NONBLOCK);
	struct kcancel_info info;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		memset(&info, 0, sizeof(info));
		KUNIT_EXPECT_EQ_MSG(test, kc_ct_ioctl(ct, file, cmds[i].cmd, &info,
						      sizeof(info)), -ENOTTY,
				    "%s", cmds[i].name);
	}
}

/*
 * A file may have max_pending requests not yet reaped; one more gets
 * -EAGAIN (SUBMIT_WAIT too) until an event is reaped. Closing the file then
 * cancels them all.
 */
static void kc_chardev_max_pending(struct kunit *test)
{
	struct kc_ct *ct = kc_ct_init(test, KC_CT_NEVER_NS, 1, true);
	struct file *file = kc_ct_open(ct, O_NONBLOCK);
	struct kcancel_submit s = { .op = KCANCEL_OP_FACTORIAL, .arg = 1 };
	struct kcancel_submit_wait sw = { .req = s };
	struct kcancel_info info = {};
	struct kcancel_event ev;
	unsigned int i, refused = 0;
	u64 last = 0, start, took;

	KUNIT_ASSERT_EQ(test, kc_ct_ioctl(ct, file, KCANCEL_IOC_INFO, &info,
					  sizeof(info)), 0);
	KUNIT_ASSERT_GT(test, info.max_pending, 0U);
	for (i = 0; i < info.max_pending; i++) {
		s.id = 0;
		if (kc_ct_submit(ct, file, &s))
			refused++;
		last = s.id;
		if (i % 64 == 0)
			cond_resched();
	}
	KUNIT_ASSERT_EQ(test, refused, 0U);
	KUNIT_EXPECT_EQ(test, kc_ct_submit(ct, file, &s), -EAGAIN);
	KUNIT_EXPECT_EQ(test, kc_ct_ioctl(ct, file, KCANCEL_IOC_SUBMIT_WAIT, &sw,
					  sizeof(sw)), -EAGAIN);

	/* A completed event still counts until it is reaped. */
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, last), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_submit(ct, file, &s), -EAGAIN);
	ev = kc_ct_read_one(ct, file);
	KUNIT_EXPECT_EQ(test, ev.id, last);
	KUNIT_EXPECT_EQ(test, kc_ct_submit(ct, file, &s), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_submit(ct, file, &s), -EAGAIN);
	/* Each request would run for a minute unless its cancel aborts it. */
	start = ktime_get_ns();
	kc_ct_close(ct, file);
	took = ktime_get_ns() - start;
	kunit_info(test, "close of %u requests took %llu ms\n", info.max_pending,
		   took / NSEC_PER_MSEC);
	KUNIT_EXPECT_LT(test, took, KC_CT_NEVER_NS / 3);
}

/* Is the device idle, nothing queued, in flight or pending completion? */
static bool kc_ct_dev_idle(struct kc_dev *kd)
{
	unsigned long flags;
	bool idle = true;
	int c;

	spin_lock_irqsave(&kd->lock, flags);
	for (c = 0; c < KC_CHAN_NR; c++)
		idle = idle && list_empty(&kd->pending[c]);
	idle = idle && !kd->busy;
	spin_unlock_irqrestore(&kd->lock, flags);
	return idle && kc_target_is_empty(&kd->target) &&
	       !atomic_read(&kd->queue.active);
}

static bool kc_ct_wait_dev_idle(struct kc_dev *kd)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(KC_CT_WAIT_MS);

	while (!kc_ct_dev_idle(kd)) {
		if (time_after(jiffies, deadline))
			return false;
		usleep_range(1000, 2000);
	}
	return true;
}

static const bool kc_ct_aborts[] = { true, false };

static void kc_ct_abort_desc(const bool *abort, char *desc)
{
	strscpy(desc, *abort ? "device aborts" : "device cannot abort (edu-like)",
		KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kc_ct_abort, kc_ct_aborts, kc_ct_abort_desc);

/* Submit requests of every kind: some queued, some running, doorbells. */
static unsigned int kc_ct_submit_mix(struct kc_ct *ct, struct file *file,
				     u64 *ids)
{
	unsigned int n = 0;

	ids[n++] = kc_ct_fact(ct, file, 3, 0);
	ids[n++] = kc_ct_fact(ct, file, 4, 1);
	ids[n++] = kc_ct_fact(ct, file, 5, 2);
	ids[n++] = kc_ct_submit_op(ct, file, KCANCEL_OP_FACTORIAL, 6, 3,
				   10ULL * NSEC_PER_SEC);
	ids[n++] = kc_ct_dma(ct, file, KCANCEL_OP_DMA_TO_DEV, 0, 64, 4);
	ids[n++] = kc_ct_dma(ct, file, KCANCEL_OP_DMA_TO_DEV, 64, 64, 5);
	ids[n++] = kc_ct_dma(ct, file, KCANCEL_OP_DMA_FROM_DEV, 0, 64, 6);
	ids[n++] = kc_ct_submit_op(ct, file, KCANCEL_OP_DOORBELL, 7, 7, 0);
	ids[n++] = kc_ct_submit_op(ct, file, KCANCEL_OP_DOORBELL, 8, 8, 0);
	return n;
}

/*
 * close() with requests queued, running and doorbells: every one completes
 * before release returns, and the device is left with nothing: no queued
 * request, no slot once the doorbells ring, no request in the collection,
 * none bound to its queue. It serves a new file after.
 */
static void kc_chardev_close_completes_all(struct kunit *test)
{
	const bool *abort = test->param_value;
	struct kc_ct *ct = kc_ct_init(test, KC_CT_SLOW_NS, 1, *abort);
	struct file *file = kc_ct_open(ct, O_NONBLOCK);
	struct kcancel_submit_wait sw = {
		.req = { .op = KCANCEL_OP_DOORBELL, .arg = 31 },
	};
	u64 ids[16];

	kc_ct_submit_mix(ct, file, ids);
	KUNIT_EXPECT_FALSE(test, kc_ct_dev_idle(ct->kd));
	kc_ct_close(ct, file);
	KUNIT_EXPECT_TRUE(test, kc_ct_wait_dev_idle(ct->kd));

	file = kc_ct_open(ct, O_NONBLOCK);
	KUNIT_EXPECT_EQ(test, kc_ct_ioctl(ct, file, KCANCEL_IOC_SUBMIT_WAIT, &sw,
					  sizeof(sw)), 0);
	KUNIT_EXPECT_GT(test, sw.req.id, ids[0]);
	KUNIT_EXPECT_EQ(test, sw.done.status, 0);
	KUNIT_EXPECT_EQ(test, sw.done.result, 31);
}

/**
 * struct kc_ct_reader - a thread blocked in read() on an empty file
 * @file: the file, opened without O_NONBLOCK.
 * @ubuf: the read() buffer (never written: the file gets no event).
 * @entered: set before the thread calls read().
 * @ret: what read() returned.
 * @done: read() returned.
 */
struct kc_ct_reader {
	struct file *file;
	char __user *ubuf;
	bool entered;
	ssize_t ret;
	struct completion done;
};

static int kc_ct_reader_fn(void *arg)
{
	struct kc_ct_reader *r = arg;
	loff_t pos = 0;

	/* The case's way out if removal never wakes the reader. */
	allow_signal(SIGKILL);
	WRITE_ONCE(r->entered, true);
	r->ret = r->file->f_op->read(r->file, r->ubuf, KC_CT_EV, &pos);
	complete(&r->done);
	return 0;
}

/* Wait, bounded, until @task, which set @entered, sleeps interruptibly. */
static bool kc_ct_wait_asleep(const bool *entered, struct task_struct *task)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(KC_CT_WAIT_MS);

	while (!READ_ONCE(*entered) ||
	       READ_ONCE(task->__state) != TASK_INTERRUPTIBLE) {
		if (time_after(jiffies, deadline))
			return false;
		usleep_range(1000, 2000);
	}
	return true;
}

/*
 * KCANCEL_IOC_BATCH on a removed device: each entry is made ready, its id
 * written back, then the device refuses to bind the group. None is queued,
 * the first fails -ENODEV, and every id written is set back to 0.
 */
static void kc_ct_batch_refused(struct kc_ct *ct, struct file *file)
{
	struct kunit *test = ct->test;
	struct kcancel_submit subs[3] = {};
	struct kcancel_batch b = {
		.submits = ct->umem + KC_CT_DATA,
		.events = ct->umem + KC_CT_EVENTS,
		.nr_submits = ARRAY_SIZE(subs),
		.max_events = 1,
		.submitted = U32_MAX,
		.error = 1,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(subs); i++) {
		subs[i].op = KCANCEL_OP_DOORBELL;
		subs[i].arg = i;
	}
	KUNIT_ASSERT_EQ(test, copy_to_user(kc_ct_user(ct, KC_CT_DATA), subs,
					   sizeof(subs)), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_ioctl(ct, file, KCANCEL_IOC_BATCH, &b,
					  sizeof(b)), 0);
	KUNIT_EXPECT_EQ(test, b.submitted, 0U);
	KUNIT_EXPECT_EQ(test, b.error, -ENODEV);
	KUNIT_ASSERT_EQ(test, copy_from_user(subs, kc_ct_user(ct, KC_CT_DATA),
					     sizeof(subs)), 0);
	for (i = 0; i < ARRAY_SIZE(subs); i++)
		KUNIT_EXPECT_EQ_MSG(test, subs[i].id, 0ULL, "entry %u", i);
}

/*
 * Removal with files open: kc_sim_destroy() completes the requests -ENODEV
 * (or with their result if they finished first; queued ones cannot) and
 * wakes a reader blocked on another file, which gets end of file. The file
 * reads its events, then 0; poll says EPOLLHUP; submits fail -ENODEV (a
 * batch sets back the ids it wrote); the node is gone; both files still
 * close cleanly.
 */
static void kc_chardev_remove_with_file_open(struct kunit *test)
{
	struct kc_ct *ct = kc_ct_init(test, KC_CT_INFLIGHT_NS, 1, true);
	struct file *file = kc_ct_open(ct, O_NONBLOCK);
	struct kc_ct_reader r = {
		.file = kc_ct_open(ct, 0),
		.ubuf = kc_ct_user(ct, KC_CT_EVENTS),
	};
	struct kcancel_submit s = { .op = KCANCEL_OP_FACTORIAL, .arg = 1 };
	struct kcancel_event ev[16];
	struct task_struct *reader;
	unsigned int n, i, wrong = 0;
	unsigned long seen = 0;
	struct file *again;
	u64 ids[16];
	ssize_t ret;

	n = kc_ct_submit_mix(ct, file, ids);
	init_completion(&r.done);
	reader = kc_test_run_on_other_cpu(test, kc_ct_reader_fn, &r);
	KUNIT_EXPECT_TRUE(test, kc_ct_wait_asleep(&r.entered, reader));

	kunit_release_action(test, kc_ct_remove, ct);
	if (!wait_for_completion_timeout(&r.done, msecs_to_jiffies(KC_CT_WAIT_MS))) {
		KUNIT_FAIL(test, "removal did not wake the blocked reader");
		send_sig(SIGKILL, reader, 1);
		wait_for_completion(&r.done);
	}
	kc_test_join(reader);
	KUNIT_EXPECT_EQ(test, r.ret, 0);

	KUNIT_EXPECT_EQ(test, kc_ct_poll(file), KC_CT_IN);
	ret = kc_ct_read(ct, file, ev, sizeof(ev));
	KUNIT_ASSERT_EQ(test, ret, n * KC_CT_EV);
	for (i = 0; i < n; i++) {
		u64 tag = ev[i].tag;
		/* The running factorial and DMA and the doorbells may have ended. */
		bool running = tag == 0 || tag == 4 || tag >= 7;

		if (tag >= n || ev[i].id != ids[tag] || (seen & BIT(tag)) ||
		    (ev[i].status != -ENODEV && (!running || ev[i].status)))
			wrong++;
		seen |= tag < n ? BIT(tag) : 0;
	}
	KUNIT_EXPECT_EQ(test, wrong, 0U);
	KUNIT_EXPECT_EQ(test, seen, BIT(n) - 1);
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, file, ev, sizeof(ev)), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_poll(file), KC_CT_HUP);
	KUNIT_EXPECT_EQ(test, kc_ct_poll(r.file), KC_CT_HUP);
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, r.file, ev, KC_CT_EV), 0);

	KUNIT_EXPECT_EQ(test, kc_ct_submit(ct, file, &s), -ENODEV);
	kc_ct_batch_refused(ct, file);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, ids[0]), -ENOENT);
	KUNIT_EXPECT_EQ(test, kc_ct_wait(ct, file, ids[1], 0, NULL), -ENOENT);
	again = filp_open(ct->path, O_RDWR, 0);
	KUNIT_EXPECT_TRUE(test, IS_ERR(again));
	if (!IS_ERR(again))
		fput(again);
	kc_ct_close(ct, r.file);
	kc_ct_close(ct, file);
}

/*
 * close() on a device that stopped answering: the file's requests are
 * cancelled, but nothing ends them. close() waits the device's time limit,
 * then fails the device: another file's request in the hardware ends -EIO,
 * that file can read its event and then the end of the file, and new
 * submits say -ENODEV.
 */
static void kc_chardev_close_stalled_device(struct kunit *test)
{
	struct kc_ct *ct = kc_ct_init(test, KC_CT_FAST_NS, 1, false);
	struct file *mine = kc_ct_open(ct, O_NONBLOCK);
	struct file *other = kc_ct_open(ct, O_NONBLOCK);
	struct kcancel_submit s = { .op = KCANCEL_OP_FACTORIAL, .arg = 3 };
	struct kcancel_event ev;
	u64 id, took;

	kc_sim_stall(ct->sim, true);
	ct->kd->op_timeout = HZ / 2;
	kc_ct_fact(ct, mine, 5, 1);
	id = kc_ct_dma(ct, other, KCANCEL_OP_DMA_TO_DEV, 0, 64, 2);
	took = ktime_get_ns();
	kc_ct_close(ct, mine);
	took = (ktime_get_ns() - took) / NSEC_PER_MSEC;
	kunit_info(test, "close took %llu ms\n", took);
	KUNIT_EXPECT_LT(test, took, 10ULL * MSEC_PER_SEC);
	ev = kc_ct_read_one(ct, other);
	kc_ct_expect_event(test, &ev, id, 2, KCANCEL_OP_DMA_TO_DEV, -EIO, 0);
	KUNIT_EXPECT_EQ(test, kc_ct_read(ct, other, &ev, KC_CT_EV), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_poll(other), KC_CT_HUP);
	KUNIT_EXPECT_EQ(test, kc_ct_submit(ct, other, &s), -ENODEV);
}

/**
 * struct kc_ct_sync_waiter - a thread in KCANCEL_IOC_SUBMIT_WAIT
 * @ct: the fixture; the thread's argument is at %KC_CT_DATA.
 * @file: the file.
 * @mm: the case's user memory, which the thread takes on.
 * @entered: set before the thread calls the ioctl.
 * @ret: what the ioctl returned.
 * @done: the ioctl returned.
 */
struct kc_ct_sync_waiter {
	struct kc_ct *ct;
	struct file *file;
	struct mm_struct *mm;
	bool entered;
	long ret;
	struct completion done;
};

static int kc_ct_sync_waiter_fn(void *arg)
{
	struct kc_ct_sync_waiter *w = arg;
	void __user *uarg = kc_ct_user(w->ct, KC_CT_DATA);

	kthread_use_mm(w->mm);
	WRITE_ONCE(w->entered, true);
	w->ret = w->file->f_op->unlocked_ioctl(w->file, KCANCEL_IOC_SUBMIT_WAIT,
					       (unsigned long)uarg);
	kthread_unuse_mm(w->mm);
	complete(&w->done);
	return 0;
}

/*
 * A KCANCEL_IOC_SUBMIT_WAIT caller that is the device's waiter, whose
 * request another thread ends: queued behind an operation that runs for a
 * minute, the request is cancelled and completes in the cancelling thread,
 * with no interrupt to wake the waiter. Its completion must wake it. The
 * running operation's cancel then lets a waiter that was not woken go.
 */
static void kc_chardev_submit_wait_woken(struct kunit *test)
{
	struct kc_ct *ct = kc_ct_init(test, KC_CT_NEVER_NS, 1, true);
	struct file *file = kc_ct_open(ct, O_NONBLOCK);
	struct kc_ct_sync_waiter w = {
		.ct = ct, .file = file, .mm = current->mm,
	};
	struct kcancel_submit_wait sw = {
		.req = { .op = KCANCEL_OP_FACTORIAL, .arg = 4, .tag = 2 },
	};
	void __user *uarg = kc_ct_user(ct, KC_CT_DATA);
	struct task_struct *task;
	struct kcancel_event ev;
	bool waiter, woken;
	u64 busy;

	busy = kc_ct_fact(ct, file, 3, 1);
	KUNIT_ASSERT_EQ(test, copy_to_user(uarg, &sw, sizeof(sw)), 0);
	init_completion(&w.done);
	task = kc_test_run_on_other_cpu(test, kc_ct_sync_waiter_fn, &w);
	KUNIT_EXPECT_TRUE(test, kc_ct_wait_asleep(&w.entered, task));
	waiter = atomic_read(&ct->kd->handoff.claimed);
	KUNIT_EXPECT_EQ(test, copy_from_user(&sw, uarg, sizeof(sw)), 0);
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, sw.req.id), 0);
	woken = wait_for_completion_timeout(&w.done,
					    msecs_to_jiffies(KC_CT_WAIT_MS));
	if (!woken)
		KUNIT_FAIL(test, "its request completed, its waiter slept on");
	KUNIT_EXPECT_EQ(test, kc_ct_cancel(ct, file, busy), 0);
	if (!woken)
		wait_for_completion(&w.done);
	kc_test_join(task);
	KUNIT_EXPECT_EQ(test, w.ret, 0);
	KUNIT_EXPECT_EQ(test, copy_from_user(&sw, uarg, sizeof(sw)), 0);
	kc_ct_expect_event(test, &sw.done, sw.req.id, 2, KCANCEL_OP_FACTORIAL,
			   -ECANCELED, 0);
	ev = kc_ct_read_one(ct, file);
	kc_ct_expect_event(test, &ev, busy, 1, KCANCEL_OP_FACTORIAL,
			   -ECANCELED, 0);
	if (!waiter)
		kunit_skip(test, "waiter_dpc is off: the thread was no waiter");
}

static struct kunit_case kc_chardev_cases[] = {
	KUNIT_CASE(kc_chardev_submit_then_read),
	KUNIT_CASE(kc_chardev_dma_data_before_reap),
	KUNIT_CASE(kc_chardev_submit_wait),
	KUNIT_CASE(kc_chardev_cancel),
	KUNIT_CASE(kc_chardev_wait),
	KUNIT_CASE(kc_chardev_read_short_buffer),
	KUNIT_CASE(kc_chardev_read_in_completion_order),
	KUNIT_CASE(kc_chardev_poll),
	KUNIT_CASE(kc_chardev_other_file_ids),
	KUNIT_CASE(kc_chardev_index_reused),
	KUNIT_CASE(kc_chardev_table_flat),
	KUNIT_CASE(kc_chardev_ids_run_out),
	KUNIT_CASE_PARAM(kc_chardev_submit_checks, kc_ct_submit_gen_params),
	KUNIT_CASE(kc_chardev_cancel_checks),
	KUNIT_CASE(kc_chardev_unknown_ioctl),
	KUNIT_CASE_ATTR(kc_chardev_max_pending, { .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE_PARAM(kc_chardev_close_completes_all, kc_ct_abort_gen_params),
	KUNIT_CASE_ATTR(kc_chardev_remove_with_file_open,
			{ .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE(kc_chardev_close_stalled_device),
	KUNIT_CASE(kc_chardev_submit_wait_woken),
	{}
};

struct kunit_suite kc_chardev_suite = {
	.name = "kcancel_chardev",
	.test_cases = kc_chardev_cases,
};
