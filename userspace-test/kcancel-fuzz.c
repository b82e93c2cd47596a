// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-fuzz: hammer a kcancel device with random calls, and fail on any
 * errno or event status include/uapi/linux/kcancel.h does not document.
 *
 * The main process parses the options, asks the device what it is, maps
 * what the processes share (fuzz.h) and the pointer zoo, then forks the
 * fuzzing processes, each with a seed derived from the run's, and waits for
 * them. It prints a table of the outcomes of each call and, as the last line
 * of stdout, one JSON object. The exit status is 0 if every call and every
 * event was documented and nothing contradicted what the fuzzer knew, 1 if
 * not, 2 for a bad command line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fuzz.h"

#define MAX_SECONDS	(365U * 24 * 3600)
#define DEFAULT_CALLS	100000

static struct fuzz_arena *arena;

u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* write() all of @buf: a SIGALRM may interrupt it, a pipe may take part. */
void out_write(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

/*
 * Take one line of the diagnostic budget: a broken driver can produce
 * millions; the counters say how many, the first few say what. Returns how
 * many lines were left, <= 0 when the line is not to be printed.
 */
int diag_claim(struct fuzz_arena *ar)
{
	return __atomic_fetch_sub(&ar->diag_left, 1, __ATOMIC_RELAXED);
}

void diag_print(const char *line, int left)
{
	char buf[800];
	int n;

	n = snprintf(buf, sizeof(buf), PROG ": %s%s", line,
		     left == 1 ? PROG ": further diagnostics are only counted\n" :
				 "");
	out_write(2, buf, n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1);
}

void vlog_print(const char *line)
{
	out_write(2, line, strlen(line));
}

const char cli_prog[] = PROG;

void cli_print_help(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [OPTION]...\n"
		"Make random calls on a kcancel device and check that every failure is an\n"
		"errno the ABI documents for that call, every event status a documented one,\n"
		"and every event the one of a request submitted on that file. With a device\n"
		"that has io_uring commands, send them too, well-formed or not, and check\n"
		"that each SQE gets exactly one CQE, with a documented and right res.\n"
		"\n"
		"  -d, --device PATH   the device (default /dev/kcancel0)\n"
		"  -n, --calls N       stop after about N calls, 0 for no limit (default %u)\n"
		"  -s, --seconds N     stop after N seconds, 0 for no limit (default 0)\n"
		"  -P, --procs N       fuzzing processes, 1-%u (default 1)\n"
		"      --seed N        seed of the random choices (default: from the clock)\n"
		"      --json          print only the JSON line on stdout\n"
		"  -v, --verbose       log every call on stderr\n"
		"  -h, --help          print this and exit\n"
		"\n"
		"The last line of stdout is a JSON object with the counts. A run with the same\n"
		"--seed, --calls and --procs makes the same random choices. Exit status: 0 if\n"
		"nothing was undocumented or wrong, 1 if something was, 2 for a bad command\n"
		"line.\n",
		DEFAULT_CALLS, FUZZ_MAX_PROCS);
}

enum {
	OPT_SEED = 256,
	OPT_JSON,
};

