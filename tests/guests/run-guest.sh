#!/bin/sh
# Runs one test guest under one backend and judges it by its exit status, the
# PASS lines it must print on COM1 and the absence of any FAIL line.
#
# usage: run-guest.sh VMM GUEST.elf ACCEL NAME
#   VMM    the guesthouse executable, or a qemu-system-x86_64 to check a
#          guest against QEMU (ACCEL is then ignored: TCG)
#   NAME   guest16 | guest32 | guest64 | info, or a guest with a NAME.expect
#          file next to this script: an "exit: 0xNN" line (the debug-exit
#          value of success; "exit: poweroff" for a guest that powers the
#          machine off, exit status 0), then the lines it must print; "PASS|SKIP: x"
#          accepts "PASS: x" or "SKIP: x (why)" (a CPUID feature that is
#          absent); "PASS|QEMU: x" accepts "XFAIL: x (...)" under QEMU only,
#          where its TCG is known to differ from the SDM (see check_sdm()).
#          An optional "cpus: N" line runs the guest with N CPUs.
# Exit: 0 pass, 1 fail, 77 skipped (the reason is printed).
set -u

[ $# -eq 4 ] || { echo "usage: $0 VMM GUEST.elf ACCEL NAME" >&2; exit 2; }
vmm=$1 elf=$2 accel=$3 name=$4
limit=30	# seconds the guest gets; meson's timeout is above this

skip() {
	echo "SKIP: $*"
	exit 77
}

[ -r "$elf" ] || { echo "FAIL: no guest image $elf"; exit 1; }

case $(basename "$vmm") in
qemu-system-*) mode=qemu ;;
*) mode=guesthouse ;;
esac

if [ "$mode" = guesthouse ] && [ "$accel" = kvm ]; then
	[ -e /dev/kvm ] || skip "kvm: /dev/kvm does not exist (no KVM on this machine)"
	{ [ -r /dev/kvm ] && [ -w /dev/kvm ]; } ||
		skip "kvm: no read/write permission on /dev/kvm (join group kvm)"
fi

# The nested KVM of our CI machines ("guesthouse info": "kvm: available,
# slow: ...") emulates guest supervisor code with KVM's instruction emulator:
# it cannot do INT n or IRET in 32-bit protected mode and refuses paging
# outside long mode. guest32 then avoids those (gh.kvm-quirks=1) and reports
# them as SKIP lines instead.
quirks=no
if [ "$mode" = guesthouse ] && [ "$accel" = kvm ] && [ "$name" = guest32 ]; then
	case $("$vmm" info 2>/dev/null | grep -m 1 '^kvm:') in
	"kvm: available, fast"*) ;;
	"kvm: available"*)
		quirks=yes
		echo "note: slow nested KVM: running guest32 with gh.kvm-quirks=1"
		;;
	esac
fi

# Exit status is (V << 1) | 1 for V written to debug-exit at 0xf4, QEMU's
# isa-debug-exit semantics; the info guest leaves that way only with gh.test=1.
append=
cpus=
case $name in
guest16) want=33 ;;	# 0x10
guest32) want=65	# 0x20
	[ "$quirks" = yes ] && append="gh.kvm-quirks=1" ;;
guest64) want=129 ;;	# 0x40
info) want=97; append="gh.test=1" ;;	# 0x30
*)
	expect_file=$(dirname "$0")/$name.expect
	[ -r "$expect_file" ] || { echo "FAIL: unknown guest $name"; exit 1; }
	code=$(sed -n 's/^exit: //p' "$expect_file")
	cpus=$(sed -n 's/^cpus: //p' "$expect_file")
	# "exit: poweroff": the guest powers the machine off (status 0)
	if [ "$code" = poweroff ]; then
		want=0
	else
		want=$(((code << 1) | 1))
	fi
	[ "$mode" = qemu ] && append="gh.ref=qemu"
	;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gh-guest.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

if [ "$mode" = qemu ]; then
	set -- timeout "$limit" "$vmm" -accel tcg -machine pc -m 64 -display none \
		-monitor none -serial stdio -no-reboot \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$elf"
	[ -n "$append" ] && set -- "$@" -append "$append"
	[ -n "$cpus" ] && set -- "$@" -smp "$cpus"
else
	set -- "$vmm" run --kernel "$elf" --accel "$accel" --memory 64M \
		--serial stdio --timeout "$limit" --no-reboot
	[ -n "$append" ] && set -- "$@" --append "$append"
	[ -n "$cpus" ] && set -- "$@" --cpus "$cpus"
