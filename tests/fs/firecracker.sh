#!/bin/bash
# The Firecracker driver against tests/firecracker/fake-firecracker, a
# stand-in that serves the API socket with the spec's rules (pre-boot only,
# InstanceStart once, stale socket refused, bodies validated against the
# spec) and plays the guest (console on stdout, the agent over hybrid
# vsock). Firecracker itself is not in Debian 12 and cannot run here.
. "$(dirname "$0")/../lib.sh"
FAKE=$REPO/tests/firecracker/fake-firecracker
SPEC=$REPO/tests/firecracker/fc_spec.py
banger_setup fake
stop_daemon
echo "not a real vmlinux" >"$T/home/state/kernels/tiny/vmlinux"
sed -i '1i vmm = "firecracker"\nfirecracker_bin = "'"$FAKE"'"\nnetwork = "none"\nsnapshots = "off"' "$T/home/config/config.toml"  # firecracker_snapshots.sh has them
export FAKE_FC_RECORD=$T/fc-requests.jsonl FAKE_FC_STRICT_UNKNOWN=1 FAKE_FC_STRICT_ARGS=1
start_daemon
check "config: vmm = firecracker" grep -q "^vmm = firecracker  # config.toml:1" "$MNT/config"
check "config: the binary" grep -q "^firecracker_bin = $FAKE  # config.toml:2" "$MNT/config"

V=$MNT/vms/fc1
check "mkdir fc1" mkdir "$V"
D=$(ls -d "$T"/home/state/vms/[0-9]* | head -n 1)
check "a raw root disk (root.img), no qcow2" test -f "$D/root.img" -a ! -e "$D/root.qcow2"
expect_eq "the root disk has the VM's disk_size" "$((1 << 30))" "$(stat -c %s "$D/root.img")"
check "and is sparse (under 1 MiB allocated)" test "$(($(stat -c %b "$D/root.img") * 512))" -lt 1048576

t0=$(date +%s%N)
expect_errno "start: configured over the API, InstanceStart, agent hello over vsock" OK write "$V/state" start
log "start took $((($(date +%s%N) - t0) / 1000000)) ms"
expect_eq "running" running "$(cat "$V/state")"
check "logs have the agent's hello" grep -q "agent: hello proto=3 agent=0.2.0-fake" "$V/logs"
check "console (the process's stdout) shows the guest" wait_for 30 grep -aq "Linux version" "$D/console.log"
paths=$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["method"]+" "+json.loads(l)["path"] for l in open(sys.argv[1])))' "$FAKE_FC_RECORD")
expect_eq "the request sequence" "PUT /logger PUT /machine-config PUT /boot-source PUT /drives/rootfs PUT /vsock PUT /actions" "$paths"
bad=0
while read -r line; do
	m=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["method"])' "$line")
	p=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["path"])' "$line")
	b=$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])["body"]))' "$line")
	python3 "$SPEC" validate "$m" "$p" "$b" >/dev/null || { bad=$((bad + 1)); log "invalid: $line"; }
done <"$FAKE_FC_RECORD"
expect_eq "every body the driver sent is valid for the spec" 0 "$bad"
check "boot_args are explicit and keep the serial console" \
	grep -q '"boot_args": "console=ttyS0 reboot=k panic=1 pci=off banger.name=fc1 banger.vmm=firecracker' "$FAKE_FC_RECORD"
check "the kernel is the uncompressed vmlinux" grep -q "kernels/tiny/vmlinux" "$FAKE_FC_RECORD"

# the full plan (work disk, tap) is valid too
"$BUILD/tests/test_fc" plan >"$T/plan.json"
bad=$(python3 - "$SPEC" "$T/plan.json" <<'PY'
import json, subprocess, sys
bad = 0
for r in json.load(open(sys.argv[2])):
    res = subprocess.run([sys.executable, sys.argv[1], "validate", r["method"], r["path"], json.dumps(r.get("body"))],
                         capture_output=True, text=True)
    if res.returncode:
        bad += 1
        print("#", r["path"], res.stdout.strip())
print(bad)
PY
)
expect_eq "a full plan (work disk, tap, initrd) and the snapshot requests are valid for the spec" 0 "$(tail -n 1 <<<"$bad")"

