/*
 * The host bridge: Intel 82441FX PMC (i440FX) at 00:00.0, as its datasheet
 * (290549) describes the registers the firmware programs: PAM0-PAM6
 * (3.2.18, 0x59-0x5F) switching the BIOS area's segments between DRAM and
 * the PCI side, and SMRAM (3.2.22, 0x72). There is no SMM here: SMRAM
 * keeps its register semantics but is never mapped, open or not.
 */
#include "gh/device.h"

#include <errno.h>

#include "gh/pci.h"
#include "gh/vm.h"

#define I440FX_DEVFN	GH_PCI_DEVFN(0, 0)
#define PAM0		0x59
#define NPAM		7
#define SMRAM		0x72

/* PAM attribute bits per segment nibble */
#define PAM_RE		1
#define PAM_WE		2

/* SMRAM: D_OPEN, D_CLS, D_LCK, G_SMRAME; C_BASE_SEG reads 010 (0xA0000) */
#define SMRAM_D_OPEN	(1u << 6)
#define SMRAM_D_CLS	(1u << 5)
#define SMRAM_D_LCK	(1u << 4)
#define SMRAM_G_SMRAME	(1u << 3)
#define SMRAM_RESET	0x02

struct gh_i440fx {
	struct gh_pci_func pci;
	struct gh_vm *vm;
};

/*
 * Segment i of 13: 0 is 0xF0000-0xFFFFF (PAM0's high nibble), 1-12 the
 * 16 KiB segments from 0xC0000 (PAM1's low nibble, PAM1's high nibble...).
 */
static uint64_t seg_gpa(unsigned i)
{
	return i ? GH_VM_WINDOWS_START + (i - 1) * 0x4000ULL : 0xf0000;
}

static unsigned seg_attr(const struct gh_i440fx *s, unsigned i)
{
	unsigned reg = i ? PAM0 + 1 + (i - 1) / 2 : PAM0;
	unsigned shift = i ? ((i - 1) & 1) * 4 : 4;

	return (s->pci.config[reg] >> shift) & 3;
}

static void pam_update(struct gh_i440fx *s)
{
	/* without firmware the area is plain RAM and stays so (-ENOENT) */
	for (unsigned i = 0; i < 13; i++) {
		unsigned a = seg_attr(s, i);

		gh_vm_set_window(s->vm, seg_gpa(i), a & PAM_RE, a & PAM_WE);
	}
}

static void config_write(struct gh_pci_func *f, unsigned off, uint32_t val,
			 unsigned size)
{
	struct gh_i440fx *s = f->opaque;
	uint8_t *smram = &f->config[SMRAM];

	if (off < PAM0 + NPAM && PAM0 < off + size)
		pam_update(s);
	if (off <= SMRAM && SMRAM < off + size) {
		/* D_LCK sticks until reset and closes SMRAM for good: D_OPEN
		 * clears and no longer sets (3.2.22) */
		if (*smram & SMRAM_D_LCK) {
			*smram &= ~SMRAM_D_OPEN;
			gh_pci_set_wmask(f, SMRAM, 1, SMRAM_D_CLS);
		}
	}
}

static const struct gh_pci_func_ops i440fx_ops = { .config_write = config_write };

static int i440fx_realize(void *dev, struct gh_vm *vm,
			  const struct gh_device_cfg *cfg, struct gh_error *err)
{
	struct gh_i440fx *s = dev;
	struct gh_pci_func *f = &s->pci;
	int ret;

	if (!cfg->pci)
		return gh_error_set(err, -ENODEV, "i440fx: no PCI bus");
	s->vm = vm;
	/* host bridge class 06.00.00, revision 2 as QEMU's */
	gh_pci_func_init(f, 0x8086, 0x1237, 0x060000, 0x02, &i440fx_ops, s);
	f->config[GH_PCI_STATUS + 1] = 0x02;	/* DEVSEL medium */
	for (unsigned i = 0; i < NPAM; i++)
		gh_pci_set_wmask(f, PAM0 + i, 1, i ? 0x33 : 0x30);
	f->config[SMRAM] = SMRAM_RESET;
	gh_pci_set_wmask(f, SMRAM, 1, SMRAM_D_OPEN | SMRAM_D_CLS | SMRAM_D_LCK |
			 SMRAM_G_SMRAME);
	ret = gh_pci_register(cfg->pci, f, I440FX_DEVFN);
	if (ret < 0)
		return gh_error_set(err, ret, "i440fx: 00:00.0 is taken");
	return 0;
}

static void i440fx_reset(void *dev)
{
	struct gh_i440fx *s = dev;

	gh_pci_func_reset(&s->pci);
	gh_pci_set_wmask(&s->pci, SMRAM, 1, SMRAM_D_OPEN | SMRAM_D_CLS |
			 SMRAM_D_LCK | SMRAM_G_SMRAME);
	/* PAM all 0: every segment on the PCI side, where the BIOS is */
	pam_update(s);
}

static void i440fx_unrealize(void *dev)
{
	struct gh_i440fx *s = dev;

	gh_pci_unregister(&s->pci);
}

const struct gh_device_type gh_i440fx_type = {
	.name = "i440fx",
	.level = 1,
	.size = sizeof(struct gh_i440fx),
	.realize = i440fx_realize,
	.reset = i440fx_reset,
	.unrealize = i440fx_unrealize,
};
