#!/bin/bash
# The kernel keeps entries, attributes and pages of this mount for a day; the
# daemon invalidates them at each change. Every read right after a change
# must see it: content, size (ls -l) and listings.
. "$(dirname "$0")/../lib.sh"

banger_setup fake || exit 1
V=$MNT/vms/a
check "mkdir vms/a" mkdir "$V"

# vcpu: values of different lengths, so a stale size would cut the text
stale=0
for i in $(seq 50); do
	if [ $((i % 2)) = 0 ]; then want=2; else want=12; fi
	cat "$V/vcpu" >/dev/null # prime the page cache
	stat "$V/vcpu" >/dev/null
	echo "$want" >"$V/vcpu"
	got=$(cat "$V/vcpu")
	[ "$got" = "$want" ] || { stale=$((stale + 1)); log "round $i: wrote $want, read '$got'"; }
	size=$(stat -c %s "$V/vcpu")
	[ "$size" = $((${#want} + 1)) ] || { stale=$((stale + 1)); log "round $i: vcpu size $size"; }
done
expect_eq "vcpu: 50 writes, each read back at once (content and size)" 0 "$stale"

# spec: its size (ls -l) follows every change
stale=0
for i in $(seq 50); do
	case $((i % 3)) in
	0) echo 64 >"$V/memory_mib" ;;
	1) echo 1024 >"$V/memory_mib" ;;
	2) echo 256 >"$V/memory_mib" ;;
	esac
	size=$(stat -c %s "$V/spec")
	real=$(cat "$V/spec" | wc -c)
	[ "$size" = "$real" ] || { stale=$((stale + 1)); log "round $i: spec size $size, content $real"; }
	grep -q "^memory_mib = $(cat "$V/memory_mib")  # set on this VM$" "$V/spec" ||
		{ stale=$((stale + 1)); log "round $i: spec does not show memory_mib $(cat "$V/memory_mib")"; }
done
expect_eq "spec: 50 changes, size and content fresh each time" 0 "$stale"
expect_eq "ls -l size of spec matches" "$(cat "$V/spec" | wc -c)" "$(ls -l "$V/spec" | awk '{ print $5 }')"

# a reader that keeps the file open sees each change when it reads again
got=$(python3 - "$V" <<'EOF'
import os, sys
d = sys.argv[1]
fd = os.open(d + "/vcpu", os.O_RDONLY)
bad = 0
for i in range(30):
    want = b"3\n" if i % 2 else b"16\n"
    with open(d + "/vcpu", "wb", buffering=0) as w:
        w.write(want)
    if os.pread(fd, 64, 0) != want or os.fstat(fd).st_size != len(want):
        bad += 1
os.close(fd)
print(bad)
EOF
)
expect_eq "a file held open sees each of 30 changes" 0 "$got"

# logs grow; their size moves right after each line
stale=0
for i in $(seq 20); do
	echo $((i % 2 + 1)) >"$V/vcpu"
	size=$(stat -c %s "$V/logs")
	real=$(cat "$V/logs" | wc -c)
	[ "$size" = "$real" ] || { stale=$((stale + 1)); log "round $i: logs size $size, content $real"; }
	last=$(tail -1 "$V/logs")
	[ "${last#*banger: }" = "vcpu set to $((i % 2 + 1))" ] ||
		{ stale=$((stale + 1)); log "round $i: last log line '$last'"; }
done
expect_eq "logs: size and last line fresh after 20 changes" 0 "$stale"

# logs move like a growing file: mtime too, and tail -f follows
m0=$(stat -c %Y "$V/logs")
sleep 1.1
echo 3 >"$V/vcpu"
m1=$(stat -c %Y "$V/logs")
check "logs mtime moved with the new line ($m0 -> $m1)" test "$m1" -gt "$m0"
expect_eq "logs mtime is the log's on disk" "$(stat -c %Y "$T/home/state/vms/1/vm.log")" "$m1"
tail -f "$V/logs" >"$T/tail.out" 2>&1 &
tailer=$!
# the new line must come after tail printed what was there (it follows)
check "tail -f logs prints the log" wait_for 30 grep -q 'banger: vcpu set to 3' "$T/tail.out"
echo 4 >"$V/vcpu"
check "tail -f logs shows the new line" wait_for 30 grep -q 'banger: vcpu set to 4' "$T/tail.out"
kill "$tailer" 2>/dev/null
wait "$tailer" 2>/dev/null

# error: the new reason right after each failing write
stale=0
for i in $(seq 30); do
	bad="bogus$i"
	ls -l "$V/error" >/dev/null
	cat "$V/error" >/dev/null
	got=$($FSOP write "$V/vcpu" "$bad")
	[ "$got" = EINVAL ] || { stale=$((stale + 1)); log "round $i: write gave $got"; }
	grep -q "'$bad'" "$V/error" || { stale=$((stale + 1)); log "round $i: error is '$(cat "$V/error")'"; }
	[ "$(stat -c %s "$V/error")" = "$(cat "$V/error" | wc -c)" ] ||
		{ stale=$((stale + 1)); log "round $i: error size is stale"; }
done
expect_eq "error: 30 failing writes, each reason shown at once" 0 "$stale"
got=$($FSOP write "$V/state" "nope")
expect_eq "a bad state word fails" EINVAL "$got"
check "error shows it at once" grep -q "'nope'" "$V/error"
expect_eq "state is still stopped" stopped "$(cat "$V/state")"

# listings: mkdir shows at once, rmdir hides at once
stale=0
for i in $(seq 25); do
	ls "$MNT/vms" >/dev/null
	stat "$MNT/vms" >/dev/null
	mkdir "$MNT/vms/v$i" || { stale=$((stale + 1)); log "mkdir v$i failed"; }
	ls "$MNT/vms" | grep -qx "v$i" || { stale=$((stale + 1)); log "round $i: ls vms lacks v$i"; }
	[ "$(stat -c %h "$MNT/vms")" = 4 ] || { stale=$((stale + 1)); log "round $i: vms nlink $(stat -c %h "$MNT/vms")"; }
	[ "$(cat "$MNT/vms/v$i/state")" = stopped ] || { stale=$((stale + 1)); log "round $i: v$i/state"; }
	rmdir "$MNT/vms/v$i" || { stale=$((stale + 1)); log "rmdir v$i failed"; }
	ls "$MNT/vms" | grep -qx "v$i" && { stale=$((stale + 1)); log "round $i: ls vms still has v$i"; }
	stat "$MNT/vms/v$i" >/dev/null 2>&1 && { stale=$((stale + 1)); log "round $i: stat v$i still works"; }
	[ "$(stat -c %h "$MNT/vms")" = 3 ] || { stale=$((stale + 1)); log "round $i: vms nlink after rmdir"; }
done
expect_eq "25 mkdir/rmdir rounds: listings and stat fresh each time" 0 "$stale"

# the same name again: a new VM (a new inode), not the old one's cached files
stale=0
for i in $(seq 10); do
	mkdir "$MNT/vms/same"
	ino=$(stat -c %i "$MNT/vms/same")
	case " ${inos:-} " in *" $ino "*) stale=$((stale + 1)); log "round $i: inode $ino reused" ;; esac
	inos="${inos:-} $ino"
	want=$((i % 3 + 1))
	echo "$want" >"$MNT/vms/same/vcpu"
	cat "$MNT/vms/same/spec" >/dev/null
	rmdir "$MNT/vms/same"
	mkdir "$MNT/vms/same"
	[ "$(cat "$MNT/vms/same/vcpu")" = 1 ] || { stale=$((stale + 1)); log "round $i: recreated same has vcpu $(cat "$MNT/vms/same/vcpu")"; }
	grep -q "set on this VM" "$MNT/vms/same/spec" && { stale=$((stale + 1)); log "round $i: recreated spec is stale"; }
	rmdir "$MNT/vms/same"
done
expect_eq "a recreated name never shows the old VM's values" 0 "$stale"

# a file opened on a VM that was then deleted
got=$(python3 - "$MNT/vms" <<'EOF'
import errno, os, sys
d = sys.argv[1] + "/held"
os.mkdir(d)
fd = os.open(d + "/spec", os.O_RDONLY)
os.read(fd, 4096)
os.rmdir(d)
try:
    os.pread(fd, 4096, 0)
    r = "read OK"
except OSError as e:
    r = errno.errorcode[e.errno]
try:
    os.stat(d + "/spec")
    r += " stat OK"
except OSError as e:
    r += " " + errno.errorcode[e.errno]
print(r)
EOF
)
check "a deleted VM's files are gone even when held open ($got)" grep -Eq '^(ENOENT|read OK) ENOENT$' <<<"$got"
expect_eq "vms/ holds only a" "a" "$(ls "$MNT/vms")"
expect_eq "vms nlink is 3" 3 "$(stat -c %h "$MNT/vms")"

finish
