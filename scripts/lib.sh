# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Shared by scripts/test and scripts/demo: package installation, builds, small helpers.
# Source it from bash with `set -euo pipefail` in effect.


# Everything the build, the tests and the demo need (Debian 12 package names).
MS_PACKAGES=(
	meson ninja-build pkg-config gcc libssl-dev openssl zlib1g-dev iproute2
	clang libclang-rt-14-dev
	libevent-dev libmariadb-dev libck-dev libcmocka-dev libyaml-dev libsqlite3-dev
	mariadb-server mariadb-client
	python3-pymysql python3-pytest python3-pytest-timeout python3-cryptography
	sysbench haproxy prometheus
	python3-mysqldb php-cli php-mysql libdbd-mariadb-perl libdbd-mysql-perl
	golang-go golang-github-go-sql-driver-mysql-dev
	default-jdk-headless libmariadb-java
	nodejs
)

# The interpreter that has Debian's python3-pymysql and python3-pytest (a python3 earlier on
# PATH, e.g. from pyenv, would not).
MS_PYTHON=/usr/bin/python3

ms_say() {
	printf '%s\n' "$*" >&2
}

ms_die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

ms_as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		ms_die "need root (or sudo) to run: $*"
	fi
}

# ms_install_missing PKG...: installs, with apt, those of the packages that are not installed;
# runs `apt-get update` once, and only if something is missing.
ms_install_missing() {
	local missing=() p
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
			missing+=("$p")
		fi
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		return 0
	fi
	ms_say "installing: ${missing[*]}"
	ms_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	ms_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

ms_install_deps() {
	ms_install_missing "${MS_PACKAGES[@]}"
}

# ms_install_node_deps: npm (Debian's package, only if no npm is on PATH) and the Node.js driver
# battery's modules (tests/integration/drivers/package-lock.json) in ${MYSHARD_NODE_DIR:-build-node},
# which is not committed. `npm ci` runs only when that directory's lock differs from the
# repository's; if it fails, only test_driver_node.py fails (it says why).
ms_install_node_deps() {
	local src=tests/integration/drivers dir=${MYSHARD_NODE_DIR:-build-node}
	if ! command -v npm >/dev/null 2>&1; then
		ms_install_missing npm
	fi
	if cmp -s "$src/package-lock.json" "$dir/package-lock.json" &&
		[ -f "$dir/node_modules/mysql2/package.json" ]; then
		return 0
	fi
	mkdir -p "$dir"
	cp "$src/package.json" "$src/package-lock.json" "$dir/"
	ms_say "npm ci in $dir"
	if ! (cd "$dir" && npm ci --omit=peer --no-audit --no-fund); then
		rm -f "$dir/package-lock.json"
		ms_say "warning: npm ci failed in $dir; test_driver_node.py will fail"
	fi
}

# ms_build DIR [MESON_OPTION...]: configures DIR (or applies the options to an existing one)
# and builds it.
ms_build() {
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		if [ "$#" -gt 0 ]; then
			meson configure "$dir" "$@"
		fi
	else
		meson setup "$dir" "$@"
	fi
	ninja -C "$dir"
}

# ms_free_port: prints a TCP port on 127.0.0.1 that was free a moment ago.
ms_free_port() {
	"$MS_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ms_port_free PORT: true if PORT can be bound on 127.0.0.1 right now.
ms_port_free() {
	"$MS_PYTHON" -c 'import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}

# ms_tcp_open HOST PORT: true if a TCP connection to HOST:PORT succeeds.
ms_tcp_open() {
	"$MS_PYTHON" -c 'import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()' "$1" "$2"
}