fi
echo "running: $*"
"$@" >"$tmp/serial.raw" 2>"$tmp/stderr" </dev/null
status=$?
tr -d '\r' <"$tmp/serial.raw" >"$tmp/serial"

if [ "$mode" = guesthouse ] && [ "$status" -ne "$want" ]; then
	# "guesthouse: <backend> ... not available ..." is the one-line refusal
	# of a backend that cannot run on this machine.
	why=$(grep -m 1 '^guesthouse: .*not available' "$tmp/stderr")
	[ -n "$why" ] && skip "$why"
fi

fail=0
complain() {
	echo "FAIL: $*"
	fail=1
}

if [ "$status" -ne "$want" ]; then
	case $status in
	124) complain "the guest did not finish within $limit s (exit status 124)" ;;
	*) complain "exit status $status, want $want" ;;
	esac
	if [ $((status & 1)) -eq 1 ] && [ "$status" -gt 1 ]; then
		printf 'FAIL: (status %s is debug-exit 0x%02x)\n' "$status" $((status >> 1))
	fi
fi

expected() {
	case $1 in
	guest16)
		cat <<'END'
real mode: hello from 16-bit code through the UART
PASS: multiboot magic in EAX
PASS: real-mode code fits below 0xf000
PASS: returned to protected mode with the stack intact
PASS: CR0.PE clear in real mode
PASS: 16-bit add wraps to 0
PASS: 16-bit add sets CF and ZF
PASS: 16-bit mul gives DX:AX
PASS: 16-bit div gives quotient and remainder
PASS: 16-bit idiv truncates toward zero
PASS: 32-bit operand prefix in real mode
PASS: real-mode write lands at segment * 16 + offset
PASS: two segment:offset aliases read the same byte
PASS: INT 0x42 ran the handler from the IVT
PASS: INT pushed the return CS:IP
PASS: INT cleared IF and TF
PASS: IRET returned with the handler's result
PASS: IRET restored SP
END
		;;
	guest32)
		cat <<'END'
PASS: multiboot magic in EAX
PASS: SGDT returns our GDT
PASS: #GP with the selector as error code for a selector past the GDT limit
PASS: faulting segment load left ES unchanged
PASS: #DE at the DIV by zero
PASS: #UD at UD2
PASS: #BP from INT3 saves the next EIP
PASS: registers preserved across an exception
PASS: CPUID reports PSE and PAE
PASS: 32-bit paging: paging on (CR0.PG, CR0.WP, CR3)
PASS: 32-bit paging: write through a 4 KiB page reaches its frame
PASS: 32-bit paging: PTE accessed and dirty set
PASS: 32-bit paging: PDE accessed set
PASS: 32-bit paging: read through a read-only page
PASS: 32-bit paging: read sets accessed, not dirty
PASS: 32-bit paging: read through a 4 MiB page
PASS: 32-bit paging: #PF write to a not-present page: CR2, error 0x2
PASS: 32-bit paging: #PF read of a not-present page: CR2, error 0x0
PASS: 32-bit paging: #PF write to a read-only page with CR0.WP: CR2, error 0x3
PASS: 32-bit paging: the faulting write did not happen
PASS: 32-bit paging: INVLPG after remapping a page
PASS: 32-bit paging: paging off again
PASS: PAE paging: paging on (CR0.PG, CR0.WP, CR3)
PASS: PAE paging: write through a 4 KiB page reaches its frame
PASS: PAE paging: PTE accessed and dirty set
PASS: PAE paging: PDE accessed set
PASS: PAE paging: read through a read-only page
PASS: PAE paging: read sets accessed, not dirty
PASS: PAE paging: read through a 2 MiB page
PASS: PAE paging: #PF write to a not-present page: CR2, error 0x2
PASS: PAE paging: #PF read of a not-present page: CR2, error 0x0
PASS: PAE paging: #PF write to a read-only page with CR0.WP: CR2, error 0x3
PASS: PAE paging: the faulting write did not happen
PASS: PAE paging: INVLPG after remapping a page
PASS: PAE paging: paging off again
PASS: PIC IMR reads back
PASS: PIT IRQ0 at vector 0x20 (10 ticks at 1000 Hz)
PASS: PIC ISR bit 0 set while IRQ0 is serviced
PASS: EOI clears PIC ISR bit 0
PASS: RTC periodic interrupt through the slave PIC at vector 0x28
PASS: no other or spurious interrupts
PASS: RTC register D: valid RAM and time (VRT)
PASS: RTC is updating (register B SET clear)
PASS: RTC read stable across the update-in-progress protocol
PASS: RTC date and time are valid BCD in range
END
		;;
	guest64)
		cat <<'END'
