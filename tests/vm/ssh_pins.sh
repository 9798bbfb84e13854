#!/bin/bash
# Bridge mode, DNS and host-key pinning with real guests, all inside this
# test's own network namespace (lib.sh): pin on first use over the agent
# channel, OpenSSH's own client with strict checking, a matching key on the
# next start, both kinds of mismatch ("possible MITM"), rmdir unpins, a new
# VM with the same name and address re-pins, the user's known_hosts is never
# touched, DNS answers, re-adoption re-attaches the tap, and the bridge, taps
# and NAT rules are gone once the daemon stops.
. "$(dirname "$0")/../lib.sh"
export BANGER_NAT=true # only inside this namespace, which has no way out
banger_setup real
# the user's own ssh files, which banger must never read or write
stop_daemon
mkdir -p "$T/userhome/.ssh"
echo "example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl" \
	>"$T/userhome/.ssh/known_hosts"
export HOME=$T/userhome
start_daemon

KH=$T/home/state/ssh/known_hosts
KEY=$T/home/config/ssh/id_ed25519
USER_KH=$HOME/.ssh/known_hosts
user_kh_sum=$(sha256sum <"$USER_KH")

gssh() { pinned_ssh "$@"; }
hello_key() { # VM: the ed25519 key of the last hello in its logs
	grep -o 'hostkey=ssh-ed25519:[^ ]*' "$MNT/vms/$1/logs" | tail -n 1 | cut -d: -f2
}

# ---- first start: pinned from the agent's hello, before any ssh contact
V=$MNT/vms/p1
check "mkdir p1" mkdir "$V"
expect_eq "p1 has the first pool address" 172.16.0.2 "$(cat "$V/ip")"
expect_errno "start p1 (returns once ssh answers with the pinned key)" OK write "$V/state" start
expect_eq "p1 is running" running "$(cat "$V/state")"
check "logs: pinned from the agent" grep -q "ssh ready with the pinned host key (agent pin" "$V/logs"
key=$(hello_key p1)
check "the hello carried the full host key" test -n "$key"
expect_eq "p1's known_hosts: NAME.vm and its address, with the agent's key" \
	"p1.vm ssh-ed25519 $key
172.16.0.2 ssh-ed25519 $key" "$(cat "$V/known_hosts")"
expect_eq "top-level known_hosts shows the same lines" "$(cat "$V/known_hosts")" "$(cat "$MNT/known_hosts")"
expect_eq "the real file is the same" "$(cat "$V/known_hosts")" "$(cat "$KH")"
expect_eq "pins file is 0600" 600 "$(stat -c %a "$KH")"
expect_eq "its directory is 0700" 700 "$(stat -c %a "$(dirname "$KH")")"

expect_eq "OpenSSH (StrictHostKeyChecking=yes, banger's known_hosts) runs a command" \
	"hello from p1" "$(gssh 172.16.0.2 'echo hello from $(hostname)')"
expect_eq "ssh -F vms/p1/ssh_config p1.vm works too" "p1" \
	"$(ssh -F "$V/ssh_config" -o BatchMode=yes p1.vm hostname 2>>"$T/ssh.err")"
check "ssh_config checks strictly against banger's file" grep -q "StrictHostKeyChecking yes" "$V/ssh_config"
check "ssh_config never disables checking" sh -c "! grep -Eqi 'StrictHostKeyChecking (no|accept-new)|/dev/null' '$V/ssh_config'"
check "password logins are refused" sh -c "! ssh -F none -o BatchMode=yes -o PubkeyAuthentication=no \
	-o StrictHostKeyChecking=yes -o UserKnownHostsFile='$KH' root@172.16.0.2 true 2>/dev/null"
check "state/ssh/config has p1's Host block" grep -q "^Host p1.vm" "$T/home/state/ssh/config"
expect_eq "authorized_keys as sshd's StrictModes wants: /root/.ssh 700, file 600, root-owned" \
	"700 0:0 600 0:0" "$(gssh 172.16.0.2 'stat -c "%a %u:%g" /root/.ssh /root/.ssh/authorized_keys' | tr '\n' ' ' | sed 's/ $//')"
check "authorized_keys holds banger's public key" grep -qF "$(cut -d' ' -f1,2 "$KEY.pub")" \
	<<<"$(gssh 172.16.0.2 cat /root/.ssh/authorized_keys)"

