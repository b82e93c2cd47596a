// SPDX-License-Identifier: GPL-2.0
/*
 * kcfloor: the raw doorbell floor of QEMU's edu device.
 *
 * NOT PART OF KCANCEL. This is a bench-only module, built by hand and
 * loaded with insmod for `kcancel-bench floor`, never installed nor
 * packaged. It binds the edu device (1234:11e8) only while kcancel.ko is
 * unloaded, and offers /dev/kcfloor with one ioctl, KCFLOOR_RING
 * (kcfloor.h): ring the doorbell (bit 0 of the interrupt status), wait for
 * the interrupt, return. No requests, no queues, no cancellation: one
 * doorbell at a time under a mutex, a hard IRQ handler that acknowledges
 * the status and completes a &struct completion. What a doorbell costs
 * here is the floor that kcancel's full doorbell path is measured against.
 *
 * It has no MODULE_DEVICE_TABLE, so that udev never loads it for an edu
 * device; its init fails (ENODEV) if no edu device was free to bind.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/fs.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/jiffies.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>

#include "kcfloor.h"

#define KCFLOOR_ID		0x00
#define KCFLOOR_IRQ_STATUS	0x24
#define KCFLOOR_IRQ_RAISE	0x60
#define KCFLOOR_IRQ_ACK		0x64

#define KCFLOOR_ID_MAGIC	0xed		/* the low byte of KCFLOOR_ID */
#define KCFLOOR_BELL		BIT(0)		/* the status bit it rings */

#ifndef PCI_IRQ_INTX
#define PCI_IRQ_INTX		PCI_IRQ_LEGACY	/* before 6.8 */
#endif

/**
 * struct kcfloor - the one edu device kcfloor drives
 * @pdev: the PCI device.
 * @regs: BAR 0.
 * @irq: its interrupt.
 * @gone: the device was removed, or was never there; under kcfloor_lock.
 * @done: completed by the interrupt handler.
 * @misc: /dev/kcfloor.
 */
struct kcfloor {
	struct pci_dev *pdev;
	void __iomem *regs;
	int irq;
	bool gone;
	struct completion done;
	struct miscdevice misc;
};

/*
 * One device at most, static so that a file left open across a removal
 * still finds @gone (the ioctl then fails with ENODEV).
 */
static struct kcfloor kcfloor = { .gone = true };
/* One doorbell at a time; also orders @gone against the ioctl. */
static DEFINE_MUTEX(kcfloor_lock);
/* Set while a device is bound. */
static atomic_t kcfloor_claimed = ATOMIC_INIT(0);

/* Hard interrupt context, no lock. */
static irqreturn_t kcfloor_isr(int irq, void *data)
{
	struct kcfloor *kf = data;
	u32 status = ioread32(kf->regs + KCFLOOR_IRQ_STATUS);

	if (!status)
		return IRQ_NONE;
	/* All ones with an all-ones id: the device is gone, not ours. */
	if (unlikely(status == ~0U) &&
	    ioread32(kf->regs + KCFLOOR_ID) == ~0U)
		return IRQ_NONE;
	iowrite32(status, kf->regs + KCFLOOR_IRQ_ACK);
	complete(&kf->done);
	return IRQ_HANDLED;
}

static long kcfloor_ring(struct kcfloor *kf)
{
	long left;

	if (kf->gone)
		return -ENODEV;
	/* A late interrupt of an earlier ring that timed out is forgotten. */
	reinit_completion(&kf->done);
	iowrite32(KCFLOOR_BELL, kf->regs + KCFLOOR_IRQ_RAISE);
	left = wait_for_completion_interruptible_timeout(&kf->done, HZ);
	if (left > 0)
		return 0;
	return left ? -EINTR : -ETIMEDOUT;
}

static long kcfloor_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	long ret;

	if (cmd != KCFLOOR_RING)
		return -ENOTTY;
	if (mutex_lock_interruptible(&kcfloor_lock))
		return -EINTR;
	ret = kcfloor_ring(&kcfloor);
	mutex_unlock(&kcfloor_lock);
	return ret;
}

static const struct file_operations kcfloor_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = kcfloor_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static void __iomem *kcfloor_map(struct pci_dev *pdev)
{
#ifdef KCFLOOR_HAVE_PCIM_IOMAP_REGION
	return pcim_iomap_region(pdev, 0, KBUILD_MODNAME);
#else
	int ret = pcim_iomap_regions(pdev, BIT(0), KBUILD_MODNAME);

	return ret ? IOMEM_ERR_PTR(ret) : pcim_iomap_table(pdev)[0];
#endif
}

