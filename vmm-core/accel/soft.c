/*
 * The soft backend: the software x86 CPU (vmm-core/cpu/) as an execution
 * backend. The CPU reaches memory, ports and its local APIC through the callbacks
 * below; port I/O and MMIO are dispatched from inside the interpreter, so
 * the only exits the shared vCPU loop sees are HLT, shutdown and kicks.
 */
#include "accel/accel.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include <glib.h>

#include "cpu/cpu.h"
#include "gh/bus.h"
#include "gh/irq.h"
#include "gh/memory.h"
#include "gh/vm.h"

/* Instructions per gh_cpu_run call: bounds nothing the guest can see, only
 * how often the loop looks up from the interpreter without a kick. */
#define SOFT_SLICE 50000000ULL

/* What the vCPUs of one VM share. */
struct soft_vm {
	struct gh_vm *vm;
	struct gh_code_map *code; /* which pages hold decoded code */
	/* LOCK# for the locked operations no host atomic can do (cpu/atomic.h) */
	pthread_mutex_t bus_lock;
};

struct soft_vcpu {
	struct gh_vm *vm;
	struct gh_vcpu *vcpu;
	struct gh_cpu *cpu;
	unsigned index;
	bool a20;		/* the gate as the CPU's TLB knows it */
	unsigned mem_gen;	/* the memory map's generation it knows */
};

/* With the A20 gate closed, address bit 20 is forced to 0 (wrap at 1 MiB). */
static uint64_t a20_mask(struct soft_vcpu *s, uint64_t gpa)
{
	return s->a20 ? gpa : gpa & ~(1ULL << 20);
}

/* The gate moves through port I/O (0x92, the i8042) on any vCPU: refill
 * the TLB. */
static void a20_check(struct soft_vcpu *s)
{
	bool a20 = gh_vm_a20(s->vm);
	/* the chipset's shadow-RAM windows switch the same way */
	unsigned gen = gh_memory_generation(gh_vm_memory(s->vm));

	if (a20 != s->a20 || gen != s->mem_gen) {
		s->a20 = a20;
		s->mem_gen = gen;
		gh_cpu_flush_tlb(s->cpu);
	}
}

static int soft_probe(struct gh_error *err)
{
	return 0;
}

static int soft_vm_init(struct gh_vm *vm, void **out, struct gh_error *err)
{
	struct soft_vm *sv = g_new0(struct soft_vm, 1);

	sv->vm = vm;
	sv->code = gh_code_map_new();
	pthread_mutex_init(&sv->bus_lock, NULL);
	*out = sv;
	return 0;
}

static void soft_vm_destroy(void *opaque)
{
	struct soft_vm *sv = opaque;

	gh_code_map_free(sv->code);
	pthread_mutex_destroy(&sv->bus_lock);
	g_free(sv);
}

/* A device or loader wrote guest RAM: any thread. */
static void soft_invalidate_code(void *opaque, uint64_t gpa, uint64_t len)
{
	struct soft_vm *sv = opaque;

	gh_code_map_invalidate(sv->code, gpa, len);
}

static int soft_map_memory(void *opaque, uint64_t gpa, uint64_t size, void *hva,
			   bool readonly, struct gh_error *err)
{
	/* the CPU looks pages up in the VM's memory map as it goes */
	return 0;
}

static uint8_t *bus_page(void *opaque, uint64_t gpa, bool *writable)
{
	struct soft_vcpu *s = opaque;

	return gh_mem_map_page(gh_vm_memory(s->vm), a20_mask(s, gpa), writable);
}

/* The CPU's own local APIC page first, then the MMIO bus. */
static uint64_t bus_mmio_read(void *opaque, uint64_t gpa, unsigned size)
{
	struct soft_vcpu *s = opaque;

	return gh_vm_cpu_mmio_read(s->vm, s->index, a20_mask(s, gpa), size);
}

static void bus_mmio_write(void *opaque, uint64_t gpa, uint64_t val, unsigned size)
{
	struct soft_vcpu *s = opaque;

	gh_vm_cpu_mmio_write(s->vm, s->index, a20_mask(s, gpa), val, size);
	/* a flash chip's command switches its range off ROM: the next read
	 * of this CPU must see that */
	a20_check(s);
	if (gh_vcpu_should_exit(s->vcpu))
		gh_cpu_kick(s->cpu);
}

static int bus_msr(void *opaque, uint32_t index, bool write, uint64_t *val,
		   uint64_t tsc)
{
	struct soft_vcpu *s = opaque;

	return gh_vm_cpu_msr(s->vm, s->index, index, write, val, tsc);
}

static int bus_cr8(void *opaque, bool write, uint64_t *val)
{
	struct soft_vcpu *s = opaque;

	return gh_vm_cpu_cr8(s->vm, s->index, write, val);
}

static uint32_t bus_pio_in(void *opaque, uint16_t port, unsigned size)
{
	struct soft_vcpu *s = opaque;

	return (uint32_t)gh_vm_pio_read(s->vm, port, size);
}

