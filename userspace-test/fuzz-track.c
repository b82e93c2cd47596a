// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-fuzz: the files and the requests of the run, shared by all its
 * processes, and the checks of every event against its request.
 *
 * A request enters the table, keyed by its unique tag, before its submit is
 * issued: any process that shares the file may reap its event before the
 * submit returns. It leaves when its event is reaped, or when the last
 * descriptor of its file is closed (close() cancels and drains what is
 * left, and no event of that file can come after).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"

static const u64 factorials[KCANCEL_FACTORIAL_MAX + 1] = {
	1, 1, 2, 6, 24, 120, 720, 5040, 40320, 362880, 3628800, 39916800,
	479001600,
};

/*
 * A spinlock that yields: the processes outnumber the CPUs, and one may be
 * preempted while it holds the lock. Critical sections are short.
 */
void arena_lock(struct fuzz_arena *ar)
{
	unsigned int spins = 0;

	while (__atomic_exchange_n(&ar->lock, 1, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&ar->lock, __ATOMIC_RELAXED)) {
			if (++spins % 64 == 0)
				sched_yield();
		}
	}
}

void arena_unlock(struct fuzz_arena *ar)
{
	__atomic_store_n(&ar->lock, 0, __ATOMIC_RELEASE);
}

/* A stats slot for a new process, zeroed; -1 if all are taken. */
int slot_alloc(struct fuzz_arena *ar)
{
	int i, slot = -1;

	arena_lock(ar);
	for (i = 0; i < FUZZ_MAX_SLOTS; i++) {
		if (!ar->slot_used[i]) {
			ar->slot_used[i] = true;
			memset(&ar->stats[i], 0, sizeof(ar->stats[i]));
			slot = i;
			break;
		}
	}
	arena_unlock(ar);
	return slot;
}

void slot_free(struct fuzz_arena *ar, int slot)
{
	arena_lock(ar);
	ar->slot_used[slot] = false;
	arena_unlock(ar);
}

/* A file entry for a file just opened, with one reference; -1 if none. */
int file_alloc(struct fuzz_arena *ar)
{
	int i, file = -1;

	arena_lock(ar);
	for (i = 0; i < FUZZ_MAX_FILES; i++) {
		if (!ar->files[i].serial) {
			ar->files[i].serial = ++ar->next_serial;
			ar->files[i].refs = 1;
			ar->files[i].live = 0;
			ar->files[i].nonblock = false;
			ar->files[i].uring = 0;
			ar->files[i].rc_begun = 0;
			ar->files[i].rc_won = 0;
			ar->files[i].rc_done = 0;
			file = i;
			break;
		}
	}
	arena_unlock(ar);
	return file;
}

void file_get(struct fuzz_arena *ar, int file)
{
	arena_lock(ar);
	ar->files[file].refs++;
	arena_unlock(ar);
}

/* Drop a reference; true if it was the last one: see file_purge(). */
bool file_put(struct fuzz_arena *ar, int file)
{
	bool last;

	arena_lock(ar);
	last = !--ar->files[file].refs;
	arena_unlock(ar);
	return last;
}

/* Does another process hold a descriptor of @file? */
bool file_shared(const struct fuzz_proc *p, int file)
{
	int i, mine = 0;

	for (i = 0; i < FUZZ_FDS; i++)
		if (p->fds[i].fd >= 0 && p->fds[i].file == file)
			mine++;
	return __atomic_load_n(&p->ar->files[file].refs, __ATOMIC_RELAXED) >
	       mine;
}

static unsigned int rec_hash(u64 tag)
{
	return (tag * 0x9e3779b97f4a7c15ULL) >> (64 - FUZZ_REC_BITS);
}

/* The request of @tag, or NULL. Called with the arena locked. */
struct fuzz_rec *rec_find(struct fuzz_arena *ar, u64 tag)
{
	unsigned int i;

	if (!tag)
		return NULL;
	for (i = rec_hash(tag); ar->recs[i].tag; i = (i + 1) % FUZZ_RECS)
		if (ar->recs[i].tag == tag)
			return &ar->recs[i];
	return NULL;
}

/*
 * A new entry for @tag, zeroed but for the tag; NULL when the table is half
 * full, to keep the probes short. Called with the arena locked.
 */
struct fuzz_rec *rec_insert(struct fuzz_arena *ar, u64 tag)
{
	unsigned int i;

