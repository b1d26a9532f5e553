/* Interrupt descriptor table and the C side of trap handling (Intel SDM vol. 3,
 * 6.11 for 32-bit gates, 6.14.1 for 64-bit ones). */
#include "guest.h"

volatile struct trap_record trap_expect;
bool (*trap_hook)(struct trap_frame *f);

extern const uintptr_t trap_stubs[TRAP_VECTORS];

#ifdef __x86_64__
struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, reserved;
} __attribute__((packed));
#else
struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t zero, type;
	uint16_t off_hi;
} __attribute__((packed));
#endif

struct idt_ptr {
	uint16_t limit;
	uintptr_t base;
} __attribute__((packed));

static struct idt_gate idt[TRAP_VECTORS] __attribute__((aligned(16)));

void idt_init(uint16_t cs)
{
	struct idt_ptr p = { sizeof(idt) - 1, (uintptr_t)idt };
	unsigned i;

	for (i = 0; i < TRAP_VECTORS; i++) {
		uintptr_t a = trap_stubs[i];

		memset(&idt[i], 0, sizeof(idt[i]));
		idt[i].off_lo = (uint16_t)a;
		idt[i].sel = cs;
		idt[i].type = 0x8e;	/* present, DPL 0, interrupt gate */
#ifdef __x86_64__
		idt[i].off_mid = (uint16_t)(a >> 16);
		idt[i].off_hi = (uint32_t)(a >> 32);
#else
		idt[i].off_hi = (uint16_t)(a >> 16);
#endif
	}
	__asm__ volatile("lidt %0" : : "m"(p));
}

void idt_set_gate(unsigned vec, uintptr_t handler, uint16_t sel, uint8_t type, uint8_t ist)
{
	if (vec >= TRAP_VECTORS)
		return;
	memset(&idt[vec], 0, sizeof(idt[vec]));
	idt[vec].off_lo = (uint16_t)handler;
	idt[vec].sel = sel;
	idt[vec].type = type;
#ifdef __x86_64__
	idt[vec].ist = ist;
	idt[vec].off_mid = (uint16_t)(handler >> 16);
	idt[vec].off_hi = (uint32_t)(handler >> 32);
#else
	(void)ist;
	idt[vec].off_hi = (uint16_t)(handler >> 16);
#endif
}

uintptr_t idt_stub(unsigned vec)
{
	return vec < TRAP_VECTORS ? trap_stubs[vec] : 0;
}

bool trap_was(unsigned vec, unsigned long err, unsigned long ip)
{
	if (trap_expect.count == 1 && trap_expect.vector == vec && trap_expect.error == err &&
	    trap_expect.ip == ip)
		return true;
	printf("  trap: count %u vector %lu error 0x%lx ip 0x%lx cr2 0x%lx (want vector %u "
	       "error 0x%lx ip 0x%lx)\n", trap_expect.count, trap_expect.vector,
	       trap_expect.error, trap_expect.ip, trap_expect.cr2, vec, err, ip);
	return false;
}

void trap_dispatch(struct trap_frame *f)
{
	if (f->vector < 32 && trap_expect.resume) {
		trap_expect.vector = f->vector;
		trap_expect.error = f->error;
		trap_expect.ip = f->ip;
		trap_expect.cr2 = f->vector == 14 ? read_cr2() : 0;
		trap_expect.count++;
		f->ip = trap_expect.resume;
		trap_expect.resume = 0;
		return;
	}
	if (trap_hook && trap_hook(f))
		return;
	printf("FAIL: unexpected trap: vector %lu error 0x%lx at ip 0x%lx cr2 0x%lx\n",
	       f->vector, f->error, f->ip, f->vector == 14 ? read_cr2() : 0ul);
	debug_exit(0x7f);
}
