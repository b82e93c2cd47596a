/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kcancel tracepoints: the life of a request, in the "kcancel" event system.
 *
 * DOC: Tracepoints
 *
 * Enable them all with ``echo 1 > /sys/kernel/tracing/events/kcancel/enable``.
 * Each request is named by its id, unique on its device. In order:
 *
 * - kcancel_submit: a request was queued on a device (kc_dev_queue());
 * - kcancel_mark, kcancel_unmark: it was marked cancelable, or taken back,
 *   with the outcome (0, or -ECANCELED when a cancel won);
 * - kcancel_send: the dispatcher gave it a hardware slot;
 * - kcancel_irq: a backend's interrupt (or the software device's) raised
 *   status bits; kcancel_dpc: the DPC took them, with how many were
 *   spurious;
 * - kcancel_file_cancel: a file asked for a cancel (the cancel ioctl, a
 *   signal in a submit-and-wait, close()) and whether it was first;
 * - kcancel_cancel: a cancel reached the request core, from any source, told
 *   by its reason (-ECANCELED: a file; -ETIMEDOUT: its timeout; -ENODEV: a
 *   removal; -EIO: a failed device), and what it found: the request
 *   cancelable (its cancel routine runs now), owned by the driver (the
 *   completion decides), or completed or cancelled already;
 * - kcancel_complete: the one completion, with its status and who won: the
 *   cancel, or the completion although a cancel was asked for.
 *
 * Only the core (request.c) and the device layer (dev.c, file.c, the
 * backends) emit them; trace.c defines them.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM kcancel

#if !defined(_KCANCEL_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _KCANCEL_TRACE_H

#include <linux/tracepoint.h>

#include <kcancel/dev.h>
#include <kcancel/request.h>

/* What kc_request_cancel() found. */
#define KC_CANCEL_CLAIMED	0	/* cancelable: the routine runs now */
#define KC_CANCEL_RECORDED	1	/* owned: the completion decides */
#define KC_CANCEL_LATE		2	/* completed or cancelled already */

/* Who asked, in kcancel_file_cancel. */
#define KC_FILE_CANCEL_IOCTL	0
#define KC_FILE_CANCEL_SIGNAL	1
#define KC_FILE_CANCEL_CLOSE	2
#define KC_FILE_CANCEL_URING_CMD 3	/* KCANCEL_URING_CMD_CANCEL */
#define KC_FILE_CANCEL_RING	4	/* the io_uring ring went */

#define kc_show_reason(r)						\
	__print_symbolic(r, { 0, "none" }, { -ECANCELED, "user" },	\
			 { -ETIMEDOUT, "timeout" }, { -ENODEV, "removal" },\
			 { -EIO, "failed" })

#define kc_show_op(op)							\
	__print_symbolic(op, { KCANCEL_OP_FACTORIAL, "factorial" },	\
			 { KCANCEL_OP_DMA_TO_DEV, "dma_to_dev" },	\
			 { KCANCEL_OP_DMA_FROM_DEV, "dma_from_dev" },	\
			 { KCANCEL_OP_DOORBELL, "doorbell" })

TRACE_EVENT(kcancel_submit,
	TP_PROTO(const struct kc_dev *kd, const struct kc_io *io,
		 u64 timeout_ns),
	TP_ARGS(kd, io, timeout_ns),
	TP_STRUCT__entry(
		__array(char, dev, sizeof_field(struct kc_dev, name))
		__field(u64, id)
		__field(u32, op)
		__field(u64, arg)
		__field(u32, len)
		__field(u64, timeout_ns)
	),
	TP_fast_assign(
		strscpy(__entry->dev, kd->name, sizeof(__entry->dev));
		__entry->id = io->req.id;
		__entry->op = io->op;
		__entry->arg = io->arg;
		__entry->len = io->len;
		__entry->timeout_ns = timeout_ns;
	),
	TP_printk("%s id=%llu op=%s arg=%llu len=%u timeout_ns=%llu",
		  __entry->dev, __entry->id, kc_show_op(__entry->op),
		  __entry->arg, __entry->len, __entry->timeout_ns)
);

DECLARE_EVENT_CLASS(kcancel_mark_class,
	TP_PROTO(const struct kc_request *req, int ret),
	TP_ARGS(req, ret),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->id = req->id;
		__entry->ret = ret;
	),
	TP_printk("id=%llu ret=%d", __entry->id, __entry->ret)
);

DEFINE_EVENT(kcancel_mark_class, kcancel_mark,
	TP_PROTO(const struct kc_request *req, int ret),
	TP_ARGS(req, ret));

