#!/bin/bash
# A local user (docs/security.md): the mount is the daemon user's alone (no
# allow_other, another uid can neither list nor read it); the state
# directory is this user's and 0700, known_hosts and the managed private
# key 0600, and no file of the tree shows the key; a symlink planted where
# banger creates a file (bangerd.lock, bangerd.log, ssh/config.tmp, the
# key's .pub) never makes banger write through it: the daemon refuses to
# start, or replaces the link, and the file it pointed at is untouched.
. "$(dirname "$0")/../lib.sh"

# a fake hypervisor whose agent says hello with a host key
# (tests/fs/fake-qemu), user-mode networking: the key is pinned, then the
# ssh check waits for an sshd that never answers; the test kills the VM
export BANGER_NETWORK=user BANGER_BOOT_TIMEOUT=120
banger_setup fake || exit 1
stop_daemon
mkdir -p "$T/bin" "$T/fake"
ln -s "$REPO/tests/fs/fake-qemu" "$T/bin/qemu-system-x86_64"
export PATH=$T/bin:$PATH FAKE_QEMU_DIR=$T/fake
ST=$T/home/state
KEY=$T/home/config/ssh/id_ed25519
start_daemon || exit 1

mode() { stat -c %a "$1" 2>/dev/null; }
# as_nobody CMD...: CMD as uid/gid 65534 with no supplementary groups
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
# daemon_refuses DESC TEXT: a bangerd started now exits non-zero, saying TEXT, mounting nothing
daemon_refuses() {
	local out rc
	out=$(BANGER_HOME=$T/home timeout 60 "$BANGERD" -f --mount "$MNT" 2>&1)
	rc=$?
	check "$1: bangerd exits non-zero (rc $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
	check "$1: it says '$2'" grep -qF "$2" <<<"$out"
	check "$1: nothing mounted" sh -c "! grep -q ' $MNT fuse' /proc/mounts"
}
VICTIM=$T/victim
victim() { printf 'precious\n' >"$VICTIM"; }
victim_untouched() { [ "$(cat "$VICTIM" 2>/dev/null)" = precious ]; }

# ---- 1. the mount's options: the daemon user's alone
opts=$(awk -v m="$MNT" '$2 == m { print $4 }' /proc/mounts)
log "mount options: $opts"
check "the mount is in /proc/mounts" test -n "$opts"
has_opt() { tr , '\n' <<<"$opts" | grep -qx "$1"; }
lacks_opt() { ! has_opt "$1"; }
check "no allow_other" lacks_opt allow_other
check "no allow_root" lacks_opt allow_root
check "default_permissions (the kernel checks the modes)" has_opt default_permissions
check "nosuid" has_opt nosuid
check "nodev" has_opt nodev
check "user_id is the daemon's uid" has_opt "user_id=$(id -u)"
# there is no way to ask for allow_other: bangerd passes no mount options on
out=$("$BANGERD" -f --mount "$MNT" -o allow_other 2>&1)
rc=$?
check "bangerd -o allow_other is a usage error (rc $rc)" test "$rc" -eq 2
check "and says how to use it" grep -q '^usage: bangerd' <<<"$out"
check "bangerd --help offers no mount options" sh -c "! '$BANGERD' --help | grep -qE 'allow_other| -o'"

# ---- 2. modes of what banger keeps
check "mkdir vms/p" mkdir "$MNT/vms/p"
printf 'line hello proto=2 agent=0.2.0-fake uptime_ms=1 kernel=fake hostkey=ssh-ed25519:%s\nline ack verb=authorize\n' \
	"$(ssh-keygen -q -t ed25519 -N '' -C '' -f "$T/hostkey" && awk '{ print $2 }' "$T/hostkey.pub")" >"$T/fake/p"
$FSOP write "$MNT/vms/p/state" start >"$T/p.start" 2>&1 &
STARTER=$!
check "p.vm is pinned from the agent's hello" wait_for 60 grep -q '^p\.vm ssh-ed25519 ' "$ST/ssh/known_hosts"
kill -INT "$STARTER" 2>/dev/null # Ctrl-C on the parked start
wait "$STARTER" 2>/dev/null
expect_errno "kill p" OK write "$MNT/vms/p/state" kill
expect_eq "the state directory is 0700 (lib.sh made it 0755)" 700 "$(mode "$ST")"
expect_eq "state/ssh is 0700" 700 "$(mode "$ST/ssh")"
expect_eq "the cache directory is 0700" 700 "$(mode "$T/home/cache")"
expect_eq "known_hosts is 0600" 600 "$(mode "$ST/ssh/known_hosts")"
expect_eq "known_hosts.lock is 0600" 600 "$(mode "$ST/ssh/known_hosts.lock")"
expect_eq "ssh/config is 0600" 600 "$(mode "$ST/ssh/config")"
expect_eq "bangerd.log is 0600" 600 "$(mode "$ST/bangerd.log")"
expect_eq "the managed private key is 0600" 600 "$(mode "$KEY")"
expect_eq "in a 0700 directory" 700 "$(mode "$(dirname "$KEY")")"
expect_eq "p's directory is 0700" 700 "$(mode "$ST/vms/1")"

