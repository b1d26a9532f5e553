/*
 * CPUID of the software CPU (Intel SDM vol. 2A, CPUID, tables 3-8 to 3-20):
 * every feature bit it sets is a row below naming the code that implements it.
 *
 * The identity is GenuineIntel family 6 model 0x1c stepping 10 (the signature
 * of a 64-bit Atom D5xx/N4xx, "Bonnell"): an in-order CPU without PCID, SMEP,
 * SMAP, x2APIC or XSAVE, like this one. Kernels list that model as not
 * speculating, which is true of an interpreter, so they skip the Meltdown and
 * Spectre mitigations (page-table isolation doubles the CR3 loads and TLB
 * flushes, which an interpreter pays for dearly). Its stepping is past the
 * early-microcode PSE erratum Linux checks for.
 */
#include "cpu/cpuid.h"

#include <string.h>

#include "cpu/cpu-internal.h"
#include "cpu/decode.h"
#include "cpu/mmu.h"
#include "cpu/sse.h"

#define OPS(...) { __VA_ARGS__ }
#define X(id) GH_X86_OP_##id
#define F(leaf, reg, bit, name, ...) { leaf, GH_CPUID_##reg, bit, name, OPS(__VA_ARGS__) }

const struct gh_cpuid_feature gh_cpuid_features[] = {
	/* leaf 1 EDX */
	F(1, EDX, 0, "fpu", X(FADD_m32), X(FISTTP_m32)),	 /* x87: exec-x87.c */
	F(1, EDX, 2, "de", X(MOV_Rd_Dd), X(MOV_Dd_Rd)),	 /* CR4.DE: DR4/DR5 #UD, exec-sys.c */
	F(1, EDX, 3, "pse", X(MOV_Cd_Rd)),		 /* 4 MiB pages: mmu.c; CR4.PSE */
	F(1, EDX, 4, "tsc", X(RDTSC)),			 /* RDTSC, CR4.TSD: exec-sys.c */
	F(1, EDX, 5, "msr", X(RDMSR), X(WRMSR)),	 /* exec-sys.c */
	F(1, EDX, 6, "pae", X(MOV_Cd_Rd)),		 /* PAE paging, PDPTEs: mmu.c */
	F(1, EDX, 7, "mce", X(MOV_Cd_Rd)),		 /* CR4.MCE exists; no #MC is raised */
	F(1, EDX, 14, "mca", X(RDMSR), X(WRMSR)),	 /* MCG_CAP and banks: exec-sys.c */
	F(1, EDX, 8, "cx8", X(CMPXCHG8B_Mq)),		 /* exec-alu.c */
	/* the local APIC: devices/pc/lapic.c behind the bus's msr hook */
	F(1, EDX, 9, "apic", X(RDMSR), X(WRMSR)),
	F(1, EDX, 11, "sep", X(SYSENTER), X(SYSEXIT)),	 /* exec-sys.c */
	F(1, EDX, 12, "mtrr", X(RDMSR), X(WRMSR)),	 /* MTRR MSRs stored: exec-sys.c */
	F(1, EDX, 13, "pge", X(MOV_Cd_Rd)),		 /* global pages: mmu.c; CR4.PGE */
	F(1, EDX, 15, "cmov", X(CMOVO), X(CMOVZ), X(CMOVNLE)), /* exec-alu.c */
	F(1, EDX, 16, "pat", X(RDMSR), X(WRMSR)),	 /* IA32_PAT stored and checked */
	F(1, EDX, 17, "pse36", X(MOV_Cd_Rd)),		 /* PDE bits 20:13: mmu.c */
	F(1, EDX, 19, "clflush", X(CLFLUSH)),		 /* exec-sys.c */
	F(1, EDX, 23, "mmx", X(PADDB_Pq_Qq), X(EMMS)),	 /* exec-sse.c */
	F(1, EDX, 24, "fxsr", X(FXSAVE), X(FXRSTOR)),	 /* exec-sse.c; CR4.OSFXSR */
	F(1, EDX, 25, "sse", X(ADDPS), X(LDMXCSR)),	 /* exec-sse.c, exec-ssefp.c */
	F(1, EDX, 26, "sse2", X(ADDPD), X(PADDB_Vx_Wx)),	 /* exec-sse.c, exec-ssefp.c */
	/* leaf 1 ECX */
	F(1, ECX, 0, "pni", X(HADDPS), X(LDDQU), X(FISTTP_m32)), /* SSE3 */
	F(1, ECX, 9, "ssse3", X(PSHUFB_Vx_Wx), X(PSHUFB_Pq_Qq)),
	F(1, ECX, 13, "cx16", X(CMPXCHG16B_Mdq)),	 /* exec-alu.c */
	F(1, ECX, 19, "sse4_1", X(ROUNDPS)),
	F(1, ECX, 20, "sse4_2", X(PCMPESTRI), X(PCMPGTQ), X(CRC32_Gy_Eb)),
	F(1, ECX, 22, "movbe", X(MOVBE_Gv_Mv), X(MOVBE_Mv_Gv)), /* exec-alu.c */
	F(1, ECX, 23, "popcnt", X(POPCNT_Gv_Ev)),	 /* exec-alu.c */
	/* IA32_TSC_DEADLINE, through the bus's msr hook: lapic.c */
	F(1, ECX, 24, "tsc_deadline_timer", X(WRMSR)),
	F(1, ECX, 26, "xsave", X(XSAVE), X(XRSTOR), X(XGETBV), X(XSETBV)), /* x87+SSE: exec-sse.c */
	F(1, ECX, 31, "hypervisor", 0),			 /* we are one */
	/* leaf 0x80000001 EDX */
	F(0x80000001, EDX, 11, "syscall", X(SYSCALL), X(SYSRET)), /* exec-sys.c */
	F(0x80000001, EDX, 20, "nx", X(WRMSR)),		 /* EFER.NXE; XD bit: mmu.c */
	F(0x80000001, EDX, 26, "pdpe1gb", X(MOV_Cd_Rd)), /* 1 GiB pages: mmu.c */
	F(0x80000001, EDX, 27, "rdtscp", X(RDTSCP)),	 /* with TSC_AUX: exec-sys.c */
	F(0x80000001, EDX, 29, "lm", X(SWAPGS), X(WRMSR)), /* long mode: everything */
	/* leaf 0x80000001 ECX */
	F(0x80000001, ECX, 0, "lahf_lm", X(LAHF), X(SAHF)), /* valid in 64-bit mode */
	F(0x80000001, ECX, 5, "abm", X(LZCNT_Gv_Ev)),	 /* LZCNT: exec-alu.c */
	/* leaf 0x80000007 EDX: the TSC is host-monotonic nanoseconds (cpu.c) */
	F(0x80000007, EDX, 8, "invtsc", X(RDTSC)),
};

