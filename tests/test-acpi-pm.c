/*
 * Tests of the ACPI PM device (devices/pc/acpi-pm.c) through its ports as a
 * guest drives them: the PM timer's rate and its top-bit TMR_STS events,
 * the SCI as a level, write-1-to-clear status, S5 and the reset register.
 */
#include <glib.h>

#include "devtest.h"
#include "gh/acpi-pm.h"
#include "gh/board.h"
#include "gh/pci.h"
#include "gh/x86-acpi.h"

#define PM_HZ 3579545ULL
#define SEC GH_NS_PER_SEC

#define STS GH_ACPI_PM1A_EVT
#define EN (GH_ACPI_PM1A_EVT + 2)
#define CNT GH_ACPI_PM1A_CNT
#define TMR GH_ACPI_PM_TMR

struct fix {
	struct gh_vm *vm;
	struct gh_device *dev;
	struct dt_edges e;
};

static void setup(struct fix *f)
{
	struct gh_device_cfg cfg = { .irq = GH_ACPI_SCI_IRQ };

	f->vm = dt_vm_new();
	dt_edges_attach(&f->e, f->vm);
	f->dev = dt_dev_new(f->vm, &gh_acpi_pm_type, &cfg);
}

static void teardown(struct fix *f)
{
	gh_device_free(f->dev);
	dt_edges_detach(&f->e);
	gh_vm_free(f->vm);
}

static int sci(struct fix *f)
{
	return gh_irq_level(gh_vm_irq(f->vm), GH_ACPI_SCI_IRQ);
}

static void test_timer_rate(void)
{
	struct fix f;
	uint32_t a, b;

	setup(&f);
	a = dt_inl(f.vm, TMR);
	dt_advance(f.vm, SEC);
	b = dt_inl(f.vm, TMR);
	/* exactly 3579545 ticks a second of virtual time, give or take one */
	g_assert_cmpuint(b - a, >=, PM_HZ - 1);
	g_assert_cmpuint(b - a, <=, PM_HZ + 1);
	/* 1 ms: 3579.545 ticks */
	a = dt_inl(f.vm, TMR);
	dt_advance(f.vm, 1000000);
	b = dt_inl(f.vm, TMR);
	g_assert_cmpuint(b - a, >=, 3579);
	g_assert_cmpuint(b - a, <=, 3580);
	/* the halves agree with the whole; writes do not change it */
	a = dt_inl(f.vm, TMR);
	g_assert_cmphex(dt_inw(f.vm, TMR), ==, a & 0xffff);
	g_assert_cmphex(dt_inw(f.vm, TMR + 2), ==, a >> 16);
	g_assert_cmphex(dt_inb(f.vm, TMR + 3), ==, a >> 24);
	dt_outl(f.vm, TMR, 0);
	g_assert_cmphex(dt_inl(f.vm, TMR), ==, a);
	teardown(&f);
}

/* ns at which the PM timer reaches tick k */
static uint64_t at_tick(uint64_t k)
{
	return (k * SEC + PM_HZ - 1) / PM_HZ;
}

static void test_timer_overflow(void)
{
	struct fix f;
	uint64_t now, t31 = at_tick(1ULL << 31), t32 = at_tick(1ULL << 32);

	setup(&f);
	/* TMR_STS sets when bit 31 flips, with or without TMR_EN */
	dt_advance(f.vm, t31 - 1);
	g_assert_cmphex(dt_inw(f.vm, STS) & 1, ==, 0);
	g_assert_cmphex(dt_inl(f.vm, TMR), ==, (1u << 31) - 1);
	dt_advance(f.vm, 1);
	g_assert_cmphex(dt_inl(f.vm, TMR), ==, 1u << 31);
	g_assert_cmphex(dt_inw(f.vm, STS) & 1, ==, 1);
	g_assert_cmpint(sci(&f), ==, 0);
	/* enabling it raises the SCI, a level, until the status is cleared */
	dt_outw(f.vm, EN, 1);
	g_assert_cmpint(sci(&f), ==, 1);
	dt_outw(f.vm, STS, 0xfffe);		/* other bits: no effect */
	g_assert_cmpint(sci(&f), ==, 1);
	dt_outw(f.vm, STS, 1);
	g_assert_cmpint(sci(&f), ==, 0);
	g_assert_cmphex(dt_inw(f.vm, STS), ==, 0);

	/* the wrap to 0 flips it too, and the timer fires without any read */
	now = gh_clock_ns(gh_vm_clock(f.vm));
	dt_advance(f.vm, t32 - now - 1);
	g_assert_cmpint(sci(&f), ==, 0);
	dt_advance(f.vm, 1);
	g_assert_cmpint(sci(&f), ==, 1);
	g_assert_cmpuint(f.e.last_rise_ns[GH_ACPI_SCI_IRQ], ==, t32);
	g_assert_cmphex(dt_inl(f.vm, TMR), ==, 0);
	/* disabling drops the SCI, the status stays */
	dt_outb(f.vm, EN, 0);
	g_assert_cmpint(sci(&f), ==, 0);
	g_assert_cmphex(dt_inb(f.vm, STS), ==, 1);
	/* byte-wide W1C */
	dt_outb(f.vm, STS, 1);
	g_assert_cmphex(dt_inb(f.vm, STS), ==, 0);
	teardown(&f);
}

