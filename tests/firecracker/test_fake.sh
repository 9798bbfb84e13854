#!/bin/bash
# Tests the fake Firecracker (tests/firecracker/fake-firecracker) that the
# Firecracker driver's tests run against: its REST API over the unix socket
# (with curl --unix-socket), the rules it enforces, its fake guest's serial
# console and the hybrid vsock with the fake banger agent behind it.
# shellcheck disable=SC2317,SC2016  # functions called via trap/check; backticks in fault messages
# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

HERE=$REPO/tests/firecracker
FAKE=$HERE/fake-firecracker
PY=/usr/bin/python3
spec() { "$PY" "$HERE/fc_spec.py" "$@"; }

if ! command -v curl >/dev/null; then
	echo "1..0 # SKIP curl is missing (tools/setup installs it)"
	exit 0
fi
if ! $PY -c 'import yaml' 2>/dev/null; then
	echo "1..0 # SKIP python3-yaml is missing (tools/setup installs it)"
	exit 0
fi

W=$(mktemp -d /tmp/fake-fc-test.XXXXXX)
FAKE_PIDS=""
cleanup_fake() {
	local pid
	for pid in $FAKE_PIDS; do kill -KILL "$pid" 2>/dev/null; done
	wait 2>/dev/null
	if [ -z "${KEEP_TEST_DIR:-}" ]; then rm -rf "$W"; else log "kept $W"; fi
}
trap cleanup_fake EXIT
trap 'exit 130' INT TERM

# start_fake NAME [VAR=VALUE...]: runs the fake with its API socket at
# $W/NAME.sock, stdout (the serial console) in $W/NAME.out, stderr in
# $W/NAME.err and its request record in $W/NAME.rec; sets FPID.
start_fake() {
	local name=$1
	shift
	env "$@" FAKE_FC_RECORD="$W/$name.rec" "$FAKE" --api-sock "$W/$name.sock" --id "$name" \
		>"$W/$name.out" 2>"$W/$name.err" </dev/null &
	FPID=$!
	FAKE_PIDS="$FAKE_PIDS $FPID"
	wait_for 30 test -S "$W/$name.sock"
}

