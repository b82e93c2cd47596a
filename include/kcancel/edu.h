/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kcancel edu driver: the QEMU edu PCI device as a &struct kc_dev backend.
 */
#ifndef _KCANCEL_EDU_H
#define _KCANCEL_EDU_H

int kc_edu_init(void);
void kc_edu_exit(void);

#endif /* _KCANCEL_EDU_H */
