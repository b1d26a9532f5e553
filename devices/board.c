/*
 * The PC board: which devices, at which ports and IRQs, realized in which
 * order. This table is the one place that knows the whole machine.
 */
#include "gh/board.h"

#include <errno.h>
#include <glib.h>

#include "gh/acpi-pm.h"
#include "gh/device.h"
#include "gh/ide.h"
#include "gh/pci.h"
#include "gh/vga.h"
#include "gh/vm.h"
#include "gh/x86-acpi.h"

struct board_slot {
	const struct gh_device_type *type;
	struct gh_device_cfg cfg;
};

/* Standard ISA assignments; base 0 means the device's usual ports. */
static const struct board_slot pc_devices[] = {
	{ &gh_i8259_type,	{ .irq = -1 } },
	{ &gh_lapic_type,	{ .irq = -1 } },	/* one per vCPU */
	{ &gh_ioapic_type,	{ .irq = -1 } },	/* 0xfec00000 */
	{ &gh_i8254_type,	{ .irq = 0 } },
	{ &gh_mc146818_type,	{ .irq = 8 } },
	{ &gh_i8042_type,	{ .irq = 1 } },
	{ &gh_ns16550_type,	{ .index = 0, .irq = 4 } },
	{ &gh_ns16550_type,	{ .index = 1, .irq = 3 } },
	{ &gh_ns16550_type,	{ .index = 2, .irq = 4 } },
	{ &gh_ns16550_type,	{ .index = 3, .irq = 3 } },
	{ &gh_post_type,	{ .irq = -1 } },
	{ &gh_debugcon_type,	{ .irq = -1 } },
	{ &gh_debug_exit_type,	{ .irq = -1 } },
	/* ACPI fixed hardware; SCI on GSI 9 as the FADT and MADT say */
	{ &gh_acpi_pm_type,	{ .irq = GH_ACPI_SCI_IRQ } },
	/* IRQs 0 and 8 in LegacyReplacement mode, else I/O APIC pins 20-23 */
	{ &gh_hpet_type,	{ .irq = -1 } },
	{ &gh_fpu_error_type,	{ .irq = 13 } },
	/* what firmware reads about the VM (QEMU's fw_cfg) */
	{ &gh_fw_cfg_type,	{ .irq = -1 } },
	/* PCI bus 0: the i440FX host bridge at 00:00.0, the PIIX3 at 00:01.0 */
	{ &gh_i440fx_type,	{ .irq = -1 } },
	{ &gh_piix_type,	{ .irq = -1 } },
	/* the standard VGA at 00:02.0, unless the config says none */
	{ &gh_vga_type,		{ .irq = -1 } },
	/* its IDE function at 00:01.1, legacy IRQs 14 and 15 */
	{ &gh_ide_type,		{ .irq = -1 } },
};

#define MAX_LEVEL 1

struct gh_board {
	struct gh_vm *vm;
	struct gh_pci_bus *pci;
	unsigned n;
	struct gh_device *devs[G_N_ELEMENTS(pc_devices)];
};

static void board_reset(void *opaque)
{
	struct gh_board *b = opaque;
	unsigned i;

	gh_pci_bus_reset(b->pci);
	for (i = 0; i < b->n; i++)
		gh_device_reset(b->devs[i]);
}

int gh_board_new(struct gh_vm *vm, const struct gh_board_config *config,
		 struct gh_board **out, struct gh_error *err)
{
	static const struct gh_board_config default_config;
	struct gh_board *b = g_new0(struct gh_board, 1);
	unsigned level, i;
	int ret;

	b->vm = vm;
	/* the CMOS carries it too, for SeaBIOS's default priorities */
	if (config && config->boot_order)
		gh_vm_set_boot_order(vm, config->boot_order);
	pthread_mutex_lock(gh_vm_lock(vm));
	ret = gh_pci_bus_new(vm, &b->pci, err);
	if (ret < 0)
		goto err_unwind;
	for (level = 0; level <= MAX_LEVEL; level++) {
		for (i = 0; i < G_N_ELEMENTS(pc_devices); i++) {
			const struct board_slot *s = &pc_devices[i];
			struct gh_device_cfg cfg = s->cfg;

			if (s->type->level != level)
				continue;
			cfg.pci = b->pci;
			cfg.board = config ? config : &default_config;
			if (s->type == &gh_vga_type &&
			    cfg.board->vga != GH_VGA_STD)
				continue;
			ret = gh_device_new(s->type, vm, &cfg,
					    &b->devs[b->n], err);
			if (ret < 0)
				goto err_unwind;
			b->n++;
		}
	}
	pthread_mutex_unlock(gh_vm_lock(vm));
	ret = gh_vm_add_reset_hook(vm, board_reset, b);
	if (ret < 0) {
		gh_board_free(b);
		return gh_error_set(err, ret, "cannot register the board reset");
	}
	*out = b;
	return 0;

err_unwind:
	pthread_mutex_unlock(gh_vm_lock(vm));
	gh_board_free(b);
	return ret;
}

void gh_board_free(struct gh_board *b)
{
	if (!b)
		return;
	gh_vm_remove_reset_hook(b->vm, board_reset, b);
	pthread_mutex_lock(gh_vm_lock(b->vm));
	while (b->n)
		gh_device_free(b->devs[--b->n]);
	gh_pci_bus_free(b->pci);
	pthread_mutex_unlock(gh_vm_lock(b->vm));
	g_free(b);
}

void gh_board_power_button(struct gh_board *b)
{
	pthread_mutex_lock(gh_vm_lock(b->vm));
	for (unsigned i = 0; i < b->n; i++)
		if (b->devs[i]->type == &gh_acpi_pm_type)
			gh_acpi_pm_power_button(b->devs[i]->state);
	pthread_mutex_unlock(gh_vm_lock(b->vm));
}

struct gh_display *gh_board_display(struct gh_board *b)
{
	for (unsigned i = 0; i < b->n; i++)
		if (b->devs[i]->type == &gh_vga_type)
			return gh_vga_display(b->devs[i]->state);
	return NULL;
}

void gh_board_drive_info(struct gh_board *b, unsigned slot,
			 struct gh_board_drive_info *info)
{
	*info = (struct gh_board_drive_info){ .media = GH_DRIVE_NONE };
	pthread_mutex_lock(gh_vm_lock(b->vm));
	for (unsigned i = 0; i < b->n; i++)
		if (b->devs[i]->type == &gh_ide_type)
			gh_ide_drive_info(b->devs[i]->state, slot, info);
	pthread_mutex_unlock(gh_vm_lock(b->vm));
}

int gh_board_change_media(struct gh_board *b, unsigned slot, const char *path,
			  bool force, struct gh_error *err)
{
	int ret = -ENODEV;

	pthread_mutex_lock(gh_vm_lock(b->vm));
	for (unsigned i = 0; i < b->n; i++)
		if (b->devs[i]->type == &gh_ide_type)
			ret = gh_ide_change_media(b->devs[i]->state, slot, path,
						  force, err);
	pthread_mutex_unlock(gh_vm_lock(b->vm));
	if (ret == -ENODEV)
		gh_error_set(err, ret, "IDE slot %u is not a CD-ROM drive", slot);
	return ret;
}
