#!/bin/bash
# Firecracker's raw root disks on real file systems: a reflink on XFS
# (reflink=1, made by the test on a loop device and mounted in a private
# mount namespace), a sparse extent copy on ext4/tmpfs-like file systems.
. "$(dirname "$0")/../lib.sh"
T=$(mktemp -d /tmp/banger-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
COPY="$BUILD/tests/test_fc copy"

mk_src() { # FILE: 64 MiB sparse with two data extents
	truncate -s 64M "$1"
	printf 'first' | dd of="$1" conv=notrunc status=none
	printf 'far' | dd of="$1" bs=1M seek=48 conv=notrunc status=none
}

mk_src "$T/src.img"
expect_eq "on $(stat -f -c %T "$T"): a sparse copy" sparse "$($COPY "$T/src.img" "$T/dst.img")"
check "same bytes" cmp -s "$T/src.img" "$T/dst.img"
check "still sparse" test "$(($(stat -c %b "$T/dst.img") * 512))" -lt 1048576

if ! command -v mkfs.xfs >/dev/null || ! grep -qw xfs /proc/filesystems && ! modprobe xfs 2>/dev/null; then
	ok "reflink on XFS # SKIP no mkfs.xfs or no xfs in the kernel"
	finish
fi
truncate -s 512M "$T/xfs.img"
check "mkfs.xfs (reflink on)" sh -c "mkfs.xfs -q -m reflink=1 '$T/xfs.img' >/dev/null 2>&1"
# a private mount namespace: the mount disappears with this shell, whatever happens
out=$(unshare --mount --propagation private sh -c "
	mkdir -p '$T/xfs' && mount -o loop '$T/xfs.img' '$T/xfs' || exit 3
	truncate -s 64M '$T/xfs/src.img'
	printf first | dd of='$T/xfs/src.img' conv=notrunc status=none
	printf far | dd of='$T/xfs/src.img' bs=1M seek=48 conv=notrunc status=none
	how=\$($COPY '$T/xfs/src.img' '$T/xfs/dst.img')
	same=no; cmp -s '$T/xfs/src.img' '$T/xfs/dst.img' && same=yes
	echo \"\$how \$same\"
	umount '$T/xfs'" 2>&1)
rc=$?
if [ $rc -eq 3 ]; then
	ok "reflink on XFS # SKIP cannot loop-mount here: $out"
else
	expect_eq "on XFS: a reflink, with the same bytes" "reflink yes" "$out"
fi
finish
