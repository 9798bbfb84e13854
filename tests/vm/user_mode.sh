#!/bin/bash
# User mode: bangerd run as an unprivileged user (no CAP_NET_ADMIN) picks
# QEMU user networking with the guest's :22 forwarded from 127.0.0.1; the
# pins carry the port, ssh works with strict checking, and a new port on the
# next start replaces the old pin line. A stopped VM has no Host block (its
# port may go to another VM). An agent that reports no host keys does not
# re-pin on a new port: sshd's key must match NAME.vm's pin.
. "$(dirname "$0")/../lib.sh"

UID_N=65534
# root may not look into another user's FUSE mount: ask /proc/mounts
is_mounted() { grep -q " $MNT fuse" /proc/mounts; }
T=$(mktemp -d /tmp/banger-test.XXXXXX)
MNT=$T/mnt
# Debian's udev rule makes /dev/fuse 0666; a machine without udev may have
# it 0600, which no unprivileged FUSE daemon can open. Match Debian for the
# test's duration, then put it back.
fuse_mode=$(stat -c %a /dev/fuse)
HOLDERS=""
user_cleanup() {
	local p
	for p in $HOLDERS; do kill "$p" 2>/dev/null; done
	cleanup
	chmod "$fuse_mode" /dev/fuse
}
trap user_cleanup EXIT
trap 'exit 130' INT TERM
chmod 0666 /dev/fuse
# the image is copied: the test store is readable by root only
mkdir -p "$T/home/state/images/tiny" "$T/home/state/kernels/tiny" "$T/home/config" "$MNT" "$T/uhome"
echo 'default_image_name = "tiny"' >"$T/home/config/config.toml"
cp --reflink=auto "$IMAGE_STORE/images/tiny/rootfs.ext4" "$T/home/state/images/tiny/"
cp "$IMAGE_STORE/kernels/tiny/vmlinuz" "$IMAGE_STORE/kernels/tiny/initrd.img" "$T/home/state/kernels/tiny/"
chown -R "$UID_N:$UID_N" "$T"
chmod 0755 "$T"

# as_user CMD...: runs CMD as the unprivileged user, with no capabilities.
as_user() {
	setpriv --reuid="$UID_N" --regid="$UID_N" --clear-groups --inh-caps=-all \
		env HOME="$T/uhome" BANGER_HOME="$T/home" "$@"
}
user_read() { as_user cat "$1" 2>/dev/null; }
user_errno() { # DESC ERRNO OP PATH [VALUE]
	local desc=$1 want=$2
	shift 2
	expect_eq "$desc" "$want" "$(as_user python3 "$REPO/tests/fsop.py" "$@" 2>&1)"
}

# not through as_user: $! must be the daemon itself (setpriv and env exec it)
setpriv --reuid="$UID_N" --regid="$UID_N" --clear-groups --inh-caps=-all \
	env HOME="$T/uhome" BANGER_HOME="$T/home" "$BANGERD" -f --mount "$MNT" >>"$T/bangerd.out" 2>&1 &
DAEMON_PID=$!
if ! wait_for 60 is_mounted; then
	cat "$T/bangerd.out" >&2
	fail "bangerd did not mount as an unprivileged user"
	finish
fi
ok "bangerd mounts as uid $UID_N"
check "config: user mode because there is no CAP_NET_ADMIN" \
	sh -c "$(declare -f as_user); UID_N=$UID_N T=$T; as_user cat '$MNT/config' | grep -q '^network = user .*no CAP_NET_ADMIN'"
check "no bridge was made" sh -c "! ip link show banger0 2>/dev/null"

V=$MNT/vms/u1
check "mkdir u1" as_user mkdir "$V"
user_errno "start u1 (returns when ssh answers with the pinned key)" OK write "$V/state" start
expect_eq "u1 is running" running "$(user_read "$V/state")"
expect_eq "ip is empty in user mode (no routable guest address)" "" "$(user_read "$V/ip")"
port=$(user_read "$V/ssh_config" | awk '$1 == "Port" { print $2 }')
check "ssh_config forwards from 127.0.0.1" sh -c "$(declare -f as_user user_read); UID_N=$UID_N T=$T; user_read '$V/ssh_config' | grep -q 'HostName 127.0.0.1'"
check "the port is a real port ($port)" test "${port:-0}" -gt 1024
check "QEMU listens on 127.0.0.1:$port only" sh -c "ss -Hltn | grep -q '127.0.0.1:$port '"
pins=$(user_read "$V/known_hosts")
check "pinned for [127.0.0.1]:$port" grep -q "^\[127.0.0.1\]:$port ssh-ed25519 " <<<"$pins"
check "and for u1.vm" grep -q "^u1.vm ssh-ed25519 " <<<"$pins"
KH=$T/home/state/ssh/known_hosts
# ussh PORT CMD...: OpenSSH as the user, strict checking against banger's pins
ussh() {
	local p=$1
	shift
	as_user ssh -F none -i "$T/home/config/ssh/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KH" -o GlobalKnownHostsFile="$KH" \
		-p "$p" root@127.0.0.1 "$@" 2>>"$T/ssh.err"
}
expect_eq "OpenSSH as the user, strict checking, runs a command" "u1 uid=0" \
	"$(ussh "$port" 'echo $(hostname) uid=$(id -u)')"
