/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kcancel-fuzz: what the main process, the fuzzing processes, the request
 * tracker and the report share.
 *
 * The main process forks the fuzzing processes (--procs); each may fork a
 * child now and then, which fuzzes the files it inherits. All of them share
 * one anonymous mapping, &struct fuzz_arena: the run's limits, the open
 * files of the device, the requests in flight (keyed by tag, so that any
 * process that reaps an event can check it against its request), and each
 * process's counters. Each process has its own &struct fuzz_proc.
 */
#ifndef KCANCEL_FUZZ_H
#define KCANCEL_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <linux/kcancel.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __s32 s32;
typedef __u64 u64;

#define PROG			"kcancel-fuzz"

#define BIT(n)			(1U << (n))
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

#define NSEC_PER_USEC		1000ULL
#define NSEC_PER_MSEC		1000000ULL
#define NSEC_PER_SEC		1000000000ULL

/* Fuzzing processes (--procs), and processes alive at once with children. */
#define FUZZ_MAX_PROCS		16
#define FUZZ_MAX_SLOTS		(2 * FUZZ_MAX_PROCS)
/* Open files of the device, over all processes. */
#define FUZZ_MAX_FILES		128
/* File descriptors of the device one process holds at most. */
#define FUZZ_FDS		4
/* Requests tracked at once: a power of two, well above what is in flight. */
#define FUZZ_REC_BITS		16
#define FUZZ_RECS		BIT(FUZZ_REC_BITS)
/* Outcome slots: errnos 0-133, the kernel's internal 512-537, the rest. */
#define FUZZ_ERR_SLOTS		162
#define FUZZ_ERR_OTHER		(FUZZ_ERR_SLOTS - 1)
/* Diagnostic lines printed, over all processes, before they are counted. */
#define FUZZ_DIAG_BUDGET	40

/**
 * enum fuzz_call - the calls on the device, one row of the report each
 * @FC_OPEN: open().
 * @FC_CLOSE: close().
 * @FC_SUBMIT: KCANCEL_IOC_SUBMIT.
 * @FC_SUBMIT_WAIT: KCANCEL_IOC_SUBMIT_WAIT.
 * @FC_CANCEL: KCANCEL_IOC_CANCEL.
 * @FC_WAIT: KCANCEL_IOC_WAIT.
 * @FC_BATCH: KCANCEL_IOC_BATCH.
 * @FC_INFO: KCANCEL_IOC_INFO.
 * @FC_BAD_IOCTL: any other ioctl number, the real ones with another size
 *	or direction included.
 * @FC_READ: read().
 * @FC_POLL: poll().
 * @FC_URING_SUBMIT: an io_uring KCANCEL_URING_CMD_SUBMIT, well-formed or not;
 *	its outcome is its CQE's res: the submit's errno, or the request's
 *	status.
 * @FC_URING_CANCEL: an io_uring KCANCEL_URING_CMD_CANCEL.
 * @FC_URING_BAD_CMD: an io_uring command with any other cmd_op.
 * @FC_NR: the number of calls.
 */
enum fuzz_call {
	FC_OPEN,
	FC_CLOSE,
	FC_SUBMIT,
	FC_SUBMIT_WAIT,
	FC_CANCEL,
	FC_WAIT,
	FC_BATCH,
	FC_INFO,
	FC_BAD_IOCTL,
	FC_READ,
	FC_POLL,
	FC_URING_SUBMIT,
	FC_URING_CANCEL,
	FC_URING_BAD_CMD,
	FC_NR,
};

/**
 * enum fuzz_reap - how an event was reaped
 * @FR_READ: by read().
 * @FR_WAIT: by KCANCEL_IOC_WAIT.
 * @FR_SUBMIT_WAIT: written back by KCANCEL_IOC_SUBMIT_WAIT.
 * @FR_BATCH: by KCANCEL_IOC_BATCH.
 * @FR_NR: the number of ways.
 */
enum fuzz_reap {
	FR_READ,
	FR_WAIT,
	FR_SUBMIT_WAIT,
	FR_BATCH,
	FR_NR,
};

