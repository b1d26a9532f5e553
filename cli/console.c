/*
 * `guesthouse console PATH`: this terminal on a VM's socket console
 * (--serial unix:PATH), as `xl console` and `virsh console` are: raw mode,
 * Ctrl-] detaches and leaves the guest running, --force takes the console
 * over from another client, the terminal is restored however we leave.
 * With standard input not a terminal (a script's pipe), bytes go through
 * as they are and the console detaches once input has ended and the
 * output has been quiet for a second, as socat's -t does.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "gh/chardev.h"
#include "monitor.h"

#define DETACH_CHAR	0x1d	/* Ctrl-] */
/* After standard input ended: how long output must be quiet to detach. */
#define LINGER_MS	1000
/*
 * How long bytes that may be a line of the VMM's (a refusal, the monitor's
 * greeting, a take-over) wait to be told from the guest's output; with
 * --force, how long typed input waits for a refusal it must answer first.
 */
#define SNIFF_MS	500
/* Typed input held while the VMM does not take it, before we stop reading. */
#define OUT_MAX		(64 * 1024)

enum end {
	END_RUNNING,
	END_DETACHED,		/* Ctrl-], or the input ended */
	END_CLOSED,		/* the VMM closed the console */
	END_REFUSED,		/* busy, or not a console */
	END_TAKEN,		/* another client took the console over */
	END_SIGNAL,
	END_ERROR,
};

struct console {
	const char *path;
	int sock;
	int sig_fd;
	bool tty;
	struct termios saved;
	bool raw;
	bool in_eof;
	GByteArray *to_vm;	/* typed, not yet sent */
	bool force;		/* take the console over if it is busy */
	bool asked;		/* GH_CHARDEV_TAKEOVER sent */
	char *busy;		/* the refusal it answered */
	bool given;		/* output came after it: the console is ours */
	bool hold_input;	/* --force: typed input waits for a refusal */
	gint64 input_deadline;	/* monotonic us, until then at most */
	GByteArray *held;	/* output that may be a line of the VMM's */
	gint64 held_deadline;	/* monotonic us */
	bool line_start;	/* the next byte from the VMM starts a line */
	bool first_line;	/* nothing from the VMM yet (or only the refusal) */
	gint64 quiet_since;	/* monotonic us of the last output */
	bool at_line_start;	/* the last byte written to stdout was "\n" */
	enum end end;
	int signo;
	char *why;		/* END_CLOSED, END_REFUSED, END_ERROR */
};

static void say(struct console *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(struct console *c, const char *fmt, ...)
{
	va_list ap;

	/* a message on a line of its own, after whatever the guest printed */
	if (c && !c->at_line_start && c->tty)
		fputs("\n", stderr);
	fputs("guesthouse: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int connect_console(struct console *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int e;

	if (strlen(c->path) >= sizeof(sa.sun_path)) {
		say(NULL, "%s: the path is too long for a socket", c->path);
		return -ENAMETOOLONG;
	}
	if (stat(c->path, &st) < 0) {
		e = errno;
		if (e == ENOENT)
			say(NULL, "%s: no such socket (is the VM running with "
			    "--serial unix:%s?)", c->path, c->path);
		else
			say(NULL, "%s: %s", c->path, g_strerror(e));
		return -e;
	}
	if (!S_ISSOCK(st.st_mode)) {
		say(NULL, "%s is not a socket, so not a console", c->path);
		return -ENOTSOCK;
	}
	strcpy(sa.sun_path, c->path);
	c->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->sock < 0 ||
	    connect(c->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		if (e == ECONNREFUSED)
			say(NULL, "%s: nobody listens on it (the VM has "
			    "stopped?)", c->path);
		else
			say(NULL, "cannot connect to %s: %s", c->path,
			    g_strerror(e));
		return -e;
	}
	/* non-blocking: a VMM that does not read must not stop Ctrl-] */
	fcntl(c->sock, F_SETFL, fcntl(c->sock, F_GETFL) | O_NONBLOCK);
	return 0;
}

/*
 * The terminal signals that would end us are taken through a signalfd, so
 * that the terminal is restored on the way out; SIGPIPE is a write error.
 */
static int catch_signals(struct console *c)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	c->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	signal(SIGPIPE, SIG_IGN);
	return c->sig_fd < 0 ? -errno : 0;
}

static int enter_raw(struct console *c)
{
	struct termios t;

	if (!c->tty)
		return 0;
	if (tcgetattr(STDIN_FILENO, &c->saved) < 0)
		return -errno;
	t = c->saved;
	cfmakeraw(&t);
	/* as the stdio console of `guesthouse run`: "\n" starts a new line */
	t.c_oflag |= OPOST | ONLCR;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) < 0)
		return -errno;
	c->raw = true;
	return 0;
}

