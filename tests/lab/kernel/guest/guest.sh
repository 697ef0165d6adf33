#!/bin/sh
# The kernel-tier scenario, run by /init inside the lab guest. Prints "CHECK name ok|FAIL why" lines that the
# host test asserts, and the agent's own step timings.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/tmp
A=/lab/aifactory-agent
C="/lab/aifactoryctl --socket /run/aif.sock"
S=/var/lib/aifactory
export AIFACTORY_NODE_PROFILE=/nonexistent AIFACTORY_VFIO_OVERRIDES_DIR=/etc/aifactory/vfio-overrides.d
D=/sys/bus/pci/devices
PF=$D/0000:01:00.0
ok() { echo "CHECK $1 ok"; }
fail() { echo "CHECK $1 FAIL $2"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else fail "$name" "$*"; fi; }
drv() { [ -e "$D/$1/driver" ] && basename "$(readlink "$D/$1/driver")" || echo none; }
grp() { basename "$(readlink "$D/$1/iommu_group")"; }
pages() { cat /sys/devices/system/node/node$1/hugepages/hugepages-$2kB/nr_hugepages; }
agent() { echo "+ aifactory-agent $*"; $A "$@" --sysfs-root /sys --procfs-root /proc --state-dir $S; rc=$?; echo "+ exit $rc"; return $rc; }

echo "LAB: devices: $(ls $D | tr '\n' ' ')"
echo "LAB: drivers: 01:00.0=$(drv 0000:01:00.0) 03:00.0=$(drv 0000:03:00.0) 05:01.0=$(drv 0000:05:01.0) 81:00.0=$(drv 0000:81:00.0)"

# 1. plan writes nothing
agent profile plan -f /lab/lab.yaml > /tmp/plan.out 2>&1; rc=$?; cat /tmp/plan.out
check plan-exit [ $rc = 0 ]
check plan-wrote-nothing [ "$(drv 0000:03:00.0)" = nvme -a "$(cat $PF/sriov_numvfs)" = 0 -a ! -d /sys/bus/pci/drivers/vfio-pci ]

# 2. apply
t0=$(cut -d' ' -f1 /proc/uptime)
agent profile apply -f /lab/lab.yaml > /tmp/apply.out 2>&1; rc=$?; cat /tmp/apply.out
t1=$(cut -d' ' -f1 /proc/uptime)
echo "TIMING apply-total-s $t0 $t1"
check apply-exit [ $rc = 0 ]
check bound-plain-nvme [ "$(drv 0000:03:00.0)" = vfio-pci ]
G=$(grp 0000:03:00.0)
check dev-vfio-present [ -c /dev/vfio/$G ]
# A VM start needs the type1 IOMMU driver: kmod loads it through vfio's softdep, busybox modprobe does not.
modprobe vfio_iommu_type1
vfiocheck $G 0000:03:00.0; check group-viable-and-attaches [ $? = 0 ]
check vfs-created [ "$(cat $PF/sriov_numvfs)" = 2 -a -e $PF/virtfn0 -a -e $PF/virtfn1 ]
VF0=$(basename "$(readlink $PF/virtfn0)"); VF1=$(basename "$(readlink $PF/virtfn1)")
check vfs-on-vfio [ "$(drv $VF0)" = vfio-pci -a "$(drv $VF1)" = vfio-pci ]
check vf-dev-vfio [ -c /dev/vfio/$(grp $VF0) -a -c /dev/vfio/$(grp $VF1) ]
check hugepages-per-node [ "$(pages 0 2048)" = 64 -a "$(pages 1 2048)" = 100 ]
check override-persisted [ "$(cat /etc/aifactory/vfio-overrides.d/0000:03:00.0)" = vfio-pci ]

# 3. re-apply writes nothing
agent profile apply -f /lab/lab.yaml > /tmp/again.out 2>&1; rc=$?; cat /tmp/again.out
check reapply-zero-writes grep -q "applied: 0 steps, 0 writes" /tmp/again.out

# 4. a group holding a bridge is refused, nothing written
agent profile apply -f /lab/bridge-group.yaml > /tmp/bridge.out 2>&1; rc=$?; cat /tmp/bridge.out
check bridge-group-refused [ $rc = 2 ]
check bridge-group-message grep -q "IOMMU group.*a PCI bridge" /tmp/bridge.out
check bridge-group-untouched [ "$(drv 0000:05:01.0)" = e1000 -a "$(drv 0000:05:02.0)" = e1000 ]

# 5. a step that fails late rolls back everything this apply did
agent profile apply -f /lab/fails-late.yaml > /tmp/fail.out 2>&1; rc=$?; cat /tmp/fail.out
check failed-apply-exit [ $rc = 1 ]
check failed-apply-names-file grep -q "FAILED at step.*hugepages-1048576kB/nr_hugepages" /tmp/fail.out
check rollback-unbound-81 [ "$(drv 0000:81:00.0)" = nvme ]
check rollback-numvfs [ "$(cat $PF/sriov_numvfs)" = 2 ]
VF0=$(basename "$(readlink $PF/virtfn0)"); VF1=$(basename "$(readlink $PF/virtfn1)")
check rollback-vfs-rebound [ "$(drv $VF0)" = vfio-pci -a "$(drv $VF1)" = vfio-pci ]
check rollback-hugepages [ "$(pages 1 2048)" = 100 -a "$(pages 0 1048576)" = 0 ]
check rollback-kept-03 [ "$(drv 0000:03:00.0)" = vfio-pci ]
check rollback-no-journal [ ! -e $S/profile/journal.json ]

