#!/bin/bash
# banger cp with a real tiny guest: files both ways keep their bytes and
# modes (to a directory, to a new name, over a file), a directory with -r
# (nested, a symlink kept as a symlink, an empty directory) there and back,
# a 20 MiB file, names with spaces and quotes; and the refusals, each
# changing nothing on either side: '..' in a path, a missing source, a
# directory without -r, a missing target directory. One boot.
. "$(dirname "$0")/../lib.sh"
banger_setup real
export BANGER_MOUNT=$MNT BANGER_HOME=$T/home BANGERD
BANGER=$REPO/tools/banger

# bx CMD...: runs banger (no terminal); OUT, ERR and RC hold what it did
bx() {
	"$BANGER" "$@" >"$T/out" 2>"$T/err" </dev/null
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
	[ "$RC" = 0 ] || sed 's/^/# stderr: /' "$T/err"
}
g() { "$BANGER" ssh c -- "$@" 2>>"$T/ssh.err" </dev/null; }
# gsum PATH / hsum PATH: "MODE SHA256" of a file in the guest / here
gsum() { g sh -c 'printf "%s %s\n" "$(stat -c %a "$1")" "$(sha256sum <"$1" | cut -d" " -f1)"' sh "$1"; }
hsum() { printf '%s %s\n' "$(stat -c %a "$1")" "$(sha256sum <"$1" | cut -d' ' -f1)"; }
# tree DIR: every entry below DIR with its type, mode, and content or target
tree() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | while IFS= read -r p; do
		if [ -L "$p" ]; then
			printf '%s link %s\n' "$p" "$(readlink "$p")"
		elif [ -d "$p" ]; then
			printf '%s dir %s\n' "$p" "$(stat -c %a "$p")"
		else
			printf '%s file %s %s\n' "$p" "$(stat -c %a "$p")" "$(sha256sum <"$p" | cut -d' ' -f1)"
		fi
	done)
}
gtree() { g sh -c 'cd "$1" && find . | LC_ALL=C sort | while IFS= read -r p; do
	if [ -L "$p" ]; then echo "$p link $(readlink "$p")"; else echo "$p $(stat -c %a "$p")"; fi; done' sh "$1"; }

# ---- the files
H=$T/host
mkdir -p "$H/out" "$H/tree/sub/deeper" "$H/tree/empty"
printf 'seven fifty\n' >"$H/f750"
chmod 0750 "$H/f750"
printf 'six oh four\n' >"$H/odd name 'q' & \$x.txt"
chmod 0604 "$H/odd name 'q' & \$x.txt"
printf 'nested\n' >"$H/tree/sub/deeper/n.txt"
chmod 0640 "$H/tree/sub/deeper/n.txt"
printf 'run me\n' >"$H/tree/sub/tool"
chmod 0755 "$H/tree/sub/tool"
printf 'with a space\n' >"$H/tree/a b.txt"
ln -s sub/deeper/n.txt "$H/tree/link"
chmod 0711 "$H/tree/sub"
touch -d '2021-02-03 04:05:06' "$H/f750"
head -c $((20 << 20)) /dev/urandom >"$H/big"
echo "a file named like a guest directory" >"$H/deeper"

check "mkdir c" mkdir "$MNT/vms/c"
bx start c
check "start c" test "$RC" = 0
g mkdir -p /root/in "/root/sp ace"
guest_ls() { g sh -c 'ls -laR /root | grep -v "^total"'; }

# ---- a file into the VM: into a directory, to a new name, over a file
bx cp "$H/f750" c:/root/in/
check "cp FILE NAME:DIR/ exits 0, prints nothing" test "$RC" = 0 -a -z "$OUT$ERR"
expect_eq "its bytes and mode 0750 arrived" "$(hsum "$H/f750")" "$(gsum /root/in/f750)"
expect_eq "and its mtime" "$(stat -c %Y "$H/f750")" "$(g stat -c %Y /root/in/f750)"
expect_eq "it belongs to root in the guest" "0 0" "$(g stat -c '%u %g' /root/in/f750)"
bx cp "$H/odd name 'q' & \$x.txt" "c:/root/sp ace"
check "a name with spaces, quotes, & and \$ into a directory with a space (no /)" test "$RC" = 0
expect_eq "bytes and mode 0604" "$(hsum "$H/odd name 'q' & \$x.txt")" "$(gsum "/root/sp ace/odd name 'q' & \$x.txt")"
bx cp "$H/f750" "c:/root/in/new name"
expect_eq "cp FILE NAME:NEWNAME writes NEWNAME" "$(hsum "$H/f750")" "$(gsum "/root/in/new name")"
bx cp "$H/odd name 'q' & \$x.txt" "c:in/new name"
expect_eq "over an existing file (relative to /root): replaced, with the source's mode" \
	"$(hsum "$H/odd name 'q' & \$x.txt")" "$(gsum "/root/in/new name")"
check "no temporary files are left next to it" sh -c "! '$BANGER' ssh c -- ls -a /root/in | grep -q banger-cp"

# ---- out of the VM
bx cp c:/root/in/f750 "$H/out/"
expect_eq "cp NAME:FILE DIR/: bytes and mode 0750" "$(hsum "$H/f750")" "$(hsum "$H/out/f750")"
expect_eq "and its mtime" "$(stat -c %Y "$H/f750")" "$(stat -c %Y "$H/out/f750")"
g sh -c 'printf "made in the guest\n" >/root/g604 && chmod 0604 /root/g604'
bx cp c:g604 "$H/out/from guest"
expect_eq "cp NAME:FILE NEWNAME (relative to /root): bytes and mode 0604" "$(gsum /root/g604)" "$(hsum "$H/out/from guest")"
bx cp "c:/root/sp ace/odd name 'q' & \$x.txt" "$H/out"
expect_eq "the odd name comes back as it was" "$(hsum "$H/odd name 'q' & \$x.txt")" "$(hsum "$H/out/odd name 'q' & \$x.txt")"

# ---- a directory with -r, there and back
bx cp -r "$H/tree" c:/root/in/
check "cp -r DIR NAME:DIR/ exits 0" test "$RC" = 0
expect_eq "in the guest: nested files and modes, the symlink as a symlink, the empty dir" \
	". 755|./a b.txt 644|./empty 755|./link link sub/deeper/n.txt|./sub 711|./sub/deeper 755|./sub/deeper/n.txt 640|./sub/tool 755" \
	"$(gtree /root/in/tree | tr '\n' '|' | sed 's/|$//')"
bx cp -r c:/root/in/tree "$H/out/back"
check "cp -r NAME:DIR NEWNAME exits 0" test "$RC" = 0
expect_eq "back here: the same tree (types, modes, bytes, link target)" "$(tree "$H/tree")" "$(tree "$H/out/back")"
check "the symlink came back as a symlink" test -L "$H/out/back/link"
bx cp -r c:/root/in/tree "$H/out/back"
expect_eq "into an existing directory: DIR/NAME" "$(tree "$H/tree")" "$(tree "$H/out/back/tree")"

# ---- 20 MiB both ways
bx cp "$H/big" c:/root/big
check "20 MiB in: exit 0, no progress output when stderr is no terminal" test "$RC" = 0 -a -z "$ERR"
expect_eq "its bytes arrived" "$(hsum "$H/big")" "$(gsum /root/big)"
bx cp c:/root/big "$H/out/big"
expect_eq "20 MiB out: the same bytes" "$(hsum "$H/big")" "$(hsum "$H/out/big")"
# on a terminal: the copy still works and the output ends with a newline
script -qec "'$BANGER' cp c:/root/big '$H/out/big-tty'" /dev/null >"$T/tty.out" 2>&1 </dev/null
expect_eq "20 MiB out on a terminal: the same bytes" "$(hsum "$H/big")" "$(hsum "$H/out/big-tty")"
check "on a terminal only dd's byte counts are shown, if anything" \
	sh -c "! tr '\r' '\n' <'$T/tty.out' | grep -v '^\$' | grep -v 'bytes .* copied' | grep -q ."

# ---- refusals change nothing
guest_before=$(guest_ls)
host_before=$(tree "$H")
# refused: exit RC, a reason matching RE on one line, nothing changed
refused() { # DESC RC RE ARGS...
	local desc=$1 want=$2 re=$3
	shift 3
	bx "$@"
	expect_eq "$desc: exit $want" "$want" "$RC"
	check "$desc: one line with the reason" sh -c "test \$(wc -l <'$T/err') = 1 && grep -Eq '$re' '$T/err'"
}
refused "'..' in the guest path" 2 "'\\.\\.' is not allowed" cp "$H/f750" c:/root/in/../f
refused "'..' in a relative guest path" 2 "'\\.\\.' is not allowed" cp "$H/f750" c:../tmp/
refused "'..' in the local source" 2 "'\\.\\.' is not allowed" cp "$H/out/../f750" c:/root/
refused "'..' in the local target" 2 "'\\.\\.' is not allowed" cp c:/root/in/f750 "$H/out/../x"
refused "a missing local source" 1 "no such file or directory" cp "$H/nope" c:/root/in/
refused "a missing guest source" 1 "c:/root/nope: no such file or directory" cp c:/root/nope "$H/out/"
refused "a local directory without -r" 1 "is a directory \\(use -r\\)" cp "$H/tree" c:/root/in/
refused "a guest directory without -r" 1 "is a directory \\(use -r\\)" cp c:/root/in "$H/out/"
refused "a missing guest target directory" 1 "c:/root/nodir: no such directory" cp "$H/f750" c:/root/nodir/x
refused "a missing local target directory" 1 "nodir: no such directory" cp c:/root/in/f750 "$H/nodir/x"
refused "a guest file used as a directory (DEST/)" 1 "c:/root/in/tree/sub/deeper/n.txt is not a directory" cp "$H/f750" c:/root/in/tree/sub/deeper/n.txt/
refused "a file onto a directory of its name" 1 "c:/root/in/tree/sub/deeper is a directory" cp "$H/deeper" c:/root/in/tree/sub/
refused "a directory onto a file of its name" 1 "exists and is not a directory" cp -r "$H/tree/sub/deeper" c:/root/in/tree/sub/deeper/n.txt
refused "a VM that does not exist" 1 "no such VM: nope" cp "$H/f750" nope:/root/
expect_eq "the guest's /root is unchanged" "$guest_before" "$(guest_ls)"
expect_eq "the host's files are unchanged" "$host_before" "$(tree "$H")"

bx stop c
refused "a stopped VM" 1 "c is not running" cp "$H/f750" c:/root/
bx rm c
finish
