#!/usr/bin/env bash
# Builds the Debian 12 guest with systemd as PID 1 that the package tests boot (hardware-lab.md, variant B).
#
#   build-image.sh LAB_DIR        -> LAB_DIR/base.qcow2 (+ LAB_DIR/base.key)
#
# debootstrap minbase from the Debian mirror in this host's apt sources, the modules the tests need from the
# host's kernel, systemd-networkd for the forwarded ports, and lab-test.service, which runs the scenario that the
# host shares by 9p (tag "lab") at each boot. The image does not depend on the packages under test, so it is
# built once and reused while its key (this script, the guest files, the kernel) is unchanged. Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lab=${1:?usage: build-image.sh LAB_DIR}
mkdir -p "$lab"
lab=$(cd "$lab" && pwd)
kernel=${AIFACTORY_GUEST_KERNEL:-$(ls -1 /boot/vmlinuz-* | sort -V | tail -1)}
kver=${kernel#/boot/vmlinuz-}
key=$(cat "$0" "$here"/guest/* | sha256sum | cut -c1-16)-$kver
if [ -f "$lab/base.qcow2" ] && [ "$(cat "$lab/base.key" 2>/dev/null)" = "$key" ]; then
  echo "guest image up to date: $lab/base.qcow2"
  exit 0
fi

# The mirror this host installs from (deb822 sources or a classic sources.list).
mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '$1=="deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}

root=$lab/rootfs
rm -rf "$root" "$lab/base.qcow2" "$lab/rootfs.img"
start=$(date +%s)
echo "== debootstrap bookworm from $mirror"
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,udev,kmod,procps,iproute2,init-system-helpers,libssl3 \
  bookworm "$root" "$mirror" > "$lab/debootstrap.log" 2>&1 || { tail -20 "$lab/debootstrap.log"; exit 1; }
echo "   $(( $(date +%s) - start )) s"

# Kernel modules: what the scenario loads (vfio-pci, 9p, virtio-net) with their dependencies, not the whole
# 400 MB tree (the guest powers itself off with systemctl, so no ACPI button module is needed).
mkdir -p "$root/lib/modules/$kver"
for m in vfio-pci vfio_iommu_type1 9p 9pnet_virtio virtio_net virtio_rng i2c_i801; do
  modprobe -S "$kver" --show-depends "$m" 2>/dev/null | awk '$1=="insmod"{print $2}' | while read -r f; do
    mkdir -p "$root$(dirname "$f")"; cp -n "$f" "$root$f"
  done
done
cp /lib/modules/"$kver"/modules.{order,builtin,builtin.modinfo} "$root/lib/modules/$kver/"
depmod -b "$root" "$kver"

echo lab > "$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 lab\n' > "$root/etc/hosts"
echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' > "$root/etc/fstab"
printf '9p\n9pnet_virtio\n' > "$root/etc/modules-load.d/lab-9p.conf"
chroot "$root" passwd -d root >/dev/null
printf '[Match]\nName=en* eth*\n[Network]\nDHCP=ipv4\n' > "$root/etc/systemd/network/20-wired.network"
chroot "$root" systemctl enable systemd-networkd.service >/dev/null 2>&1
# Quiet, quick boots: no timers, no getty on the serial console waiting for a login.
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer >/dev/null 2>&1 || true
install -m 0755 "$here/guest/lab-test.sh" "$root/usr/local/sbin/lab-test.sh"
install -m 0644 "$here/guest/lab-test.service" "$root/etc/systemd/system/lab-test.service"
chroot "$root" systemctl enable lab-test.service >/dev/null 2>&1
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

echo "== ext4 image and qcow2 base"
truncate -s 2G "$lab/rootfs.img"
mkfs.ext4 -q -F -L labroot -d "$root" "$lab/rootfs.img"
qemu-img convert -O qcow2 "$lab/rootfs.img" "$lab/base.qcow2"
rm -rf "$lab/rootfs.img" "$root"
echo "$key" > "$lab/base.key"
echo "guest image built in $(( $(date +%s) - start )) s: $lab/base.qcow2 ($(du -h "$lab/base.qcow2" | cut -f1))"
