#!/bin/sh
# Boots Debian's stock kernel with the busybox initramfs of
# scripts/build-linux-guest.sh (issue 4's Linux boot test): /init reaches the
# shell marker, makes the 64 MiB workload in a tmpfs and hashes it, and the
# hash must be the one tests/linux-workload.py computes on the host; the guest
# must see CPUS online CPUs, the kernel log must hold none of the warnings
# below, and the guest must power off (ACPI S5) with the VMM exiting 0.
#
# usage: tests/linux-boot.sh VMM ACCEL [CPUS]
#   VMM ACCEL is "guesthouse kvm|soft", or "qemu-system-x86_64 tcg": the same
#   guest under QEMU's TCG, the reference that shows the guest and this test
#   are right, so that a failure under our backends is ours.
# Skips (77) when ACCEL cannot run Linux here: not available, the software CPU
# while `guesthouse info` says it has no x87/SSE, or KVM that is too slow for
# Linux (nested KVM emulating guest supervisor code; GH_SLOW_KVM=0 tries
# anyway). GH_LINUX_FIXTURE overrides where the fixture lives, GH_LINUX_MIB
# the workload's size (default 64). GH_LINUX_FIRMWARE=seabios or ovmf has
# guesthouse boot the kernel through the firmware (fw_cfg with our option
# ROM, or OVMF and the kernel's EFI stub) instead of loading it directly;
# with SeaBIOS the kernel's console is then on the VGA screen too (vgacon on
# the text mode the VGA BIOS set up), which must have scrolled through the
# whole kernel log to its last line (with OVMF it is a framebuffer).
#
# GH_LINUX_VMM, if set, is the guesthouse binary the kvm/soft runs use
# instead of VMM: an interpreter built with ASan+UBSan runs Linux more than
# ten times slower (no output after minutes), so scripts/test.sh builds an
# optimized guesthouse for these tests; the sanitizers still run the CPU
# through the unit tests and the guest programs. Without it, a sanitized VMM
# skips the soft runs with that reason.
set -u

[ $# -ge 2 ] && [ $# -le 3 ] || {
	echo "usage: $0 VMM ACCEL [CPUS]" >&2
	exit 2
}
vmm=$1 accel=$2 cpus=${3:-1}
[ "$accel" != tcg ] && [ -n "${GH_LINUX_VMM:-}" ] && vmm=$GH_LINUX_VMM
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
fixture=${GH_LINUX_FIXTURE:-$top/fixtures/linux}
mib=${GH_LINUX_MIB:-64}
limit=300

# Kernel messages that fail the test: ones that mean the guest or the kernel
# went wrong, whoever runs it...
errors='WARNING:|Call Trace|BUG:|Oops|Kernel panic|general protection fault'
errors="$errors"'|invalid opcode:|segfault at|traps:|unchecked MSR|mce:'
errors="$errors"'|Machine check|spurious APIC|spurious 8259A'
# ...and ones that mean our devices or CPU misled it (clocks, APIC timer,
# firmware tables, MSRs). QEMU prints some of these itself here: on a loaded
# host its TCG's TSCs drift apart and its PIT misses the kernel's timer
# check, and its firmware leaves the APs' MTRRs unset; so under QEMU they are
# shown, and fail only our backends.
ours='clocksource.*unstable|TSC.*unstable|TSCs unsynchronized'
ours="$ours"'|Unable to calibrate|APIC calibration not consistent'
ours="$ours"'|Unstable clock detected|MP-BIOS bug|timer doesn.t work'
ours="$ours"'|inconsistent.*MTRR|Firmware Bug'

skip() {
	echo "SKIP: $*"
	exit 77
}

if [ "$accel" = tcg ]; then
	command -v "$vmm" >/dev/null 2>&1 || skip "$vmm is not installed"
else
	# "guesthouse info" prints one line per backend, e.g.
	#   kvm: available, slow: guest supervisor code at 2.1 MIPS
	#   soft: available, integer instruction set only: no x87/SSE yet, ...
	info=$("$vmm" info 2>&1) || skip "'guesthouse info' failed: $info"
	line=$(printf '%s\n' "$info" | grep -m 1 "^$accel:")
	[ -n "$line" ] || skip "'guesthouse info' does not list backend $accel"
	case $line in
	"$accel: available"*) ;;
	*) skip "$line" ;;
	esac
	# The software CPU boots Linux once it has x87/SSE: this goes when
	# `guesthouse info` stops saying so.
	case $line in
	*"no x87/SSE"*) skip "$line" ;;
	esac
	if [ "$accel" = soft ] && grep -q __asan_init "$vmm" 2>/dev/null; then
		skip "soft: $vmm is built with ASan, too slow to boot Linux" \
			"(set GH_LINUX_VMM to an optimized build)"
	fi
	if [ "$accel" = kvm ]; then
		case $line in
		"kvm: available, fast"*) [ "${GH_SLOW_KVM:-0}" = 1 ] &&
			skip "kvm: GH_SLOW_KVM=1 says this KVM is too slow for Linux" ;;
		*) [ "${GH_SLOW_KVM:-1}" = 0 ] ||
			skip "$line (Linux would not boot in reasonable time)" ;;
		esac
	fi
fi
command -v python3 >/dev/null 2>&1 ||
	skip "python3 is needed to compute the workload's hash on the host"

