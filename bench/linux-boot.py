#!/usr/bin/env python3
# Issue 4's Linux benchmark: the boot test's guest (Debian's kernel, the busybox
# initramfs of scripts/build-linux-guest.sh with gh.test=1) under Guesthouse
# --accel soft and under QEMU's TCG, same kernel, initramfs, memory and CPUs,
# in one run; medians of several repetitions and the ratios Guesthouse/QEMU.
"""
usage: linux-boot.py [-B BUILDDIR | --guesthouse EXE] [--qemu EXE] [-n REPS]
                     [--cpus N] [--memory MIB] [--mib MIB] [--fixture DIR]

Per run: wall seconds from start to the guest's GH-SHELL-READY marker and to
the VMM's exit after the guest powers off; the in-guest sha256sum speed from
its "GH-SHA256 <hash> <bytes> <ns>" line (the hash must be the host's, from
tests/linux-workload.py); and the VMM's peak RSS (VmHWM, polled) less the
guest RAM it touched (Rss of the guest RAM mapping, the anonymous mapping as
large as the guest's memory, at the last poll). --accel soft is skipped, with
the reason, while `guesthouse info` says the software CPU cannot run Linux
(--try-soft runs it anyway). Exit: 0 when every run that was not skipped
powered off with the right hash, 1 otherwise. The issue's targets (boot
within 3x QEMU's time, the workload within 4x, overhead under 30 MiB) are
verdict lines, not the exit status.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time

SRCDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 600
POLL = 0.05


def guest_ram_rss_kib(pid, ram_kib):
    """Rss of the guest RAM mapping: the anonymous, non-executable mapping
    whose size is the guest's memory (the smallest one at least that large,
    so QEMU's 1 GiB translation buffer, executable anyway, is not taken)."""
    best = None
    try:
        with open('/proc/%d/smaps' % pid) as f:
            head = size = None
            for line in f:
                if re.match(r'^[0-9a-f]+-[0-9a-f]+ ', line):
                    head, size = line.split(), None
                elif line.startswith('Size:'):
                    size = int(line.split()[1])
                elif line.startswith('Rss:') and head and size:
                    anon = len(head) < 6 or head[5].startswith('[')
                    if (anon and 'x' not in head[1] and size >= ram_kib and
                            (best is None or size < best[0])):
                        best = (size, int(line.split()[1]))
    except OSError:
        return None
    return best[1] if best else None


