/*
 * The monitor on a Unix socket (protocol in monitor.h). Command names and
 * key names follow QEMU's HMP (hmp-commands.hx, qapi QKeyCode) so scripts
 * written for QEMU read the same here.
 */
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <linux/input-event-codes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "gh/board.h"
#include "gh/display.h"
#include "gh/input.h"
#include "gh/unix-socket.h"
#include "gh/vm.h"
#include "gh/vnc.h"

/* A command line longer than this is refused as a whole. */
#define MAX_LINE	4096
/* Keys one sendkey combination may hold down at once. */
#define MAX_COMBO	16
/* A client that does not read its replies for this long is dropped. */
#define SEND_TIMEOUT_S	5
/*
 * A combination's keys are held this long, and the next one follows after
 * as long again: a guest's keyboard driver that polls (OVMF's, GRUB's on
 * UEFI) drops keys sent faster. QEMU holds them 100 ms by default.
 */
#define KEY_HOLD_MS	50

struct key_event {
	unsigned code;
	bool down;
	unsigned wait_ms;	/* before the next event */
};

struct gh_monitor {
	struct gh_vm *vm;
	struct gh_board *board;
	struct gh_vnc *vnc;
	GMainContext *ctx;
	struct gh_unix_listener lst;
	int client_fd;
	GSource *client_src;
	GArray *keys;		/* struct key_event not yet sent */
	unsigned next_key;
	GSource *key_timer;
	GString *in;		/* a partial line from the client */
	bool discarding;	/* skipping the rest of a too long line */
};

struct command {
	const char *name;
	const char *args;
	const char *help;
	int (*run)(struct gh_monitor *m, char **argv, unsigned argc,
		   GString *out, struct gh_error *err);
	unsigned min_args, max_args;
};

static const struct command commands[];

/* --- keys ----------------------------------------------------------------- */

struct key_name {
	const char *name;
	unsigned code;
};