/**
 * struct fuzz_stats - the counters of a process, or of the run
 * @calls: calls on the device.
 * @res: per call, its outcomes: slot 0 success, else err_slot(errno).
 * @undocumented: calls that failed with an errno the ABI does not document
 *	for them.
 * @wrong: calls whose documented outcome contradicts what the fuzzer knew
 *	(success of an invalid submit, EINVAL for a valid one, ENOENT for a
 *	live id, a partial record from read(), ...).
 * @bad_events: events with an undocumented status, or that contradict
 *	their request: unknown tag, another file's, wrong id, op or result,
 *	reaped twice.
 * @lost: requests whose event never came: a drain gave up on them.
 * @events: events reaped, per &enum fuzz_reap.
 * @status: events per status: slot 0 for 0, else err_slot(-status).
 * @submitted: requests the device accepted.
 * @closed_unreaped: requests whose file was closed before their event was
 *	reaped (close() cancels and drains them).
 * @forks: children forked.
 * @dups: dup() of a device file.
 * @reopens: files opened after the first ones.
 * @fcntls: O_NONBLOCK toggles.
 * @drains: drains that checked that every request of a file completed.
 * @floods: files filled up to max_pending, see call_flood().
 * @signals: SIGALRM handled.
 * @uring_calls: io_uring SQEs submitted (each also counts in @calls; its
 *	outcome is counted in @res when its CQE comes).
 * @uring_cqes: CQEs reaped.
 * @uring_results: CQEs of status 0 whose result (big_cqe[0]) was checked.
 * @uring_torn_down: SQEs whose CQE never came because their ring was closed
 *	first (not lost: the ring is gone).
 * @uring_rings: io_uring rings set up.
 * @uring_drains: rings drained: every SQE in flight cancelled and its CQE
 *	awaited.
 */
struct fuzz_stats {
	u64 calls;
	u64 res[FC_NR][FUZZ_ERR_SLOTS];
	u64 undocumented;
	u64 wrong;
	u64 bad_events;
	u64 lost;
	u64 events[FR_NR];
	u64 status[FUZZ_ERR_SLOTS];
	u64 submitted;
	u64 closed_unreaped;
	u64 forks;
	u64 dups;
	u64 reopens;
	u64 fcntls;
	u64 drains;
	u64 floods;
	u64 signals;
	u64 uring_calls;
	u64 uring_cqes;
	u64 uring_results;
	u64 uring_torn_down;
	u64 uring_rings;
	u64 uring_drains;
};

void stats_merge(struct fuzz_stats *dst, const struct fuzz_stats *src);

/* Flags of &struct fuzz_rec. */
#define REC_SYNC	0x01	/* KCANCEL_IOC_SUBMIT_WAIT: its event is written back */
#define REC_TIMEOUT	0x02	/* submitted with a timeout */
#define REC_ID_KNOWN	0x04	/* @id holds the id the submit returned */
#define REC_SUBMITTING	0x08	/* the submit has not returned yet */
#define REC_REAPED	0x10	/* reaped while submitting; @id is the event's */
#define REC_CANCEL_WON	0x40	/* a cancel returned 0: -ECANCELED */

/**
 * struct fuzz_rec - a request submitted, until its event is reaped
 * @tag: its tag, unique in the run; 0 marks a free entry.
 * @id: its id, see %REC_ID_KNOWN and %REC_REAPED.
 * @arg: its argument.
 * @serial: the serial number of its file.
 * @len: its DMA length.
 * @op: its &enum kcancel_op.
 * @flags: REC_*.
 */
struct fuzz_rec {
	u64 tag;
	u64 id;
	u64 arg;
	u32 serial;
	u32 len;
	u16 op;
	u16 flags;
};

/**
 * struct fuzz_file - an open file of the device (its description)
 * @serial: its serial number, unique in the run; 0 if the entry is free.
 * @refs: the descriptors that refer to it, in all processes.
 * @live: its requests submitted without %REC_SYNC and not yet reaped.
 * @nonblock: O_NONBLOCK is set.
 * @uring: its io_uring submits that may count against max_pending: those
 *	whose CQE has not been reaped, and those whose ring was closed before
 *	(they leave the file at some unknown time): an upper bound.
 * @rc_begun: cancels of a random id on the file begun (they may hit an
 *	io_uring request, whose id the fuzzer never learns)...
 * @rc_won: ...that returned 0...
 * @rc_done: ...and that returned; see uring_ecanceled_ok().
 */
