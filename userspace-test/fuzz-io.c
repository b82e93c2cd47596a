// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-fuzz: read(), poll(), open() and close() of the device, the
 * drain that checks that every request of a file yields its event, and
 * the io_uring commands (at the end, see there).
 *
 * read() must return whole records, no more than fit in the buffer before
 * its guard page, never 0 while the device is there, EAGAIN only without
 * blocking and EINTR only with. poll() may report POLLIN and nothing else;
 * when the file is this process's alone, a read() right after a POLLIN must
 * find an event. Every event read is checked against its request
 * (fuzz-track.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <liburing.h>

#include "fuzz.h"

/* Events one read() asks for when it only wants to reap. */
#define READ_EVENTS	64
/* How long a drain waits for the events of the requests it cancelled. */
#define DRAIN_NS	(5 * NSEC_PER_SEC)

/*
 * The outcomes of a read() of @count bytes at @pl, as things are before it:
 * if another process holds the file, it may take the events or toggle
 * O_NONBLOCK while the read runs.
 */
static u32 read_expect(struct fuzz_proc *p, int file, const struct place *pl,
		       u64 count)
{
	const struct fuzz_file *f = &p->ar->files[file];
	u64 end = pl->addr + count;
	bool first_ok;
	u32 exp;

	/* vfs_read() checks the range with access_ok() first. */
	if (!ptr_user(pl->kind) || end < pl->addr || end >= USER_SURE_BAD)
		return EXP_EFAULT;
	if (count < sizeof(struct kcancel_event))
		exp = EXP_EINVAL;
	else if (end > USER_SURE_MAX)
		exp = EXP_EFAULT | EXP_EAGAIN | EXP_EINTR | EXP_OK;
	else
		exp = EXP_EAGAIN | EXP_EINTR;
	if (exp & EXP_EINVAL)
		return end > USER_SURE_MAX ? exp | EXP_EFAULT : exp;
	first_ok = ptr_writable(pl->kind) &&
		   pl->room >= sizeof(struct kcancel_event);
	if (pl->kind == FP_STRADDLE)
		first_ok = pl->room >= sizeof(struct kcancel_event);
	exp |= first_ok ? EXP_OK : EXP_EFAULT;
	/* Alone on the file, the fuzzer knows whether it blocks. */
	if (!file_shared(p, file))
		exp &= __atomic_load_n(&f->nonblock, __ATOMIC_RELAXED) ?
		       ~EXP_EINTR : ~EXP_EAGAIN;
	return exp;
}

/* Check and reap the @n events at @buf. */
static void reap_events(struct fuzz_proc *p, int file, const u8 *buf,
			size_t n)
{
	struct kcancel_event ev;

	for (; n; n--, buf += sizeof(ev)) {
		memcpy(&ev, buf, sizeof(ev));
		track_event(p, file, &ev, FR_READ);
	}
}

/*
 * read() @count bytes into the buffer @pl; @exp_only, if not 0, narrows the
 * outcomes expected. Returns the events read, or -1.
 */
static int do_read(struct fuzz_proc *p, int slot, u64 count,
		   const struct place *pl, u32 exp_only)
{
	int fd = fd_of(p, slot), file = file_of(p, slot), err = 0;
	size_t ev_size = sizeof(struct kcancel_event), room;
	char desc[DESC_LEN];
	const char *bad;
	ssize_t ret;
	u32 exp;

	exp = read_expect(p, file, pl, count);
	if (exp_only)
		exp &= exp_only;
	ret = read(fd, (void *)(uintptr_t)pl->addr, count);
	if (ret < 0)
		err = errno;
	bad = judge(p, FC_READ, err, exp);
	/* Whole records only, within count and what could be written. */
	room = pl->kind == FP_READONLY ? 0 : pl->room;
	if (!bad && ret >= 0 &&
	    (!ret || ret % ev_size || (u64)ret > count || (size_t)ret > room)) {
		p->st->wrong++;
		bad = ret ? "a partial record, or more than fits" :
			    "end of file while the device is there";
	}
	if (bad || p->cfg->verbose) {
		snprintf(desc, sizeof(desc),
			 "fd %d count %llu at %s (%#llx, room %zu) = %zd", fd,
			 count, ptr_names[pl->kind], pl->addr, room, ret);
		report(p, FC_READ, err, exp, bad, desc);
	}
	if (ret <= 0)
		return -1;
	if ((size_t)ret > room)
		ret = room;
	reap_events(p, file, pl->local, ret / ev_size);
	return ret / ev_size;
}

/* A read() that only reaps, into a valid buffer: draws no random number. */
static int reap_read(struct fuzz_proc *p, int slot, u32 exp_only)
{
	u64 count = READ_EVENTS * sizeof(struct kcancel_event);
	struct place pl;

	place(p, &pl, FP_VALID, p->zoo->arg, p->zoo->arg_guard, count);
	return do_read(p, slot, count, &pl, exp_only);
}

static const u64 read_counts[] = {
	0, 1, 23, 24, 25, 47, 48, 4095, 4096, 4097, 2147483648ULL,
	1ULL << 40, 0x7fffffffffffffffULL, ~0ULL,
};

/**
 * call_read() - read() with a size and a buffer near the edges
 * @p: the process.
 * @slot: the descriptor slot to use.
 * @idle: the read would block for long: only poll() and reap, the same
 *	random numbers drawn.
 */
void call_read(struct fuzz_proc *p, int slot, bool idle)
{
	struct place pl;
	u64 count;

	if (rnd_pct(p, 60))
		count = sizeof(struct kcancel_event) * (1 + rnd_below(p, 64)) +
			(rnd_pct(p, 20) ? rnd_below(p, 24) : 0);
	else
		count = read_counts[rnd_below(p, ARRAY_SIZE(read_counts))];
	place(p, &pl, pick_ptr(p), p->zoo->arg, p->zoo->arg_guard, count);
	if (idle)
		read_events(p, slot, 0);
	else
		do_read(p, slot, count, &pl, 0);
}

/**
 * read_events() - reap what is ready: poll(), then read() if readable
 * @p: the process.
 * @slot: the descriptor slot to use.
 * @timeout_ms: poll()'s timeout.
 *
 * Return: the events read, 0 if none was ready, -1 on an error.
 */
int read_events(struct fuzz_proc *p, int slot, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd_of(p, slot), .events = POLLIN };
	bool shared = file_shared(p, file_of(p, slot));
	int n, err = 0;
	const char *bad;
	char desc[64];

	n = poll(&pfd, 1, timeout_ms);
	if (n < 0)
		err = errno;
	bad = judge(p, FC_POLL, err, EXP_OK | EXP_EINTR);
	if (bad || p->cfg->verbose) {
		snprintf(desc, sizeof(desc), "fd %d timeout %d ms = %#x",
			 pfd.fd, timeout_ms, n > 0 ? pfd.revents : 0);
		report(p, FC_POLL, err, EXP_OK | EXP_EINTR, bad, desc);
	}
	if (n <= 0 || !(pfd.revents & POLLIN))
		return err ? -1 : 0;
	/* Another process may take the events first. */
	return reap_read(p, slot, shared ? 0 : EXP_OK);
}

/**
 * call_poll() - poll(), checked: only POLLIN (and POLLRDNORM) while the
 * device is there, and when the file is this process's alone, a read()
 * right after a POLLIN must find an event
 * @p: the process.
 * @slot: the descriptor slot to use.
 */
