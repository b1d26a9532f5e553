#!/bin/sh
# Builds the drive boot fixtures from Debian packages, without root:
#
#   OUTDIR/grub-rescue-cdrom.iso   Debian's grub-rescue-pc rescue CD (GRUB,
#                                  El Torito)
#   OUTDIR/disk.img                a raw disk: syslinux's MBR, a FAT16
#                                  partition made by mtools holding syslinux
#                                  (installed by its mtools installer), the
#                                  Linux fixture's kernel and an initrd, then
#                                  a read area and a write area (layout below)
#   OUTDIR/initrd-ide.cpio.gz      that initrd: the Linux fixture's initramfs,
#                                  its drive modules (ata.cpio.gz) and the
#                                  drive test /gh-ide.sh (run by gh.run=)
#
# usage: scripts/build-boot-fixtures.sh [OUTDIR]   (default: fixtures/boot)
# The Linux fixture is GH_LINUX_FIXTURE or fixtures/linux, built here by
# scripts/build-linux-guest.sh. Host tools: mtools, syslinux, syslinux-common
# (packaging/build-deps.txt). Does nothing while the outputs are newer than
# their inputs and this script.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
out=${1:-$top/fixtures/boot}
linux=${GH_LINUX_FIXTURE:-$top/fixtures/linux}

# Disk layout, in 512-byte sectors (tests/ide-boot.sh reads it from here).
PART_START=2048		# the FAT partition, 1 MiB in
PART_SECTORS=65536	# 32 MiB
READ_START=67584	# 1 MiB of `seq -w 0 999999`, read by the guest
WRITE_START=69632	# 1 MiB of zeros the guest overwrites
DISK_SECTORS=71680
MBR=/usr/lib/syslinux/mbr/mbr.bin

die() {
	echo "build-boot-fixtures: $*" >&2
	exit 1
}

if [ "${1:-}" = --layout ]; then
	echo "READ_START=$READ_START WRITE_START=$WRITE_START"
	exit 0
fi

for tool in apt-get dpkg-deb cpio gzip mformat mcopy syslinux python3 seq; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "$tool is needed (Debian package: $(case $tool in
			dpkg-deb) echo dpkg ;; apt-*) echo apt ;;
			mformat|mcopy) echo mtools ;; seq) echo coreutils ;;
			*) echo "$tool" ;; esac))"
done
[ -r "$MBR" ] || die "$MBR is needed (Debian package: syslinux-common)"

"$here/build-linux-guest.sh" "$linux" >&2 ||
	die "could not build the Linux fixture in $linux"
for f in vmlinuz initramfs.cpio.gz ata.cpio.gz; do
	[ -r "$linux/$f" ] || die "$linux/$f is missing"
done

mkdir -p "$out/debs"
out=$(cd "$out" && pwd)

# The rescue CD, from grub-rescue-pc.
if [ ! -s "$out/grub-rescue-cdrom.iso" ]; then
	deb=$(ls -t "$out/debs"/grub-rescue-pc_*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ]; then
		echo "build-boot-fixtures: downloading grub-rescue-pc" >&2
		(cd "$out/debs" && apt-get download -q grub-rescue-pc >&2) ||
			die "apt-get download grub-rescue-pc failed (apt-get update?)"
		deb=$(ls -t "$out/debs"/grub-rescue-pc_*.deb | head -n 1)
	fi
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/gh-boot.XXXXXX")
	dpkg-deb -x "$deb" "$tmp"
	iso=$tmp/usr/lib/grub-rescue/grub-rescue-cdrom.iso
	[ -s "$iso" ] || die "$deb has no grub-rescue-cdrom.iso"
	cp "$iso" "$out/grub-rescue-cdrom.iso.new"
	mv "$out/grub-rescue-cdrom.iso.new" "$out/grub-rescue-cdrom.iso"
	rm -rf "$tmp"
fi

uptodate=yes
for f in disk.img initrd-ide.cpio.gz; do
	for dep in "$0" "$linux/vmlinuz" "$linux/initramfs.cpio.gz" \
		"$linux/ata.cpio.gz"; do
		if [ ! -e "$out/$f" ] || [ "$dep" -nt "$out/$f" ]; then
			uptodate=no
		fi
	done
done
if [ "$uptodate" = yes ]; then
	echo "build-boot-fixtures: up to date in $out"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gh-boot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# The guest's side of the drive test, run by /init for gh.run=/gh-ide.sh:
