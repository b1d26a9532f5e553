/*
 * System and miscellaneous instruction handlers of the interpreter: CPUID,
 * TSC, MSRs, control and debug registers, descriptor tables, SYSCALL/SYSENTER
 * and their returns, LAR/LSL/VERR/VERW/ARPL, HLT, CLI/STI, cache and fence
 * instructions. Intel SDM vol. 2 (the instructions' pseudo-code), vol. 3A
 * ch. 2, 4, 5, 17 and vol. 4. The x87 escapes and FWAIT are exec-x87.c's.
 */
#include "cpu/exec.h"

#include <errno.h>

#include "cpu/cpuid.h"

#define FL_ALL (~0ULL)

/* IA32_MTRRCAP: 8 variable ranges, fixed ranges, write-combining (SDM 11.11.1). */
#define MTRRCAP_VALUE ((1u << 10) | (1u << 8) | 8u)
#define MSR_MTRRCAP 0xfe
#define MSR_BIOS_SIGN_ID 0x8b
#define MSR_PLATFORM_ID 0x17
#define MSR_MTRR_PHYS_BASE0 0x200
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_MCG_CAP 0x179
#define MSR_MCG_STATUS 0x17a
#define MSR_MCG_CTL 0x17b
#define MSR_MC0_CTL 0x400 /* bank i: CTL, STATUS, ADDR, MISC at 0x400 + 4i */
#define MCG_CTL_P (1ULL << 8)
#define MTRR_DEF_TYPE_VALID 0xcffULL
#define PHYS_RESERVED (~0ULL << GH_MMU_MAXPHYADDR)

#define DR6_FIXED 0xffff0ff0ULL /* reads as 1: bits 4-11 and 16-31 */
#define DR6_BD (1u << 13)
#define DR6_WRITABLE 0xe00fULL
#define DR7_FIXED 0x400ULL
#define DR7_GD (1u << 13)
#define DR7_WRITABLE 0xffff23ffULL

/* ---- helpers ---------------------------------------------------------------- */

static inline bool long64(const struct gh_cpu *cpu)
{
	return cpu->mode == GH_MODE_LONG;
}

/* Protected mode proper: neither real nor virtual-8086 mode. */
static inline bool prot(const struct gh_cpu *cpu)
{
	return cpu->mode != GH_MODE_REAL && cpu->mode != GH_MODE_V86;
}

/* Privileged instructions: #GP(0) above CPL 0 (V86 mode runs at CPL 3). */
static inline void need_cpl0(struct gh_cpu *cpu)
{
	if (cpu->cpl)
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
}

static inline void need_prot(struct gh_cpu *cpu)
{
	if (!prot(cpu))
		gh_exec_ud(cpu);
}

__attribute__((noreturn)) static void gp0(struct gh_cpu *cpu)
{
	gh_cpu_raise(cpu, GH_EXC_GP, 0);
}

static void set_zf(struct gh_cpu *cpu, bool zf)
{
	gh_exec_set_rflags(cpu, zf ? GH_FL_ZF : 0, GH_FL_ZF);
}

static void set_edx_eax(struct gh_cpu *cpu, uint64_t v)
{
	gh_reg_set(cpu, GH_RAX, 4, (uint32_t)v);
	gh_reg_set(cpu, GH_RDX, 4, v >> 32);
}

/* The linear address of the memory operand (INVLPG, CLFLUSH). */
static uint64_t operand_linear(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t off = gh_exec_ea(cpu, i);

	if (long64(cpu))
		return (i->seg >= GH_FS ? cpu->seg[i->seg].base : 0) + off;
	return (uint32_t)(cpu->seg[i->seg].base + off);
}

/* A flat 4 GiB code or stack segment as SYSCALL/SYSENTER and their returns
 * load it (the descriptor tables are not read). */
static void flat_seg(struct gh_segment *s, uint16_t sel, bool code, unsigned dpl, bool l)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->type = code ? 0xb : 0x3;
	s->s = 1;
	s->dpl = dpl;
	s->present = 1;
	s->l = l;
	s->db = !l;
	s->g = 1;
}

/* Loads CS and SS for a fast system call or return. */
static void fast_transfer(struct gh_cpu *cpu, uint16_t cs_sel, uint16_t ss_sel, unsigned cpl,
			  bool l)
{
	struct gh_segment cs;

	flat_seg(&cpu->seg[GH_SS], ss_sel, false, cpl, false);
	flat_seg(&cs, cs_sel, true, cpl, l);
	gh_cpu_set_cs(cpu, &cs, cpl);
	gh_exec_end_block(cpu);
}

/* ---- CPUID, TSC ---------------------------------------------------------------- */

static void h_cpuid(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint32_t r[4];

	(void)i;
	gh_cpuid(cpu, (uint32_t)cpu->gpr[GH_RAX], (uint32_t)cpu->gpr[GH_RCX], r);
	gh_reg_set(cpu, GH_RAX, 4, r[GH_CPUID_EAX]);
	gh_reg_set(cpu, GH_RBX, 4, r[GH_CPUID_EBX]);
	gh_reg_set(cpu, GH_RCX, 4, r[GH_CPUID_ECX]);
	gh_reg_set(cpu, GH_RDX, 4, r[GH_CPUID_EDX]);
}

static void tsd_check(struct gh_cpu *cpu)
{
	if ((cpu->cr4 & GH_CR4_TSD) && cpu->cpl)
		gp0(cpu);
}

