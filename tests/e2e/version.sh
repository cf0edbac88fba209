#!/bin/bash
# One version number, in VERSION: debian/changelog, NEWS, the header's
# RESYNC_VERSION_MAJOR/MINOR, resync.pc, the man pages and every --version
# (options-*.sh check the tools) say the same.
. "$(dirname "$0")/lib.bash"
cd "$ROOT"
v=$(cat VERSION)
[[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "VERSION is not X.Y.Z: $v"
deb=$(dpkg-parsechangelog -S Version)
[ "$deb" = "$v" ] || fail "debian/changelog is at $deb, VERSION at $v"
news=$(grep -m1 -Ex '[0-9]+\.[0-9]+\.[0-9]+' NEWS)
[ "$news" = "$v" ] || fail "NEWS starts with $news, VERSION is $v"
major=$(awk '$2 == "RESYNC_VERSION_MAJOR" {print $3}' engine/include/resync/resync.h)
minor=$(awk '$2 == "RESYNC_VERSION_MINOR" {print $3}' engine/include/resync/resync.h)
[ "$major.$minor" = "${v%.*}" ] || fail "resync.h says $major.$minor, VERSION $v"
grep -qx "Version: $v" "$B/resync.pc" || fail "resync.pc: $(grep Version "$B/resync.pc")"
grep -q "^\.TH \"RESYNC\" \"1\" \"\" \"resync $v\"" "$B/man/resync.1" || fail "resync(1) is not at $v"
echo "one version: $v"
