#!/bin/bash
# Every manual page is generated from its doc/*.md source and renders without
# a single warning from groff, tbl or man (an unknown macro, a table wider
# than the line, a line troff cannot adjust), with a NAME line whatis reads.
. "$(dirname "$0")/lib.bash"
cd "$ROOT"

pages="resync.1 resyncctl.1 resync-bitmap.1 libresync.3 resync-bitmap.5 resyncd.8"
for p in $pages; do
	page=$B/man/$p
	[ -s "$page" ] || fail "$page was not built"
	# Layout warnings depend on the width: a narrow, the usual and a wide one.
	for w in 60 80 132; do
		MANWIDTH=$w man --warnings -l "$page" >"$TMP/out" 2>"$TMP/err" || fail "man -l $page failed: $(cat "$TMP/err")"
		[ ! -s "$TMP/err" ] || fail "$page renders with warnings at width $w: $(head -5 "$TMP/err")"
	done
	name=${p%.*}
	lexgrog "$page" | grep ": \"$name - " >/dev/null || fail "$page has no NAME line for whatis: $(lexgrog "$page")"
	grep -q "^\.TH \"${name^^}\" \"${p##*.}\" \"\" \"resync $(cat VERSION)\"" "$page" ||
		fail "$page does not carry its section and version: $(grep '^\.TH' "$page")"
	grep -qx "${name^^}(${p##*.}) .*" <(head -1 "$TMP/out" | tr -s ' ') || fail "$page header: $(head -1 "$TMP/out")"
done
echo "manual pages build and render cleanly"