static void h_rdtsc(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	(void)i;
	tsd_check(cpu);
	set_edx_eax(cpu, gh_exec_tsc(cpu));
}

static void h_rdtscp(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	(void)i;
	tsd_check(cpu);
	set_edx_eax(cpu, gh_exec_tsc(cpu));
	gh_reg_set(cpu, GH_RCX, 4, (uint32_t)cpu->msr_tsc_aux);
}

/* No performance counters exist (CPUID leaf 0xa is zero): every ECX is invalid. */
static void h_rdpmc(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	(void)i;
	gp0(cpu);
}

/* ---- MSRs (SDM vol. 4, table 2-2) ------------------------------------------------ */

/* Memory types an MTRR may hold: UC, WC, WT, WP, WB (SDM 11.11.1). */
static bool mtrr_type_ok(uint64_t t)
{
	return t < 8 && ((0x73u >> t) & 1);
}

/* PAT entries may also be UC- (7) (SDM 11.12.2). */
static bool pat_ok(uint64_t v)
{
	for (unsigned k = 0; k < 8; k++) {
		unsigned t = (v >> (8 * k)) & 0xff;

		if (t >= 8 || !((0xf3u >> t) & 1))
			return false;
	}
	return true;
}

static bool fixed_ok(uint64_t v)
{
	for (unsigned k = 0; k < 8; k++)
		if (!mtrr_type_ok((v >> (8 * k)) & 0xff))
			return false;
	return true;
}

/* The fixed-range MTRR slot of an MSR index, or -1. */
static int mtrr_fixed_slot(uint32_t index)
{
	if (index == 0x250)
		return 0;
	if (index == 0x258 || index == 0x259)
		return 1 + (int)(index - 0x258);
	if (index >= 0x268 && index <= 0x26f)
		return 3 + (int)(index - 0x268);
	return -1;
}

static uint64_t *msr_plain(struct gh_cpu *cpu, uint32_t index)
{
	switch (index) {
	case GH_MSR_IA32_SYSENTER_CS:
		return &cpu->msr_sysenter_cs;
	case GH_MSR_IA32_SYSENTER_ESP:
		return &cpu->msr_sysenter_esp;
	case GH_MSR_IA32_SYSENTER_EIP:
		return &cpu->msr_sysenter_eip;
	case GH_MSR_IA32_MISC_ENABLE:
		return &cpu->msr_misc_enable;
	case GH_MSR_IA32_PAT:
		return &cpu->msr_pat;
	case GH_MSR_STAR:
		return &cpu->msr_star;
	case GH_MSR_LSTAR:
		return &cpu->msr_lstar;
	case GH_MSR_CSTAR:
		return &cpu->msr_cstar;
	case GH_MSR_SFMASK:
		return &cpu->msr_sfmask;
	case GH_MSR_KERNEL_GS_BASE:
		return &cpu->msr_kernel_gs_base;
	case GH_MSR_TSC_AUX:
		return &cpu->msr_tsc_aux;
	case GH_MSR_FS_BASE:
		return &cpu->seg[GH_FS].base;
	case GH_MSR_GS_BASE:
		return &cpu->seg[GH_GS].base;
	case GH_MSR_IA32_APIC_BASE:
		return &cpu->apic_base;
	case GH_MSR_EFER:
		return &cpu->efer;
	case MSR_MTRR_DEF_TYPE:
		return &cpu->mtrr_def_type;
	}
	if (index >= MSR_MTRR_PHYS_BASE0 && index < MSR_MTRR_PHYS_BASE0 + 16)
		return &cpu->mtrr_var[index - MSR_MTRR_PHYS_BASE0];
	if (mtrr_fixed_slot(index) >= 0)
		return &cpu->mtrr_fixed[mtrr_fixed_slot(index)];
	return NULL;
}

/*
 * Machine-check architecture (SDM vol. 3B, 16.3): IA32_MCG_CAP reports the
 * banks and MCG_CTL; no machine check is ever signalled, so status,
 * address and misc registers read 0 and take only 0 (other values #GP, as
 * on CPUs without software error recovery). Returns false for an MSR that
 * is not one of these; rdmsr gets the value in *v, wrmsr writes v.
 */
static bool mca_msr(struct gh_cpu *cpu, uint32_t index, bool write, uint64_t *v)
{
	unsigned bank = (index - MSR_MC0_CTL) / 4;

	switch (index) {
	case MSR_MCG_CAP:
		if (write)
			gp0(cpu); /* read-only */
		*v = GH_CPU_MCE_BANKS | MCG_CTL_P;
		return true;
	case MSR_MCG_STATUS:
		if (write && *v)
			gp0(cpu);
		*v = cpu->mcg_status;
		return true;
	case MSR_MCG_CTL:
		/* all ones enables, all zeros disables; nothing in between */
		if (write && *v != 0 && *v != ~0ULL)
			gp0(cpu);
		if (write)
			cpu->mcg_ctl = *v;
		*v = cpu->mcg_ctl;
		return true;
	}
	if (index < MSR_MC0_CTL || bank >= GH_CPU_MCE_BANKS)
		return false;
	if ((index & 3) == 0) {
		if (write)
			cpu->mc_ctl[bank] = *v;
		*v = cpu->mc_ctl[bank];
	} else {
		if (write && *v)
			gp0(cpu);
		*v = 0;
	}
	return true;
}

