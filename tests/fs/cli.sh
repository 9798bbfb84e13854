#!/bin/bash
# The banger CLI without guests (fake image and kernel: boots fail): help
# and usage errors, refused values and failed starts with their exit
# statuses, the spec line, ls/logs/start/stop/rm, completion scripts in bash,
# zsh and fish (VM names only while the daemon runs), doctor, the daemon's
# auto-start, and shellcheck.
. "$(dirname "$0")/../lib.sh"

export BANGER_BOOT_TIMEOUT=3
banger_setup fake || exit 1
export BANGER_MOUNT=$MNT BANGER_HOME=$T/home BANGERD
BANGER=$REPO/tools/banger
COMP=$REPO/tools/completions

# bx CMD...: runs banger; OUT, ERR and RC hold what it did
bx() {
	"$BANGER" "$@" >"$T/out" 2>"$T/err" </dev/null
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}
no_vms() { [ -z "$(ls -A "$MNT/vms")" ]; }
one_banger_line() { [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] && [ "${ERR#banger: }" != "$ERR" ]; }

# ---- help
for c in run ssh ls start stop rm logs console port image kernel doctor completion exec sessions attach; do
	bx "$c" --help
	check "banger $c --help exits 0 with its usage" test "$RC" = 0 -a "${OUT%%$'\n'*}" != "" -a \
		"$(printf '%s' "$OUT" | head -n 1 | cut -d' ' -f1-3)" = "usage: banger $c"
done
bx --help
check "banger --help lists the commands" sh -c "test $RC = 0 && grep -q '^  console' '$T/out' && grep -q '^  doctor' '$T/out'"
bx help run
check "banger help run = banger run --help" test "$RC" = 0 -a "$OUT" = "$("$BANGER" run --help)"
bx run --rm -- --help
check "--help after -- belongs to the command (no help printed)" test "${OUT#usage}" = "$OUT"
bx --version
check "--version names both versions" grep -Eqx 'banger [0-9.]+ \(bangerd [0-9.]+\)' "$T/out"

# ---- bad usage: exit 2, one line on stderr
bad_usage() { # DESC ARGS...
	local desc=$1
	shift
	bx "$@"
	if [ "$RC" = 2 ] && one_banger_line; then ok "bad usage exits 2: $desc"; else fail "bad usage exits 2: $desc (rc $RC: $ERR)"; fi
}
bx
expect_eq "no arguments: exit 2" 2 "$RC"
bad_usage "unknown command" nosuch
bad_usage "unknown run option" run --bogus
bad_usage "run --vcpu without a value" run --vcpu
bad_usage "run with two paths" run "$T" "$T"
bad_usage "run -- with no command" run --
bad_usage "exec with no command" exec alpha
bad_usage "exec with a bad session name" exec alpha --session .x -- true
bad_usage "exec --cwd relative" exec alpha --cwd tmp -- true
bad_usage "attach with one argument" attach alpha
bad_usage "sessions with no VM" sessions
bad_usage "run PATH that is not a directory" run "$T/nope" -- true
bad_usage "ssh without a name" ssh
bad_usage "logs without a name" logs
bad_usage "logs with two names" logs a b
bad_usage "start without a name" start
bad_usage "rm with an option" rm -x a
bad_usage "ls with an argument" ls extra
bad_usage "doctor with an argument" doctor extra
bad_usage "completion without a shell" completion
bad_usage "completion for an unknown shell" completion tcsh
bad_usage "run --name with an invalid name" run --name Bad_Name -- true
check "nothing was created by the usage errors" no_vms

