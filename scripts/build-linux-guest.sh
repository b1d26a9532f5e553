#!/bin/sh
# Builds the Linux demo guest from Debian packages: the stock kernel that
# linux-image-amd64 points at, and a busybox initramfs (newc cpio, gzip).
#
# usage: scripts/build-linux-guest.sh [OUTDIR]     (default: fixtures/linux)
#
# Writes OUTDIR/vmlinuz and OUTDIR/initramfs.cpio.gz, and OUTDIR/ata.cpio.gz:
# the kernel's PATA, SCSI disk and CD-ROM, FAT and ISO 9660 modules with
# /sbin/gh-load-ata to load them, for drive tests to append to the initramfs
# (the kernel unpacks concatenated archives in order). Keeps the downloaded
# packages in OUTDIR/debs. Needs no root: apt-get download works as any user;
# only the "apt-get update" retried after a failed download needs root.
# Running it again does nothing while the outputs are newer than the packages
# and this script.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
out=${1:-$top/fixtures/linux}

die() {
	echo "build-linux-guest: $*" >&2
	exit 1
}

for tool in apt-get apt-cache dpkg-deb cpio gzip; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "$tool is needed (Debian package: $(case $tool in
			dpkg-deb) echo dpkg ;; apt-*) echo apt ;; *) echo "$tool" ;;
			esac))"
done

mkdir -p "$out/debs"
out=$(cd "$out" && pwd)

# linux-image-amd64 is a metapackage: the kernel is the package it depends on.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
if [ -z "$kpkg" ] && [ "$(id -u)" = 0 ]; then
	apt-get update -qq >&2 || true
	kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
fi
if [ -z "$kpkg" ] && [ "$out/vmlinuz" -nt "$0" ] &&
	[ "$out/initramfs.cpio.gz" -nt "$0" ]; then
	# Offline, or no package lists: outputs this script made will do.
	echo "build-linux-guest: cannot resolve linux-image-amd64; keeping $out"
	exit 0
fi
[ -n "$kpkg" ] || die "cannot resolve linux-image-amd64 (run apt-get update as root)"

# The newest .deb of a package already in debs/, or nothing.
find_deb() {
	ls -t "$out/debs/$1"_*.deb 2>/dev/null | head -n 1
}

fetch() {
	deb=$(find_deb "$1")
	if [ -z "$deb" ]; then
		echo "build-linux-guest: downloading $1" >&2
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

kdeb=$(fetch "$kpkg")
bdeb=$(fetch busybox-static)

# Up to date when both outputs are newer than both packages and this script.
uptodate=yes
for f in vmlinuz initramfs.cpio.gz ata.cpio.gz; do
	for dep in "$kdeb" "$bdeb" "$0"; do
		if [ ! -e "$out/$f" ] || [ "$dep" -nt "$out/$f" ]; then
			uptodate=no
		fi
	done
done
if [ "$uptodate" = yes ]; then
	echo "build-linux-guest: up to date"
	echo "kernel:    $out/vmlinuz ($kpkg)"
	echo "initramfs: $out/initramfs.cpio.gz"
	echo "modules:   $out/ata.cpio.gz"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gh-linux.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

dpkg-deb -x "$kdeb" "$tmp/kernel"
dpkg-deb -x "$bdeb" "$tmp/busybox"

vmlinuz=$(ls "$tmp"/kernel/boot/vmlinuz-* 2>/dev/null | head -n 1)
[ -n "$vmlinuz" ] || die "$kdeb has no boot/vmlinuz-*"
bb=$tmp/busybox/bin/busybox
[ -x "$bb" ] || die "$bdeb has no bin/busybox"

root=$tmp/root
mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" \
	"$root/dev" "$root/proc" "$root/sys" "$root/tmp" "$root/root" "$root/etc"
cp "$bb" "$root/bin/busybox"

# Applet links made here when the host can run the (static x86-64) binary;
# otherwise /init makes them at boot with busybox --install -s.
if "$bb" --list-full >"$tmp/applets" 2>/dev/null && [ -s "$tmp/applets" ]; then
	while read -r applet; do
		[ "$applet" = bin/busybox ] && continue
		[ -e "$root/$applet" ] && continue
		case $applet in
		*/*/*) rel=../../bin/busybox ;;
		*/*) rel=../bin/busybox ;;
		*) continue ;;
		esac
		ln -s "$rel" "$root/$applet"
	done <"$tmp/applets"
