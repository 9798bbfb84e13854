#!/bin/bash
# meson install (into a scratch DESTDIR): every file where docs say, the
# installed bangerd finds its helper in lib/banger/, and the uninstall path
# stops the daemon and prints the user-data paths, deleting nothing.
. "$(dirname "$0")/../lib.sh"
T=$(mktemp -d /tmp/banger-test.XXXXXX)
MNT=$T/mnt
trap cleanup EXIT
DEST=$T/dest
PREFIX=$(meson introspect --buildoptions "$BUILD" | python3 -c \
	'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')

check "meson install into a DESTDIR" sh -c "meson install -C '$BUILD' --no-rebuild --destdir '$DEST' >'$T/install.log' 2>&1"
P=$DEST$PREFIX
for f in bin/bangerd bin/banger lib/banger/banger-agent lib/banger/banger-ssh lib/banger/banger-pull \
	lib/banger/banger-oci lib/banger/mkimage lib/banger/uninstall lib/banger/guest/rootfs-init \
	lib/banger/guest/kit-init share/doc/banger/oci-import.md share/bash-completion/completions/banger \
	share/zsh/vendor-completions/_banger share/fish/vendor_completions.d/banger.fish \
	share/doc/banger/README.md share/doc/banger/filesystem.md share/doc/banger/config.md; do
	check "installed: $f" test -e "$P/$f"
done
for f in bin/bangerd bin/banger lib/banger/banger-ssh lib/banger/banger-pull lib/banger/banger-oci \
	lib/banger/mkimage lib/banger/uninstall; do
	check "executable: $f" test -x "$P/$f"
done
if ldd "$BANGERD" | grep -q libasan; then
	ok "the agent is static # SKIP a sanitizer build cannot link it statically"
else
	check "the agent is static" sh -c "! ldd '$P/lib/banger/banger-agent' >/dev/null 2>&1"
fi
check "installed mkimage runs (--help)" sh -c "'$P/lib/banger/mkimage' --help | grep -q 'usage: mkimage'"
check "installed banger-oci runs (usage, exit 2)" sh -c "'$P/lib/banger/banger-oci'; [ \$? -eq 2 ]"
check "installed banger runs (--help)" sh -c "'$P/bin/banger' --help >/dev/null"

# the installed daemon, with no build tree around: banger-ssh from lib/banger
mkdir -p "$T/home/state/images/tiny" "$T/home/state/kernels/tiny" "$T/home/config" "$MNT"
echo 'default_image_name = "tiny"' >"$T/home/config/config.toml"
truncate -s 64M "$T/home/state/images/tiny/rootfs.ext4"
echo x >"$T/home/state/kernels/tiny/vmlinuz"
echo x >"$T/home/state/kernels/tiny/initrd.img"
BANGERD=$P/bin/bangerd
start_daemon
check "the installed bangerd made the key pair through lib/banger/banger-ssh" test -s "$T/home/config/ssh/id_ed25519"
check "mkdir works" mkdir "$MNT/vms/inst"
pid=$DAEMON_PID
out=$(BANGER_HOME=$T/home "$P/lib/banger/uninstall" 2>&1)
sed 's/^/# /' <<<"$out"
check "uninstall stopped the daemon" wait_for 60 proc_gone "$pid"
DAEMON_PID=""
check "and unmounted" sh -c "! grep -q ' $MNT fuse' /proc/mounts"
check "it printed the state path" grep -q "$T/home/state" <<<"$out"
check "it printed the config path" grep -q "$T/home/config" <<<"$out"
check "the user data is still there" test -s "$T/home/state/banger.db" -a -s "$T/home/config/ssh/id_ed25519"
finish
