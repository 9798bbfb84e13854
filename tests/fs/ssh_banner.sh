#!/bin/bash
# banger-ssh check --mode banner|pin (a restored clone's ssh check): the
# agent's keys are pinned as in a full check, then only the server's
# SSH-2.0 banner is read, or (pin) nothing more. Servers on loopback: one
# that greets like sshd, one that speaks something else, one that closes at
# once, none at all; a key that differs from the pin is refused before any
# connection.
. "$(dirname "$0")/../lib.sh"
T=$(mktemp -d /tmp/banger-test.XXXXXX)
SERVERS=()
trap 'for p in "${SERVERS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
SSH_HELPER=$(helper_bin banger-ssh)
KH=$T/known_hosts
KEY_A=ssh-ed25519:AAAAC3NzaC1lZDI1NTE5AAAAIOb12qAl1F7/c5qCUH++x7T19fMTey8lkvEADwyymjnz
KEY_B=ssh-ed25519:AAAAC3NzaC1lZDI1NTE5AAAAIDbRT4VAkGfO+vBet8NaVG9OVd6XsJnP9n+LcVuwCnsQ
"$SSH_HELPER" key "$T/id_ed25519" >/dev/null

# serve PORTFILE GREETING: accepts connections on a free loopback port
# (written to PORTFILE), sends GREETING (empty: closes at once)
serve() {
	python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
while True:
    c, _ = s.accept()
    if sys.argv[2]:
        c.sendall(sys.argv[2].encode().decode("unicode_escape").encode())
    c.close()
' "$1" "$2" &
	SERVERS+=($!)
	wait_for 10 test -s "$1"
}
# check_banner PORT TIMEOUT_MS [KEY [MODE]]: banger-ssh's answer line
check_banner() {
	"$SSH_HELPER" check --known-hosts "$KH" --key "$T/id_ed25519" --host 127.0.0.1 --port "$1" \
		--pin box.vm --pin "[127.0.0.1]:$1" ${3:+--agent-key "$3"} --timeout-ms "$2" --mode "${4:-banner}"
}

# says REGEX: the last answer matches
says() { printf '%s\n' "$out" | grep -Eq "$1"; }

serve "$T/sshd.port" 'SSH-2.0-dropbear_2022.83\r\n'
serve "$T/http.port" 'HTTP/1.1 400 Bad Request\r\n\r\n'
serve "$T/close.port" ''
SSHD=$(cat "$T/sshd.port")

out=$(check_banner "$SSHD" 5000 "$KEY_A")
check "a server that greets SSH-2.0: ok (agent pin) [$out]" says '^ok agent [0-9]+$'
check "... the agent's key is pinned for the name" grep -q "^box.vm ssh-ed25519 ${KEY_A#ssh-ed25519:}" "$KH"
check "... and for the address" grep -q "^\[127.0.0.1\]:$SSHD ssh-ed25519 ${KEY_A#ssh-ed25519:}" "$KH"

out=$(check_banner "$SSHD" 5000 "$KEY_B")
check "another key than the pinned one: refused before any banner [$out]" \
	says '^fail 5 host key mismatch for box.vm'
check "... the pin stays" grep -q "^box.vm ssh-ed25519 ${KEY_A#ssh-ed25519:}" "$KH"

out=$(check_banner "$SSHD" 5000)
check "banner mode without agent keys: refused, nothing pinned on trust [$out]" \
	says '^fail 22 a check without a handshake needs'
out=$(check_banner "$SSHD" 5000 "" pin)
check "pin mode without agent keys: refused too [$out]" says '^fail 22 a check without a handshake needs'

out=$(check_banner "$(cat "$T/http.port")" 1500 "$KEY_A")
check "a server that is not sshd: fails at the deadline [$out]" \
	says '^fail 110 .*no SSH-2.0 banner'
out=$(check_banner "$(cat "$T/close.port")" 1500 "$KEY_A")
check "a server that closes at once: fails at the deadline [$out]" \
	says '^fail 110 .*closed before a banner'
kill "${SERVERS[0]}"
wait "${SERVERS[0]}" 2>/dev/null
out=$(check_banner "$SSHD" 1500 "$KEY_A")
check "nothing listening: fails at the deadline with the reason [$out]" \
	says '^fail 110 .*connect: Connection refused'
out=$(check_banner 1 1500 "$KEY_A" pin)
check "pin mode: ok with no sshd (port 1 refused: the guest is reachable) [$out]" says '^ok agent [0-9]+$'
check "... pinned under the name" grep -q "^box.vm ssh-ed25519 ${KEY_A#ssh-ed25519:}" "$KH"
check "... and the address" grep -q "^\[127.0.0.1\]:1 ssh-ed25519 ${KEY_A#ssh-ed25519:}" "$KH"
out=$(check_banner 1 1500 "$KEY_B" pin)
check "pin mode: another key than the pinned one is refused [$out]" says '^fail 5 host key mismatch for box.vm'
# an address this namespace has no route to (TEST-NET-1; only lo is here)
out=$("$SSH_HELPER" check --known-hosts "$T/kh2" --key "$T/id_ed25519" --host 192.0.2.1 --port 22 \
	--pin far.vm --pin 192.0.2.1 --agent-key "$KEY_A" --timeout-ms 1500 --mode pin)
check "pin mode: an unreachable guest fails at the deadline with the reason [$out]" \
	says '^fail 110 the guest at 192.0.2.1 did not become reachable: connect: Network is unreachable'
finish
