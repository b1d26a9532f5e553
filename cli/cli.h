/* The guesthouse command: option parsing and the run command. */
#ifndef GH_CLI_H
#define GH_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "gh/board.h"
#include "gh/error.h"
#include "gh/vm.h"
#include "gh/vnc.h"

struct gh_run_options {
	char *kernel;
	char *firmware;		/* "seabios", "ovmf", or NULL: direct kernel boot */
	char *efi_vars;		/* OVMF's variable store file, NULL: in memory */
	/* IDE drives in slot order (--disk fills primary master, primary
	 * slave, secondary slave; --cdrom is the secondary master as in
	 * QEMU); paths owned here */
	struct gh_drive_config ide[GH_BOARD_IDE_SLOTS];
	char *boot_order;	/* validated: letters c, d, n; NULL: default */
	bool boot_menu;
	enum gh_vga_model vga;
	char *screendump;	/* PNG written when the VM stops */
	char *screen_text;	/* text written when the VM stops */
	char *monitor;		/* "unix:PATH": the monitor's socket */
	bool vnc_enabled;	/* --vnc given: vnc says where and how */
	struct gh_vnc_config vnc;	/* password read by gh_run */
	char *vnc_password_file;
	char *console_dir;	/* made for the headless COM1's socket */
	char *initrd;
	char *append;
	uint64_t ram_size;
	unsigned ncpus;
	char *accel;
	char *serial[GH_VM_MAX_SERIAL];
	unsigned nserial;
	char *debugcon;
	double timeout;		/* seconds, 0: none */
	bool no_reboot;
	bool verbose;
};

/* Parses "512M", "2G", "1024" (MiB), "65536K"; -EINVAL with a message. */
int gh_parse_size(const char *s, uint64_t *out, struct gh_error *err);

/*
 * Parses the arguments of `guesthouse run` (argv[0] is "run"). Returns 0,
 * 1 if --help was printed, or a negative errno with err set.
 */
int gh_run_parse(int argc, char **argv, struct gh_run_options *o,
		 struct gh_error *err);
void gh_run_options_clear(struct gh_run_options *o);

struct gh_display;
/* The screen now as a PNG, or its text (-ENOTSUP in a graphics mode, the
 * message naming it); both refresh the display first. */
__attribute__((warn_unused_result))
int gh_screen_write_png(struct gh_display *d, const char *path,
			struct gh_error *err);
__attribute__((warn_unused_result))
int gh_screen_write_text(struct gh_display *d, const char *path,
			 struct gh_error *err);

/* Runs a VM to completion; returns the process exit status. */
int gh_run(const struct gh_run_options *o);

/* `guesthouse console` (argv[0] is "console"); returns the exit status. */
int gh_console(int argc, char **argv);

#endif
