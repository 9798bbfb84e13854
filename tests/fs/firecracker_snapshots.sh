#!/bin/bash
# Snapshots with Firecracker (docs/snapshots.md "Firecracker"), against
# tests/firecracker/fake-firecracker: the first start of a shape saves a
# template through the snapshot API (PATCH /vm Paused, PUT /snapshot/create,
# PATCH /vm Resumed), a second fresh VM of the shape starts as a clone (a new
# process, PUT /snapshot/load with a file memory backend and resume_vm, no
# InstanceStart), its agent gets identify and answers with new host keys;
# every body is valid for the spec; a corrupt template falls back to a cold
# boot with the reason in logs.
. "$(dirname "$0")/../lib.sh"
FAKE=$REPO/tests/firecracker/fake-firecracker
SPEC=$REPO/tests/firecracker/fc_spec.py
banger_setup fake
stop_daemon
echo "not a real vmlinux" >"$T/home/state/kernels/tiny/vmlinux"
sed -i '1i vmm = "firecracker"\nfirecracker_bin = "'"$FAKE"'"\nnetwork = "none"' "$T/home/config/config.toml"
TPL_KEY_B64=AAAAC3NzaC1lZDI1NTE5AAAAIFRFTVBMQVRFLUhPU1QtS0VZLVRFTVBMQVRFLUhPUw==
export FAKE_FC_RECORD=$T/fc-requests.jsonl FAKE_FC_STRICT_UNKNOWN=1 FAKE_FC_STRICT_ARGS=1
export FAKE_FC_HOSTKEY=ssh-ed25519:$TPL_KEY_B64
start_daemon
tpl_dirs() { find "$T/home/state/templates" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%f\n' | sort; }
requests() { python3 -c 'import json,sys; print(" ".join(json.loads(l)["method"]+" "+json.loads(l)["path"] for l in open(sys.argv[1])))' "$FAKE_FC_RECORD"; }
invalid_bodies() {
	python3 - "$SPEC" "$FAKE_FC_RECORD" <<'PY'
import json, subprocess, sys
bad = 0
for line in open(sys.argv[2]):
    r = json.loads(line)
    body = [] if r["body"] is None else [json.dumps(r["body"])]  # GET / has none
    res = subprocess.run([sys.executable, sys.argv[1], "validate", r["method"], r["path"]] + body,
                         capture_output=True, text=True)
    if res.returncode:
        bad += 1
        print("#", r["method"], r["path"], res.stdout.strip())
print(bad)
PY
}

# 1. the first start of the shape: a cold boot that saves a template
A=$MNT/vms/fca
check "mkdir fca" mkdir "$A"
expect_errno "first start (cold, saves a template)" OK write "$A/state" start
check "logs say a template was saved" grep -q "snapshots: saved template" "$A/logs"
KEY=$(tpl_dirs)
TD=$T/home/state/templates/$KEY
check "one template on disk" test "$(echo "$KEY" | wc -w)" = 1
check "with the snapshot's state and memory, the raw disk and meta" \
	test -s "$TD/state" -a -s "$TD/memory" -a -s "$TD/disk.raw" -a -s "$TD/meta.json"
check "and no qcow2 (Firecracker takes none)" test ! -e "$TD/disk.qcow2"
expect_eq "the request sequence: a boot, then pause, snapshot, resume" \
	"PUT /logger PUT /machine-config PUT /boot-source PUT /drives/rootfs PUT /vsock PUT /actions PATCH /vm PUT /snapshot/create PATCH /vm" \
	"$(requests)"
check "PATCH /vm Paused first" grep -q '"path": "/vm", "body": {"state": "Paused"}, "status": 204' "$FAKE_FC_RECORD"
check "then Resumed" grep -q '"path": "/vm", "body": {"state": "Resumed"}, "status": 204' "$FAKE_FC_RECORD"
check "a Full snapshot into the template (built aside)" \
	grep -q '"snapshot_type": "Full", "snapshot_path": "[^"]*/templates/.aside-[^"]*/state", "mem_file_path": "[^"]*/memory"}, "status": 204' "$FAKE_FC_RECORD"
check "the disk and vsock by their names in the VM's directory (Firecracker's cwd)" \
	grep -q '"path_on_host": "root.img"' "$FAKE_FC_RECORD"
expect_eq "every body is valid for the spec" 0 "$(invalid_bodies | tail -n 1)"
expect_eq "fca runs" running "$(cat "$A/state")"
check "the tree shows the template" test -d "$MNT/templates/$KEY"
log "template $KEY: $(cat "$MNT/templates/$KEY/status" 2>/dev/null), $(cat "$MNT/templates/$KEY/size" 2>/dev/null)"

# 2. a second fresh VM of the same shape restores a clone
: >"$FAKE_FC_RECORD"
B=$MNT/vms/fcb
check "mkdir fcb" mkdir "$B"
DB=$(ls -td "$T"/home/state/vms/[0-9]* | head -n 1) # the newest VM directory: fcb's
expect_errno "second start (restores the template)" OK write "$B/state" start
check "logs: restored from the template" grep -q "snapshots: restored from template $KEY" "$B/logs"
expect_eq "the request sequence: a fresh process loads the snapshot, no boot" \
	"PUT /logger PUT /snapshot/load GET /" "$(requests)"
check "no InstanceStart" sh -c "! grep -q InstanceStart '$FAKE_FC_RECORD'"
check "the load: the template's state, its memory as a File backend, resume_vm" \
	grep -q '"snapshot_path": "[^"]*/templates/'"$KEY"'/state", "mem_backend": {"backend_type": "File", "backend_path": "[^"]*/templates/'"$KEY"'/memory"}, "resume_vm": true}, "status": 204' \
	"$FAKE_FC_RECORD"
expect_eq "every body is valid for the spec" 0 "$(invalid_bodies | tail -n 1)"
check "the restored agent said hello with the template's host key" \
	grep -q "agent: hello proto=3 .*hostkey=ssh-ed25519:$TPL_KEY_B64" "$B/logs"
check "identify went out and was acknowledged" grep -q "agent: ack verb=identify" "$B/logs"
newkey=$(grep "agent: hello proto=3" "$B/logs" | tail -n 1 | grep -o 'hostkey=[^ ]*' | head -n 1)
log "the clone's key after identify: $newkey"
check "its hello after identify carries a new host key" test -n "$newkey" -a "$newkey" != "hostkey=ssh-ed25519:$TPL_KEY_B64"
check "the clone's console shows no boot (a restore)" sh -c "! grep -aq 'Linux version' '$DB/console.log'"
check "the clone's agent took its own name" wait_for 10 grep -aq "banger-agent: identity: .*name=fcb" "$DB/console.log"
check "the clone has its own raw root disk" test -f "$DB/root.img" -a ! -L "$DB/root.img"
check "not the template's file" test "$(stat -c %i "$DB/root.img")" != "$(stat -c %i "$TD/disk.raw")"
pid=$(cat "$B/pid")
expect_eq "its Firecracker runs in the clone's directory" "$DB" "$(readlink "/proc/$pid/cwd")"
expect_eq "fcb runs" running "$(cat "$B/state")"
expect_errno "stop fcb" OK write "$B/state" stop
expect_errno "stop fca" OK write "$A/state" stop

# 3. a corrupt template: the load fails, the VM boots cold, the reason is in logs
echo "garbage" >"$TD/state"
: >"$FAKE_FC_RECORD"
C=$MNT/vms/fcc
check "mkdir fcc" mkdir "$C"
expect_errno "a start from the corrupt template still succeeds" OK write "$C/state" start
check "logs: the restore failed, with Firecracker's reason" \
	grep -q "snapshots: restoring template $KEY failed: firecracker snapshot load: /snapshot/load: Load snapshot error" "$C/logs"
check "and fell back to a cold boot" grep -q "falling back to a cold boot" "$C/logs"
check "the load was refused (400)" grep -q '"path": "/snapshot/load", .*"status": 400' "$FAKE_FC_RECORD"
check "then a boot (InstanceStart)" grep -q '"action_type": "InstanceStart"' "$FAKE_FC_RECORD"
expect_eq "every body is valid for the spec" 0 "$(invalid_bodies | tail -n 1)"
expect_eq "fcc runs" running "$(cat "$C/state")"
expect_errno "stop fcc" OK write "$C/state" stop
for v in fca fcb fcc; do
	check "rmdir $v" rmdir "$MNT/vms/$v"
done
finish
