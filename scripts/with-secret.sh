#!/bin/sh
# with-secret VARIABLE FILE COMMAND [ARGUMENT...]
#
# Runs COMMAND with VARIABLE set to the content of FILE (trailing newlines dropped, as
# Docker's *_FILE conventions read it), and refuses to run it when FILE is missing or empty:
# a service never starts with an empty password. Docker Compose mounts this script into the
# images that cannot read a secret from a file by themselves (postgres's entrypoint reads
# POSTGRES_PASSWORD, dbmate reads PGPASSWORD, HAProxy's configuration reads
# HAPROXY_STATS_PASSWORD), so the same command works with the real images and stand-ins.
set -eu
if [ "$#" -lt 3 ]; then
  echo "usage: with-secret VARIABLE FILE COMMAND [ARGUMENT...]" >&2
  exit 2
fi
variable=$1
file=$2
shift 2
value=$(cat "$file")
if [ -z "$value" ]; then
  echo "with-secret: $file is empty: no $variable" >&2
  exit 1
fi
export "$variable=$value"
exec "$@"
