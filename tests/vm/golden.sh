#!/bin/bash
# The golden debian-bookworm guest (tools/mkgolden, docs/golden-image.md):
# built (cached) and published with the tiny one into a catalog directory,
# pulled by bangerd from that file:// catalog at the first start (the seed's
# auto-pull), then booted under systemd with a
# work disk: ssh with the key the agent pinned (the per-VM host keys, none
# baked into the image), docker, git, a static binary from gcc run in a
# container, hostname, /root on the work disk, the root fs grown, no failed
# units, a clean stop through the agent, a second boot with the same keys;
# then a template and a clone of it (snapshots), with its own identity.
# Prints the build, bundle and boot numbers as TAP comments.

# The build needs the Debian mirror, so it runs before lib.sh moves this
# test into a network namespace without one. The first build takes minutes;
# then it is cached (a no-op run takes seconds).
if [ -z "${BANGER_TEST_NETNS:-}" ]; then
	repo=$(cd "$(dirname "$0")/../.." && pwd)
	bdir=${BANGER_BUILD:-$repo/build}
	golden=${BANGER_TEST_GOLDEN:-$bdir/golden}
	start=$(date +%s)
	BANGER_HOME=$golden "$repo/tools/mkgolden" --agent "$bdir/agent/banger-agent" \
		--publish "$golden/publish" --image debian-bookworm --image tiny 2>&1 | sed 's/^/# /'
	if [ "${PIPESTATUS[0]}" != 0 ]; then
		echo "not ok 1 - tools/mkgolden failed (output above)"
		echo "1..1"
		exit 1
	fi
	export GOLDEN_BUILD_S=$(($(date +%s) - start))
fi
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
GOLDEN=${BANGER_TEST_GOLDEN:-$BUILD/golden}
PUB=$GOLDEN/publish
# systemd under TCG boots slower than the tiny busybox guest
export BANGER_BOOT_TIMEOUT=${BANGER_BOOT_TIMEOUT:-300}
export BANGER_NAT=true # only inside this namespace, which has no way out
log "mkgolden (cached or not) took ${GOLDEN_BUILD_S:-?} s"

ms() { echo $(($(date +%s%N) / 1000000)); }

banger_setup real
stop_daemon

# ---- the catalog and the bundles
CAT=$PUB/catalog.json
# shellcheck disable=SC2317 # called through check
jqe() { jq -e "$@" >/dev/null; }
check "catalog.json is valid JSON, format 1" jqe '.format == 1' "$CAT"
for n in debian-bookworm tiny; do
	sum=$(sha256sum <"$PUB/$n.tar.zst" | cut -d' ' -f1)
	size=$(stat -c %s "$PUB/$n.tar.zst")
	expect_eq "catalog: image $n points at its bundle (relative url, sha256, size, kernel)" \
		"$n.tar.zst $sum $size $n" \
		"$(jq -r --arg n "$n" '.images[] | select(.name == $n) | "\(.url) \(.sha256) \(.size) \(.kernel)"' "$CAT")"
	expect_eq "catalog: kernel $n is in the same bundle" "$n.tar.zst $sum $size" \
		"$(jq -r --arg n "$n" '.kernels[] | select(.name == $n) | "\(.url) \(.sha256) \(.size)"' "$CAT")"
done
check "catalog: descriptions are set" jqe '[.images[], .kernels[]] | all(.description | length > 0)' "$CAT"
bundle_size=$(stat -c %s "$PUB/debian-bookworm.tar.zst")
rootfs_size=$(stat -c %s "$GOLDEN/state/images/debian-bookworm/rootfs.ext4")
log "debian-bookworm: bundle $((bundle_size / 1048576)) MiB, rootfs.ext4 $((rootfs_size / 1048576)) MiB" \
	"($(du -m "$GOLDEN/state/images/debian-bookworm/rootfs.ext4" | cut -f1) MiB allocated)"
check "the image's rootfs.ext4 is sparse" \
	test "$(du -B1 "$GOLDEN/state/images/debian-bookworm/rootfs.ext4" | cut -f1)" -lt "$rootfs_size"
