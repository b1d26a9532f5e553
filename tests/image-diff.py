#!/usr/bin/env python3
"""
Compares a VM's screen as a VNC client got it with the VMM's screendump, for
tests/vnc.sh. Reads PNG and PPM (with tests/vga-check.py's readers) and XWD
(xwd's dumps of an X screen, ZPixmap, 24 or 32 bits per pixel).

usage: image-diff.py [--max-mean M] [--find] WANT GOT
  WANT   the screendump
  GOT    the client's picture: by default the same size, and every pixel
         must be WANT's (--max-mean M instead accepts a mean difference of at
         most M per channel and size: for a lossy JPEG from vncsnapshot)
  --find GOT is a larger picture (a viewer's window on an X screen): WANT
         must appear in it, whole and pixel for pixel, somewhere
Prints one line saying what matched; exit 0 when it matched, 1 otherwise.
"""
import importlib.util
import os
import struct
import sys


def _vga_check():
    spec = importlib.util.spec_from_file_location(
        'vga_check', os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                  'vga-check.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def read_xwd(data):
    """X Window Dump (X11's XWDFile.h): a header of CARD32 fields, the
    window's name, the colours, then the pixels."""
    (hsize, version, fmt, _depth, w, h, _xoff, byte_order, _unit, _bit_order,
     _pad, bpp, bpl, _vclass, rmask, gmask, bmask, _bits_rgb, _cmap,
     ncolors) = struct.unpack('>20I', data[:80])
    if version != 7 or fmt != 2 or bpp not in (24, 32):
        raise ValueError('unsupported XWD (version %d, format %d, %d bpp)' %
                         (version, fmt, bpp))
    pos = hsize + ncolors * 12
    order = '<' if byte_order == 0 else '>'
    shifts = [(m, (m & -m).bit_length() - 1) for m in (rmask, gmask, bmask)]
    out = bytearray(w * h * 3)
    step = bpp // 8
    for y in range(h):
        row = data[pos + y * bpl:pos + y * bpl + w * step]
        if step == 4:
            vals = struct.unpack(order + '%dI' % w, row)
        else:
            vals = [int.from_bytes(row[i:i + 3], 'little' if order == '<' else 'big')
                    for i in range(0, len(row), 3)]
        o = y * w * 3
        for v in vals:
            out[o] = (v & shifts[0][0]) >> shifts[0][1]
            out[o + 1] = (v & shifts[1][0]) >> shifts[1][1]
            out[o + 2] = (v & shifts[2][0]) >> shifts[2][1]
            o += 3
    return w, h, bytes(out)


def read_image(path, vga):
    data = open(path, 'rb').read()
    if data[:2] == b'P6':
        return vga.read_ppm(data)
    if data[:8] == b'\x89PNG\r\n\x1a\n':
        return vga.read_png(data)
    return read_xwd(data)


def find(want, got):
    """(x, y) where want sits in got, pixel for pixel, or None."""
    ww, wh, wpix = want
    gw, gh, gpix = got
    first = wpix[:ww * 3]
    for y in range(gh - wh + 1):
        row = gpix[y * gw * 3:(y + 1) * gw * 3]
        x = row.find(first)
        while x >= 0:
            if x % 3 == 0 and x // 3 + ww <= gw and all(
                    gpix[((y + r) * gw + x // 3) * 3:((y + r) * gw + x // 3 + ww) * 3] ==
                    wpix[r * ww * 3:(r + 1) * ww * 3] for r in range(wh)):
                return x // 3, y
            x = row.find(first, x + 1)
    return None


def main(argv):
    max_mean = None
    finding = False
    while argv and argv[0].startswith('--'):
        if argv[0] == '--max-mean' and len(argv) > 1:
            max_mean = float(argv[1])
            argv = argv[2:]
        elif argv[0] == '--find':
            finding = True
            argv = argv[1:]
        else:
            sys.exit(__doc__)
    if len(argv) != 2:
        sys.exit(__doc__)
    vga = _vga_check()
    want = read_image(argv[0], vga)
    got = read_image(argv[1], vga)
    ww, wh, wpix = want
    gw, gh, gpix = got
    if finding:
        at = find(want, got)
        if at is None:
            print('FAIL: %s (%dx%d) is nowhere in %s (%dx%d)' %
                  (argv[0], ww, wh, argv[1], gw, gh))
            return 1
        print('ok: %s (%dx%d) is in %s (%dx%d) at (%d, %d), every pixel' %
              (argv[0], ww, wh, argv[1], gw, gh, at[0], at[1]))
        return 0
    if (ww, wh) != (gw, gh):
        print('FAIL: %s is %dx%d, %s is %dx%d' % (argv[1], gw, gh, argv[0], ww, wh))
        return 1
    if max_mean is None:
        if wpix == gpix:
            print('ok: %s and %s: %dx%d, every pixel the same' % (argv[0], argv[1], ww, wh))
            return 0
        bad = [i for i in range(ww * wh) if wpix[3 * i:3 * i + 3] != gpix[3 * i:3 * i + 3]]
        print('FAIL: %d of %d pixels differ; the first at (%d, %d): %s, want %s' %
              (len(bad), ww * wh, bad[0] % ww, bad[0] // ww,
               gpix[3 * bad[0]:3 * bad[0] + 3].hex(), wpix[3 * bad[0]:3 * bad[0] + 3].hex()))
        return 1
    mean = sum(abs(a - b) for a, b in zip(wpix, gpix)) / len(wpix)
    ok = mean <= max_mean
    print('%s: %s and %s: %dx%d, mean difference %.2f per channel (at most %g)' %
          ('ok' if ok else 'FAIL', argv[0], argv[1], ww, wh, mean, max_mean))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
