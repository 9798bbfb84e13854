#!/bin/bash
# Sessions (vms/NAME/sessions/S) against tests/fs/fake-qemu, whose agent
# plays protocol 4 (5 for vms/flow: stdin flow control) by running the commands on this host: output streams
# while a command runs and is complete after bangerd is SIGKILLed and
# restarted; exit codes, signals, stdin EOF, a tty session running sh
# through a pty, two sessions at once, a guest that forgot its sessions (a
# reboot), an agent too old, and bad input: each a clear errno and reason,
# nothing changed.
. "$(dirname "$0")/../lib.sh"

export BANGER_BOOT_TIMEOUT=60 BANGER_NETWORK=none
banger_setup fake || exit 1
stop_daemon
mkdir -p "$T/bin" "$T/fake"
ln -s "$REPO/tests/fs/fake-qemu" "$T/bin/qemu-system-x86_64"
export PATH=$T/bin:$PATH FAKE_QEMU_DIR=$T/fake
start_daemon || exit 1
F=$T/fake
V=$MNT/vms/box
S=$V/sessions

printf 'line hello proto=4 agent=0.4.0-fake kernel=fake uptime_ms=1\n' >"$F/box"
printf 'line hello proto=3 agent=0.3.0-fake kernel=fake uptime_ms=1\n' >"$F/old"
check "mkdir vms/box" mkdir "$V"
check "a VM has a sessions directory" test -d "$S"
check "mkdir sessions/a before the VM runs" mkdir "$S/a"
expect_errno "cmd while the VM is stopped: EBUSY" EBUSY write "$S/a/cmd" "echo hi"
check "... with the reason in the session's error" grep -q "is stopped; start it first" "$S/a/error"
expect_eq "... and nothing changed" new "$(cat "$S/a/status")"
check "start vms/box" sh -c "echo start > '$V/state'"

# output streams while the command runs
check "mkdir sessions/stream" mkdir "$S/stream"
echo 'echo first; while [ ! -e go ]; do sleep 0.05; done; echo second; echo oops >&2; exit 7' >"$S/stream/cmd"
check "the first line is in stdout while it runs" wait_for 30 grep -qx first "$S/stream/stdout"
expect_eq "status says running" running "$(cat "$S/stream/status")"
check "pid is a number" grep -qE '^[0-9]+$' "$S/stream/pid"
check "started is a time" grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$S/stream/started"
expect_eq "ended is empty while it runs" "" "$(cat "$S/stream/ended")"
expect_errno "rmdir of a running session: EBUSY" EBUSY rmdir "$S/stream"
expect_errno "writing cmd twice: EBUSY" EBUSY write "$S/stream/cmd" "echo again"
check "... with its reason" grep -q "already ran a command" "$S/stream/error"
expect_eq "... and the command is the first one" 1 "$(grep -c 'echo first' "$S/stream/cmd")"
cat "$S/stream/exit" >"$T/exit.out" &
EXITP=$!
touch "$F/go"
check "a read of exit ends when the command does" wait_for 30 proc_gone $EXITP
expect_eq "exit says exited 7" "exited 7" "$(cat "$T/exit.out")"
expect_eq "stdout is complete" "first
second" "$(cat "$S/stream/stdout")"
expect_eq "stderr is complete" oops "$(cat "$S/stream/stderr")"
expect_eq "stdout's size is its length" 13 "$(stat -c %s "$S/stream/stdout")"
check "ended is a time" grep -qE '^[0-9]{4}-' "$S/stream/ended"

# exit 0, a signal, and bad signals
check "mkdir sessions/zero" mkdir "$S/zero"
echo true >"$S/zero/cmd"
expect_eq "exit 0" "exited 0" "$(timeout 30 cat "$S/zero/exit")"
check "mkdir sessions/sleeper" mkdir "$S/sleeper"
echo 'sleep 600' >"$S/sleeper/cmd"
check "it runs" wait_for 30 grep -qx running "$S/sleeper/status"
expect_errno "an unknown signal: EINVAL" EINVAL write "$S/sleeper/signal" "BOGUS"
check "... with the signals it takes" grep -q "one of HUP INT QUIT KILL TERM" "$S/sleeper/error"
expect_eq "... and it still runs" running "$(cat "$S/sleeper/status")"
check "signal TERM" sh -c "echo TERM > '$S/sleeper/signal'"
expect_eq "exit says killed SIGTERM" "killed SIGTERM" "$(timeout 30 cat "$S/sleeper/exit")"
expect_errno "a signal to an ended command: ESRCH" ESRCH write "$S/sleeper/signal" "KILL"

