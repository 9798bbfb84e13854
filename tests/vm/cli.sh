#!/bin/bash
# The banger CLI with real guests: the run shapes end to end (workspace with
# a command, --branch/--from, a plain directory, the bare interactive shell
# on a pseudo-terminal), exit statuses, --rm leaving no VM, pin or disk,
# ssh, ls, logs, console, start/stop/rm, and a failed start. Five boots.
. "$(dirname "$0")/../lib.sh"
banger_setup real
export BANGER_MOUNT=$MNT BANGER_HOME=$T/home BANGERD
BANGER=$REPO/tools/banger
KH=$T/home/state/ssh/known_hosts

# bx CMD...: runs banger; OUT, ERR and RC hold what it did
bx() {
	"$BANGER" "$@" >"$T/out" 2>"$T/err" </dev/null
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
	[ "$RC" = 0 ] || sed 's/^/# stderr: /' "$T/err"
}
gitc() { git -C "$W" -c user.name=t -c user.email=t@example.org "$@"; }

# ---- a workspace: tracked files, a deleted tracked file, an untracked
# file, ignored files, and a later commit
W=$T/proj
mkdir -p "$W/src"
git -C "$W" init -q -b main
echo v1 >"$W/README"
echo 'int main(void) { return 0; }' >"$W/src/main.c"
echo gone >"$W/gone.txt"
echo spaced >"$W/with space's.txt"
printf 'ignored.log\nbuild/\n' >"$W/.gitignore"
echo 'node 20' >"$W/.tool-versions"
gitc add -A
gitc commit -qm one
gitc tag v1
echo v2 >"$W/README"
echo later >"$W/later.txt"
gitc add -A
gitc commit -qm two
rm "$W/gone.txt"
echo untracked >"$W/untracked.txt"
echo ignored >"$W/ignored.log"
mkdir "$W/build" && echo obj >"$W/build/out.o"
user_status=$(git -C "$W" status --porcelain)

# ---- 1. workspace + command: exit 42 comes back; the VM stays
list_cmd='pwd; find . -path ./.git -prune -o -type f -print | sort; echo HEAD=$(cat .git/HEAD); test -f .git/config && echo GITDIR=ok; exit 42'
bx run --name ws "$W" -- sh -c "$list_cmd"
expect_eq "run PATH -- CMD: the command's exit status (42)" 42 "$RC"
check "the spec: line comes first" test "$(head -n 1 "$T/err" | cut -c1-11)" = "spec: vcpu "
check "spec: vcpu, memory and disk with provenance" \
	grep -Eq '^spec: vcpu [0-9]+ \(.+\), memory [0-9]+ MiB \(.+\), disk [0-9]+[KMGT]? \(.+\)$' "$T/err"
expect_eq "the command ran in /root/<repo>" /root/proj "$(head -n 1 "$T/out")"
expect_eq "the guest has the tracked and the untracked files, no ignored or deleted ones" \
	"./.gitignore ./.tool-versions ./README ./later.txt ./src/main.c ./untracked.txt ./with space's.txt" \
	"$(sed -n '2,/^HEAD=/p' "$T/out" | grep -v '^HEAD=' | tr '\n' ' ' | sed 's/ $//')"
check "and the .git directory, on the same branch" sh -c "grep -qx 'HEAD=ref: refs/heads/main' '$T/out' && grep -qx GITDIR=ok '$T/out'"
check "the copy is announced" grep -q "copying $W (tracked and untracked files, not ignored ones, and .git) to /root/proj" "$T/err"
check "mise: missing in the guest is no error, and said so" grep -q "mise: not in the guest, skipped" "$T/err"
check "the VM keeps running after the command" grep -qx running "$MNT/vms/ws/state"
expect_eq "the user's repo is unchanged" "$user_status" "$(git -C "$W" status --porcelain)"

# ---- 2. ssh
bx ssh ws -- cat /root/proj/README
expect_eq "banger ssh NAME -- CMD" v2 "$OUT"
bx ssh ws -- sh -c 'exit 1'
expect_eq "banger ssh: exit status 1 comes back" 1 "$RC"
bx ssh ws -- printf '%s|' "a b" "it's" '$HOME' '' '*'
expect_eq "arguments reach the guest exactly (quoted for its shell)" "a b|it's|\$HOME||*|" "$OUT"
bx ssh ws cat /root/.cache/banger/vm-run-tooling-proj.log
check "the mise log in the guest says mise is missing" grep -q "mise is not installed in this guest" "$T/out"
bx exec ws -- pwd
expect_eq "banger exec runs in the workspace run copied in" /root/proj "$OUT"
check "a session made through the tree too" mkdir "$MNT/vms/ws/sessions/where"
expect_eq "  its cwd file is empty (the guest's default)" "" "$(cat "$MNT/vms/ws/sessions/where/cwd")"
check "  it runs pwd" sh -c "echo pwd >'$MNT/vms/ws/sessions/where/cmd'"
expect_eq "  it ends" "exited 0" "$(cat "$MNT/vms/ws/sessions/where/exit")"
expect_eq "  in the workspace" /root/proj "$(cat "$MNT/vms/ws/sessions/where/stdout")"
expect_eq "banger ssh NAME with commands on stdin (no tty)" "ws" \
	"$(echo hostname | "$BANGER" ssh ws 2>/dev/null)"
check "banger's own ssh files hold the pins" grep -q '^ws.vm ' "$KH"