static void test_power_button(void)
{
	struct fix f;

	setup(&f);
	gh_acpi_pm_power_button(f.dev->state);
	g_assert_cmphex(dt_inw(f.vm, STS), ==, 1u << 8);
	g_assert_cmpint(sci(&f), ==, 0);
	dt_outw(f.vm, EN, 1u << 8);
	g_assert_cmphex(dt_inw(f.vm, EN), ==, 1u << 8);
	g_assert_cmpint(sci(&f), ==, 1);
	/* the high byte alone clears it */
	dt_outb(f.vm, STS + 1, 1);
	g_assert_cmpint(sci(&f), ==, 0);
	gh_acpi_pm_power_button(f.dev->state);
	g_assert_cmpint(sci(&f), ==, 1);
	g_assert_cmpuint(f.e.rises[GH_ACPI_SCI_IRQ], ==, 2);
	/* reserved enable bits do not stick */
	dt_outw(f.vm, EN, 0xffff);
	g_assert_cmphex(dt_inw(f.vm, EN), ==, 0x0721);
	/* a reset puts every register back */
	gh_device_reset(f.dev);
	g_assert_cmphex(dt_inw(f.vm, STS), ==, 0);
	g_assert_cmphex(dt_inw(f.vm, EN), ==, 0);
	g_assert_cmpint(sci(&f), ==, 0);
	teardown(&f);
}

static void test_control(void)
{
	struct fix f;

	setup(&f);
	/* always in ACPI mode: SCI_EN reads 1 and cannot be cleared */
	g_assert_cmphex(dt_inw(f.vm, CNT), ==, 1);
	dt_outw(f.vm, CNT, 0);
	g_assert_cmphex(dt_inw(f.vm, CNT), ==, 1);
	/* SLP_TYP reads back, SLP_EN and GBL_RLS do not */
	dt_outw(f.vm, CNT, 3 << 10 | 1 << 2);
	g_assert_cmphex(dt_inw(f.vm, CNT), ==, 3 << 10 | 1);
	/* S3 (not in the DSDT) is ignored: the VM runs on */
	dt_outw(f.vm, CNT, 3 << 10 | 1 << 13);
	g_assert_cmpint(gh_vm_stop_reason(f.vm), ==, GH_STOP_NONE);
	/* S5 powers off, cleanly */
	dt_outw(f.vm, CNT, GH_ACPI_SLP_TYP_S5 << 10 | 1 << 13);
	g_assert_cmpint(gh_vm_stop_reason(f.vm), ==, GH_STOP_POWEROFF);
	g_assert_cmpint(gh_vm_stop_status(f.vm), ==, 0);
	teardown(&f);
}

/* Linux writes SLP_TYP and then SLP_EN, in two words or as one byte. */
static void test_s5_bytes(void)
{
	struct fix f;

	setup(&f);
	dt_outw(f.vm, CNT, GH_ACPI_SLP_TYP_S5 << 10);
	g_assert_cmpint(gh_vm_stop_reason(f.vm), ==, GH_STOP_NONE);
	dt_outb(f.vm, CNT + 1, (GH_ACPI_SLP_TYP_S5 << 2) | 1 << 5);
	g_assert_cmpint(gh_vm_stop_reason(f.vm), ==, GH_STOP_POWEROFF);
	teardown(&f);
}

static void test_reset(void)
{
	struct fix f;
	unsigned n;

	setup(&f);
	n = gh_vm_reset_count(f.vm);
	/* SYS_RST alone only arms; RST_CPU resets (RESET_VALUE = 6) */
	dt_outb(f.vm, GH_ACPI_RESET_PORT, 0x02);
	g_assert_cmpuint(gh_vm_reset_count(f.vm), ==, n);
	g_assert_cmphex(dt_inb(f.vm, GH_ACPI_RESET_PORT), ==, 0x02);
	dt_outb(f.vm, GH_ACPI_RESET_PORT, GH_ACPI_RESET_VALUE);
	g_assert_cmpuint(gh_vm_reset_count(f.vm), ==, n + 1);
	teardown(&f);
}

