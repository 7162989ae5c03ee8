# GlusterFS replica-2 volume on this host for `make bench`, sourced by
# bench/run.sh. gluster_up starts glusterd (in the foreground, as our
# child), creates and starts a replica-2 volume with two bricks on
# 127.0.0.2 (loopback; the gluster CLI refuses "127.0.0.1" and "localhost"
# as brick hosts) with force (same host, root filesystem) and FUSE-mounts it;
# gluster_down unmounts, stops and deletes the volume, stops glusterd and
# every gluster process of this volume, and removes the bricks. run.sh
# calls gluster_down from an EXIT trap, so it also runs on failure and on
# Ctrl-C. Only processes this script started are signalled, by pid.

GL_VOL=${GL_VOL:-cairnbench}
GL_ROOT=${GL_ROOT:-/var/tmp/cairn-bench/gluster}
GL_HOST=${GL_HOST:-127.0.0.2}
GL_MNT=$GL_ROOT/mnt
GL_GLUSTERD_PID=
GL_REASON=

gl() { gluster --mode=script "$@"; }

# gl_pids prints the pids of gluster processes belonging to our volume:
# bricks, self-heal daemon and FUSE client all carry its name in their
# command line (volfile id, pid file path), glusterd is ours by pid.
gl_pids() {
	local d pid comm
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		comm=$(cat "$d/comm" 2>/dev/null) || continue
		case $comm in gluster*) ;; *) continue ;; esac
		if tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -q -- "$GL_VOL"; then
			echo "$pid"
		fi
	done
}

gl_wait_gone() { # pid timeout_tenths
	local i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt "$2" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	! kill -0 "$1" 2>/dev/null
}

gluster_up() {
	GL_REASON=
	if ! command -v glusterd >/dev/null || ! command -v gluster >/dev/null; then
		GL_REASON="GlusterFS not installed (make bench-gluster installs glusterfs-server glusterfs-client)"
		return 1
	fi
	if [ -e /run/glusterd.pid ] && kill -0 "$(cat /run/glusterd.pid 2>/dev/null)" 2>/dev/null; then
		GL_REASON="a glusterd not started by the bench is running; left alone"
		return 1
	fi
	if ss -ltn 2>/dev/null | grep -q ':24007 '; then
		GL_REASON="port 24007 (glusterd) is taken by another process; left alone"
		return 1
	fi
	mkdir -p "$GL_ROOT" || return 1
	umount "$GL_MNT" 2>/dev/null || true
	rm -rf "$GL_ROOT/b1" "$GL_ROOT/b2"
	mkdir -p "$GL_ROOT/b1" "$GL_ROOT/b2" "$GL_MNT" || return 1
	echo "gluster: starting glusterd" >&2
	glusterd -N --pid-file=/run/glusterd.pid --log-file="$GL_ROOT/glusterd.log" &
	GL_GLUSTERD_PID=$!
	local i=0
	until gl volume list >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 150 ] || ! kill -0 "$GL_GLUSTERD_PID" 2>/dev/null; then
			GL_REASON="glusterd did not answer: $(tail -3 "$GL_ROOT/glusterd.log" 2>/dev/null | tr '\n' ' ')"
			return 1
		fi
		sleep 0.2
	done
	# A volume left by a killed earlier run (glusterd keeps its state in
	# /var/lib/glusterd).
	if gl volume info "$GL_VOL" >/dev/null 2>&1; then
		gl volume stop "$GL_VOL" force >/dev/null 2>&1 || true
		gl volume delete "$GL_VOL" >/dev/null 2>&1 || true
	fi
	local out
	if ! out=$(gl volume create "$GL_VOL" replica 2 "$GL_HOST:$GL_ROOT/b1" "$GL_HOST:$GL_ROOT/b2" force 2>&1); then
		GL_REASON="volume create: $out"
		return 1
	fi
	# BENCH_GLUSTER_SET="key=value ..." sets volume options before the
	# start (e.g. network.remote-dio=enable, what cairn's generated
	# client volfile does); the results header names them.
	local kv
	for kv in ${BENCH_GLUSTER_SET:-}; do
		if ! out=$(gl volume set "$GL_VOL" "${kv%%=*}" "${kv#*=}" 2>&1); then
			GL_REASON="volume set ${kv%%=*} ${kv#*=}: $out"
			return 1
		fi
	done
	if ! out=$(gl volume start "$GL_VOL" 2>&1); then
		GL_REASON="volume start: $out"
		return 1
	fi
	if ! out=$(mount -t glusterfs -o noatime "$GL_HOST:/$GL_VOL" "$GL_MNT" 2>&1); then
		GL_REASON="mount -t glusterfs: $out"
		return 1
	fi
	if ! grep -q " $GL_MNT fuse.glusterfs " /proc/mounts; then
		GL_REASON="mount -t glusterfs: $GL_MNT not mounted"
		return 1
	fi
	echo "gluster: volume $GL_VOL mounted on $GL_MNT ($(gluster --version | head -1))" >&2
	export BENCH_GLUSTER_VOLUME=$GL_VOL BENCH_GLUSTER_MOUNT=$GL_MNT
}

gluster_down() {
	[ -n "$GL_GLUSTERD_PID" ] || return 0
	echo "gluster: tearing down volume $GL_VOL and glusterd" >&2
	local i
	for i in $(seq 50); do
		grep -q " $GL_MNT fuse.glusterfs " /proc/mounts || break
		umount "$GL_MNT" 2>/dev/null && break
		sleep 0.2
	done
	grep -q " $GL_MNT fuse.glusterfs " /proc/mounts && umount -l "$GL_MNT"
	if kill -0 "$GL_GLUSTERD_PID" 2>/dev/null; then
		timeout 60 gluster --mode=script volume stop "$GL_VOL" force >/dev/null 2>&1 || true
		timeout 60 gluster --mode=script volume delete "$GL_VOL" >/dev/null 2>&1 || true
		kill -TERM "$GL_GLUSTERD_PID" 2>/dev/null
		gl_wait_gone "$GL_GLUSTERD_PID" 100 || kill -KILL "$GL_GLUSTERD_PID" 2>/dev/null
	fi
	wait "$GL_GLUSTERD_PID" 2>/dev/null || true
	local pid
	for pid in $(gl_pids); do
		kill -TERM "$pid" 2>/dev/null
		gl_wait_gone "$pid" 50 || kill -KILL "$pid" 2>/dev/null
	done
	rm -f /run/glusterd.pid
	rm -rf "$GL_ROOT/b1" "$GL_ROOT/b2"
	rmdir "$GL_MNT" 2>/dev/null || true
	GL_GLUSTERD_PID=
	if [ -n "$(gl_pids)" ]; then
		echo "gluster: WARNING: processes still running: $(gl_pids | tr '\n' ' ')" >&2
	else
		echo "gluster: stopped" >&2
	fi
}
