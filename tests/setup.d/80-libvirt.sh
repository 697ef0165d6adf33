#!/usr/bin/env bash
# Leases: libvirt's in-process test driver (test:///default) for the AttachLease tests. libvirt0 alone is
# enough: no daemon is started. Idempotent; takes the shared apt lock because other set-up runs concurrently.
set -euo pipefail
if ldconfig -p 2>/dev/null | grep -q 'libvirt\.so\.0 '; then
  echo "80-libvirt: libvirt.so.0 already present"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
flock /tmp/aifactory-apt.lock apt-get update -qq
flock /tmp/aifactory-apt.lock apt-get install -y -qq --no-install-recommends libvirt0
ldconfig -p | grep 'libvirt\.so\.0 '