/* A CPU-less VM's board: the button reaches the device through the board. */
static void test_board_button(void)
{
	struct gh_vm *vm = dt_vm_new();
	struct gh_error err = { 0 };
	struct gh_board *b;

	g_assert_cmpint(gh_board_new(vm, NULL, &b, &err), ==, 0);
	pthread_mutex_lock(gh_vm_lock(vm));
	dt_outw(vm, EN, 1u << 8);
	pthread_mutex_unlock(gh_vm_lock(vm));
	g_assert_cmpint(gh_irq_level(gh_vm_irq(vm), GH_ACPI_SCI_IRQ), ==, 0);
	gh_board_power_button(b);
	g_assert_cmpint(gh_irq_level(gh_vm_irq(vm), GH_ACPI_SCI_IRQ), ==, 1);
	gh_board_free(b);
	gh_vm_free(vm);
}

static uint32_t cfg_rd(struct gh_vm *vm, unsigned off)
{
	dt_outl(vm, 0xcf8, 0x80000000u | GH_PCI_DEVFN(1, 3) << 8 | (off & 0xfc));
	return dt_inl(vm, 0xcfc) >> (8 * (off & 3));
}

static void cfg_wr(struct gh_vm *vm, unsigned off, uint32_t v, unsigned size)
{
	dt_outl(vm, 0xcf8, 0x80000000u | GH_PCI_DEVFN(1, 3) << 8 | (off & 0xfc));
	if (size == 4)
		dt_outl(vm, 0xcfc, v);
	else
		dt_outb(vm, 0xcfc + (off & 3), v);
}

/*
 * On the board the block belongs to the PIIX4's function 3: it starts at
 * the FADT's address, enabled; PMBA moves it, PMREGMISC turns it off, and
 * a base over other ports leaves it off.
 */
static void test_pmba(void)
{
	struct gh_vm *vm = dt_vm_new();
	struct gh_error err = { 0 };
	struct gh_board *b;

	g_assert_cmpint(gh_board_new(vm, NULL, &b, &err), ==, 0);
	pthread_mutex_lock(gh_vm_lock(vm));
	g_assert_cmphex(cfg_rd(vm, 0), ==, 0x71138086);
	g_assert_cmphex(cfg_rd(vm, 8) >> 8, ==, 0x068000);
	g_assert_cmphex(cfg_rd(vm, 0x40), ==, GH_ACPI_PM_BASE | 1);
	g_assert_cmphex(cfg_rd(vm, 0x80) & 0xff, ==, 1);
	/* APMC_EN: "SMM is set up", so SeaBIOS raises no SMI (none here) */
	g_assert_cmphex(cfg_rd(vm, 0x58) & (1u << 25), ==, 1u << 25);
	g_assert_cmpstr(gh_bus_lookup(gh_vm_pio(vm), GH_ACPI_PM_TMR), ==,
			"acpi-pm");

	/* what SeaBIOS and OVMF write: the block moves with PMBA */
	cfg_wr(vm, 0x40, 0xc001, 4);
	g_assert_cmphex(cfg_rd(vm, 0x40), ==, 0xc001);
	g_assert_null(gh_bus_lookup(gh_vm_pio(vm), GH_ACPI_PM_TMR));
	g_assert_cmpstr(gh_bus_lookup(gh_vm_pio(vm), 0xc008), ==, "acpi-pm");
	dt_outw(vm, 0xc002, 1u << 8);
	g_assert_cmphex(dt_inw(vm, 0xc002), ==, 1u << 8);
	/* bit 0 reads 1, bits 5:1 are not there */
	cfg_wr(vm, 0x40, 0xc03e, 4);
	g_assert_cmphex(cfg_rd(vm, 0x40), ==, 0xc001);

	/* PMIOSE off: nowhere; on again: back */
	cfg_wr(vm, 0x80, 0, 1);
	g_assert_null(gh_bus_lookup(gh_vm_pio(vm), 0xc008));
	cfg_wr(vm, 0x80, 1, 1);
	g_assert_cmpstr(gh_bus_lookup(gh_vm_pio(vm), 0xc008), ==, "acpi-pm");

	/* over the PIT: left off, the PIT keeps its ports */
	cfg_wr(vm, 0x40, 0x0041, 4);
	g_assert_null(gh_bus_lookup(gh_vm_pio(vm), 0xc008));
	g_assert_cmpstr(gh_bus_lookup(gh_vm_pio(vm), 0x40), !=, "acpi-pm");
	pthread_mutex_unlock(gh_vm_lock(vm));

	/* freeing the board frees the ports */
	gh_board_free(b);
	g_assert_null(gh_bus_lookup(gh_vm_pio(vm), GH_ACPI_PM_TMR));
	gh_vm_free(vm);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/acpi-pm/timer-rate", test_timer_rate);
	g_test_add_func("/acpi-pm/timer-overflow", test_timer_overflow);
	g_test_add_func("/acpi-pm/power-button", test_power_button);
	g_test_add_func("/acpi-pm/control", test_control);
	g_test_add_func("/acpi-pm/s5-bytes", test_s5_bytes);
	g_test_add_func("/acpi-pm/reset", test_reset);
	g_test_add_func("/acpi-pm/board-button", test_board_button);
	g_test_add_func("/acpi-pm/pmba", test_pmba);
	return g_test_run();
}