static const struct option long_options[] = {
	{ "device", required_argument, NULL, 'd' },
	{ "calls", required_argument, NULL, 'n' },
	{ "seconds", required_argument, NULL, 's' },
	{ "procs", required_argument, NULL, 'P' },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void parse_args(struct fuzz_config *cfg, int argc, char **argv)
{
	int c;

	memset(cfg, 0, sizeof(*cfg));
	cfg->device = "/dev/kcancel0";
	cfg->calls = DEFAULT_CALLS;
	cfg->procs = 1;
	/* Different runs, different calls; the seed is printed to redo one. */
	cfg->seed = (now_ns() ^ ((u64)getpid() << 32)) & 0xffffffffULL;
	while ((c = getopt_long(argc, argv, "d:n:s:P:vh", long_options,
				NULL)) != -1) {
		switch (c) {
		case 'd':
			if (!*optarg)
				cli_bad_usage("--device: empty path");
			cfg->device = optarg;
			break;
		case 'n':
			cfg->calls = cli_parse_uint("--calls", optarg, 0, ULLONG_MAX);
			break;
		case 's':
			cfg->seconds = cli_parse_uint("--seconds", optarg, 0,
						      MAX_SECONDS);
			break;
		case 'P':
			cfg->procs = cli_parse_uint("--procs", optarg, 1,
						    FUZZ_MAX_PROCS);
			break;
		case OPT_SEED:
			cfg->seed = cli_parse_uint("--seed", optarg, 0, ULLONG_MAX);
			break;
		case OPT_JSON:
			cfg->json_only = true;
			break;
		case 'v':
			cfg->verbose = true;
			break;
		case 'h':
			cli_print_help(stdout);
			exit(0);
		default:
			/* getopt_long() has said what was wrong. */
			cli_print_help(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		cli_bad_usage("unexpected argument '%s'", argv[optind]);
}

/* Ask the device what it is; refuse one that speaks another ABI. */
static int query_info(struct fuzz_config *cfg)
{
	struct kcancel_info *info = &cfg->info;
	int fd = open(cfg->device, O_RDWR | O_CLOEXEC), ret = -1;

	if (fd < 0) {
		fprintf(stderr, PROG ": cannot open %s: %s\n", cfg->device,
			strerror(errno));
		return -1;
	}
	if (ioctl(fd, KCANCEL_IOC_INFO, info) < 0)
		fprintf(stderr, PROG ": %s: KCANCEL_IOC_INFO: %s (not a kcancel device?)\n",
			cfg->device, strerror(errno));
	else if (info->abi_version != KCANCEL_ABI_VERSION)
		fprintf(stderr, PROG ": %s: ABI version %u, this tool speaks %u\n",
			cfg->device, info->abi_version, KCANCEL_ABI_VERSION);
	else if (!info->dma_size || info->dma_size > KCANCEL_DMA_SIZE ||
		 !info->max_pending)
		fprintf(stderr, PROG ": %s: DMA size %u, max_pending %u?\n",
			cfg->device, info->dma_size, info->max_pending);
	else
		ret = 0;
	close(fd);
	return ret;
}

/*
 * Send io_uring commands if the device has them and a ring can be set up;
 * say once why not otherwise.
 */
static void uring_config(struct fuzz_config *cfg)
{
	FILE *out = cfg->json_only ? stderr : stdout;
	int ret;

	if (!(cfg->info.features & KCANCEL_FEATURE_URING_CMD)) {
		fprintf(out, PROG ": io_uring skipped: %s lacks KCANCEL_FEATURE_URING_CMD\n",
			cfg->device);
		return;
	}
	ret = uring_probe();
	if (ret) {
		fprintf(out, PROG ": io_uring skipped: no SQE128|CQE32 ring: %s\n",
			strerror(-ret));
		return;
	}
	cfg->uring = true;
}

static void *map_anon(size_t size, int flags)
{
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       flags | MAP_ANONYMOUS, -1, 0);

	return m == MAP_FAILED ? NULL : m;
}

/*
 * The pointer zoo (see &struct fuzz_zoo), mapped before any fork so that
 * every process has it at the same addresses.
 */
static int map_zoo(struct fuzz_zoo *z)
{
	size_t aliases;
	u8 *base;
	int fd;

	z->page = sysconf(_SC_PAGESIZE);
	aliases = FUZZ_MAX_SLOTS * z->page;
	base = map_anon(12 * z->page, MAP_PRIVATE);
	if (!base)
		return -1;
	z->arg = base;
	z->arg_guard = base + 2 * z->page;
	z->dma = base + 3 * z->page;
	z->dma_guard = base + 5 * z->page;
	z->split = base + 6 * z->page;
	z->batch = base + 8 * z->page;
	z->batch_guard = base + 9 * z->page;
	z->events = base + 10 * z->page;
	z->events_guard = base + 11 * z->page;
	if (mprotect(z->arg_guard, z->page, PROT_NONE) ||
	    mprotect(z->dma_guard, z->page, PROT_NONE) ||
	    mprotect(z->batch_guard, z->page, PROT_NONE) ||
	    mprotect(z->events_guard, z->page, PROT_NONE) ||
	    mprotect(z->split + z->page, z->page, PROT_READ))
		return -1;
	fd = memfd_create(PROG, MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, aliases))
		return -1;
	z->alias_rw = mmap(NULL, aliases, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fd, 0);
	z->alias_ro = mmap(NULL, aliases, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (z->alias_rw == MAP_FAILED || z->alias_ro == MAP_FAILED)
		return -1;
	return 0;
}

static void on_stop(int sig)
{
	(void)sig;
	__atomic_store_n(&arena->interrupted, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&arena->stop, 1, __ATOMIC_RELAXED);
}

/* SIGALRM without SA_RESTART: blocking calls end in EINTR. */
static void set_signals(void)
{
	struct sigaction sa = { 0 };

	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* The seed of fuzzing process @i: the run's, mixed with @i. */
static u64 proc_seed(u64 seed, unsigned int i)
{
	u64 z = seed ^ (0x9e3779b97f4a7c15ULL * (i + 1));

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Fork fuzzing process @i; its stats slot is @i. */
static pid_t start_proc(const struct fuzz_config *cfg,
			const struct fuzz_zoo *zoo, unsigned int i)
{
	struct fuzz_proc *p;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid)
		return pid;
	p = calloc(1, sizeof(*p));
	if (!p)
		_exit(1);
	p->cfg = cfg;
	p->ar = arena;
	p->zoo = zoo;
	p->slot = i;
	p->st = &arena->stats[i];
	snprintf(p->name, sizeof(p->name), "w%u", i);
	p->uid = (i + 1) << 16;
	p->budget = cfg->calls / cfg->procs + (i < cfg->calls % cfg->procs);
	if (!cfg->calls)
		p->budget = ~0ULL;
	rng_seed(p, proc_seed(cfg->seed, i));
	fuzz_run(p);
	_exit(0);
}

static void json_counts(FILE *f, const u64 *counts)
{
	char name[32];
	const char *sep = "";
	unsigned int s;

	fputc('{', f);
	for (s = 0; s < FUZZ_ERR_SLOTS; s++) {
		if (!counts[s])
			continue;
		fprintf(f, "%s\"%s\":%llu", sep, slot_name(s, name, sizeof(name)),
			counts[s]);
		sep = ",";
	}
	fputc('}', f);
}

/* The counters of the JSON line and of the summary, by name. */
#define COUNTER(name)	{ #name, offsetof(struct fuzz_stats, name) }

static const struct {
	const char *name;
	size_t off;
} counters[] = {
	COUNTER(undocumented), COUNTER(wrong), COUNTER(bad_events),
	COUNTER(lost), COUNTER(submitted), COUNTER(closed_unreaped),
	COUNTER(forks), COUNTER(dups), COUNTER(reopens), COUNTER(fcntls),
	COUNTER(drains), COUNTER(floods), COUNTER(signals),
	COUNTER(uring_calls), COUNTER(uring_cqes), COUNTER(uring_results),
	COUNTER(uring_torn_down), COUNTER(uring_rings), COUNTER(uring_drains),
};

static u64 counter(const struct fuzz_stats *st, size_t i)
{
	return *(const u64 *)((const char *)st + counters[i].off);
}

static void print_json(const struct fuzz_config *cfg,
		       const struct fuzz_stats *st, double secs, bool failed,
		       bool interrupted)
{
	unsigned int c;
	size_t i;

	printf("{\"seed\":%llu,\"device\":\"%s\",\"backend\":\"%s\",",
	       cfg->seed, cfg->device, cli_backend_name(cfg->info.backend));
	printf("\"procs\":%u,\"calls\":%llu,\"seconds\":%.1f,",
	       cfg->procs, st->calls, secs);
	printf("\"calls_per_sec\":%.0f,\"errnos\":{",
	       secs > 0 ? st->calls / secs : 0);
	for (c = 0; c < FC_NR; c++) {
		printf("%s\"%s\":", c ? "," : "", call_name(c));
		json_counts(stdout, st->res[c]);
	}
	printf("},\"events\":{\"read\":%llu,\"wait\":%llu,",
	       st->events[FR_READ], st->events[FR_WAIT]);
	printf("\"submit_wait\":%llu,\"batch\":%llu,\"status\":",
	       st->events[FR_SUBMIT_WAIT], st->events[FR_BATCH]);
	json_counts(stdout, st->status);
	printf("}");
	for (i = 0; i < ARRAY_SIZE(counters); i++)
		printf(",\"%s\":%llu", counters[i].name, counter(st, i));
	printf(",\"uring\":%s,\"interrupted\":%s,\"failed\":%s}\n",
	       cfg->uring ? "true" : "false", interrupted ? "true" : "false",
	       failed ? "true" : "false");
}

/*
 * The table: a row per call, a column per outcome seen; an outcome the ABI
 * does not document for the call is marked with '!'.
 */
static void print_table(const struct fuzz_stats *st)
{
	bool col[FUZZ_ERR_SLOTS] = { false };
	char name[32], cell[32];
	unsigned int c, s;
	u64 n;

	for (c = 0; c < FC_NR; c++)
		for (s = 0; s < FUZZ_ERR_SLOTS; s++)
			col[s] |= st->res[c][s] != 0;
	printf("%-12s %9s", "call", "calls");
	for (s = 0; s < FUZZ_ERR_SLOTS; s++)
		if (col[s])
			printf(" %10s", slot_name(s, name, sizeof(name)));
	printf("\n");
	for (c = 0; c < FC_NR; c++) {
		for (n = 0, s = 0; s < FUZZ_ERR_SLOTS; s++)
			n += st->res[c][s];
		printf("%-12s %9llu", call_name(c), n);
		for (s = 0; s < FUZZ_ERR_SLOTS; s++) {
			if (!col[s])
				continue;
			snprintf(cell, sizeof(cell), "%llu%s", st->res[c][s],
				 s && st->res[c][s] &&
				 !call_documents(c, slot_errno(s)) ? "!" : "");
			printf(" %10s", st->res[c][s] ? cell : "-");
		}
		printf("\n");
	}
}

static void print_summary(const struct fuzz_stats *st, double secs)
{
	char name[32];
	unsigned int s;
	size_t i;

	print_table(st);
	printf("events: %llu read, %llu by wait, %llu by submit_wait, %llu by batch; status:",
	       st->events[FR_READ], st->events[FR_WAIT],
	       st->events[FR_SUBMIT_WAIT], st->events[FR_BATCH]);
	for (s = 0; s < FUZZ_ERR_SLOTS; s++)
		if (st->status[s])
			printf(" %s %llu", slot_name(s, name, sizeof(name)),
			       st->status[s]);
	printf("\n");
	for (i = 0; i < ARRAY_SIZE(counters); i++)
		printf("%s%s %llu", i ? ", " : "", counters[i].name,
		       counter(st, i));
	printf("\n%llu calls in %.1f s (%.0f/s)\n", st->calls, secs,
	       secs > 0 ? st->calls / secs : 0);
}

/* Wait for the fuzzing processes; returns how many did not exit 0. */
static unsigned int wait_procs(unsigned int n)
{
	unsigned int bad = 0;
	int status;
	pid_t pid;

	while (n) {
		pid = wait(&status);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		n--;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, PROG ": process %d ended with status %#x\n",
				pid, status);
			bad++;
		}
	}
	return bad + n;
}

int main(int argc, char **argv)
{
	struct fuzz_config cfg;
	struct fuzz_stats *st;
	struct fuzz_zoo zoo;
	unsigned int i, bad;
	bool failed;
	double secs;
	u64 t0;

	parse_args(&cfg, argc, argv);
	if (query_info(&cfg))
		return 1;
	arena = map_anon(sizeof(*arena), MAP_SHARED);
	st = calloc(1, sizeof(*st));
	if (!arena || !st || map_zoo(&zoo)) {
		perror(PROG ": cannot map memory");
		return 1;
	}
	arena->diag_left = FUZZ_DIAG_BUDGET;
	set_signals();
	fprintf(cfg.json_only ? stderr : stdout,
		PROG ": seed %llu, %s (%s, dma_size %u, max_pending %u), ",
		cfg.seed, cfg.device, cli_backend_name(cfg.info.backend),
		cfg.info.dma_size, cfg.info.max_pending);
	fprintf(cfg.json_only ? stderr : stdout,
		"%llu calls, %u s, %u processes\n", cfg.calls, cfg.seconds,
		cfg.procs);
	uring_config(&cfg);
	t0 = now_ns();
	if (cfg.seconds)
		arena->deadline_ns = t0 + cfg.seconds * NSEC_PER_SEC;
	for (i = 0; i < cfg.procs; i++) {
		arena->slot_used[i] = true;
		if (start_proc(&cfg, &zoo, i) < 0) {
			perror(PROG ": fork");
			__atomic_store_n(&arena->stop, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	bad = wait_procs(i) + cfg.procs - i;
	secs = (now_ns() - t0) / 1e9;
	for (i = 0; i < cfg.procs; i++)
		stats_merge(st, &arena->stats[i]);
	failed = bad || st->undocumented || st->wrong || st->bad_events ||
		 st->lost;
	if (!cfg.json_only)
		print_summary(st, secs);
	print_json(&cfg, st, secs, failed, arena->interrupted);
	return failed ? 1 : 0;
}
