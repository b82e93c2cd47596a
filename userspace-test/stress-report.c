// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-stress: the results, for people (a summary with tables) and for
 * scripts (one line of JSON, the last of stdout).
 */
#include <stdio.h>

#include "cli.h"
#include "stress.h"

bool stress_passed(const struct stress_stats *s)
{
	return !s->lost && !s->dbl && !s->wrong_result && !s->errors;
}

static double per_sec(u64 n, double secs)
{
	return secs > 0 ? n / secs : 0.0;
}

static double events_per_read(const struct stress_stats *s)
{
	return s->reads ? (double)(s->completed + s->dbl) / s->reads : 0.0;
}

/* The mix as the command line would give it: factorial=1,dma_to_dev=1,... */
static void print_mix(const struct stress_config *cfg)
{
	const char *sep = "";
	unsigned int op;

	for (op = 1; op <= KCANCEL_OP_MAX; op++) {
		if (!cfg->weight[op])
			continue;
		printf("%s%s=%u", sep, op_name(op), cfg->weight[op]);
		sep = ",";
	}
}

static void print_run(const struct stress_result *res)
{
	const struct stress_config *cfg = res->cfg;
	const struct kcancel_info *info = &cfg->info;

	printf(STRESS_PROG ": %s: backend %s, ABI version %u, ", cfg->device,
	       cli_backend_name(info->backend), info->abi_version);
	printf("%u doorbells, DMA size %u, max pending %u\n", info->doorbells,
	       info->dma_size, info->max_pending);
	printf("run: %.3f s, %u threads, depth %u, ", res->seconds,
	       cfg->threads, cfg->depth);
	if (cfg->io_uring)
		printf("io_uring%s, ", cfg->ring_teardown ?
		       " (rings closed with requests in flight)" : "");
	else if (cfg->batch)
		printf("batch %u, ", cfg->batch);
	else
		printf("unbatched, ");
	printf("seed %llu%s\n", cfg->seed,
	       res->interrupted ? " (interrupted)" : "");
	printf("mix: ");
	print_mix(cfg);
	printf("; cancel %u%%, ", cfg->cancel_pct);
	if (cfg->cancel_delay_set)
		printf("%llu-%llu us after the submit", cfg->cancel_delay_min_ns /
		       NSEC_PER_USEC, cfg->cancel_delay_max_ns / NSEC_PER_USEC);
	else
		printf("delays steered");
	printf("; timeout %u%%", cfg->timeout_pct);
	if (cfg->timeout_set)
		printf(", %llu-%llu us", cfg->timeout_min_ns / NSEC_PER_USEC,
		       cfg->timeout_max_ns / NSEC_PER_USEC);
	if (cfg->sync_pct)
		printf("; submit-and-wait %u%%", cfg->sync_pct);
	printf("\n");
	if (cfg->removal || cfg->fail_alloc)
		printf("faults:%s%s\n",
		       cfg->removal ? " the device may be removed" : "",
		       cfg->fail_alloc ? (cfg->removal ? ", allocations fail" :
					  " allocations fail") : "");
}

/* What the faults did, when they were asked for or happened anyway. */
static void print_faults(const struct stress_result *res)
{
	const struct stress_config *cfg = res->cfg;
	const struct stress_stats *s = &res->stats;

	if (cfg->sync_pct)
		printf("submit-and-wait: %llu requests\n", s->sync_submitted);
	if (!cfg->removal && res->removed)
		printf("removal: the device went away (errors without --removal)\n");
	if (cfg->removal) {
		printf("removal: the device %s; %llu -ENODEV events ",
		       res->removed ? "went away" : "stayed", s->enodev);
		printf("(%llu after a cancel that returned 0), ",
		       s->cancel_enodev);
		printf("%llu submits refused with ENODEV, %llu files hung up\n",
		       s->enodev_submits, s->hangups);
	}
	if (cfg->fail_alloc)
		printf("allocations: %llu submits refused with ENOMEM\n",
		       s->enomem);
}

