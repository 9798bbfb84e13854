#!/bin/bash
# Port forwarding to a real guest (bridge mode, in the test's namespace):
# a TCP forward carries a file one way (busybox httpd) and an echo both
# ways with the half close passed on (busybox nc -e cat); a UDP forward
# carries datagrams both ways (udp_echo, copied in: busybox has no UDP
# nc). The rules survive a restart of the VM; a stopped VM's port is held
# but closes connections. Then the same VM booted in user mode (QEMU's
# slirp): TCP and UDP forwards through QEMU's hostfwd, one added while
# running; both modes through a restart of bangerd with the VM running.
. "$(dirname "$0")/../lib.sh"
banger_setup real

UDP_ECHO=$BUILD/tests/udp_echo
V=$MNT/vms/fw
check "mkdir fw" mkdir "$V"
expect_errno "rules before the first start" OK write "$V/ports" '18000:8000\n18001:8001\nudp 15353:5353'
expect_errno "start fw" OK write "$V/state" start
IP=$(cat "$V/ip")
gssh() { pinned_ssh "$IP" "$@"; }
all_active() { [ "$(grep -c ' active$' "$V/ports")" = "$1" ]; }
check "every rule reads active" all_active 3

# the guest's servers: httpd serves a 2 MiB file, nc echoes, udp_echo answers
head -c 2097152 /dev/urandom >"$T/blob"
# serve_all: (re)starts the three servers in the guest
serve_all() {
	gssh 'mkdir -p /tmp/www && cat >/tmp/www/blob' <"$T/blob" &&
		gssh 'cat >/tmp/udp_echo && chmod +x /tmp/udp_echo' <"$UDP_ECHO" &&
		gssh 'httpd -p 8000 -h /tmp/www; setsid nc -ll -p 8001 -e /bin/cat </dev/null >/dev/null 2>&1 &
		      setsid /tmp/udp_echo 5353 </dev/null >/dev/null 2>&1 & echo started'
}
expect_eq "the guest's servers start" started "$(serve_all)"
guest_listens() { gssh "netstat -ltn | grep -q ':$1 '"; }
check "httpd and nc listen in the guest" wait_for 60 sh -c "$(declare -f gssh pinned_ssh guest_listens); T=$T IP=$IP; guest_listens 8000 && guest_listens 8001"

# fetch PORT PATH: the body of an HTTP GET through the forward
fetch() {
	python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 30)
s.settimeout(60)
s.sendall(b"GET %s HTTP/1.0\r\nHost: x\r\n\r\n" % sys.argv[2].encode())
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
sys.stdout.buffer.write(data.split(b"\r\n\r\n", 1)[1])
PY
}
# echo_tcp PORT: sends 300 KB, closes its sending half, reads the echo back
echo_tcp() {
	python3 - "$1" <<'PY'
import os, socket, sys, threading
payload = os.urandom(300000)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 30)
s.settimeout(60)
got = []
def reader():
    while True:
        b = s.recv(65536)
        if not b:
            return
        got.append(b)
t = threading.Thread(target=reader)
t.start()
s.sendall(payload)
s.shutdown(socket.SHUT_WR)
t.join(90)
print("same" if b"".join(got) == payload else "differs (%d of %d bytes)" % (len(b"".join(got)), len(payload)))
PY
}
# echo_udp PORT: one datagram there and back (a few tries: the first may
# race the responder's start)
echo_udp() {
	python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for _ in range(30):
    s.sendto(b"ping-5353", ("127.0.0.1", int(sys.argv[1])))
    try:
        print(s.recv(100).decode())
        break
    except socket.timeout:
        pass
PY
}
expect_eq "TCP: a 2 MiB file comes through the forward intact" "$(sha256sum <"$T/blob")" "$(fetch 18000 /blob | sha256sum)"
expect_eq "TCP: 300 KB echoed both ways, the half close passed on" same "$(echo_tcp 18001)"
expect_eq "UDP: a datagram there and its answer back" "echo:ping-5353" "$(echo_udp 15353)"
expect_eq "UDP: a second client gets its own answer" "echo:ping-5353" "$(echo_udp 15353)"
check "the rules are bangerd's sockets on the host's loopback" sh -c "ss -Hltnp 'sport = :18000' | grep -q 'bangerd'"

