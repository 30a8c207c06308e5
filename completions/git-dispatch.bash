# bash completion for git-dispatch, as `git dispatch …` and as `git-dispatch …`.
#
# git's own completion calls _git_dispatch for `git dispatch …`; when that function is not
# defined yet, it asks bash-completion's loader for "git-dispatch", which finds this file
# installed as .../share/bash-completion/completions/git-dispatch. Without bash-completion,
# source this file from ~/.bashrc (after git's completion, if you use it):
#
#     . ~/.local/share/bash-completion/completions/git-dispatch
#
# Inside git's completion, __gitcomp and __git are used (they honour `git -C DIR`);
# without them, plain compgen and git. Works with bash 3.2 (macOS).

# The subcommands `git-dispatch --help` lists; `hook pre-push`, which only the installed
# shim calls (main.rs takes it before clap), is not offered.
__git_dispatch_commands() {
	printf '%s\n' install uninstall add remove list login logout send status watch retry drop \
		doctor trust help
}

# git, through git's completion helper when it is loaded (it applies `git -C DIR`).
__git_dispatch_git() {
	if declare -F __git >/dev/null 2>&1; then
		__git "$@"
	else
		command git "$@" 2>/dev/null
	fi
}

# Target names: [dispatch "<name>"] sections with a repository, from the clone's own
# config and the committed .gitdispatch (never global config, which git-dispatch ignores).
__git_dispatch_targets() {
	local top
	{
		__git_dispatch_git config --local --name-only --get-regexp '^dispatch\..*\.repository$'
		if top=$(__git_dispatch_git rev-parse --show-toplevel) && [ -f "$top/.gitdispatch" ]; then
			__git_dispatch_git config --file "$top/.gitdispatch" --name-only \
				--get-regexp '^dispatch\..*\.repository$'
		fi
	} | sed -n 's/^dispatch\.\(.*\)\.repository$/\1/p' | sort -u
}

# The owners of the targets' repositories (dispatch.<name>.repository = owner/repo).
__git_dispatch_owners() {
	local top
	{
		__git_dispatch_git config --local --get-regexp '^dispatch\..*\.repository$'
		if top=$(__git_dispatch_git rev-parse --show-toplevel) && [ -f "$top/.gitdispatch" ]; then
			__git_dispatch_git config --file "$top/.gitdispatch" \
				--get-regexp '^dispatch\..*\.repository$'
		fi
	} | sed -n 's|^[^ ]* \([^/]*\)/.*$|\1|p' | sort -u
}

# Entry ids: the file names in <common git dir>/dispatch/pending/, without .json.
__git_dispatch_ids() {
	local dir file
	dir=$(__git_dispatch_git rev-parse --path-format=absolute --git-common-dir) || return 0
	case $dir in
	/*) ;;
	*) return 0 ;;
	esac
	for file in "$dir"/dispatch/pending/*.json; do
		[ -f "$file" ] || continue
		file=${file##*/}
		printf '%s\n' "${file%.json}"
	done
}