# api NAME METHOD PATH [BODY]: prints "STATUS RESPONSE-BODY".
api() {
	local args=(-s -o "$W/resp" -w '%{http_code}' --unix-socket "$W/$1.sock" -X "$2")
	[ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
	: >"$W/resp"
	local code
	code=$(curl "${args[@]}" "http://localhost$3")
	printf '%s %s' "$code" "$(cat "$W/resp")"
}

# expect_api DESC WANT-STATUS WANT-SUBSTRING NAME METHOD PATH [BODY]
expect_api() {
	local desc=$1 status=$2 want=$3 got
	shift 3
	got=$(api "$@")
	if [ "${got%% *}" = "$status" ] && [[ $got == *"$want"* ]]; then
		ok "$desc"
	else
		fail "$desc (expected $status with '$want', got '$got')"
	fi
}

# vsock UDS LINE...: connects to the hybrid vsock socket, sends each LINE
# and prints the line received after it ("EOF" when the peer closed). After
# an "OK <port>" reply it also prints the line the agent sends unasked. A
# LINE starting with '!' is sent (without the '!') with no reply awaited.
vsock() {
	$PY - "$@" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rb")
def line():
    try:
        l = f.readline()
    except OSError:
        l = b""
    return l.decode().rstrip("\n") if l.endswith(b"\n") else "EOF"
for out in sys.argv[2:]:
    try:
        s.sendall(out.lstrip("!").encode() + b"\n")
    except OSError:
        print("EOF"); break
    if out.startswith("!"):
        continue
    got = line()
    print(got)
    if got == "EOF":
        break
    if got.startswith("OK "):
        print(line())
EOF
}

# reap PID: waits for the fake (a child of this shell, so not in a $(...)
# subshell) and sets RC to its exit status.
reap() {
	RC=0
	wait "$1" 2>/dev/null || RC=$?
}

mkdir -p "$W/img"
printf '\177ELF fake vmlinux' >"$W/img/vmlinux"
echo "initrd" >"$W/img/initrd"
truncate -s 16M "$W/img/rootfs.ext4" "$W/img/work.ext4"
: >"$W/fc.log"
: >"$W/fc.metrics"
K=$W/img/vmlinux

# -- the spec validator on its own --------------------------------------------------------
check "fc_spec: a valid boot-source body" spec validate PUT /boot-source '{"kernel_image_path":"/k","boot_args":"console=ttyS0"}'
got=$(spec validate PUT /machine-config '{"vcpu_count":"2","mem_size_mib":128}')
expect_eq "fc_spec: exit 1 and the field named for a wrong type" \
	'An error occurred when deserializing the json body of a request: invalid type for `vcpu_count`: expected integer, got string "2".' "$got"
check "fc_spec: logger level is case-insensitive (Off is a string, not YAML's false)" \
	spec validate PUT /logger '{"log_path":"/l","level":"off"}'
check "fc_spec: unknown fields pass without --strict (no additionalProperties in the spec)" \
	spec validate PUT /vsock '{"guest_cid":3,"uds_path":"/v","bogus":1}'
got=$(spec validate --strict PUT /vsock '{"guest_cid":3,"uds_path":"/v","bogus":1}')
check "fc_spec: --strict names the unknown field" grep -q 'unknown field `bogus`' <<<"$got"
got=$(spec validate PUT /drives/rootfs '{"drive_id":"rootfs","is_root_device":true,"rate_limiter":{"ops":{"size":1}}}')
check "fc_spec: nested required fields are named with their path" grep -q 'missing field `rate_limiter.ops.refill_time`' <<<"$got"
spec validate GET /nope >/dev/null
expect_eq "fc_spec: an unknown path is invalid (exit 1)" 1 "$?"

# -- startup ----------------------------------------------------------------------------
: >"$W/stale.sock"
"$FAKE" --api-sock "$W/stale.sock" >"$W/stale.out" 2>"$W/stale.err" </dev/null
expect_eq "an existing API socket path is refused (exit 1)" 1 "$?"
check "... with Firecracker's message" grep -q "Failed to open the API socket at: $W/stale.sock" "$W/stale.err"

check "the fake starts and binds its API socket" start_fake vm
VM=$FPID
expect_api "GET / before boot: Not started" 200 '"state": "Not started"' vm GET /
got=$(api vm GET /)
check "GET / names the instance, app and version" grep -q '"id": "vm".*"vmm_version": "1.16.1-fake".*"app_name": "Firecracker"' <<<"$got"
expect_api "GET /version" 200 '"firecracker_version": "1.16.1-fake"' vm GET /version
expect_api "an unknown path: 400" 400 'Invalid request method and/or path: GET /nope.' vm GET /nope
expect_api "a method the path lacks: 400" 400 'Invalid request method and/or path: PATCH /boot-source.' vm PATCH /boot-source '{}'
expect_api "PUT without a body: 400" 400 'Empty PUT request.' vm PUT /actions

# -- configuration, with the errors on the way ----------------------------------------------------
expect_api "logger: a log_path that does not exist: 400" 400 'No such file or directory' \
	vm PUT /logger "{\"log_path\":\"$W/missing.log\",\"level\":\"Info\"}"
expect_api "logger: set" 204 '' vm PUT /logger "{\"log_path\":\"$W/fc.log\",\"level\":\"Info\",\"show_level\":true,\"show_log_origin\":false}"
expect_api "logger: only once" 400 'only once' vm PUT /logger "{\"log_path\":\"$W/fc.log\"}"
expect_api "metrics: set" 204 '' vm PUT /metrics "{\"metrics_path\":\"$W/fc.metrics\"}"
expect_api "metrics: only once" 400 'Reinitialization of metrics not allowed' vm PUT /metrics "{\"metrics_path\":\"$W/fc.metrics\"}"
expect_api "machine-config: wrong type names the field" 400 'invalid type for `vcpu_count`: expected integer' \
	vm PUT /machine-config '{"vcpu_count":"2","mem_size_mib":256}'
expect_api "machine-config: vcpu_count 33 > maximum" 400 '`vcpu_count`: 33 is more than the maximum 32' \
	vm PUT /machine-config '{"vcpu_count":33,"mem_size_mib":256}'
expect_api "machine-config: vcpu_count 0 < minimum" 400 '`vcpu_count`: 0 is less than the minimum 1' \
	vm PUT /machine-config '{"vcpu_count":0,"mem_size_mib":256}'
expect_api "machine-config: missing required field" 400 'missing field `mem_size_mib`' \
	vm PUT /machine-config '{"vcpu_count":2}'
expect_api "machine-config: enum violation" 400 'unknown variant `1G` for `huge_pages`' \
	vm PUT /machine-config '{"vcpu_count":2,"mem_size_mib":256,"huge_pages":"1G"}'
expect_api "machine-config: set" 204 '' vm PUT /machine-config '{"vcpu_count":2,"mem_size_mib":256,"smt":false}'
expect_api "GET /machine-config" 200 '"vcpu_count": 2, "mem_size_mib": 256' vm GET /machine-config
expect_api "boot-source: missing kernel_image_path" 400 'missing field `kernel_image_path`' \
	vm PUT /boot-source '{"boot_args":"console=ttyS0"}'
expect_api "boot-source: a kernel that does not exist" 400 'The kernel file cannot be opened' \
	vm PUT /boot-source "{\"kernel_image_path\":\"$W/img/nope\",\"boot_args\":\"console=ttyS0\"}"
expect_api "boot-source: set" 204 '' vm PUT /boot-source \
	"{\"kernel_image_path\":\"$K\",\"initrd_path\":\"$W/img/initrd\",\"boot_args\":\"console=ttyS0 reboot=k panic=1\"}"
expect_api "drives: URL id differs from drive_id" 400 'The id from the path does not match the id from the body!' \
	vm PUT /drives/rootfs "{\"drive_id\":\"other\",\"path_on_host\":\"$W/img/rootfs.ext4\",\"is_root_device\":true,\"is_read_only\":false}"
expect_api "drives: an id with a dash" 400 'API Resource IDs can only contain alphanumeric characters and underscores.' \
	vm PUT /drives/root-fs "{\"drive_id\":\"root-fs\",\"path_on_host\":\"$W/img/rootfs.ext4\",\"is_root_device\":true}"
expect_api "drives: wrong type (is_root_device as a string)" 400 'invalid type for `is_root_device`: expected boolean' \
	vm PUT /drives/rootfs "{\"drive_id\":\"rootfs\",\"path_on_host\":\"$W/img/rootfs.ext4\",\"is_root_device\":\"yes\"}"
expect_api "drives: rootfs" 204 '' vm PUT /drives/rootfs \
	"{\"drive_id\":\"rootfs\",\"path_on_host\":\"$W/img/rootfs.ext4\",\"is_root_device\":true,\"is_read_only\":false}"
expect_api "drives: a second root device" 400 'A root block device already exists!' vm PUT /drives/work \
	"{\"drive_id\":\"work\",\"path_on_host\":\"$W/img/work.ext4\",\"is_root_device\":true,\"is_read_only\":false}"
expect_api "drives: work" 204 '' vm PUT /drives/work \
	"{\"drive_id\":\"work\",\"path_on_host\":\"$W/img/work.ext4\",\"is_root_device\":false,\"is_read_only\":false}"
expect_api "network-interfaces: URL id differs from iface_id" 400 'does not match' vm PUT /network-interfaces/eth0 \
	'{"iface_id":"eth1","host_dev_name":"tap0","guest_mac":"06:00:AC:10:00:02"}'
expect_api "network-interfaces: eth0" 204 '' vm PUT /network-interfaces/eth0 \
	'{"iface_id":"eth0","host_dev_name":"tap0","guest_mac":"06:00:AC:10:00:02"}'
expect_api "vsock: guest_cid below 3" 400 '`guest_cid`: 2 is less than the minimum 3' vm PUT /vsock \
	"{\"guest_cid\":2,\"uds_path\":\"$W/v.sock\"}"
expect_api "vsock: uds_path exists already" 400 'Address in use' vm PUT /vsock "{\"guest_cid\":3,\"uds_path\":\"$K\"}"
expect_api "vsock: set" 204 '' vm PUT /vsock "{\"guest_cid\":3,\"uds_path\":\"$W/v.sock\"}"
check "vsock: uds_path is bound at once" test -S "$W/v.sock"
expect_api "actions: enum violation" 400 'unknown variant `Boot` for `action_type`' vm PUT /actions '{"action_type":"Boot"}'
expect_api "SendCtrlAltDel before boot: 400" 400 'not supported before starting the microVM' \
	vm PUT /actions '{"action_type":"SendCtrlAltDel"}'
expect_api "a body over 51200 bytes: 413" 413 'is larger than the limit of 51200' \
	vm PUT /mmds "{\"x\":\"$(head -c 52000 /dev/zero | tr '\0' a)\"}"
expect_eq "vsock before boot: CONNECT is closed" EOF "$(vsock "$W/v.sock" 'CONNECT 1024')"
# before /logger, Firecracker logs (WARN and up) to stdout, the console's stream
check "before /logger, errors are logged to stdout" grep -q '^[0-9T:.-]* \[vm:fc_api\] Received Error. Status code: 400 Bad Request. Message: Logger error' "$W/vm.out"
check "no console output before boot" sh -c "! grep -v '^[0-9T:.-]* \[vm:' '$W/vm.out'"

# -- boot ----------------------------------------------------------------------------------
expect_api "InstanceStart" 204 '' vm PUT /actions '{"action_type":"InstanceStart"}'
expect_api "GET / after boot: Running" 200 '"state": "Running"' vm GET /
expect_api "InstanceStart twice: 400" 400 'The requested operation is not supported after starting the microVM.' \
	vm PUT /actions '{"action_type":"InstanceStart"}'
expect_api "machine-config after boot: 400" 400 'The requested operation is not supported after starting the microVM.' \
	vm PUT /machine-config '{"vcpu_count":1,"mem_size_mib":128}'
expect_api "drives after boot: 400" 400 'not supported after starting the microVM' vm PUT /drives/rootfs \
	"{\"drive_id\":\"rootfs\",\"path_on_host\":\"$W/img/rootfs.ext4\",\"is_root_device\":true}"
expect_api "logger after boot: 400" 400 'not supported after starting the microVM' vm PUT /logger "{\"log_path\":\"$W/fc.log\"}"
expect_api "PATCH /drives after boot" 204 '' vm PATCH /drives/work "{\"drive_id\":\"work\",\"path_on_host\":\"$W/img/work.ext4\"}"
check "the console shows the kernel booting" grep -q '^\[    0.000000\] Linux version 6.1.0-fake' "$W/vm.out"
check "the kernel command line gets root=/dev/vda rw" grep -q 'Command line: console=ttyS0 reboot=k panic=1 root=/dev/vda rw' "$W/vm.out"
check "the guest gets ready" wait_for 30 grep -q '^banger-init: ready$' "$W/vm.out"

got=$(vsock "$W/v.sock" 'CONNECT 1024' 'ping id=7' 'authorize key=nonsense' \
	'authorize key=ssh-ed25519:AAAAC3NzaC1lZDI1NTE5AAAAIHbt' '!frobnicate x=1' 'ping id=8')
mapfile -t L <<<"$got"
check "vsock: CONNECT 1024 answers OK <port>" grep -qE '^OK [0-9]+$' <<<"${L[0]}"
check "vsock: then the agent's hello" grep -qE '^hello proto=3 agent=0.2.0-fake kernel=6.1.0-fake uptime_ms=[0-9]+$' <<<"${L[1]}"
expect_eq "agent: ping id=7 -> pong id=7" "pong id=7" "${L[2]}"
expect_eq "agent: authorize with a bad key -> fail" "fail verb=authorize reason=invalid-key" "${L[3]}"
expect_eq "agent: authorize -> ack" "ack verb=authorize" "${L[4]}"
expect_eq "agent: an unknown verb is ignored" "pong id=8" "${L[5]}"
got=$(vsock "$W/v.sock" 'connect 1024')
check "vsock: the CONNECT keyword is case-insensitive" grep -qE '^OK [0-9]+' <<<"$got"
expect_eq "vsock: CONNECT 9999 (nothing listens) is closed" EOF "$(vsock "$W/v.sock" 'CONNECT 9999')"
expect_eq "vsock: garbage instead of CONNECT is closed" EOF "$(vsock "$W/v.sock" 'HELLO')"

expect_api "FlushMetrics" 204 '' vm PUT /actions '{"action_type":"FlushMetrics"}'
check "the metrics file got a JSON line" grep -q '"utc_timestamp_ms"' "$W/fc.metrics"
check "the log has the header" grep -q 'Running Firecracker v1.16.1-fake' "$W/fc.log"
check "the log has the requests, with the level shown" \
	grep -q '\[vm:fc_api:INFO\] The API server received a Put request on "/boot-source" with body' "$W/fc.log"
check "the log has the errors" grep -q 'Received Error. Status code: 400 Bad Request. Message: The id from the path' "$W/fc.log"

# keep-alive: two requests on one connection; Connection: close ends it
got=$($PY - "$W/vm.sock" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(30)
s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
          b"PUT /actions HTTP/1.1\r\nHost: localhost\r\nContent-Length: 31\r\nConnection: close\r\n\r\n"
          b'{"action_type":"FlushMetrics"}\n')
data = b""
while True:
    d = s.recv(65536)
    if not d: break
    data += d
import re
print(" ".join(re.findall(r"HTTP/1.1 ([0-9]+) ", data.decode())), "closed")
EOF
)
expect_eq "keep-alive: two replies on one connection, then close" "200 204 closed" "$got"

