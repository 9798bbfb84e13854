#!/bin/bash
# banger-oci against a real registry (docker-registry on 127.0.0.1 in this
# test's network namespace) behind a bearer-token proxy: a three-layer image
# with whiteouts, opaque directories and hard links, checked in rootfs.ext4
# with debugfs (no mount, no boot); manifest lists; corrupted blobs, path
# escapes, bombs and unknown names refused with nothing installed; the blob
# cache reused.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/oci_lib.sh
. "$REPO/tests/oci_lib.sh"

OCI=$(helper_bin banger-oci)
T=$(mktemp -d /tmp/banger-oci-test.XXXXXX)
# shellcheck disable=SC2317 # run by the EXIT trap
on_exit() {
	oci_stop
	rm -rf "$T"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

STATE=$T/state CACHE=$T/cache
mkdir -p "$STATE" "$CACHE" "$T/outside"
for t in docker-registry debugfs mke2fs curl; do
	command -v "$t" >/dev/null || { echo "1..0 # SKIP $t missing (tools/setup installs it)"; exit 0; }
done
# the real guest kit (tools/mkimage tiny) when there is one, else the files
# banger-oci checks for (this test boots nothing)
KIT=$IMAGE_STORE/kit
if [ ! -s "$KIT/init" ]; then
	KIT=$T/kit
	mkdir -p "$KIT"/{bin,sbin,lib}
	for f in init rootfs-init bin/sh sbin/banger-agent sbin/dropbear sbin/dropbearkey lib/ld-linux-x86-64.so.2; do
		echo "fake $f" >"$KIT/$f"
	done
	cp "$(command -v busybox)" "$KIT/bin/busybox"
	log "no guest kit in $IMAGE_STORE: using a fake one"
fi
import() { # REF NAME [ARGS...]: output in $T/out
	local ref=$1 name=$2
	shift 2
	"$OCI" import "$ref" "$STATE" "$name" --cache "$CACHE" --kit "$KIT" --kernel tiny "$@" >"$T/out" 2>"$T/err"
}
last() { tail -n 1 "$T/out"; }
# shellcheck disable=SC2317 # run through check
no_leftovers() { [ -z "$(find "$STATE" -maxdepth 1 -name '.pull-*')" ]; }
# shellcheck disable=SC2317
not_installed() { [ ! -e "$STATE/images/$1" ] && no_leftovers; }
blob_gets() { grep -c "^GET /v2/test/blobs/.* bearer" "$OCI_DIR/proxy.log" || true; }

check "registry and token proxy start" oci_start "$T/oci"

# --- the image -------------------------------------------------------------
L=$T/layers
mkdir -p "$L"/{1,2,3}
oci_busybox_root "$L/1" "$KIT"
echo bye >"$L/1/etc/victim"
echo stays >"$L/1/etc/keep"
mkdir -p "$L/1/data/sub"
echo old >"$L/1/data/old1"
echo old >"$L/1/data/old2"
echo old >"$L/1/data/sub/deep"
mkdir -p "$L/2/etc" "$L/2/data"
: >"$L/2/etc/.wh.victim"
: >"$L/2/data/.wh..wh..opq"
echo new >"$L/2/data/new1"
mkdir -p "$L/3/opt" "$L/3/.banger"
echo three >"$L/3/opt/added"
echo linked >"$L/3/opt/hl1"
ln "$L/3/opt/hl1" "$L/3/opt/hl2"
echo "the image's own" >"$L/3/.banger/init"
for i in 1 2 3; do oci_layer "$L/$i" "$T/layer$i.tgz"; done
check "push test:1 (three layers)" oci_image test 1 amd64 "$T/layer1.tgz" "$T/layer2.tgz" "$T/layer3.tgz"
M1=$(sha "$OCI_DIR/manifest-test-1.json")

# --- import through the token proxy ---------------------------------------
start=$(date +%s%N)
check "import $PROXY/test:1" import "$PROXY/test:1" img1
log "import took $((($(date +%s%N) - start) / 1000000)) ms; output:"
sed 's/^/#   /' "$T/out" "$T/err"
expect_eq "last line" "ok image img1" "$(last)"
check "progress lines reach the total" sh -c "grep '^progress ' '$T/out' | tail -n1 | awk '\$2 == \$3 && \$3 > 0' | grep -q ."
check "step lines name the layers" grep -qx "step layer 3/3" "$T/out"
check "the registry was asked without a token first (401)" grep -q "^GET /v2/test/manifests/1 none" "$OCI_DIR/proxy.log"
check "a token was fetched from the realm" grep -q "^GET /token?service=banger-test&scope=repository%3Atest%3Apull none" "$OCI_DIR/proxy.log"
check "and the manifest asked again with it" grep -q "^GET /v2/test/manifests/1 bearer" "$OCI_DIR/proxy.log"
IMG=$STATE/images/img1
check "rootfs.ext4 installed" test -s "$IMG/rootfs.ext4"
check "label banger-root" sh -c "dumpe2fs -h '$IMG/rootfs.ext4' 2>/dev/null | grep -q 'volume name: *banger-root'"
check "size rounded to MiB, at least 64 MiB" sh -c "s=\$(stat -c %s '$IMG/rootfs.ext4'); [ \$((s % 1048576)) -eq 0 ] && [ \$s -ge 67108864 ]"
check "fsck is clean" sh -c "e2fsck -fn '$IMG/rootfs.ext4' >/dev/null 2>&1"
expect_eq "whiteout removed etc/victim, kept the rest" "group keep nsswitch.conf passwd" "$(ext4_ls "$IMG/rootfs.ext4" /etc | tr '\n' ' ' | sed 's/ $//')"
expect_eq "opaque data/ holds only the upper layer's files" "new1" "$(ext4_ls "$IMG/rootfs.ext4" /data | tr '\n' ' ' | sed 's/ $//')"
expect_eq "data/new1" "new" "$(ext4_cat "$IMG/rootfs.ext4" /data/new1)"
expect_eq "layer 3 added opt/added" "three" "$(ext4_cat "$IMG/rootfs.ext4" /opt/added)"
ino1=$(debugfs -R "stat /opt/hl1" "$IMG/rootfs.ext4" 2>/dev/null | sed -n 's/^Inode: \([0-9]*\).*/\1/p')
ino2=$(debugfs -R "stat /opt/hl2" "$IMG/rootfs.ext4" 2>/dev/null | sed -n 's/^Inode: \([0-9]*\).*/\1/p')
check "hard links share one inode ($ino1, $ino2)" test -n "$ino1" -a "$ino1" = "$ino2"
check "bin/sh is the busybox link" sh -c "debugfs -R 'stat /bin/sh' '$IMG/rootfs.ext4' 2>/dev/null | grep -q 'Fast link dest: \"busybox\"'"
expect_eq "the kit replaced the image's own /.banger" "$(cat "$KIT/init")" "$(ext4_cat "$IMG/rootfs.ext4" /.banger/init)"
for f in sbin/banger-agent sbin/dropbear lib/ld-linux-x86-64.so.2 bin/busybox rootfs-init; do
	check "kit file /.banger/$f" sh -c "debugfs -R 'stat /.banger/$f' '$IMG/rootfs.ext4' 2>&1 | grep -q '^Inode:'"
done
for d in dev proc sys run tmp root; do
	check "boot dir /$d exists" sh -c "debugfs -R 'stat /$d' '$IMG/rootfs.ext4' 2>&1 | grep -q 'Type: directory'"
done
check "files are root-owned" sh -c "debugfs -R 'stat /opt/added' '$IMG/rootfs.ext4' 2>/dev/null | grep -q 'User: *0 *Group: *0'"
meta() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$IMG/image.json" "$1"; }
expect_eq "image.json source" "oci:$PROXY/test:1" "$(meta source)"
expect_eq "image.json sha256 is the manifest digest" "$M1" "$(meta sha256)"
expect_eq "image.json kernel" "tiny" "$(meta kernel)"
expect_eq "image.json cmdline" "init=/.banger/init" "$(meta cmdline)"
check "image.json created is now-ish" python3 -c "import json,sys,time; c=json.load(open(sys.argv[1]))['created']; sys.exit(0 if isinstance(c,int) and abs(c-time.time())<600 else 1)" "$IMG/image.json"
check "no staging dir left" no_leftovers
check "blobs cached by digest" test -s "$CACHE/oci/blobs/sha256/$(sha "$T/layer1.tgz")"

# --- the cache, and replacing an image --------------------------------------
before=$(blob_gets)
ino_before=$(stat -c %i "$IMG/rootfs.ext4")
check "import test:1 again over img1" import "$PROXY/test:1" img1
expect_eq "last line" "ok image img1" "$(last)"
expect_eq "no blob downloaded again (cache reused)" "$before" "$(blob_gets)"
check "img1 was replaced by a new rootfs.ext4" test "$(stat -c %i "$IMG/rootfs.ext4")" != "$ino_before"
check "no staging dir left" no_leftovers

# --- a digest reference, straight from the registry (no auth) ---------------
check "import $REGISTRY/test@sha256:… (plain http, no token)" import "$REGISTRY/test@sha256:$M1" bydigest
expect_eq "last line" "ok image bydigest" "$(last)"

# --- an index: linux/amd64 is picked -----------------------------------------
mkdir -p "$L/arm"
echo arm >"$L/arm/which"
echo amd >"$L/3/opt/which"
oci_layer "$L/arm" "$T/arm.tgz"
oci_layer "$L/3" "$T/layer3b.tgz"
check "push test:arm (linux/arm64)" oci_image test arm arm64 "$T/layer1.tgz" "$T/arm.tgz"
check "push test:amd (linux/amd64)" oci_image test amd amd64 "$T/layer1.tgz" "$T/layer3b.tgz"
check "push index test:multi" oci_index test multi "arm64=$OCI_DIR/manifest-test-arm.json" "amd64=$OCI_DIR/manifest-test-amd.json"
check "import test:multi" import "$PROXY/test:multi" multi
expect_eq "last line" "ok image multi" "$(last)"
expect_eq "the amd64 image was picked" "amd" "$(ext4_cat "$STATE/images/multi/rootfs.ext4" /opt/which)"
expect_eq "image.json sha256 is the amd64 manifest's" "$(sha "$OCI_DIR/manifest-test-amd.json")" \
	"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha256"])' "$STATE/images/multi/image.json")"
