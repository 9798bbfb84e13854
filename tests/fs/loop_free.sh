#!/bin/bash
# The loop never blocks (issue 11.2): while slow operations are held
# (a mkdir images/NAME whose catalog server stalls; a mkdir vms/NAME whose
# file_sync copies 300 MiB), other requests of the mount are answered: a
# VM's files are read, vms/ is listed, another VM boots and stops, a
# disk_size write (qemu-img resize on a worker) completes. Each is asserted
# to complete while the slow operation is still pending (its process has
# not returned, and the server or copy holding it has not been released):
# an ordering, not a timing. Ctrl-C of a held mkdir vms/NAME leaves nothing.
#
# The holds: the catalog server answers /hold/ only once $T/www/release
# exists, and a `cp` first in bangerd's PATH runs the real copy of the
# file_sync directory, then waits for $T/cp.release. The kernel holds
# vms/ locked while a mkdir in it runs, so vms/ is listed while the
# catalog holds images/, not while the file_sync create runs.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

SERVER_PID=""
banger_setup real
# shellcheck disable=SC2317 # run by the EXIT trap
on_exit() {
	: >"$T/cp.release" 2>/dev/null # a held create may end now
	: >"$T/www/release" 2>/dev/null
	[ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null
	cleanup
}
trap on_exit EXIT
STATE=$T/home/state
alive() { ! proc_gone "$1"; }
# interruptible_mkdir PATH OUT: a mkdir that Ctrl-C (SIGINT) can end; OUT
# gets OK, interrupted, or the error. Run it with & : $! is then python's
# pid (exec), and python undoes the SIG_IGN background jobs start with.
interruptible_mkdir() {
	exec python3 - "$1" >"$2" 2>&1 <<'EOF'
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
try:
    os.mkdir(sys.argv[1])
    print("OK")
except KeyboardInterrupt:
    print("interrupted")
except OSError as e:
    print(os.strerror(e.errno))
EOF
}

# ---- two VMs made before the slow settings: one to boot, one to resize
check "mkdir other" mkdir "$MNT/vms/other"
check "mkdir sized" mkdir "$MNT/vms/sized"
stop_daemon

# ---- a catalog served from loopback that stalls until released
mkdir -p "$T/www" "$T/src/images/remote" "$T/src/kernels/remote" "$T/bin" "$T/big"
head -c $((1 << 20)) /dev/urandom >"$T/src/images/remote/rootfs.ext4"
echo "fake bzImage" >"$T/src/kernels/remote/vmlinuz"
echo "fake initrd" >"$T/src/kernels/remote/initrd.img"
"$REPO/tools/mkbundle" --level 1 --image remote --kernel remote --from "$T/src" "$T/www/remote.tar.zst" >/dev/null
python3 "$REPO/tests/bundle_server.py" "$T/www" "$T/requests.log" "$T/port" 2>"$T/server.err" &
SERVER_PID=$!
wait_for 10 test -s "$T/port"
URL=http://127.0.0.1:$(cat "$T/port")
printf '{"format": 1, "images": [{"name": "remote", "url": "%s", "sha256": "%s", "size": %s}]}\n' \
	"$URL/plain/remote.tar.zst" "$(sha256sum <"$T/www/remote.tar.zst" | cut -d' ' -f1)" \
	"$(stat -c %s "$T/www/remote.tar.zst")" >"$T/www/catalog.json"

# ---- a file_sync of 300 MiB, with a cp that holds after copying
for i in 1 2 3; do head -c $((100 << 20)) /dev/zero >"$T/big/part$i"; done
REAL_CP=$(command -v cp)
cat >"$T/bin/cp" <<EOF
#!/bin/sh
# the test's cp: file_sync copies of $T/big are logged and held
case "\$*" in *"$T/big"*) ;; *) exec "$REAL_CP" "\$@" ;; esac
for dest; do :; done
echo "started \$dest" >>"$T/cp.log"
"$REAL_CP" "\$@"
rc=\$?
echo "copied \$dest" >>"$T/cp.log"
while [ ! -e "$T/cp.release" ]; do sleep 0.1; done
exit \$rc
EOF
chmod +x "$T/bin/cp"
cat >>"$T/home/config/config.toml" <<EOF

[[file_sync]]
host = "$T/big"
guest = "~/big"
EOF
{ printf 'catalog = "%s/hold/catalog.json"\n' "$URL"; cat "$T/home/config/config.toml"; } >"$T/config.new"
mv "$T/config.new" "$T/home/config/config.toml"
# the catalog fetch must outlast the hold: the test releases it
PATH=$T/bin:$PATH BANGER_CATALOG_TIMEOUT=600 start_daemon
expect_eq "other reads stopped" stopped "$(cat "$MNT/vms/other/state")"
expect_eq "sized has 1G" 1G "$(cat "$MNT/vms/sized/disk_size")"

# ---- 1. mkdir images/remote, held by the catalog server
$FSOP mkdir "$MNT/images/remote" >"$T/mk.remote" 2>&1 &
MK_REMOTE=$!
check "the catalog fetch reached the server and is held" wait_for 60 grep -q "^held /hold/catalog.json" "$T/requests.log"
expect_eq "cat vms/other/state" stopped "$(cat "$MNT/vms/other/state")"
expect_eq "ls vms" "other sized" "$(ls "$MNT/vms" | tr '\n' ' ' | sed 's/ $//')"
expect_errno "start other (a real boot) completes" OK write "$MNT/vms/other/state" start
expect_eq "other is running" running "$(cat "$MNT/vms/other/state")"
check "meanwhile mkdir images/remote is still pending" alive "$MK_REMOTE"
check "and the server has not released it" sh -c "! grep -q '^released' '$T/requests.log'"

