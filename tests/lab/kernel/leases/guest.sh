#!/bin/sh
# The lease scenario of the kernel tier, run by /init inside the lab guest booted with an emulated ATI Rage 128 Pro
# (QEMU ati-vga, 1002:5046, display class: a GPU to the agent) that the guest's aty128fb driver binds at boot.
# A whole-GPU lease must move it to vfio-pci through the node profile's vfio path, and releasing it must give it
# back to aty128fb. Prints "CHECK name ok|FAIL why" lines that the host test asserts.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/tmp
A=/lab/aifactory-agent
C="/lab/aifactoryctl --socket /run/aif.sock"
S=/var/lib/aifactory
export AIFACTORY_NODE_PROFILE=/nonexistent AIFACTORY_UDEV_RULES_DIR=/etc/udev/rules.d
D=/sys/bus/pci/devices
ok() { echo "CHECK $1 ok"; }
fail() { echo "CHECK $1 FAIL $2"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else fail "$name" "$*"; fi; }
drv() { [ -e "$D/$1/driver" ] && basename "$(readlink "$D/$1/driver")" || echo none; }
grp() { basename "$(readlink "$D/$1/iommu_group")"; }

modprobe aty128fb || echo "LAB: modprobe aty128fb failed"
GPU=
for d in $D/*; do
  [ "$(cat $d/vendor)" = 0x1002 ] && [ "$(cat $d/device)" = 0x5046 ] && GPU=$(basename $d)
done
echo "LAB: gpu=$GPU driver=$(drv $GPU) group=$(grp $GPU) members=$(ls $D/$GPU/iommu_group/devices | tr '\n' ' ')"
check gpu-found [ -n "$GPU" ]
check gpu-original-driver [ "$(drv $GPU)" = aty128fb ]

# vfio-pci is loaded by the node profile's modprobe step on a real node; this scenario applies no profile.
modprobe vfio-pci || echo "LAB: modprobe vfio-pci failed"
check gpu-untouched-by-vfio-load [ "$(drv $GPU)" = aty128fb ]

$A --sysfs-root /sys --procfs-root /proc --state-dir $S --socket /run/aif.sock --metrics-listen off > /tmp/daemon.log 2>&1 &
pid=$!
i=0; while ! grep -q "Ready:" /tmp/daemon.log && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
# Discovery runs after READY: a lease is refused (failed precondition) until the topology is there. No profile
# reserves CPUs here, so the emulator threads get a core of their own (share would be refused).
i=0; rc=1
while [ $rc != 0 ] && [ $i -lt 120 ]; do
  $C lease create --owner lab-vm --gpus 1 --vcpus 1 --emulator-threads isolate --memory 64M --page-size 4K --json > /tmp/lease.json 2>/tmp/lease.err; rc=$?
  [ $rc = 0 ] || { grep -q "topology" /tmp/lease.err || break; sleep 0.5; i=$((i+1)); }
done
cat /tmp/lease.json /tmp/lease.err
ID=$(tr -d ' \n' < /tmp/lease.json | sed -n 's/.*"id":"\(lease-[0-9a-f]*\)".*/\1/p')
check lease-granted [ $rc = 0 -a -n "$ID" ]
check lease-names-the-gpu grep -q "$GPU" /tmp/lease.json
check lease-records-original-driver grep -q aty128fb /tmp/lease.json
check gpu-on-vfio [ "$(drv $GPU)" = vfio-pci ]
G=$(grp $GPU)
check gpu-dev-vfio [ -c /dev/vfio/$G ]
modprobe vfio_iommu_type1
vfiocheck $G $GPU; check gpu-group-viable-and-attaches [ $? = 0 ]

$C lease release $ID > /tmp/release.out 2>&1; rc=$?; cat /tmp/release.out
check release-exit [ $rc = 0 ]
check gpu-driver-restored [ "$(drv $GPU)" = aty128fb ]
check override-cleared [ "$(cat $D/$GPU/driver_override)" = "(null)" ]
$C lease show $ID --json > /tmp/show.json 2>&1; cat /tmp/show.json
check ledger-says-released grep -qi released /tmp/show.json
kill $pid; wait $pid 2>/dev/null
cat /tmp/daemon.log
