// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-fuzz: the ioctls, and what each one is expected to return.
 *
 * Every call is judged twice. First against the ABI: an errno that
 * include/uapi/linux/kcancel.h does not document for the call is counted as
 * undocumented (fuzz-errno.c holds the table). Then against what the fuzzer
 * knew when it made the call: which fields were valid, whether the argument
 * could be read or written, whether an id is live on the file, never issued
 * or reaped, whether another process shares the file. An outcome that is
 * documented but impossible in that situation (EINVAL for a valid submit,
 * success for an invalid one, ENOENT for a live id, EAGAIN from a blocking
 * read, a partial record) is counted as wrong. Where another process that
 * shares the file could have changed things, the expectation widens.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>

#include "fuzz.h"

/* Submits per valid DMA to an edu device, at most. */
#define EDU_DMA_EVERY	400

/* The outcomes of the EXP_* bits (fuzz.h), in order: bit 0 is success. */
static const int xerrs[] = {
	0, EINVAL, EFAULT, EAGAIN, ENOMEM, ENODEV, EINTR, EALREADY, ENOENT,
	ETIMEDOUT, ENOTTY, EOPNOTSUPP, ECANCELED, EIO,
};

u32 xbit(int err)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(xerrs); i++)
		if (xerrs[i] == err)
			return BIT(i);
	return EXP_OTHER;
}

/* An expectation as "ok|EINVAL|...". */
const char *xdesc(u32 exp, char *buf, size_t size)
{
	char name[32];
	size_t i, n = 0;

	buf[0] = 0;
	for (i = 0; i < ARRAY_SIZE(xerrs) && n < size; i++)
		if (exp & BIT(i))
			n += snprintf(buf + n, size - n, "%s%s", n ? "|" : "",
				      err_name(xerrs[i], name, sizeof(name)));
	return buf;
}

static const u64 edges64[] = {
	0, 1, 2, 12, 13, 4095, 4096, 4097, 0x7fffffff, 0x80000000,
	0xffffffff, 0x100000000ULL, 0x7fffffffffffffffULL,
	0x8000000000000000ULL, ~0ULL - 1, ~0ULL,
};

static const u32 edges32[] = {
	0, 1, 2, 4094, 4095, 4096, 4097, 8192, 0x7fffffff, 0x80000000,
	0xfffffffe, 0xffffffff,
};

static const u64 timeouts[] = {
	1, 1000, 4095, 4096, 4097, 100000, NSEC_PER_MSEC, NSEC_PER_SEC,
	0x7fffffffffffffffULL,
};

/* Mostly an edge, sometimes anything. */
u64 edge64(struct fuzz_proc *p)
{
	return rnd_pct(p, 80) ? edges64[rnd_below(p, ARRAY_SIZE(edges64))] :
				rnd(p);
}

u32 edge32(struct fuzz_proc *p)
{
	return rnd_pct(p, 80) ? edges32[rnd_below(p, ARRAY_SIZE(edges32))] :
				(u32)rnd(p);
}

/**
 * count_call() - count a call and its outcome
 * @p: the process.
 * @call: the call.
 * @err: 0 or the errno it failed with.
 */
void count_call(struct fuzz_proc *p, enum fuzz_call call, int err)
{
	p->ncalls++;
	p->st->calls++;
	p->st->res[call][err_slot(err)]++;
	if (p->budget)
		p->budget--;
}

/*
 * Count a call; returns what is wrong with its outcome @err given the
 * outcomes @exp the situation allows, or NULL.
 */
const char *judge(struct fuzz_proc *p, enum fuzz_call call, int err, u32 exp)
{
	count_call(p, call, err);
	if (err && !call_documents(call, err)) {
		p->st->undocumented++;
		return "undocumented errno";
	}
	if (!(exp & xbit(err))) {
		p->st->wrong++;
		return "wrong outcome";
	}
	return NULL;
}

/* Log a call with -v, and say what is wrong with it if anything is. */
void report(struct fuzz_proc *p, enum fuzz_call call, int err, u32 exp,
	    const char *bad, const char *desc)
{
	char name[32], x[128];

	vlog(p, "%s %s -> %s", call_name(call), desc,
	     err_name(err, name, sizeof(name)));
	if (bad)
		diag(p, "%s %s: %s %s (errno %d), expected %s\n",
		     call_name(call), desc, bad,
		     err_name(err, name, sizeof(name)), err,
		     xdesc(exp, x, sizeof(x)));
}

/* A tag no request of the run has: never 0, bit 63 sometimes. */
static u64 plain_tag(struct fuzz_proc *p)
{
	return (u64)p->uid << 40 | (++p->seq & ((1ULL << 40) - 1));
}

static u64 new_tag(struct fuzz_proc *p)
{
	u64 tag = plain_tag(p);

	return rnd_pct(p, 25) ? tag | 1ULL << 63 : tag;
}

static bool op_is_dma(u64 op)
{
	return op == KCANCEL_OP_DMA_TO_DEV || op == KCANCEL_OP_DMA_FROM_DEV;
}

/* The ABI's rules for a submit (the header's struct kcancel_submit). */
static bool submit_valid(const struct kcancel_submit *s, u32 dma_size)
{
	if (s->op < KCANCEL_OP_FACTORIAL || s->op > KCANCEL_OP_MAX)
		return false;
	if (s->flags || s->reserved[0] || s->reserved[1])
		return false;
	if (s->timeout_ns > INT64_MAX)
		return false;
	if (!op_is_dma(s->op))
		return !s->buf && !s->len && !s->offset &&
		       (s->op != KCANCEL_OP_FACTORIAL ||
			s->arg <= KCANCEL_FACTORIAL_MAX);
	/* Any buf: one that cannot be read or written is EFAULT, at submit. */
	return !s->arg && s->len && s->len <= dma_size &&
	       s->offset <= dma_size - s->len;
}

/*
 * The kind of the DMA buffer @addr of @len bytes, from where it is: the
 * fields may have changed since it was placed.
 */
static enum fuzz_ptr buf_kind(struct fuzz_proc *p, u64 addr, u64 len)
{
	const struct fuzz_zoo *z = p->zoo;
	u64 dma = (uintptr_t)z->dma, guard = (uintptr_t)z->dma_guard;
	u64 ro = (uintptr_t)z->alias_ro;

	if (addr >= USER_SURE_BAD)
		return FP_KERNEL;
	/* No overflow below: @addr < 2^47, @len < 2^32. */
	if (addr >= dma && addr < guard)
		return addr + len <= guard ? FP_VALID : FP_STRADDLE;
	if (addr >= guard && addr + len <= guard + z->page)
		return FP_GUARD;
	if (addr >= ro && addr + len <= ro + FUZZ_MAX_SLOTS * z->page)
		return FP_READONLY;
	if (addr + len <= 2 * UNMAPPED_ADDR)
		return addr ? FP_UNMAPPED : FP_NULL;
	return FP_NR;
}

/* A DMA buffer of @len bytes. */
static void pick_buf(struct fuzz_proc *p, struct sub *sb, u32 len)
{
	struct place pl;

	place(p, &pl, rnd_pct(p, 70) ? FP_VALID : rnd_below(p, FP_NR),
	      p->zoo->dma, p->zoo->dma_guard, len);
	sb->buf = pl.kind;
	sb->s.buf = pl.addr;
}

