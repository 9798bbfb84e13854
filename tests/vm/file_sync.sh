#!/bin/bash
# [[file_sync]] with a real guest: the work disk is mounted on /root, the
# copies are there, root's, with the configured modes, and ssh (whose
# authorized_keys now lives on that disk) still works.
. "$(dirname "$0")/../lib.sh"
banger_setup real
stop_daemon
mkdir -p "$T/sync/tools"
printf '#!/bin/sh\necho synced-tool\n' >"$T/sync/tools/hello"
echo "[user]" >"$T/sync/gitconfig"
cat >>"$T/home/config/config.toml" <<CONF

[[file_sync]]
host = "$T/sync/tools"
guest = "~/bin"
mode = "0755"

[[file_sync]]
host = "$T/sync/gitconfig"
guest = "/root/.gitconfig"
CONF
start_daemon
V=$MNT/vms/fs1
check "mkdir fs1" mkdir "$V"
expect_errno "start fs1" OK write "$V/state" start
gssh() {
	ssh -F "$V/ssh_config" -o BatchMode=yes fs1.vm "$@" 2>>"$T/ssh.err"
}
expect_eq "/root is the work disk" "/dev/vdb" "$(gssh "awk '\$2 == \"/root\" { print \$1 }' /proc/mounts")"
expect_eq "the synced directory's script runs" "synced-tool" "$(gssh /root/bin/hello)"
expect_eq "modes and owners: the dir 700, the script 755, the file 600, all root's" \
	"700 0:0 755 0:0 600 0:0" \
	"$(gssh 'stat -c "%a %u:%g" /root/bin /root/bin/hello /root/.gitconfig' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the single file's content" "[user]" "$(gssh cat /root/.gitconfig)"
expect_eq "banger's key is on the work disk, as sshd wants it" "700 600" \
	"$(gssh 'stat -c %a /root/.ssh /root/.ssh/authorized_keys' | tr '\n' ' ' | sed 's/ $//')"
check "the root file system grew to the VM's disk_size (1G, the image is 64M)" \
	wait_for 60 sh -c "ssh -F '$V/ssh_config' -o BatchMode=yes fs1.vm 'df -k /' 2>/dev/null | awk 'NR == 2 && \$2 > 900000 { ok = 1 } END { exit !ok }'"
gssh 'echo kept >/root/note && sync'
expect_errno "restart fs1" OK write "$V/state" restart
expect_eq "a file written in /root survives a restart" "kept" "$(gssh cat /root/note)"
check "rmdir fs1" rmdir "$V"
settle_deletes
expect_eq "the work disk went with the VM" "" "$(ls "$T/home/state/vms")"
finish
