/*
 * The KVM backend (Documentation/virt/kvm/api.rst). The PIC, PIT and the
 * other controllers stay in user space, shared with every backend: there is
 * no in-kernel irqchip, so external interrupts are injected with
 * KVM_INTERRUPT when the guest can take them, after an interrupt-window exit
 * otherwise.
 */
#include "accel/accel.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "gh/accel-select.h"
#include "gh/vm.h"

#define KVM_DEVICE "/dev/kvm"
/* Below the 256 KiB BIOS window at the top of 4 GiB, as QEMU puts them. */
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000ULL
#define KVM_TSS_ADDR 0xfeffd000ULL
#define KICK_SIGNAL SIGUSR1
/* RAM, ROMs and the 13 shadow windows fit with room to spare */
#define KVM_MAX_SLOTS 64

struct kvm_vm {
	int sys_fd;
	int vm_fd;
	int run_size;
	unsigned nslots;
	uint64_t slot_gpa[KVM_MAX_SLOTS];	/* where each slot starts */
	bool slot_empty[KVM_MAX_SLOTS];		/* a window backed by nothing */
	unsigned ncpus;
	struct kvm_cpuid2 *cpuid;
};

struct kvm_vcpu {
	struct kvm_vm *kvm;
	struct gh_vcpu *vcpu;
	unsigned index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_known;
	bool nmi;		/* an NMI to inject before the next entry */
};

/* MSRs saved and restored with the rest of the state. */
static const uint32_t state_msrs[] = {
	GH_MSR_IA32_TSC, GH_MSR_IA32_SYSENTER_CS, GH_MSR_IA32_SYSENTER_ESP,
	GH_MSR_IA32_SYSENTER_EIP, GH_MSR_IA32_PAT, GH_MSR_STAR, GH_MSR_LSTAR,
	GH_MSR_CSTAR, GH_MSR_SFMASK, GH_MSR_KERNEL_GS_BASE, GH_MSR_TSC_AUX,
};

