/*
 * Locked read-modify-writes: the cases atomic.h does not inline - operands
 * inside a larger aligned block, 16-byte compare-and-swap, and the bus
 * lock for everything no host atomic reaches (see atomic.h for why).
 */
#include "cpu/atomic.h"

#include <pthread.h>

typedef unsigned __int128 u128;

/*
 * A compare-and-swap of an aligned 16-byte host block: CMPXCHG16B, which
 * every x86-64 host this runs on has (the C11 16-byte __atomic would need
 * libatomic). On failure old receives the block as found.
 */
static bool cas16(uint8_t *p, uint64_t old[2], const uint64_t val[2])
{
#if defined(__x86_64__)
	bool ok;

	__asm__ __volatile__("lock cmpxchg16b %1"
			     : "=@ccz"(ok), "+m"(*(u128 *)p), "+a"(old[0]), "+d"(old[1])
			     : "b"(val[0]), "c"(val[1])
			     : "memory");
	return ok;
#else
#error "the 16-byte compare-and-swap needs an x86-64 host"
#endif
}

static bool block_cas(const struct gh_locked *l, u128 *old, u128 val)
{
	uint8_t *p = l->host - l->shift;

	if (l->block == 8) {
		uint64_t e = (uint64_t)*old;
		bool ok = __atomic_compare_exchange_n((uint64_t *)p, &e, (uint64_t)val, false,
						      __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);

		*old = e;
		return ok;
	} else {
		uint64_t e[2] = { (uint64_t)*old, (uint64_t)(*old >> 64) };
		uint64_t v[2] = { (uint64_t)val, (uint64_t)(val >> 64) };
		bool ok = cas16(p, e, v);

		*old = (u128)e[1] << 64 | e[0];
		return ok;
	}
}

/* A first guess of the block: torn halves only make the first CAS fail. */
static u128 block_load(const struct gh_locked *l)
{
	const uint64_t *p = (const uint64_t *)(l->host - l->shift);
	u128 v = __atomic_load_n(&p[0], __ATOMIC_RELAXED);

	if (l->block == 16)
		v |= (u128)__atomic_load_n(&p[1], __ATOMIC_RELAXED) << 64;
	return v;
}

void gh_locked_begin_slow(struct gh_cpu *cpu, struct gh_locked *l)
{
	unsigned a = l->host ? (uintptr_t)l->host & 15 : 0;

	l->have = false;
	if (l->host && l->size <= 8) {
		if ((a & 7) + l->size <= 8) {
			l->block = 8;
			l->shift = a & 7;
			return;
		}
		if (a + l->size <= 16) {
			l->block = 16;
			l->shift = a;
			return;
		}
	}
	if (l->host) {
		/* the TLB's answer: one page of RAM, but no host atomic fits */
		l->span.n = 1;
		l->span.p[0] = (struct gh_mem_piece){
		    .host = l->host, .writable = true, .len = l->size };
	}
	l->block = 0;
	if (cpu->bus.bus_lock)
		pthread_mutex_lock(cpu->bus.bus_lock);
}

static uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

/* Bus lock held: the operand is read once (MMIO reads have effects). */
static void span_fetch(struct gh_cpu *cpu, struct gh_locked *l)
{
	if (!l->have) {
		l->cur[0] = l->cur[1] = 0;
		gh_mem_span_read(cpu, &l->span, l->cur);
		l->have = true;
	}
}

uint64_t gh_locked_load_slow(struct gh_cpu *cpu, struct gh_locked *l)
{
	if (l->block)
		return (uint64_t)(block_load(l) >> (l->shift * 8)) & size_mask(l->size);
	span_fetch(cpu, l);
	return l->cur[0];
}

bool gh_locked_cas_slow(struct gh_cpu *cpu, struct gh_locked *l, uint64_t *old,
			uint64_t val)
{
	uint64_t m = size_mask(l->size);

	if (l->block) {
		unsigned sh = l->shift * 8;
		u128 field = (u128)m << sh;
		u128 b = block_load(l);

		for (;;) {
			uint64_t cur = (uint64_t)(b >> sh) & m;

			if (cur != (*old & m)) {
				*old = cur;
				return false;
			}
			if (block_cas(l, &b, (b & ~field) | (u128)(val & m) << sh))
				return true;
		}
	}
	span_fetch(cpu, l);
	if (l->cur[0] != (*old & m)) {
		/* a locked write happens either way: the value found goes back */
		*old = l->cur[0];
		gh_mem_span_write(cpu, &l->span, l->cur);
		return false;
	}
	l->cur[0] = val & m;
	gh_mem_span_write(cpu, &l->span, l->cur);
	return true;
}

bool gh_locked_cas16(struct gh_cpu *cpu, struct gh_locked *l, uint64_t old[2],
		     const uint64_t val[2])
{
	bool eq;

	if (l->block == 16)
		return cas16(l->host, old, val);
	span_fetch(cpu, l);
	eq = l->cur[0] == old[0] && l->cur[1] == old[1];
	old[0] = l->cur[0];
	old[1] = l->cur[1];
	gh_mem_span_write(cpu, &l->span, eq ? val : l->cur);
	return eq;
}

void gh_locked_end_slow(struct gh_cpu *cpu, struct gh_locked *l)
{
	/* a locked instruction is a full barrier, the mutex alone need not be */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (cpu->bus.bus_lock)
		pthread_mutex_unlock(cpu->bus.bus_lock);
}