/* The MSRs of the local APIC, which the backend's bus owns when it has one. */
static bool apic_msr(struct gh_cpu *cpu, uint32_t index, bool write, uint64_t *v)
{
	int ret;

	if (!cpu->bus.msr ||
	    (index != GH_MSR_IA32_APIC_BASE && index != GH_MSR_IA32_TSC_DEADLINE &&
	     (index < 0x800 || index > 0x8ff)))
		return false;
	ret = cpu->bus.msr(cpu->bus.opaque, index, write, v, gh_exec_tsc(cpu));
	if (ret == -ENOENT)
		return false;
	if (ret < 0)
		gp0(cpu);
	return true;
}

static void h_rdmsr(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint32_t index = (uint32_t)cpu->gpr[GH_RCX];
	uint64_t *slot, v;

	(void)i;
	need_cpl0(cpu);
	if (apic_msr(cpu, index, false, &v)) {
		set_edx_eax(cpu, v);
		return;
	}
	switch (index) {
	case GH_MSR_IA32_TSC:
		v = gh_exec_tsc(cpu);
		break;
	case MSR_MTRRCAP:
		v = MTRRCAP_VALUE;
		break;
	case MSR_BIOS_SIGN_ID:
		v = 0; /* no microcode: Linux reads it on every Intel CPU */
		break;
	case MSR_PLATFORM_ID:
		/* platform 0 (bits 52:50): microcode loaders (OVMF's, Linux's)
		 * read it on every Intel CPU; read-only */
		v = 0;
		break;
	default:
		if (mca_msr(cpu, index, false, &v))
			break;
		slot = msr_plain(cpu, index);
		if (!slot)
			gp0(cpu);
		v = *slot;
		break;
	}
	set_edx_eax(cpu, v);
}

static void write_efer(struct gh_cpu *cpu, uint64_t v)
{
	uint64_t old = cpu->efer;

	if (v & ~GH_EFER_VALID)
		gp0(cpu);
	/* LMA is read-only: CR0.PG with LME sets it */
	v = (v & ~GH_EFER_LMA) | (old & GH_EFER_LMA);
	if (((v ^ old) & GH_EFER_LME) && (cpu->cr0 & GH_CR0_PG))
		gp0(cpu);
	cpu->efer = v;
	gh_exec_control_changed(cpu, cpu->cr0, cpu->cr4, old);
}

static void h_wrmsr(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint32_t index = (uint32_t)cpu->gpr[GH_RCX];
	uint64_t v = (cpu->gpr[GH_RDX] << 32) | (uint32_t)cpu->gpr[GH_RAX];
	uint64_t *slot;

	(void)i;
	need_cpl0(cpu);
	switch (index) {
	case GH_MSR_IA32_TSC:
		/* the TSC counts on from the value written */
		cpu->tsc_offset += (int64_t)(v - gh_exec_tsc(cpu));
		return;
	case MSR_BIOS_SIGN_ID:
		return; /* writing 0 before CPUID 1 asks for the revision: ignored */
	case GH_MSR_EFER:
		write_efer(cpu, v);
		return;
	case GH_MSR_IA32_APIC_BASE:
		/* bits 7:0, 9 and 10 (x2APIC, not advertised) are reserved */
		if (v & (PHYS_RESERVED | 0x6ffULL))
			gp0(cpu);
		/* the BSP flag is read-only (SDM vol. 3A, 10.4.4) */
		v = (v & ~(1ULL << 8)) | (cpu->apic_base & (1ULL << 8));
		apic_msr(cpu, index, true, &v);
		break;
	case GH_MSR_IA32_TSC_DEADLINE:
		if (!apic_msr(cpu, index, true, &v))
			gp0(cpu);
		return;
	case GH_MSR_IA32_PAT:
		if (!pat_ok(v))
			gp0(cpu);
		break;
	case MSR_MTRR_DEF_TYPE:
		if ((v & ~MTRR_DEF_TYPE_VALID) || !mtrr_type_ok(v & 0xff))
			gp0(cpu);
		break;
	case GH_MSR_IA32_SYSENTER_CS:
		v = (uint32_t)v;
		break;
	case GH_MSR_IA32_SYSENTER_ESP:
	case GH_MSR_IA32_SYSENTER_EIP:
	case GH_MSR_LSTAR:
	case GH_MSR_CSTAR:
	case GH_MSR_FS_BASE:
	case GH_MSR_GS_BASE:
	case GH_MSR_KERNEL_GS_BASE:
		if (!gh_cpu_canonical(v))
			gp0(cpu);
		break;
	case GH_MSR_SFMASK:
		v = (uint32_t)v; /* RFLAGS is 32 bits wide */
		break;
	case GH_MSR_TSC_AUX:
		if (v >> 32)
			gp0(cpu);
		break;
	case MSR_MTRRCAP:
		gp0(cpu); /* read-only */
	default:
		if (mca_msr(cpu, index, true, &v))
			return;
		if (index >= MSR_MTRR_PHYS_BASE0 && index < MSR_MTRR_PHYS_BASE0 + 16) {
			bool mask = index & 1;

			if (mask ? (v & (PHYS_RESERVED | 0x7ffULL))
				 : ((v & (PHYS_RESERVED | 0xf00ULL)) ||
				    !mtrr_type_ok(v & 0xff)))
				gp0(cpu);
		} else if (mtrr_fixed_slot(index) >= 0 && !fixed_ok(v)) {
			gp0(cpu);
		}
		break;
	}
	slot = msr_plain(cpu, index);
	if (!slot)
		gp0(cpu);
	*slot = v;
}

