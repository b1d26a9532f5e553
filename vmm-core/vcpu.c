/*
 * The vCPU loop shared by every backend: run until an exit, dispatch it
 * through the buses, and park when the VM pauses, resets or stops.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "accel/accel.h"
#include "gh/bus.h"
#include "gh/irq.h"
#include "gh/log.h"
#include "gh/vm.h"
#include "vcpu-internal.h"

struct gh_vcpu {
	struct gh_vm *vm;
	unsigned index;
	const struct gh_accel_ops *ops;
	void *acc;
	pthread_t thread;
	bool thread_started;
	bool have_pending_state;
	struct gh_cpu_state pending_state;
	bool wait_sipi;		/* an AP before its startup IPI */
	bool nmi_wake;		/* an NMI came while the CPU may be halted */
	struct gh_ratelimit rl;
};

struct gh_vcpu *gh_vcpu_new(struct gh_vm *vm, unsigned index,
			    struct gh_error *err)
{
	struct gh_vcpu *vcpu = g_new0(struct gh_vcpu, 1);

	vcpu->vm = vm;
	vcpu->index = index;
	vcpu->ops = gh_vm_accel(vm);
	if (vcpu->ops->vcpu_init(gh_vm_accel_vm(vm), vcpu, index, &vcpu->acc,
				 err) < 0) {
		g_free(vcpu);
		return NULL;
	}
	return vcpu;
}

void gh_vcpu_free(struct gh_vcpu *vcpu)
{
	if (!vcpu)
		return;
	vcpu->ops->vcpu_destroy(vcpu->acc);
	g_free(vcpu);
}

struct gh_vm *gh_vcpu_vm(struct gh_vcpu *vcpu)
{
	return vcpu->vm;
}

bool gh_vcpu_should_exit(struct gh_vcpu *vcpu)
{
	return gh_vm_stopping(vcpu->vm) ||
	       __atomic_load_n(&gh_vm_ctl(vcpu->vm)->park, __ATOMIC_ACQUIRE);
}

/*
 * The CPU's own interrupt controller (its local APIC) answers; the soft
 * CPU asks only after gh_vcpu_intr_changed() poked it, so this is not on
 * its per-block path.
 */
bool gh_vcpu_intr_pending(struct gh_vcpu *vcpu)
{
	return gh_vm_cpu_intr_pending(vcpu->vm, vcpu->index);
}

int gh_vcpu_intr_ack(struct gh_vcpu *vcpu)
{
	return gh_vm_cpu_intr_ack(vcpu->vm, vcpu->index);
}

unsigned gh_vcpu_index(struct gh_vcpu *vcpu)
{
	return vcpu->index;
}

/* Wakes the CPU from HLT (the condition variable) and out of its run. */
static void wake(struct gh_vcpu *vcpu)
{
	struct gh_vm_ctl *ctl = gh_vm_ctl(vcpu->vm);

	pthread_mutex_lock(&ctl->lock);
	ctl->intr_seq++;
	pthread_cond_broadcast(&ctl->cond);
	pthread_mutex_unlock(&ctl->lock);
}

void gh_vcpu_intr_changed(struct gh_vcpu *vcpu)
{
	wake(vcpu);
	/* the soft CPU samples INTR between blocks once poked: no kick */
	if (vcpu->ops->intr_changed)
		vcpu->ops->intr_changed(vcpu->acc);
	else
		gh_vcpu_kick(vcpu);
}

void gh_vcpu_nmi(struct gh_vcpu *vcpu)
{
	if (!vcpu->ops->nmi)
		return;
	vcpu->ops->nmi(vcpu->acc);
	__atomic_store_n(&vcpu->nmi_wake, true, __ATOMIC_RELEASE);
	wake(vcpu);
	gh_vcpu_kick(vcpu);
}

void gh_vcpu_kick(struct gh_vcpu *vcpu)
{
	if (!vcpu || !vcpu->thread_started ||
	    pthread_equal(vcpu->thread, pthread_self()))
		return;
	vcpu->ops->kick(vcpu->acc);
}

static void set_pending_locked(struct gh_vcpu *vcpu, struct gh_vm_ctl *ctl,
			       const struct gh_cpu_state *s)
{
	vcpu->pending_state = *s;
	vcpu->have_pending_state = true;
	ctl->intr_seq++;
	pthread_cond_broadcast(&ctl->cond);
}

void gh_vcpu_set_pending_state(struct gh_vcpu *vcpu,
			       const struct gh_cpu_state *s)
{
	struct gh_vm_ctl *ctl = gh_vm_ctl(vcpu->vm);

	pthread_mutex_lock(&ctl->lock);
	set_pending_locked(vcpu, ctl, s);
	pthread_mutex_unlock(&ctl->lock);
}