check "push index test:armonly" oci_index test armonly "arm64=$OCI_DIR/manifest-test-arm.json"
check "import test:armonly fails" sh -c "! '$OCI' import '$PROXY/test:armonly' '$STATE' armonly --cache '$CACHE' --kit '$KIT' --kernel tiny >'$T/out'"
check "  naming the platforms it has" grep -qx "error: no linux/amd64 image in the index (it has: linux/arm64)" "$T/out"
check "  nothing installed" not_installed armonly

# --- refusals: nothing installed, no staging dir left -------------------------
# refused IMAGE_REF NAME PATTERN [ARGS]: the import fails with an error line
# matching PATTERN
refused() {
	local ref=$1 name=$2 pat=$3
	shift 3
	if import "$ref" "$name" "$@"; then fail "$name: import succeeded"; return; fi
	if grep -qE "^error: .*$pat" <(last); then ok "$name: $(last)"; else fail "$name: want /$pat/, got '$(last)'"; fi
	check "$name: nothing installed, no staging dir" not_installed "$name"
}

refused "$PROXY/nosuch:1" unknownrepo "not found"
refused "$PROXY/test:nosuchtag" unknowntag "not found"
# (--kit given twice: the last one counts)
import "$PROXY/test:1" badkit --kit "$T/nokit"
expect_eq "missing kit" "error: guest kit missing at $T/nokit: run tools/mkimage tiny" "$(last)"
check "missing kit: nothing installed" not_installed badkit

