// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-selftest: the ABI of /dev/kcancelN (include/uapi/linux/kcancel.h),
 * one kselftest-harness case per promise of the header.
 *
 * One fixture, a device, with a variant per backend: "edu" (QEMU's edu PCI
 * device) and "sim" (the software device of sim_devices=N). Its setup takes
 * the first /dev/kcancelN whose /sys/class/misc/kcancelN/backend names the
 * variant, or the first device given with --device that has that backend,
 * and skips when there is none.
 *
 * Cancels and timeouts are made deterministic by the device, not by sleeps:
 * a DMA takes 100 ms on edu and sim_latency_us on the software device, and
 * runs one at a time (sim_parallel=1), so a request queued behind a few
 * DMAs (the "blockers", on a file of their own) is certain to be still
 * queued for a few hundred milliseconds. "Completion wins" is made certain
 * by waiting for the event first. Tests that need the software device slow
 * and serial skip, saying so, when it was loaded otherwise.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <linux/kcancel.h>
#include <linux/magic.h>
#include <liburing.h>

/*
 * The harness's SIGALRM handler has a parameter it does not use, which
 * -Wextra reports: that warning only, for the harness only.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop

typedef __u8 u8;
typedef __u32 u32;
typedef __s32 s32;
typedef __u64 u64;

#define PROG			"kcancel-selftest"
#define KC_MAX_DEVICES		8
/* The most a device path may have, and its sysfs directory's. */
#define KC_PATH			128
#define NSEC_PER_MSEC		1000000ULL
#define NSEC_PER_SEC		1000000000ULL
/* How long the blockers keep the DMA channel busy, at the least. */
#define KC_COVER_MS		300
/* A DMA shorter than this cannot keep anything queued reliably. */
#define KC_MIN_DMA_MS		5
/* The most blockers a test submits. */
#define KC_MAX_BLOCKERS		256U
/* A user address the kernel must refuse: x86-64's kernel text. */
#define KC_KERNEL_ADDR		((void *)0xffffffff81000000UL)
#define KC_SYSFS_PARAMS		"/sys/module/kcancel/parameters"
/* What a process fills its copy of a DMA buffer with, to see it untouched. */
#define KC_SENTINEL		0xa5
/* Where cgroup v2 is, or is mounted by the test that needs it. */
#define KC_CGROUP_ROOT		"/sys/fs/cgroup"

/* n!, as the header defines the result of KCANCEL_OP_FACTORIAL. */
static const u64 kc_fact[KCANCEL_FACTORIAL_MAX + 1] = {
	1, 1, 2, 6, 24, 120, 720, 5040, 40320, 362880, 3628800, 39916800,
	479001600,
};

/* The devices of --device, in the order given. */
static const char *kc_devices[KC_MAX_DEVICES];
static unsigned int kc_ndevices;

/* Where blockers and barriers put their one byte of DMA data. */
static u8 kc_scratch[64];

/* SIGALRMs seen; written by the handler, atomically. */
static unsigned int kc_alarms;

FIXTURE(kcancel) {
	int fd;			/* the device, opened by the setup */
	int bfd;		/* the blockers' file, or -1 */
	char path[KC_PATH];	/* /dev/kcancelN */
	char sys[KC_PATH];	/* its sysfs directory */
	struct kcancel_info info;
	unsigned int dma_ms;	/* the least time a DMA takes, 0 if unknown */
	unsigned int parallel;	/* factorials and DMAs that run at once */
	char bind[PATH_MAX + 8];	/* device_removal: its driver's bind file */
	char pci_addr[64];
	bool unbound;
	pid_t child;		/* a child process the teardown kills, or 0 */
	char cgroup[PATH_MAX];	/* a cgroup the teardown removes, or "" */
	bool cg_mounted;	/* cgroup2 was mounted on KC_CGROUP_ROOT for it */
	bool cg_enabled;	/* the memory controller was enabled for it */
};

/*
 * The fixture's structure, for helpers: FIXTURE_DATA(kcancel), by a name
 * that reads as a type.
 */
#define KC_FIXTURE	FIXTURE_DATA(kcancel)

FIXTURE_VARIANT(kcancel) {
	const char *backend;	/* as in /sys/class/misc/kcancelN/backend */
	u32 id;			/* as in kcancel_info.backend */
};

FIXTURE_VARIANT_ADD(kcancel, edu) {
	.backend = "edu",
	.id = KCANCEL_BACKEND_EDU,
};

FIXTURE_VARIANT_ADD(kcancel, sim) {
	.backend = "sim",
	.id = KCANCEL_BACKEND_SIM,
};

/* ---- small helpers ---------------------------------------------------- */

static u64 kc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* ioctl() as 0 or a negative errno. */
static int kc_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static int kc_submit(int fd, u32 op, u64 arg, u64 tag, u64 *id)
{
	struct kcancel_submit s = { .op = op, .arg = arg, .tag = tag };
	int ret = kc_ioctl(fd, KCANCEL_IOC_SUBMIT, &s);

	if (!ret && id)
		*id = s.id;
	return ret;
}

static int kc_submit_dma(int fd, u32 op, void *buf, u32 len, u32 offset,
			 u64 tag, u64 *id)
{
	struct kcancel_submit s = {
		.op = op,
		.tag = tag,
		.buf = (uintptr_t)buf,
		.len = len,
		.offset = offset,
	};
	int ret = kc_ioctl(fd, KCANCEL_IOC_SUBMIT, &s);

	if (!ret && id)
		*id = s.id;
	return ret;
}

static int kc_cancel(int fd, u64 id)
{
	struct kcancel_cancel c = { .id = id };

	return kc_ioctl(fd, KCANCEL_IOC_CANCEL, &c);
}

static int kc_wait(int fd, u64 id, u64 timeout_ns, struct kcancel_event *ev)
{
	struct kcancel_wait w = { .id = id, .timeout_ns = timeout_ns };
	int ret = kc_ioctl(fd, KCANCEL_IOC_WAIT, &w);

	if (!ret && ev)
		*ev = w.done;
	return ret;
}

/* KCANCEL_IOC_BATCH of @b: how many events it reaped, or a negative errno. */
static int kc_batch(int fd, struct kcancel_batch *b)
{
	int ret = ioctl(fd, KCANCEL_IOC_BATCH, b);

	return ret < 0 ? -errno : ret;
}

/* read() of up to @n events: how many came, or a negative errno. */
static int kc_read(int fd, struct kcancel_event *ev, size_t n)
{
	ssize_t got = read(fd, ev, n * sizeof(*ev));

	if (got < 0)
		return -errno;
	if (got % sizeof(*ev))
		return -EBADMSG;
	return got / sizeof(*ev);
}

/* kc_read() as if the file were O_NONBLOCK. */
static int kc_read_nb(int fd, struct kcancel_event *ev, size_t n)
{
	int fl = fcntl(fd, F_GETFL);
	int ret;

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return -errno;
	ret = kc_read(fd, ev, n);
	fcntl(fd, F_SETFL, fl);
	return ret;
}

/* What poll() says of @fd within @ms: its revents, 0, or a negative errno. */
static int kc_poll(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDNORM };
	int ret = poll(&p, 1, ms);

	if (ret < 0)
		return -errno;
	return ret ? p.revents : 0;
}

/* Read events until @n have come; 0 or a negative errno. */
static int kc_read_all(int fd, struct kcancel_event *ev, size_t n)
{
	size_t have = 0;
	int ret;

	while (have < n) {
		ret = kc_read(fd, ev + have, n - have);
		if (ret < 0)
			return ret;
		if (!ret)
			return -ENODATA;
		have += ret;
	}
	return 0;
}

static void kc_fill(u8 *buf, size_t len, u32 seed)
{
	u32 x = seed * 2654435761U + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = x >> 24;
	}
}

static size_t kc_page(void)
{
	return sysconf(_SC_PAGESIZE);
}

/*
 * @len bytes of which only the first @ok can be touched: the rest lies in a
 * PROT_NONE page. NULL if the memory cannot be had.
 */
static void *kc_guarded(size_t len, size_t ok)
{
	size_t page = kc_page();
	size_t head = (ok + page - 1) / page * page;
	u8 *base;

	if (len <= ok)
		return NULL;
	base = mmap(NULL, head + page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	if (mprotect(base + head, page, PROT_NONE))
		return NULL;
	return base + head - ok;
}

/* An address where nothing is mapped. */
static void *kc_unmapped(void)
{
	void *p = mmap(NULL, kc_page(), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || munmap(p, kc_page()))
		return NULL;
	return p;
}

/* A page holding a copy of @len bytes of @src that can be read, not written. */
static void *kc_readonly(const void *src, size_t len)
{
	void *p = mmap(NULL, kc_page(), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, src, len);
	if (mprotect(p, kc_page(), PROT_READ))
		return NULL;
	return p;
}

/*
 * A copy of @len bytes of @src whose first @rw bytes lie in a writable page
 * and the rest in the next page, which can be read, not written.
 */
static void *kc_split(const void *src, size_t len, size_t rw)
{
	size_t page = kc_page();
	u8 *base;

	if (rw > len || rw > page || len - rw > page)
		return NULL;
	base = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	memcpy(base + page - rw, src, len);
	if (mprotect(base + page, page, PROT_READ))
		return NULL;
	return base + page - rw;
}

/* A page of its own, zeroed, for a DMA buffer; NULL if none. */
static u8 *kc_page_buf(void)
{
	void *p = mmap(NULL, kc_page(), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Do the @len bytes at @buf all hold @c? */
static bool kc_is_filled(const u8 *buf, u8 c, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != c)
			return false;
	return true;
}

static void kc_sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = ms % 1000 * NSEC_PER_MSEC,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void kc_on_alarm(int sig)
{
	(void)sig;
	__atomic_fetch_add(&kc_alarms, 1, __ATOMIC_RELAXED);
}

/* SIGALRM every @ms from now on, its handler without SA_RESTART. */
static int kc_alarm_every(unsigned int ms)
{
	struct sigaction sa = { .sa_handler = kc_on_alarm };
	struct itimerval it = {
		.it_interval = { .tv_usec = ms * 1000 },
		.it_value = { .tv_usec = ms * 1000 },
	};

	sigemptyset(&sa.sa_mask);
	__atomic_store_n(&kc_alarms, 0, __ATOMIC_RELAXED);
	if (sigaction(SIGALRM, &sa, NULL))
		return -errno;
	return setitimer(ITIMER_REAL, &it, NULL) ? -errno : 0;
}

static void kc_alarm_stop(void)
{
	struct itimerval it = { 0 };

	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_IGN);
}

/* ---- finding the device ----------------------------------------------- */

/* The first line of a sysfs file, without its newline; 0 or -errno. */
static int kc_read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	int ret = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, size, f))
		ret = -EIO;
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return ret;
}

static int kc_read_uint(const char *path, unsigned int *v)
{
	char buf[32], *end;
	unsigned long n;
	int ret = kc_read_line(path, buf, sizeof(buf));

	if (ret)
		return ret;
	errno = 0;
	n = strtoul(buf, &end, 10);
	if (end == buf || *end || errno || n > UINT_MAX)
		return -EINVAL;
	*v = n;
	return 0;
}

/* Write @what to the sysfs or cgroup file @path; 0 or -errno. */
static int kc_write_sysfs(const char *path, const char *what)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t len = strlen(what);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, what, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

/* Does the sysfs directory @sys say its backend is @want? */
static bool kc_backend_is(const char *sys, const char *want)
{
	char path[PATH_MAX + 16], got[32];

	snprintf(path, sizeof(path), "%s/backend", sys);
	return !kc_read_line(path, got, sizeof(got)) && !strcmp(got, want);
}

/* Of the devices given with --device, the first with backend @want. */
static int kc_find_given(const char *want, char *path, char *sys, char *why,
			 size_t whysz)
{
	struct stat st;
	unsigned int i;

	for (i = 0; i < kc_ndevices; i++) {
		if (stat(kc_devices[i], &st) || !S_ISCHR(st.st_mode))
			continue;
		snprintf(sys, KC_PATH, "/sys/dev/char/%u:%u",
			 major(st.st_rdev), minor(st.st_rdev));
		if (kc_backend_is(sys, want)) {
			snprintf(path, KC_PATH, "%s", kc_devices[i]);
			return 0;
		}
	}
	snprintf(why, whysz,
		 "none of the devices given with --device has backend %s",
		 want);
	return -ENODEV;
}

/* The /dev/kcancelN of lowest N whose backend is @want. */
static int kc_find_device(const char *want, char *path, char *sys, char *why,
			  size_t whysz)
{
	DIR *d = opendir("/sys/class/misc");
	unsigned long n, best = ULONG_MAX;
	char dir[PATH_MAX];
	struct dirent *de;
	char *end;

	if (kc_ndevices)
		return kc_find_given(want, path, sys, why, whysz);
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, "kcancel", 7) || !de->d_name[7])
			continue;
		n = strtoul(de->d_name + 7, &end, 10);
		if (*end || n >= best)
			continue;
		snprintf(dir, sizeof(dir), "/sys/class/misc/%s", de->d_name);
		if (kc_backend_is(dir, want))
			best = n;
	}
	if (d)
		closedir(d);
	if (best == ULONG_MAX) {
		snprintf(why, whysz,
			 "no kcancel device with backend %s (is kcancel loaded%s?)",
			 want, strcmp(want, "sim") ? "" : " with sim_devices=1");
		return -ENODEV;
	}
	snprintf(path, KC_PATH, "/dev/kcancel%lu", best);
	snprintf(sys, KC_PATH, "/sys/class/misc/kcancel%lu", best);
	return 0;
}

/* How fast the device runs DMA, from what edu.c and sim.c say. */
static void kc_timing(KC_FIXTURE *self, u32 backend)
{
	unsigned int lat_us = 0, par = 0;

	self->dma_ms = 0;
	self->parallel = 0;
	if (backend == KCANCEL_BACKEND_EDU) {
		/* One DMA at a time, 100 ms each; one factorial at a time. */
		self->dma_ms = 100;
		self->parallel = 1;
		return;
	}
	if (kc_read_uint(KC_SYSFS_PARAMS "/sim_latency_us", &lat_us) ||
	    kc_read_uint(KC_SYSFS_PARAMS "/sim_parallel", &par))
		return;
	self->dma_ms = lat_us / 1000;
	self->parallel = par;
}

FIXTURE_SETUP(kcancel)
{
	char why[160];

	self->fd = -1;
	self->bfd = -1;
	self->child = 0;
	self->cgroup[0] = '\0';
	if (kc_find_device(variant->backend, self->path, self->sys, why,
			   sizeof(why)))
		SKIP(return, "%s", why);
	self->fd = open(self->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd)
		TH_LOG("open %s: %s", self->path, strerror(errno));
	ASSERT_EQ(0, kc_ioctl(self->fd, KCANCEL_IOC_INFO, &self->info));
	kc_timing(self, variant->id);
}

static void kc_bind_again(KC_FIXTURE *self);
static void kc_memcg_cleanup(KC_FIXTURE *self);

FIXTURE_TEARDOWN(kcancel)
{
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	if (self->bfd >= 0)
		close(self->bfd);
	if (self->fd >= 0)
		close(self->fd);
	if (self->unbound)
		kc_bind_again(self);
	kc_memcg_cleanup(self);
}

/* ---- what the tests share --------------------------------------------- */

/*
 * Tests that keep a request queued behind DMAs need a slow device, and tests
 * of the order of completions one that runs a factorial at a time; else they
 * skip, saying this.
 */
#define KC_TOO_FAST	"%s runs DMA or factorials too fast or too many at once " \
			"for this test: load the software device with "	\
			"sim_latency_us=50000 sim_parallel=1"

/* Open the device once more: a file of its own. */
static int kc_open(KC_FIXTURE *self, int flags)
{
	return open(self->path, O_RDWR | O_CLOEXEC | flags);
}

/*
 * Keep the DMA channel busy for KC_COVER_MS at least: DMAs from the device
 * on a file of their own, whose events nobody reads. A DMA request
 * submitted after this is queued until they are done. Returns how many.
 */
static unsigned int kc_block(struct __test_metadata *_metadata,
			     KC_FIXTURE *self)
{
	unsigned int n, i;

	n = self->parallel * ((KC_COVER_MS + self->dma_ms - 1) / self->dma_ms);
	ASSERT_GE(KC_MAX_BLOCKERS, n);
	if (self->bfd < 0)
		self->bfd = kc_open(self, 0);
	ASSERT_LE(0, self->bfd);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, kc_submit_dma(self->bfd, KCANCEL_OP_DMA_FROM_DEV,
					   kc_scratch, 1, 0, i, NULL));
	}
	return n;
}

/*
 * Submit one @op request with KCANCEL_IOC_SUBMIT_WAIT on @fd. On a device
 * that runs one factorial and one DMA at a time, every earlier request of
 * that channel has completed when it returns.
 */
static void kc_sync(struct __test_metadata *_metadata, int fd, u32 op)
{
	struct kcancel_submit_wait sw = { .req = { .op = op, .tag = 0x5c } };

	if (op == KCANCEL_OP_FACTORIAL) {
		sw.req.arg = 5;
	} else if (op != KCANCEL_OP_DOORBELL) {
		sw.req.buf = (uintptr_t)kc_scratch;
		sw.req.len = 1;
	}
	ASSERT_EQ(0, kc_ioctl(fd, KCANCEL_IOC_SUBMIT_WAIT, &sw));
	ASSERT_EQ(0, sw.done.status);
	ASSERT_EQ(sw.req.id, sw.done.id);
}

/*
 * After what a serial device has already been given, on every channel but
 * the doorbells', @fd has no event: nothing was queued by a call that said
 * it failed.
 */
static void kc_expect_no_event(struct __test_metadata *_metadata, int fd)
{
	kc_sync(_metadata, fd, KCANCEL_OP_FACTORIAL);
	kc_sync(_metadata, fd, KCANCEL_OP_DMA_FROM_DEV);
	EXPECT_EQ(0, kc_poll(fd, 0));
}

/*
 * A DMA of 16 zero bytes to the device at offset 32, queued behind the
 * blockers.
 */
static u64 kc_queued_dma(struct __test_metadata *_metadata, int fd, u64 tag)
{
	static u8 data[16];
	u64 id = 0;

	ASSERT_EQ(0, kc_submit_dma(fd, KCANCEL_OP_DMA_TO_DEV, data,
				   sizeof(data), 32, tag, &id));
	ASSERT_NE(0ULL, id);
	return id;
}

static void kc_expect_event(struct __test_metadata *_metadata,
			    const struct kcancel_event *ev, u64 id, u64 tag,
			    u32 op, s32 status, u64 result)
{
	EXPECT_EQ(id, ev->id);
	EXPECT_EQ(tag, ev->tag);
	EXPECT_EQ(op, ev->op);
	EXPECT_EQ(status, ev->status);
	EXPECT_EQ(result, ev->result);
}

/*
 * Fork a child that runs @fn(@arg) and exits with what it returns; the
 * teardown kills it if the test ends first. Returns its pid, or -errno.
 */
static pid_t kc_fork(KC_FIXTURE *self, int (*fn)(void *arg), void *arg)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (!pid)
		_exit(fn(arg));
	if (pid < 0)
		return -errno;
	self->child = pid;
	return pid;
}

/* Wait for the child of kc_fork(): its wait status, or -errno. */
static int kc_reap(KC_FIXTURE *self)
{
	int status;

	while (waitpid(self->child, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	self->child = 0;
	return status;
}

/* Of a child's wait status: the step it failed at, 0 if none, -1 if killed. */
static int kc_child_step(int status)
{
	if (status < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* ---- KCANCEL_IOC_INFO and ioctl numbers ------------------------------- */

TEST_F(kcancel, info_fields)
{
	struct kcancel_info info;
	struct kcancel_batch b;
	char path[PATH_MAX + 16], backend[32];
	u32 reserved = 0;
	unsigned int i;

	memset(&info, 0xa5, sizeof(info));
	ASSERT_EQ(0, kc_ioctl(self->fd, KCANCEL_IOC_INFO, &info));
	EXPECT_EQ((u32)KCANCEL_ABI_VERSION, info.abi_version);
	EXPECT_EQ(variant->id, info.backend);
	/* edu.c stops one byte short, for QEMU's edu device. */
	if (variant->id == KCANCEL_BACKEND_EDU) {
		EXPECT_TRUE(info.dma_size == KCANCEL_DMA_SIZE ||
			    info.dma_size == KCANCEL_DMA_SIZE - 1);
	} else {
		EXPECT_EQ((u32)KCANCEL_DMA_SIZE, info.dma_size);
	}
	EXPECT_LE(1U, info.doorbells);
	EXPECT_GE(64U, info.doorbells);
	EXPECT_LE(1U, info.max_pending);
	for (i = 0; i < ARRAY_SIZE(info.reserved); i++)
		reserved |= info.reserved[i];
	EXPECT_EQ(0U, reserved);
	snprintf(path, sizeof(path), "%s/backend", self->sys);
	ASSERT_EQ(0, kc_read_line(path, backend, sizeof(backend)));
	EXPECT_STREQ(variant->backend, backend);
	/* Version 2 has KCANCEL_IOC_BATCH: a batch of nothing does nothing. */
	memset(&b, 0, sizeof(b));
	EXPECT_EQ(0, kc_batch(self->fd, &b));
	EXPECT_EQ(0U, b.submitted);
	EXPECT_EQ(0, b.error);
}

/* The sysfs attributes (docs/ABI/testing/sysfs-class-misc-kcancel). */
TEST_F(kcancel, sysfs_matches_info)
{
	struct kcancel_info info;
	char path[PATH_MAX + 16];
	unsigned int v, n;
	u64 t0;

	ASSERT_EQ(0, kc_ioctl(self->fd, KCANCEL_IOC_INFO, &info));
	snprintf(path, sizeof(path), "%s/doorbells", self->sys);
	ASSERT_EQ(0, kc_read_uint(path, &v));
	EXPECT_EQ(info.doorbells, v);
	snprintf(path, sizeof(path), "%s/dma_size", self->sys);
	ASSERT_EQ(0, kc_read_uint(path, &v));
	EXPECT_EQ(info.dma_size, v);
	snprintf(path, sizeof(path), "%s/max_pending", self->sys);
	ASSERT_EQ(0, kc_read_uint(path, &v));
	EXPECT_EQ(info.max_pending, v);
	/*
	 * The earlier tests' files are closed: nothing is in flight. DMAs
	 * that keep the device busy are, until they complete (reaped or not).
	 */
	snprintf(path, sizeof(path), "%s/in_flight", self->sys);
	ASSERT_EQ(0, kc_read_uint(path, &v));
	EXPECT_EQ(0U, v);
	n = kc_block(_metadata, self);
	ASSERT_EQ(0, kc_read_uint(path, &v));
	EXPECT_LE(1U, v);
	EXPECT_GE(n, v);
	t0 = kc_now_ns();
	while (v && kc_now_ns() - t0 < 10 * NSEC_PER_SEC) {
		kc_sleep_ms(5);
		ASSERT_EQ(0, kc_read_uint(path, &v));
	}
	EXPECT_EQ(0U, v);
}

TEST_F(kcancel, info_bad_pointer)
{
	struct kcancel_info *guarded = kc_guarded(sizeof(*guarded), 8);

	ASSERT_NE(NULL, guarded);
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_INFO, NULL));
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_INFO, KC_KERNEL_ADDR));
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_INFO, guarded));
}

/* A factorial of 3, as a buffer that unknown ioctls might take for one. */
static void kc_valid_submit(struct kcancel_submit *s)
{
	memset(s, 0, sizeof(*s));
	s->op = KCANCEL_OP_FACTORIAL;
	s->arg = 3;
}

