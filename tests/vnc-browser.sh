#!/bin/sh
# A browser as the VNC client (issue 6): noVNC (npm @novnc/novnc) in
# Debian's headless Chromium, driven by playwright-core (tests/browser/
# vnc.mjs, its page vnc.html), connected over WebSocket straight to the VNC
# port of 'guesthouse run --vnc 127.0.0.1:auto':
#  - the screen: noVNC's canvas (getImageData, as a PPM) is the monitor's
#    screendump (PNG) pixel for pixel, compared by tests/image-diff.py, on
#    guest-vga's mode 13h and VBE 1024x768 test patterns, with the JPEG
#    quality level left out of noVNC's encodings (lossless Tight); with
#    noVNC's own settings (quality 6: libvncserver sends the VBE pattern
#    as JPEG) the same size and a mean difference of at most 4 per
#    channel; a screenshot of the page holds the screendump whole, pixel
#    for pixel, where noVNC centres it;
#  - DesktopSize: connected while SeaBIOS starts, the canvas goes from the
#    first surface (640x480) to the VGA BIOS's text mode (720x400);
#  - VNC authentication: credentialsrequired answered by sendCredentials
#    with the right password connects, a wrong one gets securityfailure;
#  - input: a click, moves and the wheel on the canvas reach guest-mouse as
#    PS/2 packets (tests/ps2-packets.py checks them), keys pressed on the
#    page as their scancodes (noVNC sends XT codes) and Escape stops it;
#    with GH_LINUX_VMM, a command typed on the page into Linux's busybox
#    shell on tty0 runs (vnc.sh's test).
# Skips, saying why, without node, Chromium (GH_CHROMIUM, default
# /usr/bin/chromium) or tests/browser/node_modules (npm ci there).
#
# usage: vnc-browser.sh VMM GUEST-VGA.ELF GUEST-MOUSE.ELF
#   GH_BROWSER_SCREENSHOT=FILE keeps the page's screenshot of the 13h screen.
set -u
[ $# -eq 3 ] || { echo "usage: $0 VMM GUEST-VGA.ELF GUEST-MOUSE.ELF" >&2; exit 2; }
vmm=$1 vga_elf=$2 mouse_elf=$3
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
linux_fixture=${GH_LINUX_FIXTURE:-$top/fixtures/linux}
browser=$here/browser
chromium=${GH_CHROMIUM:-/usr/bin/chromium}

. "$here/tap.sh"
. "$here/vnc-lib.sh"

if ! command -v node >/dev/null; then
	echo "1..0 # SKIP no node (Debian's nodejs)"
	exit 0
fi
if ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)'; then
	echo "1..0 # SKIP node $(node --version) is older than playwright-core's 20"
	exit 0
fi
if [ ! -x "$chromium" ]; then
	echo "1..0 # SKIP no $chromium (Debian's chromium)"
	exit 0
fi
for m in @novnc/novnc playwright-core; do
	if [ ! -f "$browser/node_modules/$m/package.json" ]; then
		echo "1..0 # SKIP no $m in $browser/node_modules (npm ci there)"
		exit 0
	fi
done
vnc_require "$vmm" "$vga_elf"
# Linux boots in time only on an optimized build
boot_vmm=$vmm
grep -q __asan_init "$vmm" 2>/dev/null && boot_vmm=${GH_LINUX_VMM:-}

vnc_tmp gh-webvnc

