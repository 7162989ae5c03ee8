#!/usr/bin/env bash
# replica.sh: replica 2 against one brick, for cairn and for GlusterFS, in
# the same run, through FUSE (issue #3's benchmark, with GlusterFS's own
# ratio on the same machine beside it).
#
#   bench/replica.sh [-r ROUNDS] [-s SIZE] [-n FILES] [BIN]
#
# Four mounts: cairn replica 2 and cairn single brick (BIN, default
# bin/cairn; the client volfile `cairn up` generates, and the same with
# brick 1 in place of cluster/replicate), GlusterFS replica 2 and GlusterFS
# single brick (Debian's GlusterFS, `bash bench/deps.sh --gluster`; left out
# with a note when it is not installed). Every brick is a directory on the
# same file system, as in `make bench`. Each round runs every workload on
# the four mounts in a rotating order (the machine drifts; no mount always
# goes first):
#
#   write   fio sequential write of SIZE (default 1G), bs=1M, end_fsync=1,
#           fallocate=none, as `make bench`
#   read    fio sequential read of that file after drop_caches and a
#           remount (cold)
#   create  bench/smallfiles' create phase, FILES (default 2000) x 4 KiB
#
# It prints every sample, then per system and workload the median of the
# rounds and replica/single. Needs root, FUSE and fio. Everything it starts
# is stopped on exit.
set -euo pipefail
rounds=3 size=1G files=2000
while getopts "r:s:n:" o; do
	case $o in
	r) rounds=$OPTARG ;;
	s) size=$OPTARG ;;
	n) files=$OPTARG ;;
	*) echo "usage: $0 [-r ROUNDS] [-s SIZE] [-n FILES] [BIN]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-bin/cairn}")
[ -x "$bin" ] || { echo "replica.sh: no cairn binary at $bin (make build)" >&2; exit 1; }
command -v fio >/dev/null || { echo "replica.sh: fio is not installed (bash bench/deps.sh)" >&2; exit 1; }
top=${REPLICA_DIR:-/var/tmp/cairn-replica}
gl_host=127.0.0.2
gl_vols="cairnrep-r cairnrep-s"
glusterd_pid=""
mkdir -p "$top"
go build -o "$top/smallfiles" ./bench/smallfiles

gl() { timeout 60 gluster --mode=script "$@"; }