expect_eq "ssh -F vms/u1/ssh_config u1.vm works" "u1" \
	"$(as_user sh -c "cat '$V/ssh_config' >'$T/uhome/u1.conf' && ssh -F '$T/uhome/u1.conf' -o BatchMode=yes u1.vm hostname" 2>>"$T/ssh.err")"

# the next start may get another port: the pin follows it
user_errno "stop u1" OK write "$V/state" stop
# a stopped VM's port may go to another VM: no Host block leads there
ucfg=$(user_read "$V/ssh_config")
check "a stopped VM's ssh_config has no Host block" test -z "$(grep -E '^Host |Port ' <<<"$ucfg")"
check "it says why" grep -q "^# u1.vm is not running" <<<"$ucfg"
check "state/ssh/config has no block for u1.vm" sh -c "! grep -q '^Host u1.vm' '$T/home/state/ssh/config'"
check "nor its port" sh -c "! grep -q 'Port $port\$' '$T/home/state/ssh/config'"
# hold the old port so the next start must pick another one
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port)); s.listen(1); time.sleep(600)" &
holder=$!
check "the old port is held" wait_for 30 sh -c "ss -Hltnp | grep '127.0.0.1:$port ' | grep -q 'pid=$holder,'"
user_errno "start u1 again" OK write "$V/state" start
port2=$(user_read "$V/ssh_config" | awk '$1 == "Port" { print $2 }')
check "it got another port ($port -> $port2)" test "$port2" != "$port"
pins2=$(user_read "$V/known_hosts")
check "pinned for the new port" grep -q "^\[127.0.0.1\]:$port2 " <<<"$pins2"
check "the old port's line is gone" sh -c "! grep -q '^\[127.0.0.1\]:$port ' '$KH'"
expect_eq "the key is the same" "$(grep '^u1.vm' <<<"$pins")" "$(grep '^u1.vm' <<<"$pins2")"
check "state/ssh/config has u1.vm's block again, with the new port" \
	sh -c "grep -A2 '^Host u1.vm' '$T/home/state/ssh/config' | grep -q 'Port $port2\$'"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

# hold_port PORT: keeps PORT taken, so the next start must pick another one
hold_port() {
	python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $1)); s.listen(1); time.sleep(600)" &
	HOLDERS="$HOLDERS $!"
	check "port $1 is held" wait_for 30 sh -c "ss -Hltnp | grep '127.0.0.1:$1 ' | grep -q 'pid=$!,'"
}
u1_port() { user_read "$V/ssh_config" | awk '$1 == "Port" { print $2 }'; }

# an agent that reports no host keys (a .pub it cannot read; init only
# makes a missing one): the key sshd shows on a new port is checked against
# u1.vm's pin, not trusted anew
ussh "$port2" 'echo not-a-key >/etc/dropbear/dropbear_ed25519_host_key.pub; sync'
user_errno "stop u1" OK write "$V/state" stop
hold_port "$port2"
kh_before=$(cat "$KH")
user_errno "start u1, whose agent reports no host keys: sshd's key matches u1.vm's pin" OK write "$V/state" start
check "logs say the agent reported no host keys" grep -q "the agent reported no ssh host keys" <<<"$(user_read "$V/logs")"
port3=$(u1_port)
check "it got another port ($port2 -> $port3)" test -n "$port3" -a "$port3" != "$port2"
expect_eq "u1.vm's pin is unchanged" "$(grep '^u1.vm ' <<<"$kh_before")" "$(grep '^u1.vm ' "$KH")"
expect_eq "the new port is pinned with the same key" "$(grep '^u1.vm ' <<<"$kh_before" | cut -d' ' -f2-)" \
	"$(grep "^\[127.0.0.1\]:$port3 " "$KH" | cut -d' ' -f2-)"
# sshd gets another key; the agent still reports none
ussh "$port3" 'dropbearkey -t ed25519 -f /tmp/k >/dev/null && cat /tmp/k >/etc/dropbear/dropbear_ed25519_host_key && sync'
user_errno "stop u1" OK write "$V/state" stop
hold_port "$port3"
kh_before=$(cat "$KH")
user_errno "start u1 with sshd on another key, on a new port: EIO (no silent re-pin)" EIO write "$V/state" start
check "error says possible MITM" grep -q "host key mismatch for u1.vm .*sshd offered .*(possible MITM)" <<<"$(user_read "$V/error")"
check "the pins were left alone" test "$(cat "$KH")" = "$kh_before"
expect_eq "u1 reads error" error "$(user_read "$V/state")"

check "rmdir u1" as_user rmdir "$V"
# rmdir drops the pins on a worker, just after the VM is gone
check "no pin for u1.vm is left" wait_for 60 sh -c "! grep -q '^u1\.vm ' '$KH'"
check "no pin of any of its ports is left" wait_for 60 sh -c "! grep -q '^\[127.0.0.1\]:' '$KH'"
# a boot that failed on a new port kept the port before it in the record:
# rmdir dropped that pin too
check "no pin for the port before the failed boot is left" sh -c "! grep -q '^\[127.0.0.1\]:$port3 ' '$KH'"
kill -TERM "$DAEMON_PID" 2>/dev/null
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=""
check "the daemon unmounted" sh -c "! grep -q ' $MNT fuse' /proc/mounts"
finish
