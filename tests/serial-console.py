#!/usr/bin/env python3
"""Serial consoles on sockets and ptys, and SIGTERM on a headless VM.

One Linux guest (scripts/build-linux-guest.sh's busybox, console=ttyS0) runs
with COM1 on a socket and COM2 on a pty; the test attaches to COM1 as people
and scripts do: `guesthouse console` on a terminal (a pty here) typing into
the shell, detaching with Ctrl-] while the guest prints, and attaching again
to find the replay and the same shell session; a second client refused,
then one taking the console over (--force, and a raw socket answering the
refusal); socat; a client that never reads while the guest floods the
console, and a flood with nobody attached (how much was dropped); the
pty's path as the VMM logs it, used both ways. Then SIGTERM stops the VM:
128+15, sockets removed. Last, the sanitized build (the VMM the suite
passes) runs SeaBIOS headless with a socket console, monitor and
--screendump, and SIGTERM must leave no socket, a screen, no ASan report.

usage: tests/serial-console.py GUESTHOUSE
GH_LINUX_VMM, if set, runs the Linux guest (an optimized build: an ASan
build takes minutes to boot Linux, so without it the Linux part skips);
GH_LINUX_FIXTURE overrides fixtures/linux.
"""
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
# Seconds to the shell prompt: about 40 s here under soft, more on a
# loaded host (tests/demo-shell.sh).
BOOT_LIMIT = 300
PROMPT = b"guesthouse:/# "

n = 0
fails = 0


def ok(cond, what, detail=""):
    global n, fails
    n += 1
    if cond:
        print(f"ok {n} - {what}", flush=True)
    else:
        fails += 1
        print(f"not ok {n} - {what}", flush=True)
        for line in str(detail).splitlines()[-30:]:
            print(f"# {line}", flush=True)


def skip(what, why):
    global n
    n += 1
    print(f"ok {n} - {what} # SKIP {why}", flush=True)


