#!/bin/sh
# The README's second command and what CI runs: installs what is missing,
# builds with AddressSanitizer + UBSan, runs the whole test suite, and ends
# with the line "N passed, N failed, N skipped".
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/install-deps.sh
builddir=build-san
if [ ! -f "$builddir/build.ninja" ]; then
	meson setup "$builddir" -Db_sanitize=address,undefined \
		-Db_lundef=false -Dbuildtype=debugoptimized >/dev/null
fi
ninja -C "$builddir"

# Real software is the final judge: the loader test loads Debian's kernel and
# the Linux boot test boots it where a backend can. Built from Debian
# packages into fixtures/ (not in git); without the archive those cases skip.
scripts/build-linux-guest.sh fixtures/linux ||
	echo "test.sh: could not build the Linux fixture; its tests will skip" >&2

# tests/vnc-browser.sh drives noVNC in Chromium with npm packages: fetched
# from the npm registry as tests/browser/package-lock.json pins them, once
# (again when the lock file changes). Without npm or the registry that test
# skips.
browser=tests/browser
if [ ! "$browser/node_modules/.package-lock.json" -nt "$browser/package-lock.json" ]; then
	if command -v npm >/dev/null; then
		(cd "$browser" && npm ci --no-audit --no-fund --loglevel=error \
			--fetch-retries=1 --fetch-timeout=60000) ||
			echo "test.sh: npm ci failed in $browser; vnc-browser will skip" >&2
	else
		echo "test.sh: no npm; vnc-browser will skip" >&2
	fi
fi

# The Linux boot tests run an optimized guesthouse: under ASan the software
# CPU is too slow to boot Linux (see tests/linux-boot.sh).
if [ ! -f build-rel/build.ninja ]; then
	meson setup build-rel -Dbuildtype=release >/dev/null
fi
ninja -C build-rel cli/guesthouse
GH_LINUX_VMM=$top/build-rel/cli/guesthouse
export GH_LINUX_VMM

log="$builddir/meson-logs/testlog.json"
rm -f "$log"
set +e
meson test -C "$builddir" --print-errorlogs --num-processes 2 "$@"
rc=$?
set -e

# Count test programs by their outcome in meson's JSON log.
python3 - "$log" <<'PY'
import json, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
try:
    with open(sys.argv[1]) as f:
        for line in f:
            r = json.loads(line)["result"]
            if r in ("OK", "EXPECTEDFAIL"):
                counts["passed"] += 1
            elif r == "SKIP":
                counts["skipped"] += 1
            else:
                counts["failed"] += 1
except FileNotFoundError:
    counts["failed"] += 1
print("%(passed)d passed, %(failed)d failed, %(skipped)d skipped" % counts)
sys.exit(1 if counts["failed"] else 0)
PY
exit $rc