static void bus_pio_out(void *opaque, uint16_t port, uint32_t val, unsigned size)
{
	struct soft_vcpu *s = opaque;

	gh_vm_pio_write(s->vm, port, val, size);
	a20_check(s);
	/* a write can stop or reset the machine (debug-exit, the i8042) */
	if (gh_vcpu_should_exit(s->vcpu))
		gh_cpu_kick(s->cpu);
}

static bool bus_intr_pending(void *opaque)
{
	struct soft_vcpu *s = opaque;

	return gh_vcpu_intr_pending(s->vcpu);
}

static int bus_intr_ack(void *opaque)
{
	struct soft_vcpu *s = opaque;

	return gh_vcpu_intr_ack(s->vcpu);
}

static uint64_t bus_now_ns(void *opaque)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* FERR#: the board latches it onto IRQ 13; a write to port 0xF0 clears
 * it (devices/pc/fpu-error.c). */
static void bus_ferr(void *opaque)
{
	struct soft_vcpu *s = opaque;

	pthread_mutex_lock(gh_vm_lock(s->vm));
	gh_irq_set(gh_vm_irq(s->vm), 13, 1);
	pthread_mutex_unlock(gh_vm_lock(s->vm));
}

static int soft_vcpu_init(void *opaque, struct gh_vcpu *vcpu, unsigned index,
			  void **out, struct gh_error *err)
{
	struct soft_vm *sv = opaque;
	struct soft_vcpu *s = g_new0(struct soft_vcpu, 1);
	struct gh_cpu_bus bus = {
		.opaque = s,
		.page = bus_page,
		.mmio_read = bus_mmio_read,
		.mmio_write = bus_mmio_write,
		.pio_in = bus_pio_in,
		.pio_out = bus_pio_out,
		.intr_pending = bus_intr_pending,
		.intr_ack = bus_intr_ack,
		.now_ns = bus_now_ns,
		.msr = bus_msr,
		.cr8 = bus_cr8,
		.bus_lock = &sv->bus_lock,
		.ferr = bus_ferr,
	};

	s->vm = sv->vm;
	s->vcpu = vcpu;
	s->index = index;
	s->a20 = true;
	s->cpu = gh_cpu_new_shared(&bus, index, sv->code);
	if (!s->cpu) {
		g_free(s);
		return gh_error_set(err, -ENOSPC, "soft: too many vCPUs for one code map");
	}
	*out = s;
	return 0;
}

static void soft_vcpu_destroy(void *opaque)
{
	struct soft_vcpu *s = opaque;

	gh_cpu_free(s->cpu);
	g_free(s);
}

static int soft_vcpu_run(void *opaque, struct gh_exit *e)
{
	struct soft_vcpu *s = opaque;

	/* the PIC may have changed while we were away: sample INTR again */
	gh_cpu_intr_changed(s->cpu);
	/* another vCPU may have moved the A20 gate (it kicked us) */
	a20_check(s);
	switch (gh_cpu_run(s->cpu, SOFT_SLICE)) {
	case GH_CPU_HLT:
		e->reason = GH_EXIT_HLT;
		e->hlt.if_flag = gh_cpu_interrupts_enabled(s->cpu);
		break;
	case GH_CPU_SHUTDOWN:
		e->reason = GH_EXIT_SHUTDOWN;
		break;
	case GH_CPU_KICKED:
	case GH_CPU_BUDGET:
		e->reason = GH_EXIT_KICK;
		break;
	}
	return 0;
}

static int soft_get_state(void *opaque, struct gh_cpu_state *st)
{
	struct soft_vcpu *s = opaque;

	gh_cpu_get_state(s->cpu, st);
	return 0;
}

static int soft_set_state(void *opaque, const struct gh_cpu_state *st)
{
	struct soft_vcpu *s = opaque;

	/*
	 * A new state is a start or a reset: decode everything afresh, so
	 * nothing depends on every writer having reported its writes (loaders
	 * and device DMA do, through gh_memory's write notifier).
	 */
	gh_cpu_flush_code(s->cpu);
	s->a20 = gh_vm_a20(s->vm);
	return gh_cpu_set_state(s->cpu, st);
}

static void soft_kick(void *opaque)
{
	struct soft_vcpu *s = opaque;

	gh_cpu_kick(s->cpu);
}

static void soft_nmi(void *opaque)
{
	struct soft_vcpu *s = opaque;

	gh_cpu_nmi(s->cpu);
}

static void soft_intr_changed(void *opaque)
{
	struct soft_vcpu *s = opaque;

	gh_cpu_intr_changed(s->cpu);
}

static uint64_t soft_retired(void *opaque)
{
	struct soft_vcpu *s = opaque;

	return gh_cpu_retired(s->cpu);
}

const struct gh_accel_ops gh_accel_soft = {
	.name = "soft",
	.probe = soft_probe,
	.vm_init = soft_vm_init,
	.vm_destroy = soft_vm_destroy,
	.map_memory = soft_map_memory,
	.invalidate_code = soft_invalidate_code,
	.vcpu_init = soft_vcpu_init,
	.vcpu_destroy = soft_vcpu_destroy,
	.vcpu_run = soft_vcpu_run,
	.get_state = soft_get_state,
	.set_state = soft_set_state,
	.kick = soft_kick,
	.nmi = soft_nmi,
	.intr_changed = soft_intr_changed,
	.retired = soft_retired,
};