# ---- --branch/--from outside workspace mode, and bad branches
mkdir -p "$T/repo" "$T/plain"
git -C "$T/repo" init -q -b main
echo one >"$T/repo/f"
git -C "$T/repo" add f
git -C "$T/repo" -c user.name=t -c user.email=t@t commit -qm one
git -C "$T/repo" branch taken
bad_usage "--branch without a workspace" run --branch feat -- true
check "it says why" grep -q -- "--branch and --from need a workspace PATH" "$T/err"
bad_usage "--from without a workspace" run --from main
bad_usage "--from without --branch" run "$T/repo" --from main
bad_usage "--branch on a directory that is no git repo" run "$T/plain" --branch feat
bad_usage "--branch with an invalid name" run "$T/repo" --branch 'a..b'
bad_usage "--branch that exists" run "$T/repo" --branch taken
bad_usage "--from an unknown ref" run "$T/repo" --branch feat --from nosuch
check "no VM was made for any of them" no_vms
expect_eq "the user's repo has no new branch" "main taken" "$(git -C "$T/repo" for-each-ref --format='%(refname:short)' | tr '\n' ' ' | sed 's/ $//')"

# ---- refused values: the VM is deleted again
bx run --vcpu 999 -- true
expect_eq "run --vcpu 999: exit 2" 2 "$RC"
check "it prints the VM's error" grep -q "vcpu must be between" "$T/err"
check "the half-made VM is gone" no_vms
bx run --memory lots -- true
expect_eq "run --memory lots: exit 2" 2 "$RC"
check "the half-made VM is gone (memory)" no_vms
bx run --image nope -- true
expect_eq "run --image nope: exit 125" 125 "$RC"
check "it says the image is not installed" grep -q "image 'nope' is not installed" "$T/err"
check "the half-made VM is gone (image)" no_vms

# ---- sizes go before the image: an image larger than the configured
# disk_size (1G) with --disk, without it, and with a --disk too small
mkdir -p "$T/home/state/images/big"
truncate -s 1536M "$T/home/state/images/big/rootfs.ext4"
bx run --rm --name g1 --image big --disk 2G -- true
expect_eq "run --image big --disk 2G: only the (fake) boot fails, exit 125" 125 "$RC"
check "its spec: disk 2G, set on this VM" grep -q '^spec: .*, disk 2G (set on this VM)$' "$T/err"
check "it got to the start" grep -q "g1 failed to start" "$T/err"
bx run --rm --name g2 --image big -- true
expect_eq "run --image big: the default disk_size grows to hold it, exit 125" 125 "$RC"
check "its spec: disk 1536M, grown to hold the image" grep -q '^spec: .*, disk 1536M (grown to hold image big (default: config.toml:5))$' "$T/err"
bx run --rm --name g3 --image big --disk 1G -- true
expect_eq "run --image big --disk 1G: refused, exit 2" 2 "$RC"
check "it says the disk is smaller than the image" \
	grep -q "image big refused: disk_size 1G (set on this VM) is smaller than image 'big' (1536M)" "$T/err"
check "no VM is left by the three" no_vms
rm -r "$T/home/state/images/big"

# ---- a failed start (the fake kernel: QEMU exits at once)
bx run --name f1 --vcpu 2 -- true
expect_eq "a failed start exits 125" 125 "$RC"
spec=$(grep '^spec:' "$T/err")
check "one spec: line, before anything else" test "$(head -n 1 "$T/err" | cut -c1-5)" = "spec:" -a "$(grep -c '^spec:' "$T/err")" = 1
prov() { sed -n "s/^$1 = .*# //p" "$MNT/vms/f1/spec"; }
expect_eq "spec: line: values and provenance from vms/NAME/spec" \
	"spec: vcpu 2 ($(prov vcpu)), memory 256 MiB ($(prov memory_mib)), disk 1G ($(prov disk_size))" "$spec"
check "it prints the VM's error" grep -q "f1 failed to start: hypervisor exited" "$T/err"
check "and the last lines of its logs" grep -q "^    .*banger: error: hypervisor exited" "$T/err"
check "without --rm the VM is left, with a hint" sh -c "test -d '$MNT/vms/f1' && grep -q 'banger rm f1' '$T/err'"
bx run --name f1 -- true
expect_eq "a taken name: exit 125" 125 "$RC"
check "it says the name is taken" grep -q "a VM named f1 exists already" "$T/err"
bx run --rm --name f2 -- true
expect_eq "--rm, failed start: exit 125" 125 "$RC"
check "--rm deleted the VM whose start failed" test ! -d "$MNT/vms/f2"
bx run --rm -- true
expect_eq "a default name, failed start: 125" 125 "$RC"
check "the default name is run- and 8 hex digits" grep -Eq "run-[0-9a-f]{8} failed to start" "$T/err"
check "and --rm deleted it" sh -c "! ls '$MNT/vms' | grep -q '^run-'"

