// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-stress: a thread's requests in flight.
 *
 * Events arrive in completion order, so they are matched to requests by id,
 * through an open-addressing hash. Cancels are fired in deadline order from
 * a binary min-heap whose entries know their place, so that a request that
 * completes before its cancel is due leaves the heap at once: a cancel is
 * never issued for an id whose event was reaped.
 */
#include <stdlib.h>

#include "stress.h"

int reqtab_init(struct reqtab *t, unsigned int cap)
{
	unsigned int i, size = 16;

	while (size < 2 * cap)
		size *= 2;
	t->cap = cap;
	t->used = 0;
	t->slots = calloc(cap, sizeof(*t->slots));
	t->free = calloc(cap, sizeof(*t->free));
	t->index = calloc(size, sizeof(*t->index));
	t->heap = calloc(cap, sizeof(*t->heap));
	t->index_mask = size - 1;
	t->heap_len = 0;
	if (!t->slots || !t->free || !t->index || !t->heap) {
		reqtab_destroy(t);
		return -1;
	}
	/* Hand out low slots first: it keeps the working set small. */
	for (i = 0; i < cap; i++)
		t->free[i] = cap - 1 - i;
	return 0;
}

void reqtab_destroy(struct reqtab *t)
{
	free(t->slots);
	free(t->free);
	free(t->index);
	free(t->heap);
	t->slots = NULL;
	t->free = NULL;
	t->index = NULL;
	t->heap = NULL;
}

static unsigned int reqtab_hash(const struct reqtab *t, u64 id)
{
	return ((id * 0x9e3779b97f4a7c15ULL) >> 32) & t->index_mask;
}

/* A free request, not yet findable; NULL if all @cap are in flight. */
struct req *reqtab_alloc(struct reqtab *t)
{
	struct req *r;
	unsigned int slot;

	if (t->used == t->cap)
		return NULL;
	slot = t->free[t->cap - 1 - t->used];
	t->used++;
	r = &t->slots[slot];
	*r = (struct req){ .slot = slot, .heap_idx = -1 };
	return r;
}

/* Make @r findable by its id, once the submit has given it one. */
void reqtab_insert(struct reqtab *t, struct req *r)
{
	unsigned int i = reqtab_hash(t, r->id);

	while (t->index[i])
		i = (i + 1) & t->index_mask;
	t->index[i] = r->slot + 1;
}

struct req *reqtab_find(const struct reqtab *t, u64 id)
{
	unsigned int i = reqtab_hash(t, id);

	for (; t->index[i]; i = (i + 1) & t->index_mask) {
		struct req *r = &t->slots[t->index[i] - 1];

		if (r->id == id)
			return r;
	}
	return NULL;
}

/*
 * Remove the index entry at @hole and shift back the entries of its probe
 * run that would no longer be found, so lookups need no tombstones.
 */
static void reqtab_unindex(struct reqtab *t, unsigned int hole)
{
	unsigned int i = hole, home;

	for (;;) {
		i = (i + 1) & t->index_mask;
		if (!t->index[i])
			break;
		home = reqtab_hash(t, t->slots[t->index[i] - 1].id);
		/* Leave the entry if its home lies in (hole, i], cyclically. */
		if (((i - home) & t->index_mask) < ((i - hole) & t->index_mask))
			continue;
		t->index[hole] = t->index[i];
		hole = i;
	}
	t->index[hole] = 0;
}

/*
 * Forget @r: out of the index (if it was inserted), out of the cancel heap,
 * and its slot back on the free stack.
 */
void reqtab_release(struct reqtab *t, struct req *r)
{
	unsigned int i = reqtab_hash(t, r->id);

	for (; t->index[i]; i = (i + 1) & t->index_mask) {
		if (t->index[i] == (unsigned int)r->slot + 1) {
			reqtab_unindex(t, i);
			break;
		}
	}
	if (r->heap_idx >= 0)
		cancelq_remove(t, r);
	t->used--;
	t->free[t->cap - 1 - t->used] = r->slot;
}

static bool cancelq_before(const struct reqtab *t, unsigned int a,
			   unsigned int b)
{
	return t->slots[t->heap[a]].cancel_at < t->slots[t->heap[b]].cancel_at;
}

static void cancelq_swap(struct reqtab *t, unsigned int a, unsigned int b)
{
	unsigned int s = t->heap[a];

	t->heap[a] = t->heap[b];
	t->heap[b] = s;
	t->slots[t->heap[a]].heap_idx = a;
	t->slots[t->heap[b]].heap_idx = b;
}

static void cancelq_up(struct reqtab *t, unsigned int i)
{
	while (i && cancelq_before(t, i, (i - 1) / 2)) {
		cancelq_swap(t, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void cancelq_down(struct reqtab *t, unsigned int i)
{
	for (;;) {
		unsigned int l = 2 * i + 1, m = i;

		if (l < t->heap_len && cancelq_before(t, l, m))
			m = l;
		if (l + 1 < t->heap_len && cancelq_before(t, l + 1, m))
			m = l + 1;
		if (m == i)
			return;
		cancelq_swap(t, i, m);
		i = m;
	}
}

/* Plan the cancel of @r at @r->cancel_at. */
void cancelq_push(struct reqtab *t, struct req *r)
{
	unsigned int i = t->heap_len++;

	t->heap[i] = r->slot;
	r->heap_idx = i;
	cancelq_up(t, i);
}

void cancelq_remove(struct reqtab *t, struct req *r)
{
	unsigned int i = r->heap_idx, last = --t->heap_len;

	r->heap_idx = -1;
	if (i == last)
		return;
	t->heap[i] = t->heap[last];
	t->slots[t->heap[i]].heap_idx = i;
	cancelq_up(t, i);
	cancelq_down(t, t->slots[t->heap[i]].heap_idx);
}

/* The request whose cancel is due first, or NULL. */
struct req *cancelq_first(const struct reqtab *t)
{
	return t->heap_len ? &t->slots[t->heap[0]] : NULL;
}
