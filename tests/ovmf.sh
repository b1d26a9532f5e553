#!/bin/sh
# Debian's OVMF (UEFI) under the software CPU: it finds its variable store
# in our flash chip (a per-VM file made from OVMF's own defaults), writes
# its boot variables there, and its boot manager starts the UEFI shell,
# which shows its prompt on the serial console; the same file boots again,
# and a second VM cannot take it while the first runs. Usage:
# ovmf.sh GUESTHOUSE
set -u
gh=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ovmf=/usr/share/ovmf/OVMF.fd
limit=150

if [ ! -r "$ovmf" ]; then
	echo "1..0 # SKIP $ovmf missing (Debian package ovmf)"
	exit 0
fi
if grep -q __asan_init "$gh" 2>/dev/null && [ -n "${GH_LINUX_VMM:-}" ]; then
	# OVMF runs some 10^9 instructions: an optimized build does it in
	# seconds, the sanitized one in minutes
	gh=$GH_LINUX_VMM
fi

. "$(dirname "$0")/tap.sh"

# boot NAME: runs OVMF until its shell prompt (then stops it), or the limit
boot() {
	"$gh" run --firmware ovmf --efi-vars "$tmp/vars.fd" --accel soft \
		--serial "file:$tmp/$1.serial" --timeout "$limit" </dev/null \
		>"$tmp/$1.out" 2>&1 &
	pid=$!
	start=$(date +%s)
	while kill -0 "$pid" 2>/dev/null; do
		if grep -q 'Shell> ' "$tmp/$1.serial" 2>/dev/null; then
			echo "# $1: the shell prompt after $(($(date +%s) - start)) s"
			kill -TERM "$pid"
			break
		fi
		# the second VM on the same store, while this one runs
		if [ "$1" = first ] && [ ! -e "$tmp/second.out" ] &&
		   [ -s "$tmp/vars.fd" ]; then
			"$gh" run --firmware ovmf --efi-vars "$tmp/vars.fd" \
				--accel soft --serial none --timeout 5 \
				</dev/null >"$tmp/second.out" 2>&1
			echo $? >"$tmp/second.rc"
		fi
		sleep 0.5
	done
	wait "$pid"
}

echo "1..6"
boot first
grep -q 'Shell> ' "$tmp/first.serial"
ok $? "OVMF reaches the UEFI shell prompt"
grep -q 'BdsDxe: starting Boot0001 "EFI Internal Shell"' "$tmp/first.serial"
ok $? "OVMF's boot manager starts the shell from its boot options"
[ "$(stat -c %s "$tmp/vars.fd" 2>/dev/null)" = 131072 ] &&
	! head -c 131072 "$ovmf" | cmp -s - "$tmp/vars.fd"
ok $? "the variable store file holds what OVMF wrote to the flash"
[ "$(cat "$tmp/second.rc" 2>/dev/null)" = 1 ] &&
	grep -q 'in use by another VM' "$tmp/second.out"
ok $? "a second VM cannot use the store while the first runs"
cp "$tmp/vars.fd" "$tmp/vars.before"
boot again
grep -q 'Shell> ' "$tmp/again.serial"
ok $? "OVMF boots again from the store it wrote"
! grep -qi 'warning\|error' "$tmp/first.out" "$tmp/again.out"
ok $? "the VMM reports no errors"

if [ $fails -ne 0 ]; then
	for f in first again; do
		echo "# ---- $f: serial (tail) ----"
		tr -d '\r' <"$tmp/$f.serial" | sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g' |
			tail -n 20 | sed 's/^/# /'
		sed 's/^/# /' "$tmp/$f.out"
	done
	exit 1
fi
exit 0