/* QEMU's QKeyCode names for the keys of a PC keyboard. */
static const struct key_name key_names[] = {
	{ "shift", KEY_LEFTSHIFT }, { "shift_r", KEY_RIGHTSHIFT },
	{ "alt", KEY_LEFTALT }, { "alt_r", KEY_RIGHTALT },
	{ "altgr", KEY_RIGHTALT }, { "altgr_r", KEY_RIGHTALT },
	{ "ctrl", KEY_LEFTCTRL }, { "ctrl_r", KEY_RIGHTCTRL },
	{ "meta_l", KEY_LEFTMETA }, { "meta_r", KEY_RIGHTMETA },
	{ "menu", KEY_COMPOSE },
	{ "esc", KEY_ESC },
	{ "1", KEY_1 }, { "2", KEY_2 }, { "3", KEY_3 }, { "4", KEY_4 },
	{ "5", KEY_5 }, { "6", KEY_6 }, { "7", KEY_7 }, { "8", KEY_8 },
	{ "9", KEY_9 }, { "0", KEY_0 },
	{ "minus", KEY_MINUS }, { "equal", KEY_EQUAL },
	{ "backspace", KEY_BACKSPACE }, { "tab", KEY_TAB },
	{ "q", KEY_Q }, { "w", KEY_W }, { "e", KEY_E }, { "r", KEY_R },
	{ "t", KEY_T }, { "y", KEY_Y }, { "u", KEY_U }, { "i", KEY_I },
	{ "o", KEY_O }, { "p", KEY_P },
	{ "bracket_left", KEY_LEFTBRACE }, { "bracket_right", KEY_RIGHTBRACE },
	{ "ret", KEY_ENTER },
	{ "a", KEY_A }, { "s", KEY_S }, { "d", KEY_D }, { "f", KEY_F },
	{ "g", KEY_G }, { "h", KEY_H }, { "j", KEY_J }, { "k", KEY_K },
	{ "l", KEY_L },
	{ "semicolon", KEY_SEMICOLON }, { "apostrophe", KEY_APOSTROPHE },
	{ "grave_accent", KEY_GRAVE }, { "backslash", KEY_BACKSLASH },
	{ "z", KEY_Z }, { "x", KEY_X }, { "c", KEY_C }, { "v", KEY_V },
	{ "b", KEY_B }, { "n", KEY_N }, { "m", KEY_M },
	{ "comma", KEY_COMMA }, { "dot", KEY_DOT }, { "slash", KEY_SLASH },
	{ "less", KEY_102ND },
	{ "spc", KEY_SPACE }, { "caps_lock", KEY_CAPSLOCK },
	{ "f1", KEY_F1 }, { "f2", KEY_F2 }, { "f3", KEY_F3 }, { "f4", KEY_F4 },
	{ "f5", KEY_F5 }, { "f6", KEY_F6 }, { "f7", KEY_F7 }, { "f8", KEY_F8 },
	{ "f9", KEY_F9 }, { "f10", KEY_F10 }, { "f11", KEY_F11 },
	{ "f12", KEY_F12 },
	{ "num_lock", KEY_NUMLOCK }, { "scroll_lock", KEY_SCROLLLOCK },
	{ "kp_divide", KEY_KPSLASH }, { "kp_multiply", KEY_KPASTERISK },
	{ "asterisk", KEY_KPASTERISK },
	{ "kp_subtract", KEY_KPMINUS }, { "kp_add", KEY_KPPLUS },
	{ "kp_enter", KEY_KPENTER }, { "kp_decimal", KEY_KPDOT },
	{ "kp_0", KEY_KP0 }, { "kp_1", KEY_KP1 }, { "kp_2", KEY_KP2 },
	{ "kp_3", KEY_KP3 }, { "kp_4", KEY_KP4 }, { "kp_5", KEY_KP5 },
	{ "kp_6", KEY_KP6 }, { "kp_7", KEY_KP7 }, { "kp_8", KEY_KP8 },
	{ "kp_9", KEY_KP9 },
	{ "sysrq", KEY_SYSRQ }, { "print", KEY_SYSRQ }, { "pause", KEY_PAUSE },
	{ "home", KEY_HOME }, { "end", KEY_END },
	{ "pgup", KEY_PAGEUP }, { "pgdn", KEY_PAGEDOWN },
	{ "up", KEY_UP }, { "down", KEY_DOWN },
	{ "left", KEY_LEFT }, { "right", KEY_RIGHT },
	{ "insert", KEY_INSERT }, { "delete", KEY_DELETE },
};

int gh_monitor_parse_keys(const char *combo, unsigned *codes, unsigned max,
			  struct gh_error *err)
{
	char **names = g_strsplit(combo, "-", -1);
	unsigned n = 0, i, k;
	int ret;

	for (i = 0; names[i]; i++) {
		if (n == max) {
			ret = gh_error_set(err, -EINVAL, "too many keys in '%s' "
					   "(at most %u)", combo, max);
			goto out;
		}
		for (k = 0; k < G_N_ELEMENTS(key_names); k++)
			if (!strcmp(names[i], key_names[k].name))
				break;
		if (k == G_N_ELEMENTS(key_names)) {
			ret = gh_error_set(err, -EINVAL, "unknown key '%s'%s",
					   names[i], names[i][0] ? "" :
					   " (an empty name)");
			goto out;
		}
		codes[n++] = key_names[k].code;
	}
	ret = n ? (int)n : gh_error_set(err, -EINVAL, "no key given");
out:
	g_strfreev(names);
	return ret;
}

/* --- commands ------------------------------------------------------------- */

static int cmd_help(struct gh_monitor *m, char **argv, unsigned argc,
		    GString *out, struct gh_error *err)
{
	const struct command *c;

	for (c = commands; c->name; c++)
		g_string_append_printf(out, "%s%s%s -- %s\n", c->name,
				       c->args ? " " : "",
				       c->args ? c->args : "", c->help);
	return 0;
}

/* QEMU's names for IDE drives: ide0-hd0 (primary master) .. ide1-cd1 */
static void drive_name(unsigned slot, enum gh_drive_media media,
		       char *buf, size_t len)
{
	snprintf(buf, len, "ide%u-%s%u", slot / 2,
		 media == GH_DRIVE_CDROM ? "cd" : "hd", slot % 2);
}