struct fuzz_file {
	u32 serial;
	s32 refs;
	s32 live;
	bool nonblock;
	s32 uring;
	u32 rc_begun;
	u32 rc_won;
	u32 rc_done;
};

/**
 * struct fuzz_arena - what all processes share
 * @lock: guards everything below but @stop, @interrupted, @max_id and
 *	@diag_left; a
 *	spinlock, see arena_lock().
 * @stop: set when time is up or on SIGINT/SIGTERM: every process winds up.
 * @interrupted: set on SIGINT/SIGTERM.
 * @deadline_ns: when time is up, CLOCK_MONOTONIC; 0 for no limit.
 * @max_id: the highest request id seen.
 * @diag_left: diagnostic lines left to print.
 * @next_serial: the serial number of the next file opened.
 * @nrecs: entries in use in @recs.
 * @slot_used: which of @stats are in use.
 * @files: the open files.
 * @stats: one per live process; a child's are merged into its parent's.
 * @recs: the requests, an open-addressing table on &fuzz_rec.tag.
 */
struct fuzz_arena {
	int lock;
	int stop;
	int interrupted;
	u64 deadline_ns;
	u64 max_id;
	int diag_left;
	u32 next_serial;
	u32 nrecs;
	bool slot_used[FUZZ_MAX_SLOTS];
	struct fuzz_file files[FUZZ_MAX_FILES];
	struct fuzz_stats stats[FUZZ_MAX_SLOTS];
	struct fuzz_rec recs[FUZZ_RECS];
};

/**
 * struct fuzz_config - what the command line asked for
 * @device: the character device.
 * @seed: the seed of the run.
 * @calls: how many calls in all; 0 for no limit.
 * @seconds: how long at most; 0 for no limit.
 * @procs: how many fuzzing processes.
 * @json_only: print only the JSON line on stdout.
 * @verbose: log every call on stderr.
 * @uring: send io_uring commands too: the device reports
 *	%KCANCEL_FEATURE_URING_CMD and a ring can be set up.
 * @info: what KCANCEL_IOC_INFO said.
 */
struct fuzz_config {
	const char *device;
	u64 seed;
	u64 calls;
	unsigned int seconds;
	unsigned int procs;
	bool json_only;
	bool verbose;
	bool uring;
	struct kcancel_info info;
};

/**
 * enum fuzz_ptr - where the argument of a call points
 * @FP_VALID: a writable buffer.
 * @FP_MISALIGNED: the same, at an odd address.
 * @FP_END: the last bytes of a mapping: the argument ends at a guard page.
 * @FP_READONLY: a read-only mapping of a buffer (written through another).
 * @FP_STRADDLE: starts before the guard page and runs into it.
 * @FP_GUARD: in the PROT_NONE guard page.
 * @FP_UNMAPPED: a user address nothing is mapped at.
 * @FP_NULL: NULL.
 * @FP_KERNEL: a kernel address, or a non-canonical one.
 * @FP_NR: the number of kinds.
 */
enum fuzz_ptr {
	FP_VALID,
	FP_MISALIGNED,
	FP_END,
	FP_READONLY,
	FP_STRADDLE,
	FP_GUARD,
	FP_UNMAPPED,
	FP_NULL,
	FP_KERNEL,
	FP_NR,
};

/**
 * struct place - where an argument goes
 * @kind: the kind of pointer.
 * @addr: the address the kernel gets.
 * @local: where this process writes the argument and reads it back; NULL
 *	if nowhere.
 * @room: the bytes at @local before the guard page, or the page's.
 */
struct place {
	enum fuzz_ptr kind;
	u64 addr;
	u8 *local;
	size_t room;
};

/* An address below mmap_min_addr: nothing is ever mapped there. */
#define UNMAPPED_ADDR		0x1000ULL
/* The highest address access_ok() surely takes, and where it surely not. */
#define USER_SURE_MAX		0x7fffffffe000ULL
#define USER_SURE_BAD		0x800000000000ULL

/* Can the kernel read, or write, all of an argument so placed? */
static inline bool ptr_readable(enum fuzz_ptr k)
{
	return k <= FP_READONLY;
}

