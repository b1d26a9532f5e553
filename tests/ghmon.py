#!/usr/bin/env python3
"""
A client of guesthouse's monitor (--monitor unix:PATH; protocol in
cli/monitor.h) for tests: run a VM, wait for text on its screen, type keys.

As a program: ghmon.py SOCKET SCRIPT... where each SCRIPT step is
  wait:REGEX[:SECONDS]   until a screen line matches (default 120 s)
  keys:TEXT              types TEXT (letters, digits, space, '-', '.', '/',
                         '\\n' as Enter)
  key:NAME               one sendkey (QEMU's names: ret, esc, c, ...)
  quit                   stops the VM
Prints the screen and the seconds each wait took; exit 1 when a wait times
out or a command fails, with the last screen.
"""
import os
import re
import socket
import sys
import tempfile
import time

KEYS = {' ': 'spc', '-': 'minus', '.': 'dot', '/': 'slash', '\n': 'ret',
        '=': 'equal', ',': 'comma'}


class Monitor:
    def __init__(self, path, wait=10.0):
        end = time.monotonic() + wait
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)
        self.buf = b''
        self.reply()
        self.dir = tempfile.mkdtemp(prefix='ghmon-')

    def reply(self):
        """Text lines of one reply; raises on "error: ..."."""
        self.sock.settimeout(30)
        while True:
            lines = self.buf.split(b'\n')
            for i, line in enumerate(lines[:-1]):
                if line == b'ok' or line.startswith(b'error: '):
                    self.buf = b'\n'.join(lines[i + 1:])
                    text = b'\n'.join(lines[:i]).decode('utf-8', 'replace')
                    if line != b'ok':
                        raise RuntimeError(line.decode('utf-8', 'replace'))
                    return text
            d = self.sock.recv(65536)
            if not d:
                raise RuntimeError('the monitor closed the connection')
            self.buf += d

    def cmd(self, line):
        self.sock.sendall(line.encode() + b'\n')
        return self.reply()

    def screen(self):
        """The screen's text, or '' while it is in a graphics mode."""
        path = os.path.join(self.dir, 'screen.txt')
        try:
            self.cmd('screen-text ' + path)
        except RuntimeError:
            return ''
        with open(path, encoding='utf-8') as f:
            return f.read()

    def wait(self, regex, timeout=120.0):
        """Seconds until a screen line matches regex."""
        start = time.monotonic()
        pat = re.compile(regex, re.M)
        while True:
            text = self.screen()
            if pat.search(text):
                return time.monotonic() - start, text
            if time.monotonic() - start > timeout:
                raise TimeoutError('no /%s/ on the screen after %d s:\n%s' %
                                   (regex, timeout, text))
            time.sleep(0.2)

    def type(self, text):
        for ch in text:
            name = KEYS.get(ch, ch)
            if ch.isupper():
                name = 'shift-' + ch.lower()
            self.cmd('sendkey ' + name)


def main(argv):
    mon = Monitor(argv[1])
    text = ''
    try:
        for step in argv[2:]:
            kind, _, arg = step.partition(':')
            if kind == 'wait':
                regex, _, secs = arg.rpartition(':') if re.search(r':\d+$', arg) \
                    else (arg, '', '')
                took, text = mon.wait(regex, float(secs or 120))
                print('# /%s/ after %.2f s' % (regex, took))
            elif kind == 'keys':
                mon.type(arg.replace('\\n', '\n'))
            elif kind == 'key':
                mon.cmd('sendkey ' + arg)
            elif kind == 'quit':
                mon.sock.sendall(b'quit\n')
            else:
                raise ValueError('unknown step ' + step)
    except (RuntimeError, TimeoutError, OSError) as e:
        print('ghmon: %s' % e)
        return 1
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
