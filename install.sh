#!/bin/sh
# Installs git-dispatch into $PREFIX/bin (default ~/.local/bin) with its man page and shell
# completions under $PREFIX/share, then the hook into each clone given, with the guided
# setup on a terminal. Safe to run twice.
#
#   curl -fsSL https://github.com/git-dispatch/git-dispatch/releases/latest/download/install.sh | sh -s -- ~/blog
#   ./install.sh ~/blog                  in a checkout with cargo: builds from source
#
#   --prebuilt      download the release binary even in a checkout with cargo
#   --version X     that release (default: the latest); implies --prebuilt
#
# A prebuilt archive is checked against its .sha256 (sha256sum, or shasum -a 256 as on
# macOS) before anything is installed: never an unverified binary.
# GIT_DISPATCH_DOWNLOAD_URL replaces where one release's files are found (the address
# under which <archive> and <archive>.sha256 sit side by side): a mirror, a copy, a test.
# CARGO_TARGET_DIR is honoured as cargo honours it when building from source.
set -eu

# Where the project lives: Cargo.toml's `repository` (a test holds the two together).
HOME_URL=https://github.com/git-dispatch/git-dispatch

PREFIX=${PREFIX:-"$HOME/.local"}
# A checkout only when run as a file: piped into sh, $0 is the shell, and the current
# directory (whatever it holds) is no reason to build from source.
case $0 in
*/install.sh | install.sh) here=$(cd "$(dirname "$0")" && pwd) ;;
*) here= ;;
esac

say() { echo "install.sh: $*"; }
die() {
	echo "install.sh: $*" >&2
	exit 2
}

prebuilt=
version=
while [ $# -gt 0 ]; do
	case $1 in
	--prebuilt) prebuilt=1 ;;
	--version)
		[ $# -ge 2 ] || die "--version needs a version, e.g. --version 0.2.0"
		version=${2#v}
		prebuilt=1
		shift
		;;
	--version=*)
		version=${1#--version=}
		version=${version#v}
		prebuilt=1
		;;
	--help | -h)
		cat <<USAGE
usage: install.sh [--prebuilt] [--version X] [CLONE...]
Installs git-dispatch into \$PREFIX/bin (default ~/.local/bin) with its man page and
completions, then the hook into each CLONE, with the guided setup on a terminal.
  --prebuilt   download the release binary even in a checkout with cargo
  --version X  that release (default: the latest); implies --prebuilt
The archive is checked against its .sha256 before anything is installed.
GIT_DISPATCH_DOWNLOAD_URL: where one release's files are (a mirror, a copy).
USAGE
		exit 0
		;;
	--) shift && break ;;
	-*) die "unknown option $1 (--prebuilt, --version X)" ;;
	*) break ;;
	esac
	shift
done

# put SRC DEST MODE: copy then rename, so nothing ever runs or reads half a file (a waiter
# may be running the old binary right now).
put() {
	mkdir -p "$(dirname "$2")"
	cp "$1" "$2.new.$$"
	chmod "$3" "$2.new.$$"
	mv -f "$2.new.$$" "$2"
}

# The release's name for this machine: the OS and CPU from uname; Apple silicon also when
# this shell runs under Rosetta; the static musl build on every Linux.
target_triple() {
	os=$(uname -s)
	cpu=$(uname -m)
	case $os in
	Darwin)
		if [ "$cpu" = x86_64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || true)" = 1 ]; then
			cpu=arm64
		fi
		case $cpu in
		arm64 | aarch64) echo aarch64-apple-darwin ;;
		x86_64) echo x86_64-apple-darwin ;;
		*) return 1 ;;
		esac
		;;
	Linux)
		case $cpu in
		x86_64 | amd64) echo x86_64-unknown-linux-musl ;;
		aarch64 | arm64) echo aarch64-unknown-linux-musl ;;
		*) return 1 ;;
		esac
		;;
	*) return 1 ;;
	esac
}

# fetch URL FILE: fails (and says so) on any HTTP error.
fetch() {
	if command -v curl >/dev/null 2>&1; then
		case $1 in
		https:*) curl --proto '=https' --proto-redir '=https' -fsSL --retry 2 -o "$2" "$1" ;;
		*) curl -fsSL --retry 2 -o "$2" "$1" ;;
		esac
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" "$1"
	else
		die "neither curl nor wget is installed; install one, then run this again"
	fi
}

sha256_of() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d ' ' -f 1
	elif command -v shasum >/dev/null 2>&1; then
		shasum -a 256 "$1" | cut -d ' ' -f 1
	else
		return 1
	fi
}

in_checkout() {
	[ -n "$here" ] && [ -f "$here/Cargo.toml" ] && [ -f "$here/src/main.rs" ] &&
		grep -q '^name = "git-dispatch"' "$here/Cargo.toml"
}

