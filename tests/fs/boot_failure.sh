#!/bin/bash
# Boots that fail, without a real guest: a kernel QEMU refuses (it exits at
# once), a missing kernel, and a "kernel" that halts (the boot times out).
# Each fails cleanly: the right errno, state and error say why, logs hold
# QEMU's stderr, no QEMU is left, and the VM stays configurable.
. "$(dirname "$0")/../lib.sh"

# long enough for the checks made while a boot is in progress (section 3)
# to fit in it on a loaded machine
export BANGER_BOOT_TIMEOUT=10
banger_setup fake || exit 1
V=$MNT/vms/a
STATE_VMS=$T/home/state/vms
no_qemu() { [ -z "$(test_vm_pids)" ]; }
# the newest reason: one non-empty line, also the newest error line of logs
one_line_reason() {
	local err last
	err=$(cat "$V/error")
	[ -n "$err" ] && [ "$(cat "$V/error" | wc -l)" = 1 ] || return 1
	last=$(grep 'banger: error: ' "$V/logs" | tail -1)
	[ "${last#*banger: error: }" = "$err" ]
}

check "mkdir vms/a" mkdir "$V"
check "config says accel = tcg" grep -q '^accel = tcg' "$MNT/config"
check "config says boot_timeout_s comes from BANGER_BOOT_TIMEOUT" \
	grep -qx 'boot_timeout_s = 10  # BANGER_BOOT_TIMEOUT' "$MNT/config"

# 1. QEMU refuses the kernel and exits
expect_errno "start with a bad kernel: EIO" EIO write "$V/state" start
check "it failed as QEMU exited, not at the boot timeout" sh -c "! grep -q 'timed out' '$V/error'"
expect_eq "state reads error" "error" "$(cat "$V/state")"
check "error holds one line, also in logs" one_line_reason
check "error mentions the hypervisor exit" grep -Eq 'hypervisor exited with status [0-9]+ during boot' "$V/error"
check "logs say it was starting" grep -q 'banger: starting (qemu, tcg, vcpu 1, memory 256 MiB, network ' "$V/logs"
check "logs hold QEMU's stderr" grep -q '^qemu' "$V/logs"
check "logs say how the hypervisor ended" grep -Eq 'banger: hypervisor \(pid [0-9]+\) exited with status' "$V/logs"
check "no QEMU of this test is left" no_qemu
expect_eq "pid is empty" "" "$(cat "$V/pid")"
expect_eq "uptime is empty" "" "$(cat "$V/uptime")"
expect_eq "ls -l size of state matches" "$(cat "$V/state" | wc -c)" "$(stat -c %s "$V/state")"
expect_eq "ls -l size of error matches" "$(cat "$V/error" | wc -c)" "$(stat -c %s "$V/error")"
expect_eq "console reads EOF at once" "0" "$(timeout 30 cat "$V/console" | wc -c)"
ev=$(events_now)
check "events: a starting" grep -Eq 'Z a starting$' <<<"$ev"
check "events: a failed" grep -Eq 'Z a failed$' <<<"$ev"
check "a shell 'echo start > state' fails too" sh -c "! echo start > '$V/state' 2>/dev/null"
expect_errno "restart of a failed VM is a start: EIO" EIO write "$V/state" restart
check "no QEMU left after the retries" no_qemu
expect_eq "state still reads error" "error" "$(cat "$V/state")"

# a failed VM is configurable again, and can be deleted
check "echo 2 > vcpu on a failed VM" sh -c "echo 2 > '$V/vcpu'"
expect_eq "vcpu reads 2" "2" "$(cat "$V/vcpu")"
check "spec shows it" grep -qx 'vcpu = 2  # set on this VM' "$V/spec"
check "echo 512 > memory_mib on a failed VM" sh -c "echo 512 > '$V/memory_mib'"
check "echo 2G > disk_size on a failed VM" sh -c "echo 2G > '$V/disk_size'"
expect_errno "start again: EIO" EIO write "$V/state" start
check "the new attempt used the new sizing" grep -q 'banger: starting (qemu, tcg, vcpu 2, memory 512 MiB, network ' "$V/logs"
check "error still one line" one_line_reason
expect_errno "stop of a failed VM succeeds" OK write "$V/state" stop
expect_errno "kill of a failed VM succeeds" OK write "$V/state" kill
check "no QEMU left" no_qemu
id=$(ls "$STATE_VMS")
check "rmdir of a failed VM works" rmdir "$V"
check "its state dir is gone" test ! -e "$STATE_VMS/$id"
expect_eq "vms/ is empty" "" "$(ls "$MNT/vms")"

# 2. the kernel files are gone: nothing is started
check "mkdir vms/b" mkdir "$MNT/vms/b"
mkdir -p "$T/home/state/kernels/gone"
echo k >"$T/home/state/kernels/gone/vmlinuz"
echo i >"$T/home/state/kernels/gone/initrd.img"
check "echo gone > kernel" sh -c "echo gone > '$MNT/vms/b/kernel'"
rm -r "$T/home/state/kernels/gone"
expect_errno "start with a missing kernel: ENOENT" ENOENT write "$MNT/vms/b/state" start
expect_eq "state stays stopped" "stopped" "$(cat "$MNT/vms/b/state")"
check "error names the kernel" grep -q "kernel 'gone' is not installed" "$MNT/vms/b/error"
check "no QEMU was started" no_qemu
check "rmdir vms/b" rmdir "$MNT/vms/b"

