/*
 * kcancel.pml - a Promela model of kcancel's cancel machinery, checked by
 * spin: the request core (module/request.c), the collection of sent
 * requests (module/target.c), a device with one hardware slot, its DPC and
 * removal (module/dev.c), and an open file with close() (module/file.c).
 *
 * One request, R. Each scenario is a set of processes racing on it; pick
 * one with -D (see model/README.md and scripts/check-model.sh):
 *
 *   S_CORE       the request core alone, KMDF's first pattern: a driver
 *                marks (mark or mark-ex), its DPC unmarks and completes,
 *                a cancel, a timeout and a purge race
 *   S_BELL       a doorbell on the device: DPC, cancel ioctl, timeout,
 *                a spurious bit, then read() or close()
 *   S_SENT       a factorial sent to the target: the same, through the
 *                collection, with a backend that aborts (the software one)
 *   S_SENT_EDU   the same with a backend that cannot abort (edu)
 *   S_REMOVE     removal of the device while a doorbell is submitted, with
 *                a device that may stop answering (bounded waits, failure)
 *   S_REMOVE_SENT  the same with a factorial and a canceller
 *   S_WAIT       KCANCEL_IOC_SUBMIT_WAIT: a signal cancels, a fatal signal
 *                orphans the request, then close()
 *   S_CLOSE_FAIL close() that fails a device that stopped answering,
 *                racing removal
 *   S_ALL_BELL, S_ALL_SENT  every process at once (large: by hand)
 *
 * Add -DSYNC_DRIVER=1 for KC_SYNC_DRIVER (no sync lock).
 * Broken variants: -DBREAK_UNMARK, -DBREAK_SENT_DEC, -DBREAK_SENT_INC,
 * -DBREAK_SENT_LOST, -DBREAK_DEFER, and what the C code did before the
 * model found it wrong: -DBREAK_CLOSE_NOREF (close() cancels without a
 * reference), -DBREAK_FAIL_NOWAIT (kc_dev_shutdown() does not wait for a
 * kc_dev_fail() halting the hardware), -DBREAK_ABORT_STALE (an abort after
 * the slot's bit was taken). -DLIVENESS adds the LTL claim (and drops the checks
 * on terminal states, which are the safety run's). See README.md.
 */

#define CH_FACT		0
#define CH_BELL		1

/* The scenarios: which processes run, and how. */
#ifdef S_CORE
#define DEV		0
#define TIMER		1
#define CANCELLER	1
#define PURGER		1
#endif
#ifdef S_BELL
#define CHAN		CH_BELL
#define TIMER		1
#define CANCELLER	1
#define SPURIOUS	1
#endif
#ifdef S_SENT
#define CHAN		CH_FACT
#define HAS_ABORT	1
#define TIMER		1
#define CANCELLER	1
#define SPURIOUS	1
#endif
#ifdef S_SENT_EDU
#define CHAN		CH_FACT
#define TIMER		1
#define CANCELLER	1
#endif
#ifdef S_REMOVE
#define CHAN		CH_BELL
#define TIMER		1
#define REMOVAL		1
#define SLOW		1
#endif
#ifdef S_REMOVE_SENT
#define CHAN		CH_FACT
#define HAS_ABORT	1
#define CANCELLER	1
#define REMOVAL		1
#define SLOW		1
#endif
#ifdef S_WAIT
#define CHAN		CH_FACT
#define SYNC_OWNER	1
#define TIMER		1
#endif
#ifdef S_ALL_SENT
#define CHAN		CH_FACT
#define HAS_ABORT	1
#define TIMER		1
#define CANCELLER	1
#define SPURIOUS	1
#define REMOVAL		1
#define SLOW		1
#endif
#ifdef S_ALL_BELL
#define CHAN		CH_BELL
#define TIMER		1
#define CANCELLER	1
#define SPURIOUS	1
#define REMOVAL		1
#define SLOW		1
#endif
#ifdef S_CLOSE_FAIL
#define CHAN		CH_BELL
#define REMOVAL		1
#define SLOW		1
#endif

/* Defaults of the knobs. */
#ifndef DEV
#define DEV		1
#endif
#ifndef CHAN
#define CHAN		CH_BELL
#endif
#ifndef SYNC_DRIVER
#define SYNC_DRIVER	0
#endif
#ifndef HAS_ABORT
#define HAS_ABORT	0
#endif
#ifndef TIMER
#define TIMER		0
#endif
#ifndef CANCELLER
#define CANCELLER	0
#endif
#ifndef PURGER
#define PURGER		0
#endif
#ifndef SPURIOUS
#define SPURIOUS	0
#endif
#ifndef REMOVAL
#define REMOVAL		0
#endif
#ifndef SLOW
#define SLOW		0
#endif
#ifndef SYNC_OWNER
#define SYNC_OWNER	0
#endif
/* kc_request_finish()'s promise: a cancel that won names the status */
#define REASON_CHECK	DEV

