#!/bin/sh
# Boots from the IDE drives with images nobody here wrote, built by
# scripts/build-boot-fixtures.sh from Debian packages:
#
#   disk    SeaBIOS boots a raw disk (syslinux's MBR, a FAT partition with
#           syslinux, Debian's kernel and the busybox initramfs); the guest
#           loads ata_piix, sd and sr, reads a file from the partition,
#           hashes a read area, writes a write area, hashes the whole
#           grub-rescue CD through sr0 and powers off; every hash and the
#           written bytes are checked on the host
#   direct  the same guest by direct kernel boot (--kernel, no firmware)
#           with --disk and --cdrom
#   grub    SeaBIOS boots grub-rescue-cdrom.iso from the CD-ROM (El Torito),
#           GRUB reads its modules through the BIOS from our ATAPI drive and
#           shows its menu; "c" (through --monitor) gives its "grub>"
#           prompt, which echoes a line typed at it
#
# usage: tests/ide-boot.sh GUESTHOUSE disk|direct|grub [ACCEL]  (default soft)
# Runs GH_LINUX_VMM instead of GUESTHOUSE if set (an optimized build: under
# ASan the software CPU is too slow for Linux, and such a build skips, as
# tests/linux-boot.sh does). Skips (77) without the fixtures' packages.
set -u

[ $# -ge 2 ] || { echo "usage: $0 GUESTHOUSE disk|direct|grub [ACCEL]" >&2; exit 2; }
vmm=${GH_LINUX_VMM:-$1}
mode=$2
accel=${3:-soft}
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
fixture=${GH_BOOT_FIXTURE:-$top/fixtures/boot}
limit=400

skip() {
	echo "SKIP: $*"
	exit 77
}

if grep -q __asan_init "$vmm" 2>/dev/null; then
	skip "$vmm is built with ASan, too slow to boot Linux (set GH_LINUX_VMM" \
		"to an optimized build)"
fi
[ -r /usr/share/seabios/bios-256k.bin ] ||
	skip "no SeaBIOS (Debian package seabios)"
"$top/scripts/build-boot-fixtures.sh" "$fixture" >"${TMPDIR:-/tmp}/gh-ide-fx.$$" 2>&1 ||
	{ cat "${TMPDIR:-/tmp}/gh-ide-fx.$$"; rm -f "${TMPDIR:-/tmp}/gh-ide-fx.$$";
	  skip "could not build the boot fixtures"; }
rm -f "${TMPDIR:-/tmp}/gh-ide-fx.$$"
eval "$("$top/scripts/build-boot-fixtures.sh" --layout)"
linux=${GH_LINUX_FIXTURE:-$top/fixtures/linux}
iso=$fixture/grub-rescue-cdrom.iso

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gh-ide-boot.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

run() {
	echo "running: $*"
	start=$(date +%s)
	"$@" >"$tmp/serial.raw" 2>"$tmp/stderr" </dev/null
	status=$?
	end=$(date +%s)
	tr -d '\r' <"$tmp/serial.raw" >"$tmp/serial"
}

# the guest's markers (the fixture's /gh-ide.sh) against the host's files
check_guest() {
	grep -q '^GH-POWEROFF' "$tmp/serial" || bad "the guest script did not finish"
	grep -q 'reboot: Power down' "$tmp/serial" || bad "the guest did not power off"
	[ "$status" -eq 0 ] || bad "exit status $status, want 0"
	set -- $(grep -m 1 '^GH-SIZES ' "$tmp/serial")
	[ "${2:-}" = "$(($(stat -c %s "$tmp/disk.img") / 512))" ] ||
		bad "sda has ${2:-no} sectors"
	[ "${3:-}" = "$(($(stat -c %s "$iso") / 512))" ] ||
		bad "sr0 has ${3:-no} 512-byte sectors"
	grep -q '^GH-FILE guesthouse reads this file through ata_piix$' \
		"$tmp/serial" || bad "the guest did not read the file on sda1"
	want=$(seq -w 0 999999 | head -c 1048576 | sha256sum | cut -d' ' -f1)
	grep -q "^GH-READ $want\$" "$tmp/serial" ||
		bad "the read area's hash differs from the host's"
	grep -q '^GH-WRITTEN' "$tmp/serial" || bad "the guest did not write"
	want=$(seq -w 1000000 1999999 | head -c 1048576 | sha256sum | cut -d' ' -f1)
	got=$(dd if="$tmp/disk.img" bs=512 skip="$WRITE_START" count=2048 \
		2>/dev/null | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] || bad "the write area on the host is not what the guest wrote"
	want=$(sha256sum <"$iso" | cut -d' ' -f1)
	grep -q "^GH-CD $want\$" "$tmp/serial" ||
		bad "the CD's hash through sr0 differs from the ISO's"
	grep -q '^GH-CD-FILES .*boot' "$tmp/serial" ||
		bad "the guest did not mount the CD"
	if sed -n '/^GH-KLOG-BEGIN/,/^GH-KLOG-END/p' "$tmp/serial" |
		grep -E 'ata[0-9]|sd |sr |I/O error|FAT-fs|ISOFS|cdrom' >"$tmp/klog"; then
		bad "the kernel complains about the drives:"
		cat "$tmp/klog"
	fi
}

case $mode in
disk | direct)
	cp "$fixture/disk.img" "$tmp/disk.img"
	if [ "$mode" = disk ]; then
		run "$vmm" run --disk "$tmp/disk.img" --cdrom "$iso" --accel "$accel" \
			--memory 256M --no-reboot --timeout "$limit" --serial stdio \
			--debugcon "file:$tmp/bios.log"
		grep -q '^Booting from Hard Disk' "$tmp/bios.log" ||
			bad "SeaBIOS did not boot from the hard disk"
	else
		run "$vmm" run --kernel "$linux/vmlinuz" \
			--initrd "$fixture/initrd-ide.cpio.gz" \
			--append "console=ttyS0 panic=-1 gh.run=/gh-ide.sh" \
			--disk "$tmp/disk.img" --cdrom "$iso" --accel "$accel" \
			--memory 256M --no-reboot --timeout "$limit" --serial stdio
	fi
	why=$(grep -m 1 '^guesthouse: .*not available' "$tmp/stderr")
	[ -n "$why" ] && skip "$why"
	check_guest
	;;
