#!/bin/sh
# Mounts the host's lab share and runs its scenario; powers the guest off afterwards whatever happened.
echo "LAB: multi-user reached at $(cut -d' ' -f1 /proc/uptime)s"
mkdir -p /mnt/lab
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 lab /mnt/lab; then
  sh /mnt/lab/scenario.sh > /dev/console 2>&1 || echo "LAB: scenario failed with status $?"
else
  echo "LAB: cannot mount the 9p share"
fi
echo "LAB: done at $(cut -d' ' -f1 /proc/uptime)s"
sync
systemctl poweroff --no-block
