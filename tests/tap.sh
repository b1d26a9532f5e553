# TAP output for the shell tests, sourced by them: ok STATUS DESCRIPTION
# prints "ok N - ..." for status 0, "not ok N - ..." otherwise, and counts
# the failures in $fails.
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