# start_vm NAME EXE [VMM ARGS...]: a VM with its VNC server on 127.0.0.1,
# its monitor on $tmp/NAME.mon, COM1 in $tmp/NAME.serial; sets $vm (the
# pid) and $port (its VNC port). $vnc_extra: more VNC options.
start_vm() {
	name=$1 exe=$2
	shift 2
	"$exe" run --memory 256M --vnc 127.0.0.1:auto ${vnc_extra:-} \
		--serial "file:$tmp/$name.serial" --monitor "unix:$tmp/$name.mon" \
		--timeout "${vm_timeout:-120}" "$@" </dev/null >"$tmp/$name.log" 2>&1 3>&- &
	vm=$!
	pids="$pids $vm"
	# "guesthouse: VNC server on 127.0.0.1:5901 (display :1)"
	wait_for 20 vnc_logged "$tmp/$name.log"
	port=$(sed -n 's/.*VNC server on .*:\([0-9]*\) (display :.*/\1/p' \
		"$tmp/$name.log" | head -n 1)
	[ -n "$port" ]
}
screendump() {	# screendump NAME FILE: the monitor's PNG of the screen
	rm -f "$2"
	python3 -c 'import sys; sys.path.insert(0, sys.argv[1])
from ghmon import Monitor
Monitor(sys.argv[2]).cmd("screendump " + sys.argv[3])' \
		"$here" "$tmp/$1.mon" "$2" >>"$tmp/$1.log" 2>&1 &&
		wait_for 10 test -s "$2"
}
# is_dump DUMP GOT DESCRIPTION [IMAGE-DIFF OPTION...]: a TAP test that GOT
# (noVNC's canvas saved by vnc.mjs, exit status $status) is the screendump
# DUMP; image-diff.py's verdict in the notes
is_dump() {
	id_want=$1 id_got=$2 id_what=$3
	shift 3
	python3 "$here/image-diff.py" "$@" "$id_want" "$id_got" \
		>"$id_got.diff" 2>&1 && [ $status -eq 0 ]
	ok $? "$id_what"
	note "$id_got.diff"
}
# web NAME [OPTION...] STEP...: vnc.mjs (noVNC in Chromium) runs the steps;
# its output in $tmp/NAME.web
web() {
	w_name=$1
	shift
	node "$browser/vnc.mjs" "$@" >>"$tmp/$w_name.web" 2>&1
}

echo "1..11"

# Linux boots (half a minute of the software CPU) while the other cases run
linux_vm=
if [ -z "$boot_vmm" ]; then
	linux_skip="a sanitized VMM is too slow to boot Linux (set GH_LINUX_VMM)"
elif [ ! -r "$linux_fixture/vmlinuz" ]; then
	linux_skip="no $linux_fixture (scripts/build-linux-guest.sh)"
else
	linux_skip=
	# the kernel's log on COM1 too; /dev/console (the shell's) is tty0
	vm_timeout=280 start_vm linux "$boot_vmm" --firmware seabios --accel soft \
		--kernel "$linux_fixture/vmlinuz" \
		--initrd "$linux_fixture/initramfs.cpio.gz" \
		--append "console=ttyS0 console=tty0" && linux_vm=$vm linux_port=$port
fi

# ---- 1-3: guest-vga's mode 13h screen
if start_vm 13h "$vmm" --kernel "$vga_elf" --append "vga.step=13h vga.hold" &&
   wait_for 60 in_file 'guest-vga: .*SUCCESS' "$tmp/13h.serial"; then
	screendump 13h "$tmp/13h.png"
	web 13h 'lossless on' "connect $port" 'wait-update' \
		"save $tmp/13h-web.ppm" "screenshot $tmp/13h-page.png"
	status=$?
	is_dump "$tmp/13h.png" "$tmp/13h-web.ppm" \
		"noVNC's canvas (lossless encodings) is the 13h screendump pixel for pixel"
	note "$tmp/13h.web"
	is_dump "$tmp/13h.png" "$tmp/13h-page.png" \
		"a screenshot of the page shows the screendump whole" --find
	[ -n "${GH_BROWSER_SCREENSHOT:-}" ] &&
		cp "$tmp/13h-page.png" "$GH_BROWSER_SCREENSHOT"

else
	ok 1 "the 13h VM with VNC"
	ok 1 "(no screen for a screenshot)"
	note "$tmp/13h.log" "$tmp/13h.serial"
fi
stop_vm