SAVED=$(wc -l <"$W/vm.rec")
expect_api "SendCtrlAltDel" 204 '' vm PUT /actions '{"action_type":"SendCtrlAltDel"}'
reap "$VM"
expect_eq "SendCtrlAltDel: the process exits 0" 0 "$RC"
check "... after the guest said it reboots" grep -q 'reboot: Restarting system' "$W/vm.out"

# the record: every request, in order, with its body and status
got=$($PY - "$W/vm.rec" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ok = [r["path"] for r in recs if r["status"] in (200, 204) and r["method"] == "PUT"]
print(" ".join(ok[:8]))
bs = [r for r in recs if r["path"] == "/boot-source" and r["status"] == 204][0]["body"]
print(bs["boot_args"], len(recs), recs[-1]["body"]["action_type"], recs[-1]["status"])
EOF
)
expect_eq "record: the successful PUTs in order" \
	"/logger /metrics /machine-config /boot-source /drives/rootfs /drives/work /network-interfaces/eth0 /vsock" \
	"$(head -1 <<<"$got")"
expect_eq "record: bodies as sent, every request counted" \
	"console=ttyS0 reboot=k panic=1 $((SAVED + 1)) SendCtrlAltDel 204" "$(tail -1 <<<"$got")"

# -- a bare instance: InstanceStart preconditions, missing boot_args ------------------------------
start_fake bare FAKE_FC_BOOT_DELAY_MS=5000 FAKE_FC_HOSTKEY="ssh-ed25519:AAAA ecdsa-sha2-nistp256:BBBB"
BARE=$FPID
expect_api "InstanceStart without a boot source: 400" 400 'Missing kernel configuration' \
	bare PUT /actions '{"action_type":"InstanceStart"}'