const unsigned gh_cpuid_nfeatures = sizeof(gh_cpuid_features) / sizeof(gh_cpuid_features[0]);

static const char brand[48] = "Guesthouse Virtual CPU";

static void features(uint32_t leaf, uint32_t out[4])
{
	for (unsigned k = 0; k < gh_cpuid_nfeatures; k++)
		if (gh_cpuid_features[k].leaf == leaf)
			out[gh_cpuid_features[k].reg] |= 1u << gh_cpuid_features[k].bit;
}

static void put_str(uint32_t *regs, const char *s, unsigned n)
{
	memcpy(regs, s, n);
}

/*
 * Leaf 0xD (SDM vol. 1, 13.2): the XSAVE components, x87 and SSE, both in
 * the 512-byte legacy region, plus the 64-byte header. Subleaf 1 offers
 * XSAVEOPT only (no XSAVEC, XGETBV with ECX = 1, XSAVES). Read only once
 * leaf 1 advertises XSAVE.
 */
static void xsave_leaf(const struct gh_cpu *cpu, uint32_t subleaf, uint32_t out[4])
{
	switch (subleaf) {
	case 0:
		out[GH_CPUID_EAX] = GH_XCR0_VALID;
		out[GH_CPUID_EBX] = 512 + 64;	/* for what XCR0 enables */
		out[GH_CPUID_ECX] = 512 + 64;	/* for every component */
		break;
	case 1:
		out[GH_CPUID_EAX] = 1;		/* XSAVEOPT */
		break;
	default:
		break;	/* components 2-63: none */
	}
	(void)cpu;
}

