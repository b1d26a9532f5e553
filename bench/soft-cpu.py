#!/usr/bin/env python3
# The software CPU's speed: the integer guest bench/guests/intbench.c under
# --accel soft and, beside it, under --accel kvm (where its ring-3 code runs
# natively), in the same run; medians of several repetitions.
"""
usage: soft-cpu.py [-B BUILDDIR] [-n REPS] [-i ITERS] [--guesthouse EXE --guest ELF]

Instructions come from the soft CPU's retired count ("guesthouse run
--verbose"): a run with ITERS workload iterations minus a run with none,
each less the guest's own count of its PIT-polling instructions, leaves
exactly the workload's instructions, the same under every backend. Seconds
come from the guest's TSC readings around the workload and its TSC
frequency, calibrated against the emulated PIT. Exit: 0 when every run
succeeded and all checksums agree, 1 otherwise; the 150 MIPS target is a
verdict line, not the exit status.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys

TARGET_MIPS = 150
SRCDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(builddir):
    if not os.path.exists(os.path.join(builddir, 'build.ninja')):
        subprocess.run(['meson', 'setup', builddir, SRCDIR], check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run(['ninja', '-C', builddir, 'cli/guesthouse', 'bench/intbench.elf'],
                   check=True, stdout=subprocess.DEVNULL)
    return (os.path.join(builddir, 'cli', 'guesthouse'),
            os.path.join(builddir, 'bench', 'intbench.elf'))


def run_guest(exe, elf, accel, iters):
    cmd = [exe, 'run', '--accel', accel, '--kernel', elf, '--memory', '64M',
           '--serial', 'stdio', '--timeout', '300', '--no-reboot', '--verbose',
           '--append', 'iters=%d' % iters]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    out = p.stdout.replace('\r', '')

    def field(pattern, text):
        m = re.search(pattern, text, re.M)
        return m.group(1) if m else None

    r = {
        'hz': field(r'^tsc-hz: (\d+)$', out),
        'ticks': field(r'^tsc-ticks: (\d+)$', out),
        'checksum': field(r'^checksum: (0x[0-9a-f]+)$', out),
        'polls': field(r'^poll-insns: (\d+)$', out),
        'retired': field(r'^guesthouse: cpu 0: (\d+) instructions retired$', p.stderr),
    }
    # exit status 99 is debug-exit 0x31: the guest's self checks passed
    if p.returncode != 99 or '\nintbench: SUCCESS' not in out or None in (
            r['hz'], r['ticks'], r['checksum'], r['polls']):
        sys.stderr.write('soft-cpu: %s run (iters=%d) failed, exit status %d\n'
                         '%s\n--- stdout ---\n%s--- stderr ---\n%s' %
                         (accel, iters, p.returncode, ' '.join(cmd), out, p.stderr))
        return None
    for k in ('hz', 'ticks', 'polls', 'retired'):
        if r[k] is not None:
            r[k] = int(r[k])
    r['seconds'] = r['ticks'] / r['hz']
    return r


def kvm_usable(exe):
    if not os.access('/dev/kvm', os.R_OK | os.W_OK):
        return 'no read/write access to /dev/kvm'
    info = subprocess.run([exe, 'info'], capture_output=True, text=True).stdout
    line = next((l for l in info.splitlines() if l.startswith('kvm:')), 'kvm: ?')
    if not line.startswith('kvm: available'):
        return line
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('-B', '--builddir', default=os.path.join(SRCDIR, 'build'))
    ap.add_argument('-n', '--reps', type=int, default=3)
    ap.add_argument('-i', '--iters', type=int, default=300,
                    help='workload iterations (about 3 s under soft at 70 MIPS)')
    ap.add_argument('--guesthouse', help='the executable (skips building)')
    ap.add_argument('--guest', help='intbench.elf (with --guesthouse)')
    a = ap.parse_args()
    if a.reps < 1 or a.iters < 1:
        ap.error('--reps and --iters must be at least 1')

    if a.guesthouse and a.guest:
        exe, elf = a.guesthouse, a.guest
    else:
        if not shutil.which('ninja') or not shutil.which('meson'):
            sys.exit('soft-cpu: meson and ninja are needed to build')
        exe, elf = build(a.builddir)

    ok = True
    checksums = set()

    # The baseline: boot, calibration and printing without the workload.
    base = []
    for _ in range(a.reps):
        r = run_guest(exe, elf, 'soft', 0)
        if not r or r['retired'] is None:
            return 1
        base.append(r['retired'] - r['polls'])
    # (it varies only by the digits printf writes: a few dozen instructions)
    base_insns = statistics.median(base)

    results = {}
    backends = ['soft', 'kvm']
    why = kvm_usable(exe)
    if why:
        print('kvm: skipped (%s)' % why)
        backends.remove('kvm')
    for accel in backends:
        runs = []
        for _ in range(a.reps):
            r = run_guest(exe, elf, accel, a.iters)
            if not r:
                return 1
            checksums.add(r['checksum'])
            runs.append(r)
        results[accel] = runs

    soft = results['soft']
    insns = statistics.median(r['retired'] - r['polls'] for r in soft) - base_insns
    spread = {r['retired'] - r['polls'] for r in soft}
    # printf's digits aside, the workload's instructions are fixed
    if max(spread) - min(spread) > 1000:
        print('FAIL: workload instruction counts vary by %d' % (max(spread) - min(spread)))
        ok = False

    print('intbench: %d iterations, %d instructions (%.0f per iteration), '
          'median of %d runs' % (a.iters, insns, insns / a.iters, a.reps))
    print('%-6s %14s %10s %10s %10s' % ('accel', 'TSC MHz', 'seconds', 'MIPS', 'runs (s)'))
    mips = {}
    for accel, runs in results.items():
        secs = statistics.median(r['seconds'] for r in runs)
        mhz = statistics.median(r['hz'] for r in runs) / 1e6
        mips[accel] = insns / secs / 1e6
        print('%-6s %14.1f %10.4f %10.1f   %s' % (
            accel, mhz, secs, mips[accel],
            ' '.join('%.4f' % r['seconds'] for r in runs)))
    if 'kvm' in mips:
        print('ratio soft/kvm: %.4f (kvm is %.1fx faster)' %
              (mips['soft'] / mips['kvm'], mips['kvm'] / mips['soft']))
    print('target %d MIPS for soft: %s (%.1f MIPS, %.0f%% of it)' % (
        TARGET_MIPS, 'met' if mips['soft'] >= TARGET_MIPS else 'NOT met',
        mips['soft'], 100 * mips['soft'] / TARGET_MIPS))

    if len(checksums) != 1:
        print('FAIL: checksums differ between runs: %s' % ' '.join(sorted(checksums)))
        ok = False
    else:
        print('checksum %s identical in all %d runs' %
              (checksums.pop(), sum(len(v) for v in results.values())))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
