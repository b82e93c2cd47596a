/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kcancel character device ABI: /dev/kcancelN.
 *
 * Each open file is a private context: the ids it submits belong to it (no
 * other file can wait for or cancel them), its completion events are read
 * from it, and closing it cancels its requests and waits for them.
 *
 * Every request submitted with KCANCEL_IOC_SUBMIT or KCANCEL_IOC_BATCH
 * yields exactly one completion event, read with read() (or consumed by
 * KCANCEL_IOC_WAIT or KCANCEL_IOC_BATCH); one submitted through io_uring
 * (KCANCEL_URING_CMD_SUBMIT, at the end of this file) yields exactly one
 * CQE instead. The status is one of:
 *
 *   0           the operation ran to completion; result is valid
 *   -ECANCELED  cancelled by KCANCEL_IOC_CANCEL, KCANCEL_URING_CMD_CANCEL,
 *               close(), or the end of its io_uring ring, before it finished
 *   -ETIMEDOUT  its timeout_ns expired before it finished
 *   -ENODEV     the device was removed
 *   -EIO        the device could not run it, or stopped answering: an
 *               operation did not end within the device's time limit, and
 *               the device then takes no new request (ENODEV)
 *
 * A request cancelled while it is in the hardware still ends with its
 * interrupt (the edu device cannot abort); it completes -ECANCELED then.
 *
 * Memory: a request reads and writes only the memory of the task that
 * submitted it. A KCANCEL_OP_DMA_TO_DEV buffer is copied at submit; a
 * KCANCEL_OP_DMA_FROM_DEV buffer is pinned at submit, in the submitter's
 * address space, and the data lands there when the request completes,
 * before its event can be read. read() and KCANCEL_IOC_WAIT write only the
 * event records to their own buffer: a file shared with another process
 * (fork(), SCM_RIGHTS) reaps events without touching either one's data.
 *
 * All structures have fixed-width fields; pointers travel as __u64; reserved
 * fields and unknown flags must be zero (else EINVAL), so that they can be
 * given a meaning later.
 *
 * The errnos each call fails with are listed with it below, and the driver
 * returns no other (the VFS has its own, EBADF for a closed descriptor for
 * one). open() fails with ENOMEM (no memory for the file) or ENODEV (the
 * device was removed); close() does not fail.
 */
#ifndef _UAPI_LINUX_KCANCEL_H
#define _UAPI_LINUX_KCANCEL_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Bumped when the ABI gains something; KCANCEL_IOC_INFO reports it. */
#define KCANCEL_ABI_VERSION	3

/**
 * enum kcancel_op - the operations a device runs
 * @KCANCEL_OP_FACTORIAL: compute arg! for arg <= %KCANCEL_FACTORIAL_MAX; the
 *	event's result is the factorial.
 * @KCANCEL_OP_DMA_TO_DEV: copy len bytes from buf (read at submit) to the
 *	device's memory at offset. The result is len.
 * @KCANCEL_OP_DMA_FROM_DEV: copy len bytes of the device's memory at offset
 *	to buf, which is pinned at submit in the submitter's address space;
 *	the data is there when the request completes with status 0 (buf is
 *	not written otherwise). The result is len.
 * @KCANCEL_OP_DOORBELL: ring one of the device's doorbells and complete when
 *	it interrupts; the result is arg, unchanged. Up to info.doorbells run
 *	at once: the fast path.
 */
enum kcancel_op {
	KCANCEL_OP_FACTORIAL = 1,
	KCANCEL_OP_DMA_TO_DEV = 2,
	KCANCEL_OP_DMA_FROM_DEV = 3,
	KCANCEL_OP_DOORBELL = 4,
};

#define KCANCEL_OP_MAX		KCANCEL_OP_DOORBELL
/* 13! does not fit the edu device's 32-bit result. */
#define KCANCEL_FACTORIAL_MAX	12
/* The most device memory DMA reaches, in bytes; info.dma_size is exact. */
#define KCANCEL_DMA_SIZE	4096

