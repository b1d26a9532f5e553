/*
 * The software CPU's lifecycle and architectural state: creation, state
 * transfer with the consistency checks of SDM vol. 3A, 2.5 and 9.8.5
 * (control registers, EFER, the modes they imply), mode and CPL tracking.
 */
#include "cpu/cpu-internal.h"
#include "cpu/mmu.h"
#include "cpu/sse.h"
#include "cpu/x87.h"

#include <errno.h>
#include <string.h>

/* RFLAGS bits that exist; bit 1 always reads as 1. */
#define FL_VALID                                                                         \
	(GH_FL_CF | GH_FL_PF | GH_FL_AF | GH_FL_ZF | GH_FL_SF | GH_FL_TF | GH_FL_IF |    \
	 GH_FL_DF | GH_FL_OF | GH_FL_IOPL | GH_FL_NT | GH_FL_RF | GH_FL_VM | GH_FL_AC |  \
	 GH_FL_VIF | GH_FL_VIP | GH_FL_ID)

struct gh_cpu *gh_cpu_new(const struct gh_cpu_bus *bus, unsigned index)
{
	return gh_cpu_new_shared(bus, index, NULL);
}

struct gh_cpu *gh_cpu_new_shared(const struct gh_cpu_bus *bus, unsigned index,
				 struct gh_code_map *map)
{
	struct gh_cpu *cpu = g_new0(struct gh_cpu, 1);
	struct gh_cpu_state *s;
	int ret;

	cpu->bus = *bus;
	cpu->index = index;
	cpu->delivering = -1;
	gh_x87_reset(&cpu->x87);
	if (gh_exec_init(cpu, map) < 0) {
		g_free(cpu);
		return NULL;
	}
	s = g_new(struct gh_cpu_state, 1);
	gh_cpu_state_reset(s, index == 0);
	ret = gh_cpu_set_state(cpu, s);
	g_assert(ret == 0); /* the reset state is always valid */
	g_free(s);
	return cpu;
}

void gh_cpu_free(struct gh_cpu *cpu)
{
	if (!cpu)
		return;
	gh_exec_fini(cpu);
	g_free(cpu);
}

void gh_cpu_kick(struct gh_cpu *cpu)
{
	__atomic_store_n(&cpu->kick, 1, __ATOMIC_SEQ_CST);
}

void gh_cpu_intr_changed(struct gh_cpu *cpu)
{
	__atomic_store_n(&cpu->intr_poke, 1, __ATOMIC_SEQ_CST);
}

uint64_t gh_cpu_retired(struct gh_cpu *cpu)
{
	return cpu->retired;
}

void gh_cpu_update_mode(struct gh_cpu *cpu)
{
	if (!(cpu->cr0 & GH_CR0_PE)) {
		cpu->mode = GH_MODE_REAL;
		cpu->cpl = 0;
	} else if (cpu->efer & GH_EFER_LMA) {
		cpu->mode = cpu->seg[GH_CS].l ? GH_MODE_LONG : GH_MODE_COMPAT;
	} else if (cpu->rflags & GH_FL_VM) {
		cpu->mode = GH_MODE_V86;
		cpu->cpl = 3;
	} else {
		cpu->mode = GH_MODE_PROT;
	}
	gh_exec_mode_changed(cpu);
}

static uint64_t host_ns(struct gh_cpu *cpu)
{
	return cpu->bus.now_ns ? cpu->bus.now_ns(cpu->bus.opaque) : 0;
}

/* The TSC counts at 1 GHz: host nanoseconds plus the guest's offset. */
static uint64_t tsc_now(struct gh_cpu *cpu)
{
	return host_ns(cpu) + (uint64_t)cpu->tsc_offset;
}

