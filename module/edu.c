// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel edu driver: the QEMU edu PCI device (1234:11e8) as a kc_dev.
 *
 * DOC: edu device
 *
 * The device computes factorials, runs one DMA at a time between host memory
 * and its 4096-byte buffer (100 ms each), and raises any of the 32 bits of its
 * interrupt status on request. kcancel uses bit 0 for the factorial, bit 8 for
 * DMA and the 30 others as doorbells, so the slot numbers of &struct kc_dev
 * are the status bits.
 *
 * The ISR (hard interrupt) reads the status, returns IRQ_NONE if it is zero
 * (the INTx line may be shared), acknowledges the bits and hands them off
 * (kc_dev_isr_handoff()): to the thread that waits for them if one does,
 * else to the threaded handler, the DPC, which it wakes and which passes
 * them to kc_dev_dpc(). The ISR takes no lock at all, so it stays a hard
 * handler on PREEMPT_RT. Nothing can abort an edu operation: a cancelled DMA
 * keeps the coherent buffer until its interrupt.
 *
 * A status of all ones is what a read returns once the device is gone
 * (surprise removal, a dead link), but also 32 slots finishing at once; when
 * the identification register reads all ones as well, the device is gone:
 * the ISR then claims nothing and has a work item fail the device
 * (kc_dev_fail(): bus mastering off, every request -ENODEV).
 */
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/string.h>
#include <linux/workqueue.h>

#include <kcancel/chardev.h>
#include <kcancel/dev.h>
#include <kcancel/edu.h>

#include "trace.h"

static bool intx;
module_param(intx, bool, 0444);
MODULE_PARM_DESC(intx, "edu: use the INTx interrupt even where MSI works (default N)");

static unsigned int edu_timeout_ms = 5000;
module_param(edu_timeout_ms, uint, 0444);
MODULE_PARM_DESC(edu_timeout_ms,
		 "edu: how long close() and removal wait for the device to end its operations before they give up on it and fail it (default 5000; an operation takes at most 100 ms)");

#define KC_EDU_ID		0x00
#define KC_EDU_LIVENESS		0x04
#define KC_EDU_FACT		0x08
#define KC_EDU_STATUS		0x20
#define KC_EDU_IRQ_STATUS	0x24
#define KC_EDU_IRQ_RAISE	0x60
#define KC_EDU_IRQ_ACK		0x64
#define KC_EDU_DMA_SRC		0x80
#define KC_EDU_DMA_DST		0x88
#define KC_EDU_DMA_CNT		0x90
#define KC_EDU_DMA_CMD		0x98

#define KC_EDU_ID_MAGIC		0xed		/* the low byte of KC_EDU_ID */
#define KC_EDU_STATUS_IRQFACT	0x80		/* interrupt when a factorial ends */
#define KC_EDU_DMA_START	BIT(0)
#define KC_EDU_DMA_FROM_DEV	BIT(1)		/* edu -> RAM; else RAM -> edu */
#define KC_EDU_DMA_IRQ		BIT(2)
#define KC_EDU_DMA_BASE		0x40000		/* its buffer, in device addresses */
/*
 * The edu device of QEMU 7.2 (Debian 12's) refuses a transfer that ends at the
 * buffer's last byte, and stops the machine: its range check wants the end
 * inside the buffer. DMA stops one byte short.
 */
#define KC_EDU_DMA_SIZE		(KCANCEL_DMA_SIZE - 1)

#define KC_EDU_FACT_SLOT	0
#define KC_EDU_DMA_SLOT		8

#ifndef PCI_IRQ_INTX
#define PCI_IRQ_INTX		PCI_IRQ_LEGACY	/* before 6.8 */
#endif

/**
 * struct kc_edu - one edu device
 * @pdev: the PCI device.
 * @regs: BAR 0.
 * @kd: its &struct kc_dev.
 * @dma_buf: the coherent buffer every DMA goes through.
 * @dma_addr: its bus address, below 2^28.
 * @irq: the interrupt.
 * @gone: the ISR read all ones: the device is gone.
 * @gone_work: fails the device once @gone is set.
 */
struct kc_edu {
	struct pci_dev *pdev;
	void __iomem *regs;
	struct kc_dev *kd;
	void *dma_buf;
	dma_addr_t dma_addr;
	int irq;
	atomic_t gone;
	struct work_struct gone_work;
};

static u32 kc_edu_read(struct kc_edu *edu, unsigned int reg)
{
	return ioread32(edu->regs + reg);
}

static void kc_edu_write(struct kc_edu *edu, unsigned int reg, u32 val)
{
	iowrite32(val, edu->regs + reg);
}

/**
 * kc_edu_start_dma() - program and start a DMA
 * @edu: the device.
 * @io: a DMA request; a DMA to the device is copied into the coherent buffer
 *	first.
 *
 * Context: as kc_edu_start(): &kc_dev.lock held, interrupts disabled; may not
 * sleep.
 */
