#!/usr/bin/env bash
# ab.sh: A/B of cairn builds on the workloads the notes' A/B tables use.
#
#   bench/ab.sh [-r ROUNDS] [-n FILES] [-t TAR] BIN...
#
# For each round, each binary in turn (so that the machine's swings fall on
# all of them alike): two bricks and a FUSE mount as processes, from the
# volfiles `cairn up` generates, on a fresh directory under $AB_DIR
# (default /var/tmp/cairn-ab; old ones are kept, because deleting them
# right before the creates slows ext4 down); then an untar of TAR (default
# a tar of /usr/include/linux) and the small-file phases of
# bench/smallfiles (FILES × 4 KiB). It prints wall time and the CPU ticks
# (1/100 s) the three processes used, per workload. Needs root and FUSE.
set -euo pipefail
rounds=2 files=5000 tarball=""
while getopts "r:n:t:" o; do
	case $o in
	r) rounds=$OPTARG ;;
	n) files=$OPTARG ;;
	t) tarball=$OPTARG ;;
	*) echo "usage: $0 [-r ROUNDS] [-n FILES] [-t TAR] BIN..." >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "usage: $0 [-r ROUNDS] [-n FILES] [-t TAR] BIN..." >&2; exit 2; }
top=${AB_DIR:-/var/tmp/cairn-ab}
mkdir -p "$top"
cd "$(dirname "$0")/.."
go build -o "$top/smallfiles" ./bench/smallfiles
if [ -z "$tarball" ]; then
	tarball=$top/linux-headers.tar
	[ -f "$tarball" ] || tar -cf "$tarball" -C /usr/include linux
fi
mnt=$top/mnt
mkdir -p "$mnt"

ticks() { # CPU ticks of the processes whose command line names $1
	local sum=0 p
	for p in $(pgrep -f -- "$1"); do
		sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo $sum
}

stop() {
	umount -l "$mnt" 2>/dev/null || true
	pkill -f -- "$top/runs/" 2>/dev/null || true
	sleep 1
}
trap stop EXIT

for round in $(seq "$rounds"); do
	for bin in "$@"; do
		stop
		run=$top/runs/$(date +%s%N)
		mkdir -p "$run"
		(cd "$run" && timeout 3 "$bin" up --dir "$run/d" --nfs "" --9p "" --port 7986 >/dev/null 2>&1 || true)
		"$bin" brick --volfile "$run/d/brick1.vol" >"$run/b1.log" 2>&1 &
		"$bin" brick --volfile "$run/d/brick2.vol" >"$run/b2.log" 2>&1 &
		sleep 1
		"$bin" mount --volfile "$run/d/cairn.vol" "$mnt" -o noatime,direct-io-mode=disable --foreground >"$run/mount.log" 2>&1 &
		for _ in $(seq 50); do mountpoint -q "$mnt" && break; sleep 0.2; done
		mountpoint -q "$mnt" || { echo "$bin: mount failed, see $run" >&2; exit 1; }
		mkdir "$mnt/untar" "$mnt/files"
		c0=$(ticks "$run/")
		s=$(date +%s.%N)
		tar -xf "$tarball" -C "$mnt/untar"
		e=$(date +%s.%N)
		c1=$(ticks "$run/")
		printf '%s round %d untar %.2f s cpu %d\n' "$(basename "$bin")" "$round" "$(echo "$e - $s" | bc)" $((c1 - c0))
		"$top/smallfiles" "$mnt/files" "$files" 4096 | while read -r line; do
			printf '%s round %d %s\n' "$(basename "$bin")" "$round" "$line"
		done
		printf '%s round %d cpu of the small-file phases %d\n' "$(basename "$bin")" "$round" $(($(ticks "$run/") - c1))
	done
done