void call_poll(struct fuzz_proc *p, int slot)
{
	static const short evs[] = { POLLIN, POLLIN | POLLRDNORM, POLLOUT,
				     POLLIN | POLLOUT | POLLPRI, 0 };
	struct pollfd pfd = { .fd = fd_of(p, slot) };
	int n, err = 0, timeout_ms, file = file_of(p, slot);
	u64 r = rnd_below(p, 100);
	bool shared = file_shared(p, file);
	char desc[DESC_LEN];
	const char *bad;
	u32 exp;

	pfd.events = evs[rnd_below(p, ARRAY_SIZE(evs))];
	timeout_ms = r < 85 ? 0 : r < 98 ? 1 : -1;
	n = poll(&pfd, 1, timeout_ms);
	if (n < 0)
		err = errno;
	/* Even with no timeout: a signal pending and nothing ready. */
	exp = EXP_OK | EXP_EINTR;
	bad = judge(p, FC_POLL, err, exp);
	if (!bad && n > 0 && (pfd.revents & ~(POLLIN | POLLRDNORM))) {
		p->st->wrong++;
		bad = "revents other than POLLIN|POLLRDNORM";
	}
	if (bad || p->cfg->verbose) {
		snprintf(desc, sizeof(desc),
			 "fd %d events %#x timeout %d ms = %d revents %#x",
			 pfd.fd, pfd.events, timeout_ms, n,
			 n > 0 ? pfd.revents : 0);
		report(p, FC_POLL, err, exp, bad, desc);
	}
	if (n > 0 && (pfd.revents & POLLIN) && !shared)
		reap_read(p, slot, EXP_OK);
}

/**
 * call_open() - open the device into an empty descriptor slot
 * @p: the process.
 * @slot: the slot.
 *
 * Return: 0, or -1 if the file could not be opened or tracked.
 */
int call_open(struct fuzz_proc *p, int slot)
{
	int flags = O_RDWR | O_CLOEXEC, fd, err = 0, file;
	char desc[DESC_LEN];
	const char *bad;

	file = file_alloc(p->ar);
	if (file < 0)
		return -1;
	/* Mostly non-blocking: see read_would_idle(). */
	if (rnd_pct(p, 85))
		flags |= O_NONBLOCK;
	fd = open(p->cfg->device, flags);
	if (fd < 0)
		err = errno;
	bad = judge(p, FC_OPEN, err, EXP_OK | EXP_ENOMEM);
	if (bad || p->cfg->verbose) {
		snprintf(desc, sizeof(desc), "%s flags %#x = %d",
			 p->cfg->device, flags, fd);
		report(p, FC_OPEN, err, EXP_OK | EXP_ENOMEM, bad, desc);
	}
	if (fd < 0) {
		file_put(p->ar, file);
		file_purge(p, file);
		return -1;
	}
	__atomic_store_n(&p->ar->files[file].nonblock, !!(flags & O_NONBLOCK),
			 __ATOMIC_RELAXED);
	p->fds[slot].fd = fd;
	p->fds[slot].file = file;
	return 0;
}

/**
 * call_close() - close a descriptor; the file's last one cancels and
 * drains its requests
 * @p: the process.
 * @slot: the slot.
 */
void call_close(struct fuzz_proc *p, int slot)
{
	int fd = fd_of(p, slot), file = file_of(p, slot), err = 0;
	char desc[DESC_LEN];
	const char *bad;

	if (close(fd))
		err = errno;
	p->fds[slot].fd = -1;
	bad = judge(p, FC_CLOSE, err, EXP_OK);
	if (bad || p->cfg->verbose) {
		snprintf(desc, sizeof(desc), "fd %d", fd);
		report(p, FC_CLOSE, err, EXP_OK, bad, desc);
	}
	if (file_put(p->ar, file))
		file_purge(p, file);
}

/* Cancel a live request of the file; returns the errno. */
static int cancel_live(struct fuzz_proc *p, int slot, u64 id, u64 tag)
{
	struct kcancel_cancel c = { .id = id };
	char desc[DESC_LEN];
	const char *bad;
	struct place pl;
	int err = 0;

	place_arg(p, &pl, FP_VALID, &c, sizeof(c));
	if (ioctl(fd_of(p, slot), KCANCEL_IOC_CANCEL, pl.addr))
		err = errno;
	bad = judge(p, FC_CANCEL, err, EXP_OK | EXP_EALREADY);
	if (!err)
		mark_cancel_won(p, tag);
	if (bad || p->cfg->verbose) {
		snprintf(desc, sizeof(desc), "fd %d id %llu (live, drain)",
			 fd_of(p, slot), id);
		report(p, FC_CANCEL, err, EXP_OK | EXP_EALREADY, bad, desc);
	}
	return err;
}

/* The requests of @serial with a known id (at most @max), for a drain. */
static size_t live_requests(struct fuzz_proc *p, u32 serial,
			    struct fuzz_known *k, size_t max)
{
	struct fuzz_arena *ar = p->ar;
	const struct fuzz_rec *r;
	size_t n = 0;
	unsigned int i;

	arena_lock(ar);
	for (i = 0; i < FUZZ_RECS && n < max; i++) {
		r = &ar->recs[i];
		if (r->tag && r->serial == serial && !(r->flags & REC_SYNC) &&
		    (r->flags & REC_ID_KNOWN)) {
			k[n].id = r->id;
			k[n].tag = r->tag;
			k[n++].serial = serial;
		}
	}
	arena_unlock(ar);
	return n;
}

/* Say which requests of @file a drain gave up on, and forget them. */
static void report_lost(struct fuzz_proc *p, int file)
{
	struct fuzz_arena *ar = p->ar;
	u32 serial = ar->files[file].serial;
	unsigned int i = 0, n = 0;
	struct fuzz_rec lost[4];
	struct fuzz_rec *r;

	arena_lock(ar);
	while (i < FUZZ_RECS) {
		r = &ar->recs[i];
		if (r->tag && r->serial == serial && !(r->flags & REC_SYNC)) {
			if (n < 4)
				lost[n++] = *r;
			ar->files[file].live--;
			rec_remove(ar, r);
			continue;
		}
		i++;
	}
	arena_unlock(ar);
	for (i = 0; i < n; i++)
		diag(p, "lost: no event for tag %#llx op %u id %llu%s flags %#x\n",
		     lost[i].tag, lost[i].op, lost[i].id,
		     lost[i].flags & REC_ID_KNOWN ? "" : " (unknown)",
		     lost[i].flags);
}

/**
 * drain_file() - cancel every request of a file this process alone holds,
 * and check that each then yields its event exactly once
 * @p: the process.
 * @slot: a descriptor slot of the file.
 */
void drain_file(struct fuzz_proc *p, int slot)
{
	int file = file_of(p, slot);
	struct fuzz_file *f = &p->ar->files[file];
	struct fuzz_known *k;
	u64 deadline;
	size_t i, n;

	if (file_shared(p, file) || !f->live)
		return;
	k = calloc(p->cfg->info.max_pending + 1, sizeof(*k));
	if (!k)
		return;
	p->st->drains++;
	n = live_requests(p, f->serial, k, p->cfg->info.max_pending + 1);
	for (i = 0; i < n; i++)
		cancel_live(p, slot, k[i].id, k[i].tag);
	free(k);
	/* The edu device finishes the DMA it has, 100 ms, then the rest. */
	deadline = now_ns() + DRAIN_NS;
	/* A SIGALRM may end a poll() or a read(): go on until the deadline. */
	while (__atomic_load_n(&f->live, __ATOMIC_RELAXED) > 0 &&
	       now_ns() < deadline)
		read_events(p, slot, 20);
	n = __atomic_load_n(&f->live, __ATOMIC_RELAXED);
	if (n) {
		p->st->lost += n;
		report_lost(p, file);
	}
}

