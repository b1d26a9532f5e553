#!/bin/sh
# How `guesthouse run` ends, with tiny Multiboot kernels made here: the
# debug-exit status, --timeout, SIGTERM and SIGINT, --no-reboot after a keyboard-
# controller reset, serial output to a file, a pty, and Ctrl-A x on stdio.
# Usage: cli-run.sh GUESTHOUSE ACCEL
set -u
gh=$1
accel=${2:-kvm}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! "$gh" info 2>/dev/null | grep -q "^$accel: available"; then
	echo "1..0 # SKIP the $accel backend cannot run here"
	exit 0
fi

# mk NAME HEXCODE: an a.out-kludge Multiboot kernel whose 32-bit code is HEXCODE
mk() {
	python3 - "$tmp/$1" "$2" <<'PY'
import struct, sys
flags = 0x10000
hdr = struct.pack("<III", 0x1BADB002, flags, (-(0x1BADB002 + flags)) & 0xffffffff)
hdr += struct.pack("<IIIII", 0x100000, 0x100000, 0, 0, 0x100020)
open(sys.argv[1], "wb").write(hdr + bytes(32 - len(hdr)) + bytes.fromhex(sys.argv[2]))
PY
}
# mov al,0x2a; out 0xf4,al; hlt
mk exit42 "b02ae6f4f4"
# mov al,0xfe; out 0x64,al (pulse the reset line); hlt
mk reset "b0fee664f4"
# mov dx,0x3f8; mov al,'o'; out dx,al; mov al,'k'; out dx,al; mov al,10;
# out dx,al; jmp $
mk hello "66baf803b06feeb06beeb00aeeebfe"

# At 0x90000: write 0x11 at 1 MiB + 0x500 and 0x22 at 0x500, close the A20
# gate through port 0x92, write 0x33 at 1 MiB + 0x500 (which now lands at
# 0x500), and exit with the byte at 0x500: 0x33 where A20 is emulated.
python3 - "$tmp/a20" <<'PY'
import struct, sys
flags = 0x10000
hdr = struct.pack("<III", 0x1BADB002, flags, (-(0x1BADB002 + flags)) & 0xffffffff)
hdr += struct.pack("<IIIII", 0x90000, 0x90000, 0, 0, 0x90020)
code = bytes.fromhex("c6050005100011" "c6050005000022" "e49224fde692"
                     "c6050005100033" "a000050000" "e6f4f4")
open(sys.argv[1], "wb").write(hdr + bytes(32 - len(hdr)) + code)
PY

n=0
fails=0
check() {
	n=$((n + 1))
	if [ "$1" = "$2" ]; then
		echo "ok $n - $3"
	else
		echo "not ok $n - $3: got '$1', expected '$2'"
		sed 's/^/# /' "$tmp/err" 2>/dev/null
		fails=$((fails + 1))
	fi
}
run() {
	"$gh" run --accel "$accel" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
}

echo "1..12"
run --kernel "$tmp/exit42" --serial none
check $? 85 "debug-exit 0x2a gives exit status 85"

run --kernel "$tmp/reset" --serial none --no-reboot
check $? 0 "a guest reset with --no-reboot exits 0"

run --kernel "$tmp/reset" --serial none --timeout 2
check $? 124 "without --no-reboot the guest keeps resetting until the timeout"

run --kernel "$tmp/hello" --serial "file:$tmp/com1" --timeout 1
check $? 124 "a spinning guest stops at --timeout with 124"
check "$(cat "$tmp/com1")" "ok" "COM1 output reaches --serial file:"

# The signal goes once the guest runs (its "ok" is on COM1): the VMM's
# handlers are in place by then. Before, SIGINT could come first and be
# lost, as a background job of sh starts with SIGINT ignored.
signal_vmm() {
	rm -f "$tmp/sig"
	"$gh" run --accel "$accel" --kernel "$tmp/hello" --serial "file:$tmp/sig" \
		--timeout 60 </dev/null >/dev/null 2>"$tmp/err" &
	pid=$!
	for _ in $(seq 100); do
		[ "$(cat "$tmp/sig" 2>/dev/null)" = ok ] && break
		sleep 0.1
	done
	kill "-$1" $pid
	wait $pid
}
signal_vmm TERM
check $? 143 "SIGTERM stops the VM with 128+15"

signal_vmm INT
check $? 130 "SIGINT stops the VM with 128+2"

"$gh" run --accel "$accel" --kernel "$tmp/hello" --serial pty --timeout 3 \
	</dev/null >/dev/null 2>"$tmp/err" &
pid=$!
pts=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
	pts=$(sed -n 's/^guesthouse: COM1 on \(\/dev\/pts\/[0-9]*\) (a pty)$/\1/p' \
		"$tmp/err")
	[ -n "$pts" ] && break
	sleep 0.2
done
check "$(echo "$pts" | cut -c1-9)" "/dev/pts/" "--serial pty announces its pty"
wait $pid
check $? 124 "with nobody on the pty the guest still runs until --timeout"

# stdio on a terminal: Ctrl-A x quits with status 0 (script(1) gives a tty).
if command -v script >/dev/null 2>&1; then
	( sleep 1; printf '\001x' ) | script -qec \
		"$gh run --accel $accel --kernel $tmp/hello --timeout 20" \
		/dev/null >"$tmp/tty" 2>&1
	check $? 0 "Ctrl-A x on the stdio console quits with 0"
	check "$(grep -c ok "$tmp/tty")" 1 "the guest's output reached the terminal"
else
	echo "ok 10 # SKIP script(1) not installed"
	echo "ok 11 # SKIP script(1) not installed"
fi
if [ "$accel" = soft ]; then
	run --kernel "$tmp/a20" --serial none
	check $? 103 "with A20 closed, addresses wrap at 1 MiB (exit 0x33 -> 103)"
else
	echo "ok 12 # SKIP KVM does not model the A20 gate"
fi
[ $fails -eq 0 ]