expect_eq "the image has the label banger-root" banger-root \
	"$(dumpe2fs -h "$GOLDEN/state/images/debian-bookworm/rootfs.ext4" 2>/dev/null | sed -n 's/^Filesystem volume name: *//p')"
check "no SSH host keys are baked into the image" sh -c \
	"! debugfs -R 'ls /etc/ssh' '$GOLDEN/state/images/debian-bookworm/rootfs.ext4' 2>/dev/null | grep -q ssh_host_"
check "the image has the sshd drop-in" sh -c \
	"debugfs -R 'cat /etc/ssh/sshd_config.d/banger.conf' '$GOLDEN/state/images/debian-bookworm/rootfs.ext4' 2>/dev/null | grep -qx 'PermitRootLogin prohibit-password'"

# bangerd pulls it from this catalog (file://), as on a machine offline
sed -i "1i catalog = \"file://$CAT\"" "$T/home/config/config.toml"

# a work disk for /root (file_sync)
mkdir -p "$T/sync"
echo "from the host" >"$T/sync/note"
cat >>"$T/home/config/config.toml" <<CONF

[[file_sync]]
host = "$T/sync/note"
guest = "~/note"
CONF
start_daemon

V=$MNT/vms/gold
check "mkdir gold" mkdir "$V"
check "disk_size 4G" sh -c "echo 4G >'$V/disk_size'"
check "debian-bookworm is not installed yet" test ! -e "$MNT/images/debian-bookworm"
check "image debian-bookworm (listed in the catalog)" sh -c "echo debian-bookworm >'$V/image'"
expect_eq "the kernel follows the catalog entry" debian-bookworm "$(cat "$V/kernel")"
check "memory_mib 1024" sh -c "echo 1024 >'$V/memory_mib'"

t0=$(ms)
expect_errno "start gold (pulls the image, first boot: host keys made, pinned from the agent)" OK write "$V/state" start
boot1=$(($(ms) - t0))
log "pull + first boot, start -> ready: $boot1 ms"
check "the start pulled the image" grep -q "image debian-bookworm is not installed: pulling it" "$V/logs"
log "$(grep -E 'image debian-bookworm: (ready|pulling)' "$V/logs" | tail -n 2 | tr '\n' ' ')"
expect_eq "images/debian-bookworm is ready" ready "$(cat "$MNT/images/debian-bookworm/status")"
expect_eq "its source is the published bundle" "file://$PUB/debian-bookworm.tar.zst" "$(cat "$MNT/images/debian-bookworm/source")"
expect_eq "its sha256 is the bundle's" "$(sha256sum <"$PUB/debian-bookworm.tar.zst" | cut -d' ' -f1)" \
	"$(cat "$MNT/images/debian-bookworm/sha256")"
check "the kernel came with it" test -d "$MNT/kernels/debian-bookworm"
check "the installed kernel is the tiny one (same vmlinuz)" \
	cmp -s "$T/home/state/kernels/debian-bookworm/vmlinuz" "$GOLDEN/state/kernels/tiny/vmlinuz"
check "the installed rootfs is sparse" test "$(du -B1 "$T/home/state/images/debian-bookworm/rootfs.ext4" | cut -f1)" \
	-lt "$(stat -c %s "$T/home/state/images/debian-bookworm/rootfs.ext4")"
expect_eq "gold is running" running "$(cat "$V/state")"
check "pinned from the agent's hello" grep -q "ssh ready with the pinned host key (agent pin" "$V/logs"