/* What io_uring did: submits, cancels by user_data, the teardown. */
static void print_uring(const struct stress_result *res)
{
	const struct stress_stats *s = &res->stats;

	printf("io_uring: %llu io_uring_submit() calls; cancels by user_data: ",
	       s->uring_submits);
	printf("%llu SQEs, %llu ioctls, %llu found the request completed (ENOENT)\n",
	       s->uring_cancel_sqes, s->uring_cancel_ioctls,
	       s->uring_cancel_enoent);
	if (res->cfg->ring_teardown)
		printf("teardown: %llu requests in flight when the rings closed left their files\n",
		       s->torn_down);
}

static void print_counts(const struct stress_result *res)
{
	const struct stress_stats *s = &res->stats;

	printf("requests: %llu submitted, %llu completed, %llu ok, ",
	       s->submitted, s->completed, s->ok);
	printf("%llu cancelled, %llu timed out, %llu EAGAIN\n", s->cancelled,
	       s->timed_out, s->eagain);
	printf("cancels: %llu random, %llu by the drain (%llu of them won)\n",
	       s->cancels, s->drain_cancels, s->drain_cancel_won);
	printf("DMA reads: %llu checked, %llu of unknown content\n",
	       s->dma_checked, s->dma_unchecked);
	print_faults(res);
	if (res->cfg->io_uring) {
		print_uring(res);
		printf("CQ reaps: %llu that found CQEs", s->reads);
	} else if (res->cfg->batch) {
		printf("batches: %llu KCANCEL_IOC_BATCH calls, %llu of them reaped",
		       s->batches, s->reads);
	} else {
		printf("reads: %llu read() calls", s->reads);
	}
	printf(", %.2f events each; %.0f ops/s\n", events_per_read(s),
	       per_sec(s->completed, res->seconds));
	printf("latency: p50 %.1f us, p99 %.1f us, max %.1f us\n",
	       hist_quantile_us(&res->lat, 0.5),
	       hist_quantile_us(&res->lat, 0.99), hist_max_us(&res->lat));
	printf("cancel to its event: p50 %.1f us, p99 %.1f us, max %.1f us; ",
	       hist_quantile_us(&res->cancel_lat, 0.5),
	       hist_quantile_us(&res->cancel_lat, 0.99),
	       hist_max_us(&res->cancel_lat));
	printf("the cancel ioctl: p50 %.1f us, p99 %.1f us\n",
	       hist_quantile_us(&s->cancel_ioctl, 0.5),
	       hist_quantile_us(&s->cancel_ioctl, 0.99));
}

/* One row per operation; late: planned cancels the event beat. */
static void print_op_table(const struct stress_stats *s)
{
	unsigned int op;

	printf("\n%-12s %9s %9s %9s %9s %9s %9s %9s %6s\n", "op", "submitted",
	       "ok", "cancelled", "timed_out", "c_won", "compl_won", "late",
	       "enoent");
	for (op = 1; op <= KCANCEL_OP_MAX; op++) {
		const struct op_stats *o = &s->op[op];

		printf("%-12s %9llu %9llu %9llu %9llu %9llu %9llu %9llu %6llu\n",
		       op_name(op), o->submitted, o->ok, o->cancelled,
		       o->timed_out, o->cancel_won, o->completion_won,
		       o->cancel_late, o->cancel_enoent);
	}
}

/* Per operation: submit to event, and a won cancel to its event, in us. */
static void print_op_latency(const struct stress_stats *s)
{
	unsigned int op;

	printf("\n%-12s %10s %10s %10s %10s %10s %10s\n", "latency us",
	       "p50", "p99", "max", "cancel_p50", "cancel_p99", "cancel_max");
	for (op = 1; op <= KCANCEL_OP_MAX; op++) {
		const struct op_stats *o = &s->op[op];

		printf("%-12s %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n",
		       op_name(op), hist_quantile_us(&o->lat, 0.5),
		       hist_quantile_us(&o->lat, 0.99), hist_max_us(&o->lat),
		       hist_quantile_us(&o->cancel_lat, 0.5),
		       hist_quantile_us(&o->cancel_lat, 0.99),
		       hist_max_us(&o->cancel_lat));
	}
}

/*
 * The histograms side by side, one row per power of two microseconds, from
 * the first row with a sample to the last.
 */