TEST_F(kcancel, ioctl_unknown_number)
{
	const unsigned long cmds[] = {
		_IO(KCANCEL_IOC_MAGIC, 0),
		_IOWR(KCANCEL_IOC_MAGIC, 0, struct kcancel_submit),
		_IOWR(KCANCEL_IOC_MAGIC, 7, struct kcancel_submit),
		_IOWR(KCANCEL_IOC_MAGIC, 7, struct kcancel_batch),
		_IOR(KCANCEL_IOC_MAGIC, 0xff, struct kcancel_info),
		_IOWR(KCANCEL_IOC_MAGIC + 1, 1, struct kcancel_submit),
		_IOR(KCANCEL_IOC_MAGIC - 1, 5, struct kcancel_info),
		TCGETS,
	};
	struct kcancel_submit s[8];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		kc_valid_submit(s);
		EXPECT_EQ(-ENOTTY, kc_ioctl(self->fd, cmds[i], s))
			TH_LOG("cmd %#lx", cmds[i]);
	}
	kc_expect_no_event(_metadata, self->fd);
}

TEST_F(kcancel, ioctl_wrong_size_or_direction)
{
	const unsigned long cmds[] = {
		_IO(KCANCEL_IOC_MAGIC, 1),
		_IOR(KCANCEL_IOC_MAGIC, 1, struct kcancel_submit),
		_IOW(KCANCEL_IOC_MAGIC, 1, struct kcancel_submit),
		_IOWR(KCANCEL_IOC_MAGIC, 1, __u64),
		_IOWR(KCANCEL_IOC_MAGIC, 1, struct kcancel_submit_wait),
		_IOWR(KCANCEL_IOC_MAGIC, 2, struct kcancel_submit),
		_IOW(KCANCEL_IOC_MAGIC, 2, struct kcancel_submit_wait),
		_IOWR(KCANCEL_IOC_MAGIC, 3, struct kcancel_cancel),
		_IOW(KCANCEL_IOC_MAGIC, 3, __u64),
		_IOR(KCANCEL_IOC_MAGIC, 4, struct kcancel_wait),
		_IOWR(KCANCEL_IOC_MAGIC, 4, struct kcancel_cancel),
		_IOW(KCANCEL_IOC_MAGIC, 5, struct kcancel_info),
		_IOR(KCANCEL_IOC_MAGIC, 5, __u32),
		_IO(KCANCEL_IOC_MAGIC, 5),
		_IOWR(KCANCEL_IOC_MAGIC, 6, struct kcancel_submit),
		_IOR(KCANCEL_IOC_MAGIC, 6, struct kcancel_batch),
		_IOW(KCANCEL_IOC_MAGIC, 6, struct kcancel_batch),
		_IO(KCANCEL_IOC_MAGIC, 6),
	};
	struct kcancel_submit s[8];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		kc_valid_submit(s);
		EXPECT_EQ(-ENOTTY, kc_ioctl(self->fd, cmds[i], s))
			TH_LOG("cmd %#lx", cmds[i]);
	}
	kc_expect_no_event(_metadata, self->fd);
}

/* ---- KCANCEL_IOC_SUBMIT: what it refuses ------------------------------ */

TEST_F(kcancel, submit_bad_op)
{
	const u32 ops[] = { 0, KCANCEL_OP_MAX + 1, 0x80000001, UINT32_MAX };
	struct kcancel_submit s;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		kc_valid_submit(&s);
		s.op = ops[i];
		EXPECT_EQ(-EINVAL, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, &s))
			TH_LOG("op %u", ops[i]);
		/* With the fields of a DMA. */
		s.arg = 0;
		s.buf = (uintptr_t)kc_scratch;
		s.len = 1;
		EXPECT_EQ(-EINVAL, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, &s))
			TH_LOG("op %u with a buffer", ops[i]);
	}
	kc_expect_no_event(_metadata, self->fd);
}

TEST_F(kcancel, submit_bad_flags)
{
	const u32 flags[] = { 1, 2, 0x80000000, UINT32_MAX };
	struct kcancel_submit s;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		kc_valid_submit(&s);
		s.flags = flags[i];
		EXPECT_EQ(-EINVAL, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, &s))
			TH_LOG("flags %#x", flags[i]);
		s.op = KCANCEL_OP_DOORBELL;
		EXPECT_EQ(-EINVAL, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, &s));
		s.op = KCANCEL_OP_DMA_FROM_DEV;
		s.arg = 0;
		s.buf = (uintptr_t)kc_scratch;
		s.len = 1;
		EXPECT_EQ(-EINVAL, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, &s));
	}
	kc_expect_no_event(_metadata, self->fd);
}

TEST_F(kcancel, submit_reserved_nonzero)
{
	const u64 vals[] = { 1, 1ULL << 63 };
	struct kcancel_submit s;
	unsigned int i, r;

	for (r = 0; r < ARRAY_SIZE(s.reserved); r++) {
		for (i = 0; i < ARRAY_SIZE(vals); i++) {
			kc_valid_submit(&s);
			s.reserved[r] = vals[i];
			EXPECT_EQ(-EINVAL,
				  kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, &s))
				TH_LOG("reserved[%u] = %#llx", r, vals[i]);
		}
	}
	kc_expect_no_event(_metadata, self->fd);
}

TEST_F(kcancel, submit_factorial_too_big)
{
	/* 1 << 32 would be 0 if the driver kept only 32 bits of arg. */
	const u64 args[] = { KCANCEL_FACTORIAL_MAX + 1, 20, 1ULL << 32,
			     UINT64_MAX };
	struct kcancel_event ev;
	unsigned int i;
	u64 id;

	for (i = 0; i < ARRAY_SIZE(args); i++) {
		EXPECT_EQ(-EINVAL, kc_submit(self->fd, KCANCEL_OP_FACTORIAL,
					     args[i], 0, NULL))
			TH_LOG("arg %llu", args[i]);
	}
	kc_expect_no_event(_metadata, self->fd);
	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL,
			       KCANCEL_FACTORIAL_MAX, 7, &id));
	ASSERT_EQ(0, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev));
	kc_expect_event(_metadata, &ev, id, 7, KCANCEL_OP_FACTORIAL, 0,
			kc_fact[KCANCEL_FACTORIAL_MAX]);
}

TEST_F(kcancel, submit_fields_of_other_ops)
{
	const u32 ops[] = { KCANCEL_OP_FACTORIAL, KCANCEL_OP_DOORBELL };
	struct kcancel_submit s;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		kc_valid_submit(&s);
		s.op = ops[i];
		s.len = 1;
		EXPECT_EQ(-EINVAL, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, &s));
		s.len = 0;
		s.offset = 1;
		EXPECT_EQ(-EINVAL, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, &s));
		s.offset = 0;
		s.buf = (uintptr_t)kc_scratch;
		EXPECT_EQ(-EINVAL, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, &s));
	}
	/* DMA takes no arg. */
	for (i = KCANCEL_OP_DMA_TO_DEV; i <= KCANCEL_OP_DMA_FROM_DEV; i++) {
		memset(&s, 0, sizeof(s));
		s.op = i;
		s.buf = (uintptr_t)kc_scratch;
		s.len = 1;
		s.arg = 1;
		EXPECT_EQ(-EINVAL, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, &s));
	}
	kc_expect_no_event(_metadata, self->fd);
}

TEST_F(kcancel, submit_dma_length)
{
	u32 size = self->info.dma_size;
	const u32 lens[] = { 0, size + 1, KCANCEL_DMA_SIZE + 1, UINT32_MAX };
	u8 *buf = calloc(1, KCANCEL_DMA_SIZE + 1);
	struct kcancel_event ev;
	unsigned int i;
	u32 op;
	u64 id;

	ASSERT_NE(NULL, buf);
	for (op = KCANCEL_OP_DMA_TO_DEV; op <= KCANCEL_OP_DMA_FROM_DEV; op++) {
		for (i = 0; i < ARRAY_SIZE(lens); i++) {
			EXPECT_EQ(-EINVAL, kc_submit_dma(self->fd, op, buf,
							 lens[i], 0, 0, NULL))
				TH_LOG("op %u len %u", op, lens[i]);
		}
	}
	kc_expect_no_event(_metadata, self->fd);
	/* All of it, both ways. */
	for (op = KCANCEL_OP_DMA_TO_DEV; op <= KCANCEL_OP_DMA_FROM_DEV; op++) {
		ASSERT_EQ(0, kc_submit_dma(self->fd, op, buf, size, 0, op, &id));
		ASSERT_EQ(0, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev));
		kc_expect_event(_metadata, &ev, id, op, op, 0, size);
	}
}

TEST_F(kcancel, submit_dma_offset)
{
	u32 size = self->info.dma_size;
	/* The last two: offset + len wraps around 2^32. */
	const struct { u32 offset, len; } bad[] = {
		{ size, 1 }, { 1, size }, { size - 1, 2 }, { size / 2, size },
		{ UINT32_MAX, 1 }, { UINT32_MAX, 2 }, { UINT32_MAX - 1, 3 },
	};
	struct kcancel_event ev;
	unsigned int i;
	u8 buf[4] = { 0 };
	u32 op;
	u64 id;

	for (op = KCANCEL_OP_DMA_TO_DEV; op <= KCANCEL_OP_DMA_FROM_DEV; op++) {
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			u8 *b = bad[i].len > sizeof(buf) ? kc_scratch : buf;

			/* kc_scratch is big enough for what gets that far. */
			EXPECT_EQ(-EINVAL,
				  kc_submit_dma(self->fd, op, b, bad[i].len,
						bad[i].offset, 0, NULL))
				TH_LOG("op %u offset %u len %u", op,
				       bad[i].offset, bad[i].len);
		}
	}
	kc_expect_no_event(_metadata, self->fd);
	/* The last byte is in reach, both ways. */
	for (op = KCANCEL_OP_DMA_TO_DEV; op <= KCANCEL_OP_DMA_FROM_DEV; op++) {
		ASSERT_EQ(0, kc_submit_dma(self->fd, op, buf, 1, size - 1, op,
					   &id));
		ASSERT_EQ(0, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev));
		kc_expect_event(_metadata, &ev, id, op, op, 0, 1);
	}
}

TEST_F(kcancel, submit_timeout_limit)
{
	const u64 bad[] = { 1ULL << 63, (1ULL << 63) + 1, UINT64_MAX };
	struct kcancel_submit s;
	struct kcancel_event ev;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		kc_valid_submit(&s);
		s.timeout_ns = bad[i];
		EXPECT_EQ(-EINVAL, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, &s))
			TH_LOG("timeout_ns %#llx", bad[i]);
	}
	kc_expect_no_event(_metadata, self->fd);
	/* 2^63 - 1 is allowed, and never expires here. */
	kc_valid_submit(&s);
	s.timeout_ns = (1ULL << 63) - 1;
	s.tag = 63;
	ASSERT_EQ(0, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, &s));
	ASSERT_EQ(0, kc_wait(self->fd, s.id, KCANCEL_WAIT_FOREVER, &ev));
	kc_expect_event(_metadata, &ev, s.id, 63, KCANCEL_OP_FACTORIAL, 0,
			kc_fact[3]);
}

TEST_F(kcancel, submit_bad_pointer)
{
	struct kcancel_submit s, *guarded;
	void *unmapped = kc_unmapped();

	/* Only the last reserved field lies in the guard page. */
	guarded = kc_guarded(sizeof(s), offsetof(struct kcancel_submit,
						 reserved[1]));
	ASSERT_NE(NULL, guarded);
	ASSERT_NE(NULL, unmapped);
	kc_valid_submit(&s);
	memcpy(guarded, &s, offsetof(struct kcancel_submit, reserved[1]));
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, NULL));
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, unmapped));
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT,
				    KC_KERNEL_ADDR));
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, guarded));
	kc_expect_no_event(_metadata, self->fd);
}

/*
 * Long enough for a doorbell to have completed, on a device that was idle:
 * doorbells run side by side, so no later request waits for them.
 */
static void kc_settle(KC_FIXTURE *self)
{
	kc_sleep_ms(self->dma_ms > 50 ? 4 * self->dma_ms : 200);
}

/*
 * The structure can be read but its id cannot be written back: the id is
 * written before the request is queued, so the submit fails with EFAULT
 * and nothing was queued, whatever the operation. The same holds for
 * KCANCEL_IOC_SUBMIT_WAIT, whose req.id is written first too.
 */
TEST_F(kcancel, submit_id_unwritable)
{
	struct kcancel_submit s[4] = {
		{ .op = KCANCEL_OP_DOORBELL, .arg = 0xfeedfacecafef00dULL },
		{ .op = KCANCEL_OP_FACTORIAL, .arg = 7 },
		{ .op = KCANCEL_OP_DMA_TO_DEV, .buf = (uintptr_t)kc_scratch,
		  .len = 8 },
		{ .op = KCANCEL_OP_DMA_FROM_DEV, .buf = (uintptr_t)kc_scratch,
		  .len = 8 },
	};
	struct kcancel_submit_wait sw, *ro_sw;
	struct kcancel_submit *ro;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(s); i++) {
		s[i].tag = 0x1d00 + i;
		ro = kc_readonly(&s[i], sizeof(s[i]));
		ASSERT_NE(NULL, ro);
		EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, ro))
			TH_LOG("op %u", s[i].op);
		memset(&sw, 0, sizeof(sw));
		sw.req = s[i];
		sw.req.tag |= 0x100;
		ro_sw = kc_readonly(&sw, sizeof(sw));
		ASSERT_NE(NULL, ro_sw);
		EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT_WAIT,
					    ro_sw))
			TH_LOG("op %u, by KCANCEL_IOC_SUBMIT_WAIT", s[i].op);
	}
	/* Had any been queued, its event would be there by now. */
	kc_settle(self);
	kc_expect_no_event(_metadata, self->fd);
}

TEST_F(kcancel, dma_to_dev_bad_buffer)
{
	void *guarded = kc_guarded(64, 32);
	void *unmapped = kc_unmapped();

	ASSERT_NE(NULL, guarded);
	ASSERT_NE(NULL, unmapped);
	EXPECT_EQ(-EFAULT, kc_submit_dma(self->fd, KCANCEL_OP_DMA_TO_DEV, NULL,
					 16, 0, 0, NULL));
	EXPECT_EQ(-EFAULT, kc_submit_dma(self->fd, KCANCEL_OP_DMA_TO_DEV,
					 unmapped, 16, 0, 0, NULL));
	EXPECT_EQ(-EFAULT, kc_submit_dma(self->fd, KCANCEL_OP_DMA_TO_DEV,
					 KC_KERNEL_ADDR, 16, 0, 0, NULL));
	/* Its first 32 bytes can be read, not the rest. */
	EXPECT_EQ(-EFAULT, kc_submit_dma(self->fd, KCANCEL_OP_DMA_TO_DEV,
					 guarded, 64, 0, 0, NULL));
	kc_expect_no_event(_metadata, self->fd);
	/* The part before the guard page is fine. */
	EXPECT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_TO_DEV, guarded,
				   32, 0, 0, NULL));
}

/* A DMA from the device into @buf: EFAULT at submit, both ways of submitting. */
static void kc_expect_dma_from_efault(struct __test_metadata *_metadata,
				      int fd, const void *buf, u32 len,
				      const char *what)
{
	struct kcancel_submit_wait sw = {
		.req = {
			.op = KCANCEL_OP_DMA_FROM_DEV,
			.buf = (uintptr_t)buf,
			.len = len,
			.tag = 0xefa,
		},
	};

	EXPECT_EQ(-EFAULT, kc_ioctl(fd, KCANCEL_IOC_SUBMIT, &sw.req))
		TH_LOG("buffer: %s", what);
	EXPECT_EQ(-EFAULT, kc_ioctl(fd, KCANCEL_IOC_SUBMIT_WAIT, &sw))
		TH_LOG("buffer: %s, by KCANCEL_IOC_SUBMIT_WAIT", what);
}

/*
 * A DMA from the device pins its buffer, for writing, at submit: a buffer
 * that cannot be written, all of it, fails the submit with EFAULT and
 * nothing is queued, through KCANCEL_IOC_SUBMIT_WAIT as well. The part of
 * a buffer that could be written is left as it was.
 */
TEST_F(kcancel, dma_from_dev_bad_buffer)
{
	static const u8 zero[64];
	u8 *guarded = kc_guarded(64, 32), *ro = kc_readonly(zero, sizeof(zero));
	u8 *after = kc_guarded(4096, 0), *unmapped = kc_unmapped();
	u8 *split = kc_split(zero, sizeof(zero), sizeof(zero) - 1);
	size_t page = kc_page();
	struct kcancel_event ev;
	u8 *base;
	u64 id;

	ASSERT_NE(NULL, guarded);
	ASSERT_NE(NULL, ro);
	ASSERT_NE(NULL, after);
	ASSERT_NE(NULL, unmapped);
	ASSERT_NE(NULL, split);
	/* A PROT_NONE page, then a writable one. */
	base = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, base);
	ASSERT_EQ(0, mprotect(base, page, PROT_NONE));
	memset(guarded, KC_SENTINEL, 32);
	memset(base + page, KC_SENTINEL, 48);
	kc_expect_dma_from_efault(_metadata, self->fd, NULL, 16, "NULL");
	kc_expect_dma_from_efault(_metadata, self->fd, unmapped, 16,
				  "unmapped");
	kc_expect_dma_from_efault(_metadata, self->fd, KC_KERNEL_ADDR, 16,
				  "a kernel address");
	kc_expect_dma_from_efault(_metadata, self->fd, guarded, 64,
				  "runs into a guard page");
	kc_expect_dma_from_efault(_metadata, self->fd, base + page - 16, 64,
				  "starts in a guard page");
	kc_expect_dma_from_efault(_metadata, self->fd, after, 1,
				  "in a guard page");
	kc_expect_dma_from_efault(_metadata, self->fd, ro, sizeof(zero),
				  "read-only");
	kc_expect_dma_from_efault(_metadata, self->fd, split, sizeof(zero),
				  "its last byte read-only");
	kc_expect_no_event(_metadata, self->fd);
	/* Nothing was written where it could have been. */
	EXPECT_TRUE(kc_is_filled(guarded, KC_SENTINEL, 32));
	EXPECT_TRUE(kc_is_filled(base + page, KC_SENTINEL, 48));
	EXPECT_TRUE(kc_is_filled(split, 0, sizeof(zero)));

	/* The part before the guard page is fine. */
	ASSERT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_FROM_DEV, guarded,
				   32, 0, 9, &id));
	ASSERT_EQ(0, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev));
	kc_expect_event(_metadata, &ev, id, 9, KCANCEL_OP_DMA_FROM_DEV, 0, 32);
}

/* ---- results ---------------------------------------------------------- */

TEST_F(kcancel, factorial_results)
{
	u64 ids[KCANCEL_FACTORIAL_MAX + 1];
	struct kcancel_event ev;
	int n;

	for (n = 0; n <= KCANCEL_FACTORIAL_MAX; n++) {
		ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, n,
				       0xf000 + n, &ids[n]));
	}
	/* Waited for in the reverse order: any order works. */
	for (n = KCANCEL_FACTORIAL_MAX; n >= 0; n--) {
		ASSERT_EQ(0, kc_wait(self->fd, ids[n], KCANCEL_WAIT_FOREVER,
				     &ev));
		kc_expect_event(_metadata, &ev, ids[n], 0xf000 + n,
				KCANCEL_OP_FACTORIAL, 0, kc_fact[n]);
	}
	EXPECT_EQ(0, kc_poll(self->fd, 0));
}

TEST_F(kcancel, doorbell_many)
{
	unsigned int n = 2 * self->info.doorbells, i, j;
	struct kcancel_event *ev = calloc(n, sizeof(*ev));
	u64 *ids = calloc(n, sizeof(*ids));
	u64 *args = calloc(n, sizeof(*args));
	bool *seen = calloc(n, sizeof(*seen));

	ASSERT_NE(NULL, ev);
	ASSERT_NE(NULL, ids);
	ASSERT_NE(NULL, args);
	ASSERT_NE(NULL, seen);
	/* All of them at once: twice as many as run, so half wait. */
	for (i = 0; i < n; i++) {
		args[i] = i * 0x9e3779b97f4a7c15ULL;
		if (i == 1)
			args[i] = UINT64_MAX;
		ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_DOORBELL, args[i],
				       ~(u64)i, &ids[i]));
	}
	ASSERT_EQ(0, kc_read_all(self->fd, ev, n));
	for (j = 0; j < n; j++) {
		for (i = 0; i < n && ids[i] != ev[j].id; i++)
			;
		ASSERT_GT(n, i) TH_LOG("event of unknown id %llu", ev[j].id);
		EXPECT_FALSE(seen[i]) TH_LOG("second event of %llu", ids[i]);
		seen[i] = true;
		kc_expect_event(_metadata, &ev[j], ids[i], ~(u64)i,
				KCANCEL_OP_DOORBELL, 0, args[i]);
	}
	EXPECT_EQ(0, kc_poll(self->fd, 0));
}

/* Write @len bytes of pattern @seed at @off, and read them back. */
static void kc_round_trip(struct __test_metadata *_metadata, int fd,
			  u8 *shadow, u32 off, u32 len, u32 seed)
{
	u8 *out = malloc(len), *in = malloc(len + 16);
	struct kcancel_event ev;
	u64 id;

	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, in);
	kc_fill(out, len, seed);
	ASSERT_EQ(0, kc_submit_dma(fd, KCANCEL_OP_DMA_TO_DEV, out, len, off,
				   seed, &id));
	ASSERT_EQ(0, kc_wait(fd, id, KCANCEL_WAIT_FOREVER, &ev));
	kc_expect_event(_metadata, &ev, id, seed, KCANCEL_OP_DMA_TO_DEV, 0, len);
	memcpy(shadow + off, out, len);

	memset(in, 0x5a, len + 16);
	ASSERT_EQ(0, kc_submit_dma(fd, KCANCEL_OP_DMA_FROM_DEV, in, len, off,
				   seed + 1, &id));
	ASSERT_EQ(0, kc_wait(fd, id, KCANCEL_WAIT_FOREVER, &ev));
	kc_expect_event(_metadata, &ev, id, seed + 1, KCANCEL_OP_DMA_FROM_DEV,
			0, len);
	EXPECT_EQ(0, memcmp(out, in, len))
		TH_LOG("offset %u len %u: the data read back differs", off, len);
	/* Nothing past len is written. */
	EXPECT_EQ(0x5a, in[len]);
	EXPECT_EQ(0x5a, in[len + 15]);
	free(out);
	free(in);
}

TEST_F(kcancel, dma_round_trip)
{
	u32 size = self->info.dma_size;
	const struct { u32 offset, len; } cases[] = {
		{ 0, size }, { 0, 1 }, { 1, 255 }, { 1000, 1000 },
		{ size - 513, 513 }, { size - 1, 1 },
	};
	u8 shadow[KCANCEL_DMA_SIZE], *all = malloc(size);
	struct kcancel_event ev;
	unsigned int i;
	u64 id;

	ASSERT_NE(NULL, all);
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		kc_round_trip(_metadata, self->fd, shadow, cases[i].offset,
			      cases[i].len, 100 * (i + 1));
	/* The writes landed where they should and nowhere else. */
	ASSERT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_FROM_DEV, all, size,
				   0, 0, &id));
	ASSERT_EQ(0, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev));
	EXPECT_EQ(0, ev.status);
	for (i = 0; i < size && all[i] == shadow[i]; i++)
		;
	EXPECT_EQ(size, i) TH_LOG("device memory differs at byte %u", i);
}

TEST_F(kcancel, dma_from_dev_reaped_by_read)
{
	u8 out[64], in[64];
	struct kcancel_event ev[4];
	u64 id;

	kc_fill(out, sizeof(out), 77);
	ASSERT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_TO_DEV, out,
				   sizeof(out), 512, 0, &id));
	ASSERT_EQ(0, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, ev));
	ASSERT_EQ(0, ev[0].status);
	memset(in, 0, sizeof(in));
	ASSERT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_FROM_DEV, in,
				   sizeof(in), 512, 9, &id));
	ASSERT_EQ(1, kc_read(self->fd, ev, 4));
	kc_expect_event(_metadata, ev, id, 9, KCANCEL_OP_DMA_FROM_DEV, 0,
			sizeof(in));
	EXPECT_EQ(0, memcmp(out, in, sizeof(in)));
}

/*
 * The data of a DMA from the device is in its buffer once the request has
 * completed: before its event is read. A request that does not complete
 * with status 0 leaves the buffer as it was.
 */
