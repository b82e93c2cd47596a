// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-stress: what a thread's region of the device memory may hold.
 *
 * A thread keeps at most one DMA request in flight, in its own region, so
 * the region changes only by its writes. A write that completed moved its
 * data; one that was cancelled or timed out may or may not have: the edu
 * device cannot abort a transfer it has started. So the model is a small
 * set of candidate contents, one of which the region holds, each with the
 * bytes it knows. A read that completed must match one candidate on every
 * known byte; it removes the candidates it contradicts and teaches the
 * others the bytes they did not know.
 */
#include <stdlib.h>
#include <string.h>

#include "stress.h"

int dma_region_init(struct dma_region *d, u32 base, u32 size)
{
	unsigned int i;

	memset(d, 0, sizeof(*d));
	d->base = base;
	d->size = size;
	d->ncand = 1;
	if (!size)
		return 0;
	d->wbuf = malloc(size);
	d->rbuf = malloc(size);
	if (!d->wbuf || !d->rbuf)
		return -1;
	for (i = 0; i < 2 * STRESS_DMA_MAX_CAND; i++) {
		d->cand[i].data = calloc(1, size);
		d->cand[i].known = calloc(1, size);
		if (!d->cand[i].data || !d->cand[i].known)
			return -1;
	}
	return 0;
}

void dma_region_destroy(struct dma_region *d)
{
	unsigned int i;

	for (i = 0; i < 2 * STRESS_DMA_MAX_CAND; i++) {
		free(d->cand[i].data);
		free(d->cand[i].known);
	}
	free(d->wbuf);
	free(d->rbuf);
	memset(d, 0, sizeof(*d));
}

static void dma_image_copy(const struct dma_region *d, struct dma_image *dst,
			   const struct dma_image *src)
{
	memcpy(dst->data, src->data, d->size);
	memcpy(dst->known, src->known, d->size);
}

static bool dma_image_equal(const struct dma_region *d,
			    const struct dma_image *a,
			    const struct dma_image *b)
{
	return !memcmp(a->data, b->data, d->size) &&
	       !memcmp(a->known, b->known, d->size);
}

/* Drop candidate @i, keeping the buffers for reuse. */
static void dma_drop(struct dma_region *d, unsigned int i)
{
	struct dma_image gone = d->cand[i];

	d->ncand--;
	d->cand[i] = d->cand[d->ncand];
	d->cand[d->ncand] = gone;
}

static void dma_dedup(struct dma_region *d)
{
	unsigned int i, j;

	for (i = 0; i < d->ncand; i++) {
		for (j = i + 1; j < d->ncand; j++) {
			if (dma_image_equal(d, &d->cand[i], &d->cand[j]))
				dma_drop(d, j--);
		}
	}
}

/* Forget everything: the next completed write starts over. */
static void dma_forget(struct dma_region *d)
{
	d->ncand = 1;
	memset(d->cand[0].known, 0, d->size);
}

static void dma_apply(struct dma_image *c, u32 off, u32 len, const u8 *data)
{
	memcpy(c->data + off, data, len);
	memset(c->known + off, 1, len);
}

/*
 * The write of @d->wbuf to [@off, @off + @len) of the region ended: @landed
 * if it completed, else it may or may not have moved its data.
 */
void dma_region_write(struct dma_region *d, u32 off, u32 len, bool landed)
{
	unsigned int i, n = d->ncand;

	for (i = 0; i < n; i++) {
		if (!landed) {
			dma_image_copy(d, &d->cand[d->ncand], &d->cand[i]);
			d->ncand++;
		}
		dma_apply(&d->cand[i], off, len, d->wbuf);
	}
	dma_dedup(d);
	if (d->ncand > STRESS_DMA_MAX_CAND)
		dma_forget(d);
}

/*
 * Fill [0, @len) of the read buffer with what candidate 0 does not expect
 * there, so that a read that reports success without moving the data is
 * caught whenever the content is known.
 */
void dma_region_poison(struct dma_region *d, u32 off, u32 len)
{
	u32 i;

	for (i = 0; i < len; i++)
		d->rbuf[i] = ~d->cand[0].data[off + i];
}

/* Whether candidate @c agrees with @data on [@off, @off + @len). */
static bool dma_matches(const struct dma_image *c, u32 off, u32 len,
			const u8 *data, bool *checked)
{
	u32 i;

	for (i = off; i < off + len; i++) {
		if (!c->known[i])
			continue;
		*checked = true;
		if (c->data[i] != data[i - off])
			return false;
	}
	return true;
}

/* The first byte where @c contradicts @data, for the diagnostic. */
static void dma_first_diff(const struct dma_image *c, u32 off, u32 len,
			   const u8 *data, u32 *bad_off, u8 *want)
{
	u32 i;

	for (i = off; i < off + len; i++) {
		if (c->known[i] && c->data[i] != data[i - off]) {
			*bad_off = i;
			*want = c->data[i];
			return;
		}
	}
}

/*
 * A read of [@off, @off + @len) of the region completed with @data. On a
 * mismatch, @bad_off and @want tell the first wrong byte against the first
 * candidate, and the model forgets everything: whether the memory or the
 * read was wrong, one error is reported once.
 */
enum dma_check dma_region_read(struct dma_region *d, u32 off, u32 len,
			       const u8 *data, u32 *bad_off, u8 *want)
{
	bool checked = false;
	unsigned int i;

	dma_first_diff(&d->cand[0], off, len, data, bad_off, want);
	for (i = 0; i < d->ncand; i++) {
		if (!dma_matches(&d->cand[i], off, len, data, &checked))
			dma_drop(d, i--);
	}
	if (!d->ncand) {
		dma_forget(d);
		return DMA_MISMATCH;
	}
	for (i = 0; i < d->ncand; i++)
		dma_apply(&d->cand[i], off, len, data);
	dma_dedup(d);
	return checked ? DMA_MATCH : DMA_UNCHECKED;
}
