#!/bin/bash
# The shape of the tree: every node, its mode, its content and its size, and
# the settings a stopped VM takes. No guest is booted.
. "$(dirname "$0")/../lib.sh"

VM_FILES="state ip console logs known_hosts error vcpu memory_mib disk_size image kernel spec ssh_config pid uptime mac created ports"

banger_setup fake || exit 1
V=$MNT/vms/a

# the top level
expect_eq "top-level listing" "README config events images kernels known_hosts templates vms" "$(ls "$MNT" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "vms/ starts empty" "" "$(ls "$MNT/vms")"
for f in README config known_hosts events; do
	expect_eq "$f is a 0444 regular file" "444 regular file" "$(stat -c '%a %F' "$MNT/$f" | sed 's/regular empty file/regular file/')"
done
expect_eq "vms is a 0755 directory" "755 directory" "$(stat -c '%a %F' "$MNT/vms")"
check "README says what vms/ does" grep -q "mkdir NAME creates a VM" "$MNT/README"
check "README lists the state words" grep -q "start|stop|restart|kill" "$MNT/README"
check "config shows accel = tcg with a reason" grep -Eq '^accel = tcg  # .+' "$MNT/config"
check "config shows vcpu with provenance (lib.sh's config.toml)" grep -Eq '^vcpu = 1  # config.toml:3$' "$MNT/config"
check "config shows the mount point" grep -qx "mount = $MNT" "$MNT/config"
check "config shows the state dir" grep -qx "state_dir = $T/home/state" "$MNT/config"
check "config: bridge mode, with CAP_NET_ADMIN as the reason" grep -Eq '^network = bridge  # built-in default; auto: bangerd has CAP_NET_ADMIN' "$MNT/config"
check "config: nat off from the environment" grep -qx "nat = false  # BANGER_NAT" "$MNT/config"
check "config: subnet default" grep -qx "subnet = 172.16.0.0/24  # built-in default" "$MNT/config"
check "config: pins in banger's own known_hosts" grep -q "^known_hosts = $T/home/state/ssh/known_hosts" "$MNT/config"
check "config: pinning mode" grep -q "^host_key_pinning = agent" "$MNT/config"
check "the managed key pair was created" test -s "$T/home/config/ssh/id_ed25519" -a -s "$T/home/config/ssh/id_ed25519.pub"
expect_eq "the private key is 0600" "600" "$(stat -c %a "$T/home/config/ssh/id_ed25519")"
expect_eq "the ssh state dir is 0700" "700" "$(stat -c %a "$T/home/state/ssh")"
expect_eq "known_hosts is empty with no VMs" "" "$(cat "$MNT/known_hosts")"
for f in README config known_hosts; do
	expect_eq "ls -l size of $f matches its content" "$(cat "$MNT/$f" | wc -c)" "$(stat -c %s "$MNT/$f")"
done

# a VM
before=$(ls "$T/home/state/vms")
check "mkdir vms/a succeeds" mkdir "$V"
expect_eq "vms lists a" "a" "$(ls "$MNT/vms")"
id=$(comm -13 <(echo "$before") <(ls "$T/home/state/vms") | head -1)
check "its state dir exists ($id)" test -n "$id" -a -d "$T/home/state/vms/$id"
check "its root disk exists" test -f "$T/home/state/vms/$id/root.qcow2"
expect_eq "vms/a is a 0755 directory" "755 directory" "$(stat -c '%a %F' "$V")"
expect_eq "vms/a lists every file" "$(tr ' ' '\n' <<<"$VM_FILES sessions" | sort | tr '\n' ' ')" \
	"$(ls "$V" | sort | tr '\n' ' ')"
expect_eq "vms/a/sessions is a 0755 directory, empty" "755 directory " "$(stat -c '%a %F' "$V/sessions") $(ls "$V/sessions")"
for f in $VM_FILES; do
	case $f in
	state | vcpu | memory_mib | disk_size | image | kernel | ports) want=644 ;;
	console) want=600 ;;
	*) want=444 ;;
	esac
	expect_eq "mode of $f" "$want" "$(stat -c %a "$V/$f")"
	check "$f is a regular file" test -f "$V/$f"
