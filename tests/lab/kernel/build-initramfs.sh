#!/usr/bin/env bash
# build-initramfs.sh LAB PUBLISH_DIR VFIOCHECK GUEST_DIR -> LAB/initramfs.cpio.gz
# A busybox initramfs (hardware-lab variant A) with the lab kernel's vfio/nvme/e1000 modules, the published
# native-AOT agent and CLI with the shared libraries they link, vfiocheck, and the guest scenario (GUEST_DIR/*).
# AIFACTORY_LAB_MODULES names more kernel modules to carry (the lease scenario's aty128fb).
set -euo pipefail
lab=$1 publish=$2 vfiocheck=$3 guest=$4
kernel=${AIFACTORY_LAB_KERNEL:-$(ls /boot/vmlinuz-* | sort -V | tail -1)}
K=${kernel#/boot/vmlinuz-}
here=$(cd "$(dirname "$0")" && pwd)
R=$lab/root
rm -rf "$R"; mkdir -p "$R"/{bin,sbin,etc,proc,sys,dev,tmp,mnt,run,var/lib,lab,lib/modules/$K}
cp /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"; done
for m in vfio vfio_pci vfio_iommu_type1 nvme e1000e e1000 ${AIFACTORY_LAB_MODULES:-}; do
  /sbin/modprobe -S "$K" --show-depends "$m" | awk '$1=="insmod"{print $2}' | while read -r f; do
    mkdir -p "$R$(dirname "$f")"; cp -n "$f" "$R$f"; done
done
cp /lib/modules/"$K"/modules.{order,builtin,builtin.modinfo} "$R/lib/modules/$K/"
/sbin/depmod -b "$R" "$K"
for b in aifactory-agent aifactoryctl; do
  cp "$publish/$b" "$R/lab/$b"
  # Native AOT links glibc and a few system libraries dynamically: bring them and the loader along.
  ldd "$publish/$b" | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | while read -r lib; do
    mkdir -p "$R$(dirname "$lib")"; cp -Ln "$lib" "$R$lib"; done
done
mkdir -p "$R/lib64"; cp -Ln /lib64/ld-linux-x86-64.so.2 "$R/lib64/" 2>/dev/null || true
# .NET's cryptography (the journal's SHA-256) loads OpenSSL at run time with dlopen, so ldd does not list it.
for lib in libssl.so.3 libcrypto.so.3; do
  f=$(ls /usr/lib/x86_64-linux-gnu/$lib /lib/x86_64-linux-gnu/$lib 2>/dev/null | head -1)
  [ -n "$f" ] && { mkdir -p "$R$(dirname "$f")"; cp -Ln "$f" "$R$f"; }
done
cp "$vfiocheck" "$R/bin/vfiocheck"
cp "$guest"/* "$R/lab/"
cp "$here/init" "$R/init"; chmod +x "$R/init" "$R"/lab/*.sh
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) > "$lab/initramfs.cpio.gz"
echo "initramfs: $(du -h "$lab/initramfs.cpio.gz" | cut -f1)"
