/*
 * request.pml - the request core of module/request.c.
 *
 * One request, index R. Its state word is one byte laid out as in
 * include/kcancel/request.h: the state in bits 0-2, KC_REQ_F_CANCELED (8),
 * KC_REQ_F_DELIVERED (16) and the first cancel's reason in bits 5-7 (a small
 * code standing for the negative errno). Each atomic_try_cmpxchg() loop is
 * one atomic step: the loop only retries on a changed word, and the value
 * it writes depends on nothing but the word it read and data under a lock
 * the caller holds, so the loop is equivalent to one read-modify-write at
 * its successful cmpxchg.
 *
 * Locks: a section under one lock is one atomic step when, besides data only
 * holders of that lock touch, it makes at most one access to data others
 * touch without the lock (Lipton's reduction). Sections that make more hold
 * a modelled lock (l_kd, l_q, l_sync, ...) across several steps; one-step
 * sections wait for the modelled lock to be free, so they respect a holder.
 */

/* enum kc_req_state */
#define OWNED		0
#define CANCELABLE	1
#define CANCEL_PENDING	2
#define CANCEL_DELIVERED 3
#define COMPLETED	4
#define SMASK		7
#define F_CANCELED	8	/* KC_REQ_F_CANCELED */
#define F_DELIVERED	16	/* KC_REQ_F_DELIVERED */
#define RMASK		224	/* KC_REQ_REASON_MASK */

/* statuses and cancel reasons: 0 or a negative errno, as small codes */
#define S_OK		0
#define E_CANCELED	1
#define E_TIMEDOUT	2
#define E_NODEV		3
#define E_IO		4
#define E_INVAL		7

#define STATE(w)	((w) & SMASK)
#define REASON(w)	((w) >> 5)
/* kc_request_canceled_bits(): the first cancel names the reason */
#define CANCELED_BITS(old, reason) \
	(F_CANCELED | (((old) & RMASK) != 0 -> ((old) & RMASK) : ((reason) << 5)))

/* hrtimer of the request */
#define T_IDLE		0
#define T_ARMED		1
#define T_RUNNING	2

#define R		0	/* the request */
#define NONE		255

/* The modelled locks hold the owner's _pid + 1; 0 is free. */
#define LOCK(l)		atomic { (l == 0) -> l = _pid + 1 }
#define UNLOCK(l)	assert(l == _pid + 1); l = 0
#define FREE(l)		(l == 0)

/* A request is accessed only while someone holds a reference to it. */
#define ACCESS(r)	assert(alive[r])

/*
 * kc_request_report_misuse(): every refusal is a protocol error here; pan
 * prints which one before it stops on the assertion.
 */
#define MISUSE(what) \
	c_code { printf("kcancel-misuse: %s\n", what); }; \
	assert(false)

/* kc_queue_get_active() / kc_queue_put_active(): the queue lives in kd. */
inline active_get()
{
	atomic { assert(kd_alive); q_active++ }
}

inline active_put()
{
	atomic { assert(kd_alive); assert(q_active > 0); q_active-- }
}

/* kc_request_get(): only by a holder, so never from zero */
#define GET(r)		ACCESS(r); assert(ref[r] > 0); ref[r]++

/*
 * kc_request_put() -> kref_put(): the last reference releases the request
 * (kc_request_release() -> ops->release: on a device, kc_dev_io_release():
 * the owner's release, then kc_dev_put()). Nothing may point at it then.
 */
inline req_put(r)
{
	atomic {
		ACCESS(r);
		assert(ref[r] > 0);
		ref[r]--;
		if
		:: ref[r] == 0 ->
			assert(!onlist[r] && !queued[r] && !insent[r] &&
			       slot_io != r && tm[r] != T_ARMED && !wk[r] &&
			       !intable[r]);
			alive[r] = false;
			OPS_RELEASE()
		:: else
		fi
	}
}

/* Completion bookkeeping: exactly once, with the first cancel's reason. */
#define COMPLETE_CHECK(r, old, s) \
	ncompl[r]++; \
	assert(ncompl[r] == 1); \
	assert(!REASON_CHECK || !((old) & F_CANCELED) || (s) == REASON(old))

/*
 * __kc_request_complete(): kc_request_complete() (cancel_wins 0) and
 * kc_request_finish() (cancel_wins 1).
 */
inline complete(r, cstatus, cancel_wins)
{
	atomic {
		ACCESS(r);
		c_old = st[r];
		if
		:: STATE(c_old) == OWNED || STATE(c_old) == CANCEL_DELIVERED
		:: STATE(c_old) == COMPLETED -> MISUSE("second completion")
		:: else -> MISUSE("completion while still cancelable")
		fi;
		st[r] = (c_old & ~SMASK) | COMPLETED;
		c_status = cstatus;
		if
		:: cancel_wins && (c_old & F_CANCELED) ->
			REACHED(16);
			c_status = REASON(c_old)	/* kc_request_cancel_reason() */
		:: else
		fi;
		COMPLETE_CHECK(r, c_old, c_status);
		status[r] = c_status
	}
	/* kc_request_stop_timer(): hrtimer_try_to_cancel() == 1 */
	atomic {
		if
		:: tm[r] == T_ARMED -> REACHED(12); tm[r] = T_IDLE; c_t = 1
		:: else -> c_t = 0
		fi
	}
	if
	:: c_t -> active_put(); req_put(r)	/* the timer's */
	:: else
	fi;
	c_t = 0;
	/* req->ops->completed(): kc_dev_io_completed() -> the owner's */
	OPS_COMPLETED(r);
	/* complete_all(&req->done) */
	rdone[r] = true;
	/* the queue first: it may go with the last reference */
	active_put();
	req_put(r);	/* the I/O reference */
	c_old = 0; c_status = 0
}

