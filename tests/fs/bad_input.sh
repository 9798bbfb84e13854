#!/bin/bash
# Every bad input gets the errno a shell user expects and changes nothing. A
# refused write to a VM's control file (state, vcpu, memory_mib, disk_size,
# image, kernel, console) leaves a one-line reason in its error file and its
# logs; every other refusal (the tree's shape, read-only files, modes) one
# line in bangerd.log only, and the VM's error and logs stay as they were.
. "$(dirname "$0")/../lib.sh"

banger_setup fake || exit 1
V=$MNT/vms/a
STATE_VMS=$T/home/state/vms

# A VM to poke at, with one setting already changed.
check "mkdir vms/a" mkdir "$V"
check "grow disk_size to 2G" sh -c "echo 2G > '$V/disk_size'"
settings() {
	local f
	for f in vcpu memory_mib disk_size image kernel state spec; do
		printf '%s: %s\n' "$f" "$(cat "$V/$f")"
	done
}
SETTINGS=$(settings)

# The reason of the last failure: exactly one non-empty line in error, and
# the same text as the newest "error:" line of logs.
reason_recorded() {
	local desc=$1 want=${2:-} err last
	err=$(cat "$V/error")
	expect_eq "$desc: error has one line" "1" "$(cat "$V/error" | wc -l)"
	check "$desc: error is not empty" test -n "$err"
	last=$(grep 'banger: error: ' "$V/logs" | tail -1)
	expect_eq "$desc: logs has the reason" "$err" "${last#*banger: error: }"
	if [ -n "$want" ]; then
		check "$desc: reason mentions '$want'" grep -qF -- "$want" <<<"$err"
	fi
}

# refused_elsewhere DESC BEFORE_ERROR BEFORE_LOG_LINES PATTERN...: the VM's
# error and logs are as they were, and bangerd.log has a "refused: " line
# with each PATTERN (fixed strings).
refused_elsewhere() {
	local desc=$1 err=$2 lines=$3 pat
	shift 3
	expect_eq "$desc: error unchanged" "$err" "$(cat "$V/error")"
	expect_eq "$desc: nothing in the VM's logs" "$lines" "$(grep -c . "$V/logs")"
	for pat in "$@"; do
		check "$desc: bangerd.log says '$pat'" grep -qF -- "refused: $pat" "$T/home/state/bangerd.log"
	done
}

# bad_write FILE VALUE ERRNO [WORD]: the write fails with ERRNO, the file
# keeps its value, and the reason (mentioning WORD) is recorded.
bad_write() {
	local f=$1 value=$2 want=$3 word=${4:-} before
	before=$(cat "$V/$f")
	expect_errno "$f <- '${value:0:40}' refused" "$want" write "$V/$f" "$value"
	expect_eq "$f <- '${value:0:40}': value unchanged" "$before" "$(cat "$V/$f")"
	reason_recorded "$f <- '${value:0:40}'" "$word"
}

# names that are not DNS labels
long=$(printf 'a%.0s' $(seq 64))
for name in BAD Abc -x x- a_b "$long" a.b "a b" "café" "é" "a--" " a" "a " "-" "a:b" "a@b"; do
	settle_deletes
	vms_before=$(ls -A "$MNT/vms")
	state_before=$(ls -A "$STATE_VMS")
	expect_errno "mkdir '$name' refused" EINVAL mkdir "$MNT/vms/$name"
	expect_eq "mkdir '$name': vms/ unchanged" "$vms_before" "$(ls -A "$MNT/vms")"
	expect_eq "mkdir '$name': state dir unchanged" "$state_before" "$(ls -A "$STATE_VMS")"
	check "mkdir '$name': no such entry" test ! -e "$MNT/vms/$name"
done
check "the refused name is logged in bangerd.log" grep -q "mkdir vms/a_b: invalid name 'a_b'" "$T/home/state/bangerd.log"
expect_errno "mkdir 'x<newline>y' refused" EINVAL mkdir "$MNT/vms/x
y"
check "bangerd.log holds it on one line" grep -q "mkdir vms/x?y: invalid name 'x?y'" "$T/home/state/bangerd.log"
# the longest valid name and the shortest still work
name63=$(printf 'b%.0s' $(seq 63))
expect_errno "mkdir of a 63-char name works" OK mkdir "$MNT/vms/$name63"
expect_errno "rmdir of it works" OK rmdir "$MNT/vms/$name63"
expect_errno "mkdir '0' works" OK mkdir "$MNT/vms/0"
expect_errno "mkdir 'a-0-b' works" OK mkdir "$MNT/vms/a-0-b"
expect_errno "rmdir '0' works" OK rmdir "$MNT/vms/0"
expect_errno "rmdir 'a-0-b' works" OK rmdir "$MNT/vms/a-0-b"

