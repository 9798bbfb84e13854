# Shared helpers for the shell tests (fs and vm suites). Source it, then call
# banger_setup. Everything lives under one scratch directory; a trap unmounts,
# ends the daemon and the VMs this test started (by PID) and removes it.
# shellcheck shell=bash

set -u

# Every test runs in a network namespace of its own: the daemon's bridge,
# taps, DNS and NAT rules, and the guests' traffic, never reach the host's
# network, and all of it goes away with the test's processes.
if [ -z "${BANGER_TEST_NETNS:-}" ]; then
	export BANGER_TEST_NETNS=$$
	exec unshare --net -- bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
# NAT stays off unless a test turns it on (inside its namespace).
export BANGER_NAT=${BANGER_NAT:-false}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BANGER_BUILD:-$REPO/build}
BANGERD=$BUILD/fs/bangerd
# helper_bin NAME: the build's helper program (banger-ssh, banger-pull, ...),
# where bangerd's helper_path() finds it too
helper_bin() { printf '%s/helpers/%s/%s' "$BUILD" "$1" "$1"; }
FSOP="python3 $REPO/tests/fsop.py"
# The image store the test command fills once (tools/test runs mkimage).
IMAGE_STORE=${BANGER_TEST_IMAGES:-$BUILD/test-images/state}

T=""
MNT=""
DAEMON_PID=""
FAILS=0
CHECKS=0

log() { printf '# %s\n' "$*"; }

ok() {
	CHECKS=$((CHECKS + 1))
	printf 'ok %d - %s\n' "$CHECKS" "$*"
}

fail() {
	CHECKS=$((CHECKS + 1))
	FAILS=$((FAILS + 1))
	printf 'not ok %d - %s\n' "$CHECKS" "$*"
}

# check DESC CMD...: passes when CMD succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else fail "$desc"; fi
}

# expect_eq DESC EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1 (expected '$2', got '$3')"; fi
}

# expect_errno DESC ERRNO OP ARGS...: runs tests/fsop.py OP ARGS and checks
# the errno name it reports ("OK" for success).
expect_errno() {
	local desc=$1 want=$2 got
	shift 2
	got=$($FSOP "$@" 2>&1)
	expect_eq "$desc" "$want" "$got"
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s. SECONDS is a bound for a
# failure, not a delay: be generous (a loaded 2-core machine running guests
# under TCG is slow), it costs nothing when CMD succeeds.
wait_for() {
	local deadline=$(($(date +%s%N) / 1000000 + $1 * 1000))
	shift
	while ! "$@" 2>/dev/null; do
		[ $(($(date +%s%N) / 1000000)) -lt $deadline ] || return 1
		sleep 0.1
	done
}

# proc_gone PID: the process ended (a zombie not yet reaped by init counts).
proc_gone() { [ ! -e "/proc/$1" ] || grep -q ') Z' "/proc/$1/stat" 2>/dev/null; }

# settle_deletes: a deleted VM's files are renamed to state/vms/.del-ID and
# removed by a worker; wait until that is done.
settle_deletes() {
	wait_for 60 sh -c "! ls -A '$T/home/state/vms' | grep -q '^\.del-'"
}

# events_now: what a new reader of events gets first (the events bangerd
# keeps), without following: read with O_NONBLOCK until EAGAIN. Unlike
# `timeout 1 cat events`, it cannot come back empty on a slow machine.
events_now() {
	python3 - "$MNT/events" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
out = b""
while True:
    try:
        b = os.read(fd, 65536)
    except BlockingIOError:
        break
    if not b:
        break
    out += b
sys.stdout.buffer.write(out)
EOF
}

# mounted and answering (a dead mount left by SIGKILL fails statfs)
# (statfs type 0x65735546 is FUSE: a dead mount fails statfs, and right after
# it is detached the bare directory underneath would answer)
is_mounted() { [ "$(stat -f -c %t "$MNT" 2>/dev/null)" = 65735546 ]; }

start_daemon() {
	BANGER_HOME=$T/home "$BANGERD" -f --mount "$MNT" >>"$T/bangerd.out" 2>&1 &
	DAEMON_PID=$!
	if ! wait_for 60 is_mounted; then
		echo "bangerd did not mount; its output:" >&2
		cat "$T/bangerd.out" >&2
		return 1
	fi
}

stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=""
}

kill_daemon() {
	kill -KILL "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=""
}

# Hypervisors of this test: their command lines hold the scratch path.
test_vm_pids() { pgrep -f "qemu-system.*$T/" 2>/dev/null || true; }

