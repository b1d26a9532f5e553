/*
 * Locked read-modify-writes on guest memory: the LOCK prefix and XCHG with
 * memory (Intel SDM vol. 3A, 9.1.2) made atomic across vCPU threads.
 *
 * An operand in one page of writable RAM is changed by one host atomic
 * instruction on the guest's own page, so it is atomic against every other
 * vCPU's accesses, locked or not, as on hardware. Misaligned operands: in
 * C, __atomic on a misaligned pointer is undefined, and a host locked
 * access across a cache line is a split lock, which Linux hosts trap or
 * throttle (split_lock_detect). So a naturally aligned operand uses the
 * host atomic of its size; a misaligned one that lies inside an aligned 8-
 * or 16-byte block is compare-and-swapped as part of that block (one
 * aligned host atomic, never a split lock). What is left - an operand
 * across a 16-byte boundary or a page, MMIO, ROM - is read and written
 * under the machine's bus lock (gh_cpu_bus.bus_lock), the analogue of the
 * LOCK# signal, which the CPUs take for those operands only. Such
 * operations are atomic against each other but not against plain stores
 * of other CPUs to the same bytes; guests treat split locked accesses as
 * bugs (Linux warns of them), and MMIO registers sit behind the device
 * lock anyway.
 *
 * Ordering: every host atomic here is sequentially consistent, a full
 * barrier as a locked instruction is (SDM vol. 3A, 9.2.2); the bus-lock
 * path adds a full fence.
 *
 * Use: gh_locked_begin() (every fault is raised here, before anything
 * changes), then gh_locked_load/cas/xchg/fetch_add, then gh_locked_end().
 * Nothing in between may raise: the bus lock may be held.
 */
#ifndef GH_CPU_ATOMIC_H
#define GH_CPU_ATOMIC_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/exec.h"

struct gh_locked {
	uint8_t *host;		/* the operand in guest RAM, or NULL */
	unsigned size;		/* 1, 2, 4, 8 or 16 */
	unsigned block;		/* width of the host atomic: size, 8 or 16;
				 * 0 under the bus lock */
	unsigned shift;		/* byte offset of the operand in its block */
	bool have;		/* bus lock: cur holds the operand as read */
	uint64_t cur[2];
	struct gh_mem_span span;
};

void gh_locked_begin_slow(struct gh_cpu *cpu, struct gh_locked *l);
uint64_t gh_locked_load_slow(struct gh_cpu *cpu, struct gh_locked *l);
bool gh_locked_cas_slow(struct gh_cpu *cpu, struct gh_locked *l, uint64_t *old,
			uint64_t val);
void gh_locked_end_slow(struct gh_cpu *cpu, struct gh_locked *l);

/* Translates size bytes at seg:off for a locked write; may raise. */
static inline void gh_locked_begin(struct gh_cpu *cpu, unsigned seg, uint64_t off,
				   unsigned size, struct gh_locked *l)
{
	l->size = size;
	l->host = gh_mem_translate_rmw(cpu, seg, off, size, &l->span);
	if (__builtin_expect(l->host && !((uintptr_t)l->host & (size - 1)), 1)) {
		l->block = size;
		l->shift = 0;
		return;
	}
	gh_locked_begin_slow(cpu, l);
}

/* The operand's value now: the first guess of a compare-and-swap loop. */
static inline uint64_t gh_locked_load(struct gh_cpu *cpu, struct gh_locked *l)
{
	if (__builtin_expect(l->block == l->size, 1)) {
		switch (l->size) {
		case 1:
			return __atomic_load_n(l->host, __ATOMIC_RELAXED);
		case 2:
			return __atomic_load_n((uint16_t *)l->host, __ATOMIC_RELAXED);
		case 4:
			return __atomic_load_n((uint32_t *)l->host, __ATOMIC_RELAXED);
		case 8:
			return __atomic_load_n((uint64_t *)l->host, __ATOMIC_RELAXED);
		}
	}
	return gh_locked_load_slow(cpu, l);
}

#define GH_LOCKED_CAS(type)                                                              \
	({                                                                               \
		type e_ = (type)*old;                                                    \
		bool ok_ = __atomic_compare_exchange_n((type *)l->host, &e_, (type)val,  \
						       false, __ATOMIC_SEQ_CST,          \
						       __ATOMIC_RELAXED);                \
		*old = e_;                                                               \
		ok_;                                                                     \
	})

/*
 * Stores val if the operand still equals *old and returns true; otherwise
 * returns false with *old set to the value found (size <= 8).
 */
static inline bool gh_locked_cas(struct gh_cpu *cpu, struct gh_locked *l, uint64_t *old,
				 uint64_t val)
{
	if (__builtin_expect(l->block == l->size, 1)) {
		switch (l->size) {
		case 1:
			return GH_LOCKED_CAS(uint8_t);
		case 2:
			return GH_LOCKED_CAS(uint16_t);
		case 4:
			return GH_LOCKED_CAS(uint32_t);
		case 8:
			return GH_LOCKED_CAS(uint64_t);
		}
	}
	return gh_locked_cas_slow(cpu, l, old, val);
}

#undef GH_LOCKED_CAS

/* Stores val, returns the old value (XCHG). */
static inline uint64_t gh_locked_xchg(struct gh_cpu *cpu, struct gh_locked *l, uint64_t val)
{
	uint64_t old;

	if (__builtin_expect(l->block == l->size, 1)) {
		switch (l->size) {
		case 1:
			return __atomic_exchange_n(l->host, (uint8_t)val, __ATOMIC_SEQ_CST);
		case 2:
			return __atomic_exchange_n((uint16_t *)l->host, (uint16_t)val,
						   __ATOMIC_SEQ_CST);
		case 4:
			return __atomic_exchange_n((uint32_t *)l->host, (uint32_t)val,
						   __ATOMIC_SEQ_CST);
		case 8:
			return __atomic_exchange_n((uint64_t *)l->host, val, __ATOMIC_SEQ_CST);
		}
	}
	old = gh_locked_load(cpu, l);
	while (!gh_locked_cas(cpu, l, &old, val))
		;
	return old;
}

/* Adds v modulo the operand size, returns the old value (XADD, ADD...). */
static inline uint64_t gh_locked_fetch_add(struct gh_cpu *cpu, struct gh_locked *l,
					   uint64_t v)
{
	uint64_t old;

	if (__builtin_expect(l->block == l->size, 1)) {
		switch (l->size) {
		case 1:
			return __atomic_fetch_add(l->host, (uint8_t)v, __ATOMIC_SEQ_CST);
		case 2:
			return __atomic_fetch_add((uint16_t *)l->host, (uint16_t)v,
						  __ATOMIC_SEQ_CST);
		case 4:
			return __atomic_fetch_add((uint32_t *)l->host, (uint32_t)v,
						  __ATOMIC_SEQ_CST);
		case 8:
			return __atomic_fetch_add((uint64_t *)l->host, v, __ATOMIC_SEQ_CST);
		}
	}
	old = gh_locked_load(cpu, l);
	while (!gh_locked_cas(cpu, l, &old, old + v))
		;
	return old;
}

/* gh_locked_cas for a 16-byte operand (CMPXCHG16B), old and val low first. */
bool gh_locked_cas16(struct gh_cpu *cpu, struct gh_locked *l, uint64_t old[2],
		     const uint64_t val[2]);

/* Ends the operation: releases the bus lock if it was taken. */
static inline void gh_locked_end(struct gh_cpu *cpu, struct gh_locked *l)
{
	if (__builtin_expect(!l->block, 0))
		gh_locked_end_slow(cpu, l);
}

#endif