expect_api "boot-source without boot_args is accepted" 204 '' bare PUT /boot-source "{\"kernel_image_path\":\"$K\"}"
check "... with a recorded warning" grep -q '"warnings": \["boot_args missing: the default boot_args disable the serial console' "$W/bare.rec"
expect_api "an unknown field passes (FAKE_FC_STRICT_UNKNOWN unset)" 204 '' bare PUT /vsock \
	"{\"guest_cid\":3,\"uds_path\":\"$W/bare.v\",\"colour\":\"red\"}"
expect_api "InstanceStart without a root drive: 400" 400 'no root block device' bare PUT /actions '{"action_type":"InstanceStart"}'
expect_api "root drive" 204 '' bare PUT /drives/rootfs \
	"{\"drive_id\":\"rootfs\",\"path_on_host\":\"$W/img/rootfs.ext4\",\"is_root_device\":true,\"is_read_only\":true}"
expect_api "InstanceStart" 204 '' bare PUT /actions '{"action_type":"InstanceStart"}'
expect_eq "before FAKE_FC_BOOT_DELAY_MS the agent does not listen" EOF "$(vsock "$W/bare.v" 'CONNECT 1024')"
# after it, it does: try until it answers
for _ in $(seq 300); do
	got=$(vsock "$W/bare.v" 'CONNECT 1024' 'shutdown')
	[ "$got" = EOF ] || break
	sleep 0.1
