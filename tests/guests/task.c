/*
 * guest-task: 32-bit hardware task switching (Intel SDM vol. 3, chapter 7):
 * far JMP to a TSS descriptor and back (state saved in the old TSS, loaded
 * from the new one, busy bits), far CALL to a TSS (back link, NT) and the
 * IRET that returns from the nested task, and a task gate in the IDT for
 * #DF, caused on purpose by a #GP whose gate is not present (#GP then #NP),
 * with the faulting task's registers checked in its TSS.
 * Exit: debug-exit 0x58 when every check passes, 0x59 otherwise.
 */
#include "lib/guest.h"

#define B_IDX		GDT_FREE
#define DF_IDX		(GDT_FREE + 1)
#define SEL_B		(B_IDX * 8)
#define SEL_DF		(DF_IDX * 8)
#define NT		0x4000u
#define TYPE(d)		(((d) >> 8) & 0xf)	/* from a descriptor's high dword */

void guest_main(uint32_t magic, uint32_t mbi);
void df_task_body(void);
extern char task_b_entry[], task_b_after_jmp[], df_entry[], df_resume[];

static struct tss32 tss_b __attribute__((aligned(128)));
static struct tss32 tss_df __attribute__((aligned(128)));
static uint8_t stack_b[4096] __attribute__((aligned(16)));
static uint8_t stack_df[4096] __attribute__((aligned(16)));

uint32_t b_seen_eax, b_seen_ebx, b_seen_eflags, b_seen_main_desc, b_seen_b_desc, b_runs;
uint16_t b_seen_tr, df_tr;
uint32_t task_b_by_call;
uint32_t df_error, df_esp, df_eflags;
static struct tss32 df_saw_main;
static uint32_t df_saw_link;
static unsigned df_runs;

static void init_tss(struct tss32 *t, void *entry, uint8_t *stack, size_t size)
{
	memset(t, 0, sizeof(*t));
	t->eip = (uintptr_t)entry;
	t->esp = (uintptr_t)(stack + size);
	t->eflags = 0x2;
	t->cs = SEL_KCODE;
	t->ds = t->es = t->ss = t->fs = t->gs = SEL_KDATA;
	t->cr3 = (uint32_t)read_cr3();
	t->iomap = sizeof(*t);		/* no bitmap */
}

static uint32_t desc_hi(unsigned idx)
{
	return (uint32_t)(((volatile uint64_t *)ring_gdt)[idx] >> 32);
}

void df_task_body(void)
{
	df_runs++;
	df_saw_main = ring_tss.t;
	df_saw_link = tss_df.link;
	/* give #GP its gate back and resume the faulting task past the fault */
	idt_set_gate(13, idt_stub(13), SEL_KCODE, 0x8e, 0);
	ring_tss.t.eip = (uintptr_t)df_resume;
}

static void test_jmp(void)
{
	uint32_t ebx, esi, edi, ret, fl;

	init_tss(&tss_b, task_b_entry, stack_b, sizeof(stack_b));
	tss_b.eax = 0xb0b0000a;
	tss_b.ebx = 0xb0b0000b;
	task_b_by_call = 0;
	__asm__ volatile("movl $0x11111111, %%ebx\n\t"
			 "movl $0x22222222, %%esi\n\t"
			 "movl $0x33333333, %%edi\n\t"
			 "ljmp %5, $0\n"
			 "1:\tmovl %%ebx, %0\n\t"
			 "movl %%esi, %1\n\t"
			 "movl %%edi, %2\n\t"
			 "movl $1b, %3\n\t"
			 "pushfl\n\t"
			 "popl %4"
			 : "=m"(ebx), "=m"(esi), "=m"(edi), "=m"(ret), "=m"(fl) : "i"(SEL_B)
			 : "ebx", "esi", "edi", "eax", "ecx", "edx", "memory");
	check_eq(b_runs, 1, "JMP to a TSS runs the new task");
	check(b_seen_eax == 0xb0b0000a && b_seen_ebx == 0xb0b0000b,
	      "JMP to a TSS: registers loaded from the new TSS");
	check_eq(b_seen_tr, SEL_B, "JMP to a TSS: TR holds the new TSS");
	check(TYPE(b_seen_b_desc) == 0xb && TYPE(b_seen_main_desc) == 0x9,
	      "JMP to a TSS: new task busy, old task no longer busy");
	check_eq(b_seen_eflags & NT, 0, "JMP to a TSS: NT clear in the new task");
	check(ring_tss.t.ebx == 0x11111111 && ring_tss.t.esi == 0x22222222 &&
	      ring_tss.t.edi == 0x33333333, "JMP to a TSS: old registers saved in the old TSS");
	check_eq(ring_tss.t.eip, ret, "JMP to a TSS: old TSS EIP is the instruction after the JMP");
	check(ebx == 0x11111111 && esi == 0x22222222 && edi == 0x33333333,
	      "JMP back: registers restored from the old TSS");
	check(TYPE(desc_hi(6)) == 0xb && TYPE(desc_hi(B_IDX)) == 0x9,
	      "JMP back: busy bits swapped again");
	check_eq(tss_b.eip, (uintptr_t)task_b_after_jmp,
		 "JMP back: the task's EIP after its JMP saved in its TSS");
	check_eq(fl & NT, 0, "NT clear after JMP back");
}