/* Set one field to an edge: most make the submit invalid. */
static void mutate(struct fuzz_proc *p, struct sub *sb)
{
	struct kcancel_submit *s = &sb->s;

	switch (rnd_below(p, 8)) {
	case 0:
		s->flags = edge32(p) | 1U << rnd_below(p, 32);
		break;
	case 1:
		s->reserved[rnd_below(p, 2)] = edge64(p) | 1;
		break;
	case 2:
		s->arg = edge64(p);
		break;
	case 3:
		if (rnd_pct(p, 50)) {
			pick_buf(p, sb, s->len);
		} else {
			s->buf = edge64(p);
			sb->buf = s->buf ? FP_NR : FP_NULL;
		}
		break;
	case 4:
		s->len = edge32(p);
		break;
	case 5:
		s->offset = edge32(p);
		break;
	case 6:
		s->timeout_ns = edge64(p);
		break;
	default:
		s->op = edge32(p);
		break;
	}
}

/*
 * The operation of the next submit: mostly doorbells and factorials, which
 * are cheap. The edu device runs one 100 ms DMA at a time: a valid DMA goes
 * to it once in %EDU_DMA_EVERY submits of a process (counted, not timed, so
 * that a rerun makes the same choices), and never for a submit that waits.
 */
static u32 pick_op(struct fuzz_proc *p, bool *dma_ok, bool sync)
{
	u64 r = rnd_below(p, 100);

	*dma_ok = true;
	p->edu_submits++;
	if (r < 8)
		return edge32(p);
	if (r < 50)
		return KCANCEL_OP_DOORBELL;
	if (r < 80)
		return KCANCEL_OP_FACTORIAL;
	if (p->cfg->info.backend == KCANCEL_BACKEND_EDU)
		*dma_ok = !sync && p->edu_submits >= EDU_DMA_EVERY;
	return r < 90 ? KCANCEL_OP_DMA_TO_DEV : KCANCEL_OP_DMA_FROM_DEV;
}

/**
 * classify_submit() - say whether a submit's fields are valid, and where
 * its DMA buffer is, from the fields as they are now
 * @p: the process.
 * @sb: the submit; @sb->buf is left alone unless the op is a DMA.
 */
void classify_submit(struct fuzz_proc *p, struct sub *sb)
{
	if (op_is_dma(sb->s.op))
		sb->buf = buf_kind(p, sb->s.buf, sb->s.len);
	sb->valid = submit_valid(&sb->s, p->cfg->info.dma_size);
}

/**
 * gen_submit() - make up a submit, mostly valid, often with a field or two
 * at an edge
 * @p: the process.
 * @sb: where to put it.
 * @sync: for KCANCEL_IOC_SUBMIT_WAIT: no DMA for the edu device.
 */
void gen_submit(struct fuzz_proc *p, struct sub *sb, bool sync)
{
	const struct kcancel_info *info = &p->cfg->info;
	struct kcancel_submit *s = &sb->s;
	unsigned int n;
	bool dma_ok;
	u64 tag;
	u32 len;

	memset(sb, 0, sizeof(*sb));
	sb->buf = FP_NULL;
	s->op = pick_op(p, &dma_ok, sync);
	s->tag = new_tag(p);
	/* An out field: whatever is in it must not matter. */
	s->id = rnd(p);
	if (s->op == KCANCEL_OP_FACTORIAL) {
		s->arg = rnd_below(p, KCANCEL_FACTORIAL_MAX + 1);
	} else if (s->op == KCANCEL_OP_DOORBELL) {
		s->arg = edge64(p);
	} else if (op_is_dma(s->op)) {
		len = rnd_pct(p, 50) ? edge32(p) : rnd(p);
		len = len % info->dma_size + 1;
		s->len = len;
		s->offset = rnd_pct(p, 50) ? info->dma_size - len :
					     rnd_below(p, info->dma_size - len + 1);
		pick_buf(p, sb, len);
	}
	if (rnd_pct(p, 20))
		s->timeout_ns = timeouts[rnd_below(p, ARRAY_SIZE(timeouts))];
	if (rnd_pct(p, 60))
		for (n = 1 + rnd_below(p, 2); n; n--)
			mutate(p, sb);
	/* A DMA that may not run now is made invalid: len 0. */
	if (op_is_dma(s->op) && !dma_ok)
		s->len = 0;
	classify_submit(p, sb);
	/* Drawn either way, so that the choices after stay the same. */
	tag = edge64(p);
	if (!sb->valid && rnd_pct(p, 30))
		s->tag = tag;
	if (sb->valid && op_is_dma(s->op))
		p->edu_submits = 0;
}

/*
 * Whether the driver can take the DMA buffer of a valid submit: one to the
 * device must be readable (it is copied at submit), one from it writable,
 * all of it (it is pinned at submit). -1 when the buffer is some number.
 */
static int buf_ok(const struct sub *sb)
{
	if (!op_is_dma(sb->s.op))
		return 1;
	if (sb->buf == FP_NR)
		return -1;
	if (sb->s.op == KCANCEL_OP_DMA_TO_DEV)
		return ptr_readable(sb->buf);
	return ptr_writable(sb->buf);
}

/**
 * submit_expect() - the outcomes a submit may have
 * @p: the process.
 * @file: the file it goes to.
 * @sb: the submit.
 * @ptr: where its structure is: %FP_VALID for an io_uring SQE's payload.
 * @sync: KCANCEL_IOC_SUBMIT_WAIT.
 * @shared: another process held the file when the call was made.
 * @late: the driver sees it later, not in the call that makes it (an
 *	io_uring SQE with IOSQE_ASYNC, issued by a worker thread): the file
 *	may have room by then, or none.
 *
 * Where the structure can be read but not written (@ptr read-only), the id
 * cannot be written back, which the driver does once the fields and the
 * buffer have passed, before it queues the request: EFAULT, for a submit
 * that would have succeeded. A KCANCEL_IOC_SUBMIT_WAIT placed with
 * place_split() is read-only but for the request: it runs, then done cannot
 * be written back: EFAULT as well. The io_uring submits in flight on the
 * file (&fuzz_file.uring) count against max_pending too.
 *
 * Return: a mask of EXP_* bits.
 */
u32 submit_expect(struct fuzz_proc *p, int file, const struct sub *sb,
		  enum fuzz_ptr ptr, bool sync, bool shared, bool late)
{
	const struct fuzz_file *f = &p->ar->files[file];
	s32 live, queued;
	u32 exp;

	if (!ptr_readable(ptr))
		return EXP_EFAULT;
	if (!sb->valid)
		exp = EXP_EINVAL | EXP_EAGAIN | EXP_ENOMEM;
	else if (buf_ok(sb) < 0)
		exp = (ptr_writable(ptr) ? EXP_OK : 0) | EXP_EFAULT |
		      EXP_EAGAIN | EXP_ENOMEM;
	else if (!buf_ok(sb))
		exp = EXP_EFAULT | EXP_EAGAIN | EXP_ENOMEM;
	else
		exp = (ptr_writable(ptr) ? EXP_OK : EXP_EFAULT) | EXP_EAGAIN |
		      EXP_ENOMEM;
	if (sync && (exp & EXP_OK))
		exp |= EXP_EINTR;
	if (shared)
		return exp;
	/*
	 * Alone on the file, the fuzzer knows how full it is, within the
	 * io_uring submits that may still count; the driver counts before it
	 * looks at the operation's fields and buffer.
	 */
	live = __atomic_load_n(&f->live, __ATOMIC_RELAXED);
	queued = __atomic_load_n(&f->uring, __ATOMIC_RELAXED);
	if (live + queued < (s32)p->cfg->info.max_pending)
		return exp & ~EXP_EAGAIN;
	return sb->valid && !late && live >= (s32)p->cfg->info.max_pending ?
	       EXP_EAGAIN : exp;
}

