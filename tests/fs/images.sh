#!/bin/bash
# images/ and kernels/ in the tree: catalog pulls from a loopback HTTP
# server (inside this test's network namespace), status and wait, refusals
# that leave the store unchanged, rmdir EBUSY while a VM uses an image, the
# auto-pull at start, and the sweep of interrupted pulls.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

MKBUNDLE=$REPO/tools/mkbundle
SERVER_PID=""
banger_setup fake
# shellcheck disable=SC2317 # run by the EXIT trap
on_exit() {
	[ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null
	cleanup
}
trap on_exit EXIT

STATE=$T/home/state
CACHE=$T/home/cache
sha() { sha256sum <"$1" | cut -d' ' -f1; }
listing() { (cd "$1" && echo *); }

# --- bundles and a catalog, served from loopback -----------------------------
# fake_store DIR NAME: an image (random, 1.5 MiB) and a kernel NAME
fake_store() {
	mkdir -p "$1/images/$2" "$1/kernels/$2"
	head -c $((3 << 19)) /dev/urandom >"$1/images/$2/rootfs.ext4"
	echo "fake bzImage $2" >"$1/kernels/$2/vmlinuz"
	echo "fake initrd" >"$1/kernels/$2/initrd.img"
}
mkdir -p "$T/www" "$T/src"
for n in small auto cutimg badsha slowimg; do
	fake_store "$T/src" "$n"
	"$MKBUNDLE" --image "$n" --kernel "$n" --from "$T/src" "$T/www/$n.tar.zst" >/dev/null
done
"$MKBUNDLE" --kernel small --from "$T/src" "$T/www/kernel-small.tar.gz" >/dev/null
python3 "$REPO/tests/craft_bundle.py" "$T/evil.tar" dotdot evil && zstd -q --rm "$T/evil.tar" -o "$T/www/evil.tar.zst"

python3 "$REPO/tests/bundle_server.py" "$T/www" "$T/requests.log" "$T/port" 2>"$T/server.err" &
SERVER_PID=$!
wait_for 60 test -s "$T/port"
URL=http://127.0.0.1:$(cat "$T/port")

entry() { # NAME URL [SHA]
	local f=$T/www/${2##*/}
	printf '{"name": "%s", "description": "test %s", "url": "%s", "sha256": "%s", "size": %s, "kernel": "%s"}' \
		"$1" "$1" "$2" "${3:-$(sha "$f")}" "$(stat -c %s "$f")" "$1"
}
WRONG=$(printf 'a%.0s' $(seq 64))
cat >"$T/www/catalog.json" <<EOF
{"format": 1,
 "images": [$(entry small small.tar.zst), $(entry auto auto.tar.zst), $(entry badsha badsha.tar.zst "$WRONG"),
            $(entry cutimg "$URL/cut/cutimg.tar.zst"), $(entry evil evil.tar.zst),
            $(entry slowimg "$URL/slow/slowimg.tar.zst")],
 "kernels": [$(entry small kernel-small.tar.gz)]}
EOF
stop_daemon
{ printf 'catalog = "%s/plain/catalog.json"\n' "$URL"; cat "$T/home/config/config.toml"; } >"$T/config.new"
mv "$T/config.new" "$T/home/config/config.toml"
mkdir -p "$STATE/.pull-left-by-a-crash/image"
start_daemon

# --- what is installed --------------------------------------------------------
check "a crashed pull's temp dir is swept at start" test ! -e "$STATE/.pull-left-by-a-crash"
check "config names the catalog" grep -q "^catalog = $URL/plain/catalog.json  # .*config.toml" "$MNT/config"
expect_eq "images/ lists import and the installed ones" "debian-bookworm import tiny" "$(listing "$MNT/images")"
expect_eq "kernels/ lists the installed ones" "debian-bookworm tiny" "$(listing "$MNT/kernels")"
expect_eq "images/tiny/status" ready "$(cat "$MNT/images/tiny/status")"
expect_eq "images/tiny/size: its files' bytes" "$((64 << 20))" "$(cat "$MNT/images/tiny/size")"
expect_eq "images/tiny/source: built locally" local "$(cat "$MNT/images/tiny/source")"
expect_eq "images/tiny/kernel" tiny "$(cat "$MNT/images/tiny/kernel")"
expect_eq "images/tiny/wait returns at once when ready" ready "$(timeout 30 cat "$MNT/images/tiny/wait")"
check "kernels have no kernel file" test ! -e "$MNT/kernels/tiny/kernel"
check "images/tiny/created is a UTC time" grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' "$MNT/images/tiny/created"

# --- a pull ---------------------------------------------------------------------
# (that mkdir returns before the pull ends is checked with the slow server
# below, whose download takes seconds)
check "mkdir images/small" mkdir "$MNT/images/small"
check "status says pulling or ready" grep -qE '^(pulling|ready)' "$MNT/images/small/status"
expect_eq "wait blocks until ready" ready "$(timeout 120 cat "$MNT/images/small/wait")"
expect_eq "status: ready" ready "$(cat "$MNT/images/small/status")"
expect_eq "the rootfs is the bundle's" "$(sha "$T/src/images/small/rootfs.ext4")" "$(sha "$STATE/images/small/rootfs.ext4")"
expect_eq "source: the bundle URL" "$URL/plain/small.tar.zst" "$(cat "$MNT/images/small/source")"
expect_eq "sha256: the bundle's" "$(sha "$T/www/small.tar.zst")" "$(cat "$MNT/images/small/sha256")"
expect_eq "kernel: the bundle's" small "$(cat "$MNT/images/small/kernel")"
check "the bundle's kernel came along" test -f "$STATE/kernels/small/vmlinuz"
check "kernels/ lists it" test -d "$MNT/kernels/small"
check "the downloaded bundle is not kept" sh -c "! ls '$CACHE/bundles' | grep -q ."
check "no temp dir left" sh -c "! ls -a '$STATE' | grep -q '^\.pull-'"
check "events tell the pull" grep -q "images/small ready" <(events_now)
expect_errno "mkdir of an installed image: EEXIST" EEXIST mkdir "$MNT/images/small"

# --- refusals: nothing changes ------------------------------------------------------
before=$(ls -a "$STATE/images" "$STATE/kernels")
expect_errno "an unknown name: ENOENT" ENOENT mkdir "$MNT/images/nosuch"
check "the reason names the catalogs" grep -q "mkdir images/nosuch: no image 'nosuch' in the catalogs ($URL/plain/catalog.json" "$STATE/bangerd.log"
expect_errno "a bad name: EINVAL" EINVAL mkdir "$MNT/images/Bad_Name"
expect_errno "mkdir images/import: EEXIST" EEXIST mkdir "$MNT/images/import"
expect_errno "mkdir elsewhere: EPERM" EPERM mkdir "$MNT/images/small/x"

check "mkdir images/badsha starts" mkdir "$MNT/images/badsha"
expect_eq "a wrong sha256 fails" "error: sha256 mismatch: want $WRONG, got $(sha "$T/www/badsha.tar.zst")" \
	"$(timeout 120 cat "$MNT/images/badsha/wait")"
check "status keeps the error" grep -q '^error: sha256 mismatch' "$MNT/images/badsha/status"
check "the failure is in bangerd.log" grep -q "images/badsha: pull failed: sha256 mismatch" "$STATE/bangerd.log"

check "mkdir images/evil starts" mkdir "$MNT/images/evil"
check "a ../ entry is refused" grep -q "^error: refusing ../rootfs.ext4" <(timeout 120 cat "$MNT/images/evil/wait")

check "mkdir images/cutimg starts" mkdir "$MNT/images/cutimg"
check "a download cut half-way fails" grep -q "^error: download failed after" <(timeout 120 cat "$MNT/images/cutimg/wait")
expect_eq "the store is unchanged after the failures" "$before" "$(ls -a "$STATE/images" "$STATE/kernels")"
check "a partial download is kept to resume" test -s "$CACHE/bundles/$(sha "$T/www/cutimg.tar.zst").bundle.part"
check "a bundle that cannot install is not kept" test ! -e "$CACHE/bundles/$(sha "$T/www/evil.tar.zst").bundle"
check "rmdir of a failed entry" rmdir "$MNT/images/evil"
check "it is gone from the listing" sh -c "! ls '$MNT/images' | grep -qx evil"
expect_errno "mkdir over a failed entry: EEXIST" EEXIST mkdir "$MNT/images/cutimg"
check "rmdir the failed entry" rmdir "$MNT/images/cutimg"
check "mkdir again (resumes)" mkdir "$MNT/images/cutimg"
expect_eq "the resumed pull is ready" ready "$(timeout 120 cat "$MNT/images/cutimg/wait")"
HALF=$(($(stat -c %s "$T/www/cutimg.tar.zst") / 2))
check "it resumed with a Range request" grep -qx "/cut/cutimg.tar.zst bytes=$HALF-" "$T/requests.log"

# --- kernels ------------------------------------------------------------------------
check "rmdir kernels/small" rmdir "$MNT/kernels/small"
check "mkdir kernels/small pulls the kernel entry" mkdir "$MNT/kernels/small"
expect_eq "the kernel is ready" ready "$(timeout 120 cat "$MNT/kernels/small/wait")"
expect_eq "its source is the kernel bundle" "$URL/plain/kernel-small.tar.gz" "$(cat "$MNT/kernels/small/source")"
# an image bundle that brings a kernel (kind both) leaves an installed
# kernel of that name alone while VMs use it (as rmdir kernels/NAME would)
check "mkdir vms/kuser" mkdir "$MNT/vms/kuser"
check "it boots kernel small" sh -c "echo small > '$MNT/vms/kuser/kernel'"
kernel_before=$(stat -c %i "$STATE/kernels/small/vmlinuz"):$(cat "$STATE/kernels/small/kernel.json")
check "rmdir images/small" rmdir "$MNT/images/small"
check "mkdir images/small again" mkdir "$MNT/images/small"
expect_eq "the image is ready again" ready "$(timeout 120 cat "$MNT/images/small/wait")"
expect_eq "the kernel VMs use was not replaced" "$kernel_before" \
	"$(stat -c %i "$STATE/kernels/small/vmlinuz"):$(cat "$STATE/kernels/small/kernel.json")"
check "bangerd.log says why" grep -q "images/small: keeping the installed kernel small (used by 1 VM: kuser)" "$STATE/bangerd.log"
check "rmdir vms/kuser" rmdir "$MNT/vms/kuser"

# --- in use: EBUSY ---------------------------------------------------------------------
check "mkdir vms/user (image tiny)" mkdir "$MNT/vms/user"
expect_errno "rmdir images/tiny while a VM uses it: EBUSY" EBUSY rmdir "$MNT/images/tiny"
check "the reason names the VM" grep -q "rmdir images/tiny: image 'tiny' is used by 1 VM (user)" "$STATE/bangerd.log"
expect_errno "rmdir kernels/tiny: EBUSY" EBUSY rmdir "$MNT/kernels/tiny"
check "the image is still there" test -f "$STATE/images/tiny/rootfs.ext4"
check "echo small > image" sh -c "echo small > '$MNT/vms/user/image'"
expect_eq "the VM follows the image's kernel" small "$(cat "$MNT/vms/user/kernel")"
check "rmdir images/tiny once unused" rmdir "$MNT/images/tiny"
check "its files are gone" test ! -e "$STATE/images/tiny"
check "and deleted on a worker soon after" wait_for 60 sh -c "! ls -a '$STATE/images' | grep -q '^\.rm-'"
expect_errno "rmdir images/nosuch: ENOENT" ENOENT rmdir "$MNT/images/nosuch"
expect_errno "rmdir images/import: ENOTDIR" ENOTDIR rmdir "$MNT/images/import"

# --- start pulls a missing image (the seed's auto-pull) ------------------------------------
expect_errno "an image no catalog lists: ENOENT" ENOENT write "$MNT/vms/user/image" "nosuch"
check "echo auto > image (not installed, in the catalog)" sh -c "echo auto > '$MNT/vms/user/image'"
expect_eq "the kernel follows the catalog entry" auto "$(cat "$MNT/vms/user/kernel")"
check "no image yet" test ! -e "$STATE/images/auto"
# the fake kernel cannot boot: the start fails, after the pull
sh -c "echo start > '$MNT/vms/user/state'" 2>/dev/null
check "start pulled the image" test -f "$STATE/images/auto/rootfs.ext4"
check "the VM's logs tell the pull" grep -q "image auto is not installed: pulling it" "$MNT/vms/user/logs"
check "and when it was ready" grep -q "image auto: ready" "$MNT/vms/user/logs"
expect_eq "images/auto is ready" ready "$(cat "$MNT/images/auto/status")"
check "spec says where the kernel came from" grep -qx "kernel = auto  # image auto's kernel" "$MNT/vms/user/spec"
check "a root disk was made from it" sh -c "ls '$STATE'/vms/*/root.qcow2 >/dev/null"

# --- import: bad input changes nothing -------------------------------------------------------
expect_errno "import without a ref: EINVAL" EINVAL write "$MNT/images/import" "justaname"
expect_errno "import with three words: EINVAL" EINVAL write "$MNT/images/import" "a b c"
expect_errno "import over an installed image: EEXIST" EEXIST write "$MNT/images/import" "small docker.io/library/debian"
expect_errno "import with a bad name: EINVAL" EINVAL write "$MNT/images/import" "No docker.io/library/debian"
check "reading import explains it" grep -q 'NAME REF' "$MNT/images/import"

# --- bangerd killed mid-pull: no half image, the download resumes -------------------------
check "mkdir images/slowimg (a slow server: 16 KiB every 0.1 s)" mkdir "$MNT/images/slowimg"
check "mkdir returned while the download goes on" grep -q '^pulling' "$MNT/images/slowimg/status"
check "status shows progress" wait_for 10 grep -qE '^pulling [1-9][0-9]*% [0-9.]+[KMB]+/[0-9.]+M [0-9.]+[BKM]+/s$' "$MNT/images/slowimg/status"
kill_daemon
umount -l "$MNT" 2>/dev/null || fusermount3 -u -z "$MNT"
# the helper dies of SIGPIPE at its next progress line
check "the pull helper ended with the daemon" wait_for 60 sh -c "! pgrep -f '[b]anger-pull fetch .*$T/' >/dev/null"
check "no image was installed" test ! -e "$STATE/images/slowimg"
start_daemon
check "no temp dir after the restart" sh -c "! ls -a '$STATE' | grep -q '^\.pull-'"
check "slowimg is not listed" test ! -e "$MNT/images/slowimg"
check "the partial download is kept" test -s "$CACHE/bundles/$(sha "$T/www/slowimg.tar.zst").bundle.part"
check "mkdir images/slowimg again" mkdir "$MNT/images/slowimg"
expect_eq "it completes" ready "$(timeout 120 cat "$MNT/images/slowimg/wait")"
check "the second download resumed" grep -qE "^/slow/slowimg.tar.zst bytes=[1-9][0-9]*-$" "$T/requests.log"
expect_eq "the image is whole" "$(sha "$T/src/images/slowimg/rootfs.ext4")" "$(sha "$STATE/images/slowimg/rootfs.ext4")"

# --- the CLI: banger image ... ------------------------------------------------------------------
BANGER="env BANGER_MOUNT=$MNT $REPO/tools/banger"
$BANGER image ls >"$T/ls.out" 2>&1
check "banger image ls: a header" grep -qE '^NAME +STATUS +SIZE +KERNEL +SOURCE$' "$T/ls.out"
check "banger image ls: small is ready" grep -qE "^small +ready +1\.[0-9]M +small +$URL/plain/small.tar.zst$" "$T/ls.out"
$BANGER image pull small >"$T/out" 2>&1
check "banger image pull of an installed one says so" grep -q "small is already installed" "$T/out"
$BANGER image pull nosuch >"$T/out" 2>&1
expect_eq "banger image pull nosuch: exit 1" 1 "$?"
check "it says why" grep -q "cannot pull image nosuch: no image 'nosuch' in the catalogs" "$T/out"
$BANGER image pull badsha >"$T/out" 2>&1
expect_eq "banger image pull of a failed entry retries and fails: exit 1" 1 "$?"
check "with the pull's error" grep -q "badsha: error: sha256 mismatch" "$T/out"
$BANGER image rm auto >"$T/out" 2>&1
expect_eq "banger image rm of an image in use: exit 1" 1 "$?"
check "it names the VM" grep -q "cannot remove auto: image 'auto' is used by 1 VM (user): Device or resource busy" "$T/out"
$BANGER kernel ls >"$T/out" 2>&1
check "banger kernel ls lists kernels" grep -qE '^small +ready' "$T/out"
$BANGER image import x >"$T/out" 2>&1
expect_eq "banger image import with one argument: usage, exit 2" 2 "$?"

# --- concurrent pulls of one name: one wins, the rest get EEXIST ----------------------------------
check "rmdir images/small (unused)" rmdir "$MNT/images/small"
before=$(grep -c "^/plain/small.tar.zst " "$T/requests.log")
pids=""
for i in 1 2 3 4; do
	$FSOP mkdir "$MNT/images/small" >"$T/race.$i" 2>&1 &
	pids="$pids $!"
done
# shellcheck disable=SC2086 # a list of pids
wait $pids
expect_eq "one mkdir of four succeeds, three get EEXIST" "EEXIST EEXIST EEXIST OK" "$(cat "$T"/race.* | sort | tr '\n' ' ' | sed 's/ $//')"
expect_eq "and the pull completes once" ready "$(timeout 120 cat "$MNT/images/small/wait")"
expect_eq "one download" $((before + 1)) "$(grep -c "^/plain/small.tar.zst " "$T/requests.log")"

# --- a restart keeps everything --------------------------------------------------------------
stop_daemon
start_daemon
expect_eq "images after a restart (failed pulls are forgotten)" "auto cutimg debian-bookworm import slowimg small" "$(listing "$MNT/images")"
expect_eq "small's source survives" "$URL/plain/small.tar.zst" "$(cat "$MNT/images/small/source")"

# --- the catalog server is gone: its last copy still serves ------------------------------------
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=""
touch -d '10 minutes ago' "$CACHE"/catalogs/*.json
check "mkdir images/badsha with the catalog server down (the cached catalog answers)" mkdir "$MNT/images/badsha"
out=$(timeout 120 cat "$MNT/images/badsha/wait")
check "the download fails cleanly" grep -q "^error: download failed" <<<"$out"
finish
