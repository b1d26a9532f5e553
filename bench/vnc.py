#!/usr/bin/env python3
# Issue 6's benchmark: the VNC server of Guesthouse beside QEMU's built-in
# one, on the same guest that redraws a 1024x768 screen continuously, in one
# run; the ratios Guesthouse/QEMU are printed.
"""
usage: vnc.py [-B BUILDDIR | --guesthouse EXE --client EXE --guest ELF]
              [--qemu EXE] [--accel soft|kvm] [-s SECONDS] [--encodings LIST]

The guest is tests/guests/vga.c with vga.step=anim: the VBE 1024x768x32 mode
(DISPI), every pixel redrawn each frame (a scrolling gradient and moving
bars), "anim: frame N" on COM1 every 32 frames. Guesthouse runs it with
--accel soft (default) and --vnc, QEMU with -accel tcg -vga std and -vnc,
both with 256 MiB and one CPU. For each, over SECONDS (default 10):
  idle    no client: the VMM's CPU time (utime + stime from /proc/PID/stat)
          and the guest's own frames per second
  client  tests/vnc-client's "stats SECONDS" connected (lossless encodings
          by default, "copyrect zrle hextile zlib raw"): FramebufferUpdates
          and rectangles per second, bytes received per second, the VMM's
          CPU time and the guest's frames per second again
The VMM's CPU time outside its vCPU thread with the client less the same
without is what serving the client costs (the vCPU thread keeps a core busy
in both and is left out: a loaded host gives it more or less). Exit: 0 when every run measured, 1 when
one failed.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SRCDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRCDIR, 'tests'))
import vnc_display  # noqa: E402  (tests/vnc_display.py)
TICK = os.sysconf('SC_CLK_TCK')


def build(builddir):
    if not os.path.exists(os.path.join(builddir, 'build.ninja')):
        subprocess.run(['meson', 'setup', builddir, SRCDIR, '-Dbuildtype=release'],
                       check=True, stdout=subprocess.DEVNULL)
    targets = ['cli/guesthouse', 'tests/vnc-client', 'tests/guests/guest-vga.elf']
    subprocess.run(['ninja', '-C', builddir] + targets, check=True,
                   stdout=subprocess.DEVNULL)
    return [os.path.join(builddir, t) for t in targets]


def stat_seconds(path):
    """utime + stime from a /proc stat file, in seconds."""
    with open(path) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def threads(pid):
    """{tid: (name, CPU seconds)} of the process's threads."""
    out = {}
    for tid in os.listdir('/proc/%d/task' % pid):
        base = '/proc/%d/task/%s/' % (pid, tid)
        try:
            with open(base + 'comm') as f:
                out[int(tid)] = (f.read().strip(), stat_seconds(base + 'stat'))
        except OSError:
            pass
    return out


class Cpu:
    """The VMM's CPU time, all of it and outside its vCPU thread (where the
    VNC server and everything else run). QEMU names its vCPU thread "CPU
    0/TCG" (-name ...,debug-threads=on); ours is the busiest thread other
    than the main one while the guest draws."""

    def __init__(self, pid, vmm):
        self.pid = pid
        t = threads(pid)
        if vmm == 'qemu':
            self.vcpu = [tid for tid, (name, _) in t.items() if name.startswith('CPU ')]
        else:
            others = [tid for tid in t if tid != pid]
            time.sleep(1)
            t2 = threads(pid)
            self.vcpu = [max(others, key=lambda tid: t2.get(tid, ('', 0))[1] - t[tid][1])] \
                if others else []

    def sample(self):
        t = threads(self.pid)
        total = stat_seconds('/proc/%d/stat' % self.pid)
        return total, total - sum(t[tid][1] for tid in self.vcpu if tid in t)


def last_frame(serial):
    try:
        with open(serial, 'rb') as f:
            frames = re.findall(rb'anim: frame (\d+)', f.read())
    except OSError:
        return None
    return int(frames[-1]) if frames else None


def free_display():
    d = vnc_display.free_display(70)
    if d is None:
        raise RuntimeError('no free VNC display in :70-:99')
    return d


