#!/bin/sh
# The monitor socket (--monitor unix:PATH) driving a real VM: Debian's
# SeaBIOS under the software CPU with the VGA and no disk. screen-text
# shows SeaBIOS's banner while it runs, screendump writes a PNG, sendkey
# reaches the guest (ESC at "Press ESC for boot menu" opens SeaBIOS's boot
# menu on the screen), info block lists the drives, eject and change swap
# the CD-ROM drive's disc, bad commands get one error line, and quit ends
# the VMM with status 0; the socket path is checked before the VM starts.
# Usage: monitor.sh GUESTHOUSE
set -u
gh=$1
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
bios=/usr/share/seabios/bios-256k.bin

if [ ! -r "$bios" ]; then
	echo "1..0 # SKIP $bios missing (Debian package seabios)"
	exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 missing"
	exit 0
fi

. "$(dirname "$0")/tap.sh"

# Runs SeaBIOS with the monitor on $1 in the background.
start() {
	"$gh" run --firmware seabios --boot-menu --accel soft --serial none \
		--disk "$tmp/disk.img" --cdrom "$tmp/a.iso" \
		--timeout 120 --monitor "unix:$1" </dev/null \
		>"$tmp/vmm.out" 2>&1 &
	pid=$!
}

echo "1..19"
# a blank disk and two discs that are not bootable: SeaBIOS goes past them
head -c 1048576 /dev/zero >"$tmp/disk.img"
head -c 65536 /dev/zero >"$tmp/a.iso"
head -c 131072 /dev/zero >"$tmp/b.iso"
sock=$tmp/mon.sock
start "$sock"
# The client: each step prints "ok" or "not ok" and what it saw.
python3 - "$sock" "$tmp" >"$tmp/client.out" 2>&1 <<'EOF'
import os, socket, sys, time
path, tmp = sys.argv[1], sys.argv[2]

deadline = time.monotonic() + 30
while not os.path.exists(path) and time.monotonic() < deadline:
    time.sleep(0.05)
s = socket.socket(socket.AF_UNIX)
s.connect(path)
f = s.makefile('rw')

def reply():
    lines = []
    while True:
        l = f.readline()
        if not l:
            return lines, 'EOF'
        l = l.rstrip('\n')
        if l == 'ok' or l.startswith('error: '):
            return lines, l
        lines.append(l)

def cmd(c):
    f.write(c + '\n')
    f.flush()
    return reply()

def check(cond, what, seen=''):
    print(('ok' if cond else 'not ok') + ' ' + what +
          ('' if cond else ' # saw ' + repr(seen)[:300]))
    sys.stdout.flush()

def text():
    lines, end = cmd('screen-text ' + tmp + '/screen.txt')
    if end != 'ok':
        return end
    with open(tmp + '/screen.txt', encoding='utf-8') as t:
        return t.read()

def wait_text(needle, limit):
    deadline = time.monotonic() + limit
    t = ''
    while time.monotonic() < deadline:
        t = text()
        if needle in t:
            return True, t
        time.sleep(0.05)
    return False, t

lines, end = reply()
check(end == 'ok' and lines and 'monitor' in lines[0], 'greeting', lines)
lines, end = cmd('help')
check(end == 'ok' and any(l.startswith('sendkey') for l in lines),
      'help lists the commands', lines)
lines, end = cmd('info status')
check(end == 'ok' and lines == ['VM status: running'], 'info status',
      (lines, end))
found, t = wait_text('Press ESC for boot menu', 60)
check(found and t.startswith('SeaBIOS (version 1.'),
      'screen-text shows the banner and the boot menu prompt', t)
lines, end = cmd('sendkey esc')
check(end == 'ok', 'sendkey esc', (lines, end))
found, t = wait_text('Select boot device', 20)
check(found, 'the ESC reached SeaBIOS: its boot menu is on the screen', t)
lines, end = cmd('screendump ' + tmp + '/screen.png')
with open(tmp + '/screen.png', 'rb') as p:
    sig = p.read(8)
check(end == 'ok' and sig == b'\x89PNG\r\n\x1a\n', 'screendump writes a PNG',
      (end, sig))