static void kc_edu_start_dma(struct kc_edu *edu, struct kc_io *io)
{
	u32 dev_addr = KC_EDU_DMA_BASE + io->offset;
	u32 cmd = KC_EDU_DMA_START | KC_EDU_DMA_IRQ;

	if (io->op == KCANCEL_OP_DMA_TO_DEV) {
		memcpy(edu->dma_buf, io->buf, io->len);
		kc_edu_write(edu, KC_EDU_DMA_SRC, edu->dma_addr);
		kc_edu_write(edu, KC_EDU_DMA_DST, dev_addr);
	} else {
		kc_edu_write(edu, KC_EDU_DMA_SRC, dev_addr);
		kc_edu_write(edu, KC_EDU_DMA_DST, edu->dma_addr);
		cmd |= KC_EDU_DMA_FROM_DEV;
	}
	kc_edu_write(edu, KC_EDU_DMA_CNT, io->len);
	/* The coherent buffer's contents are visible before the command. */
	kc_edu_write(edu, KC_EDU_DMA_CMD, cmd);
}

/**
 * kc_edu_start() - &kc_dev_ops.start: start an operation
 * @kd: the device.
 * @io: the request, in slot @io->slot.
 *
 * A factorial writes its argument, a DMA is programmed (kc_edu_start_dma()),
 * a doorbell raises its slot's status bit.
 *
 * Context: &kc_dev.lock held, interrupts disabled; may not sleep.
 */
static void kc_edu_start(struct kc_dev *kd, struct kc_io *io)
{
	struct kc_edu *edu = kd->priv;

	switch (io->op) {
	case KCANCEL_OP_FACTORIAL:
		kc_edu_write(edu, KC_EDU_FACT, io->arg);
		break;
	case KCANCEL_OP_DMA_TO_DEV:
	case KCANCEL_OP_DMA_FROM_DEV:
		kc_edu_start_dma(edu, io);
		break;
	case KCANCEL_OP_DOORBELL:
		kc_edu_write(edu, KC_EDU_IRQ_RAISE, BIT(io->slot));
		break;
	}
}

/**
 * kc_edu_fetch() - &kc_dev_ops.fetch: the result of a finished slot
 * @kd: the device.
 * @io: the slot's request.
 *
 * Reads the factorial, or copies a DMA from the device out of the coherent
 * buffer.
 *
 * Context: the DPC's (under kc_queue_synchronize()); may not sleep.
 * Return: 0, or -EIO for an unknown operation.
 */
static int kc_edu_fetch(struct kc_dev *kd, struct kc_io *io)
{
	struct kc_edu *edu = kd->priv;

	switch (io->op) {
	case KCANCEL_OP_FACTORIAL:
		io->result = kc_edu_read(edu, KC_EDU_FACT);
		break;
	case KCANCEL_OP_DMA_FROM_DEV:
		memcpy(io->buf, edu->dma_buf, io->len);
		fallthrough;
	case KCANCEL_OP_DMA_TO_DEV:
		io->result = io->len;
		break;
	case KCANCEL_OP_DOORBELL:
		io->result = io->arg;
		break;
	default:
		return -EIO;
	}
	return 0;
}

/**
 * kc_edu_halt() - &kc_dev_ops.halt, for kc_dev_fail()
 * @kd: the device.
 *
 * The device moves no more data and interrupts no more for factorials.
 *
 * Context: process context.
 */
static void kc_edu_halt(struct kc_dev *kd)
{
	struct kc_edu *edu = kd->priv;

	pci_clear_master(edu->pdev);
	kc_edu_write(edu, KC_EDU_STATUS, 0);
}

/**
 * kc_edu_raise() - &kc_dev_ops.raise: a hostile device
 * @kd: the device.
 * @mask: the bits to raise through the raise register.
 *
 * Context: process context.
 */
static void kc_edu_raise(struct kc_dev *kd, u64 mask)
{
	kc_edu_write(kd->priv, KC_EDU_IRQ_RAISE, lower_32_bits(mask));
}

static const struct kc_dev_ops kc_edu_ops = {
	.start = kc_edu_start,
	.fetch = kc_edu_fetch,
	.halt = kc_edu_halt,
	.raise = kc_edu_raise,
};

/**
 * kc_edu_gone_work() - the device is gone
 * @work: &kc_edu.gone_work.
 *
 * Fails the device, and wakes the readers of its files.
 *
 * Context: process context, from the system workqueue; sleeps.
 */
static void kc_edu_gone_work(struct work_struct *work)
{
	struct kc_edu *edu = container_of(work, struct kc_edu, gone_work);

	dev_err(&edu->pdev->dev, "the device reads all ones: it is gone\n");
	kc_dev_fail(edu->kd, -ENODEV);
	kc_chardev_hangup(edu->kd);
}