TEST_F(kcancel, dma_from_dev_data_at_completion)
{
	u8 out[64], *in = kc_page_buf();
	struct kcancel_event ev;
	u64 id;

	ASSERT_NE(NULL, in);
	kc_fill(out, sizeof(out), 78);
	ASSERT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_TO_DEV, out,
				   sizeof(out), 640, 0, &id));
	ASSERT_EQ(0, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev));
	ASSERT_EQ(0, ev.status);
	memset(in, KC_SENTINEL, sizeof(out) + 16);
	ASSERT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_FROM_DEV, in,
				   sizeof(out), 640, 10, &id));
	ASSERT_EQ(POLLIN | POLLRDNORM, kc_poll(self->fd, 10000));
	EXPECT_EQ(0, memcmp(out, in, sizeof(out)))
		TH_LOG("the request completed, its data is not in the buffer");
	EXPECT_TRUE(kc_is_filled(in + sizeof(out), KC_SENTINEL, 16));
	ASSERT_EQ(1, kc_read(self->fd, &ev, 1));
	kc_expect_event(_metadata, &ev, id, 10, KCANCEL_OP_DMA_FROM_DEV, 0,
			sizeof(out));
	EXPECT_EQ(0, memcmp(out, in, sizeof(out)));

	if (self->dma_ms < KC_MIN_DMA_MS)
		return;
	/* Cancelled while queued: -ECANCELED, and nothing written. */
	kc_block(_metadata, self);
	memset(in, KC_SENTINEL, sizeof(out) + 16);
	ASSERT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_FROM_DEV, in,
				   sizeof(out), 640, 11, &id));
	EXPECT_EQ(0, kc_cancel(self->fd, id));
	ASSERT_EQ(1, kc_read(self->fd, &ev, 1));
	kc_expect_event(_metadata, &ev, id, 11, KCANCEL_OP_DMA_FROM_DEV,
			-ECANCELED, 0);
	EXPECT_TRUE(kc_is_filled(in, KC_SENTINEL, sizeof(out) + 16));
}

/*
 * The buffer of a DMA from the device is unmapped before the request
 * completes: the pages stay the request's until then, and it completes
 * as if nothing had happened (no event has status -EFAULT).
 */
TEST_F(kcancel, dma_from_dev_buffer_unmapped)
{
	size_t page = kc_page();
	struct kcancel_event ev[2];
	u8 *buf = kc_page_buf();
	u64 ids[2];

	ASSERT_NE(NULL, buf);
	if (self->dma_ms >= KC_MIN_DMA_MS)
		kc_block(_metadata, self);
	ASSERT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_FROM_DEV, buf, 64,
				   0, 12, &ids[0]));
	ASSERT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_FROM_DEV,
				   buf + page - 32, 32, 0, 13, &ids[1]));
	ASSERT_EQ(0, munmap(buf, page));
	ASSERT_EQ(0, kc_read_all(self->fd, ev, 2));
	/* In completion order, which several DMAs at once may change. */
	if (ev[0].id != ids[0]) {
		struct kcancel_event t = ev[0];

		ev[0] = ev[1];
		ev[1] = t;
	}
	kc_expect_event(_metadata, &ev[0], ids[0], 12, KCANCEL_OP_DMA_FROM_DEV,
			0, 64);
	kc_expect_event(_metadata, &ev[1], ids[1], 13, KCANCEL_OP_DMA_FROM_DEV,
			0, 32);
}

/* KCANCEL_IOC_SUBMIT_WAIT of @s: 0 or -errno, its completion in @done. */
static int kc_submit_wait(int fd, struct kcancel_submit *s,
			  struct kcancel_event *done)
{
	struct kcancel_submit_wait sw = { .req = *s };
	int ret = kc_ioctl(fd, KCANCEL_IOC_SUBMIT_WAIT, &sw);

	*s = sw.req;
	*done = sw.done;
	return ret;
}

TEST_F(kcancel, submit_wait_ops)
{
	u8 out[32], in[32] = { 0 };
	struct kcancel_submit s;
	struct kcancel_event done;

	kc_valid_submit(&s);
	s.arg = 10;
	s.tag = 1;
	ASSERT_EQ(0, kc_submit_wait(self->fd, &s, &done));
	EXPECT_NE(0ULL, s.id);
	kc_expect_event(_metadata, &done, s.id, 1, KCANCEL_OP_FACTORIAL, 0,
			kc_fact[10]);
	/* It is gone: no event, no id. */
	EXPECT_EQ(-ENOENT, kc_wait(self->fd, s.id, 0, NULL));
	EXPECT_EQ(-ENOENT, kc_cancel(self->fd, s.id));

	memset(&s, 0, sizeof(s));
	s.op = KCANCEL_OP_DOORBELL;
	s.arg = 0x0123456789abcdefULL;
	s.tag = 2;
	ASSERT_EQ(0, kc_submit_wait(self->fd, &s, &done));
	kc_expect_event(_metadata, &done, s.id, 2, KCANCEL_OP_DOORBELL, 0,
			0x0123456789abcdefULL);

	kc_fill(out, sizeof(out), 5);
	memset(&s, 0, sizeof(s));
	s.op = KCANCEL_OP_DMA_TO_DEV;
	s.buf = (uintptr_t)out;
	s.len = sizeof(out);
	s.offset = 100;
	s.tag = 3;
	ASSERT_EQ(0, kc_submit_wait(self->fd, &s, &done));
	kc_expect_event(_metadata, &done, s.id, 3, KCANCEL_OP_DMA_TO_DEV, 0,
			sizeof(out));
	s.op = KCANCEL_OP_DMA_FROM_DEV;
	s.buf = (uintptr_t)in;
	s.tag = 4;
	ASSERT_EQ(0, kc_submit_wait(self->fd, &s, &done));
	kc_expect_event(_metadata, &done, s.id, 4, KCANCEL_OP_DMA_FROM_DEV, 0,
			sizeof(in));
	EXPECT_EQ(0, memcmp(out, in, sizeof(in)));
	/* KCANCEL_IOC_SUBMIT_WAIT makes no event for read(). */
	EXPECT_EQ(0, kc_poll(self->fd, 0));
	EXPECT_EQ(-EAGAIN, kc_read_nb(self->fd, &done, 1));
}

TEST_F(kcancel, ids_unique)
{
	struct kcancel_event ev[16];
	u64 ids[2][8], max = 0, id;
	int fd2 = kc_open(self, 0);
	bool ordered = true, distinct = true;
	unsigned int i, j, k;

	ASSERT_LE(0, fd2);
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_DOORBELL, i, 0,
				       &ids[0][i]));
		ASSERT_EQ(0, kc_submit(fd2, KCANCEL_OP_FACTORIAL, 1, 0,
				       &ids[1][i]));
	}
	/* Not 0, increasing on each file, none on both. */
	for (i = 0; i < 2; i++) {
		for (j = 0; j < 8; j++) {
			EXPECT_NE(0ULL, ids[i][j]);
			if (j && ids[i][j - 1] >= ids[i][j])
				ordered = false;
			for (k = 0; k < 8; k++)
				distinct &= ids[!i][k] != ids[i][j];
			if (ids[i][j] > max)
				max = ids[i][j];
		}
	}
	EXPECT_TRUE(ordered);
	EXPECT_TRUE(distinct);
	ASSERT_EQ(0, kc_read_all(self->fd, ev, 8));
	ASSERT_EQ(0, kc_read_all(fd2, ev + 8, 8));
	/* Reaped ids are not given out again. */
	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_DOORBELL, 0, 0, &id));
	EXPECT_LT(max, id);
	close(fd2);
}

/* ---- KCANCEL_IOC_CANCEL ----------------------------------------------- */

TEST_F(kcancel, cancel_queued)
{
	u8 before[16], cancelled[16], after[16];
	struct kcancel_event ev;
	u64 id, id2;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	/* The bytes 0-15 hold this before the cancelled write. */
	kc_fill(before, sizeof(before), 1);
	ASSERT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_TO_DEV, before,
				   sizeof(before), 0, 0, &id));
	ASSERT_EQ(0, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev));
	ASSERT_EQ(0, ev.status);

	kc_block(_metadata, self);
	kc_fill(cancelled, sizeof(cancelled), 2);
	ASSERT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_TO_DEV, cancelled,
				   sizeof(cancelled), 0, 0xc1, &id));
	id2 = kc_queued_dma(_metadata, self->fd, 0xc2);
	EXPECT_EQ(0, kc_cancel(self->fd, id));
	ASSERT_EQ(1, kc_read(self->fd, &ev, 1));
	kc_expect_event(_metadata, &ev, id, 0xc1, KCANCEL_OP_DMA_TO_DEV,
			-ECANCELED, 0);
	/* The one behind it still runs: a cancel takes one request. */
	ASSERT_EQ(0, kc_wait(self->fd, id2, KCANCEL_WAIT_FOREVER, &ev));
	kc_expect_event(_metadata, &ev, id2, 0xc2, KCANCEL_OP_DMA_TO_DEV, 0,
			16);
	/* The cancelled write never reached the device. */
	ASSERT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_FROM_DEV, after,
				   sizeof(after), 0, 0, &id));
	ASSERT_EQ(0, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev));
	ASSERT_EQ(0, ev.status);
	EXPECT_EQ(0, memcmp(before, after, sizeof(after)));
}

TEST_F(kcancel, cancel_twice)
{
	struct kcancel_event ev;
	u64 id;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	kc_block(_metadata, self);
	id = kc_queued_dma(_metadata, self->fd, 2);
	EXPECT_EQ(0, kc_cancel(self->fd, id));
	EXPECT_EQ(-EALREADY, kc_cancel(self->fd, id));
	ASSERT_EQ(1, kc_read(self->fd, &ev, 1));
	kc_expect_event(_metadata, &ev, id, 2, KCANCEL_OP_DMA_TO_DEV,
			-ECANCELED, 0);
	/* One event, and the id is gone. */
	EXPECT_EQ(0, kc_poll(self->fd, 0));
	EXPECT_EQ(-ENOENT, kc_cancel(self->fd, id));
}

TEST_F(kcancel, cancel_completed)
{
	struct kcancel_event ev;
	u64 id;

	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 6, 6, &id));
	/* Its event is there: it has completed. */
	ASSERT_EQ(POLLIN | POLLRDNORM, kc_poll(self->fd, 10000));
	EXPECT_EQ(-EALREADY, kc_cancel(self->fd, id));
	EXPECT_EQ(-EALREADY, kc_cancel(self->fd, id));
	ASSERT_EQ(1, kc_read(self->fd, &ev, 1));
	kc_expect_event(_metadata, &ev, id, 6, KCANCEL_OP_FACTORIAL, 0,
			kc_fact[6]);
}

TEST_F(kcancel, cancel_after_reap)
{
	struct kcancel_event ev;
	u64 id;

	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_DOORBELL, 1, 0, &id));
	ASSERT_EQ(0, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev));
	EXPECT_EQ(-ENOENT, kc_cancel(self->fd, id));

	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 2, 0, &id));
	ASSERT_EQ(1, kc_read(self->fd, &ev, 1));
	EXPECT_EQ(id, ev.id);
	EXPECT_EQ(-ENOENT, kc_cancel(self->fd, id));
}

TEST_F(kcancel, cancel_unknown_id)
{
	u64 id;

	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_DOORBELL, 1, 0, &id));
	EXPECT_EQ(-ENOENT, kc_cancel(self->fd, 0));
	EXPECT_EQ(-ENOENT, kc_cancel(self->fd, id + 1000000));
	/* The next id of the device, which would take the same entry. */
	EXPECT_EQ(-ENOENT, kc_cancel(self->fd, id + (1ULL << 20)));
	EXPECT_EQ(-ENOENT, kc_cancel(self->fd, 1ULL << 63));
	EXPECT_EQ(-ENOENT, kc_cancel(self->fd, UINT64_MAX));
	EXPECT_EQ(-ENOENT, kc_wait(self->fd, id + 1000000, 0, NULL));
	EXPECT_EQ(-ENOENT, kc_wait(self->fd, UINT64_MAX, KCANCEL_WAIT_FOREVER,
				   NULL));
}

TEST_F(kcancel, cancel_bad_flags_or_reserved)
{
	struct kcancel_cancel c;
	struct kcancel_event ev;
	u64 id;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	kc_block(_metadata, self);
	id = kc_queued_dma(_metadata, self->fd, 3);
	c = (struct kcancel_cancel){ .id = id, .flags = 2 };
	EXPECT_EQ(-EINVAL, kc_ioctl(self->fd, KCANCEL_IOC_CANCEL, &c));
	c = (struct kcancel_cancel){ .id = id, .flags = 0x80000000 };
	EXPECT_EQ(-EINVAL, kc_ioctl(self->fd, KCANCEL_IOC_CANCEL, &c));
	c = (struct kcancel_cancel){ .id = id, .reserved = 1 };
	EXPECT_EQ(-EINVAL, kc_ioctl(self->fd, KCANCEL_IOC_CANCEL, &c));
	/* Checked before the id is looked up. */
	c = (struct kcancel_cancel){ .id = UINT64_MAX, .flags = 2 };
	EXPECT_EQ(-EINVAL, kc_ioctl(self->fd, KCANCEL_IOC_CANCEL, &c));
	/* An id is not the user_data of an io_uring request. */
	c = (struct kcancel_cancel){
		.id = id, .flags = KCANCEL_CANCEL_USER_DATA,
	};
	EXPECT_EQ(-ENOENT, kc_ioctl(self->fd, KCANCEL_IOC_CANCEL, &c));
	/* None of them cancelled it. */
	ASSERT_EQ(0, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev));
	kc_expect_event(_metadata, &ev, id, 3, KCANCEL_OP_DMA_TO_DEV, 0, 16);
}

TEST_F(kcancel, cancel_bad_pointer)
{
	struct kcancel_cancel *guarded = kc_guarded(sizeof(*guarded), 8);
	struct kcancel_event ev;
	u64 id;

	ASSERT_NE(NULL, guarded);
	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 4, 0, &id));
	guarded->id = id;
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_CANCEL, NULL));
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_CANCEL,
				    KC_KERNEL_ADDR));
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_CANCEL, guarded));
	ASSERT_EQ(0, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev));
	EXPECT_EQ(0, ev.status);
}

TEST_F(kcancel, cancel_after_timeout)
{
	struct kcancel_submit s = {
		.op = KCANCEL_OP_DMA_TO_DEV,
		.buf = (uintptr_t)kc_scratch,
		.len = 8,
		.timeout_ns = 20 * NSEC_PER_MSEC,
		.tag = 4,
	};
	struct kcancel_event ev;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	kc_block(_metadata, self);
	ASSERT_EQ(0, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, &s));
	ASSERT_EQ(POLLIN | POLLRDNORM, kc_poll(self->fd, 10000));
	/* Its timeout got there first. */
	EXPECT_EQ(-EALREADY, kc_cancel(self->fd, s.id));
	ASSERT_EQ(1, kc_read(self->fd, &ev, 1));
	kc_expect_event(_metadata, &ev, s.id, 4, KCANCEL_OP_DMA_TO_DEV,
			-ETIMEDOUT, 0);
}

/*
 * A DMA the device has started: edu cannot stop it, the software device
 * can. Either the cancel comes first (0, the event says -ECANCELED) or the
 * completion does (EALREADY, status 0); the one queued behind runs.
 */
TEST_F(kcancel, cancel_in_flight)
{
	struct kcancel_event ev;
	u64 first, second;
	int ret;

	ASSERT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_FROM_DEV,
				   kc_scratch, 4, 0, 1, &first));
	ASSERT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_FROM_DEV,
				   kc_scratch + 8, 4, 0, 2, &second));
	ret = kc_cancel(self->fd, first);
	EXPECT_TRUE(ret == 0 || ret == -EALREADY) TH_LOG("cancel: %d", ret);
	ASSERT_EQ(0, kc_wait(self->fd, first, KCANCEL_WAIT_FOREVER, &ev));
	kc_expect_event(_metadata, &ev, first, 1, KCANCEL_OP_DMA_FROM_DEV,
			ret ? 0 : -ECANCELED, ret ? 4 : 0);
	ASSERT_EQ(0, kc_wait(self->fd, second, KCANCEL_WAIT_FOREVER, &ev));
	kc_expect_event(_metadata, &ev, second, 2, KCANCEL_OP_DMA_FROM_DEV, 0,
			4);
}

/*
 * Cancels right after the submit, racing with the completion: whatever
 * wins, the cancel's answer and the event agree, and every request has
 * exactly one event.
 */
TEST_F(kcancel, cancel_race_consistent)
{
	enum { N = 48 };
	struct kcancel_event ev[N];
	int ret[N], won = 0;
	u64 ids[N], arg;
	unsigned int i, j;
	u32 op;

	for (i = 0; i < N; i++) {
		op = i % 3 ? KCANCEL_OP_DOORBELL : KCANCEL_OP_FACTORIAL;
		arg = op == KCANCEL_OP_FACTORIAL ? i % 13 : i;
		ASSERT_EQ(0, kc_submit(self->fd, op, arg, i, &ids[i]));
		ret[i] = kc_cancel(self->fd, ids[i]);
		ASSERT_TRUE(ret[i] == 0 || ret[i] == -EALREADY)
			TH_LOG("cancel %u: %d", i, ret[i]);
		won += !ret[i];
	}
	ASSERT_EQ(0, kc_read_all(self->fd, ev, N));
	for (j = 0; j < N; j++) {
		i = ev[j].tag;
		ASSERT_GT((unsigned int)N, i);
		op = i % 3 ? KCANCEL_OP_DOORBELL : KCANCEL_OP_FACTORIAL;
		arg = op == KCANCEL_OP_FACTORIAL ? kc_fact[i % 13] : i;
		kc_expect_event(_metadata, &ev[j], ids[i], i, op,
				ret[i] ? 0 : -ECANCELED, ret[i] ? arg : 0);
		ids[i] = 0;	/* a second event would not match */
	}
	EXPECT_EQ(0, kc_poll(self->fd, 0));
	TH_LOG("%d of %d cancels won", won, N);
}

/* ---- timeouts --------------------------------------------------------- */

TEST_F(kcancel, timeout_expires)
{
	struct kcancel_submit s = {
		.op = KCANCEL_OP_DMA_TO_DEV,
		.buf = (uintptr_t)kc_scratch,
		.len = 8,
		.timeout_ns = 20 * NSEC_PER_MSEC,
		.tag = 5,
	};
	struct kcancel_event ev;
	u64 t0, behind;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	kc_block(_metadata, self);
	t0 = kc_now_ns();
	ASSERT_EQ(0, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, &s));
	behind = kc_queued_dma(_metadata, self->fd, 6);
	ASSERT_EQ(1, kc_read(self->fd, &ev, 1));
	/* The timer does not fire early. */
	EXPECT_LE(s.timeout_ns, kc_now_ns() - t0);
	kc_expect_event(_metadata, &ev, s.id, 5, KCANCEL_OP_DMA_TO_DEV,
			-ETIMEDOUT, 0);
	/* The request behind it has no timeout, and completes. */
	ASSERT_EQ(0, kc_wait(self->fd, behind, KCANCEL_WAIT_FOREVER, &ev));
	kc_expect_event(_metadata, &ev, behind, 6, KCANCEL_OP_DMA_TO_DEV, 0,
			16);
}

TEST_F(kcancel, timeout_not_reached)
{
	struct kcancel_submit s;
	struct kcancel_event ev;
	struct timespec rest = { .tv_nsec = 100 * NSEC_PER_MSEC };
	u64 t0 = kc_now_ns();

	kc_valid_submit(&s);
	s.arg = 8;
	s.timeout_ns = 500 * NSEC_PER_MSEC;
	ASSERT_EQ(0, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, &s));
	ASSERT_EQ(0, kc_wait(self->fd, s.id, KCANCEL_WAIT_FOREVER, &ev));
	kc_expect_event(_metadata, &ev, s.id, 0, KCANCEL_OP_FACTORIAL, 0,
			kc_fact[8]);
	/* Past its timeout: no second completion. */
	while (kc_now_ns() - t0 < s.timeout_ns + 100 * NSEC_PER_MSEC)
		nanosleep(&rest, NULL);
	EXPECT_EQ(0, kc_poll(self->fd, 0));
	EXPECT_EQ(-ENOENT, kc_wait(self->fd, s.id, 0, NULL));
}

TEST_F(kcancel, submit_wait_timeout)
{
	struct kcancel_submit s = {
		.op = KCANCEL_OP_DMA_TO_DEV,
		.buf = (uintptr_t)kc_scratch,
		.len = 8,
		.timeout_ns = 20 * NSEC_PER_MSEC,
		.tag = 7,
	};
	struct kcancel_event done;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	kc_block(_metadata, self);
	ASSERT_EQ(0, kc_submit_wait(self->fd, &s, &done));
	kc_expect_event(_metadata, &done, s.id, 7, KCANCEL_OP_DMA_TO_DEV,
			-ETIMEDOUT, 0);
}

/* ---- KCANCEL_IOC_WAIT ------------------------------------------------- */

TEST_F(kcancel, wait_timeout_zero)
{
	struct kcancel_event ev;
	u64 queued, fact;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	kc_block(_metadata, self);
	queued = kc_queued_dma(_metadata, self->fd, 8);
	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 9, 9, &fact));
	/* The queued DMA cannot have completed: this is the factorial. */
	ASSERT_EQ(POLLIN | POLLRDNORM, kc_poll(self->fd, 10000));
	EXPECT_EQ(-ETIMEDOUT, kc_wait(self->fd, queued, 0, &ev));
	ASSERT_EQ(0, kc_wait(self->fd, fact, 0, &ev));
	kc_expect_event(_metadata, &ev, fact, 9, KCANCEL_OP_FACTORIAL, 0,
			kc_fact[9]);
	/* The look did not cancel it: this cancel does. */
	EXPECT_EQ(0, kc_cancel(self->fd, queued));
	ASSERT_EQ(0, kc_wait(self->fd, queued, 0, &ev));
	EXPECT_EQ(-ECANCELED, ev.status);
}

TEST_F(kcancel, wait_short_timeout)
{
	struct kcancel_event ev;
	u64 id, t0;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	kc_block(_metadata, self);
	id = kc_queued_dma(_metadata, self->fd, 10);
	t0 = kc_now_ns();
	EXPECT_EQ(-ETIMEDOUT, kc_wait(self->fd, id, 20 * NSEC_PER_MSEC, &ev));
	/*
	 * It waited, rather than only looked. The wait counts jiffies, which a
	 * guest under a loaded host advances several at a time: a 20 ms wait
	 * has been seen to end after 5.4 ms of CLOCK_MONOTONIC.
	 */
	EXPECT_LE(2 * NSEC_PER_MSEC, kc_now_ns() - t0);
	/* Nothing was cancelled: it completes once the DMAs ahead are done. */
	ASSERT_EQ(0, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev));
	kc_expect_event(_metadata, &ev, id, 10, KCANCEL_OP_DMA_TO_DEV, 0, 16);
}

TEST_F(kcancel, wait_consumes_event)
{
	struct kcancel_event ev;
	u64 id;

	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 11, 11, &id));
	ASSERT_EQ(0, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev));
	kc_expect_event(_metadata, &ev, id, 11, KCANCEL_OP_FACTORIAL, 0,
			kc_fact[11]);
	EXPECT_EQ(0, kc_poll(self->fd, 0));
	EXPECT_EQ(-EAGAIN, kc_read_nb(self->fd, &ev, 1));
	EXPECT_EQ(-ENOENT, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev));
	EXPECT_EQ(-ENOENT, kc_cancel(self->fd, id));
}

TEST_F(kcancel, wait_after_read)
{
	struct kcancel_event ev;
	u64 id;

	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_DOORBELL, 12, 12, &id));
	ASSERT_EQ(1, kc_read(self->fd, &ev, 1));
	EXPECT_EQ(id, ev.id);
	EXPECT_EQ(-ENOENT, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev));
	EXPECT_EQ(-ENOENT, kc_wait(self->fd, id, 0, &ev));
}