done
expect_eq "state reads stopped" "stopped" "$(cat "$V/state")"
expect_eq "state ends with a newline" "8" "$(cat "$V/state" | wc -c)"
expect_eq "error is empty" "" "$(cat "$V/error")"
expect_eq "pid is empty while stopped" "" "$(cat "$V/pid")"
expect_eq "uptime is empty while stopped" "" "$(cat "$V/uptime")"
expect_eq "ip is the first pool address (bridge mode in the test's namespace)" "172.16.0.2" "$(cat "$V/ip")"
expect_eq "mac is derived from it" "52:54:00:10:00:02" "$(cat "$V/mac")"
expect_eq "known_hosts is empty before the first start" "" "$(cat "$V/known_hosts")"
check "ssh_config says there is no endpoint yet" grep -q "no ssh endpoint yet" "$V/ssh_config"
expect_eq "console of a stopped VM reads EOF at once" "" "$(timeout 30 cat "$V/console"; echo "rc=$?" | grep -v rc=0)"
check "created is an ISO-8601 UTC time" grep -Eqx '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z' "$V/created"
created_s=$(date -d "$(cat "$V/created")" +%s)
check "created is now (within a minute)" test $(($(date +%s) - created_s)) -lt 60
expect_eq "vcpu default" "1" "$(cat "$V/vcpu")"
expect_eq "memory_mib default" "256" "$(cat "$V/memory_mib")"
expect_eq "disk_size default" "1G" "$(cat "$V/disk_size")"
expect_eq "image default" "tiny" "$(cat "$V/image")"
expect_eq "kernel default" "tiny" "$(cat "$V/kernel")"
expect_eq "spec shows defaults with provenance" "vcpu = 1  # default: config.toml:3
memory_mib = 256  # default: config.toml:4
disk_size = 1G  # default: config.toml:5
image = tiny  # default: config.toml:1
kernel = tiny  # default: config.toml:1" "$(cat "$V/spec")"
check "logs has the create line" grep -q "banger: created (vcpu 1, memory 256 MiB, image tiny, address 172.16.0.2)" "$V/logs"

# settings of a stopped VM
mkdir -p "$T/home/state/kernels/other" "$T/home/state/images/other"
echo "other kernel" >"$T/home/state/kernels/other/vmlinuz"
echo "other initrd" >"$T/home/state/kernels/other/initrd.img"
truncate -s 32M "$T/home/state/images/other/rootfs.ext4"
check "echo 2 > vcpu" sh -c "echo 2 > '$V/vcpu'"
expect_eq "vcpu reads 2" "2" "$(cat "$V/vcpu")"
check "echo 512 > memory_mib" sh -c "echo 512 > '$V/memory_mib'"
expect_eq "memory_mib reads 512" "512" "$(cat "$V/memory_mib")"
check "echo 2G > disk_size (grow)" sh -c "echo 2G > '$V/disk_size'"
expect_eq "disk_size reads 2G" "2G" "$(cat "$V/disk_size")"
expect_eq "the root disk grew" "2147483648" \
	"$(qemu-img info --output=json "$T/home/state/vms/$id/root.qcow2" | sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p')"
check "echo 3072M > disk_size (grow, other unit)" sh -c "echo 3072M > '$V/disk_size'"
expect_eq "disk_size reads 3G" "3G" "$(cat "$V/disk_size")"
check "echo other > kernel" sh -c "echo other > '$V/kernel'"
expect_eq "kernel reads other" "other" "$(cat "$V/kernel")"
check "echo other > image" sh -c "echo other > '$V/image'"
expect_eq "image reads other" "other" "$(cat "$V/image")"
check "the root disk now backs onto image other" \
	sh -c "qemu-img info '$T/home/state/vms/$id/root.qcow2' | grep -q 'images/other/'"
