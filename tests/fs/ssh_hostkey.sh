#!/bin/bash
# banger-ssh check --mode hostkey (a cold boot's ssh check, once the agent
# acked banger's key): against a real dropbear on loopback, the server's key
# is verified against the pins and no key is offered; a server with another
# key than the agent's is a MITM alarm; a server that starts listening only
# after the check began is waited for (its refusals are retried), and the
# probe that found it is the connection libssh uses.
. "$(dirname "$0")/../lib.sh"
T=$(mktemp -d /tmp/banger-test.XXXXXX)
SERVERS=()
trap 'for p in "${SERVERS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
SSH_HELPER=$(helper_bin banger-ssh)
KH=$T/known_hosts
"$SSH_HELPER" key "$T/id_ed25519" >/dev/null
for k in a b; do
	dropbearkey -t ed25519 -f "$T/host_$k" >/dev/null 2>&1
	pub=$(dropbearkey -y -f "$T/host_$k" | grep '^ssh-ed25519')
	printf '%s' "$(cut -d' ' -f1 <<<"$pub"):$(cut -d' ' -f2 <<<"$pub")" >"$T/agent_$k"
done
KEY_A=$(cat "$T/agent_a")

# free_port: a loopback port nothing listens on (the kernel picked it)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# dropbear_on PORT KEYFILE LOG: a dropbear in the foreground on loopback
dropbear_on() {
	dropbear -F -E -s -p "127.0.0.1:$1" -r "$2" -P "$T/dropbear.$1.pid" 2>>"$3" &
	SERVERS+=($!)
}
# check_hostkey PORT TIMEOUT_MS AGENT_KEY: banger-ssh's answer line
check_hostkey() {
	"$SSH_HELPER" check --known-hosts "$KH" --key "$T/id_ed25519" --host 127.0.0.1 --port "$1" \
		--pin box.vm --pin "[127.0.0.1]:$1" --agent-key "$3" --timeout-ms "$2" --mode hostkey
}
says() { printf '%s\n' "$out" | grep -Eq "$1"; }

P1=$(free_port)
dropbear_on "$P1" "$T/host_a" "$T/log1"
check "dropbear listens" wait_for 10 sh -c "ss -Hltn 'sport = :$P1' | grep -q LISTEN"
out=$(check_hostkey "$P1" 10000 "$KEY_A")
check "the server's key is the agent's: ok (agent pin) [$out]" says '^ok agent [0-9]+$'
check "... pinned for the name" grep -q "^box.vm ssh-ed25519 ${KEY_A#ssh-ed25519:}" "$KH"
check "... a key exchange took place (dropbear saw the connection)" \
	wait_for 10 grep -q "Child connection from 127.0.0.1" "$T/log1"
check "... and no key was offered (no auth request reached it)" \
	wait_for 10 grep -q "Exit before auth" "$T/log1"
check "... nor any login" sh -c "! grep -q 'auth succeeded' '$T/log1'"

# the pins say A and so does the agent, but the server shows B
P2=$(free_port)
dropbear_on "$P2" "$T/host_b" "$T/log2"
check "a second dropbear listens" wait_for 10 sh -c "ss -Hltn 'sport = :$P2' | grep -q LISTEN"
kh_before=$(grep -v "^\[127.0.0.1\]:$P2 " "$KH")
out=$(check_hostkey "$P2" 10000 "$KEY_A")
check "a server with another key than the agent's: a MITM alarm [$out]" \
	says '^fail 5 .*sshd offered .*possible MITM'
expect_eq "the name's pin stays" "$(grep '^box.vm ' <<<"$kh_before")" "$(grep '^box.vm ' "$KH")"

# nothing listens when the check begins; dropbear comes a second later
P3=$(free_port)
(
	sleep 1
	exec dropbear -F -E -s -p "127.0.0.1:$P3" -r "$T/host_a" 2>>"$T/log3"
) &
SERVERS+=($!)
out=$(check_hostkey "$P3" 15000 "$KEY_A")
check "a server that starts listening after the check began is waited for [$out]" says '^ok agent [0-9]+$'
check "... through one connection: the probe that found it" \
	test "$(grep -c 'Child connection' "$T/log3")" -eq 1

out=$(check_hostkey "$(free_port)" 1500 "$KEY_A")
check "nothing listening: fails at the deadline with the reason [$out]" \
	says "^fail 110 .*(nothing listens on port|Connection refused)"
finish
