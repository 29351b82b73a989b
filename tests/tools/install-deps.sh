#!/usr/bin/env bash
# Installs everything building, running and testing the agent needs, from
# Debian's packages (and, when node/npm are present, the reference Sparkplug
# decoder used by one interop test). Safe to run again: it installs only what is
# missing. Used by the README's quick start and by .ci/run.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libpaho-mqttpp-dev libpaho-mqtt-dev       # MQTT (Paho C++ over Paho C)
  libssl-dev                                # Paho's CMake config looks for OpenSSL
  libprotobuf-dev protobuf-compiler         # Sparkplug B payloads (lite runtime)
  libcurl4-openssl-dev                      # HTTP probes
  libc-ares-dev                             # DNS probes, non-blocking name resolution of probe targets
  dnsmasq-base openssl                      # probe tests: a DNS server, test certificates
  libtomlplusplus-dev libcli11-dev          # config file, command line
  catch2                                    # unit and integration tests
  mosquitto mosquitto-clients               # the local broker of the quick start and tests
  python3 python3-protobuf python3-paho-mqtt  # the quick start's decoder
  iproute2 util-linux                       # test hosts and mounts
  clang-format git                          # the format check of tests/run.sh
  clang libclang-rt-14-dev                  # libFuzzer targets (tests/fuzz)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The interop test decodes with the Sparkplug reference codec, which runs on
# Node.js: Debian's nodejs and npm where the machine has no Node.js of its own.
if ! command -v npm >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "installing: nodejs npm"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$here/../interop/node_modules/sparkplug-payload" ]; then
  (cd "$here/../interop" && npm ci --no-audit --no-fund --loglevel=error)
fi