/*
 * io_uring: KCANCEL_URING_CMD_SUBMIT and KCANCEL_URING_CMD_CANCEL, well
 * formed and not, and the cancels of io_uring requests by their user_data.
 *
 * Each process has up to %URING_RINGS rings of its own (a child closes
 * the copies it inherits and sets up its own): mostly SQE128|CQE32 ones,
 * where a submit fits and its CQE carries the result, else a plain ring
 * (64-byte SQEs: a submit gets EINVAL, a cancel fits), an SQE128 one whose
 * CQEs have no room for the result, or a CQE32 one with 64-byte SQEs. Half
 * have a registered buffer, so that IORING_URING_CMD_FIXED reaches the
 * driver (EINVAL) when buf_index names it; otherwise io_uring itself
 * answers EFAULT, as it answers EINVAL for any other uring_cmd_flags.
 *
 * Every SQE has a user_data no other SQE of the run has, and is tracked,
 * with the outcomes its CQE's res may have, until its CQE comes: exactly
 * one. A submit that may be queued may also end with a status: 0 with the
 * right result in big_cqe[0] (n!, the doorbell's value, the DMA's length),
 * -ECANCELED only if a cancel could have reached it (one by its user_data,
 * or one of a random id on its file, see random_cancel()), and surely so
 * after a cancel returned 0, -ETIMEDOUT only with a timeout. A CQE for no
 * SQE in flight, or a second one, is a bad event. A drain (now and then,
 * and at the end) cancels every submit in flight on a ring by its
 * user_data and waits for the CQEs: those that do not come within
 * %DRAIN_NS are lost. A ring is closed (now and then) right after it was
 * drained and a burst of SQEs was submitted: the SQEs of the burst still
 * in flight get no CQE this process can see, and are counted as torn down.
 *
 * The SQEs: submits made up as for KCANCEL_IOC_SUBMIT (fuzz-calls.c), their
 * id 0 or not, some with random bytes written over them; cancels by the
 * user_data of a submit in flight, of one whose CQE came or whose ring
 * went, of one on another file, or of none, and by id as KCANCEL_IOC_CANCEL
 * is fuzzed, with bad flags or reserved now and then; any other cmd_op (an
 * ioctl number, one of ours with another size, direction or number, any
 * number); now and then uring_cmd_flags, and IOSQE_ASYNC (the command is
 * then issued from an io_uring worker thread).
 */

#define URING_RINGS		2
#define URING_ENTRIES		32
/* SQEs in flight on a ring at most: below its 64 CQEs, none overflows. */
#define URING_INFLIGHT		48
#define URING_RECS		(URING_RINGS * URING_INFLIGHT)
/* The user_data of the last SQEs whose CQE came, or whose ring went. */
#define URING_DONE		256
/* SQEs one step submits at most. */
#define URING_BURST		4
/* The command bytes of an SQE: on an SQE128 ring, and on a plain one. */
#define URING_CMD_BIG		80
#define URING_CMD_SMALL		16
#define URING_WAIT_NS		(20 * NSEC_PER_MSEC)

/* Flags of &struct uring_rec and &struct uring_done. */
#define UR_MAY_RUN	0x001	/* a submit the driver may queue */
#define UR_TIMEOUT	0x002	/* ...with a timeout */
#define UR_CANCEL_TRIED	0x004	/* a cancel by its user_data was made */
#define UR_CANCEL_WON	0x008	/* ...and returned 0 */
#define UR_BY_UD	0x010	/* a cancel by user_data: &uring_rec.target */
#define UR_RANDOM_ID	0x020	/* a cancel of a random id */
#define UR_LIVE_ID	0x040	/* a cancel of a live id: target is its tag */
#define UR_TORN		0x080	/* done: its ring went before its CQE came */
#define UR_LOST		0x100	/* done: counted lost */
#define UR_IOWQ		0x200	/* IOSQE_ASYNC: issued by an io_uring worker */

/**
 * struct uring_rec - an SQE submitted, until its CQE comes
 * @user_data: its user_data, unique in the run; 0 if the entry is free.
 * @arg: a submit's arg.
 * @target: a cancel's: the user_data (%UR_BY_UD) or the tag (%UR_LIVE_ID)
 *	of what it cancels.
 * @len: a submit's len.
 * @exp: the outcomes its CQE's res may have, EXP_* bits.
 * @serial: the serial of the file of its descriptor.
 * @rc_won: a submit's: &fuzz_file.rc_won when it was made.
 * @op: a submit's op.
 * @flags: UR_*.
 * @call: %FC_URING_SUBMIT, %FC_URING_CANCEL or %FC_URING_BAD_CMD.
 * @ring: its ring.
 * @file: the file of its descriptor, in &fuzz_arena.files.
 * @desc: what it was, for the log.
 */
struct uring_rec {
	u64 user_data;
	u64 arg;
	u64 target;
	u32 len;
	u32 exp;
	u32 serial;
	u32 rc_won;
	u16 op;
	u16 flags;
	u8 call;
	u8 ring;
	s32 file;
	char desc[DESC_LEN];
};

/**
 * struct uring_done - an SQE whose CQE came, or whose ring went
 * @user_data: its user_data.
 * @serial: the serial of its file.
 * @res: its CQE's res.
 * @flags: UR_*.
 */
struct uring_done {
	u64 user_data;
	u32 serial;
	s32 res;
	u16 flags;
};

/**
 * struct uring_ring - a ring of the process
 * @ring: liburing's.
 * @buf: the buffer registered with it, or NULL.
 * @nbufs: how many buffers are registered: 0 or 1.
 * @inflight: its SQEs whose CQE has not come.
 * @setup: its IORING_SETUP_SQE128 and IORING_SETUP_CQE32 flags.
 * @live: it is set up.
 */
struct uring_ring {
	struct io_uring ring;
	void *buf;
	unsigned int nbufs;
	unsigned int inflight;
	u32 setup;
	bool live;
};

/**
 * struct fuzz_uring - the io_uring state of a process
 * @rings: its rings.
 * @recs: its SQEs in flight.
 * @done: the last SQEs done, a ring.
 * @ndone: how many were done in all.
 * @seq: the sequence number of its last user_data.
 */
struct fuzz_uring {
	struct uring_ring rings[URING_RINGS];
	struct uring_rec recs[URING_RECS];
	struct uring_done done[URING_DONE];
	u64 ndone;
	u64 seq;
};

/**
 * struct usqe - an SQE the fuzzer made up
 * @rec: what is tracked of it.
 * @sb: a submit's payload.
 * @target: a cancel by user_data: the SQE it names, if in flight and it
 *	can reach it.
 * @cancel_exp: a cancel: the outcomes of its payload.
 * @cmd: its command bytes.
 * @cmd_op: sqe->cmd_op.
 * @cmd_flags: sqe->uring_cmd_flags.
 * @buf_index: sqe->buf_index.
 * @sqe_flags: sqe->flags.
 * @fd: sqe->fd.
 */
struct usqe {
	struct uring_rec rec;
	struct sub sb;
	struct uring_rec *target;
	u32 cancel_exp;
	u8 cmd[URING_CMD_BIG];
	u32 cmd_op;
	u32 cmd_flags;
	u16 buf_index;
	u8 sqe_flags;
	int fd;
};

/* The rings of a process: the main kind, five times in eight. */
static const u32 ring_kinds[] = {
	IORING_SETUP_SQE128 | IORING_SETUP_CQE32,
	IORING_SETUP_SQE128 | IORING_SETUP_CQE32,
	IORING_SETUP_SQE128 | IORING_SETUP_CQE32,
	IORING_SETUP_SQE128 | IORING_SETUP_CQE32,
	IORING_SETUP_SQE128 | IORING_SETUP_CQE32,
	0,
	IORING_SETUP_SQE128,
	IORING_SETUP_CQE32,
};

static const char *const ring_names[] = {
	[0] = "plain", [1] = "sqe128", [2] = "cqe32", [3] = "sqe128+cqe32",
};

