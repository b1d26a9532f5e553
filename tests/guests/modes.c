/*
 * guest-modes: the CPU's operating modes and the transitions between them
 * (Intel SDM vol. 3, chapter 9): from 32-bit protected mode through a 16-bit
 * protected-mode segment to real mode and back, then into IA-32e mode (64-bit
 * mode), to compatibility mode (32-bit code in long mode), out of long mode
 * the prescribed way (paging off in compatibility mode, then EFER.LME) to
 * 32-bit protected mode, and once more to real mode and back. Each mode
 * prints a "mode:" line; its default operand size is checked with an
 * instruction whose length depends on it (B8 iw / iv, 48 as DEC or REX).
 * Exit: debug-exit 0x60 when every check passes, 0x61 otherwise.
 */
#include "lib/guest.h"

#define RM_BASE 0x8000u
#define MSR_EFER 0xc0000080
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)

void guest_main(uint32_t magic, uint32_t mbi);
void compat_main(void);
void rm_trip(void);
void long_trip(void);

extern char rm_blob[], rm_blob_end[];
extern char res_pm16_cr0[], res_pm16_eax[], res_real_cr0[], res_real_eax[], res_pm16b_cs[];
extern uint32_t res64_rex, res64_efer, res_compat_rex, res_compat_efer;
extern uint16_t res64_cs, res_compat_cs;

uint64_t lm_pml4[512] __attribute__((aligned(4096)));
static uint64_t lm_pdpt[512] __attribute__((aligned(4096)));
static uint64_t lm_pd[512] __attribute__((aligned(4096)));

static const uint64_t modes_gdt[8] __attribute__((aligned(8))) = {
	0,
	0x00cf9a000000ffffull,	/* 0x08 code, 32-bit */
	0x00cf92000000ffffull,	/* 0x10 data */
	0x00009a008000ffffull,	/* 0x18 code, 16-bit, base 0x8000 */
	0x000092000000ffffull,	/* 0x20 data, 16-bit, base 0 */
	0x00af9a000000ffffull,	/* 0x28 code, 64-bit */
	0,
	0x000092008000ffffull,	/* 0x38 data, 16-bit, base 0x8000 */
};

static unsigned compat_runs;

static uint32_t blob32(const char *sym)
{
	return *(volatile uint32_t *)(uintptr_t)(RM_BASE + (uint32_t)(sym - rm_blob));
}

static uint16_t blob16(const char *sym)
{
	return *(volatile uint16_t *)(uintptr_t)(RM_BASE + (uint32_t)(sym - rm_blob));
}

/* 32-bit C code, called from compatibility mode */
void compat_main(void)
{
	compat_runs++;
	printf("mode: compatibility mode (32-bit code in long mode)\n");
}

/* "<trip>: <what>", valid until the next call */
static const char *nm(const char *trip, const char *what)
{
	static char buf[160];
	size_t n = strlen(trip), w = strlen(what);

	if (n + 2 + w >= sizeof(buf))
		return what;
	memcpy(buf, trip, n);
	memcpy(buf + n, ": ", 2);
	memcpy(buf + n + 2, what, w + 1);
	return buf;
}

static void real_mode_trip(const char *when)
{
	memset((void *)(uintptr_t)(RM_BASE + (uint32_t)(res_pm16_cr0 - rm_blob)), 0xee, 18);
	rm_trip();
	printf("mode: 32-bit protected mode (back from real mode)\n");
	check_eq(blob32(res_pm16_cr0) & 1, 1, nm(when, "16-bit protected mode: CR0.PE set"));
	check_eq(blob32(res_pm16_eax), 0xffff1234,
		 nm(when, "16-bit protected mode: B8 takes a 16-bit immediate (default operand size 16)"));
	check_eq(blob32(res_real_cr0) & 1, 0, nm(when, "real mode: CR0.PE clear"));
	check_eq(blob32(res_real_eax), 0xffff1234, nm(when, "real mode: default operand size 16"));
	check_eq(blob16(res_pm16b_cs), 0x18, nm(when, "16-bit protected mode again from real mode: CS 0x18"));
}

void guest_main(uint32_t magic, uint32_t mbi)
{
	struct {
		uint16_t limit;
		uint32_t base;
	} __attribute__((packed)) gp = { sizeof(modes_gdt) - 1, (uint32_t)(uintptr_t)modes_gdt };
	uint32_t blob_size = (uint32_t)(rm_blob_end - rm_blob), r[4];
	uint64_t efer;
	unsigned i;

	uart_init(COM1);
	guest_flags(mbi);
	printf("guest-modes: mode transitions\n");
	printf("mode: 32-bit protected mode (Multiboot entry)\n");
	check_eq(magic, MULTIBOOT_BOOT_MAGIC, "multiboot magic in EAX");
	__asm__ volatile("lgdt %0" : : "m"(gp));
	idt_init(0x08);
	if (!check(blob_size < 0x7000, "real-mode code fits below 0xf000"))
		finish("guest-modes", 0x60, 0x61);
	memcpy((void *)(uintptr_t)RM_BASE, rm_blob, blob_size);

	real_mode_trip("first trip");

	cpuid(0x80000000, 0, r);
	if (r[0] >= 0x80000001)
		cpuid(0x80000001, 0, r);
	else
		r[3] = 0;
	if (!check(r[3] & (1u << 29), "CPUID reports long mode"))
		finish("guest-modes", 0x60, 0x61);
	for (i = 0; i < 512; i++)
		lm_pd[i] = (uint64_t)i << 21 | 0x83;
	lm_pdpt[0] = (uintptr_t)lm_pd | 3;
	lm_pml4[0] = (uintptr_t)lm_pdpt | 3;
	long_trip();
	printf("mode: 32-bit protected mode (back from long mode)\n");
	check_eq(res64_efer & (EFER_LME | EFER_LMA), EFER_LME | EFER_LMA,
		 "64-bit mode: EFER.LME and EFER.LMA set");
	check_eq(res64_cs, 0x28, "64-bit mode: on the L=1 code segment");
	check_eq(res64_rex, 5, "64-bit mode: 48 is a REX prefix");
	check_eq(compat_runs, 1, "compatibility mode: 32-bit C code ran");
	check_eq(res_compat_efer & EFER_LMA, EFER_LMA, "compatibility mode: EFER.LMA set");
	check_eq(res_compat_cs, 0x08, "compatibility mode: on the 32-bit code segment");
	check_eq(res_compat_rex, 4, "compatibility mode: 48 is DEC EAX");
	efer = rdmsr(MSR_EFER);
	check_eq(efer & (EFER_LME | EFER_LMA), 0,
		 "left long mode: EFER.LMA and LME clear after paging off");
	check_eq(read_cr0() & 0x80000001, 1, "left long mode: CR0.PG clear, CR0.PE set");

	real_mode_trip("after long mode");
	finish("guest-modes", 0x60, 0x61);
}