/**
 * struct kcancel_submit - one request
 * @op: an &enum kcancel_op.
 * @flags: must be 0.
 * @tag: the caller's value, returned in the completion event.
 * @arg: %KCANCEL_OP_FACTORIAL: n; %KCANCEL_OP_DOORBELL: any value, returned
 *	as the result; otherwise must be 0.
 * @buf: DMA operations: the user buffer, as a __u64; otherwise must be 0.
 *	A DMA_TO_DEV buffer that cannot be read, or a DMA_FROM_DEV buffer that
 *	cannot be written, fails the submit with EFAULT.
 * @len: DMA operations: 1 to info.dma_size bytes; otherwise must be 0.
 * @offset: DMA operations: where in the device memory; @offset + @len must
 *	not exceed info.dma_size; otherwise must be 0.
 * @timeout_ns: 0 for none, else the request completes -ETIMEDOUT if it has
 *	not finished after this many nanoseconds (at most 2^63 - 1).
 * @id: out: the request's id, unique on its device, never reused and never
 *	0, larger than the ids of the device's earlier submits; written
 *	before the request is queued, and set back to 0 if the submit then
 *	fails.
 * @reserved: must be 0.
 */
struct kcancel_submit {
	__u32 op;
	__u32 flags;
	__u64 tag;
	__u64 arg;
	__u64 buf;
	__u32 len;
	__u32 offset;
	__u64 timeout_ns;
	__u64 id;
	__u64 reserved[2];
};

/**
 * struct kcancel_event - one completion
 * @id: the request's id.
 * @tag: the tag it was submitted with.
 * @result: the operation's result (see &enum kcancel_op); 0 unless @status
 *	is 0.
 * @status: 0 or a negative errno, see the top of this file.
 * @op: the request's &enum kcancel_op.
 */
struct kcancel_event {
	__u64 id;
	__u64 tag;
	__u64 result;
	__s32 status;
	__u32 op;
};

/**
 * struct kcancel_submit_wait - a request and its completion
 * @req: the request; @req.id is set as for KCANCEL_IOC_SUBMIT.
 * @done: out: its completion. It produces no event for read(), unless done
 *	cannot be written back (see KCANCEL_IOC_SUBMIT_WAIT).
 */
struct kcancel_submit_wait {
	struct kcancel_submit req;
	struct kcancel_event done;
};

/**
 * struct kcancel_cancel - cancel a request by id, or by io_uring user_data
 * @id: the id KCANCEL_IOC_SUBMIT returned on this file; with
 *	%KCANCEL_CANCEL_USER_DATA, the user_data of a KCANCEL_URING_CMD_SUBMIT
 *	SQE on this file.
 * @flags: 0 or %KCANCEL_CANCEL_USER_DATA.
 * @reserved: must be 0.
 */
struct kcancel_cancel {
	__u64 id;
	__u32 flags;
	__u32 reserved;
};

/**
 * struct kcancel_wait - wait for one request
 * @id: the id KCANCEL_IOC_SUBMIT returned on this file.
 * @timeout_ns: how long to wait; 0 only looks; %KCANCEL_WAIT_FOREVER waits
 *	until the request completes.
 * @done: out: its completion, consumed: read() will not return it.
 */
struct kcancel_wait {
	__u64 id;
	__u64 timeout_ns;
	struct kcancel_event done;
};

/*
 * Cancel the oldest request submitted on this file through io_uring with
 * this user_data that has not completed yet.
 */
#define KCANCEL_CANCEL_USER_DATA	(1U << 0)

#define KCANCEL_WAIT_FOREVER	(~(__u64)0)