	if (ar->nrecs >= FUZZ_RECS / 2)
		return NULL;
	for (i = rec_hash(tag); ar->recs[i].tag; i = (i + 1) % FUZZ_RECS)
		;
	memset(&ar->recs[i], 0, sizeof(ar->recs[i]));
	ar->recs[i].tag = tag;
	ar->nrecs++;
	return &ar->recs[i];
}

/*
 * Remove an entry, shifting back the ones after it that would no longer be
 * found (linear probing needs no tombstones). Called with the arena locked.
 */
void rec_remove(struct fuzz_arena *ar, struct fuzz_rec *r)
{
	unsigned int hole = r - ar->recs, i = hole, home;

	for (;;) {
		i = (i + 1) % FUZZ_RECS;
		if (!ar->recs[i].tag)
			break;
		home = rec_hash(ar->recs[i].tag);
		/* Move it if its home is not in (hole, i], cyclically. */
		if ((i > hole && (home <= hole || home > i)) ||
		    (i < hole && home <= hole && home > i)) {
			ar->recs[hole] = ar->recs[i];
			hole = i;
		}
	}
	ar->recs[hole].tag = 0;
	ar->nrecs--;
}

/*
 * The last descriptor of @file was closed: its requests were cancelled and
 * drained by the driver, and their events are gone with it.
 */
void file_purge(struct fuzz_proc *p, int file)
{
	struct fuzz_arena *ar = p->ar;
	u32 serial = ar->files[file].serial;
	unsigned int i = 0;

	arena_lock(ar);
	/* Every request of the file left is counted live: none, no scan. */
	while (ar->files[file].live > 0 && i < FUZZ_RECS) {
		if (ar->recs[i].tag && ar->recs[i].serial == serial) {
			if (!(ar->recs[i].flags & REC_SYNC)) {
				p->st->closed_unreaped++;
				ar->files[file].live--;
			}
			rec_remove(ar, &ar->recs[i]);
			/* Something else may have moved here: look again. */
			continue;
		}
		i++;
	}
	ar->files[file].serial = 0;
	arena_unlock(ar);
}