static void leave_raw(struct console *c)
{
	if (c->raw)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &c->saved);
	c->raw = false;
}

static void finish(struct console *c, enum end end, char *why)
{
	if (c->end != END_RUNNING) {
		g_free(why);
		return;
	}
	c->end = end;
	c->why = why;
}

static void write_out(struct console *c, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(STDOUT_FILENO, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* a reader that went away (| head) just ends us */
			if (n < 0 && errno == EPIPE)
				finish(c, END_DETACHED, NULL);
			else
				finish(c, END_ERROR, g_strdup_printf(
					"cannot write the output: %s",
					n < 0 ? g_strerror(errno) : "nothing written"));
			return;
		}
		c->at_line_start = p[n - 1] == '\n';
		p += n;
		len -= n;
	}
}

enum held_why { HELD_MORE, HELD_DEADLINE, HELD_EOF };

/* Which of the VMM's lines s (at a line start) is, or may become. */
enum ours { NOT_OURS, MAYBE_OURS, OURS_BUSY, OURS_MONITOR, OURS_TAKEN };

static enum ours ours(const struct console *c, const char *s, size_t len)
{
	static const struct {
		const char *magic;
		enum ours what;
		bool first_only;
	} lines[] = {
		{ GH_CHARDEV_BUSY, OURS_BUSY, true },
		{ GH_MONITOR_GREETING, OURS_MONITOR, true },
		{ GH_CHARDEV_TAKEN, OURS_TAKEN, false },
	};
	enum ours r = NOT_OURS;

	for (unsigned i = 0; i < G_N_ELEMENTS(lines); i++) {
		size_t m = strlen(lines[i].magic);

		if (lines[i].first_only && !c->first_line)
			continue;
		if (len >= m && !memcmp(s, lines[i].magic, m))
			return lines[i].what;
		if (len < m && !memcmp(s, lines[i].magic, len))
			r = MAYBE_OURS;
	}
	return r;
}

/* The VMM's line without "guesthouse: " and its line end. */
static char *our_text(const char *s, size_t line)
{
	size_t skip = strlen("guesthouse: ");

	while (line && (s[line - 1] == '\n' || s[line - 1] == '\r'))
		line--;
	return line > skip ? g_strndup(s + skip, line - skip) : g_strdup("");
}

/*
 * A refusal answered with --force: the request goes before anything typed,
 * and what follows is the console, or the end if the VMM did not give it.
 */
static void ask_takeover(struct console *c, const char *s, size_t line)
{
	static const char ask[] = GH_CHARDEV_TAKEOVER;

	c->busy = our_text(s, line);
	c->asked = true;
	c->hold_input = false;
	g_byte_array_prepend(c->to_vm, (const guint8 *)ask, sizeof(ask) - 1);
}

/*
 * The VMM speaks in lines of its own among the guest's output: a refusal
 * or the monitor's greeting first, or a take-over line last, just before
 * it closes. Output at a line start that may be one of them is held until
 * it is known (it differs, the line ends, or a moment passed); a take-over
 * line counts only when the end follows it. All else goes out as it comes.
 */
static void watch_lines(struct console *c, enum held_why why)
{
	while (c->held->len && c->end == END_RUNNING) {
		const char *s = (const char *)c->held->data;
		size_t len = c->held->len;
		const char *nl = memchr(s, '\n', len);
		size_t line = nl ? (size_t)(nl - s) + 1 : len;
		enum ours o = c->line_start ? ours(c, s, len) : NOT_OURS;

		if (o == MAYBE_OURS && why == HELD_MORE)
			return;
		if (o == OURS_MONITOR) {
			finish(c, END_REFUSED, g_strdup_printf("%s is the "
				"monitor's socket, not a console", c->path));
			return;
		}
		if ((o == OURS_BUSY || o == OURS_TAKEN) && !nl &&
		    why == HELD_MORE)
			return;	/* the rest of the line */
		if (o == OURS_BUSY && nl && !c->force) {
			finish(c, END_REFUSED, our_text(s, line));
			return;
		}
		if (o == OURS_BUSY && nl) {
			ask_takeover(c, s, line);
			g_byte_array_remove_range(c->held, 0, line);
			c->first_line = false;
			continue;
		}
		if (o == OURS_TAKEN && nl && line == len) {
			if (why == HELD_MORE)
				return;
			if (why == HELD_EOF) {
				finish(c, END_TAKEN, our_text(s, line));
				return;
			}
		}
		/* the guest's, up to the end of its line */
		write_out(c, c->held->data, line);
		g_byte_array_remove_range(c->held, 0, line);
		c->line_start = nl != NULL;
		c->first_line = false;
		c->hold_input = false;
		if (c->asked)
			c->given = true;
	}
}