static inline bool ptr_writable(enum fuzz_ptr k)
{
	return k <= FP_END;
}

/* Is it a user address (access_ok() passes)? */
static inline bool ptr_user(enum fuzz_ptr k)
{
	return k != FP_KERNEL;
}

/**
 * struct fuzz_zoo - the memory the pointers point into, the same in every
 * process (set up before any fork)
 * @arg: two private pages for the arguments of calls (each process writes
 *	its own copy), then @arg_guard.
 * @arg_guard: a PROT_NONE page.
 * @dma: two private pages for DMA buffers, apart from the arguments: a DMA
 *	from the device pins its buffer at submit and writes it when it
 *	completes. Then @dma_guard.
 * @dma_guard: a PROT_NONE page.
 * @split: a private page, then a read-only one: a KCANCEL_IOC_SUBMIT_WAIT
 *	argument whose request ends with the first, its done in the second,
 *	see place_split().
 * @batch: a private page for the requests of a KCANCEL_IOC_BATCH, apart
 *	from its structure (in @arg): the driver writes their ids. Then
 *	@batch_guard.
 * @batch_guard: a PROT_NONE page.
 * @events: a private page for the events a KCANCEL_IOC_BATCH reaps, then
 *	@events_guard.
 * @events_guard: a PROT_NONE page.
 * @alias_rw: one shared page per stats slot, writable...
 * @alias_ro: ...and the same pages mapped read-only.
 * @page: the page size.
 */
struct fuzz_zoo {
	u8 *arg;
	u8 *arg_guard;
	u8 *dma;
	u8 *dma_guard;
	u8 *split;
	u8 *batch;
	u8 *batch_guard;
	u8 *events;
	u8 *events_guard;
	u8 *alias_rw;
	u8 *alias_ro;
	size_t page;
};

/**
 * struct fuzz_fd - a descriptor of the device this process holds
 * @fd: the descriptor, -1 if none.
 * @file: its index in &fuzz_arena.files.
 */
struct fuzz_fd {
	int fd;
	int file;
};

struct fuzz_uring;

/* Ids this process learned, to pick live and reaped ones from. */
#define FUZZ_RING	256

/**
 * struct fuzz_known - an id this process learned
 * @id: the id.
 * @tag: the tag of its request.
 * @serial: its file's serial.
 */
struct fuzz_known {
	u64 id;
	u64 tag;
	u32 serial;
};

/**
 * struct fuzz_proc - one fuzzing process, or a child of one
 * @cfg: the configuration.
 * @ar: the arena.
 * @zoo: the pointer zoo.
 * @st: its counters, in the arena.
 * @slot: the index of @st.
 * @name: "wN" for fuzzing process N, "wN.K" for its child K, in logs.
 * @uid: its number in tags: fuzzing process + 1 in bits 16-22, child
 *	number below; never 0, and the same in a rerun with the seed.
 * @is_child: a child: it does not fork.
 * @rng: its random state.
 * @seq: its next tag's sequence number.
 * @budget: calls left.
 * @steps: steps taken (a step is a call or an event, see fuzz-loop.c).
 * @flood_at: when @steps reaches it, fill a file up to max_pending.
 * @ncalls: calls made, for the log.
 * @fds: the device descriptors it holds.
 * @known: the ids it learned lately, a ring.
 * @nknown: how many it learned in all.
 * @forks: how many children it forked.
 * @child: the pid of its child, 0 if none.
 * @child_slot: the child's stats slot.
 * @edu_submits: its submits since its last valid DMA, see pick_op().
 * @timer_ns: the period of its SIGALRM timer.
 * @ur: its io_uring rings and the SQEs in flight on them, NULL without
 *	io_uring; its own (a child starts with none), see fuzz-io.c.
 */
struct fuzz_proc {
	const struct fuzz_config *cfg;
	struct fuzz_arena *ar;
	const struct fuzz_zoo *zoo;
	struct fuzz_stats *st;
	int slot;
	char name[24];
	u32 uid;
	bool is_child;
	u64 rng[4];
	u64 seq;
	u64 budget;
	u64 steps;
	u64 flood_at;
	u64 ncalls;
	struct fuzz_fd fds[FUZZ_FDS];
	struct fuzz_known known[FUZZ_RING];
	u64 nknown;
	unsigned int forks;
	pid_t child;
	int child_slot;
	u64 edu_submits;
	u64 timer_ns;
	struct fuzz_uring *ur;
};

