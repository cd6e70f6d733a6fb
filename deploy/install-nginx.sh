#!/usr/bin/env bash
# Debian's nginx for `make cluster`, installed only when no nginx is on PATH. The launcher runs it
# with a configuration of its own (var/cluster/nginx/), so the system service is kept from
# starting: it would take port 80 and run with the distribution's configuration.
set -euo pipefail

if command -v nginx >/dev/null; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "nginx is missing and this is not a Debian system: install nginx, then run again" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi

# policy-rc.d answering 101 ("action forbidden") keeps the package's scripts from starting the
# service; put back whatever was there before
policy=/usr/sbin/policy-rc.d
backup=""
if [ -e "$policy" ]; then
    backup="$(mktemp)"
    $sudo cp -p "$policy" "$backup"
fi
restore() {
    if [ -n "$backup" ]; then
        $sudo mv "$backup" "$policy"
    else
        $sudo rm -f "$policy"
    fi
}
trap restore EXIT
printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
$sudo chmod 755 "$policy"

echo "nginx not found: installing Debian's nginx (apt-get)"
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx
