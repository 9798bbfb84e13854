#!/bin/bash
# config.toml: every key optional; values with provenance in `config` and
# `spec`; host heuristics without [vm_defaults]; an unknown key or a bad
# value stops bangerd with file:line: reason; file_sync at mkdir, with each
# refusal (EINVAL, nothing created).
. "$(dirname "$0")/../lib.sh"
BANGER_TEST_NO_CONFIG=1 banger_setup fake
CFG=$T/home/config/config.toml

# ---- no config file: built-in defaults and host heuristics
cpus=$(nproc)
ram_mib=$(($(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 1024))
want_vcpu=$((cpus / 4)); [ $want_vcpu -lt 1 ] && want_vcpu=1; [ $want_vcpu -gt 4 ] && want_vcpu=4
want_mem=$((ram_mib / 8)); [ $want_mem -lt 256 ] && want_mem=256; [ $want_mem -gt 8192 ] && want_mem=8192
check "config says the file is absent" grep -q "^# config file: $CFG (absent" "$MNT/config"
check "vcpu from the host heuristic" grep -qx "vcpu = $want_vcpu  # host heuristic (cpus/4, 1 to 4)" "$MNT/config"
check "memory from the host heuristic" grep -qx "memory_mib = $want_mem  # host heuristic (RAM/8, 256 MiB to 8 GiB)" "$MNT/config"
check "disk 8G from the host heuristic" grep -qx "disk_size = 8G  # host heuristic (8 GiB)" "$MNT/config"
check "nat from the environment (tests turn it off)" grep -qx "nat = false  # BANGER_NAT" "$MNT/config"
check "mkdir d1" mkdir "$MNT/vms/d1"
expect_eq "spec: defaults with their provenance" "vcpu = $want_vcpu  # default: host heuristic (cpus/4, 1 to 4)
memory_mib = $want_mem  # default: host heuristic (RAM/8, 256 MiB to 8 GiB)
disk_size = 8G  # default: host heuristic (8 GiB)
image = debian-bookworm  # default: built-in default
kernel = debian-bookworm  # default: built-in default" "$(cat "$MNT/vms/d1/spec")"

# ---- a config file with every kind of key
stop_daemon
mkdir -p "$T/sync/dir/sub" "$T/userhome"
echo "dir file" >"$T/sync/dir/a.txt"
echo "nested" >"$T/sync/dir/sub/b.txt"
echo "single" >"$T/sync/single.conf"
ln -s a.txt "$T/sync/dir/alias" # a link that stays inside the synced dir
cat >"$CFG" <<EOF
# banger test config
accel = "tcg"
network = "auto"
bridge_name = "bgtest0"
subnet = "10.66.0.0/24"
nat = false

[vm_defaults]
vcpu = 2
memory_mib = 512
disk_size = "2G"

[[file_sync]]
host = "$T/sync/dir"
guest = "~/synced"

[[file_sync]]
host = "~/single.conf"
guest = "/root/.config/single.conf"
mode = "0644"
EOF
# ~/single.conf is a link, as a dotfile kept by stow: the named path is followed
ln -s "$T/sync/single.conf" "$T/userhome/single.conf"
unset BANGER_NAT
HOME=$T/userhome start_daemon
check "config says it was read" grep -q "^# config file: $CFG (read)" "$MNT/config"
check "accel from config.toml:2" grep -q "^accel = tcg  # config.toml:2" "$MNT/config"
check "bridge_name from config.toml:4" grep -qx "bridge_name = bgtest0  # config.toml:4" "$MNT/config"
check "subnet from config.toml:5" grep -qx "subnet = 10.66.0.0/24  # config.toml:5" "$MNT/config"
check "nat from config.toml:6" grep -qx "nat = false  # config.toml:6" "$MNT/config"
check "vcpu from config.toml:9" grep -qx "vcpu = 2  # config.toml:9" "$MNT/config"
check "memory from config.toml:10" grep -qx "memory_mib = 512  # config.toml:10" "$MNT/config"
check "disk from config.toml:11" grep -qx "disk_size = 2G  # config.toml:11" "$MNT/config"
check "file_sync entries listed" grep -q "^file_sync = ~/single.conf -> /root/.config/single.conf, mode 644  # config.toml:17" "$MNT/config"
check "the bridge has the configured name and subnet" sh -c "ip -o addr show bgtest0 | grep -q 'inet 10.66.0.1/24'"
check "mkdir s1 (with file_sync)" mkdir "$MNT/vms/s1"
expect_eq "s1 takes the configured sizing" "2 512 2G" "$(cat "$MNT/vms/s1/vcpu") $(cat "$MNT/vms/s1/memory_mib") $(cat "$MNT/vms/s1/disk_size")"
check "spec names the config line" grep -qx "vcpu = 2  # default: config.toml:9" "$MNT/vms/s1/spec"
expect_eq "s1 has an address from the configured subnet" 10.66.0.2 "$(cat "$MNT/vms/s1/ip")"
work=$(ls -d "$T"/home/state/vms/*/work.img 2>/dev/null | head -n 1)
check "a work disk was made" test -n "$work"
if [ -n "$work" ]; then
	listing=$(debugfs -R "ls -p /synced" "$work" 2>/dev/null)
	check "the directory was copied" grep -q "/a.txt/" <<<"$listing"
	expect_eq "a file inside has its content" "dir file" "$(debugfs -R "cat /synced/a.txt" "$work" 2>/dev/null)"
	expect_eq "nested files too" "nested" "$(debugfs -R "cat /synced/sub/b.txt" "$work" 2>/dev/null)"
	expect_eq "the single file (~ expanded on the host)" "single" "$(debugfs -R "cat /.config/single.conf" "$work" 2>/dev/null)"
	check "files default to 0600" sh -c "debugfs -R 'stat /synced/a.txt' '$work' 2>/dev/null | grep -q 'Mode:  0600'"
	check "mode = 0644 is applied" sh -c "debugfs -R 'stat /.config/single.conf' '$work' 2>/dev/null | grep -q 'Mode:  0644'"
	check "owned by root" sh -c "debugfs -R 'stat /synced/a.txt' '$work' 2>/dev/null | grep -q 'User:     0   Group:     0'"
	check "a link inside the synced dir is copied as a link" \
		sh -c "debugfs -R 'stat /synced/alias' '$work' 2>/dev/null | grep -q 'Fast link dest: \"a.txt\"'"
fi

# ---- file_sync refusals: EINVAL, nothing created
refuse() { # DESC HOST GUEST
	stop_daemon
	cat >"$CFG" <<EOF
[[file_sync]]
host = "$2"
guest = "$3"
EOF
	HOME=$T/userhome start_daemon
	local before
	before=$(ls "$T/home/state/vms" | sort)
	expect_errno "$1: mkdir is EINVAL" EINVAL mkdir "$MNT/vms/bad"
	check "$1: no VM" test ! -e "$MNT/vms/bad"
	expect_eq "$1: nothing left in state/vms" "$before" "$(ls "$T/home/state/vms" | sort)"
	check "$1: the log says why" grep -q "file_sync (config.toml:1)" "$T/home/state/bangerd.log"
}
refuse "guest outside /root" "$T/sync/single.conf" "/etc/single.conf"
refuse "guest escaping with .." "$T/sync/single.conf" "~/../etc/x"
refuse "guest is /root itself" "$T/sync/single.conf" "/root/"
refuse "missing host path" "$T/sync/nope" "~/nope"
# names that would be more than a name in the debugfs script that makes the
# copies root's (non-root daemons): a newline, a '"', a '\'
mkdir -p "$T/evil-nl" "$T/evil-quote" "$T/evil-bs/sub"
touch "$T/evil-nl/x"$'\n''sif "a" uid 1000' "$T/evil-quote/a\"b" "$T/evil-bs/sub/c\\d"
refuse "a name with a newline in a synced dir" "$T/evil-nl" "~/nl"
check "the log names the control character" grep -q "file_sync (config.toml:1): '$T/evil-nl/x?sif \"a\" uid 1000' has a name with a control character" "$T/home/state/bangerd.log"
refuse "a name with a quote in a synced dir" "$T/evil-quote" "~/q"
refuse "a name with a backslash deeper down" "$T/evil-bs" "~/bs"
refuse "a guest path with a quote" "$T/sync/single.conf" '~/a\"b'
refuse "a guest path with a newline" "$T/sync/single.conf" '~/a\nb'
# symlinks under a synced dir that lead out of it (absolute, or climbing
# with ..) or nowhere; cp would copy the link, never its target, but such a
# name is refused outright (the named host path itself is followed, above)
echo "not for guests" >"$T/secret"
mkdir -p "$T/evil-abs/sub" "$T/evil-rel/sub" "$T/evil-dangling"
echo ok >"$T/evil-abs/ok.txt"
ln -s "$T/secret" "$T/evil-abs/sub/key"
ln -s ../../secret "$T/evil-rel/sub/key"
ln -s nowhere "$T/evil-dangling/x"
refuse "a symlink in a synced dir to a file outside it" "$T/evil-abs" "~/abs"
check "the log names the link and its target" grep -q "'$T/evil-abs/sub/key' is a symbolic link to '$T/secret', outside $T/evil-abs: refused, nothing copied" "$T/home/state/bangerd.log"
refuse "a relative symlink climbing out with .." "$T/evil-rel" "~/rel"
refuse "a dangling symlink in a synced dir" "$T/evil-dangling" "~/dangling"
check "the log says it leads nowhere" grep -q "'$T/evil-dangling/x' is a symbolic link to 'nowhere', which leads nowhere" "$T/home/state/bangerd.log"
check "no work disk holds the secret" sh -c "! grep -rqs 'not for guests' '$T/home/state/vms'"
# a link that stays in its tree (allowed, copied as a link), and a later
# entry whose guest path runs through it: cp would write through the
# staged link into the synced directory on the host
mkdir -p "$T/overlap/sub"
ln -s "$T/overlap/sub" "$T/overlap/b"
stop_daemon
cat >"$CFG" <<EOF
[[file_sync]]
host = "$T/overlap"
guest = "~/o"

[[file_sync]]
host = "$T/sync/single.conf"
guest = "~/o/b/x"
EOF
HOME=$T/userhome start_daemon
before=$(ls "$T/home/state/vms" | sort)
expect_errno "a guest path through an earlier entry's link: mkdir is EINVAL" EINVAL mkdir "$MNT/vms/thru"
check "through a link: no VM" test ! -e "$MNT/vms/thru"
expect_eq "through a link: nothing left in state/vms" "$before" "$(ls "$T/home/state/vms" | sort)"
check "through a link: nothing written into the host's directory" test ! -e "$T/overlap/sub/x"
check "through a link: the log says why" grep -q "file_sync (config.toml:5): guest path '~/o/b/x' runs into a symbolic link that an earlier entry copied: refused" "$T/home/state/bangerd.log"

# ---- bad config files stop bangerd with file:line: reason
bad_config() { # DESC EXPECTED-TEXT CONFIG-TEXT (printf format)
	stop_daemon
	# shellcheck disable=SC2059 # the config text is a format on purpose
	printf "$3" >"$CFG"
	local out rc
	out=$(BANGER_HOME=$T/home timeout 60 "$BANGERD" -f --mount "$MNT" 2>&1)
	rc=$?
	check "$1: bangerd exits non-zero (rc $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
	check "$1: '$2'" grep -qF "$2" <<<"$out"
	check "$1: nothing mounted" sh -c "! grep -q ' $MNT fuse' /proc/mounts"
}
bad_config "unknown key" "$CFG:2: unknown key 'bogus'" 'accel = "tcg"\nbogus = 1\n'
bad_config "nat as a string" "$CFG:3: nat: want true or false" '\n\nnat = "yes"\n'
bad_config "vcpu 0" "$CFG:2: " '[vm_defaults]\nvcpu = 0\n'
bad_config "memory beyond the host" "$CFG:2: " '[vm_defaults]\nmemory_mib = 99999999\n'
bad_config "bad disk size" "$CFG:2: " '[vm_defaults]\ndisk_size = "12Q"\n'
bad_config "unknown key in a table" "$CFG:2: unknown key 'color' in [vm_defaults]" '[vm_defaults]\ncolor = "red"\n'
bad_config "unknown table" "$CFG:1: unknown table 'vms'" '[vms]\n'
bad_config "subnet with host bits" "$CFG:1: subnet '10.0.0.1/24': host bits are set" 'subnet = "10.0.0.1/24"\n'
bad_config "bad network" "$CFG:1: network 'wifi'" 'network = "wifi"\n'
bad_config "unknown vmm" "$CFG:1: vmm 'xen': want auto, qemu or firecracker" 'vmm = "xen"\n'
bad_config "file_sync without guest" "$CFG:1: [[file_sync]] needs both host and guest" '[[file_sync]]\nhost = "/etc"\n'
bad_config "bad mode" "$CFG:4: mode" '[[file_sync]]\nhost = "/etc"\nguest = "~/x"\nmode = "999"\n'
bad_config "duplicate key (the parser)" "$CFG:2: " 'accel = "tcg"\naccel = "kvm"\n'
bad_config "trailing garbage (the parser)" "$CFG:1: " 'nat = true false\n'
rm -f "$CFG"
finish
