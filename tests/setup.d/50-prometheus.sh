#!/usr/bin/env bash
# Metrics tests and benchmarks: Debian's Prometheus server and promtool (promtool check metrics, a real scrape
# with a PromQL query) and prometheus-node-exporter (the side-by-side benchmark).
#
# The packages' maintainer scripts would start and enable both daemons on their default ports (9090, 9100).
# Nothing here may stay running: the tests start their own server on 127.0.0.1 with a temp config, data dir and
# a free port. So the install runs with a policy-rc.d that forbids starting services, and afterwards the units
# are disabled and stopped in case an init system is running.
set -euo pipefail

need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
[ -x /usr/bin/prometheus-node-exporter ] || need+=(prometheus-node-exporter)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "50-prometheus: not root, cannot install ${need[*]}; the metrics tests that need them will fail" >&2
    exit 1
  fi
  (
    flock 9
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\n# written by tests/setup.d/50-prometheus.sh for the length of one apt-get install\nexit 101\n' > "$policy"
      chmod 755 "$policy"
      own_policy=1
    fi
    status=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" || status=$?
    if [ "$own_policy" = 1 ]; then rm -f "$policy"; fi
    exit $status
  ) 9>/tmp/aifactory-apt.lock
fi

# Leave no packaged daemon enabled or running (harmless where no init system runs).
for unit in prometheus prometheus-node-exporter; do
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
  fi
  if [ -x "/etc/init.d/$unit" ] && command -v update-rc.d >/dev/null 2>&1; then
    update-rc.d "$unit" disable >/dev/null 2>&1 || true
  fi
done

promtool --version 2>&1 | head -n 1
prometheus --version 2>&1 | head -n 1
/usr/bin/prometheus-node-exporter --version 2>&1 | head -n 1
echo "AIFACTORY_PROMTOOL=$(command -v promtool)" >> "${AIFACTORY_TEST_ENV:-/dev/null}"
echo "AIFACTORY_PROMETHEUS=$(command -v prometheus)" >> "${AIFACTORY_TEST_ENV:-/dev/null}"
echo "AIFACTORY_NODE_EXPORTER=/usr/bin/prometheus-node-exporter" >> "${AIFACTORY_TEST_ENV:-/dev/null}"
