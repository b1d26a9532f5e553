/* The PC board: the one place that knows the whole machine. */
#ifndef GH_BOARD_H
#define GH_BOARD_H

#include <stdbool.h>
#include <stddef.h>

#include "gh/error.h"

struct gh_vm;
struct gh_board;
struct gh_display;

/* What a drive slot holds. */
enum gh_drive_media {
	GH_DRIVE_NONE = 0,
	GH_DRIVE_DISK,		/* a hard disk image (raw) */
	GH_DRIVE_CDROM,		/* a CD-ROM drive, with an ISO or empty */
};

struct gh_drive_config {
	enum gh_drive_media media;
	const char *path;	/* image file; NULL for an empty CD-ROM drive */
	bool read_only;		/* always true for CD-ROMs */
};

/* The PIIX IDE slots: primary master, primary slave, secondary master, slave */
#define GH_BOARD_IDE_SLOTS	4

enum gh_vga_model {
	GH_VGA_STD = 0,		/* standard VGA with Bochs VBE at 00:02.0 */
	GH_VGA_NONE,
};

/*
 * What varies between PCs: the pieces a user chooses. A zeroed config is
 * a PC with standard VGA and no drives.
 */
struct gh_board_config {
	enum gh_vga_model vga;
	struct gh_drive_config ide[GH_BOARD_IDE_SLOTS];
	/* the firmware's boot order as xl.cfg's boot= and QEMU's -boot
	 * order=: letters c (disk), d (CD-ROM), n (network); NULL: default */
	const char *boot_order;
	bool boot_menu;		/* the firmware offers its boot menu */
	/* for firmware-mediated direct boot (fw_cfg's kernel items); NULL:
	 * none */
	const void *kernel;
	size_t kernel_size;
	const char *kernel_name;	/* for messages */
	const void *initrd;
	size_t initrd_size;
	const char *initrd_name;
	const char *cmdline;
};

/*
 * Creates and realizes every device of the PC on vm, resets them with it.
 * cfg may be NULL for the default PC; it must outlive the board.
 */
__attribute__((warn_unused_result))
int gh_board_new(struct gh_vm *vm, const struct gh_board_config *cfg,
		 struct gh_board **out, struct gh_error *err);
void gh_board_free(struct gh_board *board);

/*
 * Puts the ISO at path in the CD-ROM drive of IDE slot (0-3), or with
 * path NULL ejects its disc (any thread): gh_ide_change_media.
 */
__attribute__((warn_unused_result))
int gh_board_change_media(struct gh_board *board, unsigned slot,
			  const char *path, bool force, struct gh_error *err);

/* What an IDE slot holds now (gh_board_drive_info). */
struct gh_board_drive_info {
	enum gh_drive_media media;	/* GH_DRIVE_NONE: no drive */
	char *path;			/* the image in it (g_free), or NULL */
	bool read_only;
	bool locked;			/* a CD-ROM tray the guest locked */
	bool tray_open;			/* a CD-ROM tray the guest opened */
};

/* Fills info for IDE slot (0-3) as it is now (any thread). */
void gh_board_drive_info(struct gh_board *board, unsigned slot,
			 struct gh_board_drive_info *info);

/* Presses the ACPI power button (any thread): the OS decides what follows. */
void gh_board_power_button(struct gh_board *board);

/* The console of the board's display device, or NULL (--vga none). */
struct gh_display *gh_board_display(struct gh_board *board);

#endif
