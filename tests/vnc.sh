#!/bin/sh
# The VNC server (issue 6) with real clients nobody here wrote and with our
# libvncclient one (tests/vnc-client.c):
#  - the screen: vnc-client's picture of guest-vga's mode 13h and VBE
#    1024x768 screens (the latter switched to while the client is connected:
#    DesktopSize) and of GRUB's menu is the VMM's screendump pixel for pixel;
#    vncsnapshot, which only writes JPEG (lossy even at quality 100), gets a
#    picture of the right size and close colours (mean difference); gvncviewer
#    (or TigerVNC's viewer) under Xvfb shows the screendump whole, pixel for
#    pixel, in an xwd of its X screen;
#  - input: a command typed through vnc-client into the busybox shell on
#    the Linux guest's VGA console (console=tty0, through SeaBIOS) is run:
#    its output reaches the serial port; the pointer's moves, a click and a
#    wheel turn reach guest-mouse as PS/2 packets with the right signs,
#    buttons and wheel;
#  - ours only: VNC authentication (right password accepted, wrong and
#    none refused: vnc-client's exit status), a non-loopback address without
#    a password refused at start, two clients at once both get updates of
#    guest-vga's animation, and --vnc-view-only drops the input.
#
# usage: vnc.sh VMM VNC-CLIENT GUEST-VGA.ELF GUEST-MOUSE.ELF
#   VMM is guesthouse, or qemu-system-x86_64: the same screens and input
#   checks against QEMU's own VNC server, the reference that shows the test
#   is right. GH_LINUX_VMM (an optimized guesthouse) boots GRUB and Linux in
#   place of a sanitized VMM, which would take minutes (they are skipped
#   without it); GH_LINUX_FIXTURE and GH_BOOT_FIXTURE as in linux-boot.sh
#   and ide-boot.sh.
set -u
[ $# -eq 4 ] || { echo "usage: $0 VMM VNC-CLIENT GUEST-VGA.ELF GUEST-MOUSE.ELF" >&2; exit 2; }
vmm=$1 client=$2 vga_elf=$3 mouse_elf=$4
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
linux_fixture=${GH_LINUX_FIXTURE:-$top/fixtures/linux}
boot_fixture=${GH_BOOT_FIXTURE:-$top/fixtures/boot}

. "$here/tap.sh"
. "$here/vnc-lib.sh"

case $(basename "$vmm") in
qemu-system-*) mode=qemu ;;
*) mode=ours ;;
esac

if [ ! -x "$client" ]; then
	echo "1..0 # SKIP no vnc-client: libvncclient (libvncserver-dev) was not found at build time"
	exit 0
fi
[ $mode = ours ] && vnc_require "$vmm" "$vga_elf"
# the Linux and GRUB boots want an optimized build
boot_vmm=$vmm
if [ $mode = ours ] && grep -q __asan_init "$vmm" 2>/dev/null; then
	boot_vmm=${GH_LINUX_VMM:-}
fi

vnc_tmp gh-vnc
port_open() {
	python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null
}
free_display() {
	python3 "$here/vnc_display.py" 60
}