/* The slot a drive name names, or a negative errno with err set. */
static int parse_drive(struct gh_monitor *m, const char *name,
		       struct gh_board_drive_info *info, struct gh_error *err)
{
	char expect[16];
	unsigned slot;

	for (slot = 0; slot < GH_BOARD_IDE_SLOTS; slot++) {
		gh_board_drive_info(m->board, slot, info);
		drive_name(slot, info->media, expect, sizeof(expect));
		if (info->media != GH_DRIVE_NONE && !strcmp(name, expect))
			return (int)slot;
		g_free(info->path);
	}
	return gh_error_set(err, -ENODEV, "no drive '%s' (info block lists "
			    "them)", name);
}

static void info_block(struct gh_monitor *m, GString *out)
{
	struct gh_board_drive_info info;
	char name[16];

	for (unsigned slot = 0; slot < GH_BOARD_IDE_SLOTS; slot++) {
		gh_board_drive_info(m->board, slot, &info);
		if (info.media == GH_DRIVE_NONE)
			continue;
		drive_name(slot, info.media, name, sizeof(name));
		if (info.path)
			g_string_append_printf(out, "%s: %s (raw%s)\n", name,
					       info.path, info.read_only ?
					       ", read-only" : "");
		else
			g_string_append_printf(out, "%s: [not inserted]\n",
					       name);
		if (info.media == GH_DRIVE_CDROM)
			g_string_append_printf(out, "    Removable device: %s"
					       "locked, tray %s\n",
					       info.locked ? "" : "not ",
					       info.tray_open ? "open" :
					       "closed");
		g_free(info.path);
	}
}

static int cmd_info(struct gh_monitor *m, char **argv, unsigned argc,
		    GString *out, struct gh_error *err)
{
	if (!strcmp(argv[1], "status")) {
		g_string_append_printf(out, "VM status: %s\n",
				       gh_vm_paused(m->vm) ? "paused" :
				       "running");
		return 0;
	}
	if (!strcmp(argv[1], "block")) {
		info_block(m, out);
		return 0;
	}
	if (!strcmp(argv[1], "vnc")) {
		GString *clients;
		unsigned n;

		if (!m->vnc) {
			g_string_append(out, "VNC server: none (no --vnc)\n");
			return 0;
		}
		clients = g_string_new(NULL);
		n = gh_vnc_describe_clients(m->vnc, clients);
		g_string_append_printf(out, "VNC server: %s (display :%d)\n"
				       "clients: %u\n%s", gh_vnc_address(m->vnc),
				       gh_vnc_display_number(m->vnc), n,
				       clients->str);
		g_string_free(clients, TRUE);
		return 0;
	}
	return gh_error_set(err, -EINVAL, "unknown info '%s' (info status, "
			    "info block, info vnc)", argv[1]);
}

/* eject [-f] DRIVE, change DRIVE FILE: the CD-ROM drives' discs */
static int change_media(struct gh_monitor *m, const char *name,
			const char *path, bool force, struct gh_error *err)
{
	struct gh_board_drive_info info;
	int slot = parse_drive(m, name, &info, err);

	if (slot < 0)
		return slot;
	g_free(info.path);
	if (info.media != GH_DRIVE_CDROM)
		return gh_error_set(err, -EINVAL, "%s is a hard disk: only a "
				    "CD-ROM drive's disc can be changed", name);
	return gh_board_change_media(m->board, (unsigned)slot, path, force,
				     err);
}

static int cmd_eject(struct gh_monitor *m, char **argv, unsigned argc,
		     GString *out, struct gh_error *err)
{
	bool force = !strcmp(argv[1], "-f");

	if (force != (argc == 3))
		return gh_error_set(err, -EINVAL, "usage: eject [-f] DRIVE");
	return change_media(m, argv[argc - 1], NULL, force, err);
}

static int cmd_change(struct gh_monitor *m, char **argv, unsigned argc,
		      GString *out, struct gh_error *err)
{
	return change_media(m, argv[1], argv[2], false, err);
}

