// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel: cancelable I/O done the KMDF way, in a Linux driver.
 *
 * DOC: Module
 *
 * The module holds the request core (request.c), the target collection
 * (target.c), the device machinery (dev.c) and its character devices
 * (chardev.c, their files' requests in file.c), and two backends: the edu
 * PCI driver (edu.c), which udev loads when QEMU's edu device is present,
 * and the software device (sim.c), created at load by the sim_devices
 * parameter.
 */
#include <linux/module.h>

#include <kcancel/chardev.h>
#include <kcancel/debugfs.h>
#include <kcancel/edu.h>
#include <kcancel/request.h>
#include <kcancel/sim.h>

/**
 * kc_init() - load the module
 *
 * Sets up the request core and debugfs, then registers the edu driver and
 * creates the software devices; undoes everything on failure.
 *
 * Context: process context, at module load.
 * Return: 0 or a negative errno.
 */
static int __init kc_init(void)
{
	int ret;

	ret = kc_request_core_init();
	if (ret)
		return ret;
	ret = kc_chardev_setup();
	if (ret)
		goto err_request;
	kc_debugfs_init();
	/* edu devices first: on a QEMU guest the edu device is kcancel0. */
	ret = kc_edu_init();
	if (ret)
		goto err_core;
	ret = kc_sim_init();
	if (ret)
		goto err_edu;
	return 0;

err_edu:
	kc_edu_exit();
err_core:
	kc_debugfs_exit();
	kc_chardev_exit();
err_request:
	kc_request_core_exit();
	return ret;
}

/**
 * kc_exit() - unload the module
 *
 * Removes the software and edu devices, then tears down what they share.
 *
 * Context: process context, at module unload.
 */
static void __exit kc_exit(void)
{
	kc_sim_exit();
	kc_edu_exit();
	kc_debugfs_exit();
	kc_chardev_exit();
	kc_request_core_exit();
}

module_init(kc_init);
module_exit(kc_exit);

MODULE_AUTHOR("The kcancel developers");
MODULE_DESCRIPTION("kcancel: cancelable requests with exactly-once completion");
MODULE_LICENSE("GPL");
MODULE_VERSION(KC_VERSION);