PASS: multiboot magic in EAX
PASS: EFER.LME and EFER.LMA set
PASS: CR0.PG, CR0.PE and CR4.PAE set
PASS: running on the 64-bit code segment
PASS: CPUID has extended leaf 0x80000001
PASS: CPUID reports long mode (LM)
PASS: 64x64 MUL gives a 128-bit RDX:RAX
PASS: 128/64 DIV gives quotient and remainder
PASS: DIV of 2^64-1 by 3
PASS: signed 64-bit IMUL
PASS: MOVABS 64-bit immediate
PASS: BSWAP of a 64-bit register
PASS: 64-bit SHL and SAR
PASS: 64-bit ROL
PASS: 32-bit MOV zero-extends into 64 bits
PASS: REX registers R8-R15
PASS: RIP-relative LEA and load find the data
PASS: read through the PML4 slot 256 alias
PASS: write through the alias reaches the same frame
PASS: PUSH/POP move RSP by 8
PASS: #UD in 64-bit mode through a 64-bit IDT
PASS: #DE on DIV overflow
PASS: #GP(0) on a non-canonical address
PASS: #PF with CR2 and error code 0 on an unmapped address
END
		;;
	info)
		cat <<'END'
Guesthouse test guest
PS/2:         controller self-test passed (0x55)
COM1 (0x3f8): present
END
		;;
	*)
		grep -v -e '^exit: ' -e '^cpus: ' -e '^#' "$(dirname "$0")/$1.expect"
		;;
	esac
}

if [ "$quirks" = yes ]; then
	expected "$name" | grep -v -e '^PASS: 32-bit paging: ' -e '^PASS: PAE paging: ' \
		-e '^PASS: #BP from INT3' -e '^PASS: registers preserved across an exception'
	cat <<'END'
SKIP: INT3 checks (gh.kvm-quirks=1)
SKIP: 32-bit paging: this KVM refuses CR0.PG outside long mode (#GP)
SKIP: PAE paging: this KVM refuses CR0.PG outside long mode (#GP)
END
else
	expected "$name"
fi >"$tmp/expected"
while IFS= read -r line; do
	case $line in
	"PASS|QEMU: "*)
		# a check QEMU's TCG is known to get wrong: XFAIL there
		what=${line#PASS|QEMU: }
		if [ "$mode" = qemu ]; then
			grep -qxF -e "PASS: $what" "$tmp/serial" ||
				grep -qF -e "XFAIL: $what (" "$tmp/serial" ||
				complain "missing line: PASS: $what (or XFAIL)"
		else
			grep -qxF -e "PASS: $what" "$tmp/serial" ||
				complain "missing line: PASS: $what"
		fi
		;;
	"PASS|SKIP: "*)
		what=${line#PASS|SKIP: }
		grep -qxF -e "PASS: $what" "$tmp/serial" ||
			grep -qF -e "SKIP: $what (" "$tmp/serial" ||
			complain "missing line: PASS: $what (or SKIP)"
		;;
	*) grep -qxF -- "$line" "$tmp/serial" || complain "missing line: $line" ;;
	esac
done <"$tmp/expected"
if [ "$name" = info ]; then
	for prefix in "CPU vendor:" "Memory map:" "Total RAM:" "RTC:" "PIT:          channel 0 counting"; do
		grep -q "^$prefix" "$tmp/serial" || complain "missing line: $prefix..."
	done
	grep -q '^Command line: ".*gh.test=1' "$tmp/serial" ||
		complain "the command line did not reach the guest"
fi
grep -qE "^$name: ([0-9]+ checks passed, 0 failed: )?SUCCESS\$" "$tmp/serial" ||
	complain "no SUCCESS line from $name"
if grep -q '^FAIL' "$tmp/serial"; then
	complain "the guest reported failures:"
	grep '^FAIL' "$tmp/serial"
fi

if [ "$fail" -ne 0 ]; then
	echo "---- serial output ----"
	cat "$tmp/serial"
	echo "---- stderr ----"
	cat "$tmp/stderr"
	exit 1
fi
grep -e '^SKIP' -e '^XFAIL' "$tmp/serial"
echo "PASS: $name under $([ "$mode" = qemu ] && echo qemu-tcg || echo "$accel"):" \
	"exit status $status, $(grep -c '^PASS' "$tmp/serial") PASS lines"
exit 0