echo "hello-console" >"$V/console"
check "console input reaches the process's stdin" wait_for 5 grep -aq "hello-console" "$D/console.log"

expect_errno "stop: through the agent" OK write "$V/state" stop
expect_eq "stopped" stopped "$(cat "$V/state")"
check "the API socket is gone" test ! -e "$D/firecracker.sock"

# a stale API socket is removed before the next start (Firecracker refuses one)
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$D/firecracker.sock"
expect_errno "start with a stale API socket left behind" OK write "$V/state" start
expect_errno "kill" OK write "$V/state" kill
expect_eq "stopped after kill" stopped "$(cat "$V/state")"

# Firecracker refuses the configuration: its fault_message is the VM's error
echo 40 >"$V/vcpu"
expect_errno "start with 40 vCPUs (Firecracker allows 32): EIO" EIO write "$V/state" start
check "error carries Firecracker's fault_message" grep -q "firecracker boot: /machine-config: " "$V/error"
log "error: $(cat "$V/error")"
check "no process is left" sh -c "! pgrep -f '[f]ake-firecracker --api-sock $D/'"
echo 1 >"$V/vcpu"

# re-adoption after bangerd dies: GET / and a new vsock CONNECT
expect_errno "start again" OK write "$V/state" start
pid=$(cat "$V/pid")
kill_daemon
start_daemon
check "re-adopted: still running" wait_for 60 grep -qx running "$V/state"
expect_eq "same process" "$pid" "$(cat "$V/pid")"
check "the agent said hello again" wait_for 60 sh -c "[ \$(grep -c 'agent: hello' '$V/logs') -ge 4 ]"
# bridge mode: a persistent tap Firecracker opens by name, on the bridge
# while the VM runs, gone when it stops. (The stand-in runs no sshd, so the
# start fails at the ssh check after the boot timeout; that is enough. The
# tap is looked for while the VM lives: the timeout is that window.)
expect_errno "stop" OK write "$V/state" stop
stop_daemon
sed -i 's/^network = "none"/network = "bridge"/' "$T/home/config/config.toml"
BANGER_BOOT_TIMEOUT=15 start_daemon
: >"$FAKE_FC_RECORD"
$FSOP write "$V/state" start >"$T/start.out" 2>&1 &
writer=$!
check "a persistent tap bgr1 appears on the bridge" wait_for 15 sh -c "ip -o link show bgr1 2>/dev/null | grep -q 'master banger0'"
check "Firecracker got it by name, with the VM's MAC" wait_for 30 \
	grep -q '"iface_id": "eth0", "host_dev_name": "bgr1", "guest_mac": "52:54:00:10:00:02"}, "status": 204' \
	"$FAKE_FC_RECORD"
wait "$writer"
expect_eq "without sshd the start fails at the ssh check (EIO)" EIO "$(cat "$T/start.out")"
check "the tap is gone once the VM stopped" wait_for 30 sh -c "! ip link show bgr1 2>/dev/null"
stop_daemon
sed -i 's/^network = "bridge"/network = "none"/' "$T/home/config/config.toml"
start_daemon
expect_errno "start (network none again)" OK write "$V/state" start

