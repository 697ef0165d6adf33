#!/usr/bin/env bash
# Packaging tier: the tools that build and lint the .deb and .rpm (dpkg-dev, lintian, rpm, rpmlint, chrpath to
# drop the RUNPATH the AOT link adds), and the systemd guest of tests/lab/guest-systemd (QEMU, the host's
# Debian kernel, debootstrap). Idempotent; about 1-2 minutes on a fresh machine, seconds afterwards.
# tests/setup.d/70-qemu.sh installs some of the same packages: apt makes the second install a no-op.
set -euo pipefail
packages=(dpkg-dev lintian rpm rpmlint chrpath fakeroot
  qemu-system-x86 qemu-utils linux-image-amd64 debootstrap e2fsprogs curl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "60-packaging: missing ${missing[*]} and not root: packaging tests will fail" >&2
    exit 0
  fi
  echo "60-packaging: installing ${missing[*]}"
  flock /tmp/aifactory-apt.lock env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The guest kernel: the newest one installed with a matching initrd.
kernel=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1 || true)
if [ -n "$kernel" ] && [ -n "${AIFACTORY_TEST_ENV:-}" ]; then
  echo "AIFACTORY_GUEST_KERNEL=$kernel" >> "$AIFACTORY_TEST_ENV"
fi
