#!/usr/bin/env bash
# Installs what building, running and testing the agent needs, from Debian's
# packages (and, for the tests, Node.js with the reference Sparkplug decoder
# from the npm registry). Safe to run again: it installs only what is missing.
#   install-deps.sh               everything: build, run, every test (.ci/run)
#   install-deps.sh --quickstart  build and run only (the README's quick start)
#   install-deps.sh --cross       everything, plus the cross builds and packages
#                                 (cross/build.sh, cross/test.sh, tests/package/)
#   install-deps.sh --fleet       everything, plus RabbitMQ for the fleet simulator's
#                                 cluster (tests/fleet/cluster.sh, tests/fleet/README.md)
#   install-deps.sh --peers       everything, plus collectd and Prometheus' SNMP and
#                                 blackbox exporters (tests/perf/compare-peers.sh)
set -euo pipefail
tests=1 cross=0 fleet=0 peers=0
[ "${1:-}" = "--quickstart" ] && tests=0
[ "${1:-}" = "--cross" ] && cross=1
[ "${1:-}" = "--fleet" ] && fleet=1
[ "${1:-}" = "--peers" ] && peers=1

# Building and running the agent, and the quick start's broker and decoder.
packages=(
  build-essential cmake pkg-config git
  libpaho-mqttpp-dev libpaho-mqtt-dev       # MQTT (Paho C++ over Paho C)
  libssl-dev                                # Paho's CMake config looks for OpenSSL
  libprotobuf-dev protobuf-compiler         # Sparkplug B payloads (lite runtime)
  libcurl4-openssl-dev                      # HTTP probes
  libc-ares-dev                             # DNS probes, non-blocking name resolution of probe targets
  libtomlplusplus-dev libcli11-dev          # config file, command line
  libsnmp-dev                               # SNMP devices: net-snmp's client library
  catch2                                    # the test binaries are part of the build
  mosquitto mosquitto-clients               # the local broker of the quick start and tests
  python3 python3-protobuf python3-paho-mqtt  # the quick start's decoder
)
# Only the tests: real peers, test hosts, checkers.
test_packages=(
  iproute2 util-linux                       # test hosts (network namespaces) and mounts
  snmpd snmp                                # the SNMP agent the device tests start, and snmpget/snmpwalk to check it
  systemd                                   # systemd-analyze: the unit's security score and verify
  clang-format                              # the format check of tests/run.sh
  dnsmasq-base openssl                      # probe tests: a DNS server, test certificates
  nftables                                  # network tests: hooks conntrack in a test's own namespace
  clang libclang-rt-14-dev                  # libFuzzer targets (tests/fuzz)
  tmux                                      # console tests: fleet driven in a real terminal
)
((tests)) && packages+=("${test_packages[@]}")
# Only the cross builds and the packages (cross/README.md).
cross_packages=(
  crossbuild-essential-arm64 crossbuild-essential-armhf  # Debian's cross compilers (aarch64, armhf)
  qemu-user                                 # runs the ARM unit tests and agent: qemu-aarch64, qemu-arm
  mmdebstrap                                # the target sysroots, and the package tests' fresh roots
  systemd-container                         # systemd-nspawn: the package under a booted systemd (tests/package/)
  dpkg-dev file                             # dpkg-shlibdeps (the packages' Depends), CPack's ELF detection
)
((cross)) && packages+=("${cross_packages[@]}")
# Only the fleet simulator's cluster: Debian's RabbitMQ 3.10 (with its MQTT plugin).
((fleet)) && packages+=(rabbitmq-server)
# Only the side-by-side with the agent's peers (tests/perf/compare-peers.sh).
peer_packages=(
  collectd-core                             # collectd 5.12 and its plugins
  libmosquitto1 libsnmp40 liboping0 libcurl3-gnutls  # its mqtt, snmp, ping, curl plugins' libraries
  prometheus-snmp-exporter prometheus-blackbox-exporter
)
((peers)) && packages+=("${peer_packages[@]}")

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
apt_install() {
  echo "installing: $*"
  $sudo apt-get update -qq
  # Wait for the dpkg lock (unattended-upgrades, another install) rather than fail.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "$@" >/dev/null
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]} == 0)) || apt_install "${missing[@]}"
((tests)) || exit 0

# Debian starts and enables the snmpd service on install; the tests start their
# own snmpd on a free loopback port, and the machine needs no SNMP agent.
if dpkg-query -W -f='${Status}' snmpd 2>/dev/null | grep -q 'install ok installed'; then
  if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled snmpd >/dev/null 2>&1; then
    $sudo systemctl disable --now snmpd >/dev/null 2>&1 || true
  fi
  if [ -x /etc/init.d/snmpd ]; then
    $sudo /etc/init.d/snmpd stop >/dev/null 2>&1 || true
    $sudo update-rc.d snmpd disable >/dev/null 2>&1 || true
  fi
fi

# Debian starts and enables collectd and the exporters on install;
# compare-peers.sh runs its own, with its own config, on loopback.
if ((peers)); then
  for service in collectd prometheus-snmp-exporter prometheus-blackbox-exporter; do
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      $sudo systemctl disable --now "$service" >/dev/null 2>&1 || true
    elif [ -x "/etc/init.d/$service" ]; then
      $sudo "/etc/init.d/$service" stop >/dev/null 2>&1 || true
      $sudo update-rc.d "$service" disable >/dev/null 2>&1 || true
    fi
  done
fi

# Debian starts and enables rabbitmq-server (and its epmd) on install; cluster.sh
# runs nodes of its own in a temp dir, with an epmd on its own port.
if ((fleet)) && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $sudo systemctl disable --now rabbitmq-server >/dev/null 2>&1 || true
  $sudo systemctl disable --now epmd.socket epmd.service >/dev/null 2>&1 || true
elif ((fleet)) && [ -x /etc/init.d/rabbitmq-server ]; then
  # Only a running service is stopped: the init script's rabbitmqctl would
  # otherwise start an epmd on the default port for nothing.
  if pgrep -u rabbitmq -x beam.smp >/dev/null 2>&1; then
    $sudo /etc/init.d/rabbitmq-server stop >/dev/null 2>&1 || true
  fi
  $sudo update-rc.d rabbitmq-server disable >/dev/null 2>&1 || true
fi

# The interop tests decode with the Sparkplug reference codec, which runs on
# Node.js: Debian's nodejs and npm where the machine has no Node.js of its own.
command -v npm >/dev/null 2>&1 || apt_install nodejs npm
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$here/../interop/node_modules/sparkplug-payload" ]; then
  (cd "$here/../interop" && npm ci --no-audit --no-fund --loglevel=error)
fi