# stdin, and its EOF at close
check "mkdir sessions/in" mkdir "$S/in"
echo 'tr a-z A-Z; echo done' >"$S/in/cmd"
check "write stdin and close it" sh -c "printf 'hello\nworld\n' > '$S/in/stdin'"
expect_eq "the command saw its input and EOF" "exited 0" "$(timeout 30 cat "$S/in/exit")"
expect_eq "... and wrote it" "HELLO
WORLD
done" "$(cat "$S/in/stdout")"
expect_errno "stdin of an ended command: EPIPE" EPIPE write "$S/in/stdin" "x"

# a tty session running sh interactively
check "mkdir sessions/tty" mkdir "$S/tty"
check "mode tty" sh -c "echo tty > '$S/tty/mode'"
check "winsize 30 100" sh -c "echo '30 100' > '$S/tty/winsize'"
echo 'sh -i' >"$S/tty/cmd"
exec 7>"$S/tty/stdin"
printf 'tty; stty size; echo "sum=$((40+2))"\n' >&7
check "sh ran the line in a pty" wait_for 30 grep -q "sum=42" "$S/tty/stdout"
check "... on a terminal" grep -q "/dev/pts/" "$S/tty/stdout"
check "... of 30 rows and 100 columns" grep -q "^30 100" "$S/tty/stdout"
printf 'exit 3\n' >&7
exec 7>&-
expect_eq "the tty session exits 3" "exited 3" "$(timeout 30 cat "$S/tty/exit")"
expect_errno "mode after cmd: EBUSY" EBUSY write "$S/tty/mode" pipe

# two at once
check "mkdir sessions/one sessions/two" mkdir "$S/one" "$S/two"
echo 'while [ ! -e go2 ]; do sleep 0.05; done; echo one' >"$S/one/cmd"
echo 'while [ ! -e go2 ]; do sleep 0.05; done; echo two' >"$S/two/cmd"
check "both run" wait_for 30 sh -c "grep -qx running '$S/one/status' && grep -qx running '$S/two/status'"
touch "$F/go2"
expect_eq "one's exit" "exited 0" "$(timeout 30 cat "$S/one/exit")"
expect_eq "two's exit" "exited 0" "$(timeout 30 cat "$S/two/exit")"
expect_eq "one's output" one "$(cat "$S/one/stdout")"
expect_eq "two's output" two "$(cat "$S/two/stdout")"

# a stream past 16 MiB keeps its newest 8 MiB or so, after a note
check "mkdir sessions/big" mkdir "$S/big"
echo 'head -c 17000000 /dev/zero | tr "\\0" a; echo; echo end' >"$S/big/cmd"
expect_eq "a 17 MB output: it ends" "exited 0" "$(timeout 120 cat "$S/big/exit")"
check "stdout begins with a note of what was dropped" grep -qE '^\[banger: [0-9]+ bytes dropped\]$' <(head -n 1 "$S/big/stdout")
expect_eq "... and ends with the last line" end "$(tail -n 1 "$S/big/stdout")"
size=$(stat -c %s "$S/big/stdout")
check "... its size is bounded (8 to 16 MiB)" test "$size" -gt $((8 << 20)) -a "$size" -le $((16 << 20))
expect_eq "... and is what cat reads" "$size" "$(cat "$S/big/stdout" | wc -c)"
used=$(du -k "$(ls -d "$T"/home/state/vms/*/sessions/big)/stdout" | cut -f1)
check "... on disk too (${used} KiB)" test "$used" -le $((16 << 10))
check "rmdir it" rmdir "$S/big"

# bad input: nothing changes
check "mkdir sessions/bad" mkdir "$S/bad"
expect_errno "an empty cmd: EINVAL" EINVAL write "$S/bad/cmd" "\n"
expect_errno "an oversized cmd: E2BIG" E2BIG write "$S/bad/cmd" "$(head -c 3000 /dev/zero | tr '\0' x)"
check "... with its reason" grep -q "at most 1536" "$S/bad/error"
expect_errno "a bad mode: EINVAL" EINVAL write "$S/bad/mode" "color"
expect_errno "a bad winsize: EINVAL" EINVAL write "$S/bad/winsize" "0 0"
expect_errno "a relative cwd: EINVAL" EINVAL write "$S/bad/cwd" "tmp"
expect_eq "the session is still new" new "$(cat "$S/bad/status")"
expect_errno "a bad session name: EINVAL" EINVAL mkdir "$S/.hidden"
expect_errno "a session made twice: EEXIST" EEXIST mkdir "$S/bad"
expect_errno "stdout is read-only" EACCES write "$S/bad/stdout" "x"
expect_errno "signal is write-only" EACCES read "$S/bad/signal"
check "rmdir of a finished session" rmdir "$S/zero"
check "... it is gone" test ! -e "$S/zero"
check "rmdir of a new session" rmdir "$S/bad"