def wait_until(what, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = what()
        if v:
            return v
        time.sleep(0.1)
    return None


def start(vmm, a, tmp):
    """Starts the animation guest under vmm; returns (process, display,
    serial path)."""
    serial = os.path.join(tmp, vmm + '.serial')
    log_path = os.path.join(tmp, vmm + '.log')
    log = open(log_path, 'w')
    if vmm == 'qemu':
        disp = free_display()
        cmd = [a.qemu, '-name', 'vnc-bench,debug-threads=on', '-machine', 'pc', '-accel', 'tcg', '-m', '256',
               '-vga', 'std', '-display', 'none', '-vnc', '127.0.0.1:%d' % disp,
               '-serial', 'file:' + serial, '-monitor', 'none',
               '-kernel', a.guest, '-append', 'vga.step=anim']
    else:
        disp = None
        cmd = [a.guesthouse, 'run', '--accel', a.accel, '--memory', '256M',
               '--vnc', '127.0.0.1:auto', '--serial', 'file:' + serial,
               '--kernel', a.guest, '--append', 'vga.step=anim']
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    if disp is None:
        def logged():
            with open(log_path) as f:
                m = re.search(r'VNC server on .*\(display :(\d+)\)', f.read())
            return m
        m = wait_until(logged, 30)
        disp = m and int(m.group(1))  # display :0 is a display
    # the first frame takes long on a loaded host under the software CPU
    if disp is None or wait_until(lambda: last_frame(serial) is not None, 180) is None:
        p.terminate()
        p.wait()
        with open(log_path) as f:
            raise RuntimeError('%s: the guest did not start drawing: %s' %
                               (vmm, f.read().strip()[-400:]))
    return p, disp, serial


def measure(vmm, a, tmp):
    p, disp, serial = start(vmm, a, tmp)
    try:
        cpu = Cpu(p.pid, vmm)
        # idle: no client
        f0, (c0, o0), t0 = last_frame(serial), cpu.sample(), time.monotonic()
        time.sleep(a.seconds)
        f1, (c1, o1), t1 = last_frame(serial), cpu.sample(), time.monotonic()
        idle = {'cpu': (c1 - c0) / (t1 - t0), 'other': (o1 - o0) / (t1 - t0),
                'fps': (f1 - f0) / (t1 - t0)}
        # one client for the same time
        f0, (c0, o0), t0 = last_frame(serial), cpu.sample(), time.monotonic()
        out = subprocess.run([a.client, '--encodings', a.encodings,
                              '127.0.0.1:%d' % disp, 'stats %g' % a.seconds],
                             capture_output=True, text=True, timeout=a.seconds + 60)
        f1, (c1, o1), t1 = last_frame(serial), cpu.sample(), time.monotonic()
        m = re.search(r'stats: seconds ([\d.]+) updates (\d+) rects (\d+) bytes (\d+)',
                      out.stdout)
        if out.returncode or not m:
            raise RuntimeError('%s: vnc-client failed (%d): %s' %
                               (vmm, out.returncode, out.stderr.strip()))
        secs = float(m.group(1))
        client = {'cpu': (c1 - c0) / (t1 - t0), 'other': (o1 - o0) / (t1 - t0),
                  'fps': (f1 - f0) / (t1 - t0),
                  'ups': int(m.group(2)) / secs, 'rps': int(m.group(3)) / secs,
                  'bps': int(m.group(4)) / secs}
    finally:
        p.terminate()
        p.wait()
    return idle, client


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('-B', '--builddir', default=os.path.join(SRCDIR, 'build-rel'))
    ap.add_argument('--guesthouse', help='the executable (skips building)')
    ap.add_argument('--client', help='tests/vnc-client')
    ap.add_argument('--guest', help='tests/guests/guest-vga.elf')
    ap.add_argument('--qemu', default=shutil.which('qemu-system-x86_64'))
    ap.add_argument('--accel', default='soft')
    ap.add_argument('-s', '--seconds', type=float, default=10)
    ap.add_argument('--encodings', default='copyrect zrle hextile zlib raw')
    a = ap.parse_args()
    if not (a.guesthouse and a.client and a.guest):
        a.guesthouse, a.client, a.guest = build(a.builddir)
    for f in (a.client, a.guest):
        if not os.path.exists(f):
            print('vnc: skipped (missing %s)' % f)
            return 0
    vmms = []
    help_text = subprocess.run([a.guesthouse, 'run', '--help'],
                               capture_output=True, text=True).stdout
    if '--vnc' in help_text:
        vmms.append('guesthouse')
    else:
        print('guesthouse skipped (no --vnc)')
    if a.qemu:
        vmms.append('qemu')
    else:
        print('qemu skipped (no qemu-system-x86_64)')
    res, ok = {}, True
    with tempfile.TemporaryDirectory() as tmp:
        for vmm in vmms:
            try:
                res[vmm] = measure(vmm, a, tmp)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                sys.stderr.write('vnc: %s\n' % e)
                ok = False
    print('1024x768x32 animation, %g s each, encodings "%s"; guesthouse '
          '--accel %s, qemu -accel tcg' % (a.seconds, a.encodings, a.accel))
    rows = [
        ('guest frames/s, no client', lambda i, c: i['fps'], '%.2f'),
        ('guest frames/s, client', lambda i, c: c['fps'], '%.2f'),
        ('updates/s', lambda i, c: c['ups'], '%.2f'),
        ('rects/s', lambda i, c: c['rps'], '%.1f'),
        ('MB/s received', lambda i, c: c['bps'] / 1e6, '%.2f'),
        ('bytes/update', lambda i, c: c['bps'] / c['ups'] if c['ups'] else 0, '%.0f'),
        ('VMM CPU s/s, no client', lambda i, c: i['cpu'], '%.3f'),
        ('VMM CPU s/s, client', lambda i, c: c['cpu'], '%.3f'),
        ('non-vCPU CPU s/s, no client', lambda i, c: i['other'], '%.3f'),
        ('non-vCPU CPU s/s, client', lambda i, c: c['other'], '%.3f'),
        ('VNC cost CPU s/s', lambda i, c: c['other'] - i['other'], '%.3f'),
        ('VNC cost ms/update', lambda i, c: 1000 * (c['other'] - i['other']) / c['ups']
         if c['ups'] else 0, '%.2f'),
        ('VNC cost ms/MB', lambda i, c: 1e9 * (c['other'] - i['other']) / c['bps']
         if c['bps'] else 0, '%.2f'),
    ]
    print('%-28s %12s %12s %8s' % ('', 'guesthouse', 'qemu', 'ratio'))
    for label, get, fmt in rows:
        vals = {v: get(*res[v]) for v in res}
        line = '%-28s' % label
        for v in ('guesthouse', 'qemu'):
            line += ' %12s' % (fmt % vals[v] if v in vals else 'n/a')
        if len(vals) == 2 and vals['qemu']:
            line += ' %7.2fx' % (vals['guesthouse'] / vals['qemu'])
        print(line, flush=True)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
