#!/usr/bin/env bash
# Entry point of `make bench` and `make bench-gluster`:
#
#   bash bench/run.sh [--install-gluster] [bench flags...]
#
# installs missing packages (bench/deps.sh), sets up a GlusterFS replica-2
# volume when GlusterFS is installed and the gluster system is selected
# (bench/gluster.sh; torn down by the EXIT trap whatever happens), builds
# and runs the Go bench program (go run ./bench --help for its flags).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
install_gluster=
args=()
for a in "$@"; do
	case $a in
	--install-gluster) install_gluster=--gluster ;;
	*) args+=("$a") ;;
	esac
done
bash bench/deps.sh $install_gluster

tmp=$(mktemp -d /tmp/cairn-bench-bin.XXXXXX)
bench_pid=
source bench/gluster.sh
finish() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
		kill -TERM "$bench_pid" 2>/dev/null
		wait "$bench_pid" 2>/dev/null
	fi
	gluster_down
	rm -rf "$tmp"
	exit $rc
}
trap finish EXIT
trap 'exit 130' INT TERM HUP

go build -o "$tmp/bench" ./bench || exit 1

# Is gluster among the systems? (flag, else BENCH_SYSTEMS, else all)
systems=${BENCH_SYSTEMS:-all}
for ((i = 0; i < ${#args[@]}; i++)); do
	case ${args[$i]} in
	--systems | -systems) systems=${args[$((i + 1))]:-} ;;
	--systems=* | -systems=*) systems=${args[$i]#*=} ;;
	esac
done
case ",$systems," in
*,all,* | *,gluster,*)
	if ! gluster_up; then
		echo "gluster: not run: $GL_REASON" >&2
		export BENCH_GLUSTER_SKIP="$GL_REASON"
		gluster_down
	fi
	;;
esac

"$tmp/bench" "${args[@]}" &
bench_pid=$!
wait "$bench_pid"
rc=$?
bench_pid=
exit $rc
