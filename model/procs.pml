/*
 * procs.pml - the processes: who calls what, concurrently.
 */

#if DEV

/*
 * The file's user: KCANCEL_IOC_SUBMIT (or KCANCEL_IOC_SUBMIT_WAIT), then
 * read() or close().
 */
active proctype owner()
{
	LOCALS;

	/* kc_file_submit() -> kc_dev_prepare(): bound under kd->lock */
	atomic {
		FREE(l_kd) ->
		assert(kd_alive);
		if
		:: dead -> o_ok = 0	/* -ENODEV: nothing was queued */
		:: else ->
			/* kc_request_init(): the I/O reference */
			alive[R] = true;
			ref[R] = 1;
			st[R] = OWNED;
			q_active++;
			kd_ref++;	/* kc_dev_get(), for kc_dev_io_release() */
			prepared = true;
			o_ok = 1
		fi
	}
	if
	:: !o_ok -> goto closing
	:: else -> o_ok = 0
	fi;
	/* the table's reference (and the waiter's), xa_store_irq(f->ios) */
	atomic {
		ref[R] = ref[R] + 1 + SYNC_OWNER;
		outstanding++;
		sync_io[R] = SYNC_OWNER;
		intable[R] = true
	}
	/* kc_dev_queue() */
	atomic {
		LOCK(l_kd);
		assert(kd_alive);
		if
		:: dead -> UNLOCK(l_kd); o_ok = 1
		:: else
#if TIMER
			/* kc_request_start_timer_fn(kc_dev_io_timeout) */
			-> START_TIMER(R)
#endif
		fi
	}
	if
	:: o_ok -> o_ok = 0; fail_io(R, E_NODEV)	/* kc_dev_fail_io() */
	:: else ->
		atomic {
			queued[R] = true;	/* list_add_tail(&kd->pending) */
			/* kc_request_mark_cancelable(kc_dev_cancel_io) */
			mark(R, 0, o_ret);
			o_ret = 0;
			UNLOCK(l_kd)
		}
		kick()
	fi;

#if SYNC_OWNER
	/* kc_ioctl_submit_wait() */
	if
	:: rdone[R] ->	/* wait_for_completion_interruptible() */
		forget(R);
		req_put(R)	/* the waiter's */
	:: /* a signal: cancel it, then wait, killable */
		dev_cancel(R, E_CANCELED);
		dc_ret = 0;
		if
		:: rdone[R] -> forget(R); req_put(R)
		:: /* a fatal signal: kc_file_orphan() */
			atomic {
				FREE(l_f) ->
				o_c = fcompleted[R];
				orphan[R] = !o_c
			}
			if
			:: o_c -> o_c = 0; forget(R)
			:: else
			fi;
			req_put(R)	/* the waiter's */
		fi
	fi;
#else
	if
	:: /* read(): kc_file_pop() takes the event, kc_file_forget() */
		atomic { FREE(l_f) && event[R] -> event[R] = false; reaped[R] = true }
		forget(R)
	:: /* close() with the request outstanding */
		skip
	fi;
#endif
closing:
	/* release() runs once no ioctl holds the file */
	canceller_done;
	file_close();
	owner_done = true
}

#if CANCELLER
/* Another thread of the owner: KCANCEL_IOC_CANCEL. */
active proctype canceller()
{
	LOCALS;

	/* kc_file_lookup(): a reference under the table's lock */
	atomic {
		FREE(l_f) ->
		assert(f_alive);
		if
		:: intable[R] -> GET(R); o_ok = 1
		:: else -> o_ok = 0
		fi
	}
	if
	:: o_ok ->
		o_ok = 0;
		dev_cancel(R, E_CANCELED);
		dc_ret = 0;
		req_put(R)	/* the look-up's */
	:: else
	fi;
	canceller_done = true
}
#endif

/* The hardware: an operation ends and the ISR collects its bit. */
active proctype hw()
{
end_hw:
	do
	:: atomic { hw_op && !irq_gone -> hw_op = false; pending = true }
#if SPURIOUS
	:: atomic { spur && !irq_gone -> spur = false; pending = true }
#endif
	od
}

/* The DPC: the edu interrupt's thread, or the software device's kthread. */
active proctype dpc()
{
	LOCALS;
end_dpc:
	do
	:: atomic { pending && !irq_gone -> pending = false; dpc_running = true }
		dev_dpc();
		dpc_running = false
	od
}

