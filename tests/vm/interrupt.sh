#!/bin/bash
# Ctrl-C (FUSE_INTERRUPT) during a blocking start, and during a parked
# console read: the call fails with EINTR, the VM is left as it is.
. "$(dirname "$0")/../lib.sh"
banger_setup real

V=$MNT/vms/intr
mkdir "$V"
res=$(python3 - "$V" <<'PY'
import os, signal, sys, time
class Alarm(Exception):
    pass
def on_alarm(*_):
    raise Alarm()
signal.signal(signal.SIGALRM, on_alarm)
fd = os.open(sys.argv[1] + "/state", os.O_WRONLY)
signal.setitimer(signal.ITIMER_REAL, 1.0)
t = time.monotonic()
try:
    os.write(fd, b"start\n")
    print("completed")
except Alarm:
    print("interrupted %.1f" % (time.monotonic() - t))
PY
)
log "$res"
# the alarm fires at 1 s; the boot takes longer (the state check proves the
# write did not just complete): it returns well before the boot ends
check "a signal interrupts the blocking start (in under 5 s)" sh -c "echo '$res' | grep -Eq '^interrupted [1-4]\.'"
expect_eq "the VM keeps booting" starting "$(cat "$V/state")"
check "and becomes running" wait_for 180 sh -c "[ \"\$(cat '$V/state')\" = running ]"

res=$(timeout --preserve-status -s INT 2 cat "$V/console" >/dev/null; echo $?)
expect_eq "SIGINT ends a parked console read (cat dies of SIGINT)" 130 "$res"
res=$(timeout 2 cat "$V/console" >/dev/null; echo $?)
expect_eq "SIGTERM too (timeout's 124)" 124 "$res"
expect_eq "the VM is untouched" running "$(cat "$V/state")"
check "rmdir" rmdir "$V"
expect_eq "no qemu of this test is left" "" "$(test_vm_pids)"
finish