def vm_hwm_kib(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run_once(cmd, ram_kib):
    """Runs cmd; returns its exit status, serial output, the seconds to the
    shell marker and to exit, peak RSS and guest RAM touched (KiB)."""
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    r = {'marker': None, 'hwm': None, 'ram': None, 'out': [], 'err': b''}

    def read_stdout():
        for line in p.stdout:
            if r['marker'] is None and b'GH-SHELL-READY' in line:
                r['marker'] = time.monotonic() - start
            r['out'].append(line)

    def read_stderr():
        r['err'] = p.stderr.read()

    threads = [threading.Thread(target=read_stdout), threading.Thread(target=read_stderr)]
    for t in threads:
        t.start()
    while p.poll() is None:
        if time.monotonic() - start > TIMEOUT:
            p.kill()
            break
        hwm = vm_hwm_kib(p.pid)
        ram = guest_ram_rss_kib(p.pid, ram_kib)
        # read after a successful hwm sample only: the process may be gone
        if hwm is not None:
            r['hwm'] = max(r['hwm'] or 0, hwm)
        if ram is not None:
            r['ram'] = max(r['ram'] or 0, ram)
        time.sleep(POLL)
    status = p.wait()
    r['total'] = time.monotonic() - start
    for t in threads:
        t.join()
    r['status'] = status
    r['out'] = b''.join(r['out']).decode('utf-8', 'replace').replace('\r', '')
    r['err'] = r['err'].decode('utf-8', 'replace')
    return r


def soft_usable(exe):
    info = subprocess.run([exe, 'info'], capture_output=True, text=True).stdout
    line = next((l for l in info.splitlines() if l.startswith('soft:')), 'soft: ?')
    if not line.startswith('soft: available'):
        return line
    if 'no x87/SSE' in line:
        return line
    return None


def build(builddir):
    if not os.path.exists(os.path.join(builddir, 'build.ninja')):
        subprocess.run(['meson', 'setup', builddir, SRCDIR], check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run(['ninja', '-C', builddir, 'cli/guesthouse'], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(builddir, 'cli', 'guesthouse')


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec):
    return spec % v if v is not None else 'n/a'


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('-B', '--builddir', default=os.path.join(SRCDIR, 'build'))
    ap.add_argument('--guesthouse', help='the executable (skips building)')
    ap.add_argument('--qemu', default=shutil.which('qemu-system-x86_64'))
    ap.add_argument('-n', '--reps', type=int, default=3)
    ap.add_argument('--cpus', type=int, default=1)
    ap.add_argument('--memory', type=int, default=256, help='guest RAM, MiB')
    ap.add_argument('--mib', type=int, default=64, help='workload size, MiB')
    ap.add_argument('--fixture', default=os.path.join(SRCDIR, 'fixtures', 'linux'))
    ap.add_argument('--try-soft', action='store_true',
                    help='run --accel soft even where guesthouse info says it cannot')
    a = ap.parse_args()
    if a.reps < 1 or a.cpus < 1 or a.mib < 1:
        ap.error('--reps, --cpus and --mib must be at least 1')

    kernel = os.path.join(a.fixture, 'vmlinuz')
    initrd = os.path.join(a.fixture, 'initramfs.cpio.gz')
    # (does nothing when the fixture is up to date)
    subprocess.run([os.path.join(SRCDIR, 'scripts', 'build-linux-guest.sh'),
                    a.fixture], check=True, stdout=subprocess.DEVNULL)
    want = subprocess.run([sys.executable, os.path.join(SRCDIR, 'tests', 'linux-workload.py'),
                           str(a.mib)], check=True, capture_output=True,
                          text=True).stdout.split()
    append = 'console=ttyS0 gh.test=1 gh.mib=%d panic=-1' % a.mib

    vmms = {}
    exe = a.guesthouse or build(a.builddir)
    why = None if a.try_soft else soft_usable(exe)
    if why:
        print('guesthouse soft: skipped (%s)' % why)
    else:
        vmms['guesthouse'] = [exe, 'run', '--accel', 'soft', '--kernel', kernel,
                              '--initrd', initrd, '--append', append,
                              '--memory', '%dM' % a.memory, '--cpus', str(a.cpus),
                              '--serial', 'stdio', '--no-reboot',
                              '--timeout', str(TIMEOUT)]
    if a.qemu:
        vmms['qemu'] = [a.qemu, '-accel', 'tcg', '-m', '%dM' % a.memory,
                        '-smp', str(a.cpus), '-kernel', kernel, '-initrd', initrd,
                        '-append', append, '-nodefaults', '-display', 'none',
                        '-monitor', 'none', '-serial', 'stdio', '-no-reboot']
    else:
        print('qemu tcg: skipped (qemu-system-x86_64 is not installed)')

    ok = True
    results = {}
    # Interleaved, so that a change in the host's load hits both alike.
    for rep in range(a.reps):
        for name, cmd in vmms.items():
            r = run_once(cmd, a.memory * 1024)
            m = re.search(r'^GH-SHA256 ([0-9a-f]+) (\d+) (\d+)$', r['out'], re.M)
            good = (r['status'] == 0 and m and [m.group(1), m.group(2)] == want and
                    'reboot: Power down' in r['out'])
            if not good:
                ok = False
                sys.stderr.write('linux-boot: %s run %d failed (exit status %d)\n%s\n'
                                 '--- serial (end) ---\n%s\n--- stderr ---\n%s\n' %
                                 (name, rep + 1, r['status'], ' '.join(cmd),
                                  '\n'.join(r['out'].splitlines()[-30:]), r['err']))
                continue
            r['mbs'] = int(m.group(2)) / (int(m.group(3)) / 1e9) / 1e6
            r['over'] = (r['hwm'] - r['ram']) / 1024 if r['hwm'] and r['ram'] else None
            results.setdefault(name, []).append(r)
            print('%s run %d: shell %.2f s, poweroff %.2f s, sha256 %.1f MB/s, '
                  'peak RSS %s MiB, guest RAM touched %s MiB' % (
                      name, rep + 1, r['marker'] or 0, r['total'], r['mbs'],
                      fmt(r['hwm'] and r['hwm'] / 1024, '%.1f'),
                      fmt(r['ram'] and r['ram'] / 1024, '%.1f')))
            sys.stdout.flush()

    print('\nLinux %s, %d CPU(s), %d MiB, %d MiB workload; medians of %d runs' % (
        os.path.basename(kernel), a.cpus, a.memory, a.mib, a.reps))
    rows = [('shell marker (s)', 'marker', '%.2f'), ('poweroff (s)', 'total', '%.2f'),
            ('sha256 (MB/s)', 'mbs', '%.1f'), ('VMM overhead (MiB)', 'over', '%.1f')]
    print('%-20s %12s %12s %12s' % ('', 'guesthouse', 'qemu tcg', 'ratio'))
    med = {}
    for label, key, spec in rows:
        for name in ('guesthouse', 'qemu'):
            med[name, key] = median(r[key] for r in results.get(name, []))
        g, q = med['guesthouse', key], med['qemu', key]
        ratio = g / q if g is not None and q else None
        print('%-20s %12s %12s %12s' % (label, fmt(g, spec), fmt(q, spec),
                                        fmt(ratio, '%.2f')))
    g = {k: med['guesthouse', k] for _, k, _ in rows}
    q = {k: med['qemu', k] for _, k, _ in rows}
    if None not in (g['marker'], q['marker'], g['mbs'], q['mbs']):
        print('target boot within 3x QEMU: %s; workload within 4x: %s' % (
            'met' if g['marker'] <= 3 * q['marker'] else 'NOT met',
            'met' if q['mbs'] <= 4 * g['mbs'] else 'NOT met'))
    if g['over'] is not None:
        print('target VMM overhead under 30 MiB: %s' %
              ('met' if g['over'] < 30 else 'NOT met'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