#if REMOVAL
/* The device's removal: kc_dev_shutdown(), then the backend's teardown. */
active proctype remover()
{
	LOCALS;

	atomic { FREE(l_kd) -> assert(kd_alive); dead = true }
	/* kc_target_cancel_all(): kc_target_cancel_id() of each one sent */
	if
	:: CHAN == CH_FACT -> cancel_id(R, E_NODEV)
	:: else
	fi;
	wait_idle();
	if
	:: !w_ok -> REACHED(18); dev_fail(E_NODEV)
	:: else -> w_ok = 0
	fi;
	purge(E_NODEV);
	/* the slot of a doorbell the purge cancelled waits for its bit */
	wait_idle();
	if
	:: !w_ok -> REACHED(18); dev_fail(E_NODEV)
	:: else -> w_ok = 0
	fi;
	/* kc_target_drain() */
	atomic { t_busy == 0 -> t_drained = true }
#ifndef BREAK_FAIL_NOWAIT
	/* no kc_dev_fail() from now on; wait for one halting the hardware */
	atomic { FREE(l_kd) -> gone = true };
	!failing;
#endif
	/* kc_sim_destroy() / kc_edu_remove(): free_irq() or the worker */
	atomic { !dpc_running -> irq_gone = true; hw_op = false }
	/* kfree(sim) / devm: the backend's data */
	priv_alive = false;
	/* kc_dev_put(): the backend's reference */
	atomic { KD_PUT(); removed = true }
}
#endif

#else /* !DEV: the request core alone */

/*
 * A driver: init, a timeout, then mark (or mark-ex) and give the request
 * to its hardware, whose DPC unmarks and completes it.
 */
active proctype core_owner()
{
	LOCALS;

	/*
	 * kc_request_init(); a reference for the canceller and one for the
	 * hardware's DPC, taken before the request is cancelable
	 */
	atomic {
		alive[R] = true;
		ref[R] = 3;
		st[R] = OWNED;
		q_active++;
		prepared = true
	}
#if TIMER
	/* kc_request_start_timer(): the default timeout, -ETIMEDOUT */
	atomic { START_TIMER(R) }
#endif
	if
	:: mark(R, 0, o_ret)	/* kc_request_mark_cancelable() */
	:: mark(R, 1, o_ret)	/* kc_request_mark_cancelable_ex() */
	fi;
	if
	:: o_ret == E_CANCELED ->
		/* mark-ex refused: the caller completes it */
		o_ret = 0;
		complete(R, REASON(st[R]), 0);
		req_put(R)	/* the hardware never had it */
	:: else ->
		hw_go = true	/* to the hardware */
	fi;
	owner_done = true
}

/* The seeds' DPC (my_dpc_one()), under kc_queue_synchronize(). */
active proctype core_dpc()
{
	LOCALS;
end_cd:
	hw_go;
	SYNC_LOCK;
	unmark(R, o_ret);
#ifdef BREAK_UNMARK
	/* broken: complete whatever unmark answered */
	o_ret = 0;
#endif
	if
	:: o_ret != E_CANCELED -> complete(R, S_OK, 0)
	:: else
	fi;
	SYNC_UNLOCK;
	req_put(R)	/* the DPC's reference */
}

/* The framework's side: a cancel, with a reference. */
active proctype core_canceller()
{
	LOCALS;
	prepared;
	request_cancel(R, E_CANCELED);
	x_ret = 0;
	req_put(R)
}

#if PURGER
/* kc_queue_purge(), as a removal does. */
active proctype purger()
{
	LOCALS;
	prepared;
	purge(E_NODEV)
}
#endif

#endif /* DEV */

#if TIMER
/* The request's hrtimer: kc_request_timer_fn(). */
active proctype timer()
{
	LOCALS;
end_t:
	atomic { tm[R] == T_ARMED -> tm[R] = T_RUNNING }
	TIMEOUT_FN(R);
	x_ret = 0;
	dc_ret = 0;
	/* the queue first: it may go with the last reference */
	active_put();
	atomic { req_put(R); tm[R] = T_IDLE }
}
#endif

/* The cancel workqueue: kc_queue_deliver_work(). */
active proctype worker()
{
	LOCALS;
end_w:
	atomic { wk[R] -> wk[R] = false }
	deliver_cancel(R);
	active_put();
	req_put(R)
}

#ifndef LIVENESS
/*
 * Every terminal state: the request completed exactly once, every reference
 * dropped, nothing left busy. A request the slot still holds is allowed
 * only while a device that stopped answering keeps it (its bit never came
 * and nothing failed the device).
 */
active proctype monitor()
{
	timeout ->
	/* nobody holds a lock: nobody waits for one (no deadlock) */
	assert(l_sync == 0 && l_kd == 0 && l_q == 0 && l_xa == 0 && l_f == 0);
	assert(!prepared || ncompl[R] == 1);
	assert(q_active == 0);
	/* no abort left for the slot's next operation (none on a failed one) */
	assert(!aborted || failed);
	assert(!alive[R] || (SLOW && slot_io == R && !hw_op && !pending));
#if DEV
	assert(owner_done && canceller_done);
	assert(kd_alive == !(removed && !alive[R]))
#endif
}
#endif

#ifdef LIVENESS
/* Every request is eventually completed (or was never bound). */
ltl completes { <> (ncompl[0] == 1 || (owner_done && !prepared)) }
#endif
