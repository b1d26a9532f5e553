#!/bin/sh
# The README's first command: installs what is missing, builds, and starts
# the default guest with its console in this terminal (Ctrl-A x quits).
#
# The default guest is the bundled test guest, which prints what it sees of
# the machine: on this project's machines no backend boots a Linux kernel in
# reasonable time yet (KVM here emulates guest kernel code at ~2 MIPS and the
# software CPU is the next piece of work).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
exec build/cli/guesthouse run --kernel build/tests/guests/info.elf \
	--memory 256M "$@"
