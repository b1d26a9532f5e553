/*
 * The Intel MultiProcessor Specification 1.4 tables, for kernels that
 * boot with acpi=off: the floating pointer (4.1) and a configuration table
 * (4.2-4.3) with the processors, the ISA bus, the I/O APIC and the
 * interrupt wiring that the MADT (acpi.c) describes too.
 */
#include <glib.h>
#include <string.h>

#include "boot-internal.h"
#include "gh/x86-acpi.h"

#define MPF_SIZE	16
#define MPC_HDR_SIZE	44
#define MPC_OFF		(GH_X86_MP_OFF + MPF_SIZE)

/* entry types (4.3) and their sizes */
#define MP_PROCESSOR	0
#define MP_BUS		1
#define MP_IOAPIC	2
#define MP_IOINTR	3
#define MP_LINTR	4
#define MP_PROC_SIZE	20
#define MP_ENTRY_SIZE	8

/* interrupt types (table 4-9) */
#define MP_INT		0
#define MP_NMI		1
#define MP_EXTINT	3

#define CPU_EN		0x01
#define CPU_BP		0x02
#define LAPIC_VERSION	0x14
#define IOAPIC_VERSION	0x11
/* family 6, with an FPU and a local APIC (CPUID.1 EDX bits 0 and 9) */
#define CPU_SIGNATURE	0x600
#define CPU_FEATURES	0x201

static uint8_t *intr(uint8_t *p, uint8_t type, uint8_t kind, uint8_t bus_irq,
		     uint8_t dest, uint8_t pin)
{
	p[0] = type;
	p[1] = kind;
	gh_x86_put16(p + 2, 0);		/* polarity and trigger conform to the bus */
	p[4] = 0;			/* source bus: ISA */
	p[5] = bus_irq;
	p[6] = dest;
	p[7] = pin;
	return p + MP_ENTRY_SIZE;
}

void gh_x86_build_mptable(uint8_t *area, uint64_t area_gpa, unsigned ncpus)
{
	uint8_t *mpf = area + GH_X86_MP_OFF, *mpc = area + MPC_OFF;
	uint8_t *p = mpc + MPC_HDR_SIZE;
	uint8_t ioapic = ncpus;
	unsigned irq, count = 0;

	for (unsigned i = 0; i < ncpus; i++, count++, p += MP_PROC_SIZE) {
		p[0] = MP_PROCESSOR;
		p[1] = i;
		p[2] = LAPIC_VERSION;
		p[3] = CPU_EN | (i == 0 ? CPU_BP : 0);
		gh_x86_put32(p + 4, CPU_SIGNATURE);
		gh_x86_put32(p + 8, CPU_FEATURES);
	}

	p[0] = MP_BUS;
	p[1] = 0;
	memcpy(p + 2, "ISA   ", 6);
	p += MP_ENTRY_SIZE;
	count++;

	p[0] = MP_IOAPIC;
	p[1] = ioapic;
	p[2] = IOAPIC_VERSION;
	p[3] = 1;			/* usable */
	gh_x86_put32(p + 4, GH_IOAPIC_BASE);
	p += MP_ENTRY_SIZE;
	count++;

	/*
	 * The 8259's output on pin 0 (virtual wire through the I/O APIC), the
	 * PIT's IRQ 0 on pin 2, the other ISA IRQs on their own pins; IRQ 2
	 * is the cascade and reaches no pin.
	 */
	p = intr(p, MP_IOINTR, MP_EXTINT, 0, ioapic, 0);
	p = intr(p, MP_IOINTR, MP_INT, 0, ioapic, 2);
	count += 2;
	for (irq = 1; irq < 16; irq++) {
		if (irq == 2)
			continue;
		p = intr(p, MP_IOINTR, MP_INT, irq, ioapic, irq);
		count++;
	}
	/* ExtINT on LINT0 and NMI on LINT1 of every local APIC (0xff) */
	p = intr(p, MP_LINTR, MP_EXTINT, 0, 0xff, 0);
	p = intr(p, MP_LINTR, MP_NMI, 0, 0xff, 1);
	count += 2;

	memcpy(mpc, "PCMP", 4);
	gh_x86_put16(mpc + 4, p - mpc);
	mpc[6] = 4;			/* spec revision 1.4 */
	memcpy(mpc + 8, "GHOUSE  ", 8);
	memcpy(mpc + 16, "GUESTHOUSE  ", 12);
	gh_x86_put16(mpc + 34, count);
	gh_x86_put32(mpc + 36, GH_LAPIC_BASE);
	mpc[7] = gh_x86_checksum(mpc, p - mpc);
	g_assert(p - area <= GH_X86_MP_END);

	memcpy(mpf, "_MP_", 4);
	gh_x86_put32(mpf + 4, (uint32_t)(area_gpa + MPC_OFF));
	mpf[8] = 1;			/* length in 16-byte units */
	mpf[9] = 4;
	/* feature bytes 0: the table above, virtual wire mode (no IMCR) */
	mpf[10] = gh_x86_checksum(mpf, MPF_SIZE);
}