/* kcancel-fuzz.c */
u64 now_ns(void);
void out_write(int fd, const char *buf, size_t len);

/* fuzz-errno.c */
unsigned int err_slot(int err);
const char *err_name(int err, char *buf, size_t size);
const char *slot_name(unsigned int slot, char *buf, size_t size);
int slot_errno(unsigned int slot);
bool call_documents(enum fuzz_call call, int err);
bool status_documented(int status);
const char *call_name(enum fuzz_call call);

/* fuzz-track.c */
void arena_lock(struct fuzz_arena *ar);
void arena_unlock(struct fuzz_arena *ar);
int slot_alloc(struct fuzz_arena *ar);
void slot_free(struct fuzz_arena *ar, int slot);
int file_alloc(struct fuzz_arena *ar);
void file_get(struct fuzz_arena *ar, int file);
bool file_put(struct fuzz_arena *ar, int file);
void file_purge(struct fuzz_proc *p, int file);
bool file_shared(const struct fuzz_proc *p, int file);
u64 op_result(u32 op, u64 arg, u32 len);
struct fuzz_rec *rec_find(struct fuzz_arena *ar, u64 tag);
struct fuzz_rec *rec_insert(struct fuzz_arena *ar, u64 tag);
void rec_remove(struct fuzz_arena *ar, struct fuzz_rec *r);
void track_submitted(struct fuzz_proc *p, u64 tag, int file, bool accepted,
		     bool id_known, u64 id);
void track_event(struct fuzz_proc *p, int file, const struct kcancel_event *ev,
		 enum fuzz_reap how);
void note_id(struct fuzz_proc *p, u64 id);

static inline int fd_of(const struct fuzz_proc *p, int slot)
{
	return p->fds[slot].fd;
}

static inline int file_of(const struct fuzz_proc *p, int slot)
{
	return p->fds[slot].file;
}

/* fuzz-zoo.c */
u64 rnd(struct fuzz_proc *p);
u64 rnd_below(struct fuzz_proc *p, u64 n);
bool rnd_pct(struct fuzz_proc *p, unsigned int pct);
void rng_seed(struct fuzz_proc *p, u64 seed);
extern const char *const ptr_names[FP_NR + 1];
enum fuzz_ptr pick_ptr(struct fuzz_proc *p);
void place(struct fuzz_proc *p, struct place *pl, enum fuzz_ptr kind,
	   u8 *area, u8 *guard, size_t size);
void place_arg(struct fuzz_proc *p, struct place *pl, enum fuzz_ptr kind,
	       const void *arg, size_t size);
void fetch_arg(const struct place *pl, void *arg, size_t size);
void place_split(struct fuzz_proc *p, struct place *pl,
		 const struct kcancel_submit_wait *sw);

/* The outcomes a call may have in a situation: a mask of these. */
#define EXP_OK			BIT(0)
#define EXP_EINVAL		BIT(1)
#define EXP_EFAULT		BIT(2)
#define EXP_EAGAIN		BIT(3)
#define EXP_ENOMEM		BIT(4)
#define EXP_ENODEV		BIT(5)
#define EXP_EINTR		BIT(6)
#define EXP_EALREADY		BIT(7)
#define EXP_ENOENT		BIT(8)
#define EXP_ETIMEDOUT		BIT(9)
#define EXP_ENOTTY		BIT(10)
#define EXP_EOPNOTSUPP		BIT(11)
#define EXP_ECANCELED		BIT(12)
#define EXP_EIO			BIT(13)
/* Any other errno. */
#define EXP_OTHER		BIT(31)

/* Room for the description of a call. */
#define DESC_LEN		400

/* Requests a KCANCEL_IOC_BATCH of the fuzzer carries, at most. */
#define FUZZ_BATCH_ENTRIES	8

/**
 * struct sub - a submit the fuzzer made up
 * @s: the structure.
 * @valid: its fields are valid.
 * @buf: where its DMA buffer is: a kind, or %FP_NR if it is some number.
 */
