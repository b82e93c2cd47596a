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

#include <kcancel/dev.h>

/*
 * How many requests one file may have submitted and not yet reaped: the
 * default of the max_pending module parameter, and its limit.
 */
#define KC_FILE_MAX_PENDING		4096
#define KC_FILE_MAX_PENDING_LIMIT	1048576

int kc_chardev_register(struct kc_dev *kd, struct device *parent);
void kc_chardev_unregister(struct kc_dev *kd);
void kc_chardev_hangup(struct kc_dev *kd);
void kc_chardev_exit(void);

#endif /* _KCANCEL_CHARDEV_H */
