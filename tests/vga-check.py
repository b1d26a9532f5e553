#!/usr/bin/env python3
"""Checks a screendump of guest-vga against the pixels its screen must have.

usage: vga-check.py SCREEN IMAGE [IMAGE...]
       vga-check.py --drawn WxH IMAGE
  SCREEN  text | 12h | 13h | vbe (the guest's vga.step)
  IMAGE   a PNG (8-bit RGB or RGBA, as --screendump writes) or a binary PPM
          (P6, as QEMU's screendump writes)

The expected pixels follow tests/vga-modes.h, spelled again here: the DAC
palette, the font, the text cells, mode 12h's planes, mode 13h's and the
VBE mode's pixels,
with the 6-to-8-bit DAC expansion QEMU uses. Prints one line per image and
exits 1 if any image differs anywhere (with the first differences).
With --drawn, the image need only be WxH with something drawn on it (at
least 1 % of its pixels not black): a screen whose content is not ours to
know (a kernel's console).
"""
import struct
import sys
import zlib


def c6_to_8(v):
    v &= 0x3F
    return (v << 2) | ((v & 1) << 1) | (v & 1)


def dac(i):
    r, g, b = i & 0x3F, (i * 3 + 5) & 0x3F, (i * 7 + 11) & 0x3F
    return (c6_to_8(r), c6_to_8(g), c6_to_8(b))


def font(c, y):
    return ((c * 37) ^ (y * 73) ^ (c >> 3) ^ (y << 5)) & 0xFF


def text_char(r, c):
    ch = ((r * 80 + c) * 7 + 1) & 0xFF
    return ch ^ 0x40 if (ch & 0xF0) == 0xB0 else ch


def text_attr(r, c):
    return (r * 5 + c) & 0x7F


# mode 03h's attribute palette
AC = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07,
      0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F]


def expect_text():
    w, h = 720, 400
    pix = bytearray(w * h * 3)
    for y in range(h):
        r, line = divmod(y, 16)
        for x in range(w):
            c, dot = divmod(x, 9)
            ch, attr = text_char(r, c), text_attr(r, c)
            bits = font(ch, line)
            if dot < 8:
                on = bits & (0x80 >> dot)
            else:
                # the ninth dot repeats the eighth for line graphics
                on = 0xC0 <= ch <= 0xDF and bits & 1
            col = dac(AC[attr & 0xF] if on else AC[attr >> 4])
            o = (y * w + x) * 3
            pix[o:o + 3] = bytes(col)
    return w, h, bytes(pix)


def plane(p, off):
    return ((off * (p + 3)) ^ (off >> (p + 5)) ^ (p * 0x55)) & 0xFF


def expect_12h():
    w, h = 640, 480
    pal = [bytes(dac(AC[c])) for c in range(16)]
    planes = [[plane(p, off) for off in range(80 * 480)] for p in range(4)]
    pix = bytearray(w * h * 3)
    for y in range(h):
        for x in range(w):
            off, bit = y * 80 + x // 8, 7 - x % 8
            c = sum(((planes[p][off] >> bit) & 1) << p for p in range(4))
            o = (y * w + x) * 3
            pix[o:o + 3] = pal[c]
    return w, h, bytes(pix)


def expect_13h():
    w, h = 640, 400
    pal = [bytes(dac(i)) for i in range(256)]
    pix = bytearray(w * h * 3)
    for y in range(h):
        sy = y // 2
        for x in range(w):
            sx = x // 2
            v = (sx + 2 * sy + (sx * sy >> 4)) & 0xFF
            o = (y * w + x) * 3
            pix[o:o + 3] = pal[v]
    return w, h, bytes(pix)


def expect_vbe():
    w, h = 1024, 768
    pix = bytearray(w * h * 3)
    for y in range(h):
        g = (y * 5) & 0xFF
        for x in range(w):
            o = (y * w + x) * 3
            pix[o] = (x * 3) & 0xFF
            pix[o + 1] = g
            pix[o + 2] = (x ^ y) & 0xFF
    return w, h, bytes(pix)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(data):
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        raise ValueError('not a PNG')
    pos, idat, hdr = 8, b'', None
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if zlib.crc32(kind + body) != struct.unpack('>I', data[pos + 8 + n:pos + 12 + n])[0]:
            raise ValueError('bad CRC in %s' % kind.decode())
        if kind == b'IHDR':
            hdr = struct.unpack('>IIBBBBB', body)
        elif kind == b'IDAT':
            idat += body
        elif kind == b'IEND':
            break
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError('unsupported PNG (depth %d, type %d)' % (depth, ctype))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    out = bytearray(w * h * 3)
    prev = bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 0xFF
            elif f == 4:
                line[i] = (line[i] + paeth(a, b, c)) & 0xFF
        prev = line
        for x in range(w):
            o = (y * w + x) * 3
            out[o:o + 3] = line[x * bpp:x * bpp + 3]
    return w, h, bytes(out)


def read_ppm(data):
    fields, pos = [], 2
    if data[:2] != b'P6':
        raise ValueError('not a binary PPM')
    while len(fields) < 3:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b'#':
            pos = data.index(b'\n', pos) + 1
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(int(data[pos:end]))
        pos = end
    pos += 1
    w, h, maxval = fields
    if maxval != 255:
        raise ValueError('PPM maxval %d' % maxval)
    return w, h, data[pos:pos + w * h * 3]


def drawn(size, path):
    data = open(path, 'rb').read()
    w, h, pix = read_ppm(data) if data[:2] == b'P6' else read_png(data)
    ww, wh = (int(v) for v in size.split('x'))
    lit = sum(1 for i in range(0, len(pix), 3) if pix[i:i + 3] != b'\0\0\0')
    ok = (w, h) == (ww, wh) and lit * 100 >= w * h
    print('%s: %s: %dx%d, %d pixels not black' % ('ok' if ok else 'FAIL', path, w, h, lit))
    sys.exit(0 if ok else 1)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    if sys.argv[1] == '--drawn' and len(sys.argv) == 4:
        drawn(sys.argv[2], sys.argv[3])
    screen = sys.argv[1]
    want = {'text': expect_text, '12h': expect_12h, '13h': expect_13h,
            'vbe': expect_vbe}[screen]()
    ww, wh, wpix = want
    ok = True
    for path in sys.argv[2:]:
        data = open(path, 'rb').read()
        w, h, pix = read_ppm(data) if data[:2] == b'P6' else read_png(data)
        if (w, h) != (ww, wh):
            print('FAIL: %s: %dx%d, expected %dx%d' % (path, w, h, ww, wh))
            ok = False
            continue
        bad = [] if pix == wpix else [
            i for i in range(w * h) if pix[3 * i:3 * i + 3] != wpix[3 * i:3 * i + 3]]
        if bad:
            ok = False
            print('FAIL: %s: %d of %d pixels differ' % (path, len(bad), w * h))
            for i in bad[:5]:
                print('  (%d, %d): %s, expected %s' % (i % w, i // w, pix[3 * i:3 * i + 3].hex(),
                                                      wpix[3 * i:3 * i + 3].hex()))
        else:
            print('ok: %s: %s screen, %dx%d, every pixel as expected' % (path, screen, w, h))
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
