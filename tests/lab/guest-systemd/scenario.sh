#!/bin/sh
# The packaging scenario, run inside the guest (systemd as PID 1) from the host's 9p share /mnt/lab, which holds
# old.deb and new.deb (two versions of the package; new.deb's agent.yaml differs, as a release's may). Writes KEY=VALUE facts to /mnt/lab/results.env and
# evidence files next to it; the host's test asserts on them. It never stops at a failed step: every fact is
# recorded and the assertions are the host's.
#
# Order: snapshot -> install (time to active; vfio open from the unit's cgroup) -> health on the socket -> edit
# agent.yaml (TCP listener) and restart while sampling is-active against the socket (active only after READY)
# -> pause for the host's checks through the forwarded ports -> kill -9 and the restart by systemd -> clean stop
# -> start with the state directory deleted -> unattended upgrade (apt-get, --force-confold) keeps the edited
# config and writes the release's aside -> udev override rule -> security score -> remove (state kept) -> purge
# -> snapshot again.
L=/mnt/lab
R=$L/results.env
: > "$R"
fact() { echo "$1=$2" >> "$R"; echo "LAB: $1=$2"; }
now() { cut -d' ' -f1 /proc/uptime; }
unit=aifactory-agent.service
prop() { systemctl show -p "$1" --value "$unit"; }

# Everything a package may leave behind, except what a running system changes by itself (logs, dpkg's own
# database, caches, temporary and runtime files, this lab's mounts). /run/aifactory is checked on its own.
snapshot() {
  find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/tmp \
      -o -path /var/log -o -path /var/cache -o -path /var/lib/dpkg -o -path /var/lib/apt -o -path /mnt \
      -o -path /root -o -path /var/lib/systemd/timers -o -path /var/lib/systemd/random-seed \
      -o -path /var/lib/systemd/catalog -o -path /var/lib/dhcp -o -path /etc/ld.so.cache \) -prune \
      -o -printf '%y %m %u %g %p\n' | sort
  find /etc -xdev -type f -exec md5sum {} + | sort -k2
}

# Opens device node $1 from a process moved into the cgroup of unit $2 (default: the agent's), where systemd's device policy
# (DevicePolicy=closed + DeviceAllow=) applies to it as to the agent: "denied" (EPERM from the cgroup's device
# program), "allowed" (opened, or the driver's own answer such as ENXIO for a minor with no device), else the
# shell's message.
open_in_unit_cgroup() {
  out=$(sh -c 'echo $$ > "/sys/fs/cgroup$1/cgroup.procs" || exit 9; exec 3<"$2"; echo opened' probe \
    "$(systemctl show -p ControlGroup --value "${2:-$unit}")" "$1" 2>&1)
  case $out in
    *"not permitted"*) echo denied ;;
    opened|*"No such device"*) echo allowed ;;
    *) echo "other: $out" ;;
  esac
}

echo "LAB: scenario start at $(now)s"
snapshot > "$L/snapshot-before.txt"
fact dpkg_known_before "$(dpkg-query -W -f='${Status}' aifactory-agent 2>/dev/null || echo none)"