# ---- 3. the private key is never readable through the tree: every file
# (streams read without waiting) holds none of its lines
python3 - "$MNT" "$KEY" >"$T/keyscan" 2>&1 <<'EOF'
import os, sys
mnt, key = sys.argv[1], sys.argv[2]
body = [l.strip().encode() for l in open(key) if l.strip() and not l.startswith("-----")]
assert body, "no key body"
files = 0
for root, dirs, names in os.walk(mnt):
    for n in names:
        p = os.path.join(root, n)
        try:
            fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as e:
            print(f"cannot open {p}: {e}")
            continue
        data = b""
        try:
            while len(data) < (64 << 20):
                b = os.read(fd, 65536)
                if not b:
                    break
                data += b
        except BlockingIOError:
            pass
        finally:
            os.close(fd)
        files += 1
        for line in body:
            if line in data or b"PRIVATE KEY" in data:
                print(f"LEAK {p}")
                break
print(f"read {files} files")
EOF
rc=$?
sed 's/^/# /' "$T/keyscan"
check "the scan of the tree ran (rc $rc)" test "$rc" -eq 0
check "it read the files of the tree" grep -Eq '^read [1-9][0-9]+ files$' "$T/keyscan"
check "no file of the tree holds the private key" sh -c "! grep -q '^LEAK' '$T/keyscan'"
check "the tree shows the key's path only (config)" grep -qF "$KEY" "$MNT/config"

# ---- 4. another uid can neither list nor read the mount. $T is made
# passable for the check (a control file shows that it is), so what stops
# uid 65534 is the mount itself.
chmod 0711 "$T"
echo readable >"$T/control"
chmod 0644 "$T/control"
check "control: uid 65534 reads a 0644 file beside the mount" as_nobody grep -q readable "$T/control"
check "uid 65534 cannot list the mount" sh -c "! setpriv --reuid=65534 --regid=65534 --clear-groups ls '$MNT' >/dev/null 2>&1"
check "uid 65534 cannot stat the mount's files" sh -c "! setpriv --reuid=65534 --regid=65534 --clear-groups stat '$MNT/README' >/dev/null 2>&1"
check "uid 65534 cannot read README (0444 in the tree)" sh -c "! setpriv --reuid=65534 --regid=65534 --clear-groups cat '$MNT/README' >/dev/null 2>&1"
check "uid 65534 cannot read a VM's known_hosts" sh -c "! setpriv --reuid=65534 --regid=65534 --clear-groups cat '$MNT/vms/p/known_hosts' >/dev/null 2>&1"
check "uid 65534 cannot create a VM" sh -c "! setpriv --reuid=65534 --regid=65534 --clear-groups mkdir '$MNT/vms/q' 2>/dev/null"
check "uid 65534 cannot list the state directory" sh -c "! setpriv --reuid=65534 --regid=65534 --clear-groups ls '$ST' >/dev/null 2>&1"
check "no VM q" test ! -e "$MNT/vms/q"
chmod 0700 "$T"

# ---- 5. a state directory of another user's is refused (its owner could
# plant anything in it)
stop_daemon
chown 65534 "$ST"
daemon_refuses "a state directory owned by uid 65534" "$ST belongs to uid 65534, not to this user"
chown "$(id -u)" "$ST"

# ---- 6. planted symlinks: banger never writes through them
# bangerd.lock: opened, truncated and given the pid at every start
victim
rm "$ST/bangerd.lock"
ln -s "$VICTIM" "$ST/bangerd.lock"
daemon_refuses "a symlink at bangerd.lock" "$ST/bangerd.lock"
check "bangerd.lock: the file it points at is untouched" victim_untouched
rm -f "$ST/bangerd.lock"
# bangerd.log: appended to by every log line
victim
mv "$ST/bangerd.log" "$T/log.saved"
ln -s "$VICTIM" "$ST/bangerd.log"
daemon_refuses "a symlink at bangerd.log" "$ST/bangerd.log"
check "bangerd.log: the file it points at is untouched" victim_untouched
rm -f "$ST/bangerd.log"
mv "$T/log.saved" "$ST/bangerd.log"
# ssh/config.tmp: written and renamed over ssh/config at every start
victim
ln -s "$VICTIM" "$ST/ssh/config.tmp"
check "with a symlink at ssh/config.tmp, bangerd starts" start_daemon
check "ssh/config.tmp: the file it points at is untouched" victim_untouched
check "ssh/config is a regular file, not the link" sh -c "test -f '$ST/ssh/config' && test ! -L '$ST/ssh/config'"
check "it holds what bangerd wrote" grep -q '^# Written by bangerd' "$ST/ssh/config"
check "no link is left at ssh/config.tmp" test ! -L "$ST/ssh/config.tmp"
stop_daemon
# the key pair, made at the first start when absent: its .pub
victim
rm -f "$KEY" "$KEY.pub"
ln -s "$VICTIM" "$KEY.pub"
check "with a symlink at id_ed25519.pub, bangerd starts and makes a key" start_daemon
check "id_ed25519.pub: the file it points at is untouched" victim_untouched
check "a new private key, 0600" sh -c "test -f '$KEY' && test ! -L '$KEY' && test \"\$(stat -c %a '$KEY')\" = 600"
check "id_ed25519.pub is a regular file now" sh -c "test -f '$KEY.pub' && test ! -L '$KEY.pub'"
check "holding the new public key" grep -q "^ssh-ed25519 $(ssh-keygen -y -f "$KEY" | awk '{ print $2 }') banger$" "$KEY.pub"

finish
