#!/usr/bin/env bash
# Installs the Debian packages cairn's tests need, when missing. Runs as root
# (CI) and is a no-op for packages already present.
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in fuse3 git sqlite3 fio libnfs-utils qemu-system-x86 busybox-static linux-image-amd64 protobuf-compiler; do
  have "$p" || need+=("$p")
done
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "deps.sh: missing packages ${need[*]}; run as root to install them" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}"