/* ---- control registers (SDM vol. 3A, 2.5; vol. 2, MOV CR) ------------------------- */

/*
 * PAE paging outside long mode caches the PDPTEs when CR0/CR4 change the
 * paging mode: a reserved bit in one makes the MOV #GP(0), changing nothing.
 */
static void check_pdptes(struct gh_cpu *cpu, uint64_t cr0, uint64_t cr4, uint64_t efer)
{
	struct gh_mmu_ctx ctx;

	if (!gh_mmu_pdptes_needed(cpu->cr0, cpu->cr4, cr0, cr4, efer))
		return;
	gh_cpu_mmu_ctx(cpu, &ctx, 0);
	ctx.cr0 = cr0;
	ctx.cr4 = cr4;
	ctx.efer = efer;
	if (gh_mmu_load_pdptes(&ctx, cpu->cr3) != GH_MMU_OK)
		gp0(cpu);
}

static void write_cr0(struct gh_cpu *cpu, uint64_t v)
{
	uint64_t old0 = cpu->cr0, efer = cpu->efer;

	if (v >> 32)
		gp0(cpu);
	/* reserved bits of the low half are ignored; ET is hardwired to 1 */
	v = (v & GH_CR0_VALID) | GH_CR0_ET;
	if ((v & GH_CR0_PG) && !(v & GH_CR0_PE))
		gp0(cpu);
	if ((v & GH_CR0_NW) && !(v & GH_CR0_CD))
		gp0(cpu);
	if ((v & GH_CR0_PG) && !(old0 & GH_CR0_PG) && (efer & GH_EFER_LME)) {
		/* activating IA-32e mode: PAE on, from 32-bit code */
		if (!(cpu->cr4 & GH_CR4_PAE) || cpu->seg[GH_CS].l)
			gp0(cpu);
		efer |= GH_EFER_LMA;
	}
	if (!(v & GH_CR0_PG) && (old0 & GH_CR0_PG) && (efer & GH_EFER_LMA)) {
		/* long mode is left from compatibility mode only */
		if (long64(cpu))
			gp0(cpu);
		efer &= ~GH_EFER_LMA;
	}
	check_pdptes(cpu, v, cpu->cr4, efer);
	{
		uint64_t old_efer = cpu->efer;

		cpu->cr0 = v;
		cpu->efer = efer;
		gh_exec_control_changed(cpu, old0, cpu->cr4, old_efer);
	}
}

static void write_cr4(struct gh_cpu *cpu, uint64_t v)
{
	uint64_t old4 = cpu->cr4;

	if (v & ~GH_CR4_VALID)
		gp0(cpu);
	if (!(v & GH_CR4_PAE) && (cpu->efer & GH_EFER_LMA))
		gp0(cpu);
	check_pdptes(cpu, cpu->cr0, v, cpu->efer);
	cpu->cr4 = v;
	gh_exec_control_changed(cpu, cpu->cr0, old4, cpu->efer);
}

static void write_cr3(struct gh_cpu *cpu, uint64_t v)
{
	struct gh_mmu_ctx ctx;

	/* no PCIDs: bit 63 and the bits above MAXPHYADDR are reserved */
	if (v & PHYS_RESERVED)
		gp0(cpu);
	if ((cpu->cr0 & GH_CR0_PG) && (cpu->cr4 & GH_CR4_PAE) &&
	    !(cpu->efer & GH_EFER_LMA)) {
		gh_cpu_mmu_ctx(cpu, &ctx, 0);
		if (gh_mmu_load_pdptes(&ctx, v) != GH_MMU_OK)
			gp0(cpu);
	}
	cpu->cr3 = v;
	gh_cpu_mem_cr3_loaded(cpu);
	gh_exec_end_block(cpu);
}

/* CR1, CR5-7 and CR9-15 do not exist; CR8 only in 64-bit mode (REX.R). */
static void cr_check(struct gh_cpu *cpu, unsigned n)
{
	if (!(n == 0 || n == 2 || n == 3 || n == 4 || (n == 8 && long64(cpu))))
		gh_exec_ud(cpu);
	need_cpl0(cpu);
}

static void h_mov_r_cr(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t v;

	cr_check(cpu, i->reg);
	switch (i->reg) {
	case 0:
		v = cpu->cr0;
		break;
	case 2:
		v = cpu->cr2;
		break;
	case 3:
		v = cpu->cr3;
		break;
	case 4:
		v = cpu->cr4;
		break;
	default:
		/* CR8 is the local APIC's TPR[7:4] (SDM vol. 3A, 10.8.6.1) */
		if (!cpu->bus.cr8 || cpu->bus.cr8(cpu->bus.opaque, false, &v) < 0)
			v = cpu->cr8;
		break;
	}
	gh_reg_set(cpu, i->rm, long64(cpu) ? 8 : 4, v);
}

static void h_mov_cr_r(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t v;

	cr_check(cpu, i->reg);
	v = gh_reg_get(cpu, i->rm, long64(cpu) ? 8 : 4);
	switch (i->reg) {
	case 0:
		write_cr0(cpu, v);
		break;
	case 2:
		cpu->cr2 = v;
		break;
	case 3:
		write_cr3(cpu, v);
		break;
	case 4:
		write_cr4(cpu, v);
		break;
	default:
		if (v >> 4)
			gp0(cpu);
		cpu->cr8 = v;
		/* the APIC's INTR output may change with its PPR */
		if (cpu->bus.cr8 && cpu->bus.cr8(cpu->bus.opaque, true, &v) == 0)
			gh_cpu_intr_changed(cpu);
		break;
	}
}