# a restart of bangerd while the VM runs: the rules are bound again
stop_daemon
start_daemon
check "after a restart of bangerd the rules read active" wait_for 60 all_active 3
expect_eq "TCP through the re-adopted VM" "$(sha256sum <"$T/blob")" "$(fetch 18000 /blob | sha256sum)"

# the rules survive a restart of the VM
expect_errno "restart fw" OK write "$V/state" restart
check "every rule reads active again" all_active 3
expect_eq "the servers start again" started "$(serve_all)"
check "httpd listens again" wait_for 60 sh -c "$(declare -f gssh pinned_ssh guest_listens); T=$T IP=$IP; guest_listens 8000"
expect_eq "TCP after the restart" "$(sha256sum <"$T/blob")" "$(fetch 18000 /blob | sha256sum)"
expect_eq "UDP after the restart" "echo:ping-5353" "$(echo_udp 15353)"

# stopped: the port stays held and a connection is closed at once
expect_errno "stop fw" OK write "$V/state" stop
check "the rules read waiting (vm stopped)" sh -c "[ \$(grep -c 'waiting (vm stopped)\$' '$V/ports') = 3 ]"
check "18000 is still held by bangerd" sh -c "ss -Hltn 'sport = :18000' | grep -q ."
expect_eq "a connection gets EOF at once, no data" "" "$(fetch 18000 /blob 2>/dev/null | head -c 10)"

# user mode: QEMU forwards a port of its own, bangerd relays to it. With
# nat = false QEMU's restrict=on drops every UDP datagram of the guest, the
# answers too; NAT on (the namespace has no way out) lets them through.
stop_daemon
export BANGER_NETWORK=user BANGER_NAT=true
start_daemon
check "config says user mode" grep -q '^network = user' "$MNT/config"
expect_errno "start fw in user mode" OK write "$V/state" start
check "the rules read active through QEMU's forwards" wait_for 60 all_active 3
PORT=$(awk '$1 == "Port" { print $2 }' "$V/ssh_config")
gssh() { pinned_ssh 127.0.0.1 -p "$PORT" "$@"; }
expect_eq "the servers start in user mode" started "$(serve_all)"
check "httpd listens" wait_for 60 sh -c "$(declare -f gssh pinned_ssh guest_listens); T=$T PORT=$PORT; guest_listens 8000"
expect_eq "user mode TCP: the file comes through" "$(sha256sum <"$T/blob")" "$(fetch 18000 /blob | sha256sum)"
expect_errno "user mode: a rule added while running" OK write "$V/ports" '18002:8001'
check "it becomes active" wait_for 60 sh -c "grep -q '^tcp 127.0.0.1:18002 -> 8001 active\$' '$V/ports'"
expect_eq "user mode TCP: the echo through the new rule" same "$(echo_tcp 18002)"
expect_eq "user mode UDP" "echo:ping-5353" "$(echo_udp 15353)"
stop_daemon
start_daemon
check "user mode, bangerd restarted: QEMU's side is set up again" wait_for 60 all_active 4
expect_eq "user mode TCP after the restart of bangerd" same "$(echo_tcp 18002)"
check "logs name QEMU's side" grep -q "ports: tcp 127.0.0.1:18002 -> 8001 active (QEMU forwards 127.0.0.1:" "$V/logs"
expect_errno "remove 18002 while running" OK write "$V/ports" '-18002'
check "18002 is free" sh -c "! ss -Hltn 'sport = :18002' | grep -q ."
expect_errno "kill fw" OK write "$V/state" kill
check "rmdir fw" rmdir "$V"
finish