/* One MSI vector, else INTx; then the handler, on a quiet device. */
static int kcfloor_setup_irq(struct kcfloor *kf)
{
	struct pci_dev *pdev = kf->pdev;
	int ret;

	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI | PCI_IRQ_INTX);
	if (ret < 0)
		return ret;
	kf->irq = pci_irq_vector(pdev, 0);
	/* Forget what an earlier driver left. */
	iowrite32(~0U, kf->regs + KCFLOOR_IRQ_ACK);
	ret = request_irq(kf->irq, kcfloor_isr, IRQF_SHARED, KBUILD_MODNAME,
			  kf);
	if (ret)
		pci_free_irq_vectors(pdev);
	return ret;
}

static int kcfloor_bind(struct pci_dev *pdev, struct kcfloor *kf)
{
	u32 id;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	kf->pdev = pdev;
	kf->regs = kcfloor_map(pdev);
	if (IS_ERR(kf->regs))
		return PTR_ERR(kf->regs);
	id = ioread32(kf->regs + KCFLOOR_ID);
	if ((id & 0xff) != KCFLOOR_ID_MAGIC) {
		dev_err(&pdev->dev, "not an edu device (id %#x)\n", id);
		return -ENODEV;
	}
	/* An MSI is a memory write of the device: it must be a bus master. */
	pci_set_master(pdev);
	ret = kcfloor_setup_irq(kf);
	if (ret)
		return ret;
	mutex_lock(&kcfloor_lock);
	kf->gone = false;
	mutex_unlock(&kcfloor_lock);
	kf->misc = (struct miscdevice) {
		.minor = MISC_DYNAMIC_MINOR,
		.name = "kcfloor",
		.fops = &kcfloor_fops,
	};
	ret = misc_register(&kf->misc);
	if (ret) {
		mutex_lock(&kcfloor_lock);
		kf->gone = true;
		mutex_unlock(&kcfloor_lock);
		free_irq(kf->irq, kf);
		pci_free_irq_vectors(pdev);
		return ret;
	}
	dev_info(&pdev->dev, "/dev/kcfloor: %s interrupt (bench only)\n",
		 pdev->msi_enabled ? "MSI" : "INTx");
	return 0;
}

static int kcfloor_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	int ret;

	if (atomic_cmpxchg(&kcfloor_claimed, 0, 1)) {
		dev_info(&pdev->dev, "kcfloor drives one edu device only\n");
		return -EBUSY;
	}
	ret = kcfloor_bind(pdev, &kcfloor);
	if (ret) {
		atomic_set(&kcfloor_claimed, 0);
		return ret;
	}
	pci_set_drvdata(pdev, &kcfloor);
	return 0;
}

/* No new open, no ring after this; the ring in progress ends first. */
static void kcfloor_remove(struct pci_dev *pdev)
{
	struct kcfloor *kf = pci_get_drvdata(pdev);

	misc_deregister(&kf->misc);
	mutex_lock(&kcfloor_lock);
	kf->gone = true;
	mutex_unlock(&kcfloor_lock);
	free_irq(kf->irq, kf);
	pci_free_irq_vectors(pdev);
	pci_clear_master(pdev);
	atomic_set(&kcfloor_claimed, 0);
}

static const struct pci_device_id kcfloor_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{ }
};

static struct pci_driver kcfloor_driver = {
	.name = KBUILD_MODNAME,
	.id_table = kcfloor_ids,
	.probe = kcfloor_probe,
	.remove = kcfloor_remove,
};

static int __init kcfloor_init(void)
{
	int ret;

	init_completion(&kcfloor.done);
	ret = pci_register_driver(&kcfloor_driver);
	if (ret)
		return ret;
	/* The probe runs synchronously: a free edu device is bound by now. */
	if (!atomic_read(&kcfloor_claimed)) {
		pci_unregister_driver(&kcfloor_driver);
		pr_err("no free edu device (1234:11e8): unload kcancel first\n");
		return -ENODEV;
	}
	return 0;
}
module_init(kcfloor_init);

static void __exit kcfloor_exit(void)
{
	pci_unregister_driver(&kcfloor_driver);
}
module_exit(kcfloor_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kcancel bench only: the raw doorbell floor of QEMU's edu device");