fi
# /init is run by /bin/sh, so that one must exist whatever happened above.
[ -e "$root/bin/sh" ] || ln -s busybox "$root/bin/sh"

cat >"$root/init" <<'EOF'
#!/bin/sh
# Init of the Guesthouse demo guest. With gh.test=1 on the kernel command
# line it runs the boot test's workload instead of a shell (tests/linux-boot.sh
# and bench/linux-boot.py read its markers) and powers off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
[ -e /bin/mount ] || /bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "GUESTHOUSE-LINUX-BOOTED"

# Nanoseconds since boot. Busybox's date has no %N; /proc/timer_list starts
# with "now at N nsecs" (root only, which init is); /proc/uptime, in 10 ms
# steps, is the fallback.
now_ns() {
	ns=$(sed -n '/^now at /{s/^now at \([0-9]*\) nsecs$/\1/p;q}' \
		/proc/timer_list 2>/dev/null)
	if [ -z "$ns" ]; then
		read -r up _ </proc/uptime
		ns=${up%.*}${up#*.}0000000
	fi
	echo "$ns"
}

# gen_workload SIZE FILE: SIZE bytes made only with busybox tools, which
# tests/linux-workload.py recomputes on the host (and describes): 16 chained
# SHA-256 lines, then levels "previous + salt line + previous with every byte
# rotated by tr" until SIZE is reached, cut to SIZE. Cheap: few processes
# (forks are slow in an emulated guest), cat copies with sendfile, tr streams;
# and not one block repeated: each level changes every byte of its copy.
gen_workload() {
	size=$1 file=$2 seed=guesthouse-linux-boot-1
	h=$seed i=0
	: >"$file"
	while [ "$i" -lt 16 ]; do
		set -- $(echo "$h $i" | sha256sum)
		h=$1
		echo "$h" >>"$file"
		i=$((i + 1))
	done
	len=$((16 * 65)) k=0
	while [ "$len" -lt "$size" ]; do
		k=$((k + 1))
		salt="$seed level $k"
		# tr's sets in octal: byte b becomes (b + rot) mod 256.
		rot=$((k * 73 % 255 + 1)) r1=$((k * 73 % 255))
		to="\\$((rot / 64))$((rot / 8 % 8))$((rot % 8))-\\377"
		to="$to\\000-\\$((r1 / 64))$((r1 / 8 % 8))$((r1 % 8))"
		{
			cat "$file"
			echo "$salt"
			tr '\000-\377' "$to" <"$file"
		} >"$file.next"
		mv "$file.next" "$file"
		len=$((2 * len + ${#salt} + 1))
	done
	truncate -s "$size" "$file"
}

run_test() {
	mib=64
	for arg in $(cat /proc/cmdline); do
		case $arg in
		gh.mib=*) mib=${arg#gh.mib=} ;;
		esac
	done
	echo "kernel: $(uname -r)"
	echo "GH-SHELL-READY"
	# The workload lives in a tmpfs of its own, larger than the default
	# half of RAM: with 256M, 64 MiB needs the last level (66 MiB) beside
	# the one before it.
	mount -t tmpfs -o size=90% tmpfs /tmp
	t0=$(now_ns)
	gen_workload $((mib * 1048576)) /tmp/data
	t1=$(now_ns)
	set -- $(sha256sum /tmp/data)
	t2=$(now_ns)
	echo "GH-GEN $(wc -c </tmp/data) $((t1 - t0))"
	echo "GH-SHA256 $1 $(wc -c </tmp/data) $((t2 - t1))"
	rm -f /tmp/data
	echo "GH-CPUS $(grep -c '^processor' /proc/cpuinfo)" \
		"$(cat /sys/devices/system/cpu/online)"
	# The kernel's own warnings and worse (levels 0-4), for the test's log;
	# the test greps the whole console for the messages it fails on.
	echo "GH-KLOG-BEGIN"
	dmesg -r | grep '^<[0-4]>'
	echo "GH-KLOG-END"
	echo "GUESTHOUSE-LINUX-SELFTEST-DONE"
	echo "GH-POWEROFF"
	# ACPI S5 where the machine has it; without, the kernel halts, and the
	# test's timeout tells.
	poweroff -f
}

case " $(cat /proc/cmdline) " in
*" gh.test=1 "*) run_test ;;
esac

# Drive tests append archives of their own (ata.cpio.gz, a script): with
# gh.run=FILE, /init runs FILE from them instead of the shell, then powers
# off.
for arg in $(cat /proc/cmdline); do
	case $arg in
	gh.run=*)
		sh "${arg#gh.run=}"
		echo "GH-POWEROFF"
		poweroff -f
		;;
	esac
done

# The demo (scripts/demo.sh): an interactive shell on the serial console,
# run by busybox's init, which gives it what a script cannot: SIGINT that is
# not ignored (a non-interactive shell's background jobs ignore it, and PID 1
# running it in the foreground could not act on signals until it ended), and
# poweroff, reboot and halt (they signal PID 1, which shuts down). setsid
# makes the shell a session leader, which may take a controlling terminal,
# and cttyhack makes the console's tty (ttyS0: /dev/console cannot be one)
# the shell's, for job control and Ctrl-C. When the shell ends, the guest
# powers off: ACPI S5, and the VMM exits 0.
hostname guesthouse
echo
echo "Guesthouse demo guest: Debian's Linux $(uname -r) with a busybox shell on"
echo "the serial console. 'poweroff' or leaving the shell powers the VM off and"
echo "the VMM exits; Ctrl-A x quits the VMM at once."
echo
echo '::once:/bin/sh -c "setsid cttyhack sh -l; poweroff"' >/etc/inittab
export PS1='\h:\w\$ '
exec init
EOF
chmod 755 "$root/init"

# The kernel opens /dev/console before running /init, and devtmpfs is not
# mounted yet then, so the archive needs that node. Making it with mknod needs
# root; instead a tiny newc archive holding only the node goes first (the
# kernel unpacks concatenated archives in order).
newc_entry() { # name mode rdevmajor rdevminor
	namesize=$((${#1} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\0' \
		"$5" "$2" 0 0 1 0 0 0 0 "$3" "$4" "$namesize" 0 "$1"
	# header (110 bytes) + name + NUL is padded to a multiple of 4
	pad=$(((4 - (110 + namesize) % 4) % 4))
	head -c "$pad" /dev/zero
}
{
	newc_entry dev 16877 0 0 1		# 040755
	newc_entry dev/console 8576 5 1 2	# 020600, char 5:1
	newc_entry 'TRAILER!!!' 0 0 0 0
} >"$tmp/console.cpio"

(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc --owner=0:0 >"$tmp/root.cpio")
cat "$tmp/console.cpio" "$tmp/root.cpio" | gzip -9n >"$tmp/initramfs.cpio.gz"

# The drive modules, in the order of their dependencies (modinfo's depends=).
ata=$tmp/ata
mkdir -p "$ata/lib/gh-ata" "$ata/sbin"
mods="scsi_common scsi_mod libata ata_piix cdrom sr_mod crct10dif_common"
mods="$mods crct10dif_generic crc-t10dif crc64 crc64_rocksoft_generic"
mods="$mods crc64-rocksoft t10-pi sd_mod fat vfat nls_cp437 nls_ascii nls_utf8"
mods="$mods isofs"
for m in $mods; do
	ko=$(find "$tmp/kernel/lib/modules" -name "$m.ko" | head -n 1)
	[ -n "$ko" ] || die "$kdeb has no $m.ko"
	cp "$ko" "$ata/lib/gh-ata/"
done
{
	echo '#!/bin/sh'
	echo '# Loads the PIIX PATA driver, SCSI disks and CD-ROMs, FAT and ISO 9660.'
	echo "for m in $mods; do"
	echo '	insmod /lib/gh-ata/$m.ko || echo "GH-INSMOD-FAILED $m"'
	echo 'done'
} >"$ata/sbin/gh-load-ata"
chmod 755 "$ata/sbin/gh-load-ata"
(cd "$ata" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc --owner=0:0) | gzip -9n >"$tmp/ata.cpio.gz"

cp "$vmlinuz" "$out/vmlinuz.new"
mv "$out/vmlinuz.new" "$out/vmlinuz"
mv "$tmp/initramfs.cpio.gz" "$out/initramfs.cpio.gz"
mv "$tmp/ata.cpio.gz" "$out/ata.cpio.gz"

echo "kernel:    $out/vmlinuz ($kpkg)"
echo "initramfs: $out/initramfs.cpio.gz"
echo "modules:   $out/ata.cpio.gz"