/*
 * Did the submit that returned @err queue the request? A submit that fails
 * queues nothing, EFAULT included: the id is written back before the
 * request is queued. But a KCANCEL_IOC_SUBMIT_WAIT placed with
 * place_split() (@split) runs, and then cannot write done back: EFAULT,
 * and its completion becomes an event for read() and KCANCEL_IOC_WAIT.
 */
static bool submit_taken(const struct sub *sb, int err, bool split)
{
	if (!err || err == EINTR)
		return true;
	return split && err == EFAULT && sb->valid && buf_ok(sb) > 0;
}

/* @id is the id written back, if the submit succeeded. */
static void desc_submit(char *d, const struct sub *sb, int fd,
			enum fuzz_ptr ptr, bool split, int err, u64 id)
{
	const struct kcancel_submit *s = &sb->s;
	int n;

	n = snprintf(d, DESC_LEN,
		     "fd %d op %u flags %#x tag %#llx arg %#llx buf %#llx (%s) len %u offset %u",
		     fd, s->op, s->flags, s->tag, s->arg, s->buf,
		     ptr_names[sb->buf], s->len, s->offset);
	n += snprintf(d + n, DESC_LEN - n,
		      " timeout_ns %llu reserved %#llx,%#llx at %s%s: %s",
		      s->timeout_ns, s->reserved[0], s->reserved[1],
		      ptr_names[ptr], split ? " (but the request)" : "",
		      sb->valid ? "valid" : "invalid");
	if (!err)
		snprintf(d + n, DESC_LEN - n, ", id %llu", id);
}

/* Enter a request the driver may take, before its submit is issued. */
static bool enter_rec(struct fuzz_proc *p, int file, const struct sub *sb,
		      bool sync)
{
	struct fuzz_rec *r;

	arena_lock(p->ar);
	r = rec_insert(p->ar, sb->s.tag);
	if (r) {
		r->arg = sb->s.arg;
		r->serial = p->ar->files[file].serial;
		r->len = sb->s.len;
		r->op = sb->s.op;
		r->flags = REC_SUBMITTING;
		if (sync)
			r->flags |= REC_SYNC;
		if (sb->s.timeout_ns)
			r->flags |= REC_TIMEOUT;
	}
	arena_unlock(p->ar);
	return r;
}

static void drop_rec(struct fuzz_proc *p, u64 tag)
{
	struct fuzz_rec *r;

	arena_lock(p->ar);
	r = rec_find(p->ar, tag);
	if (r)
		rec_remove(p->ar, r);
	arena_unlock(p->ar);
}

/*
 * KCANCEL_IOC_SUBMIT_WAIT could not write done back: its request is now an
 * ordinary one, whose event read() and KCANCEL_IOC_WAIT return.
 */
static void unsync_rec(struct fuzz_proc *p, u64 tag)
{
	struct fuzz_rec *r;

	arena_lock(p->ar);
	r = rec_find(p->ar, tag);
	if (r)
		r->flags &= ~REC_SYNC;
	arena_unlock(p->ar);
}

/*
 * KCANCEL_IOC_SUBMIT_WAIT returned @err: check the completion it wrote back
 * and forget the request.
 */
static void submit_wait_done(struct fuzz_proc *p, int file,
			     const struct sub *sb, const struct place *pl,
			     int err, bool taken)
{
	struct kcancel_submit_wait sw;

	if (!taken || (err && err != EINTR) || !ptr_writable(pl->kind)) {
		drop_rec(p, sb->s.tag);
		return;
	}
	fetch_arg(pl, &sw, sizeof(sw));
	note_id(p, sw.req.id);
	if (sw.done.id != sw.req.id) {
		p->st->bad_events++;
		diag(p, "submit_wait wrote back id %llu but done.id %llu\n",
		     sw.req.id, sw.done.id);
	}
	track_event(p, file, &sw.done, FR_SUBMIT_WAIT);
	/* If the event did not match, its request is still there. */
	drop_rec(p, sb->s.tag);
}

/*
 * Submit @sb, its structure at a pointer of kind @ptr (placed with
 * place_split() if @split), and check it. Returns the errno.
 */
static int do_submit(struct fuzz_proc *p, int slot, const struct sub *sb,
		     enum fuzz_ptr ptr, bool sync, bool split)
{
	int fd = fd_of(p, slot), file = file_of(p, slot), err = 0;
	enum fuzz_call call = sync ? FC_SUBMIT_WAIT : FC_SUBMIT;
	struct kcancel_submit_wait sw;
	char desc[DESC_LEN] = "";
	const char *bad;
	struct place pl;
	bool taken;
	u32 exp;

	if (sb->valid && !enter_rec(p, file, sb, sync))
		return 0;
	/* Before the call: what another process does during it widens it. */
	exp = submit_expect(p, file, sb, ptr, sync, file_shared(p, file),
			    false);
	memset(&sw, 0xa5, sizeof(sw));
	sw.req = sb->s;
	if (sync) {
		if (split)
			place_split(p, &pl, &sw);
		else
			place_arg(p, &pl, ptr, &sw, sizeof(sw));
		if (ioctl(fd, KCANCEL_IOC_SUBMIT_WAIT, pl.addr))
			err = errno;
	} else {
		place_arg(p, &pl, ptr, &sb->s, sizeof(sb->s));
		if (ioctl(fd, KCANCEL_IOC_SUBMIT, pl.addr))
			err = errno;
	}
	if (split)
		memcpy(&sw.req, pl.local, sizeof(sw.req));
	else
		fetch_arg(&pl, &sw.req, sizeof(sw.req));
	bad = judge(p, call, err, exp);
	taken = sb->valid && submit_taken(sb, err, split);
	if (bad || p->cfg->verbose) {
		desc_submit(desc, sb, fd, ptr, split, err, sw.req.id);
		report(p, call, err, exp, bad, desc);
	}
	if (!sb->valid)
		return err;
	if (sync && taken && err == EFAULT) {
		/* Its id was written back, its done was not. */
		unsync_rec(p, sb->s.tag);
		track_submitted(p, sb->s.tag, file, true, true, sw.req.id);
	} else if (sync) {
		submit_wait_done(p, file, sb, &pl, err, taken);
		if (taken)
			p->st->submitted++;
	} else {
		track_submitted(p, sb->s.tag, file, taken, taken && !err,
				sw.req.id);
	}
	return err;
}

/**
 * call_submit() - KCANCEL_IOC_SUBMIT or KCANCEL_IOC_SUBMIT_WAIT
 * @p: the process.
 * @slot: the descriptor slot to use.
 * @sync: KCANCEL_IOC_SUBMIT_WAIT.
 */
void call_submit(struct fuzz_proc *p, int slot, bool sync)
{
	bool split = false;
	enum fuzz_ptr ptr;
	struct sub sb;

	gen_submit(p, &sb, sync);
	ptr = pick_ptr(p);
	/*
	 * Half the read-only ones of a submit-and-wait are so only for done;
	 * not with a buffer that is some number, where an EFAULT would not
	 * tell whether the request was taken.
	 */
	if (sync && ptr == FP_READONLY && sb.buf != FP_NR)
		split = rnd_pct(p, 50);
	do_submit(p, slot, &sb, ptr, sync, split);
}

/**
 * call_flood() - fill a file this process alone holds up to max_pending,
 * with doorbells it does not reap: the submit after must fail with EAGAIN,
 * and none before, and an io_uring submit then too
 * @p: the process.
 * @slot: the descriptor slot to use.
 *
 * Draws no random number: the submits it makes depend on how full the
 * file was.
 */