struct sub {
	struct kcancel_submit s;
	bool valid;
	enum fuzz_ptr buf;
};

/**
 * enum id_class - what the fuzzer knows of an id it passes
 * @ID_LIVE: submitted on this file, its event not reaped.
 * @ID_GONE: reaped, or another file's: surely ENOENT.
 * @ID_NEVER: never issued on the device (0, far ahead, huge).
 * @ID_RANDOM: near the last ids issued: anything.
 */
enum id_class {
	ID_LIVE,
	ID_GONE,
	ID_NEVER,
	ID_RANDOM,
};

/* fuzz-calls.c */
extern const char *const id_class_names[];
u32 xbit(int err);
const char *xdesc(u32 exp, char *buf, size_t size);
u64 edge64(struct fuzz_proc *p);
u32 edge32(struct fuzz_proc *p);
void gen_submit(struct fuzz_proc *p, struct sub *sb, bool sync);
void gen_simple(struct fuzz_proc *p, struct sub *sb);
void classify_submit(struct fuzz_proc *p, struct sub *sb);
u32 submit_expect(struct fuzz_proc *p, int file, const struct sub *sb,
		  enum fuzz_ptr ptr, bool sync, bool shared, bool late);
enum id_class pick_id(struct fuzz_proc *p, int file, u64 *id, u64 *tag);
void random_cancel(struct fuzz_proc *p, int file, bool begin, bool won);
void count_call(struct fuzz_proc *p, enum fuzz_call call, int err);
const char *judge(struct fuzz_proc *p, enum fuzz_call call, int err, u32 exp);
void report(struct fuzz_proc *p, enum fuzz_call call, int err, u32 exp,
	    const char *bad, const char *desc);
void mark_cancel_won(struct fuzz_proc *p, u64 tag);
void call_submit(struct fuzz_proc *p, int slot, bool wait);
void call_cancel(struct fuzz_proc *p, int slot);
void call_wait(struct fuzz_proc *p, int slot);
void call_batch(struct fuzz_proc *p, int slot);
void call_info(struct fuzz_proc *p, int slot);
void call_bad_ioctl(struct fuzz_proc *p, int slot);
void call_flood(struct fuzz_proc *p, int slot);

/* fuzz-io.c */
void call_read(struct fuzz_proc *p, int slot, bool idle);
void call_poll(struct fuzz_proc *p, int slot);
int read_events(struct fuzz_proc *p, int slot, int timeout_ms);
int call_open(struct fuzz_proc *p, int slot);
void call_close(struct fuzz_proc *p, int slot);
void drain_file(struct fuzz_proc *p, int slot);
void call_uring(struct fuzz_proc *p, int slot);
void uring_flood(struct fuzz_proc *p, int slot);
void uring_start(struct fuzz_proc *p, bool child);
void uring_finish(struct fuzz_proc *p);
int uring_probe(void);

/* fuzz-loop.c */
void on_alarm(int sig);
void fuzz_run(struct fuzz_proc *p);

int diag_claim(struct fuzz_arena *ar);
void diag_print(const char *line, int left);
void vlog_print(const char *line);

/*
 * Print a diagnostic line on stderr, within the budget. A macro, so that the
 * compiler checks the format against the arguments through snprintf().
 */
#define diag(p, fmt, ...)						\
	do {								\
		const struct fuzz_proc *__p = (p);			\
		int __left = diag_claim(__p->ar);			\
		char __line[640];					\
									\
		if (__left > 0) {					\
			snprintf(__line, sizeof(__line), "%s #%llu: " fmt,\
				 __p->name, __p->ncalls, ##__VA_ARGS__);\
			diag_print(__line, __left);			\
		}							\
	} while (0)

/* Log a call with -v. */
#define vlog(p, fmt, ...)						\
	do {								\
		const struct fuzz_proc *__p = (p);			\
		char __line[640];					\
									\
		if (__p->cfg->verbose) {				\
			snprintf(__line, sizeof(__line), "%s #%llu " fmt "\n",\
				 __p->name, __p->ncalls, ##__VA_ARGS__);\
			vlog_print(__line);				\
		}							\
	} while (0)

#endif /* KCANCEL_FUZZ_H */
