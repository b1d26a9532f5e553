/*
 * The VNC server (gh/vnc.h) on libvncserver, driven from the VM's
 * GMainContext as gnome-remote-desktop drives it from its own: we own the
 * listening sockets and hand each accepted connection to rfbNewClient(); a
 * watch on each client's socket, and a ~30 Hz refresh timer while anyone
 * is connected, run rfbProcessEvents() with a zero timeout.
 *
 * Why the main loop and not a server thread: the display's surface belongs
 * to the thread that refreshes it (gh/display.h): a refresh may reallocate
 * it under a thread that is encoding it. Here the refresh, the listeners'
 * callbacks, rfbNewFramebuffer() and every encoder run on one thread, and
 * the framebuffer libvncserver reads is the display's surface itself (no
 * copy). Device state is reached only through gh_display_refresh() and
 * gh_input_*(), which take the device lock. The cost: libvncserver reads a
 * message and writes an update to completion, so a client that stalls in
 * the middle of one holds the loop for up to MAX_CLIENT_WAIT_MS before it
 * is dropped.
 *
 * Updates: the display tells its listeners which 16x16 tiles changed;
 * those rectangles only are marked modified, and libvncserver answers each
 * client's FramebufferUpdateRequest with what was marked since its last
 * one, so a slow client gets fewer, coalesced updates (RFC 6143 7.5.3).
 * A mode change is a new framebuffer, sent as DesktopSize (7.8.2) to the
 * clients that take it.
 */
#include "gh/vnc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <rfb/rfb.h>
#include <rfb/rfbregion.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gh/display.h"
#include "gh/input.h"
#include "gh/vnc-keymap.h"
#include "gh/vnc-pointer.h"
#include "gh/vnc-xtkey.h"

#define REFRESH_MS		33
#define MAX_CLIENT_WAIT_MS	5000
#define MAX_LISTEN		4
/*
 * Key events reach the guest at most one per KEY_DELAY_MS, as QEMU's VNC
 * server paces them (its key-delay-ms, also 10): a client that types a
 * line in one burst would overrun the keyboard's buffer (16 bytes on a
 * real one) before the guest's interrupt handler drains it. Events wait in
 * order, up to KEY_QUEUE_MAX; past that a flooding client's keys are lost.
 */
#define KEY_DELAY_MS		10
#define KEY_QUEUE_MAX		4096

struct gh_vnc {
	GMainContext *ctx;
	struct gh_display *d;
	struct gh_input *in;
	const struct gh_keymap *km;
	/* --keymap was not given: key codes (QEMU extended key events) are
	 * taken from the clients that send them */
	bool key_codes;
	bool view_only;
	bool listening;			/* our display listener is added */
	rfbScreenInfoPtr screen;
	char *passwords[2];		/* rfbCheckPasswordByList's list */
	rfbCursorPtr dot;
	int listen_fd[MAX_LISTEN];
	GSource *listen_src[MAX_LISTEN];
	unsigned nlisten;
	char *address;
	int display;
	GSource *timer;
	unsigned nclients;
	GQueue keyq;			/* key events waiting, GUINT_TO_POINTER */
	GSource *key_timer;		/* pacing them; NULL: send at once */
};

struct vnc_client {
	struct gh_vnc *v;
	rfbClientPtr cl;
	GSource *watch;
	struct gh_vnc_keys keys;
	struct gh_vnc_pointer ptr;
	bool xt_ack;		/* QEMU key events to be acknowledged */
	char addr[INET6_ADDRSTRLEN + 8];
};

/* --- display ------------------------------------------------------------- */

/*
 * The surface as the framebuffer, XRGB8888 in host order: red at bit 16.
 * rfbNewFramebuffer() resets the server format to its own default (red at
 * bit 0 on little-endian hosts), so it is set again here and every client's
 * translation redone for it.
 */
static void set_framebuffer(struct gh_vnc *v, const struct gh_display_surface *s)
{
	rfbScreenInfoPtr scr = v->screen;
	rfbClientIteratorPtr it;
	rfbClientPtr cl;

	rfbNewFramebuffer(scr, (char *)s->data, (int)s->width, (int)s->height,
			  8, 3, 4);
	scr->paddedWidthInBytes = (int)s->stride;
	scr->serverFormat.redShift = 16;
	scr->serverFormat.greenShift = 8;
	scr->serverFormat.blueShift = 0;
	it = rfbGetClientIterator(scr);
	while ((cl = rfbClientIteratorNext(it)))
		scr->setTranslateFunction(cl);
	rfbReleaseClientIterator(it);
}