# Prints the candidates for word CWORD, where the subcommand is at index FIRST or later:
#   __git_dispatch_candidates FIRST CWORD WORD0 WORD1 …
__git_dispatch_candidates() {
	local first=$1 cword=$2
	shift 2
	local -a w
	w=("$@")
	local cur=${w[cword]} prev=${w[cword - 1]} sub="" i
	for ((i = first; i < cword; i++)); do
		case ${w[i]} in
		-*) ;;
		*)
			sub=${w[i]}
			break
			;;
		esac
	done
	if [ -z "$sub" ]; then
		case $cur in
		-*) printf '%s\n' --help --version ;;
		*) __git_dispatch_commands ;;
		esac
		return 0
	fi
	# Words after the subcommand that are not options: positional arguments so far.
	local positional=0
	for ((i = i + 1; i < cword; i++)); do
		case ${w[i]} in
		--name | --event | --branch | --remote | --workflow | --paths | --host | --owner | --hook | --netlify) i=$((i + 1)) ;;
		-*) ;;
		*) positional=$((positional + 1)) ;;
		esac
	done
	case $sub in
	add)
		case $prev in
		--remote)
			__git_dispatch_git remote
			return 0
			;;
		--branch)
			__git_dispatch_git for-each-ref --format='%(refname:short)' refs/heads
			return 0
			;;
		--name | --event | --workflow | --paths | --hook | --netlify) return 0 ;;
		esac
		case $cur in
		-*) printf '%s\n' --name --event --branch --remote --workflow --paths --shared --hook --netlify --help ;;
		esac
		;;
	remove)
		case $cur in
		-*) printf '%s\n' --help ;;
		*) [ "$positional" -eq 0 ] && __git_dispatch_targets ;;
		esac
		;;
	send)
		case $cur in
		-*) printf '%s\n' --dry-run --help ;;
		*) __git_dispatch_targets ;;
		esac
		;;
	watch)
		case $cur in
		-*) printf '%s\n' --help ;;
		*) __git_dispatch_targets ;;
		esac
		;;
	drop)
		case $cur in
		-*) printf '%s\n' --help ;;
		*) [ "$positional" -eq 0 ] && __git_dispatch_ids ;;
		esac
		;;
	login | logout)
		case $prev in
		--host)
			printf '%s\n' api.github.com
			return 0
			;;
		--owner)
			__git_dispatch_owners
			return 0
			;;
		esac
		case $cur in
		-*) printf '%s\n' --host --owner --netlify --help ;;
		esac
		;;
	install)
		case $cur in
		-*) printf '%s\n' --force --help ;;
		esac
		;;
	status)
		case $cur in
		-*) printf '%s\n' --json --refresh --help ;;
		esac
		;;
	uninstall | list | retry | doctor | trust)
		case $cur in
		-*) printf '%s\n' --help ;;
		esac
		;;
	help)
		[ "$positional" -eq 0 ] && __git_dispatch_commands
		;;
	esac
	return 0
}

# COMPREPLY from newline-separated candidates, filtered by the current word.
__git_dispatch_reply() {
	local cur=$1 candidates=$2 line
	COMPREPLY=()
	while IFS= read -r line; do
		[ -n "$line" ] && COMPREPLY+=("$line")
	done <<EOF
$(compgen -W "$candidates" -- "$cur")
EOF
}

# `git dispatch …`: called by git's completion, which sets words, cword, cur and
# __git_cmd_idx; also works on its own from COMP_WORDS and COMP_CWORD.
# shellcheck disable=SC2154 # words and cword are the caller's (git's completion)
_git_dispatch() {
	local -a _gd_words
	local _gd_cword _gd_first="" _gd_candidates i
	if [ -n "${cword-}" ] && [ "${#words[@]}" -gt 0 ] 2>/dev/null; then
		_gd_words=("${words[@]}")
		_gd_cword=$cword
	else
		_gd_words=("${COMP_WORDS[@]}")
		_gd_cword=$COMP_CWORD
	fi
	if [ -n "${__git_cmd_idx-}" ]; then
		_gd_first=$((__git_cmd_idx + 1))
	else
		for ((i = 1; i < _gd_cword; i++)); do
			if [ "${_gd_words[i]}" = dispatch ]; then
				_gd_first=$((i + 1))
				break
			fi
		done
	fi
	[ -n "$_gd_first" ] || _gd_first=2
	_gd_candidates=$(__git_dispatch_candidates "$_gd_first" "$_gd_cword" "${_gd_words[@]}")
	if declare -F __gitcomp_nl >/dev/null 2>&1 && [ -n "${cur+set}" ]; then
		# git's helpers: they match against $cur and add the trailing space.
		__gitcomp_nl "$_gd_candidates"
	else
		__git_dispatch_reply "${_gd_words[_gd_cword]}" "$_gd_candidates"
	fi
}

# `git-dispatch …`.
_git_dispatch_standalone() {
	local candidates
	candidates=$(__git_dispatch_candidates 1 "$COMP_CWORD" "${COMP_WORDS[@]}")
	__git_dispatch_reply "${COMP_WORDS[COMP_CWORD]}" "$candidates"
}

complete -F _git_dispatch_standalone git-dispatch
