#!/usr/bin/env bash
# Make sure the system services and tools the tests use are installed and running.
# Safe to run again and again: it only installs or starts what is missing.
set -euo pipefail

need=()
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v socat >/dev/null 2>&1 || need+=(socat)
# evidence report: poppler (pdftotext/pdffonts/pdftoppm in the tests), the CJK font the PDF embeds,
# Pango for WeasyPrint, and Chromium for the headless-browser tests of the report and dashboard
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
fc-list 2>/dev/null | grep -q "Noto Sans CJK SC" || need+=(fonts-noto-cjk)
ldconfig -p 2>/dev/null | grep -q "libpango-1.0.so" || need+=(libpango-1.0-0 libpangoft2-1.0-0)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# libfaketime: the demo and the evidence tests run one gateway with a clock minutes fast
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || [ -n "$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null)" ] || need+=(faketime)
if [ ${#need[@]} -gt 0 ]; then
  echo "services: installing ${need[*]} from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q; }
if ! pg_up; then
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
  for _ in $(seq 1 60); do pg_up && break; sleep 0.5; done
  pg_up || { echo "services: PostgreSQL did not come up on 127.0.0.1:5432" >&2; exit 1; }
fi

mqtt_up() { (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; }
if ! mqtt_up; then
  echo "services: starting Mosquitto"
  mkdir -p /run/mosquitto && chown mosquitto /run/mosquitto 2>/dev/null || true
  mosquitto -d -c /etc/mosquitto/mosquitto.conf || /usr/sbin/mosquitto -d -c /etc/mosquitto/mosquitto.conf
  for _ in $(seq 1 40); do mqtt_up && break; sleep 0.25; done
  mqtt_up || { echo "services: Mosquitto did not come up on 127.0.0.1:1883" >&2; exit 1; }
fi
echo "services: PostgreSQL and Mosquitto are up"
