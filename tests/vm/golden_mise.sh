#!/bin/bash
# mise in the golden debian-bookworm guest (tools/mkgolden pins it): `banger
# run PATH -- CMD` with a .mise.toml runs `mise install` in the guest, logged
# to /root/.cache/banger/vm-run-tooling-<repo>.log, and CMD finds the tool
# on PATH. The tool comes from mise's http: backend, served by this test on
# the bridge's host address inside its own network namespace (the guests
# reach nothing else). Then a workspace whose second tool cannot be fetched:
# the failure is said, with the log's last lines, and the command still runs
# and its own exit status comes back. Two boots of the golden guest.

# The build needs the Debian mirror and npm's registry (cached after the
# first run), so it runs before lib.sh moves this test into a network
# namespace without either (as in golden.sh).
if [ -z "${BANGER_TEST_NETNS:-}" ]; then
	repo=$(cd "$(dirname "$0")/../.." && pwd)
	bdir=${BANGER_BUILD:-$repo/build}
	golden=${BANGER_TEST_GOLDEN:-$bdir/golden}
	BANGER_HOME=$golden "$repo/tools/mkgolden" --agent "$bdir/agent/banger-agent" \
		--publish "$golden/publish" --image debian-bookworm --image tiny 2>&1 | sed 's/^/# /'
	if [ "${PIPESTATUS[0]}" != 0 ]; then
		echo "not ok 1 - tools/mkgolden failed (output above)"
		echo "1..1"
		exit 1
	fi
fi
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
GOLDEN=${BANGER_TEST_GOLDEN:-$BUILD/golden}
export BANGER_BOOT_TIMEOUT=${BANGER_BOOT_TIMEOUT:-300}
MISE_VERSION=$(sed -n 's/^MISE_VERSION=//p' "$REPO/tools/mkgolden")

banger_setup real
stop_daemon
# the golden image from the published catalog; the guests' subnet spelled
# out: its gateway, .1, is this namespace's side of the bridge
sed -i -e "1i catalog = \"file://$GOLDEN/publish/catalog.json\"" -e '1i subnet = "172.16.0.0/24"' \
	"$T/home/config/config.toml"
start_daemon
export BANGER_MOUNT=$MNT BANGER_HOME=$T/home BANGERD
BANGER=$REPO/tools/banger

check "the golden image records mise in its inputs" \
	grep -qx "mise $MISE_VERSION sha512-.*" "$GOLDEN/state/images/debian-bookworm/.inputs"

# ---- the tool server: a tarball with bin/hello, on every address of this
# namespace (the guests reach it as 172.16.0.1); requests logged
mkdir -p "$T/www/pkg/bin"
# shellcheck disable=SC2016 # expanded by the tool
printf '#!/bin/sh\necho "hello from the test server: $*"\n' >"$T/www/pkg/bin/hello"
chmod 0755 "$T/www/pkg/bin/hello"
tar -C "$T/www/pkg" -czf "$T/www/hello-1.0.0.tar.gz" bin
python3 - "$T/www" "$T/requests.log" "$T/port" <<'EOF' 2>"$T/server.err" &
import functools, http.server, sys
root, log, portfile = sys.argv[1:4]
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *a):
        with open(log, "a") as f: f.write(f"{self.command} {self.path} {a[1] if len(a) > 1 else ''}\n")
srv = http.server.ThreadingHTTPServer(("0.0.0.0", 0), functools.partial(H, directory=root))
open(portfile + ".new", "w").write(str(srv.server_port))
import os; os.rename(portfile + ".new", portfile)
srv.serve_forever()
EOF
SERVER_PID=$!
check "the tool server is up" wait_for 60 test -s "$T/port"
URL=http://172.16.0.1:$(cat "$T/port")

# workspace NAME TOML: a git repository with .mise.toml = TOML
workspace() {
	mkdir -p "$T/$1"
	git -C "$T/$1" init -q -b main
	printf '%s\n' "$2" >"$T/$1/.mise.toml"
	git -C "$T/$1" add -A
	git -C "$T/$1" -c user.name=t -c user.email=t@example.org commit -qm one
}

# ---- 1. the tool is installed and on the command's PATH
workspace proj "[tools]
\"http:hello\" = { version = \"1.0.0\", url = \"$URL/hello-1.0.0.tar.gz\" }"
"$BANGER" run --name m --image debian-bookworm --memory 1024 --disk 4G "$T/proj" -- hello world \
	>"$T/out" 2>"$T/err" </dev/null
RC=$?
[ "$RC" = 0 ] || sed 's/^/# stderr: /' "$T/err"
expect_eq "run PATH -- hello: exit 0" 0 "$RC"
expect_eq "the command found the tool mise installed" "hello from the test server: world" "$(cat "$T/out")"
check "run says mise installed the tools" grep -q "^banger: mise: tools installed (log: /root/.cache/banger/vm-run-tooling-proj.log in the guest)" "$T/err"
check "the guest fetched the tarball from the test's server" grep -q "^GET /hello-1.0.0.tar.gz 200" "$T/requests.log"
ms() { "$BANGER" ssh m -- "$@" 2>>"$T/ssh.err" </dev/null; }
expect_eq "mise in the guest is the pinned version" "$MISE_VERSION" "$(ms mise --version | cut -d' ' -f1)"
expect_eq "it is /usr/local/bin/mise" /usr/local/bin/mise "$(ms sh -c 'command -v mise')"
log=$(ms cat /root/.cache/banger/vm-run-tooling-proj.log)
check "the log is in the guest" test -n "$log"
check "it holds mise's own output for the tool" grep -q "http:hello@1.0.0" <<<"$log"
check "and says the install was done" grep -q "^banger: mise install done" <<<"$log"
expect_eq "a login shell in the workspace has the tool too (/etc/profile.d/banger-mise.sh)" \
	"hello from the test server: login" "$(ms bash -lc 'cd /root/proj && hello login')"
check "rm m" "$BANGER" rm m

# ---- 2. a tool that cannot be fetched: said, and the command's own status
workspace broken "[tools]
\"http:hello\" = { version = \"1.0.0\", url = \"$URL/hello-1.0.0.tar.gz\" }
\"http:gone\" = { version = \"2.0.0\", url = \"$URL/no-such-tool-2.0.0.tar.gz\" }"
"$BANGER" run --rm --name b --image debian-bookworm --memory 1024 --disk 4G "$T/broken" -- \
	sh -c 'hello two; exit 7' >"$T/out" 2>"$T/err" </dev/null
RC=$?
sed 's/^/# stderr: /' "$T/err"
expect_eq "the command's own exit status (7) comes back" 7 "$RC"
expect_eq "the tool that could be installed is there" "hello from the test server: two" "$(cat "$T/out")"
check "run says the install failed, and where the log is" \
	grep -q "^banger: mise: install failed, going on without those tools (log: /root/.cache/banger/vm-run-tooling-broken.log in the guest)" "$T/err"
check "followed by the log's last lines (mise's reason)" grep -q "^    .*gone" "$T/err"
check "the guest asked for the missing tarball" grep -q "^GET /no-such-tool-2.0.0.tar.gz 404" "$T/requests.log"
check "--rm deleted b" test ! -e "$MNT/vms/b"

kill "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
finish