void call_flood(struct fuzz_proc *p, int slot)
{
	u32 max = p->cfg->info.max_pending, n;
	struct sub sb = { .buf = FP_NULL, .valid = true };

	if (file_shared(p, file_of(p, slot)))
		return;
	p->st->floods++;
	sb.s.op = KCANCEL_OP_DOORBELL;
	for (n = 0; n <= max; n++) {
		sb.s.tag = plain_tag(p);
		sb.s.arg = n;
		if (do_submit(p, slot, &sb, FP_VALID, false, false) == EAGAIN) {
			uring_flood(p, slot);
			return;
		}
	}
	/* do_submit() said what was wrong with the last one. */
}

const char *const id_class_names[] = {
	[ID_LIVE] = "live", [ID_GONE] = "gone", [ID_NEVER] = "never-issued",
	[ID_RANDOM] = "random",
};

/* Classify an id this process learned, as of now, on @file. */
static enum id_class classify(struct fuzz_proc *p, int file,
			      const struct fuzz_known *k)
{
	struct fuzz_arena *ar = p->ar;
	enum id_class cls = ID_GONE;
	struct fuzz_rec *r;

	arena_lock(ar);
	r = rec_find(ar, k->tag);
	if (r && r->serial == ar->files[file].serial &&
	    k->serial == r->serial && (r->flags & REC_ID_KNOWN) &&
	    !(r->flags & (REC_REAPED | REC_SYNC)))
		cls = ID_LIVE;
	arena_unlock(ar);
	return cls;
}

/**
 * pick_id() - an id for a cancel or a wait
 * @p: the process.
 * @file: the file the call goes to.
 * @id: the id.
 * @tag: the tag of its request, if the fuzzer knows it; else 0.
 *
 * One of this file's live ones, one reaped or of another file (a dup shares
 * the file: its ids are this file's), one never issued, or one close to the
 * last issued.
 *
 * Return: what the fuzzer knows of @id.
 */
enum id_class pick_id(struct fuzz_proc *p, int file, u64 *id, u64 *tag)
{
	u32 serial = p->ar->files[file].serial;
	u64 r = rnd_below(p, 100), max_id, n;
	const struct fuzz_known *k;
	bool want_mine = r < 50, mine;
	unsigned int tries;

	*tag = 0;
	max_id = __atomic_load_n(&p->ar->max_id, __ATOMIC_RELAXED);
	n = p->nknown < FUZZ_RING ? p->nknown : FUZZ_RING;
	if (r < 20 && n) {
		/* The last one learned: the most likely to be live. */
		k = &p->known[(p->nknown - 1) % FUZZ_RING];
		*id = k->id;
		*tag = k->tag;
		return classify(p, file, k);
	}
	if (r < 60 && n) {
		/* Mostly one of this file's, else one of another's. */
		for (tries = 0; tries < 8; tries++) {
			k = &p->known[(p->nknown - 1 - rnd_below(p, n)) %
				      FUZZ_RING];
			mine = k->serial == serial;
			if (mine == want_mine)
				break;
		}
		*id = k->id;
		*tag = k->tag;
		return classify(p, file, k);
	}
	if (r < 70) {
		/* 2^32 submits of the device ahead (ids: seq << 20 | index). */
		*id = max_id + (1ULL << 52) + rnd_below(p, 1U << 20);
		return ID_NEVER;
	}
	if (r < 80) {
		*id = rnd_pct(p, 20) ? 0 : edges64[ARRAY_SIZE(edges64) - 1 -
						   rnd_below(p, 4)];
		return ID_NEVER;
	}
	*id = max_id > 1 ? max_id - rnd_below(p, max_id < 128 ? max_id : 128) :
			   1;
	return ID_RANDOM;
}

/* A cancel returned 0 for a live request: its event must be -ECANCELED. */
void mark_cancel_won(struct fuzz_proc *p, u64 tag)
{
	struct fuzz_rec *r;

	arena_lock(p->ar);
	r = rec_find(p->ar, tag);
	if (r && !(r->flags & REC_REAPED))
		r->flags |= REC_CANCEL_WON;
	arena_unlock(p->ar);
}

/**
 * random_cancel() - count a cancel of a random id on a file
 * @p: the process.
 * @file: the file.
 * @begin: before the cancel is made; else after it returned.
 * @won: after: it returned 0.
 *
 * Such a cancel may hit an io_uring request of any process on the file,
 * whose id no one learns: its CQE may then say -ECANCELED with no cancel
 * by its user_data. Begun before the call, won and done after it, in that
 * order, see uring_ecanceled_ok().
 */
void random_cancel(struct fuzz_proc *p, int file, bool begin, bool won)
{
	struct fuzz_file *f = &p->ar->files[file];

	if (begin) {
		__atomic_fetch_add(&f->rc_begun, 1, __ATOMIC_SEQ_CST);
		return;
	}
	if (won)
		__atomic_fetch_add(&f->rc_won, 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&f->rc_done, 1, __ATOMIC_SEQ_CST);
}

/**
 * call_cancel() - KCANCEL_IOC_CANCEL
 * @p: the process.
 * @slot: the descriptor slot to use.
 *
 * With %KCANCEL_CANCEL_USER_DATA (one of the flags drawn), the id is taken
 * for an io_uring user_data: no request has an id for its user_data (see
 * uring_user_data()), so ENOENT. The cancels of io_uring requests by their
 * user_data are in fuzz-io.c.
 */
void call_cancel(struct fuzz_proc *p, int slot)
{
	int fd = fd_of(p, slot), file = file_of(p, slot), err = 0;
	enum fuzz_ptr ptr = pick_ptr(p);
	struct kcancel_cancel c = { 0 };
	bool rand_id;
	char desc[DESC_LEN];
	enum id_class cls;
	const char *bad;
	struct place pl;
	u64 tag;
	u32 exp;

	cls = pick_id(p, file, &c.id, &tag);
	if (rnd_pct(p, 10))
		c.flags = edge32(p);
	if (rnd_pct(p, 10))
		c.reserved = edge32(p);
	if (!ptr_readable(ptr))
		exp = EXP_EFAULT;
	else if ((c.flags & ~KCANCEL_CANCEL_USER_DATA) || c.reserved)
		exp = EXP_EINVAL;
	else if (c.flags)
		exp = EXP_ENOENT;
	else if (cls == ID_LIVE)
		exp = EXP_OK | EXP_EALREADY |
		      (file_shared(p, file) ? EXP_ENOENT : 0);
	else if (cls == ID_RANDOM)
		exp = EXP_OK | EXP_EALREADY | EXP_ENOENT;
	else
		exp = EXP_ENOENT;
	rand_id = cls == ID_RANDOM && (exp & EXP_OK);
	place_arg(p, &pl, ptr, &c, sizeof(c));
	if (rand_id)
		random_cancel(p, file, true, false);
	if (ioctl(fd, KCANCEL_IOC_CANCEL, pl.addr))
		err = errno;
	if (rand_id)
		random_cancel(p, file, false, !err);
	bad = judge(p, FC_CANCEL, err, exp);
	if (!err && cls == ID_LIVE && !c.flags)
		mark_cancel_won(p, tag);
	if (bad || p->cfg->verbose) {
		snprintf(desc, sizeof(desc),
			 "fd %d id %llu (%s) flags %#x reserved %#x at %s",
			 fd, c.id, id_class_names[cls], c.flags, c.reserved,
			 ptr_names[ptr]);
		report(p, FC_CANCEL, err, exp, bad, desc);
	}
}

