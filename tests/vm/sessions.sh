#!/bin/bash
# Sessions through bangerd and the tree, in a real tiny guest whose agent
# runs the commands (protocol 5): output streams while a command runs and
# is complete after bangerd is SIGKILLed and restarted (with what was
# written while it was down); exit codes 0 and 7, a command killed by a
# signal; stdin and its EOF; a tty session running sh interactively through
# a pty; two sessions at once; bad input refused with nothing changed;
# banger exec, with 5 MiB of piped stdin arriving whole (flow control), also
# to a slow reader; a VM that stops makes its running session lost.
. "$(dirname "$0")/../lib.sh"
banger_setup real

V=$MNT/vms/sx
S=$V/sessions
# run_in NAME CMD: a session that runs CMD, waited for; prints its exit
run_in() {
	mkdir "$S/$1" && printf '%s\n' "$2" >"$S/$1/cmd" && timeout 300 cat "$S/$1/exit"
}
check "mkdir sx" mkdir "$V"
expect_errno "start sx" OK write "$V/state" start
check "the guest's agent speaks protocol 6" grep -q "hello proto=6 " "$V/logs"

# output streams while it runs
check "mkdir sessions/stream" mkdir "$S/stream"
echo 'echo first; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo second; echo oops >&2; exit 7' >"$S/stream/cmd"
check "the first line is in stdout while it runs" wait_for 120 grep -qx first "$S/stream/stdout"
expect_eq "status: running" running "$(cat "$S/stream/status")"
check "pid is the guest's" grep -qE '^[0-9]+$' "$S/stream/pid"
expect_errno "cmd written twice: EBUSY" EBUSY write "$S/stream/cmd" "echo again"
expect_errno "rmdir while it runs: EBUSY" EBUSY rmdir "$S/stream"
expect_eq "another session runs meanwhile (two at once)" "exited 0" "$(run_in go 'touch /tmp/go')"
expect_eq "exit: exited 7" "exited 7" "$(timeout 300 cat "$S/stream/exit")"
expect_eq "stdout is complete" "first
second" "$(cat "$S/stream/stdout")"
expect_eq "stderr is complete" oops "$(cat "$S/stream/stderr")"

# exit codes, a signal
expect_eq "exit 0" "exited 0" "$(run_in zero true)"
check "mkdir sessions/sleeper" mkdir "$S/sleeper"
echo 'exec sleep 600' >"$S/sleeper/cmd"
check "it runs" wait_for 120 grep -qx running "$S/sleeper/status"
expect_errno "an unknown signal: EINVAL" EINVAL write "$S/sleeper/signal" BOGUS
expect_eq "... nothing changed" running "$(cat "$S/sleeper/status")"
check "signal TERM" sh -c "echo TERM > '$S/sleeper/signal'"
expect_eq "killed SIGTERM" "killed SIGTERM" "$(timeout 300 cat "$S/sleeper/exit")"

# stdin and EOF
check "mkdir sessions/in" mkdir "$S/in"
echo 'tr a-z A-Z; echo done' >"$S/in/cmd"
check "write stdin, then close it" sh -c "printf 'hello\nworld\n' > '$S/in/stdin'"
expect_eq "the command read it to EOF" "exited 0" "$(timeout 300 cat "$S/in/exit")"
expect_eq "... and wrote it" "HELLO
WORLD
done" "$(cat "$S/in/stdout")"

# a tty session: sh interactively through a pty
check "mkdir sessions/tty" mkdir "$S/tty"
check "mode tty, winsize 30 100" sh -c "echo tty > '$S/tty/mode' && echo '30 100' > '$S/tty/winsize'"
echo 'sh -i' >"$S/tty/cmd"
exec 7>"$S/tty/stdin"
printf 'tty; stty size; echo "sum=$((40+2))"\n' >&7
check "sh ran the line" wait_for 120 grep -q "sum=42" "$S/tty/stdout"
check "... on a pty" grep -q "/dev/pts/" "$S/tty/stdout"
check "... of 30 rows, 100 columns" grep -q "30 100" "$S/tty/stdout"
printf 'exit 3\n' >&7
exec 7>&-
expect_eq "the tty session exits 3" "exited 3" "$(timeout 300 cat "$S/tty/exit")"

# bad input
check "mkdir sessions/bad" mkdir "$S/bad"
expect_errno "an empty cmd: EINVAL" EINVAL write "$S/bad/cmd" "\n"
expect_errno "an oversized cmd: E2BIG" E2BIG write "$S/bad/cmd" "$(head -c 3000 /dev/zero | tr '\0' x)"
expect_eq "... the session is still new" new "$(cat "$S/bad/status")"
check "... and its error says why" grep -q "at most 1536" "$S/bad/error"

# bangerd SIGKILLed while a command writes; it writes on meanwhile
check "mkdir sessions/long" mkdir "$S/long"
echo 'seq 1 1000; while [ ! -e /tmp/go2 ]; do sleep 0.1; done; seq 1001 30000; echo end >&2' >"$S/long/cmd"
check "it writes" wait_for 120 grep -qx 1000 "$S/long/stdout"
ip=$(cat "$V/ip")
kill_daemon
is_mounted || umount -l "$MNT" 2>/dev/null || fusermount3 -u -z "$MNT" 2>/dev/null
check "the guest goes on (ssh, not bangerd)" pinned_ssh "$ip" touch /tmp/go2
start_daemon || exit 1
expect_eq "after the restart: exited 0" "exited 0" "$(timeout 300 cat "$S/long/exit")"
expect_eq "stdout holds every line, also those written while bangerd was down" "$(seq 1 30000)" "$(cat "$S/long/stdout")"
expect_eq "stderr too" end "$(cat "$S/long/stderr")"
expect_eq "older sessions kept their output" "first
second" "$(cat "$S/stream/stdout")"

# banger exec
B() { BANGER_MOUNT=$MNT BANGER_HOME=$T/home "$REPO/tools/banger" "$@"; }
B exec sx -- sh -c 'echo out; echo err >&2; exit 5' >"$T/x.out" 2>"$T/x.err" </dev/null
expect_eq "banger exec exits with the command's status" 5 $?
expect_eq "... stdout" out "$(cat "$T/x.out")"
expect_eq "... stderr" err "$(cat "$T/x.err")"
expect_eq "banger exec passes stdin" "A" "$(echo a | B exec sx -- tr a-z A-Z)"
head -c 5242880 /dev/urandom >"$T/5m"
sum=$(sha256sum <"$T/5m" | cut -d' ' -f1)
expect_eq "5 MiB piped into banger exec: every byte arrives (sha256)" "$sum" "$(cat "$T/5m" | B exec sx -- sha256sum | cut -d' ' -f1)"
expect_eq "... and wc -c counts 5242880" 5242880 "$(cat "$T/5m" | B exec sx -- wc -c | tr -d ' ')"
head -c 1048576 "$T/5m" >"$T/1m"
expect_eq "a reader that starts late still gets all of 1 MiB" 1048576 "$(cat "$T/1m" | B exec sx -- sh -c 'sleep 2; wc -c' | tr -d ' ')"

# the VM stops: a running command is lost
check "mkdir sessions/orphan" mkdir "$S/orphan"
echo 'exec sleep 600' >"$S/orphan/cmd"
check "it runs" wait_for 120 grep -qx running "$S/orphan/status"
expect_errno "stop sx" OK write "$V/state" kill
check "the session is lost" wait_for 60 grep -q "^lost: the VM stopped" "$S/orphan/status"
check "rmdir of the lost session" rmdir "$S/orphan"
finish
