#!/usr/bin/env python3
"""The VNC server against clients that misbehave: malformed and truncated
messages, absurd requests, input out of range, clients that vanish in the
middle of an update, many at once, and a mode change (DesktopSize) while
they are connected. The VMM (an ASan+UBSan build in the suite) must keep
serving, answer a good client afterwards with the screen --screendump
writes, and exit as its timeout says: a crash or a leak would change its
exit status. Usage: vnc-robust.py GUESTHOUSE
"""
import importlib.util
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from vnc_display import free_display

n = 0
fails = 0


def ok(cond, what):
    global n, fails
    n += 1
    print('%s %d - %s' % ('ok' if cond else 'not ok', n, what), flush=True)
    if not cond:
        fails += 1


class Client:
    """Just enough RFB 3.8 (RFC 6143) to shake hands and read updates."""

    def __init__(self, port, timeout=10):
        self.s = socket.create_connection(('127.0.0.1', port),
                                          timeout=timeout)
        self.buf = b''

    def recv(self, k):
        while len(self.buf) < k:
            d = self.s.recv(65536)
            if not d:
                raise EOFError('server closed')
            self.buf += d
        out, self.buf = self.buf[:k], self.buf[k:]
        return out

    def handshake(self):
        assert self.recv(12) == b'RFB 003.008\n'
        self.s.sendall(b'RFB 003.008\n')
        types = self.recv(self.recv(1)[0])
        assert 1 in types, types
        self.s.sendall(b'\x01')
        assert self.recv(4) == bytes(4)
        self.s.sendall(b'\x01')            # shared
        w, h = struct.unpack('>HH', self.recv(4))
        fmt = self.recv(16)
        self.name = self.recv(struct.unpack('>I', self.recv(4))[0])
        self.w, self.h = w, h
        self.fb = bytearray(w * h * 4)
        return fmt

    def send(self, data):
        self.s.sendall(data)

    def encodings(self, *encs):
        self.send(struct.pack('>BxH', 2, len(encs)) +
                  b''.join(struct.pack('>i', e) for e in encs))

    def request(self, incremental):
        self.send(struct.pack('>BBHHHH', 3, incremental, 0, 0, self.w,
                              self.h))

    def update(self):
        """Reads one server message; returns the sizes DesktopSize set."""
        sizes = []
        t = self.recv(1)[0]
        if t == 0:
            nrects = struct.unpack('>xH', self.recv(3))[0]
            for _ in range(nrects):
                x, y, w, h, enc = struct.unpack('>HHHHi', self.recv(12))
                if enc == 0:
                    data = self.recv(w * h * 4)
                    for row in range(h):
                        o = ((y + row) * self.w + x) * 4
                        self.fb[o:o + w * 4] = data[row * w * 4:
                                                    (row + 1) * w * 4]
                elif enc == -223:
                    self.w, self.h = w, h
                    self.fb = bytearray(w * h * 4)
                    sizes.append((w, h))
                else:
                    raise ValueError('encoding %d' % enc)
        elif t == 2:
            pass                           # bell
        elif t == 3:
            self.recv(3)
            self.recv(struct.unpack('>I', self.recv(4))[0])
        else:
            raise ValueError('message %d' % t)
        return sizes

    def close(self):
        self.s.close()


def mute_client(port):
    """A client that asks for raw updates of the whole screen again and
    again and reads none (a small receive buffer: the server's writes
    block soon)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(('127.0.0.1', port))
    c = Client.__new__(Client)
    c.s, c.buf = s, b''
    c.handshake()
    c.encodings(0)
    for _ in range(40):
        c.request(0)
    return c


def monitor(path, line):
    """One monitor command; its reply's lines up to "ok" or "error"."""
    m = socket.socket(socket.AF_UNIX)
    m.connect(path)
    f = m.makefile('rw')
    while f.readline().rstrip('\n') != 'ok':
        pass
    f.write(line + '\n')
    f.flush()
    lines = []
    while True:
        l = f.readline().rstrip('\n')
        if not l or l == 'ok' or l.startswith('error'):
            break
        lines.append(l)
    m.close()
    return lines