# ---- 4: the VBE 1024x768x32 screen
if start_vm vbe "$vmm" --kernel "$vga_elf" --append "vga.step=vbe vga.hold" &&
   wait_for 60 in_file 'guest-vga: .*SUCCESS' "$tmp/vbe.serial"; then
	screendump vbe "$tmp/vbe.png"
	# then noVNC's own encodings: Tight with JPEG quality 6, which
	# libvncserver uses on this many colours (seen: a mean difference
	# of 1.6 per channel)
	web vbe 'lossless on' "connect $port" 'wait-size 1024 768' \
		'wait-update' "save $tmp/vbe-web.ppm" 'disconnect' \
		'lossless off' "connect $port" 'wait-size 1024 768' \
		'wait-update' "save $tmp/vbe-q6.ppm"
	status=$?
	is_dump "$tmp/vbe.png" "$tmp/vbe-web.ppm" \
		"noVNC's canvas is the VBE 1024x768 screendump pixel for pixel"
	note "$tmp/vbe.web"
	is_dump "$tmp/vbe.png" "$tmp/vbe-q6.ppm" \
		"with noVNC's own encodings (JPEG quality 6): its size, close colours" \
		--max-mean 4
else
	ok 1 "the VBE VM with VNC"
	ok 1 "(no screen for noVNC's own encodings)"
	note "$tmp/vbe.log" "$tmp/vbe.serial"
fi
stop_vm

# ---- 5: DesktopSize: noVNC connected before SeaBIOS's VGA BIOS sets the
# text mode. The browser starts first, then the VM on a display picked here
# (tests/vnc_display.py), and noVNC connects as soon as its port opens
# (tried every 20 ms); the VM's surface is 640x480 until the mode set. An
# optimized VMM may set it before noVNC is in: then again, up to 3 times.
ds_try() {	# ds_try N: sets $sizes and $status
	rm -f "$tmp/ds.steps"
	mkfifo "$tmp/ds.steps"
	node "$browser/vnc.mjs" <"$tmp/ds.steps" >"$tmp/ds$1.web" 2>&1 &
	web_pid=$!
	pids="$pids $web_pid"
	exec 3>"$tmp/ds.steps"
	wait_for 20 in_file '^ready' "$tmp/ds$1.web"
	disp=$(python3 "$here/vnc_display.py" 60)
	printf 'connect %s 20000\nwait-size 720 400 60000\nsizes\n' \
		$((5900 + ${disp:-0})) >&3
	exec 3>&-
	"$vmm" run --firmware seabios --accel soft \
		--vnc "127.0.0.1:${disp:-0}" --serial none --timeout 60 \
		</dev/null >"$tmp/ds$1.log" 2>&1 &
	vm=$!
	pids="$pids $vm"
	wait "$web_pid"
	status=$?
	sizes=$(sed -n 's/^sizes //p' "$tmp/ds$1.web")
	stop_vm
	note "$tmp/ds$1.web"
}
for try in 1 2 3; do
	ds_try $try
	[ "${sizes%% *}" != 720x400 ] && break
done
[ $status -eq 0 ] && [ "${sizes%% *}" != 720x400 ] &&
	[ "${sizes##* }" = 720x400 ]
ok $? "the canvas follows the mode change while connected (DesktopSize): ${sizes:-none} (try $try)"

# ---- 6-7: VNC authentication through noVNC
printf 's3cret\n' >"$tmp/pw"
printf 'wrong\n' >"$tmp/bad"
if vnc_extra="--vnc-password-file $tmp/pw" start_vm auth "$vmm" \
	--kernel "$vga_elf" --append "vga.step=13h vga.hold"; then
	web auth "password $tmp/pw" "connect $port" 'wait-size 640 400' \
		'disconnect' 'echo right: connected and closed' \
		"password $tmp/bad" "connect $port"
	status=$?
	sed '/^right:/q' "$tmp/auth.web" >"$tmp/auth-ok.web"
	sed '1,/^right:/d' "$tmp/auth.web" >"$tmp/auth-bad.web"
	in_file '^event credentialsrequired' "$tmp/auth-ok.web" &&
		in_file '^event connect' "$tmp/auth-ok.web" &&
		in_file '^right: connected' "$tmp/auth-ok.web"
	ok $? "credentialsrequired, then sendCredentials with the right password connects"
	note "$tmp/auth-ok.web"
	[ $status -eq 4 ] && in_file '^event securityfailure' "$tmp/auth-bad.web"
	ok $? "a wrong password gets securityfailure (exit status $status, want 4)"
	note "$tmp/auth-bad.web"
else
	ok 1 "--vnc-password-file"
	ok 1 "(no VM)"
	note "$tmp/auth.log"
