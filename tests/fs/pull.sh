#!/bin/bash
# banger-pull and tools/mkbundle: bundles fetched from a loopback HTTP server
# (inside this test's network namespace) and file://, resumed downloads,
# sha256 checks, and hostile archives refused with the store unchanged.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

PULL=$(helper_bin banger-pull)
MKBUNDLE=$REPO/tools/mkbundle
T=$(mktemp -d /tmp/banger-pull-test.XXXXXX)
SERVER_PID=""
# shellcheck disable=SC2317 # run by the EXIT trap
on_exit() {
	[ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null
	rm -rf "$T"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

sha() { sha256sum <"$1" | cut -d' ' -f1; }
last_line() { tail -n1 "$1"; }
# the store's contents (names + hashes), to compare before and after
store_state() {
	(cd "$1" && find . | sort | while read -r f; do
		if [ -f "$f" ]; then echo "$f $(sha "$f")"; else echo "$f"; fi
	done)
}
# shellcheck disable=SC2317 # run through check
no_leftovers() { [ -z "$(find "$1" -maxdepth 1 -name '.pull-*')" ]; }

# --- a small fake store, packed by mkbundle ---------------------------------
SRC=$T/src
mkdir -p "$SRC/images/tiny" "$SRC/kernels/tiny" "$T/www" "$T/dl"
head -c $((3 << 19)) /dev/urandom >"$SRC/images/tiny/rootfs.ext4" # 1.5 MiB, incompressible
echo "fake bzImage" >"$SRC/kernels/tiny/vmlinuz"
echo "fake initrd" >"$SRC/kernels/tiny/initrd.img"
echo "6.1.0-fake" >"$SRC/kernels/tiny/version"
check "mkbundle packs image + kernel (zstd)" sh -c "'$MKBUNDLE' --image tiny --kernel tiny --from '$SRC' '$T/www/tiny.tar.zst' >'$T/mkbundle.out'"
check "mkbundle packs gzip" sh -c "'$MKBUNDLE' --image tiny --from '$SRC' '$T/www/tiny-image.tar.gz' >/dev/null"
check "mkbundle reports the bundle's sha256" grep -qx "sha256 $(sha "$T/www/tiny.tar.zst")" "$T/mkbundle.out"
check "manifest.json is the first entry" sh -c "tar -tf '$T/www/tiny.tar.zst' | head -n1 | grep -qx manifest.json"
BUNDLE_SHA=$(sha "$T/www/tiny.tar.zst")
BUNDLE_SIZE=$(stat -c %s "$T/www/tiny.tar.zst")

# --- a loopback HTTP server: /plain/ honours Range, /cut/ closes the first
# answer half-way, /norange/ ignores Range; it logs "PATH RANGE" per request
python3 "$REPO/tests/bundle_server.py" "$T/www" "$T/requests.log" "$T/port" 2>"$T/server.err" &
SERVER_PID=$!
wait_for 60 test -s "$T/port"
URL=http://127.0.0.1:$(cat "$T/port")

# --- fetch -----------------------------------------------------------------
"$PULL" fetch "$URL/plain/tiny.tar.zst" "$BUNDLE_SHA" "$T/dl/a.tar.zst" --size "$BUNDLE_SIZE" >"$T/out" 2>&1
expect_eq "fetch over http: ok" ok "$(last_line "$T/out")"
check "fetch printed progress lines" grep -qE '^progress [0-9]+ [0-9]+ [0-9]+$' "$T/out"
expect_eq "the last progress line is complete" "progress $BUNDLE_SIZE $BUNDLE_SIZE" \
	"$(grep '^progress' "$T/out" | tail -n1 | cut -d' ' -f1-3)"
expect_eq "fetched file has the bundle's sha256" "$BUNDLE_SHA" "$(sha "$T/dl/a.tar.zst")"
check "no .part left" test ! -e "$T/dl/a.tar.zst.part"

# the proxy from http_proxy: nothing listens at the origin, the proxy serves
http_proxy=$URL "$PULL" fetch "http://127.0.0.1:9/plain/tiny.tar.zst" "$BUNDLE_SHA" "$T/dl/p.tar.zst" >"$T/out" 2>&1
expect_eq "fetch through http_proxy: ok" ok "$(last_line "$T/out")"
check "the request went through the proxy" grep -qx "proxied http://127.0.0.1:9/plain/tiny.tar.zst" "$T/requests.log"

# two fetches of one DEST take turns, even across the lock file's removal:
# a holder unlinks DEST.lock as it finishes; one that was waiting on the old
# file and one that comes after (and makes a new file) must not both fetch
head -c $((1 << 20)) /dev/urandom >"$T/www/race.bin"
RACE_SHA=$(sha "$T/www/race.bin")
exec {held}>"$T/dl/r.bin.lock"
flock "$held"
"$PULL" fetch "$URL/slow/race.bin" "$RACE_SHA" "$T/dl/r.bin" >"$T/race1.out" 2>&1 {held}>&- &
race1=$!
check "the first fetch waits on the held lock" wait_for 20 sh -c "ls -l /proc/$race1/fd 2>/dev/null | grep -q 'r.bin.lock'"
rm "$T/dl/r.bin.lock"
exec {held}>&-
"$PULL" fetch "$URL/slow/race.bin" "$RACE_SHA" "$T/dl/r.bin" >"$T/race2.out" 2>&1 &
race2=$!
wait "$race1" "$race2"
expect_eq "the first fetch: ok" ok "$(last_line "$T/race1.out")"
expect_eq "the second fetch: ok" ok "$(last_line "$T/race2.out")"
expect_eq "the file was downloaded once, not by both at the same time" 1 "$(grep -c '^/slow/race.bin ' "$T/requests.log")"
expect_eq "and it is whole" "$RACE_SHA" "$(sha "$T/dl/r.bin")"

"$PULL" fetch "file://$T/www/tiny.tar.zst" "$BUNDLE_SHA" "$T/dl/f.tar.zst" >"$T/out" 2>&1
expect_eq "fetch over file://: ok" ok "$(last_line "$T/out")"
expect_eq "file:// copy has the sha256" "$BUNDLE_SHA" "$(sha "$T/dl/f.tar.zst")"

WRONG=$(printf '0%.0s' $(seq 64))
"$PULL" fetch "$URL/plain/tiny.tar.zst" "$WRONG" "$T/dl/w.tar.zst" >"$T/out" 2>&1
rc=$?
expect_eq "wrong sha256 refused" "error: sha256 mismatch: want $WRONG, got $BUNDLE_SHA" "$(last_line "$T/out")"
expect_eq "wrong sha256: exit 1" 1 "$rc"
check "wrong sha256: no .part and no DEST" sh -c "! ls '$T/dl' | grep -q '^w\.'"

"$PULL" fetch "$URL/plain/missing.tar.zst" "$BUNDLE_SHA" "$T/dl/m.tar.zst" >"$T/out" 2>&1
check "a 404 fails" grep -q '^error: download failed.*404' "$T/out"
check "a 404 leaves nothing" sh -c "! ls '$T/dl' | grep -q '^m\.'"

"$PULL" fetch "$URL/plain/tiny.tar.zst" "not-a-sha" "$T/dl/x.tar.zst" >"$T/out" 2>&1
check "a malformed sha256 is refused" grep -q '^error: not a sha256' "$T/out"

# cut half-way, then resumed with a Range request
"$PULL" fetch "$URL/cut/tiny.tar.zst" "$BUNDLE_SHA" "$T/dl/c.tar.zst" >"$T/out" 2>&1
rc=$?
expect_eq "a cut download fails" 1 "$rc"
check "the cut download says it can resume" grep -q '^error: download failed after [0-9]* bytes (run again to resume)' "$T/out"
HALF=$((BUNDLE_SIZE / 2))
expect_eq "the .part holds what arrived" "$HALF" "$(stat -c %s "$T/dl/c.tar.zst.part" 2>/dev/null)"
check "no DEST after the cut" test ! -e "$T/dl/c.tar.zst"
"$PULL" fetch "$URL/cut/tiny.tar.zst" "$BUNDLE_SHA" "$T/dl/c.tar.zst" --size "$BUNDLE_SIZE" >"$T/out" 2>&1
expect_eq "the second fetch completes" ok "$(last_line "$T/out")"
check "the second fetch sent a Range header" grep -qx "/cut/tiny.tar.zst bytes=$HALF-" "$T/requests.log"
expect_eq "the resumed file is whole" "$BUNDLE_SHA" "$(sha "$T/dl/c.tar.zst")"

# a server that ignores Range: the .part is started over
head -c 1000 /dev/urandom >"$T/dl/n.tar.zst.part"
"$PULL" fetch "$URL/norange/tiny.tar.zst" "$BUNDLE_SHA" "$T/dl/n.tar.zst" >"$T/out" 2>&1
expect_eq "Range ignored (200): restarted from 0 and ok" ok "$(last_line "$T/out")"
check "Range was asked" grep -qx "/norange/tiny.tar.zst bytes=1000-" "$T/requests.log"
expect_eq "the restarted file is whole" "$BUNDLE_SHA" "$(sha "$T/dl/n.tar.zst")"

# --- install ---------------------------------------------------------------
STORE=$T/store
mkdir -p "$STORE"
"$PULL" install "$T/dl/a.tar.zst" "$STORE" >"$T/out" 2>&1
expect_eq "install: both parts" "ok kernel tiny
ok image tiny" "$(cat "$T/out")"
for f in images/tiny/rootfs.ext4 kernels/tiny/vmlinuz kernels/tiny/initrd.img kernels/tiny/version; do
	expect_eq "installed $f matches the source" "$(sha "$SRC/$f")" "$(sha "$STORE/$f" 2>/dev/null)"
done
check "bundle.json is the manifest" sh -c "tar -xOf '$T/dl/a.tar.zst' manifest.json | cmp -s - '$STORE/images/tiny/bundle.json'"
check "no temp dir left" no_leftovers "$STORE"
"$PULL" install "$T/www/tiny-image.tar.gz" "$T/store-gz" >"$T/out" 2>&1
check "install into a missing state dir fails" grep -q "^error: $T/store-gz: No such file or directory" "$T/out"
mkdir -p "$T/store-gz"
"$PULL" install "$T/www/tiny-image.tar.gz" "$T/store-gz" >"$T/out" 2>&1
expect_eq "install of an image-only gzip bundle" "ok image tiny" "$(cat "$T/out")"
check "image-only bundle: the default kernel is named" grep -q '"kernel": "tiny"' "$T/store-gz/images/tiny/bundle.json"
check "image-only bundle installs no kernel" test ! -e "$T/store-gz/kernels"

# --- hostile or broken archives, each against the installed store ----------

# refused CASE REASON [MAX_BYTES]
refused() {
	local case=$1 reason=$2 max=${3:-} before
	python3 "$REPO/tests/craft_bundle.py" "$T/$case.tar" "$case" && zstd -q -f --rm "$T/$case.tar" -o "$T/$case.tar.zst"
	before=$(store_state "$STORE")
	"$PULL" install "$T/$case.tar.zst" "$STORE" ${max:+--max-bytes "$max"} >"$T/out" 2>&1
	local rc=$?
	expect_eq "$case: exit 1" 1 "$rc"
	if grep -q "^error: .*$reason" "$T/out"; then ok "$case: refused ($(last_line "$T/out"))"; else fail "$case: reason (got '$(cat "$T/out")')"; fi
	expect_eq "$case: store unchanged" "$before" "$(store_state "$STORE")"
	check "$case: no temp dir left" no_leftovers "$STORE"
}
refused dotdot "a path outside the bundle"
refused absolute "an absolute path"
refused symlink "a symbolic link"
refused hardlink "a hard link"
refused device "a device node"
refused unlisted "refusing evil.sh: not listed in the manifest"
refused size "size differs from the manifest"
refused sha "rootfs.ext4: sha256 mismatch: want [0-9a-f]*, got"
refused bomb "decompression bomb?" $((1 << 20))
refused late-manifest "the first entry of a bundle must be the file manifest.json"
refused missing "rootfs.ext4 is in the manifest but not in the bundle"
refused bad-name "manifest: "
check "the bomb was small" test "$(stat -c %s "$T/bomb.tar.zst")" -lt 16384

# the default limit lets the bomb's 32 MiB through (its sha256 is right)
cp -a "$STORE" "$T/store-bomb"
"$PULL" install "$T/bomb.tar.zst" "$T/store-bomb" >"$T/out" 2>&1
expect_eq "under the default limit the same archive installs" "ok image tiny" "$(cat "$T/out")"

# --- replacing an image ----------------------------------------------------
python3 "$REPO/tests/craft_bundle.py" "$T/v2.tar" v2
"$PULL" install "$T/v2.tar" "$STORE" >"$T/out" 2>&1
expect_eq "an existing image is replaced" "ok image tiny" "$(cat "$T/out")"
expect_eq "the new rootfs is in place" "$(python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256))*64)' | sha256sum | cut -d' ' -f1)" \
	"$(sha "$STORE/images/tiny/rootfs.ext4")"
expect_eq "the kernel (not in the bundle) is untouched" "$(sha "$SRC/kernels/tiny/vmlinuz")" "$(sha "$STORE/kernels/tiny/vmlinuz")"
check "nothing left aside after the replacement" no_leftovers "$STORE"
expect_eq "images/ holds only tiny" tiny "$(ls -A "$STORE/images")"

check "usage error exits 2" sh -c "'$PULL' install only-one-arg >/dev/null; test \$? -eq 2"

finish
