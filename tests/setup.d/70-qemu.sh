#!/usr/bin/env bash
# The kernel tier of the profile tests: a Debian kernel under QEMU (TCG) with an emulated IOMMU, SR-IOV NVMe,
# a shared IOMMU group and two NUMA nodes (variant A of the hardware lab: busybox initramfs, ~10 s a boot).
# Installs the packages (under the shared apt lock), builds vfiocheck, and exports the paths to the tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
pkgs="qemu-system-x86 qemu-utils linux-image-amd64 busybox-static cpio kmod gcc libc6-dev"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then echo "70-qemu: need root to install:$missing" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  flock /tmp/aifactory-apt.lock apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
[ -n "$kernel" ] || { echo "70-qemu: no kernel in /boot" >&2; exit 1; }
mkdir -p artifacts/lab
gcc -static -O2 -o artifacts/lab/vfiocheck tests/lab/kernel/vfiocheck.c
if [ -n "${AIFACTORY_TEST_ENV:-}" ]; then
  echo "AIFACTORY_LAB_KERNEL=$kernel" >> "$AIFACTORY_TEST_ENV"
  echo "AIFACTORY_LAB_VFIOCHECK=$(pwd)/artifacts/lab/vfiocheck" >> "$AIFACTORY_TEST_ENV"
fi
echo "70-qemu: kernel $kernel, vfiocheck built"