static void on_resize(void *opaque, const struct gh_display_surface *s)
{
	set_framebuffer(opaque, s);
}

static void on_update(void *opaque, const struct gh_display_rect *r)
{
	struct gh_vnc *v = opaque;

	rfbMarkRectAsModified(v->screen, (int)r->x, (int)r->y,
			      (int)(r->x + r->w), (int)(r->y + r->h));
}

static const struct gh_display_listener_ops listener_ops = {
	.resize = on_resize,
	.update = on_update,
};

/* Lets the device render, then answers the clients that asked. */
static void refresh(struct gh_vnc *v)
{
	gh_display_refresh(v->d);
	rfbProcessEvents(v->screen, 0);
}

static gboolean on_timer(gpointer opaque)
{
	refresh(opaque);
	return G_SOURCE_CONTINUE;
}

/* --- input --------------------------------------------------------------- */

#define KEY_EVENT(code, down)	GUINT_TO_POINTER(((code) << 1) | (down))

static void send_key(struct gh_vnc *v, gpointer ev)
{
	unsigned e = GPOINTER_TO_UINT(ev);

	gh_input_key(v->in, e >> 1, e & 1);
}

static gboolean on_key_timer(gpointer opaque)
{
	struct gh_vnc *v = opaque;

	if (g_queue_is_empty(&v->keyq)) {
		g_source_unref(v->key_timer);
		v->key_timer = NULL;
		return G_SOURCE_REMOVE;
	}
	send_key(v, g_queue_pop_head(&v->keyq));
	return G_SOURCE_CONTINUE;
}

static void emit_key(void *opaque, unsigned code, bool down)
{
	struct gh_vnc *v = opaque;

	if (v->key_timer) {
		if (g_queue_get_length(&v->keyq) < KEY_QUEUE_MAX)
			g_queue_push_tail(&v->keyq, KEY_EVENT(code, down));
		return;
	}
	gh_input_key(v->in, code, down);
	v->key_timer = g_timeout_source_new(KEY_DELAY_MS);
	g_source_set_callback(v->key_timer, on_key_timer, v, NULL);
	g_source_attach(v->key_timer, v->ctx);
}

static void on_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
	struct vnc_client *c = cl->clientData;

	if (!c || c->v->view_only)
		return;
	gh_vnc_keys_event(&c->keys, keysym, down);
}

/*
 * QEMU's extended key event (gh/vnc-xtkey.h). A client that lists its
 * pseudo-encoding in SetEncodings is told the server takes it by a
 * FramebufferUpdate with one rectangle of that encoding, as QEMU
 * answers; from then on it sends the key's XT code with each keysym. As
 * in QEMU, a layout chosen with --keymap wins: the server then does not
 * answer, and the client keeps to plain KeyEvents. The extension is
 * registered once for the process (libvncserver keeps one list); it
 * reaches each VM's server through the client's data.
 *
 * The answer goes at the end of the next update, which a modified pixel
 * makes sure of: libvncclient takes the messages a server supports from
 * libvncserver's SupportedMessages rectangle, sent in that update, which
 * lists no QEMU message and replaces what the client knew, so the answer
 * must come after it. The end of an update is also a point where the
 * sender owns the stream (a whole message, and in threaded output the
 * send lock held).
 */
static int xt_encodings[] = { (int)rfbEncodingQemuExtendedKeyEvent, 0 };

static rfbBool xt_enable(rfbClientPtr cl, void **data, int encoding)
{
	struct vnc_client *c = cl->clientData;
	sraRegionPtr px;

	if (encoding != (int)rfbEncodingQemuExtendedKeyEvent || !c ||
	    !c->v->key_codes)
		return FALSE;
	c->xt_ack = true;
	/* an update to end: one pixel, should the screen stay still */
	px = sraRgnCreateRect(0, 0, 1, 1);
	LOCK(cl->updateMutex);
	sraRgnOr(cl->modifiedRegion, px);
	UNLOCK(cl->updateMutex);
	sraRgnDestroy(px);
	return TRUE;
}

