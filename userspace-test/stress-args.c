// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-stress: the command line.
 *
 * Every number is parsed whole, in its range; a bad flag, a bad number, an
 * unknown operation or options that contradict each other print what was
 * wrong and the usage on stderr, and exit with status 2. --io-uring on a
 * device without io_uring commands exits with %STRESS_EXIT_NO_URING (see
 * kcancel-stress.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "stress.h"

#define MAX_THREADS		512
#define MAX_SECONDS		(365U * 24 * 3600)
#define MAX_DEPTH		65536
#define MAX_BATCH		1024
#define MAX_WEIGHT		1000
#define MAX_DELAY_US		(60ULL * 1000 * 1000)
#define MAX_PROGRESS_MS		3600000

const char cli_prog[] = STRESS_PROG;

void cli_print_help(FILE *f)
{
	fprintf(f,
		"usage: " STRESS_PROG " [OPTION]...\n"
		"Submit, cancel and reap requests of a kcancel device from several threads,\n"
		"and check that each completes exactly once with the right result.\n"
		"\n"
		"Load:\n"
		"  -d, --device PATH       the device (default /dev/kcancel0)\n"
		"  -t, --threads N         worker threads, 1-%u (default 4)\n"
		"  -s, --seconds N         submit for N seconds, 0 for no limit (default 20;\n"
		"                          0 when --requests is given)\n"
		"  -n, --requests N        submit N requests in all and let them finish;\n"
		"                          0 for no limit (default 0). With --seconds too,\n"
		"                          the first limit reached ends the run\n"
		"  -q, --depth N           requests in flight per thread, 1-%u (default 32)\n"
		"  -b, --batch N           submit N requests at once with KCANCEL_IOC_BATCH,\n"
		"                          one call per file that also reaps up to N events\n"
		"                          (and waits for one, bounded by the next cancel,\n"
		"                          when nothing else is to be waited for); 1-%u and\n"
		"                          at most the depth. 0 (default): KCANCEL_IOC_SUBMIT\n"
		"                          whenever a request is done, read() until no event\n"
		"                          is left\n"
		"      --mix OP=W[,...]    weights of the operations, 0-%u: factorial,\n"
		"                          dma_to_dev, dma_from_dev, doorbell, or dma for\n"
		"                          both directions (default: all 1). Not named: 0\n"
		"      --ops OP[,...]      weight 1 to each of factorial, dma, doorbell\n"
		"      --sync-pct P        submit P%% of the requests with\n"
		"                          KCANCEL_IOC_SUBMIT_WAIT, from a second thread\n"
		"                          per worker, and check their completions as\n"
		"                          events (default 0). They are never cancelled\n"
		"\n"
		"io_uring:\n"
		"      --io-uring          submit through an io_uring ring per thread\n"
		"                          (KCANCEL_URING_CMD_SUBMIT), reap the CQEs, and\n"
		"                          cancel by user_data, half with\n"
		"                          KCANCEL_URING_CMD_CANCEL SQEs, half with\n"
		"                          KCANCEL_IOC_CANCEL; not with --batch, --sync-pct\n"
		"                          or --fail-alloc. Exit status %d if the device\n"
		"                          or the kernel has no io_uring commands\n"
		"      --ring-teardown     --io-uring, but end the run by closing each\n"
		"                          ring with its requests in flight, for io_uring\n"
		"                          to cancel; each must then leave its file within\n"
		"                          15 s. Not with --removal\n"
		"\n"
		"Cancels and timeouts:\n"
		"  -c, --cancel-pct P      cancel P%% of the requests (default 30), of those\n"
		"                          submitted with KCANCEL_IOC_SUBMIT\n"
		"      --cancel-delay MIN[-MAX]\n"
		"                          issue each cancel MIN to MAX us after its submit,\n"
		"                          0-%llu (default: delays steered so that about\n"
		"                          half the cancels win, and some cancels issued\n"
		"                          when the request's file turns readable)\n"
		"  -T, --timeout-pct P     give P%% of the requests a timeout (default 5)\n"
		"      --timeout MIN[-MAX] timeouts of MIN to MAX us, 0-%llu, 0 meaning 1 ns\n"
		"                          (default: up to twice the operation's latency)\n"
		"\n"
		"Faults:\n"
		"      --removal           the device may be removed during the run: -ENODEV\n"
		"                          events, ENODEV from a submit, end of file and\n"
		"                          POLLHUP are expected and end the run; each\n"
		"                          request must still get exactly one event\n"
		"      --fail-alloc        each thread that submits sets\n"
		"                          /proc/thread-self/make-it-fail, so that the\n"
		"                          kernel's fault injection (task-filter=Y) fails\n"
		"                          its allocations; ENOMEM from a submit is expected.\n"
		"                          The memory is locked first (mlockall)\n"
		"\n"
		"Output:\n"
		"      --seed N            seed of the random choices (default: the clock)\n"
		"      --progress-ms N     progress every N ms, 0 for none. Default: 1000 ms,\n"
		"                          on a terminal only; when given, also to a pipe,\n"
		"                          a file or a serial console, a line each time\n"
		"      --json              print only the JSON line on stdout, no summary\n"
		"      --quiet             no progress and no summary: only the JSON line\n"
		"  -h, --help              print this and exit\n"
		"\n"
		"stdout ends with one line of JSON with the counters. Exit status: 0 if no\n"
		"request was lost, doubled or wrong and nothing failed, 1 if not, 2 for a\n"
		"bad command line, %d for --io-uring without io_uring commands. SIGINT\n"
		"stops submitting and drains; a second one gives up the drain.\n",
		MAX_THREADS, MAX_DEPTH, MAX_BATCH, MAX_WEIGHT, STRESS_EXIT_NO_URING,
		MAX_DELAY_US, MAX_DELAY_US, STRESS_EXIT_NO_URING);
}

/*
 * @s as MIN or MIN-MAX microseconds, each in [0, %MAX_DELAY_US], MIN <= MAX;
 * stored in nanoseconds.
 */
static void parse_range_us(const char *opt, const char *s, u64 *min_ns,
			   u64 *max_ns)
{
	char *copy = strdup(s), *dash;
	u64 min, max;

	if (!copy) {
		perror(STRESS_PROG);
		exit(1);
	}
	dash = strchr(copy, '-');
	if (dash)
		*dash = '\0';
	if (!*copy || (dash && !dash[1]))
		cli_bad_usage("%s: '%s' is not MIN or MIN-MAX", opt, s);
	min = cli_parse_uint(opt, copy, 0, MAX_DELAY_US);
	max = dash ? cli_parse_uint(opt, dash + 1, 0, MAX_DELAY_US) : min;
	if (min > max)
		cli_bad_usage("%s: '%s': the minimum exceeds the maximum", opt, s);
	*min_ns = min * NSEC_PER_USEC;
	*max_ns = max * NSEC_PER_USEC;
	free(copy);
}

/*
 * Apply the weight @w to the operation @name of a --mix or --ops list:
 * "dma" names both directions. Each operation may be named once.
 */
static void set_weight(struct stress_config *cfg, const char *opt,
		       const char *name, u32 w, bool *named)
{
	u32 ops[2] = { 0, 0 };
	unsigned int i;

	if (!strcmp(name, "dma")) {
		ops[0] = KCANCEL_OP_DMA_TO_DEV;
		ops[1] = KCANCEL_OP_DMA_FROM_DEV;
	} else {
		for (i = 1; i <= KCANCEL_OP_MAX; i++)
			if (!strcmp(name, op_name(i)))
				ops[0] = i;
	}
	if (!ops[0])
		cli_bad_usage("%s: unknown operation '%s'", opt, name);
	for (i = 0; i < 2 && ops[i]; i++) {
		if (named[ops[i]])
			cli_bad_usage("%s: %s is named twice", opt, op_name(ops[i]));
		named[ops[i]] = true;
		cfg->weight[ops[i]] = w;
	}
}

/*
 * A --mix list (NAME=WEIGHT, comma-separated) or, with @with_weights false,
 * an --ops list (NAME, comma-separated, each weight 1).
 */
static void parse_mix(struct stress_config *cfg, const char *opt,
		      const char *list, bool with_weights)
{
	bool named[KCANCEL_OP_MAX + 1] = { false };
	char *copy = strdup(list), *save = NULL, *name, *eq;
	unsigned int op;
	u32 w;

	if (!copy) {
		perror(STRESS_PROG);
		exit(1);
	}
	/* strtok_r() would skip empty names; a typo should not pass. */
	if (!*list || *list == ',' || list[strlen(list) - 1] == ',' ||
	    strstr(list, ",,"))
		cli_bad_usage("%s: '%s' has an empty name", opt, list);
	memset(cfg->weight, 0, sizeof(cfg->weight));
	for (name = strtok_r(copy, ",", &save); name;
	     name = strtok_r(NULL, ",", &save)) {
		eq = strchr(name, '=');
		if (with_weights && !eq)
			cli_bad_usage("%s: '%s' is not OP=WEIGHT", opt, name);
		if (!with_weights && eq)
			cli_bad_usage("%s: '%s': weights go with --mix", opt, name);
		w = 1;
		if (eq) {
			*eq = '\0';
			w = cli_parse_uint(opt, eq + 1, 0, MAX_WEIGHT);
		}
		set_weight(cfg, opt, name, w, named);
	}
	free(copy);
	for (op = 1; op <= KCANCEL_OP_MAX; op++)
		if (cfg->weight[op])
			return;
	cli_bad_usage("%s: '%s' gives no operation a weight", opt, list);
}

enum {
	OPT_OPS = 256,
	OPT_MIX,
	OPT_CANCEL_DELAY,
	OPT_TIMEOUT,
	OPT_SEED,
	OPT_PROGRESS_MS,
	OPT_JSON,
	OPT_QUIET,
	OPT_SYNC_PCT,
	OPT_REMOVAL,
	OPT_FAIL_ALLOC,
	OPT_IO_URING,
	OPT_RING_TEARDOWN,
};

static const struct option long_options[] = {
	{ "device", required_argument, NULL, 'd' },
	{ "threads", required_argument, NULL, 't' },
	{ "seconds", required_argument, NULL, 's' },
	{ "requests", required_argument, NULL, 'n' },
	{ "depth", required_argument, NULL, 'q' },
	{ "batch", required_argument, NULL, 'b' },
	{ "mix", required_argument, NULL, OPT_MIX },
	{ "ops", required_argument, NULL, OPT_OPS },
	{ "cancel-pct", required_argument, NULL, 'c' },
	{ "cancel-delay", required_argument, NULL, OPT_CANCEL_DELAY },
	{ "timeout-pct", required_argument, NULL, 'T' },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "sync-pct", required_argument, NULL, OPT_SYNC_PCT },
	{ "removal", no_argument, NULL, OPT_REMOVAL },
	{ "fail-alloc", no_argument, NULL, OPT_FAIL_ALLOC },
	{ "io-uring", no_argument, NULL, OPT_IO_URING },
	{ "ring-teardown", no_argument, NULL, OPT_RING_TEARDOWN },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "progress-ms", required_argument, NULL, OPT_PROGRESS_MS },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void set_defaults(struct stress_config *cfg)
{
	unsigned int op;

	memset(cfg, 0, sizeof(*cfg));
	cfg->device = "/dev/kcancel0";
	cfg->threads = 4;
	cfg->seconds = 20;
	cfg->cancel_pct = 30;
	cfg->timeout_pct = 5;
	cfg->depth = 32;
	cfg->progress_ms = 1000;
	for (op = 1; op <= KCANCEL_OP_MAX; op++)
		cfg->weight[op] = 1;
	/* Different runs, different mixes; the seed is printed to redo one. */
	cfg->seed = (now_ns() ^ ((u64)getpid() << 32)) & 0xffffffffULL;
}

