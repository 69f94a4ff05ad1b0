#!/bin/sh
# Start as root only long enough to let the unprivileged `appliance` user reach the mounted
# Docker socket (its group id differs from host to host) and own /data; then drop to it.
set -eu
SOCKET="${DOCKER_SOCKET:-/var/run/docker.sock}"
if [ "$(id -u)" = "0" ]; then
  groups_arg="appliance"
  if [ -S "$SOCKET" ]; then
    socket_gid="$(stat -c %g "$SOCKET")"
    groups_arg="appliance,${socket_gid}"
    if ! getent group "$socket_gid" >/dev/null; then
      groupadd --gid "$socket_gid" docker-host
    fi
  fi
  chown appliance:appliance "${APPLIANCE_DATA_DIR:-/data}" 2>/dev/null || true
  chmod 0700 "${APPLIANCE_DATA_DIR:-/data}" 2>/dev/null || true
  exec setpriv --reuid=appliance --regid=appliance --groups="$groups_arg" \
       --inh-caps=-all --no-new-privs -- appliance "$@"
fi
exec appliance "$@"