static void on_update_sent(rfbClientPtr cl, int result)
{
	struct vnc_client *c = cl->clientData;
	uint8_t ack[sz_rfbFramebufferUpdateMsg +
		    sz_rfbFramebufferUpdateRectHeader] = { rfbFramebufferUpdate };
	uint32_t enc = htonl(rfbEncodingQemuExtendedKeyEvent);
	uint8_t *r;

	/* not before SupportedMessages went, if the client asked for it */
	if (!c || !c->xt_ack || !result || cl->enableSupportedMessages)
		return;
	c->xt_ack = false;
	ack[3] = 1;				/* one rectangle */
	/*
	 * 1x1 at 0,0, where QEMU gives the screen's size: libvncclient skips
	 * a rectangle of no area before it looks at its encoding, and drops
	 * the connection for one larger than the screen it knows, which may
	 * be an older one while a DesktopSize is on its way.
	 */
	r = &ack[sz_rfbFramebufferUpdateMsg];
	r[5] = 1;
	r[7] = 1;
	memcpy(&r[8], &enc, sizeof(enc));
	if (rfbWriteExact(cl, (char *)ack, sizeof(ack)) < 0)
		rfbCloseClient(cl);
}

/*
 * The message: type 255 (QEMU's), subtype 0, then a 16-bit down flag, the
 * keysym and the XT code, big-endian. Other subtypes (QEMU's audio) were
 * not offered: the client is dropped, as for any unknown message.
 */
static rfbBool xt_message(rfbClientPtr cl, void *data,
			  const rfbClientToServerMsg *msg)
{
	struct vnc_client *c = cl->clientData;
	uint8_t m[sz_rfbQemuExtendedKeyEventMsg - 1];
	uint32_t keysym, xt;
	unsigned code;
	bool down;

	if (msg->type != rfbQemuEvent)
		return FALSE;
	if (rfbReadExact(cl, (char *)m, 1) <= 0 || m[0] != 0 ||
	    rfbReadExact(cl, (char *)m + 1, sizeof(m) - 1) <= 0) {
		rfbCloseClient(cl);
		return TRUE;
	}
	down = m[1] || m[2];
	keysym = (uint32_t)m[3] << 24 | m[4] << 16 | m[5] << 8 | m[6];
	xt = (uint32_t)m[7] << 24 | m[8] << 16 | m[9] << 8 | m[10];
	if (!c || c->v->view_only)
		return TRUE;
	code = gh_vnc_xt_to_evdev(xt);
	if (code)
		gh_vnc_keys_code(&c->keys, code, down);
	else
		gh_vnc_keys_event(&c->keys, keysym, down);	/* unknown key */
	return TRUE;
}

static rfbProtocolExtension xt_extension = {
	.pseudoEncodings = xt_encodings,
	.enablePseudoEncoding = xt_enable,
	.handleMessage = xt_message,
};

static gpointer register_xt(gpointer unused)
{
	rfbRegisterProtocolExtension(&xt_extension);
	return NULL;
}

/*
 * The PS/2 mouse takes motion: the difference from this client's last
 * position (gh/vnc-pointer.h). An absolute device, when there is one,
 * takes the position as it is.
 */
static void on_pointer(int mask, int x, int y, rfbClientPtr cl)
{
	struct vnc_client *c = cl->clientData;
	struct gh_vnc_motion m;
	struct gh_vnc *v;

	if (!c || c->v->view_only)
		return;
	v = c->v;
	x = CLAMP(x, 0, v->screen->width - 1);
	y = CLAMP(y, 0, v->screen->height - 1);
	gh_vnc_pointer_event(&c->ptr, mask, x, y, &m);
	if (gh_input_has_abs(v->in)) {
		unsigned w = MAX(v->screen->width - 1, 1);
		unsigned h = MAX(v->screen->height - 1, 1);

		gh_input_abs(v->in, (unsigned)x * 0x7fff / w,
			     (unsigned)y * 0x7fff / h, m.dz, m.buttons);
	} else if (m.changed) {
		gh_input_rel(v->in, m.dx, m.dy, m.dz, m.buttons);
	}
}

/* --- clients ------------------------------------------------------------- */

static gboolean on_client_io(gint fd, GIOCondition cond, gpointer opaque)
{
	struct gh_vnc *v = opaque;

	rfbProcessEvents(v->screen, 0);
	return G_SOURCE_CONTINUE;
}