stop() {
	local m
	for m in "$top"/mnt/*; do
		[ -d "$m" ] && { umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; }
	done
	pkill -f -- "$top/cairn/" 2>/dev/null || true
	if [ -n "$glusterd_pid" ]; then
		local v
		for v in $gl_vols; do
			gl volume stop "$v" force >/dev/null 2>&1 || true
			gl volume delete "$v" >/dev/null 2>&1 || true
		done
		kill "$glusterd_pid" 2>/dev/null || true
		wait "$glusterd_pid" 2>/dev/null || true
		# Bricks and clients of our volumes only (their command lines name them).
		local p
		for p in $(pgrep -f -- "cairnrep-" || true); do
			kill "$p" 2>/dev/null || true
		done
	fi
}
trap stop EXIT

# cairn: two `cairn up` sets, the replicated one (two bricks) and one whose
# brick 1 serves the single-brick volume.
cairn_up() {
	rm -rf "$top/cairn"
	local set port
	for set in r:7986 s:7990; do
		port=${set#*:}
		set=${set%%:*}
		mkdir -p "$top/cairn/$set"
		(cd "$top/cairn/$set" && timeout 3 "$bin" up --dir "$top/cairn/$set/d" --nfs "" --9p "" --port "$port" >/dev/null 2>&1 || true)
		"$bin" brick --volfile "$top/cairn/$set/d/brick1.vol" >"$top/cairn/$set/b1.log" 2>&1 &
		if [ "$set" = r ]; then
			"$bin" brick --volfile "$top/cairn/$set/d/brick2.vol" >"$top/cairn/$set/b2.log" 2>&1 &
		fi
	done
	# The same client stack with brick 1 in place of the mirror.
	awk '/^volume (brick2_|mirror_)/ { skip = 1 } skip && /^end-volume/ { skip = 0; next } !skip' \
		"$top/cairn/s/d/cairn.vol" | sed -e 's/subvolumes mirror_cairn/subvolumes brick1_cairn/' >"$top/cairn/s/single.vol"
	sleep 1
}

mount_one() { # NAME
	local m=$top/mnt/$1
	mkdir -p "$m"
	case $1 in
	cairn-replica) "$bin" mount --volfile "$top/cairn/r/d/cairn.vol" "$m" -o noatime,direct-io-mode=disable --foreground >>"$top/cairn/r/mount.log" 2>&1 & ;;
	cairn-single) "$bin" mount --volfile "$top/cairn/s/single.vol" "$m" -o noatime,direct-io-mode=disable --foreground >>"$top/cairn/s/mount.log" 2>&1 & ;;
	gluster-replica) mount -t glusterfs -o noatime "$gl_host:/cairnrep-r" "$m" ;;
	gluster-single) mount -t glusterfs -o noatime "$gl_host:/cairnrep-s" "$m" ;;
	esac
	local i
	for i in $(seq 100); do
		mountpoint -q "$m" && return 0
		sleep 0.1
	done
	echo "replica.sh: $1 did not mount on $m" >&2
	exit 1
}

unmount_one() { # NAME
	local m=$top/mnt/$1 i
	umount "$m" 2>/dev/null || umount -l "$m"
	for i in $(seq 50); do
		mountpoint -q "$m" || return 0
		sleep 0.1
	done
}

gluster_up() {
	if ! command -v glusterd >/dev/null; then
		echo "replica.sh: GlusterFS not installed (bash bench/deps.sh --gluster); cairn only" >&2
		return 1
	fi
	if pgrep -x glusterd >/dev/null; then
		echo "replica.sh: a glusterd not started here is running; left alone, cairn only" >&2
		return 1
	fi
	rm -rf "$top/gl"
	mkdir -p "$top/gl/b1" "$top/gl/b2" "$top/gl/b3"
	# Its hook scripts write to its stdout and stderr.
	glusterd -N --log-file="$top/gl/glusterd.log" >>"$top/gl/glusterd.out" 2>&1 &
	glusterd_pid=$!
	local i
	for i in $(seq 150); do
		gl volume list >/dev/null 2>&1 && break
		sleep 0.2
	done
	local v
	for v in $gl_vols; do
		if gl volume info "$v" >/dev/null 2>&1; then # left by a killed run
			gl volume stop "$v" force >/dev/null 2>&1 || true
			gl volume delete "$v" >/dev/null 2>&1 || true
		fi
	done
	gl volume create cairnrep-r replica 2 "$gl_host:$top/gl/b1" "$gl_host:$top/gl/b2" force >/dev/null
	gl volume create cairnrep-s "$gl_host:$top/gl/b3" force >/dev/null
	gl volume start cairnrep-r >/dev/null
	gl volume start cairnrep-s >/dev/null
}

systems="cairn-replica cairn-single"
cairn_up
if gluster_up; then
	systems="$systems gluster-replica gluster-single"
fi
for s in $systems; do mount_one "$s"; done

fio_rate() { # DIR RW [args]: MiB/s of one fio job
	local dir=$1 rw=$2
	shift 2
	fio --name=job --directory="$dir" --ioengine=psync --rw="$rw" --bs=1M --size="$size" \
		--filename=seq --output-format=json "$@" |
		python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]; print(round((j["write"]["bw_bytes"] or j["read"]["bw_bytes"])/1048576, 1))'
}

out=$top/samples.txt
: >"$out"
set -- $systems
n=$#
for round in $(seq "$rounds"); do
	# Rotate the order by round.
	order=""
	for k in $(seq 0 $((n - 1))); do
		i=$(((k + round) % n + 1))
		order="$order ${!i}"
	done
	for w in write read create; do
		for s in $order; do
			m=$top/mnt/$s
			case $w in
			write)
				rm -f "$m/seq"
				r=$(fio_rate "$m" write --end_fsync=1 --fallocate=none)
				;;
			read)
				unmount_one "$s"
				sync
				echo 3 >/proc/sys/vm/drop_caches
				mount_one "$s"
				r=$(fio_rate "$m" read)
				rm -f "$m/seq"
				;;
			create)
				rm -rf "$m/files"
				r=$("$top/smallfiles" "$m/files" "$files" 4096 | awk '$1 == "create" { print $4 }')
				rm -rf "$m/files"
				;;
			esac
			echo "round $round $w $s $r" | tee -a "$out"
		done
	done
done

echo
echo "medians of $rounds rounds (write/read MiB/s, create files/s); replica/single"
for w in write read create; do
	for sys in cairn gluster; do
		grep -q " $sys-replica " "$out" || continue
		med() { awk -v w="$w" -v s="$1" '$3 == w && $4 == s { print $5 }' "$out" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
		rep=$(med "$sys-replica")
		one=$(med "$sys-single")
		printf '%-7s %-8s replica %9.1f  single %9.1f  replica/single %4.0f%%\n' "$w" "$sys" "$rep" "$one" "$(echo "100 * $rep / $one" | bc -l)"
	done
done
