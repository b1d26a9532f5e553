#!/bin/sh
# Debian's installer mini.iso (scripts/build-install-media.sh, from the
# debian-installer-12-netboot-amd64 package) from the IDE CD-ROM under the
# software CPU, driven through the monitor:
#  BIOS: SeaBIOS El Torito-boots ISOLINUX, whose vesamenu draws the
#    installer's boot menu in a VBE mode over the tree's splash.png (the
#    screendump is 640x480 and mostly equal to splash.png decoded on the
#    host); `sendkey ret` takes the default entry (Install: the installer's
#    kernel and initrd, vga=788), and the installer's first dialog, "Select
#    a language", is read off the installer's framebuffer console
#    (tests/screen-read.py, with GNU Unifont as the installer draws it,
#    from GRUB's font.pf2) or the screen's text.
#  UEFI: OVMF boots the ISO's EFI El Torito image: its boot manager starts
#    the CD's BOOTX64.EFI (GRUB, saying so on the serial console, which
#    OVMF mirrors) and GRUB draws its menu from the ISO's grub.cfg over
#    the splash in an 800x600 mode (read with GRUB's own font.pf2).
# Each step says how long it took. Usage: installer.sh GUESTHOUSE
# GH_MEDIA_FIXTURE overrides the fixture directory (default fixtures/media);
# GH_LINUX_VMM, if set, is the binary used (an optimized build: a sanitized
# one is too slow to boot the installer).
set -u
gh=$1
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
fixture=${GH_MEDIA_FIXTURE:-$top/fixtures/media}
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
bios_limit=900
uefi_limit=600

skip() {
	echo "1..0 # SKIP $*"
	exit 0
}

for f in /usr/share/seabios/bios-256k.bin /usr/share/seabios/vgabios-stdvga.bin; do
	[ -r "$f" ] || skip "$f missing (Debian package seabios)"
done
command -v python3 >/dev/null 2>&1 || skip "python3 missing"
if grep -q __asan_init "$gh" 2>/dev/null; then
	[ -n "${GH_LINUX_VMM:-}" ] || skip "$gh is built with ASan, too slow" \
		"to boot the installer (set GH_LINUX_VMM to an optimized build)"
	gh=$GH_LINUX_VMM
fi
info=$("$gh" info 2>&1)
case $(printf '%s\n' "$info" | grep -m 1 '^soft:') in
soft:\ available*) ;;
*) skip "the software CPU is not available: $info" ;;
esac
"$top/scripts/build-install-media.sh" "$fixture" >"$tmp/build.out" 2>&1 ||
	skip "cannot build the mini.iso: $(tail -n 1 "$tmp/build.out")"
iso=$fixture/mini.iso

. "$(dirname "$0")/tap.sh"

# Turns the client's "ok ..."/"not ok ..." lines into TAP, the rest into
# diagnostics.
verdicts() {
	while IFS= read -r line; do
		case $line in
		"ok "*) ok 0 "${line#ok }" ;;
		"not ok "*) ok 1 "${line#not ok }" ;;
		*) echo "# $line" ;;
		esac
	done <"$1"
}

echo "1..9"

# --- BIOS -------------------------------------------------------------------
"$gh" run --cdrom "$iso" --accel soft -m 1G --serial none \
	--monitor "unix:$tmp/bios.sock" --timeout "$bios_limit" </dev/null \
	>"$tmp/bios.out" 2>&1 &
pid=$!
python3 - "$tmp" "$here/screen-read.py" "$fixture/splash.png" \
	"$fixture/grub-font.pf2" >"$tmp/bios.client" 2>&1 <<'EOF'
import os, subprocess, sys, time
tmp, reader, splash, font = sys.argv[1:5]
start = time.monotonic()

def since():
    return '%.0f s' % (time.monotonic() - start)

sys.path.insert(0, os.path.dirname(reader))
from ghmon import Monitor
mon = Monitor(tmp + '/bios.sock', wait=30)

def cmd(c):
    """A command's text lines and its end line ('ok' or 'error: ...')."""
    try:
        return mon.cmd(c).splitlines(), 'ok'
    except RuntimeError as e:
        return [], str(e)

def say(cond, what):
    print(('ok ' if cond else 'not ok ') + what)
    sys.stdout.flush()

def read(*args):
    return subprocess.run([sys.executable, reader] + list(args),
                          capture_output=True, text=True).stdout

png = tmp + '/bios.png'
# the menu: 640x480, nearly all of it the splash, but not all: the menu's
# title and entries are drawn over its plain middle, with the selected
# entry's highlight bar (16 or so rows of one blended colour) across it
menu = False
while time.monotonic() - start < 300 and not menu:
    time.sleep(1)
    if cmd('screendump ' + png)[1] != 'ok':
        continue
    w, h, same, bar = read('splash', splash, png).split()
    menu = ((w, h) == ('640', '480') and 0.9 < float(same) < 0.99
            and 8 <= int(bar) <= 32)
