#!/bin/bash
# The Debian packages build from a copy of the tree (so the build's clean
# never touches the checkout) with dpkg-buildpackage -us -uc -b, the symbols
# file matching the library exactly (dpkg-gensymbols at check level 4), and
# work unpacked into a scratch root, never installed system-wide: the tools'
# --version and a program built against libresync-dev.
. "$(dirname "$0")/lib.bash"
cd "$ROOT"
v=$(cat VERSION)
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)

mkdir "$TMP/src"
tar --exclude=./.git --exclude='./build*' --exclude=./bench/results -cf - . | tar -xf - -C "$TMP/src"
# A package is a release build: `make check SANITIZE=1` passes SANITIZE to
# every make below it through MAKEFLAGS, which must not reach this one.
(cd "$TMP/src" && unset MAKEFLAGS MFLAGS MAKELEVEL SANITIZE && DEB_BUILD_OPTIONS="nocheck parallel=2" DPKG_GENSYMBOLS_CHECK_LEVEL=4 \
	dpkg-buildpackage -us -uc -b) >"$TMP/build.log" 2>&1 ||
	fail "dpkg-buildpackage failed: $(tail -30 "$TMP/build.log")"
! grep -q "dpkg-gensymbols: warning" "$TMP/build.log" ||
	fail "libresync0.symbols does not match: $(grep -A20 'dpkg-gensymbols' "$TMP/build.log")"

for p in libresync0 libresync-dev resync-tools nbdkit-resync-track-filter; do
	deb=$(ls "$TMP/${p}_${v}_"*.deb 2>/dev/null) || fail "no $p package at version $v"
	dpkg-deb -x "$deb" "$TMP/root"
done
dpkg-deb -f "$TMP"/libresync-dev_"$v"_*.deb Depends | grep "libresync0 (= $v)" >/dev/null ||
	fail "libresync-dev does not depend on its library: $(dpkg-deb -f "$TMP"/libresync-dev_"$v"_*.deb Depends)"
for f in usr/bin/resync usr/bin/resync-bitmap usr/bin/resyncctl usr/bin/resyncd "usr/lib/$arch/libresync.so.0" \
	"usr/lib/$arch/libresync.so" "usr/lib/$arch/pkgconfig/resync.pc" usr/include/resync/resync.h \
	usr/share/man/man1/resyncctl.1.gz usr/share/man/man3/libresync.3.gz \
	usr/share/man/man5/resync-bitmap.5.gz usr/share/man/man8/resyncd.8.gz usr/share/bash-completion/completions/resync-bitmap \
	"usr/lib/$arch/nbdkit/filters/nbdkit-resync-track-filter.so"; do
	[ -e "$TMP/root/$f" ] || fail "the packages do not install $f"
done

export LD_LIBRARY_PATH="$TMP/root/usr/lib/$arch"
for t in resync resync-bitmap resyncctl resyncd; do
	out=$("$TMP/root/usr/bin/$t" --version) || fail "installed $t --version failed"
	[ "$out" = "$t $v
libresync $v" ] || fail "installed $t --version: $out"
done
cat >"$TMP/prog.c" <<'C'
#include <resync/resync.h>
#include <stdio.h>
int main(void) { puts(resync_version()); return 0; }
C
flags=$(PKG_CONFIG_PATH="$TMP/root/usr/lib/$arch/pkgconfig" pkg-config --define-variable=prefix="$TMP/root/usr" --cflags --libs resync)
cc "$TMP/prog.c" -o "$TMP/prog" $flags || fail "a program does not build against libresync-dev"
[ "$("$TMP/prog")" = "resync $v" ] || fail "the packaged library says $("$TMP/prog")"
ldd "$TMP/prog" | grep "$TMP/root/usr/lib/$arch/libresync.so.0" >/dev/null || fail "the program did not load the packaged library"
echo "the Debian packages build, unpack and run"
