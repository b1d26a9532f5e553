/* User segments, a TSS with an I/O permission bitmap, and CPL3 entry for the
 * test guests (Intel SDM vol. 3, 3.4.5 descriptors, 7.2.1/7.7 TSS, 16.5 I/O bitmap). */
#include "guest.h"

uint64_t ring_gdt[GDT_ENTRIES] __attribute__((aligned(16)));
struct ring_tss ring_tss __attribute__((aligned(128)));

extern char user_exit_stub[];

uint64_t seg_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
	return (uint64_t)(limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 |
	       (uint64_t)access << 40 | (uint64_t)((limit >> 16) & 0xf) << 48 |
	       (uint64_t)(flags & 0xf) << 52 | (uint64_t)(base >> 24) << 56;
}

void ring_init(void)
{
	struct {
		uint16_t limit;
		uintptr_t base;
	} __attribute__((packed)) gp = { sizeof(ring_gdt) - 1, (uintptr_t)ring_gdt };
	uintptr_t tss = (uintptr_t)&ring_tss;
	unsigned i;

	memset(ring_gdt, 0, sizeof(ring_gdt));
#ifdef __x86_64__
	ring_gdt[1] = seg_desc(0, 0xfffff, 0x9a, 0xa);
	ring_gdt[5] = seg_desc(0, 0xfffff, 0xfa, 0xa);
#else
	ring_gdt[1] = seg_desc(0, 0xfffff, 0x9a, 0xc);
#endif
	ring_gdt[2] = seg_desc(0, 0xfffff, 0x92, 0xc);
	ring_gdt[3] = seg_desc(0, 0xfffff, 0xfa, 0xc);
	ring_gdt[4] = seg_desc(0, 0xfffff, 0xf2, 0xc);
	ring_gdt[6] = seg_desc((uint32_t)tss, sizeof(ring_tss) - 1, 0x89, 0);
#ifdef __x86_64__
	ring_gdt[7] = (uint64_t)tss >> 32;
#endif

	memset(&ring_tss, 0, sizeof(ring_tss));
#ifdef __x86_64__
	ring_tss.t.rsp[0] = (uintptr_t)ring0_stack_top;
#else
	ring_tss.t.esp0 = (uintptr_t)ring0_stack_top;
	ring_tss.t.ss0 = SEL_KDATA;
#endif
	ring_tss.t.iomap = offsetof(struct ring_tss, iopb);
	memset(ring_tss.iopb, 0xff, sizeof(ring_tss.iopb));

	__asm__ volatile("lgdt %0\n\t"
			 "mov %1, %%ds\n\t"
			 "mov %1, %%es\n\t"
			 "mov %1, %%ss\n\t"
			 "mov %1, %%fs\n\t"
			 "mov %1, %%gs\n\t"
			 "ltr %w2"
			 : : "m"(gp), "r"(SEL_KDATA), "r"(SEL_TSS) : "memory");
	idt_set_gate(USER_EXIT_VEC, (uintptr_t)user_exit_stub, SEL_KCODE, 0xee, 0);

#ifdef __x86_64__
	{
		/* boot64.S maps the first GiB for the supervisor only */
		extern uint64_t pml4[], pdpt[], pd[];

		pml4[0] |= 4;
		pdpt[0] |= 4;
		for (i = 0; i < 512; i++)
			pd[i] |= 4;
		__asm__ volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" : : : "rax", "memory");
	}
#else
	(void)i;
#endif
}
