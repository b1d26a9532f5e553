#!/bin/sh
# --vnc and its options: bad addresses, password files, a port in use and a
# non-loopback address without a password stop 'guesthouse run' with one
# line before the guest starts; good ones start the server and say where.
# Usage: vnc-cli.sh GUESTHOUSE
set -u
gh=$1
tmp=$(mktemp -d)
holder=
trap '[ -n "$holder" ] && kill $holder 2>/dev/null; rm -rf "$tmp"' EXIT
. "$(dirname "$0")/tap.sh"

if ! "$gh" run --help | grep -q -- '--vnc='; then
	echo "1..0 # SKIP guesthouse built without VNC (libvncserver)"
	exit 0
fi

# A display from FIRST up whose port nobody listens on now, but for SKIP.
free_display() {
	python3 "$(dirname "$0")/vnc_display.py" "$@"
}

# refused WORD ARGS...: a non-zero exit below 124 and one line on stderr
# naming WORD, before any guest ran
refused() {
	word=$1
	shift
	"$gh" run --accel soft --firmware seabios --serial none --timeout 20 \
		"$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
	lines=$(wc -l <"$tmp/err")
	if [ $rc -ne 0 ] && [ $rc -lt 124 ] && [ "$lines" -eq 1 ] &&
	   grep -qi -- "$word" "$tmp/err"; then
		ok 0 "refused $*: $(cat "$tmp/err")"
	else
		ok 1 "refused $* (exit $rc, $lines lines)"
		sed 's/^/# /' "$tmp/err"
	fi
}

# serves ADDRESS-REGEX ARGS...: runs 1 s (exit 124) and logs where it
# listened, matching the regex
serves() {
	want=$1
	shift
	"$gh" run --accel soft --firmware seabios --serial none --timeout 1 \
		"$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -eq 124 ] &&
	   grep -Eq "^guesthouse: VNC server on $want\$" "$tmp/err"; then
		ok 0 "serves $*: $(grep 'VNC server' "$tmp/err")"
	else
		ok 1 "serves $* (exit $rc)"
		sed 's/^/# /' "$tmp/err"
	fi
}

# other tests may run VNC servers on the low displays at the same time
d=$(free_display 50)
d2=$(free_display 50 "$d")
# the display auto would take now
da=$(free_display 0)
printf 'secret\n' >"$tmp/pw"
printf 'ninechars\n' >"$tmp/long"
printf '\n' >"$tmp/empty"
printf '12345678\r\nsecond line\n' >"$tmp/eight"
mkdir "$tmp/dir"

echo "1..25"
refused "invalid VNC address" --vnc foo
refused "invalid VNC address" --vnc ''
refused "invalid VNC display" --vnc :x
refused "invalid VNC display" --vnc :70000
refused "invalid VNC display" --vnc 127.0.0.1:-1
refused "invalid VNC address" --vnc ::1:1
refused "invalid VNC address" --vnc '[::1]1'
refused "invalid VNC address" --vnc nosuchhost.invalid:$d
refused "need --vnc" --keymap de
refused "need --vnc" --vnc-password-file "$tmp/pw"
refused "unknown --keymap" --vnc :$d --keymap xx
refused "needs a display" --vnc :$d --vga none
refused "no such file" --vnc :$d --vnc-password-file "$tmp/nofile"
refused "directory" --vnc :$d --vnc-password-file "$tmp/dir"
refused "at most 8" --vnc :$d --vnc-password-file "$tmp/long"
refused "empty" --vnc :$d --vnc-password-file "$tmp/empty"
refused "not a loopback address" --vnc 0.0.0.0:$d

# a port in use: another server holds display $da
python3 -c "
import socket, sys, time
s = socket.socket()
s.bind(('127.0.0.1', $((5900 + da))))
s.listen(1)
print('ready', flush=True)
time.sleep(120)" >"$tmp/holder" &
holder=$!
for i in $(seq 50); do
	grep -q ready "$tmp/holder" && break
	sleep 0.1
done
refused "in use" --vnc 127.0.0.1:$da
# auto passes over the first free display, now in use, and listens on
# the port of the one it takes (which may be lower: other tests running
# at the same time free displays)
serves '127\.0\.0\.1:59[0-9]+ \(display :[0-9]+\)' --vnc 127.0.0.1:auto
got=$(sed -n 's/.*:\(59[0-9]*\) (display :\([0-9]*\))$/\1 \2/p' "$tmp/err")
if [ -n "$got" ] && [ "${got#* }" -ne "$da" ] &&
   [ "${got% *}" -eq $((5900 + ${got#* })) ]; then
	ok 0 "auto skipped display :$da, in use, for :${got#* }"
else
	ok 1 "auto took '$got' with display :$da in use"
fi
kill $holder
wait $holder 2>/dev/null
holder=

serves "127\\.0\\.0\\.1:$((5900 + d2)) \\(display :$d2\\)" --vnc :$d2
serves "0\\.0\\.0\\.0:$((5900 + d2)) \\(display :$d2\\)" \
	--vnc 0.0.0.0:$d2 --vnc-insecure
serves "0\\.0\\.0\\.0:$((5900 + d2)) \\(display :$d2\\)" \
	--vnc 0.0.0.0:$d2 --vnc-password-file "$tmp/eight" --keymap fr \
	--vnc-view-only
if python3 -c "import socket; s = socket.socket(socket.AF_INET6); s.bind(('::1', 0))" \
	2>/dev/null; then
	serves "\\[::1\\]:$((5900 + d2)) \\(display :$d2\\)" --vnc "[::1]:$d2"
else
	ok 0 "# SKIP no IPv6 loopback here"
fi

# the monitor's info vnc: the address, then the clients as they come
"$gh" run --accel soft --firmware seabios --serial none --timeout 30 \
	--vnc :$d2 --monitor "unix:$tmp/mon" </dev/null >"$tmp/out" \
	2>"$tmp/err" &
vmm=$!
python3 - "$tmp/mon" $((5900 + d2)) >"$tmp/info" 2>&1 <<'PY'
import os, socket, sys, time
path, port = sys.argv[1], int(sys.argv[2])
for _ in range(200):
    if os.path.exists(path):
        break
    time.sleep(0.05)
def info():
    m = socket.socket(socket.AF_UNIX)
    m.connect(path)
    f = m.makefile('rw')
    f.readline(); f.readline()
    f.write('info vnc\n'); f.flush()
    lines = []
    while True:
        l = f.readline().rstrip('\n')
        if l == 'ok' or l.startswith('error') or not l:
            break
        lines.append(l)
    m.close()
    return lines
before = info()
c = socket.create_connection(('127.0.0.1', port))
assert c.recv(12) == b'RFB 003.008\n'
c.sendall(b'RFB 003.008\n')
n = c.recv(1)[0]
assert c.recv(n) == b'\x01'    # no authentication on the loopback
c.sendall(b'\x01')
assert c.recv(4) == bytes(4)
c.sendall(b'\x01')
time.sleep(0.3)
during = info()
c.close()
time.sleep(0.5)
after = info()
print(before, during, after)
want = 'VNC server: 127.0.0.1:%d (display :%d)' % (port, port - 5900)
ok = (before == [want, 'clients: 0'] and during[:2] == [want, 'clients: 1']
      and during[2].startswith('client 127.0.0.1') and after == before)
sys.exit(0 if ok else 1)
PY
rc=$?
kill $vmm 2>/dev/null
wait $vmm 2>/dev/null
ok $rc "info vnc: $(cat "$tmp/info")"
[ $fails -eq 0 ]