static const char *ring_name(const struct uring_ring *ur)
{
	unsigned int i = 0;

	if (ur->setup & IORING_SETUP_SQE128)
		i |= 1;
	if (ur->setup & IORING_SETUP_CQE32)
		i |= 2;
	return ring_names[i];
}

/**
 * uring_probe() - can this process set up an SQE128|CQE32 ring?
 *
 * Return: 0, or a negative errno.
 */
int uring_probe(void)
{
	struct io_uring_params prm = {
		.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32 |
			 IORING_SETUP_SUBMIT_ALL,
	};
	struct io_uring ring;
	int ret;

	ret = io_uring_queue_init_params(4, &ring, &prm);
	if (!ret)
		io_uring_queue_exit(&ring);
	return ret;
}

/*
 * A user_data no SQE of the run has, and no id: bit 62 set, bit 63 clear,
 * the process's uid below (never bit 61), and a sequence number.
 */
static u64 uring_user_data(struct fuzz_proc *p)
{
	return 1ULL << 62 | (u64)p->uid << 40 |
	       (++p->ur->seq & ((1ULL << 40) - 1));
}

/* An SQE of descriptor @slot for ring @ri, with a new user_data. */
static void usqe_init(struct fuzz_proc *p, struct usqe *g, int slot, int ri)
{
	int file = file_of(p, slot);

	memset(g, 0, sizeof(*g));
	g->fd = fd_of(p, slot);
	g->rec.user_data = uring_user_data(p);
	g->rec.ring = ri;
	g->rec.file = file;
	g->rec.serial = p->ar->files[file].serial;
}

/* The SQE in flight with @ud, or a free entry for @ud 0. */
static struct uring_rec *urec_find(struct fuzz_uring *u, u64 ud)
{
	unsigned int i;

	for (i = 0; i < URING_RECS; i++)
		if (u->recs[i].user_data == ud)
			return &u->recs[i];
	return NULL;
}

static void udone_push(struct fuzz_uring *u, const struct uring_rec *r,
		       s32 res, u16 flags)
{
	struct uring_done *d = &u->done[u->ndone++ % URING_DONE];

	d->user_data = r->user_data;
	d->serial = r->serial;
	d->res = res;
	d->flags = r->flags | flags;
}

static struct uring_done *udone_find(struct fuzz_uring *u, u64 ud)
{
	unsigned int i;

	for (i = 0; i < URING_DONE && i < u->ndone; i++)
		if (u->done[i].user_data == ud)
			return &u->done[i];
	return NULL;
}

/* Count @n io_uring submits on @file, if it is still the file of @serial. */
static void file_uring_add(struct fuzz_proc *p, int file, u32 serial, int n)
{
	struct fuzz_file *f = &p->ar->files[file];

	arena_lock(p->ar);
	if (f->serial == serial)
		__atomic_fetch_add(&f->uring, n, __ATOMIC_RELAXED);
	arena_unlock(p->ar);
}

/* A cancel of a random id has returned, or its ring went (@won: maybe). */
static void uring_random_done(struct fuzz_proc *p, const struct uring_rec *r,
			      bool won)
{
	if (__atomic_load_n(&p->ar->files[r->file].serial, __ATOMIC_SEQ_CST) ==
	    r->serial)
		random_cancel(p, r->file, false, won);
}

/*
 * May the submit @r end -ECANCELED? Only if a cancel could have reached it:
 * one by its user_data, or one of a random id on its file (its id is never
 * learned) that won since it was made or is still under way. The counters
 * are read in the reverse order of random_cancel()'s writes: a cancel that
 * has returned, if it won, is counted as won.
 */
static bool uring_ecanceled_ok(struct fuzz_proc *p, const struct uring_rec *r)
{
	struct fuzz_file *f = &p->ar->files[r->file];
	u32 done, won, begun;

	/* io_uring's own, see uring_expect(). */
	if (r->flags & (UR_CANCEL_TRIED | UR_IOWQ))
		return true;
	done = __atomic_load_n(&f->rc_done, __ATOMIC_SEQ_CST);
	won = __atomic_load_n(&f->rc_won, __ATOMIC_SEQ_CST);
	begun = __atomic_load_n(&f->rc_begun, __ATOMIC_SEQ_CST);
	/* The file was closed since: what happened to it is not known. */
	if (__atomic_load_n(&f->serial, __ATOMIC_SEQ_CST) != r->serial)
		return true;
	return won != r->rc_won || begun != done;
}

/*
 * A cancel by user_data @ud returned 0: the submit it cancelled must end
 * -ECANCELED, or must have.
 */
static void uring_won(struct fuzz_proc *p, u64 ud)
{
	struct fuzz_uring *u = p->ur;
	struct uring_done *d;
	struct uring_rec *r;

	r = ud ? urec_find(u, ud) : NULL;
	if (r) {
		r->flags |= UR_CANCEL_WON;
		return;
	}
	d = udone_find(u, ud);
	if (d && !(d->flags & (UR_TORN | UR_LOST)) && d->res != -ECANCELED) {
		p->st->bad_events++;
		diag(p, "a cancel of user_data %#llx returned 0, but its CQE had res %d\n",
		     ud, d->res);
	}
}

/*
 * What is wrong with the CQE of a submit that may have been queued, or
 * NULL. @big: big_cqe[0] and [1], on a CQE32 ring.
 */
static const char *uring_mismatch(struct fuzz_proc *p,
				  const struct uring_rec *r, s32 res,
				  const u64 *big)
{
	if (big && big[1])
		return "has big_cqe[1] set";
	if (!res && big && big[0] != op_result(r->op, r->arg, r->len))
		return "has the wrong result";
	if (res && big && big[0])
		return "has a result with a non-zero status";
	if (res == -ECANCELED && !uring_ecanceled_ok(p, r))
		return "is -ECANCELED, but no cancel could have reached it";
	if ((r->flags & UR_CANCEL_WON) && res != -ECANCELED)
		return "is not -ECANCELED after a cancel by its user_data returned 0";
	return NULL;
}

/* Check a CQE of ring @ri against its SQE, and forget the SQE. */
static void uring_cqe(struct fuzz_proc *p, int ri,
		      const struct io_uring_cqe *cqe)
{
	struct fuzz_uring *u = p->ur;
	struct uring_ring *ur = &u->rings[ri];
	u64 ud = cqe->user_data, big[2] = { 0, 0 };
	bool cqe32 = ur->setup & IORING_SETUP_CQE32;
	const char *bad = NULL, *mis = NULL;
	char name[32], x[128];
	struct uring_done *d;
	struct uring_rec *r;
	s32 res = cqe->res;
	/* A positive res is no errno: counted as "other". */
	int err = res > 0 ? -1 : -res;

	p->st->uring_cqes++;
	if (cqe32) {
		big[0] = cqe->big_cqe[0];
		big[1] = cqe->big_cqe[1];
	}
	r = ud ? urec_find(u, ud) : NULL;
	if (!r || r->ring != ri) {
		d = udone_find(u, ud);
		p->st->bad_events++;
		diag(p, "ring %d: a CQE, user_data %#llx res %d, %s\n", ri, ud,
		     res, r ? "on another ring than its SQE's" :
		     !d ? "of no SQE in flight" :
		     d->flags & UR_LOST ? "late, of an SQE counted lost" :
		     "of an SQE whose CQE came already");
		return;
	}
	p->st->res[r->call][err_slot(err)]++;
	if (err && !call_documents(r->call, err)) {
		p->st->undocumented++;
		bad = "undocumented errno";
	} else if (!(r->exp & xbit(err))) {
		p->st->wrong++;
		bad = "wrong outcome";
	}
	if (r->flags & UR_MAY_RUN)
		mis = uring_mismatch(p, r, res, cqe32 ? big : NULL);
	else if (big[0] || big[1])
		mis = "has big_cqe set for a command that did not run";
	if (mis)
		p->st->bad_events++;
	else if (!res && (r->flags & UR_MAY_RUN) && cqe32)
		p->st->uring_results++;
	if (r->call == FC_URING_CANCEL && !res) {
		if (r->flags & UR_BY_UD)
			uring_won(p, r->target);
		else if (r->flags & UR_LIVE_ID)
			mark_cancel_won(p, r->target);
	}
	if (r->flags & UR_RANDOM_ID)
		uring_random_done(p, r, !res);
	if (r->call == FC_URING_SUBMIT)
		file_uring_add(p, r->file, r->serial, -1);
	vlog(p, "%s ring %d user_data %#llx: CQE res %d (%s) big_cqe %#llx,%#llx",
	     call_name(r->call), ri, ud, res,
	     err_name(err, name, sizeof(name)), big[0], big[1]);
	if (bad)
		diag(p, "%s ring %d (%s) user_data %#llx %s: %s %s (res %d), expected %s\n",
		     call_name(r->call), ri, ring_name(ur), ud, r->desc, bad,
		     err_name(err, name, sizeof(name)), res,
		     xdesc(r->exp, x, sizeof(x)));
	if (mis)
		diag(p, "%s ring %d (%s) user_data %#llx %s: CQE res %d big_cqe %#llx,%#llx %s\n",
		     call_name(r->call), ri, ring_name(ur), ud, r->desc, res,
		     big[0], big[1], mis);
	udone_push(u, r, res, 0);
	r->user_data = 0;
	ur->inflight--;
}

