/* `guesthouse run`: one VM, headless, its console in this terminal. */
#include "cli.h"

#include <errno.h>
#include <glib-unix.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "gh/accel-select.h"
#include "gh/board.h"
#include "gh/chardev.h"
#include "gh/display.h"
#include "gh/firmware.h"
#include "gh/memory.h"
#include "gh/vnc.h"
#include "gh/x86-boot.h"
#include "monitor.h"

struct run {
	const struct gh_run_options *o;
	struct gh_vm *vm;
	struct gh_board *board;
	struct gh_chardev *serial[GH_VM_MAX_SERIAL];
	struct gh_chardev *debugcon;
	/* the kernel and modules, kept to reload them on a guest reset */
	GBytes *kernel;
	GBytes *files[GH_BOOT_MAX_MODULES];
	struct gh_boot_module modules[GH_BOOT_MAX_MODULES];
	char **module_specs;
	unsigned nmodules;
	struct gh_boot_args args;
	struct gh_firmware fw;
	struct gh_board_config board_cfg;
	struct gh_monitor *monitor;
	struct gh_vnc_config vnc_cfg;	/* o->vnc with the password read */
	struct gh_vnc *vnc;
};


static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("guesthouse: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static GBytes *read_file(const char *what, const char *path)
{
	GError *gerr = NULL;
	char *data;
	gsize len;

	if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
		fail("cannot read %s %s: it is a directory", what, path);
		return NULL;
	}
	if (!g_file_get_contents(path, &data, &len, &gerr)) {
		fail("cannot read %s %s: %s", what, path,
		     gerr->code == G_FILE_ERROR_NOENT ? "no such file" :
		     gerr->code == G_FILE_ERROR_ACCES ? "permission denied" :
		     gerr->message);
		g_error_free(gerr);
		return NULL;
	}
	if (!len) {
		fail("%s %s is empty", what, path);
		g_free(data);
		return NULL;
	}
	return g_bytes_new_take(data, len);
}

/* Multiboot modules: "FILE ARGS,FILE2 ARGS"; Linux: one initrd file. */
static int read_modules(struct run *r, bool multiboot)
{
	const char *spec = r->o->initrd;
	unsigned i;

	if (!spec)
		return 0;
	if (multiboot) {
		r->module_specs = g_strsplit(spec, ",", -1);
	} else {
		r->module_specs = g_new0(char *, 2);
		r->module_specs[0] = g_strdup(spec);
	}
	for (i = 0; r->module_specs[i]; i++) {
		char *s = r->module_specs[i], *sp;
		const void *data;
		gsize len;

		if (i == GH_BOOT_MAX_MODULES) {
			fail("at most %d Multiboot modules", GH_BOOT_MAX_MODULES);
			return -EINVAL;
		}
		sp = multiboot ? strchr(s, ' ') : NULL;
		if (sp)
			*sp = '\0';
		r->files[i] = read_file(multiboot ? "module" : "initrd", s);
		if (!r->files[i])
			return -ENOENT;
		if (sp)
			*sp = ' ';
		data = g_bytes_get_data(r->files[i], &len);
		r->modules[i] = (struct gh_boot_module){
			.data = data, .size = len, .name = s, .cmdline = s,
		};
		r->nmodules++;
	}
	return 0;
}

static int load_kernel(struct run *r, struct gh_error *err)
{
	struct gh_cpu_state cpu;
	int ret = gh_x86_load_kernel(gh_vm_memory(r->vm), &r->args, &cpu, err);

	if (!ret)
		gh_vm_set_boot_state(r->vm, &cpu);
	return ret;
}

/* Direct boot has no firmware to reload the kernel: do it on every reset. */
static void reload_kernel(void *opaque)
{
	struct run *r = opaque;
	struct gh_error err = { 0 };

	if (load_kernel(r, &err) < 0)
		gh_vm_request_stop(r->vm, GH_STOP_ERROR, 0,
				   "cannot reload the kernel: %s", err.msg);
}

