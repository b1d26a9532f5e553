#!/bin/sh
# Debian's SeaBIOS runs its POST under the software CPU, with its debug log
# on the debug console, and gets exactly as far as under KVM: with no PCI
# host bridge yet (the firmware issue adds it) it cannot unlock its shadow
# RAM and stops there. Usage: seabios.sh GUESTHOUSE
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
	"$gh" run --firmware seabios --accel "$1" --serial none --no-reboot \
		--debugcon "file:$tmp/$1.log" --timeout 60 </dev/null \
		>"$tmp/$1.out" 2>&1
}

n=0
fails=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fails=$((fails + 1))
	fi
}

echo "1..6"
run soft
grep -q '^SeaBIOS (version 1\.' "$tmp/soft.log"
ok $? "soft: SeaBIOS prints its banner on the debug console"
grep -q '^BUILD: gcc' "$tmp/soft.log"
ok $? "soft: SeaBIOS prints its build line"
grep -q '^Unable to unlock ram - bridge not found' "$tmp/soft.log"
ok $? "soft: SeaBIOS reaches its shadow-RAM set-up (no PCI bridge yet)"
grep -q 'triple-faulted' "$tmp/soft.out"
ok $? "soft: with --no-reboot the VM stops when the BIOS crashes"

if "$gh" info 2>/dev/null | grep -q '^kvm: available'; then
	run kvm
	grep -q '^Unable to unlock ram' "$tmp/kvm.log"
	ok $? "kvm: SeaBIOS reaches the same point"
	cmp -s "$tmp/kvm.log" "$tmp/soft.log"
	same=$?
	ok $same "soft and kvm print the same debug log"
	[ $same -eq 0 ] || diff "$tmp/kvm.log" "$tmp/soft.log" | sed 's/^/# /'
else
	echo "ok 5 # SKIP kvm not available"
	echo "ok 6 # SKIP kvm not available"
fi
[ $fails -eq 0 ]