/**
 * kc_edu_isr() - the ISR
 * @irq: the interrupt.
 * @data: the &struct kc_edu.
 *
 * Acknowledges the status bits and hands them off to a DPC; a device that
 * reads all ones is gone and has its work item fail it.
 *
 * Context: hard IRQ, no lock.
 * Return: IRQ_NONE if the status is zero or the device is gone;
 * IRQ_HANDLED if a thread waiting for the bits takes them; else
 * IRQ_WAKE_THREAD.
 */
static irqreturn_t kc_edu_isr(int irq, void *data)
{
	struct kc_edu *edu = data;
	u32 status = kc_edu_read(edu, KC_EDU_IRQ_STATUS);

	if (!status)
		return IRQ_NONE;
	/*
	 * All 32 bits are slots, so all ones may be real: the device is gone
	 * only if its identification register reads all ones too.
	 */
	if (unlikely(status == ~0U) && kc_edu_read(edu, KC_EDU_ID) == ~0U) {
		if (!atomic_xchg(&edu->gone, 1))
			schedule_work(&edu->gone_work);
		return IRQ_NONE;
	}
	kc_edu_write(edu, KC_EDU_IRQ_ACK, status);
	trace_kcancel_irq(edu->kd, status);
	return kc_dev_isr_handoff(edu->kd, status) ? IRQ_HANDLED :
						     IRQ_WAKE_THREAD;
}

/**
 * kc_edu_dpc() - the DPC: the interrupt's thread
 * @irq: the interrupt.
 * @data: the &struct kc_edu.
 *
 * Passes the bits the ISR handed off to kc_dev_dpc() (kc_dev_dpc_handoff()).
 *
 * Context: process context, the threaded interrupt handler; no kcancel lock
 * held.
 * Return: IRQ_HANDLED.
 */
static irqreturn_t kc_edu_dpc(int irq, void *data)
{
	struct kc_edu *edu = data;

	kc_dev_dpc_handoff(edu->kd);
	return IRQ_HANDLED;
}

/**
 * kc_edu_map() - map BAR 0
 * @pdev: the PCI device, enabled with pcim_enable_device().
 *
 * Context: process context.
 * Return: the mapping, or an IOMEM_ERR_PTR().
 */
static void __iomem *kc_edu_map(struct pci_dev *pdev)
{
#ifdef KC_HAVE_PCIM_IOMAP_REGION
	return pcim_iomap_region(pdev, 0, KBUILD_MODNAME);
#else
	int ret = pcim_iomap_regions(pdev, BIT(0), KBUILD_MODNAME);

	return ret ? IOMEM_ERR_PTR(ret) : pcim_iomap_table(pdev)[0];
#endif
}

/**
 * kc_edu_check() - is it an edu device that answers?
 * @edu: the device, BAR 0 mapped.
 *
 * Context: process context.
 * Return: 0; -ENODEV if the identification register is not an edu's; -EIO if
 * the liveness register does not answer.
 */
static int kc_edu_check(struct kc_edu *edu)
{
	u32 id = kc_edu_read(edu, KC_EDU_ID);
	u32 probe = 0x5a5a0f0f;

	if ((id & 0xff) != KC_EDU_ID_MAGIC) {
		dev_err(&edu->pdev->dev, "not an edu device (id %#x)\n", id);
		return -ENODEV;
	}
	kc_edu_write(edu, KC_EDU_LIVENESS, probe);
	if (kc_edu_read(edu, KC_EDU_LIVENESS) != ~probe) {
		dev_err(&edu->pdev->dev, "the liveness register does not answer\n");
		return -EIO;
	}
	return 0;
}

/**
 * kc_edu_setup_irq() - set up the interrupt and its handlers
 * @edu: the device.
 *
 * MSI where it works unless the intx parameter is set, else INTx (shared).
 * Forgets what an earlier driver left, then has factorials interrupt.
 *
 * Context: process context; sleeps.
 * Return: 0 or a negative errno.
 */
static int kc_edu_setup_irq(struct kc_edu *edu)
{
	struct pci_dev *pdev = edu->pdev;
	unsigned int types = intx ? PCI_IRQ_INTX : PCI_IRQ_MSI | PCI_IRQ_INTX;
	int ret;

	ret = pci_alloc_irq_vectors(pdev, 1, 1, types);
	if (ret < 0)
		return ret;
	edu->irq = pci_irq_vector(pdev, 0);
	/* Forget what an earlier driver left, then have factorials interrupt. */
	kc_edu_write(edu, KC_EDU_IRQ_ACK, ~0U);
	kc_edu_write(edu, KC_EDU_STATUS, KC_EDU_STATUS_IRQFACT);
	ret = request_threaded_irq(edu->irq, kc_edu_isr, kc_edu_dpc,
				   IRQF_SHARED, KBUILD_MODNAME, edu);
	if (ret)
		pci_free_irq_vectors(pdev);
	return ret;
}

