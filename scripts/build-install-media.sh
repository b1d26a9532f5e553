#!/bin/sh
# Builds Debian's installer "mini.iso" from Debian packages: the netboot
# tree of debian-installer-12-netboot-amd64 (which ships no ISO) on a hybrid
# ISO laid out as debian-installer's own mini.iso, bootable by BIOS and UEFI:
#
#   BIOS: El Torito, no emulation, ISOLINUX (isolinux.bin from the isolinux
#         package, isohdpfx.bin as the hybrid MBR) running the netboot tree's
#         own syslinux menu (vesamenu.c32, splash.png, linux, initrd.gz).
#   UEFI: a second El Torito entry, boot/grub/efi.img, a FAT image (mtools)
#         with EFI/BOOT/BOOTX64.EFI = the tree's grubx64.efi (GRUB netboot,
#         iso9660 built in). Its prefix is /debian-installer/amd64/grub on
#         the disc it came from, whose x86_64-efi/grub.cfg sources
#         /boot/grub/grub.cfg, where the mini.iso has the tree's grub.cfg.
#
# Debian's files stay as they are. Added here, and only these:
#   /isolinux.bin, /boot.cat (ISOLINUX and its boot catalogue);
#   /isolinux.cfg, a copy of the tree's pxelinux.cfg/default (the same text
#     as its boot-screens/syslinux.cfg): its paths are relative to the tree's
#     root, so at the ISO's root they resolve as on a TFTP server;
#   /ldlinux.c32 and /splash.png, the files the tree's root symlinks name;
#   /boot/grub/grub.cfg, a copy of the tree's grub/grub.cfg;
#   /boot/grub/efi.img, holding only BOOTX64.EFI.
#
# usage: scripts/build-install-media.sh [OUTDIR]   (default: fixtures/media)
# Writes OUTDIR/mini.iso, and for tests OUTDIR/splash.png (the menu's
# background) and OUTDIR/grub-font.pf2 (the font GRUB draws with); keeps
# the packages in OUTDIR/debs. Needs xorriso and mtools
# (packaging/build-deps.txt). Does nothing while mini.iso is newer than the
# packages and this script.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
out=${1:-$top/fixtures/media}

die() {
	echo "build-install-media: $*" >&2
	exit 1
}

for tool in apt-get dpkg-deb xorriso mformat mmd mcopy; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "$tool is needed (Debian package: $(case $tool in
			dpkg-deb) echo dpkg ;; apt-*) echo apt ;;
			m*) echo mtools ;; *) echo "$tool" ;; esac))"
done

mkdir -p "$out/debs"
out=$(cd "$out" && pwd)

find_deb() {
	ls -t "$out/debs/$1"_*.deb 2>/dev/null | head -n 1
}

fetch() {
	deb=$(find_deb "$1")
	if [ -z "$deb" ]; then
		echo "build-install-media: downloading $1" >&2
		if ! (cd "$out/debs" && apt-get download -q "$1" >&2); then
			[ "$(id -u)" = 0 ] ||
				die "apt-get download $1 failed; run apt-get update as root"
			apt-get update -qq >&2
			(cd "$out/debs" && apt-get download -q "$1" >&2) ||
				die "apt-get download $1 failed"
		fi
		deb=$(find_deb "$1")
		[ -n "$deb" ] || die "apt-get download $1 left no .deb"
	fi
	echo "$deb"
}

dideb=$(fetch debian-installer-12-netboot-amd64)
isodeb=$(fetch isolinux)

uptodate=yes
for dep in "$dideb" "$isodeb" "$0"; do
	if [ ! -e "$out/mini.iso" ] || [ "$dep" -nt "$out/mini.iso" ]; then
		uptodate=no
	fi
done
if [ "$uptodate" = yes ]; then
	echo "build-install-media: up to date: $out/mini.iso"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gh-media.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

dpkg-deb -x "$dideb" "$tmp/di"
dpkg-deb -x "$isodeb" "$tmp/isolinux"
tree=$tmp/di/usr/lib/debian-installer/images/12/amd64/text
di=$tree/debian-installer/amd64
[ -f "$di/linux" ] && [ -f "$di/initrd.gz" ] &&
	[ -f "$di/pxelinux.cfg/default" ] && [ -f "$di/grubx64.efi" ] ||
	die "$dideb has no netboot tree at ${tree#"$tmp/di"}"
isobin=$tmp/isolinux/usr/lib/ISOLINUX/isolinux.bin
mbr=$tmp/isolinux/usr/lib/ISOLINUX/isohdpfx.bin
[ -f "$isobin" ] && [ -f "$mbr" ] || die "$isodeb has no isolinux.bin"

# The tree as it is (its root symlinks become the files they name).
root=$tmp/root
mkdir -p "$root"
cp -RL "$tree/." "$root/"
cp "$isobin" "$root/isolinux.bin"
cp "$di/pxelinux.cfg/default" "$root/isolinux.cfg"
mkdir -p "$root/boot/grub"
cp "$di/grub/grub.cfg" "$root/boot/grub/grub.cfg"

# The EFI system image: GRUB alone.
efi=$root/boot/grub/efi.img
kib=$(( ($(wc -c <"$di/grubx64.efi") + 1023) / 1024 + 256 ))
dd if=/dev/zero of="$efi" bs=1024 count="$kib" status=none
mformat -i "$efi" -v DEBIAN_EFI ::
mmd -i "$efi" ::/EFI ::/EFI/BOOT
mcopy -i "$efi" "$di/grubx64.efi" ::/EFI/BOOT/BOOTX64.EFI

xorriso -as mkisofs -quiet -r -J -V "Debian 12 amd64 n" \
	-o "$tmp/mini.iso" \
	-isohybrid-mbr "$mbr" \
	-c boot.cat -b isolinux.bin -no-emul-boot -boot-load-size 4 \
	-boot-info-table \
	-eltorito-alt-boot -e boot/grub/efi.img -no-emul-boot \
	-isohybrid-gpt-basdat \
	"$root" >&2 || die "xorriso failed"
cp "$di/boot-screens/splash.png" "$out/splash.png"
cp "$di/grub/font.pf2" "$out/grub-font.pf2"
mv "$tmp/mini.iso" "$out/mini.iso"
echo "build-install-media: $out/mini.iso ($(wc -c <"$out/mini.iso") bytes)"
