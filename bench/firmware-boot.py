#!/usr/bin/env python3
# Issue 5's benchmark: firmware boots under Guesthouse --accel soft and under
# QEMU's TCG, the same firmware and images, in one run; medians of several
# repetitions and the ratios Guesthouse/QEMU.
"""
usage: firmware-boot.py [-B BUILDDIR | --guesthouse EXE] [--qemu EXE] [-n REPS]
                        [--only NAME,...] [--media DIR] [--fixture DIR]

Scenarios (each skipped, with the reason, when what it needs is missing):
  grub-rescue     SeaBIOS El Torito-boots Debian's grub-rescue-cdrom.iso from
                  the IDE CD-ROM drive: seconds from start to GRUB's menu ("GNU GRUB version 2") on the
                  VGA text screen
  installer-menu  SeaBIOS boots the netboot mini.iso (scripts/
                  build-install-media.sh) to the installer's boot menu: seconds
                  until the screen shows the menu: the splash
                  picture with the selected entry's highlight bar
  ovmf-shell      OVMF to the UEFI shell's banner on the serial console
  seabios-linux   SeaBIOS loads Debian's kernel and the busybox initramfs
                  through fw_cfg (QEMU: its linuxboot ROM, ours: our ROM):
                  seconds to the initramfs's GH-SHELL-READY on the serial port

Both VMMs get 256 MiB, one CPU, the standard VGA, no network card. The
screen is read through each one's monitor socket: QEMU's (guest memory at
0xB8000 for text, "screendump" for pictures) and ours (--monitor: its
screen-text and screendump commands); the serial port through a pipe. Times
count from the VMM's start; runs are interleaved. Exit: 0 when every run that
was not skipped reached its mark, 1 otherwise.
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

SRCDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 300
POLL = 0.2
OVMF = '/usr/share/ovmf/OVMF.fd'


# ---- pictures: PNG (ours) and PPM (QEMU's screendump), with the readers
# tests/vga-check.py uses, as (width, height, rows of RGB bytes) ----

def _vga_check():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'vga_check', os.path.join(SRCDIR, 'tests', 'vga-check.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


VGA_CHECK = _vga_check()


def picture(path):
    data = open(path, 'rb').read()
    read = VGA_CHECK.read_ppm if data[:2] == b'P6' else VGA_CHECK.read_png
    w, h, rgb = read(data)
    return w, h, [rgb[y * w * 3:(y + 1) * w * 3] for y in range(h)]


# ---- monitors ----

class Monitor:
    """A line-based monitor on a unix socket (QEMU's HMP, or ours)."""

    def __init__(self, path, prompt):
        self.path, self.prompt, self.sock = path, prompt, None

    def connect(self, deadline):
        while time.monotonic() < deadline:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.path)
                self.sock = s
                self.read_reply()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def done(self, buf):
        """QEMU ends a reply with its prompt; ours with a line "ok" or
        "error: ..." (cli/monitor.h)."""
        if self.prompt:
            return buf.rstrip().endswith(self.prompt)
        last = buf.rstrip(b'\n').rsplit(b'\n', 1)[-1]
        return buf.endswith(b'\n') and (last == b'ok' or
                                         last.startswith(b'error: '))

    def read_reply(self):
        buf = b''
        self.sock.settimeout(10)
        while not self.done(buf):
            d = self.sock.recv(65536)
            if not d:
                break
            buf += d
        return buf.decode('utf-8', 'replace')

    def cmd(self, line):
        self.sock.sendall(line.encode() + b'\n')
        return self.read_reply()

    def close(self):
        if self.sock:
            self.sock.close()


def qemu_text(mon):
    """The VGA text screen (80x25 at 0xB8000) through QEMU's xp."""
    out = mon.cmd('xp /4000bx 0xb8000')
    vals = []
    # "00000000000b8000: 0x47 0x07 ..." (the echoed command line aside)
    for line in out.splitlines():
        m = re.match(r'^\s*[0-9a-f]{8,}:((?:\s+0x[0-9a-f]{2})+)\s*$', line)
        if m:
            vals += [int(v, 16) for v in m.group(1).split()]
    return bytes(vals[0::2]).decode('cp437', 'replace')


# ---- scenarios ----

