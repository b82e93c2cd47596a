// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-fuzz: one fuzzing process, and the children it forks.
 *
 * The loop draws each step from the process's own random state: a call on
 * one of its descriptors, or a structural event: close, open, dup, an
 * O_NONBLOCK toggle, a drain that checks every request of a file completes,
 * or a fork. A child fuzzes the descriptors it inherited (the same files:
 * the same ids, the same events) with a seed its parent drew, for a number
 * of calls its parent took from its own budget, then closes them and exits;
 * the parent reaps it and adds its counters to its own. A child does not
 * use its parent's io_uring rings: it closes them and sets up its own.
 *
 * A timer raises SIGALRM every few milliseconds; its handler is installed
 * without SA_RESTART, so a read(), poll() or wait that blocks ends in EINTR
 * at the latest then.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz.h"

/* The first flood of a file, at the earliest and at the latest. */
#define FLOOD_FIRST	5000
#define FLOOD_EVERY	500000

/* SIGALRMs handled by this process; lock-free, so async-signal-safe. */
static u64 alarms;

/**
 * on_alarm() - the SIGALRM handler: only counts
 * @sig: SIGALRM.
 */
void on_alarm(int sig)
{
	(void)sig;
	__atomic_fetch_add(&alarms, 1, __ATOMIC_RELAXED);
}

static void arm_timer(struct fuzz_proc *p, bool on)
{
	struct itimerval it = { 0 };

	if (on) {
		it.it_interval.tv_sec = p->timer_ns / NSEC_PER_SEC;
		it.it_interval.tv_usec = p->timer_ns % NSEC_PER_SEC / 1000;
		it.it_value = it.it_interval;
	}
	setitimer(ITIMER_REAL, &it, NULL);
}

/* A descriptor slot in use, at random; -1 if none. */
static int pick_fd(struct fuzz_proc *p)
{
	int start = rnd_below(p, FUZZ_FDS), i, slot;

	for (i = 0; i < FUZZ_FDS; i++) {
		slot = (start + i) % FUZZ_FDS;
		if (p->fds[slot].fd >= 0)
			return slot;
	}
	return -1;
}

/* An empty descriptor slot; -1 if none. */
static int free_fd(struct fuzz_proc *p)
{
	int i;

	for (i = 0; i < FUZZ_FDS; i++)
		if (p->fds[i].fd < 0)
			return i;
	return -1;
}

/* A problem of the fuzzer's own, not of the driver: counted as wrong. */
static void fuzzer_error(struct fuzz_proc *p, const char *what, int err)
{
	p->st->wrong++;
	diag(p, "%s: %s\n", what, strerror(err));
}

/* dup() a descriptor: the copy shares the file, its ids and its events. */
static void do_dup(struct fuzz_proc *p, int slot)
{
	int to = free_fd(p), fd;

	if (to < 0)
		return;
	fd = fcntl(p->fds[slot].fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		fuzzer_error(p, "dup", errno);
		return;
	}
	file_get(p->ar, p->fds[slot].file);
	p->fds[to].fd = fd;
	p->fds[to].file = p->fds[slot].file;
	p->st->dups++;
	vlog(p, "dup fd %d -> %d", p->fds[slot].fd, fd);
}

/*
 * Toggle O_NONBLOCK, which the file's descriptors share, in all processes:
 * under the arena's lock, so that the arena says what the file has.
 */
static void do_fcntl(struct fuzz_proc *p, int slot)
{
	struct fuzz_file *f = &p->ar->files[p->fds[slot].file];
	int fd = p->fds[slot].fd, fl, err = 0;

	arena_lock(p->ar);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl ^ O_NONBLOCK))
		err = errno;
	else
		f->nonblock = !(fl & O_NONBLOCK);
	arena_unlock(p->ar);
	if (err) {
		fuzzer_error(p, "fcntl", err);
		return;
	}
	p->st->fcntls++;
	vlog(p, "fcntl fd %d O_NONBLOCK %s", fd, fl & O_NONBLOCK ? "off" : "on");
}

/* Reap the child if it has exited (or wait for it): add its counters. */
static void reap_child(struct fuzz_proc *p, bool block)
{
	int status;
	pid_t pid;

	do {
		pid = waitpid(p->child, &status, block ? 0 : WNOHANG);
	} while (pid < 0 && errno == EINTR);
	if (!pid)
		return;
	if (pid < 0) {
		fuzzer_error(p, "waitpid", errno);
	} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		p->st->wrong++;
		diag(p, "child %d ended with status %#x\n", pid, status);
	}
	stats_merge(p->st, &p->ar->stats[p->child_slot]);
	slot_free(p->ar, p->child_slot);
	p->child = 0;
}

