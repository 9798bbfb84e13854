#!/bin/bash
# rmdir of a running VM stops it, deletes everything, and frees the name.
. "$(dirname "$0")/../lib.sh"
banger_setup real

V=$MNT/vms/gone
mkdir "$V"
expect_errno "start" OK write "$V/state" start
pid=$(cat "$V/pid")
check "rmdir of a running VM succeeds" rmdir "$V"
check "its hypervisor is gone" proc_gone "$pid"
check "it is no longer listed" sh -c "! ls '$MNT/vms' | grep -qx gone"
check "its state dir is gone" wait_for 20 sh -c "[ -z \"\$(ls -A '$T/home/state/vms')\" ]"
check "events say deleted" grep -q 'gone deleted' <(events_now)
check "the name can be reused" mkdir "$V"
expect_eq "the new VM is fresh" stopped "$(cat "$V/state")"
expect_eq "with no error" "" "$(cat "$V/error")"
check "rmdir the new one" rmdir "$V"
expect_eq "no qemu of this test is left" "" "$(test_vm_pids)"
finish