# 3. a guest that never says hello: the boot times out
fake_hanging_kernel hang
check "mkdir vms/h" mkdir "$MNT/vms/h"
H=$MNT/vms/h
check "echo hang > kernel" sh -c "echo hang > '$H/kernel'"
t0=$(date +%s)
expect_errno "start of a silent guest: EIO after the timeout" EIO write "$H/state" start
el=$(($(date +%s) - t0))
check "it took the boot timeout (${el} s), and it did end" test "$el" -ge 9 -a "$el" -le 60
expect_eq "state reads error" "error" "$(cat "$H/state")"
check "error says the boot timed out" grep -q 'boot timed out after 10 s' "$H/error"
expect_eq "error is one line" "1" "$(cat "$H/error" | wc -l)"
check "logs say the hypervisor was killed" grep -Eq 'banger: hypervisor \(pid [0-9]+\) was killed by signal 9' "$H/logs"
check "no QEMU left after the timeout" no_qemu

# while it boots: readers see it starting; Ctrl-C leaves it so; kill stops it
$FSOP write "$H/state" start >"$T/start.out" 2>&1 &
starter=$!
check "state reads starting while it boots" wait_for 30 grep -qx starting "$H/state"
pid=$(cat "$H/pid")
check "pid is the running QEMU ($pid)" sh -c "test -n '$pid' && grep -q qemu /proc/$pid/cmdline"
check "uptime is a number" grep -Eqx '[0-9]+' "$H/uptime"
expect_eq "error was cleared by the new start" "" "$(cat "$H/error")"
check "vcpu is EBUSY while starting" test "$($FSOP write "$H/vcpu" 1)" = EBUSY
check "the refusal is in error" grep -q 'while the VM is starting' "$H/error"
expect_errno "rmdir of another name still works meanwhile" ENOENT rmdir "$MNT/vms/nope"
wait "$starter"
expect_eq "that start ended with EIO (timeout)" "EIO" "$(cat "$T/start.out")"

$FSOP write "$H/state" start >"$T/start.out" 2>&1 &
starter=$!
check "started again" wait_for 30 grep -qx starting "$H/state"
# state reads starting once bangerd took the write: it is parked now
kill -INT "$starter"
wait "$starter"
expect_eq "Ctrl-C on a parked start: EINTR" "EINTR" "$(cat "$T/start.out")"
expect_eq "the VM is left starting" "starting" "$(cat "$H/state")"
check "its QEMU still runs" test -n "$(test_vm_pids)"
timeout 120 cat "$H/console" >"$T/console.out" 2>&1 &
con=$!
sleep 0.5
check "a console reader follows while the VM lives (no EOF)" kill -0 "$con"
expect_errno "kill then stops it" OK write "$H/state" kill
check "the console reader ends (EOF) once the VM stopped" wait_for 30 proc_gone "$con"
wait "$con"
expect_eq "and cat exits 0" 0 $?
expect_eq "state reads stopped after kill" "stopped" "$(cat "$H/state")"
check "no QEMU left after kill" no_qemu
expect_eq "pid is empty after kill" "" "$(cat "$H/pid")"

# a second writer of state waits behind a parked start (the kernel holds the
# file's inode lock for the whole write): kill cannot cut a boot short
$FSOP write "$H/state" start >"$T/start.out" 2>&1 &
starter=$!
wait_for 30 grep -qx starting "$H/state"
t0=$(date +%s%N)
got=$(timeout 60 $FSOP write "$H/state" kill)
el=$((($(date +%s%N) - t0) / 1000000))
log "a second writer's kill waited ${el} ms for the parked start (documented in docs/filesystem.md)"
expect_eq "that kill succeeded in the end" OK "$got"
wait "$starter"
check "the start ended with EIO" grep -qx EIO "$T/start.out"
check "no QEMU left" no_qemu

# rmdir while it boots: the start fails, everything goes
$FSOP write "$H/state" start >"$T/start.out" 2>&1 &
starter=$!
wait_for 30 grep -qx starting "$H/state"
id=$(ls "$STATE_VMS")
timeout 120 cat "$H/console" >"$T/console.out" 2>&1 &
con=$!
check "rmdir of a starting VM works" rmdir "$H"
wait "$starter"
check "a console reader ends once the VM is deleted" wait_for 30 proc_gone "$con"
wait "$con"
check "the parked start ended with EIO or ENOENT" grep -Eqx 'EIO|ENOENT' "$T/start.out"
check "no QEMU left after rmdir" no_qemu
check "the VM is gone" test ! -e "$H"
check "its state dir is gone" test ! -e "$STATE_VMS/$id"
ev=$(events_now)
check "events: h deleted" grep -Eq 'Z h deleted$' <<<"$ev"
check "the daemon is alive" kill -0 "$DAEMON_PID"

finish