# ---- ls, logs, start, stop, rm, ssh
mkdir "$MNT/vms/alpha" "$MNT/vms/beta"
bx ls
check "ls: header" test "$(printf '%s\n' "$OUT" | head -n 1 | tr -s ' ')" = "NAME STATE IP IMAGE UPTIME"
check "ls: f1 in error with its address and image" grep -Eq '^f1 +error +172\.16\.0\.[0-9]+ +tiny +-$' "$T/out"
check "ls: alpha stopped" grep -Eq '^alpha +stopped +172\.16\.0\.[0-9]+ +tiny +-$' "$T/out"
expect_eq "ls: one line per VM" 4 "$(wc -l <"$T/out")"
bx logs f1
check "logs prints the VM's log" sh -c "test $RC = 0 && grep -q 'banger: starting (qemu' '$T/out'"
"$BANGER" logs -f f1 >"$T/follow" 2>&1 &
follower=$!
check "logs -f printed the whole log first" wait_for 60 grep -q 'banger: starting (qemu' "$T/follow"
check "logs -f keeps following" kill -0 "$follower"
kill "$follower"
wait "$follower" 2>/dev/null
bx logs nosuch
check "logs of no VM: exit 1, one line" test "$RC" = 1 -a "$ERR" = "banger: no such VM: nosuch"
bx start alpha
expect_eq "start of an unbootable VM: exit 1" 1 "$RC"
check "it prints the reason" grep -q "alpha failed to start: hypervisor exited" "$T/err"
bx stop alpha
expect_eq "stop: exit 0" 0 "$RC"
bx ssh alpha -- true
expect_eq "ssh to a stopped VM: exit 125" 125 "$RC"
check "it says it is not running" grep -q "alpha is not running (state: error); start it: banger start alpha" "$T/err"
bx ssh nosuch
expect_eq "ssh to no VM: exit 125" 125 "$RC"
bx rm f1
check "rm f1" test "$RC" = 0 -a ! -d "$MNT/vms/f1"
bx rm f1
check "rm of no VM: exit 1, one line" test "$RC" = 1 -a "$ERR" = "banger: no such VM: f1"

# ---- image ls, kernel ls: every column holds what its header says (the
# fake store: images and kernels tiny and debian-bookworm, built here)
bx image ls
expect_eq "image ls: header" "NAME STATUS SIZE KERNEL SOURCE" "$(head -n 1 "$T/out" | tr -s ' ')"
check "image ls: tiny, ready, its size, its kernel, local" grep -Eq '^tiny +ready +64\.0M +tiny +local$' "$T/out"
bx kernel ls
expect_eq "kernel ls: header, no KERNEL column" "NAME STATUS SIZE SOURCE" "$(head -n 1 "$T/out" | tr -s ' ')"
check "kernel ls: tiny, ready, its size, local" grep -Eq '^tiny +ready +27B +local$' "$T/out"
expect_eq "kernel ls: one line per kernel, as many fields as the header" "4 4 4" \
	"$(awk '{ printf "%s%d", (NR > 1 ? " " : ""), NF }' "$T/out")"

# ---- completion scripts: VM names from the live mount
bx completion bash
check "completion bash prints tools/completions/banger.bash" cmp -s "$T/out" "$COMP/banger.bash"
bx completion zsh
check "completion zsh prints tools/completions/_banger" cmp -s "$T/out" "$COMP/_banger"
bx completion fish
check "completion fish prints tools/completions/banger.fish" cmp -s "$T/out" "$COMP/banger.fish"

