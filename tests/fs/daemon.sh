#!/bin/bash
# The daemon's life: one per state directory, clean unmount on SIGTERM,
# state kept across restarts, recovery from SIGKILL, daemonizing, and the
# sweep of what a crash in the middle of a create leaves.
. "$(dirname "$0")/../lib.sh"

export BANGER_BOOT_TIMEOUT=60
banger_setup fake || exit 1
STATE=$T/home/state
MNT2=$T/mnt2
mkdir -p "$MNT2"
mounted_at() { grep -q " $1 fuse" /proc/mounts; }
mount_count() { grep -c " $MNT fuse" /proc/mounts; }
no_qemu() { [ -z "$(test_vm_pids)" ]; }
snapshot() {
	local d v f
	for d in "$MNT"/vms/*/; do
		[ -d "$d" ] || continue
		v=$(basename "$d")
		for f in state vcpu memory_mib disk_size image kernel spec created; do
			printf '%s/%s: %s\n' "$v" "$f" "$(cat "$MNT/vms/$v/$f")"
		done
		printf '%s ino: %s\n' "$v" "$(stat -c %i "$MNT/vms/$v")"
	done
}

check "mkdir vms/a" mkdir "$MNT/vms/a"
check "mkdir vms/b" mkdir "$MNT/vms/b"
check "set a's vcpu" sh -c "echo 2 > '$MNT/vms/a/vcpu'"
check "set a's memory" sh -c "echo 300 > '$MNT/vms/a/memory_mib'"
check "grow b's disk" sh -c "echo 3G > '$MNT/vms/b/disk_size'"
$FSOP write "$MNT/vms/b/vcpu" 0 >/dev/null
SNAP=$(snapshot)
B_ERROR=$(cat "$MNT/vms/b/error")
expect_eq "the lock file holds the daemon's pid" "$DAEMON_PID" "$(cat "$STATE/bangerd.lock")"

# a second daemon on the same state directory
out=$(BANGER_HOME=$T/home timeout 60 "$BANGERD" -f --mount "$MNT2" 2>&1)
rc=$?
check "a second bangerd exits non-zero (rc $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
sed 's/^/# /' <<<"$out"
check "it says why, naming the first" grep -q "another bangerd (pid $DAEMON_PID) is running" <<<"$out"
check "it did not mount" sh -c "! grep -q ' $MNT2 fuse' /proc/mounts"
out=$(BANGER_HOME=$T/home timeout 60 "$BANGERD" --mount "$MNT2" 2>&1)
rc=$?
check "daemonized, it fails the same way (rc $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check "with the same message" grep -q "another bangerd (pid $DAEMON_PID) is running" <<<"$out"
# another state directory on the same mount point
mkdir -p "$T/home2"
out=$(BANGER_HOME=$T/home2 timeout 60 "$BANGERD" -f --mount "$MNT" 2>&1)
rc=$?
check "a bangerd on a mount point in use exits non-zero (rc $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
sed 's/^/# /' <<<"$out"
check "it says the mount point is in use" grep -qi "already a FUSE mount" <<<"$out"
expect_eq "still one mount at $MNT" 1 "$(mount_count)"
expect_eq "the first daemon still serves" "$SNAP" "$(snapshot)"
check "and still takes writes" sh -c "echo 1 > '$MNT/vms/b/vcpu' && echo 2 > '$MNT/vms/b/vcpu'"
$FSOP write "$MNT/vms/b/vcpu" 0 >/dev/null
SNAP=$(snapshot)

# usage
BANGER_HOME=$T/home "$BANGERD" --help >/dev/null 2>&1
expect_eq "--help exits 0" 0 $?
BANGER_HOME=$T/home "$BANGERD" --bogus >/dev/null 2>&1
expect_eq "a bad option exits 2" 2 $?
check "--version prints the version" sh -c "'$BANGERD' --version | grep -q '^bangerd [0-9]'"

# SIGTERM: a clean unmount and exit 0
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=""
expect_eq "SIGTERM: bangerd exits 0" 0 "$rc"
check "SIGTERM: the mount is gone from /proc/mounts" sh -c "! grep -q ' $MNT fuse' /proc/mounts"
check "SIGTERM: the mount point is a plain empty dir" test -d "$MNT" -a -z "$(ls -A "$MNT")"
check "bangerd.log says it stopped" grep -q "bangerd stopped" "$STATE/bangerd.log"

# restart: VMs and settings come back from the store
check "restart" start_daemon
expect_eq "after restart: same VMs, settings, errors" "$SNAP" "$(snapshot)"
expect_eq "after restart: b's error is kept" "$B_ERROR" "$(cat "$MNT/vms/b/error")"
check "after restart: a's logs are kept" grep -q 'banger: vcpu set to 2' "$MNT/vms/a/logs"
check "after restart: a takes writes" sh -c "echo 3 > '$MNT/vms/a/vcpu'"
expect_eq "after restart: a's vcpu reads 3" 3 "$(cat "$MNT/vms/a/vcpu")"
check "after restart: mkdir vms/c" mkdir "$MNT/vms/c"
SNAP=$(snapshot)
ids=$(ls "$STATE/vms" | sort -n | tr '\n' ' ')

# SIGKILL: a dead mount, which the next start detaches
kill_daemon
check "SIGKILL: the mount is still listed" mounted_at "$MNT"
err=$(stat "$MNT/vms" 2>&1)
check "SIGKILL: the mount is dead (ENOTCONN)" grep -q "Transport endpoint is not connected" <<<"$err"
check "restart over the dead mount" start_daemon
expect_eq "one mount at $MNT, not two" 1 "$(mount_count)"
expect_eq "after SIGKILL + restart: same VMs and settings" "$SNAP" "$(snapshot)"
check "bangerd.log says it removed the stale mount" grep -q "removed a stale mount at $MNT" "$STATE/bangerd.log"
check "vms/c can be deleted" rmdir "$MNT/vms/c"
SNAP=$(snapshot)

# a crash in the middle of a create: leftovers with no record are swept
stop_daemon
mkdir -p "$STATE/vms/.new-foo" "$STATE/vms/999" "$STATE/vms/.new-a"
truncate -s 1M "$STATE/vms/.new-foo/root.qcow2"
echo junk >"$STATE/vms/999/vm.log"
check "restart with leftovers" start_daemon
check "the .new-foo leftover is swept" test ! -e "$STATE/vms/.new-foo"
check "the .new-a leftover is swept" test ! -e "$STATE/vms/.new-a"
check "the record-less 999 is swept" test ! -e "$STATE/vms/999"
expect_eq "the real VMs' dirs are kept" "$(tr ' ' '\n' <<<"$ids" | grep -v "^$" | head -2 | tr '\n' ' ')" \
	"$(ls "$STATE/vms" | sort -n | tr '\n' ' ')"
expect_eq "vms/ shows only the real VMs" "a b" "$(ls "$MNT/vms" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "and their settings" "$SNAP" "$(snapshot)"
check "bangerd.log names the swept leftovers" grep -q "removing leftover $STATE/vms/.new-foo" "$STATE/bangerd.log"
check "mkdir vms/foo works after the sweep" mkdir "$MNT/vms/foo"
check "rmdir vms/foo" rmdir "$MNT/vms/foo"
stop_daemon

# without -f: daemonizes, returns once the mount answers
BANGER_HOME=$T/home "$BANGERD" --mount "$MNT" >"$T/daemonize.out" 2>&1
rc=$?
expect_eq "bangerd (no -f) returns 0" 0 "$rc"
expect_eq "it printed nothing" "" "$(cat "$T/daemonize.out")"
expect_eq "the mount answers at once" "a b" "$(ls "$MNT/vms" 2>&1 | tr '\n' ' ' | sed 's/ $//')"
bg_pid=$(cat "$STATE/bangerd.lock")
check "the lock file names the daemon ($bg_pid)" sh -c "test -n '$bg_pid' && grep -q bangerd /proc/$bg_pid/cmdline"
DAEMON_PID=$bg_pid # so the cleanup trap ends it
check "it left the session (setsid)" test "$(ps -o sid= -p "$bg_pid" | tr -d ' ')" = "$bg_pid"
check "it serves writes" sh -c "echo 2 > '$MNT/vms/b/vcpu'"
kill -TERM "$bg_pid"
check "SIGTERM ends the daemonized bangerd" wait_for 60 proc_gone "$bg_pid"
check "and its mount is gone" wait_for 30 sh -c "! grep -q ' $MNT fuse' /proc/mounts"
DAEMON_PID=""

# a hypervisor outlives bangerd, which adopts it again
fake_hanging_kernel hang
check "restart (foreground)" start_daemon
check "echo hang > a/kernel" sh -c "echo hang > '$MNT/vms/a/kernel'"
$FSOP write "$MNT/vms/a/state" start >"$T/start.out" 2>&1 &
starter=$!
check "a is starting" wait_for 30 grep -qx starting "$MNT/vms/a/state"
qpid=$(cat "$MNT/vms/a/pid")
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=""
expect_eq "SIGTERM with a parked start: exits 0" 0 "$rc"
wait "$starter"
check "the parked start was answered with an error ($(cat "$T/start.out"))" sh -c "! grep -qx OK '$T/start.out'"
check "the mount is gone" sh -c "! grep -q ' $MNT fuse' /proc/mounts"
check "QEMU ($qpid) outlives bangerd" kill -0 "$qpid"
check "restart" start_daemon
expect_eq "a is adopted: still starting" starting "$(cat "$MNT/vms/a/state")"
expect_eq "with the same pid" "$qpid" "$(cat "$MNT/vms/a/pid")"
check "logs say it was re-adopted" grep -q "re-adopted running hypervisor (pid $qpid)" "$MNT/vms/a/logs"
kill_daemon
check "QEMU survives a SIGKILLed bangerd too" kill -0 "$qpid"
check "restart after SIGKILL" start_daemon
expect_eq "a is adopted again" "$qpid" "$(cat "$MNT/vms/a/pid")"
expect_errno "kill the adopted QEMU" OK write "$MNT/vms/a/state" kill
expect_eq "a is stopped" stopped "$(cat "$MNT/vms/a/state")"
check "no QEMU left" no_qemu
# a hypervisor that died while bangerd was down
$FSOP write "$MNT/vms/a/state" start >"$T/start.out" 2>&1 &
starter=$!
check "a is starting again" wait_for 30 grep -qx starting "$MNT/vms/a/state"
qpid=$(cat "$MNT/vms/a/pid")
stop_daemon
wait "$starter"
kill -KILL "$qpid"
check "QEMU is gone" wait_for 30 proc_gone "$qpid"
check "restart" start_daemon
expect_eq "a is stopped after its QEMU died unseen" stopped "$(cat "$MNT/vms/a/state")"
check "error says it exited while bangerd was down" grep -q "exited while bangerd was not running" "$MNT/vms/a/error"
expect_eq "pid is empty" "" "$(cat "$MNT/vms/a/pid")"

stop_daemon
check "no mount left" sh -c "! grep -q ' $MNT fuse' /proc/mounts"
check "no QEMU left" no_qemu

finish
