#!/usr/bin/env bash
# One boot of the systemd guest that installs, exercises, upgrades, removes and purges the .deb
# (scenario.sh), with the host's checks through forwarded loopback ports in the middle.
#
#   run.sh --old OLD.deb --new NEW.deb --ctl HOST_AIFACTORYCTL --lab LAB_DIR --out OUT_DIR
#
# LAB_DIR holds the guest image (built by build-image.sh when missing or stale). OUT_DIR receives
# results.env (facts from the guest, then from the host), serial.log and the evidence files. The guest runs under
# TCG (this machine's /dev/kvm cannot run a stock kernel), user networking with restrict=on, and the two
# forwarded ports bind 127.0.0.1 on free ports chosen here. Needs root (debootstrap, QEMU's 9p export).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
old= new= ctl= lab= out=
while [ $# -gt 0 ]; do
  case $1 in
    --old) old=$2 ;; --new) new=$2 ;; --ctl) ctl=$2 ;; --lab) lab=$2 ;; --out) out=$2 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift 2
done
for v in old new ctl lab out; do [ -n "${!v}" ] || { echo "run.sh: --$v is required" >&2; exit 2; }; done

"$here/build-image.sh" "$lab"
lab=$(cd "$lab" && pwd)
mkdir -p "$out"; out=$(cd "$out" && pwd)
kernel=${AIFACTORY_GUEST_KERNEL:-$(ls -1 /boot/vmlinuz-* | sort -V | tail -1)}
kver=${kernel#/boot/vmlinuz-}

rm -rf "${out:?}"/*
share=$out/share
mkdir -p "$share"
cp "$old" "$share/old.deb"; cp "$new" "$share/new.deb"
cp "$here/scenario.sh" "$share/scenario.sh"
qemu-img create -q -f qcow2 -b "$lab/base.qcow2" -F qcow2 "$out/run.qcow2"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
grpc_port=$(free_port)
metrics_port=$(free_port)
while [ "$metrics_port" = "$grpc_port" ]; do metrics_port=$(free_port); done

boot_start=$(date +%s.%N)
qemu-system-x86_64 -accel tcg -cpu max -machine q35 -m 2G -smp 2 \
  -drive file="$out/run.qcow2",if=none,id=d0,format=qcow2 -device virtio-blk-pci,drive=d0,bus=pcie.0 \
  -netdev user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$grpc_port-:7443,hostfwd=tcp:127.0.0.1:$metrics_port-:9400 \
  -device virtio-net-pci,netdev=n0,bus=pcie.0 \
  -fsdev local,id=lab,path="$share",security_model=none -device virtio-9p-pci,fsdev=lab,mount_tag=lab,bus=pcie.0 \
  -kernel "$kernel" -initrd "/boot/initrd.img-$kver" \
  -append "root=/dev/vda rw console=ttyS0 panic=-1 quiet systemd.show_status=0" \
  -nographic -no-reboot -display none -monitor none -serial file:"$out/serial.log" &
qemu=$!
trap 'kill $qemu 2>/dev/null || true' EXIT

fact() { echo "$1=$2" >> "$out/host.env"; echo "host: $1=$2"; }
: > "$out/host.env"
wait_for() {   # wait_for PATTERN SECONDS
  local deadline=$(( $(date +%s) + $2 ))
  while ! grep -q "$1" "$out/serial.log" 2>/dev/null; do
    kill -0 $qemu 2>/dev/null || return 1
    [ "$(date +%s)" -lt $deadline ] || return 1
    sleep 0.5
  done
}

if wait_for "LAB: ready for host" 420; then
  fact host_reached_guest yes
  fact boot_to_host_phase_seconds "$(echo "$boot_start $(date +%s.%N)" | awk '{printf "%.1f", $2-$1}')"
  set +e
  "$ctl" --address "http://127.0.0.1:$grpc_port" --timeout 20 health > "$out/health-tcp.txt" 2>&1
  fact health_tcp_status $?
  code=$(curl -s -m 20 -o "$out/metrics.txt" -w '%{http_code}' "http://127.0.0.1:$metrics_port/metrics")
  fact metrics_http_code "$code"
  # 127.0.0.1 only: the same port on another address of this host must not answer.
  other=$(hostname -I 2>/dev/null | awk '{print $1}')
  if [ -n "$other" ]; then
    curl -s -m 3 -o /dev/null "http://$other:$metrics_port/metrics"
    fact metrics_on_other_address_curl_status $?
  fi
  set -e
else
  fact host_reached_guest no
fi
touch "$share/host-done"

# The guest powers itself off at the end of the scenario.
deadline=$(( $(date +%s) + 420 ))
while kill -0 $qemu 2>/dev/null && [ "$(date +%s)" -lt $deadline ]; do sleep 1; done
if kill -0 $qemu 2>/dev/null; then fact guest_powered_off no; kill $qemu; else fact guest_powered_off yes; fi
wait $qemu 2>/dev/null || true
trap - EXIT
fact boot_total_seconds "$(echo "$boot_start $(date +%s.%N)" | awk '{printf "%.1f", $2-$1}')"
for f in "$share"/*; do case $f in *.deb|*/results.env) ;; *) cp -f "$f" "$out/" ;; esac; done
cat "$share/results.env" "$out/host.env" > "$out/results.env" 2>/dev/null || cp "$out/host.env" "$out/results.env"
rm -f "$out/run.qcow2"
echo "results: $out/results.env"