static void from_vm(struct console *c)
{
	uint8_t buf[16384];
	ssize_t n = recv(c->sock, buf, sizeof(buf), 0);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* held bytes: the guest's, or the take-over line */
		watch_lines(c, HELD_EOF);
		if (c->asked && !c->given)
			finish(c, END_REFUSED, g_strdup_printf("%s, and it was "
				"not given up", c->busy));
		finish(c, END_CLOSED, n < 0 ? g_strdup(g_strerror(errno)) :
		       g_strdup("the VM stopped (its VMM closed the connection)"));
		return;
	}
	c->quiet_since = g_get_monotonic_time();
	if (!c->held->len)
		c->held_deadline = c->quiet_since + SNIFF_MS * 1000;
	g_byte_array_append(c->held, buf, n);
	watch_lines(c, HELD_MORE);
}

static void from_user(struct console *c)
{
	uint8_t buf[4096];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	uint8_t *esc;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		c->in_eof = true;
		c->quiet_since = g_get_monotonic_time();
		return;
	}
	esc = c->tty ? memchr(buf, DETACH_CHAR, n) : NULL;
	if (esc) {
		/* what was typed before Ctrl-] still goes */
		g_byte_array_append(c->to_vm, buf, esc - buf);
		finish(c, END_DETACHED, NULL);
		return;
	}
	g_byte_array_append(c->to_vm, buf, n);
}

static void to_vm(struct console *c)
{
	while (c->to_vm->len) {
		ssize_t n = send(c->sock, c->to_vm->data, c->to_vm->len,
				 MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			finish(c, END_CLOSED, g_strdup(n < 0 ? g_strerror(errno) :
						       "nothing sent"));
			return;
		}
		g_byte_array_remove_range(c->to_vm, 0, n);
	}
}

static void on_signal(struct console *c)
{
	struct signalfd_siginfo si;

	if (read(c->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		c->signo = si.ssi_signo;
		finish(c, END_SIGNAL, NULL);
	}
}

static void run_console(struct console *c)
{
	while (c->end == END_RUNNING) {
		struct pollfd p[3] = {
			{ .fd = c->sock, .events = POLLIN },
			{ .fd = c->sig_fd, .events = POLLIN },
			{ .fd = -1, .events = POLLIN },
		};
		gint64 now = g_get_monotonic_time(), wake = -1;
		int timeout = -1;

		if (!c->in_eof && c->to_vm->len < OUT_MAX)
			p[2].fd = STDIN_FILENO;
		if (c->to_vm->len && !c->hold_input)
			p[0].events |= POLLOUT;
		if (c->held->len)
			wake = c->held_deadline;
		if (c->hold_input)
			wake = wake < 0 ? c->input_deadline :
			       MIN(wake, c->input_deadline);
		if (c->in_eof && !c->to_vm->len) {
			gint64 linger = c->quiet_since + LINGER_MS * 1000;

			wake = wake < 0 ? linger : MIN(wake, linger);
		}
		if (wake >= 0)
			timeout = wake > now ? (int)((wake - now + 999) / 1000) : 0;

		if (poll(p, 3, timeout) < 0 && errno != EINTR) {
			finish(c, END_ERROR, g_strdup_printf("poll: %s",
							     g_strerror(errno)));
			break;
		}
		if (p[1].revents)
			on_signal(c);
		if (p[2].revents && c->end == END_RUNNING)
			from_user(c);
		if (c->to_vm->len && !c->hold_input)
			to_vm(c);
		if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    c->end == END_RUNNING)
			from_vm(c);

		now = g_get_monotonic_time();
		if (c->held->len && now >= c->held_deadline &&
		    c->end == END_RUNNING)
			watch_lines(c, HELD_DEADLINE);
		/* no refusal came: the console was free */
		if (c->hold_input && now >= c->input_deadline)
			c->hold_input = false;
		if (c->in_eof && !c->to_vm->len && c->end == END_RUNNING &&
		    now >= c->quiet_since + LINGER_MS * 1000)
			finish(c, END_DETACHED, NULL);
	}
}

