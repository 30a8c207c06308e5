#!/bin/sh
# Builds git-dispatch, installs it into $PREFIX/bin (default ~/.local/bin) with its man page
# and shell completions under $PREFIX/share, and installs the hook into each clone given.
# Safe to run twice.
#
#   ./install.sh                 install the binary, man page and completions only
#   ./install.sh ~/blog-content  ... and the hook into that clone (asks for the target and a
#                                token when run on a terminal and the clone has no target yet)
#
# CARGO_TARGET_DIR is honoured as cargo honours it: the binary is taken from
# ${CARGO_TARGET_DIR:-<this checkout>/target}/release/git-dispatch.
set -eu

PREFIX=${PREFIX:-"$HOME/.local"}
here=$(cd "$(dirname "$0")" && pwd)
target_dir=${CARGO_TARGET_DIR:-"$here/target"}

command -v cargo >/dev/null 2>&1 || {
	echo "install.sh: cargo not found; install Rust (https://rustup.rs), then run this again" >&2
	exit 2
}

echo "install.sh: building the release binary (about a minute the first time)"
cargo build --release --locked --manifest-path "$here/Cargo.toml"

# put SRC DEST MODE: copy then rename, so nothing ever runs or reads half a file (a waiter
# may be running the old binary right now).
put() {
	mkdir -p "$(dirname "$2")"
	cp "$1" "$2.new.$$"
	chmod "$3" "$2.new.$$"
	mv -f "$2.new.$$" "$2"
}

# Read-only, so the hook can be a link to it: a tool that writes .git/hooks/pre-push
# (git lfs update --force, an editor) then fails instead of writing into the binary.
# Upgrades still replace it, by rename.
bin="$PREFIX/bin/git-dispatch"
put "$target_dir/release/git-dispatch" "$bin" 555
echo "install.sh: installed $bin"

share="$PREFIX/share"
put "$here/doc/git-dispatch.1" "$share/man/man1/git-dispatch.1" 644
put "$here/completions/git-dispatch.bash" "$share/bash-completion/completions/git-dispatch" 644
put "$here/completions/_git-dispatch" "$share/zsh/site-functions/_git-dispatch" 644
echo "install.sh: installed the man page (git dispatch --help) and bash and zsh completions under $share"

# Targets count only from the clone's own config and .gitdispatch, as git-dispatch reads them.
has_target() {
	git -C "$1" config --local --get-regexp '^dispatch\..*\.repository$' >/dev/null 2>&1 && return 0
	top=$(git -C "$1" rev-parse --show-toplevel 2>/dev/null) || return 1
	[ -f "$top/.gitdispatch" ] &&
		git config --file "$top/.gitdispatch" --get-regexp '^dispatch\..*\.repository$' >/dev/null 2>&1
}

status=0
for clone in "$@"; do
	(cd "$clone" && "$bin" install)
	if has_target "$clone"; then
		continue
	fi
	target=
	if [ -t 0 ]; then
		printf 'install.sh: target repository for %s (owner/repo, the site to rebuild): ' "$clone"
		read -r target || true
	fi
	if [ -z "$target" ]; then
		echo "install.sh: $clone has no target yet; finish with:"
		echo "    cd $clone && git dispatch add OWNER/SITE && git dispatch login < token.txt"
		continue
	fi
	if ! (cd "$clone" && "$bin" add "$target"); then
		echo "install.sh: finish with: cd $clone && git dispatch add OWNER/SITE && git dispatch login"
		status=1
		continue
	fi
	echo "install.sh: paste a fine-grained token with Contents: read and write on $target"
	# A refused token leaves the target in place, so a second run would not ask again: say how.
	if ! (cd "$clone" && "$bin" login); then
		echo "install.sh: no token stored; finish with: cd $clone && git dispatch login"
		status=1
	fi
done

case ":$PATH:" in
*":$PREFIX/bin:"*) ;;
*) echo "install.sh: add $PREFIX/bin to your PATH so that \`git dispatch\` works" ;;
esac
# bash-completion's loader looks in its user directory (and git's completion asks it for
# "git-dispatch" when `git dispatch` is completed); elsewhere the file must be sourced.
if [ "$share" = "${XDG_DATA_HOME:-$HOME/.local/share}" ]; then
	echo "install.sh: bash-completion loads the bash completion by itself; without it, add to ~/.bashrc:"
else
	echo "install.sh: for bash completion, add to ~/.bashrc:"
fi
echo "    . $share/bash-completion/completions/git-dispatch"
echo "install.sh: zsh completion: in ~/.zshrc, before compinit: fpath=($share/zsh/site-functions \$fpath)"
exit "$status"
