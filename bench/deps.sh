#!/usr/bin/env bash
# Installs what `make bench` uses, when missing and when running as root:
# fio and libnfs-utils (nfs-cp) always; the optional baselines nfs-ganesha
# (+ VFS FSAL, rpcbind) and diod when installable; glusterfs-server and
# glusterfs-client with --gluster. A package that cannot be installed is
# reported and skipped: the bench then marks its rows "not run".
# Services are not started by the packages' maintainer scripts (a
# temporary policy-rc.d, when none exists): the bench starts and stops
# every daemon itself.
set -uo pipefail
want=(fio libnfs-utils nfs-ganesha nfs-ganesha-vfs rpcbind diod)
[ "${1:-}" = --gluster ] && want+=(glusterfs-server glusterfs-client)
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
need=()
for p in "${want[@]}"; do have "$p" || need+=("$p"); done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || [ -n "${BENCH_NO_INSTALL:-}" ]; then
	echo "bench/deps.sh: not installing ${need[*]} (not root or BENCH_NO_INSTALL set)" >&2
	exit 0
fi
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e $policy ]; then
	printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy && made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f $policy' EXIT
export DEBIAN_FRONTEND=noninteractive
echo "bench/deps.sh: installing ${need[*]}" >&2
if ! apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1; then
	apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null 2>&1
	# one by one, so that one unavailable package does not stop the rest
	for p in "${need[@]}"; do
		apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 || echo "bench/deps.sh: could not install $p" >&2
	done
fi
exit 0
