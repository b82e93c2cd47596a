/*
 * dev.pml - the device of module/dev.c (one slot) and the file of
 * module/file.c (one open file).
 */

/*
 * kc_file_io_completed(): the owner's completion, inside the request's
 * (queue its event, or, for an orphan, leave the table), then the file's
 * count of requests outstanding, after which close() may free the file.
 */
inline file_completed(r)
{
	atomic {
		FREE(l_f) ->
		assert(f_alive);
		fcompleted[r] = true;
		if
		:: orphan[r] -> REACHED(6); intable[r] = false; fc_orphan = 1
		:: !orphan[r] && !reaped[r] && !sync_io[r] -> event[r] = true
		:: else
		fi
	}
	if
	:: fc_orphan -> fc_orphan = 0; req_put(r)	/* the table's */
	:: else
	fi;
	atomic { assert(f_alive); assert(outstanding > 0); outstanding-- }
}

/* kc_file_forget(): out of the table, and its reference */
inline forget(r)
{
	atomic { FREE(l_f) -> assert(f_alive); intable[r] = false }
	req_put(r)	/* the table's */
}

/*
 * kc_dev_cancel_io(): the cancel callback (EvtRequestCancel) of a queued
 * request or of a doorbell the hardware has: off its software queue unless
 * it has a slot, then complete with the cancel's reason.
 */
inline dev_cancel_io(r)
{
	ASSERT_SYNCHRONIZED;
	atomic {
		FREE(l_kd) ->
		assert(kd_alive);
		ACCESS(r);
		if
		:: io_slot[r] == NONE -> queued[r] = false	/* list_del_init() */
		:: else
		fi
	}
	/* kc_target_unreserve(); kc_request_complete() */
	complete(r, REASON(st[r]), 0)
}

/* kc_dev_fail_io(): a request that ends before it reaches the hardware */
inline fail_io(r, s)
{
	complete(r, s, 1)	/* kc_request_finish() */
}

/*
 * kc_dev_sent_cancel(): the target's cancel; the software device aborts the
 * operation under kd->lock if the request still holds its slot
 * (kc_sim_abort(): stop the timer, mark the slot aborted, raise its bit).
 * Only while the slot's bit has not been taken (kd->started).
 */
inline sent_cancel(r)
{
	if
	:: HAS_ABORT ->
		atomic {
			FREE(l_kd) ->
			assert(kd_alive);
			ACCESS(r);
			if
#ifndef BREAK_ABORT_STALE
			:: io_slot[r] != NONE && slot_io == r && started ->
#else
			:: io_slot[r] != NONE && slot_io == r ->
#endif
				assert(priv_alive);
				if
				:: hw_op ->
					REACHED(7);
					hw_op = false;
					aborted = true;
					pending = true
				:: else
				fi
			:: else
			fi
		}
	:: else
	fi
}

/* kc_dev_cancel(): dc_ret, whether this call cancelled the request */
inline dev_cancel(r, reason)
{
	request_cancel(r, reason);
	dc_ret = x_ret;
	x_ret = 0;
	if
	:: CHAN == CH_FACT -> cancel_id(r, reason)
	:: else
	fi
}

/*
 * kc_dev_start_locked(), kd->lock held: a factorial enters the collection
 * (kc_target_send()), then the slot is taken and the operation started
 * (kd->ops->start()), in the same critical section.
 */
inline start_locked(r)
{
	if
	:: CHAN == CH_FACT ->
		atomic {
			target_send(r);
			if
			:: s_ret != 0 ->
				REACHED(4);
				s_ret = 0;
				queued[r] = false;	/* list_move_tail(failed) */
				k_fail = 1
			:: else
			fi
		}
	:: else
	fi;
	if
	:: !k_fail ->
		atomic {
			queued[r] = false;
			io_slot[r] = 0;
			busy = true;
			started = true;
			GET(r);		/* the slot's */
			slot_io = r;
			/* kd->ops->start() */
			assert(priv_alive);
			if
			:: hw_op = true
			:: SLOW -> skip		/* the device stopped answering */
			fi
		}
	:: else
	fi
}

/*
 * kc_dev_kick(): the dispatcher. kc_dev_start_queued() under kd->lock: a
 * factorial is unmarked first (if the cancel won, its callback takes it off
 * the queue), a doorbell stays cancelable in the hardware. A send refused
 * because of a cancel is completed once the lock is dropped.
 */
inline kick()
{
	atomic {
		LOCK(l_kd);
		assert(kd_alive);
		k_go = (!dead && queued[R] && !busy)
	}
	if
	:: k_go ->
		k_go = 0;
		if
		:: CHAN == CH_FACT -> unmark(R, k_ret)
		:: else -> k_ret = 0
		fi;
		if
		:: k_ret == 0 -> start_locked(R)
		:: else -> REACHED(11); k_ret = 0
		fi
	:: else
	fi;
	UNLOCK(l_kd);
	if
	:: k_fail -> k_fail = 0; fail_io(R, E_IO)
	:: else
	fi
}

/*
 * kc_dev_finish_slot(): free the slot (kc_dev_put_slot()), then finish the
 * request: a factorial through the target's completion count, a doorbell
 * as the first seed does, completing only if unmark did not lose.
 */
inline finish_slot(r, s)
{
	atomic {
		FREE(l_kd) ->
		assert(kd_alive);
		ACCESS(r);
		busy = false;
		slot_io = NONE;
		io_slot[r] = NONE
	}
	req_put(r);	/* the slot's */
	if
	:: CHAN == CH_FACT -> io_done(r, s)
	:: else ->
		unmark(r, f_ret);
#ifdef BREAK_UNMARK
		/* broken: the DPC completes whatever unmark answered */
		f_ret = 0;
#endif
		if
		:: f_ret == 0 -> complete(r, s, 1)	/* kc_request_finish() */
		:: else -> f_ret = 0	/* the cancel callback completes it */
		fi
	fi
}

/*
 * kc_dev_dpc() -> kc_queue_synchronize(kc_dev_dpc_locked): take the bit of
 * a started slot (kc_dev_take_slot(), with a reference), fetch the result
 * (kd->ops->fetch()), finish the slot, then kick the dispatcher.
 */
inline dev_dpc()
{
	SYNC_LOCK;
	atomic {
		FREE(l_kd) ->
		assert(kd_alive);
		if
		:: started -> started = false; d_has = 1; GET(slot_io)
		:: else ->
			REACHED(9);
			d_has = 0	/* spurious, duplicate or stale: ignored */
		fi
	}
	if
	:: d_has ->
		d_has = 0;
		atomic {
			assert(priv_alive);
			ACCESS(R);
			if
			:: aborted -> aborted = false; d_st = E_CANCELED
			:: else -> d_st = S_OK
			fi
		}
		finish_slot(R, d_st);
		d_st = 0;
		req_put(R)	/* kc_dev_take_slot()'s */
	:: else
	fi;
	kick();
	SYNC_UNLOCK
}

/*
 * kc_dev_fail(): dead and failed under kd->lock; only the first call goes
 * on: halt the hardware (kd->ops->halt(), on the backend's data), end the
 * started slot (kc_dev_force_locked(), under kc_queue_synchronize()), purge.
 */
inline dev_fail(s)
{
	atomic {
		FREE(l_kd) ->
		assert(kd_alive);
#ifndef BREAK_FAIL_NOWAIT
		if
		:: gone -> f_first = 0	/* shut down: nothing left to fail */
		:: else ->
			dead = true;
			f_first = !failed;
			failed = true;
			if
			:: f_first -> failing = true
			:: else
			fi
		fi
#else
		dead = true;
		f_first = !failed;
		failed = true
#endif
	}
	if
	:: f_first ->
		f_first = 0;
		atomic {
			assert(priv_alive);
			if
			:: hw_op = false	/* the operation stops */
			:: skip			/* its bit is on its way already */
			fi
#ifndef BREAK_FAIL_NOWAIT
			;
			failing = false		/* wakes kc_dev_shutdown() */
#endif
		}
		SYNC_LOCK;
		atomic {
			FREE(l_kd) ->
			assert(kd_alive);
			if
			:: started ->
				REACHED(5);
				started = false;
				fo_has = 1;
				GET(slot_io)
			:: else -> fo_has = 0
			fi
		}
		if
		:: fo_has ->
			fo_has = 0;
			finish_slot(R, s);
			req_put(R)
		:: else
		fi;
		SYNC_UNLOCK;
		purge(s)
	:: else
	fi
}

/* kc_dev_wait_idle(): wait_event_timeout(kd->idle, !busy, op_timeout) */
inline wait_idle()
{
	if
	:: !busy -> w_ok = 1
	:: SLOW -> w_ok = !busy		/* the time limit passed */
	fi
}

/*
 * kc_fop_release(): close(). Cancel each request of the file, found by
 * xa_for_each() (no reference taken), wait for them (kc_file_drain(): at
 * most op_timeout, then kc_dev_fail(-EIO)), forget them, free the file.
 */
inline file_close()
{
	cl_in = intable[R];
	if
	:: cl_in ->
		cl_in = 0;
#ifndef BREAK_CLOSE_NOREF
		/* kc_file_lookup(): a reference under the table's lock */
		atomic {
			FREE(l_f) -> assert(f_alive);
			if
			:: intable[R] -> GET(R); cl_in = 1
			:: else
			fi
		}
		if
		:: cl_in -> cl_in = 0; dev_cancel(R, E_CANCELED); req_put(R)
		:: else
		fi;
#else
		dev_cancel(R, E_CANCELED);
#endif
		dc_ret = 0
	:: else
	fi;
	/* kc_file_drain(): wait_var_event_timeout(&f->outstanding, ...) */
	if
	:: outstanding == 0
	:: SLOW ->
		if
		:: outstanding == 0
		:: else ->
			REACHED(13);
			dev_fail(E_IO);
			/* kc_chardev_hangup(); wait_var_event() */
			outstanding == 0
		fi
	fi;
	if
	:: intable[R] -> forget(R)
	:: else
	fi;
	/* list_del(&f->node); kc_dev_put(); kfree(f) */
	atomic { assert(f_alive); f_alive = false; KD_PUT() }
}