TEST_F(kcancel, wait_bad_pointer)
{
	struct kcancel_wait *guarded;
	struct kcancel_event ev;
	u64 id;

	/* The id and the timeout can be read; done lies in the guard page. */
	guarded = kc_guarded(sizeof(*guarded),
			     offsetof(struct kcancel_wait, done));
	ASSERT_NE(NULL, guarded);
	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 4, 0, &id));
	guarded->id = id;
	guarded->timeout_ns = KCANCEL_WAIT_FOREVER;
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_WAIT, NULL));
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_WAIT,
				    KC_KERNEL_ADDR));
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_WAIT, guarded));
	/* Refused before anything was looked at: the event is still there. */
	ASSERT_EQ(0, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev));
	kc_expect_event(_metadata, &ev, id, 0, KCANCEL_OP_FACTORIAL, 0,
			kc_fact[4]);
}

/*
 * done cannot be written back: EFAULT. The event must not be lost with it
 * (read() gives back what it could not copy): a second wait gets it.
 */
TEST_F(kcancel, wait_done_unwritable)
{
	struct kcancel_wait w = { .timeout_ns = KCANCEL_WAIT_FOREVER };
	struct kcancel_wait *ro;
	struct kcancel_event ev;

	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 5, 5, &w.id));
	ASSERT_EQ(POLLIN | POLLRDNORM, kc_poll(self->fd, 10000));
	ro = kc_readonly(&w, sizeof(w));
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_WAIT, ro));
	ASSERT_EQ(0, kc_wait(self->fd, w.id, 0, &ev));
	kc_expect_event(_metadata, &ev, w.id, 5, KCANCEL_OP_FACTORIAL, 0,
			kc_fact[5]);
}

TEST_F(kcancel, wait_signal)
{
	struct kcancel_event ev;
	int ret;
	u64 id;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	kc_block(_metadata, self);
	id = kc_queued_dma(_metadata, self->fd, 13);
	/* Again and again, until one finds the wait asleep. */
	ASSERT_EQ(0, kc_alarm_every(20));
	ret = kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev);
	EXPECT_EQ(-EINTR, ret);
	ret = kc_wait(self->fd, id, 10 * NSEC_PER_SEC, &ev);
	kc_alarm_stop();
	EXPECT_EQ(-EINTR, ret);
	EXPECT_LE(2U, __atomic_load_n(&kc_alarms, __ATOMIC_RELAXED));
	/* Nothing was cancelled. */
	ASSERT_EQ(0, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev));
	kc_expect_event(_metadata, &ev, id, 13, KCANCEL_OP_DMA_TO_DEV, 0, 16);
}

/*
 * Wait up to 5 s for the id @id to be on @fd; returns what a wait with
 * timeout 0 says of it then: EINVAL for a KCANCEL_IOC_SUBMIT_WAIT request.
 */
static int kc_wait_for_id(int fd, u64 id)
{
	u64 t0 = kc_now_ns();
	int ret;

	do {
		ret = kc_wait(fd, id, 0, NULL);
		if (ret == -ENOENT)
			kc_sleep_ms(1);
	} while (ret == -ENOENT && kc_now_ns() - t0 < 5 * NSEC_PER_SEC);
	return ret;
}

struct kc_sw_shared {
	int fd;
	struct kcancel_submit_wait sw;
	int ret;
	int returned;	/* the call has returned */
};

static void *kc_sw_shared_fn(void *arg)
{
	struct kc_sw_shared *t = arg;

	t->ret = kc_ioctl(t->fd, KCANCEL_IOC_SUBMIT_WAIT, &t->sw);
	__atomic_store_n(&t->returned, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * The id a KCANCEL_IOC_SUBMIT_WAIT of another thread or process writes to
 * *@idp, which it does before it queues the request: 0 if none came within
 * 5 s.
 */
static u64 kc_id_written(const u64 *idp)
{
	u64 t0 = kc_now_ns(), id;

	while (!(id = __atomic_load_n(idp, __ATOMIC_ACQUIRE)) &&
	       kc_now_ns() - t0 < 5 * NSEC_PER_SEC)
		kc_sleep_ms(1);
	return id;
}

/*
 * A wait for the id of a KCANCEL_IOC_SUBMIT_WAIT request: EINVAL, with or
 * without a time limit; another thread may cancel it, though. The id comes
 * from the caller's structure, written before the request is queued.
 */
TEST_F(kcancel, wait_submit_wait_id)
{
	struct kc_sw_shared t = {
		.fd = self->fd,
		.sw.req = {
			.op = KCANCEL_OP_DMA_TO_DEV,
			.buf = (uintptr_t)kc_scratch,
			.len = 8,
			.tag = 14,
		},
	};
	pthread_t th;
	u64 id;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	kc_block(_metadata, self);
	ASSERT_EQ(0, pthread_create(&th, NULL, kc_sw_shared_fn, &t));
	id = kc_id_written(&t.sw.req.id);
	EXPECT_NE(0ULL, id);
	if (id) {
		EXPECT_EQ(-EINVAL, kc_wait_for_id(self->fd, id));
		EXPECT_EQ(-EINVAL, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER,
					   NULL));
		EXPECT_EQ(0, kc_cancel(self->fd, id));
	}
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, t.ret);
	EXPECT_EQ(id, t.sw.req.id);
	kc_expect_event(_metadata, &t.sw.done, id, 14, KCANCEL_OP_DMA_TO_DEV,
			-ECANCELED, 0);
}

/* ---- KCANCEL_IOC_SUBMIT_WAIT ------------------------------------------ */

TEST_F(kcancel, submit_wait_signal)
{
	struct kcancel_submit_wait sw = {
		.req = {
			.op = KCANCEL_OP_DMA_TO_DEV,
			.buf = (uintptr_t)kc_scratch,
			.len = 8,
			.tag = 15,
		},
	};
	struct kcancel_event ev;
	u64 behind;
	int ret;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	kc_block(_metadata, self);
	memset(&sw.done, 0xa5, sizeof(sw.done));
	ASSERT_EQ(0, kc_alarm_every(20));
	ret = kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT_WAIT, &sw);
	kc_alarm_stop();
	EXPECT_EQ(-EINTR, ret);
	EXPECT_LE(1U, __atomic_load_n(&kc_alarms, __ATOMIC_RELAXED));
	/* done is written: it was cancelled while queued. */
	EXPECT_NE(0ULL, sw.req.id);
	kc_expect_event(_metadata, &sw.done, sw.req.id, 15,
			KCANCEL_OP_DMA_TO_DEV, -ECANCELED, 0);
	/* It has completed and is gone; it made no event. */
	EXPECT_EQ(-ENOENT, kc_cancel(self->fd, sw.req.id));
	EXPECT_EQ(-ENOENT, kc_wait(self->fd, sw.req.id, 0, NULL));
	EXPECT_EQ(0, kc_poll(self->fd, 0));
	/* The device goes on. */
	behind = kc_queued_dma(_metadata, self->fd, 16);
	ASSERT_EQ(0, kc_wait(self->fd, behind, KCANCEL_WAIT_FOREVER, &ev));
	EXPECT_EQ(0, ev.status);
}

TEST_F(kcancel, submit_wait_errors)
{
	struct kcancel_submit_wait sw, *guarded, *ro, *split;
	struct kcancel_event ev;

	memset(&sw, 0, sizeof(sw));
	sw.req.op = KCANCEL_OP_MAX + 1;
	EXPECT_EQ(-EINVAL, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT_WAIT, &sw));
	kc_valid_submit(&sw.req);
	sw.req.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT_WAIT, &sw));
	kc_valid_submit(&sw.req);
	sw.req.timeout_ns = UINT64_MAX;
	EXPECT_EQ(-EINVAL, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT_WAIT, &sw));
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT_WAIT, NULL));
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT_WAIT,
				    KC_KERNEL_ADDR));
	/* The request can be read, done cannot: nothing is submitted. */
	guarded = kc_guarded(sizeof(sw), sizeof(sw.req));
	ASSERT_NE(NULL, guarded);
	kc_valid_submit(&guarded->req);
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT_WAIT,
				    guarded));
	kc_expect_no_event(_metadata, self->fd);
	/*
	 * All of it can be read, none written: the id cannot be written back
	 * before the request is queued, so nothing is.
	 */
	kc_valid_submit(&sw.req);
	sw.req.tag = 76;
	ro = kc_readonly(&sw, sizeof(sw));
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT_WAIT, ro));
	kc_expect_no_event(_metadata, self->fd);
	/*
	 * The request, its id included, can be written, done cannot: it runs,
	 * and then EFAULT. Its completion is not lost: it comes to read() as
	 * an event, with the id that was written back.
	 */
	sw.req.tag = 77;
	split = kc_split(&sw, sizeof(sw),
			 offsetof(struct kcancel_submit_wait, done));
	ASSERT_NE(NULL, split);
	EXPECT_EQ(-EFAULT, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT_WAIT, split));
	EXPECT_NE(0ULL, split->req.id);
	ASSERT_EQ(POLLIN | POLLRDNORM, kc_poll(self->fd, 10000));
	ASSERT_EQ((ssize_t)sizeof(ev), read(self->fd, &ev, sizeof(ev)));
	kc_expect_event(_metadata, &ev, split->req.id, 77, KCANCEL_OP_FACTORIAL,
			0, kc_fact[3]);
	kc_expect_no_event(_metadata, self->fd);
}

/*
 * KCANCEL_IOC_SUBMIT_WAIT writes req.id back before it queues the request:
 * another thread finds it there while the call still waits, and can wait
 * for the request by it (EINVAL) and cancel it.
 */
TEST_F(kcancel, submit_wait_id_written_first)
{
	struct kc_sw_shared t = {
		.fd = self->fd,
		.sw.req = {
			.op = KCANCEL_OP_DMA_TO_DEV,
			.buf = (uintptr_t)kc_scratch,
			.len = 8,
			.tag = 28,
		},
	};
	bool returned;
	pthread_t th;
	u64 id, t0;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	kc_block(_metadata, self);
	ASSERT_EQ(0, pthread_create(&th, NULL, kc_sw_shared_fn, &t));
	t0 = kc_now_ns();
	for (;;) {
		returned = __atomic_load_n(&t.returned, __ATOMIC_ACQUIRE);
		id = __atomic_load_n(&t.sw.req.id, __ATOMIC_ACQUIRE);
		if (id || returned || kc_now_ns() - t0 > 5 * NSEC_PER_SEC)
			break;
		kc_sleep_ms(1);
	}
	EXPECT_FALSE(returned) TH_LOG("the id came only with the return");
	EXPECT_NE(0ULL, id);
	if (id && !returned) {
		EXPECT_EQ(-EINVAL, kc_wait_for_id(self->fd, id));
		EXPECT_EQ(0, kc_cancel(self->fd, id));
	}
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, t.ret);
	kc_expect_event(_metadata, &t.sw.done, id, 28, KCANCEL_OP_DMA_TO_DEV,
			-ECANCELED, 0);
}

/*
 * A child stuck in KCANCEL_IOC_SUBMIT_WAIT, of a DMA to the device. It
 * runs above the software device's DPC thread, if it may: a cancel stops a
 * software operation at once and leaves its completion to that thread, so
 * the fatal signal's return comes before the completion there too, as it
 * does on edu, which cannot stop a DMA.
 */
static int kc_submit_wait_child(void *arg)
{
	struct sched_param sp = {
		.sched_priority = sched_get_priority_max(SCHED_FIFO),
	};
	struct kc_sw_shared *t = arg;

	t->sw = (struct kcancel_submit_wait) {
		.req = {
			.op = KCANCEL_OP_DMA_TO_DEV,
			.buf = (uintptr_t)kc_scratch,
			.len = 8,
			.tag = 29,
		},
	};
	sched_setscheduler(0, SCHED_FIFO, &sp);
	kc_ioctl(t->fd, KCANCEL_IOC_SUBMIT_WAIT, &t->sw);
	/* It should have been killed first. */
	return 1;
}

/* Requests whose waiter submit_wait_fatal_signal kills. */
#define KC_KILLS	3

/*
 * A fatal signal ends KCANCEL_IOC_SUBMIT_WAIT without waiting. The request,
 * in the device, completes on its own (edu cannot stop a DMA), leaves no
 * event, and then no longer counts against max_pending, though its file
 * stays open in the parent: the parent gets max_pending submits in, not
 * one fewer per killed waiter.
 */
TEST_F_TIMEOUT(kcancel, submit_wait_fatal_signal, 120)
{
	unsigned int max = self->info.max_pending, round, n;
	struct kc_sw_shared *t;
	int ret, status;
	u64 id;

	if (max > 65536)
		SKIP(return, "max_pending is %u: too many to fill", max);
	if (self->dma_ms < KC_MIN_DMA_MS || self->parallel != 1)
		SKIP(return, KC_TOO_FAST, self->path);
	/* The child's structure, where the parent reads the id it is given. */
	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, t);
	t->fd = self->fd;
	for (round = 0; round < KC_KILLS; round++) {
		/* Nothing on the DMA channel: the child's DMA starts at once. */
		kc_sync(_metadata, self->fd, KCANCEL_OP_DMA_TO_DEV);
		memset(&t->sw, 0, sizeof(t->sw));
		ASSERT_LT(0, kc_fork(self, kc_submit_wait_child, t));
		id = kc_id_written(&t->sw.req.id);
		ASSERT_NE(0ULL, id);
		ASSERT_EQ(-EINVAL, kc_wait_for_id(self->fd, id));
		ASSERT_EQ(0, kill(self->child, SIGKILL));
		status = kc_reap(self);
		ASSERT_TRUE(status >= 0 && WIFSIGNALED(status) &&
			    WTERMSIG(status) == SIGKILL)
			TH_LOG("the child ended with status %#x", status);
		/* One DMA at a time: the one behind it ends after it. */
		kc_sync(_metadata, self->fd, KCANCEL_OP_DMA_TO_DEV);
		EXPECT_EQ(0, kc_poll(self->fd, 0));
		ret = kc_wait(self->fd, id, 0, NULL);
		EXPECT_TRUE(ret == -ENOENT || ret == -EINVAL)
			TH_LOG("a wait for the killed waiter's request: %d", ret);
	}
	munmap(t, sizeof(*t));
	for (n = 0; n <= max; n++) {
		ret = kc_submit_dma(self->fd, KCANCEL_OP_DMA_TO_DEV, kc_scratch,
				    1, 0, n, NULL);
		if (ret)
			break;
	}
	EXPECT_EQ(-EAGAIN, ret);
	EXPECT_EQ(max, n)
		TH_LOG("%u submits before EAGAIN, max_pending %u, after %u killed waiters",
		       n, max, KC_KILLS);
}

/* ---- KCANCEL_IOC_BATCH ------------------------------------------------ */

/*
 * The entries of a batch test, at most: more than the kernel binds and
 * queues together (16), and than the software device has doorbells (30).
 */
#define KC_BATCH_N		40
/* A wait that a batch which must not wait would make plain. */
#define KC_LONG_WAIT_NS		(10 * NSEC_PER_SEC)

/*
 * A batch of the @nr requests at @subs, reaping up to @max events into @ev
 * and waiting for @min of them at most @timeout_ns. Its out fields hold
 * garbage: the call must write them.
 */
static void kc_batch_init(struct kcancel_batch *b, struct kcancel_submit *subs,
			  u32 nr, struct kcancel_event *ev, u32 max, u32 min,
			  u64 timeout_ns)
{
	memset(b, 0, sizeof(*b));
	b->submits = (uintptr_t)subs;
	b->events = (uintptr_t)ev;
	b->nr_submits = nr;
	b->max_events = max;
	b->min_events = min;
	b->timeout_ns = timeout_ns;
	b->submitted = 0xa5a5a5a5;
	b->error = 0x5a5a5a5a;
}

/*
 * Entry @i of a batch: a factorial of @i % 13 if @i is even, else a
 * doorbell; its id 0, so that a queued entry shows by its id.
 */
static void kc_batch_entry(struct kcancel_submit *s, unsigned int i)
{
	memset(s, 0, sizeof(*s));
	s->tag = 0xba7c0000ULL + i;
	if (i % 2) {
		s->op = KCANCEL_OP_DOORBELL;
		s->arg = (i + 1) * 0x9e3779b97f4a7c15ULL;
	} else {
		s->op = KCANCEL_OP_FACTORIAL;
		s->arg = i % (KCANCEL_FACTORIAL_MAX + 1);
	}
}

static void kc_batch_entries(struct kcancel_submit *subs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		kc_batch_entry(&subs[i], i);
}

/* What an entry of kc_batch_entry() completes with. */
static u64 kc_entry_result(const struct kcancel_submit *s)
{
	return s->op == KCANCEL_OP_FACTORIAL ? kc_fact[s->arg] : s->arg;
}

/*
 * Of the @n entries at @subs, whose ids were 0, the first @k were queued:
 * each has an id, given out in order. Those after entry @k were not
 * looked at: their ids are still 0.
 */
static void kc_expect_queued(struct __test_metadata *_metadata,
			     const struct kcancel_submit *subs, unsigned int n,
			     unsigned int k)
{
	unsigned int i;

	for (i = 0; i < k; i++) {
		EXPECT_NE(0ULL, subs[i].id)
			TH_LOG("entry %u was queued, its id is 0", i);
		if (i) {
			EXPECT_LT(subs[i - 1].id, subs[i].id)
				TH_LOG("entry %u", i);
		}
	}
	for (i = k + 1; i < n; i++) {
		EXPECT_EQ(0ULL, subs[i].id)
			TH_LOG("entry %u, after the one that failed", i);
	}
}

/*
 * Check @nev events against the first @n entries at @subs: each is the
 * event of one of them, with its tag, op and result, and none comes twice
 * (@seen, per entry, across calls).
 */
static void kc_check_batch_events(struct __test_metadata *_metadata,
				  const struct kcancel_submit *subs,
				  unsigned int n, const struct kcancel_event *ev,
				  unsigned int nev, bool *seen)
{
	unsigned int i, j;

	for (j = 0; j < nev; j++) {
		for (i = 0; i < n && subs[i].id != ev[j].id; i++)
			;
		ASSERT_GT(n, i)
			TH_LOG("event of id %llu tag %#llx: not of a queued entry",
			       ev[j].id, ev[j].tag);
		EXPECT_FALSE(seen[i]) TH_LOG("second event of id %llu", ev[j].id);
		seen[i] = true;
		kc_expect_event(_metadata, &ev[j], subs[i].id, subs[i].tag,
				subs[i].op, 0, kc_entry_result(&subs[i]));
	}
}

/*
 * The first @k entries at @subs were queued, and a batch reaped @got
 * events into @ev: the others come to read(), and then nothing more. Each
 * entry has exactly one event.
 */
static void kc_expect_batch_events(struct __test_metadata *_metadata,
				   KC_FIXTURE *self,
				   const struct kcancel_submit *subs,
				   unsigned int k,
				   const struct kcancel_event *ev,
				   unsigned int got)
{
	struct kcancel_event rest[KC_BATCH_N];
	bool seen[KC_BATCH_N] = { false };

	ASSERT_GE((unsigned int)KC_BATCH_N, k);
	ASSERT_GE(k, got) TH_LOG("%u events reaped, %u requests queued", got, k);
	kc_check_batch_events(_metadata, subs, k, ev, got, seen);
	ASSERT_EQ(0, kc_read_all(self->fd, rest, k - got));
	kc_check_batch_events(_metadata, subs, k, rest, k - got, seen);
	/* Had an entry after them been queued, its event would be there. */
	kc_settle(self);
	kc_expect_no_event(_metadata, self->fd);
}

TEST_F(kcancel, batch_submit_and_reap)
{
	struct kcancel_submit subs[KC_BATCH_N];
	struct kcancel_event ev[KC_BATCH_N + 1], extra;
	bool seen[KC_BATCH_N] = { false };
	struct kcancel_batch b;

	kc_batch_entries(subs, KC_BATCH_N);
	memset(ev, KC_SENTINEL, sizeof(ev));
	kc_batch_init(&b, subs, KC_BATCH_N, ev, KC_BATCH_N, KC_BATCH_N,
		      KCANCEL_WAIT_FOREVER);
	ASSERT_EQ(KC_BATCH_N, kc_batch(self->fd, &b));
	EXPECT_EQ((u32)KC_BATCH_N, b.submitted);
	EXPECT_EQ(0, b.error);
	kc_expect_queued(_metadata, subs, KC_BATCH_N, KC_BATCH_N);
	kc_check_batch_events(_metadata, subs, KC_BATCH_N, ev, KC_BATCH_N,
			      seen);
	/* No more than max_events are written. */
	EXPECT_TRUE(kc_is_filled((u8 *)&ev[KC_BATCH_N], KC_SENTINEL,
				 sizeof(ev[0])));
	/* Reaped by the batch, once: nothing is left for anyone. */
	EXPECT_EQ(-EAGAIN, kc_read_nb(self->fd, &extra, 1));
	EXPECT_EQ(0, kc_poll(self->fd, 0));
	EXPECT_EQ(-ENOENT, kc_wait(self->fd, subs[0].id, 0, NULL));
	EXPECT_EQ(-ENOENT, kc_cancel(self->fd, subs[1].id));
}

/*
 * Entry K is invalid (its op, a reserved field, a field its op does not
 * take): the K before it are queued, it and those after are not, and
 * error says why. The call does not fail, and reaps without waiting:
 * min_events could never be reached. K in the first group of entries the
 * kernel queues together, first of the second, and inside it.
 */
TEST_F(kcancel, batch_partial_einval)
{
	static const unsigned int ks[] = { 5, 16, 21 };
	struct kcancel_submit subs[KC_BATCH_N];
	struct kcancel_event ev[KC_BATCH_N];
	struct kcancel_batch b;
	unsigned int round, K;
	u64 t0, took;
	int ret;

	for (round = 0; round < 3 * ARRAY_SIZE(ks); round++) {
		K = ks[round / 3];
		kc_batch_entries(subs, KC_BATCH_N);
		if (round % 3 == 0)
			subs[K].op = KCANCEL_OP_MAX + 1;
		else if (round % 3 == 1)
			subs[K].reserved[1] = 1;
		else
			subs[K].len = 1;	/* a doorbell's */
		kc_batch_init(&b, subs, KC_BATCH_N, ev, KC_BATCH_N, KC_BATCH_N,
			      KC_LONG_WAIT_NS);
		t0 = kc_now_ns();
		ret = kc_batch(self->fd, &b);
		took = kc_now_ns() - t0;
		ASSERT_LE(0, ret) TH_LOG("round %u: %s", round, strerror(-ret));
		EXPECT_EQ(K, b.submitted) TH_LOG("round %u", round);
		EXPECT_EQ(-EINVAL, b.error) TH_LOG("round %u", round);
		EXPECT_GT(KC_LONG_WAIT_NS / 2, took)
			TH_LOG("round %u: a batch whose submit failed waited %llu ms",
			       round, took / NSEC_PER_MSEC);
		kc_expect_queued(_metadata, subs, KC_BATCH_N, K);
		kc_expect_batch_events(_metadata, self, subs, K, ev, ret);
	}
}

/*
 * The file holds max_pending - 3 requests: a batch of 8 queues 3, and its
 * fourth entry gets EAGAIN. Then every request of the file, those of the
 * batch and those before it, has exactly one event.
 */