static void fuzz_loop(struct fuzz_proc *p);
static void close_all(struct fuzz_proc *p);

/* The child's life: fuzz, close what it holds, exit. Never returns. */
static void child_run(struct fuzz_proc *p, int slot, u64 seed, u64 budget)
{
	p->is_child = true;
	p->slot = slot;
	p->st = &p->ar->stats[slot];
	p->uid |= p->forks;
	snprintf(p->name, sizeof(p->name), "w%u.%u", (p->uid >> 16) - 1,
		 p->forks);
	p->seq = 0;
	p->ncalls = 0;
	p->budget = budget;
	p->child = 0;
	rng_seed(p, seed);
	p->timer_ns = (1 + rnd_below(p, 8)) * NSEC_PER_MSEC;
	__atomic_store_n(&alarms, 0, __ATOMIC_RELAXED);
	arm_timer(p, true);
	uring_start(p, true);
	vlog(p, "child of %d starts, seed %llu, %llu calls", getppid(), seed,
	     budget);
	fuzz_loop(p);
	uring_finish(p);
	close_all(p);
	arm_timer(p, false);
	p->st->signals += __atomic_load_n(&alarms, __ATOMIC_RELAXED);
	_exit(0);
}

/*
 * Fork a child that fuzzes the descriptors it inherits. Its references to
 * the files are counted before the fork, so that neither process takes a
 * file for its own alone meanwhile.
 */
static void do_fork(struct fuzz_proc *p)
{
	u64 seed = rnd(p), budget = 200 + rnd_below(p, 1800);
	int slot, i;
	pid_t pid;

	if (p->is_child || p->budget < 2 * budget || p->forks >= 0xffff)
		return;
	/* The last child is done by now, most likely: make sure. */
	if (p->child)
		reap_child(p, true);
	slot = slot_alloc(p->ar);
	if (slot < 0)
		return;
	for (i = 0; i < FUZZ_FDS; i++)
		if (p->fds[i].fd >= 0)
			file_get(p->ar, p->fds[i].file);
	p->forks++;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (!pid)
		child_run(p, slot, seed, budget);
	if (pid < 0) {
		fuzzer_error(p, "fork", errno);
		for (i = 0; i < FUZZ_FDS; i++)
			if (p->fds[i].fd >= 0)
				file_put(p->ar, p->fds[i].file);
		slot_free(p->ar, slot);
		return;
	}
	vlog(p, "fork child %u, pid %d, seed %llu, %llu calls", p->forks, pid,
	     seed, budget);
	p->child = pid;
	p->child_slot = slot;
	p->budget -= budget;
	p->st->forks++;
}

/*
 * A read() that blocks waits for the next completion, or, with nothing in
 * flight, for the next SIGALRM: now and then that is the point, most of the
 * time it is slow.
 */
static bool read_would_idle(struct fuzz_proc *p, int slot)
{
	const struct fuzz_file *f = &p->ar->files[p->fds[slot].file];
	u64 r = rnd_below(p, 100);

	if (__atomic_load_n(&f->nonblock, __ATOMIC_RELAXED))
		return false;
	return r >= (__atomic_load_n(&f->live, __ATOMIC_RELAXED) > 0 ? 20 : 5);
}

/* Open another file, if a descriptor slot is free. */
static void open_free(struct fuzz_proc *p)
{
	int slot = free_fd(p);

	if (slot >= 0 && !call_open(p, slot))
		p->st->reopens++;
}

/**
 * struct fuzz_step - a kind of step and its share
 * @share: its share of the steps, in 1/10000.
 * @run: what it does, on a descriptor slot in use.
 */
struct fuzz_step {
	unsigned int share;
	void (*run)(struct fuzz_proc *p, int slot);
};

static void step_submit(struct fuzz_proc *p, int slot)
{
	call_submit(p, slot, false);
}

static void step_submit_wait(struct fuzz_proc *p, int slot)
{
	call_submit(p, slot, true);
}

static void step_read(struct fuzz_proc *p, int slot)
{
	call_read(p, slot, read_would_idle(p, slot));
}