bash_complete() { # WORDS...: the candidates for the last word, one line
	bash -c 'source <("$0" completion bash) || exit 1; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _banger; echo "${COMPREPLY[*]}"' "$BANGER" "$@"
}
fish_complete() { # LINE
	fish -c 'source $argv[1]; complete -C $argv[2]' "$COMP/banger.fish" "$1" | cut -f1 | tr '\n' ' ' | sed 's/ $//'
}
# zsh completes only inside its line editor: drive an interactive zsh on a
# pseudo-terminal (zpty), press Tab, and collect what it lists: until every
# WORD is there (at most 30 s), or with no WORD until 3 s pass without output.
zsh_complete() { # LINE [WORD...]
	timeout 60 zsh -f -c '
		zmodload zsh/zpty || exit 1
		zmodload zsh/datetime || exit 1
		zpty z "zsh -f -i"
		zpty -w z "PROMPT=\"> \"; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D; unsetopt beep"
		# wait until compinit is done: only the command prints R2EADY
		zpty -w z "print R\$((1+1))EADY"
		zpty -r -m z line "*R2EADY*" || exit 1
		zpty -w -n z "$2"$'"'\t'"'
		shift 2
		out="" quiet=0 start=$EPOCHSECONDS
		while (( EPOCHSECONDS - start < 30 )); do
			if zpty -r -t z chunk 2>/dev/null; then out+=$chunk quiet=0; else sleep 0.1; (( quiet++ )); fi
			if (( $# )); then
				all=1
				for w in "$@"; do [[ $out == *$w* ]] || all=0; done
				(( all )) && break
			elif (( quiet >= 30 )); then
				break
			fi
		done
		zpty -d z
		print -r -- "$out"
	' zsh "$COMP" "$@"
}
has_words() { # TEXT WORDS...: TEXT holds every word
	local t=$1 w
	shift
	for w; do [[ $t =~ (^|[^a-z0-9-])$w([^a-z0-9-]|$) ]] || return 1; done
}
lacks_words() {
	local t=$1 w
	shift
	for w; do [[ $t =~ (^|[^a-z0-9-])$w([^a-z0-9-]|$) ]] && return 1; done
	return 0
}

check "bash loads the script" bash -n "$COMP/banger.bash"
expect_eq "bash: subcommands" "run ssh cp ls start stop rm logs console port image kernel doctor completion help exec sessions attach --help --version" "$(bash_complete banger '')"
expect_eq "bash: banger ssh <Tab> lists the VMs" "alpha beta" "$(bash_complete banger ssh '')"
expect_eq "bash: banger rm a<Tab>" "alpha" "$(bash_complete banger rm a)"
expect_eq "bash: banger ssh alpha <Tab>: no second VM" "" "$(bash_complete banger ssh alpha '')"
expect_eq "bash: banger ssh --<Tab>: its option" "--help" "$(bash_complete banger ssh --)"
expect_eq "bash: banger ssh alpha --<Tab>: no option after the name (the guest's command)" "--" "$(bash_complete banger ssh alpha --)"
expect_eq "bash: banger console -<Tab>: no --" "--help" "$(bash_complete banger console -)"
expect_eq "bash: banger run --r<Tab>" "--rm" "$(bash_complete banger run --r)"
expect_eq "bash: banger completion <Tab>" "bash zsh fish" "$(bash_complete banger completion '')"
check "bash: banger cp al<Tab> offers alpha: (a VM's side)" has_words "$(cd "$T" && bash_complete banger cp al)" "alpha:"
check "fish: banger cp al<Tab> offers alpha:" has_words "$(cd "$T" && fish_complete 'banger cp al')" "alpha:"
expect_eq "bash: banger port <Tab> lists the VMs" "alpha beta" "$(bash_complete banger port '')"
check "zsh loads the script" zsh -n "$COMP/_banger"
out=$(zsh_complete 'banger ssh ' alpha beta)
check "zsh: banger ssh <Tab> lists the VMs" has_words "$out" alpha beta
out=$(zsh_complete 'banger ' run ssh console port doctor)
check "zsh: banger <Tab> lists the commands" has_words "$out" run ssh console port doctor
out=$(zsh_complete 'banger run --' --rm --branch --from --vcpu)
check "zsh: banger run --<Tab> lists its flags" has_words "$out" --rm --branch --from --vcpu
out=$(zsh_complete 'banger cp --r' --recursive)
check "zsh: banger cp --r<Tab> completes --recursive" has_words "$out" --recursive
expect_eq "bash: banger exec <Tab> lists the VMs" "alpha beta" "$(bash_complete banger exec '')"
expect_eq "bash: banger exec alpha --s<Tab>" "--session" "$(bash_complete banger exec alpha --s)"
expect_eq "bash: banger attach <Tab> lists the VMs" "alpha beta" "$(bash_complete banger attach '')"
out=$(zsh_complete 'banger ' exec sessions attach)
check "zsh: banger <Tab> lists the session commands" has_words "$out" exec sessions attach
check "fish loads the script" fish --no-execute "$COMP/banger.fish"
check "fish: banger <Tab> lists the session commands" has_words "$(fish_complete 'banger ')" exec sessions attach
expect_eq "fish: banger exec <Tab> lists the VMs" "alpha beta" "$(fish_complete 'banger exec ')"
expect_eq "fish: banger ssh <Tab> lists the VMs" "alpha beta" "$(fish_complete 'banger ssh ')"
expect_eq "fish: banger stop alpha <Tab>: more VMs" "alpha beta" "$(fish_complete 'banger stop alpha ')"
check "fish: banger ssh -<Tab> offers --help" has_words "$(fish_complete 'banger ssh -')" --help
check "fish: banger ssh alpha -<Tab> does not (the guest's command)" lacks_words "$(fish_complete 'banger ssh alpha -')" --help
check "fish: banger <Tab> lists the commands" has_words "$(fish_complete 'banger ')" run ssh console port doctor completion
expect_eq "fish: banger port <Tab> lists the VMs" "alpha beta" "$(fish_complete 'banger port ')"
check "fish: banger run --<Tab> lists its flags" has_words "$(fish_complete 'banger run --')" --rm --branch --from --vcpu --memory --disk

# ---- doctor, daemon up
bx doctor
expect_eq "doctor on this machine: exit 0" 0 "$RC"
for w in qemu-system-x86_64 qemu-img /dev/kvm /dev/fuse fusermount3 ssh mke2fs network: bangerd: "image tiny" "kernel tiny"; do
	check "doctor reports $w" grep -Eq "^(ok|WARN|MISSING) +$w" "$T/out"
done
expect_eq "doctor: every check line says ok, WARN or MISSING" "" "$(sed '/^$/,$d' "$T/out" | grep -Ev '^(ok|WARN|MISSING) ')"
if [ -e /sys/module/kvm_pvm ]; then
	check "doctor: kvm_pvm is a WARN, not a failure" grep -q '^WARN .*kvm_pvm (nested PVM) cannot run stock kernels; guests use TCG' "$T/out"
fi
check "doctor: the daemon's network mode, bridge" grep -q '^ok .*network: bridge mode (a bridge, NAME.vm DNS, ' "$T/out"
check "doctor: NAT as the daemon has it (off: BANGER_NAT=false)" \
	grep -q '^ok .*network: bridge mode (.*NAT off (nat = false: BANGER_NAT))$' "$T/out"
check "doctor: the image under BANGER_HOME" grep -q "^ok .*image tiny: $T/home/state/images/tiny/rootfs.ext4" "$T/out"
check "doctor: the daemon runs" grep -q "^ok .*bangerd: running, mounted at $MNT" "$T/out"
check "doctor: the effective settings, with provenance" grep -q '^  vcpu = 1  # ' "$T/out"

# a PATH without qemu: everything else of /usr/bin and /bin, linked
mkdir "$T/noqemu"
for f in /usr/local/bin/* /usr/bin/* /bin/* /usr/sbin/* /sbin/*; do
	b=${f##*/}
	case $b in qemu-system-x86_64 | qemu-img) continue ;; esac
	[ -e "$T/noqemu/$b" ] || ln -s "$f" "$T/noqemu/$b"
