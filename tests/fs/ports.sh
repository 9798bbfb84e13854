#!/bin/bash
# vms/NAME/ports without a guest (fake QEMU image): the rule grammar, the
# errno and reason of every bad write (nothing changes), EADDRINUSE for a
# port another program holds, listeners kept while the VM is stopped,
# rules kept across a daemon restart (and a port taken meanwhile shown as
# an error), carried by a rename, dropped by rmdir; the CLI's port command.
. "$(dirname "$0")/../lib.sh"

banger_setup fake || exit 1
V=$MNT/vms/p
check "mkdir vms/p" mkdir "$V"
check "ports exists and is empty" test -f "$V/ports" -a -z "$(cat "$V/ports")"

# a port nothing listens on in this namespace (ours alone)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
listening() { ss -Hltn "sport = :$1" | grep -q "$2:$1 "; }
udp_bound() { ss -Hlun "sport = :$1" | grep -q "$2:$1 "; }

expect_errno "add 18080" OK write "$V/ports" '18080\n'
expect_eq "read: the rule with its state" "tcp 127.0.0.1:18080 -> 18080 waiting (vm stopped)" "$(cat "$V/ports")"
check "bangerd listens on 127.0.0.1:18080 while the VM is stopped" listening 18080 127.0.0.1
check "a connection while stopped is closed at once" \
	sh -c "! python3 -c 'import socket; s=socket.create_connection((\"127.0.0.1\",18080),5); s.settimeout(10); assert s.recv(1) == b\"\"' 2>/dev/null || true"
expect_errno "several lines at once" OK write "$V/ports" '127.0.0.1:13000:80\nudp 15353\n  tcp 0.0.0.0:18081:81  \n'
expect_eq "rules in the order added" \
	"tcp 127.0.0.1:18080 -> 18080|tcp 127.0.0.1:13000 -> 80|udp 127.0.0.1:15353 -> 15353|tcp 0.0.0.0:18081 -> 81" \
	"$(sed 's/ waiting (vm stopped)$//' "$V/ports" | paste -sd'|')"
check "udp 15353 is bound" udp_bound 15353 127.0.0.1
check "0.0.0.0:18081 is bound" listening 18081 0.0.0.0
check "logs say 0.0.0.0 is an explicit choice" grep -q "ports: tcp 0.0.0.0:18081 -> 81 listens on 0.0.0.0, not on 127.0.0.1" "$V/logs"
expect_errno "adding the same rule again changes nothing" OK write "$V/ports" '18080'
expect_eq "still four rules" 4 "$(wc -l <"$V/ports")"
check "error is empty after successes" test -z "$(cat "$V/error")"

BEFORE=$(cat "$V/ports")
# bad writes: errno, reason in error, nothing changed
bad() { # DESC ERRNO VALUE REASON
	expect_errno "$1: $2" "$2" write "$V/ports" "$3"
	check "$1: error says '$4'" grep -qF -- "$4" "$V/error"
	expect_eq "$1: the rules are unchanged" "$BEFORE" "$(cat "$V/ports")"
}
bad "port 0" EINVAL '0' "host port 0 is not a port"
bad "port 65536" EINVAL '65536' "out of range"
bad "huge number" EINVAL '99999999999999999999' "out of range"
bad "letters" EINVAL 'http' "unexpected 'h'"
bad "sctp" EINVAL 'sctp 80' "unexpected 's'"
bad "bad bind address" EINVAL '300.1.1.1:8080' "not an IPv4 address"
bad "too many colons" EINVAL '127.0.0.1:1:2:3' "too many ':'"
bad "missing guest port" EINVAL '8080:' "guest port missing"
bad "empty write" EINVAL '\n\n' "no rule given"
bad "a good line then a bad one: nothing of it applies" EINVAL '19000\nfoo' "line 2"
check "19000 was not bound" sh -c "! ss -Hltn 'sport = :19000' | grep -q ."
bad "another guest port on the same listener" EEXIST '18080:81' "already forwards to 18080; write -18080 first"
bad "remove a rule that does not exist" ENOENT '-19999' "no rule tcp 127.0.0.1:19999 to remove"
bad "remove with the wrong guest port" ENOENT '-13000:81' "forwards to 80, not 81"
bad "a NUL byte" EINVAL '18082\0' "NUL"
python3 -c "open('$T/big','w').write('1' * 5000)"
expect_errno "a 5000-byte write: EFBIG" EFBIG writefile "$V/ports" "$T/big"
expect_eq "unchanged after EFBIG" "$BEFORE" "$(cat "$V/ports")"

# a port another program holds: EADDRINUSE at write time, with a reason
HELD=$(free_port)
python3 -c "
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', $HELD)); s.listen(1); time.sleep(600)" &
holder=$!
check "port $HELD is held by another program" wait_for 30 listening "$HELD" 127.0.0.1
bad "a taken port" EADDRINUSE "$HELD" "cannot bind tcp 127.0.0.1:$HELD: Address already in use"
bad "a taken port in a write that also adds a free one" EADDRINUSE "19001\n$HELD" "line 2"
check "19001 was let go again" sh -c "! ss -Hltn 'sport = :19001' | grep -q ."
mkdir "$MNT/vms/q"
expect_errno "another VM's rule: EADDRINUSE" EADDRINUSE write "$MNT/vms/q/ports" '18080'
check "its error names the VM that holds it" grep -q "VM p forwards that port already" "$MNT/vms/q/error"