static void h_lmsw(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t src;

	need_cpl0(cpu);
	src = gh_exec_read_E(cpu, i, 2);
	/* PE, MP, EM, TS only; PE can be set but not cleared */
	write_cr0(cpu, (cpu->cr0 & ~0xfULL) | (src & 0xf) | (cpu->cr0 & GH_CR0_PE));
}

static void h_smsw(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	gh_exec_write_E(cpu, i, i->mod == 3 ? i->opsize : 2, cpu->cr0);
}

static void h_clts(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	(void)i;
	need_cpl0(cpu);
	cpu->cr0 &= ~GH_CR0_TS;
}

/* ---- debug registers (SDM vol. 3A, 17.2) ---------------------------------------- */

/* The debug register MOV DR names, after the CR4.DE and GD checks. */
static unsigned dr_access(struct gh_cpu *cpu, unsigned n)
{
	need_cpl0(cpu);
	if (n > 7)
		gh_exec_ud(cpu);
	if (n == 4 || n == 5) {
		if (cpu->cr4 & GH_CR4_DE)
			gh_exec_ud(cpu);
		n += 2;
	}
	if (cpu->dr[7] & DR7_GD) {
		/* general detect: a fault, and the handler may use the registers */
		cpu->dr[6] |= DR6_BD;
		cpu->dr[7] &= ~(uint64_t)DR7_GD;
		gh_cpu_raise_noerr(cpu, GH_EXC_DB);
	}
	return n;
}

static void h_mov_r_dr(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	unsigned n = dr_access(cpu, i->reg);
	uint64_t v;

	if (n == 6)
		v = ((uint32_t)cpu->dr[6] | DR6_FIXED) & ~0x1000ULL;
	else if (n == 7)
		v = (uint32_t)cpu->dr[7] | DR7_FIXED;
	else
		v = cpu->dr[n];
	gh_reg_set(cpu, i->rm, long64(cpu) ? 8 : 4, v);
}

static void h_mov_dr_r(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	unsigned n = dr_access(cpu, i->reg);
	uint64_t v = gh_reg_get(cpu, i->rm, long64(cpu) ? 8 : 4);

	if (n >= 6 && (v >> 32))
		gp0(cpu);
	if (n == 6)
		v = (v & DR6_WRITABLE) | DR6_FIXED;
	else if (n == 7)
		v = (v & DR7_WRITABLE) | DR7_FIXED;
	cpu->dr[n] = v;
	gh_exec_end_block(cpu);
}

/* ---- descriptor tables (SDM vol. 2, LGDT/SGDT, LLDT, LTR) ------------------------ */

static void load_dtable(struct gh_cpu *cpu, const struct gh_x86_insn *i, struct gh_dtable *t)
{
	uint64_t off, mask = gh_size_mask(i->addrsize), base;
	uint16_t limit;

	need_cpl0(cpu);
	off = gh_exec_ea(cpu, i);
	limit = gh_mem_read_seg(cpu, i->seg, off, 2);
	if (long64(cpu)) {
		base = gh_mem_read_seg(cpu, i->seg, (off + 2) & mask, 8);
		if (!gh_cpu_canonical(base))
			gp0(cpu);
	} else {
		base = gh_mem_read_seg(cpu, i->seg, (off + 2) & mask, 4);
		if (i->opsize == 2)
			base &= 0xffffff;
	}
	t->base = base;
	t->limit = limit;
}

static void store_dtable(struct gh_cpu *cpu, const struct gh_x86_insn *i,
			 const struct gh_dtable *t)
{
	uint8_t buf[10];
	unsigned len = long64(cpu) ? 10 : 6;
	uint64_t base = long64(cpu) ? t->base : (uint32_t)t->base;

	/* 16- and 32-bit forms both store the whole 32-bit base */
	memcpy(buf, &t->limit, 2);
	memcpy(buf + 2, &base, 8);
	gh_mem_write_buf(cpu, i->seg, gh_exec_ea(cpu, i), buf, len);
}

static void h_lgdt(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	load_dtable(cpu, i, &cpu->gdtr);
}

static void h_lidt(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	load_dtable(cpu, i, &cpu->idtr);
}

static void h_sgdt(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	store_dtable(cpu, i, &cpu->gdtr);
}

static void h_sidt(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	store_dtable(cpu, i, &cpu->idtr);
}

static void h_sldt(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	need_prot(cpu);
	gh_exec_write_E(cpu, i, i->mod == 3 ? i->opsize : 2, cpu->ldtr.selector);
}

static void h_str(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	need_prot(cpu);
	gh_exec_write_E(cpu, i, i->mod == 3 ? i->opsize : 2, cpu->tr.selector);
}

/*
 * A system descriptor for LLDT/LTR from the GDT: 16 bytes in IA-32e mode,
 * whose upper type field must be 0 and base canonical (SDM 7.2.3).
 */
static void read_system_desc(struct gh_cpu *cpu, uint16_t sel, struct gh_descriptor *d,
			     struct gh_segment *seg, bool (*type_ok)(const struct gh_cpu *,
								     unsigned))
{
	bool wide = gh_cpu_long_mode(cpu);

	if (sel & 4)
		gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
	gh_cpu_read_descriptor(cpu, sel, wide, GH_EXC_GP, d);
	if (gh_desc_s(d) || !type_ok(cpu, gh_desc_type(d)))
		gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
	if (wide && ((d->raw[1] >> 40) & 0x1f))
		gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
	if (!gh_desc_present(d))
		gh_cpu_raise_sel(cpu, GH_EXC_NP, sel);
	gh_cpu_parse_descriptor(d, sel, seg);
	if (wide && !gh_cpu_canonical(seg->base))
		gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
}