# start_vm NAME EXE [VMM ARGS...]: runs a VM with its VNC server on
# 127.0.0.1, a monitor socket $tmp/NAME.mon and COM1 in $tmp/NAME.serial;
# sets $disp (the display number) and $vm (the pid). VNC options of ours
# are in $vnc_extra ("--vnc-view-only" ...).
start_vm() {
	name=$1 exe=$2
	shift 2
	rm -f "$tmp/$name.serial" "$tmp/$name.mon"
	if [ $mode = qemu ]; then
		disp=$(free_display)
		"$exe" -machine pc -accel tcg -m 256 -vga std -display none \
			-vnc "127.0.0.1:$disp" -serial "file:$tmp/$name.serial" \
			-monitor "unix:$tmp/$name.mon,server=on,wait=off" \
			-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
			-no-reboot "$@" </dev/null >"$tmp/$name.log" 2>&1 &
		vm=$!
		pids="$pids $vm"
		wait_for 20 port_open $((5900 + disp))
		return
	fi
	"$exe" run --memory 256M --vnc 127.0.0.1:auto ${vnc_extra:-} \
		--serial "file:$tmp/$name.serial" --monitor "unix:$tmp/$name.mon" \
		--timeout 240 "$@" </dev/null >"$tmp/$name.log" 2>&1 &
	vm=$!
	pids="$pids $vm"
	# "guesthouse: VNC server on 127.0.0.1:5901 (display :1)"
	wait_for 20 vnc_logged "$tmp/$name.log"
	disp=$(sed -n 's/.*VNC server on .*(display :\([0-9]*\)).*/\1/p' \
		"$tmp/$name.log" | head -n 1)
	[ -n "$disp" ]
}

# monitor NAME COMMAND: one command on the VM's monitor, ours (an "ok" or
# "error: ..." line) or QEMU's human monitor (a prompt)
monitor() {
	python3 - "$tmp/$1.mon" "$2" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(30)
s.sendall(sys.argv[2].encode() + b'\n')
buf, end = b'', time.time() + 30
while time.time() < end:
    d = s.recv(65536)
    if not d:
        break
    buf += d
    lines = buf.split(b'\n')
    if any(l == b'ok' or l.startswith(b'error: ') for l in lines):
        sys.exit(0 if b'\nok\n' in b'\n' + buf else 1)
    if buf.count(b'(qemu)') >= 2:
        time.sleep(0.5)
        sys.exit(0)
sys.exit(1)
PY
}
# screendump NAME FILE (ours: PNG, QEMU: PPM)
screendump() {
	rm -f "$2"
	monitor "$1" "screendump $2" && wait_for 10 test -s "$2"
}
vc() {	# vc NAME STEP...: vnc-client on NAME's display
	vc_name=$1
	shift
	"$client" "127.0.0.1:$disp" "$@" >>"$tmp/$vc_name.client" 2>&1
}

if [ $mode = qemu ]; then
	echo "1..11"
else
	echo "1..17"
fi