TEST_F_TIMEOUT(kcancel, batch_partial_eagain, 120)
{
	unsigned int max = self->info.max_pending, fill, i, got;
	struct kcancel_submit subs[8];
	struct kcancel_event *ev;
	struct kcancel_batch b;
	bool seen[8] = { false };
	bool *filled;
	int *cancel;
	u64 *ids;
	int ret;

	if (max > 65536)
		SKIP(return, "max_pending is %u: too many to fill", max);
	if (max < 4)
		SKIP(return, "max_pending is %u: too few for a partial batch",
		     max);
	fill = max - 3;
	ids = calloc(fill, sizeof(*ids));
	cancel = calloc(fill, sizeof(*cancel));
	filled = calloc(fill, sizeof(*filled));
	ev = calloc(max, sizeof(*ev));
	ASSERT_NE(NULL, ids);
	ASSERT_NE(NULL, cancel);
	ASSERT_NE(NULL, filled);
	ASSERT_NE(NULL, ev);
	/* DMAs: all but the first few stay queued, and are quick to cancel. */
	for (i = 0; i < fill; i++) {
		ASSERT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_FROM_DEV,
					   kc_scratch, 1, 0, i, &ids[i]))
			TH_LOG("submit %u of %u", i + 1, fill);
	}
	kc_batch_entries(subs, 8);
	kc_batch_init(&b, subs, 8, ev, 8, 0, 0);
	ret = kc_batch(self->fd, &b);
	ASSERT_LE(0, ret) TH_LOG("%s", strerror(-ret));
	EXPECT_EQ(3U, b.submitted);
	EXPECT_EQ(-EAGAIN, b.error);
	kc_expect_queued(_metadata, subs, 8, 3);
	got = ret;
	/* The DMAs whose events the batch reaped have completed... */
	for (i = 0; i < got; i++) {
		if (ev[i].tag < fill)
			cancel[ev[i].tag] = -EALREADY;
	}
	/* ...the others are slow: cancel them, and reap everything. */
	for (i = 0; i < fill; i++) {
		if (cancel[i])
			continue;
		cancel[i] = kc_cancel(self->fd, ids[i]);
		EXPECT_TRUE(cancel[i] == 0 || cancel[i] == -EALREADY)
			TH_LOG("cancel of DMA %u: %d", i, cancel[i]);
	}
	ASSERT_EQ(0, kc_read_all(self->fd, ev + got, fill + 3 - got));
	for (i = 0; i < fill + 3; i++) {
		if (ev[i].tag >= fill) {
			kc_check_batch_events(_metadata, subs, 3, &ev[i], 1, seen);
			continue;
		}
		ASSERT_EQ(ids[ev[i].tag], ev[i].id);
		EXPECT_FALSE(filled[ev[i].tag])
			TH_LOG("second event of id %llu", ev[i].id);
		filled[ev[i].tag] = true;
		kc_expect_event(_metadata, &ev[i], ids[ev[i].tag], ev[i].tag,
				KCANCEL_OP_DMA_FROM_DEV,
				cancel[ev[i].tag] ? 0 : -ECANCELED,
				cancel[ev[i].tag] ? 1 : 0);
	}
	kc_settle(self);
	kc_expect_no_event(_metadata, self->fd);
	free(ids);
	free(cancel);
	free(filled);
	free(ev);
}

/*
 * The array of requests runs into a PROT_NONE page: entry k starts in it,
 * or straddles it. The entries before it are queued, it gets EFAULT, and
 * the call still reaps without waiting.
 */
TEST_F(kcancel, batch_entry_unreadable)
{
	const size_t sz = sizeof(struct kcancel_submit);
	const struct { unsigned int k; size_t ok; } cases[] = {
		{ 3, 3 * sz }, { 2, 2 * sz + 8 },
		{ 4, 4 * sz + offsetof(struct kcancel_submit, id) }, { 0, 0 },
		{ 16, 16 * sz }, { 20, 20 * sz + 8 },
	};
	struct kcancel_submit local[KC_BATCH_N], *subs;
	struct kcancel_event ev[KC_BATCH_N];
	struct kcancel_batch b;
	unsigned int i, k;
	u64 t0, took;
	int ret;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		k = cases[i].k;
		subs = kc_guarded(sizeof(local), cases[i].ok);
		ASSERT_NE(NULL, subs);
		kc_batch_entries(local, KC_BATCH_N);
		memcpy(subs, local, cases[i].ok);
		kc_batch_init(&b, subs, KC_BATCH_N, ev, KC_BATCH_N, KC_BATCH_N,
			      KC_LONG_WAIT_NS);
		t0 = kc_now_ns();
		ret = kc_batch(self->fd, &b);
		took = kc_now_ns() - t0;
		ASSERT_LE(0, ret) TH_LOG("entry %u: %s", k, strerror(-ret));
		EXPECT_EQ(k, b.submitted);
		EXPECT_EQ(-EFAULT, b.error) TH_LOG("entry %u", k);
		EXPECT_GT(KC_LONG_WAIT_NS / 2, took)
			TH_LOG("entry %u: a batch whose submit failed waited %llu ms",
			       k, took / NSEC_PER_MSEC);
		/* Only the entries before k can be read. */
		kc_expect_queued(_metadata, subs, k, k);
		kc_expect_batch_events(_metadata, self, subs, k, ev, ret);
	}
}

/*
 * Entry K can be read, but its id cannot be written back: it is not
 * queued (the id is written first) and gets EFAULT; those before it are
 * queued, in the first group of entries the kernel queues together or in
 * the second.
 */
TEST_F(kcancel, batch_entry_id_unwritable)
{
	static const unsigned int ks[] = { 3, 19 };
	struct kcancel_submit local[KC_BATCH_N], *subs;
	struct kcancel_event ev[KC_BATCH_N];
	struct kcancel_batch b;
	unsigned int i, K;
	int ret;

	for (i = 0; i < ARRAY_SIZE(ks); i++) {
		K = ks[i];
		/* Entry K from its id on, and those after, in a read-only page. */
		kc_batch_entries(local, KC_BATCH_N);
		subs = kc_split(local, sizeof(local), K * sizeof(local[0]) +
				offsetof(struct kcancel_submit, id));
		ASSERT_NE(NULL, subs);
		kc_batch_init(&b, subs, KC_BATCH_N, ev, KC_BATCH_N, 0, 0);
		ret = kc_batch(self->fd, &b);
		ASSERT_LE(0, ret) TH_LOG("entry %u: %s", K, strerror(-ret));
		EXPECT_EQ(K, b.submitted);
		EXPECT_EQ(-EFAULT, b.error) TH_LOG("entry %u", K);
		kc_expect_queued(_metadata, subs, KC_BATCH_N, K);
		kc_expect_batch_events(_metadata, self, subs, K, ev, ret);
	}

	/* All of the array read-only: the first entry fails. */
	subs = kc_readonly(local, sizeof(local));
	ASSERT_NE(NULL, subs);
	kc_batch_init(&b, subs, KC_BATCH_N, ev, KC_BATCH_N, 0, 0);
	ret = kc_batch(self->fd, &b);
	ASSERT_LE(0, ret) TH_LOG("%s", strerror(-ret));
	EXPECT_EQ(0U, b.submitted);
	EXPECT_EQ(-EFAULT, b.error);
	kc_expect_batch_events(_metadata, self, subs, 0, ev, ret);
}

/*
 * What the call refuses: EINVAL for the structure's fields, EFAULT for a
 * structure that cannot be read. Either way nothing is submitted, and an
 * event that is ready is not reaped.
 */
TEST_F(kcancel, batch_bad_struct)
{
	static const char *const what[] = {
		"flags 1", "flags 0x80000000", "reserved[0]", "reserved[1]",
		"nr_submits KCANCEL_BATCH_MAX + 1", "nr_submits UINT32_MAX",
		"max_events KCANCEL_BATCH_MAX + 1", "max_events UINT32_MAX",
		"min_events above max_events", "min_events 1, max_events 0",
	};
	struct kcancel_submit subs[4];
	struct kcancel_event ev[4], *many;
	struct kcancel_batch b, *guarded;
	void *unmapped = kc_unmapped();
	unsigned int i, j;
	u64 ready;

	ASSERT_NE(NULL, unmapped);
	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 6, 6, &ready));
	ASSERT_EQ(POLLIN | POLLRDNORM, kc_poll(self->fd, 10000));
	for (i = 0; i < ARRAY_SIZE(what); i++) {
		kc_batch_entries(subs, 4);
		kc_batch_init(&b, subs, 4, ev, 4, 1, KC_LONG_WAIT_NS);
		switch (i) {
		case 0:
			b.flags = 1;
			break;
		case 1:
			b.flags = 0x80000000;
			break;
		case 2:
			b.reserved[0] = 1;
			break;
		case 3:
			b.reserved[1] = 1ULL << 63;
			break;
		case 4:
			b.nr_submits = KCANCEL_BATCH_MAX + 1;
			break;
		case 5:
			b.nr_submits = UINT32_MAX;
			break;
		case 6:
			b.max_events = KCANCEL_BATCH_MAX + 1;
			break;
		case 7:
			b.max_events = UINT32_MAX;
			break;
		case 8:
			b.min_events = 5;
			break;
		default:
			b.max_events = 0;
			break;
		}
		EXPECT_EQ(-EINVAL, kc_batch(self->fd, &b)) TH_LOG("%s", what[i]);
		for (j = 0; j < 4; j++) {
			EXPECT_EQ(0ULL, subs[j].id)
				TH_LOG("%s: entry %u has an id", what[i], j);
		}
	}

	/* The structure cannot be read, all of it or its last field. */
	kc_batch_entries(subs, 4);
	kc_batch_init(&b, subs, 4, ev, 4, 0, 0);
	guarded = kc_guarded(sizeof(b), offsetof(struct kcancel_batch,
						 reserved[1]));
	ASSERT_NE(NULL, guarded);
	memcpy(guarded, &b, offsetof(struct kcancel_batch, reserved[1]));
	EXPECT_EQ(-EFAULT, kc_batch(self->fd, NULL));
	EXPECT_EQ(-EFAULT, kc_batch(self->fd, unmapped));
	EXPECT_EQ(-EFAULT, kc_batch(self->fd, KC_KERNEL_ADDR));
	EXPECT_EQ(-EFAULT, kc_batch(self->fd, guarded));
	for (j = 0; j < 4; j++) {
		EXPECT_EQ(0ULL, subs[j].id)
			TH_LOG("entry %u has an id", j);
	}

	/* Nothing was reaped: the event is still there. Nor submitted. */
	ASSERT_EQ(1, kc_read(self->fd, ev, 4));
	kc_expect_event(_metadata, ev, ready, 6, KCANCEL_OP_FACTORIAL, 0,
			kc_fact[6]);
	kc_settle(self);
	kc_expect_no_event(_metadata, self->fd);

	/* The limits themselves are fine. */
	many = calloc(KCANCEL_BATCH_MAX, sizeof(*many));
	ASSERT_NE(NULL, many);
	kc_batch_init(&b, NULL, 0, many, KCANCEL_BATCH_MAX, 0,
		      KCANCEL_WAIT_FOREVER);
	EXPECT_EQ(0, kc_batch(self->fd, &b));
	kc_batch_entries(subs, 1);
	kc_batch_init(&b, subs, 1, many, 1, 1, KCANCEL_WAIT_FOREVER);
	ASSERT_EQ(1, kc_batch(self->fd, &b));
	EXPECT_EQ(1U, b.submitted);
	EXPECT_EQ(0, b.error);
	kc_expect_event(_metadata, many, subs[0].id, subs[0].tag,
			subs[0].op, 0, kc_entry_result(&subs[0]));
	free(many);
}

/*
 * The structure can be read, not written: the requests are queued, each
 * with its id written, then submitted and error cannot be written back:
 * EFAULT, and nothing was reaped.
 */
TEST_F(kcancel, batch_result_unwritable)
{
	struct kcancel_submit subs[2];
	struct kcancel_event ev[4];
	struct kcancel_batch b, *ro;
	bool seen[2] = { false };
	unsigned int i;
	u64 ready;

	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 4, 4, &ready));
	ASSERT_EQ(POLLIN | POLLRDNORM, kc_poll(self->fd, 10000));
	kc_batch_entries(subs, 2);
	kc_batch_init(&b, subs, 2, ev, 4, 0, 0);
	ro = kc_readonly(&b, sizeof(b));
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-EFAULT, kc_batch(self->fd, ro));
	kc_expect_queued(_metadata, subs, 2, 2);
	/* Three events: the one that was ready, and the batch's two. */
	ASSERT_EQ(0, kc_read_all(self->fd, ev, 3));
	for (i = 0; i < 3; i++) {
		if (ev[i].id == ready)
			kc_expect_event(_metadata, &ev[i], ready, 4,
					KCANCEL_OP_FACTORIAL, 0, kc_fact[4]);
		else
			kc_check_batch_events(_metadata, subs, 2, &ev[i], 1,
					      seen);
	}
	EXPECT_TRUE(seen[0] && seen[1]);
	kc_settle(self);
	kc_expect_no_event(_metadata, self->fd);
}

/*
 * The events cannot be written: EFAULT when not even the first ready one
 * can be, and it stays for read(); a partial write returns what was
 * written, and the rest stays. No event ready: nothing to write, no error.
 */
TEST_F(kcancel, batch_events_unwritable)
{
	const size_t sz = sizeof(struct kcancel_event);
	struct kcancel_event ev[2], *none, *one;
	struct kcancel_submit subs[1];
	struct kcancel_batch b;
	u64 ids[2];

	none = kc_guarded(2 * sz, 0);
	one = kc_guarded(2 * sz, sz);
	ASSERT_NE(NULL, none);
	ASSERT_NE(NULL, one);
	kc_batch_init(&b, NULL, 0, none, 2, 0, 0);
	EXPECT_EQ(0, kc_batch(self->fd, &b));

	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 3, 3, &ids[0]));
	ASSERT_EQ(POLLIN | POLLRDNORM, kc_poll(self->fd, 10000));
	kc_batch_init(&b, NULL, 0, none, 2, 0, 0);
	EXPECT_EQ(-EFAULT, kc_batch(self->fd, &b));
	kc_batch_init(&b, NULL, 0, KC_KERNEL_ADDR, 2, 1, KC_LONG_WAIT_NS);
	EXPECT_EQ(-EFAULT, kc_batch(self->fd, &b));
	ASSERT_EQ(1, kc_read(self->fd, ev, 2));
	kc_expect_event(_metadata, ev, ids[0], 3, KCANCEL_OP_FACTORIAL, 0,
			kc_fact[3]);

	/* Room for one: one, whether one or two were ready; then the other. */
	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 7, 7, &ids[0]));
	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 8, 8, &ids[1]));
	kc_sync(_metadata, self->fd, KCANCEL_OP_FACTORIAL);
	ASSERT_EQ(POLLIN | POLLRDNORM, kc_poll(self->fd, 10000));
	kc_batch_init(&b, NULL, 0, one, 2, 0, 0);
	EXPECT_EQ(1, kc_batch(self->fd, &b));
	ASSERT_EQ(1, kc_read(self->fd, ev, 2));
	EXPECT_NE(one[0].id, ev[0].id);
	EXPECT_TRUE(one[0].id == ids[0] || one[0].id == ids[1]);
	EXPECT_TRUE(ev[0].id == ids[0] || ev[0].id == ids[1]);
	if (self->parallel == 1) {
		kc_expect_event(_metadata, one, ids[0], 7,
				KCANCEL_OP_FACTORIAL, 0, kc_fact[7]);
		kc_expect_event(_metadata, ev, ids[1], 8,
				KCANCEL_OP_FACTORIAL, 0, kc_fact[8]);
	}

	/*
	 * Submitted, waited for, and then the event cannot be written: the
	 * submits stand and were written back; the event stays.
	 */
	kc_batch_entries(subs, 1);
	kc_batch_init(&b, subs, 1, none, 1, 1, KC_LONG_WAIT_NS);
	EXPECT_EQ(-EFAULT, kc_batch(self->fd, &b));
	EXPECT_EQ(1U, b.submitted);
	EXPECT_EQ(0, b.error);
	kc_expect_queued(_metadata, subs, 1, 1);
	kc_expect_batch_events(_metadata, self, subs, 1, ev, 0);
}

/*
 * min_events is not reached within timeout_ns: the call returns what it
 * reaped, without an error; the rest comes later, once.
 */
TEST_F(kcancel, batch_min_events_timeout)
{
	static u8 data[16];
	struct kcancel_submit subs[1] = {
		{
			.op = KCANCEL_OP_DMA_TO_DEV,
			.buf = (uintptr_t)data,
			.len = sizeof(data),
			.offset = 32,
			.tag = 0xd3a,
		},
	};
	struct kcancel_event ev[4];
	struct kcancel_batch b;
	u64 fact, t0;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 9, 9, &fact));
	ASSERT_EQ(POLLIN | POLLRDNORM, kc_poll(self->fd, 10000));
	/* The DMA the batch submits stays queued behind the blockers. */
	kc_block(_metadata, self);
	kc_batch_init(&b, subs, 1, ev, 4, 2, 20 * NSEC_PER_MSEC);
	t0 = kc_now_ns();
	ASSERT_EQ(1, kc_batch(self->fd, &b));
	/* It waited, rather than only looked (see wait_short_timeout). */
	EXPECT_LE(2 * NSEC_PER_MSEC, kc_now_ns() - t0);
	EXPECT_EQ(1U, b.submitted);
	EXPECT_EQ(0, b.error);
	EXPECT_NE(0ULL, subs[0].id);
	kc_expect_event(_metadata, ev, fact, 9, KCANCEL_OP_FACTORIAL, 0,
			kc_fact[9]);
	/* timeout_ns 0 only looks. */
	kc_batch_init(&b, NULL, 0, ev, 4, 1, 0);
	EXPECT_EQ(0, kc_batch(self->fd, &b));
	/* Nothing was cancelled: the DMA completes, and comes once. */
	ASSERT_EQ(1, kc_read(self->fd, ev, 4));
	kc_expect_event(_metadata, ev, subs[0].id, 0xd3a, KCANCEL_OP_DMA_TO_DEV,
			0, sizeof(data));
	EXPECT_EQ(-EAGAIN, kc_read_nb(self->fd, ev, 4));
}

/* nr_submits 0 reaps the events of requests submitted otherwise. */
TEST_F(kcancel, batch_reap_only)
{
	enum { N = 5 };
	struct kcancel_submit subs[N];
	struct kcancel_event ev[8];
	bool seen[N] = { false };
	struct kcancel_batch b;
	unsigned int i;
	u64 id;

	kc_batch_entries(subs, N);
	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, kc_ioctl(self->fd, KCANCEL_IOC_SUBMIT, &subs[i]))
			TH_LOG("submit %u", i);
	}
	kc_batch_init(&b, NULL, 0, ev, 8, N, KCANCEL_WAIT_FOREVER);
	ASSERT_EQ(N, kc_batch(self->fd, &b));
	EXPECT_EQ(0U, b.submitted);
	EXPECT_EQ(0, b.error);
	kc_check_batch_events(_metadata, subs, N, ev, N, seen);
	/* Nothing left, nothing to wait for. */
	kc_batch_init(&b, NULL, 0, ev, 8, 0, KCANCEL_WAIT_FOREVER);
	EXPECT_EQ(0, kc_batch(self->fd, &b));
	/* max_events 0 reaps none: the event stays. */
	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_DOORBELL, 77, 77, &id));
	ASSERT_EQ(POLLIN | POLLRDNORM, kc_poll(self->fd, 10000));
	kc_batch_init(&b, NULL, 0, NULL, 0, 0, KCANCEL_WAIT_FOREVER);
	EXPECT_EQ(0, kc_batch(self->fd, &b));
	ASSERT_EQ(1, kc_read(self->fd, ev, 8));
	kc_expect_event(_metadata, ev, id, 77, KCANCEL_OP_DOORBELL, 0, 77);
}

/*
 * A signal while the batch waits and nothing was reaped: EINTR. The submit
 * stands, as submitted says, and its request completes, once.
 */
TEST_F(kcancel, batch_signal)
{
	static u8 data[16];
	struct kcancel_submit subs[1] = {
		{
			.op = KCANCEL_OP_DMA_TO_DEV,
			.buf = (uintptr_t)data,
			.len = sizeof(data),
			.offset = 32,
			.tag = 0x5191,
		},
	};
	struct kcancel_batch b, again;
	struct kcancel_event ev[4];
	int ret, ret2;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	kc_block(_metadata, self);
	kc_batch_init(&b, subs, 1, ev, 4, 1, KCANCEL_WAIT_FOREVER);
	kc_batch_init(&again, NULL, 0, ev, 4, 1, KC_LONG_WAIT_NS);
	/* Again and again, until one finds the wait asleep. */
	ASSERT_EQ(0, kc_alarm_every(20));
	ret = kc_batch(self->fd, &b);
	ret2 = kc_batch(self->fd, &again);
	kc_alarm_stop();
	EXPECT_EQ(-EINTR, ret);
	EXPECT_EQ(1U, b.submitted);
	EXPECT_EQ(0, b.error);
	EXPECT_NE(0ULL, subs[0].id);
	EXPECT_EQ(-EINTR, ret2);
	EXPECT_EQ(0U, again.submitted);
	EXPECT_LE(2U, __atomic_load_n(&kc_alarms, __ATOMIC_RELAXED));
	/* Nothing was cancelled. */
	ASSERT_EQ(0, kc_wait(self->fd, subs[0].id, KCANCEL_WAIT_FOREVER, ev));
	kc_expect_event(_metadata, ev, subs[0].id, 0x5191,
			KCANCEL_OP_DMA_TO_DEV, 0, sizeof(data));
	EXPECT_EQ(-EAGAIN, kc_read_nb(self->fd, ev, 4));
}

/* ---- read() and poll() ------------------------------------------------ */

TEST_F(kcancel, read_short_count)
{
	struct kcancel_event ev[2];
	u64 id;

	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 1, 1, &id));
	ASSERT_EQ(POLLIN | POLLRDNORM, kc_poll(self->fd, 10000));
	errno = 0;
	EXPECT_EQ(-1, read(self->fd, ev, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, read(self->fd, ev, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, read(self->fd, ev, sizeof(ev[0]) - 1));
	EXPECT_EQ(EINVAL, errno);
	/* Still there. */
	EXPECT_EQ(POLLIN | POLLRDNORM, kc_poll(self->fd, 0));
	ASSERT_EQ(1, kc_read(self->fd, ev, 1));
	EXPECT_EQ(id, ev[0].id);
}

TEST_F(kcancel, read_one_event)
{
	struct kcancel_event ev[2];
	u64 ids[2];

	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 2, 0, &ids[0]));
	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 3, 1, &ids[1]));
	kc_sync(_metadata, self->fd, KCANCEL_OP_FACTORIAL);
	/* Both have completed if factorials run one at a time; else one. */
	ASSERT_EQ(POLLIN | POLLRDNORM, kc_poll(self->fd, 10000));
	/* One and a half records: one. */
	EXPECT_EQ((ssize_t)sizeof(ev[0]),
		  read(self->fd, ev, sizeof(ev[0]) + sizeof(ev[0]) / 2));
	ASSERT_EQ(1, kc_read(self->fd, &ev[1], 1));
	EXPECT_NE(ev[0].id, ev[1].id);
	EXPECT_TRUE(ev[0].id == ids[0] || ev[0].id == ids[1]);
	EXPECT_TRUE(ev[1].id == ids[0] || ev[1].id == ids[1]);
	EXPECT_EQ(0, kc_poll(self->fd, 0));
}

/*
 * Factorials run one at a time, in the order submitted: that is their
 * completion order, and read() must give the events in it, as many as fit.
 */
TEST_F(kcancel, read_several_in_order)
{
	enum { N = KCANCEL_FACTORIAL_MAX + 1 };
	struct kcancel_event ev[N + 1];
	u64 ids[N];
	unsigned int i;
	ssize_t got;

	if (self->parallel != 1)
		SKIP(return, KC_TOO_FAST, self->path);
	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, i, i,
				       &ids[i]));
	}
	/* Behind them all: when it returns, they have completed. */
	kc_sync(_metadata, self->fd, KCANCEL_OP_FACTORIAL);
	ASSERT_EQ(8, kc_read(self->fd, ev, 8));
	/* Room for more than is left, and not a whole number of records. */
	got = read(self->fd, ev + 8, sizeof(ev) - 8 * sizeof(ev[0]) - 1);
	EXPECT_EQ((ssize_t)((N - 8) * sizeof(ev[0])), got);
	for (i = 0; i < N; i++)
		kc_expect_event(_metadata, &ev[i], ids[i], i,
				KCANCEL_OP_FACTORIAL, 0, kc_fact[i]);
	EXPECT_EQ(0, kc_poll(self->fd, 0));
}

