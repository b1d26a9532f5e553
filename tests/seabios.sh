#!/bin/sh
# Debian's SeaBIOS runs its POST under the software CPU, with its debug log
# on the debug console, and gets exactly as far as under KVM: it finds the
# i440FX and the PIIX3 on PCI bus 0, unlocks its shadow RAM through the PAM
# registers, finds fw_cfg with its DMA interface, reads the e820 map from
# it and installs our ACPI tables through the linker/loader script (then
# parses our DSDT, where it must find the PS/2 keyboard), shows its boot
# menu prompt (asked for with --boot-menu), and with no drive finds nothing
# to boot; the VGA BIOS shows all that on the screen (--screen-text,
# --screendump). Usage:
# seabios.sh GUESTHOUSE
set -u
gh=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bios=/usr/share/seabios/bios-256k.bin

if [ ! -r "$bios" ]; then
	echo "1..0 # SKIP $bios missing (Debian package seabios)"
	exit 0
fi

run() {
	"$gh" run --firmware seabios --boot-menu --accel "$1" --serial none \
		--no-reboot \
		--debugcon "file:$tmp/$1.log" --timeout 30 \
		--screen-text "$tmp/$1.txt" --screendump "$tmp/$1.png" </dev/null \
		>"$tmp/$1.out" 2>&1
}

. "$(dirname "$0")/tap.sh"

echo "1..15"
run soft
grep -q '^SeaBIOS (version 1\.' "$tmp/soft.log"
ok $? "soft: SeaBIOS prints its banner on the debug console"
grep -q '^BUILD: gcc' "$tmp/soft.log"
ok $? "soft: SeaBIOS prints its build line"
grep -q '^PCI: init bdf=00:00.0 id=8086:1237' "$tmp/soft.log" &&
	grep -q '^PCI: init bdf=00:01.0 id=8086:7000' "$tmp/soft.log"
ok $? "soft: SeaBIOS finds the i440FX and the PIIX3 on PCI bus 0"
! grep -q 'Unable to unlock ram' "$tmp/soft.log" &&
	grep -q '^Relocating init from' "$tmp/soft.log"
ok $? "soft: SeaBIOS unlocks its shadow RAM through the PAM registers"
grep -q '^Found QEMU fw_cfg$' "$tmp/soft.log" &&
	grep -q '^QEMU fw_cfg DMA interface supported$' "$tmp/soft.log"
ok $? "soft: SeaBIOS finds fw_cfg and its DMA interface"
# the map's RAM above 1 MiB comes from etc/e820 (the CMOS gives no ranges)
grep -q '^qemu/e820: addr 0x0000000000100000 len 0x[0-9a-f]* \[RAM\]$' \
	"$tmp/soft.log"
ok $? "soft: SeaBIOS reads the e820 map from fw_cfg"
# FACP ("FACP" as a little-endian dword) found through our XSDT, and the
# DSDT it points to parsed, with the keyboard SeaBIOS then initializes
grep -q '^table(50434146)=0x[0-9a-f]* (via xsdt)$' "$tmp/soft.log" &&
	grep -q '^ACPI: parse DSDT at 0x[0-9a-f]* (len [0-9]*)$' "$tmp/soft.log" &&
	! grep -q 'no PS/2 keyboard' "$tmp/soft.log" &&
	grep -q '^PS2 keyboard initialized$' "$tmp/soft.log"
ok $? "soft: SeaBIOS installs our ACPI tables through the table loader"
grep -q '^Press ESC for boot menu\.$' "$tmp/soft.log"
ok $? "soft: SeaBIOS shows its boot menu prompt"
grep -q '^No bootable device' "$tmp/soft.log"
ok $? "soft: with no disk SeaBIOS finds nothing to boot"
! grep -qi 'warning' "$tmp/soft.log"
ok $? "soft: SeaBIOS prints no warnings"
# the VGA BIOS (vgabios-stdvga, the VGA's option ROM) set up text mode and
# SeaBIOS printed through int 10h: the banner is on the screen
grep -q '^SeaBIOS (version 1\.' "$tmp/soft.txt" &&
	grep -q '^No bootable device' "$tmp/soft.txt"
ok $? "soft: the banner and the verdict are on the VGA screen (--screen-text)"
[ "$(head -c 8 "$tmp/soft.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ]
ok $? "soft: --screendump writes a PNG"

if "$gh" info 2>/dev/null | grep -q '^kvm: available'; then
	run kvm
	grep -q '^No bootable device' "$tmp/kvm.log"
	ok $? "kvm: SeaBIOS reaches the same point"
	# the CPU's measured clock is the one line that differs
	grep -v '^CPU Mhz=' "$tmp/kvm.log" >"$tmp/kvm.cmp"
	grep -v '^CPU Mhz=' "$tmp/soft.log" >"$tmp/soft.cmp"
	cmp -s "$tmp/kvm.cmp" "$tmp/soft.cmp"
	same=$?
	ok $same "soft and kvm print the same debug log"
	[ $same -eq 0 ] || diff "$tmp/kvm.cmp" "$tmp/soft.cmp" | sed 's/^/# /'
	grep -q '^SeaBIOS (version 1\.' "$tmp/kvm.txt"
	ok $? "kvm: the banner is on the VGA screen"
else
	echo "ok 13 # SKIP kvm not available"
	echo "ok 14 # SKIP kvm not available"
	echo "ok 15 # SKIP kvm not available"
fi
[ $fails -eq 0 ]