# Ctrl-C ends a parked read of exit
check "mkdir sessions/long" mkdir "$S/long"
echo 'while [ ! -e go3 ]; do sleep 0.05; done; seq 1 20000; echo err >&2' >"$S/long/cmd"
python3 -c '
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # ignored in background jobs
f = open(sys.argv[1])
print("reading", flush=True)
try:
    f.read()
    print("read")
except KeyboardInterrupt:  # the read failed with EINTR, then the handler ran
    print("EINTR")
' "$S/long/exit" >"$T/intr.out" 2>&1 &
EXITP=$!
check "the exit read waits in FUSE" wait_for 10 sh -c "grep -q reading '$T/intr.out' && grep -q request_wait_answer /proc/$EXITP/wchan"
kill -INT $EXITP
check "Ctrl-C (SIGINT) ends it" wait_for 10 proc_gone $EXITP
expect_eq "... with EINTR" "reading
EINTR" "$(cat "$T/intr.out")"

# bangerd SIGKILLed while the command runs and writes: after the restart
# the output is complete, and what came meanwhile too
check "it runs" wait_for 30 grep -qx running "$S/long/status"
kill_daemon
touch "$F/go3"
fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT"
start_daemon || exit 1
expect_eq "after the restart, exit says exited 0" "exited 0" "$(timeout 60 cat "$S/long/exit")"
expect_eq "stdout holds every line" "$(seq 1 20000)" "$(cat "$S/long/stdout")"
expect_eq "stderr too" err "$(cat "$S/long/stderr")"
expect_eq "the older sessions are still there" "exited 7" "$(cat "$S/stream/status")"
expect_eq "... with their output" "first
second" "$(cat "$S/stream/stdout")"

# the agent dropped output while bangerd was down (it keeps the newest
# bytes only): a note says how many, once, also across another restart
printf 'line hello proto=4 agent=0.4.0-fake kernel=fake uptime_ms=1\n' >"$F/lossy"
echo 4000 >"$F/lossy.keep"
L=$MNT/vms/lossy/sessions
check "mkdir and start vms/lossy" sh -c "mkdir '$MNT/vms/lossy' && echo start > '$MNT/vms/lossy/state'"
check "mkdir its session" mkdir "$L/s"
echo 'while [ ! -e go4 ]; do sleep 0.05; done; seq 1 5000; touch done4; while [ ! -e go5 ]; do sleep 0.05; done; echo tail' >"$L/s/cmd"
check "it runs" wait_for 30 grep -qx running "$L/s/status"
kill_daemon
touch "$F/go4"
check "it wrote while bangerd was down" wait_for 30 test -e "$F/done4"
fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT"
start_daemon || exit 1
check "after the restart stdout ends with the newest lines" wait_for 30 sh -c "tail -n 1 '$L/s/stdout' | grep -qx 5000"
check "... after a note of what the guest dropped" grep -qE '^\[banger: [0-9]+ bytes dropped\]$' "$L/s/stdout"
dropped=$(sed -n 's/^\[banger: \([0-9]*\) bytes dropped\]$/\1/p' "$L/s/stdout")
expect_eq "... which with what is kept is all of it" "$(seq 1 5000 | wc -c)" "$((dropped + $(sed '1,2d' "$L/s/stdout" | wc -c)))"
kill_daemon
touch "$F/go5"
fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT"
start_daemon || exit 1
expect_eq "a second restart: it ends" "exited 0" "$(timeout 30 cat "$L/s/exit")"
expect_eq "... with one note still" 1 "$(grep -c 'bytes dropped' "$L/s/stdout")"
expect_eq "... and the rest after it" tail "$(tail -n 1 "$L/s/stdout")"
check "kill vms/lossy" sh -c "echo kill > '$MNT/vms/lossy/state'"

