// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-stress: latency histograms.
 *
 * Keeping every sample would cost tens of megabytes in a run of doorbells,
 * which complete in microseconds; a log-linear histogram has a fixed size,
 * merges by addition and still gives any quantile within 1/64 of its value.
 */
#include "stress.h"

/* The bucket of @ns: linear below 64 ns, then 64 per power of two. */
static unsigned int hist_index(u64 ns)
{
	unsigned int exp;

	if (ns < HIST_SUB)
		return ns;
	exp = 63 - __builtin_clzll(ns);
	if (exp > HIST_MAX_EXP)
		return HIST_BUCKETS - 1;
	return HIST_SUB * (exp - HIST_SUB_BITS + 1) +
	       ((ns >> (exp - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* The middle of bucket @i, in nanoseconds. */
static double hist_value(unsigned int i)
{
	unsigned int exp, sub;
	u64 low;

	if (i < HIST_SUB)
		return i;
	exp = i / HIST_SUB + HIST_SUB_BITS - 1;
	sub = i % HIST_SUB;
	low = (u64)(HIST_SUB + sub) << (exp - HIST_SUB_BITS);
	return low + ((u64)1 << (exp - HIST_SUB_BITS)) / 2.0;
}

void hist_add(struct hist *h, u64 ns)
{
	h->bucket[hist_index(ns)]++;
	h->count++;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned int i;

	for (i = 0; i < HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
}

/* The @q quantile (0 < @q <= 1) in microseconds; 0 without samples. */
double hist_quantile_us(const struct hist *h, double q)
{
	u64 rank, seen = 0;
	unsigned int i;

	if (!h->count)
		return 0;
	rank = (u64)(q * h->count);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank)
			return hist_value(i) / NSEC_PER_USEC;
	}
	return hist_value(HIST_BUCKETS - 1) / NSEC_PER_USEC;
}
