# shellcheck shell=sh
# scripts/common.sh -- what the README's two commands (scripts/demo.sh,
# scripts/test.sh) share.  POSIX sh; source it, then call:
#
#   fl_as_root PROG "$0" "$@"  re-runs the script with sudo when not root (a
#                              fresh Debian installed with a root password has
#                              no sudo: then it says how to run it as root)
#   fl_unconfigure_source PROG DIR
#                              an in-tree ./configure makes every out-of-tree
#                              build fail ("source directory already
#                              configured"): undo it with make distclean
#   fl_build PROG DIR BUILDDIR [CONFIGURE-ARGS...]
#                              bootstrap if needed, configure BUILDDIR out of
#                              tree if needed and make; a build dir left
#                              broken by an interrupted run is started afresh

fl_as_root() {
	_prog=$1
	shift
	[ "$(id -u)" = 0 ] && return 0
	if command -v sudo >/dev/null 2>&1; then
		echo "$_prog: not root: re-running it with sudo" >&2
		exec sudo -- "$@"
	fi
	echo "$_prog: needs root (it installs packages with apt-get and runs a private Postfix)," >&2
	echo "$_prog: and sudo is not installed: run it as root, e.g. su -c '$*'" >&2
	exit 1
}

fl_unconfigure_source() {
	_prog=$1 _src=$2
	[ -f "$_src/config.status" ] || return 0
	echo "$_prog: the source tree was configured in place; undoing it (make distclean)" >&2
	if [ -f "$_src/Makefile" ]; then
		(cd "$_src" && make -s distclean >/dev/null 2>&1) || true
	fi
	# a half-configured tree has config.status but no Makefile
	rm -f "$_src/config.status" "$_src/config.h" "$_src/config.log" "$_src/stamp-h1"
}

fl_build() {
	_prog=$1 _src=$2 _bdir=$3
	shift 3
	fl_unconfigure_source "$_prog" "$_src"
	if [ ! -x "$_src/configure" ] || [ ! -f "$_src/Makefile.in" ]; then
		echo "+ autoreconf -fi"
		(cd "$_src" && autoreconf -fi) || return 1
	fi
	for _try in 1 2; do
		if [ -f "$_bdir/Makefile" ] ||
			{ rm -rf "$_bdir" && mkdir -p "$_bdir" &&
				echo "+ cd $_bdir && ../configure --quiet $*" &&
				(cd "$_bdir" && "$_src/configure" --quiet "$@"); }; then
			echo "+ make (in $_bdir)"
			(cd "$_bdir" && make -s -j"$(nproc 2>/dev/null || echo 2)") && return 0
		fi
		[ "$_try" = 1 ] && echo "$_prog: the build in $_bdir failed; starting it afresh" >&2
		rm -rf "$_bdir"
	done
	return 1
}
