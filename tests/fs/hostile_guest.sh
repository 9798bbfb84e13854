#!/bin/bash
# A hostile guest: tests/fs/fake-qemu stands in for qemu-system-x86_64 (first
# on PATH) and, instead of a guest agent, plays scripts of agent lines a
# guest could send: an authorize result before any hello (also after a
# bangerd restart, which re-adopts the VM), more host keys than allowed,
# the most host keys allowed plus a stale pin to drop, oversized lines,
# NULs and escape sequences, keys crafted to inject known_hosts lines, host
# keys too long to pin (counted unreadable, never trusted on first use), and a
# flood of hellos. bangerd must stay up and answer, keep its memory and logs
# bounded, and pin only what it should. User-mode networking (no bridge);
# all of it in the test's own network namespace (lib.sh).
. "$(dirname "$0")/../lib.sh"

export BANGER_BOOT_TIMEOUT=60 BANGER_NETWORK=user
banger_setup fake || exit 1
stop_daemon
HOLDER=""
trap '[ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null; cleanup' EXIT
mkdir -p "$T/bin" "$T/fake"
ln -s "$REPO/tests/fs/fake-qemu" "$T/bin/qemu-system-x86_64"
# the ssh helper through a wrapper that records its arguments
printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"%s"\nexec "%s" "$@"\n' "$T/helper.args" "$(helper_bin banger-ssh)" \
	>"$T/bin/banger-ssh"
chmod +x "$T/bin/banger-ssh"
export PATH=$T/bin:$PATH FAKE_QEMU_DIR=$T/fake BANGER_SSH_HELPER=$T/bin/banger-ssh
start_daemon || exit 1
KH=$T/home/state/ssh/known_hosts
F=$T/fake

for i in $(seq 1 16); do ssh-keygen -q -t ed25519 -N '' -C '' -f "$T/key$i"; done
key() { awk '{ print $1 ":" $2 }' "$T/key$1.pub"; }
b64() { awk '{ print $2 }' "$T/key$1.pub"; }
HELLO="hello proto=2 agent=0.2.0-fake uptime_ms=1"

