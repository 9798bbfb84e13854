#!/bin/bash
# A real guest: create, start (returns when ready), console output and
# input, following the console, stop, restart, kill, rmdir.
. "$(dirname "$0")/../lib.sh"
banger_setup real

V=$MNT/vms/box
check "mkdir creates the VM" mkdir "$V"
expect_eq "a new VM is stopped" stopped "$(cat "$V/state")"

t0=$(date +%s%N)
expect_errno "start returns success once the guest is ready" OK write "$V/state" start
log "start took $((($(date +%s%N) - t0) / 1000000)) ms"
expect_eq "state reads running right after start" running "$(cat "$V/state")"
pid=$(cat "$V/pid")
check "pid names a live qemu" grep -q qemu-system "/proc/$pid/cmdline"
check "console shows the kernel's boot lines" grep -aq "Linux version" "$V/console"
check "console shows the guest init" grep -aq "banger-init: ready" "$(ls -d "$T"/home/state/vms/*)/console.log"
check "logs say running" grep -q "running (boot took" "$V/logs"
check "logs hold the agent's hello" grep -Eq "hello proto=[0-9]+ agent=" "$V/logs"
check "uptime is a number" grep -Eq '^[0-9]+$' "$V/uptime"
check "events has the start" grep -q 'box running' <(events_now)
expect_eq "error is empty" "" "$(cat "$V/error")"

# follow the console while sending it a command; the shell prints 42
cat "$V/console" >"$T/follow" &
follower=$!
# the follower has read what was there (the boot): it follows from now on
check "a console reader gets the output so far" wait_for 60 test -s "$T/follow"
echo 'echo answer-$((6*7))' >"$V/console"
check "a following reader sees the answer to console input" wait_for 60 grep -aq "answer-42" "$T/follow"
check "the follower is still waiting while the VM runs" kill -0 "$follower"

# GNU tail seeks to the end and reads the last lines back (a pipe it would
# read to EOF, which a live console never sends): plain `tail -f`, in a
# real pty, shows the recent output at once and then follows
script -qfc "tail -f '$V/console'" "$T/tail" </dev/null >/dev/null 2>&1 &
tailer=$!
check "tail -f console shows the recent output at once" wait_for 20 grep -aq "answer-42" "$T/tail"
echo 'echo tail-$((6*7))' >"$V/console"
check "tail -f console follows new output" wait_for 20 grep -aq "tail-42" "$T/tail"
check "seeking the console: SEEK_END is the handle's size" python3 -c "
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
end = os.lseek(fd, 0, os.SEEK_END)
os.lseek(fd, max(0, end - 64), os.SEEK_SET)
os.set_blocking(fd, False)
tail = os.read(fd, 64)
sys.exit(0 if end > 0 and b'tail-42' in tail else 1)" "$V/console"
kill "$tailer" 2>/dev/null

# a guest that floods its serial port: the hypervisor logs every byte, and
# bangerd gives back the space of all but the newest output (256 MiB are
# appended here from outside: a serial port under TCG is far too slow to
# write that much in a test)
clog="$(ls -d "$T"/home/state/vms/[0-9]*)/console.log"
before=$(stat -c %s "$clog")
head -c $((256 << 20)) /dev/zero | tr '\0' 'x' | fold -w 100 >>"$clog"
check "the flood grew console.log's size (offsets never move)" test "$(stat -c %s "$clog")" -ge $((before + (256 << 20)))
check "but its disk use stays bounded (under 40 MiB)" wait_for 20 sh -c "test \$((\$(stat -c %b '$clog') * 512)) -lt $((40 << 20))"
expect_eq "bangerd answers after the flood" running "$(cat "$V/state")"
check "and logs say nothing went wrong" sh -c "! grep -q 'cannot bound console.log' '$V/logs'"

expect_errno "vcpu cannot change while running" EBUSY write "$V/vcpu" 2
check "EBUSY leaves a reason in error" grep -q "stop it first" "$V/error"

t0=$(date +%s%N)
expect_errno "stop returns once the process is gone" OK write "$V/state" stop
log "stop took $((($(date +%s%N) - t0) / 1000000)) ms"
expect_eq "state reads stopped" stopped "$(cat "$V/state")"
expect_eq "pid is empty" "" "$(cat "$V/pid")"
check "qemu is gone" proc_gone "$pid"
check "the console follower got EOF at stop" wait_for 30 proc_gone "$follower"
check "a stopped VM's console reads to EOF" sh -c "timeout 30 cat '$V/console' >/dev/null"

expect_errno "writing the state it is in succeeds" OK write "$V/state" stop
expect_errno "vcpu can change while stopped" OK write "$V/vcpu" 2
expect_errno "second boot (2 vCPUs) works" OK write "$V/state" start
expect_eq "running again" running "$(cat "$V/state")"
# a console read follows while the VM runs: grep -q ends at the answer
check "the guest sees 2 CPUs" sh -c "echo 'echo cpus=\$(grep -c ^processor /proc/cpuinfo)' > '$V/console' && timeout 60 grep -aq 'cpus=2' '$V/console'"
expect_errno "start while running succeeds and does nothing" OK write "$V/state" start
pid=$(cat "$V/pid")
expect_errno "kill" OK write "$V/state" kill
expect_eq "killed VM is stopped" stopped "$(cat "$V/state")"
check "qemu is gone after kill" proc_gone "$pid"

expect_errno "restart from stopped boots" OK write "$V/state" restart
expect_eq "running after restart" running "$(cat "$V/state")"
expect_errno "restart while running reboots" OK write "$V/state" restart
expect_eq "running after second restart" running "$(cat "$V/state")"
check "the pid changed across restart" sh -c "[ '$(cat "$V/pid")' != '$pid' ]"

check "rmdir removes the VM" rmdir "$V"
check "no VM files are left" wait_for 60 sh -c "[ -z \"\$(ls -A '$T/home/state/vms')\" ]"
expect_eq "no qemu of this test is left" "" "$(test_vm_pids)"
finish