# duplicates
settle_deletes
state_before=$(ls -A "$STATE_VMS")
expect_errno "mkdir of an existing VM: EEXIST" EEXIST mkdir "$V"
expect_eq "duplicate: state dir unchanged" "$state_before" "$(ls -A "$STATE_VMS")"
expect_eq "duplicate: still one VM" "a" "$(ls "$MNT/vms")"

# the default image is missing: mkdir fails and leaves nothing
mv "$T/home/state/images/tiny" "$T/home/state/images/tiny.away"
settle_deletes
state_before=$(ls -A "$STATE_VMS")
expect_errno "mkdir with the default image missing: ENOENT" ENOENT mkdir "$MNT/vms/noimg"
expect_eq "no image: state dir unchanged (no .new- leftover)" "$state_before" "$(ls -A "$STATE_VMS")"
check "no image: no such VM" test ! -e "$MNT/vms/noimg"
check "no image: the reason is in bangerd.log" grep -q "mkdir vms/noimg: image 'tiny' is not installed" "$T/home/state/bangerd.log"
mv "$T/home/state/images/tiny.away" "$T/home/state/images/tiny"

# vcpu
bad_write vcpu 0 EINVAL vcpu
bad_write vcpu -1 EINVAL vcpu
bad_write vcpu 1e9 EINVAL vcpu
bad_write vcpu 1000000000 EINVAL vcpu
bad_write vcpu 99999999999999999999999 EINVAL vcpu
bad_write vcpu 65 EINVAL vcpu
bad_write vcpu abc EINVAL vcpu
bad_write vcpu 2abc EINVAL vcpu
bad_write vcpu "0x2" EINVAL vcpu
bad_write vcpu "+2" EINVAL vcpu
bad_write vcpu "2 2" EINVAL vcpu
bad_write vcpu '2\n2' EINVAL vcpu
bad_write vcpu '\x1b[2J\r3' EINVAL vcpu
bad_write vcpu '\n' EINVAL vcpu
bad_write vcpu '   ' EINVAL vcpu
bad_write vcpu '2\x00' EINVAL NUL
head -c 102400 /dev/zero | tr '\0' 7 >"$T/100k"
expect_errno "vcpu <- 100 KB refused" EINVAL writefile "$V/vcpu" "$T/100k"
reason_recorded "vcpu <- 100 KB" "too long"
head -c 1048576 /dev/zero | tr '\0' 7 >"$T/1m"
expect_errno "vcpu <- 1 MB refused" EINVAL writefile "$V/vcpu" "$T/1m"
reason_recorded "vcpu <- 1 MB" "too long"
expect_errno "vcpu <- 100 KB as an argument refused" EINVAL write "$V/vcpu" "$(cat "$T/100k")"
expect_eq "vcpu unchanged after the long writes" "1" "$(cat "$V/vcpu")"
# a bare truncation (": > vcpu") sets nothing
check ": > vcpu" sh -c ": > '$V/vcpu'"
expect_eq ": > vcpu leaves the value" "1" "$(cat "$V/vcpu")"
expect_errno "truncate(vcpu) alone" OK truncate "$V/vcpu"
expect_eq "truncate leaves the value" "1" "$(cat "$V/vcpu")"

