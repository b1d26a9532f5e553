/*
 * XT scancodes as QEMU's extended key event carries them (the RFB
 * community's rfbproto, "QEMU Extended Key Event Message", pseudo-encoding
 * -258): a client that knows the physical key sends its scancode set 1
 * make code with each keysym, a 0xE0-prefixed code with bit 7 set
 * (0xE0 0x48, Up, is 0xC8). The guest then gets the key the user pressed,
 * whatever layout the client or --keymap assumes, as on a real keyboard.
 */
#ifndef GH_VNC_XTKEY_H
#define GH_VNC_XTKEY_H

#include <stdint.h>

/* The evdev key code (gh/input.h) of an XT code, or 0 if none. */
unsigned gh_vnc_xt_to_evdev(uint32_t xt);

#endif