done
PATH=$T/noqemu bx doctor
check "doctor without qemu: non-zero exit" test "$RC" != 0
check "it says qemu-system-x86_64 is MISSING, with the fix" \
	grep -q '^MISSING .*qemu-system-x86_64: .*fix: apt-get install qemu-system-x86 qemu-utils' "$T/out"
check "qemu-img too" grep -q '^MISSING .*qemu-img: .*fix: apt-get install qemu-system-x86 qemu-utils' "$T/out"
BANGER_HOME=$T/empty bx doctor
check "with the daemon up, doctor looks in the daemon's store (its config), not BANGER_HOME's" \
	grep -q "^ok .*image tiny: $T/home/state/images/tiny/rootfs.ext4" "$T/out"
mv "$T/home/state/images/tiny" "$T/tiny.away"
bx doctor
check "doctor without the default image: non-zero exit" test "$RC" != 0
check "it says how to make the image" grep -q "^MISSING .*image tiny: not installed (images/tiny in $T/home/state); fix: tools/mkimage tiny, or a catalog that lists it" "$T/out"
mv "$T/tiny.away" "$T/home/state/images/tiny"
# with no daemon on the mount point, the store and cache bangerd would use
mkdir -p "$T/nomnt"
BANGER_MOUNT=$T/nomnt BANGER_HOME=$T/empty bx doctor
check "doctor without an image: non-zero exit" test "$RC" != 0
check "it says how to make the image" grep -q "^MISSING .*image debian-bookworm: not installed and not in $T/empty/cache/catalog/catalog.json; fix: tools/setup" "$T/out"
mkdir -p "$T/empty/cache/catalog"
printf '{"format": 1, "images": [{"name": "debian-bookworm", "url": "t.tar.zst"}]}\n' >"$T/empty/cache/catalog/catalog.json"
BANGER_MOUNT=$T/nomnt BANGER_HOME=$T/empty bx doctor
check "an image the local catalog lists is fine" grep -q "^ok .*image debian-bookworm: not installed; listed in $T/empty/cache/catalog/catalog.json, pulled at the first start" "$T/out"