/* The MSRs that travel in gh_cpu_state.msrs; false if index is unknown. */
static bool msr_slot(struct gh_cpu *cpu, uint32_t index, uint64_t **slot)
{
	switch (index) {
	case GH_MSR_IA32_SYSENTER_CS:
		*slot = &cpu->msr_sysenter_cs;
		break;
	case GH_MSR_IA32_SYSENTER_ESP:
		*slot = &cpu->msr_sysenter_esp;
		break;
	case GH_MSR_IA32_SYSENTER_EIP:
		*slot = &cpu->msr_sysenter_eip;
		break;
	case GH_MSR_IA32_MISC_ENABLE:
		*slot = &cpu->msr_misc_enable;
		break;
	case GH_MSR_IA32_PAT:
		*slot = &cpu->msr_pat;
		break;
	case GH_MSR_STAR:
		*slot = &cpu->msr_star;
		break;
	case GH_MSR_LSTAR:
		*slot = &cpu->msr_lstar;
		break;
	case GH_MSR_CSTAR:
		*slot = &cpu->msr_cstar;
		break;
	case GH_MSR_SFMASK:
		*slot = &cpu->msr_sfmask;
		break;
	case GH_MSR_KERNEL_GS_BASE:
		*slot = &cpu->msr_kernel_gs_base;
		break;
	case GH_MSR_TSC_AUX:
		*slot = &cpu->msr_tsc_aux;
		break;
	case GH_MSR_FS_BASE:
		*slot = &cpu->seg[GH_FS].base;
		break;
	case GH_MSR_GS_BASE:
		*slot = &cpu->seg[GH_GS].base;
		break;
	case 0x2ff: /* IA32_MTRR_DEF_TYPE */
		*slot = &cpu->mtrr_def_type;
		break;
	case 0x250: /* IA32_MTRR_FIX64K_00000 */
		*slot = &cpu->mtrr_fixed[0];
		break;
	case 0x258 ... 0x259: /* IA32_MTRR_FIX16K_* */
		*slot = &cpu->mtrr_fixed[1 + index - 0x258];
		break;
	case 0x268 ... 0x26f: /* IA32_MTRR_FIX4K_* */
		*slot = &cpu->mtrr_fixed[3 + index - 0x268];
		break;
	case 0x200 ... 0x20f: /* IA32_MTRR_PHYSBASE0/PHYSMASK0 ... 7 */
		*slot = &cpu->mtrr_var[index - 0x200];
		break;
	default:
		return false;
	}
	return true;
}

static const uint32_t state_msrs[] = {
    GH_MSR_IA32_TSC,
    GH_MSR_IA32_SYSENTER_CS,
    GH_MSR_IA32_SYSENTER_ESP,
    GH_MSR_IA32_SYSENTER_EIP,
    GH_MSR_IA32_MISC_ENABLE,
    GH_MSR_IA32_PAT,
    GH_MSR_STAR,
    GH_MSR_LSTAR,
    GH_MSR_CSTAR,
    GH_MSR_SFMASK,
    GH_MSR_KERNEL_GS_BASE,
    GH_MSR_TSC_AUX,
    0x2ff,
    0x250, 0x258, 0x259,
    0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f,
    0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207,
    0x208, 0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f,
};
/* gh_cpu_get_state() writes them all into gh_cpu_state.msrs */
G_STATIC_ASSERT(G_N_ELEMENTS(state_msrs) <= GH_CPU_MAX_MSRS);

void gh_cpu_get_state(struct gh_cpu *cpu, struct gh_cpu_state *s)
{
	unsigned i;

	memset(s, 0, sizeof(*s));
	memcpy(s->gpr, cpu->gpr, sizeof(s->gpr));
	s->rip = cpu->rip;
	s->rflags = gh_flags_get(&cpu->lf, cpu->rflags);
	memcpy(s->seg, cpu->seg, sizeof(s->seg));
	s->ldt = cpu->ldtr;
	s->tr = cpu->tr;
	s->gdt = cpu->gdtr;
	s->idt = cpu->idtr;
	s->cr0 = cpu->cr0;
	s->cr2 = cpu->cr2;
	s->cr3 = cpu->cr3;
	s->cr4 = cpu->cr4;
	s->cr8 = cpu->cr8;
	s->efer = cpu->efer;
	memcpy(s->dr, cpu->dr, sizeof(s->dr));
	s->apic_base = cpu->apic_base;
	for (i = 0; i < G_N_ELEMENTS(state_msrs); i++) {
		uint64_t *slot;

		s->msrs[i].index = state_msrs[i];
		if (state_msrs[i] == GH_MSR_IA32_TSC)
			s->msrs[i].value = tsc_now(cpu);
		else if (msr_slot(cpu, state_msrs[i], &slot))
			s->msrs[i].value = *slot;
	}
	s->nmsrs = i;
	s->halted = cpu->halted;
	s->interrupt_shadow = cpu->interrupt_shadow;
	s->nmi_pending = cpu->nmi_pending;
	gh_sse_fxsave_image(cpu, s->fxsave, true, 16);
	s->xcr0 = cpu->xcr0;
}

/*
 * A state is accepted only if the CPU could be in it: no reserved bit set
 * in CR0/CR4/EFER/RFLAGS, and the modes those imply agree (SDM 2.5, 9.8.5:
 * PG needs PE, long mode needs PAE and paging, LMA = LME && PG; V86 exists
 * only in legacy protected mode; a 64-bit code segment has D = 0).
 */