/* SDM vol. 3A, 10.4.7.3 and 8.4.4: INIT and the startup IPI. */
void gh_vcpu_init_signal(struct gh_vcpu *vcpu)
{
	struct gh_cpu_state s;

	gh_cpu_state_reset(&s, vcpu->index == 0);
	gh_vcpu_set_pending_state(vcpu, &s);
	gh_vcpu_kick(vcpu);
}

void gh_vcpu_startup_ipi(struct gh_vcpu *vcpu, uint8_t vector)
{
	struct gh_vm_ctl *ctl = gh_vm_ctl(vcpu->vm);
	struct gh_cpu_state s;

	if (vcpu->index == 0)
		return;
	gh_cpu_state_reset(&s, false);
	s.halted = false;
	s.seg[GH_CS].selector = vector << 8;
	s.seg[GH_CS].base = (uint64_t)vector << 12;
	s.rip = 0;
	/*
	 * Only a CPU waiting for SIPI takes one; others ignore it. The test
	 * and the new state are one step under the lock, so of the two
	 * SIPIs of INIT-SIPI-SIPI only the first starts the AP even when the
	 * AP has not yet run when the second arrives.
	 */
	pthread_mutex_lock(&ctl->lock);
	if (vcpu->have_pending_state ? vcpu->pending_state.halted
				     : vcpu->wait_sipi)
		set_pending_locked(vcpu, ctl, &s);
	pthread_mutex_unlock(&ctl->lock);
}

int gh_vcpu_get_state(struct gh_vcpu *vcpu, struct gh_cpu_state *s)
{
	return vcpu->ops->get_state(vcpu->acc, s);
}

int gh_vcpu_retired(struct gh_vcpu *vcpu, uint64_t *count)
{
	if (!vcpu->ops->retired)
		return -ENOTSUP;
	*count = vcpu->ops->retired(vcpu->acc);
	return 0;
}

/*
 * Waits while the VM is paused or resetting. Returns false when the VM
 * stops. Applies a state the main thread left while we were parked.
 */
static bool park_point(struct gh_vcpu *vcpu)
{
	struct gh_vm_ctl *ctl = gh_vm_ctl(vcpu->vm);
	bool go;

	struct gh_cpu_state s;
	bool apply;

	pthread_mutex_lock(&ctl->lock);
	while (ctl->park && !gh_vm_stopping(vcpu->vm)) {
		ctl->nparked++;
		pthread_cond_broadcast(&ctl->cond);
		pthread_cond_wait(&ctl->cond, &ctl->lock);
		ctl->nparked--;
	}
	go = !gh_vm_stopping(vcpu->vm);
	apply = go && vcpu->have_pending_state;
	if (apply) {
		s = vcpu->pending_state;
		vcpu->have_pending_state = false;
		vcpu->wait_sipi = s.halted && vcpu->index;
	}
	pthread_mutex_unlock(&ctl->lock);
	if (apply) {
		if (vcpu->ops->set_state(vcpu->acc, &s) < 0) {
			gh_vm_request_stop(vcpu->vm, GH_STOP_ERROR, 0,
					   "cpu %u: the backend refused the "
					   "initial register state", vcpu->index);
			return false;
		}
	}
	return go;
}

/*
 * HLT (or an AP waiting for its startup IPI): sleep until something can
 * wake the CPU. Returns when an interrupt is deliverable, or the VM
 * parks or stops.
 */
static void wait_for_wakeup(struct gh_vcpu *vcpu, bool if_flag)
{
	struct gh_vm_ctl *ctl = gh_vm_ctl(vcpu->vm);

	for (;;) {
		unsigned long seq;

		pthread_mutex_lock(&ctl->lock);
		seq = ctl->intr_seq;
		pthread_mutex_unlock(&ctl->lock);
		if (!vcpu->wait_sipi &&
		    (__atomic_exchange_n(&vcpu->nmi_wake, false, __ATOMIC_ACQ_REL) ||
		     (if_flag && gh_vcpu_intr_pending(vcpu))))
			return;
		pthread_mutex_lock(&ctl->lock);
		while (seq == ctl->intr_seq && !ctl->park &&
		       !vcpu->have_pending_state && !gh_vm_stopping(vcpu->vm))
			pthread_cond_wait(&ctl->cond, &ctl->lock);
		/* INIT, SIPI or a reset left a new state to start from. */
		if (ctl->park || gh_vm_stopping(vcpu->vm) ||
		    vcpu->have_pending_state) {
			pthread_mutex_unlock(&ctl->lock);
			return;
		}
		pthread_mutex_unlock(&ctl->lock);
	}
}

