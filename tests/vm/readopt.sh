#!/bin/bash
# bangerd killed with SIGKILL while a VM runs: on restart the VM is
# re-adopted, reads running and can be stopped; a VM whose process died in
# between reads stopped and says why.
. "$(dirname "$0")/../lib.sh"
banger_setup real

V=$MNT/vms/keep
mkdir "$V"
expect_errno "start" OK write "$V/state" start
pid=$(cat "$V/pid")

kill_daemon
check "the VM outlives bangerd" kill -0 "$pid"
start_daemon
expect_eq "re-adopted VM reads running" running "$(cat "$V/state")"
expect_eq "same pid" "$pid" "$(cat "$V/pid")"
check "logs say re-adopted" grep -q "re-adopted" "$V/logs"
check "console still follows after re-adoption" sh -c "echo 'echo back-\$((40+2))' > '$V/console' && timeout 60 grep -aq back-42 '$V/console'"
expect_errno "the re-adopted VM stops cleanly" OK write "$V/state" stop
check "its process is gone" proc_gone "$pid"
expect_eq "stopped" stopped "$(cat "$V/state")"

expect_errno "start again" OK write "$V/state" start
pid=$(cat "$V/pid")
kill_daemon
kill -KILL "$pid"
check "the hypervisor is dead" wait_for 30 proc_gone "$pid"
start_daemon
expect_eq "a VM that died meanwhile reads stopped" stopped "$(cat "$V/state")"
check "error says it exited while bangerd was down" grep -q "exited while bangerd was not running" "$V/error"
expect_errno "and it starts again" OK write "$V/state" start
expect_eq "error is cleared by a good start" "" "$(cat "$V/error")"

# killed mid-boot: the next bangerd re-adopts a starting VM and finishes the
# boot (hello, banger's key, the pin and the ssh check) before it says running
$FSOP write "$V/state" stop >/dev/null
$FSOP write "$V/state" start >"$T/start.out" 2>&1 &
writer=$!
check "the VM is starting" wait_for 30 grep -qx starting "$V/state"
pid=$(cat "$V/pid")
kill_daemon
wait "$writer" 2>/dev/null
start_daemon
check "re-adopted mid-boot: it becomes running" wait_for 180 grep -qx running "$V/state"
expect_eq "the same hypervisor" "$pid" "$(cat "$V/pid")"
check "after the ssh check with the pinned key" grep -q "ssh ready with the pinned host key" "$V/logs"
expect_eq "pinned once for the name" 1 "$(grep -c '^keep.vm ' "$T/home/state/ssh/known_hosts")"
check "rmdir" rmdir "$V"
expect_eq "no qemu of this test is left" "" "$(test_vm_pids)"
finish
