/*
 * The execution-backend interface. A backend runs guest code of one vCPU
 * until something needs the VMM (an exit) and hands that back as a
 * struct gh_exit; the shared loop in vcpu.c dispatches it through the buses.
 * Backends never call devices directly, and know nothing of which exist.
 */
#ifndef GH_ACCEL_H
#define GH_ACCEL_H

#include <stdbool.h>
#include <stdint.h>

#include "gh/cpu-state.h"
#include "gh/error.h"

struct gh_vm;
struct gh_vcpu;

enum gh_exit_reason {
	GH_EXIT_NONE,
	GH_EXIT_IO,		/* port I/O to emulate */
	GH_EXIT_MMIO,		/* access to a guest-physical address with no RAM */
	GH_EXIT_HLT,
	GH_EXIT_SHUTDOWN,	/* triple fault */
	GH_EXIT_INTR_WINDOW,	/* the guest can take an interrupt now */
	GH_EXIT_KICK,		/* gh_accel_ops.kick() interrupted the run */
	GH_EXIT_ERROR,		/* the backend cannot go on (msg says why) */
};

struct gh_exit {
	enum gh_exit_reason reason;
	union {
		struct {
			uint16_t port;
			uint8_t size;	/* 1, 2 or 4 */
			bool in;
			uint32_t count; /* >1 for string I/O batched by the backend */
			uint8_t *data;	/* count * size bytes; IN results go here */
		} io;
		struct {
			uint64_t gpa;
			uint8_t size;	/* 1..8 */
			bool write;
			uint8_t *data;	/* read results go here */
		} mmio;
		struct {
			bool if_flag;	/* RFLAGS.IF when the CPU halted */
		} hlt;
		struct {
			uint64_t rip;
			char msg[160];
		} error;
	};
};

struct gh_accel_ops {
	const char *name;
	const char *note;	/* a limitation worth stating, or NULL */
	/* 0 if the backend can run here; else why not, in err */
	int (*probe)(struct gh_error *err);
	int (*vm_init)(struct gh_vm *vm, void **accel_vm, struct gh_error *err);
	void (*vm_destroy)(void *accel_vm);
	/* Called for every RAM/ROM region before any vCPU is created. */
	int (*map_memory)(void *accel_vm, uint64_t gpa, uint64_t size, void *hva,
			  bool readonly, struct gh_error *err);
	/*
	 * Optional: what backs the window [gpa, gpa+size) changed while the
	 * VM may run (the chipset's shadow-RAM switches): hva, read-only if
	 * readonly, or nothing (hva NULL: accesses exit as MMIO). Device
	 * lock held. NULL where the backend reads the memory map as it goes
	 * (soft: its vCPUs refill their TLBs on gh_memory_generation()).
	 */
	int (*remap_memory)(void *accel_vm, uint64_t gpa, uint64_t size,
			    void *hva, bool readonly);
	/*
	 * Optional, any thread: guest RAM in [gpa, gpa+len) was written by a
	 * device or loader, not by a vCPU. Backends that cache decoded guest
	 * code (soft) drop it; NULL where the hardware needs no telling.
	 */
	void (*invalidate_code)(void *accel_vm, uint64_t gpa, uint64_t len);
	int (*vcpu_init)(void *accel_vm, struct gh_vcpu *vcpu, unsigned index,
			 void **accel_vcpu, struct gh_error *err);
	void (*vcpu_destroy)(void *accel_vcpu);
	/*
	 * Runs on the vCPU's thread until an exit. Before entering the guest a
	 * backend delivers an external interrupt if gh_vcpu_intr_pending()
	 * says there is one and the guest can take it (gh_vcpu_intr_ack()
	 * gives the vector), or arranges an interrupt-window exit otherwise.
	 * Returns 0 or a negative errno (fatal).
	 */
	int (*vcpu_run)(void *accel_vcpu, struct gh_exit *exit);
	int (*get_state)(void *accel_vcpu, struct gh_cpu_state *s);
	int (*set_state)(void *accel_vcpu, const struct gh_cpu_state *s);
	/* From any thread: make vcpu_run return GH_EXIT_KICK soon. */
	void (*kick)(void *accel_vcpu);
	/* Optional, any thread: the NMI pin (taken at the next run). */
	void (*nmi)(void *accel_vcpu);
	/* Optional, any thread: INTR may have changed; sample it at the next
	 * instruction boundary. Without it the core kicks the vCPU. */
	void (*intr_changed)(void *accel_vcpu);
	/* Optional: guest instructions retired so far (benchmarks); the vCPU
	 * is not running. NULL where the hardware does the counting. */
	uint64_t (*retired)(void *accel_vcpu);
};

extern const struct gh_accel_ops gh_accel_kvm;
extern const struct gh_accel_ops gh_accel_soft;
extern const struct gh_accel_ops gh_accel_vmx;

/* NULL if no backend has that name. */
const struct gh_accel_ops *gh_accel_find(const char *name);

/* Calls from a backend back into the core (vcpu.c). */
bool gh_vcpu_intr_pending(struct gh_vcpu *vcpu);
int gh_vcpu_intr_ack(struct gh_vcpu *vcpu);
struct gh_vm *gh_vcpu_vm(struct gh_vcpu *vcpu);
unsigned gh_vcpu_index(struct gh_vcpu *vcpu);
/* The VM is stopping, pausing or resetting: the vCPU should return to the
 * loop now (for backends that dispatch I/O from inside their run). */
bool gh_vcpu_should_exit(struct gh_vcpu *vcpu);

#endif
