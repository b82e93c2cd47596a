/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kcancel software device: the &struct kc_dev backend for machines without
 * the edu device, and for measuring the driver's own cost. Its functions
 * are exported to the KUnit suites only (EXPORT_SYMBOL_IF_KUNIT).
 */
#ifndef _KCANCEL_SIM_H
#define _KCANCEL_SIM_H

#include <kcancel/dev.h>

/* At most this many factorial and DMA operations run at once. */
#define KC_SIM_MAX_PARALLEL	16
/* Doorbells, as on the edu device. */
#define KC_SIM_DOORBELLS	30

/**
 * struct kc_sim_params - how a software device behaves
 * @latency_ns: how long an operation takes, at least.
 * @jitter_ns: up to this much more, drawn at random per operation.
 * @parallel: how many factorial and how many DMA operations run at once,
 *	1 to %KC_SIM_MAX_PARALLEL.
 * @abort: whether a cancel stops an operation in flight (the edu device
 *	cannot); the operation then ends with -ECANCELED and moves no data.
 * @mode: how its cancel callbacks and DPC are serialized.
 */
struct kc_sim_params {
	u64 latency_ns;
	u64 jitter_ns;
	unsigned int parallel;
	bool abort;
	enum kc_sync_mode mode;
};

struct kc_sim;

struct kc_sim *kc_sim_create(const struct kc_sim_params *p, bool chardev);
struct kc_dev *kc_sim_dev(struct kc_sim *sim);
void kc_sim_destroy(struct kc_sim *sim);
void kc_sim_stall(struct kc_sim *sim, bool stall);
int kc_sim_init(void);
void kc_sim_exit(void);

#endif /* _KCANCEL_SIM_H */