/* Reads the kernel and modules, so bad files are refused before any VM. */
static int read_kernel(struct run *r)
{
	const void *data;
	gsize len;
	int ret;

	r->kernel = read_file("kernel", r->o->kernel);
	if (!r->kernel)
		return -ENOENT;
	data = g_bytes_get_data(r->kernel, &len);
	ret = read_modules(r, gh_x86_kernel_format(data, len) ==
				      GH_KERNEL_MULTIBOOT);
	if (ret < 0)
		return ret;
	r->args = (struct gh_boot_args){
		.kernel = data,
		.kernel_size = len,
		.kernel_name = r->o->kernel,
		.cmdline = r->o->append,
		.modules = r->modules,
		.nmodules = r->nmodules,
		.ncpus = r->o->ncpus,
	};
	if (gh_x86_kernel_format(data, len) == GH_KERNEL_UNKNOWN) {
		fail("%s: not a Linux bzImage or Multiboot kernel",
		     r->o->kernel);
		return -ENOEXEC;
	}
	return 0;
}

static int prepare_kernel(struct run *r)
{
	struct gh_error err = { 0 };
	int ret = load_kernel(r, &err);

	if (ret < 0) {
		fail("%s", err.msg);
		return ret;
	}
	ret = gh_vm_add_reset_hook(r->vm, reload_kernel, r);
	if (ret < 0)
		fail("cannot register the kernel reload on reset");
	return ret;
}

static int open_chardev(const char *what, const char *spec,
			struct gh_chardev **out)
{
	struct gh_error err = { 0 };

	if (gh_chardev_open(spec, out, &err) < 0) {
		fail("%s: %s", what, err.msg);
		return -EINVAL;
	}
	return 0;
}

static void log_chardev(const char *name, const char *spec,
			struct gh_chardev *chr)
{
	const char *path = gh_chardev_path(chr);

	if (!strcmp(spec, "pty"))
		fail("%s on %s (a pty)", name, path);
	else if (g_str_has_prefix(spec, "unix:"))
		fail("%s on %s (attach: guesthouse console %s)", name, path,
		     path);
}

/*
 * Where the consoles a person or a script attaches to are, in one place at
 * start: "guesthouse: COM1 on /dev/pts/3 (a pty)", sockets, the monitor,
 * VNC.
 */
static void log_consoles(struct run *r)
{
	const struct gh_run_options *o = r->o;
	unsigned i;

	for (i = 0; i < o->nserial; i++) {
		char name[8];

		g_snprintf(name, sizeof(name), "COM%u", i + 1);
		log_chardev(name, o->serial[i], r->serial[i]);
	}
	if (o->debugcon)
		log_chardev("the debug console", o->debugcon, r->debugcon);
	if (o->monitor)
		fail("monitor on %s", o->monitor + strlen("unix:"));
	if (r->vnc)
		fail("VNC server on %s (display :%d)", gh_vnc_address(r->vnc),
		     gh_vnc_display_number(r->vnc));
}

static void quit_requested(void *opaque)
{
	struct gh_vm *vm = opaque;

	gh_vm_request_stop(vm, GH_STOP_SIGNAL, 0, "quit from the console");
}

struct sig_ctx {
	struct gh_vm *vm;
	int signo;
};

static gboolean on_stop_signal(gpointer opaque)
{
	struct sig_ctx *s = opaque;

	gh_vm_request_stop(s->vm, GH_STOP_SIGNAL, s->signo, "received %s",
			   strsignal(s->signo));
	return G_SOURCE_CONTINUE;
}

static gboolean on_timeout(gpointer opaque)
{
	struct run *r = opaque;

	gh_vm_request_stop(r->vm, GH_STOP_TIMEOUT, 0,
			   "the %g s timeout passed", r->o->timeout);
	return G_SOURCE_REMOVE;
}

static int exit_status(struct run *r, enum gh_stop_reason reason)
{
	const char *msg = gh_vm_stop_message(r->vm);
	int status = gh_vm_stop_status(r->vm);

	switch (reason) {
	case GH_STOP_POWEROFF:
	case GH_STOP_RESET:
		if (r->o->verbose)
			fail("guest stopped: %s", msg);
		return 0;
	case GH_STOP_DEBUG_EXIT:
		if (r->o->verbose)
			fail("%s", msg);
		return status & 0xff;
	case GH_STOP_TIMEOUT:
		fail("%s; stopped the guest", msg);
		return 124;
	case GH_STOP_SIGNAL:
		if (status) {
			if (r->o->verbose)
				fail("%s; stopped the guest", msg);
			return 128 + status;
		}
		return 0;
	case GH_STOP_TRIPLE_FAULT:
		fail("guest stopped: %s", msg);
		return 1;
	case GH_STOP_ERROR:
	case GH_STOP_NONE:
	default:
		fail("guest stopped: %s", msg[0] ? msg : "unknown error");
		return 1;
	}
}

