/*
 * The software x86 CPU: an interpreter for real, protected, virtual-8086
 * and long mode. It is self-contained: it reaches guest memory, port I/O
 * and the interrupt controller only through the callbacks its backend hands
 * it (accel/soft.c for the soft backend; the vmx backend will use it to
 * emulate instructions that exit on MMIO).
 *
 * Parts: the decoder (decode.h), the ALU with lazy flags (alu.h), the MMU
 * and TLB (mmu.h), segmentation and events (seg.c, except.c, task.c), the
 * run loop (exec.c) and the instruction handlers (exec-*.c).
 */
#ifndef GH_CPU_H
#define GH_CPU_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "gh/cpu-state.h"

struct gh_cpu;

/* How the CPU reaches the machine. Every callback may be called from the
 * vCPU's thread only; the backend takes the device lock inside them. */
struct gh_cpu_bus {
	void *opaque;
	/*
	 * Host pointer to the guest-physical 4 KiB page that holds gpa, or
	 * NULL if no RAM/ROM is there (MMIO). *writable is false for ROM.
	 */
	uint8_t *(*page)(void *opaque, uint64_t gpa, bool *writable);
	uint64_t (*mmio_read)(void *opaque, uint64_t gpa, unsigned size);
	void (*mmio_write)(void *opaque, uint64_t gpa, uint64_t val,
			   unsigned size);
	uint32_t (*pio_in)(void *opaque, uint16_t port, unsigned size);
	void (*pio_out)(void *opaque, uint16_t port, uint32_t val,
			unsigned size);
	/* the INTR pin and the INTA cycle (only called with IF=1) */
	bool (*intr_pending)(void *opaque);
	int (*intr_ack)(void *opaque);
	/* the time-stamp counter's source: host-monotonic nanoseconds */
	uint64_t (*now_ns)(void *opaque);
	/*
	 * Optional: the local APIC's MSRs (IA32_APIC_BASE, IA32_TSC_DEADLINE,
	 * the x2APIC range 0x800-0x8ff) and CR8, the TPR's priority class.
	 * tsc is the CPU's TSC at the access. 0; -ENOENT: no APIC owns it
	 * (the CPU goes on as without the callback); -EINVAL: #GP.
	 */
	int (*msr)(void *opaque, uint32_t index, bool write, uint64_t *val,
		   uint64_t tsc);
	int (*cr8)(void *opaque, bool write, uint64_t *val);
	/*
	 * LOCK#: one lock shared by every CPU of the machine, taken for the
	 * locked operations no host atomic instruction can do (MMIO, operands
	 * split across pages; cpu/atomic.h). NULL with a single CPU.
	 */
	pthread_mutex_t *bus_lock;
	/*
	 * Optional: FERR# went active, an unmasked x87 exception met a waiting
	 * instruction with CR0.NE clear (SDM vol. 1, D.2). A PC latches it
	 * onto IRQ 13 until the guest writes port 0xF0.
	 */
	void (*ferr)(void *opaque);
};

#define GH_MSR_IA32_TSC_DEADLINE 0x6e0

/* Why gh_cpu_run returned. */
enum gh_cpu_stop {
	GH_CPU_HLT,		/* HLT with nothing to wake it */
	GH_CPU_SHUTDOWN,	/* triple fault */
	GH_CPU_KICKED,		/* gh_cpu_kick() */
	GH_CPU_BUDGET,		/* ran the instructions it was allowed */
};

/*
 * Which guest-physical pages hold decoded code, for all the CPUs of a
 * machine: a write by any CPU, or by a device (DMA), to such a page drops
 * the blocks every CPU decoded from it. Each CPU drops its own at its next
 * block boundary; the block it is running stays valid until then.
 */
struct gh_code_map;

struct gh_code_map *gh_code_map_new(void);
/* After every CPU using it is freed. */
void gh_code_map_free(struct gh_code_map *map);
/* Any thread: [gpa, gpa+len) was written by something other than a CPU
 * of the map (device DMA, a loader). */
void gh_code_map_invalidate(struct gh_code_map *map, uint64_t gpa, uint64_t len);

/* A CPU with a code map of its own. */
struct gh_cpu *gh_cpu_new(const struct gh_cpu_bus *bus, unsigned index);
/* A CPU that shares map (which must outlive it) with the other CPUs of its
 * machine. At most GH_CODE_MAP_CPUS CPUs share a map; NULL beyond that. */
#define GH_CODE_MAP_CPUS 64
struct gh_cpu *gh_cpu_new_shared(const struct gh_cpu_bus *bus, unsigned index,
				 struct gh_code_map *map);
void gh_cpu_free(struct gh_cpu *cpu);

/* Runs at most max_insns instructions (0: no limit). */
enum gh_cpu_stop gh_cpu_run(struct gh_cpu *cpu, uint64_t max_insns);
/* Any thread: makes gh_cpu_run return GH_CPU_KICKED at the next block. */
void gh_cpu_kick(struct gh_cpu *cpu);
/* The NMI pin (any thread): delivered at the next instruction boundary
 * unless an NMI handler is still running (until its IRET). */
void gh_cpu_nmi(struct gh_cpu *cpu);
/* The INTR pin changed (any thread): wakes a halted CPU's next run. */
void gh_cpu_intr_changed(struct gh_cpu *cpu);

void gh_cpu_get_state(struct gh_cpu *cpu, struct gh_cpu_state *s);
/* -EINVAL if s is not a state the CPU can be in (reserved CR bits...). */
int gh_cpu_set_state(struct gh_cpu *cpu, const struct gh_cpu_state *s);

/* RFLAGS.IF: whether a halted CPU can be woken by INTR. */
bool gh_cpu_interrupts_enabled(struct gh_cpu *cpu);

/* Forgets every cached translation (the physical address map changed,
 * e.g. the A20 gate). */
void gh_cpu_flush_tlb(struct gh_cpu *cpu);

/* Drops every decoded block (a machine reset, after which loaders rewrite
 * guest memory). */
void gh_cpu_flush_code(struct gh_cpu *cpu);

/* Guest-physical memory changed behind the CPU's back (DMA, loader): the
 * same as gh_code_map_invalidate() on the CPU's map. */
void gh_cpu_invalidate_code(struct gh_cpu *cpu, uint64_t gpa, uint64_t len);

/*
 * The translator (jit.h): a block of 64-bit code is translated to host
 * code once it has run threshold times (0: at its first run); threshold
 * < 0 leaves everything to the interpreter. On by default. Between runs.
 * -ENOMEM if the host gives no executable memory (the interpreter runs on).
 */
/* 32: Linux's test run made 407 k translations and 194 fresh starts of
 * the 2 MiB code buffer at 8, 103 k and 50 at 32, and ran 10 % faster */
#define GH_CPU_JIT_THRESHOLD 32
int gh_cpu_set_jit(struct gh_cpu *cpu, int threshold);

/* Instructions retired since creation (benchmarks, tests). */
uint64_t gh_cpu_retired(struct gh_cpu *cpu);

#endif