/* Check the CQEs of ring @ri that are there; draws no random number. */
static void uring_reap(struct fuzz_proc *p, int ri)
{
	struct uring_ring *ur = &p->ur->rings[ri];
	struct io_uring_cqe *cqe;

	if (!ur->live)
		return;
	while (!io_uring_peek_cqe(&ur->ring, &cqe)) {
		uring_cqe(p, ri, cqe);
		io_uring_cqe_seen(&ur->ring, cqe);
	}
}

static int uring_open(struct fuzz_proc *p, int ri, u32 kind, bool buf)
{
	struct uring_ring *ur = &p->ur->rings[ri];
	struct io_uring_params prm;
	struct iovec iov;
	int ret;

	memset(&prm, 0, sizeof(prm));
	prm.flags = kind | IORING_SETUP_SUBMIT_ALL;
	ret = io_uring_queue_init_params(URING_ENTRIES, &ur->ring, &prm);
	if (ret < 0) {
		/* A problem of the fuzzer's, or of the machine's. */
		p->st->wrong++;
		diag(p, "io_uring_queue_init_params(%#x): %s\n", prm.flags,
		     strerror(-ret));
		return -1;
	}
	ur->live = true;
	ur->setup = kind;
	ur->inflight = 0;
	ur->nbufs = 0;
	ur->buf = NULL;
	p->st->uring_rings++;
	if (buf) {
		/* Only for IORING_URING_CMD_FIXED to reach the driver. */
		ur->buf = aligned_alloc(p->zoo->page, p->zoo->page);
		iov.iov_base = ur->buf;
		iov.iov_len = p->zoo->page;
		if (ur->buf && !io_uring_register_buffers(&ur->ring, &iov, 1))
			ur->nbufs = 1;
	}
	vlog(p, "ring %d set up: %s, %u registered buffer(s)", ri,
	     ring_name(ur), ur->nbufs);
	return 0;
}

/*
 * Close ring @ri: the SQEs still in flight get no CQE this process can see
 * (the ring is cancelled and freed), they are torn down. A submit that may
 * have been queued still counts against max_pending for a while.
 */
static void uring_close(struct fuzz_proc *p, int ri)
{
	struct fuzz_uring *u = p->ur;
	struct uring_ring *ur = &u->rings[ri];
	unsigned int i, torn = 0;
	struct uring_rec *r;

	if (!ur->live)
		return;
	uring_reap(p, ri);
	for (i = 0; i < URING_RECS; i++) {
		r = &u->recs[i];
		if (!r->user_data || r->ring != ri)
			continue;
		torn++;
		if (r->call == FC_URING_SUBMIT && !(r->flags & UR_MAY_RUN))
			file_uring_add(p, r->file, r->serial, -1);
		if (r->flags & UR_RANDOM_ID)
			uring_random_done(p, r, true);
		udone_push(u, r, 0, UR_TORN);
		r->user_data = 0;
	}
	p->st->uring_torn_down += torn;
	io_uring_queue_exit(&ur->ring);
	free(ur->buf);
	ur->buf = NULL;
	ur->live = false;
	ur->inflight = 0;
	vlog(p, "ring %d closed, %u SQEs in flight torn down", ri, torn);
}

/* A descriptor slot of this process on the file of @r, or -1. */
static int uring_rec_slot(const struct fuzz_proc *p, const struct uring_rec *r)
{
	int i;

	if (p->ar->files[r->file].serial != r->serial)
		return -1;
	for (i = 0; i < FUZZ_FDS; i++)
		if (p->fds[i].fd >= 0 && p->fds[i].file == r->file)
			return i;
	return -1;
}

/* Cancel the submit @r by its user_data, with KCANCEL_IOC_CANCEL, for a drain. */
static void uring_cancel_rec(struct fuzz_proc *p, struct uring_rec *r)
{
	struct kcancel_cancel c = {
		.id = r->user_data,
		.flags = KCANCEL_CANCEL_USER_DATA,
	};
	u32 exp = EXP_OK | EXP_EALREADY | EXP_ENOENT;
	int slot = uring_rec_slot(p, r), err = 0;
	char desc[DESC_LEN];
	const char *bad;
	struct place pl;

	if (slot < 0)
		return;
	r->flags |= UR_CANCEL_TRIED;
	place_arg(p, &pl, FP_VALID, &c, sizeof(c));
	if (ioctl(fd_of(p, slot), KCANCEL_IOC_CANCEL, pl.addr))
		err = errno;
	bad = judge(p, FC_CANCEL, err, exp);
	if (!err)
		r->flags |= UR_CANCEL_WON;
	if (bad || p->cfg->verbose) {
		snprintf(desc, sizeof(desc),
			 "fd %d user_data %#llx (in flight, drain)",
			 fd_of(p, slot), c.id);
		report(p, FC_CANCEL, err, exp, bad, desc);
	}
}

/*
 * Drain ring @ri: cancel its submits in flight by their user_data, then
 * wait for every CQE; those that do not come within %DRAIN_NS are lost.
 * Draws no random number.
 */
static void uring_drain(struct fuzz_proc *p, int ri)
{
	struct __kernel_timespec ts = { .tv_nsec = URING_WAIT_NS };
	struct fuzz_uring *u = p->ur;
	struct uring_ring *ur = &u->rings[ri];
	struct io_uring_cqe *cqe;
	unsigned int i, n = 0;
	struct uring_rec *r;
	u64 deadline;

	if (!ur->live)
		return;
	p->st->uring_drains++;
	uring_reap(p, ri);
	for (i = 0; i < URING_RECS; i++) {
		r = &u->recs[i];
		if (r->user_data && r->ring == ri && (r->flags & UR_MAY_RUN))
			uring_cancel_rec(p, r);
	}
	deadline = now_ns() + DRAIN_NS;
	/* A SIGALRM may end a wait: go on until the deadline. */
	while (ur->inflight && now_ns() < deadline) {
		io_uring_wait_cqe_timeout(&ur->ring, &cqe, &ts);
		uring_reap(p, ri);
	}
	for (i = 0; i < URING_RECS && ur->inflight; i++) {
		r = &u->recs[i];
		if (!r->user_data || r->ring != ri)
			continue;
		if (n++ < 4)
			diag(p, "lost: no CQE for %s %#llx, ring %d (%s): %s, flags %#x\n",
			     call_name(r->call), r->user_data, ri,
			     ring_name(ur), r->desc, r->flags);
		udone_push(u, r, 0, UR_LOST);
		r->user_data = 0;
		ur->inflight--;
	}
	p->st->lost += n;
}

