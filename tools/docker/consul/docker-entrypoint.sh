#!/bin/bash
# The official hashicorp/consul image's entrypoint interface, on Debian:
#   - a first argument that is a flag, or a Consul subcommand, runs consul with it;
#   - "agent" adds -data-dir=/consul/data and -config-dir=/consul/config;
#   - CONSUL_BIND_INTERFACE and CONSUL_CLIENT_INTERFACE name the interface whose address -bind
#     and -client get (resolved by Consul's own address templates, so no ip(8) is needed);
#   - CONSUL_LOCAL_CONFIG is written to /consul/config/local.json;
#   - consul runs as the consul user unless CONSUL_DISABLE_PERM_MGMT is set.
set -e

CONSUL_BIND=
if [ -n "$CONSUL_BIND_INTERFACE" ]; then
  CONSUL_BIND="-bind={{ GetInterfaceIP \"$CONSUL_BIND_INTERFACE\" }}"
fi
CONSUL_CLIENT=
if [ -n "$CONSUL_CLIENT_INTERFACE" ]; then
  CONSUL_CLIENT="-client={{ GetInterfaceIP \"$CONSUL_CLIENT_INTERFACE\" }}"
fi

CONSUL_DATA_DIR=/consul/data
CONSUL_CONFIG_DIR=/consul/config
if [ -n "$CONSUL_LOCAL_CONFIG" ]; then
  echo "$CONSUL_LOCAL_CONFIG" > "$CONSUL_CONFIG_DIR/local.json"
fi

if [ "${1:0:1}" = '-' ]; then
  set -- consul "$@"
fi

if [ "$1" = 'agent' ]; then
  shift
  extra=()
  [ -n "$CONSUL_BIND" ] && extra+=("$CONSUL_BIND")
  [ -n "$CONSUL_CLIENT" ] && extra+=("$CONSUL_CLIENT")
  set -- consul agent -data-dir="$CONSUL_DATA_DIR" -config-dir="$CONSUL_CONFIG_DIR" "${extra[@]}" "$@"
elif [ "$1" = 'version' ]; then
  set -- consul "$@"
elif [ -n "$1" ] && [ "$1" != consul ] && consul --help 2>&1 | grep -qE "^ +$1 "; then
  set -- consul "$@"
fi

if [ "$1" = 'consul' ] && [ -z "${CONSUL_DISABLE_PERM_MGMT+x}" ] && [ "$(id -u)" = 0 ]; then
  if [ "$(stat -c %u "$CONSUL_DATA_DIR")" != "$(id -u consul)" ]; then
    chown consul:consul "$CONSUL_DATA_DIR"
  fi
  if [ "$(stat -c %u "$CONSUL_CONFIG_DIR")" != "$(id -u consul)" ]; then
    chown consul:consul "$CONSUL_CONFIG_DIR" || echo "Could not chown $CONSUL_CONFIG_DIR (may not have appropriate permissions)"
  fi
  set -- setpriv --reuid=consul --regid=consul --init-groups "$@"
fi

exec "$@"