bad = [cmd('frobnicate'), cmd('sendkey ctrl-nosuchkey'), cmd('info'),
       cmd('screendump'), cmd('x' * 10000), cmd('screendump /nonexistent/x.png')]
check(all(l == [] and e.startswith('error: ') for l, e in bad),
      'bad commands get one error line each', bad)
lines, end = cmd('stop')
lines2, end2 = cmd('info status')
lines3, end3 = cmd('cont')
check(end == 'ok' and lines2 == ['VM status: paused'] and end3 == 'ok',
      'stop pauses, cont resumes', (end, lines2, end3))
lines, end = cmd('info block')
check(end == 'ok' and lines == [
    'ide0-hd0: %s/disk.img (raw)' % tmp,
    'ide1-cd0: %s/a.iso (raw, read-only)' % tmp,
    '    Removable device: not locked, tray closed'],
    'info block lists the disk and the CD-ROM drive', (lines, end))
lines, end = cmd('eject ide1-cd0')
lines2, end2 = cmd('info block')
check(end == 'ok' and end2 == 'ok' and 'ide1-cd0: [not inserted]' in lines2,
      'eject takes the disc out', (end, lines2))
lines, end = cmd('change ide1-cd0 ' + tmp + '/b.iso')
lines2, end2 = cmd('info block')
check(end == 'ok' and 'ide1-cd0: %s/b.iso (raw, read-only)' % tmp in lines2,
      'change puts another disc in', (end, lines2))
bad = [cmd('change ide0-hd0 ' + tmp + '/a.iso'), cmd('eject ide1-cd1'),
       cmd('change ide1-cd0 /nonexistent.iso'), cmd('eject -x ide1-cd0'),
       cmd('eject -f'), cmd('change ide1-cd0')]
lines2, end2 = cmd('info block')
check(all(l == [] and e.startswith('error: ') for l, e in bad) and
      'hard disk' in bad[0][1] and "no drive 'ide1-cd1'" in bad[1][1] and
      'ide1-cd0: %s/b.iso (raw, read-only)' % tmp in lines2,
      'bad drives, files and usage are refused, the disc kept',
      (bad, lines2))
lines, end = cmd('quit')
check(end == 'ok', 'quit', (lines, end))
EOF
sed 's/^/# /' "$tmp/client.out" | grep -v '^# ok ' | grep -v '^# not ok ' >&2
while read -r verdict rest; do
	case $verdict in
	ok) ok 0 "$rest" ;;
	not) ok 1 "${rest#ok }" ;;
	esac
done <"$tmp/client.out"
# every step printed a verdict, or the client died early
[ "$n" = 14 ]
ok $? "the client got through all fourteen steps ($n)"
status=
for i in $(seq 100); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
wait "$pid"
status=$?
pid=
[ "$status" = 0 ] && [ ! -e "$sock" ]
ok $? "quit ends the VMM with status 0 and removes the socket ($status)"
[ "$status" = 0 ] || sed 's/^/# /' "$tmp/vmm.out"

# the path: a regular file is refused, a live socket too, a stale one taken
: >"$tmp/file"
"$gh" run --firmware seabios --accel soft --serial none --timeout 5 \
	--monitor "unix:$tmp/file" >"$tmp/file.out" 2>&1 </dev/null
[ $? = 1 ] && grep -q 'exists and is not a socket' "$tmp/file.out"
ok $? "a path that is not a socket is refused"
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[2]); s.listen(1)
import subprocess
r = subprocess.run([sys.argv[3], "run", "--firmware", "seabios", "--accel",
                    "soft", "--serial", "none", "--timeout", "5", "--monitor",
                    "unix:" + sys.argv[2]], capture_output=True, text=True,
                   stdin=subprocess.DEVNULL)
sys.exit(0 if r.returncode == 1 and "in use" in r.stderr else 1)
' "$tmp/stale.sock" "$tmp/live.sock" "$gh"
ok $? "a socket another process listens on is refused"
"$gh" run --firmware seabios --accel soft --serial none --timeout 1 \
	--monitor "unix:$tmp/stale.sock" >"$tmp/stale.out" 2>&1 </dev/null
[ $? = 124 ] && [ ! -e "$tmp/stale.sock" ]
ok $? "a stale socket is replaced (and removed at exit)"
[ $fails -eq 0 ]