/**
 * struct kcancel_batch - submit many requests and reap many events, in one call
 * @submits: an array of @nr_submits &struct kcancel_submit, as a __u64.
 *	Each is submitted in order as KCANCEL_IOC_SUBMIT submits it: its id is
 *	written to its own id field before it is queued, and set back to 0 if
 *	it then fails. Ids are never 0, so a caller that zeroes the ids first
 *	can tell the queued entries by them, even when @submitted cannot be
 *	written back.
 * @events: an array of @max_events &struct kcancel_event, as a __u64: the
 *	reaped events, oldest completion first, as read() returns them.
 * @nr_submits: how many requests to submit, at most %KCANCEL_BATCH_MAX.
 * @max_events: how many events to reap at most, at most %KCANCEL_BATCH_MAX;
 *	0 reaps none.
 * @min_events: wait until at least this many events are reaped (at most
 *	@max_events), or @timeout_ns passes, or the device is gone; 0 waits for
 *	nothing. No wait happens if a submit failed.
 * @flags: must be 0.
 * @timeout_ns: the longest wait for @min_events, any value;
 *	%KCANCEL_WAIT_FOREVER for no limit. O_NONBLOCK does not apply: these
 *	fields say how long the call waits.
 * @submitted: out: how many requests were queued, the first @submitted of
 *	@submits; each yields exactly one event, reaped by this call or later.
 * @error: out: 0 if all @nr_submits were queued, else the negative errno
 *	(as KCANCEL_IOC_SUBMIT returns it) of entry @submitted, which was not
 *	queued, nor any after it. EFAULT when the entry cannot be read.
 * @reserved: must be 0.
 */
struct kcancel_batch {
	__u64 submits;
	__u64 events;
	__u32 nr_submits;
	__u32 max_events;
	__u32 min_events;
	__u32 flags;
	__u64 timeout_ns;
	__u32 submitted;
	__s32 error;
	__u64 reserved[2];
};

/* The most entries KCANCEL_IOC_BATCH submits, and events it reaps, at once. */
#define KCANCEL_BATCH_MAX	4096

/**
 * enum kcancel_backend - what serves a device's requests
 * @KCANCEL_BACKEND_EDU: the QEMU edu PCI device.
 * @KCANCEL_BACKEND_SIM: the software device (module parameter sim_devices).
 */
enum kcancel_backend {
	KCANCEL_BACKEND_EDU = 1,
	KCANCEL_BACKEND_SIM = 2,
};

/**
 * struct kcancel_info - what a device is
 * @abi_version: %KCANCEL_ABI_VERSION of the module.
 * @backend: an &enum kcancel_backend.
 * @doorbells: how many doorbell requests run at once.
 * @dma_size: how much of the device memory DMA reaches, in bytes:
 *	%KCANCEL_DMA_SIZE, or one byte less on QEMU's edu device (see edu.c).
 * @max_pending: how many requests one file may have submitted and not yet
 *	reaped; a submit beyond gets EAGAIN.
 * @features: %KCANCEL_FEATURE_* bits: what this module offers.
 * @reserved: 0.
 */
struct kcancel_info {
	__u32 abi_version;
	__u32 backend;
	__u32 doorbells;
	__u32 dma_size;
	__u32 max_pending;
	__u32 features;
	__u32 reserved[10];
};

/*
 * The io_uring commands at the end of this file: the module was built for a
 * kernel with cancelable io_uring commands (6.7 on) and io_uring. Without
 * it, io_uring fails the commands with EOPNOTSUPP.
 */
#define KCANCEL_FEATURE_URING_CMD	(1U << 0)

#define KCANCEL_IOC_MAGIC	0xC4

/*
 * KCANCEL_IOC_SUBMIT: write the request's id back, then queue the request.
 * On any error nothing was queued and no event will come.
 *   EINVAL  bad op, flags, reserved field, arg, buf, len, offset or
 *           timeout_ns (see struct kcancel_submit)
 *   EFAULT  the structure or a DMA_TO_DEV buffer cannot be read, a
 *           DMA_FROM_DEV buffer cannot be written, or the id cannot be
 *           written back
 *   EAGAIN  max_pending requests of this file are not reaped yet
 *   ENOMEM  no memory for the request (charged to the caller's memory
 *           cgroup)
 *   ENODEV  the device was removed, or stopped answering
 *   EOVERFLOW  the device has given out all its ids (2^44 submits since
 *           it was added): reload the module
 */
#define KCANCEL_IOC_SUBMIT	_IOWR(KCANCEL_IOC_MAGIC, 1, struct kcancel_submit)