# 6. kill -9 in the middle of an apply; the next start of the daemon rolls back before READY
AIFACTORY_PROFILE_FAULT=kill-after-step:3 agent profile apply -f /lab/bigger.yaml > /tmp/kill.out 2>&1; rc=$?; cat /tmp/kill.out
check killed-by-sigkill [ $rc = 137 ]
check journal-left [ -e $S/profile/journal.json ]
check half-applied [ "$(drv 0000:81:00.0)" = vfio-pci ]
$A --sysfs-root /sys --procfs-root /proc --state-dir $S --socket /run/aif.sock --metrics-listen off > /tmp/daemon1.log 2>&1 &
DPID=$!
i=0; while [ ! -S /run/aif.sock ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
i=0; while ! grep -q "Ready:" /tmp/daemon1.log && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
cat /tmp/daemon1.log
check recovered-81 [ "$(drv 0000:81:00.0)" = nvme ]
check recovered-numvfs [ "$(cat $PF/sriov_numvfs)" = 2 -a "$(pages 1 2048)" = 100 ]
check recovered-no-journal [ ! -e $S/profile/journal.json ]
check recovery-before-ready sh -c "grep -n 'interrupted; rolled back' /tmp/daemon1.log | cut -d: -f1 | head -1 > /tmp/a; grep -n 'Ready:' /tmp/daemon1.log | cut -d: -f1 | head -1 > /tmp/b; [ -s /tmp/a ] && [ \$(cat /tmp/a) -lt \$(cat /tmp/b) ]"

# 7. gRPC: plan/get through aifactoryctl; drift by hand is found; apply restores it
$C profile plan -f /lab/lab.yaml > /tmp/cplan.out 2>&1; cat /tmp/cplan.out
check ctl-plan-holds grep -q "the profile holds" /tmp/cplan.out
echo 0000:03:00.0 > /sys/bus/pci/drivers/vfio-pci/unbind
$C profile get > /tmp/get.out 2>&1; rc=$?; cat /tmp/get.out
check drift-found [ $rc = 1 ]
check drift-names-device grep -q "drift: bind 0000:03:00.0 to vfio-pci" /tmp/get.out
check drift-logged grep -q "Profile drift" /tmp/daemon1.log
$C profile apply -f /lab/lab.yaml > /tmp/capply.out 2>&1; rc=$?; cat /tmp/capply.out
check ctl-apply-restores [ $rc = 0 -a "$(drv 0000:03:00.0)" = vfio-pci ]
$C profile apply -f /lab/bridge-group.yaml > /tmp/cbad.out 2>&1; rc=$?; cat /tmp/cbad.out
check ctl-invalid-exit-2 [ $rc = 2 ]

# 8. boot persistence: the daemon applies the stored profile before READY
kill $DPID; wait $DPID
echo 0000:03:00.0 > /sys/bus/pci/drivers/vfio-pci/unbind; echo > $D/0000:03:00.0/driver_override; echo 0000:03:00.0 > /sys/bus/pci/drivers_probe
check reset-by-hand [ "$(drv 0000:03:00.0)" = nvme ]
$A --sysfs-root /sys --procfs-root /proc --state-dir $S --socket /run/aif.sock --metrics-listen off > /tmp/daemon2.log 2>&1 &
DPID=$!
i=0; while ! grep -q "Ready:" /tmp/daemon2.log && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
cat /tmp/daemon2.log
check start-reapplied [ "$(drv 0000:03:00.0)" = vfio-pci ]
check start-apply-before-ready sh -c "grep -n 'start:' /tmp/daemon2.log | grep -q 'profile applied' && [ \$(grep -n 'profile applied' /tmp/daemon2.log | cut -d: -f1 | head -1) -lt \$(grep -n 'Ready:' /tmp/daemon2.log | cut -d: -f1 | head -1) ]"

# 9. rediscovery on a real kernel uevent (netlink), not the 30 s periodic rescan: unbind a device by hand
check uevent-listening sh -c "! grep -q 'No kernel uevents' /tmp/daemon2.log"
sleep 1 # let the rescan after the start-up apply's own uevents settle
$C topology > /tmp/topo1.out 2>&1; g1=$(sed -n 's/.*inventory generation \([0-9]*\).*/\1/p' /tmp/topo1.out)
n0=$(grep -c 'Inventory changed: generation .* (uevent)' /tmp/daemon2.log)
echo 0000:03:00.0 > /sys/bus/pci/drivers/vfio-pci/unbind
i=0; while [ "$(grep -c 'Inventory changed: generation .* (uevent)' /tmp/daemon2.log)" -le "$n0" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
grep 'Inventory changed' /tmp/daemon2.log
echo "LAB: uevent-rescan after about ${i}00 ms (limit 20 s; the periodic rescan is every 30 s)"
check uevent-rescan [ "$(grep -c 'Inventory changed: generation .* (uevent)' /tmp/daemon2.log)" -gt "$n0" ]
$C topology > /tmp/topo2.out 2>&1; g2=$(sed -n 's/.*inventory generation \([0-9]*\).*/\1/p' /tmp/topo2.out)
echo "LAB: inventory generation $g1 -> $g2"
check uevent-generation-moved [ -n "$g1" -a -n "$g2" -a "${g2:-0}" -gt "${g1:-0}" ]
kill $DPID; wait $DPID
echo "LAB: scenario finished"
