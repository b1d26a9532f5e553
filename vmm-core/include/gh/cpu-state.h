/*
 * The architectural state of one x86 CPU, as every execution backend reads
 * and writes it (debugging now, snapshots later). Segment attributes are kept
 * unpacked, as the descriptor fields of the Intel SDM vol. 3A, 3.4.5.
 */
#ifndef GH_CPU_STATE_H
#define GH_CPU_STATE_H

#include <stdbool.h>
#include <stdint.h>

enum {
	GH_RAX, GH_RCX, GH_RDX, GH_RBX, GH_RSP, GH_RBP, GH_RSI, GH_RDI,
	GH_R8, GH_R9, GH_R10, GH_R11, GH_R12, GH_R13, GH_R14, GH_R15,
	GH_NR_GPRS
};

/* Segment registers in ModRM sreg encoding order. */
enum { GH_ES, GH_CS, GH_SS, GH_DS, GH_FS, GH_GS, GH_NR_SEGS };

struct gh_segment {
	uint64_t base;
	uint32_t limit;		/* byte granular, already scaled by G */
	uint16_t selector;
	uint8_t type;		/* 4-bit type field */
	uint8_t s;		/* 1 = code/data, 0 = system */
	uint8_t dpl;
	uint8_t present;
	uint8_t avl;
	uint8_t l;		/* 64-bit code segment */
	uint8_t db;
	uint8_t g;
	uint8_t unusable;	/* null selector loaded (VMX "unusable") */
};

struct gh_dtable {
	uint64_t base;
	uint16_t limit;
};

/* MSR numbers (Intel SDM vol. 4) the core knows by name. */
#define GH_MSR_IA32_TSC			0x00000010
#define GH_MSR_IA32_APIC_BASE		0x0000001b
#define GH_MSR_IA32_SYSENTER_CS		0x00000174
#define GH_MSR_IA32_SYSENTER_ESP	0x00000175
#define GH_MSR_IA32_SYSENTER_EIP	0x00000176
#define GH_MSR_IA32_MISC_ENABLE		0x000001a0
#define GH_MSR_IA32_PAT			0x00000277
#define GH_MSR_EFER			0xc0000080
#define GH_MSR_STAR			0xc0000081
#define GH_MSR_LSTAR			0xc0000082
#define GH_MSR_CSTAR			0xc0000083
#define GH_MSR_SFMASK			0xc0000084
#define GH_MSR_FS_BASE			0xc0000100
#define GH_MSR_GS_BASE			0xc0000101
#define GH_MSR_KERNEL_GS_BASE		0xc0000102
#define GH_MSR_TSC_AUX			0xc0000103

#define GH_CPU_MAX_MSRS 64

/* CR0, CR4, EFER and RFLAGS bits used by loaders and backends. */
#define GH_CR0_PE (1ULL << 0)
#define GH_CR0_MP (1ULL << 1)
#define GH_CR0_ET (1ULL << 4)
#define GH_CR0_NE (1ULL << 5)
#define GH_CR0_TS (1ULL << 3)
#define GH_CR0_EM (1ULL << 2)
#define GH_CR0_WP (1ULL << 16)
#define GH_CR0_AM (1ULL << 18)
#define GH_CR0_NW (1ULL << 29)
#define GH_CR0_CD (1ULL << 30)
#define GH_CR0_PG (1ULL << 31)
#define GH_CR4_VME (1ULL << 0)
#define GH_CR4_PVI (1ULL << 1)
#define GH_CR4_TSD (1ULL << 2)
#define GH_CR4_DE (1ULL << 3)
#define GH_CR4_PSE (1ULL << 4)
#define GH_CR4_PAE (1ULL << 5)
#define GH_CR4_PGE (1ULL << 7)
#define GH_CR4_OSFXSR (1ULL << 9)
#define GH_CR4_OSXMMEXCPT (1ULL << 10)
#define GH_CR4_FSGSBASE (1ULL << 16)
#define GH_CR4_PCIDE (1ULL << 17)
#define GH_CR4_OSXSAVE (1ULL << 18)
#define GH_CR4_SMEP (1ULL << 20)
#define GH_CR4_SMAP (1ULL << 21)
#define GH_EFER_SCE (1ULL << 0)
#define GH_EFER_LME (1ULL << 8)
#define GH_EFER_LMA (1ULL << 10)
#define GH_EFER_NXE (1ULL << 11)
#define GH_RFLAGS_IF (1ULL << 9)
#define GH_RFLAGS_FIXED (1ULL << 1)

struct gh_msr {
	uint32_t index;
	uint64_t value;
};

struct gh_cpu_state {
	uint64_t gpr[GH_NR_GPRS];
	uint64_t rip;
	uint64_t rflags;
	struct gh_segment seg[GH_NR_SEGS];
	struct gh_segment ldt;
	struct gh_segment tr;
	struct gh_dtable gdt;
	struct gh_dtable idt;
	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t efer;
	uint64_t dr[8];		/* DR4/DR5 unused */
	uint64_t apic_base;
	uint32_t nmsrs;
	struct gh_msr msrs[GH_CPU_MAX_MSRS];
	bool halted;
	bool interrupt_shadow;	/* after STI or MOV SS */
	bool nmi_pending;
	/*
	 * x87, MMX and SSE as the 64-bit FXSAVE image lays them out (SDM vol.
	 * 2A, FXSAVE, table 3-56): FCW, FSW, abridged FTW, FOP, 64-bit FIP and
	 * FDP, MXCSR, MXCSR_MASK, ST0-ST7 (from TOP), XMM0-XMM15.
	 */
	uint8_t fxsave[512] __attribute__((aligned(16)));
	uint64_t xcr0;		/* XCR0 (XSETBV); bit 0 is always set */
};

/* Offsets into gh_cpu_state.fxsave. */
#define GH_FXSAVE_FCW		0
#define GH_FXSAVE_FSW		2
#define GH_FXSAVE_FTW		4
#define GH_FXSAVE_MXCSR		24
#define GH_FXSAVE_MXCSR_MASK	28
#define GH_FXSAVE_ST(i)		(32 + 16 * (i))
#define GH_FXSAVE_XMM(i)	(160 + 16 * (i))

/*
 * The state of a CPU after RESET (SDM vol. 3A, 9.1.1): real mode at
 * F000:FFF0 with CS.base = 0xFFFF0000.
 */
void gh_cpu_state_reset(struct gh_cpu_state *s, bool bsp);

/* A flat 4 GiB segment for protected-mode entry points. */
void gh_cpu_state_flat_seg(struct gh_segment *seg, uint16_t sel, bool code,
			   bool long_mode);

#endif
