/* Option parsing for `guesthouse run`. */
#include "cli.h"

#include <errno.h>
#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gh/vnc-keymap.h"

int gh_parse_size(const char *s, uint64_t *out, struct gh_error *err)
{
	char *end;
	unsigned long long v;
	unsigned shift = 20;	/* a bare number is MiB, as in QEMU */

	errno = 0;
	if (!s || !g_ascii_isdigit(*s))
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno)
		goto bad;
	switch (g_ascii_toupper(*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	case '\0': break;
	default: goto bad;
	}
	if (g_ascii_toupper(*end) == 'B' || g_ascii_toupper(*end) == 'I')
		goto bad;
	if (*end || !v || v > (UINT64_MAX >> shift))
		goto bad;
	*out = (uint64_t)v << shift;
	return 0;
bad:
	return gh_error_set(err, -EINVAL, "invalid size '%s' (use a number "
			    "with K, M or G, e.g. 512M or 2G)", s ? s : "");
}

static int parse_uint(const char *name, const char *s, unsigned min,
		      unsigned max, unsigned *out, struct gh_error *err)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = s && g_ascii_isdigit(*s) ? strtoul(s, &end, 10) : 0;
	if (!s || !g_ascii_isdigit(*s) || errno || *end || v < min || v > max)
		return gh_error_set(err, -EINVAL, "invalid %s '%s' (must be "
				    "%u to %u)", name, s ? s : "", min, max);
	*out = v;
	return 0;
}

static bool chardev_spec_ok(const char *s)
{
	return !strcmp(s, "stdio") || !strcmp(s, "pty") ||
	       !strcmp(s, "none") || !strcmp(s, "null") ||
	       (g_str_has_prefix(s, "file:") && s[5]) ||
	       (g_str_has_prefix(s, "unix:") && s[5]);
}

/*
 * Headless (--vnc without --serial): COM1 is a socket console in the
 * user's runtime directory for `guesthouse console`, not this terminal.
 */
static char *headless_com1(struct gh_run_options *o)
{
	o->console_dir = g_build_filename(g_get_user_runtime_dir(),
					  "guesthouse", NULL);
	return g_strdup_printf("unix:%s/%d-com1.sock", o->console_dir,
			       (int)getpid());
}

void gh_run_options_clear(struct gh_run_options *o)
{
	unsigned i;

	g_free(o->kernel);
	g_free(o->firmware);
	g_free(o->efi_vars);
	g_free(o->initrd);
	g_free(o->append);
	g_free(o->accel);
	g_free(o->debugcon);
	g_free(o->boot_order);
	g_free(o->screendump);
	g_free(o->screen_text);
	g_free(o->monitor);
	g_free(o->vnc_password_file);
	g_free(o->console_dir);
	g_free((char *)o->vnc.keymap);
	gh_vnc_config_clear(&o->vnc);
	for (i = 0; i < GH_BOARD_IDE_SLOTS; i++)
		g_free((char *)o->ide[i].path);
	for (i = 0; i < o->nserial; i++)
		g_free(o->serial[i]);
	memset(o, 0, sizeof(*o));
}

/*
 * --disk and --cdrom into IDE slots as QEMU's -hda/-hdb/-cdrom/-hdd: the
 * CD-ROM is the secondary master, disks take the other slots in order.
 */
static int parse_drives(struct gh_run_options *o, char **disks,
			const char *cdrom, struct gh_error *err)
{
	static const unsigned disk_slots[] = { 0, 1, 2, 3 };
	static const unsigned disk_slots_cd[] = { 0, 1, 3 };
	const unsigned *slots = cdrom ? disk_slots_cd : disk_slots;
	unsigned nslots = cdrom ? 3 : 4, i;

	if (cdrom) {
		if (!*cdrom)
			return gh_error_set(err, -EINVAL, "--cdrom needs a file");
		o->ide[2] = (struct gh_drive_config){
			.media = GH_DRIVE_CDROM, .path = g_strdup(cdrom),
			.read_only = true,
		};
	}
	for (i = 0; disks && disks[i]; i++) {
		if (i == nslots)
			return gh_error_set(err, -EINVAL, "at most %u --disk "
					    "options%s", nslots, cdrom ?
					    " with --cdrom" : "");
		if (!*disks[i])
			return gh_error_set(err, -EINVAL, "--disk needs a file");
		o->ide[slots[i]] = (struct gh_drive_config){
			.media = GH_DRIVE_DISK, .path = g_strdup(disks[i]),
		};
	}
	return 0;
}