# --- install ----------------------------------------------------------------------------------------------
# The first start after install is the case that matters: vfio is not loaded yet when dpkg -i runs.
fact vfio_in_proc_devices_before_install "$(grep -qw vfio /proc/devices && echo yes || echo no)"
t0=$(now)
dpkg -i "$L/old.deb" > "$L/dpkg-install.log" 2>&1
fact install_status $?
# dpkg returns after postinst's `deb-systemd-invoke start`, which waits for READY=1 (Type=notify).
i=0; while [ "$(systemctl is-active $unit)" != active ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
t1=$(now)
fact install_to_active_seconds "$(echo "$t0 $t1" | awk '{printf "%.2f", $2-$1}')"
fact active_after_install "$(systemctl is-active $unit)"
fact enabled_after_install "$(systemctl is-enabled $unit)"
fact ready_target_after_install "$(systemctl is-active aifactory-ready.target)"
fact status_text "$(prop StatusText)"
fact notify_access "$(prop NotifyAccess)"
fact watchdog_usec "$(prop WatchdogUSec)"
fact vfio_pci_loaded "$(test -d /sys/module/vfio_pci && echo yes || echo no)"
fact run_dir_mode "$(stat -c %a /run/aifactory 2>/dev/null || echo missing)"
fact state_dir_mode "$(stat -c %a /var/lib/aifactory 2>/dev/null || echo missing)"
fact socket_mode "$(stat -c %a /run/aifactory/agent.sock 2>/dev/null || echo missing)"
# The agent's cgroup after that first start: a node with the vfio class's major (group 0: no such group in
# this guest, so ENXIO when allowed) must open; the guest's disk (block, never allowed) must not. The node is
# made in /dev: /run is mounted nodev, where every device node fails with EACCES whatever the cgroup says.
vfio_major=$(awk '$2 == "vfio" {print $1}' /proc/devices)
if [ -n "$vfio_major" ]; then
  mknod /dev/lab-vfio-probe c "$vfio_major" 0
  fact vfio_class_in_unit_cgroup "$(open_in_unit_cgroup /dev/lab-vfio-probe)"
  rm -f /dev/lab-vfio-probe
else
  fact vfio_class_in_unit_cgroup "no vfio in /proc/devices"
fi
fact disk_in_unit_cgroup "$(open_in_unit_cgroup /dev/vda)"
aifactoryctl health > "$L/health-socket.txt" 2>&1
fact health_socket_status $?
aifactoryctl version > "$L/version.txt" 2>&1
fact version_status $?

# --- edited config: the TCP listener for the host, metrics on all addresses -------------------------------
cat >> /etc/aifactory/agent.yaml <<'YAML'
# lab: gRPC without TLS on the guest's port 7443, reached from the host through a loopback-only hostfwd.
listen: 0.0.0.0:7443
listen-plaintext: insecure-any-address
metrics-listen: 0.0.0.0:9400
YAML
md5sum /etc/aifactory/agent.yaml | cut -d' ' -f1 > "$L/agent-yaml-edited.md5"

# Restart while sampling every ~20 ms: a sample that says active while the socket does not answer would mean
# systemd reported the service up before READY=1.
systemctl stop $unit
(
  early=0 activating=0 active=0 n=0
  while [ $n -lt 2000 ]; do
    state=$(systemctl is-active $unit)
    case $state in
      activating) activating=$((activating+1)) ;;
      active) active=$((active+1))
              if ! aifactoryctl --timeout 2 health >/dev/null 2>&1; then early=$((early+1)); fi
              [ $active -ge 3 ] && break ;;
    esac
    n=$((n+1)); sleep 0.02
  done
  echo "$activating $active $early" > "$L/ready-samples.txt"
) &
sampler=$!
sleep 0.2
systemctl start $unit
wait $sampler
read -r activating active early < "$L/ready-samples.txt"
fact ready_samples_activating "$activating"
fact ready_samples_active "$active"
fact ready_samples_active_before_health "$early"
fact start_to_ready_ms "$(( ($(prop ActiveEnterTimestampMonotonic) - $(prop ExecMainStartTimestampMonotonic)) / 1000 ))"
fact active_after_edit "$(systemctl is-active $unit)"
journalctl -u $unit -b --no-pager -o short-monotonic > "$L/journal-1.txt" 2>&1

