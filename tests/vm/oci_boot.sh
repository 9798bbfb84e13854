#!/bin/bash
# An image imported through the tree (images/import, which runs banger-oci)
# from a real registry (docker-registry in this test's network namespace)
# boots through bangerd with the tiny kernel:
# the guest kit's init, agent and dropbear run on a userland that has no libc
# at all (busybox only), the host key is pinned from the agent's hello, and
# OpenSSH logs in and sees the layers applied (whiteout, opaque dir).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/oci_lib.sh
. "$REPO/tests/oci_lib.sh"
banger_setup real
# shellcheck disable=SC2317 # run by the EXIT trap
on_exit() {
	oci_stop
	cleanup
}
trap on_exit EXIT

KIT=$IMAGE_STORE/kit
if [ ! -s "$KIT/init" ]; then
	echo "no guest kit in $IMAGE_STORE (run tools/test, whose mkimage step builds it)" >&2
	exit 1
fi
gssh() { pinned_ssh "$@"; }

check "registry and token proxy start" oci_start "$T/oci"
L=$T/layers
mkdir -p "$L"/{1,2,3}
oci_busybox_root "$L/1" "$KIT"
echo bye >"$L/1/etc/victim"
mkdir -p "$L/1/data"
echo old >"$L/1/data/old1"
mkdir -p "$L/2/etc" "$L/2/data"
: >"$L/2/etc/.wh.victim"
: >"$L/2/data/.wh..wh..opq"
echo new >"$L/2/data/new1"
mkdir -p "$L/3/opt"
echo three >"$L/3/opt/added"
for i in 1 2 3; do oci_layer "$L/$i" "$T/layer$i.tgz"; done
check "push test:boot" oci_image test boot amd64 "$T/layer1.tgz" "$T/layer2.tgz" "$T/layer3.tgz"

ln -s "$KIT" "$T/home/state/kit"
t0=$(date +%s%N)
expect_errno "echo 'ocibox $PROXY/test:boot' > images/import" OK write "$MNT/images/import" "ocibox $PROXY/test:boot"
check "images/ocibox appears at once" test -d "$MNT/images/ocibox"
expect_eq "wait: ready" ready "$(timeout 300 cat "$MNT/images/ocibox/wait")"
log "import took $((($(date +%s%N) - t0) / 1000000)) ms"
expect_eq "source: the reference" "oci:$PROXY/test:boot" "$(cat "$MNT/images/ocibox/source")"
check "sha256: the manifest digest" grep -qE '^[0-9a-f]{64}$' "$MNT/images/ocibox/sha256"
expect_eq "kernel: the default one" tiny "$(cat "$MNT/images/ocibox/kernel")"
check "the import is in the events" grep -q "images/ocibox ready" <(events_now)
expect_errno "importing an unknown tag: the write starts it" OK write "$MNT/images/import" "nosuchtag $PROXY/test:nosuch"
check "and ends in an error status naming the tag" grep -q "^error: .*nosuch" <(timeout 120 cat "$MNT/images/nosuchtag/wait")
check "nothing installed for it" test ! -e "$T/home/state/images/nosuchtag"

V=$MNT/vms/ocivm
check "mkdir ocivm" mkdir "$V"
expect_errno "image = ocibox" OK write "$V/image" ocibox
t0=$(date +%s%N)
expect_errno "start (returns once ssh answers with the pinned key)" OK write "$V/state" start
log "start took $((($(date +%s%N) - t0) / 1000000)) ms"
expect_eq "running" running "$(cat "$V/state")"
CON=$(ls -d "$T"/home/state/vms/*)/console.log
check "the kernel got init=/.banger/init from image.json" grep -aq "init=/.banger/init" "$CON"
check "the kit's init said ready" grep -aq "banger-init: ready" "$CON"
check "pinned from the agent's hello" grep -q "ssh ready with the pinned host key (agent pin" "$V/logs"
IP=$(cat "$V/ip")
# shellcheck disable=SC2016 # expanded in the guest
expect_eq "OpenSSH runs a command in the guest" "hello from ocivm" "$(gssh "$IP" 'echo hello from $(hostname)')"
expect_eq "the whiteout took effect: /etc/victim is gone" "gone" "$(gssh "$IP" 'test -e /etc/victim && echo there || echo gone')"
expect_eq "the opaque /data holds only layer 2's file" "new1" "$(gssh "$IP" 'ls /data')"
expect_eq "layer 3's file is there" "three" "$(gssh "$IP" 'cat /opt/added')"
expect_eq "PID 1 runs the kit's init" "/.banger/rootfs-init" "$(gssh "$IP" 'tr "\0" " " </proc/1/cmdline' | awk '{print $2}')"
check "the image has no libc of its own" gssh "$IP" 'test ! -e /lib/x86_64-linux-gnu/libc.so.6'
# a second VM of the image restores a clone of the template the first start
# saved (docs/snapshots.md): its identity is made with the kit's tools
V2=$MNT/vms/ocivm2
check "mkdir ocivm2" mkdir "$V2"
expect_errno "image = ocibox" OK write "$V2/image" ocibox
expect_errno "start ocivm2" OK write "$V2/state" start
check "ocivm2 was restored from a template" grep -q "snapshots: restored from template" "$V2/logs"
IP2=$(cat "$V2/ip")
# shellcheck disable=SC2016 # expanded in the guest
expect_eq "the clone has its own hostname" "hello from ocivm2" "$(gssh "$IP2" 'echo hello from $(hostname)')"
check "and its own host key" test "$(cut -d' ' -f2- "$V2/known_hosts" | sort -u)" != "$(cut -d' ' -f2- "$V/known_hosts" | sort -u)"
expect_errno "stop ocivm2" OK write "$V2/state" stop
check "rmdir ocivm2" rmdir "$V2"
expect_errno "stop" OK write "$V/state" stop
expect_eq "stopped" stopped "$(cat "$V/state")"
check "rmdir" rmdir "$V"
finish
