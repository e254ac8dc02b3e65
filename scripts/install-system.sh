#!/usr/bin/env bash
# Installs the system packages the project needs when they are missing (Debian/Ubuntu).
# Idempotent: a machine that has everything is left alone, without touching the network.
set -euo pipefail

packages=()
need() {  # need <command> <debian package>
    command -v "$1" >/dev/null 2>&1 || packages+=("$2")
}

need python3 python3
need haproxy haproxy              # balances the gateway replicas, caches their answers
need wrk wrk                      # the HTTP benchmark's load generator
need prometheus prometheus        # make demo PROMETHEUS=1, and the dashboards' test
need chromium chromium            # make screenshots: the README's pictures of real runs
need npm npm                      # installs dbmate, pinned in package-lock.json
need runuser util-linux           # runs the private PostgreSQL cluster as postgres when root
# The private PostgreSQL cluster (make demo, make test) needs the server's binaries.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    packages+=(postgresql)
fi
python3 -c 'import venv, ensurepip' 2>/dev/null || packages+=(python3-venv)

if ((${#packages[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing system packages: ${packages[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi
