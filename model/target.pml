/*
 * target.pml - the collection of sent requests of module/target.c.
 *
 * insent[R]: the request is in kd->target.sent (the xarray). sent_count[R]:
 * KMDF's completion count (struct kc_target_io's count). The collection lock is the xarray's (l_xa);
 * each of its sections is one step. kc_target_cancel_all()'s xa_for_each()
 * reads the collection without the lock and then looks the id up under it:
 * the two are folded into the look-up, which loses no outcome (an entry
 * found then erased fails the look-up exactly as an entry not found).
 */

/*
 * kc_target_send() -> kc_target_insert_locked(); s_ret: 0 or E_CANCELED.
 * No send may come once kc_target_drain() has returned (the removal's
 * teardown follows it).
 */
inline target_send(r)
{
	atomic {
		FREE(l_xa) ->
		assert(kd_alive);
		assert(!t_drained);
		ACCESS(r);
		if
		:: st[r] & F_CANCELED -> s_ret = E_CANCELED
		:: else ->
			insent[r] = true;
			GET(r);			/* the collection's */
			sent_count[r] = 1;
			t_busy++;
			s_ret = 0
		fi
	}
}

/* kc_target_finish(): leave the collection, then the completion routine */
inline target_finish(r)
{
	atomic {
		FREE(l_xa) ->
		assert(kd_alive);
		insent[r] = false	/* __xa_erase() */
	}
	/* t->ops->completion: kc_dev_sent_done() -> kc_request_finish() */
	complete(r, sent_status[r], 1);
	req_put(r);	/* the collection's */
	/* atomic_dec_and_test(&t->busy): t lives in kd */
	atomic { assert(kd_alive); assert(t_busy > 0); t_busy-- }
}

/* kc_target_io_done(): the lower device finished the I/O */
inline io_done(r, s)
{
	atomic {
		ACCESS(r);
		sent_status[r] = s;
		assert(sent_count[r] > 0);
		sent_count[r]--;
#ifdef BREAK_SENT_DEC
		/* broken: the completion routine without the dec-and-test */
		d_z = 1
#else
		d_z = (sent_count[r] == 0)
#endif
	}
	if
	:: d_z -> d_z = 0; target_finish(r)
	:: else
	fi
}

/*
 * kc_target_cancel_sent(): record the cancel, raise the count unless it is
 * zero (under the collection lock), abort, lower it; cs_in: in flight.
 */
inline cancel_sent(r, reason)
{
	request_cancel(r, reason);
	x_ret = 0;
	atomic {
		FREE(l_xa) ->
		assert(kd_alive);
		ACCESS(r);
#ifdef BREAK_SENT_INC
		/* broken: the cancel raises the count even from zero */
		sent_count[r]++;
		cs_in = 1
#else
		if	/* atomic_inc_not_zero() */
		:: sent_count[r] != 0 -> sent_count[r]++; cs_in = 1
		:: else -> REACHED(10); cs_in = 0
		fi
#endif
	}
	if
	:: cs_in ->
		/* t->ops->cancel: kc_dev_sent_cancel() */
		SENT_CANCEL(r);
		atomic {
			ACCESS(r);
			sent_count[r]--;
#ifdef BREAK_SENT_LOST
			/* broken: a plain decrement, the completion can be lost */
			cs_z = 0
#else
			cs_z = (sent_count[r] == 0)
#endif
		}
		if
		:: cs_z -> REACHED(3); cs_z = 0; target_finish(r)
		:: else
		fi
	:: else
	fi
}

/* kc_target_lookup(): kref_get_unless_zero() under the collection lock */
inline target_lookup(r)
{
	atomic {
		FREE(l_xa) ->
		assert(kd_alive);
		if
		:: insent[r] ->
			ACCESS(r);
			if
			:: ref[r] > 0 -> ref[r]++; ci_found = 1
			:: else -> ci_found = 0
			fi
		:: else -> ci_found = 0
		fi
	}
}

/* kc_target_cancel_id(): look up, reference, cancel, dereference */
inline cancel_id(r, reason)
{
	target_lookup(r);
	if
	:: ci_found ->
		ci_found = 0;
		cancel_sent(r, reason);
		cs_in = 0;
		req_put(r)	/* the look-up's */
	:: else
	fi
}
