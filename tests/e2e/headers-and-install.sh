#!/bin/bash
# Header hygiene and the installed library: each public header compiles
# alone as C99 pedantic and as C++; the shared library exports only resync_*
# under its version node; `make install DESTDIR=` installs library, headers,
# pkg-config file, tools and man pages, and a program builds against them.
. "$(dirname "$0")/lib.bash"
cd "$ROOT"

for h in engine/include/resync/resync.h uapi/resync/*.h; do
	inc="#include <resync/$(basename "$h")>
int header_test_unit;"
	printf "$inc\n" | cc -std=c99 -pedantic -Wall -Wextra -Werror -Iengine/include -Iuapi -x c -fsyntax-only - ||
		fail "$h does not compile alone as C99"
	printf "$inc\n" | c++ -std=c++11 -pedantic -Wall -Wextra -Werror -Iengine/include -Iuapi -x c++ -fsyntax-only - ||
		fail "$h does not compile alone as C++"
done

so=$(ls "$B"/libresync.so.*.*.* | head -1)
bad=$(nm -D --defined-only "$so" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^resync_' | grep -v '^RESYNC_' || true)
[ -z "$bad" ] || fail "the shared library exports more than resync_*: $bad"
# grep reads everything (no -q): under pipefail, a writer cut off by an
# early exit dies of SIGPIPE and fails the check it just passed.
objdump -T "$so" | grep -E 'RESYNC_0\.1[[:space:]]+resync_run$' >/dev/null || fail "resync_run is not under the RESYNC_0.1 node"
readelf -d "$so" | grep 'SONAME.*libresync.so.0' >/dev/null || fail "soname is not libresync.so.0"

make -s install B="$B" PREFIX=/usr DESTDIR="$TMP/root" >/dev/null
for f in usr/lib/libresync.a usr/lib/libresync.so.0 usr/include/resync/resync.h \
	usr/include/resync/change_bitmap.h usr/include/resync/return_codes.h \
	usr/lib/pkgconfig/resync.pc usr/bin/resync usr/bin/resyncctl usr/share/man/man1/resync.1 \
	usr/share/man/man3/libresync.3 usr/share/man/man5/resync-bitmap.5 usr/bin/resyncd usr/share/man/man8/resyncd.8 \
	usr/share/bash-completion/completions/resyncctl; do
	[ -e "$TMP/root/$f" ] || fail "make install did not install $f"
done
cat >"$TMP/prog.c" <<'C'
#include <resync/resync.h>
#include <stdio.h>
int main(void) { resync *r = resync_new(); puts(resync_version()); resync_free(r); return 0; }
C
flags=$(PKG_CONFIG_PATH="$TMP/root/usr/lib/pkgconfig" pkg-config --define-variable=prefix="$TMP/root/usr" --cflags --libs resync)
# A sanitized library needs its runtime linked into the program too.
san=
[ "$B" = build-san ] && san="-fsanitize=address,undefined"
cc $san "$TMP/prog.c" -o "$TMP/prog" $flags ||
	fail "a program does not build against the installed library"
[ "$(LD_LIBRARY_PATH="$TMP/root/usr/lib" "$TMP/prog")" = "resync $(cat VERSION)" ] || fail "installed library does not run"
echo "headers, exports and install are clean"