# bangerd lives and answers at once on another VM's file
alive() {
	kill -0 "$DAEMON_PID" 2>/dev/null && [ "$(timeout 5 cat "$MNT/vms/other/state" 2>/dev/null)" = stopped ]
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status" 2>/dev/null || echo 0; }
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
count_lines() { grep -c "$1" "$2" 2>/dev/null || true; }
# has_pins REGEX N: known_hosts has N lines matching REGEX
has_pins() { [ "$(count_lines "$1" "$KH")" = "$2" ]; }
# start NAME: a start write in the background, its result in $T/NAME.start
start_bg() {
	$FSOP write "$MNT/vms/$1/state" start >"$T/$1.start" 2>&1 &
	eval "STARTER_$1=$!"
}
# kill_vm NAME: Ctrl-C on its parked start (a second writer of state waits
# behind it), then kill; the errno name of the kill in $KILLED
kill_vm() {
	local p
	eval "p=\${STARTER_$1:-}"
	if [ -n "$p" ]; then
		kill -INT "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	fi
	eval "STARTER_$1="
	KILLED=$($FSOP write "$MNT/vms/$1/state" kill 2>&1)
}
port_of() { awk '$1 == "Port" { print $2 }' "$MNT/vms/$1/ssh_config"; }

check "mkdir vms/other (stays stopped)" mkdir "$MNT/vms/other"

# 1. an authorize result before any hello; then bangerd restarts and
#    re-adopts the VM, whose agent does it again
cat >"$F/early" <<'EOF'
line ack verb=authorize
line fail verb=authorize reason=no-hello-yet
drain 30
mark sent
EOF
check "mkdir vms/early" mkdir "$MNT/vms/early"
start_bg early
check "the guest sent ack and fail of authorize before any hello" wait_for 30 test -s "$F/early.sent"
check "bangerd is alive and answers" alive
check "logs say the early ack was ignored" wait_for 5 grep -q "agent: ignored 'ack verb=authorize': no authorize was sent in this boot" "$MNT/vms/early/logs"
check "the early fail did not fail the boot" grep -q "agent: ignored 'fail verb=authorize" "$MNT/vms/early/logs"
expect_eq "the VM still reads starting" starting "$(timeout 5 cat "$MNT/vms/early/state")"
check "no ssh check was run for it" sh -c "! grep -q 'early.vm' '$T/helper.args' 2>/dev/null"
stop_daemon
wait "$STARTER_early"
STARTER_early=""
check "a restarted bangerd mounts" start_daemon
check "it re-adopted the VM, whose agent sent the early ack again" wait_for 30 grep -qx 2 "$F/early.sent"
check "bangerd is alive after the re-adoption" alive
expect_eq "the VM still reads starting" starting "$(timeout 5 cat "$MNT/vms/early/state")"
kill_vm early
expect_eq "kill it" OK "$KILLED"

# 2. more host keys than allowed: refused before anything is sent
many="$HELLO kernel=fake"
for i in $(seq 1 40); do many="$many hostkey=$(key 1)"; done
printf 'line %s\n' "$many" >"$F/many"
check "mkdir vms/many" mkdir "$MNT/vms/many"
expect_errno "a hello with 40 host keys fails the start: EIO" EIO write "$MNT/vms/many/state" start
check "error says why" grep -q "the guest agent reported 40 ssh host keys, more than 16" "$MNT/vms/many/error"
check "no authorize was sent to it" sh -c "! grep -q authorize '$F/many.in' 2>/dev/null"
check "nothing was pinned for it" sh -c "! grep -q '^many\.vm ' '$KH' 2>/dev/null"
check "bangerd is alive" alive

# 3. the most host keys allowed (16), and a second boot on another port, whose
#    old pins the helper drops: the helper's arguments are all there
hello16="$HELLO kernel=fake"
for i in $(seq 1 16); do hello16="$hello16 hostkey=$(key "$i")"; done
printf 'line %s\nwait-authorize 30\nline ack verb=authorize\n' "$hello16" >"$F/keys"
check "mkdir vms/keys" mkdir "$MNT/vms/keys"
start_bg keys
port1=$(wait_for 10 grep -q Port "$MNT/vms/keys/ssh_config" && port_of keys)
check "16 pins for keys.vm" wait_for 30 has_pins '^keys\.vm ' 16
check "16 pins for [127.0.0.1]:$port1" wait_for 5 has_pins "^\[127\.0\.0\.1\]:$port1 " 16
kill_vm keys
expect_eq "kill it" OK "$KILLED"
# keep port1 taken, so the next boot gets another port and drops port1's pins
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(600)' "$port1" &
HOLDER=$!
start_bg keys
check "the second boot has another port" wait_for 10 sh -c "p=\$(awk '\$1 == \"Port\" { print \$2 }' '$MNT/vms/keys/ssh_config'); test -n \"\$p\" -a \"\$p\" != '$port1'"
port2=$(port_of keys)
check "16 pins for [127.0.0.1]:$port2" wait_for 30 has_pins "^\[127\.0\.0\.1\]:$port2 " 16
check "the old port's pins are gone" has_pins "^\[127\.0\.0\.1\]:$port1 " 0
check "still 16 pins for keys.vm" has_pins '^keys\.vm ' 16
args=$(grep -- "--drop \[127.0.0.1\]:$port1 " "$T/helper.args" | tail -n 1)
expect_eq "the helper got 16 --agent-key" 16 "$(grep -o -- '--agent-key ' <<<"$args" | wc -l)"
check "the helper's arguments end with --timeout-ms N --mode hostkey (a cold boot: no key offered)" grep -Eq -- '--timeout-ms [0-9]+ --mode hostkey$' <<<"$args"
check "bangerd is alive" alive
kill_vm keys
expect_eq "kill it" OK "$KILLED"
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null
HOLDER=""

# 4. key values crafted to inject lines into known_hosts or ssh_config
good=$(key 1)
cat >"$F/inject" <<EOF
line $HELLO kernel=fake hostkey=$good\\rinjected.vm ssh-ed25519 $(b64 2)
line $HELLO kernel=fake hostkey=ssh-ed25519\\tinjected:$(b64 2)
line $HELLO kernel=fake hostkey=$good hostkey=injected.vm,$good hostkey=$good#injected hostkey=$good,injected.vm hostkey=$good\\ninjected.vm ssh-ed25519 $(b64 2)
wait-authorize 30
line ack verb=authorize
EOF
check "mkdir vms/inject" mkdir "$MNT/vms/inject"
start_bg inject
check "inject.vm is pinned" wait_for 30 grep -q '^inject\.vm ' "$KH"
expect_eq "with the one good key only" "inject.vm ssh-ed25519 $(b64 1)" "$(grep '^inject\.vm ' "$KH")"
check "known_hosts holds nothing injected" sh -c "! grep -q injected '$KH'"
check "every known_hosts line is HOST TYPE BASE64" \
	sh -c "! grep -Evq '^[a-z0-9.]+\.vm ssh-ed25519 [A-Za-z0-9+/]+=*$|^\[127\.0\.0\.1\]:[0-9]+ ssh-ed25519 [A-Za-z0-9+/]+=*$' '$KH'"
check "ssh_config holds nothing injected" sh -c "! grep -q injected '$MNT/vms/inject/ssh_config' '$T/home/state/ssh/config'"
kill_vm inject
expect_eq "kill it" OK "$KILLED"

# 4b. host keys of 2048 characters or more (what a pin can hold): counted as
#     unreadable, never skipped into trust on first use
big_rsa=$(python3 -c 'import base64, random, struct
def s(b): return struct.pack(">I", len(b)) + b
n = random.Random(7).getrandbits(16384) | 1 << 16383 | 1  # libssh takes RSA keys up to 16384 bits
print("ssh-rsa:" + base64.b64encode(s(b"ssh-rsa") + s(b"\1\0\1") + s(b"\0" + n.to_bytes(2048, "big"))).decode())')
big_junk="ssh-ed25519:$(head -c 1600 /dev/zero | base64 -w0)"
check "the keys are over 2048 characters (${#big_rsa}, ${#big_junk})" test "${#big_rsa}" -gt 2048 -a "${#big_junk}" -gt 2048
for k in "$big_rsa" "$big_junk"; do
	printf 'line %s kernel=fake hostkey=%s\nwait-authorize 30\nline ack verb=authorize\n' "$HELLO" "$k" >"$F/bigkey"
	check "mkdir vms/bigkey" mkdir "$MNT/vms/bigkey"
	expect_errno "a hello whose only key has ${#k} characters fails the start: EIO" EIO write "$MNT/vms/bigkey/state" start
	check "error says the key could not be read" grep -q "reported host keys, none of which could be read" "$MNT/vms/bigkey/error"
	check "logs say it too" grep -q "none of which could be read" "$MNT/vms/bigkey/logs"
	check "no trust on first use" sh -c "! grep -q 'TOFU' '$MNT/vms/bigkey/logs'"
	check "nothing was pinned for it" sh -c "! grep -q '^bigkey\.vm ' '$KH' 2>/dev/null"
	check "bangerd is alive" alive
	check "rmdir vms/bigkey" rmdir "$MNT/vms/bigkey"
done

# 5. oversized lines, a line smuggled behind one, escape sequences, a NUL
x4095=$(head -c 4095 /dev/zero | tr '\0' x)
x1000=$(head -c 1000 /dev/zero | tr '\0' x)
cat >"$F/garbage" <<EOF
repeat 2000 raw $x1000
line
line ${x4095}hello proto=2 agent=SMUGGLED uptime_ms=1
line $HELLO kernel=\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31m
line pong id=1\\x00junk
line \\xff\\xfe binary \\x01\\x02
line $HELLO kernel=AFTERNUL hostkey=$good
wait-authorize 30
hold
EOF
check "mkdir vms/garbage" mkdir "$MNT/vms/garbage"
start_bg garbage
G=$MNT/vms/garbage/logs
check "the hello after the junk is read" wait_for 30 grep -q "agent: hello .*kernel=AFTERNUL" "$G"
check "the tail of an oversized line is not taken for a line" sh -c "! grep -q SMUGGLED '$G'"
check "logs hold no escape, BEL or NUL byte" sh -c "! LC_ALL=C grep -Paq '[\\x00-\\x08\\x0b-\\x1f\\x7f-\\xff]' '$G'"
check "logs say an oversized line was dropped" grep -q "agent: dropped a line longer than 4096 bytes" "$G"
expect_eq "once for the 2 MB line, once for the smuggling one" 2 "$(count_lines 'longer than 4096' "$G")"
check "logs say lines with other bytes were dropped" grep -q "agent: dropped a line that is not printable ASCII" "$G"
check "bangerd is alive" alive
kill_vm garbage
expect_eq "kill it" OK "$KILLED"

# 6. a flood: 20000 hellos (30 MB) as fast as the socket takes them
pad=$(head -c 1400 /dev/zero | tr '\0' p)
printf 'repeat 20000 line %s kernel=fake hostkey=%s pad=%s\ndrain 120\nmark flooded\n' "$HELLO" "$good" "$pad" \
	>"$F/flood"
check "mkdir vms/flood" mkdir "$MNT/vms/flood"
rss0=$(rss_kib)
log0=$(size "$T/home/state/bangerd.log")
start_bg flood
check "the flood was read" wait_for 120 test -s "$F/flood.flooded"
check "bangerd is alive after the flood" alive
rss1=$(rss_kib)
log "bangerd RSS ${rss0} KiB before, ${rss1} KiB after the flood"
check "its RSS grew by under 64 MiB (${rss0} -> ${rss1} KiB)" test $((rss1 - rss0)) -lt 65536
vmlog=$(size "$MNT/vms/flood/logs")
dlog=$(($(size "$T/home/state/bangerd.log") - log0))
check "the VM's log stayed under 256 KiB ($vmlog bytes)" test "$vmlog" -lt 262144
check "bangerd.log grew by under 256 KiB ($dlog bytes)" test "$dlog" -lt 262144
check "logs say agent lines were not logged" wait_for 5 grep -q "agent lines not logged" "$MNT/vms/flood/logs"
expect_eq "one authorize went out, not one per hello" 1 "$(count_lines '^authorize ' "$F/flood.in")"
kill_vm flood
expect_eq "kill it" OK "$KILLED"

# 7. network none: a start returns at the hello; an ack before it is ignored
stop_daemon
BANGER_NETWORK=none start_daemon
printf 'line ack verb=authorize\nline %s kernel=fake hostkey=%s\nline ack verb=authorize\n' "$HELLO" "$good" \
	>"$F/nonet"
check "mkdir vms/nonet" mkdir "$MNT/vms/nonet"
expect_errno "network none: start returns at the hello" OK write "$MNT/vms/nonet/state" start
expect_eq "running" running "$(cat "$MNT/vms/nonet/state")"
check "the ack before the hello was ignored" grep -q "agent: ignored 'ack verb=authorize'" "$MNT/vms/nonet/logs"
check "no ssh check ran for it" sh -c "! grep -q 'nonet.vm' '$T/helper.args'"
check "bangerd is alive" alive
expect_errno "kill it" OK write "$MNT/vms/nonet/state" kill

finish