# ---- DNS on the bridge address
expect_eq "dig p1.vm" 172.16.0.2 "$(dig +short +tries=3 +time=5 @172.16.0.1 p1.vm)"
expect_eq "dig P1.VM (case-insensitive)" 172.16.0.2 "$(dig +short +tries=3 +time=5 @172.16.0.1 P1.VM)"
check "AAAA of a known name: NOERROR, no answer" sh -c \
	"dig +tries=3 +time=5 @172.16.0.1 p1.vm AAAA | grep -q 'status: NOERROR.*' && \
	 dig +tries=3 +time=5 @172.16.0.1 p1.vm AAAA | grep -q 'ANSWER: 0'"
check "unknown name: NXDOMAIN" sh -c "dig +tries=3 +time=5 @172.16.0.1 nope.vm | grep -q 'status: NXDOMAIN'"
check "outside .vm: REFUSED" sh -c "dig +tries=3 +time=5 @172.16.0.1 example.com | grep -q 'status: REFUSED'"
python3 - <<'EOF'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for junk in (b"", b"\x00", b"\xff" * 12, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01", bytes(range(256)) * 2):
    s.sendto(junk, ("172.16.0.1", 53))
EOF
expect_eq "after malformed packets, DNS still answers" 172.16.0.2 "$(dig +short +tries=3 +time=5 @172.16.0.1 p1.vm)"
expect_eq "the guest's resolv.conf points at the gateway" "nameserver 172.16.0.1" "$(gssh 172.16.0.2 cat /etc/resolv.conf)"
expect_eq "the guest reaches the gateway's DNS: nslookup p1.vm" 172.16.0.2 \
	"$(gssh 172.16.0.2 "nslookup p1.vm 172.16.0.1 | awk '/^Address/ { a = \$NF } END { print a }'")"

# ---- second start: the same key is accepted
expect_errno "stop p1" OK write "$V/state" stop
kh_before=$(cat "$KH")
expect_errno "start p1 again: the pinned key matches" OK write "$V/state" start
expect_eq "the pins did not change" "$kh_before" "$(cat "$KH")"

# ---- NAT rules exist while the daemon runs (inside this namespace)
check "nft table banger_banger0 exists" sh -c "nft list tables | grep -q 'banger_banger0'"
expect_eq "ip_forward is on" 1 "$(cat /proc/sys/net/ipv4/ip_forward)"

# ---- re-adoption: the daemon goes away and comes back
stop_daemon
check "the bridge is gone after the daemon stops" sh -c "! ip link show banger0 2>/dev/null"
check "the NAT table is gone" sh -c "! nft list tables | grep -q banger_"
expect_eq "ip_forward is restored" 0 "$(cat /proc/sys/net/ipv4/ip_forward)"
check "the running guest's tap is left detached" sh -c "ip -o link show bgr1 >/dev/null && ! ip -o link show bgr1 | grep -q master"
start_daemon
check "re-adopted: p1 still running" wait_for 60 grep -qx running "$V/state"
check "its tap is back on the bridge" wait_for 30 sh -c "ip -o link show bgr1 | grep -q 'master banger0'"
expect_eq "ssh works again after re-adoption" "p1" "$(gssh 172.16.0.2 hostname)"

# ---- mismatch at the agent: the guest's host key is replaced
gssh 172.16.0.2 'rm -f /etc/dropbear/dropbear_ed25519_host_key /etc/dropbear/dropbear_ed25519_host_key.pub; sync'
expect_errno "stop p1" OK write "$V/state" stop
expect_errno "start with a replaced host key: EIO" EIO write "$V/state" start
expect_eq "state reads error" error "$(cat "$V/state")"
check "error says possible MITM" grep -q "possible MITM" "$V/error"
check "error shows both fingerprints" test "$(grep -o 'SHA256:[A-Za-z0-9+/]*' "$V/error" | sort -u | wc -l)" -eq 2
check "logs say it too" grep -q "possible MITM" "$V/logs"
expect_eq "error is one line" 1 "$(wc -l <"$V/error")"
expect_eq "the pins were left alone" "$kh_before" "$(cat "$KH")"
check "the hypervisor was stopped" wait_for 30 sh -c "test -z \"\$(cat '$V/pid')\""

# ---- mismatch at sshd: the agent reports the pinned key, sshd shows another
V2=$MNT/vms/p2
check "mkdir p2" mkdir "$V2"
expect_errno "start p2" OK write "$V2/state" start
p2_pins=$(cat "$V2/known_hosts")
expect_eq "p2 has the next address" 172.16.0.3 "$(cat "$V2/ip")"
gssh 172.16.0.3 'dropbearkey -t ed25519 -f /tmp/k >/dev/null && cat /tmp/k >/etc/dropbear/dropbear_ed25519_host_key && sync'
expect_errno "stop p2" OK write "$V2/state" stop
expect_errno "start p2 with sshd on another key: EIO" EIO write "$V2/state" start
check "error says possible MITM (sshd)" grep -q "sshd offered .* (possible MITM)" "$V2/error"
expect_eq "p2's pins were left alone" "$p2_pins" "$(cat "$V2/known_hosts")"

# ---- rmdir unpins; a new VM with the same name and address re-pins cleanly
check "rmdir p1" rmdir "$V"
check "no line for p1.vm or its address is left (dropped on a worker)" wait_for 60 sh -c "! grep -Eq '^(p1\.vm|172\.16\.0\.2) ' '$KH'"
check "p2's lines are still there" grep -q "^p2.vm " "$KH"
check "dig p1.vm: NXDOMAIN after rmdir" sh -c "dig +tries=3 +time=5 @172.16.0.1 p1.vm | grep -q 'status: NXDOMAIN'"
check "mkdir p1 again" mkdir "$V"
expect_eq "it gets the freed address back" 172.16.0.2 "$(cat "$V/ip")"
expect_errno "the new p1 starts (re-pinned, no MITM alarm)" OK write "$V/state" start
new_key=$(hello_key p1)
check "the new guest has a new key" test -n "$new_key" -a "$new_key" != "$key"
check "pinned: the new key for p1.vm" grep -qx "p1.vm ssh-ed25519 $new_key" "$KH"
expect_eq "OpenSSH reaches the new p1" p1 "$(gssh 172.16.0.2 hostname)"

# ---- TOFU, only for a guest whose agent reports no host keys: the key sshd
# shows on first contact is pinned, and later starts are strict again
# a .pub the agent cannot read (init would regenerate a missing one)
gssh 172.16.0.2 'echo not-a-key >/etc/dropbear/dropbear_ed25519_host_key.pub; sync'
expect_errno "stop p1" OK write "$V/state" stop
python3 - "$KH" <<'PYX'
import sys
path = sys.argv[1]
lines = [l for l in open(path) if not l.startswith(("p1.vm ", "172.16.0.2 "))]
open(path, "w").writelines(lines)
PYX
check "p1 has no pins now" test -z "$(cat "$V/known_hosts")"
expect_errno "start p1 with an agent that reports no host keys" OK write "$V/state" start
check "logs say it trusted the first key (TOFU)" grep -q "reported no ssh host keys: trusting the first key" "$V/logs"
check "logs: tofu pin" grep -q "pinned host key (tofu pin" "$V/logs"
check "pinned the key sshd serves (the same as before)" grep -qx "p1.vm ssh-ed25519 $new_key" "$KH"
expect_eq "OpenSSH works with the TOFU pin" p1 "$(gssh 172.16.0.2 hostname)"
expect_errno "stop p1" OK write "$V/state" stop
expect_errno "the next start checks the pin strictly and passes" OK write "$V/state" start

# ---- the user's own ssh files
expect_eq "~/.ssh/known_hosts is byte-identical" "$user_kh_sum" "$(sha256sum <"$USER_KH")"
check "~/.ssh/config was not created" test ! -e "$HOME/.ssh/config"

# ---- everything goes away with the daemon once the VMs are stopped
check "rmdir p1" rmdir "$V"
check "rmdir p2" rmdir "$V2"
stop_daemon
check "no bridge" sh -c "! ip link show banger0 2>/dev/null"
check "no taps" sh -c "! ip -o link | grep -q ' bgr[0-9]'"
check "no NAT table" sh -c "! nft list tables | grep -q banger_"
check "known_hosts holds no pins" test ! -s "$KH"
finish