say(menu, 'BIOS: the installer boot menu over splash.png after ' + since() +
    ' (%sx%s, %s of the pixels equal, a bar of %s rows)' % (w, h, same, bar))
if not menu:
    sys.exit(1)
lines, end = cmd('sendkey ret')
say(end == 'ok', 'BIOS: sendkey ret')
t0 = time.monotonic()
found, text = False, ''
while time.monotonic() - start < 840 and not found:
    time.sleep(10)
    lines, end = cmd('screen-text ' + tmp + '/bios.txt')
    if end == 'ok':
        with open(tmp + '/bios.txt', encoding='utf-8') as t:
            text = t.read()
    elif cmd('screendump ' + png)[1] == 'ok':
        text = read('unifont', font, png)
    found = 'Select a language' in text
say(found, "BIOS: the installer's first dialog, 'Select a language', %.0f s "
    'after the Enter (%s from the start)' % (time.monotonic() - t0, since()))
print('\n'.join(l for l in text.splitlines() if l.strip()))
say(cmd('quit')[1] == 'ok', 'BIOS: quit')
EOF
verdicts "$tmp/bios.client"
wait "$pid"
status=$?
pid=
[ "$status" = 0 ]
ok $? "BIOS: the VMM exits with status 0 after quit ($status)"
[ "$status" = 0 ] || sed 's/^/# /' "$tmp/bios.out"
while [ "$n" -lt 5 ]; do
	ok 1 "BIOS: a step the client did not reach"
done

# --- UEFI -------------------------------------------------------------------
ovmf=/usr/share/ovmf/OVMF.fd
if [ ! -r "$ovmf" ]; then
	for i in 6 7 8 9; do
		echo "ok $i # SKIP $ovmf missing (Debian package ovmf)"
	done
	[ $fails -eq 0 ]
	exit
fi
start=$(date +%s)
"$gh" run --firmware ovmf --cdrom "$iso" --accel soft -m 1G \
	--serial "file:$tmp/uefi.serial" --monitor "unix:$tmp/uefi.sock" \
	--timeout "$uefi_limit" </dev/null >"$tmp/uefi.out" 2>&1 &
pid=$!
# GRUB says hello on the serial console, then switches to its graphical
# terminal (the installer's grub.cfg) and draws the menu there
while kill -0 "$pid" 2>/dev/null &&
	! grep -q 'Welcome to GRUB!' "$tmp/uefi.serial" 2>/dev/null; do
	sleep 1
done
grep -q 'Welcome to GRUB!' "$tmp/uefi.serial" 2>/dev/null
ok $? "UEFI: OVMF starts the CD's BOOTX64.EFI, GRUB, after $(($(date +%s) - start)) s"
grep -a 'BdsDxe: starting' "$tmp/uefi.serial" | tr -d '\r' | sed 's/^/# /'
python3 - "$tmp" "$here/screen-read.py" "$fixture/grub-font.pf2" \
	>"$tmp/uefi.client" 2>&1 <<'EOF'
import os, subprocess, sys, time
tmp, reader, font = sys.argv[1:4]
start = time.monotonic()
sys.path.insert(0, os.path.dirname(reader))
from ghmon import Monitor
mon = Monitor(tmp + '/uefi.sock', wait=30)

def cmd(c):
    """A command's end line: 'ok' or 'error: ...'."""
    try:
        mon.cmd(c)
        return 'ok'
    except RuntimeError as e:
        return str(e)
found, text = False, ''
while time.monotonic() - start < 300 and not found:
    time.sleep(3)
    if cmd('screendump ' + tmp + '/uefi.png') != 'ok':
        continue
    text = subprocess.run([sys.executable, reader, 'grub', font,
                           tmp + '/uefi.png'], capture_output=True,
                          text=True).stdout
    found = ('GNU GRUB' in text and '*Install' in text and
             'Advanced options ...' in text)
print(('ok ' if found else 'not ok ') + "UEFI: GRUB's menu from the "
      "installer's grub.cfg on the screen %.0f s later" %
      (time.monotonic() - start))
print('\n'.join(l for l in text.splitlines() if l.strip()))
print(('ok ' if cmd('quit') == 'ok' else 'not ok ') + 'UEFI: quit')
EOF
verdicts "$tmp/uefi.client"
wait "$pid"
status=$?
pid=
[ "$status" = 0 ]
ok $? "UEFI: the VMM exits with status 0 after quit ($status)"
[ "$status" = 0 ] || sed 's/^/# /' "$tmp/uefi.out"
[ $fails -eq 0 ]
