/*
 * vnc-client: a small VNC client on libvncclient for the VNC tests and the
 * benchmark (tests/vnc.sh, bench/vnc.py). It connects, then runs a script of
 * steps, one per argument or, without any, one per line of standard input:
 *
 *   wait-update [MS]        until a FramebufferUpdate ends (default 10000 ms)
 *   wait-size W H [MS]      until the framebuffer is W x H
 *   save FILE.png|FILE.ppm  the framebuffer as this client has it
 *   key KEYSYM down|up|press  KEYSYM: a name below, one character, or a number
 *   xtkey KEYSYM XT down|up|press  the same as a QEMU extended key event
 *                           with the XT code XT (0xC8: E0 48, Up); fails if
 *                           the server has not acknowledged them
 *   type TEXT               presses and releases each character's keysym, as a
 *                           viewer on a US keyboard would (Shift_L around the
 *                           shifted ones); "\n" in TEXT is Return
 *   pointer X Y MASK        a PointerEvent (MASK: 1 left, 2 middle, 4 right,
 *                           8/16 wheel up/down)
 *   sleep MS                handles the server's messages for MS ms
 *   stats SECONDS           counts FramebufferUpdates, their rectangles and
 *                           the bytes received for SECONDS and prints
 *                           "stats: seconds S updates N rects N bytes N"
 *   info                    prints "size W H"
 *
 * The protocol is RFC 6143's; the client asks for 32-bit true colour and,
 * unless --encodings says otherwise, lossless encodings only (no JPEG), so
 * that what it saves is the server's picture pixel for pixel.
 *
 * usage: vnc-client [--password-file FILE] [--encodings LIST] [--exclusive]
 *                   [--verbose] HOST:DISPLAY|HOST::PORT [STEP...]
 * --exclusive asks for the desktop unshared in its ClientInit (RFC 6143
 * 7.3.1): a server that grants it disconnects its other clients.
 * Exit: 0 every step done, 1 a step failed (a timeout, a file), 2 usage,
 * 3 no connection or the server broke it off, 4 the server refused the
 * authentication (or wanted a password and none was given).
 */
#include "gh/display.h"
#include "gh/error.h"

#include <errno.h>
#include <glib.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <rfb/rfbclient.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum {
	EXIT_STEP = 1,
	EXIT_USAGE = 2,
	EXIT_CONNECTION = 3,
	EXIT_AUTH = 4,
};

#define DEFAULT_WAIT_MS 10000

struct client {
	rfbClient *cl;
	const char *password_file;
	bool asked_password;	/* the server chose VNC authentication */
	unsigned long long updates;	/* FramebufferUpdates completed */
	unsigned long long rects;
};

static void log_quiet(const char *fmt, ...)
{
}

