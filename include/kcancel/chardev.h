/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kcancel character devices: /dev/kcancelN, one per &struct kc_dev.
 *
 * The ABI is include/uapi/linux/kcancel.h; chardev.c implements it on top
 * of dev.h.
 */
#ifndef _KCANCEL_CHARDEV_H
#define _KCANCEL_CHARDEV_H

#include <linux/device.h>
#include <linux/limits.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/spinlock.h>

struct kc_dev;

/**
 * struct kc_chardev - the character device of a &struct kc_dev
 * @misc: /dev/kcancelN.
 * @minor_id: the N of /dev/kcancelN, -1 when it is not registered.
 * @files_lock: guards @files.
 * @files: the open files, so that removal can wake their readers and
 *	pollers.
 *
 * Its fields are chardev.c's; kc_chardev_init() sets it up.
 */
struct kc_chardev {
	struct miscdevice misc;
	int minor_id;
	spinlock_t files_lock;		/* guards files */
	struct list_head files;
};

/*
 * How many requests one file may have submitted and not yet reaped: the
 * default of the max_pending module parameter, and its limit.
 */
#define KC_FILE_MAX_PENDING		4096
#define KC_FILE_MAX_PENDING_LIMIT	1048576

/*
 * A request's id: its sequence number on the device (kc_dev_next_id())
 * above the index of its entry in the file's table, which fits
 * %KC_FILE_INDEX_BITS bits as a file holds at most
 * %KC_FILE_MAX_PENDING_LIMIT requests. A device gives out sequence numbers
 * up to %KC_FILE_SEQ_MAX, then refuses submits (-EOVERFLOW), so that an id
 * is never given twice.
 */
#define KC_FILE_INDEX_BITS		20
#define KC_FILE_INDEX_MASK		(KC_FILE_MAX_PENDING_LIMIT - 1)
#define KC_FILE_SEQ_MAX			(U64_MAX >> KC_FILE_INDEX_BITS)

void kc_chardev_init(struct kc_chardev *cd);
int kc_chardev_register(struct kc_dev *kd, struct device *parent);
void kc_chardev_unregister(struct kc_dev *kd);
void kc_chardev_hangup(struct kc_dev *kd);
int kc_chardev_setup(void);
void kc_chardev_exit(void);

#endif /* _KCANCEL_CHARDEV_H */