# ---- 2. and mkdir vms/big, held in its file_sync copy
$FSOP mkdir "$MNT/vms/big" >"$T/mk.big" 2>&1 &
MK_BIG=$!
check "the file_sync copy of big started" wait_for 60 grep -q "^started .*/\.new-big\." "$T/cp.log"
expect_eq "cat vms/other/state" running "$(cat "$MNT/vms/other/state")"
expect_eq "ls vms/other" "$(printf '%s\n' console created disk_size error image ip kernel known_hosts logs mac memory_mib pid ports sessions spec ssh_config state uptime vcpu | sort | tr '\n' ' ')" \
	"$(ls "$MNT/vms/other" | sort | tr '\n' ' ')"
check "other's known_hosts holds its pins" grep -q "^other.vm " "$MNT/vms/other/known_hosts"
expect_errno "disk_size 2G (qemu-img resize on a worker) completes" OK write "$MNT/vms/sized/disk_size" 2G
expect_eq "sized has 2G" 2G "$(cat "$MNT/vms/sized/disk_size")"
expect_errno "stop other completes" OK write "$MNT/vms/other/state" stop
expect_eq "other is stopped" stopped "$(cat "$MNT/vms/other/state")"
check "meanwhile mkdir vms/big is still pending" alive "$MK_BIG"
check "its copy has not been released" test ! -e "$T/cp.release"
check "and mkdir images/remote is still pending" alive "$MK_REMOTE"
# (no lookup in vms/ here: the kernel holds vms/ locked during the mkdir)
expect_eq "big has no record yet, only its directory being built" ".new-big.N 1 2" \
	"$(ls -A "$STATE/vms" | sed 's/^\.new-big\.[0-9]*$/.new-big.N/' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
check "no event for big yet" sh -c "! timeout 1 cat '$MNT/events' | grep -q ' big created'"

# ---- the slow operations end as they would have
: >"$T/cp.release"
wait "$MK_BIG"
expect_eq "mkdir vms/big succeeds once released" OK "$(cat "$T/mk.big")"
expect_eq "ls vms" "big other sized" "$(ls "$MNT/vms" | tr '\n' ' ' | sed 's/ $//')"
check "big has its work disk" sh -c "ls '$STATE'/vms/*/work.img >/dev/null"
: >"$T/www/release"
wait "$MK_REMOTE"
expect_eq "mkdir images/remote succeeds once the catalog comes" OK "$(cat "$T/mk.remote")"
expect_eq "and the pull completes" ready "$(timeout 60 cat "$MNT/images/remote/wait")"

# ---- Ctrl-C of a held mkdir leaves nothing
rm -f "$T/cp.release"
interruptible_mkdir "$MNT/vms/ctrlc" "$T/mk.ctrlc" &
MK_CTRLC=$!
check "the create of ctrlc is held in its copy" wait_for 60 grep -q "^copied .*/\.new-ctrlc\." "$T/cp.log"
kill -INT "$MK_CTRLC"
wait "$MK_CTRLC"
expect_eq "Ctrl-C ends the mkdir" interrupted "$(cat "$T/mk.ctrlc")"
check "no vms/ctrlc" test ! -e "$MNT/vms/ctrlc"
expect_eq "ls vms" "big other sized" "$(ls "$MNT/vms" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "no directory, disk or work disk left in state/vms" "3" "$(ls -A "$STATE/vms" | wc -l)"
check "no event for it" sh -c "! timeout 1 cat '$MNT/events' | grep -q ' ctrlc '"
: >"$T/cp.release"
expect_errno "the name is free again" OK mkdir "$MNT/vms/ctrlc"

# ---- and of a mkdir vms/NAME that waits for the catalog's first fetch
# (a new daemon with no copy of it; the default image is not installed)
stop_daemon
rm -rf "$T/www/release" "$T/home/cache/catalogs"
sed -i 's/^default_image_name = .*/default_image_name = "elsewhere"/' "$T/home/config/config.toml"
PATH=$T/bin:$PATH BANGER_CATALOG_TIMEOUT=600 start_daemon
before=$(ls -A "$STATE/vms" | LC_ALL=C sort | tr '\n' ' ')
interruptible_mkdir "$MNT/vms/waits" "$T/mk.waits" &
MK_WAITS=$!
check "the create waits for the catalog" wait_for 60 sh -c "test \$(grep -c '^held /hold/catalog.json' '$T/requests.log') = 2"
kill -INT "$MK_WAITS"
wait "$MK_WAITS"
expect_eq "Ctrl-C ends it" interrupted "$(cat "$T/mk.waits")"
expect_eq "nothing left in state/vms" "$before" "$(ls -A "$STATE/vms" | LC_ALL=C sort | tr '\n' ' ')"
check "no vms/waits" test ! -e "$MNT/vms/waits"
: >"$T/www/release"
expect_errno "once the catalog comes, an image it does not list is ENOENT" ENOENT mkdir "$MNT/vms/waits"
check "the reason names the image" grep -q "mkdir vms/waits: image 'elsewhere' is not installed and no catalog lists it" "$STATE/bangerd.log"
check "the daemon is alive" kill -0 "$DAEMON_PID"
finish
