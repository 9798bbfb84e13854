#!/bin/bash
# Firecracker clones and crashes (docs/snapshots.md "Firecracker"), against
# tests/firecracker/fake-firecracker: a running clone survives SIGKILL of
# bangerd and is re-adopted; a clone caught before its identity, or during
# its snapshot load, is killed by the next bangerd and loses its disk; a
# crash during a template's save leaves only an aside directory, which the
# next bangerd removes, and the template's guest (paused by the save) goes
# on; in bridge mode two clones of one template run at once, each on its
# own tap (network_overrides) with its own MAC and address, a tap that
# joins the bridge only once the clone has its identity.
. "$(dirname "$0")/../lib.sh"
FAKE=$REPO/tests/firecracker/fake-firecracker
SPEC=$REPO/tests/firecracker/fc_spec.py
banger_setup fake
# lib.sh's cleanup ends the test's QEMUs; these are Firecrackers (and the
# banger-fc requests a killed bangerd left), found by this test's paths
test_fc_pids() { pgrep -f "(fake-firecracker|banger-fc) .*$T/" 2>/dev/null || true; }
kill_fcs() {
	local pid
	for pid in $(test_fc_pids); do kill -KILL "$pid" 2>/dev/null; done
}
trap 'kill_fcs; cleanup' EXIT
stop_daemon
echo "not a real vmlinux" >"$T/home/state/kernels/tiny/vmlinux"
sed -i '1i vmm = "firecracker"\nfirecracker_bin = "'"$FAKE"'"\nnetwork = "none"' "$T/home/config/config.toml"
TPL_KEY_B64=AAAAC3NzaC1lZDI1NTE5AAAAIFRFTVBMQVRFLUhPU1QtS0VZLVRFTVBMQVRFLUhPUw==
export FAKE_FC_RECORD=$T/fc-requests.jsonl FAKE_FC_STRICT_UNKNOWN=1 FAKE_FC_STRICT_ARGS=1
export FAKE_FC_HOSTKEY=ssh-ed25519:$TPL_KEY_B64
start_daemon
TPLS=$T/home/state/templates
tpl_dirs() { find "$TPLS" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%f\n' | sort; }
aside_dirs() { find "$TPLS" -mindepth 1 -maxdepth 1 -name '.aside-*' -printf '%f\n'; }
# mkvm NAME: mkdir, and the VM's directory (state/vms/ID) is remembered
declare -A DIRS
vm_dirs() { find "$T/home/state/vms" -mindepth 1 -maxdepth 1 -type d -name '[0-9]*' | sort; }
mkvm() {
	local before
	before=$(vm_dirs)
	check "mkdir $1" mkdir "$MNT/vms/$1"
	DIRS[$1]=$(comm -13 <(echo "$before") <(vm_dirs))
}
vm_dir() { printf '%s' "${DIRS[$1]}"; }
fc_running() { ! proc_gone "$1" && grep -q "fake-firecracker" "/proc/$1/cmdline" 2>/dev/null; }
no_request_left() { ! pgrep -f "banger-fc .*$1/" >/dev/null; }
invalid_bodies() {
	python3 - "$SPEC" "$FAKE_FC_RECORD" <<'PY'
import json, subprocess, sys
bad = 0
for line in open(sys.argv[2]):
    r = json.loads(line)
    body = [] if r["body"] is None else [json.dumps(r["body"])]
    res = subprocess.run([sys.executable, sys.argv[1], "validate", r["method"], r["path"]] + body,
                         capture_output=True, text=True)
    if res.returncode:
        bad += 1
        print("#", r["method"], r["path"], res.stdout.strip())
print(bad)
PY
}

# 1. a template, and a running clone of it
mkvm fca
expect_errno "fca starts cold and saves a template" OK write "$MNT/vms/fca/state" start
check "the template is saved" grep -q "snapshots: saved template" "$MNT/vms/fca/logs"
KEY=$(tpl_dirs)
mkvm fcb
expect_errno "fcb starts as a clone" OK write "$MNT/vms/fcb/state" start
check "restored from the template" grep -q "snapshots: restored from template $KEY" "$MNT/vms/fcb/logs"
DB=$(vm_dir fcb)
pid=$(cat "$MNT/vms/fcb/pid")
newkey=$(grep "agent: hello proto=3" "$MNT/vms/fcb/logs" | tail -n 1 | grep -o 'hostkey=[^ ]*' | head -n 1)
check "the clone has its own host key" test -n "$newkey" -a "$newkey" != "hostkey=ssh-ed25519:$TPL_KEY_B64"

# 2. the running clone survives SIGKILL of bangerd and is re-adopted
hellos=$(grep -c "agent: hello" "$MNT/vms/fcb/logs")
kill_daemon
check "the clone's Firecracker outlives bangerd" fc_running "$pid"
start_daemon
check "re-adopted: fcb runs" wait_for 60 grep -qx running "$MNT/vms/fcb/state"
expect_eq "the same process" "$pid" "$(cat "$MNT/vms/fcb/pid")"
check "the log says so" grep -q "re-adopted running hypervisor (pid $pid)" "$MNT/vms/fcb/logs"
check "its agent says hello again" wait_for 60 sh -c "[ \$(grep -c 'agent: hello' '$MNT/vms/fcb/logs') -gt $hellos ]"
expect_eq "with the clone's own key, not the template's" "$newkey" \
	"$(grep "agent: hello" "$MNT/vms/fcb/logs" | tail -n 1 | grep -o 'hostkey=[^ ]*' | head -n 1)"
check "no identify is sent again (it has its identity)" \
	test "$(grep -c "sent the clone its identity" "$MNT/vms/fcb/logs")" = 1
check "its disk is still the clone's" test -s "$DB/root.img"
check "and the record still names the template (used_by)" grep -qx fcb "$MNT/templates/$KEY/used_by"
expect_errno "stop fcb" OK write "$MNT/vms/fcb/state" stop
expect_errno "stop fca" OK write "$MNT/vms/fca/state" stop

# 3. a clone caught before its identity when bangerd dies: the next one
# kills it and deletes its disk (it may hold the template's host keys)
stop_daemon
FAKE_FC_IDENTIFY_AFTER=$T/id-go start_daemon
mkvm fcc
DC=$(vm_dir fcc)
$FSOP write "$MNT/vms/fcc/state" start >"$T/start.out" 2>&1 &
writer=$!
check "the clone's agent holds its identify" wait_for 60 grep -qx waiting-identify "$T/id-go.log"
pid=$(cat "$MNT/vms/fcc/pid")
check "the clone runs, restored" fc_running "$pid"
kill_daemon
wait "$writer"
check "its Firecracker outlived bangerd" fc_running "$pid"
start_daemon
check "the next bangerd kills it" wait_for 30 proc_gone "$pid"
expect_eq "fcc is stopped" stopped "$(cat "$MNT/vms/fcc/state")"
check "with the reason" grep -q "a clone whose restore was unfinished (identifying) when bangerd stopped: killed" \
	"$MNT/vms/fcc/error"
check "its disk is gone" test ! -e "$DC/root.img"
check "no socket is left" test ! -e "$DC/firecracker.sock" -a ! -e "$DC/agent.sock"
check "no banger-fc request is left" wait_for 30 no_request_left "$DC"
check "nothing uses the template on its behalf" sh -c "! grep -qx fcc '$MNT/templates/$KEY/used_by'"
touch "$T/id-go"
expect_errno "its next start is a fresh clone" OK write "$MNT/vms/fcc/state" start
check "restored again" test "$(grep -c "restored from template $KEY" "$MNT/vms/fcc/logs")" = 2
expect_errno "stop fcc" OK write "$MNT/vms/fcc/state" stop

# 4. a crash during the snapshot load: killed, stopped with the reason, no
# disk, no process
stop_daemon
FAKE_FC_LOAD_AFTER=$T/load-go start_daemon
mkvm fcd
DD=$(vm_dir fcd)
$FSOP write "$MNT/vms/fcd/state" start >"$T/start.out" 2>&1 &
writer=$!
check "the snapshot load is under way" wait_for 60 grep -qx waiting-load "$T/load-go.log"
pid=$(cat "$MNT/vms/fcd/pid")
expect_eq "the VM reads starting" starting "$(cat "$MNT/vms/fcd/state")"
check "its disk is the clone's copy of the template's" test -s "$DD/root.img"
kill_daemon
wait "$writer"
start_daemon
check "the next bangerd kills the half-restored clone" wait_for 30 proc_gone "$pid"
expect_eq "fcd is stopped" stopped "$(cat "$MNT/vms/fcd/state")"
check "with the reason" grep -q "a clone whose restore was unfinished (restoring) when bangerd stopped: killed" \
	"$MNT/vms/fcd/error"
check "its disk is gone" test ! -e "$DD/root.img"
check "the load's banger-fc ended with its Firecracker" wait_for 30 no_request_left "$DD"
touch "$T/load-go"
check "the template is still ready" grep -qx ready "$MNT/templates/$KEY/status"

# 5. a crash while a template is being saved: the state is written, the
# memory not yet; the half template is only in an aside directory, which
# the next bangerd removes; the template's guest, paused by the save, is
# resumed on re-adoption
stop_daemon
FAKE_FC_SNAPSHOT_AFTER=$T/snap-go start_daemon
mkvm fce
echo 2 >"$MNT/vms/fce/vcpu" # another shape: no template yet
$FSOP write "$MNT/vms/fce/state" start >"$T/start.out" 2>&1 &
writer=$!
check "the save is half way" wait_for 60 grep -qx waiting-snapshot "$T/snap-go.log"
pid=$(cat "$MNT/vms/fce/pid")
aside=$(aside_dirs)
check "it is built aside" test -n "$aside" -a -s "$TPLS/$aside/state"
check "without its memory yet" test ! -e "$TPLS/$aside/memory"
expect_eq "and only the first template is in place" "$KEY" "$(tpl_dirs)"
kill_daemon
wait "$writer"
check "the guest's Firecracker outlives bangerd" fc_running "$pid"
start_daemon
check "the next bangerd removes the aside directory" wait_for 30 sh -c "[ -z \"\$(find '$TPLS' -mindepth 1 -maxdepth 1 -name '.aside-*')\" ]"
check "and says so" grep -q "templates: removing the leftover $TPLS/$aside" "$T/home/state/bangerd.log"
expect_eq "no half template is in place" "$KEY" "$(tpl_dirs)"
expect_eq "nor in the tree" "$KEY" "$(ls "$MNT/templates")"
touch "$T/snap-go" # the dead bangerd's request ends (its directory is gone)
check "the guest is resumed and fce re-adopted: running" wait_for 60 grep -qx running "$MNT/vms/fce/state"
expect_eq "the same process" "$pid" "$(cat "$MNT/vms/fce/pid")"
check "it was resumed (PATCH /vm Resumed after the crash)" \
	sh -c "tail -n 3 '$FAKE_FC_RECORD' | grep -q '\"path\": \"/vm\", \"body\": {\"state\": \"Resumed\"}, \"status\": 204'"
check "and the log says so" grep -q "re-adopt: the guest was paused .*: resumed" "$MNT/vms/fce/logs"
check "no banger-fc request is left" wait_for 30 no_request_left "$(vm_dir fce)"
expect_errno "stop fce" OK write "$MNT/vms/fce/state" stop
expect_eq "every body is valid for the spec" 0 "$(invalid_bodies | tail -n 1)"

# 6. bridge mode: two clones of one template at once. Firecracker's
# snapshot keeps the template's tap name, and a tap is open in one process
# only (the fake opens it as Firecracker does: FAKE_FC_OPEN_TAP): each
# clone's load names its own tap in network_overrides. Until the clone
# has its identity (the fake holds identify until $T/bid-go) it is the
# template's twin, and its tap is on no bridge. The fake runs no
# sshd, so these starts end at the ssh check after the boot timeout; what
# is checked happens before.
stop_daemon
sed -i 's/^network = "none"/network = "bridge"/' "$T/home/config/config.toml"
: >"$FAKE_FC_RECORD"
# The boot timeout leaves room for the template save, which waits up to
# half of it for an SSH banner that never comes, and for the checks on the
# clones, which must run before their boots time out.
FAKE_FC_OPEN_TAP=1 FAKE_FC_IDENTIFY_AFTER=$T/bid-go BANGER_BOOT_TIMEOUT=60 start_daemon
mkvm bra
expect_errno "bra boots (no sshd: EIO at the ssh check)" EIO write "$MNT/vms/bra/state" start
check "but saved a bridge-mode template first" grep -q "snapshots: saved template" "$MNT/vms/bra/logs"
BKEY=$(grep -o "saved template [0-9a-f]*" "$MNT/vms/bra/logs" | head -n 1 | cut -d' ' -f3)
check "its source says bridge" grep -q "network=bridge" "$MNT/templates/$BKEY/source"
tpl_tap=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"] == "/network-interfaces/eth0": print(r["body"]["host_dev_name"])' "$FAKE_FC_RECORD")
log "the template's tap: $tpl_tap"
: >"$FAKE_FC_RECORD"
mkvm brb
mkvm brc
$FSOP write "$MNT/vms/brb/state" start >"$T/start-b.out" 2>&1 &
wb=$!
$FSOP write "$MNT/vms/brc/state" start >"$T/start-c.out" 2>&1 &
wc=$!
check "both clones wait for their identity" wait_for 60 sh -c "[ \$(grep -c waiting-identify '$T/bid-go.log') = 2 ]"
for v in brb brc; do
	pid=$(cat "$MNT/vms/$v/pid")
	tap=$(grep -h -o 'iff:[[:space:]]*bgr[0-9]*' /proc/"$pid"/fdinfo/* 2>/dev/null | awk '{print $2}')
	check "$v's Firecracker holds its tap" test -n "$tap"
	check "which is on no bridge before the identity" sh -c "! ip -o link show $tap | grep -q master"
	check "and down" sh -c "! ip -o link show $tap | grep -q '[<,]UP[,>]'"
done
touch "$T/bid-go"
for v in brb brc; do
	check "$v took its identity" wait_for 60 grep -aq "banger-agent: identity: .*name=$v" "$(vm_dir $v)/console.log"
done
loads=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"] == "/snapshot/load" and r["status"] == 204:
        print(" ".join(o["host_dev_name"] for o in r["body"].get("network_overrides", [])))' "$FAKE_FC_RECORD" | sort)
expect_eq "two loads, each with one tap override" 2 "$(wc -w <<<"$loads")"
for v in brb brc; do
	D=$(vm_dir $v)
	pid=$(cat "$MNT/vms/$v/pid")
	tap=$(grep -h -o 'iff:[[:space:]]*bgr[0-9]*' /proc/"$pid"/fdinfo/* 2>/dev/null | awk '{print $2}')
	log "$v: pid $pid, tap $tap, ip $(cat "$MNT/vms/$v/ip"), mac $(cat "$MNT/vms/$v/mac")"
	check "$v's Firecracker holds a tap of its own" test -n "$tap" -a "$tap" != "$tpl_tap"
	check "$v's load named that tap" grep -qw "$tap" <<<"$loads"
	check "$v's tap is on the bridge once it has its identity" wait_for 30 sh -c "ip -o link show $tap | grep -q 'master banger0'"
	check "$v's identity has its own MAC and address" grep -aq \
		"banger-agent: identity: ip=$(cat "$MNT/vms/$v/ip")/[0-9]* mac=$(cat "$MNT/vms/$v/mac") .*name=$v" \
		"$D/console.log"
	check "$v's Firecracker runs in its own directory" test "$(readlink "/proc/$pid/cwd")" = "$D"
done
check "the clones' addresses differ" test "$(cat "$MNT/vms/brb/ip")" != "$(cat "$MNT/vms/brc/ip")"
check "and their MACs" test "$(cat "$MNT/vms/brb/mac")" != "$(cat "$MNT/vms/brc/mac")"
expect_eq "every body is valid for the spec" 0 "$(invalid_bodies | tail -n 1)"
wait "$wb" "$wc"
expect_eq "brb ends at the ssh check (no sshd in the fake)" EIO "$(cat "$T/start-b.out")"
expect_eq "brc too" EIO "$(cat "$T/start-c.out")"
for t in $loads $tpl_tap; do
	check "tap $t is gone once its VM stopped" wait_for 30 sh -c "! ip link show $t 2>/dev/null"
done

# 7. a crash during a bridged clone's load: the next bangerd kills it and,
# once its process has let go of the tap, drops the tap too
stop_daemon
FAKE_FC_OPEN_TAP=1 FAKE_FC_LOAD_AFTER=$T/bload-go start_daemon
mkvm brd
DR=$(vm_dir brd)
$FSOP write "$MNT/vms/brd/state" start >"$T/start.out" 2>&1 &
writer=$!
check "the bridged clone's load is under way" wait_for 60 grep -qx waiting-load "$T/bload-go.log"
pid=$(cat "$MNT/vms/brd/pid")
tap=bgr$(basename "$DR")
check "its tap $tap exists, on no bridge" sh -c "ip -o link show $tap >/dev/null && ! ip -o link show $tap | grep -q master"
kill_daemon
wait "$writer"
start_daemon
check "the next bangerd kills it" wait_for 30 proc_gone "$pid"
expect_eq "brd is stopped" stopped "$(cat "$MNT/vms/brd/state")"
check "with the reason" grep -q "restore was unfinished (restoring)" "$MNT/vms/brd/error"
check "its disk is gone" test ! -e "$DR/root.img"
check "and its tap" wait_for 30 sh -c "! ip link show $tap 2>/dev/null"
touch "$T/bload-go"

# 8. a bridged Firecracker that dies while bangerd is down: the next one
# drops its tap (Firecracker's taps are persistent, opened by name)
stop_daemon
FAKE_FC_OPEN_TAP=1 BANGER_BOOT_TIMEOUT=120 start_daemon
mkvm bre
tap=bgr$(basename "$(vm_dir bre)")
$FSOP write "$MNT/vms/bre/state" start >"$T/start.out" 2>&1 &
writer=$!
check "bre's tap is on the bridge" wait_for 60 sh -c "ip -o link show $tap 2>/dev/null | grep -q 'master banger0'"
pid=$(cat "$MNT/vms/bre/pid")
kill_daemon
wait "$writer"
kill -KILL "$pid"
check "its Firecracker is gone" wait_for 30 proc_gone "$pid"
start_daemon
check "the next bangerd finds it gone" grep -q "exited while bangerd was not running" "$MNT/vms/bre/error"
check "and drops its tap" wait_for 30 sh -c "! ip link show $tap 2>/dev/null"

# 9. a bridged clone whose load fails boots cold: its tap, made off the
# bridge for the clone, is made again on the bridge for the cold boot
echo garbage >"$TPLS/$BKEY/state"
: >"$FAKE_FC_RECORD"
mkvm brf
tap=bgr$(basename "$(vm_dir brf)")
$FSOP write "$MNT/vms/brf/state" start >"$T/start.out" 2>&1 &
writer=$!
check "brf's restore fails and it boots cold" wait_for 60 grep -q "falling back to a cold boot" "$MNT/vms/brf/logs"
check "its Firecracker opened its tap for the boot" wait_for 60 \
	grep -q '"host_dev_name": "'"$tap"'", "guest_mac": "[0-9a-f:]*"}, "status": 204' "$FAKE_FC_RECORD"
check "which is on the bridge" wait_for 30 sh -c "ip -o link show $tap | grep -q 'master banger0'"
expect_errno "kill brf" OK write "$MNT/vms/brf/state" kill
wait "$writer"
check "its tap is gone" wait_for 30 sh -c "! ip link show $tap 2>/dev/null"
for v in fca fcb fcc fcd fce bra brb brc brd bre brf; do
	check "rmdir $v" rmdir "$MNT/vms/$v"
done
no_fc_left() { [ -z "$(test_fc_pids)" ]; }
check "no Firecracker of this test is left" wait_for 30 no_fc_left
finish