static int cmd_stop(struct gh_monitor *m, char **argv, unsigned argc,
		    GString *out, struct gh_error *err)
{
	gh_vm_pause(m->vm);
	return 0;
}

static int cmd_cont(struct gh_monitor *m, char **argv, unsigned argc,
		    GString *out, struct gh_error *err)
{
	gh_vm_resume(m->vm);
	return 0;
}

static struct gh_display *display(struct gh_monitor *m, struct gh_error *err)
{
	struct gh_display *d = gh_board_display(m->board);

	if (!d)
		gh_error_set(err, -ENODEV, "the VM has no display (--vga none)");
	return d;
}

static int cmd_screendump(struct gh_monitor *m, char **argv, unsigned argc,
			  GString *out, struct gh_error *err)
{
	struct gh_display *d = display(m, err);

	return d ? gh_screen_write_png(d, argv[1], err) : err->code;
}

static int cmd_screen_text(struct gh_monitor *m, char **argv, unsigned argc,
			   GString *out, struct gh_error *err)
{
	struct gh_display *d = display(m, err);

	return d ? gh_screen_write_text(d, argv[1], err) : err->code;
}

static gboolean send_keys(gpointer opaque);

/* Sends queued key events up to the next pause, then waits it out. */
static void pump_keys(struct gh_monitor *m)
{
	struct gh_input *in = gh_vm_input(m->vm);

	while (m->next_key < m->keys->len) {
		const struct key_event *e = &g_array_index(m->keys,
				struct key_event, m->next_key++);

		gh_input_key(in, e->code, e->down);
		if (e->wait_ms) {
			m->key_timer = g_timeout_source_new(e->wait_ms);
			g_source_set_callback(m->key_timer, send_keys, m, NULL);
			g_source_attach(m->key_timer, m->ctx);
			return;
		}
	}
	g_array_set_size(m->keys, 0);
	m->next_key = 0;
}

static gboolean send_keys(gpointer opaque)
{
	struct gh_monitor *m = opaque;

	g_source_unref(m->key_timer);
	m->key_timer = NULL;
	pump_keys(m);
	return G_SOURCE_REMOVE;
}

/*
 * Each combination pressed in order, held, and released in reverse, as
 * QEMU's sendkey does; the reply comes at once, the keys follow on the
 * main loop behind any still queued.
 */
static int cmd_sendkey(struct gh_monitor *m, char **argv, unsigned argc,
		       GString *out, struct gh_error *err)
{
	unsigned codes[MAX_COMBO];
	unsigned a;
	int n, i;

	/* all parsed first: a bad name sends nothing */
	for (a = 1; a < argc; a++) {
		n = gh_monitor_parse_keys(argv[a], codes, MAX_COMBO, err);
		if (n < 0)
			return n;
	}
	for (a = 1; a < argc; a++) {
		n = gh_monitor_parse_keys(argv[a], codes, MAX_COMBO, err);
		for (i = 0; i < n; i++) {
			struct key_event e = { codes[i], true,
					       i == n - 1 ? KEY_HOLD_MS : 0 };

			g_array_append_val(m->keys, e);
		}
		for (i = n - 1; i >= 0; i--) {
			struct key_event e = { codes[i], false,
					       i == 0 ? KEY_HOLD_MS : 0 };

			g_array_append_val(m->keys, e);
		}
	}
	if (!m->key_timer)
		pump_keys(m);
	return 0;
}

static int cmd_system_powerdown(struct gh_monitor *m, char **argv,
				unsigned argc, GString *out,
				struct gh_error *err)
{
	gh_board_power_button(m->board);
	return 0;
}

static int cmd_system_reset(struct gh_monitor *m, char **argv, unsigned argc,
			    GString *out, struct gh_error *err)
{
	gh_vm_request_reset(m->vm);
	return 0;
}

static int cmd_quit(struct gh_monitor *m, char **argv, unsigned argc,
		    GString *out, struct gh_error *err)
{
	gh_vm_request_stop(m->vm, GH_STOP_SIGNAL, 0, "quit from the monitor");
	return 0;
}