static void on_client_gone(rfbClientPtr cl)
{
	struct vnc_client *c = cl->clientData;
	struct gh_vnc *v;

	/* libvncserver frees a client without its list of extensions (and
	 * rfbDisableExtension() unlinks an entry without freeing it) */
	for (rfbExtensionData **e = &cl->extensions; *e;) {
		rfbExtensionData *x = *e;

		if (x->extension != &xt_extension) {
			e = &x->next;
			continue;
		}
		*e = x->next;
		free(x);
	}
	if (!c)
		return;
	v = c->v;
	/* no key stays down in the guest because its client went away */
	gh_vnc_keys_release_all(&c->keys);
	if (c->ptr.mask & 7)
		gh_input_rel(v->in, 0, 0, 0, 0);
	if (c->watch) {
		g_source_destroy(c->watch);
		g_source_unref(c->watch);
	}
	cl->clientData = NULL;
	g_free(c);
	if (v->nclients && !--v->nclients && v->timer) {
		g_source_destroy(v->timer);
		g_source_unref(v->timer);
		v->timer = NULL;
	}
}

static enum rfbNewClientAction on_new_client(rfbClientPtr cl)
{
	struct gh_vnc *v = cl->screen->screenData;
	struct vnc_client *c = g_new0(struct vnc_client, 1);

	c->v = v;
	c->cl = cl;
	gh_vnc_keys_init(&c->keys, v->km, emit_key, v);
	g_strlcpy(c->addr, cl->host ? cl->host : "?", sizeof(c->addr));
	cl->clientData = c;
	cl->clientGoneHook = on_client_gone;
	cl->viewOnly = v->view_only;
	c->watch = g_unix_fd_source_new(cl->sock, G_IO_IN | G_IO_HUP | G_IO_ERR);
	g_source_set_callback(c->watch, (GSourceFunc)(void (*)(void))on_client_io,
			      v, NULL);
	g_source_attach(c->watch, v->ctx);
	if (!v->nclients++) {
		v->timer = g_timeout_source_new(REFRESH_MS);
		g_source_set_callback(v->timer, on_timer, v, NULL);
		g_source_attach(v->timer, v->ctx);
	}
	return RFB_CLIENT_ACCEPT;
}

static gboolean on_listen(gint fd, GIOCondition cond, gpointer opaque)
{
	struct gh_vnc *v = opaque;
	const int one = 1;
	int sock;

	sock = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (sock < 0)
		return G_SOURCE_CONTINUE;	/* gone already, or EMFILE */
	setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* the first update shows the screen as it is now */
	gh_display_refresh(v->d);
	/*
	 * The WebSocket check, the version and the hook happen in here:
	 * libvncserver waits up to 100 ms for a WebSocket client's request
	 * before it greets a plain RFB one, the loop held meanwhile.
	 */
	rfbNewClient(v->screen, sock);
	rfbProcessEvents(v->screen, 0);
	return G_SOURCE_CONTINUE;
}

/* --- listening ------------------------------------------------------------ */

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		const uint8_t *b = in6->sin6_addr.s6_addr;

		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
		       (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127);
	}
	return false;
}

static void close_listeners(struct gh_vnc *v)
{
	for (unsigned i = 0; i < v->nlisten; i++) {
		if (v->listen_src[i]) {
			g_source_destroy(v->listen_src[i]);
			g_source_unref(v->listen_src[i]);
			v->listen_src[i] = NULL;
		}
		close(v->listen_fd[i]);
	}
	v->nlisten = 0;
}

static void format_address(const struct sockaddr *sa, socklen_t len,
			   char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN], port[8];

	if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV)) {
		g_strlcpy(buf, "?", size);
		return;
	}
	snprintf(buf, size, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
		 host, port);
}

/*
 * Binds every address host resolves to at port: 0, -EADDRINUSE (another
 * server has the port: auto tries the next), or another negative errno
 * with err set.
 */
static int listen_at(struct gh_vnc *v, const struct gh_vnc_config *c,
		     struct addrinfo *res, int port, struct gh_error *err)
{
	int ret = 0;