static void test_call(void)
{
	uint32_t fl, ebx;

	b_runs = 0;
	task_b_by_call = 1;
	tss_b.link = 0xffff;
	__asm__ volatile("movl $0x44444444, %%ebx\n\t"
			 "lcall %2, $0\n\t"
			 "movl %%ebx, %1\n\t"
			 "pushfl\n\t"
			 "popl %0"
			 : "=m"(fl), "=m"(ebx) : "i"(SEL_B) : "ebx", "esi", "edi", "eax", "ecx",
			 "edx", "memory");
	check_eq(b_runs, 1, "CALL to a TSS runs the task");
	check_eq(b_seen_eflags & NT, NT, "CALL to a TSS: NT set in the called task");
	check_eq(tss_b.link, SEL_TSS, "CALL to a TSS: back link is the caller's TSS");
	check(TYPE(b_seen_main_desc) == 0xb && TYPE(b_seen_b_desc) == 0xb,
	      "CALL to a TSS: caller stays busy, called task busy");
	check_eq(ebx, 0x44444444, "IRET with NT returns to the calling task");
	check(TYPE(desc_hi(B_IDX)) == 0x9 && TYPE(desc_hi(6)) == 0xb,
	      "IRET with NT: the returning task is no longer busy");
	check_eq(fl & NT, 0, "NT clear in the caller after the return");
}

static void test_df(void)
{
	uint16_t es;

	init_tss(&tss_df, df_entry, stack_df, sizeof(stack_df));
	idt_set_gate(8, 0, SEL_DF, 0x85, 0);			/* task gate */
	idt_set_gate(13, idt_stub(13), SEL_KCODE, 0x0e, 0);	/* not present */
	__asm__ volatile("movl $0xdf00000b, %%ebx\n\t"
			 "movl $0xdf00000e, %%esi\n\t"
			 "movl $0xdf00000d, %%edi\n\t"
			 "movw $0xfff8, %%ax\n\t"
			 "movw %%ax, %%es\n\t"		/* #GP, whose gate is not present */
			 "ud2\n"
			 ".globl df_resume\n"
			 "df_resume:\n\t"
			 "movw %%es, %0"
			 : "=m"(es) : : "eax", "ebx", "esi", "edi", "memory");
	check_eq(df_runs, 1, "#DF (#GP, then #NP for its gate) through a task gate runs the task");
	check_eq(df_tr, SEL_DF, "#DF task: TR holds the double-fault TSS");
	check_eq(df_error, 0, "#DF task: error code 0 on the new task's stack");
	check_eq(df_esp, (uintptr_t)stack_df + sizeof(stack_df),
		 "#DF task: the error code was the only thing pushed");
	check_eq(df_eflags & NT, NT, "#DF task: NT set (nested task)");
	check_eq(df_saw_link, SEL_TSS, "#DF task: back link is the faulting task");
	check(df_saw_main.ebx == 0xdf00000b && df_saw_main.esi == 0xdf00000e &&
	      df_saw_main.edi == 0xdf00000d,
	      "#DF task: the faulting task's registers saved in its TSS");
	check(df_saw_main.cs == SEL_KCODE && df_saw_main.ss == SEL_KDATA &&
	      df_saw_main.ds == SEL_KDATA && df_saw_main.es == SEL_KDATA,
	      "#DF task: the faulting task's segments saved, ES unchanged by the fault");
	printf("  saved EIP 0x%x (undefined for #DF, not checked)\n", df_saw_main.eip);
	check_eq(es, SEL_KDATA, "IRET from the #DF task resumes the faulting task");
	check(TYPE(desc_hi(DF_IDX)) == 0x9 && TYPE(desc_hi(6)) == 0xb,
	      "after the #DF task's IRET: it is not busy, the resumed task is");
}

void guest_main(uint32_t magic, uint32_t mbi)
{
	uart_init(COM1);
	guest_flags(mbi);
	printf("guest-task: 32-bit task switches\n");
	check_eq(magic, MULTIBOOT_BOOT_MAGIC, "multiboot magic in EAX");
	idt_init(SEL_KCODE);
	ring_init();
	ring_tss.t.cr3 = (uint32_t)read_cr3();
	ring_gdt[B_IDX] = seg_desc((uintptr_t)&tss_b, sizeof(tss_b) - 1, 0x89, 0);
	ring_gdt[DF_IDX] = seg_desc((uintptr_t)&tss_df, sizeof(tss_df) - 1, 0x89, 0);
	test_jmp();
	test_call();
	test_df();
	finish("guest-task", 0x58, 0x59);
}