# it loads the drivers, reads a file from the FAT partition, hashes the
# read area, writes the write area, and hashes the whole CD through sr0
# when there is one. tests/ide-boot.sh checks each line on the host.
mkdir -p "$tmp/script"
cat >"$tmp/script/gh-ide.sh" <<EOF
/sbin/gh-load-ata
# the SCSI scan runs in the background: wait for the disk's partition
i=0
while [ ! -b /dev/sda1 ] && [ \$i -lt 60 ]; do sleep 1; i=\$((i + 1)); done
echo "GH-SIZES \$(cat /sys/block/sda/size 2>/dev/null)" \\
	"\$(cat /sys/block/sr0/size 2>/dev/null)"
mkdir -p /mnt /cdrom
if mount -t vfat -o ro /dev/sda1 /mnt; then
	echo "GH-FILE \$(cat /mnt/ghfile.txt)"
	umount /mnt
fi
set -- \$(dd if=/dev/sda bs=512 skip=$READ_START count=2048 2>/dev/null |
	sha256sum)
echo "GH-READ \$1"
seq -w 1000000 1999999 | head -c 1048576 |
	dd of=/dev/sda bs=512 seek=$WRITE_START conv=fsync 2>/dev/null &&
	echo "GH-WRITTEN"
if [ -b /dev/sr0 ]; then
	set -- \$(dd if=/dev/sr0 bs=2048 2>/dev/null | sha256sum)
	echo "GH-CD \$1"
	if mount -t iso9660 -o ro /dev/sr0 /cdrom; then
		echo "GH-CD-FILES \$(ls /cdrom | tr '\\n' ' ')"
		umount /cdrom
	fi
fi
echo "GH-KLOG-BEGIN"
dmesg -r | grep '^<[0-4]>'
echo "GH-KLOG-END"
sync
EOF
(cd "$tmp/script" && echo gh-ide.sh |
	cpio --quiet -o -H newc --owner=0:0) | gzip -9n >"$tmp/script.cpio.gz"
cat "$linux/initramfs.cpio.gz" "$linux/ata.cpio.gz" "$tmp/script.cpio.gz" \
	>"$tmp/initrd-ide.cpio.gz"

# The FAT partition: syslinux's files, the kernel, the initrd, a config.
part=$tmp/part.img
python3 -c "open('$part', 'wb').truncate($PART_SECTORS * 512)"
export MTOOLS_SKIP_CHECK=1
# hidden sectors = where the partition starts, which syslinux's boot
# sector adds to its own LBAs
mformat -i "$part" -T "$PART_SECTORS" -h 16 -s 63 -H "$PART_START" \
	-v GHBOOT ::
cat >"$tmp/syslinux.cfg" <<'EOF'
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
	LINUX /vmlinuz
	INITRD /initrd.gz
	APPEND console=ttyS0 panic=-1 gh.run=/gh-ide.sh
EOF
echo "guesthouse reads this file through ata_piix" >"$tmp/ghfile.txt"
mcopy -i "$part" "$tmp/syslinux.cfg" ::syslinux.cfg
mcopy -i "$part" "$linux/vmlinuz" ::vmlinuz
mcopy -i "$part" "$tmp/initrd-ide.cpio.gz" ::initrd.gz
mcopy -i "$part" "$tmp/ghfile.txt" ::ghfile.txt
syslinux --install "$part"

# The disk: MBR code and one active FAT16 (LBA) partition, the partition,
# the read area, the write area.
python3 - "$tmp/disk.img" "$MBR" "$part" "$PART_START" "$PART_SECTORS" \
	"$DISK_SECTORS" <<'PY'
import struct, sys
path, mbr, part, start, count, total = sys.argv[1:3] + sys.argv[3:4] + \
    [int(x) for x in sys.argv[4:]]
code = open(mbr, "rb").read()[:440]
entry = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", 0x0e,
                    b"\xfe\xff\xff", start, count)
sector0 = code + bytes(440 - len(code)) + bytes(6) + entry + bytes(48) + \
    b"\x55\xaa"
with open(path, "wb") as f:
    f.truncate(total * 512)
    f.write(sector0)
    f.seek(start * 512)
    f.write(open(part, "rb").read())
PY
seq -w 0 999999 | head -c 1048576 |
	dd of="$tmp/disk.img" bs=512 seek="$READ_START" conv=notrunc 2>/dev/null

mv "$tmp/initrd-ide.cpio.gz" "$out/initrd-ide.cpio.gz"
mv "$tmp/disk.img" "$out/disk.img"
echo "build-boot-fixtures: $out/disk.img, $out/initrd-ide.cpio.gz," \
	"$out/grub-rescue-cdrom.iso"
