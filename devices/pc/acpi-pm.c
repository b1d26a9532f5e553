/*
 * ACPI fixed hardware (ACPI 6.3, 4.8): the PM1a event and control blocks,
 * the 32-bit power management timer and the SCI, at the ports the FADT
 * gives (gh/x86-acpi.h), plus the PC's reset control register at 0xCF9
 * that the FADT names as RESET_REG (5.2.9, 4.8.3.6).
 *
 * On a board with PCI the block belongs to the PIIX4's power management
 * function at 00:01.3 (82371AB datasheet 290562, 3.4): PMBA (0x40) says
 * where its 64 ports are and PMREGMISC bit 0 (0x80) turns them on, so
 * firmware may move them (OVMF's timer reads PMBA to find the PM timer).
 * Both start as if the firmware had set them up at the FADT's address,
 * for a direct boot that runs no firmware.
 *
 * There is no SMM: SMI_CMD is 0 in the FADT, so the machine is always in
 * ACPI mode and SCI_EN reads 1 (4.8.2.1). The sleep states are S0 and S5
 * (\_S5 in the DSDT); SLP_EN with S5's SLP_TYP powers the VM off, other
 * sleep types are ignored, as a chipset ignores a type it does not decode.
 */
#include "gh/acpi-pm.h"

#include <errno.h>

#include "gh/bus.h"
#include "gh/clock.h"
#include "gh/device.h"
#include "gh/irq.h"
#include "gh/log.h"
#include "gh/pci.h"
#include "gh/vm.h"
#include "gh/x86-acpi.h"

#define PM_TMR_HZ	3579545ULL	/* 4.8.3.3 */
#define PM_TMR_MSB	(1ULL << 31)	/* TMR_VAL_EXT: 32 bits */

/* offsets in the block */
#define R_PM1_STS	0
#define R_PM1_EN	2
#define R_PM1_CNT	4
#define R_PM_TMR	8

/* PM1 status and enable bits (tables 4-16, 4-17) */
#define TMR_STS		(1u << 0)
#define GBL_STS		(1u << 5)
#define PWRBTN_STS	(1u << 8)
#define SLPBTN_STS	(1u << 9)
#define RTC_STS		(1u << 10)
#define EN_MASK		(TMR_STS | GBL_STS | PWRBTN_STS | SLPBTN_STS | RTC_STS)

/* PM1 control bits (table 4-18) */
#define SCI_EN		(1u << 0)
#define BM_RLD		(1u << 1)
#define GBL_RLS		(1u << 2)
#define SLP_TYP_SHIFT	10
#define SLP_TYP_MASK	(7u << SLP_TYP_SHIFT)
#define SLP_EN		(1u << 13)
/* what reads back: SCI_EN is fixed, GBL_RLS and SLP_EN are write-only */
#define CNT_STORED	(BM_RLD | SLP_TYP_MASK)

/* RST_CNT at 0xCF9 (Intel ICH datasheets): RST_CPU starts the reset */
#define RST_SYS		(1u << 1)
#define RST_CPU		(1u << 2)
#define RST_FULL	(1u << 3)

/* the PIIX4 power management function (datasheet 3.4) */
#define PM_DEVFN	GH_PCI_DEVFN(1, 3)
#define PMBA		0x40		/* bits 15:6 the base, bit 0 reads 1 */
#define PMBA_IO		0x0001u
#define PMBA_MASK	0xffc0u
#define PMREGMISC	0x80
#define PMIOSE		0x01		/* PM I/O space enable */
#define SMBBA		0x90		/* SMBus base: bit 0 reads 1 */
#define DEVACTB		0x58		/* device activity B */
#define APMC_EN		(1u << 25)	/* SMI on APM control writes */

struct gh_acpi_pm {
	struct gh_pci_func pci;		/* on a board with PCI */
	bool has_pci;
	uint16_t base;			/* where the block is mapped, 0: not */
	struct gh_vm *vm;
	struct gh_clock *clock;
	struct gh_irq *irq;
	struct gh_timer *timer;
	int gsi;
	int source;		/* our source on the SCI line */
	unsigned mapped;
	uint16_t sts, en, cnt;
	uint8_t rst_cnt;
	uint64_t tmr_seen;	/* PM timer ticks up to which TMR_STS is settled */
	struct gh_ratelimit rl;
};

static uint64_t tmr_ticks(struct gh_acpi_pm *s)
{
	return gh_ns_to_ticks(gh_clock_ns(s->clock), PM_TMR_HZ);
}

/*
 * When PM timer tick k happens: rounded up, so tmr_ticks() is k by then;
 * past the clock's range it saturates rather than wrap into the past.
 */