def misbehave(port, name, body):
    """One client doing something wrong; the server may drop it."""
    try:
        c = Client(port, timeout=3)
        body(c)
        time.sleep(0.05)
        c.close()
    except (OSError, EOFError, AssertionError):
        pass


def main():
    gh = sys.argv[1]
    random.seed(6)
    d = free_display()
    if d is None:
        print('1..0 # SKIP no free VNC display from :60')
        return 0
    port = 5900 + d
    tmp = tempfile.mkdtemp(prefix='gh-vnc-robust.')
    shot = os.path.join(tmp, 'shot.png')
    mon = os.path.join(tmp, 'mon')
    print('1..8', flush=True)

    # the client that is connected from the start, through the mode
    # change SeaBIOS's VGA BIOS makes (the surface starts 640x480)
    vmm = subprocess.Popen([gh, 'run', '--accel', 'soft', '--firmware',
                            'seabios', '--serial', 'none', '--timeout', '25',
                            '--vnc', ':%d' % d, '--monitor', 'unix:' + mon],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    first = None
    for _ in range(400):
        try:
            first = Client(port)
            break
        except OSError:
            time.sleep(0.02)
    if not first:
        ok(False, 'connects')
        vmm.kill()
        return 1
    first.handshake()
    size0 = (first.w, first.h)
    # a client that stalls in the middle of an update of the boot screen:
    # the mode change waits for it until the server gives up on it; the
    # monitor must not, and the first client must still be told
    mute = mute_client(port)
    probes, done = [], threading.Event()

    def probe_monitor():
        while not done.is_set():
            t = time.monotonic()
            try:
                monitor(mon, 'info vnc')
            except OSError:
                pass
            probes.append(time.monotonic() - t)
            time.sleep(0.2)
    pm = threading.Thread(target=probe_monitor)
    pm.start()
    first.encodings(0, -223)
    # its first update read now, and no more asked for until the others
    # are done: a client that does not read stalls the server's loop
    first.request(0)
    sizes = first.update()

    cases = {
        'a version that is not RFB':
            lambda c: (c.recv(12), c.send(b'XYZ 999.999\n')),
        'random bytes for a version':
            lambda c: (c.recv(12), c.send(random.randbytes(300))),
        'a security type not offered':
            lambda c: (c.recv(12), c.send(b'RFB 003.008\n'),
                       c.recv(c.recv(1)[0]), c.send(b'\x77')),
        'an unknown message type':
            lambda c: (c.handshake(), c.send(b'\xee' + bytes(40))),
        '65535 encodings announced, 10 sent':
            lambda c: (c.handshake(), c.send(struct.pack('>BxH', 2, 65535) +
                                             bytes(40))),
        'cut text of 4 GiB announced':
            lambda c: (c.handshake(), c.send(struct.pack('>BxxxI', 6,
                                                         0xffffffff) + b'ab')),
        'a pixel format of 7 bits per pixel':
            lambda c: (c.handshake(), c.send(struct.pack(
                '>BxxxBBBBHHHBBBxxx', 0, 7, 99, 0, 1, 0, 0, 0, 200, 200,
                200)), c.request(0)),
        'an update request far outside the screen':
            lambda c: (c.handshake(), c.send(struct.pack(
                '>BBHHHH', 3, 0, 60000, 60000, 65535, 65535))),
        'pointer events outside the screen, all buttons':
            lambda c: (c.handshake(), [c.send(struct.pack('>BBHH', 5, b, x, y))
                                       for x, y, b in ((65535, 65535, 255),
                                                       (0, 0, 0),
                                                       (3000, 5, 8))]),
        'keys held, then gone':
            lambda c: (c.handshake(), [c.send(struct.pack('>BBxxI', 4, 1, k))
                                       for k in (0xffe1, 0xffe3, 0x61, 0xff13,
                                                 0xff61, 0x12345678)]),
        'half a message, then gone':
            lambda c: (c.handshake(), c.send(b'\x03\x00\x00')),
        'random bytes after the handshake':
            lambda c: (c.handshake(), c.send(random.randbytes(3000))),
        'a full update requested, then gone before it is read':
            lambda c: (c.handshake(), c.encodings(0), c.request(0)),
    }
    for name, body in cases.items():
        misbehave(port, name, body)
    # many clients asking for full updates and dropping in the middle
    for i in range(20):
        def drop(c):
            c.handshake()
            c.encodings(random.choice((0, 5, 7, 16)), -223)
            c.request(0)
            c.recv(random.randrange(1, 2000))
        misbehave(port, 'dropped mid-update', drop)

    # the first client is still served: it follows the mode change
    deadline = time.monotonic() + 15
    try:
        first.request(1)
        while (first.w, first.h) != (720, 400) and \
                time.monotonic() < deadline:
            sizes += first.update()
            first.request(1)
    except (OSError, EOFError) as e:
        sizes.append(str(e))
    ok((first.w, first.h) == (720, 400),
       'the first client got the text mode: %dx%d, then %s' %
       (size0[0], size0[1], sizes))
    ok(size0 == (720, 400) or (720, 400) in sizes,
       'a mode change while it was connected came as DesktopSize')
    first.close()
    done.set()
    pm.join()
    mute.close()
    ok(probes and max(probes) < 0.5,
       'the monitor answered %d times within %.3f s at most (limit 0.5 s) '
       'while clients misbehaved, one stalled across the mode change' %
       (len(probes), max(probes) if probes else 99))

    # a flood of connections: past the server's bound (64 clients) each
    # is closed at once, with no greeting, and the VMM keeps its
    # descriptors; those under it are greeted
    flood = []
    for _ in range(80):
        try:
            flood.append(socket.create_connection(('127.0.0.1', port),
                                                  timeout=10))
        except OSError:
            break
    greeted = refused = 0
    for c in flood:
        try:
            if c.recv(12) == b'RFB 003.008\n':
                greeted += 1
            else:
                refused += 1
        except OSError:
            refused += 1
    for c in flood:
        c.close()
    ok(len(flood) == 80 and greeted <= 64 and greeted + refused == 80 and
       refused >= 16,
       '80 connections at once: %d greeted, %d closed unanswered (at most '
       '64 clients)' % (greeted, refused))
    time.sleep(0.5)

    # a good client afterwards sees the screen as --screendump does (the
    # text cursor blinks: a few tries to catch the same phase)
    spec = importlib.util.spec_from_file_location(
        'vga_check', os.path.join(os.path.dirname(__file__), 'vga-check.py'))
    vc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vc)
    good = Client(port)
    good.handshake()
    good.encodings(0)
    same, what = False, ''
    for _ in range(10):
        monitor(mon, 'screendump ' + shot)
        good.request(0)
        good.update()
        w, h, png = vc.read_png(open(shot, 'rb').read())
        rgb = bytearray(good.w * good.h * 3)
        rgb[0::3] = good.fb[2::4]
        rgb[1::3] = good.fb[1::4]
        rgb[2::3] = good.fb[0::4]
        what = '%dx%d, client %dx%d' % (w, h, good.w, good.h)
        if (w, h) == (good.w, good.h) and bytes(rgb) == png:
            same = True
            break
    ok(same, 'a good client afterwards gets the screen of the screendump '
       '(%s)' % what)
    good.close()

    out, err = vmm.communicate(timeout=120)
    err = err.decode(errors='replace')
    ok(vmm.returncode == 124, 'the VMM ran to its timeout (exit %d)' %
       vmm.returncode)
    ok('Sanitizer' not in err and 'runtime error' not in err,
       'no sanitizer report')
    ok(('VNC server on 127.0.0.1:%d (display :%d)' % (port, d)) in err,
       'logged its address')
    if fails:
        for line in err.splitlines()[-30:]:
            print('# ' + line)
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