static bool state_valid(const struct gh_cpu_state *s)
{
	bool lma = s->efer & GH_EFER_LMA;
	const struct gh_segment *cs = &s->seg[GH_CS];
	uint32_t mxcsr;

	if (s->cr0 & ~GH_CR0_VALID)
		return false;
	if ((s->cr0 & GH_CR0_PG) && !(s->cr0 & GH_CR0_PE))
		return false;
	if ((s->cr0 & GH_CR0_NW) && !(s->cr0 & GH_CR0_CD))
		return false;
	if (s->cr4 & ~GH_CR4_VALID)
		return false;
	if (s->efer & ~GH_EFER_VALID)
		return false;
	if (lma != ((s->efer & GH_EFER_LME) && (s->cr0 & GH_CR0_PG)))
		return false;
	if (lma && !(s->cr4 & GH_CR4_PAE))
		return false;
	if (s->rflags & ~(uint64_t)(FL_VALID | GH_RFLAGS_FIXED))
		return false;
	if ((s->rflags & GH_FL_VM) && (lma || !(s->cr0 & GH_CR0_PE)))
		return false;
	if (lma && cs->l && cs->db)
		return false;
	if (!lma && (s->cr3 >> 32))
		return false;
	if (s->gdt.base != (lma ? s->gdt.base : (uint32_t)s->gdt.base))
		return false;
	if (s->idt.base != (lma ? s->idt.base : (uint32_t)s->idt.base))
		return false;
	if (lma && !gh_cpu_canonical(s->rip))
		return false;
	if (s->nmsrs > GH_CPU_MAX_MSRS)
		return false;
	/* XCR0 keeps x87 and enables only what exists; MXCSR's reserved bits
	 * are clear (what XSETBV and FXRSTOR would refuse) */
	if (!(s->xcr0 & GH_XCR0_X87) || (s->xcr0 & ~GH_XCR0_VALID))
		return false;
	memcpy(&mxcsr, s->fxsave + GH_FXSAVE_MXCSR, 4);
	if (mxcsr & ~GH_MXCSR_MASK)
		return false;
	return true;
}

int gh_cpu_set_state(struct gh_cpu *cpu, const struct gh_cpu_state *s)
{
	uint64_t *slot;
	uint32_t i;

	if (!state_valid(s))
		return -EINVAL;
	for (i = 0; i < s->nmsrs; i++) {
		if (s->msrs[i].index != GH_MSR_IA32_TSC &&
		    s->msrs[i].index != GH_MSR_EFER &&
		    s->msrs[i].index != GH_MSR_IA32_APIC_BASE &&
		    !msr_slot(cpu, s->msrs[i].index, &slot))
			return -EINVAL;
	}

	memcpy(cpu->gpr, s->gpr, sizeof(cpu->gpr));
	cpu->rip = s->rip;
	cpu->prev_rip = s->rip;
	cpu->rflags = s->rflags | GH_RFLAGS_FIXED;
	gh_flags_set(&cpu->lf, cpu->rflags, GH_ALU_FLAGS);
	/* whatever was cached belongs to the old state */
	gh_tlb_flush_all(cpu->tlb);
	memcpy(cpu->seg, s->seg, sizeof(cpu->seg));
	cpu->ldtr = s->ldt;
	cpu->tr = s->tr;
	cpu->gdtr = s->gdt;
	cpu->idtr = s->idt;
	cpu->cr0 = s->cr0;
	cpu->cr2 = s->cr2;
	cpu->cr3 = s->cr3;
	cpu->cr4 = s->cr4;
	cpu->cr8 = s->cr8 & 0xf;
	cpu->efer = s->efer;
	memcpy(cpu->dr, s->dr, sizeof(cpu->dr));
	cpu->apic_base = s->apic_base;
	/* the MSRs come after the segments: FS/GS base MSRs win over the cache */
	for (i = 0; i < s->nmsrs; i++) {
		uint32_t index = s->msrs[i].index;

		if (index == GH_MSR_IA32_TSC)
			cpu->tsc_offset = (int64_t)(s->msrs[i].value - host_ns(cpu));
		else if (msr_slot(cpu, index, &slot))
			*slot = s->msrs[i].value;
	}
	gh_sse_fxrstor_image(cpu, s->fxsave, true, 16);
	cpu->xcr0 = s->xcr0;
	cpu->halted = s->halted;
	cpu->interrupt_shadow = s->interrupt_shadow;
	cpu->nmi_pending = s->nmi_pending;
	cpu->shutdown = false;
	cpu->delivering = -1;
	cpu->err_ext = 0;
	cpu->pending_dbg = 0;

	/* Outside real and V86 mode, SS.DPL is the CPL (as VMX defines it). */
	cpu->cpl = s->seg[GH_SS].dpl;
	gh_cpu_update_mode(cpu);
	gh_cpu_mem_cr3_loaded(cpu);
	return 0;
}