/* Remember the highest id seen, to make up ids never issued. */
void note_id(struct fuzz_proc *p, u64 id)
{
	u64 old = __atomic_load_n(&p->ar->max_id, __ATOMIC_RELAXED);

	while (id > old &&
	       !__atomic_compare_exchange_n(&p->ar->max_id, &old, id, true,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static void remember(struct fuzz_proc *p, u64 id, u64 tag, u32 serial)
{
	struct fuzz_known *k = &p->known[p->nknown++ % FUZZ_RING];

	k->id = id;
	k->tag = tag;
	k->serial = serial;
}

/**
 * track_submitted() - the submit of a request entered with rec_insert() has
 * returned
 * @p: the process that submitted it.
 * @tag: its tag.
 * @file: its file.
 * @accepted: the driver took it: it will have an event.
 * @id_known: @id is the id the driver wrote back.
 * @id: its id.
 *
 * Context: the arena not locked. Not for %REC_SYNC requests.
 */
void track_submitted(struct fuzz_proc *p, u64 tag, int file, bool accepted,
		     bool id_known, u64 id)
{
	struct fuzz_arena *ar = p->ar;
	struct fuzz_rec *r;
	u64 ev_id = 0;
	bool reaped;

	arena_lock(ar);
	r = rec_find(ar, tag);
	reaped = r->flags & REC_REAPED;
	if (reaped)
		ev_id = r->id;
	if (reaped || !accepted) {
		rec_remove(ar, r);
	} else {
		r->flags &= ~REC_SUBMITTING;
		if (id_known) {
			r->flags |= REC_ID_KNOWN;
			r->id = id;
		}
		ar->files[file].live++;
	}
	arena_unlock(ar);

	if (accepted)
		p->st->submitted++;
	if (reaped && !accepted) {
		p->st->bad_events++;
		diag(p, "an event (id %llu) for a submit that failed, tag %#llx\n",
		     ev_id, tag);
	} else if (reaped && id_known && ev_id != id) {
		p->st->bad_events++;
		diag(p, "the event of id %llu, tag %#llx, came with id %llu\n",
		     id, tag, ev_id);
	}
	if (accepted && id_known) {
		note_id(p, id);
		remember(p, id, tag, ar->files[file].serial);
	}
}

static const char *rec_desc(const struct fuzz_rec *r, char *buf, size_t size)
{
	snprintf(buf, size, "(request: id %llu op %u arg %llu len %u flags %#x)",
		 r->id, r->op, r->arg, r->len, r->flags);
	return buf;
}

/**
 * op_result() - what a request that completes with status 0 returns
 * @op: its &enum kcancel_op.
 * @arg: its arg.
 * @len: its len.
 *
 * Return: n! for a factorial, arg for a doorbell, len for a DMA.
 */
u64 op_result(u32 op, u64 arg, u32 len)
{
	switch (op) {
	case KCANCEL_OP_FACTORIAL:
		return arg <= KCANCEL_FACTORIAL_MAX ? factorials[arg] : 0;
	case KCANCEL_OP_DOORBELL:
		return arg;
	default:
		return len;
	}
}

/*
 * Check an event against its request; returns a description of what is
 * wrong, or NULL. Called with the arena locked.
 */
static const char *event_mismatch(const struct fuzz_rec *r, u32 serial,
				  const struct kcancel_event *ev,
				  enum fuzz_reap how)
{
	bool sync = r->flags & REC_SYNC, by_submit = how == FR_SUBMIT_WAIT;

	if (r->serial != serial)
		return "is the event of another file";
	if (r->flags & REC_REAPED)
		return "was reaped twice";
	/*
	 * A KCANCEL_IOC_SUBMIT_WAIT that cannot write done back gives the
	 * event to read(): possible while the call is still under way.
	 */
	if (sync != by_submit && !(sync && (r->flags & REC_SUBMITTING)))
		return by_submit ?
		       "is not a KCANCEL_IOC_SUBMIT_WAIT request's" :
		       "is a KCANCEL_IOC_SUBMIT_WAIT request's";
	if ((r->flags & REC_ID_KNOWN) && r->id != ev->id)
		return "has another id than the submit returned";
	if (r->op != ev->op)
		return "has another op than submitted";
	if (!ev->status && ev->result != op_result(r->op, r->arg, r->len))
		return "has the wrong result";
	if (ev->status && ev->result)
		return "has a result with a non-zero status";
	if (ev->status == -ETIMEDOUT && !(r->flags & REC_TIMEOUT))
		return "timed out without a timeout";
	if ((r->flags & REC_CANCEL_WON) && ev->status != -ECANCELED)
		return "is not -ECANCELED after a cancel returned 0";
	return NULL;
}

/**
 * track_event() - check an event reaped from @file and forget its request
 * @p: the process that reaped it.
 * @file: the file it was reaped from.
 * @ev: the event.
 * @how: how it was reaped.
 *
 * Context: the arena not locked.
 */
void track_event(struct fuzz_proc *p, int file, const struct kcancel_event *ev,
		 enum fuzz_reap how)
{
	struct fuzz_arena *ar = p->ar;
	const char *bad = NULL;
	struct fuzz_rec *r, rec;
	char name[32], desc[128];

	p->st->events[how]++;
	p->st->status[ev->status > 0 ? FUZZ_ERR_OTHER : err_slot(-ev->status)]++;
	if (!status_documented(ev->status)) {
		p->st->bad_events++;
		diag(p, "event id %llu op %u: undocumented status %d (%s)\n",
		     ev->id, ev->op, ev->status,
		     err_name(-ev->status, name, sizeof(name)));
	}
	note_id(p, ev->id);

	arena_lock(ar);
	r = rec_find(ar, ev->tag);
	if (r) {
		rec = *r;
		bad = event_mismatch(r, ar->files[file].serial, ev, how);
		if (rec.serial != ar->files[file].serial ||
		    (rec.flags & REC_REAPED) ||
		    ((rec.flags & REC_SYNC) && !(rec.flags & REC_SUBMITTING) &&
		     how != FR_SUBMIT_WAIT)) {
			/* Not this event's to forget: it is wrong anyway. */
		} else if ((rec.flags & REC_SUBMITTING) &&
			   how != FR_SUBMIT_WAIT) {
			/* The submitter checks the id and forgets it. */
			r->flags |= REC_REAPED;
			r->id = ev->id;
		} else {
			if (!(rec.flags & REC_SYNC))
				ar->files[file].live--;
			rec_remove(ar, r);
		}
	}
	arena_unlock(ar);

	if (!r) {
		p->st->bad_events++;
		diag(p, "event id %llu tag %#llx op %u status %d: %s\n",
		     ev->id, ev->tag, ev->op, ev->status,
		     "no request in flight has it (never submitted, or reaped before)");
	} else if (bad) {
		p->st->bad_events++;
		diag(p, "event id %llu tag %#llx op %u status %d result %llu %s %s\n",
		     ev->id, ev->tag, ev->op, ev->status, ev->result, bad,
		     rec_desc(&rec, desc, sizeof(desc)));
	}
}
