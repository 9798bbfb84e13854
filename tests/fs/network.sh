#!/bin/bash
# Network settings and the address pool, without booting guests: addresses
# from the store (unique across restarts, freed on rmdir, ENOSPC when the
# pool is empty), DNS answers for created VMs, and bad settings stopping
# bangerd with a reason. Runs in the test's own network namespace (lib.sh).
. "$(dirname "$0")/../lib.sh"
export BANGER_SUBNET=10.77.0.0/29 # gateway .1, guests .2 to .6
banger_setup fake

check "the bridge has the gateway address" sh -c "ip -o addr show banger0 | grep -q 'inet 10.77.0.1/29'"
for i in 1 2 3 4 5; do
	check "mkdir v$i" mkdir "$MNT/vms/v$i"
done
expect_eq "addresses are .2 to .6 in order" "10.77.0.2 10.77.0.3 10.77.0.4 10.77.0.5 10.77.0.6" \
	"$(for i in 1 2 3 4 5; do cat "$MNT/vms/v$i/ip"; done | tr '\n' ' ' | sed 's/ $//')"
expect_eq "MACs are distinct" 5 "$(cat "$MNT"/vms/v*/mac | sort -u | wc -l)"
expect_errno "a sixth VM: ENOSPC (the pool is empty)" ENOSPC mkdir "$MNT/vms/v6"
check "nothing was created for it" test ! -e "$MNT/vms/v6"
check "bangerd's log says why" grep -q "no free address left in 10.77.0.0/29" "$T/home/state/bangerd.log"
expect_eq "dig v3.vm (a stopped VM keeps its address)" 10.77.0.4 "$(dig +short +tries=3 +time=5 @10.77.0.1 v3.vm)"

# a second bangerd (another BANGER_HOME) on the same bridge stops before it
# touches anything: the first one's bridge and DNS stay up
mkdir -p "$T/home2" "$T/mnt2"
out=$(BANGER_HOME=$T/home2 timeout 20 "$BANGERD" -f --mount "$T/mnt2" 2>&1)
rc=$?
check "a second bangerd on banger0 exits non-zero (rc $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check "it says the bridge is in use, by whom" grep -qF "bridge banger0 is in use by another bangerd (pid $DAEMON_PID)" <<<"$out"
check "the first one's bridge keeps its address" sh -c "ip -o addr show banger0 | grep -q 'inet 10.77.0.1/29'"
expect_eq "the first one's DNS still answers" 10.77.0.4 "$(dig +short +tries=1 +time=2 @10.77.0.1 v3.vm)"
check "the first one still answers the tree" test -d "$MNT/vms/v3"
check "nothing was mounted on the second mount point" sh -c "! grep -q ' $T/mnt2 fuse' /proc/mounts"

check "rmdir v3 frees its address" rmdir "$MNT/vms/v3"
check "dig v3.vm: NXDOMAIN" sh -c "dig +tries=3 +time=5 @10.77.0.1 v3.vm | grep -q 'status: NXDOMAIN'"
check "mkdir v6 now works" mkdir "$MNT/vms/v6"
expect_eq "it takes the freed address" 10.77.0.4 "$(cat "$MNT/vms/v6/ip")"

# addresses survive a restart and a SIGKILL, and are never handed out twice
kill_daemon
start_daemon
expect_eq "after SIGKILL and restart, the same addresses" "10.77.0.2 10.77.0.3 10.77.0.5 10.77.0.6 10.77.0.4" \
	"$(for v in v1 v2 v4 v5 v6; do cat "$MNT/vms/$v/ip"; done | tr '\n' ' ' | sed 's/ $//')"
expect_errno "still ENOSPC after the restart" ENOSPC mkdir "$MNT/vms/v7"
expect_eq "no address is held twice in the store" "" \
	"$(python3 -c "import sqlite3; print('\n'.join(r[0] for r in sqlite3.connect('$T/home/state/banger.db').execute(\"select ip from vms group by ip having count(*) > 1\")))")"

# bad settings stop bangerd with a reason that names the setting
stop_daemon
bad_setting() { # DESC VAR=VALUE EXPECTED-TEXT
	local out rc
	out=$(env "$2" BANGER_HOME="$T/home" timeout 60 "$BANGERD" -f --mount "$MNT" 2>&1)
	rc=$?
	check "$1: bangerd exits non-zero (rc $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
	check "$1: it says '$3'" grep -qF "$3" <<<"$out"
	check "$1: nothing is mounted" sh -c "! grep -q ' $MNT fuse' /proc/mounts"
}
bad_setting "network=bogus" BANGER_NETWORK=bogus "network 'bogus': want auto, bridge, user or none"
bad_setting "subnet without prefix" BANGER_SUBNET=10.0.0.0 "want a.b.c.d/prefix"
bad_setting "subnet with host bits" BANGER_SUBNET=10.0.0.5/24 "host bits are set"
bad_setting "subnet too small" BANGER_SUBNET=10.0.0.0/30 "prefix must be 16 to 29"
bad_setting "nat=maybe" BANGER_NAT=maybe "nat 'maybe': want true or false"
bad_setting "bridge name with a slash" BANGER_BRIDGE=a/b "bridge_name 'a/b'"
bad_setting "bridge name too long" BANGER_BRIDGE=abcdefghijklmnopq "bridge_name"
check "make a non-bridge interface (a persistent tap)" ip tuntap add bgrdummy mode tap
bad_setting "bridge name taken by a non-bridge" BANGER_BRIDGE=bgrdummy "not a bridge"
check "the tap was left alone" sh -c "ip link show bgrdummy >/dev/null"
ip tuntap del bgrdummy mode tap

# network = none: no bridge, no DNS, addresses still reserved
BANGER_NETWORK=none start_daemon
check "network = none: no bridge" sh -c "! ip link show banger0 2>/dev/null"
check "config says none" grep -q "^network = none  # BANGER_NETWORK" "$MNT/config"
expect_eq "ip is empty without a bridge" "" "$(cat "$MNT/vms/v1/ip")"
finish
