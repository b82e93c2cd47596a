/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kcancel debugfs: /sys/kernel/debug/kcancel, a directory per device with its
 * counters and the knobs the fault tests use.
 */
#ifndef _KCANCEL_DEBUGFS_H
#define _KCANCEL_DEBUGFS_H

#include <linux/debugfs.h>

#include <kcancel/dev.h>

void kc_debugfs_init(void);
void kc_debugfs_exit(void);
struct dentry *kc_debugfs_root(void);
void kc_debugfs_dev_add(struct kc_dev *kd);
void kc_debugfs_dev_remove(struct kc_dev *kd);

#endif /* _KCANCEL_DEBUGFS_H */