static void basic(const struct gh_cpu *cpu, uint32_t leaf, uint32_t subleaf,
		  uint32_t max_basic, uint32_t out[4])
{
	switch (leaf) {
	case 0:
		out[GH_CPUID_EAX] = max_basic;
		put_str(&out[GH_CPUID_EBX], "Genu", 4);
		put_str(&out[GH_CPUID_EDX], "ineI", 4);
		put_str(&out[GH_CPUID_ECX], "ntel", 4);
		break;
	case 1:
		out[GH_CPUID_EAX] = GH_CPUID_SIGNATURE;
		/* CLFLUSH line 8 * 8 bytes, one logical processor, APIC ID */
		out[GH_CPUID_EBX] = (8u << 8) | (1u << 16) | ((cpu->index & 0xff) << 24);
		features(1, out);
		/* the APIC exists only where the backend connects one */
		if (!cpu->bus.msr) {
			out[GH_CPUID_EDX] &= ~(1u << 9);
			out[GH_CPUID_ECX] &= ~(1u << 24);
		}
		/* OSXSAVE mirrors CR4.OSXSAVE (SDM vol. 2A, table 3-10) */
		if (cpu->cr4 & GH_CR4_OSXSAVE)
			out[GH_CPUID_ECX] |= 1u << 27;
		break;
	case 2:
		/* one iteration, null descriptors: no cache or TLB information */
		out[GH_CPUID_EAX] = 1;
		break;
	case 0xd:
		xsave_leaf(cpu, subleaf, out);
		break;
	case 0x16:
		/* base and maximum frequency in MHz: the 1 GHz TSC of cpu.c */
		out[GH_CPUID_EAX] = 1000;
		out[GH_CPUID_EBX] = 1000;
		break;
	default:
		/*
		 * 4 (caches: type 0 ends the list), 5 (no MONITOR), 6 (no thermal
		 * or power management), 7 (no structured extended features),
		 * 0xa (no performance counters), 0xb (no x2APIC topology),
		 * 0x15 (TSC ratio not enumerated; leaf 0x16
		 * gives the frequency): all zero.
		 */
		break;
	}
}

static void extended(uint32_t leaf, uint32_t out[4])
{
	switch (leaf) {
	case 0x80000000:
		out[GH_CPUID_EAX] = GH_CPUID_MAX_EXT;
		break;
	case 0x80000001:
	case 0x80000007:
		features(leaf, out);
		break;
	case 0x80000002:
	case 0x80000003:
	case 0x80000004:
		put_str(out, brand + 16 * (leaf - 0x80000002), 16);
		break;
	case 0x80000008:
		out[GH_CPUID_EAX] = (48u << 8) | GH_MMU_MAXPHYADDR;
		break;
	default:
		break; /* 0x80000005/6: no cache information */
	}
}

void gh_cpuid(const struct gh_cpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	uint32_t max_basic = (cpu->msr_misc_enable & GH_MISC_ENABLE_LIMIT_CPUID)
				     ? 2 : GH_CPUID_MAX_BASIC;

	/* of the leaves with subleaves, 4, 7 and 0xb are all zero; 0xd is not */
	memset(out, 0, 4 * sizeof(out[0]));
	if (leaf >= GH_CPUID_HV_BASE && leaf < GH_CPUID_HV_BASE + 0x10000) {
		/* the hypervisor range: one leaf with our signature, no interface */
		if (leaf == GH_CPUID_HV_BASE) {
			out[GH_CPUID_EAX] = GH_CPUID_HV_BASE;
			put_str(&out[GH_CPUID_EBX], "Gues", 4);
			put_str(&out[GH_CPUID_ECX], "thou", 4);
			put_str(&out[GH_CPUID_EDX], "seVM", 4);
		}
		return;
	}
	if (leaf >= 0x80000000 && leaf <= GH_CPUID_MAX_EXT) {
		extended(leaf, out);
		return;
	}
	/* Intel answers any other leaf out of range with the highest basic leaf */
	if (leaf > max_basic)
		leaf = max_basic;
	basic(cpu, leaf, subleaf, max_basic, out);
}
