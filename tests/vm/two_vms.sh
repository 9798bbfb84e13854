#!/bin/bash
# Two guests at once: independent boots, stops and deletes, and each
# reaching the other by NAME.vm over the bridge.
. "$(dirname "$0")/../lib.sh"
banger_setup real

mkdir "$MNT/vms/one" "$MNT/vms/two"
$FSOP write "$MNT/vms/one/state" start >"$T/one.rc" &
one=$!
$FSOP write "$MNT/vms/two/state" start >"$T/two.rc" &
two=$!
wait "$one" "$two"
expect_eq "first start succeeded" OK "$(cat "$T/one.rc")"
expect_eq "second start succeeded" OK "$(cat "$T/two.rc")"
expect_eq "one is running" running "$(cat "$MNT/vms/one/state")"
expect_eq "two is running" running "$(cat "$MNT/vms/two/state")"
check "they are two processes" sh -c "[ '$(cat "$MNT/vms/one/pid")' != '$(cat "$MNT/vms/two/pid")' ]"
check "each console names its own guest" sh -c "grep -aq 'banger.name=one' '$MNT/vms/one/console' && grep -aq 'banger.name=two' '$MNT/vms/two/console'"

# on the bridge, guests reach each other by NAME.vm (bangerd's DNS)
gssh() { # VM CMD
	ssh -F "$MNT/vms/$1/ssh_config" -o BatchMode=yes "$1.vm" "$2" 2>>"$T/ssh.err"
}
expect_eq "one resolves two.vm through bangerd" "$(cat "$MNT/vms/two/ip")" \
	"$(gssh one "nslookup two.vm | awk '/^Address/ { a = \$NF } END { print a }'")"
check "one reaches two by name (ping two.vm)" sh -c "$(declare -f gssh); MNT='$MNT' T='$T'; gssh one 'ping -c 1 -W 5 two.vm' >/dev/null"
check "two reaches one by name (ssh two -> ping one.vm)" sh -c "$(declare -f gssh); MNT='$MNT' T='$T'; gssh two 'ping -c 1 -W 5 one.vm' >/dev/null"

expect_errno "stop one" OK write "$MNT/vms/one/state" stop
expect_eq "one stopped" stopped "$(cat "$MNT/vms/one/state")"
expect_eq "two still running" running "$(cat "$MNT/vms/two/state")"
check "two still answers on its console" sh -c "echo 'echo still-\$((40+2))' > '$MNT/vms/two/console' && timeout 60 grep -aq still-42 '$MNT/vms/two/console'"
check "rmdir both" rmdir "$MNT/vms/one" "$MNT/vms/two"
expect_eq "no qemu of this test is left" "" "$(test_vm_pids)"
finish
