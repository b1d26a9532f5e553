/*
 * The small freestanding library every test guest links: port I/O, a polled
 * 16550 on COM1, printf-style output, PASS/FAIL accounting, trap handling and
 * the isa-debug-exit port. Built twice, for 32-bit and for 64-bit guests.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COM1		0x3f8
#define DEBUG_EXIT_PORT	0xf4

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline unsigned long read_cr0(void)
{
	unsigned long v;

	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static inline unsigned long read_cr2(void)
{
	unsigned long v;

	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static inline unsigned long read_cr3(void)
{
	unsigned long v;

	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static inline unsigned long read_cr4(void)
{
	unsigned long v;

	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

/* string.c: gcc may emit calls to these even in freestanding code */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
const char *strstr(const char *hay, const char *needle);

/* uart.c */
void uart_init(uint16_t base);
void uart_putc(char c);
void uart_puts(const char *s);

/* printf.c: %[-0][width][l|ll|z](d|i|u|x|X|c|s|p|%), no floating point */
void vprintf(const char *fmt, va_list ap);
void printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* check.c */
extern unsigned checks_passed, checks_failed;
bool check(bool ok, const char *name);
bool check_eq(uint64_t got, uint64_t want, const char *name);
/* Prints the "GUEST: N checks passed, N failed: SUCCESS|FAILURE" line;
 * true for SUCCESS. */
bool summary(const char *guest);
/* Prints the summary and leaves through debug-exit; never returns. */
__attribute__((noreturn)) void finish(const char *guest, uint8_t ok_code, uint8_t fail_code);
__attribute__((noreturn)) void debug_exit(uint8_t code);
/*
 * "gh.ref=qemu" on the command line (set by the runner under QEMU): the
 * reference run, where check_sdm() reports a failed check as an XFAIL line,
 * a place where QEMU's TCG differs from the SDM. Everywhere else check_sdm()
 * is check().
 */
extern bool qemu_ref;
void guest_flags(uint32_t mbi);
bool check_sdm(bool ok, const char *name);
/* cli; hlt forever */
__attribute__((noreturn)) void halt_forever(void);

/*
 * Traps (trap.c, trap32.S / trap64.S). Vectors 0-47 have stubs; the frame
 * is what the stub and the CPU pushed.
 */
#ifdef __x86_64__
struct trap_frame {
	unsigned long r15, r14, r13, r12, r11, r10, r9, r8;
	unsigned long rbp, rdi, rsi, rdx, rcx, rbx, rax;
	unsigned long vector, error;
	unsigned long ip, cs, flags, sp, ss;
};
#else
struct trap_frame {
	unsigned long edi, esi, ebp, esp_unused, ebx, edx, ecx, eax;
	unsigned long vector, error;
	unsigned long ip, cs, flags;
};
#endif

#define TRAP_VECTORS 48

/*
 * A test that expects a fault stores the address to resume at in
 * trap_expect.resume (from inline asm, so it can point just past the
 * faulting instruction); the handler records what happened and resumes.
 */
struct trap_record {
	unsigned long resume;	/* 0: no fault expected */
	unsigned long vector, error, ip, cr2;
	unsigned count;
};
extern volatile struct trap_record trap_expect;

/* 32-bit only: return from traps with POPF + LRET instead of IRET. */
extern uint8_t trap_return_lret;

/* Called for vectors no test expects; returns true if it handled it. */
extern bool (*trap_hook)(struct trap_frame *f);

/* Loads an IDT with the stubs (32-bit: interrupt gates on selector cs). */
void idt_init(uint16_t cs);
void trap_dispatch(struct trap_frame *f);

/* Sets one IDT gate (vector < TRAP_VECTORS): type is the access byte, e.g.
 * 0x8e (present, DPL 0, interrupt gate), 0xee (DPL 3), 0x85 (task gate). */
void idt_set_gate(unsigned vec, uintptr_t handler, uint16_t sel, uint8_t type, uint8_t ist);
/* The library's entry stub for a vector, for giving it back its gate. */
uintptr_t idt_stub(unsigned vec);

/*
 * Rings (ring.c, ring32.S / ring64.S; SDM vol. 3, 3.4.5, 5.8, 7.2): a GDT
 * with user segments and a TSS, and a way to run code at CPL3. Call after
 * idt_init(0x08). The layout suits SYSCALL/SYSRET (STAR 0x08 / 0x18) and
 * SYSENTER/SYSEXIT (SYSENTER_CS 0x08) as they are.
 */
#define SEL_KCODE	0x08
#define SEL_KDATA	0x10
#define SEL_UCODE32	0x1b	/* DPL 3; compatibility mode in long mode */
#define SEL_UDATA	0x23
#define SEL_UCODE64	0x2b	/* 64-bit guests only */
#define SEL_TSS		0x30	/* 16 bytes in long mode */
#define GDT_FREE	8	/* first GDT index a guest may use for its own */
#define GDT_ENTRIES	24
#define USER_EXIT_VEC	0x2f	/* DPL 3 gate that user_run's code leaves through */
#define IOPB_PORTS	2048	/* ports 0-2047 have a bit; others always fault */

struct tss32 {
	uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
	uint32_t es, cs, ss, ds, fs, gs, ldt;
	uint16_t trap, iomap;
} __attribute__((packed));

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3, iomap;
} __attribute__((packed));

struct ring_tss {
#ifdef __x86_64__
	struct tss64 t;
#else
	struct tss32 t;
#endif
	uint8_t iopb[IOPB_PORTS / 8 + 1];	/* 1 = denied; the last byte is 0xff */
} __attribute__((packed));

extern uint64_t ring_gdt[GDT_ENTRIES];
extern struct ring_tss ring_tss;
extern uint8_t ring0_stack_top[], user_stack_top[];
void ring_init(void);
uint64_t seg_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags);
/*
 * Runs fn(arg) at CPL3 on the user stack with the caller's IF, entered by
 * IRET (user_run) or by a far RET (user_run_retf); returns its result once
 * it returns (through int USER_EXIT_VEC).
 */
unsigned long user_run(unsigned long (*fn)(unsigned long), unsigned long arg);
unsigned long user_run_retf(unsigned long (*fn)(unsigned long), unsigned long arg);

/* expected-fault helper: true if the last trap was vec with error err at ip */
bool trap_was(unsigned vec, unsigned long err, unsigned long ip);

/* Multiboot v1 (Multiboot Specification 0.6.96, section 3.3) */
#define MULTIBOOT_BOOT_MAGIC 0x2badb002u

struct multiboot_info {
	uint32_t flags;
	uint32_t mem_lower, mem_upper;
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
} __attribute__((packed));

struct multiboot_mmap {
	uint32_t size;		/* of the rest of the entry */
	uint64_t addr, len;
	uint32_t type;
} __attribute__((packed));

#endif
