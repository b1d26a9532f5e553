/*
 * The PC's APIC layout, shared by the local APICs (devices/pc/lapic.c), the
 * I/O APIC (devices/pc/ioapic.c) and the firmware tables that describe them
 * (the MADT and MP table): local APIC i has APIC ID i, the I/O APIC has
 * ID ncpus, GSI base 0 and 24 pins; ISA IRQ 0 arrives on pin 2 (the
 * interrupt source override every PC firmware declares), the other GSIs on
 * the pin of their number.
 */
#ifndef GH_APIC_H
#define GH_APIC_H

#define GH_LAPIC_BASE 0xfee00000ULL	/* default IA32_APIC_BASE address */
#define GH_LAPIC_SIZE 0x1000ULL
#define GH_MSI_BASE 0xfee00000ULL	/* MSI writes: 0xFEExxxxx */
#define GH_MSI_SIZE 0x100000ULL
#define GH_IOAPIC_BASE 0xfec00000ULL
#define GH_IOAPIC_SIZE 0x1000ULL
#define GH_IOAPIC_PINS 24

/* The timer counts a 1 GHz bus clock through its divider; the soft CPU's
 * TSC runs at 1 GHz too (IA32_TSC_DEADLINE is in those units). */
#define GH_LAPIC_BUS_HZ 1000000000ULL

#endif
