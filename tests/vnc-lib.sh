# Shell helpers of the VNC tests (tests/vnc.sh, tests/vnc-browser.sh),
# sourced after tap.sh; they set $here, $vmm and $tmp's prefix first.

skip() {	# skip WHY: a TAP test that did not run
	n=$((n + 1))
	echo "ok $n # SKIP $1"
}
note() {	# note FILE...: the files as TAP comments
	sed 's/^/# /' "$@" 2>/dev/null
}

# vnc_require VMM ELF: the script ends in a TAP skip unless VMM has a VNC
# server (its option and libvncserver at build time); ELF: any test guest
vnc_require() {
	if ! "$1" run --help 2>&1 | grep -q -e '--vnc'; then
		echo "1..0 # SKIP $1 has no --vnc option"
		exit 0
	fi
	vr_why=$("$1" run --kernel "$2" --vnc 127.0.0.1:auto --serial none \
		--timeout 1 </dev/null 2>&1 | grep -m 1 'built without VNC')
	if [ -n "$vr_why" ]; then
		echo "1..0 # SKIP $vr_why"
		exit 0
	fi
}

# vnc_tmp NAME: $tmp, a new directory that goes at exit with the processes
# whose pids are in $pids
vnc_tmp() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || exit 1
	pids=
	trap vnc_cleanup EXIT
	trap 'exit 1' INT TERM
	# a client that gave up early must not take the script with it
	trap '' PIPE
}
vnc_cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds (every 0.1 s)
wait_for() {
	w_end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -ge "$w_end" ] && return 1
		sleep 0.1
	done
}
vnc_logged() {	# vnc_logged LOG: the VM ($vm) said where its server is, or died
	grep -q 'VNC server on .*(display :' "$1" 2>/dev/null || ! kill -0 "$vm" 2>/dev/null
}
in_file() {	# in_file REGEX FILE
	tr -d '\r' <"$2" 2>/dev/null | grep -aq -e "$1"
}
stop_vm() {	# the VM $vm, by SIGTERM
	kill -TERM "$vm" 2>/dev/null
	wait "$vm" 2>/dev/null
}
