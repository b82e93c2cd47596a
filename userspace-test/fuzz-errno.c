// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-fuzz: the errnos include/uapi/linux/kcancel.h documents, per call,
 * and the event statuses it documents. This is the one copy of them in the
 * fuzzer: change it together with the header.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"

#define DOC_MAX		10

/**
 * struct call_doc - a call and the errnos it may fail with
 * @name: its name in the report.
 * @errnos: the documented errnos, 0-terminated.
 */
struct call_doc {
	const char *name;
	int errnos[DOC_MAX];
};

static const struct call_doc call_docs[FC_NR] = {
	/* The header's open() paragraph. */
	[FC_OPEN] = { "open", { ENOMEM, ENODEV } },
	/* close() always succeeds: it cancels and drains. */
	[FC_CLOSE] = { "close", { 0 } },
	[FC_SUBMIT] = { "submit",
			{ EINVAL, EFAULT, EAGAIN, ENOMEM, ENODEV, EOVERFLOW } },
	/* KCANCEL_IOC_SUBMIT's, and EINTR. */
	[FC_SUBMIT_WAIT] = { "submit_wait",
			     { EINVAL, EFAULT, EAGAIN, ENOMEM, ENODEV, EOVERFLOW,
			       EINTR } },
	[FC_CANCEL] = { "cancel", { EALREADY, ENOENT, EINVAL, EFAULT } },
	[FC_WAIT] = { "wait", { ETIMEDOUT, EINTR, ENOENT, EINVAL, EFAULT } },
	/* A submit's own errno goes to error, not to the call. */
	[FC_BATCH] = { "batch", { EINVAL, EFAULT, EINTR } },
	[FC_INFO] = { "info", { EFAULT } },
	/* "Any other command". */
	[FC_BAD_IOCTL] = { "bad_ioctl", { ENOTTY } },
	[FC_READ] = { "read", { EINVAL, EAGAIN, EINTR, EFAULT } },
	/* poll() fails only as poll(2) says; the driver adds nothing. */
	[FC_POLL] = { "poll", { EINTR } },
	/*
	 * The io_uring commands: the res of their CQE. A submit's is its
	 * errno (KCANCEL_IOC_SUBMIT's) or, once queued, the request's status.
	 * io_uring answers some SQEs itself, before the driver, as the VFS
	 * does some calls: EINVAL for uring_cmd_flags other than
	 * IORING_URING_CMD_FIXED, EFAULT for IORING_URING_CMD_FIXED with a
	 * buf_index no registered buffer has, ENOMEM for its own memory, and
	 * ECANCELED for an SQE it was to issue from a worker thread
	 * (IOSQE_ASYNC) when it could not start one. The fuzzer expects each
	 * only of the SQEs that can have it.
	 */
	[FC_URING_SUBMIT] = { "uring_submit",
			      { EINVAL, EFAULT, EAGAIN, ENOMEM, ENODEV,
				EOVERFLOW, ECANCELED, ETIMEDOUT, EIO } },
	/* KCANCEL_IOC_CANCEL's outcomes, and io_uring's own. */
	[FC_URING_CANCEL] = { "uring_cancel",
			      { EALREADY, ENOENT, EINVAL, EFAULT, ENOMEM,
				ECANCELED } },
	/* "Any other cmd_op", and io_uring's own. */
	[FC_URING_BAD_CMD] = { "uring_bad_cmd",
			       { EOPNOTSUPP, EINVAL, EFAULT, ENOMEM,
				 ECANCELED } },
};

/*
 * The statuses of the header's top comment, besides 0. Not -EFAULT: a DMA
 * from the device pins its buffer at submit, so a buffer that cannot be
 * written fails the submit instead.
 */
static const int event_statuses[] = {
	ECANCELED, ETIMEDOUT, ENODEV, EIO,
};

/**
 * call_documents() - does the ABI document @err for @call?
 * @call: the call.
 * @err: a positive errno.
 *
 * Return: true if include/uapi/linux/kcancel.h lists it for @call.
 */
bool call_documents(enum fuzz_call call, int err)
{
	const int *e;

	for (e = call_docs[call].errnos; *e; e++)
		if (*e == err)
			return true;
	return false;
}

/**
 * status_documented() - is @status one an event may have?
 * @status: the event's status, 0 or a negative errno.
 *
 * Return: true if the header documents it, for any operation.
 */
bool status_documented(int status)
{
	size_t i;

	if (!status)
		return true;
	for (i = 0; i < ARRAY_SIZE(event_statuses); i++)
		if (status == -event_statuses[i])
			return true;
	return false;
}

const char *call_name(enum fuzz_call call)
{
	return call_docs[call].name;
}

/*
 * The slot of an outcome in &fuzz_stats.res: 0 for success, the errno up to
 * 133, the kernel's internal errnos (512-539: ERESTARTSYS and friends, which
 * must never reach user space) next, anything else last.
 */
unsigned int err_slot(int err)
{
	if (err >= 0 && err < 134)
		return err;
	if (err >= 512 && err < 512 + FUZZ_ERR_OTHER - 134)
		return 134 + err - 512;
	return FUZZ_ERR_OTHER;
}

int slot_errno(unsigned int slot)
{
	if (slot < 134)
		return slot;
	if (slot < FUZZ_ERR_OTHER)
		return slot - 134 + 512;
	return -1;
}

/* The kernel's internal errnos, include/linux/errno.h. */
static const char *const kernel_errnos[] = {
	[0] = "ERESTARTSYS", [1] = "ERESTARTNOINTR", [2] = "ERESTARTNOHAND",
	[3] = "ENOIOCTLCMD", [4] = "ERESTART_RESTARTBLOCK",
	[5] = "EPROBE_DEFER", [6] = "EOPENSTALE", [7] = "ENOPARAM",
	[9] = "EBADHANDLE", [10] = "ENOTSYNC", [11] = "EBADCOOKIE",
	[12] = "ENOTSUPP", [13] = "ETOOSMALL", [14] = "ESERVERFAULT",
	[15] = "EBADTYPE", [16] = "EJUKEBOX", [17] = "EIOCBQUEUED",
	[18] = "ERECALLCONFLICT", [19] = "ENOGRACE",
};

/**
 * err_name() - the symbolic name of an errno
 * @err: a positive errno, or 0.
 * @buf: room for a name made up.
 * @size: its size.
 *
 * Return: "ok" for 0, "EINVAL" and the like, else "E<number>".
 */
const char *err_name(int err, char *buf, size_t size)
{
	const char *name = NULL;

	if (!err)
		return "ok";
	if (err < 512)
		name = strerrorname_np(err);
	else if (err - 512 < (int)ARRAY_SIZE(kernel_errnos))
		name = kernel_errnos[err - 512];
	if (name)
		return name;
	snprintf(buf, size, "E%d", err);
	return buf;
}

const char *slot_name(unsigned int slot, char *buf, size_t size)
{
	if (slot == FUZZ_ERR_OTHER)
		return "other";
	return err_name(slot_errno(slot), buf, size);
}

void stats_merge(struct fuzz_stats *dst, const struct fuzz_stats *src)
{
	const u64 *s = (const u64 *)src;
	u64 *d = (u64 *)dst;
	size_t i;

	/* All counters, nothing else. */
	for (i = 0; i < sizeof(*src) / sizeof(u64); i++)
		d[i] += s[i];
}