done
check "FAKE_FC_HOSTKEY: hostkey fields in the hello" \
	grep -qE '^hello proto=3 .* hostkey=ssh-ed25519:AAAA hostkey=ecdsa-sha2-nistp256:BBBB$' <<<"$got"
expect_eq "agent: shutdown -> ack" "ack verb=shutdown" "$(tail -1 <<<"$got")"
reap "$BARE"
expect_eq "agent shutdown: the process exits 0" 0 "$RC"
check "default boot_args: the serial console stays silent" sh -c "! grep -v '^[0-9T:.-]* \[bare:' '$W/bare.out'"

# -- strict unknown fields; halt on power-off; SIGTERM ----------------------------------------------
mkfifo "$W/halt.fifo"
exec 7<>"$W/halt.fifo"
FAKE_FC_RECORD="$W/halt.rec" FAKE_FC_STRICT_UNKNOWN=1 FAKE_FC_POWEROFF=halt FAKE_FC_BOOT_DELAY_MS=100 \
	"$FAKE" --api-sock "$W/halt.sock" --id halt >"$W/halt.out" 2>"$W/halt.err" <&7 &
HALT=$!
FAKE_PIDS="$FAKE_PIDS $HALT"
check "a fake with a FIFO on stdin starts" wait_for 30 test -S "$W/halt.sock"
expect_api "FAKE_FC_STRICT_UNKNOWN=1: an unknown field is refused" 400 'unknown field `colour`' halt PUT /vsock \
	"{\"guest_cid\":3,\"uds_path\":\"$W/halt.v\",\"colour\":\"red\"}"