cleanup() {
	local pid
	set +e
	stop_daemon
	for pid in $(test_vm_pids); do kill -KILL "$pid" 2>/dev/null; done
	while grep -q " $MNT fuse" /proc/mounts 2>/dev/null; do
		umount -l "$MNT" 2>/dev/null || fusermount3 -u -z "$MNT" 2>/dev/null || break
	done
	if [ "${KEEP_TEST_DIR:-}" = "" ]; then rm -rf "$T"; else log "kept $T"; fi
}

# banger_setup fake|real: a scratch BANGER_HOME with either a fake image and
# kernel (enough to create VMs; booting fails) or the real tiny guest.
banger_setup() {
	T=$(mktemp -d /tmp/banger-test.XXXXXX)
	MNT=$T/mnt
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	mkdir -p "$T/home/state/images/tiny" "$T/home/state/kernels/tiny" "$T/home/config" "$MNT"
	# small, fixed sizing (the host heuristics would give GiBs of RAM)
	if [ -z "${BANGER_TEST_NO_CONFIG:-}" ]; then
		printf 'default_image_name = "tiny"\n[vm_defaults]\nvcpu = 1\nmemory_mib = 256\ndisk_size = "1G"\n' >"$T/home/config/config.toml"
	fi
	if [ "$1" = real ]; then
		if [ ! -f "$IMAGE_STORE/images/tiny/rootfs.ext4" ]; then
			echo "no guest image in $IMAGE_STORE (run tools/test, which builds it)" >&2
			exit 1
		fi
		ln -s "$IMAGE_STORE/images/tiny/rootfs.ext4" "$T/home/state/images/tiny/rootfs.ext4"
		ln -s "$IMAGE_STORE/kernels/tiny/vmlinuz" "$T/home/state/kernels/tiny/vmlinuz"
		ln -s "$IMAGE_STORE/kernels/tiny/initrd.img" "$T/home/state/kernels/tiny/initrd.img"
	else
		# tiny, and the built-in default for tests without lib.sh's config
		for n in tiny debian-bookworm; do
			mkdir -p "$T/home/state/images/$n" "$T/home/state/kernels/$n"
			truncate -s 64M "$T/home/state/images/$n/rootfs.ext4"
			echo "not a kernel" >"$T/home/state/kernels/$n/vmlinuz"
			echo "not an initrd" >"$T/home/state/kernels/$n/initrd.img"
		done
	fi
	start_daemon
}

# fake_hanging_kernel NAME: installs kernel NAME whose "guest" halts at
# once (a multiboot stub: cli; hlt): QEMU runs it until killed and no agent
# ever says hello, so a start waits until the boot timeout.
fake_hanging_kernel() {
	local d=$T/home/state/kernels/$1
	mkdir -p "$d"
	python3 - "$d/vmlinuz" <<'EOF'
import struct, sys
magic, flags, base = 0x1BADB002, 0x00010000, 0x100000
header = struct.pack("<8I", magic, flags, -(magic + flags) & 0xFFFFFFFF,
                     base, base, 0, 0, base + 32)
open(sys.argv[1], "wb").write(header + bytes([0xFA, 0xF4, 0xEB, 0xFD]))
EOF
	echo "not an initrd" >"$d/initrd.img"
}

# pinned_ssh ADDR CMD...: OpenSSH's client with no config file and strict
# checking against banger's pins for this test's BANGER_HOME; stderr goes
# to $T/ssh.err.
pinned_ssh() {
	local addr=$1 kh=$T/home/state/ssh/known_hosts
	shift
	ssh -F none -i "$T/home/config/ssh/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o StrictHostKeyChecking=yes -o UserKnownHostsFile="$kh" -o GlobalKnownHostsFile="$kh" \
		-o ConnectTimeout=30 "root@$addr" "$@" 2>>"$T/ssh.err"
}

# finish: stops the daemon, fails on any sanitizer report it printed (ASan
# builds), prints the plan and exits non-zero when any check failed.
finish() {
	stop_daemon
	if [ -n "$T" ] && grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T/bangerd.out" 2>/dev/null; then
		fail "bangerd's sanitizer report (below)"
		sed 's/^/# /' "$T/bangerd.out" | grep -A30 -E "Sanitizer|runtime error" | head -60
	fi
	printf '1..%d\n' "$CHECKS"
	[ "$FAILS" -eq 0 ]
	exit $?
}