# Always: it does nothing when the fixture is up to date, and a fixture made
# by an older script has an /init without the markers checked here.
"$top/scripts/build-linux-guest.sh" "$fixture" ||
	{ echo "FAIL: could not build the Linux fixture"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gh-linux.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# The host's hash, computed while the guest boots.
python3 "$here/linux-workload.py" "$mib" >"$tmp/expect" &
expect_pid=$!

append="console=ttyS0 gh.test=1 gh.mib=$mib panic=-1"
screen= shot=
if [ "$accel" != tcg ] && [ "${GH_LINUX_FIRMWARE:-}" = seabios ]; then
	append="console=tty0 $append"
	if [ -n "${GH_LINUX_VGA:-}" ]; then
		append="vga=$GH_LINUX_VGA $append"
		shot=$tmp/screen.png
	else
		screen=$tmp/screen.txt
	fi
fi
if [ "$accel" = tcg ]; then
	set -- timeout "$limit" "$vmm" -accel tcg -m 256M -smp "$cpus" \
		-kernel "$fixture/vmlinuz" -initrd "$fixture/initramfs.cpio.gz" \
		-append "$append" -nodefaults -display none -monitor none \
		-serial stdio -no-reboot
else
	set -- "$vmm" run --kernel "$fixture/vmlinuz" \
		--initrd "$fixture/initramfs.cpio.gz" --append "$append" \
		--memory 256M --cpus "$cpus" --accel "$accel" --no-reboot \
		--timeout "$limit" --serial stdio \
		${GH_LINUX_FIRMWARE:+--firmware "$GH_LINUX_FIRMWARE"} \
		${screen:+--screen-text "$screen"} ${shot:+--screendump "$shot"}
fi
echo "running: $*"
start=$(date +%s)
"$@" >"$tmp/serial.raw" 2>"$tmp/stderr" </dev/null
status=$?
end=$(date +%s)
tr -d '\r' <"$tmp/serial.raw" >"$tmp/serial"
wait "$expect_pid" || { echo "FAIL: tests/linux-workload.py failed"; exit 1; }
read -r want_hash want_bytes <"$tmp/expect"

fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

if [ "$status" -ne 0 ]; then
	why=$(grep -m 1 '^guesthouse: .*not available' "$tmp/stderr")
	[ -n "$why" ] && skip "$why"
	[ "$status" -eq 124 ] && bad "Linux did not finish within $limit s"
	bad "exit status $status, want 0"
fi
grep -q '^GH-SHELL-READY' "$tmp/serial" ||
	bad "the guest never reached the shell marker GH-SHELL-READY"

# GH-SHA256 <hash> <bytes> <ns>
set -- $(grep -m 1 '^GH-SHA256 ' "$tmp/serial")
if [ $# -ne 4 ]; then
	bad "no GH-SHA256 line from the guest"
elif [ "$2" != "$want_hash" ] || [ "$3" != "$want_bytes" ]; then
	bad "the guest hashed $3 bytes to $2; the host's $want_bytes bytes hash to $want_hash"
else
	echo "sha256 matches the host's: $2 ($3 bytes," \
		"$(($3 / ($4 / 1000 + 1))) MB/s in the guest)"
fi

# GH-CPUS <count in /proc/cpuinfo> <online list>
want_online=0
[ "$cpus" -gt 1 ] && want_online=0-$((cpus - 1))
set -- $(grep -m 1 '^GH-CPUS ' "$tmp/serial")
if [ $# -ne 3 ]; then
	bad "no GH-CPUS line from the guest"
elif [ "$2" != "$cpus" ] || [ "$3" != "$want_online" ]; then
	bad "the guest has $2 CPUs, online $3; want $cpus, online $want_online"
else
	echo "online CPUs: $2 ($3)"
fi

# The console carries the kernel log up to KERN_INFO; the guest adds its
# dmesg's warnings and worse between GH-KLOG-BEGIN and GH-KLOG-END, which
# is printed here for the record.
sed -n '/^GH-KLOG-BEGIN/,/^GH-KLOG-END/p' "$tmp/serial"
if grep -E "$errors" "$tmp/serial" >"$tmp/errors"; then
	bad "the kernel log has errors:"
	cat "$tmp/errors"
fi
if grep -E "$ours" "$tmp/serial" >"$tmp/ours"; then
	if [ "$accel" = tcg ]; then
		echo "note: QEMU's own warnings (not failed on):"
		cat "$tmp/ours"
	else
		bad "the kernel log has warnings about our devices or CPU:"
		cat "$tmp/ours"
	fi
fi

# poweroff -f ends in "reboot: Power down" when ACPI S5 works; a reboot or a
# halt instead (no ACPI) would also end the run, so the line is required.
grep -q '^GH-POWEROFF' "$tmp/serial" || bad "/init never got to poweroff"
grep -q 'reboot: Power down' "$tmp/serial" ||
	bad "the kernel did not power off (no 'reboot: Power down')"

if [ -n "$screen" ]; then
	# the kernel's log to its end (/init's markers go to ttyS0, the
	# console named last)
	grep . "$screen" | tail -n 1 | grep -q 'reboot: Power down' ||
		bad "the VGA screen does not end with the kernel's last line"
	echo "---- VGA screen (last 5 lines) ----"
	grep . "$screen" | tail -n 5
fi
if [ -n "$shot" ]; then
	grep 'vesafb: mode is' "$tmp/serial" ||
		bad "the kernel found no VESA mode (vga=$GH_LINUX_VGA)"
	python3 "$here/vga-check.py" --drawn "${GH_LINUX_VGA_SIZE:-1024x768}" \
		"$shot" || bad "the screendump is not a drawn VESA screen"
fi

if [ "$fail" -ne 0 ]; then
	echo "---- serial output (last 60 lines) ----"
	tail -n 60 "$tmp/serial"
	echo "---- stderr ----"
	cat "$tmp/stderr"
	exit 1
fi
echo "PASS: Linux with $cpus CPU(s) under $accel ran the workload and powered off in $((end - start)) s"
exit 0