gssh() {
	ssh -F "$V/ssh_config" -o BatchMode=yes -o ConnectTimeout=30 gold.vm "$@" 2>>"$T/ssh.err"
}
t0=$(ms)
gssh true
log "first ssh true after ready: $(($(ms) - t0)) ms"
t0=$(ms)
gssh true
log "warm ssh true: $(($(ms) - t0)) ms"
t0=$(ms)
dv=$(gssh docker --version)
log "ssh docker --version: $(($(ms) - t0)) ms: $dv"
check "docker --version" grep -q '^Docker version' <<<"$dv"
check "git --version" grep -q '^git version' <<<"$(gssh git --version)"
expect_eq "PID 1 is systemd" systemd "$(gssh cat /proc/1/comm)"
expect_eq "hostname is the VM's name" gold "$(gssh hostname)"
expect_eq "/root is the work disk" /dev/vdb "$(gssh findmnt -n -o SOURCE /root)"
expect_eq "the synced file is there" "from the host" "$(gssh cat /root/note)"
state=$(gssh systemctl is-system-running --wait)
expect_eq "systemd: running, no failed units" running "$state"
[ "$state" = running ] || gssh systemctl --failed --no-legend | sed 's/^/# failed: /'
expect_eq "the agent runs as a systemd service" active "$(gssh systemctl is-active banger-agent.service)"
expect_eq "root's password is locked" L "$(gssh passwd -S root | cut -d' ' -f2)"
check "password logins are refused" sh -c "! ssh -F '$V/ssh_config' -o BatchMode=yes \
	-o PubkeyAuthentication=no gold.vm true 2>/dev/null"

# the agent's hello carried exactly sshd's keys
hello_keys=$(grep 'hello proto=' "$V/logs" | tail -n 1 | grep -o 'hostkey=[^ ]*' | cut -d= -f2- | sort)
guest_keys=$(gssh 'cat /etc/ssh/ssh_host_*_key.pub' | awk '{ print $1 ":" $2 }' | sort)
check "the hello carried host keys" test -n "$hello_keys"
expect_eq "they are the guest's sshd keys" "$guest_keys" "$hello_keys"
ed=$(gssh cat /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f1,2)
check "sshd's ed25519 key is pinned for gold.vm" grep -qxF "gold.vm $ed" "$V/known_hosts"
check "the first boot made the keys" gssh "journalctl -b -u banger-hostkeys --no-pager | grep -q 'generated SSH host key'"

expect_eq "the network from ip=: eth0 has the VM's address" "$(cat "$V/ip")" \
	"$(gssh "ip -4 -o addr show dev eth0 | awk '{ split(\$4, a, \"/\"); print a[1] }'")"
expect_eq "resolv.conf from ip='s dns field" "nameserver 172.16.0.1" "$(gssh cat /etc/resolv.conf)"
check "the root file system grew to the VM's disk (4G)" \
	wait_for 60 sh -c "ssh -F '$V/ssh_config' -o BatchMode=yes gold.vm 'df -k /' 2>/dev/null | awk 'NR == 2 && \$2 > 3500000 { ok = 1 } END { exit !ok }'"