def splash_probe(splash):
    """A test that the screen shows the installer menu: its splash picture
    (640x480) where the menu does not draw, the top left corner, and the
    selected entry's highlight bar: a row whose middle 256 pixels are of
    one colour that is not the splash's there."""
    w, h, rows = picture(splash)
    ref = [rows[y][:120 * 3] for y in range(8, 40)]
    mid = slice(192 * 3, 448 * 3)

    def bar(srows, y):
        band = srows[y][mid]
        return band == band[:3] * 256 and band != rows[y][mid]

    def probe(shot):
        sw, sh, srows = picture(shot)
        if (sw, sh) != (w, h):
            return False
        return (all(srows[y][:120 * 3] == ref[y - 8] for y in range(8, 40))
                and any(bar(srows, y) for y in range(120, 400)))
    return probe


def scenarios(a, exe):
    media = a.media
    rescue = os.path.join(a.boot_fixtures, 'grub-rescue-cdrom.iso')
    mini = os.path.join(media, 'mini.iso')
    splash = os.path.join(media, 'splash.png')
    kernel = os.path.join(a.fixture, 'vmlinuz')
    initrd = os.path.join(a.fixture, 'initramfs.cpio.gz')
    gh = [exe, 'run', '--accel', 'soft', '--memory', '256M', '--serial', 'stdio',
          '--timeout', str(TIMEOUT)]
    qemu = [a.qemu, '-M', 'pc', '-accel', 'tcg', '-m', '256M', '-smp', '1',
            '-vga', 'std', '-display', 'none', '-nic', 'none', '-serial', 'stdio',
            '-no-reboot'] if a.qemu else None
    s = {}
    s['grub-rescue'] = {
        'need': [rescue],
        'gh': gh + ['--cdrom', rescue],
        'qemu': qemu and qemu + ['-cdrom', rescue],
        'text': lambda t: 'GNU GRUB  version 2' in t,
    }
    s['installer-menu'] = {
        'need': [mini, splash],
        'gh': gh + ['--cdrom', mini],
        'qemu': qemu and qemu + ['-cdrom', mini],
        'shot': splash_probe(splash) if os.path.exists(splash) else None,
    }
    s['ovmf-shell'] = {
        'need': [OVMF],
        'gh': gh + ['--firmware', 'ovmf'],
        'qemu': qemu and qemu + ['-drive', 'if=pflash,format=raw,file=@VARS@'],
        'serial': b'UEFI Interactive Shell',
    }
    s['seabios-linux'] = {
        'need': [kernel, initrd],
        'gh': gh + ['--firmware', 'seabios', '--kernel', kernel, '--initrd', initrd,
                    '--append', 'console=ttyS0 gh.test=1 gh.mib=1 panic=-1'],
        'qemu': qemu and qemu + ['-kernel', kernel, '-initrd', initrd, '-append',
                                 'console=ttyS0 gh.test=1 gh.mib=1 panic=-1'],
        'serial': b'GH-SHELL-READY',
    }
    return s


def run_once(name, sc, vmm, cmd, tmp):
    """Seconds from start to the scenario's mark, or None."""
    cmd = list(cmd)
    mon = None
    if vmm == 'qemu' and '@VARS@' in ' '.join(cmd):
        shutil.copy(OVMF, os.path.join(tmp, 'ovmf.fd'))
        cmd = [c.replace('@VARS@', os.path.join(tmp, 'ovmf.fd')) for c in cmd]
    sock = os.path.join(tmp, 'mon-%s' % vmm)
    if os.path.exists(sock):
        os.unlink(sock)
    screen = 'text' in sc or 'shot' in sc
    if screen and vmm == 'qemu':
        cmd += ['-monitor', 'unix:%s,server,nowait' % sock]
        mon = Monitor(sock, b'(qemu)')
    elif screen:
        cmd += ['--monitor', 'unix:%s' % sock]
        mon = Monitor(sock, None)
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    hit = {'t': None}
    out = []

    def read_stdout():
        tail = b''
        for chunk in iter(lambda: p.stdout.read1(4096), b''):
            out.append(chunk)
            tail = (tail + chunk)[-4096:]
            if 'serial' in sc and hit['t'] is None and sc['serial'] in tail:
                hit['t'] = time.monotonic() - start
    th = threading.Thread(target=read_stdout, daemon=True)
    th.start()
    errbuf = []
    err = threading.Thread(target=lambda: errbuf.append(p.stderr.read()),
                           daemon=True)
    err.start()
    try:
        if mon and not mon.connect(start + 10):
            raise RuntimeError('no monitor at %s' % sock)
        shot = os.path.join(tmp, 'shot-%s.%s' % (vmm, 'ppm' if vmm == 'qemu' else 'png'))
        while hit['t'] is None and p.poll() is None and \
                time.monotonic() - start < TIMEOUT:
            now = time.monotonic() - start
            if 'text' in sc:
                if vmm == 'qemu':
                    text = qemu_text(mon)
                else:
                    path = os.path.join(tmp, 'text')
                    if os.path.exists(path):
                        os.unlink(path)
                    text = ''
                    if mon.cmd('screen-text %s' % path).rstrip().endswith('ok'):
                        text = open(path, encoding='utf-8').read()
                if sc['text'](text):
                    hit['t'] = now
            elif 'shot' in sc:
                if os.path.exists(shot):
                    os.unlink(shot)
                mon.cmd('screendump %s' % shot)
                try:
                    if sc['shot'](shot):
                        hit['t'] = now
                except (OSError, ValueError, AttributeError):
                    pass
            time.sleep(POLL)
    finally:
        if mon:
            mon.close()
        p.kill()
        p.wait()
        err.join(1)
    if hit['t'] is None:
        sys.stderr.write('firmware-boot: %s: %s\n--- serial (end) ---\n%s\n'
                         '--- stderr ---\n%s\n' % (
                             name, ' '.join(cmd),
                             b''.join(out)[-600:].decode('utf-8', 'replace'),
                             b''.join(errbuf).decode('utf-8', 'replace')))
    return hit['t']


