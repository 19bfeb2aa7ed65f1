#!/usr/bin/env bash
# Install everything Rollback Cockpit and its tests need on a fresh Debian bookworm machine (root).
#   scripts/install-deps.sh          Python packages + the Debian servers the tests start
#   scripts/install-deps.sh --app    only what running the cockpit needs
set -euo pipefail
cd "$(dirname "$0")/.."

want_servers=1
[ "${1:-}" = "--app" ] && want_servers=0

need=()
if [ "$want_servers" = 1 ]; then
  command -v tmux >/dev/null || need+=(tmux)
  command -v htop >/dev/null || need+=(htop)   # bench/idle.py compares against it
  command -v redis-server >/dev/null || need+=(redis-server)
  command -v memcached >/dev/null || need+=(memcached)
  command -v mariadbd >/dev/null || need+=(mariadb-server mariadb-client)
  command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
  command -v prometheus >/dev/null || need+=(prometheus)
  command -v dockerd >/dev/null || need+=(docker.io)
  [ -x /bin/busybox ] || need+=(busybox-static)
  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
  # The image ships kubectl (a version dispatcher); Debian's kubernetes-client conflicts
  # with it, so only install that where there is no kubectl at all.
  command -v kubectl >/dev/null || need+=(kubernetes-client)
fi
# Helm's own code (a Python 3.12 venv with helm-sdkpy and helm-python-sdk, for helm.rollback)
# and Unleash (unleash-server on Node, for the flag backend's tests) need nothing from apt:
# they install alongside the Debian packages.
side=()
if [ "$want_servers" = 1 ]; then
  bash "$(dirname "$0")/install-helm.sh" & side+=($!)
  bash "$(dirname "$0")/install-unleash.sh" & side+=($!)
fi
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d: do not let package scripts start system-wide servers; the tests start their own.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

for pid in "${side[@]}"; do wait "$pid"; done   # a failed side install fails the script

extras=""
[ "$want_servers" = 1 ] && extras="[test]"
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -e ".${extras}"
# pyenv only exposes a new console script after a rehash.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
