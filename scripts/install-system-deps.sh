#!/usr/bin/env bash
# Installs the Debian packages fitpipe and its tests use, when they are missing. Needs root (or sudo).
# PostgreSQL itself; the TimescaleDB build dependencies (`fitpipe db start` builds the extension on
# Debian 12); Prometheus/Alertmanager/Pushgateway for the monitoring tests; Chromium for the browser tests;
# pgBackRest for the backup drill of the operator's rendered backups (tests/operator/test_backup_drill.py).
set -euo pipefail
packages=(postgresql postgresql-contrib postgresql-server-dev-all cmake dpkg-dev gcc make libssl-dev
          prometheus prometheus-alertmanager prometheus-node-exporter chromium chromium-driver pgbackrest)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root or sudo to apt-get install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null || true
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a cluster and a Prometheus service on install; fitpipe runs its own, so stop them when they run.
for svc in prometheus prometheus-alertmanager prometheus-node-exporter; do
  $SUDO systemctl stop "$svc" >/dev/null 2>&1 || $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
echo "system packages installed"
