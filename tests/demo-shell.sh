#!/bin/sh
# The README's first command as a person uses it: scripts/demo.sh runs in a
# terminal (tmux), boots the Linux demo guest to its shell, and is typed at:
# `uname -r; echo $((6*7))` must print the fixture kernel's release and 42,
# and `poweroff` must power the VM off through ACPI with the VMM exiting 0.
# The screen must also carry the VMM's word on the accelerator --accel auto
# picked, with its reason.
#
# usage: tests/demo-shell.sh VMM
# GH_LINUX_VMM, if set, is the guesthouse run instead of VMM (an optimized
# build: see tests/linux-boot.sh); a VMM built with ASan skips, as the
# software CPU under it takes many minutes to boot Linux. Skips (77) without
# tmux or the Linux fixture (GH_LINUX_FIXTURE, default fixtures/linux).
set -u

[ $# -eq 1 ] || {
	echo "usage: $0 VMM" >&2
	exit 2
}
vmm=${GH_LINUX_VMM:-$1}
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
fixture=${GH_LINUX_FIXTURE:-$top/fixtures/linux}
# Seconds to the shell prompt: 31-49 s here under soft with other work on
# the two cores, and three times that under heavier load with older builds.
limit=420

skip() {
	echo "SKIP: $*"
	exit 77
}

command -v tmux >/dev/null 2>&1 ||
	skip "tmux is not installed (Debian package tmux)"
[ -x "$vmm" ] || skip "no guesthouse at $vmm"
# demo.sh runs from the source tree: meson passes a path relative to the
# build directory
case $vmm in
/*) ;;
*) vmm=$(pwd)/$vmm ;;
esac
if grep -q __asan_init "$vmm" 2>/dev/null; then
	skip "$vmm is built with ASan, too slow to boot Linux" \
		"(set GH_LINUX_VMM to an optimized build, as scripts/test.sh does)"
fi
# As linux-boot.sh does: a fixture made by an older script has an older /init.
if ! "$top/scripts/build-linux-guest.sh" "$fixture" >/dev/null; then
	[ -f "$fixture/vmlinuz" ] && [ -f "$fixture/initramfs.cpio.gz" ] ||
		skip "no Linux fixture in $fixture and it cannot be built here"
	echo "FAIL: could not bring the Linux fixture up to date"
	exit 1
fi

# The release the guest's uname -r must print: the first word of the
# bzImage's version string, at 0x200 + the setup header's kernel_version
# field (offset 0x20e; Linux boot protocol, Documentation/x86/boot.rst).
ptr=$(od -An -tu2 -j 526 -N 2 "$fixture/vmlinuz" | tr -d ' ')
release=$(dd if="$fixture/vmlinuz" bs=1 skip=$((512 + ptr)) count=64 \
	2>/dev/null | tr '\0' '\n' | head -n 1 | cut -d ' ' -f 1)
[ -n "$release" ] || {
	echo "FAIL: no kernel version string in $fixture/vmlinuz"
	exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gh-demo.XXXXXX") || exit 1
# A tmux server of this test's own, on its own socket, without config.
t() {
	tmux -S "$tmp/tmux" -f /dev/null "$@"
}
cleanup() {
	t kill-server 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The status lands in a file; the pane stays to be read. --timeout bounds the
# VMM should everything below fail to end it.
cat >"$tmp/run" <<EOF
GH_LINUX_VMM='$vmm' GH_LINUX_FIXTURE='$fixture' '$top/scripts/demo.sh' \
	--timeout $((limit + 120))
echo \$? >'$tmp/status'
EOF
start=$(date +%s)
t new-session -d -s demo -x 100 -y 40 "sh '$tmp/run'" || {
	echo "FAIL: tmux could not start"
	exit 1
}
t set-option -t demo remain-on-exit on >/dev/null

# The screen and its scrollback, wrapped lines joined, trailing blanks cut.
screen() {
	t capture-pane -p -J -S -1000 -t demo 2>/dev/null | sed 's/ *$//'
}
# wait_for SECONDS EREGEX: polls the screen until a line matches.
wait_for() {
	i=0
	while [ "$i" -lt "$1" ]; do
		screen | grep -Eq "$2" && return 0
		[ -f "$tmp/status" ] && return 1
		sleep 1
		i=$((i + 1))
	done
	return 1
}
fail() {
	echo "FAIL: $*"
	echo "---- screen (last 40 lines) ----"
	screen | tail -n 40
	[ -f "$tmp/status" ] && echo "---- VMM exit status: $(cat "$tmp/status")"
	exit 1
}

# The prompt is "guesthouse:/# " (PS1 '\h:\w\$ ' with the guest's hostname).
wait_for "$limit" '^guesthouse:/#$' ||
	fail "no shell prompt within $limit s"
booted=$(($(date +%s) - start))
echo "shell prompt after $booted s"
screen | grep -E '^guesthouse: accelerator: [a-z]+ \(.+\)$' ||
	fail "the VMM did not say which accelerator --accel auto picked and why"

t send-keys -t demo -l 'uname -r; echo $((6*7))'
t send-keys -t demo Enter
wait_for 60 '^42$' || fail "no 42 from 'echo \$((6*7))'"
screen | grep -qx "$release" ||
	fail "uname -r did not print the fixture's release $release"
echo "uname -r: $release; echo \$((6*7)): 42"

t send-keys -t demo -l 'poweroff'
t send-keys -t demo Enter
i=0
while [ ! -f "$tmp/status" ] && [ "$i" -lt 120 ]; do
	sleep 1
	i=$((i + 1))
done
[ -f "$tmp/status" ] || fail "the VMM still runs 120 s after poweroff"
status=$(cat "$tmp/status")
[ "$status" -eq 0 ] || fail "the VMM exited $status after poweroff, want 0"
screen | grep -q 'reboot: Power down' ||
	fail "the kernel did not power off (no 'reboot: Power down')"
echo "PASS: the demo booted to its shell in $booted s, answered, and" \
	"powered off with exit status 0 in $(($(date +%s) - start)) s"
exit 0