/* Submit what is in ring @ri's submission queue. */
static void uring_submit(struct fuzz_proc *p, int ri)
{
	struct uring_ring *ur = &p->ur->rings[ri];
	unsigned int tries;
	int ret;

	for (tries = 0; io_uring_sq_ready(&ur->ring); tries++) {
		ret = io_uring_submit(&ur->ring);
		if (ret >= 0)
			continue;
		if ((ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) ||
		    tries >= 100) {
			/* They stay in the queue: they will be lost. */
			p->st->wrong++;
			diag(p, "ring %d: io_uring_submit: %s\n", ri,
			     strerror(-ret));
			return;
		}
		uring_reap(p, ri);
	}
}

/*
 * The user_data for a cancel by user_data on the file of @serial, and the
 * outcomes it may have: of a submit of this process in flight (on any of
 * its files), of one whose CQE came or whose ring went, or of none.
 * *@tr is the submit in flight it may reach, or NULL; *@what says which.
 */
static u32 pick_user_data(struct fuzz_proc *p, u32 serial, u64 *ud,
			  struct uring_rec **tr, const char **what)
{
	u64 t = rnd_below(p, 100), i = rnd(p), v = rnd(p);
	const u32 maybe = EXP_OK | EXP_EALREADY | EXP_ENOENT;
	struct fuzz_uring *u = p->ur;
	const struct uring_done *d;
	struct uring_rec *r;
	unsigned int n, k;

	*tr = NULL;
	if (t < 55) {
		for (n = 0, k = 0; k < URING_RECS; k++)
			n += u->recs[k].user_data &&
			     u->recs[k].call == FC_URING_SUBMIT;
		/* The (i % n)th submit in flight. */
		i = n ? i % n + 1 : 0;
		for (k = 0; i && k < URING_RECS; k++) {
			r = &u->recs[k];
			if (!r->user_data || r->call != FC_URING_SUBMIT || --i)
				continue;
			*ud = r->user_data;
			if (r->serial != serial) {
				*what = "in flight on another file";
				return EXP_ENOENT;
			}
			*what = "in flight";
			if (!(r->flags & UR_MAY_RUN))
				return EXP_ENOENT;
			*tr = r;
			return maybe;
		}
	} else if (t < 80 && u->ndone) {
		n = u->ndone < URING_DONE ? u->ndone : URING_DONE;
		d = &u->done[(u->ndone - 1 - i % n) % URING_DONE];
		*ud = d->user_data;
		*what = d->flags & UR_TORN ? "torn down" :
			d->flags & UR_LOST ? "lost" : "completed";
		if (d->serial != serial)
			*what = "done, on another file";
		/* An orphan of a ring gone, or a request still ending. */
		if (d->serial == serial && (d->flags & UR_MAY_RUN) &&
		    (d->flags & (UR_TORN | UR_LOST)))
			return maybe;
		return EXP_ENOENT;
	}
	*what = "unknown";
	*ud = v & 1 ? v | 1ULL << 63 : v >> 44;
	return EXP_ENOENT;
}

static const u32 uring_known_ops[] = {
	KCANCEL_URING_CMD_SUBMIT, KCANCEL_URING_CMD_CANCEL,
	KCANCEL_IOC_SUBMIT, KCANCEL_IOC_SUBMIT_WAIT, KCANCEL_IOC_CANCEL,
	KCANCEL_IOC_WAIT, KCANCEL_IOC_INFO, KCANCEL_IOC_BATCH,
};

/* A cmd_op the driver does not have. */
static u32 pick_bad_op(struct fuzz_proc *p)
{
	u32 op, real;

	do {
		real = uring_known_ops[rnd_below(p, ARRAY_SIZE(uring_known_ops))];
		switch (rnd_below(p, 6)) {
		case 0:		/* an ioctl number as it is */
			op = real;
			break;
		case 1:		/* another size */
			op = _IOC(_IOC_DIR(real), _IOC_TYPE(real), _IOC_NR(real),
				  (_IOC_SIZE(real) + 1 +
				   rnd_below(p, _IOC_SIZEMASK)) & _IOC_SIZEMASK);
			break;
		case 2:		/* another direction */
			op = _IOC((_IOC_DIR(real) + 1 + rnd_below(p, 3)) & 3,
				  _IOC_TYPE(real), _IOC_NR(real),
				  _IOC_SIZE(real));
			break;
		case 3:		/* another number of ours */
			op = _IOC(_IOC_DIR(real), KCANCEL_IOC_MAGIC,
				  rnd_below(p, 256), _IOC_SIZE(real));
			break;
		case 4:
			op = rnd_below(p, 256);
			break;
		default:
			op = rnd(p);
			break;
		}
	} while (op == KCANCEL_URING_CMD_SUBMIT ||
		 op == KCANCEL_URING_CMD_CANCEL);
	return op;
}

static void fill_random(struct fuzz_proc *p, u8 *buf, size_t len)
{
	u64 r;
	size_t i;

	for (i = 0; i < len; i += sizeof(r)) {
		r = rnd(p);
		memcpy(buf + i, &r, len - i < sizeof(r) ? len - i : sizeof(r));
	}
}

/*
 * A KCANCEL_URING_CMD_SUBMIT: made up as for the ioctl, or a valid doorbell
 * or factorial, which may time out; @garble: with random bytes written over
 * it.
 */
static void gen_usubmit(struct fuzz_proc *p, struct usqe *g, bool garble)
{
	struct kcancel_submit *s = &g->sb.s;
	u64 r = rnd_below(p, 100);
	unsigned int n;

	if (r < 50) {
		gen_simple(p, &g->sb);
		if (rnd_pct(p, 25))
			s->timeout_ns = 1 + rnd_below(p, 2 * NSEC_PER_MSEC);
	} else {
		gen_submit(p, &g->sb, false);
	}
	/* An out field for the ioctl; here it must be 0. */
	s->id = rnd_pct(p, 95) ? 0 : edge64(p) | 1;
	memcpy(g->cmd, s, sizeof(*s));
	if (garble) {
		if (rnd_pct(p, 25))
			fill_random(p, g->cmd, sizeof(g->cmd));
		for (n = 1 + rnd_below(p, 8); n; n--)
			g->cmd[rnd_below(p, sizeof(g->cmd))] = rnd(p);
		memcpy(s, g->cmd, sizeof(*s));
		classify_submit(p, &g->sb);
	}
	g->cmd_op = KCANCEL_URING_CMD_SUBMIT;
	g->rec.call = FC_URING_SUBMIT;
	g->rec.op = s->op;
	g->rec.arg = s->arg;
	g->rec.len = s->len;
	if (s->timeout_ns)
		g->rec.flags |= UR_TIMEOUT;
	snprintf(g->rec.desc, sizeof(g->rec.desc),
		 "fd %d op %u flags %#x arg %#llx buf %#llx (%s) len %u offset %u timeout_ns %llu id %#llx reserved %#llx,%#llx%s: %s",
		 g->fd, s->op, s->flags, s->arg, s->buf, ptr_names[g->sb.buf],
		 s->len, s->offset, s->timeout_ns, s->id, s->reserved[0],
		 s->reserved[1], garble ? " (garbled)" : "",
		 g->sb.valid ? "valid" : "invalid");
}

/*
 * A KCANCEL_URING_CMD_CANCEL on the file of @serial: by user_data (@mode
 * 0), by id (1), or random bytes (2).
 */