# ---- the daemon down: no VM names in completion, doctor says so
stop_daemon
check "the mount is gone" wait_for 30 sh -c "! grep -q ' $MNT fuse' /proc/mounts"
# a plain directory where the mount was: nothing may come from it
mkdir -p "$MNT/vms/ghost"
expect_eq "bash: no names with the daemon down" "" "$(bash_complete banger ssh '')"
check "zsh: no names with the daemon down" lacks_words "$(zsh_complete 'banger ssh ')" ghost alpha
expect_eq "fish: no names with the daemon down" "" "$(fish_complete 'banger ssh ')"
bx doctor
check "doctor with the daemon down says so" grep -q "^WARN .*bangerd: not running" "$T/out"
expect_eq "doctor: that is no failure" 0 "$RC"
check "doctor with the daemon down claims no NAT setting" \
	grep -q '^ok .*network: CAP_NET_ADMIN: bridge mode (.*NAT as the nat setting says' "$T/out"
rm -rf "${MNT:?}/vms"

# ---- the daemon down: help, completion, doctor and every usage error
# leave it down. A command that started one (the bug) is failed, and the
# daemon it started is ended (found by its command line, which names this
# test's mount point).
end_started() {
	local pid
	for pid in $(pgrep -f "bangerd --mount $MNT\$"); do
		kill -TERM "$pid" 2>/dev/null
		wait_for 60 proc_gone "$pid"
	done
	wait_for 60 sh -c "! grep -q ' $MNT fuse' /proc/mounts"
}
started() { is_mounted || grep -q 'started bangerd' "$T/err" || pgrep -f "bangerd --mount $MNT\$" >/dev/null; }
# no_start RC DESC ARGS...: banger ARGS exits RC and starts no daemon; with
# RC 2, it prints one line
no_start() {
	local want=$1 desc=$2
	shift 2
	bx "$@"
	if started; then
		fail "$desc: it started bangerd (rc $RC: $ERR)"
		end_started
	elif [ "$RC" != "$want" ] || { [ "$want" = 2 ] && ! one_banger_line; }; then
		fail "$desc: exit $want, no daemon (rc $RC: $ERR)"
	else
		ok "$desc: exit $want, no daemon"
	fi
}
check "the daemon is down" sh -c "! grep -q ' $MNT fuse' /proc/mounts"
no_start 0 "banger --help" --help
no_start 0 "banger help image" help image
no_start 0 "banger image --help" image --help
no_start 0 "banger run --help" run --name x --bogus --help
no_start 0 "banger --version" --version
no_start 0 "banger completion bash" completion bash
no_start 0 "banger doctor" doctor
typo() { no_start 2 "$@"; }
typo "banger lss" lss
typo "banger --bogus" --bogus
typo "banger help lss" help lss
typo "banger help run ls" help run ls
typo "banger --version x" --version x
typo "banger image lss" image lss
typo "banger images lss" images lss
typo "banger image" image
typo "banger image ls x" image ls x
typo "banger image pull" image pull
typo "banger image pull -x" image pull -x
typo "banger image pull Bad_Name" image pull Bad_Name
typo "banger image import one" image import one
typo "banger image import a b c" image import a b c
typo "banger image import a 'b c'" image import a 'b c'
typo "banger image import a 'b<newline>c'" image import a "$(printf 'b\nc')"
typo "banger image rm" image rm
typo "banger image rm a/b" image rm a/b
typo "banger kernel lss" kernel lss
typo "banger kernel import a b" kernel import a b
typo "banger kernel pull" kernel pull
typo "banger kernel rm -f a" kernel rm -f a
typo "banger run --bogus" run --bogus
typo "banger run --cpus x" run --cpus x
typo "banger run --rm=yes" run --rm=yes
typo "banger run --vcpu" run --vcpu
typo "banger run --vcpu x" run --vcpu x
typo "banger run --vcpu 0" run --vcpu 0
typo "banger run --vcpu=-1" run --vcpu=-1
typo "banger run --memory lots" run --memory lots
typo "banger run --memory 63" run --memory 63
typo "banger run --disk 8X" run --disk 8X
typo "banger run --disk 1M" run --disk 1M
typo "banger run --disk 17T" run --disk 17T
typo "banger run --disk 99999999999999999999G" run --disk 99999999999999999999G
typo "banger run --disk 67108865 (not a multiple of 512)" run --disk 67108865
typo "banger run --name Bad_Name" run --name Bad_Name
typo "banger run --name -x" run --name -x
typo "banger run --name= (empty)" run --name=
typo "banger run --image a/b" run --image a/b
typo "banger run a b" run "$T" "$T"
typo "banger run --" run --
typo "banger run --branch x" run --branch x -- true
typo "banger ssh" ssh
typo "banger ssh -x a" ssh -x a
typo "banger ssh Bad_Name" ssh Bad_Name
typo "banger ssh -- a" ssh -- a
typo "banger ls x" ls x
typo "banger ls -l" ls -l
typo "banger start" start
typo "banger start -x a" start -x a
typo "banger start Bad_Name" start Bad_Name
typo "banger stop" stop
typo "banger stop a -f" stop a -f
typo "banger rm" rm
typo "banger rm a..b" rm a..b
typo "banger logs" logs
typo "banger logs a b" logs a b
typo "banger logs -x a" logs -x a
typo "banger logs -f Bad_Name" logs -f Bad_Name
typo "banger console" console
typo "banger console a b" console a b
typo "banger console Bad_Name" console Bad_Name
typo "banger doctor x" doctor x
typo "banger completion" completion
typo "banger completion tcsh" completion tcsh
typo "banger completion bash zsh" completion bash zsh
check "still no daemon, nothing mounted" sh -c "! grep -q ' $MNT fuse' /proc/mounts"