# remove, and remove + re-add of one listener in one write
expect_errno "remove -udp 15353" OK write "$V/ports" '-udp 15353'
check "udp 15353 is free again" sh -c "! ss -Hlun 'sport = :15353' | grep -q ."
expect_errno "change 13000's guest port in one write" OK write "$V/ports" '-13000\n13000:8000'
expect_eq "13000 now forwards to 8000, last (a change is a re-add)" "tcp 127.0.0.1:13000 -> 8000 waiting (vm stopped)" "$(tail -1 "$V/ports")"
check "13000 is still bound" listening 13000 127.0.0.1
check "logs have the removal" grep -q "ports: removed udp 127.0.0.1:15353 -> 15353" "$V/logs"

# a daemon restart: the rules come back; one whose port was taken meanwhile
# reads as an error
stop_daemon
python3 -c "
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 13000)); s.listen(1); time.sleep(600)" &
holder2=$!
check "13000 taken while bangerd is down" wait_for 30 listening 13000 127.0.0.1
start_daemon
check "18080 is bound again after the restart" wait_for 30 listening 18080 127.0.0.1
expect_eq "the rules after the restart" \
	"tcp 127.0.0.1:18080 -> 18080 waiting (vm stopped)|tcp 0.0.0.0:18081 -> 81 waiting (vm stopped)|tcp 127.0.0.1:13000 -> 8000 error: cannot bind tcp 127.0.0.1:13000: Address already in use (another program or rule holds it)" \
	"$(paste -sd'|' "$V/ports")"
check "logs say why 13000 is not bound" grep -q "ports: error: cannot bind tcp 127.0.0.1:13000" "$V/logs"
kill "$holder2"
wait "$holder2" 2>/dev/null
expect_errno "writing the rule again binds it now" OK write "$V/ports" '13000:8000'
check "13000 is bound by bangerd" wait_for 30 listening 13000 127.0.0.1
check "and no longer an error" grep -q "^tcp 127.0.0.1:13000 -> 8000 waiting (vm stopped)$" "$V/ports"

# rename carries the rules; rmdir drops them and frees the ports
check "mv p r" mv "$V" "$MNT/vms/r"
V=$MNT/vms/r
check "r has the rules" grep -q "^tcp 127.0.0.1:18080 -> 18080 " "$V/ports"
check "rmdir r" rmdir "$V"
check "its ports are free" sh -c "! ss -Hltn 'sport = :18080' | grep -q . && ! ss -Hltn 'sport = :18081' | grep -q ."
expect_eq "the store holds no rule of it" 0 \
	"$(python3 -c "import sqlite3; print(sqlite3.connect('$T/home/state/banger.db').execute('select count(*) from ports').fetchone()[0])")"
expect_errno "q may take 18080 now" OK write "$MNT/vms/q/ports" '18080'

# two VMs racing for one port: one gets it, the other EADDRINUSE
mkdir "$MNT/vms/s"
$FSOP write "$MNT/vms/q/ports" '19500' >"$T/race.q" &
racer1=$!
$FSOP write "$MNT/vms/s/ports" '19500' >"$T/race.s" &
racer2=$!
wait "$racer1" "$racer2"
expect_eq "racing writers: one OK, one EADDRINUSE" "EADDRINUSE OK" "$(cat "$T/race.q" "$T/race.s" | sort | paste -sd' ')"
expect_eq "exactly one VM has the rule" 1 "$(cat "$MNT/vms/q/ports" "$MNT/vms/s/ports" | grep -c ':19500 ')"

# bangerd killed (SIGKILL) right after a write: the rule is in the store
expect_errno "add 19600 to q" OK write "$MNT/vms/q/ports" '19600'
kill_daemon
start_daemon
check "after SIGKILL and a restart, 19600 is there and bound" \
	sh -c "grep -q '^tcp 127.0.0.1:19600 -> 19600 waiting' '$MNT/vms/q/ports' && ss -Hltn 'sport = :19600' | grep -q ."
expect_errno "remove 19600 again" OK write "$MNT/vms/q/ports" '-19600'
check "rmdir s (whichever won the race)" rmdir "$MNT/vms/s"
grep -q ':19500 ' "$MNT/vms/q/ports" && $FSOP write "$MNT/vms/q/ports" '-19500' >/dev/null

# the CLI
BANGER="$REPO/tools/banger"
cli() { BANGER_MOUNT=$MNT "$BANGER" "$@"; }
check "banger port q 19002 'udp 19003'" cli port q 19002 'udp 19003'
expect_eq "banger port q lists" "tcp 127.0.0.1:18080 -> 18080 waiting (vm stopped)|tcp 127.0.0.1:19002 -> 19002 waiting (vm stopped)|udp 127.0.0.1:19003 -> 19003 waiting (vm stopped)" \
	"$(cli port q | paste -sd'|')"
check "banger port q -19002 removes" cli port q -19002
check "banger port q bad fails" sh -c "! BANGER_MOUNT='$MNT' '$BANGER' port q nope 2>'$T/cli.err'"
check "and prints the reason" grep -q "unexpected 'n'" "$T/cli.err"
kill "$holder"
wait "$holder" 2>/dev/null
finish