fi
stop_vm

# ---- 8-9: the pointer and keys into guest-mouse (vnc.sh's moves: a left
# click at (100, 100), right 10 and up 5, one wheel step up, the right
# button pressed 7 left and 12 down); then z, Shift+4 and Up, which noVNC
# sends with their XT codes (QEMU's extended key event), and Escape
if start_vm mouse "$vmm" --kernel "$mouse_elf" --append mouse.listen &&
   wait_for 60 in_file '^mouse: listening' "$tmp/mouse.serial"; then
	web mouse "connect $port" 'move 100 100' 'sleep 300' 'down left' \
		'sleep 150' 'up left' 'sleep 150' 'move 110 95' 'sleep 150' \
		'wheel -50' 'sleep 150' 'move 103 107' 'sleep 150' \
		'down right' 'sleep 150' 'up right' 'sleep 400' 'key z' \
		'sleep 150' 'key Shift+4' 'sleep 150' 'key ArrowUp' 'sleep 300' \
		'key Escape' 'sleep 300'
	wait_for 20 in_file '^mouse: stop' "$tmp/mouse.serial"
	python3 "$here/ps2-packets.py" "$tmp/mouse.serial" >"$tmp/mouse.check" 2>&1
	ok $? "a click, moves and the wheel on the canvas arrive as PS/2 packets"
	note "$tmp/mouse.check" "$tmp/mouse.web"
	# the keyboard's bytes, translated to set 1: make and break codes
	got=$(tr -d '\r' <"$tmp/mouse.serial" | sed -n 's/^key //p' | tr '\n' ' ')
	want="2c ac 2a 05 85 aa e0 48 e0 c8 "
	[ "$got" = "$want" ] && in_file '^mouse: stop' "$tmp/mouse.serial"
	ok $? "z, Shift+4, Up and Escape pressed on the page reach the guest's keyboard (got: $got)"
else
	ok 1 "guest-mouse did not listen"
	ok 1 "(no guest for the keys)"
	note "$tmp/mouse.log" "$tmp/mouse.serial"
fi
stop_vm

# ---- 10: a command typed on the page into Linux's shell on tty0, once its
# prompt is on the screen (the monitor's screen text)
if [ -n "$linux_skip" ]; then
	skip "$linux_skip"
elif [ -n "$linux_vm" ] &&
     python3 "$here/ghmon.py" "$tmp/linux.mon" 'wait::/# *$:120' \
	     >"$tmp/linux.screen" 2>&1; then
	vm=$linux_vm
	# a slow guest may take 31 keys in seconds; a line lost in part: again
	mkfifo "$tmp/linux.steps"
	node "$browser/vnc.mjs" <"$tmp/linux.steps" >"$tmp/linux.web" 2>&1 &
	web_pid=$!
	pids="$pids $web_pid"
	exec 3>"$tmp/linux.steps"
	echo "connect $linux_port" >&3
	typed=1
	for try in 1 2 3; do
		printf '%s\n' 'type "echo VNC-$((6*7)) >/dev/ttyS0\n"' >&3
		if wait_for 15 in_file "^VNC-42" "$tmp/linux.serial"; then
			typed=0
			echo "# the shell ran it at attempt $try"
			break
		fi
	done
	exec 3>&-
	wait "$web_pid"
	ok $typed "'echo VNC-\$((6*7)) >/dev/ttyS0' typed on the page prints VNC-42 on COM1"
	[ $typed -eq 0 ] || note "$tmp/linux.web" "$tmp/linux.log"
	stop_vm
else
	ok 1 "Linux's shell did not start"
	note "$tmp/linux.screen" "$tmp/linux.log"
	tail -n 20 "$tmp/linux.serial" 2>/dev/null | note
fi

# ---- 11: the VMMs logged no errors (ASan/UBSan included)
! cat "$tmp"/*.log | grep -qi -e 'error' -e 'AddressSanitizer' -e 'runtime error'
ok $? "the VMs' logs have no errors"
grep -hi -e 'error' -e 'AddressSanitizer' -e 'runtime error' "$tmp"/*.log | note

[ $fails -eq 0 ]
