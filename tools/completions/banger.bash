# bash completion for banger. Install:
#   banger completion bash > ~/.local/share/bash-completion/completions/banger
# or, for the current shell: source <(banger completion bash)
# shellcheck shell=bash

# VM names, read from the mount, only while bangerd serves it (a FUSE
# mount): with the daemon down there is nothing to offer.
_banger_vms() {
	local mnt=${BANGER_MOUNT:-$HOME/banger} d
	[ "$(command stat -f -c %t "$mnt" 2>/dev/null)" = 65735546 ] || return 0
	for d in "$mnt"/vms/*/; do
		[ -d "$d" ] || continue
		d=${d%/}
		printf '%s\n' "${d##*/}"
	done
}

# _banger_images [images|kernels]: installed images (or kernels)
_banger_images() {
	local mnt=${BANGER_MOUNT:-$HOME/banger} d
	[ "$(command stat -f -c %t "$mnt" 2>/dev/null)" = 65735546 ] || return 0
	for d in "$mnt"/"${1:-images}"/*/; do
		[ -d "$d" ] || continue
		d=${d%/}
		printf '%s\n' "${d##*/}"
	done
}

_banger() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local cmds="run ssh cp ls start stop rm logs console port image kernel doctor completion help"
	cmds="$cmds exec sessions attach"
	local cmd i nargs=0
	COMPREPLY=()
	if [ "$COMP_CWORD" -eq 1 ]; then
		mapfile -t COMPREPLY < <(compgen -W "$cmds --help --version" -- "$cur")
		return 0
	fi
	cmd=${COMP_WORDS[1]}
	# words before the cursor: after "--" comes a command for the guest
	for ((i = 2; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--) return 0 ;;
		-*) ;;
		*) nargs=$((nargs + 1)) ;;
		esac
	done
	case $cmd in
	run)
		case $prev in
		--name | --vcpu | --memory | --disk | --branch) return 0 ;;
		--image)
			mapfile -t COMPREPLY < <(compgen -W "$(_banger_images)" -- "$cur")
			return 0
			;;
		--from)
			mapfile -t COMPREPLY < <(compgen -W "$(git for-each-ref --format='%(refname:short)' 2>/dev/null)" -- "$cur")
			return 0
			;;
		esac
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "--name --rm --image --vcpu --memory --disk --branch --from --help --" -- "$cur")
		else
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		fi
		;;
	ssh)
		# banger's options come before NAME; after it, the guest's command
		if [ "$nargs" -eq 0 ]; then
			if [[ $cur == -* ]]; then
				mapfile -t COMPREPLY < <(compgen -W "--help" -- "$cur")
			else
				mapfile -t COMPREPLY < <(compgen -W "$(_banger_vms)" -- "$cur")
			fi
		elif [ "$nargs" -eq 1 ] && [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "--" -- "$cur")
		fi
		;;
	cp)
		# local paths, and VM names as NAME: (the guest's paths are not listed)
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "-r --recursive --help" -- "$cur")
		elif [ "$nargs" -lt 2 ] && [[ $cur != *:* ]]; then
			compopt -o filenames -o nospace 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur"; compgen -W "$(_banger_vms | sed 's/$/:/')" -- "$cur")
		fi
		;;
	exec)
		case $prev in --session | --cwd) return 0 ;; esac
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "--session --tty -t --cwd --help --" -- "$cur")
		elif [ "$nargs" -eq 0 ]; then
			mapfile -t COMPREPLY < <(compgen -W "$(_banger_vms)" -- "$cur")
		fi
		;;
	sessions | attach)
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "--help" -- "$cur")
		elif [ "$nargs" -eq 0 ]; then
			mapfile -t COMPREPLY < <(compgen -W "$(_banger_vms)" -- "$cur")
		elif [ "$cmd" = attach ] && [ "$nargs" -eq 1 ]; then
			mapfile -t COMPREPLY < <(compgen -W "$(_banger_images "vms/${COMP_WORDS[2]}/sessions")" -- "$cur")
		fi
		;;
	console)
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "--help" -- "$cur")
		elif [ "$nargs" -eq 0 ]; then
			mapfile -t COMPREPLY < <(compgen -W "$(_banger_vms)" -- "$cur")
		fi
		;;
	port)
		# NAME, then rules (the VM's own, to remove them, are not guessed)
		if [ "$nargs" -eq 0 ] && [[ $cur != -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$(_banger_vms)" -- "$cur")
		elif [ "$nargs" -eq 0 ]; then
			mapfile -t COMPREPLY < <(compgen -W "--help" -- "$cur")
		fi
		;;
	logs)
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "-f --follow --help" -- "$cur")
		elif [ "$nargs" -eq 0 ]; then
			mapfile -t COMPREPLY < <(compgen -W "$(_banger_vms)" -- "$cur")
		fi
		;;
	start | stop | rm)
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "--help" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$(_banger_vms)" -- "$cur")
		fi
		;;
	image | kernel)
		if [ "$nargs" -eq 0 ]; then
			mapfile -t COMPREPLY < <(compgen -W "ls pull rm $([ "$cmd" = image ] && echo import) --help" -- "$cur")
		elif [ "${COMP_WORDS[2]}" = rm ]; then
			mapfile -t COMPREPLY < <(compgen -W "$(_banger_images "${cmd}s")" -- "$cur")
		fi
		;;
	completion)
		[ "$nargs" -gt 0 ] || mapfile -t COMPREPLY < <(compgen -W "bash zsh fish" -- "$cur")
		;;
	help)
		[ "$nargs" -gt 0 ] || mapfile -t COMPREPLY < <(compgen -W "$cmds" -- "$cur")
		;;
	ls | doctor)
		mapfile -t COMPREPLY < <(compgen -W "--help" -- "$cur")
		;;
	esac
	return 0
}

complete -F _banger banger
