/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kcfloor: the ioctl of /dev/kcfloor, shared by the bench-only module
 * bench/floor/kcfloor.c and kcancel-bench. Not part of kcancel's ABI.
 *
 * KCFLOOR_RING: ring the edu device's doorbell (bit 0 of its interrupt
 * status) and wait, at most 1 s, for its interrupt. One ring at a time.
 *   0          the interrupt came
 *   ETIMEDOUT  it did not come within 1 s
 *   EINTR      a signal arrived
 *   ENODEV     the device was removed
 */
#ifndef KCFLOOR_H
#define KCFLOOR_H

#include <linux/ioctl.h>

#define KCFLOOR_IOC_MAGIC	0xC5
#define KCFLOOR_RING		_IO(KCFLOOR_IOC_MAGIC, 1)

#endif /* KCFLOOR_H */
