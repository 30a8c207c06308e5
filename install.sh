#!/bin/sh
# Builds git-dispatch, installs it into $PREFIX/bin (default ~/.local/bin), and installs the
# hook into each clone given. Safe to run twice.
#
#   ./install.sh                 install the binary only
#   ./install.sh ~/blog-content  ... and the hook into that clone (asks for the target and a
#                                token when run on a terminal and the clone has no target yet)
set -eu

PREFIX=${PREFIX:-"$HOME/.local"}
here=$(cd "$(dirname "$0")" && pwd)

command -v cargo >/dev/null 2>&1 || {
	echo "install.sh: cargo not found; install Rust (https://rustup.rs), then run this again" >&2
	exit 2
}

echo "install.sh: building the release binary (about a minute the first time)"
cargo build --release --locked --manifest-path "$here/Cargo.toml"

mkdir -p "$PREFIX/bin"
bin="$PREFIX/bin/git-dispatch"
# Copy then rename: a waiter may be running the old binary right now.
cp "$here/target/release/git-dispatch" "$bin.new.$$"
chmod 755 "$bin.new.$$"
mv -f "$bin.new.$$" "$bin"
echo "install.sh: installed $bin"

has_target() {
	git -C "$1" config --get-regexp '^dispatch\..*\.repository$' >/dev/null 2>&1 && return 0
	top=$(git -C "$1" rev-parse --show-toplevel 2>/dev/null) || return 1
	[ -f "$top/.gitdispatch" ] &&
		git config --file "$top/.gitdispatch" --get-regexp '^dispatch\..*\.repository$' >/dev/null 2>&1
}

for clone in "$@"; do
	(cd "$clone" && "$bin" install)
	if has_target "$clone"; then
		continue
	fi
	if [ -t 0 ]; then
		printf 'install.sh: target repository for %s (owner/repo, the site to rebuild): ' "$clone"
		read -r target
		(cd "$clone" && "$bin" add "$target")
		echo "install.sh: paste a fine-grained token with Contents: read and write on $target"
		(cd "$clone" && "$bin" login)
	else
		echo "install.sh: $clone has no target yet; finish with:"
		echo "    cd $clone && git dispatch add OWNER/SITE && git dispatch login < token.txt"
	fi
done

case ":$PATH:" in
*":$PREFIX/bin:"*) ;;
*) echo "install.sh: add $PREFIX/bin to your PATH so that \`git dispatch\` works" ;;
esac
