#!/bin/sh
# Bad input from a person gets a one-line error naming the problem and a
# non-zero exit, never a crash. Usage: cli-errors.sh GUESTHOUSE
set -u
gh=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
n=0

# expect WORD ARGS...: non-zero exit below 128, one line on stderr with WORD
expect() {
	word=$1
	shift
	n=$((n + 1))
	"$gh" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
	lines=$(wc -l <"$tmp/err")
	if [ $rc -eq 0 ] || [ $rc -ge 124 ] || [ "$lines" -ne 1 ] ||
	   ! grep -qi -- "$word" "$tmp/err"; then
		echo "not ok $n - $* (exit $rc, $lines lines)"
		sed 's/^/# /' "$tmp/err"
		fails=$((fails + 1))
	else
		echo "ok $n - $*: $(cat "$tmp/err")"
	fi
}

printf 'hello, not a kernel\n' >"$tmp/text"
printf '\177ELF\001\001\001' >"$tmp/short.elf"
head -c 600 /dev/zero >"$tmp/zeros"
# A Multiboot header whose ELF program headers point past the file.
python3 - "$tmp/corrupt.elf" <<'PY'
import struct, sys
eh = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)
eh += struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, 0x100000, 0x10000, 0, 0,
                  52, 32, 1, 40, 0, 0)
mb = struct.pack("<III", 0x1BADB002, 0, (-0x1BADB002) & 0xffffffff)
img = eh + mb
img += bytes(64 - len(img))
open(sys.argv[1], "wb").write(img)
PY
# A valid Multiboot a.out-kludge kernel (loads, then the options are judged).
python3 - "$tmp/mb.bin" <<'PY'
import struct, sys
flags = 0x10000
hdr = struct.pack("<III", 0x1BADB002, flags, (-(0x1BADB002 + flags)) & 0xffffffff)
hdr += struct.pack("<IIIII", 0x100000, 0x100000, 0, 0, 0x100020)
img = hdr + bytes(32 - len(hdr)) + b"\xf4" * 32
open(sys.argv[1], "wb").write(img)
PY
mkdir "$tmp/dir"
head -c 1000 /dev/zero >"$tmp/odd.img"
: >"$tmp/empty.iso"
head -c 4096 /dev/zero >"$tmp/disk.img"

echo "1..31"
expect "unknown option" run --frobnicate
expect "nothing to boot" run
expect "boot" run --cdrom x.iso --boot z
expect "boot" run --cdrom x.iso --boot cc
expect "vga" run --kernel "$tmp/text" --vga cga
expect "disk" run --disk a --disk b --disk c --disk d --cdrom e
expect "display" run --kernel "$tmp/text" --vga none --screendump x.png
expect "efi-vars" run --kernel "$tmp/text" --efi-vars "$tmp/vars"
expect "variable store" run --firmware ovmf --efi-vars "$tmp/dir"
expect "variable store" run --firmware ovmf --efi-vars "$tmp/text"
expect "firmware" run --firmware bogus
expect "no such file" run --kernel "$tmp/missing"
expect "directory" run --kernel "$tmp/dir"
expect "not a" run --kernel "$tmp/text" --accel kvm
expect "not a" run --kernel "$tmp/zeros" --accel kvm
expect "short.elf" run --kernel "$tmp/short.elf" --accel kvm
expect "corrupt.elf" run --kernel "$tmp/corrupt.elf" --accel kvm
expect "size" run --kernel "$tmp/text" --memory lots
expect "size" run --kernel "$tmp/text" --memory 0
expect "more than this host" run --kernel "$tmp/mb.bin" --memory 64T --accel kvm
expect "CPU" run --kernel "$tmp/text" --cpus 0
expect "CPU" run --kernel "$tmp/text" --cpus many
expect "serial" run --kernel "$tmp/text" --serial carrier-pigeon
expect "accelerator" run --kernel "$tmp/mb.bin" --accel warp
expect "timeout" run --kernel "$tmp/text" --timeout -3
expect "unknown command" frobnicate
# drive images are opened, checked and locked before the VM runs
mb="--kernel $tmp/mb.bin --accel soft"
expect "no such file" run $mb --disk "$tmp/missing.img"
expect "directory" run $mb --disk "$tmp/dir"
expect "multiple of 512" run $mb --disk "$tmp/odd.img"
expect "empty" run $mb --cdrom "$tmp/empty.iso"
expect "in use" run $mb --disk "$tmp/disk.img" --disk "$tmp/disk.img"

[ $fails -eq 0 ]