/* kc_request_deliver_locked(): CANCEL_PENDING -> CANCEL_DELIVERED, callback */
inline deliver_locked(r)
{
	atomic {
		ACCESS(r);
		if
		:: STATE(st[r]) == CANCEL_PENDING
		:: else -> MISUSE("cancel delivered twice")
		fi;
		st[r] = (st[r] & ~SMASK) | F_DELIVERED | CANCEL_DELIVERED
	}
	CANCEL_FN(r)
}

/* kc_request_deliver_cancel(): under the sync lock in automatic mode */
inline deliver_cancel(r)
{
#if SYNC_DRIVER
	deliver_locked(r)
#else
	LOCK(l_sync);
	deliver_locked(r);
	UNLOCK(l_sync)
#endif
}

/*
 * kc_request_mark_cancelable() (ex 0) and kc_request_mark_cancelable_ex()
 * (ex 1): kc_request_mark_locked() under q->lock, one step. Its cmpxchg is
 * the only access others can act on before q->lock is dropped: a cancel
 * that claims the request unlinks it under q->lock, so after the list and
 * the list's reference are in place, and the work it queues runs after it.
 */
inline mark(r, ex, ret)
{
	atomic {
		FREE(l_q) ->
		assert(kd_alive);
		ACCESS(r);
		m_old = st[r];
		if
		:: STATE(m_old) == OWNED
		:: else -> MISUSE("mark of a request the driver does not own")
		fi;
		if
		:: !(m_old & F_CANCELED) && !purging ->
			st[r] = CANCELABLE;
			GET(r);			/* the cancelable list's */
			onlist[r] = true;
			ret = 0
		:: else ->
			if
			:: ex ->
				st[r] = m_old | CANCELED_BITS(m_old, purge_reason);
				REACHED(14);
				ret = E_CANCELED
			:: else ->
				st[r] = CANCELED_BITS(m_old, purge_reason) |
					CANCEL_PENDING;
#ifdef BREAK_DEFER
				ret = 1		/* deliver now, below */
#else
				REACHED(2);
				GET(r);		/* the cancel work's */
				q_active++;
				wk[r] = true;	/* queue_work(kc_cancel_wq) */
				ret = 0
#endif
			fi
		fi;
		m_old = 0
	}
#ifdef BREAK_DEFER
	/* broken: the callback runs inside the mark, under the caller's locks */
	if
	:: ret == 1 -> GET(r); ret = 0; deliver_cancel(r); req_put(r)
	:: else
	fi
#endif
}

/* kc_request_unlink(): the winner takes the request off the list */
inline unlink(r)
{
	atomic { FREE(l_q) -> assert(kd_alive); onlist[r] = false }
}

/* kc_request_unmark_cancelable() */
inline unmark(r, ret)
{
	atomic {
		ACCESS(r);
		u_old = st[r];
		if
		:: STATE(u_old) == CANCELABLE ->
			st[r] = (u_old & ~SMASK) | OWNED;
			ret = 0
		:: STATE(u_old) == CANCEL_PENDING ||
		   STATE(u_old) == CANCEL_DELIVERED ->
			REACHED(1);
			ret = E_CANCELED
		:: STATE(u_old) == COMPLETED && (u_old & F_DELIVERED) ->
			REACHED(17);
			ret = E_CANCELED
		:: else ->
			MISUSE("unmark of a request that is not cancelable");
			ret = E_INVAL
		fi;
		u_old = 0
	}
	if
	:: ret == 0 ->
		unlink(r);
		req_put(r)	/* the cancelable list's */
	:: else
	fi
}

/* kc_request_cancel(); x_ret: whether this call asked for the cancel */
inline request_cancel(r, reason)
{
	atomic {
		ACCESS(r);
		x_old = st[r];
		if
		:: (x_old & F_CANCELED) || STATE(x_old) == COMPLETED ->
			x_ret = 0
		:: STATE(x_old) == CANCELABLE ->
			st[r] = CANCELED_BITS(x_old, reason) | CANCEL_PENDING;
			REACHED(15);
			x_ret = 2	/* claimed */
		:: else ->
			st[r] = x_old | CANCELED_BITS(x_old, reason);
			x_ret = 1
		fi;
		x_old = 0
	}
	if
	:: x_ret == 2 ->
		x_ret = 1;
		active_get();
		unlink(r);
		deliver_cancel(r);
		req_put(r);	/* the cancelable list's */
		active_put()
	:: else
	fi
}

/*
 * kc_queue_purge(): claim every cancelable request (kc_queue_claim_all(),
 * under q->lock), deliver their callbacks, wait for q->active to drop to 0.
 */
inline purge(reason)
{
	atomic {
		FREE(l_q) ->
		assert(kd_alive);
		purge_reason = reason;
		purging = true;
		if
		:: onlist[R] && st[R] == CANCELABLE ->
			ACCESS(R);
			st[R] = CANCELED_BITS(CANCELABLE, reason) | CANCEL_PENDING;
			onlist[R] = false;	/* list_move_tail(claimed) */
			REACHED(8);
			p_claimed = 1
		:: else -> p_claimed = 0
		fi
	}
	if
	:: p_claimed ->
		p_claimed = 0;
		deliver_cancel(R);
		req_put(R)	/* the cancelable list's */
	:: else
	fi;
	/* wait_var_event(&q->active, !atomic_read(&q->active)) */
	atomic { q_active == 0 -> assert(kd_alive) }
}

/* kc_request_start_timer_fn(): the timer holds a reference and the queue */
#define START_TIMER(r)	GET(r); q_active++; tm[r] = T_ARMED