DEFINE_EVENT(kcancel_mark_class, kcancel_unmark,
	TP_PROTO(const struct kc_request *req, int ret),
	TP_ARGS(req, ret));

TRACE_EVENT(kcancel_send,
	TP_PROTO(const struct kc_dev *kd, const struct kc_io *io),
	TP_ARGS(kd, io),
	TP_STRUCT__entry(
		__array(char, dev, sizeof_field(struct kc_dev, name))
		__field(u64, id)
		__field(int, slot)
	),
	TP_fast_assign(
		strscpy(__entry->dev, kd->name, sizeof(__entry->dev));
		__entry->id = io->req.id;
		__entry->slot = io->slot;
	),
	TP_printk("%s id=%llu slot=%d", __entry->dev, __entry->id,
		  __entry->slot)
);

TRACE_EVENT(kcancel_irq,
	TP_PROTO(const struct kc_dev *kd, u64 bits),
	TP_ARGS(kd, bits),
	TP_STRUCT__entry(
		__array(char, dev, sizeof_field(struct kc_dev, name))
		__field(u64, bits)
	),
	TP_fast_assign(
		strscpy(__entry->dev, kd->name, sizeof(__entry->dev));
		__entry->bits = bits;
	),
	TP_printk("%s bits=%#llx", __entry->dev, __entry->bits)
);

TRACE_EVENT(kcancel_dpc,
	TP_PROTO(const struct kc_dev *kd, u64 bits, unsigned int spurious),
	TP_ARGS(kd, bits, spurious),
	TP_STRUCT__entry(
		__array(char, dev, sizeof_field(struct kc_dev, name))
		__field(u64, bits)
		__field(unsigned int, spurious)
	),
	TP_fast_assign(
		strscpy(__entry->dev, kd->name, sizeof(__entry->dev));
		__entry->bits = bits;
		__entry->spurious = spurious;
	),
	TP_printk("%s bits=%#llx spurious=%u", __entry->dev, __entry->bits,
		  __entry->spurious)
);

TRACE_EVENT(kcancel_file_cancel,
	TP_PROTO(const struct kc_dev *kd, u64 id, int how, bool first),
	TP_ARGS(kd, id, how, first),
	TP_STRUCT__entry(
		__array(char, dev, sizeof_field(struct kc_dev, name))
		__field(u64, id)
		__field(int, how)
		__field(bool, first)
	),
	TP_fast_assign(
		strscpy(__entry->dev, kd->name, sizeof(__entry->dev));
		__entry->id = id;
		__entry->how = how;
		__entry->first = first;
	),
	TP_printk("%s id=%llu source=%s first=%d", __entry->dev,
		  __entry->id,
		  __print_symbolic(__entry->how,
				   { KC_FILE_CANCEL_IOCTL, "ioctl" },
				   { KC_FILE_CANCEL_SIGNAL, "signal" },
				   { KC_FILE_CANCEL_CLOSE, "close" },
				   { KC_FILE_CANCEL_URING_CMD, "uring_cmd" },
				   { KC_FILE_CANCEL_RING, "ring" }),
		  __entry->first)
);

TRACE_EVENT(kcancel_cancel,
	TP_PROTO(const struct kc_request *req, int reason, int found),
	TP_ARGS(req, reason, found),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(int, reason)
		__field(int, found)
	),
	TP_fast_assign(
		__entry->id = req->id;
		__entry->reason = reason;
		__entry->found = found;
	),
	TP_printk("id=%llu source=%s found=%s", __entry->id,
		  kc_show_reason(__entry->reason),
		  __print_symbolic(__entry->found,
				   { KC_CANCEL_CLAIMED, "cancelable" },
				   { KC_CANCEL_RECORDED, "owned" },
				   { KC_CANCEL_LATE, "late" }))
);

TRACE_EVENT(kcancel_complete,
	TP_PROTO(const struct kc_request *req, unsigned int old, int status,
		 u64 result),
	TP_ARGS(req, old, status, result),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(int, status)
		__field(u64, result)
		__field(int, reason)
		__field(bool, canceled)
	),
	TP_fast_assign(
		__entry->id = req->id;
		__entry->status = status;
		__entry->result = result;
		__entry->canceled = old & KC_REQ_F_CANCELED;
		__entry->reason = kc_request_cancel_reason(req);
	),
	TP_printk("id=%llu status=%d result=%llu winner=%s", __entry->id,
		  __entry->status, __entry->result,
		  !__entry->canceled ? "none" :
		  __entry->status == __entry->reason ? "cancel" : "completion")
);

#endif /* _KCANCEL_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