check "printf without newline works (vcpu 3)" sh -c "printf 3 > '$V/vcpu'"
expect_eq "vcpu reads 3" "3" "$(cat "$V/vcpu")"
check "surrounding whitespace is ignored (vcpu 2)" sh -c "printf '  2 \n\n' > '$V/vcpu'"
expect_eq "vcpu reads 2" "2" "$(cat "$V/vcpu")"
check ">> works like > (vcpu 1)" sh -c "echo 1 >> '$V/vcpu'"
expect_eq "vcpu reads 1" "1" "$(cat "$V/vcpu")"
check "echo 2 > vcpu again" sh -c "echo 2 > '$V/vcpu'"
expect_eq "spec shows the settings, set on this VM" "vcpu = 2  # set on this VM
memory_mib = 512  # set on this VM
disk_size = 3G  # set on this VM
image = other  # set on this VM
kernel = other  # set on this VM" "$(cat "$V/spec")"
check "logs has the vcpu line" grep -q "banger: vcpu set to 2" "$V/logs"
check "logs has the disk_size line" grep -q "banger: disk_size set to 3072M" "$V/logs"
expect_eq "error is still empty" "" "$(cat "$V/error")"

# sizes: what ls -l says is what cat gives, for every file
for f in $VM_FILES; do
	expect_eq "ls -l size of $f matches cat | wc -c" "$(cat "$V/$f" | wc -c)" "$(stat -c %s "$V/$f")"
done
ls_total=$(ls -l "$V" | awk '$1 ~ /^-/ { s += $5 } END { print s }')
cat_total=0
for f in $VM_FILES; do cat_total=$((cat_total + $(cat "$V/$f" | wc -c))); done
expect_eq "ls -l of the whole VM dir matches the contents" "$cat_total" "$ls_total"

# a second VM, then delete both
check "mkdir vms/b-2 succeeds" mkdir "$MNT/vms/b-2"
expect_eq "vms lists both" "a b-2" "$(ls "$MNT/vms" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "b-2 keeps the defaults" "1" "$(cat "$MNT/vms/b-2/vcpu")"
expect_eq "vms has nlink 2 + VMs" "4" "$(stat -c %h "$MNT/vms")"
check "rmdir vms/a succeeds" rmdir "$V"
expect_eq "vms lists only b-2" "b-2" "$(ls "$MNT/vms")"
check "vms/a is gone" test ! -e "$V"
check "its state dir is gone" test ! -e "$T/home/state/vms/$id"
check "rmdir vms/b-2 succeeds" rmdir "$MNT/vms/b-2"
expect_eq "vms is empty" "" "$(ls "$MNT/vms")"
expect_eq "no VM state dirs are left" "" "$(ls -A "$T/home/state/vms")"

# events: one line per lifecycle event (cat follows, so cut it short)
ev=$(events_now)
check "events has 'a created'" grep -Eq '^[0-9T:-]+Z a created$' <<<"$ev"
check "events has 'b-2 created'" grep -Eq '^[0-9T:-]+Z b-2 created$' <<<"$ev"
check "events has 'a deleted'" grep -Eq '^[0-9T:-]+Z a deleted$' <<<"$ev"
check "events has 'b-2 deleted'" grep -Eq '^[0-9T:-]+Z b-2 deleted$' <<<"$ev"
expect_eq "events are in order" "a created|b-2 created|a deleted|b-2 deleted" \
	"$(sed 's/^[^ ]* //' <<<"$ev" | paste -sd'|')"

# events as a stream: poll, O_NONBLOCK, small reads, a signal while waiting
got=$(python3 - "$MNT" <<'EOF'
import errno, os, select, signal, subprocess, sys
m = sys.argv[1]
def later(cmd):
    return subprocess.Popen(["sh", "-c", "sleep 0.3; " + cmd])
fd = os.open(m + "/events", os.O_RDONLY)
p = select.poll()
p.register(fd, select.POLLIN)
print("ready at open:", bool(p.poll(30000)))
while p.poll(0):
    os.read(fd, 65536)
print("ready once drained:", bool(p.poll(300)))
w = later("mkdir " + m + "/vms/s1")
print("poll wakes on a new event:", bool(p.poll(30000)))
w.wait()
line = b""
while not line.endswith(b"\n"):
    line += os.read(fd, 5)
print("5-byte reads give the line:", line.decode().split(" ", 1)[1].strip())
os.close(fd)
fd = os.open(m + "/events", os.O_RDONLY | os.O_NONBLOCK)
while True:
    try:
        os.read(fd, 65536)
    except OSError as e:
        print("O_NONBLOCK when drained:", errno.errorcode[e.errno])
        break
os.close(fd)
fd = os.open(m + "/events", os.O_RDONLY)
os.set_blocking(fd, False)
try:
    while os.read(fd, 65536):
        pass
except BlockingIOError:
    pass
os.set_blocking(fd, True)
def alarm(*a):
    raise InterruptedError
signal.signal(signal.SIGALRM, alarm)
signal.setitimer(signal.ITIMER_REAL, 0.3)
try:
    os.read(fd, 4096)
    print("a waiting read ends on a signal: no")
except InterruptedError:
    print("a waiting read ends on a signal: yes")
w = later("rmdir " + m + "/vms/s1")
print("the same file reads on after:", os.read(fd, 4096).decode().split(" ", 1)[1].strip())
w.wait()
EOF
)
expect_eq "events: poll, O_NONBLOCK, small reads, signals" "ready at open: True
ready once drained: False
poll wakes on a new event: True
5-byte reads give the line: s1 created
O_NONBLOCK when drained: EAGAIN
a waiting read ends on a signal: yes
the same file reads on after: s1 deleted" "$got"

