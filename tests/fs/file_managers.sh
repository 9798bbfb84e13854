#!/bin/bash
# What the tree tells a file manager is true. GIO (Nautilus, gedit, gio)
# reads a directory's can-rename and can-delete from write access to its
# parent, the same check for both: vms/NAME is deletable (rmdir) and so
# says renamable, so a rename of a stopped VM is a real rename (its
# record, DNS name, ssh_config and pins follow). Trash: the root holds a
# .Trash-UID that is not a directory, which the freedesktop.org trash spec
# (and GIO) take as "no trash here": can-trash is FALSE and `gio trash`
# fails at once, without trying to create anything.
# tests/fs/fake-qemu plays a guest that never says hello, for a VM that is
# starting (a hypervisor runs) without booting anything.
. "$(dirname "$0")/../lib.sh"

export BANGER_BOOT_TIMEOUT=300
banger_setup fake || exit 1
stop_daemon
mkdir -p "$T/bin" "$T/fake"
ln -s "$REPO/tests/fs/fake-qemu" "$T/bin/qemu-system-x86_64"
export PATH=$T/bin:$PATH FAKE_QEMU_DIR=$T/fake
start_daemon || exit 1
LOG=$T/home/state/bangerd.log
KH=$T/home/state/ssh/known_hosts
if ! command -v gio >/dev/null; then
	fail "gio is installed (tools/setup installs libglib2.0-bin)"
	finish
fi
# access ATTR PATH: TRUE or FALSE, as gio reports it
access() { gio info -a "access::$1" "$2" | awk -v a="access::$1:" '$1 == a { print $2 }'; }

check "mkdir vms/a" mkdir "$MNT/vms/a"
check "echo 2 > vms/a/vcpu" sh -c "echo 2 > '$MNT/vms/a/vcpu'"

# trash
expect_eq "vms/a: can-delete TRUE (rmdir deletes it)" TRUE "$(access can-delete "$MNT/vms/a")"
expect_eq "vms/a: can-trash FALSE" FALSE "$(access can-trash "$MNT/vms/a")"
expect_eq "vms/a/vcpu: can-trash FALSE" FALSE "$(access can-trash "$MNT/vms/a/vcpu")"
check ".Trash-$(id -u) at the root is a regular file" test -f "$MNT/.Trash-$(id -u)" -a ! -L "$MNT/.Trash-$(id -u)"
check "  that says why" grep -q "no trash" "$MNT/.Trash-$(id -u)"
check "gio trash vms/a fails" sh -c "! gio trash '$MNT/vms/a' 2>'$T/trash.err'"
check "  saying there is no trash directory" grep -q "trash directory" "$T/trash.err"
expect_eq "  the VM is intact" "2 stopped" "$(cat "$MNT/vms/a/vcpu") $(cat "$MNT/vms/a/state")"
check "  nothing was tried on the tree (no refusal in bangerd.log)" sh -c "! grep -q 'refused: .*Trash' '$LOG'"
expect_eq "  the VM's error is empty" "" "$(cat "$MNT/vms/a/error")"
expect_errno "mkdir .Trash-$(id -u): EEXIST" EEXIST mkdir "$MNT/.Trash-$(id -u)"
expect_eq "ls lists the usual top level" "README config events images kernels known_hosts templates vms" \
	"$(ls "$MNT" | tr '\n' ' ' | sed 's/ $//')"