# ---- 1-3: guest-vga's mode 13h screen: vnc-client, vncsnapshot, a viewer
dump=$tmp/13h.$([ $mode = qemu ] && echo ppm || echo png)
if start_vm 13h "$vmm" --kernel "$vga_elf" --append "vga.step=13h vga.hold" &&
   wait_for 60 in_file 'guest-vga: .*SUCCESS' "$tmp/13h.serial"; then
	vc 13h 'wait-update' 'sleep 500' "save $tmp/13h-client.ppm"
	screendump 13h "$dump"
	python3 "$here/image-diff.py" "$dump" "$tmp/13h-client.ppm" >"$tmp/13h.diff"
	ok $? "vnc-client's picture of the mode 13h screen is the screendump"
	note "$tmp/13h.diff" "$tmp/13h.client"

	if ! command -v vncsnapshot >/dev/null; then
		skip "vncsnapshot not installed"
	elif ! command -v gdk-pixbuf-thumbnailer >/dev/null; then
		skip "gdk-pixbuf-thumbnailer not installed (decodes vncsnapshot's JPEG)"
	else
		# vncsnapshot writes JPEG only: quality 100 and raw transport
		# keep it close, not exact; the thumbnailer decodes it at its size
		vncsnapshot -quiet -nojpeg -quality 100 "127.0.0.1:$disp" \
			"$tmp/snap.jpg" >"$tmp/snap.log" 2>&1
		w=$(python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); print(max(int(x) for x in d.split()[1:3]))' \
			"$tmp/13h-client.ppm" 2>/dev/null)
		gdk-pixbuf-thumbnailer -s "${w:-640}" "$tmp/snap.jpg" "$tmp/snap.png" \
			>>"$tmp/snap.log" 2>&1
		python3 "$here/image-diff.py" --max-mean 2 "$dump" "$tmp/snap.png" \
			>"$tmp/snap.diff" 2>&1
		ok $? "vncsnapshot's JPEG of the 13h screen: its size, close colours"
		note "$tmp/snap.diff" "$tmp/snap.log"
	fi

	viewer=
	for v in gvncviewer xtigervncviewer; do
		command -v $v >/dev/null && { viewer=$v; break; }
	done
	if [ -z "$viewer" ] || ! command -v Xvfb >/dev/null || ! command -v xwd >/dev/null; then
		skip "needs gvncviewer or xtigervncviewer, Xvfb and xwd"
	else
		Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp \
			3>"$tmp/xdisplay" >"$tmp/xvfb.log" 2>&1 &
		xvfb=$!
		pids="$pids $xvfb"
		wait_for 30 test -s "$tmp/xdisplay"
		xdisp=:$(cat "$tmp/xdisplay")
		DISPLAY=$xdisp $viewer "127.0.0.1:$disp" >"$tmp/viewer.log" 2>&1 &
		viewer_pid=$!
		pids="$pids $viewer_pid"
		shot() {
			DISPLAY=$xdisp xwd -root -silent >"$tmp/root.xwd" 2>/dev/null &&
				python3 "$here/image-diff.py" --find "$dump" \
				"$tmp/root.xwd" >"$tmp/viewer.diff" 2>&1
		}
		wait_for 20 shot
		ok $? "$viewer under Xvfb shows the screen (xwd of its X screen)"
		note "$tmp/viewer.diff" "$tmp/viewer.log"
		kill "$viewer_pid" "$xvfb" 2>/dev/null
		wait "$viewer_pid" "$xvfb" 2>/dev/null
	fi
else
	ok 1 "the 13h VM with VNC"
	ok 1 "(no screen for vncsnapshot)"
	ok 1 "(no screen for a viewer)"
	note "$tmp/13h.log" "$tmp/13h.serial"
fi
stop_vm

# ---- 4: the VBE mode, set while vnc-client is connected (DesktopSize)
if start_vm vbe "$vmm" --kernel "$vga_elf" --append "vga.step=vbe vga.hold"; then
	mkfifo "$tmp/vbe.steps"
	"$client" "127.0.0.1:$disp" <"$tmp/vbe.steps" >"$tmp/vbe.client" 2>&1 &
	cpid=$!
	exec 3>"$tmp/vbe.steps"
	echo 'wait-size 1024 768 60000' >&3
	wait_for 90 in_file 'guest-vga: .*SUCCESS' "$tmp/vbe.serial"
	printf 'sleep 500\nsave %s\n' "$tmp/vbe-client.ppm" >&3
	exec 3>&-
	wait "$cpid"
	status=$?
	screendump vbe "$tmp/vbe.dump"
	python3 "$here/image-diff.py" "$tmp/vbe.dump" "$tmp/vbe-client.ppm" \
		>"$tmp/vbe.diff" 2>&1 && [ $status -eq 0 ]
	ok $? "the VBE 1024x768 screen, switched to with the client connected, is the screendump"
	note "$tmp/vbe.diff" "$tmp/vbe.client"
else
	ok 1 "the VBE VM with VNC"
	note "$tmp/vbe.log"
fi
stop_vm

# ---- 5: GRUB's menu from the grub-rescue CD (ours: its screen text tells
# when it is there; a key through VNC stops its countdown)
iso=$boot_fixture/grub-rescue-cdrom.iso
if [ $mode = qemu ]; then
	skip "qemu: no screen text to wait for GRUB's menu on"
elif [ -z "$boot_vmm" ]; then
	skip "a sanitized VMM is too slow for SeaBIOS and GRUB (set GH_LINUX_VMM)"
