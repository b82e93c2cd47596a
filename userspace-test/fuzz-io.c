// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-fuzz: read(), poll(), open() and close() of the device, and the
 * drain that checks that every request of a file yields its event.
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