static const struct command commands[] = {
	{ "help", NULL, "list the commands", cmd_help, 0, 0 },
	{ "info", "status|block|vnc", "say whether the VM runs or is "
	  "paused; list the drives and their media; where the VNC server "
	  "listens and who is connected", cmd_info, 1, 1 },
	{ "eject", "[-f] DRIVE", "take the disc out of a CD-ROM drive (-f: "
	  "even when the guest locked it)", cmd_eject, 1, 2 },
	{ "change", "DRIVE FILE", "put the ISO FILE in a CD-ROM drive",
	  cmd_change, 2, 2 },
	{ "stop", NULL, "pause the VM", cmd_stop, 0, 0 },
	{ "cont", NULL, "resume the VM", cmd_cont, 0, 0 },
	{ "screendump", "FILE", "write the screen now as a PNG file",
	  cmd_screendump, 1, 1 },
	{ "screen-text", "FILE", "write the screen's text now (a text mode "
	  "only)", cmd_screen_text, 1, 1 },
	{ "sendkey", "KEYS...", "press and release each combination of "
	  "QEMU key names (ret, esc, a, shift-a, ctrl-alt-delete)",
	  cmd_sendkey, 1, 64 },
	{ "system_powerdown", NULL, "press the ACPI power button",
	  cmd_system_powerdown, 0, 0 },
	{ "system_reset", NULL, "reset the VM", cmd_system_reset, 0, 0 },
	{ "quit", NULL, "stop the VM; guesthouse exits with status 0",
	  cmd_quit, 0, 0 },
	{ NULL }
};

int gh_monitor_execute(struct gh_monitor *m, const char *line, GString *out,
		       struct gh_error *err)
{
	char *copy = g_strstrip(g_strdup(line));
	const struct command *c;
	unsigned argc;
	char **argv;
	int ret;

	/* words split at blanks, as HMP does for these commands */
	argv = g_strsplit_set(copy, " \t", -1);
	g_free(copy);
	argc = 0;
	for (unsigned i = 0; argv[i]; i++)
		if (argv[i][0])
			argv[argc++] = argv[i];
		else
			g_free(argv[i]);
	argv[argc] = NULL;
	if (!argc) {
		ret = 0;
		goto out;
	}
	for (c = commands; c->name; c++)
		if (!strcmp(c->name, argv[0]))
			break;
	if (!c->name) {
		ret = gh_error_set(err, -EINVAL, "unknown command '%s' (help "
				   "lists them)", argv[0]);
		goto out;
	}
	if (argc - 1 < c->min_args || argc - 1 > c->max_args) {
		ret = gh_error_set(err, -EINVAL, "usage: %s%s%s", c->name,
				   c->args ? " " : "", c->args ? c->args : "");
		goto out;
	}
	ret = c->run(m, argv, argc, out, err);
out:
	g_strfreev(argv);
	return ret;
}

/* --- the socket ----------------------------------------------------------- */

static void drop_client(struct gh_monitor *m);

/* False when the client is gone. */
static bool send_text(struct gh_monitor *m, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(m->client_fd, s, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		s += n;
		len -= n;
	}
	return true;
}

static bool reply(struct gh_monitor *m, GString *out, int ret,
		  const struct gh_error *err)
{
	if (out->len && out->str[out->len - 1] != '\n')
		g_string_append_c(out, '\n');
	if (ret < 0)
		g_string_append_printf(out, "error: %s\n", err->msg[0] ?
				       err->msg : g_strerror(-ret));
	else
		g_string_append(out, "ok\n");
	return send_text(m, out->str, out->len);
}

static bool handle_line(struct gh_monitor *m, const char *line)
{
	struct gh_error err = { 0 };
	GString *out = g_string_new(NULL);
	bool alive;
	int ret;

	ret = gh_monitor_execute(m, line, out, &err);
	alive = reply(m, out, ret, &err);
	g_string_free(out, TRUE);
	return alive;
}

