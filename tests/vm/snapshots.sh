#!/bin/bash
# Snapshots (docs/snapshots.md) with real guests: the first start of a shape
# saves a template, later fresh VMs of that shape restore clones of it; two
# clones at once are distinct machines (host keys pinned and checked by
# strict OpenSSH, addresses, MACs, hostnames, machine-ids, RNG output);
# file_sync's work disk is hot-plugged into a clone; a clone is re-adopted
# after SIGKILL of bangerd; a changed image makes a new template; a corrupt
# template falls back to a cold boot; snapshots = off boots cold. Timings
# are printed, never asserted.
. "$(dirname "$0")/../lib.sh"
banger_setup real

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
KH=$MNT/known_hosts
# strict OpenSSH against the tree's known_hosts (the pins)
tssh() {
	local addr=$1
	shift
	ssh -F none -i "$T/home/config/ssh/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KH" -o GlobalKnownHostsFile=/dev/null \
		-o ConnectTimeout=30 "root@$addr" "$@" 2>>"$T/ssh.err"
}
tpl_dirs() { find "$T/home/state/templates" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%f\n' | sort; }

expect_eq "config shows snapshots with its provenance" "snapshots = on  # built-in default" \
	"$(grep '^snapshots' "$MNT/config")"
check "templates/ is in the tree, empty" test -d "$MNT/templates"

# 1. the first start of the shape: a cold boot that saves a template
mkdir "$MNT/vms/a"
t0=$(date +%s%N)
expect_errno "first start (cold, saves a template)" OK write "$MNT/vms/a/state" start
cold_ms=$(ms_since "$t0")
log "cold start took $cold_ms ms"
check "logs say a template was saved" grep -q "snapshots: saved template" "$MNT/vms/a/logs"
KEY=$(tpl_dirs)
check "one template on disk" test "$(echo "$KEY" | wc -w)" = 1
check "with its memory, state, disk and meta" test -s "$T/home/state/templates/$KEY/state" -a \
	-s "$T/home/state/templates/$KEY/memory" -a -s "$T/home/state/templates/$KEY/disk.qcow2" -a \
	-s "$T/home/state/templates/$KEY/meta.json"
check "no aside directory is left" sh -c "! ls -a '$T/home/state/templates' | grep -q '^\.aside'"
expect_eq "templates/KEY/status" ready "$(cat "$MNT/templates/$KEY/status")"
check "templates/KEY/size is a number" grep -Eq '^[0-9]+$' "$MNT/templates/$KEY/size"
check "templates/KEY/source says what it was made from" grep -q "made from VM a" "$MNT/templates/$KEY/source"
pub=$(cut -d' ' -f2 "$T/home/config/ssh/id_ed25519.pub")
check "the template's disk holds no banger key (saved before authorize)" sh -c \
	"! grep -aqF '$pub' '$T/home/state/templates/$KEY/disk.qcow2'"
check "nor does its memory" sh -c "! grep -aqF '$pub' '$T/home/state/templates/$KEY/memory'"
check "a's RAM is a file on a tmpfs, whose name is gone since the save" \
	grep -Eq '^(/dev/shm|/run)/.*/vm-1\.ram \(deleted\)$' <(awk '{ $1=$2=$3=$4=$5=""; sub(/^ +/, ""); print }' "/proc/$(cat "$MNT/vms/a/pid")/maps")

# 2. two clones at once
mkdir "$MNT/vms/b" "$MNT/vms/c"
t0=$(date +%s%N)
$FSOP write "$MNT/vms/b/state" start >"$T/b.out" 2>&1 &
wb=$!
$FSOP write "$MNT/vms/c/state" start >"$T/c.out" 2>&1 &
wc=$!
check "clone b starts" wait "$wb"
check "clone c starts" wait "$wc"
log "two clones started together in $(ms_since "$t0") ms (cold start was $cold_ms ms)"
for v in b c; do
	check "$v: logs say it was restored from the template" grep -q "snapshots: restored from template $KEY" "$MNT/vms/$v/logs"
	check "$v: the template's hello was not pinned; identify came first" grep -q "the clone has its identity" "$MNT/vms/$v/logs"
	check "$v: banger's key came with the identity (no authorize round trip)" \
		grep -q "installed banger's key with the identity" "$MNT/vms/$v/logs"
	check "$v: ... so no separate authorize went out" sh -c "! grep -q 'ack verb=authorize' '$MNT/vms/$v/logs'"
	check "$v: pinned without an ssh connection (the host key is banger's; its agent saw sshd listen)" \
		grep -q "pinned without an ssh connection" "$MNT/vms/$v/logs"
	log "$v: $(grep -o 'restored from template [0-9a-f]* in [0-9]* ms' "$MNT/vms/$v/logs"); $(grep -o 'running (boot took [0-9]* ms)' "$MNT/vms/$v/logs")"
done
expect_eq "used_by lists both clones" "b c" "$(sort "$MNT/templates/$KEY/used_by" | tr '\n' ' ' | sed 's/ $//')"
ipb=$(cat "$MNT/vms/b/ip")
ipc=$(cat "$MNT/vms/c/ip")
check "the clones' disks are copies of the template's one empty overlay (qemu-img ran once)" \
	test "$(find "$T/home/state/templates/$KEY" -name 'disk.qcow2.overlay-*.qcow2' | wc -l)" = 1
rootb=$(tr '\0' '\n' <"/proc/$(cat "$MNT/vms/b/pid")/cmdline" | sed -n 's/^file=\([^,]*\),if=none,id=root,.*/\1/p')
expect_eq "b's root disk is backed by the template's disk" "$T/home/state/templates/$KEY/disk.qcow2" \
	"$(qemu-img info -U --output=json "$rootb" 2>/dev/null | jq -r '."backing-filename" // empty')"
stub=$T/home/state/templates/$KEY/kernel.stub
check "the template has the kernel's stub: its boot sector and setup (HdrS), 4 KiB more" \
	sh -c "test \"\$(dd if='$stub' bs=1 skip=514 count=4 status=none)\" = HdrS -a \$(stat -c %s '$stub') -lt 140000"
expect_eq "b's QEMU was given the stub as its kernel" "$stub" \
	"$(tr '\0' '\n' <"/proc/$(cat "$MNT/vms/b/pid")/cmdline" | sed -n '/^-kernel$/{n;p}')"
check "the clones have different IPs" test -n "$ipb" -a "$ipb" != "$ipc"
kb=$(cut -d' ' -f2- "$MNT/vms/b/known_hosts" | sort -u)
kc=$(cut -d' ' -f2- "$MNT/vms/c/known_hosts" | sort -u)
ka=$(cut -d' ' -f2- "$MNT/vms/a/known_hosts" | sort -u)
check "the clones' pinned host keys differ" test -n "$kb" -a "$kb" != "$kc"
check "and differ from the template's VM's" test "$kb" != "$ka" -a "$kc" != "$ka"
probe='hostname; cat /etc/machine-id; cat /sys/class/net/eth0/address; ip -4 -o addr show dev eth0 | awk "{print \$4}"; head -c 16 /dev/urandom | od -An -tx1 | tr -d " "'
check "strict OpenSSH logs into b with its pinned key" tssh "$ipb" true
check "strict OpenSSH logs into c with its pinned key" tssh "$ipc" true
# the host made b's SSH host key and pinned it; the guest serves only it
check "a's template was taken once its SSH server was up" grep -q "its SSH server up" "$MNT/vms/a/logs"
check "b's logs: it serves the host key banger made for it" \
	grep -q "the clone serves the SSH host key banger made for it" "$MNT/vms/b/logs"
guest_pub=$(tssh "$ipb" cat /etc/dropbear/dropbear_ed25519_host_key.pub | cut -d' ' -f1-2)
expect_eq "b's pin is the key its guest serves (the host-made one)" "$guest_pub" "$kb"
expect_eq "b has that one host key, no other" /etc/dropbear/dropbear_ed25519_host_key \
	"$(tssh "$ipb" 'ls /etc/dropbear/*_host_key')"
expect_eq "its private key is 0600" "-rw-------" "$(tssh "$ipb" ls -l /etc/dropbear/dropbear_ed25519_host_key | cut -c1-10)"
check "the private key is never logged" sh -c "! grep -q 'hostkey_ed25519\|PRIVATE KEY' '$T/bangerd.out' '$MNT/vms/b/logs' $T/home/state/vms/*/console.log"
ob=$(tssh "$ipb" "$probe")
oc=$(tssh "$ipc" "$probe")
oa=$(tssh "$(cat "$MNT/vms/a/ip")" "$probe")
line() { echo "$1" | sed -n "${2}p"; }
expect_eq "b's hostname is its name" b "$(line "$ob" 1)"
expect_eq "c's hostname is its name" c "$(line "$oc" 1)"
check "machine-ids differ (b, c, a)" test -n "$(line "$ob" 2)" -a "$(line "$ob" 2)" != "$(line "$oc" 2)" -a "$(line "$ob" 2)" != "$(line "$oa" 2)"
expect_eq "b's MAC is its own" "$(cat "$MNT/vms/b/mac")" "$(line "$ob" 3)"
expect_eq "c's MAC is its own" "$(cat "$MNT/vms/c/mac")" "$(line "$oc" 3)"
expect_eq "b's address is its own" "$ipb" "$(line "$ob" 4 | cut -d/ -f1)"
check "/dev/urandom output differs" test -n "$(line "$ob" 5)" -a "$(line "$ob" 5)" != "$(line "$oc" 5)"
gd=$(tssh "$ipb" date +%s)
skew=$((${gd:-0} - $(date +%s)))
check "the clone's clock is the host's (within a minute; the template's was older)" test "${skew#-}" -lt 60
expect_errno "rmdir of a template used by running clones: EBUSY" EBUSY rmdir "$MNT/templates/$KEY"
check "the template is still there" test -d "$MNT/templates/$KEY"

# a clone's disk is its own: a restart boots it cold, with the same keys
pins_b=$(cat "$MNT/vms/b/known_hosts")
expect_errno "restart clone b (a cold boot of its own disk)" OK write "$MNT/vms/b/state" restart
expect_eq "b keeps its pinned keys" "$pins_b" "$(cat "$MNT/vms/b/known_hosts")"
expect_eq "b restored once only" 1 "$(grep -c 'snapshots: restoring template' "$MNT/vms/b/logs")"
expect_eq "b after its restart: strict ssh, its own hostname" b "$(tssh "$ipb" hostname)"

# 3. SIGKILL of bangerd: the clones are re-adopted; the next bangerd has
# file_sync on, and a fresh VM's work disk is hot-plugged into its clone
pidb=$(cat "$MNT/vms/b/pid")
kill_daemon
check "clone b outlives bangerd" kill -0 "$pidb"
mkdir -p "$T/sync"
echo "synced-into-a-clone" >"$T/sync/note"
cat >>"$T/home/config/config.toml" <<CONF

[[file_sync]]
host = "$T/sync/note"
guest = "/root/note"
CONF
# this bangerd's banger-ssh cannot make host keys: its clones' agents make
# their own, as with a bangerd before host-made keys
cat >"$T/ssh-nohostkey" <<WRAP
#!/bin/sh
[ "\$1" = hostkey ] && { echo "error: this test's banger-ssh makes no host keys"; exit 1; }
exec "$BUILD/helpers/banger-ssh/banger-ssh" "\$@"
WRAP
chmod +x "$T/ssh-nohostkey"
BANGER_SSH_HELPER=$T/ssh-nohostkey start_daemon
expect_eq "clone b re-adopted: running" running "$(cat "$MNT/vms/b/state")"
expect_eq "same pid" "$pidb" "$(cat "$MNT/vms/b/pid")"
check "logs say re-adopted" grep -q "re-adopted" "$MNT/vms/b/logs"
check "the re-adopted clone still answers strict ssh" tssh "$ipb" true
expect_eq "the template survived the restart" ready "$(cat "$MNT/templates/$KEY/status")"
mkdir "$MNT/vms/d"
expect_errno "a clone with a file_sync work disk starts" OK write "$MNT/vms/d/state" start
check "d was restored" grep -q "restored from template $KEY" "$MNT/vms/d/logs"
ipd=$(cat "$MNT/vms/d/ip")
expect_eq "/root is the hot-plugged work disk" /dev/vdb "$(tssh "$ipd" "awk '\$2 == \"/root\" { print \$1 }' /proc/mounts")"
expect_eq "the synced file is there" synced-into-a-clone "$(tssh "$ipd" cat /root/note)"
check "d got no host-made key (its logs say so)" grep -q "no host-made SSH host key" "$MNT/vms/d/logs"
kd=$(cut -d' ' -f2- "$MNT/vms/d/known_hosts" | sort -u)
expect_eq "its agent made its own key (an identify without hostkey_ed25519=), pinned" \
	"$(tssh "$ipd" cat /etc/dropbear/dropbear_ed25519_host_key.pub | cut -d' ' -f1-2)" "$kd"
check "which is not the template's" test -n "$kd" -a "$kd" != "$ka"

# (templates are made from boots without a work disk: file_sync goes again)
stop_daemon
sed -i '/^\[\[file_sync\]\]/,$d' "$T/home/config/config.toml"
start_daemon

# 4. a corrupt template: a restore fails, the start boots cold instead
for v in b c d; do $FSOP write "$MNT/vms/$v/state" kill >/dev/null 2>&1; done
check "b, c and d deleted" rmdir "$MNT/vms/b" "$MNT/vms/c" "$MNT/vms/d"
check "nothing uses the template now" test ! -s "$MNT/templates/$KEY/used_by"
truncate -s 100 "$T/home/state/templates/$KEY/state"
mkdir "$MNT/vms/e"
expect_errno "a start from the corrupt template still works" OK write "$MNT/vms/e/state" start
check "logs say the restore failed and why" grep -q "restoring template $KEY failed: " "$MNT/vms/e/logs"
check "and that it fell back to a cold boot" grep -q "falling back to a cold boot" "$MNT/vms/e/logs"
check "the cold boot is ready with strict ssh" tssh "$(cat "$MNT/vms/e/ip")" true
check "no clone QEMU is left behind" test "$(test_vm_pids | wc -l)" = 2
check "e is no clone" test ! -s "$MNT/templates/$KEY/used_by" -o "$(cat "$MNT/templates/$KEY/used_by" 2>/dev/null)" != e

# 5. a changed image makes a new template (and the unused old one goes)
$FSOP write "$MNT/vms/e/state" kill >/dev/null 2>&1
rmdir "$MNT/vms/e"
check "a fresh template came back (made by e's cold boot)" wait_for 30 test -d "$T/home/state/templates/$KEY"
img=$T/home/state/images/tiny/rootfs.ext4
cp --sparse=always --remove-destination "$(readlink -f "$img")" "$img.new" && mv -f "$img.new" "$img"
mkdir "$MNT/vms/f"
expect_errno "start with the changed image" OK write "$MNT/vms/f/state" start
check "a new template is saved for it" grep -q "snapshots: saved template" "$MNT/vms/f/logs"
check "its key differs" sh -c "! grep -q 'saved template $KEY' '$MNT/vms/f/logs'"
check "the stale, unused template is removed" wait_for 30 test ! -d "$T/home/state/templates/$KEY"
NEW=$(tpl_dirs)
check "one template is left" test "$(echo "$NEW" | wc -w)" = 1
expect_errno "rmdir templates/NEW works once unused" OK rmdir "$MNT/templates/$NEW"
check "its files go" wait_for 30 test ! -d "$T/home/state/templates/$NEW"

# 6. snapshots = off: cold boots, no template
stop_daemon
BANGER_SNAPSHOTS=off start_daemon
expect_eq "config says snapshots = off from the environment" "snapshots = off  # BANGER_SNAPSHOTS" \
	"$(grep '^snapshots' "$MNT/config")"
mkdir "$MNT/vms/g"
expect_errno "start with snapshots off" OK write "$MNT/vms/g/state" start
check "no snapshot step in its logs" sh -c "! grep -q 'snapshots:' '$MNT/vms/g/logs'"
check "no template was made" test -z "$(tpl_dirs)"
check "its QEMU has no memory backend" sh -c "! tr '\\0' ' ' </proc/$(cat "$MNT/vms/g/pid")/cmdline | grep -q memory-backend"

finish