# a corrupted blob (the proxy flips a byte of a layer not yet cached)
mkdir -p "$L/c"
echo corrupt-me >"$L/c/file"
oci_layer "$L/c" "$T/c.tgz"
check "push test:corrupt" oci_image test corrupt amd64 "$T/layer1.tgz" "$T/c.tgz"
echo "sha256:$(sha "$T/c.tgz")" >"$OCI_DIR/corrupt"
refused "$PROXY/test:corrupt" corrupt "digest mismatch"
check "corrupt: the bad blob is not in the cache" test ! -e "$CACHE/oci/blobs/sha256/$(sha "$T/c.tgz")"
check "corrupt: nor its partial download" sh -c "! ls '$CACHE/oci/blobs/sha256/' | grep -q part"
echo "sha256:$M1" >"$OCI_DIR/corrupt"
refused "$PROXY/test@sha256:$M1" corruptmanifest "manifest test:sha256:$M1: digest mismatch"
rm -f "$OCI_DIR/corrupt"

# hostile layers, made with python's tarfile
hostile() { # OUT KIND
	python3 - "$1" "$2" "$T/outside" <<'EOF2'
import io, sys, tarfile
out, kind, outside = sys.argv[1:4]
with tarfile.open(out, "w:gz") as t:
    def add(name, data=b"x", **kw):
        i = tarfile.TarInfo(name); i.size = len(data)
        for k, v in kw.items(): setattr(i, k, v)
        t.addfile(i, io.BytesIO(data) if i.type == tarfile.REGTYPE else None)
    def link(name, target):
        i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = target; t.addfile(i)
    if kind == "dotdot":
        add("ok"); add("../escaped")
    elif kind == "symlink":
        link("esc", outside); add("esc/pwned")
    elif kind == "whiteout":
        link("lnk", outside); add("lnk/.wh.keep", b"")
    elif kind == "hardlink":
        i = tarfile.TarInfo("hl"); i.type = tarfile.LNKTYPE; i.linkname = "../../etc/passwd"; t.addfile(i)
    elif kind == "bomb":
        i = tarfile.TarInfo("zeros"); i.size = 200 << 20
        t.addfile(i, open("/dev/zero", "rb"))
EOF2
}
echo keep >"$T/outside/keep"
for kind in dotdot symlink whiteout hardlink bomb; do
	hostile "$T/$kind.tgz" "$kind"
	check "push test:$kind" oci_image test "$kind" amd64 "$T/layer1.tgz" "$T/$kind.tgz"
