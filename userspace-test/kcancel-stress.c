// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-stress: submit, cancel and reap requests of a kcancel device from
 * several threads, and check that every request completed exactly once,
 * with the right result.
 *
 * The main thread parses the options, opens one file per worker (ids belong
 * to their file), starts the workers, then only watches: the clock, the
 * signals and the progress line. At the end it prints a summary and, as the
 * last line of stdout, one JSON object for scripts. The exit status is 0 if
 * no request was lost, doubled or wrong and nothing failed, 1 otherwise, and
 * 2 for a bad command line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "stress.h"

#define PROG			"kcancel-stress"
/* How often the main thread looks at the clock and the workers. */
#define MONITOR_TICK_NS		(50 * NSEC_PER_MSEC)
/* Diagnostic lines printed before the rest are only counted. */
#define DIAG_BUDGET		20

#define MAX_THREADS		512
#define MAX_SECONDS		(365U * 24 * 3600)
#define MAX_DEPTH		65536
#define MAX_PROGRESS_MS		3600000

static const char *const op_names[KCANCEL_OP_MAX + 1] = {
	[KCANCEL_OP_FACTORIAL] = "factorial",
	[KCANCEL_OP_DMA_TO_DEV] = "dma_to_dev",
	[KCANCEL_OP_DMA_FROM_DEV] = "dma_from_dev",
	[KCANCEL_OP_DOORBELL] = "doorbell",
};

/**
 * struct run - the main thread's view of the run
 * @sh: what the workers share.
 * @workers: one per thread, each allocated alone: they are written hot.
 * @started: how many workers run.
 * @fds: the open files, two per worker (see &struct worker).
 * @t_start: when the workers were started, CLOCK_MONOTONIC ns.
 * @t_end: when the last one was joined.
 * @signals: how many SIGINT or SIGTERM arrived.
 * @tty: stderr is a terminal: the progress line rewrites itself.
 * @progress_len: the length of the last progress line, to blank it.
 * @last_t: when the last progress line was printed.
 * @last_completed: how many events had been reaped then.
 */
struct run {
	struct stress_shared sh;
	struct worker **workers;
	unsigned int started;
	int *fds;
	u64 t_start;
	u64 t_end;
	unsigned int signals;
	bool tty;
	int progress_len;
	u64 last_t;
	u64 last_completed;
};

u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

const char *op_name(u32 op)
{
	return op && op <= KCANCEL_OP_MAX ? op_names[op] : "bad-op";
}

/*
 * Take one line of the diagnostic budget: a broken driver can produce
 * millions; the counters say how many, the first few say what. Returns how
 * many lines were left, <= 0 when the line is not to be printed.
 */
int diag_claim(struct stress_shared *sh)
{
	return __atomic_fetch_sub(&sh->diag_budget, 1, __ATOMIC_RELAXED);
}

void diag_print(const char *line, int left)
{
	fprintf(stderr, PROG ": %s%s", line,
		left == 1 ? PROG ": further diagnostics are only counted\n" : "");
}

static void print_help(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [OPTION]...\n"
		"Submit, cancel and reap requests of a kcancel device from several threads,\n"
		"and check that each completes exactly once with the right result.\n"
		"\n"
		"  -d, --device PATH     the device (default /dev/kcancel0)\n"
		"  -t, --threads N       worker threads, each with its own file, 1-%u\n"
		"                        (default 4)\n"
		"  -s, --seconds N       submit for N seconds, 0 for no limit (default 20)\n"
		"  -n, --requests N      submit N requests in all, 0 for no limit (default 0)\n"
		"  -c, --cancel-pct P    cancel P%% of the requests after a random delay\n"
		"                        (default 30)\n"
		"  -T, --timeout-pct P   give P%% of the requests a timeout (default 5)\n"
		"      --ops LIST        comma list of factorial, dma, doorbell (default all)\n"
		"  -q, --depth N         requests in flight per thread, 1-%u (default 32)\n"
		"      --seed N          seed of the random choices (default: from the clock)\n"
		"      --progress-ms N   progress line on stderr every N ms, 0 for none\n"
		"                        (default 1000)\n"
		"  -h, --help            print this and exit\n"
		"\n"
		"The last line of stdout is a JSON object with the counters. Exit status:\n"
		"0 if no request was lost, doubled or wrong and nothing failed, 1 if not,\n"
		"2 for a bad command line. SIGINT stops submitting and drains; a second one\n"
		"gives up the drain.\n",
		MAX_THREADS, MAX_DEPTH);
}