/*
 * What parse_args() remembers of the command line to check, at the end,
 * the options against each other.
 */
struct args_seen {
	bool seconds;
	bool requests;
	const char *mix;
};

/*
 * What --io-uring does not combine with: a batch (io_uring batches by
 * itself), submit-and-wait (its thread would need the worker's poll()),
 * failing allocations (io_uring's own would fail too), and with
 * --ring-teardown the removal, which wants every request's end seen.
 */
static void check_uring_args(const struct stress_config *cfg)
{
	const char *opt = cfg->ring_teardown ? "--ring-teardown" : "--io-uring";

	if (!cfg->io_uring)
		return;
	if (cfg->batch)
		cli_bad_usage("%s with --batch: io_uring batches by itself", opt);
	if (cfg->sync_pct)
		cli_bad_usage("%s with --sync-pct: not supported", opt);
	if (cfg->fail_alloc)
		cli_bad_usage("%s with --fail-alloc: not supported", opt);
	if (cfg->ring_teardown && cfg->removal)
		cli_bad_usage("--ring-teardown with --removal: not supported");
}

/* Options that contradict each other, once all are known. */
static void check_args(struct stress_config *cfg, const struct args_seen *seen)
{
	if (seen->requests && !seen->seconds)
		cfg->seconds = 0;
	if (cfg->batch > cfg->depth)
		cli_bad_usage("--batch %u exceeds --depth %u", cfg->batch,
			      cfg->depth);
	if (cfg->quiet && cfg->progress_set && cfg->progress_ms)
		cli_bad_usage("--quiet and --progress-ms %u contradict each other",
			      cfg->progress_ms);
	if (cfg->cancel_delay_set && !cfg->cancel_pct)
		cli_bad_usage("--cancel-delay with --cancel-pct 0: nothing to delay");
	if (cfg->cancel_delay_set && cfg->sync_pct == 100)
		cli_bad_usage("--cancel-delay with --sync-pct 100: no request is cancelled");
	if (cfg->timeout_set && !cfg->timeout_pct)
		cli_bad_usage("--timeout with --timeout-pct 0: no request gets one");
	if (cfg->timeout_set && !cfg->timeout_min_ns)
		cfg->timeout_min_ns = 1;
	if (cfg->timeout_max_ns < cfg->timeout_min_ns)
		cfg->timeout_max_ns = cfg->timeout_min_ns;
	check_uring_args(cfg);
}