done
refused "$PROXY/test:dotdot" dotdot "refusing \.\./escaped: a path outside the image"
refused "$PROXY/test:symlink" symlink "refusing esc/pwned"
check "symlink: nothing written outside" test ! -e "$T/outside/pwned"
refused "$PROXY/test:whiteout" whiteout "refusing whiteout lnk/.wh.keep: a path through a symlink"
check "whiteout: the file outside survives" test -s "$T/outside/keep"
refused "$PROXY/test:hardlink" hardlink "a hard link outside the image"
refused "$PROXY/test:bomb" bomb "decompression bomb\?" --max-bytes 50000000
check "bomb: the limit stopped it (layer only ~200 KiB)" test "$(stat -c %s "$T/bomb.tgz")" -lt 1000000
check "bomb: without the limit it unpacks" import "$PROXY/test:bomb" bombok

# uncompressed and zstd layers
mkdir -p "$L/plain" "$L/zst"
echo plain >"$L/plain/plain"
echo zst >"$L/zst/zst"
tar --numeric-owner --owner=0 --group=0 -C "$L/plain" -cf "$T/plain.tar" .
tar --numeric-owner --owner=0 --group=0 -C "$L/zst" --zstd -cf "$T/zst.tar.zst" .
check "push test:formats (tar+gzip, tar, tar+zstd)" oci_image test formats amd64 "$T/layer1.tgz" "$T/plain.tar" "$T/zst.tar.zst"
check "import test:formats" import "$PROXY/test:formats" formats
expect_eq "formats: the plain tar layer" "plain" "$(ext4_cat "$STATE/images/formats/rootfs.ext4" /plain)"
expect_eq "formats: the zstd layer" "zst" "$(ext4_cat "$STATE/images/formats/rootfs.ext4" /zst)"