TEST_F(kcancel, read_nonblock_empty)
{
	int fd2 = kc_open(self, O_NONBLOCK);
	struct kcancel_event ev;

	ASSERT_LE(0, fd2);
	EXPECT_EQ(-EAGAIN, kc_read(fd2, &ev, 1));
	EXPECT_EQ(-EAGAIN, kc_read_nb(self->fd, &ev, 1));
	if (self->dma_ms >= KC_MIN_DMA_MS) {
		/* Something submitted, nothing completed. */
		kc_block(_metadata, self);
		kc_queued_dma(_metadata, fd2, 0);
		EXPECT_EQ(-EAGAIN, kc_read(fd2, &ev, 1));
	}
	close(fd2);
}

TEST_F(kcancel, read_blocks_until_event)
{
	struct kcancel_event ev[4];
	unsigned int n;
	u64 id, t0;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	t0 = kc_now_ns();
	n = kc_block(_metadata, self);
	id = kc_queued_dma(_metadata, self->fd, 17);
	ASSERT_EQ(1, kc_read(self->fd, ev, 4));
	kc_expect_event(_metadata, &ev[0], id, 17, KCANCEL_OP_DMA_TO_DEV, 0,
			16);
	/* It waited for the DMAs ahead. */
	EXPECT_LE(n / self->parallel * self->dma_ms * NSEC_PER_MSEC,
		  kc_now_ns() - t0);
}

TEST_F(kcancel, read_bad_buffer)
{
	struct kcancel_event ev[2], *guarded;
	u64 ids[2];

	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 2, 0, &ids[0]));
	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 3, 1, &ids[1]));
	kc_sync(_metadata, self->fd, KCANCEL_OP_FACTORIAL);
	/* Both have completed if factorials run one at a time; else one. */
	ASSERT_EQ(POLLIN | POLLRDNORM, kc_poll(self->fd, 10000));
	/* read(2) itself, which the C library declares never gets NULL. */
	errno = 0;
	EXPECT_EQ(-1, syscall(SYS_read, self->fd, NULL, sizeof(ev)));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, syscall(SYS_read, self->fd, KC_KERNEL_ADDR, sizeof(ev)));
	EXPECT_EQ(EFAULT, errno);
	/* Room for one record before the guard page: one, the other stays. */
	guarded = kc_guarded(sizeof(ev), sizeof(ev[0]) + 8);
	ASSERT_NE(NULL, guarded);
	EXPECT_EQ((ssize_t)sizeof(ev[0]), read(self->fd, guarded, sizeof(ev)));
	ASSERT_EQ(1, kc_read(self->fd, &ev[1], 1));
	EXPECT_NE(guarded[0].id, ev[1].id);
	EXPECT_TRUE(guarded[0].id == ids[0] || guarded[0].id == ids[1]);
	EXPECT_TRUE(ev[1].id == ids[0] || ev[1].id == ids[1]);
	if (self->parallel == 1) {
		EXPECT_EQ(ids[0], guarded[0].id);
		EXPECT_EQ(ids[1], ev[1].id);
	}
	EXPECT_EQ(0, kc_poll(self->fd, 0));
}

TEST_F(kcancel, poll_wakeup)
{
	struct kcancel_event ev;
	u64 id;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	kc_block(_metadata, self);
	id = kc_queued_dma(_metadata, self->fd, 18);
	EXPECT_EQ(0, kc_poll(self->fd, 0));
	/* Asleep until the event comes. */
	EXPECT_EQ(POLLIN | POLLRDNORM, kc_poll(self->fd, 10000));
	ASSERT_EQ(1, kc_read(self->fd, &ev, 1));
	EXPECT_EQ(id, ev.id);
	EXPECT_EQ(0, kc_poll(self->fd, 0));
}

TEST_F(kcancel, poll_after_wait)
{
	struct kcancel_event ev;
	u64 id;

	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_DOORBELL, 19, 19, &id));
	EXPECT_EQ(POLLIN | POLLRDNORM, kc_poll(self->fd, 10000));
	ASSERT_EQ(0, kc_wait(self->fd, id, 0, &ev));
	/* Reaped by a wait: not readable any more. */
	EXPECT_EQ(0, kc_poll(self->fd, 0));
	EXPECT_EQ(-EAGAIN, kc_read_nb(self->fd, &ev, 1));
}

/* ---- files: close, other files, dup, fork, max_pending --------------- */

/*
 * close() cancels what the file has queued: a write to the device queued
 * behind the blockers never lands (close() waits for every request of the
 * file, so by then it would have).
 */
TEST_F(kcancel, close_with_pending)
{
	u8 before[16], queued[16], after[16];
	struct kcancel_submit s;
	struct kcancel_event ev;
	unsigned int i;
	int fd2, fd3;
	u64 mine;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	kc_fill(before, sizeof(before), 26);
	kc_fill(queued, sizeof(queued), 27);
	ASSERT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_TO_DEV, before,
				   sizeof(before), 64, 0, &mine));
	ASSERT_EQ(0, kc_wait(self->fd, mine, KCANCEL_WAIT_FOREVER, &ev));
	ASSERT_EQ(0, ev.status);
	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_DOORBELL, 20, 20, &mine));

	fd2 = kc_open(self, 0);
	ASSERT_LE(0, fd2);
	kc_block(_metadata, self);
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, kc_submit_dma(fd2, KCANCEL_OP_DMA_TO_DEV, queued,
					   sizeof(queued), 64, i, NULL));
		ASSERT_EQ(0, kc_submit(fd2, KCANCEL_OP_FACTORIAL, i, i, NULL));
		ASSERT_EQ(0, kc_submit(fd2, KCANCEL_OP_DOORBELL, i, i, NULL));
	}
	kc_valid_submit(&s);
	s.timeout_ns = 5 * NSEC_PER_SEC;
	ASSERT_EQ(0, kc_ioctl(fd2, KCANCEL_IOC_SUBMIT, &s));
	EXPECT_EQ(0, close(fd2));

	/* The device is fine, and so are the other files. */
	fd3 = kc_open(self, 0);
	ASSERT_LE(0, fd3);
	kc_valid_submit(&s);
	s.arg = 7;
	ASSERT_EQ(0, kc_submit_wait(fd3, &s, &ev));
	EXPECT_EQ(kc_fact[7], ev.result);
	memset(&s, 0, sizeof(s));
	s.op = KCANCEL_OP_DMA_FROM_DEV;
	s.buf = (uintptr_t)after;
	s.len = sizeof(after);
	s.offset = 64;
	ASSERT_EQ(0, kc_submit_wait(fd3, &s, &ev));
	EXPECT_EQ(0, ev.status);
	EXPECT_EQ(0, memcmp(before, after, sizeof(after)))
		TH_LOG("a write queued on the closed file reached the device");
	close(fd3);
	ASSERT_EQ(0, kc_wait(self->fd, mine, KCANCEL_WAIT_FOREVER, &ev));
	kc_expect_event(_metadata, &ev, mine, 20, KCANCEL_OP_DOORBELL, 0, 20);
}

TEST_F(kcancel, other_file_ids)
{
	struct kcancel_event ev;
	int fd2 = kc_open(self, 0);
	u64 theirs;

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, kc_submit(fd2, KCANCEL_OP_FACTORIAL, 3, 21, &theirs));
	ASSERT_EQ(POLLIN | POLLRDNORM, kc_poll(fd2, 10000));
	EXPECT_EQ(-ENOENT, kc_cancel(self->fd, theirs));
	EXPECT_EQ(-ENOENT, kc_wait(self->fd, theirs, 0, &ev));
	EXPECT_EQ(-ENOENT, kc_wait(self->fd, theirs, KCANCEL_WAIT_FOREVER,
				   &ev));
	/* Its event is not ours either. */
	EXPECT_EQ(0, kc_poll(self->fd, 0));
	ASSERT_EQ(0, kc_wait(fd2, theirs, 0, &ev));
	kc_expect_event(_metadata, &ev, theirs, 21, KCANCEL_OP_FACTORIAL, 0,
			kc_fact[3]);
	close(fd2);
}

TEST_F(kcancel, dup_shares_file)
{
	struct kcancel_event ev;
	int fd2 = dup(self->fd);
	u64 a, b;

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 4, 22, &a));
	ASSERT_EQ(0, kc_wait(fd2, a, KCANCEL_WAIT_FOREVER, &ev));
	kc_expect_event(_metadata, &ev, a, 22, KCANCEL_OP_FACTORIAL, 0,
			kc_fact[4]);
	/* Submitted through the copy, reaped through the original... */
	ASSERT_EQ(0, kc_submit(fd2, KCANCEL_OP_DOORBELL, 23, 23, &b));
	ASSERT_EQ(1, kc_read(self->fd, &ev, 1));
	kc_expect_event(_metadata, &ev, b, 23, KCANCEL_OP_DOORBELL, 0, 23);
	/* ...and closing one descriptor cancels nothing. */
	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_DOORBELL, 24, 24, &a));
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(1, kc_read(fd2, &ev, 1));
	kc_expect_event(_metadata, &ev, a, 24, KCANCEL_OP_DOORBELL, 0, 24);
	EXPECT_EQ(-ENOENT, kc_cancel(fd2, a));
	close(fd2);
}

/* What a child that reaps a DMA from the device gets to know. */
struct kc_reaper {
	int fd;
	u64 parents;	/* a factorial of 5 the parent submitted, or 0 */
	u64 dma_id;	/* the parent's DMA from the device */
	u8 *buf;	/* its buffer: the child's copy of it, at the same address */
	u32 len;
	bool by_read;	/* reap it with read(), else with KCANCEL_IOC_WAIT */
};

/*
 * The child's steps; it exits with the number of the first that failed,
 * 0 if none did.
 */
static int kc_reaper_child(void *arg)
{
	const struct kc_reaper *r = arg;
	struct kcancel_event ev[4];

	/* Its own copy of the buffer, which the DMA must leave as it is. */
	memset(r->buf, KC_SENTINEL, r->len + 16);
	if (r->parents &&
	    (kc_wait(r->fd, r->parents, KCANCEL_WAIT_FOREVER, ev) ||
	     ev[0].result != kc_fact[5]))
		return 1;
	if (r->by_read ? kc_read(r->fd, ev, ARRAY_SIZE(ev)) != 1 :
			 kc_wait(r->fd, r->dma_id, KCANCEL_WAIT_FOREVER, ev))
		return 2;
	if (ev[0].id != r->dma_id || ev[0].status || ev[0].result != r->len)
		return 3;
	/* The data went to the submitter's buffer, not to the reaper's. */
	if (!kc_is_filled(r->buf, KC_SENTINEL, r->len + 16))
		return 4;
	/* Submitted here, reaped by the parent after this child exits. */
	if (r->parents && kc_submit(r->fd, KCANCEL_OP_DOORBELL, 25, 25, NULL))
		return 5;
	return 0;
}

/* Write @len bytes of pattern @seed to the device at @off. */
static void kc_put_pattern(struct __test_metadata *_metadata, int fd,
			   u8 *pattern, u32 len, u32 off, u32 seed)
{
	struct kcancel_event ev;
	u64 id;

	kc_fill(pattern, len, seed);
	ASSERT_EQ(0, kc_submit_dma(fd, KCANCEL_OP_DMA_TO_DEV, pattern, len,
				   off, 0, &id));
	ASSERT_EQ(0, kc_wait(fd, id, KCANCEL_WAIT_FOREVER, &ev));
	ASSERT_EQ(0, ev.status);
}

/*
 * A child shares the file: it reaps what its parent submitted, with
 * KCANCEL_IOC_WAIT. The data of a DMA from the device lands in the
 * submitter's buffer, the parent's; the child's copy of it, at the same
 * address, is not touched.
 */
TEST_F(kcancel, fork_shares_file)
{
	struct kc_reaper r = { .fd = self->fd, .len = 32 };
	struct kcancel_event ev;
	u8 pattern[32];
	int status;

	r.buf = kc_page_buf();
	ASSERT_NE(NULL, r.buf);
	kc_put_pattern(_metadata, self->fd, pattern, sizeof(pattern), 256, 25);
	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_FACTORIAL, 5, 0,
			       &r.parents));
	ASSERT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_FROM_DEV, r.buf,
				   r.len, 256, 0, &r.dma_id));
	ASSERT_LT(0, kc_fork(self, kc_reaper_child, &r));
	status = kc_reap(self);
	EXPECT_EQ(0, memcmp(r.buf, pattern, sizeof(pattern)))
		TH_LOG("the data did not reach the submitter's buffer");
	EXPECT_TRUE(kc_is_filled(r.buf + r.len, 0, 16));
	ASSERT_EQ(0, kc_child_step(status))
		TH_LOG("the child failed at step %d", kc_child_step(status));
	/* The child reaped them. */
	EXPECT_EQ(-ENOENT, kc_wait(self->fd, r.parents, 0, &ev));
	EXPECT_EQ(-ENOENT, kc_wait(self->fd, r.dma_id, 0, &ev));
	/* The child's request outlives the child. */
	ASSERT_EQ(1, kc_read(self->fd, &ev, 1));
	kc_expect_event(_metadata, &ev, ev.id, 25, KCANCEL_OP_DOORBELL, 0, 25);
}

/*
 * The same with read(), and the DMA still queued when the child starts: it
 * completes while the child's read() waits for it.
 */
TEST_F(kcancel, fork_reaper_read)
{
	struct kc_reaper r = { .fd = self->fd, .len = 64, .by_read = true };
	u8 pattern[64];
	int status;

	r.buf = kc_page_buf();
	ASSERT_NE(NULL, r.buf);
	kc_put_pattern(_metadata, self->fd, pattern, sizeof(pattern), 1280, 26);
	if (self->dma_ms >= KC_MIN_DMA_MS)
		kc_block(_metadata, self);
	ASSERT_EQ(0, kc_submit_dma(self->fd, KCANCEL_OP_DMA_FROM_DEV, r.buf,
				   r.len, 1280, 0, &r.dma_id));
	ASSERT_LT(0, kc_fork(self, kc_reaper_child, &r));
	status = kc_reap(self);
	EXPECT_EQ(0, kc_child_step(status))
		TH_LOG("the child failed at step %d", kc_child_step(status));
	EXPECT_EQ(0, memcmp(r.buf, pattern, sizeof(pattern)))
		TH_LOG("the data did not reach the submitter's buffer");
	EXPECT_TRUE(kc_is_filled(r.buf + r.len, 0, 16));
	EXPECT_EQ(0, kc_poll(self->fd, 0));
}

/* Send @fd and @id over the unix socket @sock; 0 or -errno. */
static int kc_send_fd(int sock, int fd, u64 id)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &id, .iov_len = sizeof(id) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == sizeof(id) ? 0 : -errno;
}

/* Receive a descriptor and an id sent with kc_send_fd(); the fd or -1. */
static int kc_recv_fd(int sock, u64 *id)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = id, .iov_len = sizeof(*id) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != sizeof(*id))
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* What the child of scm_rights_shares_file has. */
struct kc_scm {
	int sock;
	u8 *mine;	/* the parent's DMA buffer; the child's copy of it */
	u8 *theirs;	/* the child's DMA buffers; the parent's copy of them */
	const u8 *pattern;	/* what the device holds at 1536 */
};

/*
 * The child gets the file from its parent over a unix socket (it did not
 * inherit it). It reaps the parent's DMA from the device, which must not
 * touch its own copy of the buffer; then submits two DMAs from the device
 * into its own memory: it sees the data of the first land before the
 * event is read, and exits while the second may still run. It leaves
 * both events to the parent. It exits with the step that failed, 0 if
 * none did.
 */
static int kc_scm_child(void *arg)
{
	const struct kc_scm *c = arg;
	struct kcancel_event ev;
	int fd;
	u64 id;

	memset(c->mine, KC_SENTINEL, 64);
	fd = kc_recv_fd(c->sock, &id);
	if (fd < 0)
		return 1;
	if (kc_read(fd, &ev, 1) != 1)
		return 2;
	if (ev.id != id || ev.status || ev.result != 64)
		return 3;
	if (!kc_is_filled(c->mine, KC_SENTINEL, 64))
		return 4;
	memset(c->theirs, 0, 128);
	if (kc_submit_dma(fd, KCANCEL_OP_DMA_FROM_DEV, c->theirs, 64, 1536, 1,
			  NULL))
		return 5;
	if (kc_poll(fd, 10000) != (POLLIN | POLLRDNORM))
		return 6;
	if (memcmp(c->theirs, c->pattern, 64))
		return 7;
	if (kc_submit_dma(fd, KCANCEL_OP_DMA_FROM_DEV, c->theirs + 64, 64, 1536,
			  2, NULL))
		return 8;
	return 0;
}

/*
 * A file passed to another process with SCM_RIGHTS: each process's DMA
 * from the device lands in its own memory, whichever process reaps the
 * event, and even after the submitter has exited.
 */
TEST_F(kcancel, scm_rights_shares_file)
{
	struct kc_scm c = { 0 };
	struct kcancel_event ev[2];
	u8 pattern[64];
	int sv[2], fd2, status;
	unsigned int i;
	u64 id;

	c.mine = kc_page_buf();
	c.theirs = kc_page_buf();
	c.pattern = pattern;
	ASSERT_NE(NULL, c.mine);
	ASSERT_NE(NULL, c.theirs);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		/*
		 * The debug test kernel is built without networking; Debian's
		 * kernels run this test.  Sockets are not what is tested here.
		 */
		SKIP(return, "no AF_UNIX socket pair: %s", strerror(errno));
	}
	kc_put_pattern(_metadata, self->fd, pattern, sizeof(pattern), 1536, 27);
	c.sock = sv[1];
	/* Before the file is opened: the child gets it only by the socket. */
	ASSERT_LT(0, kc_fork(self, kc_scm_child, &c));
	fd2 = kc_open(self, 0);
	ASSERT_LE(0, fd2);
	memset(c.theirs, KC_SENTINEL, 128);
	if (self->dma_ms >= KC_MIN_DMA_MS)
		kc_block(_metadata, self);
	ASSERT_EQ(0, kc_submit_dma(fd2, KCANCEL_OP_DMA_FROM_DEV, c.mine, 64,
				   1536, 0, &id));
	ASSERT_EQ(0, kc_send_fd(sv[0], fd2, id));
	status = kc_reap(self);
	EXPECT_EQ(0, memcmp(c.mine, pattern, sizeof(pattern)))
		TH_LOG("the data did not reach the submitter's buffer");
	ASSERT_EQ(0, kc_child_step(status))
		TH_LOG("the child failed at step %d", kc_child_step(status));
	/* The child's two requests; its data never comes here. */
	ASSERT_EQ(0, kc_read_all(fd2, ev, 2));
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(i + 1, ev[i].tag);
		EXPECT_EQ(0, ev[i].status);
		EXPECT_EQ(64U, ev[i].result);
	}
	EXPECT_TRUE(kc_is_filled(c.theirs, KC_SENTINEL, 128));
	EXPECT_EQ(0, kc_poll(fd2, 0));
	close(fd2);
	close(sv[0]);
	close(sv[1]);
}

TEST_F(kcancel, max_pending)
{
	unsigned int max = self->info.max_pending, i;
	struct kcancel_event ev;
	u64 first = 0, id;
	int fd2;

	if (max > 65536)
		SKIP(return, "max_pending is %u: too many to fill", max);
	fd2 = kc_open(self, 0);
	ASSERT_LE(0, fd2);
	/* DMAs: all but the first few stay queued, and are quick to cancel. */
	for (i = 0; i < max; i++) {
		ASSERT_EQ(0, kc_submit_dma(fd2, KCANCEL_OP_DMA_FROM_DEV,
					   kc_scratch, 1, 0, i,
					   i ? NULL : &first))
			TH_LOG("submit %u of %u", i + 1, max);
	}
	EXPECT_EQ(-EAGAIN, kc_submit(fd2, KCANCEL_OP_DOORBELL, 0, 0, NULL));
	EXPECT_EQ(-EAGAIN, kc_submit_dma(fd2, KCANCEL_OP_DMA_FROM_DEV,
					 kc_scratch, 1, 0, 0, NULL));
	/* Another file has room of its own. */
	ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_DOORBELL, 1, 0, &id));
	/* Reaping one makes room for one. */
	ASSERT_EQ(0, kc_wait(fd2, first, KCANCEL_WAIT_FOREVER, &ev));
	EXPECT_EQ(0, ev.status);
	EXPECT_EQ(0, kc_submit(fd2, KCANCEL_OP_DOORBELL, 0, 0, &id));
	EXPECT_EQ(-EAGAIN, kc_submit(fd2, KCANCEL_OP_DOORBELL, 0, 0, NULL));
	/* A completed event counts until it is reaped. */
	ASSERT_EQ(POLLIN | POLLRDNORM, kc_poll(fd2, 10000));
	EXPECT_EQ(-EAGAIN, kc_submit(fd2, KCANCEL_OP_DOORBELL, 0, 0, NULL));
	ASSERT_EQ(1, kc_read(fd2, &ev, 1));
	EXPECT_EQ(0, kc_submit(fd2, KCANCEL_OP_DOORBELL, 0, 0, NULL));
	close(fd2);
}

/* A number from the first line of @path, as a u64; 0 or -errno. */
static int kc_read_u64(const char *path, u64 *v)
{
	char buf[32], *end;
	unsigned long long n;
	int ret = kc_read_line(path, buf, sizeof(buf));

	if (ret)
		return ret;
	errno = 0;
	n = strtoull(buf, &end, 10);
	if (end == buf || *end || errno)
		return -EINVAL;
	*v = n;
	return 0;
}

/* Is @word one of the words of the line @line? */
static bool kc_has_word(const char *line, const char *word)
{
	size_t len = strlen(word);
	const char *p;

	for (p = strstr(line, word); p; p = strstr(p + 1, word)) {
		if ((p == line || p[-1] == ' ') &&
		    (p[len] == ' ' || p[len] == '\0'))
			return true;
	}
	return false;
}

/*
 * A cgroup v2 of its own with the memory controller, as self->cgroup:
 * mounts cgroup2 on KC_CGROUP_ROOT if nothing is mounted there, enables
 * the memory controller for the root's children if it is not. 0, or why
 * not in @why. kc_memcg_cleanup() undoes it.
 */
static int kc_memcg_setup(KC_FIXTURE *self, char *why, size_t whysz)
{
	char line[256], cmdline[4096];
	struct statfs sfs;
	int ret;

	if (geteuid()) {
		snprintf(why, whysz, "needs root: it moves a process into a cgroup");
		return -EPERM;
	}
	if (!kc_read_line("/proc/cmdline", cmdline, sizeof(cmdline)) &&
	    strstr(cmdline, "cgroup.memory=nokmem")) {
		snprintf(why, whysz,
			 "cgroup.memory=nokmem: kernel memory is not charged to memory cgroups");
		return -EOPNOTSUPP;
	}
	if (statfs(KC_CGROUP_ROOT, &sfs)) {
		snprintf(why, whysz, "no %s: %s (CONFIG_CGROUPS?)",
			 KC_CGROUP_ROOT, strerror(errno));
		return -ENOENT;
	}
	if (sfs.f_type == SYSFS_MAGIC) {
		if (mount("cgroup2", KC_CGROUP_ROOT, "cgroup2", 0, NULL)) {
			snprintf(why, whysz, "cannot mount cgroup2 on %s: %s",
				 KC_CGROUP_ROOT, strerror(errno));
			return -errno;
		}
		self->cg_mounted = true;
	} else if (sfs.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(why, whysz,
			 "%s is not cgroup v2 (a cgroup v1 hierarchy?): this test needs v2 there",
			 KC_CGROUP_ROOT);
		return -EOPNOTSUPP;
	}
	if (kc_read_line(KC_CGROUP_ROOT "/cgroup.controllers", line,
			 sizeof(line)) || !kc_has_word(line, "memory")) {
		snprintf(why, whysz,
			 "cgroup v2 has no memory controller (CONFIG_MEMCG, cgroup_disable=memory, or it is bound to cgroup v1)");
		return -EOPNOTSUPP;
	}
	if (kc_read_line(KC_CGROUP_ROOT "/cgroup.subtree_control", line,
			 sizeof(line)))
		line[0] = '\0';
	if (!kc_has_word(line, "memory")) {
		ret = kc_write_sysfs(KC_CGROUP_ROOT "/cgroup.subtree_control",
				     "+memory");
		if (ret) {
			snprintf(why, whysz,
				 "cannot enable the memory controller in %s/cgroup.subtree_control: %s",
				 KC_CGROUP_ROOT, strerror(-ret));
			return ret;
		}
		self->cg_enabled = true;
	}
	snprintf(self->cgroup, sizeof(self->cgroup), "%s/kcancel-selftest.%d",
		 KC_CGROUP_ROOT, getpid());
	if (mkdir(self->cgroup, 0755)) {
		ret = -errno;
		snprintf(why, whysz, "cannot create a cgroup in %s: %s",
			 KC_CGROUP_ROOT, strerror(errno));
		self->cgroup[0] = '\0';
		return ret;
	}
	return 0;
}