static bool ldt_type(const struct gh_cpu *cpu, unsigned type)
{
	(void)cpu;
	return type == 2;
}

/* An available TSS: 16- or 32-bit in legacy mode, 64-bit in IA-32e mode. */
static bool tss_type(const struct gh_cpu *cpu, unsigned type)
{
	return type == 9 || (type == 1 && !gh_cpu_long_mode(cpu));
}

static void h_lldt(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	struct gh_descriptor d;
	struct gh_segment seg;
	uint16_t sel;

	need_prot(cpu);
	need_cpl0(cpu);
	sel = gh_exec_read_E(cpu, i, 2);
	if (gh_sel_null(sel)) {
		/* a null selector leaves the LDT unusable, without a fault */
		memset(&cpu->ldtr, 0, sizeof(cpu->ldtr));
		cpu->ldtr.selector = sel;
		cpu->ldtr.unusable = 1;
		return;
	}
	read_system_desc(cpu, sel, &d, &seg, ldt_type);
	cpu->ldtr = seg;
}

static void h_ltr(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	struct gh_descriptor d;
	struct gh_segment seg;
	uint16_t sel;

	need_prot(cpu);
	need_cpl0(cpu);
	sel = gh_exec_read_E(cpu, i, 2);
	if (gh_sel_null(sel))
		gp0(cpu);
	read_system_desc(cpu, sel, &d, &seg, tss_type);
	/* the descriptor is marked busy in memory, then TR loads it */
	d.raw[0] |= 1ULL << 41;
	gh_cpu_write_descriptor_hi(cpu, sel, d.raw[0] >> 32);
	seg.type |= 2;
	cpu->tr = seg;
}

/* ---- LAR, LSL, VERR, VERW, ARPL (SDM vol. 2) ------------------------------------ */

/*
 * The descriptor of sel for the checking instructions: false (ZF = 0,
 * no fault) for a null selector or one outside its table.
 */
static bool peek_descriptor(struct gh_cpu *cpu, uint16_t sel, struct gh_descriptor *d)
{
	uint64_t base;
	uint32_t limit;

	if (gh_sel_null(sel))
		return false;
	if (sel & 4) {
		if (cpu->ldtr.unusable || gh_sel_null(cpu->ldtr.selector))
			return false;
		base = cpu->ldtr.base;
		limit = cpu->ldtr.limit;
	} else {
		base = cpu->gdtr.base;
		limit = cpu->gdtr.limit;
	}
	if ((uint64_t)(sel & ~7u) + 7 > limit)
		return false;
	d->raw[1] = 0;
	gh_cpu_read_sys(cpu, base + (sel & ~7u), &d->raw[0], 8);
	return true;
}

/* DPL >= max(CPL, RPL), which conforming code segments need not meet. */
static bool visible(const struct gh_cpu *cpu, const struct gh_descriptor *d, uint16_t sel)
{
	unsigned dpl = gh_desc_dpl(d);

	if (gh_desc_s(d) && (gh_desc_type(d) & 0xc) == 0xc)
		return true;
	return dpl >= cpu->cpl && dpl >= (sel & 3u);
}

/* System types LAR (gates too) and LSL (segments only) accept (SDM LAR, LSL). */
static bool lar_system_ok(const struct gh_cpu *cpu, unsigned type, bool lsl)
{
	/* legacy: 16/32-bit TSS (avail/busy), LDT, call gates, task gate */
	unsigned legacy = lsl ? 0x0a0e : 0x1a3e;
	/* IA-32e: LDT, 64-bit TSS (avail/busy), 64-bit call gate */
	unsigned ia32e = lsl ? 0x0a04 : 0x1a04;

	return ((gh_cpu_long_mode(cpu) ? ia32e : legacy) >> type) & 1;
}

static bool lar_lsl_check(struct gh_cpu *cpu, const struct gh_x86_insn *i, bool lsl,
			  struct gh_descriptor *d)
{
	uint16_t sel;

	need_prot(cpu);
	sel = gh_exec_read_E(cpu, i, 2);
	if (!peek_descriptor(cpu, sel, d))
		return false;
	if (!gh_desc_s(d) && !lar_system_ok(cpu, gh_desc_type(d), lsl))
		return false;
	return visible(cpu, d, sel);
}

static void h_lar(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	struct gh_descriptor d;
	bool ok = lar_lsl_check(cpu, i, false, &d);

	if (ok)
		gh_reg_set(cpu, i->reg, i->opsize,
			   (d.raw[0] >> 32) & (i->opsize == 2 ? 0xff00 : 0x00ffff00));
	set_zf(cpu, ok);
}

static void h_lsl(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	struct gh_descriptor d;
	struct gh_segment seg;
	bool ok = lar_lsl_check(cpu, i, true, &d);

	if (ok) {
		gh_cpu_parse_descriptor(&d, 0, &seg);
		gh_reg_set(cpu, i->reg, i->opsize, seg.limit);
	}
	set_zf(cpu, ok);
}