# ---- 3. ls, logs, console
bx ls
check "ls: ws running, with its address and image" grep -Eq '^ws +running +172\.16\.0\.2 +tiny +[0-9]+[smhd]' "$T/out"
bx logs ws
check "logs: the boot" grep -q "running (boot took" "$T/out"
# stdin stays open until the answer is back (banger console ends with stdin)
mkfifo "$T/console.in"
"$BANGER" console ws <"$T/console.in" >"$T/console" 2>&1 &
cpid=$!
exec 8>"$T/console.in"
echo 'echo console-$((6*7))' >&8
check "console: input reaches the serial shell, output comes back" wait_for 60 grep -aq "console-42" "$T/console"
exec 8>&-
wait "$cpid"
expect_eq "console: ends with its stdin, exit 0" 0 "$?"

# ---- 4. stop, start, rm
bx stop ws
check "stop: exit 0, stopped" test "$RC" = 0 -a "$(cat "$MNT/vms/ws/state")" = stopped
bx ls
check "ls: ws stopped, no uptime" grep -Eq '^ws +stopped +172\.16\.0\.2 +tiny +-$' "$T/out"
bx ssh ws -- true
expect_eq "ssh to a stopped VM: 125" 125 "$RC"
bx start ws
check "start: exit 0, running" test "$RC" = 0 -a "$(cat "$MNT/vms/ws/state")" = running
bx ssh ws -- cat /root/proj/untracked.txt
expect_eq "the disk kept the workspace across the restart" untracked "$OUT"
bx rm ws
check "rm: exit 0, gone" test "$RC" = 0 -a ! -e "$MNT/vms/ws"
check "rm unpinned it" sh -c "! grep -q '^ws.vm ' '$KH'"

# ---- 5. --branch/--from, --rm: the guest's copy is REF's, on the new branch
# stdin goes to the command (the copy and mise must not eat it)
echo piped | "$BANGER" run --rm --name br "$W" --branch feat --from v1 -- \
	sh -c 'cat .git/HEAD; cat README; ls; read -r l; echo "stdin=$l"' >"$T/out" 2>"$T/err"
RC=$?
expect_eq "run --branch --from -- CMD: exit 0" 0 "$RC"
check "the command got run's stdin" grep -qx "stdin=piped" "$T/out"
sed -i '/^stdin=/d' "$T/out"
expect_eq "the guest copy's .git/HEAD names the new branch" "ref: refs/heads/feat" "$(head -n 1 "$T/out")"
expect_eq "its files are those of REF (README of v1)" v1 "$(sed -n 2p "$T/out")"
expect_eq "REF's files, plus the untracked one" "README gone.txt src untracked.txt with space's.txt" \
	"$(sed -n '3,$p' "$T/out" | tr '\n' ' ' | sed 's/ $//')"
check "spec: first, the branch note after it" sh -c "head -n 1 '$T/err' | grep -q '^spec:' && grep -q 'branch feat from v1 checked out in a staging copy' '$T/err'"
expect_eq "the user's repo has no branch feat" "" "$(git -C "$W" branch --list feat)"
expect_eq "the user's repo is still on main, unchanged" "main|$user_status" \
	"$(git -C "$W" rev-parse --abbrev-ref HEAD)|$(git -C "$W" status --porcelain)"
check "--rm deleted br" test ! -e "$MNT/vms/br"

# ---- 6. a plain directory (no git), exit 1, --rm
mkdir -p "$T/plain/sub"
echo x >"$T/plain/x"
echo y >"$T/plain/sub/y"
bx run --rm --name pl "$T/plain" -- sh -c 'test -f /root/plain/x && test -f sub/y && exit 1'
expect_eq "run DIR -- CMD: exit status 1 comes back (and the whole directory was there)" 1 "$RC"
check "it says the directory is not a git repository" grep -q "is not a git repository: copying the whole directory" "$T/err"
check "--rm deleted pl" test ! -e "$MNT/vms/pl"
check "... once: no 'no such VM' from a second delete at the exit" sh -c "! grep -q 'no such VM' '$T/err'"

# ---- 7. bare: an interactive shell on a pseudo-terminal (script), with the
# default name; typing waits for the guest's prompt
mkfifo "$T/bare.in"
script -qec "'$BANGER' run --rm" /dev/null <"$T/bare.in" >"$T/bare.out" 2>&1 &
spid=$!
exec 7>"$T/bare.in"
check "bare run: a shell prompt appears" wait_for 240 grep -aq '~# ' "$T/bare.out"
bare=$(grep -ao 'run-[0-9a-f]\{8\}' "$T/bare.out" | head -n 1)
check "the default name is run- and 8 hex digits" test -n "$bare"
printf 'echo bare-$((6*7)) $(hostname) $(tty)\n' >&7
check "the shell runs commands, on a pty" wait_for 60 grep -aq "bare-42 $bare /dev/pts/" "$T/bare.out"
printf 'exit 3\n' >&7
wait "$spid"
expect_eq "the session's exit status comes back" 3 "$?"
exec 7>&-
check "bare run printed the spec: line" grep -aq '^spec: vcpu ' "$T/bare.out"
check "--rm deleted the bare VM" test -n "$bare" -a ! -e "$MNT/vms/$bare"

# ---- 8. --rm leaves nothing behind
check "no VM is left" test -z "$(ls -A "$MNT/vms")"
check "no pin is left" test ! -s "$KH"
check "no VM disk is left" settle_deletes
expect_eq "state/vms/ is empty" "" "$(ls -A "$T/home/state/vms")"

# ---- 9. a failed start
bx run --image nope -- true
expect_eq "run --image nope: exit 125" 125 "$RC"
check "with the reason" grep -q "image 'nope' is not installed" "$T/err"
check "and no VM" test -z "$(ls -A "$MNT/vms")"
finish
