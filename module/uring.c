// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel io_uring commands: KCANCEL_URING_CMD_SUBMIT and _CANCEL on
 * /dev/kcancelN (file_operations.uring_cmd), for kernels whose io_uring
 * commands can be cancelled (6.7 on).
 *
 * DOC: One CQE, whoever ends the request
 *
 * A submitted command becomes a request of the file, like one of
 * KCANCEL_IOC_SUBMIT, with &kc_file_io.ucmd pointing back to the command.
 * Two parties may post its CQE, and the first to take &kc_file_io.ucmd,
 * under the file's table lock, is the one that does:
 *
 * - the request's completion (any context: IRQ, DPC thread, timer), which
 *   hands the command to task work (kc_uring_complete()); the task work
 *   posts the request's status and result;
 * - the ring's cancel (%IO_URING_F_CANCEL: the last ring descriptor closed,
 *   exec(), the task's exit), which cancels the request through the
 *   device's cancel routine and then, if the completion has not taken the
 *   command, posts -ECANCELED at once. io_uring calls it again and again
 *   until the command is gone, so it cannot wait for the device: the
 *   request is left an orphan, which the device ends later (an edu
 *   operation keeps its slot until its interrupt) and which then leaves the
 *   file without an event.
 *
 * The cancel never posts a command whose task work is queued: the task work
 * and the cancel both run under the ring's lock, and the completion took
 * the command first. Nothing else in kcancel calls io_uring_cmd_done().
 *
 * The command holds a reference to the file while it is in flight, so
 * close() cannot run meanwhile; KCANCEL_IOC_CANCEL, KCANCEL_URING_CMD_CANCEL
 * (by user_data), timeouts and removal end the request through its
 * completion, like any other.
 */
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/io_uring/cmd.h>
#include <linux/string.h>

#include "file.h"
#include "trace.h"

/* What a command keeps in its &io_uring_cmd.pdu. */
struct kc_uring_pdu {
	struct kc_file_io *fio;
};

static struct kc_file_io *kc_uring_fio(struct io_uring_cmd *cmd)
{
	return io_uring_cmd_to_pdu(cmd, struct kc_uring_pdu)->fio;
}

/**
 * kc_uring_task_done() - task work of a completed request
 * @cmd: the command, which the completion took.
 * @issue_flags: io_uring's IO_URING_F_* flags for this call.
 *
 * Takes the request out of its file, then posts its CQE. The file stays open
 * until the CQE is posted (the command holds it). No user memory is touched
 * here: the data of a DMA from the device is in the pinned pages already, so
 * a dead task (IO_URING_F_TASK_DEAD) changes nothing.
 *
 * Context: process context, io_uring task work, under the ring's lock.
 */
static void kc_uring_task_done(struct io_uring_cmd *cmd,
			       unsigned int issue_flags)
{
	struct kc_file_io *fio = kc_uring_fio(cmd);
	int status = fio->io.req.status;
	u64 result = fio->io.req.result;

	kc_file_forget(fio->f, fio);
	io_uring_cmd_done(cmd, status, result, issue_flags);
}

/**
 * kc_uring_complete() - post the CQE of a completed io_uring request
 * @cmd: the command, taken from &kc_file_io.ucmd by the completion.
 *
 * Context: any context (task work does the rest).
 */
void kc_uring_complete(struct io_uring_cmd *cmd)
{
	io_uring_cmd_complete_in_task(cmd, kc_uring_task_done);
}

/**
 * kc_uring_cancel() - IO_URING_F_CANCEL: the ring is going
 * @cmd: the command.
 * @issue_flags: io_uring's IO_URING_F_* flags for this call.
 *
 * Cancels the request; posts -ECANCELED now unless its completion took the
 * command first (its task work posts the CQE, under the ring's lock, which
 * this call holds too).
 *
 * Context: process context, the ring's lock held; does not wait for the
 * device.
 * Return: 0.
 */
static int kc_uring_cancel(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct kc_file_io *fio = kc_uring_fio(cmd);
	struct kc_file *f = fio->f;
	bool mine;

	/*
	 * io_uring calls again until the task work has posted the CQE:
	 * once the completion has taken the command, there is nothing to do.
	 */
	if (READ_ONCE(fio->ucmd) != cmd)
		return 0;
	/* The table's reference holds until the CQE is posted. */
	kc_file_cancel(f, fio, KC_FILE_CANCEL_RING);
	xa_lock_irq(&f->ios);
	mine = fio->ucmd == cmd;
	if (mine) {
		WRITE_ONCE(fio->ucmd, NULL);
		fio->orphan = true;
	}
	xa_unlock_irq(&f->ios);
	/* @fio may be gone now: an orphan leaves as it completes. */
	if (mine)
		io_uring_cmd_done(cmd, -ECANCELED, 0, issue_flags);
	return 0;
}

