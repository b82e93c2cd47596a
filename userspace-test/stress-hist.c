// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-stress: latency histograms.
 *
 * Keeping every sample would cost tens of megabytes in a run of doorbells,
 * which complete in microseconds; a log-linear histogram has a fixed size,
 * merges by addition and still gives any quantile within 1/64 of its value.
 * Beside it, a coarse one counts the samples per power of two microseconds,
 * exactly, for the table the summary prints.
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

/* The row of @ns in &hist.log2_us: 0 below 1 us, k for [2^(k-1), 2^k) us. */
static unsigned int hist_log2_row(u64 ns)
{
	u64 us = ns / NSEC_PER_USEC;
	unsigned int row;

	if (!us)
		return 0;
	row = 64 - __builtin_clzll(us);
	return row < HIST_LOG2_ROWS ? row : HIST_LOG2_ROWS - 1;
}

void hist_add(struct hist *h, u64 ns)
{
	h->bucket[hist_index(ns)]++;
	h->log2_us[hist_log2_row(ns)]++;
	h->count++;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned int i;

	for (i = 0; i < HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	for (i = 0; i < HIST_LOG2_ROWS; i++)
		dst->log2_us[i] += src->log2_us[i];
	dst->count += src->count;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
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

/* The largest sample in microseconds, exactly; 0 without samples. */
double hist_max_us(const struct hist *h)
{
	return (double)h->max_ns / NSEC_PER_USEC;
}
