// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel: cancelable I/O done the KMDF way, in a Linux driver.
 *
 * DOC: Module
 *
 * The module holds the request core (request.c) and the target collection
 * (target.c), exported for the KUnit suites and for drivers that reuse them.
 */
#include <linux/module.h>

#include <kcancel/request.h>

static int __init kc_init(void)
{
	return kc_request_core_init();
}

static void __exit kc_exit(void)
{
	kc_request_core_exit();
}

module_init(kc_init);
module_exit(kc_exit);

MODULE_DESCRIPTION("kcancel: cancelable requests with exactly-once completion");
MODULE_LICENSE("GPL");
