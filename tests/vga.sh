#!/bin/sh
# The standard VGA's screens, pixel by pixel: guest-vga draws text mode 03h
# with its own font, planar mode 12h, mode 13h and a Bochs VBE 1024x768x32
# mode, and leaves; guesthouse's --screendump PNG must hold exactly the
# pixels vga-check.py computes from the patterns (tests/vga-modes.h), under
# soft and kvm, and --screen-text the text. Under QEMU's pc machine with -vga std the same
# guest halts instead (no debug-exit device) and QEMU's own screendump, over
# its monitor, must hold the same pixels: the proof that ours are a VGA's.
# usage: vga.sh GUESTHOUSE GUEST-VGA.ELF [QEMU]
set -u
gh=$1 elf=$2 qemu=${3:-}
here=$(dirname "$0")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gh-vga.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

. "$(dirname "$0")/tap.sh"
skip() {
	n=$((n + 1))
	echo "ok $n # SKIP $1"
}

kvm=no
"$gh" info 2>/dev/null | grep -q '^kvm: available' && kvm=yes

echo "1..13"
for accel in soft kvm; do
	for step in text 12h 13h vbe; do
		if [ $accel = kvm ] && [ $kvm = no ]; then
			skip "kvm not available: $step screen"
			continue
		fi
		out=$tmp/$accel-$step
		"$gh" run --kernel "$elf" --accel $accel --memory 64M \
			--serial "file:$out.serial" --timeout 60 --no-reboot \
			--append "vga.step=$step" --screendump "$out.png" \
			--screen-text "$out.txt" </dev/null >"$out.log" 2>&1
		status=$?
		# debug-exit 0x31: (0x31 << 1) | 1; a --screen-text refused
		# in a graphics mode leaves the guest's status as it was
		if [ $status -ne 99 ] || ! grep -q SUCCESS "$out.serial"; then
			ok 1 "$accel: $step screen: exit status $status"
			sed 's/^/# /' "$out.log" "$out.serial"
			continue
		fi
		python3 "$here/vga-check.py" $step "$out.png" >"$out.check" 2>&1
		ok $? "$accel: the $step screen's every pixel as expected"
		sed 's/^/# /' "$out.check"
	done
done

# the screen's text and the refusal in graphics modes
row=$(sed -n 1p "$tmp/soft-text.txt" 2>/dev/null)
[ "$(sed -n '$=' "$tmp/soft-text.txt" 2>/dev/null)" = 25 ] &&
	[ -n "$row" ] && grep -q "not in a text mode (VBE graphics 1024x768x32)" \
	"$tmp/soft-vbe.log"
ok $? "--screen-text: 25 rows of text; refused in the VBE mode"

if [ -z "$qemu" ] || ! [ -x "$qemu" ]; then
	skip "qemu-system-x86_64 not installed: no reference screens"
	skip "qemu-system-x86_64 not installed"
	skip "qemu-system-x86_64 not installed"
	skip "qemu-system-x86_64 not installed"
	skip "qemu-system-x86_64 not installed"
	[ $fails -eq 0 ]
	exit
fi

# QEMU: wait for the guest's verdict on the serial port, then screendump
qemu_screen() {
	step=$1 out=$tmp/qemu-$step
	"$qemu" -machine pc -accel tcg -m 64 -vga std -display none \
		-serial "file:$out.serial" -no-reboot \
		-monitor "unix:$out.mon,server=on,wait=off" \
		-kernel "$elf" -append "vga.step=$step" >"$out.log" 2>&1 &
	pid=$!
	python3 - "$out.mon" "$out.serial" "$out.ppm" <<'PY'
import os, socket, sys, time
mon, serial, ppm = sys.argv[1:]
end = time.time() + 60
while time.time() < end:
    try:
        if b'SUCCESS' in open(serial, 'rb').read() or b'FAILURE' in open(serial, 'rb').read():
            break
    except OSError:
        pass
    time.sleep(0.2)
s = socket.socket(socket.AF_UNIX)
s.connect(mon)
s.sendall(b'screendump %s\n' % ppm.encode())
while time.time() < end and not (os.path.exists(ppm) and os.path.getsize(ppm) > 0):
    time.sleep(0.2)
time.sleep(0.5)
s.sendall(b'quit\n')
time.sleep(0.5)
PY
	wait $pid 2>/dev/null
}
for step in text 12h 13h vbe; do
	qemu_screen $step
	out=$tmp/qemu-$step
	if ! grep -q SUCCESS "$out.serial" 2>/dev/null || ! [ -s "$out.ppm" ]; then
		ok 1 "qemu: the $step screen (no verdict or no screendump)"
		sed 's/^/# /' "$out.log" "$out.serial" 2>/dev/null
		continue
	fi
	python3 "$here/vga-check.py" $step "$out.ppm" "$tmp/soft-$step.png" \
		>"$out.check" 2>&1
	ok $? "qemu: its $step screen and ours hold the same pixels"
	sed 's/^/# /' "$out.check"
done
[ $fails -eq 0 ]