# x86 Firecracker has no ACPI power-off (a guest that powers off only halts
# and the process stays): a stop sends SendCtrlAltDel, which reboots the
# guest and ends the process; a guest that ignores it is killed after the
# stop timeout.
expect_errno "stop" OK write "$V/state" stop
stop_daemon
FAKE_FC_POWEROFF=halt start_daemon
expect_errno "start (a guest that halts on power-off)" OK write "$V/state" start
: >"$FAKE_FC_RECORD"
kills=$(grep -c "hypervisor still running; killing it" "$V/logs")
expect_errno "stop: SendCtrlAltDel ends the process" OK write "$V/state" stop
expect_eq "by itself, not killed after the stop timeout" "$kills" "$(grep -c "hypervisor still running; killing it" "$V/logs")"
check "SendCtrlAltDel was sent" grep -q '"action_type": "SendCtrlAltDel"' "$FAKE_FC_RECORD"
stop_daemon
FAKE_FC_POWEROFF=halt FAKE_FC_IGNORE_CTRLALTDEL=1 start_daemon
expect_errno "start (a guest that ignores Ctrl-Alt-Del too)" OK write "$V/state" start
t0=$(date +%s)
expect_errno "stop still ends it" OK write "$V/state" stop
log "stop took $(($(date +%s) - t0)) s"
check "with SIGKILL after the timeout" grep -q "hypervisor still running; killing it" "$V/logs"
expect_eq "stopped" stopped "$(cat "$V/state")"
stop_daemon
start_daemon
expect_errno "start" OK write "$V/state" start

doc=$(BANGER_MOUNT=$MNT "$REPO/tools/banger" doctor 2>&1)
check "doctor reports the Firecracker binary and its version" grep -q "firecracker: $FAKE (Firecracker v" <<<"$doc"
if [ -e /sys/module/kvm_pvm ]; then
	check "doctor: it cannot run here (kvm_pvm)" grep -q "firecracker: .* cannot run here: it needs /dev/kvm" <<<"$doc"
fi
expect_errno "stop" OK write "$V/state" stop

# A guest that has not answered the vsock handshake holds its connection,
# never the loop: the fake answers the agent's CONNECT only once
# $T/release exists, which this test makes only after the tree has answered
# other requests (a loop stuck waiting for the reply could answer them only
# by giving up on that connection first)
stop_daemon
FAKE_FC_VSOCK_REPLY_AFTER=$T/release start_daemon
$FSOP write "$V/state" start >"$T/start.out" 2>&1 &
writer=$!
check "the agent's CONNECT waits for its reply" wait_for 60 grep -q "^waiting" "$T/release.log"
check "meanwhile mkdir answers" mkdir "$MNT/vms/other"
expect_eq "and the VM reads starting" starting "$(cat "$V/state")"
touch "$T/release"
wait "$writer"
expect_eq "the start completes once the guest answers" OK "$(cat "$T/start.out")"
check "the host never gave up on a CONNECT that was answered later" sh -c "! grep -q abandoned '$T/release.log'"
check "logs have the agent's hello" grep -q "agent: hello proto=3 agent=0.2.0-fake" "$V/logs"
expect_errno "stop" OK write "$V/state" stop

# Firecracker's own requests, the configuration at start and a stop's
# SendCtrlAltDel, run in banger-fc processes the loop never waits for: the
# fake opens its API socket, and answers /actions, only once the test's file
# exists, which the test makes only after the tree answered other requests
stop_daemon
FAKE_FC_API_AFTER=$T/api-go FAKE_FC_ACTIONS_AFTER=$T/act-go start_daemon
$FSOP write "$V/state" start >"$T/start.out" 2>&1 &
writer=$!
check "a new Firecracker process waits to open its API socket" wait_for 60 grep -qx waiting-api "$T/api-go.log"
check "meanwhile mkdir answers" mkdir "$MNT/vms/third"
expect_eq "and the VM reads starting" starting "$(cat "$V/state")"
touch "$T/api-go"
wait "$writer"
expect_eq "the start completes once the API socket opens" OK "$(cat "$T/start.out")"
$FSOP write "$V/state" stop >"$T/stop.out" 2>&1 &
writer=$!
check "the stop's SendCtrlAltDel waits for its answer" wait_for 60 grep -qx waiting-action "$T/act-go.log"
check "meanwhile rmdir answers" rmdir "$MNT/vms/third"
expect_eq "and the VM reads stopping" stopping "$(cat "$V/state")"
touch "$T/act-go"
wait "$writer"
expect_eq "the stop completes once Firecracker answers" OK "$(cat "$T/stop.out")"
expect_eq "stopped" stopped "$(cat "$V/state")"
check "rmdir other" rmdir "$MNT/vms/other"
check "rmdir" rmdir "$V"
finish