static void log_err(const char *fmt, ...)
{
	va_list ap;

	fputs("vnc-client: libvncclient: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* the key of our data in libvncclient's per-client list */
static const char client_tag[] = "vnc-client";

static struct client *client_of(rfbClient *cl)
{
	return rfbClientGetClientData(cl, (void *)client_tag);
}

/* The first line of the file, as VNC authentication takes it (8 bytes at
 * most, RFC 6143 7.2.2: the rest is ignored by DES anyway). NULL when there
 * is none: libvncclient gives up then, and would not free an empty one. */
static char *get_password(rfbClient *cl)
{
	struct client *c = client_of(cl);
	char *text = NULL;
	char *pw;

	c->asked_password = true;
	if (!c->password_file) {
		fprintf(stderr, "vnc-client: the server wants a password "
			"and no --password-file was given\n");
		return NULL;
	}
	if (!g_file_get_contents(c->password_file, &text, NULL, NULL)) {
		fprintf(stderr, "vnc-client: cannot read %s\n", c->password_file);
		return NULL;
	}
	text[strcspn(text, "\r\n")] = '\0';
	pw = text[0] ? strdup(text) : NULL;
	g_free(text);
	return pw;
}

static void got_update(rfbClient *cl, int x, int y, int w, int h)
{
	client_of(cl)->rects++;
}

static void finished_update(rfbClient *cl)
{
	client_of(cl)->updates++;
}

static unsigned long long bytes_received(struct client *c)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(c->cl->sock, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return 0;
	return ti.tcpi_bytes_received;
}

/* Handles the server's messages until ms have passed or done(c) is true;
 * false when the connection broke. */
static bool pump(struct client *c, long ms, bool (*done)(struct client *, void *),
		 void *arg)
{
	gint64 end = g_get_monotonic_time() + ms * 1000;

	for (;;) {
		gint64 left = end - g_get_monotonic_time();
		int r;

		if (done && done(c, arg))
			return true;
		if (left <= 0)
			return true;
		/* libvncclient reads ahead: a message already in its buffer
		 * is one the socket will not announce */
		r = c->cl->buffered > 0 ? 1 :
		    WaitForMessage(c->cl, left > 100000 ? 100000 : (unsigned)left);
		if (r < 0)
			return false;
		if (r > 0 && !HandleRFBServerMessage(c->cl))
			return false;
	}
}

static bool updates_past(struct client *c, void *arg)
{
	return c->updates > *(unsigned long long *)arg;
}

static bool size_is(struct client *c, void *arg)
{
	const int *wh = arg;

	return c->cl->width == wh[0] && c->cl->height == wh[1];
}

static int save(struct client *c, const char *path)
{
	struct gh_display_surface s = {
		.data = (uint32_t *)c->cl->frameBuffer,
		.width = c->cl->width,
		.height = c->cl->height,
		.stride = c->cl->width * 4,
	};
	struct gh_error err = { 0 };
	FILE *f;

	if (g_str_has_suffix(path, ".png")) {
		if (gh_display_write_png(&s, path, &err) < 0) {
			fprintf(stderr, "vnc-client: %s\n", err.msg);
			return -1;
		}
		return 0;
	}
	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "vnc-client: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "P6\n%u %u\n255\n", s.width, s.height);
	for (unsigned i = 0; i < s.width * s.height; i++) {
		uint8_t rgb[3] = { s.data[i] >> 16, s.data[i] >> 8, s.data[i] };

		fwrite(rgb, 3, 1, f);
	}
	if (fclose(f)) {
		fprintf(stderr, "vnc-client: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static const struct {
	const char *name;
	uint32_t keysym;
} keysyms[] = {
	{ "Return", XK_Return }, { "Escape", XK_Escape },
	{ "BackSpace", XK_BackSpace }, { "Tab", XK_Tab },
	{ "space", XK_space }, { "Delete", XK_Delete },
	{ "Shift_L", XK_Shift_L }, { "Shift_R", XK_Shift_R },
	{ "Control_L", XK_Control_L }, { "Control_R", XK_Control_R },
	{ "Alt_L", XK_Alt_L }, { "Alt_R", XK_Alt_R },
	{ "Up", XK_Up }, { "Down", XK_Down }, { "Left", XK_Left },
	{ "Right", XK_Right }, { "Home", XK_Home }, { "End", XK_End },
	{ "Page_Up", XK_Page_Up }, { "Page_Down", XK_Page_Down },
	{ "F1", XK_F1 }, { "F2", XK_F2 }, { "F10", XK_F10 }, { "F12", XK_F12 },
};

static bool parse_keysym(const char *s, uint32_t *out)
{
	char *end;

	for (size_t i = 0; i < G_N_ELEMENTS(keysyms); i++)
		if (!strcmp(s, keysyms[i].name)) {
			*out = keysyms[i].keysym;
			return true;
		}
	if (s[0] && !s[1]) {
		*out = (uint8_t)s[0];	/* Latin-1 keysyms are their code */
		return true;
	}
	errno = 0;
	*out = strtoul(s, &end, 0);
	return !errno && end != s && !*end;
}

/* Characters a US keyboard types with Shift held. */
static bool shifted(char ch)
{
	return g_ascii_isupper(ch) || (ch && strchr("~!@#$%^&*()_+{}|:\"<>?", ch));
}

static bool type_text(struct client *c, const char *text)
{
	for (const char *p = text; *p; p++) {
		uint32_t ks = (uint8_t)*p;
		bool shift = shifted(*p);

		if (p[0] == '\\' && p[1] == 'n') {
			ks = XK_Return;
			p++;
		} else if (*p == '\n') {
			ks = XK_Return;
		}
		if ((shift && !SendKeyEvent(c->cl, XK_Shift_L, TRUE)) ||
		    !SendKeyEvent(c->cl, ks, TRUE) ||
		    !SendKeyEvent(c->cl, ks, FALSE) ||
		    (shift && !SendKeyEvent(c->cl, XK_Shift_L, FALSE)))
			return false;
		/* a viewer's keys come at a typist's pace; this also lets
		 * the server's input queue and the guest keep up */
		if (!pump(c, 20, NULL, NULL))
			return false;
	}
	return true;
}

static long arg_long(char **argv, int argc, int i, long dflt)
{
	return i < argc ? strtol(argv[i], NULL, 0) : dflt;
}

/* One step; returns 0, or an exit status. */
static int run_step(struct client *c, const char *line)
{
	char **argv = NULL;
	int argc = 0;
	int ret = 0;
	GError *gerr = NULL;
	const char *rest;

	while (*line == ' ' || *line == '\t')
		line++;
	if (!*line || *line == '#')
		return 0;
	if (!g_shell_parse_argv(line, &argc, &argv, &gerr)) {
		fprintf(stderr, "vnc-client: %s: %s\n", line, gerr->message);
		g_error_free(gerr);
		return EXIT_USAGE;
	}

	if (!strcmp(argv[0], "wait-update")) {
		unsigned long long seen = c->updates;

		if (!pump(c, arg_long(argv, argc, 1, DEFAULT_WAIT_MS),
			  updates_past, &seen))
			ret = EXIT_CONNECTION;
		else if (c->updates == seen) {
			fprintf(stderr, "vnc-client: no update\n");
			ret = EXIT_STEP;
		}
	} else if (!strcmp(argv[0], "wait-size") && argc >= 3) {
		int wh[2] = { atoi(argv[1]), atoi(argv[2]) };

		if (!pump(c, arg_long(argv, argc, 3, DEFAULT_WAIT_MS), size_is, wh))
			ret = EXIT_CONNECTION;
		else if (!size_is(c, wh)) {
			fprintf(stderr, "vnc-client: the size is %dx%d, not %dx%d\n",
				c->cl->width, c->cl->height, wh[0], wh[1]);
			ret = EXIT_STEP;
		}
	} else if (!strcmp(argv[0], "save") && argc == 2) {
		ret = save(c, argv[1]) < 0 ? EXIT_STEP : 0;
	} else if (!strcmp(argv[0], "key") && argc == 3) {
		uint32_t ks;
		bool down = !strcmp(argv[2], "down");
		bool press = !strcmp(argv[2], "press");

		if (!parse_keysym(argv[1], &ks) ||
		    (!down && !press && strcmp(argv[2], "up"))) {
			fprintf(stderr, "vnc-client: bad key step: %s\n", line);
			ret = EXIT_USAGE;
		} else if (!SendKeyEvent(c->cl, ks, down || press) ||
			   (press && !SendKeyEvent(c->cl, ks, FALSE))) {
			ret = EXIT_CONNECTION;
		}
	} else if (!strcmp(argv[0], "xtkey") && argc == 4) {
		uint32_t ks;
		char *end;
		unsigned long xt = strtoul(argv[2], &end, 0);
		bool down = !strcmp(argv[3], "down");
		bool press = !strcmp(argv[3], "press");

		if (!parse_keysym(argv[1], &ks) || *end || xt > 0xffff ||
		    (!down && !press && strcmp(argv[3], "up"))) {
			fprintf(stderr, "vnc-client: bad xtkey step: %s\n", line);
			ret = EXIT_USAGE;
		} else if (!SendExtendedKeyEvent(c->cl, ks, xt, down || press) ||
			   (press && !SendExtendedKeyEvent(c->cl, ks, xt, FALSE))) {
			fprintf(stderr, "vnc-client: no QEMU extended key "
				"events from this server\n");
			ret = EXIT_STEP;
		}
	} else if (!strcmp(argv[0], "type") && argc >= 2) {
		/* the rest of the line, as it was written, if not quoted */
		rest = line + strlen("type");
		while (*rest == ' ')
			rest++;
		if (argc == 2)
			rest = argv[1];
		ret = type_text(c, rest) ? 0 : EXIT_CONNECTION;
	} else if (!strcmp(argv[0], "pointer") && argc == 4) {
		if (!SendPointerEvent(c->cl, atoi(argv[1]), atoi(argv[2]),
				      atoi(argv[3])))
			ret = EXIT_CONNECTION;
	} else if (!strcmp(argv[0], "sleep") && argc == 2) {
		ret = pump(c, atol(argv[1]), NULL, NULL) ? 0 : EXIT_CONNECTION;
	} else if (!strcmp(argv[0], "stats") && argc == 2) {
		double secs = g_ascii_strtod(argv[1], NULL);
		unsigned long long u0 = c->updates, r0 = c->rects;
		unsigned long long b0 = bytes_received(c);
		gint64 t0 = g_get_monotonic_time();

		if (!pump(c, (long)(secs * 1000), NULL, NULL))
			ret = EXIT_CONNECTION;
		printf("stats: seconds %.3f updates %llu rects %llu bytes %llu\n",
		       (g_get_monotonic_time() - t0) / 1e6, c->updates - u0,
		       c->rects - r0, bytes_received(c) - b0);
	} else if (!strcmp(argv[0], "info")) {
		printf("size %d %d\n", c->cl->width, c->cl->height);
	} else {
		fprintf(stderr, "vnc-client: unknown step: %s\n", line);
		ret = EXIT_USAGE;
	}
	fflush(stdout);
	g_strfreev(argv);
	return ret;
}

static bool parse_target(const char *s, char **host, int *port)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long n;

	if (!colon)
		return false;
	if (colon > s && colon[-1] == ':') {
		*host = g_strndup(s, colon - 1 - s);
		n = strtol(colon + 1, &end, 10);
	} else {
		*host = g_strndup(s, colon - s);
		n = strtol(colon + 1, &end, 10);
		n += 5900;
	}
	if (end == colon + 1 || *end || n < 1 || n > 65535) {
		g_free(*host);
		return false;
	}
	if (!**host) {
		g_free(*host);
		*host = g_strdup("127.0.0.1");
	}
	*port = n;
	return true;
}

static void usage(void)
{
	fprintf(stderr, "usage: vnc-client [--password-file FILE] "
		"[--encodings LIST] [--exclusive] [--verbose] "
		"HOST:DISPLAY|HOST::PORT [STEP...]\n");
	exit(EXIT_USAGE);
}

int main(int argc, char **argv)
{
	struct client c = { 0 };
	const char *encodings = "copyrect zrle hextile zlib raw";
	char *host;
	int port, i, ret = 0;
	bool verbose = false, exclusive = false;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
		if (!strcmp(argv[i], "--password-file") && i + 1 < argc)
			c.password_file = argv[++i];
		else if (!strcmp(argv[i], "--encodings") && i + 1 < argc)
			encodings = argv[++i];
		else if (!strcmp(argv[i], "--exclusive"))
			exclusive = true;
		else if (!strcmp(argv[i], "--verbose"))
			verbose = true;
		else
			usage();
	}
	if (i >= argc || !parse_target(argv[i], &host, &port))
		usage();
	i++;
	/* libvncclient logs to stdout by default, where our output goes */
	if (!verbose)
		rfbClientLog = log_quiet;
	rfbClientErr = log_err;

	c.cl = rfbGetClient(8, 3, 4);
	if (!c.cl)
		return EXIT_CONNECTION;
	/* 0x00RRGGBB in host order: a gh_display_surface as it is */
	c.cl->format.redShift = 16;
	c.cl->format.greenShift = 8;
	c.cl->format.blueShift = 0;
	c.cl->appData.encodingsString = encodings;
	c.cl->appData.enableJPEG = FALSE;
	c.cl->appData.shareDesktop = !exclusive;
	c.cl->canHandleNewFBSize = TRUE;
	c.cl->GetPassword = get_password;
	c.cl->GotFrameBufferUpdate = got_update;
	c.cl->FinishedFrameBufferUpdate = finished_update;
	free(c.cl->serverHost);		/* rfbGetClient's "" */
	c.cl->serverHost = strdup(host);	/* freed by rfbClientCleanup */
	g_free(host);
	c.cl->serverPort = port;
	c.cl->connectTimeout = 10;
	rfbClientSetClientData(c.cl, (void *)client_tag, &c);
	if (!rfbInitClient(c.cl, NULL, NULL)) {
		/* rfbInitClient has freed the client */
		if (c.asked_password) {
			fprintf(stderr, "vnc-client: authentication refused\n");
			return EXIT_AUTH;
		}
		fprintf(stderr, "vnc-client: cannot connect to port %d\n", port);
		return EXIT_CONNECTION;
	}

	if (i < argc) {
		for (; i < argc && !ret; i++)
			ret = run_step(&c, argv[i]);
	} else {
		char line[4096];

		while (!ret && fgets(line, sizeof(line), stdin)) {
			line[strcspn(line, "\n")] = '\0';
			ret = run_step(&c, line);
		}
	}
	if (ret == EXIT_CONNECTION)
		fprintf(stderr, "vnc-client: the server closed the connection\n");
	/* the default MallocFrameBuffer's, which rfbClientCleanup leaves */
	free(c.cl->frameBuffer);
	rfbClientCleanup(c.cl);
	return ret;
}