/* A wait's timeout: often 0 or short, sometimes forever or huge. */
static u64 pick_wait_timeout(struct fuzz_proc *p)
{
	u64 r = rnd_below(p, 100);

	if (r < 50)
		return 0;
	if (r < 75)
		return 1 + rnd_below(p, 100 * NSEC_PER_USEC);
	if (r < 80)
		return NSEC_PER_MSEC + rnd_below(p, 2 * NSEC_PER_MSEC);
	if (r < 90)
		return KCANCEL_WAIT_FOREVER;
	return edges64[ARRAY_SIZE(edges64) - 1 - rnd_below(p, 5)];
}

static u32 wait_expect(enum id_class cls, enum fuzz_ptr ptr, u64 timeout_ns,
		       bool shared)
{
	u32 exp;

	if (!ptr_readable(ptr))
		return EXP_EFAULT;
	switch (cls) {
	case ID_LIVE:
		exp = EXP_OK | EXP_ETIMEDOUT;
		if (shared)
			exp |= EXP_ENOENT;
		break;
	case ID_RANDOM:
		exp = EXP_OK | EXP_ETIMEDOUT | EXP_ENOENT | EXP_EINVAL;
		break;
	default:
		return EXP_ENOENT;
	}
	/* A timeout of 0 only looks: no sleep, no signal. */
	if (timeout_ns)
		exp |= EXP_EINTR;
	/* The event cannot be written back: it stays for the next reaper. */
	if (!ptr_writable(ptr) && (exp & EXP_OK))
		exp = (exp & ~EXP_OK) | EXP_EFAULT;
	return exp;
}

/*
 * A wait that could not write the event back returned EFAULT: the event
 * must still be there, for this wait.
 */
static void wait_again(struct fuzz_proc *p, int slot, u64 id)
{
	struct kcancel_wait w = { .id = id };
	char desc[DESC_LEN];
	const char *bad;
	struct place pl;
	int err = 0;

	place_arg(p, &pl, FP_VALID, &w, sizeof(w));
	if (ioctl(fd_of(p, slot), KCANCEL_IOC_WAIT, pl.addr))
		err = errno;
	bad = judge(p, FC_WAIT, err, EXP_OK);
	if (bad || p->cfg->verbose) {
		snprintf(desc, sizeof(desc),
			 "fd %d id %llu (after EFAULT) timeout_ns 0",
			 fd_of(p, slot), id);
		report(p, FC_WAIT, err, EXP_OK, bad, desc);
	}
	if (err)
		return;
	fetch_arg(&pl, &w, sizeof(w));
	track_event(p, file_of(p, slot), &w.done, FR_WAIT);
}

/**
 * call_wait() - KCANCEL_IOC_WAIT
 * @p: the process.
 * @slot: the descriptor slot to use.
 */
void call_wait(struct fuzz_proc *p, int slot)
{
	int fd = fd_of(p, slot), file = file_of(p, slot), err = 0;
	enum fuzz_ptr ptr = pick_ptr(p);
	struct kcancel_wait w;
	char desc[DESC_LEN];
	enum id_class cls;
	const char *bad;
	struct place pl;
	bool shared;
	u64 tag;
	u32 exp;

	memset(&w, 0x5a, sizeof(w));
	cls = pick_id(p, file, &w.id, &tag);
	w.timeout_ns = pick_wait_timeout(p);
	shared = file_shared(p, file);
	exp = wait_expect(cls, ptr, w.timeout_ns, shared);
	place_arg(p, &pl, ptr, &w, sizeof(w));
	if (ioctl(fd, KCANCEL_IOC_WAIT, pl.addr))
		err = errno;
	bad = judge(p, FC_WAIT, err, exp);
	if (bad || p->cfg->verbose) {
		snprintf(desc, sizeof(desc),
			 "fd %d id %llu (%s) timeout_ns %llu at %s", fd, w.id,
			 id_class_names[cls], w.timeout_ns, ptr_names[ptr]);
		report(p, FC_WAIT, err, exp, bad, desc);
	}
	if (err == EFAULT && cls == ID_LIVE && ptr_readable(ptr) && !shared)
		wait_again(p, slot, w.id);
	if (err || !ptr_writable(ptr))
		return;
	fetch_arg(&pl, &w, sizeof(w));
	if (w.done.id != w.id) {
		p->st->bad_events++;
		diag(p, "wait for id %llu returned the event of id %llu\n",
		     w.id, w.done.id);
	}
	track_event(p, file, &w.done, FR_WAIT);
}

/*
 * KCANCEL_IOC_BATCH carries up to %FUZZ_BATCH_ENTRIES requests made up as
 * for KCANCEL_IOC_SUBMIT (mostly valid ones, so that a batch gets far), in
 * the zoo's batch page, and reaps into its events page; its own fields are
 * at the edges now and then. The call itself fails only for its structure
 * (EINVAL, EFAULT), for events it cannot write (EFAULT), or for a signal
 * in its wait (EINTR). A submit that fails stops the submits: its errno
 * goes to error, and is judged as that request's KCANCEL_IOC_SUBMIT would
 * be. What the call queued, submitted says; where it cannot be written
 * back, the ids do, which the fuzzer sets before the call to 0 or to a
 * value no id has. Each request queued is tracked as a submit, and each
 * event reaped as one read.
 */

/**
 * struct batch - a KCANCEL_IOC_BATCH the fuzzer made up
 * @b: the structure.
 * @subs: the requests it carries: @b.nr_submits asks for no more than @n
 *	of them, unless it is above %KCANCEL_BATCH_MAX.
 * @n: how many were made up.
 * @entered: per request, it is in the arena's table.
 * @subs_at: where the requests are.
 * @events_at: where the events go.
 */
struct batch {
	struct kcancel_batch b;
	struct sub subs[FUZZ_BATCH_ENTRIES];
	unsigned int n;
	bool entered[FUZZ_BATCH_ENTRIES];
	struct place subs_at;
	struct place events_at;
};

/**
 * gen_simple() - make up a valid doorbell or factorial
 * @p: the process.
 * @sb: where to put it.
 */
void gen_simple(struct fuzz_proc *p, struct sub *sb)
{
	memset(sb, 0, sizeof(*sb));
	sb->buf = FP_NULL;
	sb->valid = true;
	sb->s.tag = new_tag(p);
	if (rnd_pct(p, 50)) {
		sb->s.op = KCANCEL_OP_DOORBELL;
		sb->s.arg = edge64(p);
	} else {
		sb->s.op = KCANCEL_OP_FACTORIAL;
		sb->s.arg = rnd_below(p, KCANCEL_FACTORIAL_MAX + 1);
	}
}

/* The rules of the header's struct kcancel_batch, for its own fields. */
static bool batch_valid(const struct kcancel_batch *b)
{
	return !b->flags && !b->reserved[0] && !b->reserved[1] &&
	       b->nr_submits <= KCANCEL_BATCH_MAX &&
	       b->max_events <= KCANCEL_BATCH_MAX &&
	       b->min_events <= b->max_events;
}

/* Can the call get to its submits: the structure read, its fields valid? */
static bool batch_submits_at_all(const struct batch *bt, enum fuzz_ptr ptr)
{
	return ptr_readable(ptr) && batch_valid(&bt->b);
}

/* max_events: mostly a few, sometimes at the limit or above. */
static u32 pick_max_events(struct fuzz_proc *p)
{
	u64 r = rnd_below(p, 100);

	if (r < 75)
		return rnd_below(p, FUZZ_BATCH_ENTRIES + 1);
	if (r < 85)
		return KCANCEL_BATCH_MAX - rnd_below(p, 2);
	if (r < 90)
		return KCANCEL_BATCH_MAX + 1;
	return edge32(p);
}

