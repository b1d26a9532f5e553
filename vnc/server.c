/*
 * The VNC server (gh/vnc.h) on libvncserver. No client can hold up the
 * VM's main loop or another client: libvncserver reads a message and
 * writes an update to completion, waiting up to MAX_CLIENT_WAIT_MS for a
 * client that stalls in the middle of one, so each client has a thread of
 * its own and only that thread ever waits on its socket.
 *
 * The main loop (the VM's GMainContext) owns the listening sockets and
 * accepts; it refreshes the display ~30 Hz while anyone is connected and
 * copies the 16x16 tiles that changed from the display's surface (which
 * belongs to it, gh/display.h) into the server's own framebuffer, then
 * marks them modified for every client and wakes the clients' threads. It
 * also feeds the guest the keys and pointer events that the clients'
 * threads queue for it: gh_input_*() and the keys' 10 ms pacing live there.
 *
 * A client's thread runs its connection from start to end: rfbNewClient()
 * (where libvncserver waits up to 100 ms for a WebSocket request before it
 * greets a plain RFB client), then a poll() loop that hands what the
 * client sends to rfbProcessClientMessage() and, when the client asked for
 * an update and something it asked for changed, sends one with
 * rfbSendFramebufferUpdate(). One thread does both, so one client's
 * messages (pixel format, encodings) never race its own update. We run
 * these loops ourselves rather than through libvncserver's
 * rfbStartOnHoldClient() (a reader and a writer thread per client) so as
 * to know when every client thread has ended: gh_vnc_free() shuts their
 * sockets down and waits for them, where libvncserver joins only the
 * threads of clients whose socket is still open and, without its own
 * listener thread, joins a thread that does not exist.
 *
 * The server's framebuffer is ours and only copied into where the display
 * says it changed, never whole per update (QEMU's VNC server keeps its own
 * surface the same way): a client's thread encodes from it without the
 * main loop's help. Copying races an encoder reading the same tile at
 * worst; the tile was marked again and goes out once more. A mode change
 * is a new framebuffer, filled at once; a thread of its own installs it
 * (the screen's size and pointer swapped with every client's sendMutex
 * held, as rfbNewFramebuffer() does, so no client is in the middle of an
 * update from the old one when it is freed) and marks everything for
 * DesktopSize (RFC 6143 7.8.2). Taking a client's sendMutex waits for its
 * update in flight, from a stalled client up to MAX_CLIENT_WAIT_MS, and
 * the clients whose lock is taken already wait with it: that is the one
 * place where a stalled client delays others, once per mode change. The
 * main loop goes on meanwhile, copying into the new framebuffer.
 *
 * Updates: libvncserver answers each client's FramebufferUpdateRequest
 * with what was marked since its last one, so a slow client gets fewer,
 * coalesced updates (RFC 6143 7.5.3).
 *
 * Shared or exclusive (RFC 6143 7.3.1), as QEMU's share=allow-exclusive: a
 * client whose ClientInit asks for exclusive access disconnects the others.
 */
#include "gh/vnc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <rfb/rfb.h>
#include <rfb/rfbregion.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gh/display.h"
#include "gh/input.h"
#include "gh/unix-socket.h"
#include "gh/vnc-keymap.h"
#include "gh/vnc-pointer.h"
#include "gh/vnc-xtkey.h"

#define REFRESH_MS		33
#define MAX_CLIENT_WAIT_MS	5000
#define MAX_LISTEN		4
/* connections waiting to be accepted: past it a client's SYN is dropped
 * and it retries a second later */
#define LISTEN_BACKLOG		64
/*
 * Clients at once. Each holds a thread and three descriptors; past this a
 * new connection is closed at once, so that a flood of connections cannot
 * take the VMM's descriptors or threads (QEMU bounds its VNC connections
 * too, 32 by default).
 */
#define MAX_CLIENTS		64
/*
 * Key events reach the guest at most one per KEY_DELAY_MS, as QEMU's VNC
 * server paces them (its key-delay-ms, also 10): a client that types a
 * line in one burst would overrun the keyboard's buffer (16 bytes on a
 * real one) before the guest's interrupt handler drains it. Events wait in
 * order, up to KEY_QUEUE_MAX; past that a flooding client's keys are lost.
 */
#define KEY_DELAY_MS		10
#define KEY_QUEUE_MAX		4096
/* Input events the clients' threads queue for the main loop; past this
 * a flooding client's events are dropped (it cannot grow our memory). */