elif [ ! -r "$iso" ]; then
	skip "no $iso (scripts/build-boot-fixtures.sh)"
elif start_vm grub "$boot_vmm" --cdrom "$iso" --accel soft &&
     python3 "$here/ghmon.py" "$tmp/grub.mon" 'wait:GNU GRUB  version 2:120' \
	     >"$tmp/grub.screen" 2>&1; then
	# Down stops the countdown; GRUB's menu hides the cursor: the screen
	# is then still, and the VM stopped for the two pictures
	vc grub 'key Down press' 'sleep 1500'
	monitor grub stop
	same=1
	for try in 1 2 3; do
		vc grub 'wait-update' 'sleep 500' "save $tmp/grub-client.ppm"
		screendump grub "$tmp/grub.png"
		python3 "$here/image-diff.py" "$tmp/grub.png" "$tmp/grub-client.ppm" \
			>"$tmp/grub.diff" 2>&1 && { same=0; break; }
	done
	ok $same "GRUB's menu through vnc-client is the screendump"
	note "$tmp/grub.diff" "$tmp/grub.client"
else
	ok 1 "GRUB's menu did not show"
	note "$tmp/grub.screen" "$tmp/grub.log"
fi
stop_vm

# ---- 6: a command typed into Linux's shell on the VGA console
if [ -z "$boot_vmm" ]; then
	skip "a sanitized VMM is too slow to boot Linux (set GH_LINUX_VMM)"
elif [ ! -r "$linux_fixture/vmlinuz" ]; then
	skip "no $linux_fixture (scripts/build-linux-guest.sh)"
else
	if [ $mode = qemu ]; then
		set -- -kernel "$linux_fixture/vmlinuz" \
			-initrd "$linux_fixture/initramfs.cpio.gz"
	else
		set -- --firmware seabios --accel soft \
			--kernel "$linux_fixture/vmlinuz" \
			--initrd "$linux_fixture/initramfs.cpio.gz"
	fi
	# the kernel's log on COM1 too; /dev/console (the shell's) is the last
	if start_vm linux "$boot_vmm" "$@" \
		$([ $mode = qemu ] && echo -append || echo --append) \
		"console=ttyS0 console=tty0" &&
	   wait_for 150 in_file 'Run /init as init process' "$tmp/linux.serial"; then
		# until the shell reads its terminal, keys may be lost: retry
		typed=1
		for try in 1 2 3 4 5 6 7 8 9 10; do
			vc linux 'type "echo VNC-$((6*7)) >/dev/ttyS0\n"'
			if wait_for 5 in_file '^VNC-42' "$tmp/linux.serial"; then
				typed=0
				echo "# the shell ran it at attempt $try"
				break
			fi
		done
		ok $typed "'echo VNC-\$((6*7)) >/dev/ttyS0' typed through VNC prints VNC-42 on COM1"
		[ $typed -eq 0 ] || note "$tmp/linux.client" "$tmp/linux.log"
	else
		ok 1 "Linux did not start /init"
		note "$tmp/linux.log"
		tail -n 20 "$tmp/linux.serial" 2>/dev/null | note
	fi
	stop_vm
fi

# ---- 7: the pointer through PS/2 to guest-mouse
# pace: a person's hand; servers may merge events that come at once
mouse_script="pointer 100 100 0;sleep 300;pointer 100 100 1;sleep 150;\
pointer 100 100 0;sleep 150;pointer 110 95 0;sleep 150;pointer 110 95 8;\
sleep 150;pointer 110 95 0;sleep 150;pointer 103 107 4;sleep 150;\
pointer 103 107 0;sleep 400"
run_mouse() {	# run_mouse NAME: the script, then Escape
	(IFS=';'; vc "$1" $mouse_script 'key Escape press')
}
if start_vm mouse "$vmm" --kernel "$mouse_elf" --append mouse.listen &&
   wait_for 60 in_file '^mouse: listening' "$tmp/mouse.serial"; then
	run_mouse mouse
	wait_for 20 in_file '^mouse: stop' "$tmp/mouse.serial"
	python3 "$here/ps2-packets.py" "$tmp/mouse.serial" >"$tmp/mouse.check" 2>&1
	ok $? "the pointer's moves, clicks and wheel arrive as PS/2 packets"
	note "$tmp/mouse.check"
	[ -s "$tmp/mouse.client" ] && note "$tmp/mouse.client"