static uint64_t tick_ns(uint64_t k)
{
	unsigned __int128 ns = ((unsigned __int128)k * GH_NS_PER_SEC +
				PM_TMR_HZ - 1) / PM_TMR_HZ;

	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

/* The SCI is a level: any enabled status bit holds it up (4.8.2.1). */
static void update_sci(struct gh_acpi_pm *s)
{
	if (s->gsi >= 0)
		gh_irq_set_source(s->irq, s->gsi, s->source,
				  (s->sts & s->en & EN_MASK) != 0);
}

/*
 * TMR_STS is set each time the timer's top bit changes (4.8.3.3). The
 * clock timer is armed for the next change; a late callback still sets
 * the bit once.
 */
static void tmr_update(struct gh_acpi_pm *s)
{
	uint64_t now = tmr_ticks(s);
	uint64_t next = (s->tmr_seen / PM_TMR_MSB + 1) * PM_TMR_MSB;

	if (now >= next) {
		s->sts |= TMR_STS;
		s->tmr_seen = now;
		next = (now / PM_TMR_MSB + 1) * PM_TMR_MSB;
	}
	gh_timer_mod(s->timer, tick_ns(next));
	update_sci(s);
}

static void pm_timer(void *opaque)
{
	tmr_update(opaque);
}

static void enter_sleep(struct gh_acpi_pm *s, unsigned typ)
{
	if (typ == GH_ACPI_SLP_TYP_S5) {
		gh_vm_request_stop(s->vm, GH_STOP_POWEROFF, 0,
				   "the guest powered off (ACPI S5)");
		return;
	}
	gh_log_guest(&s->rl, "acpi-pm: sleep type %u is not supported; ignored",
		     typ);
}

static uint8_t read_byte(struct gh_acpi_pm *s, unsigned off)
{
	uint32_t v;

	switch (off & ~1u) {
	case R_PM1_STS:
		v = s->sts;
		break;
	case R_PM1_EN:
		v = s->en;
		break;
	case R_PM1_CNT:
		v = s->cnt | SCI_EN;
		break;
	case R_PM_TMR:
	case R_PM_TMR + 2:
		v = (uint32_t)tmr_ticks(s) >> (off & 2 ? 16 : 0);
		break;
	default:
		return 0;
	}
	return v >> (off & 1 ? 8 : 0);
}

/*
 * Byte at a time: a word write is its low byte then its high byte, and
 * SLP_EN sits in the high byte with all of SLP_TYP, so the sleep starts
 * with the complete control value in place.
 */
static void write_byte(struct gh_acpi_pm *s, unsigned off, uint8_t val)
{
	unsigned shift = off & 1 ? 8 : 0;
	uint16_t v = (uint16_t)val << shift, mask = (uint16_t)0xff << shift;

	switch (off & ~1u) {
	case R_PM1_STS:
		/* write 1 to clear (4.8.3.1.1) */
		s->sts &= ~v;
		update_sci(s);
		break;
	case R_PM1_EN:
		s->en = (s->en & ~mask) | (v & EN_MASK);
		update_sci(s);
		break;
	case R_PM1_CNT:
		s->cnt = (s->cnt & ~mask) | (v & CNT_STORED);
		if (v & SLP_EN)
			enter_sleep(s, (s->cnt & SLP_TYP_MASK) >> SLP_TYP_SHIFT);
		break;
	default:
		/* the PM timer is read-only; 6 and 7 are not registers */
		break;
	}
}

static uint64_t pm_read(void *opaque, uint64_t off, unsigned size)
{
	struct gh_acpi_pm *s = opaque;
	uint64_t v = 0;

	tmr_update(s);
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)read_byte(s, off + i) << (8 * i);
	return v;
}

static void pm_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct gh_acpi_pm *s = opaque;

	tmr_update(s);
	for (unsigned i = 0; i < size; i++)
		write_byte(s, off + i, val >> (8 * i));
}

static const struct gh_io_ops pm_ops = {
	.read = pm_read,
	.write = pm_write,
};

static uint64_t rst_read(void *opaque, uint64_t off, unsigned size)
{
	struct gh_acpi_pm *s = opaque;

	return s->rst_cnt;
}

static void rst_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct gh_acpi_pm *s = opaque;

	s->rst_cnt = val & (RST_SYS | RST_FULL);
	if (val & RST_CPU)
		gh_vm_request_reset(s->vm);
}

static const struct gh_io_ops rst_ops = {
	.read = rst_read,
	.write = rst_write,
};

void gh_acpi_pm_power_button(struct gh_acpi_pm *s)
{
	s->sts |= PWRBTN_STS;
	update_sci(s);
}

static void unmap_block(struct gh_acpi_pm *s)
{
	if (s->base)
		gh_bus_unmap(gh_vm_pio(s->vm), s->base);
	s->base = 0;
}

/* Puts the block where PMBA says while PMIOSE is set; nowhere else. */
static void remap_block(struct gh_acpi_pm *s)
{
	uint16_t base = (s->pci.config[PMBA] | s->pci.config[PMBA + 1] << 8) &
			PMBA_MASK;

	if (!(s->pci.config[PMREGMISC] & PMIOSE))
		base = 0;
	if (base == s->base)
		return;
	unmap_block(s);
	/* a base over another device's ports leaves the block off, as
	 * a decode conflict would leave it unreachable */
	if (base && gh_bus_map(gh_vm_pio(s->vm), base, GH_ACPI_PM_SIZE,
			       &pm_ops, s, "acpi-pm") == 0)
		s->base = base;
	else if (base)
		gh_log_guest(&s->rl, "acpi-pm: PMBA 0x%x overlaps other "
			     "ports; the PM block is off", base);
}

