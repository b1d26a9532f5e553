#!/bin/sh
# What `guesthouse` tells a person: --help and run --help name every option,
# --accel auto reports the backend it chose and why (the KVM speed it
# measured), a backend that cannot run here is refused with its reason, and
# the documented sizes and CPU counts are accepted. Usage: cli-info.sh GUESTHOUSE
set -u
gh=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fails=0

ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		sed 's/^/# /' "$tmp/err" 2>/dev/null
		fails=$((fails + 1))
	fi
}
skip() {
	n=$((n + 1))
	echo "ok $n # SKIP $1"
}

# mov al,0x2a; out 0xf4,al; hlt: exits with status 85
python3 - "$tmp/exit42" <<'PY'
import struct, sys
flags = 0x10000
hdr = struct.pack("<III", 0x1BADB002, flags, (-(0x1BADB002 + flags)) & 0xffffffff)
hdr += struct.pack("<IIIII", 0x100000, 0x100000, 0, 0, 0x100020)
open(sys.argv[1], "wb").write(hdr + bytes(32 - len(hdr)) + bytes.fromhex("b02ae6f4f4"))
PY
info=$("$gh" info 2>/dev/null)
run() {
	"$gh" run --kernel "$tmp/exit42" --serial none --timeout 20 "$@" \
		</dev/null >"$tmp/out" 2>"$tmp/err"
}

echo "1..9"
"$gh" --help >"$tmp/out" 2>"$tmp/err"
rc=$?
missing=
for word in run info version; do
	grep -q "^  $word " "$tmp/out" || missing="$missing $word"
done
[ $rc -eq 0 ] && [ -z "$missing" ]
ok $? "guesthouse --help exits 0 and lists the commands${missing:+ (missing:$missing)}"

"$gh" run --help >"$tmp/out" 2>"$tmp/err"
rc=$?
missing=
for opt in kernel firmware efi-vars disk cdrom boot boot-menu vga screendump screen-text initrd append \
	memory cpus accel serial debugcon timeout \
	no-reboot help; do
	grep -q -- "--$opt" "$tmp/out" || missing="$missing --$opt"
done
for word in "Ctrl-A x" "124" "file:PATH" "pty"; do
	grep -qF -- "$word" "$tmp/out" || missing="$missing '$word'"
done
[ $rc -eq 0 ] && [ -z "$missing" ]
ok $? "guesthouse run --help exits 0 and describes every option${missing:+ (missing:$missing)}"

# auto: the one line naming the backend; with a slow KVM, the speed measured
run --accel auto
rc=$?
case $(printf '%s\n' "$info" | grep -m 1 '^kvm:') in
"kvm: available, slow"*)
	[ $rc -eq 85 ] && grep -Eq '^guesthouse: accelerator: soft \(kvm .* [0-9.]+ MIPS' "$tmp/err"
	ok $? "--accel auto reports the slow KVM's measured speed and falls back to soft"
	;;
*)
	[ $rc -eq 85 ] && grep -q '^guesthouse: accelerator: [a-z]' "$tmp/err"
	ok $? "--accel auto names the backend it chose"
	;;
esac

# a backend "guesthouse info" calls unavailable is refused with that reason
for accel in kvm vmx soft; do
	line=$(printf '%s\n' "$info" | grep -m 1 "^$accel:")
	case $line in
	"$accel: available"*)
		skip "$accel is available here: nothing to refuse"
		;;
	"")
		n=$((n + 1))
		echo "not ok $n - guesthouse info does not list $accel"
		fails=$((fails + 1))
		;;
	*)
		run --accel "$accel"
		rc=$?
		[ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
			grep -q "$accel.*not available: ." "$tmp/err"
		ok $? "--accel $accel is refused with its reason: $line"
		;;
	esac
done

# the sizes and counts --help documents
run --accel soft --memory 512M
ok $(($? != 85)) "--memory 512M is accepted"
run --accel soft --memory 2G
ok $(($? != 85)) "--memory 2G is accepted"
run --accel soft --cpus 2
ok $(($? != 85)) "--cpus 2 is accepted"
[ $fails -eq 0 ]