/* One option; @seen remembers what check_args() needs. */
static void parse_opt(struct stress_config *cfg, int c, struct args_seen *seen)
{
	switch (c) {
	case 'd':
		if (!*optarg)
			cli_bad_usage("--device: empty path");
		cfg->device = optarg;
		break;
	case 't':
		cfg->threads = cli_parse_uint("--threads", optarg, 1, MAX_THREADS);
		break;
	case 's':
		cfg->seconds = cli_parse_uint("--seconds", optarg, 0, MAX_SECONDS);
		seen->seconds = true;
		break;
	case 'n':
		cfg->requests = cli_parse_uint("--requests", optarg, 0, ULLONG_MAX);
		seen->requests = true;
		break;
	case 'q':
		cfg->depth = cli_parse_uint("--depth", optarg, 1, MAX_DEPTH);
		break;
	case 'b':
		cfg->batch = cli_parse_uint("--batch", optarg, 0, MAX_BATCH);
		break;
	case OPT_MIX:
	case OPT_OPS:
		if (seen->mix)
			cli_bad_usage("%s: the mix is set already, by %s",
				      c == OPT_MIX ? "--mix" : "--ops", seen->mix);
		seen->mix = c == OPT_MIX ? "--mix" : "--ops";
		parse_mix(cfg, seen->mix, optarg, c == OPT_MIX);
		break;
	case 'c':
		cfg->cancel_pct = cli_parse_uint("--cancel-pct", optarg, 0, 100);
		break;
	case OPT_CANCEL_DELAY:
		parse_range_us("--cancel-delay", optarg,
			       &cfg->cancel_delay_min_ns,
			       &cfg->cancel_delay_max_ns);
		cfg->cancel_delay_set = true;
		break;
	case 'T':
		cfg->timeout_pct = cli_parse_uint("--timeout-pct", optarg, 0, 100);
		break;
	case OPT_TIMEOUT:
		parse_range_us("--timeout", optarg, &cfg->timeout_min_ns,
			       &cfg->timeout_max_ns);
		cfg->timeout_set = true;
		break;
	case OPT_SYNC_PCT:
		cfg->sync_pct = cli_parse_uint("--sync-pct", optarg, 0, 100);
		break;
	case OPT_REMOVAL:
		cfg->removal = true;
		break;
	case OPT_FAIL_ALLOC:
		cfg->fail_alloc = true;
		break;
	case OPT_IO_URING:
		cfg->io_uring = true;
		break;
	case OPT_RING_TEARDOWN:
		cfg->io_uring = true;
		cfg->ring_teardown = true;
		break;
	case OPT_SEED:
		cfg->seed = cli_parse_uint("--seed", optarg, 0, ULLONG_MAX);
		break;
	case OPT_PROGRESS_MS:
		cfg->progress_ms = cli_parse_uint("--progress-ms", optarg, 0,
						  MAX_PROGRESS_MS);
		cfg->progress_set = true;
		break;
	case OPT_JSON:
		cfg->json = true;
		break;
	case OPT_QUIET:
		cfg->quiet = true;
		break;
	case 'h':
		cli_print_help(stdout);
		exit(0);
	default:
		/* getopt_long() has said what was wrong. */
		fputc('\n', stderr);
		cli_print_help(stderr);
		exit(2);
	}
}

void stress_parse_args(struct stress_config *cfg, int argc, char **argv)
{
	struct args_seen seen = { false };
	int c;

	set_defaults(cfg);
	while ((c = getopt_long(argc, argv, "d:t:s:n:q:b:c:T:h", long_options,
				NULL)) != -1)
		parse_opt(cfg, c, &seen);
	if (optind < argc)
		cli_bad_usage("unexpected argument '%s'", argv[optind]);
	check_args(cfg, &seen);
}

/*
 * Whether the device can serve the mix: DMA needs a region of
 * %STRESS_DMA_MIN_REGION bytes per thread. A usage error if not.
 */
void stress_check_device(const struct stress_config *cfg)
{
	u32 per_thread = cfg->info.dma_size / cfg->threads;

	if (!cfg->weight[KCANCEL_OP_DMA_TO_DEV] &&
	    !cfg->weight[KCANCEL_OP_DMA_FROM_DEV])
		return;
	if (per_thread < STRESS_DMA_MIN_REGION)
		cli_bad_usage("%s: DMA needs %u bytes per thread: at most %u threads with DMA",
			      cfg->device, STRESS_DMA_MIN_REGION,
			  cfg->info.dma_size / STRESS_DMA_MIN_REGION);
}