#define EVENT_QUEUE_MAX		16384

/* A framebuffer of the server's: XRGB8888, stride w * 4. */
struct vnc_fb {
	uint32_t *data;
	unsigned w, h;
};

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
	/* the shared accept loop, which backs off when out of fds */
	struct gh_unix_listener listen[MAX_LISTEN];
	unsigned nlisten;
	char *address;
	int display;

	/* main loop only */
	GSource *timer;
	unsigned nconn;			/* client threads it has not heard end */
	/* the display's surface: from its resize callback (which is when it
	 * changes) since the update callbacks may not ask for it */
	struct gh_display_surface surf;
	bool marked;			/* tiles marked since clients were woken */
	GQueue keyq;			/* key events waiting, GUINT_TO_POINTER */
	GSource *key_timer;		/* pacing them; NULL: send at once */

	/*
	 * lock guards what follows. Order: a client's sendMutex, then its
	 * updateMutex, then lock; never lock first.
	 */
	pthread_mutex_t lock;
	struct vnc_fb *fb;		/* installed: the screen's frameBuffer */
	struct vnc_fb *next;		/* a new size waiting to be installed */
	struct vnc_fb *installing;	/* next as the switch thread took it */
	pthread_cond_t cond;		/* next set, quit, a client gone */
	pthread_t switcher;
	bool switcher_started;
	bool quit;
	GQueue clients;			/* struct vnc_client, threads running */
	GQueue events;			/* struct vnc_event for the main loop */
	GSource *event_src;		/* dispatching them; NULL: none queued */
};

struct vnc_client {
	struct gh_vnc *v;
	gint refs;			/* its thread, and each queued event */
	int sock;			/* libvncserver's once rfbNewClient runs */
	int shut_fd;			/* a dup of sock: ours to shut down */
	int wake_fd;			/* eventfd: something was marked */
	rfbClientPtr cl;		/* under v->lock; NULL before and after */
	GList link;			/* in v->clients */
	char addr[INET6_ADDRSTRLEN + 8];
	bool xt_ack;			/* its thread: QEMU key events to ack */
	/* main loop only */
	struct gh_vnc_keys keys;
	struct gh_vnc_pointer ptr;
};

/* EV_KEY: a keysym; EV_KEY_CODE: a key (QEMU's extended key event) */
enum vnc_event_type { EV_KEY, EV_KEY_CODE, EV_POINTER, EV_GONE };

struct vnc_event {
	enum vnc_event_type type;
	struct vnc_client *c;
	uint32_t keysym;
	unsigned code;
	bool down;
	int mask, x, y;
};

static void client_unref(struct vnc_client *c)
{
	if (g_atomic_int_dec_and_test(&c->refs))
		g_free(c);
}

/* --- framebuffers -------------------------------------------------------- */

static struct vnc_fb *fb_new(const struct gh_display_surface *s)
{
	struct vnc_fb *fb = g_new0(struct vnc_fb, 1);

	fb->w = s->width;
	fb->h = s->height;
	fb->data = g_malloc((size_t)fb->w * fb->h * 4);
	for (unsigned y = 0; y < fb->h; y++)
		memcpy(fb->data + (size_t)y * fb->w,
		       (const uint8_t *)s->data + (size_t)y * s->stride,
		       (size_t)fb->w * 4);
	return fb;
}

static void fb_free(struct vnc_fb *fb)
{
	if (fb) {
		g_free(fb->data);
		g_free(fb);
	}
}

/* Wakes every client's thread to see what was marked; under v->lock. */
static void wake_clients_locked(struct gh_vnc *v)
{
	const uint64_t one = 1;

	for (GList *l = v->clients.head; l; l = l->next) {
		struct vnc_client *c = l->data;

		/* a full counter (2^64 - 2 wakes unread) wakes it as well */
		if (write(c->wake_fd, &one, sizeof(one)) < 0)
			continue;
	}
}

/*
 * A client gets the whole screen and, with resize, a DesktopSize (set
 * pending whether it takes them yet or not: one that enables DesktopSize
 * only later, or that was told the old size in its ServerInit, gets it
 * when it does).
 */
static void mark_client(rfbClientPtr cl, unsigned w, unsigned h, bool resize)
{
	pthread_mutex_lock(&cl->updateMutex);
	sraRgnDestroy(cl->modifiedRegion);
	cl->modifiedRegion = sraRgnCreateRect(0, 0, (int)w, (int)h);
	sraRgnMakeEmpty(cl->copyRegion);
	if (resize)
		cl->newFBSizePending = TRUE;
	pthread_mutex_unlock(&cl->updateMutex);
}