/* ---- the request (struct kc_request), index R ---- */
byte st[1];		/* state word, see request.pml */
byte ref[1];		/* kref */
bool alive[1];		/* not yet released */
bool prepared;		/* exists for the request core */
byte ncompl[1];		/* completions */
byte status[1];		/* req->status */
bool rdone[1];		/* complete_all(&req->done) */
bool onlist[1];		/* on q->cancelable, with a reference */
byte tm[1];		/* its hrtimer */
bool wk[1];		/* on its queue's deferred list, with a reference */
byte sent_count[1];	/* KMDF's completion count */
byte sent_status[1];
/* its place in the device (struct kc_io) */
bool queued[1];		/* on kd->pending */
byte io_slot[1] = 255;	/* io->slot: the slot, or NONE */
bool insent[1];		/* in kd->target.sent, with a reference */

/* ---- the queue (struct kc_queue, in kd) ---- */
byte q_active;		/* q->active */
bool purging;
byte purge_reason;

/* ---- the device (struct kc_dev) ---- */
byte kd_ref = 2;	/* the backend's and the open file's */
bool kd_alive = true;
bool dead, failed;
bool busy, started;	/* the one slot */
byte slot_io = 255;	/* its request, with a reference, or NONE */
byte t_busy;		/* kd->target.busy */
bool t_drained;		/* kc_target_drain() returned */
/* the backend: its data (kd->priv), its hardware, ISR and DPC */
bool priv_alive = true;
bool hw_op;		/* an operation runs: its bit will come */
bool aborted;		/* kc_sim_abort() stopped it */
bool pending;		/* the bits the ISR collected for the DPC */
bool spur = SPURIOUS;	/* one spurious or duplicate bit to come */
bool dpc_running;
bool irq_gone;		/* free_irq() / kthread_destroy_worker() */
bool removed;
bool gone, failing;	/* kc_dev.gone; kc_dev.fail_lock held */

/* ---- the open file (struct kc_file) and the request's kc_file_io ---- */
bool f_alive = true;
byte outstanding;
bool intable[1];	/* in f->ios, with the table's reference */
bool event[1];		/* on f->events */
bool reaped[1], fcompleted[1], orphan[1], sync_io[1];
bool canceller_done = !CANCELLER;
bool owner_done;

/* ---- the core scenario's driver ---- */
bool hw_go;		/* the driver gave the request to its hardware */

/* ---- locks: 0 free, else the holder's _pid + 1 ---- */
byte l_sync;		/* q->sync_lock */
byte l_kd;		/* kd->lock */
byte l_q;		/* q->lock */
byte l_xa;		/* xa_lock of kd->target.sent */
byte l_f;		/* xa_lock of f->ios */

/*
 * REACHED(n): a witness that the search reached an outcome of a race (see
 * README.md), printed by pan the first time only: the C flag is outside
 * the state vector and is not undone when the search backtracks.
 */
c_decl { unsigned int kc_reached; }
#define REACHED(n) \
	c_code { if (!(kc_reached & (1u << n))) { kc_reached |= 1u << n; \
		 printf("kcancel-witness %d %ld\n", n, (long)depth); } }

/* Every proctype's temporaries (the C functions' locals). */
#define LOCALS \
	byte c_old, c_status, m_old, u_old, x_old, x_ret, s_ret, d_st, \
	     k_ret, f_ret, dc_ret, o_ret; \
	bit c_t, p_claimed, d_z, cs_in, cs_z, ci_found, k_fail, k_go, d_has, \
	    f_first, fo_has, fc_orphan, w_ok, cl_in, o_ok, o_c

#if SYNC_DRIVER
#define SYNC_LOCK	skip
#define SYNC_UNLOCK	skip
#define ASSERT_SYNCHRONIZED	skip
#else
#define SYNC_LOCK	LOCK(l_sync)
#define SYNC_UNLOCK	UNLOCK(l_sync)
/* kc_queue_assert_synchronized() */
#define ASSERT_SYNCHRONIZED	assert(l_sync == _pid + 1)
#endif

/* kc_dev_put() -> kc_dev_release(): kc_target_destroy(), kfree() */
#define KD_PUT() \
	assert(kd_alive); assert(kd_ref > 0); kd_ref--; \
	if \
	:: kd_ref == 0 -> assert(!insent[R]); kd_alive = false \
	:: else \
	fi

#if DEV
/* kc_dev_io_release(): the owner's release (kfree), then kc_dev_put() */
#define OPS_RELEASE()		KD_PUT()
/* kc_dev_io_completed() -> kc_file_io_completed() */
#define OPS_COMPLETED(r)	file_completed(r)
/* kc_dev_cancel_io() */
#define CANCEL_FN(r)		dev_cancel_io(r)
/* kc_dev_io_timeout(): cancel it wherever it is */
#define TIMEOUT_FN(r)		dev_cancel(r, E_TIMEDOUT)
#else
#define OPS_RELEASE()		skip
#define OPS_COMPLETED(r)	skip
/* the driver's callback: complete with the cancel's reason */
#define CANCEL_FN(r)		ASSERT_SYNCHRONIZED; complete(r, REASON(st[r]), 0)
/* no timeout_fn: kc_request_cancel(req, -ETIMEDOUT) */
#define TIMEOUT_FN(r)		request_cancel(r, E_TIMEDOUT)
#endif
#define SENT_CANCEL(r)		sent_cancel(r)

#include "request.pml"
#include "target.pml"
#include "dev.pml"
#include "procs.pml"