static void verify(struct gh_cpu *cpu, const struct gh_x86_insn *i, bool write)
{
	struct gh_descriptor d;
	uint16_t sel;
	unsigned type;
	bool ok = false;

	need_prot(cpu);
	sel = gh_exec_read_E(cpu, i, 2);
	if (peek_descriptor(cpu, sel, &d) && gh_desc_s(&d)) {
		type = gh_desc_type(&d);
		if (write)
			ok = !(type & 8) && (type & 2) && visible(cpu, &d, sel);
		else
			ok = (!(type & 8) || (type & 2)) && visible(cpu, &d, sel);
	}
	set_zf(cpu, ok);
}

static void h_verr(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	verify(cpu, i, false);
}

static void h_verw(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	verify(cpu, i, true);
}

static void h_arpl(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint16_t dst, src;

	need_prot(cpu);
	dst = gh_exec_read_E(cpu, i, 2);
	src = gh_reg_get(cpu, i->reg, 2);
	if ((dst & 3) < (src & 3)) {
		gh_exec_write_E(cpu, i, 2, (dst & ~3u) | (src & 3));
		set_zf(cpu, true);
	} else {
		set_zf(cpu, false);
	}
}

/* ---- SYSCALL/SYSRET, SYSENTER/SYSEXIT, SWAPGS ------------------------------------ */

static void fast64_check(struct gh_cpu *cpu)
{
	if (!long64(cpu) || !(cpu->efer & GH_EFER_SCE))
		gh_exec_ud(cpu);
}

static void h_syscall(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t fl, sel = (cpu->msr_star >> 32) & 0xffff;

	(void)i;
	fast64_check(cpu);
	fl = gh_exec_rflags(cpu);
	cpu->gpr[GH_RCX] = cpu->rip;
	cpu->gpr[GH_R11] = fl;
	fast_transfer(cpu, sel & 0xfffc, sel + 8, 0, true);
	gh_exec_set_rflags(cpu, fl & ~(cpu->msr_sfmask | GH_FL_RF), FL_ALL);
	cpu->rip = cpu->msr_lstar;
}

static void h_sysret(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint16_t sel = cpu->msr_star >> 48;
	bool to64 = i->opsize == 8;
	uint64_t rip = cpu->gpr[GH_RCX];

	fast64_check(cpu);
	need_cpl0(cpu);
	/* Intel checks RCX before leaving ring 0: the #GP is taken there */
	if (to64 && !gh_cpu_canonical(rip))
		gp0(cpu);
	fast_transfer(cpu, ((to64 ? sel + 16 : sel) & 0xffff) | 3, (sel + 8) | 3, 3, to64);
	gh_exec_set_rflags(cpu, (cpu->gpr[GH_R11] & 0x3c7fd7) | GH_RFLAGS_FIXED, FL_ALL);
	cpu->rip = to64 ? rip : (uint32_t)rip;
}

static void h_sysenter(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint16_t sel = cpu->msr_sysenter_cs & 0xfffc;
	bool lm = gh_cpu_long_mode(cpu);

	(void)i;
	if (!(cpu->cr0 & GH_CR0_PE) || !sel)
		gp0(cpu);
	/* flags first: leaving V86 mode must not recompute the CPL after CS */
	gh_exec_set_rflags(cpu, 0, GH_FL_VM | GH_FL_IF | GH_FL_RF);
	fast_transfer(cpu, sel, sel + 8, 0, lm);
	if (lm) {
		cpu->gpr[GH_RSP] = cpu->msr_sysenter_esp;
		cpu->rip = cpu->msr_sysenter_eip;
	} else {
		gh_reg_set(cpu, GH_RSP, 4, cpu->msr_sysenter_esp);
		cpu->rip = (uint32_t)cpu->msr_sysenter_eip;
	}
}

static void h_sysexit(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint16_t sel = cpu->msr_sysenter_cs & 0xffff;
	bool to64 = i->opsize == 8;
	uint64_t sp = cpu->gpr[GH_RCX], ip = cpu->gpr[GH_RDX];

	if (!(cpu->cr0 & GH_CR0_PE) || !(sel & 0xfffc) || cpu->cpl)
		gp0(cpu);
	if (to64 && (!gh_cpu_canonical(sp) || !gh_cpu_canonical(ip)))
		gp0(cpu);
	sel = (to64 ? sel + 32 : sel + 16) | 3;
	fast_transfer(cpu, sel, sel + 8, 3, to64);
	if (to64) {
		cpu->gpr[GH_RSP] = sp;
		cpu->rip = ip;
	} else {
		gh_reg_set(cpu, GH_RSP, 4, sp);
		cpu->rip = (uint32_t)ip;
	}
}

static void h_swapgs(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t t = cpu->seg[GH_GS].base;

	(void)i;
	need_cpl0(cpu);
	cpu->seg[GH_GS].base = cpu->msr_kernel_gs_base;
	cpu->msr_kernel_gs_base = t;
}

/* ---- HLT, CLI, STI ------------------------------------------------------------------- */

static void h_hlt(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	(void)i;
	need_cpl0(cpu);
	cpu->halted = true;
	gh_exec_end_block(cpu);
}

/*
 * CLI/STI are IOPL-sensitive (SDM vol. 2, CLI): allowed when CPL <= IOPL,
 * or in V86 mode when IOPL = 3. Without CR4.VME/PVI (not implemented) the
 * other cases are #GP(0).
 */