static int open_kvm(struct gh_error *err)
{
	int fd = open(KVM_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		return gh_error_set(err, -ENODEV, "the kvm backend is not "
				    "available: " KVM_DEVICE " does not exist "
				    "(no KVM support in this kernel, or the "
				    "kvm module is not loaded)");
	if (errno == EACCES || errno == EPERM)
		return gh_error_set(err, -EACCES, "the kvm backend is not "
				    "available: no permission to open "
				    KVM_DEVICE " (join the kvm group)");
	return gh_error_set(err, -errno, "the kvm backend is not available: "
			    "cannot open " KVM_DEVICE ": %s", g_strerror(errno));
}

static int check_kvm(int fd, struct gh_error *err)
{
	static const struct {
		int cap;
		const char *name;
	} caps[] = {
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
		{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	};
	unsigned i;

	if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return gh_error_set(err, -ENODEV, "the kvm backend is not "
				    "available: unsupported KVM API version");
	for (i = 0; i < G_N_ELEMENTS(caps); i++)
		if (ioctl(fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0)
			return gh_error_set(err, -ENODEV,
					    "the kvm backend is not available: "
					    "the kernel lacks %s", caps[i].name);
	return 0;
}

static int kvm_probe(struct gh_error *err)
{
	int fd = open_kvm(err);
	int ret;

	if (fd < 0)
		return fd;
	ret = check_kvm(fd, err);
	close(fd);
	return ret;
}

static void kick_handler(int sig)
{
}

static void install_kick_handler(void)
{
	struct sigaction sa = { .sa_handler = kick_handler };

	/* No SA_RESTART: KVM_RUN must return EINTR. */
	sigemptyset(&sa.sa_mask);
	sigaction(KICK_SIGNAL, &sa, NULL);
}

static struct kvm_cpuid2 *supported_cpuid(int sys_fd)
{
	unsigned n;

	for (n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = g_malloc0(sizeof(*c) +
						 n * sizeof(c->entries[0]));

		c->nent = n;
		if (!ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, c))
			return c;
		g_free(c);
		if (errno != E2BIG)
			return NULL;
	}
	return NULL;
}

static int kvm_vm_init(struct gh_vm *vm, void **out, struct gh_error *err)
{
	struct kvm_vm *k = g_new0(struct kvm_vm, 1);
	int ret;

	k->vm_fd = -1;
	k->sys_fd = open_kvm(err);
	if (k->sys_fd < 0) {
		ret = k->sys_fd;
		goto err_free;
	}
	ret = check_kvm(k->sys_fd, err);
	if (ret < 0)
		goto err_close;
	k->vm_fd = ioctl(k->sys_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0) {
		ret = gh_error_set(err, -errno, "kvm: cannot create a VM: %s",
				   g_strerror(errno));
		goto err_close;
	}
	k->run_size = ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	k->cpuid = supported_cpuid(k->sys_fd);
	if (k->run_size <= 0 || !k->cpuid) {
		ret = gh_error_set(err, -EIO, "kvm: cannot query the vCPU "
				   "mmap size or the supported CPUID");
		goto err_close;
	}
	if (ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR,
		  &(uint64_t){ KVM_IDENTITY_MAP_ADDR }) < 0 ||
	    ioctl(k->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0) {
		ret = gh_error_set(err, -errno, "kvm: cannot place the TSS "
				   "and identity map: %s", g_strerror(errno));
		goto err_close;
	}
	k->ncpus = gh_vm_ncpus(vm);
	install_kick_handler();
	*out = k;
	return 0;

err_close:
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	close(k->sys_fd);
err_free:
	g_free(k->cpuid);
	g_free(k);
	return ret;
}

static void kvm_vm_destroy(void *opaque)
{
	struct kvm_vm *k = opaque;

	close(k->vm_fd);
	close(k->sys_fd);
	g_free(k->cpuid);
	g_free(k);
}

static int kvm_map_memory(void *opaque, uint64_t gpa, uint64_t size, void *hva,
			  bool readonly, struct gh_error *err)
{
	struct kvm_vm *k = opaque;
	struct kvm_userspace_memory_region r = {
		.slot = k->nslots,
		.flags = readonly ? KVM_MEM_READONLY : 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	if (k->nslots == KVM_MAX_SLOTS)
		return gh_error_set(err, -ENOSPC, "kvm: too many memory regions");
	if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return gh_error_set(err, -errno, "kvm: cannot map guest memory "
				    "at 0x%" PRIx64 ": %s", gpa,
				    g_strerror(errno));
	k->slot_gpa[k->nslots++] = gpa;
	return 0;
}

/*
 * A window switched: KVM cannot change a slot's address or flags in
 * place, so the slot is deleted (size 0) and made again if there is
 * something to back it; the slot number stays the window's.
 */
static int kvm_remap_memory(void *opaque, uint64_t gpa, uint64_t size,
			    void *hva, bool readonly)
{
	struct kvm_vm *k = opaque;
	struct kvm_userspace_memory_region r = { .guest_phys_addr = gpa };
	unsigned slot;

	for (slot = 0; slot < k->nslots; slot++)
		if (k->slot_gpa[slot] == gpa)
			break;
	/* device memory that moved: take a slot that holds nothing (a BAR
	 * moved away, a window switched off) rather than use up new ones */
	if (slot == k->nslots && hva) {
		for (slot = 0; slot < k->nslots; slot++)
			if (k->slot_empty[slot])
				break;
		if (slot < k->nslots)
			k->slot_gpa[slot] = gpa;
	}
	if (slot == k->nslots && !hva)
		return 0;
	if (slot == k->nslots) {
		if (k->nslots == KVM_MAX_SLOTS)
			return -ENOSPC;
		k->slot_gpa[k->nslots++] = gpa;
		k->slot_empty[slot] = true;
	}
	r.slot = slot;
	/* KVM refuses to delete a slot that holds nothing */
	if (!k->slot_empty[slot] &&
	    ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	k->slot_empty[slot] = true;
	if (!hva)
		return 0;
	r.flags = readonly ? KVM_MEM_READONLY : 0;
	r.memory_size = size;
	r.userspace_addr = (uintptr_t)hva;
	if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	k->slot_empty[slot] = false;
	return 0;
}

/*
 * What the guest sees: the host's CPUID as KVM can virtualize it, less
 * what this VMM does not provide (a local APIC and its x2APIC and
 * TSC-deadline modes, KVM's paravirtual leaves that assume one).
 */
/* A brand string for hosts whose KVM reports the leaves but no text. */
static void brand_string(struct kvm_cpuid_entry2 *e)
{
	static const char brand[48] = "Guesthouse Virtual CPU";
	uint32_t regs[4];

	memcpy(regs, brand + (e->function - 0x80000002) * 16, 16);
	e->eax = regs[0];
	e->ebx = regs[1];
	e->ecx = regs[2];
	e->edx = regs[3];
}

static int set_cpuid(struct kvm_vcpu *kv)
{
	struct kvm_cpuid2 *src = kv->kvm->cpuid;
	struct kvm_cpuid2 *c;
	unsigned i, n = 0;
	int ret;

	c = g_malloc0(sizeof(*c) + src->nent * sizeof(c->entries[0]));
	for (i = 0; i < src->nent; i++) {
		struct kvm_cpuid_entry2 e = src->entries[i];

		if (e.function >= 0x40000000 && e.function <= 0x400000ff)
			continue;
		switch (e.function) {
		case 1:
			e.edx &= ~(1u << 9);			/* APIC */
			e.ecx &= ~((1u << 21) | (1u << 24));	/* x2APIC, TSC-deadline */
			e.ebx = (e.ebx & 0x0000ffff) | (kv->index << 24) |
				(MIN(kv->kvm->ncpus, 255u) << 16);
			break;
		case 0xb:
		case 0x1f:
			e.edx = kv->index;
			break;
		case 0x80000002:
		case 0x80000003:
		case 0x80000004:
			if (!(e.eax | e.ebx | e.ecx | e.edx))
				brand_string(&e);
			break;
		}
		c->entries[n++] = e;
	}
	c->nent = n;
	ret = ioctl(kv->fd, KVM_SET_CPUID2, c);
	g_free(c);
	return ret < 0 ? -errno : 0;
}

static int kvm_vcpu_init(void *opaque, struct gh_vcpu *vcpu, unsigned index,
			 void **out, struct gh_error *err)
{
	struct kvm_vm *k = opaque;
	struct kvm_vcpu *kv = g_new0(struct kvm_vcpu, 1);
	int ret;

	kv->kvm = k;
	kv->vcpu = vcpu;
	kv->index = index;
	kv->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, index);
	if (kv->fd < 0) {
		ret = gh_error_set(err, -errno, "kvm: cannot create vCPU %u: %s",
				   index, g_strerror(errno));
		goto err_free;
	}
	kv->run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       kv->fd, 0);
	if (kv->run == MAP_FAILED) {
		ret = gh_error_set(err, -errno, "kvm: cannot map vCPU %u: %s",
				   index, g_strerror(errno));
		goto err_close;
	}
	ret = set_cpuid(kv);
	if (ret < 0) {
		gh_error_set(err, ret, "kvm: cannot set the CPUID of vCPU %u: %s",
			     index, g_strerror(-ret));
		goto err_unmap;
	}
	*out = kv;
	return 0;

err_unmap:
	munmap(kv->run, k->run_size);
err_close:
	close(kv->fd);
err_free:
	g_free(kv);
	return ret;
}

static void kvm_vcpu_destroy(void *opaque)
{
	struct kvm_vcpu *kv = opaque;

	munmap(kv->run, kv->kvm->run_size);
	close(kv->fd);
	g_free(kv);
}

static void kvm_kick(void *opaque)
{
	struct kvm_vcpu *kv = opaque;

	__atomic_store_n(&kv->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&kv->thread_known, __ATOMIC_ACQUIRE))
		pthread_kill(kv->thread, KICK_SIGNAL);
}

static void kvm_nmi(void *opaque)
{
	struct kvm_vcpu *kv = opaque;

	__atomic_store_n(&kv->nmi, true, __ATOMIC_RELEASE);
}

static void fill_error(struct kvm_vcpu *kv, struct gh_exit *e, const char *fmt,
		       unsigned long long a)
{
	struct kvm_regs regs;

	e->reason = GH_EXIT_ERROR;
	snprintf(e->error.msg, sizeof(e->error.msg), fmt, a);
	if (!ioctl(kv->fd, KVM_GET_REGS, &regs))
		e->error.rip = regs.rip;
}

/* Delivers a pending PIC interrupt now, or asks to exit when it can be. */
static void inject(struct kvm_vcpu *kv)
{
	struct kvm_run *run = kv->run;

	run->request_interrupt_window = 0;
	if (!gh_vcpu_intr_pending(kv->vcpu))
		return;
	if (run->ready_for_interrupt_injection && run->if_flag) {
		int vector = gh_vcpu_intr_ack(kv->vcpu);

		if (vector >= 0) {
			struct kvm_interrupt irq = { .irq = vector };

			ioctl(kv->fd, KVM_INTERRUPT, &irq);
		}
		run->request_interrupt_window = gh_vcpu_intr_pending(kv->vcpu);
	} else {
		run->request_interrupt_window = 1;
	}
}

/*
 * The shared loop copies count * size bytes at data_offset in the run page
 * (and checks the size itself): they must lie inside the mapping.
 */
static bool io_exit_ok(const struct kvm_vcpu *kv)
{
	const struct kvm_run *run = kv->run;
	uint64_t len = (uint64_t)run->io.count * run->io.size;
	uint64_t run_size = kv->kvm->run_size;

	return run->io.data_offset <= run_size &&
	       len <= run_size - run->io.data_offset;
}

static int kvm_vcpu_run(void *opaque, struct gh_exit *e)
{
	struct kvm_vcpu *kv = opaque;
	struct kvm_run *run = kv->run;

	if (!kv->thread_known) {
		kv->thread = pthread_self();
		__atomic_store_n(&kv->thread_known, true, __ATOMIC_RELEASE);
	}
	/* KVM_NMI is a vCPU ioctl: issued here, on the vCPU's own thread */
	if (__atomic_exchange_n(&kv->nmi, false, __ATOMIC_ACQ_REL))
		ioctl(kv->fd, KVM_NMI);
	inject(kv);
	if (ioctl(kv->fd, KVM_RUN, 0) < 0) {
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
		__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		e->reason = GH_EXIT_KICK;
		return 0;
	}
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		if (!io_exit_ok(kv)) {
			fill_error(kv, e, "kvm: port I/O exit with its data "
				   "outside the run page (port 0x%llx)",
				   run->io.port);
			break;
		}
		e->reason = GH_EXIT_IO;
		e->io.port = run->io.port;
		e->io.size = run->io.size;
		e->io.in = run->io.direction == KVM_EXIT_IO_IN;
		e->io.count = run->io.count;
		e->io.data = (uint8_t *)run + run->io.data_offset;
		break;
	case KVM_EXIT_MMIO:
		if (run->mmio.len > sizeof(run->mmio.data)) {
			fill_error(kv, e, "kvm: %llu-byte MMIO exit",
				   run->mmio.len);
			break;
		}
		e->reason = GH_EXIT_MMIO;
		e->mmio.gpa = run->mmio.phys_addr;
		e->mmio.size = run->mmio.len;
		e->mmio.write = run->mmio.is_write;
		e->mmio.data = run->mmio.data;
		break;
	case KVM_EXIT_HLT:
		e->reason = GH_EXIT_HLT;
		e->hlt.if_flag = run->if_flag;
		break;
	case KVM_EXIT_SHUTDOWN:
		e->reason = GH_EXIT_SHUTDOWN;
		break;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		e->reason = GH_EXIT_INTR_WINDOW;
		break;
	case KVM_EXIT_INTR:
		e->reason = GH_EXIT_KICK;
		break;
	case KVM_EXIT_FAIL_ENTRY:
		fill_error(kv, e, "kvm: VM entry failed (hardware reason 0x%llx)",
			   run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		fill_error(kv, e, run->internal.suberror ==
				  KVM_INTERNAL_ERROR_EMULATION
				  ? "kvm: cannot emulate an instruction (suberror %llu)"
				  : "kvm: internal error (suberror %llu)",
			   run->internal.suberror);
		break;
	default:
		fill_error(kv, e, "kvm: unexpected exit reason %llu",
			   run->exit_reason);
		break;
	}
	return 0;
}

static void seg_from_kvm(struct gh_segment *s, const struct kvm_segment *k)
{
	*s = (struct gh_segment){
		.base = k->base, .limit = k->limit, .selector = k->selector,
		.type = k->type, .s = k->s, .dpl = k->dpl,
		.present = k->present, .avl = k->avl, .l = k->l, .db = k->db,
		.g = k->g, .unusable = k->unusable,
	};
}

static void seg_to_kvm(struct kvm_segment *k, const struct gh_segment *s)
{
	*k = (struct kvm_segment){
		.base = s->base, .limit = s->limit, .selector = s->selector,
		.type = s->type, .s = s->s, .dpl = s->dpl,
		.present = s->present, .avl = s->avl, .l = s->l, .db = s->db,
		.g = s->g, .unusable = s->unusable,
	};
}

struct kvm_msr_buf {
	struct kvm_msrs hdr;
	struct kvm_msr_entry e[G_N_ELEMENTS(state_msrs)];
};

/*
 * x87/MMX/SSE state: KVM's struct kvm_fpu holds the fields of the 64-bit
 * FXSAVE image that gh_cpu_state.fxsave is (MXCSR_MASK aside, which the
 * image reports as the host CPU does: 0xffff with DAZ).
 */
static void fpu_from_kvm(uint8_t *fx, const struct kvm_fpu *f)
{
	uint32_t mask = 0xffff;

	memcpy(fx + GH_FXSAVE_FCW, &f->fcw, 2);
	memcpy(fx + GH_FXSAVE_FSW, &f->fsw, 2);
	fx[GH_FXSAVE_FTW] = f->ftwx;
	memcpy(fx + 6, &f->last_opcode, 2);
	memcpy(fx + 8, &f->last_ip, 8);
	memcpy(fx + 16, &f->last_dp, 8);
	memcpy(fx + GH_FXSAVE_MXCSR, &f->mxcsr, 4);
	memcpy(fx + GH_FXSAVE_MXCSR_MASK, &mask, 4);
	for (unsigned i = 0; i < 8; i++)
		memcpy(fx + GH_FXSAVE_ST(i), f->fpr[i], 16);
	memcpy(fx + GH_FXSAVE_XMM(0), f->xmm, sizeof(f->xmm));
}

static void fpu_to_kvm(struct kvm_fpu *f, const uint8_t *fx)
{
	memset(f, 0, sizeof(*f));
	memcpy(&f->fcw, fx + GH_FXSAVE_FCW, 2);
	memcpy(&f->fsw, fx + GH_FXSAVE_FSW, 2);
	f->ftwx = fx[GH_FXSAVE_FTW];
	memcpy(&f->last_opcode, fx + 6, 2);
	memcpy(&f->last_ip, fx + 8, 8);
	memcpy(&f->last_dp, fx + 16, 8);
	memcpy(&f->mxcsr, fx + GH_FXSAVE_MXCSR, 4);
	for (unsigned i = 0; i < 8; i++)
		memcpy(f->fpr[i], fx + GH_FXSAVE_ST(i), 10);
	memcpy(f->xmm, fx + GH_FXSAVE_XMM(0), sizeof(f->xmm));
}

/*
 * KVM_SET_FPU leaves the guest's XSTATE_BV alone, so on an XSAVE host the
 * SSE registers it wrote come back in their init state; the XSAVE area
 * (standard format: the FXSAVE image, then the header) is what carries
 * them. Its other components are kept as KVM has them.
 */
static int get_fpu(struct kvm_vcpu *kv, uint8_t *fx)
{
	struct kvm_xsave *x = g_new0(struct kvm_xsave, 1);
	struct kvm_fpu fpu;
	uint64_t bv;
	uint32_t mask = 0xffff;

	if (ioctl(kv->fd, KVM_GET_XSAVE, x) < 0) {
		g_free(x);
		if (ioctl(kv->fd, KVM_GET_FPU, &fpu) < 0)
			return -errno;
		fpu_from_kvm(fx, &fpu);
		return 0;
	}
	memcpy(fx, x->region, 512);
	memcpy(&bv, (uint8_t *)x->region + 512, 8);
	memcpy(fx + GH_FXSAVE_MXCSR_MASK, &mask, 4);
	/* components in their init state (SDM vol. 1, 13.6) */
	if (!(bv & 1)) {
		memset(fx, 0, 24);
		memset(fx + GH_FXSAVE_ST(0), 0, 128);
		fx[GH_FXSAVE_FCW] = 0x7f;
		fx[GH_FXSAVE_FCW + 1] = 0x03;
	}
	if (!(bv & 2))
		memset(fx + GH_FXSAVE_XMM(0), 0, 256);
	g_free(x);
	return 0;
}

static int set_fpu(struct kvm_vcpu *kv, const uint8_t *fx)
{
	struct kvm_xsave *x = g_new0(struct kvm_xsave, 1);
	struct kvm_fpu fpu;
	uint64_t bv;
	int ret = 0;

	if (ioctl(kv->fd, KVM_GET_XSAVE, x) < 0) {
		fpu_to_kvm(&fpu, fx);
		if (ioctl(kv->fd, KVM_SET_FPU, &fpu) < 0)
			ret = -errno;
		g_free(x);
		return ret;
	}
	memcpy(x->region, fx, GH_FXSAVE_MXCSR_MASK);
	memcpy((uint8_t *)x->region + 32, fx + 32, 512 - 32);
	memcpy(&bv, (uint8_t *)x->region + 512, 8);
	bv |= 3;	/* x87 and SSE as written */
	memcpy((uint8_t *)x->region + 512, &bv, 8);
	if (ioctl(kv->fd, KVM_SET_XSAVE, x) < 0)
		ret = -errno;
	g_free(x);
	return ret;
}

/* XCR0 through KVM_GET_XCRS; without the capability it is the reset 1. */
static uint64_t get_xcr0(struct kvm_vcpu *kv)
{
	struct kvm_xcrs x;

	memset(&x, 0, sizeof(x));
	if (ioctl(kv->fd, KVM_GET_XCRS, &x) < 0)
		return 1;
	for (unsigned i = 0; i < x.nr_xcrs && i < G_N_ELEMENTS(x.xcrs); i++)
		if (x.xcrs[i].xcr == 0)
			return x.xcrs[i].value;
	return 1;
}

static int set_xcr0(struct kvm_vcpu *kv, uint64_t xcr0)
{
	struct kvm_xcrs x;

	if (get_xcr0(kv) == xcr0)
		return 0;
	memset(&x, 0, sizeof(x));
	x.nr_xcrs = 1;
	x.xcrs[0].xcr = 0;
	x.xcrs[0].value = xcr0;
	return ioctl(kv->fd, KVM_SET_XCRS, &x) < 0 ? -errno : 0;
}

static int kvm_get_state(void *opaque, struct gh_cpu_state *s)
{
	struct kvm_vcpu *kv = opaque;
	struct kvm_regs r;
	struct kvm_sregs sr;
	struct kvm_debugregs dr;
	struct kvm_vcpu_events ev;
	struct kvm_msr_buf m = { .hdr.nmsrs = G_N_ELEMENTS(state_msrs) };
	unsigned i;
	int n;

	if (ioctl(kv->fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(kv->fd, KVM_GET_SREGS, &sr) < 0 ||
	    ioctl(kv->fd, KVM_GET_DEBUGREGS, &dr) < 0 ||
	    ioctl(kv->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	memset(s, 0, sizeof(*s));
	n = get_fpu(kv, s->fxsave);
	if (n)
		return n;
	s->xcr0 = get_xcr0(kv);
	s->gpr[GH_RAX] = r.rax; s->gpr[GH_RCX] = r.rcx;
	s->gpr[GH_RDX] = r.rdx; s->gpr[GH_RBX] = r.rbx;
	s->gpr[GH_RSP] = r.rsp; s->gpr[GH_RBP] = r.rbp;
	s->gpr[GH_RSI] = r.rsi; s->gpr[GH_RDI] = r.rdi;
	s->gpr[GH_R8] = r.r8; s->gpr[GH_R9] = r.r9;
	s->gpr[GH_R10] = r.r10; s->gpr[GH_R11] = r.r11;
	s->gpr[GH_R12] = r.r12; s->gpr[GH_R13] = r.r13;
	s->gpr[GH_R14] = r.r14; s->gpr[GH_R15] = r.r15;
	s->rip = r.rip;
	s->rflags = r.rflags;
	seg_from_kvm(&s->seg[GH_ES], &sr.es);
	seg_from_kvm(&s->seg[GH_CS], &sr.cs);
	seg_from_kvm(&s->seg[GH_SS], &sr.ss);
	seg_from_kvm(&s->seg[GH_DS], &sr.ds);
	seg_from_kvm(&s->seg[GH_FS], &sr.fs);
	seg_from_kvm(&s->seg[GH_GS], &sr.gs);
	seg_from_kvm(&s->ldt, &sr.ldt);
	seg_from_kvm(&s->tr, &sr.tr);
	s->gdt = (struct gh_dtable){ sr.gdt.base, sr.gdt.limit };
	s->idt = (struct gh_dtable){ sr.idt.base, sr.idt.limit };
	s->cr0 = sr.cr0; s->cr2 = sr.cr2; s->cr3 = sr.cr3; s->cr4 = sr.cr4;
	s->cr8 = sr.cr8; s->efer = sr.efer;
	s->apic_base = sr.apic_base;
	for (i = 0; i < 4; i++)
		s->dr[i] = dr.db[i];
	s->dr[6] = dr.dr6;
	s->dr[7] = dr.dr7;
	s->interrupt_shadow = ev.interrupt.shadow != 0;
	s->nmi_pending = ev.nmi.pending;
	for (i = 0; i < G_N_ELEMENTS(state_msrs); i++)
		m.e[i].index = state_msrs[i];
	n = ioctl(kv->fd, KVM_GET_MSRS, &m);
	for (i = 0; i < (unsigned)MAX(n, 0); i++)
		s->msrs[s->nmsrs++] = (struct gh_msr){ m.e[i].index,
						       m.e[i].data };
	return 0;
}

static int kvm_set_state(void *opaque, const struct gh_cpu_state *s)
{
	struct kvm_vcpu *kv = opaque;
	struct kvm_regs r = {
		.rax = s->gpr[GH_RAX], .rcx = s->gpr[GH_RCX],
		.rdx = s->gpr[GH_RDX], .rbx = s->gpr[GH_RBX],
		.rsp = s->gpr[GH_RSP], .rbp = s->gpr[GH_RBP],
		.rsi = s->gpr[GH_RSI], .rdi = s->gpr[GH_RDI],
		.r8 = s->gpr[GH_R8], .r9 = s->gpr[GH_R9],
		.r10 = s->gpr[GH_R10], .r11 = s->gpr[GH_R11],
		.r12 = s->gpr[GH_R12], .r13 = s->gpr[GH_R13],
		.r14 = s->gpr[GH_R14], .r15 = s->gpr[GH_R15],
		.rip = s->rip, .rflags = s->rflags | GH_RFLAGS_FIXED,
	};
	struct kvm_sregs sr;
	struct kvm_debugregs dr = { .dr6 = s->dr[6], .dr7 = s->dr[7] };
	struct kvm_vcpu_events ev;
	struct kvm_msr_buf m = { 0 };
	unsigned i;
	int ret;

	if (ioctl(kv->fd, KVM_GET_SREGS, &sr) < 0)
		return -errno;
	seg_to_kvm(&sr.es, &s->seg[GH_ES]);
	seg_to_kvm(&sr.cs, &s->seg[GH_CS]);
	seg_to_kvm(&sr.ss, &s->seg[GH_SS]);
	seg_to_kvm(&sr.ds, &s->seg[GH_DS]);
	seg_to_kvm(&sr.fs, &s->seg[GH_FS]);
	seg_to_kvm(&sr.gs, &s->seg[GH_GS]);
	seg_to_kvm(&sr.ldt, &s->ldt);
	seg_to_kvm(&sr.tr, &s->tr);
	sr.gdt.base = s->gdt.base;
	sr.gdt.limit = s->gdt.limit;
	sr.idt.base = s->idt.base;
	sr.idt.limit = s->idt.limit;
	sr.cr0 = s->cr0; sr.cr2 = s->cr2; sr.cr3 = s->cr3; sr.cr4 = s->cr4;
	sr.cr8 = s->cr8; sr.efer = s->efer;
	sr.apic_base = s->apic_base;
	memset(sr.interrupt_bitmap, 0, sizeof(sr.interrupt_bitmap));
	for (i = 0; i < 4; i++)
		dr.db[i] = s->dr[i];
	if (ioctl(kv->fd, KVM_SET_SREGS, &sr) < 0 ||
	    ioctl(kv->fd, KVM_SET_REGS, &r) < 0 ||
	    ioctl(kv->fd, KVM_SET_DEBUGREGS, &dr) < 0)
		return -errno;
	ret = set_fpu(kv, s->fxsave);
	if (ret)
		return ret;
	/* XCR0 after CR4 (OSXSAVE) is in place */
	ret = set_xcr0(kv, s->xcr0);
	if (ret)
		return ret;
	if (!ioctl(kv->fd, KVM_GET_VCPU_EVENTS, &ev)) {
		ev.interrupt.shadow = s->interrupt_shadow ?
				      KVM_X86_SHADOW_INT_STI : 0;
		ev.nmi.pending = s->nmi_pending;
		ev.flags = KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_NMI_PENDING;
		ioctl(kv->fd, KVM_SET_VCPU_EVENTS, &ev);
	}
	for (i = 0; i < s->nmsrs && m.hdr.nmsrs < G_N_ELEMENTS(m.e); i++) {
		m.e[m.hdr.nmsrs].index = s->msrs[i].index;
		m.e[m.hdr.nmsrs++].data = s->msrs[i].value;
	}
	if (m.hdr.nmsrs && ioctl(kv->fd, KVM_SET_MSRS, &m) < 0)
		return -errno;
	return 0;
}

const struct gh_accel_ops gh_accel_kvm = {
	.name = "kvm",
	.probe = kvm_probe,
	.vm_init = kvm_vm_init,
	.vm_destroy = kvm_vm_destroy,
	.map_memory = kvm_map_memory,
	.remap_memory = kvm_remap_memory,
	.vcpu_init = kvm_vcpu_init,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vcpu_run = kvm_vcpu_run,
	.get_state = kvm_get_state,
	.set_state = kvm_set_state,
	.kick = kvm_kick,
	.nmi = kvm_nmi,
};

/*
 * The speed probe: 32-bit protected mode at CPL0 counting ECX down
 * from PROBE_LOOPS (dec ecx; jnz), then HLT. Two instructions per loop.
 */
#define PROBE_LOOPS 200000u
#define PROBE_MEM (64 << 10)
#define PROBE_CODE 0x1000

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int probe_run(int vm_fd, int run_size, double *mips, struct gh_error *err)
{
	static const uint8_t code[] = {
		0xb9, PROBE_LOOPS & 0xff, (PROBE_LOOPS >> 8) & 0xff,
		(PROBE_LOOPS >> 16) & 0xff, PROBE_LOOPS >> 24,	/* mov ecx, N */
		0x49,						/* dec ecx */
		0x75, 0xfd,					/* jnz -3 */
		0xf4,						/* hlt */
	};
	struct kvm_userspace_memory_region region = { .memory_size = PROBE_MEM };
	struct kvm_sregs sr;
	struct kvm_regs r = { .rip = PROBE_CODE, .rflags = 2 };
	struct kvm_run *run;
	uint64_t t0, t1;
	uint8_t *mem;
	int fd = -1, ret = 0;

	mem = mmap(NULL, PROBE_MEM, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return gh_error_set(err, -errno, "kvm probe: out of memory");
	memcpy(mem + PROBE_CODE, code, sizeof(code));
	region.userspace_addr = (uintptr_t)mem;
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0 ||
	    (fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0)) < 0) {
		ret = gh_error_set(err, -errno, "kvm probe: %s", g_strerror(errno));
		goto out;
	}
	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (run == MAP_FAILED) {
		ret = gh_error_set(err, -EIO, "kvm probe: cannot map the vCPU");
		goto out;
	}
	if (ioctl(fd, KVM_GET_SREGS, &sr) < 0) {
		ret = gh_error_set(err, -EIO, "kvm probe: cannot set up a vCPU");
		goto out_unmap;
	}
	sr.cs = (struct kvm_segment){ .limit = 0xffffffff, .selector = 8,
		.type = 0xb, .present = 1, .s = 1, .db = 1, .g = 1 };
	sr.ds = (struct kvm_segment){ .limit = 0xffffffff, .selector = 16,
		.type = 3, .present = 1, .s = 1, .db = 1, .g = 1 };
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	sr.cr0 = GH_CR0_PE | GH_CR0_ET;
	if (ioctl(fd, KVM_SET_SREGS, &sr) < 0 || ioctl(fd, KVM_SET_REGS, &r) < 0) {
		ret = gh_error_set(err, -errno, "kvm probe: %s", g_strerror(errno));
		goto out_unmap;
	}
	t0 = mono_ns();
	do {
		ret = ioctl(fd, KVM_RUN, 0);
	} while (ret < 0 && errno == EINTR);
	t1 = mono_ns();
	if (ret < 0 || run->exit_reason != KVM_EXIT_HLT) {
		ret = gh_error_set(err, -EIO, "kvm probe: the probe guest did "
				   "not halt (exit reason %u)", run->exit_reason);
		goto out_unmap;
	}
	*mips = 2.0 * PROBE_LOOPS / ((double)MAX(t1 - t0, 1u) / 1000.0);
	ret = 0;
out_unmap:
	munmap(run, run_size);
out:
	if (fd >= 0)
		close(fd);
	munmap(mem, PROBE_MEM);
	return ret;
}

int gh_kvm_measure_mips(double *mips, struct gh_error *err)
{
	int sys_fd, vm_fd, run_size, ret;

	sys_fd = open_kvm(err);
	if (sys_fd < 0)
		return sys_fd;
	ret = check_kvm(sys_fd, err);
	if (ret < 0)
		goto out;
	vm_fd = ioctl(sys_fd, KVM_CREATE_VM, 0);
	run_size = ioctl(sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm_fd < 0 || run_size <= 0) {
		ret = gh_error_set(err, -EIO, "kvm probe: cannot create a VM");
		if (vm_fd >= 0)
			close(vm_fd);
		goto out;
	}
	ioctl(vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR);
	ret = probe_run(vm_fd, run_size, mips, err);
	close(vm_fd);
out:
	close(sys_fd);
	return ret;
}