if [ -z "$prebuilt" ] && in_checkout && command -v cargo >/dev/null 2>&1; then
	target_dir=${CARGO_TARGET_DIR:-"$here/target"}
	say "building the release binary (about a minute the first time)"
	cargo build --release --locked --manifest-path "$here/Cargo.toml"
	binary=$target_dir/release/git-dispatch
	man=$here/doc/git-dispatch.1
	bash_completion=$here/completions/git-dispatch.bash
	zsh_completion=$here/completions/_git-dispatch
else
	triple=$(target_triple) ||
		die "no prebuilt binary for $(uname -s) $(uname -m); build from source: $HOME_URL#install"
	archive=git-dispatch-$triple.tar.gz
	if [ -n "${GIT_DISPATCH_DOWNLOAD_URL:-}" ]; then
		base=${GIT_DISPATCH_DOWNLOAD_URL%/}
	elif [ -n "$version" ]; then
		base=$HOME_URL/releases/download/v$version
	else
		base=$HOME_URL/releases/latest/download
	fi
	work=$(mktemp -d 2>/dev/null || mktemp -d -t git-dispatch)
	trap 'rm -rf "$work"' EXIT
	# dash runs no EXIT trap on death by a signal: exit, so it does.
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	say "downloading $base/$archive"
	fetch "$base/$archive" "$work/$archive" || die "could not download $base/$archive"
	fetch "$base/$archive.sha256" "$work/$archive.sha256" ||
		die "could not download $archive.sha256, so the archive cannot be checked; nothing installed"
	expected=$(cut -d ' ' -f 1 <"$work/$archive.sha256" | tr 'A-F' 'a-f')
	actual=$(sha256_of "$work/$archive") ||
		die "neither sha256sum nor shasum is installed, so the archive cannot be checked; install one (coreutils or perl), then run this again; nothing installed"
	case $expected in
	'' | *[!0-9a-f]*) die "$archive.sha256 holds no SHA-256; nothing installed" ;;
	esac
	[ "$actual" = "$expected" ] ||
		die "$archive does not match its .sha256 (got $actual, want $expected): a damaged or altered download; nothing installed"
	say "checked $archive against its .sha256"
	mkdir "$work/x"
	(cd "$work/x" && gzip -dc "../$archive" | tar xf -) || die "could not unpack $archive; nothing installed"
	dir=$work/x/git-dispatch-$triple
	binary=$dir/git-dispatch
	man=$dir/git-dispatch.1
	bash_completion=$dir/completions/git-dispatch.bash
	zsh_completion=$dir/completions/_git-dispatch
	for f in "$binary" "$man" "$bash_completion" "$zsh_completion"; do
		[ -f "$f" ] || die "$archive lacks ${f#"$dir"/}; nothing installed"
	done
fi

# Read-only, so the hook can be a link to it: a tool that writes .git/hooks/pre-push
# (git lfs update --force, an editor) then fails instead of writing into the binary.
# Upgrades still replace it, by rename.
bin="$PREFIX/bin/git-dispatch"
put "$binary" "$bin" 555
say "installed $bin"

share="$PREFIX/share"
put "$man" "$share/man/man1/git-dispatch.1" 644
put "$bash_completion" "$share/bash-completion/completions/git-dispatch" 644
put "$zsh_completion" "$share/zsh/site-functions/_git-dispatch" 644
say "installed the man page (git dispatch --help) and bash and zsh completions under $share"

# Said before the setup, whose closing commands need `git dispatch` on PATH.
case ":$PATH:" in
*":$PREFIX/bin:"*) ;;
*) say "add $PREFIX/bin to your PATH so that \`git dispatch\` works: in ~/.profile (or ~/.zshrc), export PATH=\"$PREFIX/bin:\$PATH\"" ;;
esac

# The hook, then the guided setup (the binary's own, on a terminal). Piped into sh, this
# script's standard input is the script itself: the setup reads the terminal instead.
status=0
for clone in "$@"; do
	if [ -t 0 ]; then
		(cd "$clone" && "$bin" install) || status=1
	elif [ -t 2 ] && (: </dev/tty) 2>/dev/null; then
		(cd "$clone" && "$bin" install </dev/tty) || status=1
	else
		(cd "$clone" && "$bin" install </dev/null) || status=1
	fi
done

# bash-completion's loader looks in its user directory (and git's completion asks it for
# "git-dispatch" when `git dispatch` is completed); elsewhere the file must be sourced.
if [ "$share" = "${XDG_DATA_HOME:-$HOME/.local/share}" ]; then
	say "bash-completion loads the bash completion by itself; without it, add to ~/.bashrc:"
else
	say "for bash completion, add to ~/.bashrc:"
fi
echo "    . $share/bash-completion/completions/git-dispatch"
say "zsh completion: in ~/.zshrc, before compinit: fpath=($share/zsh/site-functions \$fpath)"
exit "$status"
