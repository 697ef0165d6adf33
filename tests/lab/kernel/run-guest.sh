#!/usr/bin/env bash
# run-guest.sh INITRAMFS LOG: boots the lab machine (hardware-lab variant A) under TCG and waits for power-off:
# q35 + intel-iommu, 2 NUMA nodes, an SR-IOV NVMe PF (01:00.0), an e1000e (02:00.0), a plain NVMe (03:00.0),
# a pcie-pci-bridge (04:00.0) with two e1000s sharing its IOMMU group (05:01.0, 05:02.0), and an NVMe on
# NUMA node 1 behind a pxb (81:00.0). AIFACTORY_LAB_QEMU_EXTRA adds devices (the lease scenario's ATI GPU).
# no_timer_check: under TCG on a loaded host the kernel's boot-time timer IRQ check can miss its window and panic
# ("timer doesn't work through Interrupt-remapped IO-APIC"); VM kernels skip that check.
set -euo pipefail
initrd=$1 log=$2
kernel=${AIFACTORY_LAB_KERNEL:-$(ls /boot/vmlinuz-* | sort -V | tail -1)}
exec timeout "${AIFACTORY_LAB_TIMEOUT:-300}" qemu-system-x86_64 -accel tcg -machine q35 -cpu max \
  -m 4G -smp 4,sockets=2,cores=2,threads=1 \
  -object memory-backend-ram,id=m0,size=2G -object memory-backend-ram,id=m1,size=2G \
  -numa node,nodeid=0,cpus=0-1,memdev=m0 -numa node,nodeid=1,cpus=2-3,memdev=m1 -numa dist,src=0,dst=1,val=21 \
  -device intel-iommu,intremap=on,caching-mode=on \
  -device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1 \
  -device nvme-subsys,id=subsys0,nqn=lab-subsys0 \
  -device nvme,id=nvme0,serial=pf0,bus=rp1,subsys=subsys0,sriov_max_vfs=4,sriov_vq_flexible=8,sriov_vi_flexible=4,max_ioqpairs=10,msix_qsize=5 \
  -device pcie-root-port,id=rp2,bus=pcie.0,chassis=2,slot=2 -netdev user,id=n0,restrict=on -device e1000e,netdev=n0,bus=rp2 \
  -device pcie-root-port,id=rp3,bus=pcie.0,chassis=3,slot=3 -device nvme,id=nvme1,serial=plain1,bus=rp3 \
  -device pcie-root-port,id=rp4,bus=pcie.0,chassis=4,slot=4 -device pcie-pci-bridge,id=br1,bus=rp4 \
  -device e1000,netdev=n1,bus=br1,addr=1 -netdev user,id=n1,restrict=on \
  -device e1000,netdev=n2,bus=br1,addr=2 -netdev user,id=n2,restrict=on \
  -device pxb-pcie,id=pxb1,bus_nr=0x80,numa_node=1,bus=pcie.0 \
  -device pcie-root-port,id=rp5,bus=pxb1,chassis=5,slot=5 -device nvme,id=nvme2,serial=numa1,bus=rp5 \
  ${AIFACTORY_LAB_QEMU_EXTRA:-} \
  -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 panic=-1 quiet intel_iommu=on iommu=pt no_timer_check" \
  -nographic -no-reboot -monitor none -display none -serial "file:$log"