	for (struct addrinfo *ai = res; ai && v->nlisten < MAX_LISTEN;
	     ai = ai->ai_next) {
		const int one = 1;
		int fd;

		if (ai->ai_family == AF_INET)
			((struct sockaddr_in *)ai->ai_addr)->sin_port =
				htons((uint16_t)port);
		else if (ai->ai_family == AF_INET6)
			((struct sockaddr_in6 *)ai->ai_addr)->sin6_port =
				htons((uint16_t)port);
		else
			continue;
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
			    SOCK_CLOEXEC, 0);
		if (fd < 0) {
			ret = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* "::" and "0.0.0.0" are then two sockets, as getaddrinfo
		 * lists them, not one that takes both */
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				   sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
		    listen(fd, 8) < 0) {
			ret = -errno;
			close(fd);
			if (ret == -EADDRINUSE)
				break;
			continue;
		}
		if (!v->nlisten) {
			char buf[INET6_ADDRSTRLEN + 16];

			format_address(ai->ai_addr, ai->ai_addrlen, buf,
				       sizeof(buf));
			g_free(v->address);
			v->address = g_strdup(buf);
		}
		v->listen_fd[v->nlisten++] = fd;
	}
	if (ret == -EADDRINUSE || !v->nlisten) {
		close_listeners(v);
		if (!ret)
			ret = -EADDRNOTAVAIL;
		if (ret != -EADDRINUSE)
			gh_error_set(err, ret, "cannot listen for VNC on %s "
				     "port %d: %s", c->host, port,
				     g_strerror(-ret));
		else if (c->display != GH_VNC_DISPLAY_AUTO)
			gh_error_set(err, ret, "cannot listen for VNC on %s "
				     "port %d: the port is in use (another "
				     "VNC server, or display :%d taken?)",
				     c->host, port, c->display);
		return ret;
	}
	return 0;
}

static int start_listening(struct gh_vnc *v, const struct gh_vnc_config *c,
			   struct gh_error *err)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	};
	struct addrinfo *res = NULL;
	int first = c->display, last = c->display, ret, gai;

	gai = getaddrinfo(c->host, "0", &hints, &res);
	if (gai)
		return gh_error_set(err, -EINVAL, "invalid VNC address '%s': %s",
				    c->host, gai_strerror(gai));
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (is_loopback(ai->ai_addr) || c->password || c->insecure)
			continue;
		freeaddrinfo(res);
		return gh_error_set(err, -EPERM, "refusing to listen for VNC on "
				    "%s, which is not a loopback address, "
				    "without a password (give "
				    "--vnc-password-file FILE, or "
				    "--vnc-insecure to allow it)", c->host);
	}
	if (c->display == GH_VNC_DISPLAY_AUTO) {
		first = 0;
		last = GH_VNC_MAX_DISPLAY;
	}
	ret = -EADDRINUSE;
	for (int n = first; n <= last && ret == -EADDRINUSE; n++) {
		ret = listen_at(v, c, res, GH_VNC_PORT_BASE + n, err);
		if (!ret)
			v->display = n;
	}
	freeaddrinfo(res);
	if (ret == -EADDRINUSE && c->display == GH_VNC_DISPLAY_AUTO)
		gh_error_set(err, ret, "no free VNC display on %s (tried :0 to "
			     ":%d)", c->host, GH_VNC_MAX_DISPLAY);
	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < v->nlisten; i++) {
		v->listen_src[i] = g_unix_fd_source_new(v->listen_fd[i], G_IO_IN);
		g_source_set_callback(v->listen_src[i],
				      (GSourceFunc)(void (*)(void))on_listen, v,
				      NULL);
		g_source_attach(v->listen_src[i], v->ctx);
	}
	return 0;
}

/* --- the server ----------------------------------------------------------- */

int gh_vnc_new(const struct gh_vnc_config *c, struct gh_display *d,
	       struct gh_input *in, GMainContext *ctx, struct gh_vnc **out,
	       struct gh_error *err)
{
	struct gh_display_surface s;
	struct gh_vnc *v;
	int argc = 0, ret;

	if (!d)
		return gh_error_set(err, -ENODEV, "VNC needs a display");
	v = g_new0(struct gh_vnc, 1);
	g_queue_init(&v->keyq);
	v->ctx = ctx;
	v->d = d;
	v->in = in;
	v->view_only = c->view_only;
	v->km = gh_keymap_find(c->keymap ? c->keymap : "us");
	v->key_codes = !c->keymap;
	if (!v->km) {
		ret = gh_error_set(err, -EINVAL, "unknown keymap '%s' (use %s)",
				   c->keymap, gh_keymap_names());
		goto err_free;
	}
	ret = start_listening(v, c, err);
	if (ret < 0)
		goto err_free;