/* For bench/soft-cpu.py: the soft CPU counts what it runs, KVM does not. */
static void report_retired(struct run *r)
{
	uint64_t n;
	unsigned i;

	for (i = 0; i < gh_vm_ncpus(r->vm); i++)
		if (gh_vm_cpu_retired(r->vm, i, &n) == 0)
			fail("cpu %u: %" PRIu64 " instructions retired", i, n);
}

/* What --screendump and --screen-text ask for, once the VM stopped. */
static int write_screens(struct run *r)
{
	struct gh_display *d = gh_board_display(r->board);
	struct gh_error err = { 0 };
	int ret = 0;

	if (!d || (!r->o->screendump && !r->o->screen_text))
		return 0;
	if (r->o->screendump &&
	    gh_screen_write_png(d, r->o->screendump, &err) < 0) {
		fail("--screendump: %s", err.msg);
		ret = -EIO;
	}
	if (r->o->screen_text &&
	    gh_screen_write_text(d, r->o->screen_text, &err) < 0) {
		fail("--screen-text: %s", err.msg);
		ret = -EIO;
	}
	return ret;
}

int gh_run(const struct gh_run_options *o)
{
	struct run r = { .o = o, .fw = { .vars_fd = -1 } };
	struct gh_accel_choice choice;
	struct gh_error err = { 0 };
	struct gh_vm_config cfg;
	struct sig_ctx sigs[] = { { NULL, SIGINT }, { NULL, SIGTERM },
				  { NULL, SIGHUP } };
	GMainContext *ctx;
	int status = 1;
	unsigned i;

	if (o->kernel && read_kernel(&r) < 0)
		goto out;
	if (o->firmware && gh_firmware_open(&r.fw, !strcmp(o->firmware, "ovmf") ?
					    GH_FIRMWARE_OVMF : GH_FIRMWARE_SEABIOS,
					    NULL, o->efi_vars, &err) < 0) {
		fail("%s", err.msg);
		goto out;
	}
	if (o->vnc_enabled) {
		r.vnc_cfg = o->vnc;
		r.vnc_cfg.host = g_strdup(o->vnc.host);
		r.vnc_cfg.password = NULL;
		if (o->vnc_password_file &&
		    gh_vnc_read_password(o->vnc_password_file, &r.vnc_cfg,
					 &err) < 0) {
			fail("--vnc-password-file: %s", err.msg);
			goto out;
		}
	}
	if (gh_accel_choose(o->accel, &choice, &err) < 0) {
		fail("%s", err.msg);
		goto out;
	}
	if (!strcmp(o->accel, "auto") || o->verbose)
		fail("accelerator: %s (%s)", choice.name, choice.why);
	if (o->console_dir && g_mkdir_with_parents(o->console_dir, 0700) < 0) {
		fail("cannot make %s for the console: %s", o->console_dir,
		     g_strerror(errno));
		goto out;
	}
	for (i = 0; i < o->nserial; i++)
		if (open_chardev("--serial", o->serial[i], &r.serial[i]) < 0)
			goto out;
	if (o->debugcon && open_chardev("--debugcon", o->debugcon,
					&r.debugcon) < 0)
		goto out;

	cfg = (struct gh_vm_config){
		.ram_size = o->ram_size,
		.ncpus = o->ncpus,
		.accel = choice.name,
		.no_reboot = o->no_reboot,
		.firmware = o->firmware != NULL,
	};
	if (gh_vm_new(&cfg, &r.vm, &err) < 0) {
		fail("%s", err.msg);
		goto out;
	}
	for (i = 0; i < o->nserial; i++)
		gh_vm_set_serial(r.vm, i, r.serial[i]);
	gh_vm_set_debugcon(r.vm, r.debugcon);
	r.board_cfg = (struct gh_board_config){
		.vga = o->vga,
		.boot_order = o->boot_order,
		.boot_menu = o->boot_menu,
	};
	memcpy(r.board_cfg.ide, o->ide, sizeof(o->ide));
	if (o->kernel && o->firmware) {
		/* the firmware loads it from fw_cfg, also after a reset */
		r.board_cfg.kernel = r.args.kernel;
		r.board_cfg.kernel_size = r.args.kernel_size;
		r.board_cfg.kernel_name = r.args.kernel_name;
		r.board_cfg.cmdline = r.args.cmdline;
		if (r.nmodules) {
			r.board_cfg.initrd = r.modules[0].data;
			r.board_cfg.initrd_size = r.modules[0].size;
			r.board_cfg.initrd_name = r.modules[0].name;
		}
	}
	if (gh_board_new(r.vm, &r.board_cfg, &r.board, &err) < 0) {
		fail("%s", err.msg);
		goto out;
	}
	if (o->kernel && !o->firmware && prepare_kernel(&r) < 0)
		goto out;
	/* the CPUs start at the reset vector, in the firmware */
	if (o->firmware && gh_firmware_map(&r.fw, r.vm, &err) < 0) {
		fail("%s", err.msg);
		goto out;
	}

	ctx = gh_vm_main_context(r.vm);
	for (i = 0; i < o->nserial; i++) {
		gh_chardev_attach(r.serial[i], ctx, gh_vm_lock(r.vm));
		gh_chardev_set_quit_handler(r.serial[i], quit_requested, r.vm);
	}
	/*
	 * The debug console takes no input, but a socket needs the main loop
	 * to take its clients (a terminal's input is COM1's).
	 */
	if (o->debugcon && g_str_has_prefix(o->debugcon, "unix:"))
		gh_chardev_attach(r.debugcon, ctx, gh_vm_lock(r.vm));
	for (i = 0; i < G_N_ELEMENTS(sigs); i++) {
		GSource *src = g_unix_signal_source_new(sigs[i].signo);

		sigs[i].vm = r.vm;
		g_source_set_callback(src, on_stop_signal, &sigs[i], NULL);
		g_source_attach(src, ctx);
		g_source_unref(src);
	}
	if (o->timeout > 0) {
		GSource *src = g_timeout_source_new(
			(guint)MIN(o->timeout * 1000.0 + 0.5, (double)G_MAXUINT));

		g_source_set_callback(src, on_timeout, &r, NULL);
		g_source_attach(src, ctx);
		g_source_unref(src);
	}
	if (o->monitor && gh_monitor_new(o->monitor, r.vm, r.board,
					 &r.monitor, &err) < 0) {
		fail("--monitor: %s", err.msg);
		goto out;
	}
	if (o->vnc_enabled) {
		if (gh_vnc_new(&r.vnc_cfg, gh_board_display(r.board),
			       gh_vm_input(r.vm), ctx, &r.vnc, &err) < 0) {
			fail("--vnc: %s", err.msg);
			goto out;
		}
		gh_monitor_set_vnc(r.monitor, r.vnc);
	}
	log_consoles(&r);
	if (gh_vm_start(r.vm, &err) < 0) {
		fail("%s", err.msg);
		goto out;
	}
	status = exit_status(&r, gh_vm_run_main_loop(r.vm));
	if (write_screens(&r) < 0 && !status)
		status = 1;
	if (o->verbose)
		report_retired(&r);
out:
	gh_monitor_free(r.monitor);
	/* before the board: it listens to the board's display */
	gh_vnc_free(r.vnc);
	gh_vnc_config_clear(&r.vnc_cfg);
	gh_board_free(r.board);
	gh_firmware_unmap(&r.fw);
	gh_vm_free(r.vm);
	gh_firmware_close(&r.fw);
	for (i = 0; i < GH_VM_MAX_SERIAL; i++)
		if (r.serial[i])
			gh_chardev_free(r.serial[i]);
	if (r.debugcon)
		gh_chardev_free(r.debugcon);
	if (r.kernel)
		g_bytes_unref(r.kernel);
	for (i = 0; i < r.nmodules; i++)
		g_bytes_unref(r.files[i]);
	g_strfreev(r.module_specs);
	return status;
}