static void gen_ucancel(struct fuzz_proc *p, struct usqe *g, int file,
			bool shared, int mode)
{
	u32 serial = p->ar->files[file].serial, exp = EXP_ENOENT;
	const char *what = "random bytes";
	u64 fl = rnd_below(p, 100), rs = rnd_below(p, 100), tag = 0;
	struct kcancel_cancel c = { 0 };
	struct uring_rec *t = NULL;
	enum id_class cls;

	if (mode == 0) {
		exp = pick_user_data(p, serial, &c.id, &t, &what);
		c.flags = KCANCEL_CANCEL_USER_DATA;
		g->rec.flags |= UR_BY_UD;
		g->rec.target = c.id;
	} else if (mode == 1) {
		cls = pick_id(p, file, &c.id, &tag);
		what = id_class_names[cls];
		if (cls == ID_LIVE) {
			/* A worker thread may run it after a read. */
			exp = EXP_OK | EXP_EALREADY |
			      (shared || (g->sqe_flags & IOSQE_ASYNC) ?
			       EXP_ENOENT : 0);
			g->rec.flags |= UR_LIVE_ID;
			g->rec.target = tag;
		} else if (cls == ID_RANDOM) {
			exp = EXP_OK | EXP_EALREADY | EXP_ENOENT;
			g->rec.flags |= UR_RANDOM_ID;
		}
	} else {
		fill_random(p, (u8 *)&c, sizeof(c));
		/* Flags 0: a random id, which may be anything. */
		exp = EXP_OK | EXP_EALREADY | EXP_ENOENT;
		if (c.flags == KCANCEL_CANCEL_USER_DATA)
			exp = EXP_ENOENT;
		else if (!c.flags)
			g->rec.flags |= UR_RANDOM_ID;
	}
	if (fl < 5)
		c.flags = edge32(p) | BIT(1 + rnd_below(p, 31));
	if (rs < 5)
		c.reserved = edge32(p) | 1;
	if ((c.flags & ~KCANCEL_CANCEL_USER_DATA) || c.reserved) {
		exp = EXP_EINVAL;
		t = NULL;
		g->rec.flags &= ~(UR_BY_UD | UR_LIVE_ID | UR_RANDOM_ID);
	}
	memcpy(g->cmd, &c, sizeof(c));
	g->target = t;
	g->cancel_exp = exp;
	g->cmd_op = KCANCEL_URING_CMD_CANCEL;
	g->rec.call = FC_URING_CANCEL;
	snprintf(g->rec.desc, sizeof(g->rec.desc),
		 "fd %d id %#llx (%s) flags %#x reserved %#x", g->fd, c.id,
		 what, c.flags, c.reserved);
}

/* Any other cmd_op, with random bytes or zeros, or a valid submit. */
static void gen_ubad(struct fuzz_proc *p, struct usqe *g)
{
	u64 r = rnd_below(p, 3);

	g->cmd_op = pick_bad_op(p);
	if (r == 1) {
		fill_random(p, g->cmd, sizeof(g->cmd));
	} else if (r == 2) {
		g->sb.s.op = KCANCEL_OP_DOORBELL;
		g->sb.s.arg = rnd(p);
		memcpy(g->cmd, &g->sb.s, sizeof(g->sb.s));
	}
	g->rec.call = FC_URING_BAD_CMD;
	snprintf(g->rec.desc, sizeof(g->rec.desc), "fd %d cmd_op %#x (%s)",
		 g->fd, g->cmd_op,
		 r == 1 ? "random bytes" : r == 2 ? "a doorbell" : "zeros");
}

/*
 * The outcomes of @g on ring @ur: io_uring's own checks first, then the
 * driver's. A submit that may be queued may also end with a status. An SQE
 * with IOSQE_ASYNC, which io_uring issues from a worker thread, reaches the
 * driver later (the file may have filled up or emptied since), or ends
 * -ECANCELED before: io_uring cancels the work it queued when it cannot
 * start a worker (creating the thread fails while a signal is pending, and
 * the fuzzer's SIGALRM comes every few milliseconds).
 */
static void uring_expect(struct fuzz_proc *p, const struct uring_ring *ur,
			 struct usqe *g, int file, bool shared)
{
	bool async = g->sqe_flags & IOSQE_ASYNC;
	u32 exp;

	if (g->cmd_flags & ~IORING_URING_CMD_FIXED)
		exp = EXP_EINVAL;
	else if (g->cmd_flags && g->buf_index >= ur->nbufs)
		exp = EXP_EFAULT;
	else if (g->rec.call == FC_URING_BAD_CMD)
		exp = EXP_EOPNOTSUPP;
	else if (g->cmd_flags)
		exp = EXP_EINVAL;
	else if (g->rec.call == FC_URING_CANCEL)
		exp = g->cancel_exp;
	else if (!(ur->setup & IORING_SETUP_SQE128) || g->sb.s.id)
		exp = EXP_EINVAL;
	else
		exp = submit_expect(p, file, &g->sb, FP_VALID, false,
				    shared || async, async);
	if (g->rec.call == FC_URING_SUBMIT && (exp & EXP_OK)) {
		g->rec.flags |= UR_MAY_RUN;
		exp |= EXP_ECANCELED | EXP_ENODEV | EXP_EIO;
		if (g->rec.flags & UR_TIMEOUT)
			exp |= EXP_ETIMEDOUT;
	}
	if (async) {
		g->rec.flags |= UR_IOWQ;
		exp |= EXP_ECANCELED;
	}
	/* What the command does not reach, it does not affect. */
	if (g->rec.call == FC_URING_CANCEL && !(exp & EXP_OK)) {
		g->target = NULL;
		g->rec.flags &= ~UR_RANDOM_ID;
	}
	/* io_uring's own, for its memory. */
	g->rec.exp = exp | EXP_ENOMEM;
}

/*
 * Queue @g on ring @ri, to be submitted with uring_submit(), and track it;
 * nothing if the ring has %URING_INFLIGHT SQEs in flight already.
 */
static void uring_queue(struct fuzz_proc *p, int ri, struct usqe *g)
{
	struct fuzz_uring *u = p->ur;
	struct uring_ring *ur = &u->rings[ri];
	bool big = ur->setup & IORING_SETUP_SQE128;
	struct io_uring_sqe *sqe;
	struct uring_rec *r;
	char x[128];

	r = urec_find(u, 0);
	if (ur->inflight >= URING_INFLIGHT || !r)
		return;
	sqe = io_uring_get_sqe(&ur->ring);
	if (!sqe)
		return;
	memset(sqe, 0, big ? 128 : 64);
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, g->fd, NULL, 0, 0);
	sqe->cmd_op = g->cmd_op;
	sqe->uring_cmd_flags = g->cmd_flags;
	sqe->buf_index = g->buf_index;
	sqe->flags = g->sqe_flags;
	sqe->user_data = g->rec.user_data;
	memcpy(sqe->cmd, g->cmd, big ? URING_CMD_BIG : URING_CMD_SMALL);

	/* What it may do, before it is submitted. */
	if (g->target)
		g->target->flags |= UR_CANCEL_TRIED;
	if (g->rec.flags & UR_RANDOM_ID)
		random_cancel(p, g->rec.file, true, false);
	if (g->rec.call == FC_URING_SUBMIT) {
		g->rec.rc_won = __atomic_load_n(&p->ar->files[g->rec.file].rc_won,
						__ATOMIC_SEQ_CST);
		file_uring_add(p, g->rec.file, g->rec.serial, 1);
	}
	*r = g->rec;
	ur->inflight++;
	p->ncalls++;
	p->st->calls++;
	p->st->uring_calls++;
	if (p->budget)
		p->budget--;
	vlog(p, "%s ring %d (%s) user_data %#llx cmd_flags %#x buf_index %u%s %s: expect %s",
	     call_name(r->call), ri, ring_name(ur), r->user_data, g->cmd_flags,
	     g->buf_index, g->sqe_flags & IOSQE_ASYNC ? " async" : "",
	     r->desc, xdesc(r->exp, x, sizeof(x)));
}