/* Every client, with a DesktopSize for those not in told (install()'s). */
static void mark_all(struct gh_vnc *v, unsigned w, unsigned h,
		     GPtrArray *told)
{
	rfbClientIteratorPtr it = rfbGetClientIterator(v->screen);
	rfbClientPtr cl;

	while ((cl = rfbClientIteratorNext(it))) {
		bool known = false;

		for (unsigned i = 0; i < told->len && !known; i++)
			known = told->pdata[i] == cl;
		mark_client(cl, w, h, !known);
	}
	rfbReleaseClientIterator(it);
}

/*
 * Makes fb the screen's framebuffer: with every client's sendMutex held
 * none is encoding from the old one meanwhile, nor after (rfbNewFramebuffer
 * does the same, but also resets the pixel format to its default and only
 * then lets us set ours: an encoder could send colours wrong in between).
 * Returns the clients told, each still held by a reference.
 */
static GPtrArray *install(struct gh_vnc *v, struct vnc_fb *fb)
{
	rfbScreenInfoPtr scr = v->screen;
	rfbClientIteratorPtr it = rfbGetClientIterator(scr);
	GPtrArray *held = g_ptr_array_new();
	rfbClientPtr cl;

	/* each held by a reference: its thread cannot free it meanwhile */
	while ((cl = rfbClientIteratorNext(it))) {
		rfbIncrClientRef(cl);
		g_ptr_array_add(held, cl);
	}
	rfbReleaseClientIterator(it);
	for (unsigned i = 0; i < held->len; i++)
		pthread_mutex_lock(&((rfbClientPtr)held->pdata[i])->sendMutex);
	scr->frameBuffer = (char *)fb->data;
	scr->width = (int)fb->w;
	scr->height = (int)fb->h;
	scr->paddedWidthInBytes = (int)fb->w * 4;
	/* the DesktopSize before any update of the new size */
	for (unsigned i = 0; i < held->len; i++) {
		cl = held->pdata[i];
		mark_client(cl, fb->w, fb->h, true);
		pthread_mutex_unlock(&cl->sendMutex);
	}
	return held;
}

/*
 * The switch thread: installs the newest framebuffer the main loop made
 * for a mode change, frees the one it replaces, and marks everything
 * again (tiles the main loop copied into the new one while it was being
 * installed were not marked by it), with a DesktopSize for the clients
 * that came meanwhile: those told already would get a second one, which
 * libvncclient answers by clearing its picture until the next update.
 */