/* xl.cfg's boot= and QEMU's -boot order=: c, d or n, each at most once. */
static int check_boot_order(const char *order, struct gh_error *err)
{
	const char *p;

	if (!*order)
		goto bad;
	for (p = order; *p; p++)
		if (!strchr("cdn", *p) || strchr(p + 1, *p))
			goto bad;
	return 0;
bad:
	return gh_error_set(err, -EINVAL, "invalid --boot '%s' (letters c "
			    "disk, d CD-ROM, n network, each once, e.g. dc)",
			    order);
}

static const char run_description[] =
	"Runs one virtual machine in this terminal until the guest powers\n"
	"off, resets (with --no-reboot), exits through the debug-exit port\n"
	"(0xf4), or the timeout passes.\n"
	"\n"
	"The guest's first serial port is the terminal: Ctrl-A x quits,\n"
	"Ctrl-A a sends Ctrl-A, Ctrl-A h helps. With --vnc and no --serial\n"
	"it is a socket console in $XDG_RUNTIME_DIR/guesthouse instead\n"
	"(guesthouse console PATH attaches to it).\n"
	"\n"
	"Exit status: 0 after a guest poweroff or reset with --no-reboot;\n"
	"(V << 1) | 1 when the guest writes V to the debug-exit port; 124 on\n"
	"timeout; 128+N on signal N; 1 on an error or a triple fault.\n"
	"\n"
	"Drives: --disk FILE (a raw image, up to three; four without\n"
	"--cdrom) and --cdrom ISO are IDE drives on the PIIX, as in QEMU.\n"
	"--boot ORDER lists what the firmware tries, as xl.cfg's boot=:\n"
	"c the first disk, d the CD-ROM, n the network (e.g. --boot dc).\n"
	"\n"
	"The monitor (--monitor unix:PATH) takes one command a line, as\n"
	"QEMU's: help, info status, info vnc, stop, cont, screendump FILE,\n"
	"screen-text FILE, sendkey KEYS, system_powerdown, system_reset,\n"
	"quit. A reply is some lines of text, then one line: ok, or\n"
	"error: and why.\n"
	"\n"
	"VNC: --vnc [HOST]:DISPLAY serves the screen, keyboard and mouse on\n"
	"port 5900+DISPLAY (HOST 127.0.0.1 if empty; [::1]:1 for IPv6;\n"
	"HOST:auto takes the first free display). The same port takes\n"
	"WebSocket clients (noVNC). A non-loopback HOST needs\n"
	"--vnc-password-file (its first line, 1 to 8 characters: VNC\n"
	"authentication) or --vnc-insecure. Clients that send key codes\n"
	"(QEMU's extended key event) press the keys as they are; others'\n"
	"symbols are typed with a US layout. --keymap says the guest's\n"
	"keyboard layout (us, de, fr, gb) so clients' symbols type the same\n"
	"there, and then key codes are not taken.\n"
	"\n"
	"Character backends (--serial, --debugcon): stdio, file:PATH, pty,\n"
	"unix:PATH, none. --serial may be given up to four times (COM1..COM4).\n"
	"The VMM says at start where its ptys and sockets are. unix:PATH is a\n"
	"console on a socket that `guesthouse console PATH` or socat attach\n"
	"to, one client at a time (another is refused), and detach from\n"
	"while the guest runs on; its output meanwhile (the last 64 KiB) is\n"
	"replayed to the next client. The socket is removed at exit.\n"
	"\n"
	"Accelerators: auto (KVM if it runs guest kernels at hardware speed,\n"
	"else the VMX module if loaded, else the software CPU), kvm, vmx,\n"
	"soft. `guesthouse info` shows which can run here.";