# --- the host's turn: gRPC health and /metrics through the forwarded ports ----------------------------------
echo "LAB: ready for host"
i=0; while [ ! -e "$L/host-done" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
fact host_waited "$(test -e "$L/host-done" && echo yes || echo timeout)"

# --- kill -9: systemd restarts the agent ------------------------------------------------------------------
pid=$(prop MainPID)
kill -9 "$pid"
i=0
while [ $i -lt 300 ]; do
  newpid=$(prop MainPID)
  if [ "$(systemctl is-active $unit)" = active ] && [ "$newpid" != "$pid" ] && [ "$newpid" != 0 ]; then break; fi
  sleep 0.1; i=$((i+1))
done
fact killed_pid "$pid"
fact restarted_pid "$(prop MainPID)"
fact restarts_after_kill "$(prop NRestarts)"
fact active_after_kill "$(systemctl is-active $unit)"
aifactoryctl health > /dev/null 2>&1
fact health_after_kill_status $?

# --- clean stop ---------------------------------------------------------------------------------------------
systemctl stop $unit
fact stop_active_state "$(prop ActiveState)"
fact stop_result "$(prop Result)"
fact stop_exit_status "$(prop ExecMainStatus)"
fact stop_exit_code "$(prop ExecMainCode)"
fact socket_after_stop "$(test -S /run/aifactory/agent.sock && echo present || echo gone)"
fact ready_target_after_stop "$(systemctl is-active aifactory-ready.target)"
fact run_dir_after_stop "$(test -e /run/aifactory && echo present || echo gone)"

# --- the state directory deleted to start afresh (as the rpm's notes tell operators): the next start makes it ---
rm -rf /var/lib/aifactory
systemctl start $unit
fact active_after_state_dir_deleted "$(systemctl is-active $unit)"
fact state_dir_mode_after_deleted "$(stat -c %a /var/lib/aifactory 2>/dev/null || echo missing)"
fact run_dir_mode_after_restart "$(stat -c %a /run/aifactory 2>/dev/null || echo missing)"

# --- unattended upgrade: the operator edited agent.yaml AND the new release changed it --------------------------
# As a fleet upgrades (README): apt-get, no terminal, --force-confdef --force-confold. dpkg keeps the operator's
# file and writes the release's as agent.yaml.dpkg-dist instead of asking.
oldpid=$(prop MainPID)
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$L/new.deb" < /dev/null > "$L/dpkg-upgrade.log" 2>&1
fact upgrade_status $?
fact upgraded_version "$(dpkg-query -W -f='${Version}' aifactory-agent)"
fact config_kept "$(test "$(md5sum /etc/aifactory/agent.yaml | cut -d' ' -f1)" = "$(cat "$L/agent-yaml-edited.md5")" && echo yes || echo no)"
fact config_leftovers "$(ls /etc/aifactory | grep 'dpkg-' | tr '\n' ' ' | sed 's/ $//')"
fact dpkg_dist_is_the_new_release "$(grep -q 'upstream change for the upgrade test' /etc/aifactory/agent.yaml.dpkg-dist 2>/dev/null && echo yes || echo no)"
fact active_after_upgrade "$(systemctl is-active $unit)"
fact restarted_on_upgrade "$(test "$(prop MainPID)" != "$oldpid" && echo yes || echo no)"
aifactoryctl health > /dev/null 2>&1
fact health_after_upgrade_status $?

# --- the udev rule: a persisted override sets driver_override when the device is added ---------------------
dev=$(ls /sys/bus/pci/devices | head -1)
for d in /sys/bus/pci/devices/*; do
  [ "$(cat "$d/class")" = 0x0c0500 ] && dev=$(basename "$d")   # the ICH9 SMBus controller: harmless to touch
done
echo vfio-pci > /etc/aifactory/vfio-overrides.d/"$dev"
udevadm trigger --action=add --settle "/sys/bus/pci/devices/$dev"
fact udev_override_device "$dev"
fact udev_override_result "$(cat /sys/bus/pci/devices/$dev/driver_override)"
rm -f /etc/aifactory/vfio-overrides.d/"$dev"
echo > "/sys/bus/pci/devices/$dev/driver_override"

# --- the sandbox's score, as systemd itself computes it for the running unit --------------------------------
systemd-analyze security --no-pager $unit > "$L/security.txt" 2>&1
fact security_exposure "$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p' "$L/security.txt")"

# --- remove keeps state and conffiles; purge leaves the system as before -----------------------------------
echo '{"lab":"state written before remove"}' > /var/lib/aifactory/lab-marker.json
dpkg -r aifactory-agent > "$L/dpkg-remove.log" 2>&1
fact remove_status $?
fact active_after_remove "$(systemctl is-active $unit)"
fact state_after_remove "$(test -f /var/lib/aifactory/lab-marker.json && echo kept || echo gone)"
fact config_after_remove "$(test -f /etc/aifactory/agent.yaml && echo kept || echo gone)"
fact binary_after_remove "$(test -e /usr/sbin/aifactory-agent && echo present || echo gone)"
dpkg -P aifactory-agent > "$L/dpkg-purge.log" 2>&1
fact purge_status $?
fact dpkg_known_after_purge "$(dpkg-query -W -f='${Status}' aifactory-agent 2>/dev/null || echo none)"
fact run_dir_after_purge "$(test -e /run/aifactory && echo present || echo gone)"
snapshot > "$L/snapshot-after.txt"
diff "$L/snapshot-before.txt" "$L/snapshot-after.txt" > "$L/snapshot-diff.txt"
fact snapshot_diff_lines "$(wc -l < "$L/snapshot-diff.txt")"
fact unit_known_after_purge "$(systemctl list-unit-files $unit --no-legend 2>/dev/null | wc -l)"

# --- control: why vfio-pci must be loaded before the unit starts ----------------------------------------------
# With vfio unloaded, a transient service with the agent's device policy starts, then the module is loaded (as
# an ExecStartPre= would): the class was looked up when its cgroup was set up, so the service stays shut out.
modprobe -r vfio_pci vfio_iommu_type1 vfio 2>/dev/null
if grep -qw vfio /proc/devices; then
  fact vfio_class_loaded_after_start "vfio still loaded, control skipped"
else
  systemd-run --quiet --unit=lab-vfio-late -p DevicePolicy=closed -p "DeviceAllow=char-vfio rw" /bin/sleep 300
  modprobe vfio-pci
  vfio_major=$(awk '$2 == "vfio" {print $1}' /proc/devices)
  mknod /dev/lab-vfio-probe c "$vfio_major" 0
  fact vfio_class_loaded_after_start "$(open_in_unit_cgroup /dev/lab-vfio-probe lab-vfio-late.service)"
  rm -f /dev/lab-vfio-probe
  systemctl stop lab-vfio-late.service
fi
echo "LAB: scenario end at $(now)s"
sync