static void dispatch_io(struct gh_vcpu *vcpu, struct gh_exit *e)
{
	struct gh_vm *vm = vcpu->vm;
	unsigned i;

	/* v below holds one element: a backend's exit never has a wider one */
	if (e->io.size != 1 && e->io.size != 2 && e->io.size != 4) {
		gh_log_guest(&vcpu->rl, "cpu %u: %u-byte port I/O at 0x%x ignored",
			     vcpu->index, e->io.size, e->io.port);
		return;
	}
	pthread_mutex_lock(gh_vm_lock(vm));
	for (i = 0; i < e->io.count; i++) {
		uint8_t *p = e->io.data + (size_t)i * e->io.size;
		uint64_t v = 0;

		if (e->io.in) {
			v = gh_bus_read(gh_vm_pio(vm), e->io.port, e->io.size);
			memcpy(p, &v, e->io.size);
		} else {
			memcpy(&v, p, e->io.size);
			gh_bus_write(gh_vm_pio(vm), e->io.port, v, e->io.size);
		}
	}
	pthread_mutex_unlock(gh_vm_lock(vm));
}

static void dispatch_mmio(struct gh_vcpu *vcpu, struct gh_exit *e)
{
	struct gh_vm *vm = vcpu->vm;
	uint64_t v = 0;
	unsigned size = e->mmio.size;

	if (size != 1 && size != 2 && size != 4 && size != 8) {
		gh_log_guest(&vcpu->rl, "cpu %u: %u-byte MMIO access at 0x%"
			     PRIx64 " ignored", vcpu->index, size, e->mmio.gpa);
		if (!e->mmio.write)
			memset(e->mmio.data, 0xff, MIN(size, 8u));
		return;
	}
	/* through the CPU's own local APIC page first */
	if (e->mmio.write) {
		memcpy(&v, e->mmio.data, size);
		gh_vm_cpu_mmio_write(vm, vcpu->index, e->mmio.gpa, v, size);
	} else {
		v = gh_vm_cpu_mmio_read(vm, vcpu->index, e->mmio.gpa, size);
		memcpy(e->mmio.data, &v, size);
	}
}

static void *vcpu_thread(void *opaque)
{
	struct gh_vcpu *vcpu = opaque;
	struct gh_vm *vm = vcpu->vm;
	struct gh_exit e;

	while (park_point(vcpu)) {
		int ret;

		if (vcpu->wait_sipi) {
			wait_for_wakeup(vcpu, false);
			continue;
		}
		memset(&e, 0, sizeof(e));
		ret = vcpu->ops->vcpu_run(vcpu->acc, &e);
		if (ret < 0) {
			gh_vm_request_stop(vm, GH_STOP_ERROR, 0,
					   "cpu %u: %s backend failed: %s",
					   vcpu->index, vcpu->ops->name,
					   g_strerror(-ret));
			break;
		}
		switch (e.reason) {
		case GH_EXIT_IO:
			dispatch_io(vcpu, &e);
			break;
		case GH_EXIT_MMIO:
			dispatch_mmio(vcpu, &e);
			break;
		case GH_EXIT_HLT:
			wait_for_wakeup(vcpu, e.hlt.if_flag);
			break;
		case GH_EXIT_SHUTDOWN:
			gh_vm_guest_shutdown(vm, vcpu->index);
			break;
		case GH_EXIT_ERROR:
			gh_vm_request_stop(vm, GH_STOP_ERROR, 0,
					   "cpu %u: %s at rip 0x%" PRIx64,
					   vcpu->index, e.error.msg,
					   e.error.rip);
			break;
		case GH_EXIT_INTR_WINDOW:
		case GH_EXIT_KICK:
		case GH_EXIT_NONE:
			break;
		}
	}
	return NULL;
}

int gh_vcpu_start_thread(struct gh_vcpu *vcpu, struct gh_error *err)
{
	sigset_t all, old;
	int ret;

	/* vCPU threads take only the kick signal; the main loop the rest. */
	sigfillset(&all);
	sigdelset(&all, SIGUSR1);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return gh_error_set(err, -ret, "cannot start vCPU thread: %s",
				    g_strerror(ret));
	__atomic_store_n(&vcpu->thread_started, true, __ATOMIC_RELEASE);
	return 0;
}

void gh_vcpu_join(struct gh_vcpu *vcpu)
{
	if (!vcpu || !vcpu->thread_started)
		return;
	pthread_join(vcpu->thread, NULL);
	vcpu->thread_started = false;
}