/*
 * KCANCEL_IOC_SUBMIT_WAIT: submit (req.id is written back first, as for
 * KCANCEL_IOC_SUBMIT), then wait for the completion and write it to done.
 * Errors of KCANCEL_IOC_SUBMIT, and:
 *   EINTR   a signal arrived while waiting: the request was cancelled and has
 *           completed; done is written (usually with -ECANCELED). Task
 *           work (io_uring's completions, for one) is not a signal: it
 *           does not end the wait. On a fatal
 *           signal the call returns without waiting: the request completes
 *           on its own, leaves no event, and stops counting against
 *           max_pending once it has completed.
 *   EFAULT  also when done cannot be written back: the request has run, and
 *           its completion becomes an event for read() and KCANCEL_IOC_WAIT,
 *           as if it had been submitted with KCANCEL_IOC_SUBMIT
 */
#define KCANCEL_IOC_SUBMIT_WAIT	_IOWR(KCANCEL_IOC_MAGIC, 2, struct kcancel_submit_wait)

/*
 * KCANCEL_IOC_CANCEL: cancel a request of this file.
 *   0         this call cancelled it: its event will have status -ECANCELED
 *   EALREADY  it had completed already, or an earlier cancel or its timeout
 *             got there first: its event tells how it ended
 *   ENOENT    no such id on this file, or its event was reaped; with
 *             KCANCEL_CANCEL_USER_DATA, no io_uring request of this file
 *             with that user_data is still running
 *   EINVAL    an unknown flag, or reserved not 0
 *   EFAULT    the structure cannot be read
 */
#define KCANCEL_IOC_CANCEL	_IOW(KCANCEL_IOC_MAGIC, 3, struct kcancel_cancel)

/*
 * KCANCEL_IOC_WAIT: wait for a request of this file and consume its event.
 *   ETIMEDOUT  not completed within timeout_ns (nothing is cancelled)
 *   EINTR      a signal arrived (nothing is cancelled)
 *   ENOENT     no such id on this file, or its event was reaped (by read()
 *              or another wait)
 *   EINVAL     id of a KCANCEL_IOC_SUBMIT_WAIT or io_uring request
 *   EFAULT     the structure cannot be read, or cannot be written back: the
 *              event then stays, for read() or another wait
 */
#define KCANCEL_IOC_WAIT	_IOWR(KCANCEL_IOC_MAGIC, 4, struct kcancel_wait)

/*
 * KCANCEL_IOC_INFO: describe the device.
 *   EFAULT  the structure cannot be written
 */
#define KCANCEL_IOC_INFO	_IOR(KCANCEL_IOC_MAGIC, 5, struct kcancel_info)

/*
 * KCANCEL_IOC_BATCH: submit nr_submits requests, write submitted and error
 * back, then reap up to max_events events into events, waiting as
 * min_events and timeout_ns say. Returns the number of events reaped
 * (fewer than min_events when the wait timed out, or a signal arrived after
 * some were reaped, or the device is gone: poll() then says EPOLLHUP and
 * read() returns 0). A failed submit stops the
 * submits (error tells why) but not the call: it then reaps what is ready
 * without waiting. The call itself fails only with:
 *   EINVAL  flags or reserved not 0, nr_submits or max_events above
 *           KCANCEL_BATCH_MAX, or min_events above max_events: nothing was
 *           submitted nor reaped
 *   EFAULT  the structure cannot be read (nothing done), or submitted and
 *           error cannot be written back (the queued requests stand, each
 *           with its id written; nothing was reaped), or not even the first
 *           ready event can be written to events (it stays, for a later
 *           reap)
 *   EINTR   a signal arrived while waiting and no event was reaped; the
 *           submits stand, as submitted says
 */
#define KCANCEL_IOC_BATCH	_IOWR(KCANCEL_IOC_MAGIC, 6, struct kcancel_batch)

/*
 * Any other ioctl command, these numbers with another size or direction
 * included, fails with ENOTTY.
 */

