/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kcancel files: an open /dev/kcancelN and its requests (file.c), as
 * chardev.c (the file ABI) and uring.c (its io_uring commands) use them.
 */
#ifndef _KCANCEL_FILE_H
#define _KCANCEL_FILE_H

#include <linux/build_bug.h>
#include <linux/limits.h>
#include <linux/list.h>
#include <linux/wait.h>
#include <linux/xarray.h>

#include <kcancel/dev.h>
#include <uapi/linux/kcancel.h>

struct io_uring_cmd;

/* The most pages a DMA buffer of %KCANCEL_DMA_SIZE bytes can span. */
#define KC_FILE_DMA_PAGES	(DIV_ROUND_UP(KCANCEL_DMA_SIZE, PAGE_SIZE) + 1)

/**
 * struct kc_file_dma - the caller's buffer of a DMA from the device
 * @ubuf: its address in the submitter's memory.
 * @pages: its pages, pinned at submit.
 * @npages: how many of @pages are pinned.
 *
 * Only such requests need it, so it is allocated apart from the request.
 */
struct kc_file_dma {
	u64 ubuf;
	struct page *pages[KC_FILE_DMA_PAGES];
	unsigned int npages;
};

/**
 * struct kc_file - an open /dev/kcancelN
 * @kd: the device, with a reference.
 * @node: entry in &kc_chardev.files.
 * @ios: id -> &struct kc_file_io, each with a reference once queued (a
 *	request enters at its reserve, &kc_file_io.queued says when it counts);
 *	its lock guards
 *	@events, &kc_file_io.reaped, &kc_file_io.completed,
 *	&kc_file_io.orphan and &kc_file_io.ucmd too.
 * @events: completed requests whose event is not reaped, oldest first.
 * @wq: readers and pollers wait here for @events.
 * @outstanding: requests submitted and not completed.
 * @count: requests in @ios (submitted and not reaped), at most the
 *	max_pending module parameter.
 */
struct kc_file {
	struct kc_dev *kd;
	struct list_head node;
	struct xarray ios;
	struct list_head events;
	wait_queue_head_t wq;
	atomic_t outstanding;
	atomic_t count;
};

/**
 * struct kc_file_io - a request of a file
 * @io: the device request.
 * @f: the file.
 * @tag: the caller's tag, for its event; an io_uring request (@uring),
 *	which has no event, keeps its SQE's user_data here instead.
 * @dma: a DMA from the device: the caller's buffer; NULL otherwise.
 * @event_node: entry in &kc_file.events.
 * @ucmd: an io_uring request (@uring): its command, until its CQE is
 *	claimed, by the completion or by the ring's cancel (uring.c).
 * @sync: submitted by KCANCEL_IOC_SUBMIT_WAIT: no event is queued.
 * @uring: submitted by KCANCEL_URING_CMD_SUBMIT: no event is queued; its
 *	completion posts a CQE instead.
 * @reaped: its event was taken (or is being taken) by a reader or a waiter.
 * @completed: kc_file_io_completed() has run: its event is on
 *	&kc_file.events unless @reaped. Written under the table's lock, and
 *	read without it, with READ_ONCE(), by its KCANCEL_IOC_SUBMIT_WAIT
 *	waiter when that is the device's waiter (kc_file_io_done()).
 * @orphan: its KCANCEL_IOC_SUBMIT_WAIT caller was killed, or its io_uring
 *	ring cancelled it and posted its CQE: the completion takes it out of
 *	the file, with no event.
 * @timed: it has a time limit: it is the @fio of a &struct kc_file_io_timed.
 * @waited: its KCANCEL_IOC_SUBMIT_WAIT caller is the device's waiter
 *	(kc_file_queue_sync()), which its completion must wake. Set before
 *	it is queued, then only read.
 * @queued: it is bound and about to be queued (kc_file_queue_many()):
 *	look-ups in &kc_file.ios find it only from then on. Written once,
 *	with smp_store_release() and without the table's lock; read under
 *	it, with smp_load_acquire().
 */