/* min_events: mostly 0 or a few up to max_events, sometimes above. */
static u32 pick_min_events(struct fuzz_proc *p, u32 max)
{
	u64 r = rnd_below(p, 100);

	if (r < 50)
		return 0;
	if (r < 90)
		return max ? 1 + rnd_below(p, max < 4 ? max : 4) : 0;
	return rnd_pct(p, 50) ? max + 1 : edge32(p);
}

/* A batch's timeout: often 0 or short, sometimes forever or huge. */
static u64 pick_batch_timeout(struct fuzz_proc *p)
{
	u64 r = rnd_below(p, 100);

	if (r < 40)
		return 0;
	if (r < 70)
		return 1 + rnd_below(p, 100 * NSEC_PER_USEC);
	if (r < 85)
		return NSEC_PER_MSEC + rnd_below(p, 2 * NSEC_PER_MSEC);
	if (r < 95)
		return KCANCEL_WAIT_FOREVER;
	return edges64[ARRAY_SIZE(edges64) - 1 - rnd_below(p, 5)];
}

/*
 * Make up a batch on @file, whose structure goes at a pointer of kind
 * @ptr; @shared: another process holds the file.
 */
static void gen_batch(struct fuzz_proc *p, struct batch *bt, int file,
		      enum fuzz_ptr ptr, bool shared)
{
	s32 live = __atomic_load_n(&p->ar->files[file].live, __ATOMIC_RELAXED);
	struct kcancel_submit flat[FUZZ_BATCH_ENTRIES];
	const size_t sz = sizeof(struct kcancel_submit);
	struct kcancel_batch *b = &bt->b;
	enum fuzz_ptr subs_kind, ev_kind;
	unsigned int i;
	u64 r;

	memset(bt, 0, sizeof(*bt));
	bt->n = rnd_below(p, FUZZ_BATCH_ENTRIES + 1);
	for (i = 0; i < bt->n; i++) {
		gen_submit(p, &bt->subs[i], false);
		if (!bt->subs[i].valid && rnd_pct(p, 60))
			gen_simple(p, &bt->subs[i]);
		/* 0, as the header suggests, or a value no id ever has. */
		if (rnd_pct(p, 50))
			bt->subs[i].s.id = 0;
		else
			bt->subs[i].s.id = rnd(p) | 1ULL << 63;
		flat[i] = bt->subs[i].s;
	}
	r = rnd_below(p, 100);
	if (r < 85)
		b->nr_submits = bt->n;
	else if (r < 93)
		b->nr_submits = rnd_below(p, bt->n + 1);
	else
		b->nr_submits = rnd_pct(p, 50) ? KCANCEL_BATCH_MAX + 1 :
				~0U - rnd_below(p, 4);
	b->max_events = pick_max_events(p);
	b->min_events = pick_min_events(p, b->max_events);
	b->timeout_ns = pick_batch_timeout(p);
	/*
	 * A long wait only for events that must come: those of requests in
	 * flight on a file this process alone holds. The timer's SIGALRM
	 * would end any wait, but the fuzzer does not count on it.
	 */
	if (b->min_events && b->timeout_ns > 3 * NSEC_PER_MSEC &&
	    (shared || live < 0 || b->min_events > (u32)live))
		b->timeout_ns = NSEC_PER_MSEC;
	if (rnd_pct(p, 8))
		b->flags = edge32(p) | 1U << rnd_below(p, 32);
	if (rnd_pct(p, 4))
		b->reserved[rnd_below(p, 2)] = edge64(p) | 1;
	/* Out fields: they must be written. */
	b->submitted = 0xa5a5a5a5;
	b->error = 0x5a5a5a5a;

	/* One read-only alias page per process: for one argument at most. */
	subs_kind = rnd_pct(p, 85) ? FP_VALID : rnd_below(p, FP_NR);
	ev_kind = rnd_pct(p, 85) ? FP_VALID : rnd_below(p, FP_NR);
	if (subs_kind == FP_READONLY && ptr == FP_READONLY)
		subs_kind = FP_VALID;
	if (ev_kind == FP_READONLY &&
	    (ptr == FP_READONLY || subs_kind == FP_READONLY))
		ev_kind = FP_VALID;
	place(p, &bt->subs_at, subs_kind, p->zoo->batch, p->zoo->batch_guard,
	      bt->n * sz);
	if (bt->subs_at.local)
		memcpy(bt->subs_at.local, flat, bt->n * sz < bt->subs_at.room ?
		       bt->n * sz : bt->subs_at.room);
	place(p, &bt->events_at, ev_kind, p->zoo->events, p->zoo->events_guard,
	      (size_t)b->max_events * sizeof(struct kcancel_event));
	b->submits = bt->subs_at.addr;
	b->events = bt->events_at.addr;
}

/*
 * How request @i of a batch whose requests are placed at @pl can be
 * reached: %FP_VALID if all of it can be read and written, %FP_READONLY if
 * read only, else a kind that cannot be read.
 */
static enum fuzz_ptr entry_kind(const struct place *pl, unsigned int i)
{
	size_t end = (i + 1) * sizeof(struct kcancel_submit);

	switch (pl->kind) {
	case FP_VALID:
	case FP_MISALIGNED:
	case FP_END:
	case FP_STRADDLE:
		return end <= pl->room ? FP_VALID : FP_STRADDLE;
	case FP_READONLY:
		return end <= pl->room ? FP_READONLY : FP_GUARD;
	default:
		return pl->kind;
	}
}

/*
 * Enter the valid requests the call may queue, before it is made; false
 * if the table is full (then none is).
 */
static bool batch_enter(struct fuzz_proc *p, int file, struct batch *bt,
			enum fuzz_ptr ptr)
{
	unsigned int i;

	if (!batch_submits_at_all(bt, ptr))
		return true;
	for (i = 0; i < bt->b.nr_submits; i++) {
		if (!bt->subs[i].valid)
			continue;
		if (!enter_rec(p, file, &bt->subs[i], false)) {
			while (i--)
				if (bt->entered[i])
					drop_rec(p, bt->subs[i].s.tag);
			return false;
		}
		bt->entered[i] = true;
	}
	return true;
}

/* The outcomes the call may have, before it is made. */
static u32 batch_expect(const struct batch *bt, enum fuzz_ptr ptr)
{
	const struct kcancel_batch *b = &bt->b;
	const struct place *ev = &bt->events_at;
	size_t room = ev->kind == FP_READONLY ? 0 : ev->room;
	u32 exp = EXP_OK;

	if (!ptr_readable(ptr))
		return EXP_EFAULT;
	if (!batch_valid(b))
		return EXP_EINVAL;
	/* The submits are made, then submitted cannot be written back. */
	if (!ptr_writable(ptr))
		return EXP_EFAULT;
	/* An event may be ready that cannot be written. */
	if (b->max_events && room < sizeof(struct kcancel_event))
		exp |= EXP_EFAULT;
	/* A timeout of 0 only looks: no sleep, no signal. */
	if (b->min_events && b->timeout_ns)
		exp |= EXP_EINTR;
	return exp;
}

static void desc_batch(char *d, const struct batch *bt, int fd,
		       enum fuzz_ptr ptr, int ret, const struct kcancel_batch *out)
{
	const struct kcancel_batch *b = &bt->b;
	int n;

