#!/bin/bash
# The guest agent's sessions (agent protocol 5: sess_in_ack), without a guest: the real
# banger-agent runs here on a raw pty (its -p port), driven by
# tests/agent_driver.py as bangerd would drive it: output pushed as
# sess_out at absolute offsets, exit codes and signals, stdin and EOF, a pty
# running an interactive shell with its window size, two sessions at once,
# a reconnection (nothing pushed before sess_sync, then the resend), the
# 1 MiB bound per stream, bad input answered with a fail that changes
# nothing, the 64-session limit. The agent runs with -n (no power-off) and
# -a (authorized_keys under the scratch dir); the driver ends the sessions'
# process groups and the agent, the trap again if the driver died.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BANGER_BUILD:-$REPO/build}
T=$(mktemp -d /tmp/banger-agent-sessions.XXXXXX)
cleanup() {
	local pid
	pid=$(cat "$T/agent.pid" 2>/dev/null) && kill -9 "$pid" 2>/dev/null
	if [ -n "${KEEP_TEST_DIR:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
python3 "$REPO/tests/agent_driver.py" "$BUILD/agent/banger-agent" "$T"
rc=$?
[ $rc -eq 0 ] || sed 's/^/# agent: /' "$T/agent.log"
exit $rc
