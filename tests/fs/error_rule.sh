#!/bin/bash
# A VM's error file is the last failed request of one of its control files
# (state, vcpu, memory_mib, disk_size, image, kernel, console), and the next
# success of that same file clears it. What file managers, editors and
# `rm -r` do to the tree's shape (temp files, unlinks, renames, modes) stays
# out of error and out of the VM's logs: one line each in bangerd.log.
# tests/fs/fake-qemu plays a guest that never says hello, for a VM that is
# starting (a hypervisor runs) without booting anything.
. "$(dirname "$0")/../lib.sh"

export BANGER_BOOT_TIMEOUT=300 BANGER_NETWORK=user
banger_setup fake || exit 1
stop_daemon
mkdir -p "$T/bin" "$T/fake"
ln -s "$REPO/tests/fs/fake-qemu" "$T/bin/qemu-system-x86_64"
export PATH=$T/bin:$PATH FAKE_QEMU_DIR=$T/fake
start_daemon || exit 1
V=$MNT/vms/a
LOG=$T/home/state/bangerd.log
if ! command -v gio >/dev/null; then
	fail "gio is installed (tools/setup installs libglib2.0-bin)"
	finish
fi

check "mkdir vms/a" mkdir "$V"
lines() { grep -c . "$V/logs"; }

# A GUI editor's save (gio save, gedit): GIO first creates a temp file next
# to the target (refused), then writes the file in place (works).
lines_before=$(lines)
check "gio save vms/a/vcpu works" sh -c "echo 2 | gio save '$V/vcpu'"
expect_eq "vcpu reads 2" "2" "$(cat "$V/vcpu")"
expect_eq "the refused temp file left no error" "" "$(cat "$V/error")"
check "the VM's logs say nothing of it" sh -c "! grep -q goutputstream '$V/logs'"
expect_eq "logs got just the change" "$((lines_before + 1))" "$(lines)"
check "bangerd.log has the refusal on one line" grep -q "refused: create vms/a/\.goutputstream-.*: the files of the tree are fixed" "$LOG"
# the same, when an error was there: it stays (a create is not a write of vcpu)
expect_errno "vcpu <- 0: EINVAL" EINVAL write "$V/vcpu" 0
check "error says why" grep -q "vcpu" "$V/error"
vcpu_err=$(cat "$V/error")
expect_errno "create vms/a/.goutputstream-x: EPERM" EPERM create "$V/.goutputstream-x"
expect_eq "the refused create leaves vcpu's error as it was" "$vcpu_err" "$(cat "$V/error")"

# Only a success of the same file clears its error.
expect_errno "memory_mib <- 512 works" OK write "$V/memory_mib" 512
expect_eq "a memory_mib success leaves vcpu's error" "$vcpu_err" "$(cat "$V/error")"
expect_errno "state <- stop (stopped: nothing to do) works" OK write "$V/state" stop
expect_eq "a state success leaves vcpu's error" "$vcpu_err" "$(cat "$V/error")"
expect_errno "vcpu <- 2 works" OK write "$V/vcpu" 2
expect_eq "a vcpu success clears vcpu's error" "" "$(cat "$V/error")"
# a later failure of another file replaces it; that file's success clears it
expect_errno "disk_size <- 1.5G: EINVAL" EINVAL write "$V/disk_size" 1.5G
check "error is disk_size's" grep -q "disk_size" "$V/error"
expect_errno "vcpu <- 1 works" OK write "$V/vcpu" 1
check "a vcpu success leaves disk_size's error" grep -q "disk_size" "$V/error"
# the error and which file it came from survive a restart of bangerd
stop_daemon
start_daemon || exit 1
check "after a restart: still disk_size's error" grep -q "disk_size" "$V/error"
expect_errno "vcpu <- 2 works" OK write "$V/vcpu" 2
check "  a vcpu success still leaves it" grep -q "disk_size" "$V/error"
expect_errno "disk_size <- 2G works" OK write "$V/disk_size" 2G
expect_eq "  a disk_size success clears it" "" "$(cat "$V/error")"
# state: a refused word, cleared by the next accepted state write
expect_errno "state <- bogus: EINVAL" EINVAL write "$V/state" bogus
check "error says why" grep -q "bogus" "$V/error"
expect_errno "image <- tiny works" OK write "$V/image" tiny
check "an image success leaves state's error" grep -q "bogus" "$V/error"
expect_errno "state <- stop works" OK write "$V/state" stop
expect_eq "a state success clears state's error" "" "$(cat "$V/error")"
# console: no input while stopped; a write that works clears that
expect_errno "console of a stopped VM: EIO" EIO write "$V/console" 'x\n'
check "error is console's" grep -q "console" "$V/error"
printf 'hold\n' >"$T/fake/a"
$FSOP write "$V/state" start >"$T/start.out" 2>&1 &
STARTER=$!
check "a start (no hello comes): starting" wait_for 60 grep -qx starting "$V/state"
check "the start leaves console's error" grep -q "console" "$V/error"
# the hypervisor's console socket comes up a moment after "starting": a write
# before bangerd connected to it is refused (EIO, console's error again)
console_takes() { [ "$($FSOP write "$V/console" 'x\n' 2>&1)" = OK ]; }
check "console write while it runs works (once connected)" wait_for 60 console_takes
expect_eq "a console success clears console's error" "" "$(cat "$V/error")"