# memory_mib
host_mib=$(($(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 1024))
bad_write memory_mib $((host_mib + 1024)) EINVAL "host RAM"
bad_write memory_mib 4294967296 EINVAL memory_mib
bad_write memory_mib 63 EINVAL memory_mib
bad_write memory_mib 0 EINVAL memory_mib
bad_write memory_mib 512M EINVAL memory_mib
bad_write memory_mib -256 EINVAL memory_mib

# disk_size
bad_write disk_size 12Q EINVAL disk_size
bad_write disk_size 1.5G EINVAL disk_size
bad_write disk_size G EINVAL disk_size
bad_write disk_size -1G EINVAL disk_size
bad_write disk_size 17T EINVAL disk_size
bad_write disk_size 99999999999999999999T EINVAL disk_size
bad_write disk_size 3221225473 EINVAL "multiple of 512"
bad_write disk_size 1G EINVAL shrink
bad_write disk_size 1024M EINVAL shrink
bad_write disk_size 64M EINVAL shrink
check "the root disk is still 2G" sh -c "qemu-img info '$STATE_VMS/'*/root.qcow2 | grep -q 'virtual size: 2 GiB'"

# image and kernel
bad_write image nope ENOENT nope
bad_write kernel nope ENOENT nope
bad_write image "../tiny" EINVAL image
bad_write kernel "../tiny" EINVAL kernel
bad_write image '\n' EINVAL image
bad_write kernel "TINY" EINVAL kernel
mkdir -p "$T/home/state/kernels/half"
echo "vmlinuz only" >"$T/home/state/kernels/half/vmlinuz"
bad_write kernel half ENOENT half
mkdir -p "$T/home/state/images/big"
truncate -s 4G "$T/home/state/images/big/rootfs.ext4"
bad_write image big EINVAL "smaller than image"
check "no stray root disk is left" test -z "$(ls "$STATE_VMS/"*/ | grep -v '^root.qcow2$' | grep -v '^vm.log$')"

# state
bad_write state bogus EINVAL bogus
bad_write state '\n' EINVAL "write start, stop"
bad_write state "start please" EINVAL "start please"
bad_write state START EINVAL START
bad_write state "stop\nstart" EINVAL "write start, stop"
expect_errno "stop on a stopped VM succeeds" OK write "$V/state" stop
expect_errno "kill on a stopped VM succeeds" OK write "$V/state" kill
expect_eq "state still stopped" "stopped" "$(cat "$V/state")"

# the console of a stopped VM takes no input
expect_errno "write to a stopped VM's console: EIO" EIO write "$V/console" 'ls\n'
reason_recorded "console of a stopped VM" "console"

# read-only files: not control files
err_before=$(cat "$V/error")
lines_before=$(grep -c . "$V/logs")
for f in pid spec ip error logs created uptime mac known_hosts ssh_config; do
	expect_errno "write to $f: EACCES" EACCES write "$V/$f" 1
	expect_errno "append to $f: EACCES" EACCES append "$V/$f" 1
	expect_errno "truncate $f: EACCES" EACCES truncate "$V/$f"
done
refused_elsewhere "writes to read-only files" "$err_before" "$lines_before" \
	"open vms/a/pid for writing: it is read-only" "truncate vms/a/ssh_config: it is read-only"
for f in README config known_hosts events; do
	expect_errno "write to top-level $f: EACCES" EACCES write "$MNT/$f" 1
	expect_errno "truncate top-level $f: EACCES" EACCES truncate "$MNT/$f"
done
expect_errno "open vms for reading as a file: EISDIR" EISDIR read "$MNT/vms"

# the shape of the tree is fixed: refusals go to bangerd.log
expect_errno "create vms/a/new: EPERM" EPERM create "$V/new"
expect_errno "create vms/a/'x<newline>y': EPERM" EPERM create "$V/x
y"
check "bangerd.log holds it on one line" grep -qF "refused: create vms/a/x?y: " "$T/home/state/bangerd.log"
expect_errno "rename vms/a/vcpu: EPERM" EPERM rename "$V/vcpu" "$V/cpus"
expect_errno "rename vms/a/vcpu over spec: EPERM" EPERM rename "$V/vcpu" "$V/spec"
expect_errno "mknod vms/a/fifo: EPERM" EPERM mknod "$V/fifo"
expect_errno "symlink vms/a/link: EPERM" EPERM symlink "$V/link" /etc/passwd
expect_errno "link vms/a/vcpu: EPERM" EPERM link "$V/vcpu" "$V/hard"
expect_errno "mkdir vms/a/sub: EPERM" EPERM mkdir "$V/sub"
expect_errno "rmdir vms/a/state: ENOTDIR" ENOTDIR rmdir "$V/state"
for p in "$V/vcpu" "$V/spec" "$V"; do
	expect_errno "chmod ${p#"$MNT"/}: EPERM" EPERM chmod "$p" 600
	expect_errno "chown ${p#"$MNT"/}: EPERM" EPERM chown "$p" 1000
done
refused_elsewhere "the VM's shape" "$err_before" "$lines_before" "create vms/a/new: " "rename vms/a/vcpu to vms/a/cpus: " \
	"mknod vms/a/fifo: " "symlink vms/a/link: " "link vms/a/hard: " "mkdir vms/a/sub: " \
	"chmod/chown vms/a/vcpu: owner, group and mode are fixed" "chmod/chown vms/a: "
# a stopped VM's files go with it: unlinking one is accepted and changes
# nothing (so that rm -r reaches the rmdir)
expect_errno "unlink vms/a/vcpu (stopped): accepted" OK unlink "$V/vcpu"
expect_eq "vcpu is still there, unchanged" "1" "$(cat "$V/vcpu")"
expect_errno "unlink vms/a/nope: ENOENT" ENOENT unlink "$V/nope"
# the VM's own name: a rename only to a good, free name in vms/
expect_errno "rename vms/a to a bad name: EINVAL" EINVAL rename "$V" "$MNT/vms/BAD"
expect_errno "rename vms/a out of vms/: EPERM" EPERM rename "$V" "$MNT/images/a"
expect_errno "rename vms/a into itself: EINVAL (the kernel's)" EINVAL rename "$V" "$V/b"
expect_errno "rename vms/a to itself: OK, nothing changes" OK rename "$V" "$V"
refused_elsewhere "refused renames" "$err_before" "$lines_before" "rename vms/a to vms/BAD: invalid name 'BAD'" \
	"rename vms/a to images/a: "
expect_errno "mkdir at top level: EPERM" EPERM mkdir "$MNT/other"
expect_errno "create at top level: EPERM" EPERM create "$MNT/new"
expect_errno "create in vms/: EPERM" EPERM create "$MNT/vms/file"
expect_errno "unlink README: EPERM" EPERM unlink "$MNT/README"
expect_errno "rename README: EPERM" EPERM rename "$MNT/README" "$MNT/README2"
expect_errno "rmdir vms: EPERM" EPERM rmdir "$MNT/vms"
expect_errno "rmdir a missing VM: ENOENT" ENOENT rmdir "$MNT/vms/nope"
expect_errno "rmdir an invalid name: ENOENT" ENOENT rmdir "$MNT/vms/BAD"
expect_errno "symlink at top level: EPERM" EPERM symlink "$MNT/link" /
expect_errno "mknod in vms/: EPERM" EPERM mknod "$MNT/vms/fifo"
for p in "$MNT/README" "$MNT/vms" "$MNT"; do
	expect_errno "chmod ${p#"$MNT"/}: EPERM" EPERM chmod "$p" 600
	expect_errno "chown ${p#"$MNT"/}: EPERM" EPERM chown "$p" 1000
done
check "each refusal is one line in bangerd.log" grep -qF "refused: unlink README: the files of the tree are fixed" \
	"$T/home/state/bangerd.log"
check "touch vcpu (utimes) is harmless" touch "$V/vcpu"
expect_eq "and all that left error and logs as they were" "$err_before $lines_before" \
	"$(cat "$V/error") $(grep -c . "$V/logs")"

# a write through a file opened before the VM went away
check "mkdir vms/gone" mkdir "$MNT/vms/gone"
got=$(python3 - "$MNT/vms/gone" <<'EOF'
import errno, os, sys
fd = os.open(sys.argv[1] + "/vcpu", os.O_WRONLY)
os.rmdir(sys.argv[1])
try:
    os.write(fd, b"2\n")
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])
EOF
)
expect_eq "write to a deleted VM's file: ENOENT" ENOENT "$got"
check "gone is gone" test ! -e "$MNT/vms/gone"

# after all that, nothing moved
expect_eq "the VM's settings are exactly what they were" "$SETTINGS" "$(settings)"
expect_eq "still one VM" "a" "$(ls "$MNT/vms")"
settle_deletes
expect_eq "one state dir" "1" "$(ls -A "$STATE_VMS" | wc -l)"
check "a good write still works" sh -c "echo 2 > '$V/vcpu'"
expect_eq "vcpu reads 2" "2" "$(cat "$V/vcpu")"
check "the daemon is alive" kill -0 "$DAEMON_PID"

finish