static void print_hist_table(const struct stress_result *res)
{
	const struct hist *h[] = {
		&res->lat, &res->cancel_lat, &res->stats.cancel_ioctl,
	};
	int first = -1, last = -1, row;
	unsigned int i;
	char range[48];

	for (row = 0; row < HIST_LOG2_ROWS; row++) {
		for (i = 0; i < ARRAY_SIZE(h); i++) {
			if (!h[i]->log2_us[row])
				continue;
			if (first < 0)
				first = row;
			last = row;
		}
	}
	if (first < 0)
		return;
	printf("\n%-21s %12s %15s %12s\n", "latency us", "completion",
	       "cancel->event", "cancel_ioctl");
	for (row = first; row <= last; row++) {
		if (!row)
			snprintf(range, sizeof(range), "< 1");
		else if (row == HIST_LOG2_ROWS - 1)
			snprintf(range, sizeof(range), ">= %llu",
				 1ULL << (row - 1));
		else
			snprintf(range, sizeof(range), "%llu - %llu",
				 1ULL << (row - 1), 1ULL << row);
		printf("%-21s %12llu %15llu %12llu\n", range, h[0]->log2_us[row],
		       h[1]->log2_us[row], h[2]->log2_us[row]);
	}
}

void stress_print_summary(const struct stress_result *res)
{
	const struct stress_stats *s = &res->stats;

	print_run(res);
	print_counts(res);
	print_op_table(s);
	print_op_latency(s);
	print_hist_table(res);
	printf("\nchecks: %llu lost, %llu double, %llu wrong result, %llu errors: %s\n",
	       s->lost, s->dbl, s->wrong_result, s->errors,
	       stress_passed(s) ? "PASS" : "FAIL");
}

/* "name":[min,max] in microseconds, or "name":null when not set. */
static void print_json_range(const char *name, bool set, u64 min_ns,
			     u64 max_ns)
{
	if (set)
		printf("\"%s\":[%.3f,%.3f],", name, (double)min_ns / NSEC_PER_USEC,
		       (double)max_ns / NSEC_PER_USEC);
	else
		printf("\"%s\":null,", name);
}

static void print_json_config(const struct stress_result *res)
{
	const struct stress_config *cfg = res->cfg;
	unsigned int op;

	printf("\"threads\":%u,\"depth\":%u,\"batch\":%u,\"cancel_pct\":%u,\"timeout_pct\":%u,",
	       cfg->threads, cfg->depth, cfg->batch, cfg->cancel_pct,
	       cfg->timeout_pct);
	print_json_range("cancel_delay_us", cfg->cancel_delay_set,
			 cfg->cancel_delay_min_ns, cfg->cancel_delay_max_ns);
	print_json_range("timeout_us", cfg->timeout_set, cfg->timeout_min_ns,
			 cfg->timeout_max_ns);
	printf("\"mix\":{");
	for (op = 1; op <= KCANCEL_OP_MAX; op++)
		printf("%s\"%s\":%u", op > 1 ? "," : "", op_name(op),
		       cfg->weight[op]);
	printf("},\"seed\":%llu,\"backend\":\"%s\",\"abi_version\":%u,",
	       cfg->seed, cli_backend_name(cfg->info.backend),
	       cfg->info.abi_version);
	printf("\"sync_pct\":%u,\"removal\":%s,\"fail_alloc\":%s,",
	       cfg->sync_pct, cfg->removal ? "true" : "false",
	       cfg->fail_alloc ? "true" : "false");
}

static void print_json_latency(const struct stress_result *res)
{
	const struct stress_stats *s = &res->stats;

	printf("\"lat_p50_us\":%.1f,\"lat_p99_us\":%.1f,\"lat_max_us\":%.1f,",
	       hist_quantile_us(&res->lat, 0.5),
	       hist_quantile_us(&res->lat, 0.99), hist_max_us(&res->lat));
	printf("\"cancel_lat_p50_us\":%.1f,\"cancel_lat_p99_us\":%.1f,\"cancel_lat_max_us\":%.1f,",
	       hist_quantile_us(&res->cancel_lat, 0.5),
	       hist_quantile_us(&res->cancel_lat, 0.99),
	       hist_max_us(&res->cancel_lat));
	printf("\"cancel_ioctl_p50_us\":%.1f,\"cancel_ioctl_p99_us\":%.1f,",
	       hist_quantile_us(&s->cancel_ioctl, 0.5),
	       hist_quantile_us(&s->cancel_ioctl, 0.99));
}