/* Make up an SQE on a descriptor of the process and queue it on ring @ri. */
static void uring_sqe(struct fuzz_proc *p, int ri, int slot)
{
	u64 r = rnd_below(p, 100), m = rnd_below(p, 100);
	u64 o = rnd_below(p, 4 * FUZZ_FDS);
	struct usqe g;
	bool shared;
	int file;

	/* Mostly the step's descriptor, sometimes another. */
	if (o < FUZZ_FDS && p->fds[o].fd >= 0)
		slot = o;
	file = file_of(p, slot);
	shared = file_shared(p, file);
	usqe_init(p, &g, slot, ri);
	g.sqe_flags = rnd_pct(p, 8) ? IOSQE_ASYNC : 0;
	if (r < 45)
		gen_usubmit(p, &g, false);
	else if (r < 50)
		gen_usubmit(p, &g, true);
	else if (r < 68)
		gen_ucancel(p, &g, file, shared, 0);
	else if (r < 76)
		gen_ucancel(p, &g, file, shared, 1);
	else if (r < 78)
		gen_ucancel(p, &g, file, shared, 2);
	else
		gen_ubad(p, &g);
	/* io_uring's own flags, now and then. */
	if (m < 4) {
		g.cmd_flags = IORING_URING_CMD_FIXED;
		g.buf_index = rnd_pct(p, 75) ? 0 : edge32(p);
	} else if (m < 7) {
		g.cmd_flags = edge32(p) | BIT(1 + rnd_below(p, 31));
	}
	uring_expect(p, &p->ur->rings[ri], &g, file, shared);
	uring_queue(p, ri, &g);
}

/*
 * KCANCEL_IOC_CANCEL by the user_data of an io_uring submit: in flight,
 * done, on another file, or unknown.
 */
static void uring_ioctl_cancel(struct fuzz_proc *p, int slot)
{
	struct kcancel_cancel c = { .flags = KCANCEL_CANCEL_USER_DATA };
	int fd = fd_of(p, slot), file = file_of(p, slot), err = 0;
	const char *bad, *what;
	char desc[DESC_LEN];
	struct uring_rec *t;
	struct place pl;
	u32 exp;

	exp = pick_user_data(p, p->ar->files[file].serial, &c.id, &t, &what);
	if (t)
		t->flags |= UR_CANCEL_TRIED;
	place_arg(p, &pl, FP_VALID, &c, sizeof(c));
	if (ioctl(fd, KCANCEL_IOC_CANCEL, pl.addr))
		err = errno;
	bad = judge(p, FC_CANCEL, err, exp);
	if (!err)
		uring_won(p, c.id);
	if (bad || p->cfg->verbose) {
		snprintf(desc, sizeof(desc), "fd %d user_data %#llx (%s)", fd,
			 c.id, what);
		report(p, FC_CANCEL, err, exp, bad, desc);
	}
}

/**
 * call_uring() - a step of io_uring commands: one SQE or a few, on one of
 * the process's rings (set up if need be); now and then a cancel by
 * user_data with KCANCEL_IOC_CANCEL, a drain, or a ring closed with
 * whatever is in flight on it
 * @p: the process.
 * @slot: the descriptor slot to use.
 *
 * Without io_uring, KCANCEL_IOC_* with a bad number instead.
 */
void call_uring(struct fuzz_proc *p, int slot)
{
	struct fuzz_uring *u = p->ur;
	unsigned int n, i, ri;
	u64 r, kind;
	bool buf;

	if (!u) {
		call_bad_ioctl(p, slot);
		return;
	}
	for (ri = 0; ri < URING_RINGS; ri++)
		uring_reap(p, ri);
	r = rnd_below(p, 1000);
	ri = rnd_below(p, URING_RINGS);
	kind = rnd_below(p, ARRAY_SIZE(ring_kinds));
	buf = rnd_pct(p, 50);
	n = r < 800 ? 1 : 2 + rnd_below(p, URING_BURST - 1);
	/* A ring closed at once gets a burst: most of it is in flight. */
	if (r < 95)
		n = URING_BURST;
	if (r < 3) {
		uring_drain(p, ri);
		return;
	}
	if (r < 75) {
		uring_ioctl_cancel(p, slot);
		return;
	}
	/*
	 * A ring to be closed is drained first: only the burst about to be
	 * submitted is torn down, and an older SQE whose CQE does not come
	 * is lost, not hidden among the torn down.
	 */
	if (r < 95)
		uring_drain(p, ri);
	if (!u->rings[ri].live && uring_open(p, ri, ring_kinds[kind], buf))
		return;
	for (i = 0; i < n; i++)
		uring_sqe(p, ri, slot);
	uring_submit(p, ri);
	if (r < 95)
		uring_close(p, ri);
}

/**
 * uring_flood() - an io_uring submit on a file call_flood() filled up to
 * max_pending: its CQE says -EAGAIN, at once
 * @p: the process.
 * @slot: the descriptor slot of the file.
 *
 * On the first SQE128 ring the process has set up, if any. Draws no random
 * number, as call_flood().
 */
void uring_flood(struct fuzz_proc *p, int slot)
{
	struct fuzz_uring *u = p->ur;
	int ri, file = file_of(p, slot);
	struct usqe g;

	for (ri = 0; u && ri < URING_RINGS; ri++)
		if (u->rings[ri].live &&
		    (u->rings[ri].setup & IORING_SETUP_SQE128))
			break;
	if (!u || ri == URING_RINGS)
		return;
	usqe_init(p, &g, slot, ri);
	g.sb.valid = true;
	g.sb.buf = FP_NULL;
	g.sb.s.op = KCANCEL_OP_DOORBELL;
	g.sb.s.tag = g.rec.user_data;
	memcpy(g.cmd, &g.sb.s, sizeof(g.sb.s));
	g.cmd_op = KCANCEL_URING_CMD_SUBMIT;
	g.rec.call = FC_URING_SUBMIT;
	g.rec.op = KCANCEL_OP_DOORBELL;
	snprintf(g.rec.desc, sizeof(g.rec.desc),
		 "fd %d op 4 arg 0 on a full file: valid", g.fd);
	uring_expect(p, &u->rings[ri], &g, file, false);
	uring_queue(p, ri, &g);
	uring_submit(p, ri);
	uring_reap(p, ri);
}

/**
 * uring_start() - set up the io_uring state of a process
 * @p: the process.
 * @child: a child, just forked: it closes the rings it inherited and forgets
 *	their SQEs (its parent's, whose CQEs its parent reaps).
 */
void uring_start(struct fuzz_proc *p, bool child)
{
	struct fuzz_uring *u = p->ur;
	unsigned int ri;

	if (!p->cfg->uring)
		return;
	if (child && u) {
		for (ri = 0; ri < URING_RINGS; ri++) {
			if (!u->rings[ri].live)
				continue;
			io_uring_queue_exit(&u->rings[ri].ring);
			free(u->rings[ri].buf);
		}
		memset(u, 0, sizeof(*u));
		return;
	}
	p->ur = calloc(1, sizeof(*p->ur));
	if (!p->ur) {
		p->st->wrong++;
		diag(p, "no memory for the io_uring state\n");
	}
}

/**
 * uring_finish() - drain and close the rings of a process
 * @p: the process.
 */
void uring_finish(struct fuzz_proc *p)
{
	unsigned int ri;

	if (!p->ur)
		return;
	for (ri = 0; ri < URING_RINGS; ri++) {
		uring_drain(p, ri);
		uring_close(p, ri);
	}
}