# ---- auto-start: no daemon on a scratch mount; banger ls mounts it
AUTO_PID=""
stop_auto() {
	[ -n "$AUTO_PID" ] || return 0
	kill -TERM "$AUTO_PID" 2>/dev/null
	wait_for 60 proc_gone "$AUTO_PID"
	AUTO_PID=""
}
trap 'stop_auto; cleanup' EXIT
bx ls
check "banger ls with no daemon: exit 0" test "$RC" = 0
check "it says it started bangerd" grep -q "started bangerd (mounted $MNT)" "$T/err"
check "the mount is live" is_mounted
AUTO_PID=$(head -n 1 "$T/home/state/bangerd.lock" 2>/dev/null)
check "the auto-started daemon holds the lock" grep -q bangerd "/proc/$AUTO_PID/cmdline"
check "ls lists the VMs kept in the store" grep -Eq '^alpha +(stopped|error) ' "$T/out"
bx ls
check "a second call finds it running (no new start)" sh -c "test $RC = 0 && ! grep -q 'started bangerd' '$T/err'"
BANGERD=$T/nope bx ls
expect_eq "with the daemon up, a missing bangerd does not matter" 0 "$RC"
# --rm keeps a VM whose boot timed out (the "kernel" now halts; the
# auto-started daemon got BANGER_BOOT_TIMEOUT=3 from this environment)
fake_hanging_kernel tiny
bx run --rm --name slow -- true
expect_eq "--rm, boot timed out: exit 125" 125 "$RC"
check "it prints the timeout" grep -q "slow failed to start: boot timed out" "$T/err"
check "--rm left the VM, and says where to look" sh -c "test -d '$MNT/vms/slow' && grep -q 'banger logs slow' '$T/err'"
bx rm slow
check "rm slow" test "$RC" = 0 -a ! -e "$MNT/vms/slow"
stop_auto
check "the auto-started daemon unmounted" wait_for 60 sh -c "! grep -q ' $MNT fuse' /proc/mounts"
BANGERD=$T/nope bx ls
expect_eq "no daemon and no bangerd: exit 1" 1 "$RC"
check "it says so in one line" sh -c "grep -q 'bangerd is not running and not found' '$T/err' && test \$(wc -l <'$T/err') = 1"

