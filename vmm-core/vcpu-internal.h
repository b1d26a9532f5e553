/* Internal interface between vm.c and vcpu.c. */
#ifndef GH_VCPU_INTERNAL_H
#define GH_VCPU_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "gh/cpu-state.h"
#include "gh/error.h"

struct gh_vm;
struct gh_vcpu;
struct gh_accel_ops;

struct gh_vcpu *gh_vcpu_new(struct gh_vm *vm, unsigned index,
			    struct gh_error *err);
void gh_vcpu_free(struct gh_vcpu *vcpu);
int gh_vcpu_start_thread(struct gh_vcpu *vcpu, struct gh_error *err);
void gh_vcpu_join(struct gh_vcpu *vcpu);
/* Applied by the vCPU's own thread before it next runs. */
void gh_vcpu_set_pending_state(struct gh_vcpu *vcpu,
			       const struct gh_cpu_state *s);
void gh_vcpu_kick(struct gh_vcpu *vcpu);
void gh_vcpu_init_signal(struct gh_vcpu *vcpu);
void gh_vcpu_startup_ipi(struct gh_vcpu *vcpu, uint8_t vector);
void gh_vcpu_nmi(struct gh_vcpu *vcpu);
/* The CPU's INTR may have changed: wake it from HLT, make it sample INTR. */
void gh_vcpu_intr_changed(struct gh_vcpu *vcpu);
int gh_vcpu_get_state(struct gh_vcpu *vcpu, struct gh_cpu_state *s);
/* -ENOTSUP where the backend does not count instructions. */
int gh_vcpu_retired(struct gh_vcpu *vcpu, uint64_t *count);

/* vm.c, for vcpu.c: the control lock/cond and what they guard. */
struct gh_vm_ctl {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool park;		/* pause or reset in progress */
	unsigned nparked;
	unsigned long intr_seq;	/* bumped whenever INTR may have changed */
};
struct gh_vm_ctl *gh_vm_ctl(struct gh_vm *vm);
const struct gh_accel_ops *gh_vm_accel(struct gh_vm *vm);
void *gh_vm_accel_vm(struct gh_vm *vm);
bool gh_vm_stopping(struct gh_vm *vm);
/* A CPU entered the shutdown state (triple fault): reset, or stop. */
void gh_vm_guest_shutdown(struct gh_vm *vm, unsigned cpu);

#endif