static void *switcher(void *opaque)
{
	struct gh_vnc *v = opaque;

	pthread_mutex_lock(&v->lock);
	while (!v->quit) {
		struct vnc_fb *fb = v->next, *old;
		GPtrArray *told;

		if (!fb) {
			pthread_cond_wait(&v->cond, &v->lock);
			continue;
		}
		v->installing = fb;
		pthread_mutex_unlock(&v->lock);
		told = install(v, fb);
		pthread_mutex_lock(&v->lock);
		old = v->fb;
		v->fb = fb;
		v->installing = NULL;
		if (v->next == fb)
			v->next = NULL;
		pthread_mutex_unlock(&v->lock);
		fb_free(old);
		mark_all(v, fb->w, fb->h, told);
		/* only now: a reference kept them from being freed, and their
		 * addresses from being a new client's */
		for (unsigned i = 0; i < told->len; i++)
			rfbDecrClientRef(told->pdata[i]);
		g_ptr_array_free(told, TRUE);
		pthread_mutex_lock(&v->lock);
		wake_clients_locked(v);
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

/* A mode change: the new size's framebuffer, for the switch thread. */
static void on_resize(void *opaque, const struct gh_display_surface *s)
{
	struct gh_vnc *v = opaque;
	struct vnc_fb *fb = fb_new(s);

	v->surf = *s;
	pthread_mutex_lock(&v->lock);
	if (v->next != v->installing)
		fb_free(v->next);
	v->next = fb;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

/*
 * Tiles that changed: copied into the framebuffer clients will be sent,
 * the installed one (and marked) or the one waiting to be (marked when
 * it is installed).
 */
static void on_update(void *opaque, const struct gh_display_rect *r)
{
	struct gh_vnc *v = opaque;
	const struct gh_display_surface *s = &v->surf;
	struct vnc_fb *fb;
	bool installed;

	pthread_mutex_lock(&v->lock);
	fb = v->next ? v->next : v->fb;
	installed = fb == v->fb;
	if (fb->w == s->width && fb->h == s->height)
		for (unsigned y = r->y; y < r->y + r->h; y++)
			memcpy(fb->data + (size_t)y * fb->w + r->x,
			       (const uint8_t *)s->data + (size_t)y * s->stride +
			       (size_t)r->x * 4, (size_t)r->w * 4);
	pthread_mutex_unlock(&v->lock);
	if (installed) {
		rfbMarkRectAsModified(v->screen, (int)r->x, (int)r->y,
				      (int)(r->x + r->w), (int)(r->y + r->h));
		v->marked = true;
	}
}

static const struct gh_display_listener_ops listener_ops = {
	.resize = on_resize,
	.update = on_update,
};

/* Lets the device render, then wakes the clients to send what changed. */
static void refresh(struct gh_vnc *v)
{
	gh_display_refresh(v->d);
	if (!v->marked)
		return;
	v->marked = false;
	pthread_mutex_lock(&v->lock);
	wake_clients_locked(v);
	pthread_mutex_unlock(&v->lock);
}

static gboolean on_timer(gpointer opaque)
{
	refresh(opaque);
	return G_SOURCE_CONTINUE;
}

/* --- input: from the clients' threads to the main loop ------------------- */

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

/*
 * The PS/2 mouse takes motion: the difference from this client's last
 * position (gh/vnc-pointer.h). An absolute device, when there is one,
 * takes the position as it is.
 */
static void pointer_event(struct gh_vnc *v, struct vnc_client *c, int mask,
			  int x, int y)
{
	struct gh_vnc_motion m;

	x = CLAMP(x, 0, (int)v->surf.width - 1);
	y = CLAMP(y, 0, (int)v->surf.height - 1);
	gh_vnc_pointer_event(&c->ptr, mask, x, y, &m);
	if (gh_input_has_abs(v->in)) {
		unsigned w = MAX(v->surf.width - 1, 1);
		unsigned h = MAX(v->surf.height - 1, 1);

		gh_input_abs(v->in, (unsigned)x * 0x7fff / w,
			     (unsigned)y * 0x7fff / h, m.dz, m.buttons);
	} else if (m.changed) {
		gh_input_rel(v->in, m.dx, m.dy, m.dz, m.buttons);
	}
}

static void stop_timer(struct gh_vnc *v)
{
	if (v->timer) {
		g_source_destroy(v->timer);
		g_source_unref(v->timer);
		v->timer = NULL;
	}
}

/* One queued event, on the main loop. */
static void handle_event(struct gh_vnc *v, struct vnc_event *e)
{
	struct vnc_client *c = e->c;

	switch (e->type) {
	case EV_KEY:
		if (!v->view_only)
			gh_vnc_keys_event(&c->keys, e->keysym, e->down);
		break;
	case EV_KEY_CODE:
		if (!v->view_only)
			gh_vnc_keys_code(&c->keys, e->code, e->down);
		break;
	case EV_POINTER:
		if (!v->view_only)
			pointer_event(v, c, e->mask, e->x, e->y);
		break;
	case EV_GONE:
		/* no key stays down in the guest because its client left */
		gh_vnc_keys_release_all(&c->keys);
		if (c->ptr.mask & 7)
			gh_input_rel(v->in, 0, 0, 0, 0);
		if (v->nconn && !--v->nconn)
			stop_timer(v);
		break;
	}
	client_unref(c);
	g_free(e);
}

static gboolean on_events(gpointer opaque)
{
	struct gh_vnc *v = opaque;
	GQueue q;

	pthread_mutex_lock(&v->lock);
	q = v->events;
	g_queue_init(&v->events);
	g_source_unref(v->event_src);
	v->event_src = NULL;
	pthread_mutex_unlock(&v->lock);
	while (!g_queue_is_empty(&q))
		handle_event(v, g_queue_pop_head(&q));
	return G_SOURCE_REMOVE;
}

/* From a client's thread: e for the main loop (GONE is never dropped). */
static void queue_event(struct vnc_client *c, struct vnc_event *e)
{
	struct gh_vnc *v = c->v;

	pthread_mutex_lock(&v->lock);
	if (e->type != EV_GONE &&
	    g_queue_get_length(&v->events) >= EVENT_QUEUE_MAX) {
		pthread_mutex_unlock(&v->lock);
		g_free(e);
		return;
	}
	e->c = c;
	g_atomic_int_inc(&c->refs);
	g_queue_push_tail(&v->events, e);
	if (!v->event_src) {
		/* at the refresh timer's priority: an idle one could wait
		 * behind refreshes that take a period each on a loaded host */
		v->event_src = g_idle_source_new();
		g_source_set_priority(v->event_src, G_PRIORITY_DEFAULT);
		g_source_set_callback(v->event_src, on_events, v, NULL);
		g_source_attach(v->event_src, v->ctx);
	}
	pthread_mutex_unlock(&v->lock);
}

static void on_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
	struct vnc_client *c = cl->clientData;
	struct vnc_event *e;

	if (!c || c->v->view_only)
		return;
	e = g_new0(struct vnc_event, 1);
	e->type = EV_KEY;
	e->keysym = keysym;
	e->down = down;
	queue_event(c, e);
}

/*
 * QEMU's extended key event (gh/vnc-xtkey.h). A client that lists its
 * pseudo-encoding in SetEncodings is told the server takes it by a
 * FramebufferUpdate with one rectangle of that encoding, as QEMU
 * answers; from then on it sends the key's XT code with each keysym. As
 * in QEMU, a layout chosen with --keymap wins: the server then does not
 * answer, and the client keeps to plain KeyEvents. The extension is
 * registered once for the process (libvncserver keeps one list); it
 * reaches each VM's server through the client's data. All of it runs on
 * the client's thread.
 *
 * The answer goes at the end of the next update, which a modified pixel
 * makes sure of: libvncclient takes the messages a server supports from
 * libvncserver's SupportedMessages rectangle, sent in that update, which
 * lists no QEMU message and replaces what the client knew, so the answer
 * must come after it. The end of an update is also a point where the
 * sender owns the stream (a whole message, the send lock held).
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
	pthread_mutex_lock(&cl->updateMutex);
	sraRgnOr(cl->modifiedRegion, px);
	pthread_mutex_unlock(&cl->updateMutex);
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
	struct vnc_event *e;
	uint32_t keysym, xt;

	if (msg->type != rfbQemuEvent)
		return FALSE;
	if (rfbReadExact(cl, (char *)m, 1) <= 0 || m[0] != 0 ||
	    rfbReadExact(cl, (char *)m + 1, sizeof(m) - 1) <= 0) {
		rfbCloseClient(cl);
		return TRUE;
	}
	keysym = (uint32_t)m[3] << 24 | m[4] << 16 | m[5] << 8 | m[6];
	xt = (uint32_t)m[7] << 24 | m[8] << 16 | m[9] << 8 | m[10];
	if (!c || c->v->view_only)
		return TRUE;
	e = g_new0(struct vnc_event, 1);
	e->down = m[1] || m[2];
	e->code = gh_vnc_xt_to_evdev(xt);
	e->type = e->code ? EV_KEY_CODE : EV_KEY;	/* unknown: keysym */
	e->keysym = keysym;
	queue_event(c, e);
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
 * In rfbClientConnectionGone(), once no other thread holds cl: libvncserver
 * frees a client without its list of extensions (and rfbDisableExtension()
 * unlinks an entry without freeing it).
 */
static void on_client_gone(rfbClientPtr cl)
{
#ifdef GH_LIBVNC_KEEPS_WSCTX
	/* nor, up to 0.9.14, a WebSocket client's context (its issue 571) */
	free(cl->wsctx);
	cl->wsctx = NULL;
#endif
	for (rfbExtensionData **e = &cl->extensions; *e;) {
		rfbExtensionData *x = *e;

		if (x->extension != &xt_extension) {
			e = &x->next;
			continue;
		}
		*e = x->next;
		free(x);
	}
}

static void on_pointer(int mask, int x, int y, rfbClientPtr cl)
{
	struct vnc_client *c = cl->clientData;
	struct vnc_event *e;

	if (!c || c->v->view_only)
		return;
	e = g_new0(struct vnc_event, 1);
	e->type = EV_POINTER;
	e->mask = mask;
	e->x = x;
	e->y = y;
	queue_event(c, e);
}

/* --- clients: a thread each ---------------------------------------------- */

/*
 * Whether cl asked for an update that there is something for: a
 * DesktopSize, or marked pixels inside what it asked for (those outside
 * wait for a request that covers them).
 */
static bool update_wanted(rfbClientPtr cl)
{
	bool want = false;

	pthread_mutex_lock(&cl->updateMutex);
	if (!sraRgnEmpty(cl->requestedRegion)) {
		sraRegionPtr r;

		want = (cl->useNewFBSize && cl->newFBSizePending) ||
		       !sraRgnEmpty(cl->copyRegion);
		if (!want) {
			r = sraRgnCreateRgn(cl->modifiedRegion);
			want = sraRgnAnd(r, cl->requestedRegion);
			sraRgnDestroy(r);
		}
	}
	pthread_mutex_unlock(&cl->updateMutex);
	return want;
}

/* What is marked now, as one update; the framebuffer cannot change under
 * it (sendMutex: see install()). */
static void send_update(rfbClientPtr cl)
{
	sraRegionPtr r;

	bool resize;

	pthread_mutex_lock(&cl->updateMutex);
	r = sraRgnCreateRgn(cl->modifiedRegion);
	resize = cl->useNewFBSize && cl->newFBSizePending;
	pthread_mutex_unlock(&cl->updateMutex);
	pthread_mutex_lock(&cl->sendMutex);
	rfbSendFramebufferUpdate(cl, r);
	pthread_mutex_unlock(&cl->sendMutex);
	sraRgnDestroy(r);
	/*
	 * A DesktopSize goes alone, as the answer to the client's request
	 * (libvncserver leaves the request in place); pixels sent before the
	 * client asked for its new size (RFC 6143 7.8.2) were lost on
	 * libvncclient, which reallocates its framebuffer then.
	 */
	if (resize) {
		pthread_mutex_lock(&cl->updateMutex);
		sraRgnMakeEmpty(cl->requestedRegion);
		pthread_mutex_unlock(&cl->updateMutex);
	}
}

static void drain(int fd)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/*
 * A client's life after its greeting: until libvncserver closes it (an
 * error, a timeout, an exclusive client's ClientInit; rfbCloseClient()
 * sets RFB_SHUTDOWN and writes to its notify pipe) or gh_vnc_free() shuts
 * its socket down. Reading a message or writing an update waits for this
 * client only.
 */
static void serve(struct vnc_client *c, rfbClientPtr cl)
{
	struct pollfd pfd[3] = {
		{ .fd = cl->sock, .events = POLLIN },
		{ .fd = c->wake_fd, .events = POLLIN },
		{ .fd = cl->pipe_notify_client_thread[0], .events = POLLIN },
	};

	while (cl->state != RFB_SHUTDOWN) {
		bool want = cl->state == RFB_NORMAL && update_wanted(cl);

		if (want)
			send_update(cl);
		if (cl->state == RFB_SHUTDOWN)
			break;
		/* a WebSocket frame, or TLS record, read already may hold
		 * more messages than the one taken from it */
		if (webSocketsHasDataInBuffer(cl)) {
			rfbProcessClientMessage(cl);
			continue;
		}
		/* after an update, messages that came meanwhile first */
		if (poll(pfd, 3, want ? 0 : -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			drain(c->wake_fd);
		if (pfd[2].revents)
			drain(pfd[2].fd);
		if (pfd[0].revents)
			rfbProcessClientMessage(cl);
	}
}

static void *client_thread(void *opaque)
{
	struct vnc_client *c = opaque;
	struct gh_vnc *v = c->v;
	struct vnc_event *e;
	rfbClientPtr cl;

	/*
	 * The WebSocket check, the version and the extensions' hooks happen
	 * in here. It closes the socket if it fails.
	 */
	cl = rfbNewClient(v->screen, c->sock);
	if (cl) {
		/* our input callbacks and rfbCloseClient()'s wake-up */
		cl->clientData = c;
		cl->clientGoneHook = on_client_gone;
		cl->viewOnly = v->view_only;
		if (pipe2(cl->pipe_notify_client_thread,
			  O_NONBLOCK | O_CLOEXEC) < 0) {
			cl->pipe_notify_client_thread[0] = -1;
			cl->pipe_notify_client_thread[1] = -1;
		}
		pthread_mutex_lock(&v->lock);
		c->cl = cl;
		pthread_mutex_unlock(&v->lock);
		serve(c, cl);
		pthread_mutex_lock(&v->lock);
		c->cl = NULL;
		pthread_mutex_unlock(&v->lock);
		/* waits for other threads' references; closes the socket
		 * and the notify pipe, frees cl */
		rfbClientConnectionGone(cl);
	}
	e = g_new0(struct vnc_event, 1);
	e->type = EV_GONE;
	queue_event(c, e);
	pthread_mutex_lock(&v->lock);
	g_queue_unlink(&v->clients, &c->link);
	close(c->shut_fd);
	close(c->wake_fd);
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	client_unref(c);
	return NULL;
}

/*
 * A connection: its thread greets it (off the main loop: libvncserver
 * waits up to 100 ms for a WebSocket request there).
 */
static void start_client(struct gh_vnc *v, int sock)
{
	struct vnc_client *c = g_new0(struct vnc_client, 1);
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	pthread_attr_t attr;
	pthread_t tid;
	int ret;

	c->v = v;
	c->refs = 1;
	c->sock = sock;
	c->link.data = c;
	gh_vnc_keys_init(&c->keys, v->km, emit_key, v);
	if (getpeername(sock, (struct sockaddr *)&sa, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&sa, len, c->addr, sizeof(c->addr),
			NULL, 0, NI_NUMERICHOST))
		g_strlcpy(c->addr, "?", sizeof(c->addr));
	c->shut_fd = fcntl(sock, F_DUPFD_CLOEXEC, 0);
	c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->shut_fd < 0 || c->wake_fd < 0)
		goto err;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&v->lock);
	ret = pthread_create(&tid, &attr, client_thread, c);
	if (!ret)
		g_queue_push_tail_link(&v->clients, &c->link);
	pthread_mutex_unlock(&v->lock);
	pthread_attr_destroy(&attr);
	if (ret)
		goto err;
	if (!v->nconn++) {
		v->timer = g_timeout_source_new(REFRESH_MS);
		g_source_set_callback(v->timer, on_timer, v, NULL);
		g_source_attach(v->timer, v->ctx);
	}
	return;
err:
	if (c->shut_fd >= 0)
		close(c->shut_fd);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	close(sock);
	g_free(c);
}

static void on_accepted(void *opaque, int sock)
{
	struct gh_vnc *v = opaque;
	const int one = 1;

	if (sock < 0)
		return;		/* out of fds: the listener tries again later */
	/*
	 * libvncserver puts each client's descriptor in an fd_set (and aborts
	 * past FD_SETSIZE); and a bound on clients keeps the descriptors low
	 * and the threads few.
	 */
	if (sock >= FD_SETSIZE || v->nconn >= MAX_CLIENTS) {
		close(sock);
		return;
	}
	setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* the first update shows the screen as it is now (while clients are
	 * connected, the refresh timer keeps it so) */
	if (!v->timer)
		refresh(v);
	start_client(v, sock);
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
	for (unsigned i = 0; i < v->nlisten; i++)
		gh_unix_listener_close(&v->listen[i]);
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
		    listen(fd, LISTEN_BACKLOG) < 0) {
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
		v->listen[v->nlisten++] = (struct gh_unix_listener){ .fd = fd };
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
	for (unsigned i = 0; i < v->nlisten; i++)
		gh_unix_listener_watch(&v->listen[i], v->ctx, on_accepted, v);
	return 0;
}

/* --- the server ----------------------------------------------------------- */

int gh_vnc_new(const struct gh_vnc_config *c, struct gh_display *d,
	       struct gh_input *in, GMainContext *ctx, struct gh_vnc **out,
	       struct gh_error *err)
{
	struct gh_display_surface s;
	rfbScreenInfoPtr scr;
	struct gh_vnc *v;
	int argc = 0, ret;

	if (!d)
		return gh_error_set(err, -ENODEV, "VNC needs a display");
	v = g_new0(struct gh_vnc, 1);
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	g_queue_init(&v->keyq);
	g_queue_init(&v->clients);
	g_queue_init(&v->events);
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
	v->surf = s;
	v->fb = fb_new(&s);
	scr = rfbGetScreen(&argc, NULL, (int)s.width, (int)s.height, 8, 3, 4);
	if (!scr) {
		ret = gh_error_set(err, -ENOMEM, "cannot make the VNC screen");
		goto err_free;
	}
	v->screen = scr;
	scr->screenData = v;
	scr->desktopName = "guesthouse";
	/* we listen and accept; libvncserver opens no socket of its own */
	scr->port = 0;
	scr->ipv6port = 0;
	scr->autoPort = FALSE;
	scr->httpPort = 0;
	scr->httpDir = NULL;
	/*
	 * Clients have threads (ours): rfbCloseClient() then only marks a
	 * client closing and wakes its thread, which closes the socket, and
	 * rfbClientConnectionGone() waits for other threads' references.
	 */
	scr->backgroundLoop = TRUE;
	/* a request for exclusive access disconnects the other clients */
	scr->alwaysShared = FALSE;
	scr->neverShared = FALSE;
	scr->dontDisconnect = FALSE;
	/* the refresh timer paces updates already; pointer events go out
	 * as they come (a deferred one would need rfbProcessEvents()) */
	scr->deferUpdateTime = 0;
	scr->deferPtrUpdateTime = 0;
	scr->maxClientWait = MAX_CLIENT_WAIT_MS;
	scr->kbdAddEvent = on_key;
	scr->ptrAddEvent = on_pointer;
	scr->displayFinishedHook = on_update_sent;
	/*
	 * No server cursor: libvncserver draws one into the framebuffer for
	 * clients that cannot take a cursor shape. The PS/2 mouse's guest
	 * draws its own pointer.
	 */
	scr->cursor = NULL;
	if (c->password) {
		v->passwords[0] = g_strdup(c->password);
		scr->authPasswdData = v->passwords;
		scr->passwordCheck = rfbCheckPasswordByList;
	}
	{
		static GOnce once = G_ONCE_INIT;

		g_once(&once, register_xt, NULL);
	}
	rfbInitServer(scr);
	/*
	 * Our framebuffer, XRGB8888 in host order: red at bit 16 (libvncserver's
	 * default is red at bit 0 on little-endian hosts). No client yet.
	 */
	rfbNewFramebuffer(scr, (char *)v->fb->data, (int)v->fb->w,
			  (int)v->fb->h, 8, 3, 4);
	scr->serverFormat.redShift = 16;
	scr->serverFormat.greenShift = 8;
	scr->serverFormat.blueShift = 0;
	ret = pthread_create(&v->switcher, NULL, switcher, v);
	if (ret) {
		ret = gh_error_set(err, -ret, "cannot start the VNC server's "
				   "thread: %s", g_strerror(ret));
		goto err_free;
	}
	v->switcher_started = true;
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

/* Ends every client's thread and the switch thread, and waits for them. */
static void stop_threads(struct gh_vnc *v)
{
	pthread_mutex_lock(&v->lock);
	v->quit = true;
	/* a read or a write in progress fails, a poll() returns */
	for (GList *l = v->clients.head; l; l = l->next)
		shutdown(((struct vnc_client *)l->data)->shut_fd, SHUT_RDWR);
	pthread_cond_broadcast(&v->cond);
	while (!g_queue_is_empty(&v->clients))
		pthread_cond_wait(&v->cond, &v->lock);
	pthread_mutex_unlock(&v->lock);
	if (v->switcher_started)
		pthread_join(v->switcher, NULL);
	/* what they queued last: keys, and their releases */
	if (v->event_src) {
		g_source_destroy(v->event_src);
		g_source_unref(v->event_src);
		v->event_src = NULL;
	}
	while (!g_queue_is_empty(&v->events))
		handle_event(v, g_queue_pop_head(&v->events));
}

void gh_vnc_free(struct gh_vnc *v)
{
	if (!v)
		return;
	close_listeners(v);
	if (v->listening)
		gh_display_remove_listener(v->d, &listener_ops, v);
	stop_threads(v);
	stop_timer(v);
	if (v->screen) {
		/* no client is left; and no listener thread of its own to
		 * join, which it would with backgroundLoop */
		v->screen->backgroundLoop = FALSE;
		rfbShutdownServer(v->screen, TRUE);
		rfbScreenCleanup(v->screen);
	}
	if (v->key_timer) {
		g_source_destroy(v->key_timer);
		g_source_unref(v->key_timer);
	}
	while (!g_queue_is_empty(&v->keyq))
		send_key(v, g_queue_pop_head(&v->keyq));
	fb_free(v->fb);
	fb_free(v->next);
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
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
	unsigned n = 0;

	pthread_mutex_lock(&v->lock);
	for (GList *l = v->clients.head; l; l = l->next) {
		struct vnc_client *c = l->data;
		int state = c->cl ? c->cl->state : RFB_PROTOCOL_VERSION;

		if (state == RFB_SHUTDOWN)
			continue;
		g_string_append_printf(out, "client %s%s\n", c->addr,
				       state == RFB_NORMAL ? "" :
				       " (connecting)");
		n++;
	}
	pthread_mutex_unlock(&v->lock);
	return n;
}