else
	ok 1 "guest-mouse did not listen"
	note "$tmp/mouse.log" "$tmp/mouse.serial"
fi
stop_vm

# ---- 8: keys to guest-mouse, which prints the bytes of the keyboard: a
# keysym through the default (US) layout, then QEMU extended key events,
# whose XT code names the key whatever the keysym (a German keyboard's "z"
# is on the key a US layout calls "y", XT 0x15). With no --keymap (QEMU:
# no -k) the server goes by the code.
key_script="sleep 300;key z press;sleep 150;xtkey z 0x15 press;sleep 150;\
xtkey Control_R 0x9d press;sleep 150;xtkey Up 0xc8 press;sleep 300"
if start_vm keys "$vmm" --kernel "$mouse_elf" --append mouse.listen &&
   wait_for 60 in_file '^mouse: listening' "$tmp/keys.serial"; then
	(IFS=';'; vc keys $key_script 'key Escape press')
	wait_for 20 in_file '^mouse: stop' "$tmp/keys.serial"
	got=$(tr -d '\r' <"$tmp/keys.serial" | sed -n 's/^key //p' | tr '\n' ' ')
	want="2c ac 15 95 e0 1d e0 9d e0 48 e0 c8 "
	[ "$got" = "$want" ]
	ok $? "keys: the keysym z, then XT codes 15 (with the keysym z), e0 1d, e0 48 (got: $got)"
	[ "$got" = "$want" ] || note "$tmp/keys.client" "$tmp/keys.serial"
else
	ok 1 "guest-mouse did not listen for keys"
	note "$tmp/keys.log" "$tmp/keys.serial"
fi
stop_vm

# ---- 9: two clients at once get the animation's updates
if start_vm anim "$vmm" --kernel "$vga_elf" --append "vga.step=anim" &&
   wait_for 60 in_file '^anim: frame 0' "$tmp/anim.serial"; then
	"$client" "127.0.0.1:$disp" 'stats 5' >"$tmp/anim1.client" 2>&1 &
	c1=$!
	"$client" "127.0.0.1:$disp" 'stats 5' >"$tmp/anim2.client" 2>&1
	wait "$c1"
	u1=$(sed -n 's/.* updates \([0-9]*\) .*/\1/p' "$tmp/anim1.client")
	u2=$(sed -n 's/.* updates \([0-9]*\) .*/\1/p' "$tmp/anim2.client")
	[ "${u1:-0}" -ge 2 ] && [ "${u2:-0}" -ge 2 ]
	ok $? "two clients at once both get updates ($u1 and $u2 in 5 s)"
	note "$tmp/anim1.client" "$tmp/anim2.client"
else
	ok 1 "the animation did not start"
	note "$tmp/anim.log" "$tmp/anim.serial"
fi
stop_vm

# ---- 10-11: the VMMs logged no errors (ASan/UBSan included)
for name in 13h mouse; do
	! grep -qi -e 'error' -e 'warning' -e 'AddressSanitizer' -e 'runtime error' \
		"$tmp/$name.log"
	ok $? "the $name VM's log has no errors"
	note "$tmp/$name.log"
done

if [ $mode = qemu ]; then
	[ $fails -eq 0 ]
	exit
fi

