/* The standard VGA (devices/display/vga.c): what frontends may ask of it. */
#ifndef GH_VGA_H
#define GH_VGA_H

struct gh_display;

/* The console the VGA renders into; dev is the device's state. */
struct gh_display *gh_vga_display(void *dev);

#endif