	n = snprintf(d, DESC_LEN,
		     "fd %d nr_submits %u of %u at %s (%#llx) max_events %u min_events %u timeout_ns %llu",
		     fd, b->nr_submits, bt->n, ptr_names[bt->subs_at.kind],
		     b->submits, b->max_events, b->min_events, b->timeout_ns);
	n += snprintf(d + n, DESC_LEN - n,
		      " flags %#x reserved %#llx,%#llx events at %s (%#llx, room %zu), at %s = %d",
		      b->flags, b->reserved[0], b->reserved[1],
		      ptr_names[bt->events_at.kind], b->events,
		      bt->events_at.room, ptr_names[ptr], ret);
	if (out)
		snprintf(d + n, DESC_LEN - n, ", submitted %u error %d",
			 out->submitted, out->error);
}

/*
 * Something wrong with request @i of a batch on @fd: @bad, its outcome
 * @err (0: queued), the outcomes expected @exp.
 */
static void entry_diag(struct fuzz_proc *p, const struct batch *bt, int fd,
		       unsigned int i, enum fuzz_ptr kind, const char *bad,
		       int err, u32 exp, u64 id)
{
	char desc[DESC_LEN], name[32], x[128];

	desc_submit(desc, &bt->subs[i], fd, kind, false, err, id);
	diag(p, "batch request %u of %u: %s: %s, expected %s (%s)\n", i,
	     bt->b.nr_submits, bad, err_name(err, name, sizeof(name)),
	     exp ? xdesc(exp, x, sizeof(x)) : "nothing", desc);
}

/*
 * What the call queued, when submitted and error are not known: the
 * requests before the first whose id is as it was before the call.
 */
static u32 queued_by_ids(const struct batch *bt,
			 const struct kcancel_submit *now)
{
	u32 k = 0;

	while (k < bt->b.nr_submits && k < bt->n &&
	       now[k].id != bt->subs[k].s.id)
		k++;
	return k;
}

/*
 * Check what the call did with the requests, and track them: the first
 * @out->submitted were queued, the next failed with -@out->error, the
 * rest were not looked at. @out is NULL when it could not be written back.
 * @shared: another process held the file when the call was made.
 */
static void batch_submits(struct fuzz_proc *p, int slot,
			  const struct batch *bt, enum fuzz_ptr ptr,
			  const struct kcancel_batch *out, bool shared)
{
	int fd = fd_of(p, slot), file = file_of(p, slot);
	const struct kcancel_batch *b = &bt->b;
	const size_t sz = sizeof(struct kcancel_submit);
	struct kcancel_submit now[FUZZ_BATCH_ENTRIES];
	bool at_all = batch_submits_at_all(bt, ptr), err_known = false;
	u64 ids[FUZZ_BATCH_ENTRIES];
	enum fuzz_ptr kind;
	const char *bad;
	unsigned int i, j;
	int err = 0;
	u32 k = 0, exp;

	/* The requests as they are now: the driver wrote their ids. */
	for (i = 0; i < bt->n; i++) {
		kind = entry_kind(&bt->subs_at, i);
		now[i] = bt->subs[i].s;
		if (kind == FP_VALID || kind == FP_READONLY)
			memcpy(&now[i], bt->subs_at.local + i * sz, sz);
	}
	if (at_all && out) {
		err = -out->error;
		bad = NULL;
		if (out->submitted > b->nr_submits)
			bad = "submitted is above nr_submits";
		else if ((out->submitted < b->nr_submits && !out->error) ||
			 (out->submitted == b->nr_submits && out->error))
			bad = "error is 0 if and only if all were submitted";
		if (bad) {
			p->st->wrong++;
			diag(p, "batch: %s: nr_submits %u submitted %u error %d\n",
			     bad, b->nr_submits, out->submitted, out->error);
		} else {
			k = out->submitted;
			err_known = true;
		}
		if (err_known && err &&
		    (err < 0 || !call_documents(FC_SUBMIT, err))) {
			p->st->undocumented++;
			diag(p, "batch: error %d, not an errno of KCANCEL_IOC_SUBMIT\n",
			     out->error);
		}
	}
	if (at_all && !err_known)
		k = queued_by_ids(bt, now);

	for (i = 0; i < bt->n; i++) {
		const struct sub *sb = &bt->subs[i];
		bool changed = now[i].id != sb->s.id;

		kind = entry_kind(&bt->subs_at, i);
		exp = i < b->nr_submits ?
		      submit_expect(p, file, sb, kind, false, shared, false) :
		      0;
		bad = NULL;
		if (i < k) {
			ids[i] = now[i].id;
			for (j = 0; j < i && ids[j] != ids[i]; j++)
				;
			if (!(exp & EXP_OK))
				bad = "queued, wrongly";
			else if (!changed || !now[i].id)
				bad = "queued without an id written";
			else if (j < i)
				bad = "queued with the id of another request";
			if (bad) {
				p->st->wrong++;
				entry_diag(p, bt, fd, i, kind, bad, 0, exp,
					   now[i].id);
			}
			if (bt->entered[i])
				track_submitted(p, sb->s.tag, file, true,
						changed && now[i].id,
						now[i].id);
			continue;
		}
		if (i == k && err_known && k < b->nr_submits) {
			/* The one that failed, with error. */
			if (err > 0 && call_documents(FC_SUBMIT, err) &&
			    !(exp & xbit(err))) {
				p->st->wrong++;
				entry_diag(p, bt, fd, i, kind,
					   "error is the wrong outcome", err,
					   exp, now[i].id);
			}
		} else if (changed) {
			p->st->wrong++;
			entry_diag(p, bt, fd, i, kind,
				   "not reached, but its id was written", 0,
				   0, now[i].id);
		}
		if (bt->entered[i])
			track_submitted(p, sb->s.tag, file, false, false, 0);
	}
}

/* Check and track the @ret events the call reaped. */
static void batch_events(struct fuzz_proc *p, int file, const struct batch *bt,
			 int ret)
{
	const struct place *ev = &bt->events_at;
	size_t room = ev->kind == FP_READONLY ? 0 : ev->room;
	size_t n = ret, sz = sizeof(struct kcancel_event), i;
	struct kcancel_event e;

	if (n > bt->b.max_events || n * sz > room) {
		p->st->wrong++;
		diag(p, "batch: %d events reaped, max_events %u, room for %zu\n",
		     ret, bt->b.max_events, room / sz);
		n = room / sz < bt->b.max_events ? room / sz : bt->b.max_events;
		if (n > (size_t)ret)
			n = ret;
	}
	for (i = 0; i < n; i++) {
		memcpy(&e, ev->local + i * sz, sz);
		track_event(p, file, &e, FR_BATCH);
	}
}

/*
 * A batch could not write the first event that was ready: EFAULT, and the
 * event must still be there, for this batch, which only looks.
 */
static void batch_again(struct fuzz_proc *p, int slot)
{
	struct kcancel_batch b = { .max_events = 1 };
	int fd = fd_of(p, slot), err = 0, ret;
	struct kcancel_event e;
	char desc[DESC_LEN];
	struct place pl, epl;
	const char *bad;

	place(p, &epl, FP_VALID, p->zoo->events, p->zoo->events_guard,
	      sizeof(e));
	b.events = epl.addr;
	place_arg(p, &pl, FP_VALID, &b, sizeof(b));
	ret = ioctl(fd, KCANCEL_IOC_BATCH, pl.addr);
	if (ret < 0)
		err = errno;
	bad = judge(p, FC_BATCH, err, EXP_OK);
	if (!bad && ret != 1) {
		p->st->wrong++;
		bad = "the event it could not write is gone";
	}
	if (bad || p->cfg->verbose) {
		snprintf(desc, sizeof(desc),
			 "fd %d max_events 1 (after EFAULT) = %d", fd, ret);
		report(p, FC_BATCH, err, EXP_OK, bad, desc);
	}
	if (ret != 1)
		return;
	memcpy(&e, epl.local, sizeof(e));
	track_event(p, file_of(p, slot), &e, FR_BATCH);
}