# the CLI: banger exec, sessions, attach
B() { BANGER_MOUNT=$MNT BANGER_HOME=$T/home "$REPO/tools/banger" "$@"; }
B exec box -- sh -c 'echo out; echo err >&2; exit 5' >"$T/x.out" 2>"$T/x.err" </dev/null
expect_eq "exec exits with the command's status" 5 $?
expect_eq "... its stdout on stdout" out "$(cat "$T/x.out")"
expect_eq "... its stderr on stderr" err "$(cat "$T/x.err")"
expect_eq "... and its session is gone" "" "$(ls "$S" | grep '^exec-')"
expect_eq "exec forwards stdin, then EOF" "A
B" "$(printf 'a\nb\n' | B exec box -- tr a-z A-Z)"
seq 1 3000 >"$T/seq"
expect_eq "exec prints every line in order" "$(cat "$T/seq")" "$(B exec box -- sh -c 'seq 1 3000' </dev/null)"
B exec box -- kill -TERM 0 </dev/null
expect_eq "a command killed by SIGTERM: 143" 143 $?
B exec box --session kept -- echo kept </dev/null >/dev/null
check "exec --session keeps the session" grep -qx "exited 0" "$S/kept/status"
check "banger sessions lists it" sh -c "B() { BANGER_MOUNT='$MNT' BANGER_HOME='$T/home' '$REPO/tools/banger' \"\$@\"; }; B sessions box | grep -qE '^kept +exited 0'"
expect_eq "attach to an ended session prints its output and status" "kept" "$(B attach box kept </dev/null)"
check "mkdir sessions/att" mkdir "$S/att"
echo 'tr a-z A-Z; exit 4' >"$S/att/cmd"
expect_eq "attach forwards stdin (EOF at its end) and prints the output" "HI" "$(echo hi | B attach box att)"
B attach box att </dev/null >/dev/null
expect_eq "attach to an ended session exits with its status" 4 $?
script -qec "BANGER_MOUNT='$MNT' BANGER_HOME='$T/home' '$REPO/tools/banger' exec box -t -- sh -c 'tty; exit 6'" /dev/null </dev/null >"$T/tty.out" 2>&1
expect_eq "exec -t (on a terminal): its status" 6 $?
check "... the command ran on a pty" grep -q "/dev/pts/" "$T/tty.out"
B exec box -- false </dev/null
expect_eq "exec of false: 1" 1 $?
B exec box --session kept -- true </dev/null 2>"$T/x.err"
expect_eq "exec with a taken session name: 125" 125 $?
B exec nosuch -- true 2>/dev/null
expect_eq "exec in no VM: 125" 125 $?

# the VM stops: a running command is lost
check "mkdir sessions/orphan" mkdir "$S/orphan"
echo 'sleep 600' >"$S/orphan/cmd"
check "it runs" wait_for 30 grep -qx running "$S/orphan/status"
check "kill vms/box" sh -c "echo kill > '$V/state'"
check "the session is lost" wait_for 30 grep -q "^lost: the VM stopped" "$S/orphan/status"
check "... and its exit answers" sh -c "timeout 10 cat '$S/orphan/exit' | grep -q lost"
check "rmdir of a lost session" rmdir "$S/orphan"

# an agent of protocol 3
check "mkdir vms/old" mkdir "$MNT/vms/old"
check "start vms/old" sh -c "echo start > '$MNT/vms/old/state'"
check "mkdir its session" mkdir "$MNT/vms/old/sessions/x"
expect_errno "cmd with a protocol 3 agent: ENOTSUP" ENOTSUP write "$MNT/vms/old/sessions/x/cmd" "true"
check "... with the reason" grep -q "too old for sessions (protocol 3)" "$MNT/vms/old/sessions/x/error"
check "kill vms/old" sh -c "echo kill > '$MNT/vms/old/state'"

# stdin flow control (protocol 5): at most 128 KiB sent and not yet written
# to the command; the rest of a write waits (parked) for the agent's acks
printf 'line hello proto=5 agent=0.5.0-fake kernel=fake uptime_ms=1\n' >"$F/flow"
W=$MNT/vms/flow/sessions
# the stdin bytes the host has sent in sess_in lines for session $1
sent() { awk -v id="sess_in id=$1 data=" 'index($0, id) == 1 { sub(/.*data=/, ""); n += length($0) / 2 } END { print n + 0 }' "$F/flow.in"; }
head -c 3000000 /dev/urandom >"$T/big"
check "mkdir and start vms/flow" sh -c "mkdir '$MNT/vms/flow' && echo start > '$MNT/vms/flow/state'"
check "mkdir sessions/all" mkdir "$W/all"
echo 'cat > got-all' >"$W/all/cmd"
check "it runs" wait_for 30 grep -qx running "$W/all/status"
check "a write much larger than the window completes" sh -c "cat '$T/big' > '$W/all/stdin'"
check "... every byte reaches the command, in order" wait_for 30 cmp -s "$T/big" "$F/got-all"
expect_eq "... the host sent each byte once" 3000000 "$(sent all)"
expect_eq "... and nothing was refused" "" "$(cat "$W/all/error")"
check "... the command ends at EOF" wait_for 30 grep -qx "exited 0" "$W/all/status"