static gboolean on_client(gint fd, GIOCondition cond, gpointer opaque)
{
	struct gh_monitor *m = opaque;
	char buf[1024];
	ssize_t n;

	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		drop_client(m);
		return G_SOURCE_REMOVE;
	}
	for (ssize_t i = 0; i < n; i++) {
		char c = buf[i];

		if (c != '\n') {
			if (m->discarding)
				continue;
			if (m->in->len < MAX_LINE) {
				g_string_append_c(m->in, c);
				continue;
			}
			m->discarding = true;
			g_string_truncate(m->in, 0);
			continue;
		}
		if (m->discarding) {
			struct gh_error err = { 0 };
			GString *out = g_string_new(NULL);
			bool alive;

			m->discarding = false;
			gh_error_set(&err, -EINVAL, "line too long (more "
				     "than %d bytes)", MAX_LINE);
			alive = reply(m, out, err.code, &err);
			g_string_free(out, TRUE);
			if (!alive)
				goto gone;
			continue;
		}
		/* a command may stop the VM, never the monitor */
		if (!handle_line(m, m->in->str))
			goto gone;
		g_string_truncate(m->in, 0);
	}
	return G_SOURCE_CONTINUE;
gone:
	drop_client(m);
	return G_SOURCE_REMOVE;
}

static void drop_client(struct gh_monitor *m)
{
	if (m->client_src) {
		g_source_destroy(m->client_src);
		g_source_unref(m->client_src);
		m->client_src = NULL;
	}
	if (m->client_fd >= 0)
		close(m->client_fd);
	m->client_fd = -1;
	g_string_truncate(m->in, 0);
	m->discarding = false;
	gh_unix_listener_pause(&m->lst, false);
}

static void on_listen(void *opaque, int c)
{
	static const char greeting[] =
		GH_MONITOR_GREETING " one command a line, 'help' lists them\n"
		"ok\n";
	struct gh_monitor *m = opaque;
	struct timeval tv = { .tv_sec = SEND_TIMEOUT_S };

	if (c < 0)
		return;		/* out of fds: the listener tries again later */
	/* replies are sent whole, waiting up to SEND_TIMEOUT_S */
	fcntl(c, F_SETFL, fcntl(c, F_GETFL) & ~O_NONBLOCK);
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	m->client_fd = c;
	if (!send_text(m, greeting, sizeof(greeting) - 1)) {
		close(c);
		m->client_fd = -1;
		return;
	}
	m->client_src = g_unix_fd_source_new(c, G_IO_IN | G_IO_HUP | G_IO_ERR);
	g_source_set_callback(m->client_src, G_SOURCE_FUNC(on_client), m,
			      NULL);
	g_source_attach(m->client_src, m->ctx);
	/* the next client waits in the listen queue until this one leaves */
	gh_unix_listener_pause(&m->lst, true);
}

int gh_monitor_new(const char *spec, struct gh_vm *vm, struct gh_board *board,
		   struct gh_monitor **out, struct gh_error *err)
{
	struct gh_monitor *m;
	int ret;

	if (!g_str_has_prefix(spec, "unix:") || !spec[5])
		return gh_error_set(err, -EINVAL, "invalid monitor '%s' (use "
				    "unix:PATH)", spec);
	m = g_new0(struct gh_monitor, 1);
	m->vm = vm;
	m->board = board;
	m->ctx = gh_vm_main_context(vm);
	m->client_fd = -1;
	m->in = g_string_new(NULL);
	m->keys = g_array_new(FALSE, FALSE, sizeof(struct key_event));
	ret = gh_unix_listen(spec + 5, "monitor socket", &m->lst, err);
	if (ret < 0) {
		gh_monitor_free(m);
		return ret;
	}
	gh_unix_listener_watch(&m->lst, m->ctx, on_listen, m);
	*out = m;
	return 0;
}

void gh_monitor_set_vnc(struct gh_monitor *m, struct gh_vnc *vnc)
{
	if (m)
		m->vnc = vnc;
}

void gh_monitor_free(struct gh_monitor *m)
{
	if (!m)
		return;
	if (m->client_fd >= 0)
		drop_client(m);
	if (m->key_timer) {
		g_source_destroy(m->key_timer);
		g_source_unref(m->key_timer);
	}
	gh_unix_listener_close(&m->lst);
	g_string_free(m->in, TRUE);
	g_array_free(m->keys, TRUE);
	g_free(m);
}
