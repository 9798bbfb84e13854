#!/bin/bash
# A start while the failed boot's hypervisor is still exiting: refused with
# EBUSY (the reason in error), no second hypervisor, and accepted again once
# the process is gone. tests/fs/fake-qemu plays the hypervisor and guest
# (its agent fails the authorize, so bangerd fails the boot and kills it);
# it holds a file open on tests/fs/stall-fuse, which never answers the
# FLUSH the kernel sends when the killed process closes its files, so the
# process stays "exiting" until the test ends that server.
. "$(dirname "$0")/../lib.sh"

export BANGER_BOOT_TIMEOUT=60 BANGER_NETWORK=user
banger_setup fake || exit 1
stop_daemon
STALL_PID=""
release_stall() {
	if [ -n "$STALL_PID" ]; then
		kill "$STALL_PID" 2>/dev/null
		wait "$STALL_PID" 2>/dev/null
		STALL_PID=""
	fi
	umount -l "$T/stall" 2>/dev/null
	true
}
trap 'release_stall; cleanup' EXIT
mkdir -p "$T/bin" "$T/fake" "$T/stall"
ln -s "$REPO/tests/fs/fake-qemu" "$T/bin/qemu-system-x86_64"
export PATH=$T/bin:$PATH FAKE_QEMU_DIR=$T/fake
python3 "$REPO/tests/fs/stall-fuse" "$T/stall" 2>"$T/stall.err" &
STALL_PID=$!
check "the stalling file system is mounted" wait_for 10 test -e "$T/stall/f"
start_daemon || exit 1
V=$MNT/vms/d
# a thread of PID is in uninterruptible sleep (the one that closes the files
# last; the others, the leader among them, may already be zombies)
in_d_state() { cat "/proc/$1/task/"*/stat 2>/dev/null | grep -q ') D '; }
no_fakes() { [ -z "$(test_vm_pids)" ]; }
# hypervisors started for VM d (each fake appends its pid)
started() { grep -c . "$T/fake/d.pids" 2>/dev/null || true; }

printf 'open %s\nline hello proto=2 agent=0.2.0-fake kernel=fake uptime_ms=1\nwait-authorize 30\nline fail verb=authorize reason=refused-by-test\n' \
	"$T/stall/f" >"$T/fake/d"
check "mkdir vms/d" mkdir "$V"
$FSOP write "$V/state" start >"$T/start.out" 2>&1 &
starter=$!
check "the guest fails the boot: state reads error" wait_for 30 grep -qx error "$V/state"
check "error says why" grep -q "could not install banger's ssh key" "$V/error"
pid=$(cat "$V/pid")
check "its hypervisor ($pid) was killed but cannot finish exiting (state D)" wait_for 10 in_d_state "$pid"
kill -INT "$starter"
wait "$starter"
expect_eq "Ctrl-C on the parked start: EINTR" EINTR "$(cat "$T/start.out")"
got=$(timeout 20 $FSOP write "$V/state" start 2>&1)
expect_eq "start while that hypervisor is still exiting: EBUSY" EBUSY "$got"
check "error says it is still exiting" grep -q "the hypervisor of the last boot (pid $pid) is still exiting" "$V/error"
expect_eq "error is one line" 1 "$(wc -l <"$V/error")"
expect_eq "no second hypervisor was started" 1 "$(started)"
expect_eq "pid still names the exiting one" "$pid" "$(cat "$V/pid")"
expect_eq "state still reads error" error "$(cat "$V/state")"

release_stall
check "once the file system is gone, the hypervisor ends" wait_for 10 proc_gone "$pid"
check "and pid reads empty" wait_for 10 sh -c "test -z \"\$(cat '$V/pid')\""
printf 'line hello proto=2 agent=0.2.0-fake kernel=fake uptime_ms=1\nwait-authorize 30\nline fail verb=authorize reason=refused-by-test\n' \
	>"$T/fake/d"
expect_errno "now a start is accepted (and this boot fails the same way): EIO" EIO write "$V/state" start
check "error says the guest refused the key, not busy" grep -q "could not install banger's ssh key" "$V/error"
expect_eq "that start ran a second hypervisor" 2 "$(started)"
check "no hypervisor of this test is left" wait_for 10 no_fakes
check "the daemon is alive" kill -0 "$DAEMON_PID"

finish