/*
 * io_uring commands: IORING_OP_URING_CMD with sqe->cmd_op one of these, the
 * payload in sqe->cmd, and sqe->uring_cmd_flags 0 (no fixed buffers: else
 * EINVAL). Only with KCANCEL_FEATURE_URING_CMD (see struct kcancel_info).
 * io_uring answers some SQEs itself, before the driver sees them, as the
 * VFS does for calls: EINVAL for flags it does not know, EFAULT for
 * IORING_URING_CMD_FIXED without a registered buffer at buf_index, ENOMEM,
 * and ECANCELED for an IOSQE_ASYNC command whose worker could not start.
 *
 * KCANCEL_URING_CMD_SUBMIT: submit the struct kcancel_submit in sqe->cmd,
 * which takes a ring set up with IORING_SETUP_SQE128. Its id field must be
 * 0: the id is not reported; the request is cancelled by its user_data
 * (KCANCEL_CANCEL_USER_DATA). Its CQE, exactly one, carries user_data, res
 * = the status (0 or a negative errno, see the top of this file) and, on a
 * ring set up with IORING_SETUP_CQE32 too, big_cqe[0] = the result. A DMA
 * from the device has its data in place when the CQE is posted. The
 * request gives no event to read() or KCANCEL_IOC_WAIT, counts against
 * max_pending until its CQE is posted, and keeps the file open meanwhile:
 * close() does not cancel it. When its ring goes (the last ring descriptor
 * closed, exec(), the task's exit) the request is cancelled, and its CQE,
 * if it is still posted, says -ECANCELED at once, even while the device
 * still holds the operation: the device finishes it later, the result is
 * dropped (a DMA from the device leaves the buffer unwritten), and it
 * counts against max_pending until then. A submit that fails posts its
 * CQE at once, in the submit call, res =
 *   EINVAL  not an SQE128 ring, uring_cmd_flags or id not 0, or the errors
 *           of KCANCEL_IOC_SUBMIT
 *   and the other errors of KCANCEL_IOC_SUBMIT (EFAULT: a buffer; EAGAIN:
 *   max_pending; ENOMEM; ENODEV).
 *
 * io_uring before 6.15 reads sqe->cmd when it issues the command, which
 * for a command held back by IOSQE_IO_LINK or IOSQE_IO_DRAIN may be after
 * the application has reused the SQE: do not link or drain these commands
 * there.
 *
 * KCANCEL_IOC_CANCEL by id cancels an io_uring request as any other of
 * the file, for a caller that knows its id; KCANCEL_IOC_WAIT refuses it.
 *
 * KCANCEL_URING_CMD_CANCEL: as KCANCEL_IOC_CANCEL, the struct kcancel_cancel
 * in sqe->cmd (any ring: it fits a 64-byte SQE); its CQE's res is what
 * KCANCEL_IOC_CANCEL returns (0, -EALREADY, -ENOENT, -EINVAL). io_uring's
 * own IORING_OP_ASYNC_CANCEL does not reach a request in the driver.
 *
 * Any other cmd_op fails with EOPNOTSUPP.
 */
#define KCANCEL_URING_CMD_SUBMIT _IOWR(KCANCEL_IOC_MAGIC, 0x80, struct kcancel_submit)
#define KCANCEL_URING_CMD_CANCEL _IOW(KCANCEL_IOC_MAGIC, 0x81, struct kcancel_cancel)

/*
 * read(): whole struct kcancel_event records, oldest completion first, as
 * many as fit in count; blocks until one is there unless O_NONBLOCK. It
 * returns 0 (end of file) once the device is gone and this file has nothing
 * left to read or wait for.
 *   EINVAL  count is smaller than one record
 *   EAGAIN  O_NONBLOCK, and no event is ready
 *   EINTR   a signal arrived while it waited
 *   EFAULT  not even the first record can be written to the buffer; the
 *           records not written stay for the next read
 *
 * poll(): EPOLLIN when an event is ready; EPOLLHUP once the device is gone
 * and this file has nothing left to read or wait for. It fails only as
 * poll(2) does (EINTR).
 */

#endif /* _UAPI_LINUX_KCANCEL_H */
