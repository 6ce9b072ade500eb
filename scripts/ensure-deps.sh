#!/usr/bin/env bash
# Installs what the e2e sandbox needs, and only what is missing: Debian's docker.io
# (dockerd, containerd, runc), iproute2 (ip), iptables and util-linux (nsenter).
# On a machine that is not Debian/Ubuntu, or without root, it says what is missing
# and how to get it, and fails.
set -euo pipefail

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
command -v docker >/dev/null 2>&1 || need+=(docker.io)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
# de-duplicate
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "ensure-deps: missing: ${need[*]}" >&2
	echo "ensure-deps: install them (Debian/Ubuntu: 'sudo apt-get install ${need[*]}') and run again as root;" >&2
	echo "ensure-deps: the e2e sandbox starts its own Engines and network namespaces, which needs root." >&2
	exit 1
fi

echo "ensure-deps: installing ${need[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts the packaged daemon on install where an init system runs; the sandbox
# never uses it, and we leave it as the package set it up.
