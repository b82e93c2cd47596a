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
 * no request was lost, doubled or wrong and nothing failed, 1 otherwise,
 * 2 for a bad command line, and %STRESS_EXIT_NO_URING when --io-uring finds
 * no io_uring commands: the device does not offer them
 * (%KCANCEL_FEATURE_URING_CMD), or the kernel has no io_uring ring for them.
 *
 * Progress goes to stderr: on a terminal, one line that rewrites itself;
 * elsewhere (a pipe, a file, a serial console, which reports no size) only
 * when --progress-ms asks for it, as plain lines.
 *
 * With --fail-alloc, the main thread locks all memory, present and future,
 * before anything is allocated, so that the threads whose kernel
 * allocations fail never need one for a page fault; their stacks are kept
 * small, since they are locked too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "stress.h"

/* How often the main thread looks at the clock and the workers. */
#define MONITOR_TICK_NS		(50 * NSEC_PER_MSEC)
/* Why --io-uring cannot run, with %STRESS_EXIT_NO_URING. */
#define NO_URING		"io_uring commands not supported by this module/kernel"
/* Diagnostic lines printed before the rest are only counted. */
#define DIAG_BUDGET		20
/* The stack of each thread with --fail-alloc: locked, so kept small. */
#define LOCKED_STACK_SIZE	(256 * 1024)

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
 * @progress_ns: how often to print progress; 0 for never.
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
	u64 progress_ns;
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
	fprintf(stderr, STRESS_PROG ": %s%s", line,
		left == 1 ? STRESS_PROG ": further diagnostics are only counted\n" : "");
}

static int open_device(const char *path)
{
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		fprintf(stderr, STRESS_PROG ": cannot open %s: %s\n", path,
			strerror(errno));
	return fd;
}