static void bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	print_help(stderr);
	exit(2);
}

/* @s as a decimal number in [@min, @max]; else a usage error names @opt. */
static u64 parse_uint(const char *opt, const char *s, u64 min, u64 max)
{
	unsigned long long v;
	char *end;

	/* strtoull() takes leading blanks and a sign; a count takes neither. */
	if (*s < '0' || *s > '9')
		bad_usage("%s: '%s' is not a number", opt, s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		bad_usage("%s: '%s' is not a number", opt, s);
	if (errno == ERANGE || v < min || v > max)
		bad_usage("%s: '%s' is not in %llu..%llu", opt, s, min, max);
	return v;
}

static void parse_ops(struct stress_config *cfg, const char *list)
{
	char *copy = strdup(list), *save = NULL, *name;

	if (!copy) {
		perror(PROG);
		exit(1);
	}
	/* strtok_r() would skip empty names; a typo should not pass. */
	if (!*list || *list == ',' || list[strlen(list) - 1] == ',' ||
	    strstr(list, ",,"))
		bad_usage("--ops: '%s' has an empty name", list);
	memset(cfg->ops, 0, sizeof(cfg->ops));
	for (name = strtok_r(copy, ",", &save); name;
	     name = strtok_r(NULL, ",", &save)) {
		if (!strcmp(name, "factorial")) {
			cfg->ops[KCANCEL_OP_FACTORIAL] = true;
		} else if (!strcmp(name, "dma")) {
			cfg->ops[KCANCEL_OP_DMA_TO_DEV] = true;
			cfg->ops[KCANCEL_OP_DMA_FROM_DEV] = true;
		} else if (!strcmp(name, "doorbell")) {
			cfg->ops[KCANCEL_OP_DOORBELL] = true;
		} else {
			bad_usage("--ops: unknown operation '%s'", name);
		}
	}
	free(copy);
}

enum {
	OPT_OPS = 256,
	OPT_SEED,
	OPT_PROGRESS_MS,
};

static const struct option long_options[] = {
	{ "device", required_argument, NULL, 'd' },
	{ "threads", required_argument, NULL, 't' },
	{ "seconds", required_argument, NULL, 's' },
	{ "requests", required_argument, NULL, 'n' },
	{ "cancel-pct", required_argument, NULL, 'c' },
	{ "timeout-pct", required_argument, NULL, 'T' },
	{ "ops", required_argument, NULL, OPT_OPS },
	{ "depth", required_argument, NULL, 'q' },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "progress-ms", required_argument, NULL, OPT_PROGRESS_MS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void set_defaults(struct stress_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->device = "/dev/kcancel0";
	cfg->threads = 4;
	cfg->seconds = 20;
	cfg->cancel_pct = 30;
	cfg->timeout_pct = 5;
	cfg->depth = 32;
	cfg->progress_ms = 1000;
	parse_ops(cfg, "factorial,dma,doorbell");
	/* Different runs, different mixes; the seed is printed to redo one. */
	cfg->seed = (now_ns() ^ ((u64)getpid() << 32)) & 0xffffffffULL;
}

static void parse_args(struct stress_config *cfg, int argc, char **argv)
{
	int c;

	set_defaults(cfg);
	while ((c = getopt_long(argc, argv, "d:t:s:n:c:T:q:h", long_options,
				NULL)) != -1) {
		switch (c) {
		case 'd':
			if (!*optarg)
				bad_usage("--device: empty path");
			cfg->device = optarg;
			break;
		case 't':
			cfg->threads = parse_uint("--threads", optarg, 1, MAX_THREADS);
			break;
		case 's':
			cfg->seconds = parse_uint("--seconds", optarg, 0, MAX_SECONDS);
			break;
		case 'n':
			cfg->requests = parse_uint("--requests", optarg, 0, ULLONG_MAX);
			break;
		case 'c':
			cfg->cancel_pct = parse_uint("--cancel-pct", optarg, 0, 100);
			break;
		case 'T':
			cfg->timeout_pct = parse_uint("--timeout-pct", optarg, 0, 100);
			break;
		case OPT_OPS:
			parse_ops(cfg, optarg);
			break;
		case 'q':
			cfg->depth = parse_uint("--depth", optarg, 1, MAX_DEPTH);
			break;
		case OPT_SEED:
			cfg->seed = parse_uint("--seed", optarg, 0, ULLONG_MAX);
			break;
		case OPT_PROGRESS_MS:
			cfg->progress_ms = parse_uint("--progress-ms", optarg, 0,
						      MAX_PROGRESS_MS);
			break;
		case 'h':
			print_help(stdout);
			exit(0);
		default:
			/* getopt_long() has said what was wrong. */
			print_help(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		bad_usage("unexpected argument '%s'", argv[optind]);
}

static const char *backend_name(u32 backend)
{
	switch (backend) {
	case KCANCEL_BACKEND_EDU:
		return "edu";
	case KCANCEL_BACKEND_SIM:
		return "sim";
	}
	return "unknown";
}

static int open_device(const char *path)
{
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		fprintf(stderr, PROG ": cannot open %s: %s\n", path,
			strerror(errno));
	return fd;
}

/* Ask the device what it is, and refuse one that speaks another ABI. */
static int query_info(struct stress_config *cfg, int fd)
{
	struct kcancel_info *info = &cfg->info;

	if (ioctl(fd, KCANCEL_IOC_INFO, info) < 0) {
		fprintf(stderr, PROG ": %s: KCANCEL_IOC_INFO: %s (not a kcancel device?)\n",
			cfg->device, strerror(errno));
		return -1;
	}
	if (info->abi_version != KCANCEL_ABI_VERSION) {
		fprintf(stderr, PROG ": %s: ABI version %u, this tool speaks %u\n",
			cfg->device, info->abi_version, KCANCEL_ABI_VERSION);
		return -1;
	}
	if (info->dma_size > KCANCEL_DMA_SIZE) {
		fprintf(stderr, PROG ": %s: DMA size %u exceeds %u\n",
			cfg->device, info->dma_size, KCANCEL_DMA_SIZE);
		return -1;
	}
	return 0;
}

/* Two files per worker: the first one also answers KCANCEL_IOC_INFO. */
static int open_files(struct run *run)
{
	struct stress_config *cfg = &run->sh.cfg;
	unsigned int i;

	run->fds = malloc(2 * cfg->threads * sizeof(*run->fds));
	if (!run->fds) {
		perror(PROG);
		return -1;
	}
	for (i = 0; i < 2 * cfg->threads; i++) {
		run->fds[i] = open_device(cfg->device);
		if (run->fds[i] < 0)
			return -1;
		if (!i && query_info(cfg, run->fds[0]))
			return -1;
	}
	return 0;
}

/*
 * Start the workers with SIGINT and SIGTERM blocked, so that only the main
 * thread takes them, synchronously, in sigtimedwait().
 */
static int start_workers(struct run *run, const sigset_t *sigs)
{
	unsigned int i, n = run->sh.cfg.threads;
	int err;

	run->workers = calloc(n, sizeof(*run->workers));
	if (!run->workers) {
		perror(PROG);
		return -1;
	}
	pthread_sigmask(SIG_BLOCK, sigs, NULL);
	run->t_start = now_ns();
	run->last_t = run->t_start;
	for (i = 0; i < n; i++) {
		struct worker *w = malloc(sizeof(*w));

		if (!w || worker_init(w, &run->sh, i, run->fds[2 * i],
				      run->fds[2 * i + 1])) {
			fprintf(stderr, PROG ": out of memory\n");
			return -1;
		}
		run->workers[i] = w;
		err = pthread_create(&w->thread, NULL, worker_run, w);
		if (err) {
			fprintf(stderr, PROG ": pthread_create: %s\n", strerror(err));
			return -1;
		}
		run->started++;
	}
	return 0;
}

static void sum_counters(struct stress_stats *tot, const struct stress_stats *s)
{
	unsigned int op;

	tot->submitted += stat_read(&s->submitted);
	tot->completed += stat_read(&s->completed);
	tot->ok += stat_read(&s->ok);
	tot->cancelled += stat_read(&s->cancelled);
	tot->timed_out += stat_read(&s->timed_out);
	tot->errors += stat_read(&s->errors);
	tot->lost += stat_read(&s->lost);
	tot->dbl += stat_read(&s->dbl);
	tot->wrong_result += stat_read(&s->wrong_result);
	tot->eagain += stat_read(&s->eagain);
	tot->cancels += stat_read(&s->cancels);
	tot->drain_cancels += stat_read(&s->drain_cancels);
	tot->drain_cancel_won += stat_read(&s->drain_cancel_won);
	tot->dma_checked += stat_read(&s->dma_checked);
	tot->dma_unchecked += stat_read(&s->dma_unchecked);
	tot->inflight += stat_read(&s->inflight);
	for (op = 1; op <= KCANCEL_OP_MAX; op++) {
		struct op_stats *t = &tot->op[op];
		const struct op_stats *o = &s->op[op];

		t->submitted += stat_read(&o->submitted);
		t->ok += stat_read(&o->ok);
		t->cancelled += stat_read(&o->cancelled);
		t->timed_out += stat_read(&o->timed_out);
		t->cancel_won += stat_read(&o->cancel_won);
		t->completion_won += stat_read(&o->completion_won);
		t->cancel_late += stat_read(&o->cancel_late);
		t->cancel_enoent += stat_read(&o->cancel_enoent);
	}
}

/* The counters of every worker; latencies only once they are joined. */
static void sum_stats(const struct run *run, struct stress_stats *tot,
		      bool with_hist)
{
	unsigned int i, op;

	memset(tot, 0, sizeof(*tot));
	for (i = 0; i < run->started; i++) {
		sum_counters(tot, &run->workers[i]->stats);
		for (op = 1; with_hist && op <= KCANCEL_OP_MAX; op++)
			hist_merge(&tot->op[op].lat,
				   &run->workers[i]->stats.op[op].lat);
	}
}

static u64 cancel_won(const struct stress_stats *s)
{
	u64 n = 0;
	unsigned int op;

	for (op = 1; op <= KCANCEL_OP_MAX; op++)
		n += s->op[op].cancel_won;
	return n;
}

static void progress(struct run *run, u64 now)
{
	struct stress_stats *s = malloc(sizeof(*s));
	double dt = (double)(now - run->last_t) / NSEC_PER_SEC;
	char line[320];
	int len;

	if (!s)
		return;
	sum_stats(run, s, false);
	len = snprintf(line, sizeof(line),
		       "%6.1fs submitted %llu completed %llu ops/s %.0f inflight %llu",
		       (double)(now - run->t_start) / NSEC_PER_SEC, s->submitted,
		       s->completed,
		       dt > 0 ? (s->completed - run->last_completed) / dt : 0.0,
		       s->inflight);
	len += snprintf(line + len, sizeof(line) - len,
			" cancel-won %llu lost/double/wrong %llu/%llu/%llu errors %llu",
			cancel_won(s), s->lost, s->dbl, s->wrong_result,
			s->errors);
	if (run->tty)
		fprintf(stderr, "\r%s%*s", line,
			run->progress_len > len ? run->progress_len - len : 0, "");
	else
		fprintf(stderr, "%s\n", line);
	run->progress_len = len;
	run->last_t = now;
	run->last_completed = s->completed;
	free(s);
}

static void on_signal(struct run *run, int sig)
{
	struct stress_shared *sh = &run->sh;

	if (++run->signals == 1) {
		fprintf(stderr, "%s" PROG ": %s: draining; again to give up\n",
			run->tty && run->progress_len ? "\n" : "", strsignal(sig));
		__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(&sh->abort, 1, __ATOMIC_RELAXED);
	}
}

static u64 min_u64(u64 a, u64 b)
{
	return a < b ? a : b;
}

/* Watch the clock, the signals and the workers until all are done. */
static void monitor(struct run *run, const sigset_t *sigs)
{
	const struct stress_config *cfg = &run->sh.cfg;
	u64 deadline = cfg->seconds ? run->t_start + cfg->seconds * NSEC_PER_SEC : 0;
	u64 step = cfg->progress_ms * NSEC_PER_MSEC;
	u64 next_progress = run->t_start + step;

	while (__atomic_load_n(&run->sh.done, __ATOMIC_ACQUIRE) < run->started) {
		u64 now = now_ns(), wait = MONITOR_TICK_NS;
		struct timespec ts;
		int sig;

		if (deadline && now >= deadline)
			__atomic_store_n(&run->sh.stop, 1, __ATOMIC_RELAXED);
		else if (deadline)
			wait = min_u64(wait, deadline - now);
		if (step && now >= next_progress) {
			progress(run, now);
			next_progress = now + step;
		}
		if (step)
			wait = min_u64(wait, next_progress - now);
		ts.tv_sec = wait / NSEC_PER_SEC;
		ts.tv_nsec = wait % NSEC_PER_SEC;
		sig = sigtimedwait(sigs, NULL, &ts);
		if (sig > 0)
			on_signal(run, sig);
	}
	if (step)
		progress(run, now_ns());
	if (run->tty && run->progress_len)
		fputc('\n', stderr);
}

static void join_workers(struct run *run)
{
	unsigned int i;

	for (i = 0; i < run->started; i++)
		pthread_join(run->workers[i]->thread, NULL);
	run->t_end = now_ns();
}

static bool passed(const struct stress_stats *s)
{
	return !s->lost && !s->dbl && !s->wrong_result && !s->errors;
}

static void print_ops_list(const struct stress_config *cfg)
{
	const char *sep = "";

	if (cfg->ops[KCANCEL_OP_FACTORIAL]) {
		printf("%sfactorial", sep);
		sep = ",";
	}
	if (cfg->ops[KCANCEL_OP_DMA_TO_DEV]) {
		printf("%sdma", sep);
		sep = ",";
	}
	if (cfg->ops[KCANCEL_OP_DOORBELL])
		printf("%sdoorbell", sep);
}

/* One row per operation; late: planned cancels the event beat. */
static void print_op_table(const struct stress_stats *s)
{
	unsigned int op;

	printf("%-12s %9s %9s %9s %9s %9s %9s %9s %6s", "op", "submitted",
	       "ok", "cancelled", "timed_out", "c_won", "compl_won", "late",
	       "enoent");
	printf(" %9s %9s\n", "p50_us", "p99_us");
	for (op = 1; op <= KCANCEL_OP_MAX; op++) {
		const struct op_stats *o = &s->op[op];

		printf("%-12s %9llu %9llu %9llu %9llu %9llu %9llu %9llu %6llu",
		       op_names[op], o->submitted, o->ok, o->cancelled,
		       o->timed_out, o->cancel_won, o->completion_won,
		       o->cancel_late, o->cancel_enoent);
		printf(" %9.1f %9.1f\n", hist_quantile_us(&o->lat, 0.5),
		       hist_quantile_us(&o->lat, 0.99));
	}
}

static void print_summary(const struct run *run, const struct stress_stats *s,
			  const struct hist *all, double secs)
{
	const struct stress_config *cfg = &run->sh.cfg;
	const struct kcancel_info *info = &cfg->info;

	printf(PROG ": %s: backend %s, ABI version %u, %u doorbells, DMA size %u, max pending %u\n",
	       cfg->device, backend_name(info->backend), info->abi_version,
	       info->doorbells, info->dma_size, info->max_pending);
	printf("run: %.3f s, %u threads, depth %u, seed %llu, cancel %u%%, timeout %u%%, ops ",
	       secs, cfg->threads, cfg->depth, cfg->seed, cfg->cancel_pct,
	       cfg->timeout_pct);
	print_ops_list(cfg);
	printf("%s\n", run->signals ? " (interrupted)" : "");
	printf("requests: %llu submitted, %llu completed, %llu ok, ",
	       s->submitted, s->completed, s->ok);
	printf("%llu cancelled, %llu timed out, %llu EAGAIN\n", s->cancelled,
	       s->timed_out, s->eagain);
	printf("cancels: %llu random, %llu by the drain (%llu of them won)\n",
	       s->cancels, s->drain_cancels, s->drain_cancel_won);
	printf("DMA reads: %llu checked, %llu of unknown content\n",
	       s->dma_checked, s->dma_unchecked);
	printf("latency: p50 %.1f us, p99 %.1f us; %.0f ops/s\n",
	       hist_quantile_us(all, 0.5), hist_quantile_us(all, 0.99),
	       secs > 0 ? s->completed / secs : 0.0);
	print_op_table(s);
	printf("checks: %llu lost, %llu double, %llu wrong result, %llu errors: %s\n",
	       s->lost, s->dbl, s->wrong_result, s->errors,
	       passed(s) ? "PASS" : "FAIL");
}

static void print_json(const struct run *run, const struct stress_stats *s,
		       const struct hist *all, double secs)
{
	const struct stress_config *cfg = &run->sh.cfg;
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
	printf("\"ops_per_sec\":%.1f,\"lat_p50_us\":%.1f,\"lat_p99_us\":%.1f,\"seconds\":%.3f,",
	       secs > 0 ? s->completed / secs : 0.0,
	       hist_quantile_us(all, 0.5), hist_quantile_us(all, 0.99), secs);
	printf("\"threads\":%u,\"depth\":%u,\"cancel_pct\":%u,\"timeout_pct\":%u,\"seed\":%llu,",
	       cfg->threads, cfg->depth, cfg->cancel_pct, cfg->timeout_pct,
	       cfg->seed);
	printf("\"backend\":\"%s\",\"abi_version\":%u,\"interrupted\":%s,\"ops\":{",
	       backend_name(cfg->info.backend), cfg->info.abi_version,
	       run->signals ? "true" : "false");
	for (op = 1; op <= KCANCEL_OP_MAX; op++) {
		const struct op_stats *o = &s->op[op];

		printf("%s\"%s\":{\"submitted\":%llu,\"ok\":%llu,",
		       op > 1 ? "," : "", op_names[op], o->submitted, o->ok);
		printf("\"cancelled\":%llu,\"timed_out\":%llu,", o->cancelled,
		       o->timed_out);
		printf("\"cancel_won\":%llu,\"completion_won\":%llu,",
		       o->cancel_won, o->completion_won);
		printf("\"cancel_late\":%llu,\"cancel_enoent\":%llu,",
		       o->cancel_late, o->cancel_enoent);
		printf("\"lat_p50_us\":%.1f,\"lat_p99_us\":%.1f}",
		       hist_quantile_us(&o->lat, 0.5),
		       hist_quantile_us(&o->lat, 0.99));
	}
	printf("}}\n");
}

/* Print the results; the exit status. */
static int report(const struct run *run)
{
	struct stress_stats *s = calloc(1, sizeof(*s));
	struct hist *all = calloc(1, sizeof(*all));
	double secs = (double)(run->t_end - run->t_start) / NSEC_PER_SEC;
	unsigned int op;
	int ok;

	if (!s || !all) {
		perror(PROG);
		return 1;
	}
	sum_stats(run, s, true);
	for (op = 1; op <= KCANCEL_OP_MAX; op++)
		hist_merge(all, &s->op[op].lat);
	print_summary(run, s, all, secs);
	print_json(run, s, all, secs);
	fflush(stdout);
	ok = passed(s);
	free(s);
	free(all);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	static struct run run = {
		.sh.diag_budget = DIAG_BUDGET,
	};
	struct stress_config *cfg = &run.sh.cfg;
	unsigned int i;
	sigset_t sigs;
	int rc;

	parse_args(cfg, argc, argv);
	run.tty = isatty(STDERR_FILENO);
	if (open_files(&run))
		return 1;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	rc = start_workers(&run, &sigs);
	if (rc)
		__atomic_store_n(&run.sh.abort, 1, __ATOMIC_RELAXED);
	monitor(&run, &sigs);
	join_workers(&run);
	if (rc)
		return 1;
	/*
	 * The results are out before the files are closed: closing one waits
	 * for its requests, and a lost request could make that wait forever.
	 */
	rc = report(&run);
	for (i = 0; i < run.started; i++) {
		close(run.fds[2 * i]);
		close(run.fds[2 * i + 1]);
		worker_destroy(run.workers[i]);
		free(run.workers[i]);
	}
	return rc;
}