	/* libvncserver's log is process-wide; it talks on every connection */
	rfbLogEnable(c->verbose);
	gh_display_refresh(d);
	gh_display_surface(d, &s);
	v->screen = rfbGetScreen(&argc, NULL, (int)s.width, (int)s.height,
				 8, 3, 4);
	if (!v->screen) {
		ret = gh_error_set(err, -ENOMEM, "cannot make the VNC screen");
		goto err_free;
	}
	v->screen->screenData = v;
	v->screen->desktopName = "guesthouse";
	/* we listen and accept; libvncserver opens no socket of its own */
	v->screen->port = 0;
	v->screen->ipv6port = 0;
	v->screen->autoPort = FALSE;
	v->screen->httpPort = 0;
	v->screen->httpDir = NULL;
	/* several clients at once: a request for exclusive access is
	 * treated as shared rather than dropping the others */
	v->screen->alwaysShared = TRUE;
	v->screen->neverShared = FALSE;
	/* the refresh timer paces updates already */
	v->screen->deferUpdateTime = 0;
	v->screen->handleEventsEagerly = TRUE;
	v->screen->maxClientWait = MAX_CLIENT_WAIT_MS;
	v->screen->newClientHook = on_new_client;
	v->screen->kbdAddEvent = on_key;
	v->screen->ptrAddEvent = on_pointer;
	v->screen->displayFinishedHook = on_update_sent;
	/*
	 * No server cursor: libvncserver draws one into the framebuffer for
	 * clients that cannot take a cursor shape, which is the display's
	 * surface here. The PS/2 mouse's guest draws its own pointer.
	 */
	v->screen->cursor = NULL;
	if (c->password) {
		v->passwords[0] = g_strdup(c->password);
		v->screen->authPasswdData = v->passwords;
		v->screen->passwordCheck = rfbCheckPasswordByList;
	}
	{
		static GOnce once = G_ONCE_INIT;

		g_once(&once, register_xt, NULL);
	}
	rfbInitServer(v->screen);
	set_framebuffer(v, &s);
	ret = gh_display_add_listener(d, &listener_ops, v);
	if (ret < 0) {
		gh_error_set(err, ret, "too many display listeners");
		goto err_free;
	}
	v->listening = true;
	*out = v;
	return 0;
err_free:
	gh_vnc_free(v);
	return ret;
}

void gh_vnc_free(struct gh_vnc *v)
{
	if (!v)
		return;
	close_listeners(v);
	if (v->listening)
		gh_display_remove_listener(v->d, &listener_ops, v);
	if (v->screen) {
		/* disconnects every client through on_client_gone */
		rfbShutdownServer(v->screen, TRUE);
		rfbScreenCleanup(v->screen);
	}
	if (v->timer) {
		g_source_destroy(v->timer);
		g_source_unref(v->timer);
	}
	/* what the clients typed last, and their keys' releases */
	if (v->key_timer) {
		g_source_destroy(v->key_timer);
		g_source_unref(v->key_timer);
	}
	while (!g_queue_is_empty(&v->keyq))
		send_key(v, g_queue_pop_head(&v->keyq));
	if (v->passwords[0]) {
		memset(v->passwords[0], 0, strlen(v->passwords[0]));
		g_free(v->passwords[0]);
	}
	g_free(v->address);
	g_free(v);
}

const char *gh_vnc_address(struct gh_vnc *v)
{
	return v->address;
}

int gh_vnc_display_number(struct gh_vnc *v)
{
	return v->display;
}

unsigned gh_vnc_describe_clients(struct gh_vnc *v, GString *out)
{
	rfbClientIteratorPtr it = rfbGetClientIterator(v->screen);
	rfbClientPtr cl;
	unsigned n = 0;

	while ((cl = rfbClientIteratorNext(it))) {
		struct vnc_client *c = cl->clientData;

		if (!c || cl->sock < 0)
			continue;
		g_string_append_printf(out, "client %s%s\n", c->addr,
				       cl->state == RFB_NORMAL ? "" :
				       " (connecting)");
		n++;
	}
	rfbReleaseClientIterator(it);
	return n;
}
