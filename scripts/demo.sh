#!/bin/sh
# The README's first command: installs what is missing, builds an optimized
# guesthouse, builds the Linux demo guest if it is missing, and boots it with
# its busybox shell on the serial console in this terminal. In the guest,
# `poweroff` powers the VM off (the VMM exits 0); Ctrl-A x quits the VMM.
#
# The build is build-rel (meson's release buildtype, the one scripts/test.sh
# builds for the Linux tests): where --accel auto picks the software CPU, a
# debug or sanitized build of it takes minutes longer to boot Linux.
# The guest is scripts/build-linux-guest.sh's (Debian's stock kernel and a
# busybox initramfs, from Debian's package archive) in fixtures/linux; it is
# rerun every time because it does nothing when the fixture is up to date.
#
# Arguments go to `guesthouse run` after the demo's own, so they can add to
# or override them: scripts/demo.sh --cpus 2 --accel soft
# GH_LINUX_VMM, if set, is a guesthouse to run instead (nothing is installed
# or built then: tests/demo-shell.sh uses it); GH_LINUX_FIXTURE, the guest's
# directory.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
vmm=${GH_LINUX_VMM:-}
fixture=${GH_LINUX_FIXTURE:-fixtures/linux}
if [ -z "$vmm" ]; then
	scripts/install-deps.sh
	[ -f build-rel/build.ninja ] ||
		meson setup build-rel -Dbuildtype=release >/dev/null
	ninja -C build-rel cli/guesthouse >/dev/null
	vmm=build-rel/cli/guesthouse
fi
scripts/build-linux-guest.sh "$fixture" >/dev/null
exec "$vmm" run --kernel "$fixture/vmlinuz" \
	--initrd "$fixture/initramfs.cpio.gz" --append "console=ttyS0" \
	--memory 256M --accel auto "$@"