# build-essential and docker together: a static binary from gcc, run in a
# container made from it (no registry: docker import). dockerd starts on
# first use (docker.socket).
t0=$(ms)
# shellcheck disable=SC2016 # expanded in the guest
out=$(gssh 'set -e; d=$(mktemp -d); printf "#include <stdio.h>\nint main(void) { puts(\"hello from a container\"); return 0; }\n" >$d/h.c
	gcc -static -O2 -o $d/hello $d/h.c; tar -C $d -c hello | docker import - banger-hello >/dev/null
	docker run --rm --network none banger-hello /hello' 2>&1)
log "gcc -static + dockerd start + docker import + docker run: $(($(ms) - t0)) ms"
expect_eq "docker runs a container (a static binary built by gcc in the guest)" "hello from a container" "$out"

# ---- a clean stop: the agent's shutdown, systemd powers off
t0=$(ms)
expect_errno "stop gold" OK write "$V/state" stop
log "stop took $(($(ms) - t0)) ms"
expect_eq "gold is stopped" stopped "$(cat "$V/state")"
check "QEMU exited by itself (no kill fallback)" sh -c "! grep -Eq 'did not power off|killing it' '$V/logs'"
check "the hypervisor exited with status 0" grep -q "exited with status 0" "$V/logs"

# ---- second boot: same disk, same keys
pins=$(cat "$V/known_hosts")
t0=$(ms)
expect_errno "start gold again" OK write "$V/state" start
log "second boot, start -> ready: $(($(ms) - t0)) ms"
expect_eq "the pins did not change" "$pins" "$(cat "$V/known_hosts")"
expect_eq "ssh works after the reboot" gold "$(gssh hostname)"
expect_errno "stop gold" OK write "$V/state" stop
check "rmdir gold" rmdir "$V"

# ---- snapshots (docs/snapshots.md): a template from a boot without a work
# disk, then a clone of it with its own identity
stop_daemon
sed -i '/^\[\[file_sync\]\]/,$d' "$T/home/config/config.toml"
start_daemon
for n in t1 t2; do
	mkdir "$MNT/vms/$n" && echo 4G >"$MNT/vms/$n/disk_size" && echo debian-bookworm >"$MNT/vms/$n/image" &&
		echo 1024 >"$MNT/vms/$n/memory_mib"
done
t0=$(ms)
expect_errno "start t1 (cold, saves a template once its sshd is up)" OK write "$MNT/vms/t1/state" start
log "cold start that saves a template: $(($(ms) - t0)) ms; $(grep -o 'saved template [0-9a-f]* (guest paused [^)]*)' "$MNT/vms/t1/logs")"
check "t1 saved a template" grep -q "snapshots: saved template" "$MNT/vms/t1/logs"
check "taken once its boot was done (its SSH server up)" grep -q "saved template .*its SSH server up" "$MNT/vms/t1/logs"
TKEY=$(grep -o 'saved template [0-9a-f]*' "$MNT/vms/t1/logs" | head -n 1 | cut -d' ' -f3)
pub=$(cut -d' ' -f2 "$T/home/config/ssh/id_ed25519.pub")
check "the template (taken later in the boot) still holds no banger key: not on its disk" sh -c \
	"! grep -aqF '$pub' '$T/home/state/templates/$TKEY/disk.qcow2'"
check "nor in its memory" sh -c "! grep -aqF '$pub' '$T/home/state/templates/$TKEY/memory'"
expect_errno "stop t1" OK write "$MNT/vms/t1/state" stop
t0=$(ms)
expect_errno "start t2 (restores the template)" OK write "$MNT/vms/t2/state" start
log "restored start: $(($(ms) - t0)) ms; $(grep -o 'restored from template [0-9a-f]* in [0-9]* ms' "$MNT/vms/t2/logs")"
check "t2 was restored from it" grep -q "snapshots: restored from template" "$MNT/vms/t2/logs"
t2ssh() {
	ssh -F none -i "$T/home/config/ssh/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o StrictHostKeyChecking=yes -o UserKnownHostsFile="$MNT/known_hosts" -o GlobalKnownHostsFile=/dev/null \
		-o ConnectTimeout=30 "root@$(cat "$MNT/vms/t2/ip")" "$@" 2>>"$T/ssh.err"
}
expect_eq "the clone answers strict OpenSSH with its pinned key; its hostname is its own" t2 "$(t2ssh hostname)"
check "its host keys are not t1's" test "$(cut -d' ' -f2- "$MNT/vms/t2/known_hosts" | sort -u)" != \
	"$(cut -d' ' -f2- "$MNT/vms/t1/known_hosts" | sort -u)"
check "its logs: it serves the host key banger made for it" \
	grep -q "the clone serves the SSH host key banger made for it" "$MNT/vms/t2/logs"
expect_eq "its one host key is the host-made ed25519 key, 0600" "-rw------- /etc/ssh/ssh_host_ed25519_key" \
	"$(t2ssh 'ls -l /etc/ssh/ssh_host_*_key' | awk '{ print $1, $NF }')"
expect_eq "its sshd serves the keys of its last hello" \
	"$(grep 'hello proto=' "$MNT/vms/t2/logs" | tail -n 1 | grep -o 'hostkey=[^ ]*' | cut -d= -f2- | sort)" \
	"$(t2ssh 'cat /etc/ssh/ssh_host_*_key.pub' | awk '{ print $1 ":" $2 }' | sort)"
expect_eq "its address is its own" "$(cat "$MNT/vms/t2/ip")" \
	"$(t2ssh "ip -4 -o addr show dev eth0 | awk '{ split(\$4, a, \"/\"); print a[1] }'")"
state=$(t2ssh systemctl is-system-running --wait)
log "the clone's systemd: $state"
[ "$state" = running ] || t2ssh systemctl --failed --no-legend | sed 's/^/# failed: /'
expect_errno "stop t2" OK write "$MNT/vms/t2/state" stop
check "rmdir t1 t2" rmdir "$MNT/vms/t1" "$MNT/vms/t2"
finish