# symlinks pointing outside are never followed: a file replaces the link,
# a whiteout removes the link only
mkdir -p "$L/ra" "$L/rb"
ln -s "$T/outside/keep" "$L/ra/x"
ln -s "$T/outside" "$L/ra/y"
echo replaced >"$L/rb/x"
: >"$L/rb/.wh.y"
oci_layer "$L/ra" "$T/ra.tgz"
oci_layer "$L/rb" "$T/rb.tgz"
check "push test:relink" oci_image test relink amd64 "$T/layer1.tgz" "$T/ra.tgz" "$T/rb.tgz"
check "import test:relink" import "$PROXY/test:relink" relink
expect_eq "relink: the file replaced the symlink" "replaced" "$(ext4_cat "$STATE/images/relink/rootfs.ext4" /x)"
expect_eq "relink: the link's target outside is untouched" "keep" "$(cat "$T/outside/keep")"
expect_eq "relink: the whiteout removed the link y" "" "$(ext4_ls "$STATE/images/relink/rootfs.ext4" / | grep -x y)"
check "relink: and not what it pointed to" test -s "$T/outside/keep"

# SIGTERM during a (slow) download: "interrupted", nothing left behind
mkdir -p "$L/s"
echo slow >"$L/s/file"
oci_layer "$L/s" "$T/s.tgz"
check "push test:slow" oci_image test slow amd64 "$T/layer1.tgz" "$T/s.tgz"
echo "sha256:$(sha "$T/s.tgz")" >"$OCI_DIR/corrupt.slow"
"$OCI" import "$PROXY/test:slow" "$STATE" slow --cache "$CACHE" --kit "$KIT" --kernel tiny >"$T/out" 2>"$T/err" &
pid=$!
wait_for 60 grep -q "^GET /v2/test/blobs/sha256:$(sha "$T/s.tgz") bearer" "$OCI_DIR/proxy.log"
kill -TERM "$pid"
t0=$(date +%s%N)
wait "$pid"
expect_eq "SIGTERM: exit 1" 1 "$?"
el=$((($(date +%s%N) - t0) / 1000000))
check "SIGTERM: it ended without waiting for the blob (answered after 60 s): ${el} ms" test "$el" -lt 30000
expect_eq "SIGTERM: last line" "error: blob sha256:$(sha "$T/s.tgz"): interrupted" "$(last)"
check "SIGTERM: nothing installed, no staging dir" not_installed slow
check "SIGTERM: no partial blob" sh -c "! ls '$CACHE/oci/blobs/sha256/' | grep -q part"
rm -f "$OCI_DIR/corrupt.slow"

check "usage error exits 2" sh -c "'$OCI' import x y; [ \$? -eq 2 ]"
check "bad name refused" sh -c "'$OCI' import '$PROXY/test:1' '$STATE' Bad_Name --cache '$CACHE' --kit '$KIT' --kernel tiny | grep -q '^error: '"
check "bad reference refused" sh -c "'$OCI' import 'UPPER/case' '$STATE' x --cache '$CACHE' --kit '$KIT' --kernel tiny | grep -q '^error: bad image reference'"
finish
