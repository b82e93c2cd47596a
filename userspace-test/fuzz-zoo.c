// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel-fuzz: the random choices, and the pointers the calls get.
 *
 * Each process draws from its own xoshiro256** state, seeded from the run's
 * seed: the same seed, the same choices. The pointers point into the zoo
 * (&struct fuzz_zoo), mapped before any fork at the same address in every
 * process: valid and misaligned buffers, the last bytes before a guard
 * page, buffers that run into it, the guard page itself, a read-only alias
 * of a writable page, and addresses where nothing is: NULL, an unmapped
 * user page, kernel and non-canonical addresses.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"

static const u64 kernel_ptrs[] = {
	0xffff888000000000ULL, 0xffffffff81000000ULL, 0x8000000000000000ULL,
	0xfffffffffffff000ULL,
};

/* xoshiro256**: seeded through splitmix64, so any seed will do. */
static u64 rotl(u64 x, int k)
{
	return (x << k) | (x >> (64 - k));
}

u64 rnd(struct fuzz_proc *p)
{
	u64 *s = p->rng, r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

void rng_seed(struct fuzz_proc *p, u64 seed)
{
	int i;

	for (i = 0; i < 4; i++) {
		u64 z = (seed += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		p->rng[i] = z ^ (z >> 31);
	}
}

u64 rnd_below(struct fuzz_proc *p, u64 n)
{
	return n ? rnd(p) % n : 0;
}

bool rnd_pct(struct fuzz_proc *p, unsigned int pct)
{
	return rnd_below(p, 100) < pct;
}

const char *const ptr_names[FP_NR + 1] = {
	[FP_VALID] = "valid", [FP_MISALIGNED] = "misaligned",
	[FP_END] = "end-of-mapping", [FP_READONLY] = "read-only",
	[FP_STRADDLE] = "into-guard", [FP_GUARD] = "guard",
	[FP_UNMAPPED] = "unmapped", [FP_NULL] = "null", [FP_KERNEL] = "kernel",
	[FP_NR] = "any",
};

/* Mostly valid pointers; else any kind. */
enum fuzz_ptr pick_ptr(struct fuzz_proc *p)
{
	return rnd_pct(p, 85) ? FP_VALID : rnd_below(p, FP_NR);
}

/*
 * Place an argument of @size bytes, of kind @kind, in the area that ends at
 * @guard: the arguments' or the DMA buffers'.
 */
void place(struct fuzz_proc *p, struct place *pl, enum fuzz_ptr kind,
	   u8 *area, u8 *guard, size_t size)
{
	const struct fuzz_zoo *z = p->zoo;
	size_t span = guard - area, k;

	pl->kind = kind;
	pl->local = NULL;
	pl->room = 0;
	pl->addr = 0;
	switch (kind) {
	case FP_VALID:
		/*
		 * No random offset: the reads after a poll() and the drains
		 * place valid arguments as things happen to go, and must not
		 * change the choices that follow.
		 */
		pl->local = area;
		break;
	case FP_MISALIGNED:
		pl->local = area + 1 + rnd_below(p, 7);
		break;
	case FP_END:
		pl->local = guard - (size < span ? size : span);
		break;
	case FP_READONLY:
		pl->local = z->alias_rw + p->slot * z->page;
		pl->addr = (uintptr_t)(z->alias_ro + p->slot * z->page);
		pl->room = z->page;
		return;
	case FP_STRADDLE:
		/* One byte cannot straddle: it ends the mapping. */
		if (size < 2) {
			pl->kind = FP_END;
			pl->local = guard - size;
			break;
		}
		k = 1 + rnd_below(p, size - 1 < span ? size - 1 : span);
		pl->local = guard - k;
		break;
	case FP_GUARD:
		pl->addr = (uintptr_t)guard + rnd_below(p, z->page / 2);
		return;
	case FP_UNMAPPED:
		pl->addr = UNMAPPED_ADDR + rnd_below(p, UNMAPPED_ADDR);
		return;
	case FP_NULL:
		return;
	default:
		pl->addr = kernel_ptrs[rnd_below(p, ARRAY_SIZE(kernel_ptrs))];
		return;
	}
	pl->addr = (uintptr_t)pl->local;
	pl->room = guard - pl->local;
}

void place_arg(struct fuzz_proc *p, struct place *pl, enum fuzz_ptr kind,
	       const void *arg, size_t size)
{
	place(p, pl, kind, p->zoo->arg, p->zoo->arg_guard, size);
	if (pl->local)
		memcpy(pl->local, arg, size < pl->room ? size : pl->room);
}

/*
 * Place a KCANCEL_IOC_SUBMIT_WAIT argument whose request, id included, can
 * be written and whose done cannot: the request ends where the zoo's split
 * page does, done lies in the read-only page after it. A kind of its own
 * for the call alone; as far as the other calls go, it is read-only.
 */
void place_split(struct fuzz_proc *p, struct place *pl,
		 const struct kcancel_submit_wait *sw)
{
	size_t req = offsetof(struct kcancel_submit_wait, done);

	pl->kind = FP_READONLY;
	pl->local = p->zoo->split + p->zoo->page - req;
	pl->addr = (uintptr_t)pl->local;
	pl->room = req;
	memcpy(pl->local, sw, req);
}

/* Read back what the kernel wrote to an argument it could write. */
void fetch_arg(const struct place *pl, void *arg, size_t size)
{
	if (ptr_writable(pl->kind))
		memcpy(arg, pl->local, size);
}
