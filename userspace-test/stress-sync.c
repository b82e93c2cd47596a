// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-stress: the submit-and-wait threads, and the allocation failures
 * of the threads that submit.
 *
 * With --sync-pct, each worker has a thread of its own that makes its
 * KCANCEL_IOC_SUBMIT_WAIT calls, one at a time, so that the worker never
 * blocks in one: it keeps reaping, cancelling and checking while the call
 * waits. The worker prepares each such request in a slot of its table and
 * queues the slot; the thread submits it on the request's file, waits, and
 * queues the slot back with the call's outcome, writing an eventfd that the
 * worker polls with its files. Only the worker touches its table and its
 * counters: it checks the completion the call wrote back like any event.
 *
 * With --fail-alloc, each thread that submits turns on the kernel's fault
 * injection for itself (/proc/thread-self/make-it-fail) once it is set up,
 * and off again before it exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "stress.h"

int syncer_init(struct syncer *sy, unsigned int cap)
{
	memset(sy, 0, sizeof(*sy));
	sy->efd = -1;
	sy->cap = cap;
	pthread_mutex_init(&sy->lock, NULL);
	pthread_cond_init(&sy->cond, NULL);
	sy->io = calloc(cap, sizeof(*sy->io));
	sy->todo = calloc(cap, sizeof(*sy->todo));
	sy->done = calloc(cap, sizeof(*sy->done));
	sy->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!sy->io || !sy->todo || !sy->done || sy->efd < 0)
		return -1;
	return 0;
}

void syncer_destroy(struct syncer *sy)
{
	if (!sy->cap)
		return;
	free(sy->io);
	free(sy->todo);
	free(sy->done);
	if (sy->efd >= 0)
		close(sy->efd);
	pthread_mutex_destroy(&sy->lock);
	pthread_cond_destroy(&sy->cond);
	memset(sy, 0, sizeof(*sy));
	sy->efd = -1;
}

static void ring_push(unsigned int *ring, unsigned int cap, unsigned int head,
		      unsigned int *len, unsigned int slot)
{
	ring[(head + *len) % cap] = slot;
	(*len)++;
}

static unsigned int ring_pop(const unsigned int *ring, unsigned int cap,
			     unsigned int *head, unsigned int *len)
{
	unsigned int slot = ring[*head];

	*head = (*head + 1) % cap;
	(*len)--;
	return slot;
}

/* Queue @s, prepared in @slot of the worker's table, for the thread. */
void syncer_push(struct syncer *sy, unsigned int slot, int fd,
		 const struct kcancel_submit *s)
{
	struct sync_io *io = &sy->io[slot];

	pthread_mutex_lock(&sy->lock);
	memset(io, 0, sizeof(*io));
	io->sw.req = *s;
	io->fd = fd;
	io->state = SYNC_QUEUED;
	ring_push(sy->todo, sy->cap, sy->todo_head, &sy->todo_len, slot);
	pthread_cond_signal(&sy->cond);
	pthread_mutex_unlock(&sy->lock);
}

/*
 * Take back a slot whose call returned; false if there is none. Its
 * &sync_io is the worker's until it queues the slot again.
 */
bool syncer_pop_done(struct syncer *sy, unsigned int *slot)
{
	bool any;

	pthread_mutex_lock(&sy->lock);
	any = sy->done_len;
	if (any) {
		*slot = ring_pop(sy->done, sy->cap, &sy->done_head,
				 &sy->done_len);
		sy->io[*slot].state = SYNC_IDLE;
	}
	pthread_mutex_unlock(&sy->lock);
	return any;
}

/* From now on, requests not yet submitted come back as %SYNC_DROPPED. */
void syncer_drop(struct syncer *sy)
{
	pthread_mutex_lock(&sy->lock);
	sy->drop = true;
	pthread_mutex_unlock(&sy->lock);
}

/* Let the thread exit once it has returned what it holds. */
void syncer_quit(struct syncer *sy)
{
	pthread_mutex_lock(&sy->lock);
	sy->drop = true;
	sy->quit = true;
	pthread_cond_signal(&sy->cond);
	pthread_mutex_unlock(&sy->lock);
}

/* How many slots are in @state. */
unsigned int syncer_count(struct syncer *sy, enum sync_state state)
{
	unsigned int i, n = 0;

	pthread_mutex_lock(&sy->lock);
	for (i = 0; i < sy->cap; i++)
		n += sy->io[i].state == (int)state;
	pthread_mutex_unlock(&sy->lock);
	return n;
}

/*
 * One call. No signal reaches this thread (the main thread takes them all),
 * so EINTR is not retried: it would mean that the request was cancelled and
 * its completion written back all the same.
 */
static void sync_call(struct sync_io *io)
{
	int rc;

	io->t_submit = now_ns();
	rc = ioctl(io->fd, KCANCEL_IOC_SUBMIT_WAIT, &io->sw);
	io->t_done = now_ns();
	io->rc = rc < 0 ? errno : 0;
}

void *syncer_run(void *arg)
{
	struct worker *w = arg;
	struct syncer *sy = &w->syncer;
	const u64 one = 1;
	ssize_t wrote = 0;
	int fi = -1;

	if (w->sh->cfg.fail_alloc) {
		fi = fail_alloc_begin();
		if (fi < 0) {
			pthread_mutex_lock(&sy->lock);
			sy->setup_err = errno;
			pthread_mutex_unlock(&sy->lock);
		}
	}
	pthread_mutex_lock(&sy->lock);
	for (;;) {
		struct sync_io *io;
		unsigned int slot;

		while (!sy->todo_len && !sy->quit)
			pthread_cond_wait(&sy->cond, &sy->lock);
		if (!sy->todo_len)
			break;
		slot = ring_pop(sy->todo, sy->cap, &sy->todo_head,
				&sy->todo_len);
		io = &sy->io[slot];
		if (sy->drop) {
			io->rc = SYNC_DROPPED;
		} else {
			io->state = SYNC_RUNNING;
			pthread_mutex_unlock(&sy->lock);
			sync_call(io);
			pthread_mutex_lock(&sy->lock);
		}
		io->state = SYNC_DONE;
		ring_push(sy->done, sy->cap, sy->done_head, &sy->done_len, slot);
		/*
		 * A wake-up only: the worker takes slots back at every turn of
		 * its loop, which lasts one tick at most, so a write that
		 * failed would only delay it.
		 */
		wrote = write(sy->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&sy->lock);
	(void)wrote;
	fail_alloc_end(fi);
	return NULL;
}

/*
 * Make the kernel's fault injection (failslab, fail_page_alloc, configured
 * with task-filter=Y) fail the allocations of the calling thread. Returns
 * the open file, for fail_alloc_end(): opening it again would allocate.
 * -1 with errno set if it cannot.
 */
int fail_alloc_begin(void)
{
	int fd = open(MAKE_IT_FAIL, O_WRONLY | O_CLOEXEC);
	int err;

	if (fd < 0)
		return -1;
	if (write(fd, "1", 1) == 1)
		return fd;
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* Let the thread allocate again, so that its exit does not fail. */
void fail_alloc_end(int fd)
{
	if (fd < 0)
		return;
	if (pwrite(fd, "0", 1, 0) != 1)
		diag_print("cannot turn off " MAKE_IT_FAIL "\n", 2);
	close(fd);
}