# ---- cp: help and the argument errors, checked before anything happens
# (no daemon started, nothing written: tests/vm/cp.sh copies for real)
no_start 0 "banger cp --help" cp --help
check "cp --help is its usage" test "$(head -n 1 "$T/out" | cut -d' ' -f1-3)" = "usage: banger cp"
mkdir -p "$T/cpx/d"
echo keep >"$T/cpx/f"
cpx_before=$(cd "$T/cpx" && find . -printf '%p %s %T@\n' | sort)
no_start 2 "cp with one path" cp "$T/cpx/f"
no_start 2 "cp with three paths" cp "$T/cpx/f" vm:/a vm:/b
no_start 2 "cp with no VM side" cp "$T/cpx/f" "$T/cpx/g"
no_start 2 "cp between two VMs" cp a:/x b:/y
no_start 2 "cp with an unknown option" cp -x "$T/cpx/f" vm:/root/
no_start 2 "cp to an invalid VM name" cp "$T/cpx/f" Bad_Name:/root/
no_start 2 "cp with an empty local path" cp "" vm:/root/
no_start 2 "cp: '..' in the guest path" cp "$T/cpx/f" vm:/root/a/../b
check "it gives the reason in one line" grep -q "'..' is not allowed in a copy path" "$T/err"
no_start 2 "cp: '..' in the local source" cp -r "$T/cpx/d/.." vm:/root/
no_start 2 "cp: '..' in the local target" cp vm:/etc/hostname "$T/cpx/d/../g"
no_start 2 "cp: a bare '..'" cp -r .. vm:
no_start 2 "cp: '..' in a relative guest path" cp vm:../etc/hostname "$T/cpx/"
expect_eq "the local side is unchanged" "$cpx_before" "$(cd "$T/cpx" && find . -printf '%p %s %T@\n' | sort)"
check "a VM name needs a colon before any /: ./a:b is local (no VM side)" \
	sh -c "'$BANGER' cp ./a:b '$T/cpx/h' 2>&1 >/dev/null | grep -q 'neither path is NAME:PATH'"

# ---- shellcheck
if command -v shellcheck >/dev/null; then
	check "shellcheck tools/banger" shellcheck "$BANGER"
	check "shellcheck tools/banger as dash" shellcheck -s dash "$BANGER"
	check "shellcheck the bash completion" shellcheck "$COMP/banger.bash"
else
	log "SKIP shellcheck: not installed"
fi
check "tools/banger parses under dash" dash -n "$BANGER"
finish
