#!/bin/bash
# The agent's sessions inside a real tiny guest (its busybox, its devpts):
# over ssh -tt, a second agent runs on the ssh session's raw pty and
# tests/agent_driver.py --guest drives it: pipes, exit codes, stdin and
# EOF, a signal, a tty session (isatty, /dev/pts, window size). The
# guest's own agent keeps serving bangerd meanwhile. (Sessions through
# bangerd and the tree are the sess-host side's tests.)
. "$(dirname "$0")/../lib.sh"
banger_setup real

V=$MNT/vms/sg
check "mkdir sg" mkdir "$V"
expect_errno "start sg" OK write "$V/state" start
check "the guest's agent speaks protocol 6" grep -q "hello proto=6 " "$V/logs"

ssh_cmd=(ssh -F "$V/ssh_config" -o BatchMode=yes -tt sg.vm
	'stty raw -echo && exec /usr/sbin/banger-agent -n -a /tmp/agent-test -p /dev/tty')
before=$CHECKS
while IFS= read -r line; do
	case $line in
	"ok "*) ok "${line#ok [0-9]* - }" ;;
	"not ok "*) fail "${line#not ok [0-9]* - }" ;;
	"1.."*) plan=${line#1..} ;;
	*) log "$line" ;;
	esac
done < <(python3 "$REPO/tests/agent_driver.py" --guest "$T" "${ssh_cmd[@]}" 2>&1)
expect_eq "the driver ran all its checks" "${plan:-none}" "$((CHECKS - before))"
expect_errno "stop sg" OK write "$V/state" stop
expect_eq "sg is stopped" stopped "$(cat "$V/state")"
finish