# ---- 12-14: VNC authentication (ours)
printf 's3cret\n' >"$tmp/pw"
printf 'wrong\n' >"$tmp/bad"
if vnc_extra="--vnc-password-file $tmp/pw" start_vm auth "$vmm" \
	--kernel "$vga_elf" --append "vga.step=13h vga.hold"; then
	"$client" --password-file "$tmp/pw" "127.0.0.1:$disp" info \
		>"$tmp/auth-ok.client" 2>&1
	status=$?
	[ $status -eq 0 ] && grep -q '^size ' "$tmp/auth-ok.client"
	ok $? "the right password is accepted (exit status $status)"
	note "$tmp/auth-ok.client"
	"$client" --password-file "$tmp/bad" "127.0.0.1:$disp" info \
		>"$tmp/auth-bad.client" 2>&1
	status=$?
	[ $status -eq 4 ]
	ok $? "a wrong password is refused (exit status $status, want 4)"
	note "$tmp/auth-bad.client"
	"$client" "127.0.0.1:$disp" info >"$tmp/auth-none.client" 2>&1
	status=$?
	[ $status -eq 4 ]
	ok $? "no password is refused (exit status $status, want 4)"
	note "$tmp/auth-none.client"
else
	ok 1 "--vnc-password-file"
	ok 1 "(no VM)"
	ok 1 "(no VM)"
	note "$tmp/auth.log"
fi
stop_vm

# ---- 15: a non-loopback address without a password is refused at start
"$vmm" run --kernel "$vga_elf" --append "vga.step=13h" --vnc 0.0.0.0:auto \
	--serial none --timeout 20 </dev/null >"$tmp/open.log" 2>&1
status=$?
[ $status -ne 0 ] && [ $status -ne 99 ] && grep -q -i 'password\|insecure' "$tmp/open.log"
ok $? "--vnc 0.0.0.0:auto without a password is refused (exit status $status)"
note "$tmp/open.log"

# ---- 16: --vnc-view-only: the pointer and keys reach no device
if vnc_extra=--vnc-view-only start_vm viewonly "$vmm" --kernel "$mouse_elf" \
	--append mouse.listen &&
   wait_for 60 in_file '^mouse: listening' "$tmp/viewonly.serial"; then
	run_mouse viewonly
	vc viewonly 'sleep 300' 'xtkey Escape 0x01 press' 'sleep 300'
	sleep 1
	! in_file '^packet' "$tmp/viewonly.serial" &&
		! in_file '^mouse: stop' "$tmp/viewonly.serial" &&
		! in_file '^key' "$tmp/viewonly.serial" && kill -0 "$vm"
	ok $? "--vnc-view-only: no packet, no key (keysym or XT code) reached the guest"
	note "$tmp/viewonly.serial"
else
	ok 1 "guest-mouse did not listen"
	note "$tmp/viewonly.log"
fi
stop_vm

# ---- 17: --keymap: the keysyms go through that layout, and key codes are
# not offered (as QEMU with -k): a German "z" is XT 0x15
if vnc_extra="--keymap de" start_vm keymap "$vmm" --kernel "$mouse_elf" \
	--append mouse.listen &&
   wait_for 60 in_file '^mouse: listening' "$tmp/keymap.serial"; then
	vc keymap 'sleep 300' 'xtkey z 0x2c press'
	refused=$?
	vc keymap 'sleep 300' 'key z press' 'sleep 300' 'key Escape press'
	wait_for 20 in_file '^mouse: stop' "$tmp/keymap.serial"
	got=$(tr -d '\r' <"$tmp/keymap.serial" | sed -n 's/^key //p' | tr '\n' ' ')
	[ "$refused" = 1 ] && grep -q 'no QEMU extended key events' "$tmp/keymap.client" &&
		[ "$got" = "15 95 " ]
	ok $? "--keymap de: no key codes offered (vnc-client: $refused), z types XT 15 (got: $got)"
	note "$tmp/keymap.client"
else
	ok 1 "guest-mouse did not listen"
	note "$tmp/keymap.log"
fi
stop_vm

[ $fails -eq 0 ]