grub)
	# GRUB shows its menu (the rescue CD's one entry, counting down); "c"
	# takes it to its command line, "grub>", where it echoes what is typed:
	# the keys go through the monitor to our PS/2 keyboard and GRUB reads
	# them through the BIOS. The drive logs GRUB's INT 13h reads with
	# --verbose.
	"$vmm" run --cdrom "$iso" --verbose --accel "$accel" --serial none \
		--timeout "$limit" --monitor "unix:$tmp/mon" \
		--debugcon "file:$tmp/bios.log" </dev/null >"$tmp/out" \
		2>"$tmp/stderr" &
	vm=$!
	python3 "$here/ghmon.py" "$tmp/mon" \
		'wait:GNU GRUB  version 2:120' \
		'wait:Use the . and . keys to select which entry is' \
		key:c 'wait:^grub>' 'keys:echo gh-ok\n' \
		'wait:^gh-ok$' quit >"$tmp/screen.txt"
	mon=$?
	wait "$vm"
	status=$?
	why=$(grep -m 1 '^guesthouse: .*not available' "$tmp/stderr")
	[ -n "$why" ] && skip "$why"
	[ "$status" -eq 0 ] || bad "exit status $status, want 0 (quit)"
	grep -q '^DVD/CD \[ata1-0: Guesthouse DVD-ROM ATAPI-6 DVD/CD\]' \
		"$tmp/bios.log" || bad "SeaBIOS did not find the CD-ROM drive"
	grep -q '^Booting from DVD/CD\.\.\.' "$tmp/bios.log" &&
		grep -q '^Booting from 0000:7c00' "$tmp/bios.log" ||
		bad "SeaBIOS did not boot the CD"
	nreads=$(grep -c 'ide1\.0: read' "$tmp/stderr")
	echo "the drive saw $nreads reads"
	[ "$nreads" -ge 20 ] ||
		bad "only $nreads reads: GRUB did not load its modules"
	echo "---- the screen ----"
	cat "$tmp/screen.txt"
	[ "$mon" -eq 0 ] ||
		bad "GRUB's menu, then its prompt and echo, did not show"
	;;
*)
	echo "unknown mode $mode" >&2
	exit 2
	;;
esac

if [ "$fail" -ne 0 ]; then
	echo "---- serial (last 40 lines) ----"
	tail -n 40 "$tmp/serial"
	echo "---- stderr (last 20 lines) ----"
	tail -n 20 "$tmp/stderr"
	[ -f "$tmp/bios.log" ] && { echo "---- SeaBIOS ----"; tail -n 20 "$tmp/bios.log"; }
	exit 1
fi
echo "PASS: $mode under $accel in $((end - start)) s"
exit 0
