#!/bin/sh
# Boots Debian's stock kernel with the busybox initramfs of
# scripts/build-linux-guest.sh and checks that /init ran and the guest ended
# by rebooting (which --no-reboot turns into exit status 0).
#
# usage: tests/linux-boot.sh GUESTHOUSE ACCEL
# Skips (77) when ACCEL cannot run here, or is KVM that is too slow to boot
# Linux (nested KVM emulating guest supervisor code; set GH_SLOW_KVM=0 to try
# anyway). GH_LINUX_FIXTURE overrides where the fixture lives.
set -u

[ $# -eq 2 ] || { echo "usage: $0 GUESTHOUSE ACCEL" >&2; exit 2; }
vmm=$1 accel=$2
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
fixture=${GH_LINUX_FIXTURE:-$top/fixtures/linux}
marker=GUESTHOUSE-LINUX-BOOTED

skip() {
	echo "SKIP: $*"
	exit 77
}

# "guesthouse info" prints one line per backend, e.g.
#   kvm: available, slow: guest supervisor code at 2.1 MIPS
#   soft: not available: ...
info=$("$vmm" info 2>&1) || skip "'guesthouse info' failed: $info"
line=$(printf '%s\n' "$info" | grep -m 1 "^$accel:")
[ -n "$line" ] || skip "'guesthouse info' does not list backend $accel"
case $line in
"$accel: available"*) ;;
*) skip "$line" ;;
esac
case $line in
*"no x87/SSE"*) skip "$line" ;;
esac
if [ "$accel" = kvm ]; then
	case $line in
	"kvm: available, fast"*) [ "${GH_SLOW_KVM:-0}" = 1 ] &&
		skip "kvm: GH_SLOW_KVM=1 says this KVM is too slow for Linux" ;;
	*) [ "${GH_SLOW_KVM:-1}" = 0 ] ||
		skip "$line (Linux would not boot in reasonable time)" ;;
	esac
fi

if [ ! -e "$fixture/vmlinuz" ] || [ ! -e "$fixture/initramfs.cpio.gz" ]; then
	"$top/scripts/build-linux-guest.sh" "$fixture" ||
		{ echo "FAIL: could not build the Linux fixture"; exit 1; }
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gh-linux.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

set -- "$vmm" run --kernel "$fixture/vmlinuz" --initrd "$fixture/initramfs.cpio.gz" \
	--append "console=ttyS0 gh.test=1 panic=-1" --memory 256M --accel "$accel" \
	--no-reboot --timeout 300 --serial stdio
echo "running: $*"
start=$(date +%s)
"$@" >"$tmp/serial.raw" 2>"$tmp/stderr" </dev/null
status=$?
end=$(date +%s)
tr -d '\r' <"$tmp/serial.raw" >"$tmp/serial"

fail=0
if [ "$status" -ne 0 ]; then
	why=$(grep -m 1 '^guesthouse: .*not available' "$tmp/stderr")
	[ -n "$why" ] && skip "$why"
	[ "$status" -eq 124 ] && echo "FAIL: Linux did not finish within 300 s"
	echo "FAIL: exit status $status, want 0"
	fail=1
fi
if ! grep -q "^$marker" "$tmp/serial"; then
	echo "FAIL: the guest never printed $marker"
	fail=1
fi
if [ "$fail" -ne 0 ]; then
	echo "---- serial output (last 60 lines) ----"
	tail -n 60 "$tmp/serial"
	echo "---- stderr ----"
	cat "$tmp/stderr"
	exit 1
fi
grep -E '^(kernel|cpus): ' "$tmp/serial"
echo "PASS: Linux booted under $accel in $((end - start)) s"
exit 0