static void print_json_op(unsigned int op, const struct op_stats *o)
{
	printf("%s\"%s\":{\"submitted\":%llu,\"ok\":%llu,",
	       op > 1 ? "," : "", op_name(op), o->submitted, o->ok);
	printf("\"cancelled\":%llu,\"timed_out\":%llu,", o->cancelled,
	       o->timed_out);
	printf("\"cancel_won\":%llu,\"completion_won\":%llu,",
	       o->cancel_won, o->completion_won);
	printf("\"cancel_late\":%llu,\"cancel_enoent\":%llu,",
	       o->cancel_late, o->cancel_enoent);
	printf("\"sync\":%llu,\"enodev\":%llu,", o->sync, o->enodev);
	printf("\"lat_p50_us\":%.1f,\"lat_p99_us\":%.1f,",
	       hist_quantile_us(&o->lat, 0.5), hist_quantile_us(&o->lat, 0.99));
	printf("\"cancel_lat_p50_us\":%.1f,\"cancel_lat_p99_us\":%.1f}",
	       hist_quantile_us(&o->cancel_lat, 0.5),
	       hist_quantile_us(&o->cancel_lat, 0.99));
}

void stress_print_json(const struct stress_result *res)
{
	const struct stress_stats *s = &res->stats;
	unsigned int op;

	printf("{\"submitted\":%llu,\"completed\":%llu,\"ok\":%llu,",
	       s->submitted, s->completed, s->ok);
	printf("\"cancelled\":%llu,\"timed_out\":%llu,", s->cancelled,
	       s->timed_out);
	printf("\"errors\":%llu,\"lost\":%llu,\"double\":%llu,\"wrong_result\":%llu,",
	       s->errors, s->lost, s->dbl, s->wrong_result);
	printf("\"eagain\":%llu,\"cancels\":%llu,\"drain_cancels\":%llu,\"drain_cancel_won\":%llu,",
	       s->eagain, s->cancels, s->drain_cancels, s->drain_cancel_won);
	printf("\"dma_checked\":%llu,\"dma_unchecked\":%llu,", s->dma_checked,
	       s->dma_unchecked);
	printf("\"sync_submitted\":%llu,\"enodev\":%llu,\"cancel_enodev\":%llu,",
	       s->sync_submitted, s->enodev, s->cancel_enodev);
	printf("\"enodev_submits\":%llu,\"hangups\":%llu,\"removed\":%s,\"enomem\":%llu,",
	       s->enodev_submits, s->hangups, res->removed ? "true" : "false",
	       s->enomem);
	printf("\"reads\":%llu,\"events_per_read\":%.2f,\"batch_calls\":%llu,",
	       s->reads, events_per_read(s), s->batches);
	printf("\"io_uring\":%s,\"ring_teardown\":%s,\"torn_down\":%llu,",
	       res->cfg->io_uring ? "true" : "false",
	       res->cfg->ring_teardown ? "true" : "false", s->torn_down);
	printf("\"uring_submit_calls\":%llu,\"uring_cancel_sqes\":%llu,",
	       s->uring_submits, s->uring_cancel_sqes);
	printf("\"uring_cancel_ioctls\":%llu,\"uring_cancel_enoent\":%llu,",
	       s->uring_cancel_ioctls, s->uring_cancel_enoent);
	printf("\"ops_per_sec\":%.1f,", per_sec(s->completed, res->seconds));
	print_json_latency(res);
	printf("\"seconds\":%.3f,", res->seconds);
	print_json_config(res);
	printf("\"passed\":%s,\"interrupted\":%s,\"ops\":{",
	       stress_passed(s) ? "true" : "false",
	       res->interrupted ? "true" : "false");
	for (op = 1; op <= KCANCEL_OP_MAX; op++)
		print_json_op(op, &s->op[op]);
	printf("}}\n");
}