static void step_open(struct fuzz_proc *p, int slot)
{
	(void)slot;
	open_free(p);
}

static void step_fork(struct fuzz_proc *p, int slot)
{
	(void)slot;
	do_fork(p);
}

/*
 * Mostly calls; a structural event every hundred steps or so. A request the
 * device takes costs far more than a call it refuses (some milliseconds on
 * a debug kernel under emulation, against a fraction of one): about one
 * step in twenty submits one. The io_uring steps are bad ioctls when the
 * device has no io_uring commands.
 */
static const struct fuzz_step steps[] = {
	{ 1823, call_bad_ioctl },
	{ 700, call_uring },
	{ 1300, step_submit },
	{ 60, step_submit_wait },
	{ 1500, call_cancel },
	{ 1300, call_wait },
	{ 400, call_batch },
	{ 1500, step_read },
	{ 700, call_poll },
	{ 600, call_info },
	{ 60, do_fcntl },
	{ 15, call_close },
	{ 15, step_open },
	{ 20, do_dup },
	{ 3, drain_file },
	{ 4, step_fork },
};

static void step(struct fuzz_proc *p)
{
	int slot = pick_fd(p);
	u64 r = rnd_below(p, 10000);
	size_t i;

	if (slot < 0) {
		if (call_open(p, free_fd(p))) {
			/* Every file is closed and none opens: give up. */
			fuzzer_error(p, "cannot open the device", errno);
			p->budget = 0;
		}
		return;
	}
	for (i = 0; i < ARRAY_SIZE(steps) - 1 && r >= steps[i].share; i++)
		r -= steps[i].share;
	/* The shares add up to 10000: the last one is what is left. */
	steps[i].run(p, slot);
}

/*
 * Fill a file to max_pending, about halfway through the budget and every
 * %FLOOD_EVERY steps after: 4096 requests, seconds on a debug kernel. The
 * child goes first, so that the file is this process's alone.
 */
static void flood(struct fuzz_proc *p)
{
	int slot = pick_fd(p);

	p->flood_at = p->steps + FLOOD_EVERY;
	if (p->child)
		reap_child(p, true);
	if (slot >= 0)
		call_flood(p, slot);
}

static void fuzz_loop(struct fuzz_proc *p)
{
	struct fuzz_arena *ar = p->ar;
	unsigned int n = 0;

	while (p->budget && !__atomic_load_n(&ar->stop, __ATOMIC_RELAXED)) {
		if (!(++n % 16) && ar->deadline_ns && now_ns() >= ar->deadline_ns)
			__atomic_store_n(&ar->stop, 1, __ATOMIC_RELAXED);
		if (p->child && !(n % 64))
			reap_child(p, false);
		/* Counted in steps, not calls: the same in a rerun. */
		if (!p->is_child && ++p->steps >= p->flood_at)
			flood(p);
		step(p);
	}
}

static void close_all(struct fuzz_proc *p)
{
	int i;

	for (i = 0; i < FUZZ_FDS; i++)
		if (p->fds[i].fd >= 0)
			call_close(p, i);
}

/**
 * fuzz_run() - a fuzzing process: fuzz, then check that every request of
 * its files and rings completed, and close them
 * @p: the process, its budget, seed and stats slot set.
 */
void fuzz_run(struct fuzz_proc *p)
{
	int i;

	for (i = 0; i < FUZZ_FDS; i++)
		p->fds[i].fd = -1;
	p->timer_ns = (1 + rnd_below(p, 8)) * NSEC_PER_MSEC;
	p->flood_at = p->budget / 2 > FLOOD_FIRST ? p->budget / 2 : FLOOD_FIRST;
	if (p->flood_at > FLOOD_EVERY)
		p->flood_at = FLOOD_EVERY;
	arm_timer(p, true);
	uring_start(p, false);
	call_open(p, 0);
	if (rnd_pct(p, 50))
		call_open(p, 1);
	fuzz_loop(p);
	if (p->child)
		reap_child(p, true);
	/* While the files are open: the drain cancels by user_data. */
	uring_finish(p);
	for (i = 0; i < FUZZ_FDS; i++)
		if (p->fds[i].fd >= 0)
			drain_file(p, i);
	close_all(p);
	arm_timer(p, false);
	p->st->signals += __atomic_load_n(&alarms, __ATOMIC_RELAXED);
}
