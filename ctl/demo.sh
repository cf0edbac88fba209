#!/bin/bash
# The control-plane half of `make demo` (called by tools/demo with a scratch
# folder): an operator's failback through resyncctl.  Registers a VM, adds two
# recovery points with change bitmaps, fails over to the latest, fails back
# to the older one with a rate limit, suspends and resumes the job, shows its
# progress and result, and checks the primary disk byte for byte.
# DEMO_CTL_SIZE sets the disk size (default 512M).
set -euo pipefail
DIR=${1:?usage: ctl/demo.sh SCRATCH_DIR}/ctl
mkdir -p "$DIR"
export RESYNC_STATE_DIR="$DIR/state"
size=$(numfmt --from=iec "${DEMO_CTL_SIZE:-512M}")
size=$(( size / 1048576 * 1048576 ))
G0=00000000000000000000000000000a00 G1=00000000000000000000000000000a01 G2=00000000000000000000000000000a02

say() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
field() { grep -o "\"$2\":[0-9]*" <<<"$1" | head -1 | cut -d: -f2; }
# Writes COUNT random 1 MiB runs into IMAGE and logs them as extents.
scribble() {
	local img=$1 count=$2 extents=$3 i off
	for ((i = 0; i < count; i++)); do
		off=$(( (RANDOM * 32768 + RANDOM) % (size / 1048576) ))
		dd if=/dev/urandom of="$img" bs=1M count=1 seek=$off conv=notrunc status=none
		echo "$(( off * 1048576 )) 1048576" >>"$extents"
	done
}

say "Generating a $(( size >> 20 )) MiB primary disk and two recovery points (in $DIR)"
RANDOM=7
head -c "$size" /dev/urandom >"$DIR/web-sys.img"
cp "$DIR/web-sys.img" "$DIR/rp-0500.img"
: >"$DIR/rp-0500.extents"
scribble "$DIR/rp-0500.img" $(( size / 1048576 / 20 )) "$DIR/rp-0500.extents"
cp "$DIR/rp-0500.img" "$DIR/rp-0600.img"
cp "$DIR/rp-0500.extents" "$DIR/rp-0600.extents"
scribble "$DIR/rp-0600.img" $(( size / 1048576 / 20 )) "$DIR/rp-0600.extents"
# The recovery site tracked writes since G0, the generation the primary holds.
for rp in rp-0500 rp-0600; do
	resync-bitmap create --size "$size" --granularity 64K --extents "$DIR/$rp.extents" \
		--generation $G0 --consistent "$DIR/$rp.rbm"
done

say "Register the VM and its recovery points"
run resyncctl vm add web --disk "sys=$DIR/web-sys.img,generation=$G0"
run resyncctl recovery-point add web rp-0500 --time 2026-11-25T05:00:00Z --type application-consistent \
	--disk "sys=$DIR/rp-0500.img,bitmap=$DIR/rp-0500.rbm,generation=$G1"
run resyncctl recovery-point add web rp-0600 --time 2026-11-25T06:00:00Z \
	--disk "sys=$DIR/rp-0600.img,bitmap=$DIR/rp-0600.rbm,generation=$G2"
run resyncctl recovery-point list web

say "The primary site is lost: fail over to the latest recovery point"
run resyncctl failover web
run resyncctl failback web --recovery-point nope || echo "(exit $?: an unknown recovery point changes nothing)"

say "The primary is back: fail back to the application-consistent rp-0500"
rate=$(( size / 20 / 4 ))
out=$(resyncctl --json failback web --recovery-point rp-0500 --settings "{\"rate_limit\": $rate, \"verify\": true}")
echo "$out"
job=$(grep -o '"Job":"[^"]*"' <<<"$out" | cut -d'"' -f4)
sleep 1
run resyncctl job suspend "$job"
sleep 0.5
st=$(resyncctl --json job show "$job")
echo "JobState $(field "$st" JobState) (5 Suspended), $(field "$st" PercentComplete) %"
run resyncctl vm show web
run resyncctl job resume "$job"
while :; do
	st=$(resyncctl --json job show "$job")
	js=$(field "$st" JobState)
	printf 'JobState %s  %3s %%  %s of %s bytes\n' "$js" "$(field "$st" PercentComplete)" \
		"$(field "$st" BytesCopied)" "$(field "$st" BytesToCopy)"
	[ "$js" -ge 7 ] && break
	sleep 0.5
done
run resyncctl job wait "$job"
run resyncctl vm show web
cmp "$DIR/web-sys.img" "$DIR/rp-0500.img" && echo "cmp: web-sys.img is byte-identical to rp-0500"