/**
 * call_batch() - KCANCEL_IOC_BATCH
 * @p: the process.
 * @slot: the descriptor slot to use.
 */
void call_batch(struct fuzz_proc *p, int slot)
{
	int fd = fd_of(p, slot), file = file_of(p, slot), err = 0, ret;
	enum fuzz_ptr ptr = pick_ptr(p);
	bool shared = file_shared(p, file), known;
	struct kcancel_batch out;
	char desc[DESC_LEN];
	struct batch bt;
	const char *bad;
	struct place pl;
	u32 exp;

	gen_batch(p, &bt, file, ptr, shared);
	if (!batch_enter(p, file, &bt, ptr))
		return;
	exp = batch_expect(&bt, ptr);
	place_arg(p, &pl, ptr, &bt.b, sizeof(bt.b));
	ret = ioctl(fd, KCANCEL_IOC_BATCH, pl.addr);
	if (ret < 0)
		err = errno;
	bad = judge(p, FC_BATCH, err, exp);
	/* Whether submitted and error were written back. */
	known = batch_submits_at_all(&bt, ptr) && ptr_writable(ptr) &&
		(!err || err == EINTR || err == EFAULT);
	if (known)
		fetch_arg(&pl, &out, sizeof(out));
	if (bad || p->cfg->verbose) {
		desc_batch(desc, &bt, fd, ptr, ret, known ? &out : NULL);
		report(p, FC_BATCH, err, exp, bad, desc);
	}
	batch_submits(p, slot, &bt, ptr, known ? &out : NULL, shared);
	if (!err)
		batch_events(p, file, &bt, ret);
	/* The events could not be written: the first stays. */
	if (err == EFAULT && known && (exp & EXP_EFAULT) && !shared)
		batch_again(p, slot);
}

/**
 * call_info() - KCANCEL_IOC_INFO: it must say what it said at the start
 * @p: the process.
 * @slot: the descriptor slot to use.
 */
void call_info(struct fuzz_proc *p, int slot)
{
	int fd = fd_of(p, slot), err = 0;
	enum fuzz_ptr ptr = pick_ptr(p);
	struct kcancel_info info;
	char desc[DESC_LEN];
	const char *bad;
	struct place pl;
	u32 exp;

	memset(&info, 0xa5, sizeof(info));
	place_arg(p, &pl, ptr, &info, sizeof(info));
	if (ioctl(fd, KCANCEL_IOC_INFO, pl.addr))
		err = errno;
	exp = ptr_writable(ptr) ? EXP_OK : EXP_EFAULT;
	bad = judge(p, FC_INFO, err, exp);
	if (!err && ptr_writable(ptr)) {
		fetch_arg(&pl, &info, sizeof(info));
		if (memcmp(&info, &p->cfg->info, sizeof(info))) {
			p->st->wrong++;
			bad = "a different answer than at the start";
		}
	}
	if (bad || p->cfg->verbose) {
		snprintf(desc, sizeof(desc), "fd %d at %s", fd, ptr_names[ptr]);
		report(p, FC_INFO, err, exp, bad, desc);
	}
}

static const unsigned int real_cmds[] = {
	KCANCEL_IOC_SUBMIT, KCANCEL_IOC_SUBMIT_WAIT, KCANCEL_IOC_CANCEL,
	KCANCEL_IOC_WAIT, KCANCEL_IOC_INFO, KCANCEL_IOC_BATCH,
};

#ifndef FS_IOC_GETFSUUID
#define FS_IOC_GETFSUUID	0
#endif
#ifndef FS_IOC_GETFSSYSFSPATH
#define FS_IOC_GETFSSYSFSPATH	0
#endif

/*
 * The commands fs/ioctl.c's do_vfs_ioctl() answers itself, for every file:
 * they never reach the driver, so they are not the driver's to refuse.
 */
static const unsigned int vfs_cmds[] = {
	FIOCLEX, FIONCLEX, FIONBIO, FIOASYNC, FIOQSIZE, FIFREEZE, FITHAW,
	FS_IOC_FIEMAP, FIGETBSZ, FICLONE, FICLONERANGE, FIDEDUPERANGE,
	FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_IOC_FSGETXATTR,
	FS_IOC_FSSETXATTR, FS_IOC_GETFSUUID, FS_IOC_GETFSSYSFSPATH,
};

/* Is @cmd one of the driver's, or the VFS's? */
static bool cmd_taken(unsigned int cmd)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(real_cmds); i++)
		if (cmd == real_cmds[i])
			return true;
	for (i = 0; i < ARRAY_SIZE(vfs_cmds); i++)
		if (cmd == vfs_cmds[i])
			return true;
	/* The magic of FS_IOC_GETFSUUID and FS_IOC_GETFSSYSFSPATH. */
	return _IOC_TYPE(cmd) == 0x15;
}

/* A command the driver does not have. */
static unsigned int pick_bad_cmd(struct fuzz_proc *p)
{
	unsigned int cmd, real;

	do {
		real = real_cmds[rnd_below(p, ARRAY_SIZE(real_cmds))];
		switch (rnd_below(p, 5)) {
		case 0:		/* another size */
			cmd = _IOC(_IOC_DIR(real), _IOC_TYPE(real),
				   _IOC_NR(real),
				   (_IOC_SIZE(real) + 1 +
				    rnd_below(p, _IOC_SIZEMASK)) &
				   _IOC_SIZEMASK);
			break;
		case 1:		/* another direction */
			cmd = _IOC((_IOC_DIR(real) + 1 + rnd_below(p, 3)) & 3,
				   _IOC_TYPE(real), _IOC_NR(real),
				   _IOC_SIZE(real));
			break;
		case 2:		/* another number of ours */
			cmd = _IOC(_IOC_DIR(real), KCANCEL_IOC_MAGIC,
				   rnd_below(p, 256), _IOC_SIZE(real));
			break;
		case 3:		/* another magic */
			cmd = _IOC(_IOC_DIR(real), rnd_below(p, 256),
				   _IOC_NR(real), _IOC_SIZE(real));
			break;
		default:
			cmd = rnd(p);
			break;
		}
	} while (cmd_taken(cmd));
	return cmd;
}

/**
 * call_bad_ioctl() - an ioctl the driver does not have: ENOTTY
 * @p: the process.
 * @slot: the descriptor slot to use.
 */
void call_bad_ioctl(struct fuzz_proc *p, int slot)
{
	int fd = fd_of(p, slot), err = 0;
	unsigned int cmd = pick_bad_cmd(p);
	char desc[DESC_LEN], junk[256];
	const char *bad;
	struct place pl;
	u64 arg;

	if (rnd_pct(p, 70)) {
		memset(junk, 0xa5, sizeof(junk));
		place_arg(p, &pl, rnd_below(p, FP_NR), junk, sizeof(junk));
		arg = pl.addr;
	} else {
		arg = edge64(p);
	}
	if (ioctl(fd, cmd, arg))
		err = errno;
	bad = judge(p, FC_BAD_IOCTL, err, EXP_ENOTTY);
	if (bad || p->cfg->verbose) {
		snprintf(desc, sizeof(desc), "fd %d cmd %#x arg %#llx", fd, cmd,
			 arg);
		report(p, FC_BAD_IOCTL, err, EXP_ENOTTY, bad, desc);
	}
}