/**
 * kc_uring_submit() - KCANCEL_URING_CMD_SUBMIT
 * @cmd: the command; a 128-byte SQE carries its &struct kcancel_submit.
 * @issue_flags: io_uring's IO_URING_F_* flags for this call.
 *
 * The payload is copied once from the SQE, which user space shares, and not
 * read again (io_uring of 6.12 hands a linked or drained command the SQ
 * ring's slot itself, read only now: see the ABI).
 *
 * Context: process context. The submit may sleep (allocation, pinning):
 * with IO_URING_F_NONBLOCK that only delays this ring's next SQEs, as a
 * mutex in another driver's command would.
 * Return: -EIOCBQUEUED once queued, whose CQE comes later, or when
 * max_pending is reached (its CQE, -EAGAIN, is posted here); -EINVAL for a
 * 64-byte SQE, a fixed command or an id set; or another negative errno of
 * KCANCEL_IOC_SUBMIT.
 */
static int kc_uring_submit(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct kc_file *f = cmd->file->private_data;
	struct kcancel_submit s;
	struct kc_file_io *fio;

	/* The other bits of @cmd->flags are io_uring's own. */
	if (!(issue_flags & IO_URING_F_SQE128) ||
	    (cmd->flags & IORING_URING_CMD_FIXED))
		return -EINVAL;
	memcpy(&s, io_uring_sqe_cmd(cmd->sqe), sizeof(s));
	if (s.id)
		return -EINVAL;
	fio = kc_file_prepare(f, &s, NULL, KC_FILE_URING);
	if (PTR_ERR_OR_ZERO(fio) == -EAGAIN) {
		/*
		 * max_pending. Returned, -EAGAIN would have io_uring issue the
		 * command again from a worker, which on 6.12 reads the SQ
		 * ring's slot, reused by then: answer it here instead.
		 */
		io_uring_cmd_done(cmd, -EAGAIN, 0, issue_flags);
		return -EIOCBQUEUED;
	}
	if (IS_ERR(fio))
		return PTR_ERR(fio);
	fio->ucmd = cmd;
	/* io_uring's own copy: the one its CQE will carry. */
	fio->tag = cmd_to_io_kiocb(cmd)->cqe.user_data;
	io_uring_cmd_to_pdu(cmd, struct kc_uring_pdu)->fio = fio;
	/* Before the completion can see the command: it may post at once. */
	io_uring_cmd_mark_cancelable(cmd, issue_flags);
	kc_file_queue(f, fio, s.timeout_ns);
	return -EIOCBQUEUED;
}

/**
 * kc_uring_cancel_cmd() - KCANCEL_URING_CMD_CANCEL
 * @cmd: the command; its &struct kcancel_cancel fits a 64-byte SQE.
 *
 * As KCANCEL_IOC_CANCEL.
 *
 * Context: process context.
 * Return: as kc_file_cancel_by(), or -EINVAL for a fixed command.
 */
static int kc_uring_cancel_cmd(struct io_uring_cmd *cmd)
{
	struct kcancel_cancel c;

	BUILD_BUG_ON(sizeof(c) > sizeof(struct io_uring_sqe) -
				 offsetof(struct io_uring_sqe, cmd));
	if (cmd->flags & IORING_URING_CMD_FIXED)
		return -EINVAL;
	memcpy(&c, io_uring_sqe_cmd(cmd->sqe), sizeof(c));
	return kc_file_cancel_by(cmd->file->private_data, &c,
				 KC_FILE_CANCEL_URING_CMD);
}

/**
 * kc_uring_cmd() - the &file_operations.uring_cmd of /dev/kcancelN
 * @cmd: the command.
 * @issue_flags: io_uring's IO_URING_F_* flags for this call.
 *
 * Context: process context (the submitter, an io_uring worker or, for
 * %IO_URING_F_CANCEL, whoever tears the ring down), the ring's lock held
 * unless %IO_URING_F_UNLOCKED.
 * Return: -EIOCBQUEUED for a queued submit, whose CQE comes later; else
 * the result of the command's CQE: 0 or a negative errno (see the ABI).
 */
int kc_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	if (issue_flags & IO_URING_F_CANCEL)
		return kc_uring_cancel(cmd, issue_flags);
	switch (cmd->cmd_op) {
	case KCANCEL_URING_CMD_SUBMIT:
		return kc_uring_submit(cmd, issue_flags);
	case KCANCEL_URING_CMD_CANCEL:
		return kc_uring_cancel_cmd(cmd);
	default:
		return -EOPNOTSUPP;
	}
}