/* Undo kc_memcg_setup(), once the cgroup has no process left. */
static void kc_memcg_cleanup(KC_FIXTURE *self)
{
	unsigned int i;

	if (self->cgroup[0]) {
		/* It may take a moment for an exited process to leave it. */
		for (i = 0; i < 100 && rmdir(self->cgroup) && errno == EBUSY;
		     i++)
			kc_sleep_ms(10);
		self->cgroup[0] = '\0';
	}
	if (self->cg_enabled) {
		kc_write_sysfs(KC_CGROUP_ROOT "/cgroup.subtree_control",
			       "-memory");
		self->cg_enabled = false;
	}
	if (self->cg_mounted) {
		umount(KC_CGROUP_ROOT);
		self->cg_mounted = false;
	}
}

/* DMAs submit_memcg_charged keeps queued, at most. */
#define KC_MEMCG_REQUESTS	2048U
/* What a request costs the kernel, at the least, besides its DMA buffer. */
#define KC_REQUEST_BYTES	320U

/* What the child of submit_memcg_charged is told, and tells. */
struct kc_memcg_child {
	const char *path;
	int in;		/* one byte: go on */
	int out;	/* an int: 0 or -errno, after each step */
	u8 *buf;
	u32 len;
	unsigned int n;
};

static int kc_memcg_say(const struct kc_memcg_child *c, int what)
{
	return write(c->out, &what, sizeof(what)) == sizeof(what) ? 0 : -1;
}

static int kc_memcg_wait(const struct kc_memcg_child *c)
{
	char go;

	return read(c->in, &go, 1) == 1 ? 0 : -1;
}

/* What the child said on @fd: 0 or -errno; -EPIPE if it said nothing. */
static int kc_memcg_hear(int fd)
{
	int said;

	return read(fd, &said, sizeof(said)) == sizeof(said) ? said : -EPIPE;
}

/*
 * In its cgroup: open the device, fault in the buffer, then, when told,
 * submit n DMAs to the device that stay queued, and wait until told to
 * exit (which closes the file, cancelling them).
 */
static int kc_memcg_child_fn(void *arg)
{
	const struct kc_memcg_child *c = arg;
	struct kcancel_submit s = {
		.op = KCANCEL_OP_DMA_TO_DEV,
		.buf = (uintptr_t)c->buf,
		.len = c->len,
	};
	unsigned int i;
	int fd;

	if (kc_memcg_wait(c))
		return 1;
	fd = open(c->path, O_RDWR | O_CLOEXEC);
	memset(c->buf, 0x3c, c->len);
	if (kc_memcg_say(c, fd < 0 ? -errno : 0) || fd < 0)
		return 2;
	if (kc_memcg_wait(c))
		return 3;
	for (i = 0; i < c->n; i++) {
		s.tag = i;
		if (ioctl(fd, KCANCEL_IOC_SUBMIT, &s))
			break;
	}
	if (kc_memcg_say(c, i < c->n ? -errno : 0) || kc_memcg_wait(c))
		return 4;
	close(fd);
	return 0;
}

/*
 * The kernel memory of a file's requests (each request's structure and its
 * DMA buffer) is charged to the memory cgroup of the process that submits
 * them: a child in a cgroup of its own submits DMAs that stay queued, and
 * the cgroup's memory.current grows by about what they take.
 */
TEST_F(kcancel, submit_memcg_charged)
{
	struct kc_memcg_child c = { .path = self->path };
	char why[256], path[PATH_MAX + 32], pid[16];
	int to_child[2], to_parent[2], said, ret;
	u64 before, after, want;

	c.len = self->info.dma_size;
	c.n = KC_MEMCG_REQUESTS;
	if (c.n > self->info.max_pending)
		c.n = self->info.max_pending;
	if (kc_memcg_setup(self, why, sizeof(why)))
		SKIP(return, "%s", why);
	c.buf = kc_page_buf();
	ASSERT_NE(NULL, c.buf);
	ASSERT_EQ(0, pipe2(to_child, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(to_parent, O_CLOEXEC));
	c.in = to_child[0];
	c.out = to_parent[1];
	/* A child that is gone makes a write fail, not the test. */
	signal(SIGPIPE, SIG_IGN);
	ASSERT_LT(0, kc_fork(self, kc_memcg_child_fn, &c));
	close(to_child[0]);
	close(to_parent[1]);
	snprintf(path, sizeof(path), "%s/cgroup.procs", self->cgroup);
	snprintf(pid, sizeof(pid), "%d", self->child);
	ret = kc_write_sysfs(path, pid);
	if (ret)
		SKIP(return, "cannot move a process into %s: %s", self->cgroup,
		     strerror(-ret));
	ASSERT_EQ(1, write(to_child[1], "g", 1));
	said = kc_memcg_hear(to_parent[0]);
	ASSERT_EQ(0, said) TH_LOG("the child cannot open %s", self->path);
	snprintf(path, sizeof(path), "%s/memory.current", self->cgroup);
	ASSERT_EQ(0, kc_read_u64(path, &before));
	ASSERT_EQ(1, write(to_child[1], "s", 1));
	said = kc_memcg_hear(to_parent[0]);
	ASSERT_EQ(0, said) TH_LOG("a submit of the child failed: %s",
				  strerror(-said));
	ASSERT_EQ(0, kc_read_u64(path, &after));
	ASSERT_EQ(1, write(to_child[1], "x", 1));
	ret = kc_reap(self);
	EXPECT_EQ(0, kc_child_step(ret));
	close(to_child[1]);
	close(to_parent[0]);

	want = (u64)c.n * (c.len + KC_REQUEST_BYTES) * 3 / 4;
	TH_LOG("memory.current: %llu before, %llu after %u requests of %u bytes",
	       before, after, c.n, c.len);
	EXPECT_LE(want, after > before ? after - before : 0)
		TH_LOG("expected it to grow by %llu bytes at least", want);
}

/* ---- the device: interrupts and removal ------------------------------ */

/* The kcancel line of /proc/interrupts: its total count and whether MSI. */
static int kc_irq_line(unsigned long long *count, bool *msi)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[1024], *p, *end;
	int found = -ENOENT;
	size_t len;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		len = strcspn(line, "\n");
		line[len] = '\0';
		if (len < 8 || strcmp(line + len - 8, " kcancel"))
			continue;
		*count = 0;
		p = strchr(line, ':');
		if (!p)
			continue;
		/* The per-CPU counts, up to the chip's name. */
		for (p++;; p = end) {
			unsigned long long n = strtoull(p, &end, 10);

			if (end == p)
				break;
			*count += n;
		}
		*msi = strstr(p, "MSI");
		found = 0;
		break;
	}
	fclose(f);
	return found;
}

TEST_F(kcancel, irq_mode)
{
	char path[PATH_MAX + 32], intx[8];
	unsigned long long before, after;
	struct kcancel_event ev;
	bool msi, want_msi;
	struct stat st;
	unsigned int i;
	u64 id;

	if (variant->id != KCANCEL_BACKEND_EDU)
		SKIP(return, "the software device has no interrupt");
	ASSERT_EQ(0, kc_read_line(KC_SYSFS_PARAMS "/intx", intx, sizeof(intx)));
	want_msi = strcmp(intx, "Y");
	/* The PCI core lists the MSI vectors in use, none with INTx. */
	snprintf(path, sizeof(path), "%s/device/msi_irqs", self->sys);
	EXPECT_EQ(want_msi, !stat(path, &st))
		TH_LOG("intx=%s, yet %s %s", intx, path,
		       want_msi ? "is missing" : "exists");
	ASSERT_EQ(0, kc_irq_line(&before, &msi))
		TH_LOG("no kcancel line in /proc/interrupts");
	EXPECT_EQ(want_msi, msi) TH_LOG("intx=%s", intx);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, kc_submit(self->fd, KCANCEL_OP_DOORBELL, i, 0,
				       &id));
		ASSERT_EQ(0, kc_wait(self->fd, id, KCANCEL_WAIT_FOREVER, &ev));
	}
	/* That interrupt is the one that served them. */
	ASSERT_EQ(0, kc_irq_line(&after, &msi));
	EXPECT_LT(before, after);
}

static void kc_bind_again(KC_FIXTURE *self)
{
	if (!kc_write_sysfs(self->bind, self->pci_addr))
		self->unbound = false;
}

struct kc_poll_thread {
	int fd;
	int revents;
};

static void *kc_poll_thread_fn(void *arg)
{
	struct kc_poll_thread *t = arg;

	t->revents = kc_poll(t->fd, 20000);
	return NULL;
}

/*
 * Unbind the edu device from the driver with requests queued and in
 * flight, then bind it again. Last of the edu tests: the device is gone
 * for a moment.
 */
TEST_F(kcancel, device_removal)
{
	char path[PATH_MAX + 32], drv[PATH_MAX], *base;
	struct kc_poll_thread pt = { .revents = -1 };
	struct kcancel_event ev[8];
	struct kcancel_submit s;
	u64 queued[4], first;
	unsigned int i;
	pthread_t th;
	int fd2, ret;

	if (variant->id != KCANCEL_BACKEND_EDU)
		SKIP(return, "software devices go only with the module");
	snprintf(path, sizeof(path), "%s/device", self->sys);
	ASSERT_NE(NULL, realpath(path, drv));
	base = strrchr(drv, '/');
	ASSERT_NE(NULL, base);
	snprintf(self->pci_addr, sizeof(self->pci_addr), "%s", base + 1);
	snprintf(path, sizeof(path), "%s/device/driver", self->sys);
	ASSERT_NE(NULL, realpath(path, drv));
	snprintf(self->bind, sizeof(self->bind), "%s/bind", drv);

	fd2 = kc_open(self, 0);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, kc_submit_dma(fd2, KCANCEL_OP_DMA_FROM_DEV, kc_scratch, 1,
				   0, 0, &first));
	for (i = 0; i < ARRAY_SIZE(queued); i++)
		queued[i] = kc_queued_dma(_metadata, fd2, i + 1);
	/* A poller of a file with nothing to wait for: hung up. */
	pt.fd = self->fd;
	ASSERT_EQ(0, pthread_create(&th, NULL, kc_poll_thread_fn, &pt));

	snprintf(path, sizeof(path), "%s/unbind", drv);
	self->unbound = true;
	ASSERT_EQ(0, kc_write_sysfs(path, self->pci_addr));
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(POLLHUP, pt.revents);

	/* Every request completed: the queued ones with -ENODEV. */
	ASSERT_EQ(0, kc_read_all(fd2, ev, 1 + ARRAY_SIZE(queued)));
	for (i = 0; i <= ARRAY_SIZE(queued); i++) {
		if (ev[i].id == first) {
			EXPECT_TRUE(ev[i].status == 0 ||
				    ev[i].status == -ENODEV);
			continue;
		}
		ASSERT_TRUE(ev[i].tag >= 1 && ev[i].tag <= ARRAY_SIZE(queued));
		EXPECT_EQ(queued[ev[i].tag - 1], ev[i].id);
		EXPECT_EQ(-ENODEV, ev[i].status);
	}
	/* Nothing new; the end of the file; hung up. */
	kc_valid_submit(&s);
	EXPECT_EQ(-ENODEV, kc_ioctl(fd2, KCANCEL_IOC_SUBMIT, &s));
	EXPECT_EQ(0, kc_read(fd2, ev, 1));
	EXPECT_EQ(POLLHUP, kc_poll(fd2, 0));
	EXPECT_EQ(-ENOENT, kc_cancel(fd2, first));
	close(fd2);
	EXPECT_EQ(-1, open(self->path, O_RDWR | O_CLOEXEC));

	/* Back again, and it works. */
	kc_bind_again(self);
	ASSERT_FALSE(self->unbound);
	ASSERT_EQ(0, kc_find_device("edu", self->path, self->sys, path,
				    sizeof(path)));
	fd2 = kc_open(self, 0);
	ASSERT_LE(0, fd2);
	kc_valid_submit(&s);
	s.arg = 12;
	ret = kc_submit_wait(fd2, &s, ev);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(kc_fact[12], ev[0].result);
	close(fd2);
}

/* ---- io_uring commands ------------------------------------------------ */

/* What a test keeps of a CQE. */
struct kc_cqe {
	u64 user_data;
	s32 res;
	u64 res2;	/* big_cqe[0] on a CQE32 ring, else 0 */
};

/*
 * Set @ring up for kcancel's commands, with 128-byte SQEs and 32-byte CQEs
 * if @big. 0, or the reason to skip in @why: the module has no io_uring
 * commands (a kernel before 6.7), or io_uring cannot be set up here (off,
 * or kernel.io_uring_disabled).
 */
static int kc_uring_init(KC_FIXTURE *self, struct io_uring *ring,
			 unsigned int entries, bool big, char *why, size_t size)
{
	struct io_uring_params p = { 0 };
	int ret;

	if (!(self->info.features & KCANCEL_FEATURE_URING_CMD)) {
		snprintf(why, size,
			 "%s has no io_uring commands: the module was built for a kernel without cancelable io_uring commands (6.7 on) or without io_uring",
			 self->path);
		return -EOPNOTSUPP;
	}
	if (big)
		p.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32;
	ret = io_uring_queue_init_params(entries, ring, &p);
	if (ret)
		snprintf(why, size, "io_uring_setup: %s", strerror(-ret));
	return ret;
}

/* The size of a skip reason of kc_uring_init(). */
#define KC_WHY			(KC_PATH + 160)

/*
 * Queue one command on @ring: @len bytes of @payload in sqe->cmd (at most
 * what the ring's SQE holds). Not submitted yet. The SQE, or NULL if the
 * submission queue is full.
 */
static struct io_uring_sqe *kc_uring_prep(struct io_uring *ring, int fd,
					  u32 cmd_op, const void *payload,
					  size_t len, u64 user_data)
{
	bool big = ring->flags & IORING_SETUP_SQE128;
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	size_t room = (big ? 128 : 64) - offsetof(struct io_uring_sqe, cmd);

	if (!sqe)
		return NULL;
	memset(sqe, 0, big ? 128 : 64);
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = cmd_op;
	memcpy(sqe->cmd, payload, len < room ? len : room);
	io_uring_sqe_set_data64(sqe, user_data);
	return sqe;
}

/* Submit what is queued: how many, or -errno. */
static int kc_uring_go(struct io_uring *ring)
{
	return io_uring_submit(ring);
}

/* Queue and submit one command. 0 or -errno. */
static int kc_uring_cmd(struct io_uring *ring, int fd, u32 cmd_op,
			const void *payload, size_t len, u64 user_data)
{
	int ret;

	if (!kc_uring_prep(ring, fd, cmd_op, payload, len, user_data))
		return -EBUSY;
	ret = kc_uring_go(ring);
	return ret == 1 ? 0 : ret < 0 ? ret : -EIO;
}

/*
 * Reap @n CQEs into @out, waiting up to @ms for each. How many were reaped:
 * fewer than @n when one did not come in time.
 */
static unsigned int kc_uring_reap(struct io_uring *ring, struct kc_cqe *out,
				  unsigned int n, unsigned int ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000LL,
	};
	struct io_uring_cqe *cqe;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (io_uring_wait_cqe_timeout(ring, &cqe, &ts))
			break;
		out[i].user_data = cqe->user_data;
		out[i].res = cqe->res;
		out[i].res2 = ring->flags & IORING_SETUP_CQE32 ?
			      cqe->big_cqe[0] : 0;
		io_uring_cqe_seen(ring, cqe);
	}
	return i;
}

/* The CQE of @user_data among @n, or NULL. */
static const struct kc_cqe *kc_cqe_of(const struct kc_cqe *c, unsigned int n,
				      u64 user_data)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (c[i].user_data == user_data)
			return &c[i];
	}
	return NULL;
}

/* No CQE comes within @ms. */
static bool kc_uring_quiet(struct io_uring *ring, unsigned int ms)
{
	struct kc_cqe c;

	return !kc_uring_reap(ring, &c, 1, ms);
}

/*
 * The device's debugfs "stats" (see docs/ABI/testing/debugfs-kcancel), open
 * for reading; NULL, errno set, when debugfs does not show it.
 */
static FILE *kc_stats_open(KC_FIXTURE *self)
{
	char path[PATH_MAX];
	const char *dev = strrchr(self->path, '/');

	snprintf(path, sizeof(path), "/sys/kernel/debug/kcancel/%s/stats",
		 dev ? dev + 1 : self->path);
	return fopen(path, "r");
}

/*
 * The device's debugfs counters of @op: its completions with status 0 and
 * -ECANCELED, and all of them. 0, or -errno when debugfs does not show them.
 */
static int kc_op_stats(KC_FIXTURE *self, const char *op, u64 *ok,
		       u64 *canceled, u64 *all)
{
	char line[256], name[32];
	unsigned long long v[6];
	int ret = -ENOENT;
	FILE *f = kc_stats_open(self);

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line,
			   "%31s ok %llu canceled %llu timedout %llu nodev %llu io %llu other %llu",
			   name, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 7 ||
		    strcmp(name, op))
			continue;
		*ok = v[0];
		*canceled = v[1];
		*all = v[0] + v[1] + v[2] + v[3] + v[4] + v[5];
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

/* Wait up to @ms for the device's in_flight to reach 0: 0 or -ETIMEDOUT. */
static int kc_wait_idle(KC_FIXTURE *self, unsigned int ms)
{
	char path[PATH_MAX];
	unsigned int v = 1;
	u64 end = kc_now_ns() + ms * NSEC_PER_MSEC;

	snprintf(path, sizeof(path), "%s/in_flight", self->sys);
	while (!kc_read_uint(path, &v) && v) {
		if (kc_now_ns() > end)
			return -ETIMEDOUT;
		kc_sleep_ms(10);
	}
	return v ? -EIO : 0;
}

/*
 * The device's debugfs counter @name (a "name value" line of stats). 0, or
 * -errno when debugfs does not show it.
 */
static int kc_dev_counter(KC_FIXTURE *self, const char *name, u64 *v)
{
	char line[256], key[32];
	unsigned long long n;
	int ret = -ENOENT;
	FILE *f = kc_stats_open(self);

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%31s %llu", key, &n) != 2 || strcmp(key, name))
			continue;
		*v = n;
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

/* Whether the boolean module parameter @name reads N. */
static bool kc_param_is_off(const char *name)
{
	char path[PATH_MAX], c = 0;
	FILE *f;

	snprintf(path, sizeof(path), KC_SYSFS_PARAMS "/%s", name);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fread(&c, 1, 1, f) != 1)
		c = 0;
	fclose(f);
	return c == 'N';
}

#define KC_WAITER_ROUNDS	50ULL

/*
 * A KCANCEL_IOC_SUBMIT_WAIT caller is the device's waiter: the interrupt of
 * its request hands the status bit to it, and it runs the DPC itself
 * instead of waking the DPC thread (debugfs: waiter_bits). Each doorbell's
 * bit is counted once; a stray bit (spurious_bits) may be taken too.
 */
TEST_F(kcancel, submit_wait_runs_dpc)
{
	u64 bits[2], stray[2];
	struct kcancel_submit s;
	struct kcancel_event done;
	unsigned int i, lat = 0;

	if (self->info.backend == KCANCEL_BACKEND_SIM &&
	    (kc_read_uint(KC_SYSFS_PARAMS "/sim_latency_us", &lat) || !lat))
		SKIP(return, "sim_latency_us=0: operations may end with no interrupt");
	if (kc_param_is_off("waiter_dpc"))
		SKIP(return, "waiter_dpc=N: the DPC thread takes every bit");
	if (kc_dev_counter(self, "waiter_bits", &bits[0]) ||
	    kc_dev_counter(self, "spurious_bits", &stray[0]))
		SKIP(return, "no debugfs counters");
	for (i = 0; i < KC_WAITER_ROUNDS; i++) {
		memset(&s, 0, sizeof(s));
		s.op = KCANCEL_OP_DOORBELL;
		s.arg = 0x5000 + i;
		s.tag = i;
		ASSERT_EQ(0, kc_submit_wait(self->fd, &s, &done));
		kc_expect_event(_metadata, &done, s.id, i, KCANCEL_OP_DOORBELL,
				0, 0x5000 + i);
	}
	ASSERT_EQ(0, kc_dev_counter(self, "waiter_bits", &bits[1]));
	ASSERT_EQ(0, kc_dev_counter(self, "spurious_bits", &stray[1]));
	EXPECT_LE(KC_WAITER_ROUNDS, bits[1] - bits[0])
		TH_LOG("the waiter took %llu bits of %llu doorbells",
		       (unsigned long long)(bits[1] - bits[0]),
		       KC_WAITER_ROUNDS);
	EXPECT_GE(KC_WAITER_ROUNDS + stray[1] - stray[0], bits[1] - bits[0]);
}

TEST_F(kcancel, uring_submit_results)
{
	char why[KC_WHY];
	u8 data[16], back[16];
	struct kcancel_submit s[4];
	const u64 want[4] = { kc_fact[5], 0xabcdef0123ULL, 16, 16 };
	struct io_uring ring;
	struct kc_cqe c[4];
	const struct kc_cqe *e;
	unsigned int i;

	if (kc_uring_init(self, &ring, 8, true, why, sizeof(why)))
		SKIP(return, "%s", why);
	kc_fill(data, sizeof(data), 7);
	memset(back, 0, sizeof(back));
	memset(s, 0, sizeof(s));
	s[0].op = KCANCEL_OP_FACTORIAL;
	s[0].arg = 5;
	s[1].op = KCANCEL_OP_DOORBELL;
	s[1].arg = want[1];
	s[2].op = KCANCEL_OP_DMA_TO_DEV;
	s[2].buf = (uintptr_t)data;
	s[2].len = sizeof(data);
	s[2].offset = 64;
	s[3].op = KCANCEL_OP_DMA_FROM_DEV;
	s[3].buf = (uintptr_t)back;
	s[3].len = sizeof(back);
	s[3].offset = 64;
	/* The read after the write has completed. */
	for (i = 0; i < 3; i++)
		ASSERT_NE(NULL, kc_uring_prep(&ring, self->fd,
					      KCANCEL_URING_CMD_SUBMIT, &s[i],
					      sizeof(s[i]), 100 + i));
	ASSERT_EQ(3, kc_uring_go(&ring));
	ASSERT_EQ(3U, kc_uring_reap(&ring, c, 3, 10000));
	ASSERT_EQ(0, kc_uring_cmd(&ring, self->fd, KCANCEL_URING_CMD_SUBMIT,
				  &s[3], sizeof(s[3]), 103));
	ASSERT_EQ(1U, kc_uring_reap(&ring, &c[3], 1, 10000));
	for (i = 0; i < 4; i++) {
		e = kc_cqe_of(c, 4, 100 + i);
		ASSERT_NE(NULL, e) TH_LOG("no CQE for op %u", s[i].op);
		EXPECT_EQ(0, e->res) TH_LOG("op %u", s[i].op);
		EXPECT_EQ(want[i], e->res2) TH_LOG("op %u", s[i].op);
	}
	EXPECT_EQ(0, memcmp(data, back, sizeof(back)));
	/* Exactly one CQE each, and nothing for read(). */
	EXPECT_TRUE(kc_uring_quiet(&ring, 100));
	kc_expect_no_event(_metadata, self->fd);
	io_uring_queue_exit(&ring);
}