static void config_write(struct gh_pci_func *f, unsigned off, uint32_t val,
			 unsigned size)
{
	if ((off < PMBA + 2 && PMBA < off + size) ||
	    (off <= PMREGMISC && PMREGMISC < off + size))
		remap_block(f->opaque);
}

static const struct gh_pci_func_ops pm_pci_ops = {
	.config_write = config_write,
};

/*
 * The 82371AB's function 3: bridge class 06.80, with the PM and SMBus
 * bases (no SMBus host here: its base stays unused). Starts at the FADT's
 * block, enabled.
 */
static void pci_setup(struct gh_acpi_pm *s)
{
	struct gh_pci_func *f = &s->pci;

	gh_pci_func_init(f, 0x8086, 0x7113, 0x068000, 0x03, &pm_pci_ops, s);
	f->config[PMBA] = (GH_ACPI_PM_BASE | PMBA_IO) & 0xff;
	f->config[PMBA + 1] = GH_ACPI_PM_BASE >> 8;
	gh_pci_set_wmask(f, PMBA, 2, PMBA_MASK);
	f->config[PMREGMISC] = PMIOSE;
	f->wmask[PMREGMISC] = PMIOSE;
	f->config[SMBBA] = PMBA_IO;
	/*
	 * There is no SMM: APMC_EN reads set, which firmware takes as SMM
	 * already set up (QEMU does the same without SMM), so SeaBIOS does
	 * not raise an SMI through port 0xB2 and wait for a handler.
	 */
	f->config[DEVACTB + 3] = APMC_EN >> 24;
	gh_pci_set_wmask(f, SMBBA, 2, 0xfff0);
	f->config[GH_PCI_INTERRUPT_PIN] = 1;	/* INTA#: the SCI's pin */
}

static void unmap_all(struct gh_acpi_pm *s)
{
	if (s->mapped > 1)
		gh_bus_unmap(gh_vm_pio(s->vm), GH_ACPI_RESET_PORT);
	if (s->mapped > 0)
		unmap_block(s);
	s->mapped = 0;
}

static int acpi_pm_realize(void *dev, struct gh_vm *vm,
			   const struct gh_device_cfg *cfg, struct gh_error *err)
{
	struct gh_acpi_pm *s = dev;
	struct gh_bus *pio = gh_vm_pio(vm);
	int ret;

	s->vm = vm;
	s->clock = gh_vm_clock(vm);
	s->irq = gh_vm_irq(vm);
	s->gsi = -1;
	if (cfg->irq >= 0) {
		ret = gh_irq_source_new(s->irq, cfg->irq);
		if (ret < 0)
			return gh_error_set(err, ret, "acpi-pm: cannot use GSI %d",
					    cfg->irq);
		s->gsi = cfg->irq;
		s->source = ret;
	}
	ret = gh_bus_map(pio, GH_ACPI_PM_BASE, GH_ACPI_PM_SIZE, &pm_ops, s,
			 "acpi-pm");
	if (ret < 0)
		goto err;
	s->base = GH_ACPI_PM_BASE;
	s->mapped++;
	if (cfg->pci) {
		pci_setup(s);
		ret = gh_pci_register(cfg->pci, &s->pci, PM_DEVFN);
		if (ret < 0)
			goto err;
		s->has_pci = true;
	}
	ret = gh_bus_map(pio, GH_ACPI_RESET_PORT, 1, &rst_ops, s, "reset-control");
	if (ret < 0)
		goto err;
	s->mapped++;
	s->timer = gh_timer_new(s->clock, pm_timer, s);
	return 0;

err:
	unmap_all(s);
	if (s->gsi >= 0)
		gh_irq_source_free(s->irq, s->gsi, s->source);
	return gh_error_set(err, ret, "acpi-pm: cannot claim ports %#x and %#x",
			    GH_ACPI_PM_BASE, GH_ACPI_RESET_PORT);
}

static void acpi_pm_unrealize(void *dev)
{
	struct gh_acpi_pm *s = dev;

	gh_timer_free(s->timer);
	s->timer = NULL;
	if (s->has_pci)
		gh_pci_unregister(&s->pci);
	s->has_pci = false;
	unmap_all(s);
	if (s->gsi >= 0)
		gh_irq_source_free(s->irq, s->gsi, s->source);
}

/* The timer runs on through a reset; the registers go to their defaults. */
static void acpi_pm_reset(void *dev)
{
	struct gh_acpi_pm *s = dev;

	s->sts = 0;
	s->en = 0;
	s->cnt = 0;
	s->rst_cnt = 0;
	if (s->has_pci) {
		gh_pci_func_reset(&s->pci);
		remap_block(s);
	}
	s->tmr_seen = tmr_ticks(s);
	tmr_update(s);
}

const struct gh_device_type gh_acpi_pm_type = {
	.name = "acpi-pm",
	.level = 1,
	.size = sizeof(struct gh_acpi_pm),
	.realize = acpi_pm_realize,
	.reset = acpi_pm_reset,
	.unrealize = acpi_pm_unrealize,
};
