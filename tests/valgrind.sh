#!/bin/bash
# bangerd's common paths under valgrind: no leaks, no invalid accesses.
# (valgrind 3.19 does not know pidfd_open, so booting is not exercised here;
# the vm suite covers it.)
. "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || { echo "1..0 # SKIP valgrind not installed"; exit 0; }
# an AddressSanitizer build checks the same paths itself
ldd "$BANGERD" | grep -q libasan && { echo "1..0 # SKIP bangerd is built with ASan"; exit 0; }

T=$(mktemp -d /tmp/banger-test.XXXXXX)
MNT=$T/mnt
trap cleanup EXIT
mkdir -p "$T/home/state/images/tiny" "$T/home/state/kernels/tiny" "$MNT"
truncate -s 64M "$T/home/state/images/tiny/rootfs.ext4"
echo x >"$T/home/state/kernels/tiny/vmlinuz"
echo x >"$T/home/state/kernels/tiny/initrd.img"
# a file:// catalog with one small bundle, for the image paths
mkdir -p "$T/src/images/vgimg" "$T/src/kernels/vgimg" "$T/home/config" "$T/pub"
head -c 65536 /dev/urandom >"$T/src/images/vgimg/rootfs.ext4"
echo x >"$T/src/kernels/vgimg/vmlinuz"
echo x >"$T/src/kernels/vgimg/initrd.img"
"$REPO/tools/mkbundle" --image vgimg --kernel vgimg --from "$T/src" "$T/pub/vgimg.tar.gz" >/dev/null
printf '{"format": 1, "images": [{"name": "vgimg", "url": "vgimg.tar.gz", "sha256": "%s", "size": %s}]}\n' \
	"$(sha256sum <"$T/pub/vgimg.tar.gz" | cut -d' ' -f1)" "$(stat -c %s "$T/pub/vgimg.tar.gz")" >"$T/pub/catalog.json"
printf 'default_image_name = "tiny"\ncatalog = "%s"\n' "$T/pub/catalog.json" >"$T/home/config/config.toml"
BANGER_HOME=$T/home valgrind --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --error-exitcode=9 --log-file="$T/vg.log" \
	"$BANGERD" -f --mount "$MNT" >"$T/bangerd.out" 2>&1 &
DAEMON_PID=$!
check "bangerd mounts under valgrind" wait_for 60 is_mounted

for i in 1 2 3; do mkdir "$MNT/vms/v$i"; done
for f in "$MNT"/vms/v1/*; do [ "${f##*/}" = console ] || cat "$f" >/dev/null; done
timeout 2 cat "$MNT/vms/v1/console" >/dev/null
$FSOP write "$MNT/vms/v1/vcpu" 2 >/dev/null
$FSOP write "$MNT/vms/v1/vcpu" bad >/dev/null
$FSOP write "$MNT/vms/v1/state" bogus >/dev/null
$FSOP write "$MNT/vms/v1/disk_size" 2G >/dev/null
$FSOP create "$MNT/vms/v1/x" >/dev/null
$FSOP mkdir "$MNT/vms/BAD" >/dev/null
timeout 2 cat "$MNT/events" >/dev/null
cat "$MNT/config" "$MNT/README" "$MNT/known_hosts" >/dev/null
ls -lR "$MNT" >/dev/null
rmdir "$MNT/vms/v1" "$MNT/vms/v2"
mkdir "$MNT/images/vgimg"
check "an image pull under valgrind" test "$(timeout 120 cat "$MNT/images/vgimg/wait")" = ready
cat "$MNT"/images/vgimg/* "$MNT"/kernels/*/* "$MNT/images/import" >/dev/null
$FSOP mkdir "$MNT/images/nosuch" >/dev/null
$FSOP write "$MNT/images/import" "one" >/dev/null
$FSOP write "$MNT/vms/v3/image" vgimg >/dev/null
$FSOP rmdir "$MNT/images/vgimg" >/dev/null
rmdir "$MNT/vms/v3"
rmdir "$MNT/images/vgimg"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=""
expect_eq "valgrind reports no errors and no leaks (exit status)" 0 "$rc"
check "no definite leaks" grep -q "definitely lost: 0 bytes\|no leaks are possible" "$T/vg.log"
check "no invalid reads or writes" sh -c "! grep -q 'Invalid \(read\|write\)' '$T/vg.log'"
[ "$FAILS" -eq 0 ] || cat "$T/vg.log"
finish