def is_asan(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


class Stream:
    """Bytes from an fd (a pty master or a socket), waited for by regex."""

    def __init__(self, fd, sock=None):
        self.fd = fd
        self.sock = sock
        self.buf = b""
        self.eof = False

    def pump(self, timeout):
        if self.eof:
            return False
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return False
        try:
            data = self.sock.recv(65536) if self.sock else os.read(self.fd, 65536)
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def expect(self, pattern, timeout):
        """Waits for pattern; returns the match, consuming up to its end."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            left = end - time.monotonic()
            if left <= 0 or self.eof:
                return None
            self.pump(min(left, 0.5))

    def drain(self, quiet):
        """Reads until nothing came for quiet seconds or EOF."""
        while self.pump(quiet):
            pass


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


class Console:
    """`guesthouse console PATH` on a terminal of its own."""

    def __init__(self, gh, path, args=()):
        self.master, self.slave = pty.openpty()
        self.before = termios.tcgetattr(self.slave)
        self.proc = subprocess.Popen([gh, "console", *args, path],
                                     stdin=self.slave,
                                     stdout=self.slave, stderr=self.slave,
                                     start_new_session=True)
        self.out = Stream(self.master)

    def type(self, text):
        os.write(self.master, text.encode())

    def wait(self, timeout=10):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def restored(self):
        return termios.tcgetattr(self.slave) == self.before

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.drain(0.1)
        os.close(self.slave)
        os.close(self.master)


def linux_part(gh, tmp):
    fixture = os.environ.get("GH_LINUX_FIXTURE", os.path.join(TOP, "fixtures/linux"))
    r = subprocess.run([os.path.join(TOP, "scripts/build-linux-guest.sh"), fixture],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode and not os.path.exists(os.path.join(fixture, "vmlinuz")):
        return "no Linux fixture in %s and it cannot be built here" % fixture
    if is_asan(gh):
        return ("%s is built with ASan, too slow to boot Linux (set GH_LINUX_VMM "
                "to an optimized build)" % gh)
    com1 = os.path.join(tmp, "com1.sock")
    mon = os.path.join(tmp, "mon.sock")
    err = open(os.path.join(tmp, "vmm.err"), "w+b")
    vmm = subprocess.Popen([gh, "run", "--kernel", os.path.join(fixture, "vmlinuz"),
                            "--initrd", os.path.join(fixture, "initramfs.cpio.gz"),
                            "--append", "console=ttyS0", "--memory", "256M",
                            "--accel", "soft", "--serial", "unix:" + com1,
                            "--serial", "pty", "--monitor", "unix:" + mon,
                            "--timeout", "600"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=err)

    def vmm_log():
        err.seek(0)
        return err.read().decode(errors="replace")

    try:
        linux_steps(gh, vmm, com1, mon, vmm_log)
    finally:
        if vmm.poll() is None:
            vmm.kill()
            vmm.wait()
        err.close()
    return None


def linux_steps(gh, vmm, com1, mon, vmm_log):
    start = time.monotonic()
    # The sockets are there before the guest runs: wait for the log.
    while time.monotonic() - start < 20 and "COM2 on" not in vmm_log():
        time.sleep(0.1)
    log = vmm_log()
    ok("COM1 on %s (attach: guesthouse console %s)" % (com1, com1) in log and
       "monitor on " + mon in log,
       "the VMM logs where COM1's socket and the monitor are", log)
    m = re.search(r"^guesthouse: COM2 on (/dev/pts/\d+) \(a pty\)$", log, re.M)
    ok(m is not None, "--serial pty prints its pty's path on stderr", log)
    pts = m.group(1) if m else None
    # Opened now, so that nothing the guest sends it later is lost.
    fd = os.open(pts, os.O_RDWR | os.O_NOCTTY) if pts else -1
    p2 = Stream(fd) if fd >= 0 else None

    # A first client that reads the boot as it comes: a raw socket.
    s = connect(com1)
    boot = Stream(s.fileno(), s)
    got = boot.expect(re.escape(PROMPT), BOOT_LIMIT)
    booted = time.monotonic() - start
    ok(got is not None, "the guest's shell prompt comes on COM1's socket "
       "(%.0f s)" % booted, boot.buf[-2000:].decode(errors="replace") + vmm_log())
    if not got:
        return
    s.close()
    time.sleep(0.3)

    # guesthouse console on a terminal: type, detach while the guest will print.
    c = Console(gh, com1)
    attached = c.out.expect(rb"attached to .*Ctrl-\] detaches", 10)
    c.type("X=kept$((6*7))\r")
    c.type("echo set-$X\r")
    got = c.out.expect(rb"set-kept42", 30)
    ok(attached and got, "guesthouse console attaches, its input reaches the "
       "shell and the shell's output the terminal", c.out.buf)
    c.type("(sleep 3; echo while-detached-$X; echo dot > /dev/ttyS1) &\r")
    c.out.expect(re.escape(PROMPT), 10)
    c.type("\x1d")
    status = c.wait()
    detached = c.out.expect(rb"detached from .*the guest keeps running", 5)
    ok(status == 0 and detached and c.restored(),
       "Ctrl-] detaches with status 0 and restores the terminal",
       "status %s, restored %s: %r" % (status, c.restored(), c.out.buf))
    c.close()

    # Detached: the guest goes on and prints (its COM2 line comes on the pty).
    got = p2.expect(rb"dot", 30) if p2 else None
    ok(got is not None and vmm.poll() is None,
       "the guest runs on while nobody is attached (its COM2 line arrives)",
       p2.buf if p2 else "no pty")

    # Attach again: the replay, the same shell, and a second client refused.
    c = Console(gh, com1)
    got = c.out.expect(rb"while-detached-kept42", 10)
    ok(got is not None, "re-attaching replays what the guest printed while "
       "detached", c.out.buf)
    c.type("echo again-$X\r")
    got = c.out.expect(rb"again-kept42", 30)
    ok(got is not None, "the same shell session is there: the variable set "
       "before detaching is still set", c.out.buf)

    r = subprocess.run([gh, "console", com1], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=20)
    ok(r.returncode == 1 and r.stdout == "" and
       re.fullmatch(r"guesthouse: console busy: another client is attached "
                    r"to \S+\n", r.stderr),
       "a second guesthouse console is refused with one line and status 1",
       "status %d, stdout %r, stderr %r" % (r.returncode, r.stdout, r.stderr))
    if shutil.which("socat"):
        r = subprocess.run(["socat", "-u", "UNIX-CONNECT:" + com1, "-"],
                           capture_output=True, text=True, timeout=20)
        ok(r.stdout.startswith("guesthouse: console busy:") and
           r.stdout.count("\n") == 1, "a second client (socat) gets one line "
           "and is closed", repr(r.stdout))
    else:
        skip("a second client (socat) gets one line and is closed",
             "socat is not installed")
    c.type("echo still-$X\r")
    got = c.out.expect(rb"still-kept42", 30)
    ok(got is not None, "the first client keeps the console", c.out.buf)

    # --force takes it over: the first is told in one line and ends, the
    # session goes on in the second.
    f = Console(gh, com1, ["--force"])
    f.out.expect(rb"attached to .*detaches", 10)
    status = c.wait()
    told = c.out.expect(rb"\nguesthouse: console taken over: another client "
                        rb"attached to \S+ with --force\r?\n", 5)
    ok(status == 1 and told and c.restored() and
       b"guesthouse:" not in c.out.buf,
       "guesthouse console --force: the first client is told in one line, "
       "exits 1 and restores its terminal",
       "status %s, restored %s: %r" % (status, c.restored(), c.out.buf))
    c.close()
    f.type("echo forced-$X\r")
    got = f.out.expect(rb"forced-kept42", 30)
    ok(got is not None, "the forcing client has the same shell session",
       f.out.buf)
    # A plain client takes it over by answering the refusal (the protocol).
    s = connect(com1)
    raw = Stream(s.fileno(), s)
    busy = raw.expect(rb"guesthouse: console busy: [^\n]*\n", 10)
    s.sendall(b"guesthouse: take over\n" + b"echo raw-$X\n")
    got = raw.expect(rb"raw-kept42", 30)
    status = f.wait()
    told = f.out.expect(rb"guesthouse: console taken over:", 5)
    ok(busy and got and status == 1 and told and f.restored(),
       "a socket client that answers the refusal with 'guesthouse: take "
       "over' gets the session, and the console it took it from ends",
       "status %s: %r / %r" % (status, raw.buf, f.out.buf))
    f.close()
    s.close()
    time.sleep(0.3)

    # socat as a script uses it.
    if shutil.which("socat"):
        p = subprocess.Popen(["socat", "-", "UNIX-CONNECT:" + com1],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        p.stdin.write(b"echo socat-$X-$((6*7))\n")
        p.stdin.flush()
        so = Stream(p.stdout.fileno())
        got = so.expect(rb"socat-kept42-42", 30)
        p.stdin.close()
        p.wait(10)
        ok(got is not None, "socat UNIX-CONNECT attaches and types into the "
           "shell", so.buf)
    else:
        skip("socat UNIX-CONNECT attaches", "socat is not installed")

    # The pty, the other way: a line typed on it reaches the guest.
    if p2:
        c = Console(gh, com1)
        c.out.expect(rb"detaches", 10)
        c.type("read L < /dev/ttyS1; echo pty-said-$L\r")
        time.sleep(1)
        os.write(fd, b"hello\n")
        got = c.out.expect(rb"pty-said-hello", 30)
        ok(got is not None, "COM2's pty carries input to the guest", c.out.buf)
        # A flood while a client reads nothing: the guest must not stall.
        c.type("(sleep 2; i=0; while [ $i -lt 2500 ]; do "
               "echo flood-$i-abcdefghijklmnopqrstuvwxyz0123456789; "
               "i=$((i+1)); done; echo flood-done > /dev/ttyS1) &\r")
        c.out.expect(re.escape(PROMPT), 10)
        c.type("\x1d")
        c.wait()
        c.close()
    else:
        skip("COM2's pty carries input to the guest", "no pty")
    stuck = connect(com1)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    got = p2.expect(rb"flood-done", 120) if p2 else None
    ok(got is not None, "a client that never reads does not stop the guest "
       "(it printed ~130 KB and went on)", p2.buf if p2 else "")
    stuck.close()
    time.sleep(0.3)
    s = connect(com1)
    tail = Stream(s.fileno(), s)
    tail.drain(1.0)
    s.close()
    ok(b"flood-2499-" in tail.buf and b"flood-0-" not in tail.buf and
       len(tail.buf) <= 64 * 1024 + 32 * 1024,
       "the next client gets the newest output, bounded (%d bytes)" %
       len(tail.buf), tail.buf[:200] + b" ... " + tail.buf[-200:])
    m = re.match(rb"\[guesthouse: (\d+) bytes of earlier output dropped\]\r\n",
                 tail.buf)
    ok(m is not None and int(m.group(1)) > 0 and
       len(tail.buf) - m.end() <= 64 * 1024,
       "it is told first how much older output was dropped",
       tail.buf[:200])

    # A flood while nobody is attached: what was dropped and what is
    # replayed add up to what the guest printed.
    if p2:
        c = Console(gh, com1)
        c.out.expect(rb"detaches", 10)
        # (the kernel's messages, random: crng init done, kept off it)
        c.type("echo 1 > /proc/sys/kernel/printk; "
               "(sleep 2; i=0; while [ $i -lt 2000 ]; do "
               "echo flood2-$i-abcdefghijklmnopqrstuvwxyz0123456789; "
               "i=$((i+1)); done; echo flood2-done > /dev/ttyS1) &\r")
        c.out.expect(re.escape(PROMPT), 10)
        c.type("\x1d")
        c.wait()
        c.close()
        got = p2.expect(rb"flood2-done", 120)
        s = connect(com1)
        tail = Stream(s.fileno(), s)
        tail.drain(1.0)
        s.close()
        flood = b"".join(b"flood2-%d-abcdefghijklmnopqrstuvwxyz0123456789\r\n"
                         % i for i in range(2000))
        m = re.match(rb"\[guesthouse: (\d+) bytes of earlier output "
                     rb"dropped\]\r\n", tail.buf)
        rest = tail.buf[m.end():] if m else b""
        # The replay is the flood's last lines in order, after the end of a
        # line; the shell or the kernel may have printed a line of its own
        # meanwhile, which counts in what was printed.
        line = rb"flood2-(\d+)-abcdefghijklmnopqrstuvwxyz0123456789\r\n"
        nums = [int(x) for x in re.findall(line, rest)]
        others = re.sub(line, b"", rest)
        extra = int(m.group(1)) + len(rest) - len(flood) if m else -1
        ok(got and m and len(rest) == 64 * 1024 and nums and
           nums == list(range(nums[0], 2000)) and 0 <= extra < 256,
           "after a %d-byte flood with nobody attached, the next client is "
           "told %s bytes were dropped, then gets the newest 64 KiB (the "
           "guest printed %d bytes besides the flood)" %
           (len(flood), m.group(1).decode() if m else "no", extra),
           "%r ... %r; not the flood's: %r" % (tail.buf[:200],
                                              tail.buf[-100:], others[:300]))
    else:
        skip("a flood with nobody attached: dropped and replayed", "no pty")
    if fd >= 0:
        os.close(fd)

    vmm.send_signal(signal.SIGTERM)
    try:
        status = vmm.wait(30)
    except subprocess.TimeoutExpired:
        status = None
    ok(status == 128 + 15 and not os.path.exists(com1) and
       not os.path.exists(mon),
       "SIGTERM stops the VM with 143 and removes its sockets",
       "status %s, com1 %s, monitor %s\n%s" % (status, os.path.exists(com1),
                                               os.path.exists(mon), vmm_log()))


def console_errors(gh, tmp, mon):
    """What guesthouse console says where there is no console."""
    plain = os.path.join(tmp, "plain")
    open(plain, "w").close()
    cases = [
        (os.path.join(tmp, "nothing"), r"guesthouse: \S+: no such socket "
         r"\(is the VM running with --serial unix:\S+\?\)\n",
         "no socket"),
        (plain, r"guesthouse: \S+ is not a socket, so not a console\n",
         "not a socket"),
        (mon, r"guesthouse: \S+ is the monitor's socket, not a console\n",
         "the monitor's socket"),
    ]
    for path, want, what in cases:
        r = subprocess.run([gh, "console", path], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=20)
        ok(r.returncode == 1 and r.stdout == "" and re.fullmatch(want, r.stderr),
           "guesthouse console on %s: one line, status 1" % what,
           "status %d, stdout %r, stderr %r" % (r.returncode, r.stdout, r.stderr))


def headless_part(gh, tmp):
    """The sanitized build: headless SeaBIOS, a client attached, SIGTERM."""
    com1 = os.path.join(tmp, "h-com1.sock")
    dbg = os.path.join(tmp, "h-dbg.sock")
    mon = os.path.join(tmp, "h-mon.sock")
    png = os.path.join(tmp, "h.png")
    err = open(os.path.join(tmp, "h.err"), "w+b")
    vmm = subprocess.Popen([gh, "run", "--firmware", "seabios", "--accel", "soft",
                            "--serial", "unix:" + com1, "--debugcon", "unix:" + dbg,
                            "--monitor", "unix:" + mon,
                            "--screendump", png, "--timeout", "120"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=err)
    end = time.monotonic() + 30
    while time.monotonic() < end and not os.path.exists(dbg):
        time.sleep(0.1)
    s = connect(dbg) if os.path.exists(dbg) else None
    out = Stream(s.fileno(), s) if s else None
    # Debian's SeaBIOS logs to the debug console, from its first line.
    got = out.expect(rb"SeaBIOS \(version", 60) if out else None
    ok(got is not None, "--debugcon unix: replays SeaBIOS's log from its start",
       out.buf[-300:] if out else "no socket at " + dbg)
    console_errors(gh, tmp, mon)

    # guesthouse console (this build's, under the sanitizers) ended by a
    # signal, then by the VM stopping: the terminal is restored both times.
    c = Console(gh, com1)
    c.out.expect(rb"detaches", 10)
    c.proc.send_signal(signal.SIGTERM)
    cstatus = c.wait()
    c.out.expect(rb"detached: Terminated", 5)
    ok(cstatus == 128 + 15 and c.restored() and b"Sanitizer" not in c.out.buf,
       "SIGTERM ends guesthouse console with 143 and restores the terminal",
       "status %s, restored %s: %r" % (cstatus, c.restored(), c.out.buf))
    c.close()
    c = Console(gh, com1)
    c.out.expect(rb"detaches", 10)

    vmm.send_signal(signal.SIGTERM)
    try:
        status = vmm.wait(60)
    except subprocess.TimeoutExpired:
        vmm.kill()
        status = vmm.wait()
    cstatus = c.wait()
    closed = c.out.expect(rb"guesthouse: console closed: the VM stopped", 5)
    ok(cstatus == 0 and closed and c.restored() and b"Sanitizer" not in c.out.buf,
       "guesthouse console says 'console closed' when the VM stops, exits 0 "
       "and restores the terminal",
       "status %s, restored %s: %r" % (cstatus, c.restored(), c.out.buf))
    c.close()
    if out:
        out.drain(5)
    err.seek(0)
    log = err.read().decode(errors="replace")
    err.close()
    ok(status == 143, "SIGTERM on a headless run exits 143", log)
    ok(not os.path.exists(com1) and not os.path.exists(dbg) and
       not os.path.exists(mon), "its console and monitor sockets are removed",
       log)
    ok(os.path.exists(png) and os.path.getsize(png) > 0,
       "its --screendump is written", log)
    ok("Sanitizer" not in log and "runtime error" not in log,
       "no ASan/UBSan report (leaks included)", log)
    ok(out is not None and out.eof, "the attached client sees the console "
       "close", out.buf[-300:] if out else "no socket")
    if s:
        s.close()


def vnc_headless_part(gh, tmp):
    """--vnc without --serial: COM1 is a socket console, SIGTERM cleans up."""
    help_text = subprocess.run([gh, "run", "--help"], capture_output=True,
                               text=True).stdout
    if "--vnc" not in help_text:
        skip("--vnc without --serial puts COM1 on a socket", "no --vnc here")
        return
    rt = os.path.join(tmp, "runtime")
    os.mkdir(rt, 0o700)
    png = os.path.join(tmp, "v.png")
    err = open(os.path.join(tmp, "v.err"), "w+b")
    env = dict(os.environ, XDG_RUNTIME_DIR=rt)
    # The command, with Debian's GRUB rescue CD where
    # scripts/build-boot-fixtures.sh made it; no terminal, no session.
    cd = os.path.join(TOP, "fixtures/boot/grub-rescue-cdrom.iso")
    boot = ["--cdrom", cd] if os.path.exists(cd) else ["--firmware", "seabios"]
    vmm = subprocess.Popen([gh, "run"] + boot + ["--accel", "soft",
                            "--vnc", "127.0.0.1:auto", "--screendump", png,
                            "--timeout", "120"], env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=err, start_new_session=True)
    com1 = os.path.join(rt, "guesthouse", "%d-com1.sock" % vmm.pid)

    def log():
        err.seek(0)
        return err.read().decode(errors="replace")

    end = time.monotonic() + 30
    while time.monotonic() < end and "COM1 on" not in log():
        time.sleep(0.1)
    time.sleep(0.5)
    text = log()
    ok("guesthouse: COM1 on %s (attach: guesthouse console %s)\n" % (com1, com1)
       in text and re.search(r"^guesthouse: VNC server on 127\.0\.0\.1:\d+ ",
                             text, re.M),
       "--vnc without --serial: the log says COM1 is a socket console in "
       "$XDG_RUNTIME_DIR/guesthouse and where VNC listens", text)
    r = subprocess.run([gh, "console", com1], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=20)
    ok(r.returncode == 0 and "console closed" not in r.stderr,
       "guesthouse console attaches to it (and detaches at its input's end)",
       "status %d, stderr %r" % (r.returncode, r.stderr))
    # A VNC client in the middle of its handshake when SIGTERM comes.
    m = re.search(r"VNC server on 127\.0\.0\.1:(\d+) ", text)
    vnc = socket.create_connection(("127.0.0.1", int(m.group(1))), 10) if m else None
    if vnc:
        vnc.recv(12)
        vnc.sendall(b"RFB 003.008\n")
        time.sleep(0.5)
    vmm.send_signal(signal.SIGTERM)
    try:
        status = vmm.wait(60)
    except subprocess.TimeoutExpired:
        vmm.kill()
        status = vmm.wait()
    text = log()
    err.close()
    if vnc:
        vnc.close()
    ok(status == 143 and not os.path.exists(com1) and os.path.exists(png) and
       "Sanitizer" not in text and "runtime error" not in text,
       "SIGTERM on the headless --vnc run: 143, socket removed, screen "
       "written, no sanitizer report", "status %s, socket %s, png %s\n%s" %
       (status, os.path.exists(com1), os.path.exists(png), text))


def main():
    if len(sys.argv) != 2:
        print("usage: %s GUESTHOUSE" % sys.argv[0], file=sys.stderr)
        return 2
    gh = os.path.abspath(sys.argv[1])
    linux_gh = os.path.abspath(os.environ.get("GH_LINUX_VMM") or gh)
    tmp = tempfile.mkdtemp(prefix="gh-serial.")
    try:
        why = linux_part(linux_gh, tmp)
        if why:
            skip("serial consoles on the Linux guest", why)
        headless_part(gh, tmp)
        vnc_headless_part(gh, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("1..%d" % n)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