check "mkdir sessions/held" mkdir "$W/held"
echo 'cat > got-held' >"$W/held/cmd"
check "it runs" wait_for 30 grep -qx running "$W/held/status"
touch "$F/flow.noack"
head -c 200000 "$T/big" >"$T/200k"
cat "$T/200k" >"$W/held/stdin" &
HELDP=$!
check "without acks the host sends the window, 128 KiB, no more" wait_for 30 sh -c "[ \$(awk -v id='sess_in id=held data=' 'index(\$0, id) == 1 { sub(/.*data=/, \"\"); n += length(\$0) / 2 } END { print n + 0 }' '$F/flow.in') = 131072 ]"
check "... and the rest of the write waits in FUSE" wait_for 10 grep -q request_wait_answer /proc/$HELDP/wchan
rm "$F/flow.noack"
check "an ack releases it" wait_for 30 proc_gone $HELDP
wait $HELDP
expect_eq "... the write succeeded" 0 $?
check "... and the command got all of it" wait_for 30 cmp -s "$T/200k" "$F/got-held"

check "mkdir sessions/ends" mkdir "$W/ends"
echo 'while [ ! -e go-ends ]; do sleep 0.05; done' >"$W/ends/cmd"
check "it runs" wait_for 30 grep -qx running "$W/ends/status"
touch "$F/flow.noack"
(cat "$T/200k" >"$W/ends/stdin") 2>"$T/ends.err" &
ENDSP=$!
check "a write waits for the window" wait_for 30 grep -q request_wait_answer /proc/$ENDSP/wchan
touch "$F/go-ends"
check "the command ends: the waiting write fails" wait_for 30 proc_gone $ENDSP
check "... with EPIPE" grep -q "Broken pipe" "$T/ends.err"
# the agent reports the command's stdin closed and its exit in either order,
# and the parked write is retried at either: the reason names what bangerd
# knew then (both orders were seen in runs here)
check "... and the reason in error" grep -Eq "stdin: (the command (ended \(exited 0\)|closed its stdin) before it read this write|it was closed \(EOF sent, or the command stopped reading\))" "$W/ends/error"
echo "# ends/error: $(cat "$W/ends/error" 2>&1)"
rm "$F/flow.noack"

check "mkdir sessions/intr" mkdir "$W/intr"
echo 'cat > got-intr' >"$W/intr/cmd"
check "it runs" wait_for 30 grep -qx running "$W/intr/status"
touch "$F/flow.noack"
python3 -c '
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # ignored in background jobs
fd = os.open(sys.argv[1], os.O_WRONLY)
data = open(sys.argv[2], "rb").read()
done = 0
print("writing", flush=True)
try:
    while done < len(data):
        done += os.write(fd, data[done:])
        print("wrote", done, flush=True)
    print("written")
except KeyboardInterrupt:  # the write failed with EINTR, then the handler ran
    print("EINTR", done)
signal.signal(signal.SIGINT, signal.SIG_IGN)
os.close(fd)
' "$W/intr/stdin" "$T/200k" >"$T/wintr.out" 2>&1 &
INTRP=$!
# the window may fill in more than one write (a full channel makes one short);
# the write after the one that took the 128 KiB is the one that waits
check "a write waits for the window" wait_for 30 sh -c "grep -qx 'wrote 131072' '$T/wintr.out' && grep -q request_wait_answer /proc/$INTRP/wchan"
kill -INT $INTRP
check "Ctrl-C (SIGINT) ends it" wait_for 10 proc_gone $INTRP
expect_eq "... with EINTR, after the window's bytes" "EINTR 131072" "$(tail -n 1 "$T/wintr.out")"
rm "$F/flow.noack"
check "the session is still usable: stdin was closed at the writer's close" wait_for 30 grep -qx "exited 0" "$W/intr/status"
check "... and the command got the bytes the write took" cmp -s "$F/got-intr" <(head -c 131072 "$T/200k")
check "kill vms/flow" sh -c "echo kill > '$MNT/vms/flow/state'"

# rm -r of a stopped VM with sessions: they go with it
check "rm -r vms/box (stopped, with sessions)" rm -r "$V"
check "... it is gone" test ! -e "$V"
settle_deletes
check "... and its files too" sh -c "! ls '$T/home/state/vms' | grep -qx 1"
finish