static const char console_description[] =
	"Attaches this terminal to the serial console a VM listens on with\n"
	"--serial unix:PATH (or --debugcon unix:PATH). The guest runs\n"
	"whether or not a console is attached; what it printed meanwhile\n"
	"(its last 64 KiB) is shown first, after a line saying how many\n"
	"older bytes were dropped if there were more. Ctrl-] detaches and\n"
	"leaves the guest running, as in xl console and virsh console.\n"
	"\n"
	"One client at a time: while one is attached, another is refused\n"
	"with one line (as virsh console without --force), and the first\n"
	"keeps the console. With --force the new client takes it over, as\n"
	"virsh console --force: the first is told so in one line and\n"
	"closed. socat - UNIX-CONNECT:PATH attaches too (and takes the\n"
	"console over by answering the refusal with the line \"guesthouse:\n"
	"take over\" within 2 seconds).\n"
	"\n"
	"With standard input not a terminal, its bytes are sent as they are\n"
	"(Ctrl-] too), and the console detaches once it has ended and the\n"
	"output has been quiet for a second.\n"
	"\n"
	"Exit status: 0 when detached or when the VM stopped (\"console\n"
	"closed\"); 1 when the console cannot be reached or is refused, or\n"
	"another client took it over; 128+N on signal N; 2 on a usage\n"
	"error.";

int gh_console(int argc, char **argv)
{
	gboolean help = FALSE, force = FALSE;
	GOptionEntry entries[] = {
		{ "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Take the console "
		  "over if another client holds it", NULL },
		{ "help", 'h', 0, G_OPTION_ARG_NONE, &help, "Show this help",
		  NULL },
		{ NULL }
	};
	struct console c = { .sock = -1, .sig_fd = -1, .at_line_start = true,
			     .line_start = true, .first_line = true };
	GOptionContext *octx;
	GError *gerr = NULL;
	int status = 1;

	g_set_prgname("guesthouse console");
	octx = g_option_context_new("PATH - attach to a VM's serial console");
	g_option_context_set_help_enabled(octx, FALSE);
	g_option_context_add_main_entries(octx, entries, NULL);
	g_option_context_set_description(octx, console_description);
	if (!g_option_context_parse(octx, &argc, &argv, &gerr)) {
		fprintf(stderr, "guesthouse console: %s (see guesthouse console "
			"--help)\n", gerr->message);
		g_error_free(gerr);
		g_option_context_free(octx);
		return 2;
	}
	if (help) {
		char *text = g_option_context_get_help(octx, TRUE, NULL);

		fputs(text, stdout);
		g_free(text);
		g_option_context_free(octx);
		return 0;
	}
	g_option_context_free(octx);
	if (argc != 2) {
		fprintf(stderr, "guesthouse console: %s (see guesthouse console "
			"--help)\n", argc < 2 ? "no socket given" :
			"more than one socket given");
		return 2;
	}
	c.path = g_str_has_prefix(argv[1], "unix:") ? argv[1] + 5 : argv[1];
	c.tty = isatty(STDIN_FILENO);
	c.to_vm = g_byte_array_new();
	c.held = g_byte_array_new();
	c.force = force;

	if (connect_console(&c) < 0)
		goto out;
	c.hold_input = c.force;
	c.input_deadline = g_get_monotonic_time() + SNIFF_MS * 1000;
	if (catch_signals(&c) < 0) {
		say(NULL, "cannot catch signals: %s", g_strerror(errno));
		goto out;
	}
	if (enter_raw(&c) < 0) {
		say(NULL, "cannot set the terminal to raw mode: %s",
		    g_strerror(errno));
		goto out;
	}
	if (c.tty)
		fprintf(stderr, "guesthouse: attached to %s%s; Ctrl-] "
			"detaches\r\n", c.path, c.force ? " (taking it over "
			"from another client if need be)" : "");

	run_console(&c);
	/* what was typed before Ctrl-] is sent if the VMM takes it now */
	if (c.end == END_DETACHED)
		to_vm(&c);
	leave_raw(&c);

	switch (c.end) {
	case END_DETACHED:
		if (c.tty)
			say(&c, "detached from %s; the guest keeps running",
			    c.path);
		status = 0;
		break;
	case END_CLOSED:
		say(&c, "console closed: %s", c.why);
		status = 0;
		break;
	case END_SIGNAL:
		say(&c, "detached: %s", strsignal(c.signo));
		status = 128 + c.signo;
		break;
	case END_REFUSED:
	case END_TAKEN:
	case END_ERROR:
	default:
		say(&c, "%s", c.why ? c.why : "unknown error");
		status = 1;
		break;
	}
out:
	leave_raw(&c);
	if (c.sock >= 0)
		close(c.sock);
	if (c.sig_fd >= 0)
		close(c.sig_fd);
	g_byte_array_unref(c.to_vm);
	g_byte_array_unref(c.held);
	g_free(c.busy);
	g_free(c.why);
	return status;
}
