#!/bin/sh
# packaging/build-deb.sh [OUTDIR]: builds the Debian package from a clean copy
# of the tree and checks it with lintian.
#   - the copy is `git archive` of HEAD plus the tracked files' uncommitted
#     changes (git stash create), so no build directory, generated autotools
#     file or stray file of the checkout gets in;
#   - packaging/debian becomes the copy's debian/ (the top-level layout has no
#     debian/ directory);
#   - dpkg-buildpackage -us -uc -b builds faultline_VERSION_ARCH.deb;
#   - lintian must report no error (warnings and infos are printed).
# Output in OUTDIR (default _build-deb, removed first).  Needs the packages of
# scripts/deps.sh (debhelper, lintian and the build dependencies).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/_build-deb}
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
if ! git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
    echo "build-deb.sh: $top is not a git checkout (the clean copy is made with git archive)" >&2
    exit 1
fi
version=$(dpkg-parsechangelog -l "$top/packaging/debian/changelog" -S Version)
upstream=${version%-*}
ref=$(git -C "$top" stash create 2>/dev/null || true)
ref=${ref:-HEAD}
rm -rf "$out"
mkdir -p "$out"
src=$out/faultline-$upstream
git -C "$top" archive --format=tar --prefix="faultline-$upstream/" "$ref" | tar -x -C "$out"
cp -R "$src/packaging/debian" "$src/debian"
echo "build-deb.sh: building faultline $version from $(git -C "$top" rev-parse --short HEAD)${ref#HEAD} in $src"
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 || {
    tail -60 "$out/build.log" >&2
    echo "build-deb.sh: dpkg-buildpackage failed (log: $out/build.log)" >&2
    exit 1
}
deb=$(ls "$out"/faultline_"$version"_*.deb)
echo "build-deb.sh: built $deb"
# lintian: errors fail the build; everything else is shown.
lintian --fail-on error --info --display-info "$deb" >"$out/lintian.log" 2>&1 || {
    cat "$out/lintian.log" >&2
    echo "build-deb.sh: lintian reports errors" >&2
    exit 1
}
errors=$(grep -c '^E:' "$out/lintian.log" || true)
warnings=$(grep -c '^W:' "$out/lintian.log" || true)
echo "build-deb.sh: lintian: $errors error(s), $warnings warning(s)"
cat "$out/lintian.log"