/* Ask the device what it is, and refuse one that speaks another ABI. */
static int query_info(struct stress_config *cfg, int fd)
{
	struct kcancel_info *info = &cfg->info;

	if (ioctl(fd, KCANCEL_IOC_INFO, info) < 0) {
		fprintf(stderr, STRESS_PROG ": %s: KCANCEL_IOC_INFO: %s (not a kcancel device?)\n",
			cfg->device, strerror(errno));
		return -1;
	}
	if (info->abi_version != KCANCEL_ABI_VERSION) {
		fprintf(stderr, STRESS_PROG ": %s: ABI version %u, this tool speaks %u\n",
			cfg->device, info->abi_version, KCANCEL_ABI_VERSION);
		return -1;
	}
	if (info->dma_size > KCANCEL_DMA_SIZE) {
		fprintf(stderr, STRESS_PROG ": %s: DMA size %u exceeds %u\n",
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
		perror(STRESS_PROG);
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
	const struct stress_config *cfg = &run->sh.cfg;
	unsigned int i, n = cfg->threads;
	pthread_attr_t attr;
	int err;

	run->workers = calloc(n, sizeof(*run->workers));
	if (!run->workers) {
		perror(STRESS_PROG);
		return -1;
	}
	pthread_attr_init(&attr);
	if (cfg->fail_alloc)
		pthread_attr_setstacksize(&attr, LOCKED_STACK_SIZE);
	pthread_sigmask(SIG_BLOCK, sigs, NULL);
	run->t_start = now_ns();
	run->last_t = run->t_start;
	for (i = 0; i < n; i++) {
		struct worker *w = malloc(sizeof(*w));

		if (!w || worker_init(w, &run->sh, i, run->fds[2 * i],
				      run->fds[2 * i + 1])) {
			fprintf(stderr, STRESS_PROG ": cannot set up thread %u\n",
				i);
			pthread_attr_destroy(&attr);
			return -1;
		}
		run->workers[i] = w;
		if (cfg->sync_pct) {
			err = pthread_create(&w->syncer.thread, &attr,
					     syncer_run, w);
			if (err)
				break;
			w->syncer.started = true;
		}
		err = pthread_create(&w->thread, &attr, worker_run, w);
		if (err) {
			/* Its submit-and-wait thread has nothing to do. */
			if (w->syncer.started)
				syncer_quit(&w->syncer);
			break;
		}
		run->started++;
	}
	pthread_attr_destroy(&attr);
	if (i < n) {
		fprintf(stderr, STRESS_PROG ": pthread_create: %s\n", strerror(err));
		return -1;
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
	tot->enodev += stat_read(&s->enodev);
	tot->cancel_enodev += stat_read(&s->cancel_enodev);
	tot->enodev_submits += stat_read(&s->enodev_submits);
	tot->hangups += stat_read(&s->hangups);
	tot->enomem += stat_read(&s->enomem);
	tot->sync_submitted += stat_read(&s->sync_submitted);
	tot->cancels += stat_read(&s->cancels);
	tot->drain_cancels += stat_read(&s->drain_cancels);
	tot->drain_cancel_won += stat_read(&s->drain_cancel_won);
	tot->dma_checked += stat_read(&s->dma_checked);
	tot->dma_unchecked += stat_read(&s->dma_unchecked);
	tot->inflight += stat_read(&s->inflight);
	tot->reads += stat_read(&s->reads);
	tot->batches += stat_read(&s->batches);
	tot->uring_submits += stat_read(&s->uring_submits);
	tot->uring_cancel_sqes += stat_read(&s->uring_cancel_sqes);
	tot->uring_cancel_ioctls += stat_read(&s->uring_cancel_ioctls);
	tot->uring_cancel_enoent += stat_read(&s->uring_cancel_enoent);
	tot->torn_down += stat_read(&s->torn_down);
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
		t->sync += stat_read(&o->sync);
		t->enodev += stat_read(&o->enodev);
	}
}

/* The counters of every worker; latencies only once they are joined. */
static void sum_stats(const struct run *run, struct stress_stats *tot,
		      bool with_hist)
{
	unsigned int i, op;

	memset(tot, 0, sizeof(*tot));
	for (i = 0; i < run->started; i++) {
		const struct stress_stats *s = &run->workers[i]->stats;

		sum_counters(tot, s);
		if (!with_hist)
			continue;
		hist_merge(&tot->cancel_ioctl, &s->cancel_ioctl);
		for (op = 1; op <= KCANCEL_OP_MAX; op++) {
			hist_merge(&tot->op[op].lat, &s->op[op].lat);
			hist_merge(&tot->op[op].cancel_lat, &s->op[op].cancel_lat);
		}
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

/*
 * The width of stderr if it is a terminal that knows its size, else 0: a
 * serial console reports none, and its output usually ends up in a log.
 */
static unsigned int terminal_width(void)
{
	struct winsize ws;

	if (!isatty(STDERR_FILENO) || ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) ||
	    !ws.ws_col)
		return 0;
	return ws.ws_col;
}

/*
 * The progress line that rewrites itself, cut to the terminal's width: the
 * verdict first, so that a narrow terminal never hides a failure.
 */
static void progress_live(struct run *run, const struct stress_stats *s,
			  double t, double rate)
{
	unsigned int width = terminal_width(), secs = run->sh.cfg.seconds;
	char line[512];	/* more than the longest numbers need */
	int len;

	len = snprintf(line, sizeof(line), "%6.1fs", t);
	if (secs)
		len += snprintf(line + len, sizeof(line) - len, "/%us", secs);
	if (s->lost || s->dbl || s->wrong_result || s->errors)
		len += snprintf(line + len, sizeof(line) - len,
				" FAIL: %llu lost, %llu double, %llu wrong, %llu errors |",
				s->lost, s->dbl, s->wrong_result, s->errors);
	else
		len += snprintf(line + len, sizeof(line) - len, " ok");
	len += snprintf(line + len, sizeof(line) - len,
			" %.0f ops/s, %llu done, %llu in flight, %llu cancels won",
			rate, s->completed, s->inflight, cancel_won(s));
	if (len >= (int)sizeof(line))
		len = sizeof(line) - 1;
	/* The last column would wrap the line on some terminals. */
	if (width && len > (int)width - 1) {
		len = width - 1;
		line[len] = '\0';
	}
	fprintf(stderr, "\r%s%*s", line,
		run->progress_len > len ? run->progress_len - len : 0, "");
	run->progress_len = len;
}

static void progress(struct run *run, u64 now)
{
	struct stress_stats *s = malloc(sizeof(*s));
	double dt = (double)(now - run->last_t) / NSEC_PER_SEC;
	double t = (double)(now - run->t_start) / NSEC_PER_SEC;
	double rate;

	if (!s)
		return;
	sum_stats(run, s, false);
	rate = dt > 0 ? (s->completed - run->last_completed) / dt : 0.0;
	if (run->tty) {
		progress_live(run, s, t, rate);
	} else {
		fprintf(stderr, "%6.1fs submitted %llu completed %llu ops/s %.0f inflight %llu",
			t, s->submitted, s->completed, rate, s->inflight);
		fprintf(stderr, " cancel-won %llu lost/double/wrong %llu/%llu/%llu errors %llu\n",
			cancel_won(s), s->lost, s->dbl, s->wrong_result,
			s->errors);
	}
	fflush(stderr);
	run->last_t = now;
	run->last_completed = s->completed;
	free(s);
}

static void on_signal(struct run *run, int sig)
{
	struct stress_shared *sh = &run->sh;

	if (++run->signals == 1) {
		fprintf(stderr, "%s" STRESS_PROG ": %s: draining; again to give up\n",
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
	u64 step = run->progress_ns;
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

/*
 * Join the workers, then their submit-and-wait threads, but those still in
 * a call that has not returned (their requests are counted as lost).
 */
static void join_workers(struct run *run)
{
	unsigned int i;

	for (i = 0; i < run->started; i++)
		pthread_join(run->workers[i]->thread, NULL);
	run->t_end = now_ns();
	for (i = 0; i < run->started; i++) {
		struct syncer *sy = &run->workers[i]->syncer;

		if (sy->started && !sy->stuck)
			pthread_join(sy->thread, NULL);
	}
}

/* Print the results; the exit status. */
static int report(const struct run *run)
{
	struct stress_result *res = calloc(1, sizeof(*res));
	const struct stress_config *cfg = &run->sh.cfg;
	unsigned int op;
	int rc;

	if (!res) {
		perror(STRESS_PROG);
		return 1;
	}
	res->cfg = cfg;
	res->seconds = (double)(run->t_end - run->t_start) / NSEC_PER_SEC;
	res->interrupted = run->signals;
	res->removed = __atomic_load_n(&run->sh.removed, __ATOMIC_RELAXED);
	sum_stats(run, &res->stats, true);
	for (op = 1; op <= KCANCEL_OP_MAX; op++) {
		hist_merge(&res->lat, &res->stats.op[op].lat);
		hist_merge(&res->cancel_lat, &res->stats.op[op].cancel_lat);
	}
	if (!cfg->json && !cfg->quiet)
		stress_print_summary(res);
	stress_print_json(res);
	fflush(stdout);
	rc = stress_passed(&res->stats) ? 0 : 1;
	free(res);
	return rc;
}

/*
 * --fail-alloc: check that the kernel has fault injection, then lock the
 * memory. Returns -1, having said why, if either cannot be done.
 */
static int setup_fail_alloc(const struct stress_config *cfg)
{
	int fd;

	if (!cfg->fail_alloc)
		return 0;
	fd = open(MAKE_IT_FAIL, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, STRESS_PROG ": --fail-alloc: cannot open %s: %s%s\n",
			MAKE_IT_FAIL, strerror(errno),
			errno == ENOENT ? " (a kernel without CONFIG_FAULT_INJECTION)" : "");
		return -1;
	}
	close(fd);
	if (mlockall(MCL_CURRENT | MCL_FUTURE)) {
		fprintf(stderr, STRESS_PROG ": --fail-alloc: mlockall: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * --io-uring: the device must offer the io_uring commands, and the kernel a
 * ring that they take (SQE128, CQE32). Exits with %STRESS_EXIT_NO_URING,
 * having said why, if not.
 */
static void check_uring(const struct stress_config *cfg)
{
	int ret;

	if (!cfg->io_uring)
		return;
	if (!(cfg->info.features & KCANCEL_FEATURE_URING_CMD)) {
		fprintf(stderr, STRESS_PROG ": %s: %s (no KCANCEL_FEATURE_URING_CMD)\n",
			cfg->device, NO_URING);
		exit(STRESS_EXIT_NO_URING);
	}
	/* Out of resources is a failure; anything else, no such ring here. */
	ret = worker_uring_probe();
	if (ret == -ENOMEM || ret == -EMFILE || ret == -ENFILE) {
		fprintf(stderr, STRESS_PROG ": io_uring_queue_init_params: %s\n",
			strerror(-ret));
		exit(1);
	}
	if (ret) {
		fprintf(stderr, STRESS_PROG ": %s: no SQE128/CQE32 ring: %s\n",
			NO_URING, strerror(-ret));
		exit(STRESS_EXIT_NO_URING);
	}
}

/*
 * Progress: never with --quiet or --progress-ms 0; on a terminal, a line
 * that rewrites itself; elsewhere plain lines, only if --progress-ms said so.
 */
static void setup_progress(struct run *run)
{
	const struct stress_config *cfg = &run->sh.cfg;

	run->tty = terminal_width() > 0;
	if (cfg->quiet || (!run->tty && !cfg->progress_set))
		return;
	run->progress_ns = cfg->progress_ms * NSEC_PER_MSEC;
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

	stress_parse_args(cfg, argc, argv);
	if (setup_fail_alloc(cfg))
		return 1;
	setup_progress(&run);
	if (open_files(&run))
		return 1;
	stress_check_device(cfg);
	check_uring(cfg);
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
		/* A call that has not returned still writes there. */
		if (run.workers[i]->syncer.stuck)
			continue;
		worker_destroy(run.workers[i]);
		free(run.workers[i]);
	}
	return rc;
}