static void if_check(struct gh_cpu *cpu)
{
	unsigned iopl = (cpu->rflags & GH_FL_IOPL) >> GH_FL_IOPL_SHIFT;

	if (cpu->mode == GH_MODE_REAL)
		return;
	if (cpu->mode == GH_MODE_V86 ? iopl != 3 : cpu->cpl > iopl)
		gp0(cpu);
}

static void h_cli(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	(void)i;
	if_check(cpu);
	gh_exec_set_rflags(cpu, 0, GH_FL_IF);
	gh_exec_end_block(cpu);
}

static void h_sti(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	(void)i;
	if_check(cpu);
	if (!(cpu->rflags & GH_FL_IF)) {
		/* interrupts wait until after the next instruction (SDM STI) */
		gh_exec_set_rflags(cpu, GH_FL_IF, GH_FL_IF);
		cpu->interrupt_shadow = true;
	}
	gh_exec_end_block(cpu);
}

/* ---- caches, TLB, fences, hints -------------------------------------------------- */

static void h_invlpg(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	need_cpl0(cpu);
	gh_exec_invlpg(cpu, operand_linear(cpu, i));
}

/* INVD/WBINVD: no caches are modelled; only the privilege check is left. */
static void h_wbinvd(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	(void)i;
	need_cpl0(cpu);
}

/*
 * CLFLUSH faults as a byte read would (segment checks, #PF) but must not
 * read: the line may be MMIO, where a read has side effects.
 */
static void h_clflush(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	const struct gh_segment *seg = &cpu->seg[i->seg];
	unsigned vec = i->seg == GH_SS ? GH_EXC_SS : GH_EXC_GP;
	uint64_t off = gh_exec_ea(cpu, i), lin = operand_linear(cpu, i);
	struct gh_mmu_ctx ctx;
	struct gh_mmu_result r;

	if (long64(cpu)) {
		if (!gh_cpu_canonical(lin))
			gh_cpu_raise(cpu, vec, 0);
	} else {
		bool down = seg->s && !(seg->type & 8) && (seg->type & 4);
		uint64_t top = seg->db ? 0xffffffff : 0xffff;

		if (prot(cpu) && seg->unusable)
			gh_cpu_raise(cpu, vec, 0);
		if (down ? (off <= seg->limit || off > top) : off > seg->limit)
			gh_cpu_raise(cpu, vec, 0);
	}
	if (!(cpu->cr0 & GH_CR0_PG))
		return;
	gh_cpu_mmu_ctx(cpu, &ctx, cpu->cpl);
	if (gh_mmu_translate(&ctx, lin, GH_MMU_READ, &r) != GH_MMU_OK)
		gh_cpu_raise_pf(cpu, lin, r.error_code);
}

static void h_fence(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	(void)cpu;
	(void)i;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void h_pause(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	(void)cpu;
	(void)i;
}

#define B(id, fn) { GH_X86_OP_##id, fn },

/*
 * MMX and SSE ops stay unbound: the loop raises #UD for them, which is what
 * a CPU whose CPUID reports neither raises. So do RDRAND/RDSEED, CLAC/STAC,
 * MONITOR/MWAIT, XSAVE and the VMX/SVM ops, none of which is advertised,
 * and UD0/UD1/UD2, whose whole job that is.
 */
const struct gh_handler_bind gh_exec_sys_binds[] = {
	B(CPUID, h_cpuid)
	B(RDTSC, h_rdtsc)
	B(RDTSCP, h_rdtscp)
	B(RDPMC, h_rdpmc)
	B(RDMSR, h_rdmsr)
	B(WRMSR, h_wrmsr)
	B(MOV_Rd_Cd, h_mov_r_cr)
	B(MOV_Cd_Rd, h_mov_cr_r)
	B(MOV_Rd_Dd, h_mov_r_dr)
	B(MOV_Dd_Rd, h_mov_dr_r)
	B(LMSW_Ew, h_lmsw)
	B(SMSW_Ev, h_smsw)
	B(CLTS, h_clts)
	B(LGDT_Ms, h_lgdt)
	B(LIDT_Ms, h_lidt)
	B(SGDT_Ms, h_sgdt)
	B(SIDT_Ms, h_sidt)
	B(SLDT_Ev, h_sldt)
	B(STR_Ev, h_str)
	B(LLDT_Ew, h_lldt)
	B(LTR_Ew, h_ltr)
	B(LAR_Gv_Ew, h_lar)
	B(LSL_Gv_Ew, h_lsl)
	B(VERR_Ew, h_verr)
	B(VERW_Ew, h_verw)
	B(ARPL_Ew_Gw, h_arpl)
	B(SYSCALL, h_syscall)
	B(SYSRET, h_sysret)
	B(SYSENTER, h_sysenter)
	B(SYSEXIT, h_sysexit)
	B(SWAPGS, h_swapgs)
	B(HLT, h_hlt)
	B(CLI, h_cli)
	B(STI, h_sti)
	B(INVLPG_Mb, h_invlpg)
	B(INVD, h_wbinvd)
	B(WBINVD, h_wbinvd)
	/* without WBNOINVD the F3 prefix is ignored: WBINVD */
	B(WBNOINVD, h_wbinvd)
	B(CLFLUSH, h_clflush)
	/* without CLFLUSHOPT the 66 prefix is ignored: CLFLUSH */
	B(CLFLUSHOPT, h_clflush)
	B(LFENCE, h_fence)
	B(MFENCE, h_fence)
	B(SFENCE, h_fence)
	B(PAUSE, h_pause)
	{ 0, NULL },
};