# a name can be reused after delete, as a fresh VM
check "mkdir vms/a again" mkdir "$V"
expect_eq "the new a has the defaults" "1" "$(cat "$V/vcpu")"
expect_eq "the new a's spec is all defaults" "0" "$(grep -c 'set on this VM' "$V/spec")"
check "rmdir vms/a again" rmdir "$V"

# an image larger than the default disk: the default disk holds it whole
truncate -s 2G "$T/home/state/images/tiny/rootfs.ext4"
check "mkdir with a 2 GiB image works" mkdir "$MNT/vms/big"
expect_eq "its disk_size defaults to the image size" 2G "$(cat "$MNT/vms/big/disk_size")"
check "rmdir vms/big" rmdir "$MNT/vms/big"

# an image larger than the configured disk_size (1G), written to a VM's
# image: a disk_size from the defaults grows to hold it; one written on the
# VM is refused (EINVAL, with the reason), and so is a disk_size written
# smaller than the image
truncate -s 64M "$T/home/state/images/tiny/rootfs.ext4"
mkdir -p "$T/home/state/images/big"
truncate -s 1536M "$T/home/state/images/big/rootfs.ext4"
check "mkdir vms/g" mkdir "$MNT/vms/g"
expect_eq "g: disk_size is the default" 1G "$(cat "$MNT/vms/g/disk_size")"
check "echo big > image, disk_size from the defaults" sh -c "echo big > '$MNT/vms/g/image'"
expect_eq "g: the image is big" big "$(cat "$MNT/vms/g/image")"
expect_eq "g: disk_size grew to the image's size" 1536M "$(cat "$MNT/vms/g/disk_size")"
check "g: spec says why" grep -qx "disk_size = 1536M  # grown to hold image big (default: config.toml:5)" "$MNT/vms/g/spec"
check "g: logs say it grew" grep -q "banger: disk_size grows from 1G (the default) to 1536M to hold image big" "$MNT/vms/g/logs"
expect_errno "g: a disk_size smaller than the image: EINVAL" EINVAL write "$MNT/vms/g/disk_size" 1G
check "g: error says why" grep -qx "disk_size is smaller than image 'big' (1536M)" "$MNT/vms/g/error"
expect_eq "g: disk_size unchanged" 1536M "$(cat "$MNT/vms/g/disk_size")"
check "mkdir vms/h" mkdir "$MNT/vms/h"
check "echo 1G > disk_size (set on the VM)" sh -c "echo 1G > '$MNT/vms/h/disk_size'"
expect_errno "h: echo big > image with a smaller disk_size set: EINVAL" EINVAL write "$MNT/vms/h/image" big
check "h: error says why" grep -qx "disk_size 1G (set on this VM) is smaller than image 'big' (1536M): write a larger disk_size first" "$MNT/vms/h/error"
expect_eq "h: image and disk_size unchanged" "tiny 1G" "$(cat "$MNT/vms/h/image") $(cat "$MNT/vms/h/disk_size")"
check "h: echo 2G > disk_size, then big > image" sh -c "echo 2G > '$MNT/vms/h/disk_size' && echo big > '$MNT/vms/h/image'"
expect_eq "h: image big, disk_size 2G" "big 2G" "$(cat "$MNT/vms/h/image") $(cat "$MNT/vms/h/disk_size")"
check "rmdir vms/g vms/h" rmdir "$MNT/vms/g" "$MNT/vms/h"

finish