# rename: a stopped VM takes a new name
expect_eq "vms/a: can-rename TRUE" TRUE "$(access can-rename "$MNT/vms/a")"
ip=$(cat "$MNT/vms/a/ip")
id=$(ls "$T/home/state/vms")
# pins: the VM's under both names (an earlier b's left behind), its address's, another VM's
ssh-keygen -q -t ed25519 -N '' -C '' -f "$T/key"
key=$(awk '{ print $1 " " $2 }' "$T/key.pub")
printf 'a.vm %s\nb.vm %s\n%s %s\nother.vm %s\n' "$key" "$key" "$ip" "$key" "$key" >"$KH.new"
mv "$KH.new" "$KH"
check "vms/a/known_hosts shows a.vm's pin" grep -q "^a.vm " "$MNT/vms/a/known_hosts"
check "gio rename vms/a b works" gio rename "$MNT/vms/a" b
check "vms/b exists" test -d "$MNT/vms/b"
check "vms/a is gone" test ! -e "$MNT/vms/a"
expect_eq "vms/ lists b" "b" "$(ls "$MNT/vms")"
expect_eq "  its settings came along" "2 stopped $ip" "$(cat "$MNT/vms/b/vcpu") $(cat "$MNT/vms/b/state") $(cat "$MNT/vms/b/ip")"
expect_eq "  the same VM (its state dir)" "$id" "$(ls "$T/home/state/vms")"
check "  ssh_config names b.vm" grep -q "b\.vm" "$MNT/vms/b/ssh_config"
check "  logs say so" grep -q "renamed from a" "$MNT/vms/b/logs"
check "  events say so" grep -q " b renamed from a$" <(events_now)
check "  a.vm's and b.vm's pins are gone" sh -c "! grep -qE '^(a|b)\.vm ' '$KH'"
check "  the address's and other VMs' pins stay" sh -c "grep -q '^$ip ' '$KH' && grep -q '^other.vm ' '$KH'"
expect_eq "  vms/b/known_hosts: the address's pin" "$ip $key" "$(cat "$MNT/vms/b/known_hosts")"
check "  known_hosts at the top has no a.vm" sh -c "! grep -q '^a.vm' '$MNT/known_hosts'"
expect_eq "  error is empty" "" "$(cat "$MNT/vms/b/error")"
check "mv vms/b vms/c works (no pins of either name)" mv "$MNT/vms/b" "$MNT/vms/c"
expect_eq "vms/ lists c" "c" "$(ls "$MNT/vms")"
stop_daemon
start_daemon || exit 1
expect_eq "  vms/ lists c" "c" "$(ls "$MNT/vms")"
expect_eq "  with its settings" "2" "$(cat "$MNT/vms/c/vcpu")"
check "mkdir vms/a again (the old name is free)" mkdir "$MNT/vms/a"
expect_errno "rename vms/c onto vms/a: EEXIST" EEXIST rename "$MNT/vms/c" "$MNT/vms/a"
expect_errno "rename vms/c to a bad name: EINVAL" EINVAL rename "$MNT/vms/c" "$MNT/vms/C_"
check "  the reason is in bangerd.log" grep -q "refused: rename vms/c to vms/C_: invalid name" "$LOG"
expect_errno "rename vms/c out of vms/: EPERM" EPERM rename "$MNT/vms/c" "$MNT/images/c"
expect_eq "after the refusals: a and c" "a c" "$(ls "$MNT/vms" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "  their errors are empty" "" "$(cat "$MNT/vms/a/error" "$MNT/vms/c/error")"

# a VM whose hypervisor runs keeps its name
printf 'hold\n' >"$T/fake/c"
$FSOP write "$MNT/vms/c/state" start >"$T/start.out" 2>&1 &
STARTER=$!
check "vms/c starting (no hello comes)" wait_for 60 grep -qx starting "$MNT/vms/c/state"
expect_errno "rename vms/c (starting): EBUSY" EBUSY rename "$MNT/vms/c" "$MNT/vms/d"
check "  the reason is in bangerd.log" grep -q "refused: rename vms/c to vms/d: vms/c is starting: stop it first" "$LOG"
expect_eq "  still c, still starting" "a c starting" "$(ls "$MNT/vms" | tr '\n' ' ')$(cat "$MNT/vms/c/state")"
kill -INT "$STARTER" 2>/dev/null
wait "$STARTER" 2>/dev/null
expect_errno "kill vms/c" OK write "$MNT/vms/c/state" kill
check "then the rename works" mv "$MNT/vms/c" "$MNT/vms/d"
expect_eq "vms/: a d" "a d" "$(ls "$MNT/vms" | tr '\n' ' ' | sed 's/ $//')"
check "the daemon is alive" kill -0 "$DAEMON_PID"

finish