TEST_F(kcancel, uring_submit_refused)
{
	char why[KC_WHY];
	struct io_uring ring, small;
	struct kcancel_submit s;
	struct io_uring_sqe *sqe;
	struct kc_cqe c;

	if (kc_uring_init(self, &ring, 8, true, why, sizeof(why)))
		SKIP(return, "%s", why);
	if (kc_uring_init(self, &small, 8, false, why, sizeof(why)))
		SKIP(return, "%s", why);
	/* A 64-byte SQE cannot hold struct kcancel_submit. */
	kc_valid_submit(&s);
	ASSERT_EQ(0, kc_uring_cmd(&small, self->fd, KCANCEL_URING_CMD_SUBMIT,
				  &s, sizeof(s), 1));
	ASSERT_EQ(1U, kc_uring_reap(&small, &c, 1, 5000));
	EXPECT_EQ(-EINVAL, c.res);
	/* The id is not the caller's to give. */
	s.id = 1;
	ASSERT_EQ(0, kc_uring_cmd(&ring, self->fd, KCANCEL_URING_CMD_SUBMIT,
				  &s, sizeof(s), 2));
	ASSERT_EQ(1U, kc_uring_reap(&ring, &c, 1, 5000));
	EXPECT_EQ(-EINVAL, c.res);
	/* What KCANCEL_IOC_SUBMIT refuses, this refuses. */
	kc_valid_submit(&s);
	s.op = KCANCEL_OP_MAX + 1;
	ASSERT_EQ(0, kc_uring_cmd(&ring, self->fd, KCANCEL_URING_CMD_SUBMIT,
				  &s, sizeof(s), 3));
	ASSERT_EQ(1U, kc_uring_reap(&ring, &c, 1, 5000));
	EXPECT_EQ(-EINVAL, c.res);
	kc_valid_submit(&s);
	s.reserved[1] = 1;
	ASSERT_EQ(0, kc_uring_cmd(&ring, self->fd, KCANCEL_URING_CMD_SUBMIT,
				  &s, sizeof(s), 4));
	ASSERT_EQ(1U, kc_uring_reap(&ring, &c, 1, 5000));
	EXPECT_EQ(-EINVAL, c.res);
	kc_valid_submit(&s);
	s.op = KCANCEL_OP_DMA_TO_DEV;
	s.arg = 0;
	s.buf = (uintptr_t)KC_KERNEL_ADDR;
	s.len = 8;
	ASSERT_EQ(0, kc_uring_cmd(&ring, self->fd, KCANCEL_URING_CMD_SUBMIT,
				  &s, sizeof(s), 5));
	ASSERT_EQ(1U, kc_uring_reap(&ring, &c, 1, 5000));
	EXPECT_EQ(-EFAULT, c.res);
	/* Other command numbers: the ioctls' included. */
	kc_valid_submit(&s);
	ASSERT_EQ(0, kc_uring_cmd(&ring, self->fd, KCANCEL_IOC_SUBMIT, &s,
				  sizeof(s), 6));
	ASSERT_EQ(1U, kc_uring_reap(&ring, &c, 1, 5000));
	EXPECT_EQ(-EOPNOTSUPP, c.res);
	/* kcancel takes no fixed buffer (io_uring may refuse it first). */
	sqe = kc_uring_prep(&ring, self->fd, KCANCEL_URING_CMD_SUBMIT, &s,
			    sizeof(s), 7);
	ASSERT_NE(NULL, sqe);
	sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
	ASSERT_EQ(1, kc_uring_go(&ring));
	ASSERT_EQ(1U, kc_uring_reap(&ring, &c, 1, 5000));
	EXPECT_TRUE(c.res == -EINVAL || c.res == -EFAULT)
		TH_LOG("res %d", c.res);
	/* Nothing was queued: no CQE, no event. */
	EXPECT_TRUE(kc_uring_quiet(&ring, 100));
	kc_expect_no_event(_metadata, self->fd);
	io_uring_queue_exit(&small);
	io_uring_queue_exit(&ring);
}

/* Submit a DMA to the device through @ring, queued behind the blockers. */
static void kc_uring_queued(struct __test_metadata *_metadata,
			    struct io_uring *ring, int fd, u64 user_data,
			    u64 timeout_ns)
{
	static u8 data[16];
	struct kcancel_submit s = {
		.op = KCANCEL_OP_DMA_TO_DEV,
		.buf = (uintptr_t)data,
		.len = sizeof(data),
		.offset = 32,
		.timeout_ns = timeout_ns,
	};

	ASSERT_EQ(0, kc_uring_cmd(ring, fd, KCANCEL_URING_CMD_SUBMIT, &s,
				  sizeof(s), user_data));
}

/* A cancel by user_data through @ring: the CQE's res. */
static s32 kc_uring_cancel(struct __test_metadata *_metadata,
			   struct io_uring *ring, int fd, u64 key, u32 flags,
			   u32 reserved)
{
	struct kcancel_cancel cc = {
		.id = key, .flags = flags, .reserved = reserved,
	};
	struct kc_cqe c;

	ASSERT_EQ(0, kc_uring_cmd(ring, fd, KCANCEL_URING_CMD_CANCEL, &cc,
				  sizeof(cc), 0xcafe));
	ASSERT_EQ(1U, kc_uring_reap(ring, &c, 1, 5000));
	EXPECT_EQ(0xcafeULL, c.user_data);
	return c.res;
}

TEST_F(kcancel, uring_cancel)
{
	char why[KC_WHY];
	struct kcancel_cancel cc = { .flags = KCANCEL_CANCEL_USER_DATA };
	struct io_uring ring, small;
	struct kc_cqe c;
	u64 id;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	if (kc_uring_init(self, &ring, 16, true, why, sizeof(why)))
		SKIP(return, "%s", why);
	if (kc_uring_init(self, &small, 8, false, why, sizeof(why)))
		SKIP(return, "%s", why);
	kc_block(_metadata, self);
	kc_uring_queued(_metadata, &ring, self->fd, 0x51, 0);
	kc_uring_queued(_metadata, &ring, self->fd, 0x52, 0);
	kc_uring_queued(_metadata, &ring, self->fd, 0x53, 0);
	EXPECT_TRUE(kc_uring_quiet(&ring, 20));

	/* The command, from a ring of 64-byte SQEs. */
	EXPECT_EQ(0, kc_uring_cancel(_metadata, &small, self->fd, 0x51,
				     KCANCEL_CANCEL_USER_DATA, 0));
	ASSERT_EQ(1U, kc_uring_reap(&ring, &c, 1, 5000));
	EXPECT_EQ(0x51ULL, c.user_data);
	EXPECT_EQ(-ECANCELED, c.res);
	EXPECT_EQ(0ULL, c.res2);
	/* Once: it is gone. */
	EXPECT_EQ(-ENOENT, kc_uring_cancel(_metadata, &small, self->fd, 0x51,
					   KCANCEL_CANCEL_USER_DATA, 0));
	EXPECT_EQ(-ENOENT, kc_uring_cancel(_metadata, &small, self->fd, 0x99,
					   KCANCEL_CANCEL_USER_DATA, 0));
	EXPECT_EQ(-EINVAL, kc_uring_cancel(_metadata, &small, self->fd, 0x52,
					   KCANCEL_CANCEL_USER_DATA << 1, 0));
	EXPECT_EQ(-EINVAL, kc_uring_cancel(_metadata, &small, self->fd, 0x52,
					   KCANCEL_CANCEL_USER_DATA, 1));

	/* The ioctl, by user_data. */
	cc.id = 0x52;
	EXPECT_EQ(0, kc_ioctl(self->fd, KCANCEL_IOC_CANCEL, &cc));
	EXPECT_EQ(-ENOENT, kc_ioctl(self->fd, KCANCEL_IOC_CANCEL, &cc));
	ASSERT_EQ(1U, kc_uring_reap(&ring, &c, 1, 5000));
	EXPECT_EQ(0x52ULL, c.user_data);
	EXPECT_EQ(-ECANCELED, c.res);

	/* A user_data is not an id: an ioctl request is not found by it. */
	id = kc_queued_dma(_metadata, self->fd, 0x54);
	cc.id = id;
	EXPECT_EQ(-ENOENT, kc_ioctl(self->fd, KCANCEL_IOC_CANCEL, &cc));
	EXPECT_EQ(0, kc_cancel(self->fd, id));

	/* The one left runs to its end. */
	ASSERT_EQ(1U, kc_uring_reap(&ring, &c, 1, 20000));
	EXPECT_EQ(0x53ULL, c.user_data);
	EXPECT_EQ(0, c.res);
	EXPECT_EQ(16ULL, c.res2);
	EXPECT_EQ(-ENOENT, kc_uring_cancel(_metadata, &small, self->fd, 0x53,
					   KCANCEL_CANCEL_USER_DATA, 0));
	EXPECT_TRUE(kc_uring_quiet(&ring, 50));
	io_uring_queue_exit(&small);
	io_uring_queue_exit(&ring);
}

TEST_F(kcancel, uring_timeout)
{
	char why[KC_WHY];
	struct io_uring ring;
	struct kc_cqe c[2];
	const struct kc_cqe *e;
	u64 t0;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	if (kc_uring_init(self, &ring, 8, true, why, sizeof(why)))
		SKIP(return, "%s", why);
	kc_block(_metadata, self);
	t0 = kc_now_ns();
	kc_uring_queued(_metadata, &ring, self->fd, 0x71, 20 * NSEC_PER_MSEC);
	kc_uring_queued(_metadata, &ring, self->fd, 0x72, 0);
	ASSERT_EQ(2U, kc_uring_reap(&ring, c, 2, 20000));
	e = kc_cqe_of(c, 2, 0x71);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(-ETIMEDOUT, e->res);
	EXPECT_LE(20 * NSEC_PER_MSEC, kc_now_ns() - t0);
	e = kc_cqe_of(c, 2, 0x72);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(0, e->res);
	io_uring_queue_exit(&ring);
}

/* Requests a ring holds when it goes. */
#define KC_TEARDOWN_REQUESTS	1000U

/*
 * The ring goes with KC_TEARDOWN_REQUESTS in flight: each is cancelled and
 * completes once, -ECANCELED (the device's counters say so; a slow machine
 * may see the first few end first), and the file is free again.
 */
TEST_F(kcancel, uring_teardown_cancels)
{
	char why[KC_WHY];
	u64 ok0, can0, all0, ok1, can1, all1;
	struct kcancel_submit s;
	struct kcancel_event ev;
	struct io_uring ring;
	unsigned int i;
	bool stats;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	if (self->info.max_pending < KC_TEARDOWN_REQUESTS + 8)
		SKIP(return, "max_pending %u is too small for this test",
		     self->info.max_pending);
	if (kc_uring_init(self, &ring, 1024, true, why, sizeof(why)))
		SKIP(return, "%s", why);
	ASSERT_EQ(0, kc_wait_idle(self, 30000));
	stats = !kc_op_stats(self, "dma_to_dev", &ok0, &can0, &all0);
	kc_block(_metadata, self);
	for (i = 0; i < KC_TEARDOWN_REQUESTS; i++)
		kc_uring_queued(_metadata, &ring, self->fd, i + 1, 0);
	io_uring_queue_exit(&ring);

	/* All end, the blockers too. */
	ASSERT_EQ(0, kc_wait_idle(self, 60000));
	if (stats) {
		ASSERT_EQ(0, kc_op_stats(self, "dma_to_dev", &ok1, &can1,
					 &all1));
		/*
		 * Each once, -ECANCELED unless a slow machine took longer
		 * to submit them than the blockers last.
		 */
		EXPECT_EQ(KC_TEARDOWN_REQUESTS, all1 - all0);
		EXPECT_EQ(KC_TEARDOWN_REQUESTS, (ok1 - ok0) + (can1 - can0));
		EXPECT_LT(KC_TEARDOWN_REQUESTS / 2, can1 - can0);
	} else {
		TH_LOG("no debugfs counters: only in_flight was checked");
	}
	/* Nothing of them is left counted against max_pending. */
	for (i = 0; i < 8; i++) {
		kc_valid_submit(&s);
		EXPECT_EQ(0, kc_submit_wait(self->fd, &s, &ev));
	}
	kc_expect_no_event(_metadata, self->fd);
}

/*
 * A submit over max_pending is refused at once, with its own SQE's answer:
 * io_uring would issue an -EAGAIN again later from a worker, and io_uring
 * of 6.12 then reads the SQ ring's slot, which the application has reused
 * (here, with a bad op) by then.
 */
TEST_F(kcancel, uring_max_pending)
{
	unsigned int max = self->info.max_pending, i, n;
	struct kcancel_submit s = { .op = KCANCEL_OP_DOORBELL };
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	struct kc_cqe c[4];
	char why[KC_WHY];
	int fd2;

	if (max > 65536)
		SKIP(return, "max_pending is %u: too many to fill", max);
	if (kc_uring_init(self, &ring, 4, true, why, sizeof(why)))
		SKIP(return, "%s", why);
	fd2 = kc_open(self, 0);
	ASSERT_LE(0, fd2);
	for (i = 0; i < max; i++) {
		ASSERT_EQ(0, kc_submit_dma(fd2, KCANCEL_OP_DMA_FROM_DEV,
					   kc_scratch, 1, 0, i, NULL))
			TH_LOG("submit %u of %u", i + 1, max);
	}
	for (i = 0; i < 4; i++) {
		s.arg = i;
		ASSERT_NE(NULL, kc_uring_prep(&ring, fd2,
					      KCANCEL_URING_CMD_SUBMIT, &s,
					      sizeof(s), 0x100 + i));
	}
	ASSERT_EQ(4, kc_uring_go(&ring));
	/* Answered in the submit call itself, not later by a worker. */
	EXPECT_EQ(4U, io_uring_cq_ready(&ring));
	/* The slots again, not submitted: what a busy application does. */
	s.op = KCANCEL_OP_MAX + 1;
	for (i = 0; i < 4; i++) {
		sqe = kc_uring_prep(&ring, fd2, KCANCEL_URING_CMD_SUBMIT, &s,
				    sizeof(s), 0x200 + i);
		ASSERT_NE(NULL, sqe);
	}
	n = kc_uring_reap(&ring, c, 4, 5000);
	ASSERT_EQ(4U, n);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(0x100ULL + i, c[i].user_data);
		EXPECT_EQ(-EAGAIN, c[i].res) TH_LOG("CQE %u", i);
	}
	EXPECT_TRUE(kc_uring_quiet(&ring, 50));
	io_uring_queue_exit(&ring);
	close(fd2);
}

/* Rings torn down with doorbells in flight, in uring_teardown_races. */
#define KC_TEARDOWN_ROUNDS	200U
#define KC_TEARDOWN_DEPTH	32U

/*
 * Rings go while their doorbells complete: io_uring's cancel and the
 * completions race for each CQE, and each request must still end exactly
 * once (the device's counters), with no kernel report (the debug kernel
 * catches a CQE posted twice). Two hundred rings set up and torn down take
 * a while on the debug kernel under emulation: 120 s, not the harness's
 * 30, so that a busy host does not fail it.
 */
TEST_F_TIMEOUT(kcancel, uring_teardown_races, 120)
{
	struct kcancel_submit s = { .op = KCANCEL_OP_DOORBELL };
	u64 ok0, can0, all0, ok1, can1, all1;
	unsigned int r, i;
	struct io_uring ring;
	char why[KC_WHY];
	bool stats;

	ASSERT_EQ(0, kc_wait_idle(self, 30000));
	stats = !kc_op_stats(self, "doorbell", &ok0, &can0, &all0);
	for (r = 0; r < KC_TEARDOWN_ROUNDS; r++) {
		if (kc_uring_init(self, &ring, KC_TEARDOWN_DEPTH, true, why,
				  sizeof(why)))
			SKIP(return, "%s", why);
		for (i = 0; i < KC_TEARDOWN_DEPTH; i++) {
			s.arg = i;
			ASSERT_NE(NULL, kc_uring_prep(&ring, self->fd,
						      KCANCEL_URING_CMD_SUBMIT,
						      &s, sizeof(s), i + 1));
		}
		ASSERT_EQ((int)KC_TEARDOWN_DEPTH, kc_uring_go(&ring));
		io_uring_queue_exit(&ring);
	}
	ASSERT_EQ(0, kc_wait_idle(self, 60000));
	if (!stats)
		SKIP(return, "no debugfs counters: only in_flight was checked");
	ASSERT_EQ(0, kc_op_stats(self, "doorbell", &ok1, &can1, &all1));
	EXPECT_EQ(KC_TEARDOWN_ROUNDS * KC_TEARDOWN_DEPTH, all1 - all0);
	EXPECT_EQ(all1 - all0, (ok1 - ok0) + (can1 - can0));
	TH_LOG("%llu completed, %llu cancelled by the rings' end",
	       ok1 - ok0, can1 - can0);
}

/* The child of uring_killed_process. */
struct kc_uring_child {
	KC_FIXTURE *self;
	int pipe;		/* written once the requests are in */
	unsigned int n;
};

static int kc_uring_child_fn(void *arg)
{
	struct kc_uring_child *ch = arg;
	struct kcancel_submit s = {
		.op = KCANCEL_OP_DMA_TO_DEV,
		.buf = (uintptr_t)kc_scratch,
		.len = 8,
	};
	struct io_uring_params p = {
		.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32,
	};
	struct io_uring ring;
	unsigned int i;
	int fd;

	fd = kc_open(ch->self, 0);
	if (fd < 0 || io_uring_queue_init_params(256, &ring, &p))
		return 1;
	for (i = 0; i < ch->n; i++) {
		if (!kc_uring_prep(&ring, fd, KCANCEL_URING_CMD_SUBMIT, &s,
				   sizeof(s), i + 1))
			return 2;
	}
	if (kc_uring_go(&ring) != (int)ch->n)
		return 3;
	if (write(ch->pipe, "x", 1) != 1)
		return 4;
	for (;;)
		pause();
}

/*
 * A process dies with a ring of requests in flight, the first of them in
 * the hardware: every request completes exactly once, and the device is
 * idle again.
 */
TEST_F(kcancel, uring_killed_process)
{
	char why[KC_WHY];
	struct kc_uring_child ch = { .self = self, .n = 64 };
	u64 ok0, can0, all0, ok1, can1, all1;
	struct kcancel_submit s;
	struct kcancel_event ev;
	struct io_uring probe;
	int p[2], status;
	bool stats;
	char x;

	if (kc_uring_init(self, &probe, 2, true, why, sizeof(why)))
		SKIP(return, "%s", why);
	io_uring_queue_exit(&probe);
	ASSERT_EQ(0, kc_wait_idle(self, 30000));
	stats = !kc_op_stats(self, "dma_to_dev", &ok0, &can0, &all0);
	ASSERT_EQ(0, pipe(p));
	ch.pipe = p[1];
	ASSERT_LT(0, kc_fork(self, kc_uring_child_fn, &ch));
	close(p[1]);
	ASSERT_EQ(1, read(p[0], &x, 1)) TH_LOG("the child failed");
	close(p[0]);
	ASSERT_EQ(0, kill(self->child, SIGKILL));
	status = kc_reap(self);
	EXPECT_TRUE(WIFSIGNALED(status));

	ASSERT_EQ(0, kc_wait_idle(self, 60000));
	if (stats) {
		ASSERT_EQ(0, kc_op_stats(self, "dma_to_dev", &ok1, &can1,
					 &all1));
		/* Each once: those already done with 0, the rest cancelled. */
		EXPECT_EQ(ch.n, all1 - all0);
		EXPECT_EQ(ch.n, (ok1 - ok0) + (can1 - can0));
		EXPECT_LT(0ULL, can1 - can0);
	} else {
		TH_LOG("no debugfs counters: only in_flight was checked");
	}
	/* The device still works. */
	kc_valid_submit(&s);
	EXPECT_EQ(0, kc_submit_wait(self->fd, &s, &ev));
}

/*
 * Task work is not a signal. io_uring completes a timeout through task work
 * (TIF_NOTIFY_SIGNAL), which ends an interruptible sleep: here, while the
 * submitter sleeps in KCANCEL_IOC_SUBMIT_WAIT. The request must go on to
 * its end, not be cancelled.
 */
TEST_F(kcancel, submit_wait_task_work)
{
	struct __kernel_timespec ts = { .tv_nsec = 20 * NSEC_PER_MSEC };
	struct kcancel_submit s = {
		.op = KCANCEL_OP_DMA_TO_DEV,
		.buf = (uintptr_t)kc_scratch,
		.len = 8,
	};
	struct io_uring_sqe *sqe;
	struct kcancel_event ev;
	struct io_uring ring;
	struct kc_cqe c;
	int ret;

	if (self->dma_ms < KC_MIN_DMA_MS)
		SKIP(return, KC_TOO_FAST, self->path);
	ret = io_uring_queue_init(4, &ring, 0);
	if (ret)
		SKIP(return, "io_uring_setup: %s", strerror(-ret));
	kc_block(_metadata, self);
	sqe = io_uring_get_sqe(&ring);
	ASSERT_NE(NULL, sqe);
	io_uring_prep_timeout(sqe, &ts, 0, 0);
	ASSERT_EQ(1, io_uring_submit(&ring));
	EXPECT_EQ(0, kc_submit_wait(self->fd, &s, &ev));
	EXPECT_EQ(0, ev.status);
	/* The timeout expired during the wait: its task work did come. */
	ASSERT_EQ(1U, kc_uring_reap(&ring, &c, 1, 1000));
	EXPECT_EQ(-ETIME, c.res);
	io_uring_queue_exit(&ring);
}

/* ---- the command line ------------------------------------------------- */

/* The harness's own options, passed on to it. */
#define KC_HARNESS_OPTS		"lF:f:V:v:t:T:r:"

static const struct option kc_long_options[] = {
	{ "device", required_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void kc_usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [-d DEVICE]... [-h|-l] [-t|-T|-v|-V|-f|-F|-r NAME]...\n"
		"Test the ABI of the kcancel character devices, once per backend:\n"
		"the variant edu runs on QEMU's edu device, sim on a software device.\n"
		"\n"
		"  -d, --device PATH  test PATH instead of the first /dev/kcancelN of each\n"
		"                     backend; may be given once per backend\n"
		"  -h, --help         print this and exit\n"
		"  -l                 list the tests and exit\n"
		"  -t NAME, -T NAME   include, exclude the test NAME\n"
		"  -v NAME, -V NAME   include, exclude the variant NAME (edu, sim)\n"
		"  -f NAME, -F NAME   include, exclude the fixture NAME (kcancel)\n"
		"  -r FIXTURE.VARIANT.TEST  run that test\n"
		"\n"
		"The filters work as in every kselftest: they may be repeated, and the\n"
		"first that matches decides. Load the module for it with\n"
		"  insmod kcancel.ko sim_devices=1 sim_latency_us=50000 sim_jitter_us=0 sim_parallel=1\n"
		"The output is TAP, ending with a Totals line. Exit status: 0 if no test\n"
		"failed (skipped ones do not fail), 1 if one did, 4 after -l, 2 for a bad\n"
		"command line.\n");
}

int main(int argc, char **argv)
{
	char **hargv = calloc(2 * argc + 1, sizeof(*hargv));
	char opt[3] = "-";
	int hargc = 0, c;

	if (!hargv)
		return KSFT_FAIL;
	hargv[hargc++] = argv[0];
	while ((c = getopt_long(argc, argv, "d:h" KC_HARNESS_OPTS,
				kc_long_options, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (!*optarg || strlen(optarg) >= KC_PATH ||
			    kc_ndevices == KC_MAX_DEVICES) {
				fprintf(stderr, PROG ": --device '%s': %s\n",
					optarg,
					kc_ndevices == KC_MAX_DEVICES ?
					"too many devices" : "bad path");
				kc_usage(stderr);
				return 2;
			}
			kc_devices[kc_ndevices++] = optarg;
			break;
		case 'h':
			kc_usage(stdout);
			return 0;
		case '?':
		case ':':
			/* getopt_long() has said what was wrong. */
			kc_usage(stderr);
			return 2;
		default:
			opt[1] = c;
			hargv[hargc++] = strdup(opt);
			if (strchr(KC_HARNESS_OPTS, c)[1] == ':')
				hargv[hargc++] = optarg;
			break;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n",
			argv[optind]);
		kc_usage(stderr);
		return 2;
	}
	/* The harness parses its options with getopt() again, from the start. */
	optind = 0;
	return test_harness_run(hargc, hargv);
}
