# fish completion for banger. Install:
#   banger completion fish > ~/.config/fish/completions/banger.fish

# VM names (or images), read from the mount, only while bangerd serves it
# (a FUSE mount): with the daemon down there is nothing to offer.
function __banger_tree
    set -l mnt $BANGER_MOUNT
    test -n "$mnt"; or set mnt $HOME/banger
    set -l magic (command stat -f -c %t $mnt 2>/dev/null)
    test "$magic" = 65735546; or return 0
    for d in $mnt/$argv[1]/*/
        basename $d
    end
end

function __banger_vms
    __banger_tree vms
end

function __banger_images
    __banger_tree images
end

# true when the command line has the subcommand $argv and N plain arguments
# after it (N = $argv[2]) and no "--"
function __banger_nth_arg
    set -l words (commandline -opc)
    test (count $words) -ge 2; or return 1
    contains -- $words[2] (string split ' ' -- $argv[1]); or return 1
    set -l n 0
    for w in $words[3..-1]
        test "$w" = --; and return 1
        string match -q -- '-*' $w; or set n (math $n + 1)
    end
    test $n -eq $argv[2]
end

function __banger_no_dashdash
    not contains -- -- (commandline -opc)
end

# true after "banger ssh NAME": the rest is the guest's command, not banger's
function __banger_ssh_command
    set -l words (commandline -opc)
    test (count $words) -ge 3; and test "$words[2]" = ssh
end

set -l cmds run ssh cp ls start stop rm logs console port image kernel doctor completion help
set -a cmds exec sessions attach
complete -c banger -f
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -l help -d 'show help'
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -l version -d 'show versions'
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -a run -d 'create and start a VM, then a shell, a workspace or a command'
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -a ssh -d 'ssh into a running VM, or run a command in it'
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -a cp -d 'copy files into a running VM or out of it'
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -a ls -d 'list VMs'
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -a start -d 'boot a stopped VM'
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -a stop -d 'shut a VM down cleanly'
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -a rm -d 'delete a VM'
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -a logs -d "print a VM's log"
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -a console -d "attach to a VM's serial console"
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -a port -d "list, add and remove a VM's forwarded ports"
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -a image -d 'list, pull, import and remove images'
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -a kernel -d 'list, pull and remove kernels'
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -a doctor -d 'check this host'
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -a completion -d 'print a shell completion script'
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -a help -d 'help on a command'

# sessions
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -a exec -d 'run a command in a running VM through its agent'
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -a sessions -d "list a VM's sessions"
complete -c banger -n "not __fish_seen_subcommand_from $cmds" -a attach -d 'follow a session and send it input'
complete -c banger -n '__banger_nth_arg "exec sessions attach" 0' -a '(__banger_vms)' -d VM
complete -c banger -n '__fish_seen_subcommand_from exec; and __banger_no_dashdash' -l session -x -d 'keep the session under this name'
complete -c banger -n '__fish_seen_subcommand_from exec; and __banger_no_dashdash' -s t -l tty -d 'run on a pseudo-terminal'
complete -c banger -n '__fish_seen_subcommand_from exec; and __banger_no_dashdash' -l cwd -x -d 'guest directory'
complete -c banger -n '__banger_nth_arg attach 1' -a '(__banger_tree vms/(commandline -opc)[3]/sessions)' -d session

# run
complete -c banger -n '__fish_seen_subcommand_from run; and __banger_no_dashdash' -l name -x -d 'VM name'
complete -c banger -n '__fish_seen_subcommand_from run; and __banger_no_dashdash' -l rm -d 'delete the VM when done'
complete -c banger -n '__fish_seen_subcommand_from run; and __banger_no_dashdash' -l image -x -a '(__banger_images)' -d 'image'
complete -c banger -n '__fish_seen_subcommand_from run; and __banger_no_dashdash' -l vcpu -x -d 'number of vCPUs'
complete -c banger -n '__fish_seen_subcommand_from run; and __banger_no_dashdash' -l memory -x -d 'guest RAM in MiB'
complete -c banger -n '__fish_seen_subcommand_from run; and __banger_no_dashdash' -l disk -x -d 'root disk size'
complete -c banger -n '__fish_seen_subcommand_from run; and __banger_no_dashdash' -l branch -x -d 'create and check out a branch in the copy'
complete -c banger -n '__fish_seen_subcommand_from run; and __banger_no_dashdash' -l from -x -d 'start the branch at this ref'
complete -c banger -n '__banger_nth_arg run 0' -a '(__fish_complete_directories)' -d workspace

# VM names
complete -c banger -n '__banger_nth_arg "ssh console logs port" 0' -a '(__banger_vms)' -d VM
complete -c banger -n '__fish_seen_subcommand_from start stop rm' -a '(__banger_vms)' -d VM
complete -c banger -n '__fish_seen_subcommand_from logs' -s f -l follow -d 'follow the log'

# cp: local files, or NAME: for a VM's side
complete -c banger -n '__fish_seen_subcommand_from cp' -F
complete -c banger -n '__fish_seen_subcommand_from cp' -a '(__banger_vms):' -d VM
complete -c banger -n '__fish_seen_subcommand_from cp' -s r -s R -l recursive -d 'copy directories'

# images and kernels
complete -c banger -n '__banger_nth_arg image 0' -a 'ls pull import rm'
complete -c banger -n '__banger_nth_arg kernel 0' -a 'ls pull rm'
complete -c banger -n '__fish_seen_subcommand_from image; and __fish_seen_subcommand_from rm' -a '(__banger_tree images)' -d image
complete -c banger -n '__fish_seen_subcommand_from kernel; and __fish_seen_subcommand_from rm' -a '(__banger_tree kernels)' -d kernel

complete -c banger -n '__banger_nth_arg completion 0' -a 'bash zsh fish'
complete -c banger -n '__banger_nth_arg help 0' -a "$cmds"
complete -c banger -n "__fish_seen_subcommand_from $cmds; and not __banger_ssh_command" -s h -l help -d 'show help'