struct kc_file_io {
	struct kc_io io;
	struct kc_file *f;
	u64 tag;
	struct kc_file_dma *dma;
	struct list_head event_node;
	struct io_uring_cmd *ucmd;
	bool sync;
	bool uring;
	bool reaped;
	bool completed;
	bool orphan;
	bool timed;
	bool waited;
	bool queued;
};

static inline struct kc_file_io *to_fio(struct kc_request *req)
{
	return container_of(req, struct kc_file_io, io.req);
}

/**
 * struct kc_file_io_timed - a request of a file that has a time limit
 * @fio: the request, with &kc_file_io.timed set.
 * @timer: its timeout: only such requests pay for one.
 */
struct kc_file_io_timed {
	struct kc_file_io fio;
	struct kc_request_timer timer;
};

/* How a request of a file is submitted, for kc_file_prepare(). */
enum kc_file_mode {
	KC_FILE_EVENT,		/* KCANCEL_IOC_SUBMIT, KCANCEL_IOC_BATCH */
	KC_FILE_SYNC,		/* KCANCEL_IOC_SUBMIT_WAIT */
	KC_FILE_URING,		/* KCANCEL_URING_CMD_SUBMIT */
};

int kc_file_setup(void);
void kc_file_exit(void);
unsigned int kc_file_max_pending(void);
void kc_file_init(struct kc_file *f, struct kc_dev *kd);
void kc_file_close(struct kc_file *f);
bool kc_file_hup(struct kc_file *f);

/* Submits. */
struct kc_file_io *kc_file_prepare(struct kc_file *f, struct kcancel_submit *s,
				   __u64 __user *uid, enum kc_file_mode mode);
void kc_file_queue(struct kc_file *f, struct kc_file_io *fio, u64 timeout_ns);
bool kc_file_queue_sync(struct kc_file *f, struct kc_file_io *fio,
			u64 timeout_ns);
int kc_file_submit(struct kc_file *f, struct kcancel_submit *s,
		   __u64 __user *uid);
int kc_file_submit_batch(struct kc_file *f, struct kcancel_submit __user *us,
			 u32 nr, u32 *queued);

/* Look-ups and cancels. */
struct kc_file_io *kc_file_lookup(struct kc_file *f, u64 id);
bool kc_file_cancel(struct kc_file *f, struct kc_file_io *fio, int how);
int kc_file_cancel_by(struct kc_file *f, const struct kcancel_cancel *c,
		      int how);

/* Waits and events. */
int kc_file_wait_sync(struct kc_file *f, struct kc_file_io *fio,
		      bool waiter, unsigned int state);
int kc_file_wait_done(struct kc_file *f, struct kc_file_io *fio, long t);
bool kc_file_take_one(struct kc_file *f, struct kc_file_io *fio);
int kc_file_pop(struct kc_file *f, size_t max, struct list_head *got,
		bool nonblock);
size_t kc_file_deliver(struct kc_file *f, struct list_head *got,
		       struct kcancel_event __user *uev);
long kc_file_reap(struct kc_file *f, struct kcancel_event __user *uev,
		  u32 max, u32 min, long t);
void kc_file_event(struct kc_file_io *fio, struct kcancel_event *ev);
void kc_file_unreap(struct kc_file *f, struct kc_file_io *fio);
void kc_file_orphan(struct kc_file *f, struct kc_file_io *fio);
void kc_file_forget(struct kc_file *f, struct kc_file_io *fio);

#ifdef KC_HAVE_URING_CMD
int kc_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags);
void kc_uring_complete(struct io_uring_cmd *cmd);
#define KC_FILE_FEATURES	KCANCEL_FEATURE_URING_CMD
#else
static inline void kc_uring_complete(struct io_uring_cmd *cmd) { }
#define KC_FILE_FEATURES	0
#endif

#endif /* _KCANCEL_FILE_H */