expect_api "vsock" 204 '' halt PUT /vsock "{\"guest_cid\":3,\"uds_path\":\"$W/halt.v\"}"
expect_api "boot-source" 204 '' halt PUT /boot-source "{\"kernel_image_path\":\"$K\",\"boot_args\":\"console=ttyS0,115200\"}"
expect_api "root drive" 204 '' halt PUT /drives/root "{\"drive_id\":\"root\",\"path_on_host\":\"$W/img/rootfs.ext4\",\"is_root_device\":true}"
echo "typed before boot" >&7
expect_api "InstanceStart" 204 '' halt PUT /actions '{"action_type":"InstanceStart"}'
check "console input typed before boot is echoed once ready" wait_for 30 grep -qx 'typed before boot' "$W/halt.out"
echo "echo hi" >&7
check "console input after boot is echoed" wait_for 30 grep -qx 'echo hi' "$W/halt.out"
got=$(vsock "$W/halt.v" 'CONNECT 1024' 'shutdown')
expect_eq "FAKE_FC_POWEROFF=halt: shutdown -> ack" "ack verb=shutdown" "$(tail -1 <<<"$got")"
check "... the guest halts" wait_for 30 grep -q 'reboot: System halted' "$W/halt.out"
check "... but the process keeps running" test -d "/proc/$HALT"
expect_api "... and says Running" 200 '"state": "Running"' halt GET /
expect_eq "... with nothing listening on the vsock" EOF "$(vsock "$W/halt.v" 'CONNECT 1024')"
kill -TERM "$HALT"
reap "$HALT"
expect_eq "SIGTERM ends the process" 143 "$RC"
exec 7>&-
check "the stale API socket stays behind, as with Firecracker" test -S "$W/halt.sock"

# -- FAKE_FC_OPEN_TAP: the tap is opened as Firecracker opens it (no
# multi-queue), so it is held by one process only: two clones of one
# template need a tap each (network_overrides on /snapshot/load) ----------
ip tuntap add dev fctap0 mode tap
start_fake tapa FAKE_FC_OPEN_TAP=1
TAPA=$FPID
expect_api "FAKE_FC_OPEN_TAP: a missing tap is refused" 400 'no tap nosuch0' tapa PUT /network-interfaces/eth0 \
	'{"iface_id":"eth0","host_dev_name":"nosuch0"}'
expect_api "an existing tap opens" 204 '' tapa PUT /network-interfaces/eth0 '{"iface_id":"eth0","host_dev_name":"fctap0"}'
check "... and the process holds it" sh -c "grep -q 'iff:[[:space:]]*fctap0' /proc/$TAPA/fdinfo/*"
start_fake tapb FAKE_FC_OPEN_TAP=1
expect_api "another process cannot open it" 400 'Device or resource busy' tapb PUT /network-interfaces/eth0 \
	'{"iface_id":"eth0","host_dev_name":"fctap0"}'
kill -KILL "$TAPA"
reap "$TAPA"
expect_api "once the first is gone, it can" 204 '' tapb PUT /network-interfaces/eth0 \
	'{"iface_id":"eth0","host_dev_name":"fctap0"}'

finish