int gh_run_parse(int argc, char **argv, struct gh_run_options *o,
		 struct gh_error *err)
{
	char *memory = NULL, *cpus = NULL, **serial = NULL, *timeout = NULL;
	char **disks = NULL, *cdrom = NULL, *vga = NULL;
	char *vnc = NULL, *keymap = NULL;
	gboolean help = FALSE, vnc_insecure = FALSE, vnc_view_only = FALSE;
	GOptionEntry entries[] = {
		{ "kernel", 0, 0, G_OPTION_ARG_FILENAME, &o->kernel,
		  "Boot this Linux bzImage or Multiboot kernel: loaded directly, "
		  "or by the firmware (a bzImage) with --firmware", "FILE" },
		{ "firmware", 0, 0, G_OPTION_ARG_STRING, &o->firmware,
		  "Boot firmware: seabios (Debian's SeaBIOS; the default without "
		  "--kernel), ovmf (Debian's OVMF, UEFI), or none (the default "
		  "with --kernel)", "NAME" },
		{ "efi-vars", 0, 0, G_OPTION_ARG_FILENAME, &o->efi_vars,
		  "With --firmware ovmf: keep the UEFI variables in this file "
		  "(made from OVMF's defaults if missing; default: in memory "
		  "for this run)", "FILE" },
		{ "initrd", 0, 0, G_OPTION_ARG_FILENAME, &o->initrd,
		  "Linux initrd; for Multiboot, modules as \"FILE ARGS,FILE2\"",
		  "FILE" },
		{ "append", 0, 0, G_OPTION_ARG_STRING, &o->append,
		  "Kernel command line", "CMDLINE" },
		{ "disk", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &disks,
		  "Attach this raw disk image as the next IDE hard disk",
		  "FILE" },
		{ "cdrom", 0, 0, G_OPTION_ARG_FILENAME, &cdrom,
		  "Insert this ISO image in the IDE CD-ROM drive", "ISO" },
		{ "boot", 0, 0, G_OPTION_ARG_STRING, &o->boot_order,
		  "Boot order for the firmware: c disk, d CD-ROM, n network "
		  "(default cd: the disk, then the CD-ROM)", "ORDER" },
		{ "boot-menu", 0, 0, G_OPTION_ARG_NONE, &o->boot_menu,
		  "Have the firmware offer its boot menu (ESC) for 2.5 s",
		  NULL },
		{ "vga", 0, 0, G_OPTION_ARG_STRING, &vga,
		  "Display adapter: std (VGA with Bochs VBE, default) or none",
		  "MODEL" },
		{ "screendump", 0, 0, G_OPTION_ARG_FILENAME, &o->screendump,
		  "Write the screen to this PNG file when the VM stops", "FILE" },
		{ "screen-text", 0, 0, G_OPTION_ARG_FILENAME, &o->screen_text,
		  "Write the screen's text to this file when the VM stops in a "
		  "text mode", "FILE" },
		{ "monitor", 0, 0, G_OPTION_ARG_FILENAME, &o->monitor,
		  "Listen for monitor commands on this socket (unix:PATH; "
		  "one client at a time, 'help' lists the commands)", "SOCKET" },
		{ "vnc", 0, 0, G_OPTION_ARG_STRING, &vnc,
		  "Serve the screen over VNC at [HOST]:DISPLAY (port "
		  "5900+DISPLAY; HOST 127.0.0.1 if empty) or HOST:auto",
		  "ADDRESS" },
		{ "vnc-password-file", 0, 0, G_OPTION_ARG_FILENAME,
		  &o->vnc_password_file,
		  "Require VNC authentication with the first line of FILE "
		  "(1 to 8 characters)", "FILE" },
		{ "vnc-insecure", 0, 0, G_OPTION_ARG_NONE, &vnc_insecure,
		  "Allow --vnc on a non-loopback address without a password",
		  NULL },
		{ "vnc-view-only", 0, 0, G_OPTION_ARG_NONE, &vnc_view_only,
		  "VNC clients see the screen but their keys and pointer are "
		  "ignored", NULL },
		{ "keymap", 0, 0, G_OPTION_ARG_STRING, &keymap,
		  "The guest's keyboard layout, for VNC clients' keys: us "
		  "(default), de, fr or gb", "LAYOUT" },
		{ "memory", 'm', 0, G_OPTION_ARG_STRING, &memory,
		  "Guest RAM (default 256M)", "SIZE" },
		{ "cpus", 0, 0, G_OPTION_ARG_STRING, &cpus,
		  "Number of vCPUs (default 1)", "N" },
		{ "accel", 0, 0, G_OPTION_ARG_STRING, &o->accel,
		  "Execution backend: auto, kvm, soft or vmx (default auto)",
		  "NAME" },
		{ "serial", 0, 0, G_OPTION_ARG_STRING_ARRAY, &serial,
		  "Backend of the next serial port (default stdio for COM1)",
		  "BACKEND" },
		{ "debugcon", 0, 0, G_OPTION_ARG_STRING, &o->debugcon,
		  "Backend of the debug console at ports 0xe9/0x402 (default none)",
		  "BACKEND" },
		{ "timeout", 0, 0, G_OPTION_ARG_STRING, &timeout,
		  "Stop the guest after this many seconds (exit status 124)",
		  "SECONDS" },
		{ "no-reboot", 0, 0, G_OPTION_ARG_NONE, &o->no_reboot,
		  "Exit instead of restarting when the guest resets", NULL },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &o->verbose,
		  "Say more about what the VMM does, and what the guest does that "
		  "its hardware would ignore", NULL },
		{ "help", 'h', 0, G_OPTION_ARG_NONE, &help,
		  "Show this help", NULL },
		{ NULL }
	};
	GOptionContext *ctx;
	GError *gerr = NULL;
	int ret = 0;
	unsigned i;

	memset(o, 0, sizeof(*o));
	g_set_prgname("guesthouse run");
	ctx = g_option_context_new("- run a virtual machine");
	g_option_context_set_help_enabled(ctx, FALSE);
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(ctx, run_description);
	if (!g_option_context_parse(ctx, &argc, &argv, &gerr)) {
		ret = gh_error_set(err, -EINVAL, "%s", gerr->message);
		g_error_free(gerr);
		goto out;
	}
	if (help) {
		char *text = g_option_context_get_help(ctx, TRUE, NULL);

		fputs(text, stdout);
		g_free(text);
		ret = 1;
		goto out;
	}
	if (argc > 1) {
		ret = gh_error_set(err, -EINVAL, "unexpected argument '%s'",
				   argv[1]);
		goto out;
	}
	o->ram_size = 256ULL << 20;
	if (memory && (ret = gh_parse_size(memory, &o->ram_size, err)) < 0)
		goto out;
	o->ncpus = 1;
	if (cpus && (ret = parse_uint("CPU count", cpus, 1, GH_VM_MAX_CPUS,
				      &o->ncpus, err)) < 0)
		goto out;
	if (!o->accel)
		o->accel = g_strdup("auto");
	for (i = 0; serial && serial[i]; i++) {
		if (i == GH_VM_MAX_SERIAL) {
			ret = gh_error_set(err, -EINVAL, "at most %d --serial "
					   "options", GH_VM_MAX_SERIAL);
			goto out;
		}
		if (!chardev_spec_ok(serial[i])) {
			ret = gh_error_set(err, -EINVAL, "invalid --serial "
					   "backend '%s' (use stdio, "
					   "file:PATH, pty, unix:PATH or "
					   "none)", serial[i]);
			goto out;
		}
		o->serial[o->nserial++] = g_strdup(serial[i]);
	}
	if (!o->nserial)
		o->serial[o->nserial++] = vnc ? headless_com1(o) :
						g_strdup("stdio");
	if (o->debugcon && !chardev_spec_ok(o->debugcon)) {
		ret = gh_error_set(err, -EINVAL, "invalid --debugcon backend "
				   "'%s' (use stdio, file:PATH, pty, "
				   "unix:PATH or none)", o->debugcon);
		goto out;
	}
	if (timeout) {
		char *end;

		o->timeout = g_ascii_strtod(timeout, &end);
		if (end == timeout || *end || !isfinite(o->timeout) ||
		    o->timeout <= 0 || o->timeout > 1e9) {
			ret = gh_error_set(err, -EINVAL, "invalid --timeout '%s' "
					   "(a positive number of seconds)",
					   timeout);
			goto out;
		}
	}
	ret = parse_drives(o, disks, cdrom, err);
	if (ret < 0)
		goto out;
	if (o->boot_order && (ret = check_boot_order(o->boot_order, err)) < 0)
		goto out;
	if (vga && !strcmp(vga, "std")) {
		o->vga = GH_VGA_STD;
	} else if (vga && !strcmp(vga, "none")) {
		o->vga = GH_VGA_NONE;
	} else if (vga) {
		ret = gh_error_set(err, -EINVAL, "invalid --vga '%s' (use std "
				   "or none)", vga);
		goto out;
	}
	if (o->vga == GH_VGA_NONE && (o->screendump || o->screen_text)) {
		ret = gh_error_set(err, -EINVAL, "--screendump and --screen-text "
				   "need a display (not --vga none)");
		goto out;
	}
	if (o->monitor && (!g_str_has_prefix(o->monitor, "unix:") ||
			   !o->monitor[5])) {
		ret = gh_error_set(err, -EINVAL, "invalid --monitor '%s' (use "
				   "unix:PATH)", o->monitor);
		goto out;
	}
	if (vnc) {
		ret = gh_vnc_parse_address(vnc, &o->vnc, err);
		if (ret < 0)
			goto out;
		o->vnc_enabled = true;
		o->vnc.insecure = vnc_insecure;
		o->vnc.view_only = vnc_view_only;
		o->vnc.verbose = o->verbose;
		if (o->vga == GH_VGA_NONE) {
			ret = gh_error_set(err, -EINVAL, "--vnc needs a display "
					   "(not --vga none)");
			goto out;
		}
	} else if (o->vnc_password_file || vnc_insecure || vnc_view_only ||
		   keymap) {
		ret = gh_error_set(err, -EINVAL, "--vnc-password-file, "
				   "--vnc-insecure, --vnc-view-only and "
				   "--keymap need --vnc");
		goto out;
	}
	if (keymap) {
		if (!gh_keymap_find(keymap)) {
			ret = gh_error_set(err, -EINVAL, "unknown --keymap '%s' "
					   "(use %s)", keymap,
					   gh_keymap_names());
			goto out;
		}
		o->vnc.keymap = g_steal_pointer(&keymap);
	}
	/* Drives without a kernel to boot directly need firmware to boot
	 * them: SeaBIOS, as QEMU does. */
	if (!o->firmware && !o->kernel && (o->ide[0].media ||
	    o->ide[1].media || o->ide[2].media || o->ide[3].media))
		o->firmware = g_strdup("seabios");
	if (o->boot_order && !o->firmware) {
		ret = gh_error_set(err, -EINVAL, "--boot needs firmware "
				   "(--firmware seabios)");
		goto out;
	}
	if (o->firmware && !strcmp(o->firmware, "none"))
		g_clear_pointer(&o->firmware, g_free);
	if (o->firmware && strcmp(o->firmware, "seabios") &&
	    strcmp(o->firmware, "ovmf")) {
		ret = gh_error_set(err, -EINVAL, "invalid --firmware '%s' (use "
				   "seabios, ovmf or none)", o->firmware);
		goto out;
	}
	if (o->efi_vars && (!o->firmware || strcmp(o->firmware, "ovmf"))) {
		ret = gh_error_set(err, -EINVAL, "--efi-vars needs --firmware "
				   "ovmf");
		goto out;
	}
	if (!o->kernel && !o->firmware) {
		ret = gh_error_set(err, -EINVAL, "nothing to boot: give --kernel, "
				   "--disk, --cdrom or --firmware seabios");
		goto out;
	}
	if ((o->initrd || o->append) && !o->kernel) {
		ret = gh_error_set(err, -EINVAL, "--initrd and --append need "
				   "--kernel");
		goto out;
	}
out:
	g_strfreev(disks);
	g_free(cdrom);
	g_free(vga);
	g_free(vnc);
	g_free(keymap);
	g_free(memory);
	g_free(cpus);
	g_free(timeout);
	g_strfreev(serial);
	g_option_context_free(ctx);
	if (ret < 0)
		gh_run_options_clear(o);
	return ret;
}
