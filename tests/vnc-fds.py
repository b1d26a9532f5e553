#!/usr/bin/env python3
"""The VNC server out of file descriptors: the VMM runs with a limit of 40
(prlimit), and 30 clients connect and stay. accept() then fails with
EMFILE while connections wait in the listening socket's queue, which stays
readable: the server must pause listening rather than spin its main loop on
it (its thread's CPU time over 3 s stays well under a second; a spin takes
all of it), keep serving, and greet a new client once descriptors free up.
Usage: vnc-fds.py GUESTHOUSE GUEST-VGA.ELF
"""
import os
import shutil
import socket
import subprocess
import sys
import time

n = 0
fails = 0


def ok(cond, what):
    global n, fails
    n += 1
    if not cond:
        fails += 1
    print('%s %d - %s' % ('ok' if cond else 'not ok', n, what), flush=True)


def main():
    exe, elf = sys.argv[1:3]
    if not shutil.which('prlimit'):
        print('1..0 # SKIP no prlimit (util-linux)')
        return 0
    if 'built without VNC' in subprocess.run(
            [exe, 'run', '--kernel', elf, '--vnc', '127.0.0.1:auto',
             '--serial', 'none', '--timeout', '1'], stdin=subprocess.DEVNULL,
            capture_output=True, text=True).stderr:
        print('1..0 # SKIP built without VNC')
        return 0
    print('1..4', flush=True)
    vmm = subprocess.Popen(
        ['prlimit', '--nofile=40', exe, 'run', '--kernel', elf,
         '--append', 'vga.step=vbe vga.hold', '--vnc', '127.0.0.1:auto',
         '--serial', 'none', '--timeout', '60'],
        stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log = []
    while not any('VNC server on' in l for l in log):
        line = vmm.stderr.readline()
        if not line:
            break
        log.append(line)
    addr = [l for l in log if 'VNC server on' in l]
    if not addr:
        ok(False, 'the VMM started its VNC server')
        print(''.join('# ' + l for l in log))
        return 1
    port = int(addr[0].split('127.0.0.1:')[1].split()[0])

    def main_cpu():
        """CPU seconds of the VMM's main thread (its pid's thread)."""
        with open('/proc/%d/task/%d/stat' % (vmm.pid, vmm.pid)) as f:
            st = f.read().rsplit(') ', 1)[1].split()
        return (int(st[11]) + int(st[12])) / os.sysconf('SC_CLK_TCK')

    conns = []
    for _ in range(30):
        try:
            conns.append(socket.create_connection(('127.0.0.1', port),
                                                  timeout=10))
        except OSError:
            break
    time.sleep(1)
    greeted = 0
    for c in conns:
        c.settimeout(0.2)
        try:
            greeted += c.recv(12) == b'RFB 003.008\n'
        except OSError:
            pass
    ok(len(conns) == 30 and 0 < greeted < 30,
       '30 connections queued, %d greeted before the descriptors ran out'
       % greeted)
    c0 = main_cpu()
    time.sleep(3)
    spent = main_cpu() - c0
    ok(spent < 1.0, 'the main loop spent %.2f s of CPU in 3 s out of '
       'descriptors (limit 1.0: no accept spin)' % spent)
    for c in conns:
        c.close()
    time.sleep(1.5)     # the server tries again after a second
    got = b''
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=10)
        got = s.recv(12)
        s.close()
    except OSError as e:
        got = str(e).encode()
    ok(got == b'RFB 003.008\n', 'with descriptors free again a new client '
       'is greeted (%r)' % got)
    vmm.terminate()
    try:
        _, err = vmm.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        vmm.kill()
        _, err = vmm.communicate()
    err = ''.join(log) + err
    ok(vmm.returncode == 143 and 'Sanitizer' not in err and
       'runtime error' not in err,
       'SIGTERM: exit %d, no sanitizer report' % vmm.returncode)
    if fails:
        print(''.join('# ' + l + '\n' for l in err.splitlines()[-20:]))
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