# rm -r of a VM whose hypervisor runs: refused, file by file (EBUSY); the VM
# is untouched and its error and logs say nothing of it. (The kernel holds
# state's lock during the parked start write, so an unlink of state would
# wait for that write: end it first; the interrupted start keeps booting.)
kill -INT "$STARTER" 2>/dev/null
wait "$STARTER" 2>/dev/null
lines_before=$(lines)
check "rm -r vms/a (starting) fails" sh -c "! rm -r '$V' 2>'$T/rm.err'"
check "  with EBUSY" grep -q "Device or resource busy" "$T/rm.err"
check "  the VM is still there, starting" grep -qx starting "$V/state"
expect_eq "  every file is still there" 19 "$(ls "$V" | wc -l)"
expect_eq "  error stays empty" "" "$(cat "$V/error")"
check "  nothing in its logs" sh -c "! tail -n +$((lines_before + 1)) '$V/logs' | grep -q -e unlink -e 'cannot remove'"
expect_eq "  one line in bangerd.log per file" 19 "$(grep -c "refused: unlink vms/a/.*: vms/a is starting; stop it first" "$LOG")"
# rmdir of the VM itself is a real request: it kills the boot and deletes it
expect_errno "rmdir vms/a (starting) kills and deletes it" OK rmdir "$V"
check "vms/a is gone" test ! -e "$V"
no_fakes() { [ -z "$(test_vm_pids)" ]; }
check "its hypervisor is gone" wait_for 30 no_fakes

# rm -r of a stopped VM works: the files go with the VM, the rmdir deletes it
check "mkdir vms/b" mkdir "$MNT/vms/b"
check "rm -r vms/b works" rm -r "$MNT/vms/b"
check "vms/b is gone" test ! -e "$MNT/vms/b"
expect_eq "vms/ is empty" "" "$(ls "$MNT/vms")"
settle_deletes
expect_eq "no VM directory is left in state" "" "$(ls "$T/home/state/vms")"
check "bangerd.log has no refusal for it" sh -c "! grep -q 'refused: .*vms/b' '$LOG'"
check "mkdir vms/c; rm -rf vms/c works" sh -c "mkdir '$MNT/vms/c' && rm -rf '$MNT/vms/c' && test ! -e '$MNT/vms/c'"
# rm of one file of a stopped VM: accepted, the file stays, nothing changes
check "mkdir vms/d" mkdir "$MNT/vms/d"
check "rm vms/d/vcpu is accepted" rm "$MNT/vms/d/vcpu"
expect_eq "  vcpu is still there" "1" "$(cat "$MNT/vms/d/vcpu")"
expect_eq "  the VM still lists every file" 19 "$(ls "$MNT/vms/d" | wc -l)"
expect_eq "  error is empty" "" "$(cat "$MNT/vms/d/error")"
check "the daemon is alive" kill -0 "$DAEMON_PID"

finish