def build(builddir):
    if not os.path.exists(os.path.join(builddir, 'build.ninja')):
        subprocess.run(['meson', 'setup', builddir, SRCDIR, '-Dbuildtype=release'],
                       check=True, stdout=subprocess.DEVNULL)
    subprocess.run(['ninja', '-C', builddir, 'cli/guesthouse'], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(builddir, 'cli', 'guesthouse')


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('-B', '--builddir', default=os.path.join(SRCDIR, 'build-rel'))
    ap.add_argument('--guesthouse', help='the executable (skips building)')
    ap.add_argument('--qemu', default=shutil.which('qemu-system-x86_64'))
    ap.add_argument('-n', '--reps', type=int, default=3)
    ap.add_argument('--only', help='comma-separated scenario names')
    ap.add_argument('--media', default=os.path.join(SRCDIR, 'fixtures', 'media'))
    ap.add_argument('--boot-fixtures', default=os.path.join(SRCDIR, 'fixtures', 'boot'))
    ap.add_argument('--fixture', default=os.path.join(SRCDIR, 'fixtures', 'linux'))
    a = ap.parse_args()
    if a.reps < 1:
        ap.error('--reps must be at least 1')
    exe = a.guesthouse or build(a.builddir)
    help_text = subprocess.run([exe, 'run', '--help'], capture_output=True,
                               text=True).stdout
    all_sc = scenarios(a, exe)
    names = a.only.split(',') if a.only else list(all_sc)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            sc = all_sc.get(name)
            if sc is None:
                print('%s: no such scenario' % name)
                ok = False
                continue
            missing = [f for f in sc['need'] if not os.path.exists(f)]
            if missing:
                print('%-15s skipped (missing %s)' % (name, ', '.join(missing)))
                continue
            screen = 'text' in sc or 'shot' in sc
            vmms = {'guesthouse': sc['gh']}
            if screen and '--monitor' not in help_text:
                print('%-15s guesthouse skipped (no --monitor to read the '
                      'screen with)' % name)
                vmms = {}
            if sc['qemu']:
                vmms['qemu'] = sc['qemu']
            times = {v: [] for v in vmms}
            for rep in range(a.reps):
                for vmm, cmd in vmms.items():
                    t = run_once(name, sc, vmm, cmd, tmp)
                    if t is None:
                        ok = False
                        sys.stderr.write('firmware-boot: %s: %s run %d did not '
                                         'reach its mark\n' % (name, vmm, rep + 1))
                    times[vmm].append(t)
            med = {v: statistics.median([t for t in ts if t is not None])
                   if any(t is not None for t in ts) else None
                   for v, ts in times.items()}
            line = '%-15s' % name
            for v in vmms:
                line += '  %s %s s (%s)' % (
                    v, '%.2f' % med[v] if med[v] is not None else 'n/a',
                    ' '.join('%.2f' % t if t is not None else '-' for t in times[v]))
            if med.get('guesthouse') and med.get('qemu'):
                line += '  ratio %.2fx' % (med['guesthouse'] / med['qemu'])
            print(line, flush=True)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
