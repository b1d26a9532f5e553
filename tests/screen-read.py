#!/usr/bin/env python3
"""Reads what a graphics screen shows, for the installer tests.

  screen-read.py grub FONT.pf2 SCREEN.png
      The text GRUB's gfxterm draws with the font FONT.pf2 (the installer's
      unifont), over a background image: the grey or white dots (the menu's
      normal and highlighted colours) of cells of the font's size, on the
      grid origin where most match, against the glyphs of ASCII.
  screen-read.py unifont FONT.pf2 SCREEN.png
      The same for a console drawing with that font in cells of two colours
      from the top left (the installer's console, GNU Unifont too).
  screen-read.py splash SPLASH.png SCREEN.png
      Prints "W H SAME BAR": the screen's size, the share of its pixels
      equal to the splash image's (syslinux's vesamenu draws its menu over
      it), and how many of its rows hold a run of at least 256 pixels of
      one colour where the splash has others (the highlight bar of the
      selected entry, blended over the splash, in an otherwise see-through
      menu box).

PNGs are decoded by vga-check.py (8-bit RGB or RGBA, as ours and the
installer's splash.png are).
"""
import importlib.util
import os
import struct
import sys

_spec = importlib.util.spec_from_file_location(
    'vga_check', os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              'vga-check.py'))
vga_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vga_check)


def png_size(path):
    with open(path, 'rb') as f:
        return struct.unpack('>II', f.read(24)[16:24])


def read_png(path):
    """(w, h, rows of (r, g, b)), with vga-check.py's decoder."""
    with open(path, 'rb') as f:
        w, h, px = vga_check.read_png(f.read())
    return w, h, [[tuple(px[(y * w + x) * 3:(y * w + x) * 3 + 3])
                   for x in range(w)] for y in range(h)]


def pf2_font(path):
    """ASCII of a GRUB PF2 font as cell bitmaps, and the cell's size."""
    with open(path, 'rb') as f:
        data = f.read()
    pos, sec, index = 0, {}, []
    while pos + 8 <= len(data):
        name, n = data[pos:pos + 4], struct.unpack('>I', data[pos + 4:pos + 8])[0]
        if name == b'DATA':
            break
        sec[name] = data[pos + 8:pos + 8 + n]
        pos += 8 + n
    asc = struct.unpack('>H', sec[b'ASCE'])[0]
    desc = struct.unpack('>H', sec[b'DESC'])[0]
    chix = sec[b'CHIX']
    cw, ch = 8, asc + desc
    glyphs = {}
    for i in range(0, len(chix), 9):
        code, _, off = struct.unpack('>IBI', chix[i:i + 9])
        if not 0x21 <= code < 0x7f:
            continue
        w, h, xo, yo, dw = struct.unpack('>HHhhh', data[off:off + 10])
        raw = int.from_bytes(data[off + 10:off + 10 + (w * h + 7) // 8], 'big')
        nbits = ((w * h + 7) // 8) * 8
        cell = [[0] * cw for _ in range(ch)]
        for y in range(h):
            for x in range(w):
                if raw >> (nbits - 1 - (y * w + x)) & 1:
                    cx, cy = x + xo, asc - yo - h + y
                    if 0 <= cx < cw and 0 <= cy < ch:
                        cell[cy][cx] = 1
        v = 0
        for r in cell:
            for b in r:
                v = (v << 1) | b
        glyphs[v] = chr(code)
    return glyphs, cw, ch


def read_unifont_text(font, w, h, rows, over_image):
    glyphs, cw, ch = font
    # over an image (GRUB's menu): the light grey and white dots; else the
    # dots of each cell not in its most common colour
    mask = []
    for r in rows:
        v = 0
        for p in r:
            v = (v << 1) | (p[0] == p[1] == p[2] and p[0] >= 0xa0)
        mask.append(v)

    def cell(x, y):
        v = 0
        if over_image:
            for yy in range(y, y + ch):
                v = (v << cw) | ((mask[yy] >> (w - x - cw)) & ((1 << cw) - 1))
            return v
        counts = {}
        for yy in range(y, y + ch):
            for p in rows[yy][x:x + cw]:
                counts[p] = counts.get(p, 0) + 1
        bg = max(counts, key=counts.get)
        for yy in range(y, y + ch):
            for p in rows[yy][x:x + cw]:
                v = (v << 1) | (p != bg)
        return v

    # gfxterm centres its grid of cells: take the origin most cells match at
    best = None
    for oy in range(ch if over_image else 1):
        for ox in range(cw if over_image else 1):
            hits, lines = 0, []
            for y in range(oy, h - ch + 1, ch):
                line = ''
                for x in range(ox, w - cw + 1, cw):
                    v = cell(x, y)
                    c = ' ' if not v else glyphs.get(v, '?')
                    hits += c not in ' ?'
                    line += c
                lines.append(line.rstrip())
            if best is None or hits > best[0]:
                best = (hits, lines)
    return '\n'.join(best[1])


def longest_run(row, splash_row):
    """The longest run of pixels of one colour in a row, none of them the
    splash's."""
    best = run = 0
    last = None
    for px, sp in zip(row, splash_row):
        if px == sp:
            run, last = 0, None
            continue
        run = run + 1 if px == last else 1
        last = px
        best = max(best, run)
    return best


def main(argv):
    if len(argv) == 4 and argv[1] in ('grub', 'unifont'):
        w, h, rows = read_png(argv[3])
        print(read_unifont_text(pf2_font(argv[2]), w, h, rows,
                                argv[1] == 'grub'))
        return 0
    if len(argv) == 4 and argv[1] == 'splash':
        w, h = png_size(argv[3])
        same, bar = 0, 0
        if (w, h) == png_size(argv[2]):
            sw, sh, srows = read_png(argv[2])
            w, h, rows = read_png(argv[3])
            same = sum(1 for y in range(h) for x in range(w)
                       if rows[y][x] == srows[y][x])
            bar = sum(1 for y in range(h)
                      if longest_run(rows[y], srows[y]) >= 256)
        print(w, h, '%.4f' % (same / (w * h)), bar)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