/**
 * kc_edu_probe() - bind to an edu device
 * @pdev: the PCI device.
 * @id: the matching entry of kc_edu_ids.
 *
 * Checks the device, sets up DMA (28-bit addresses), creates its
 * &struct kc_dev, its interrupt and /dev/kcancelN.
 *
 * Context: process context; sleeps.
 * Return: 0 or a negative errno.
 */
static int kc_edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	u64 slots[KC_CHAN_NR] = {
		[KC_CHAN_FACT] = BIT_ULL(KC_EDU_FACT_SLOT),
		[KC_CHAN_DMA] = BIT_ULL(KC_EDU_DMA_SLOT),
		[KC_CHAN_BELL] = GENMASK_ULL(31, 0) &
				 ~(BIT_ULL(KC_EDU_FACT_SLOT) | BIT_ULL(KC_EDU_DMA_SLOT)),
	};
	struct device *dev = &pdev->dev;
	struct kc_edu *edu;
	int ret;

	edu = devm_kzalloc(dev, sizeof(*edu), GFP_KERNEL);
	if (!edu)
		return -ENOMEM;
	edu->pdev = pdev;
	atomic_set(&edu->gone, 0);
	INIT_WORK(&edu->gone_work, kc_edu_gone_work);
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	edu->regs = kc_edu_map(pdev);
	if (IS_ERR(edu->regs))
		return PTR_ERR(edu->regs);
	ret = kc_edu_check(edu);
	if (ret)
		return ret;
	pci_set_master(pdev);
	/* The device masks host addresses to 28 bits. */
	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(28));
	if (ret)
		return ret;
	edu->dma_buf = dmam_alloc_coherent(dev, KCANCEL_DMA_SIZE,
					   &edu->dma_addr, GFP_KERNEL);
	if (!edu->dma_buf)
		return -ENOMEM;

	edu->kd = kc_dev_create(&kc_edu_ops, edu, KCANCEL_BACKEND_EDU, slots,
				KC_EDU_DMA_SIZE, KC_SYNC_AUTOMATIC);
	if (!edu->kd)
		return -ENOMEM;
	edu->kd->op_timeout = msecs_to_jiffies(edu_timeout_ms);
	ret = kc_edu_setup_irq(edu);
	if (ret)
		goto err_dev;
	ret = kc_chardev_register(edu->kd, dev);
	if (ret)
		goto err_irq;
	pci_set_drvdata(pdev, edu);
	dev_info(dev, "/dev/%s: edu, %s interrupt\n", edu->kd->name,
		 pdev->msi_enabled ? "MSI" : "INTx");
	return 0;

err_irq:
	free_irq(edu->irq, edu);
	cancel_work_sync(&edu->gone_work);
	pci_free_irq_vectors(pdev);
err_dev:
	kc_dev_shutdown(edu->kd);
	kc_dev_put(edu->kd);
	return ret;
}

/**
 * kc_edu_remove() - removal of an edu device
 * @pdev: the PCI device.
 *
 * No new opens, every request completed (-ENODEV unless the hardware
 * finished first; a device that does not finish within edu_timeout_ms is
 * failed), and only then the interrupt freed. Open files keep the kc_dev,
 * not this structure.
 *
 * Context: process context; sleeps.
 */
static void kc_edu_remove(struct pci_dev *pdev)
{
	struct kc_edu *edu = pci_get_drvdata(pdev);

	kc_chardev_unregister(edu->kd);
	kc_dev_shutdown(edu->kd);
	kc_chardev_hangup(edu->kd);
	kc_edu_write(edu, KC_EDU_STATUS, 0);
	free_irq(edu->irq, edu);
	cancel_work_sync(&edu->gone_work);
	pci_free_irq_vectors(pdev);
	kc_dev_put(edu->kd);
}

static const struct pci_device_id kc_edu_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{ }
};
MODULE_DEVICE_TABLE(pci, kc_edu_ids);

static struct pci_driver kc_edu_driver = {
	.name = KBUILD_MODNAME,
	.id_table = kc_edu_ids,
	.probe = kc_edu_probe,
	.remove = kc_edu_remove,
};

/**
 * kc_edu_init() - register the edu PCI driver
 *
 * Context: process context, at module load.
 * Return: 0 or a negative errno.
 */
int kc_edu_init(void)
{
	return pci_register_driver(&kc_edu_driver);
}

/**
 * kc_edu_exit() - unregister the edu PCI driver, removing every edu device
 *
 * Context: process context, at module unload.
 */
void kc_edu_exit(void)
{
	pci_unregister_driver(&kc_edu_driver);
}
