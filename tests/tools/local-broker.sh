# Sourced by the quick start and the perf scripts.
#   make_work_dir NAME                          sets WORK (removed on exit, with
#                                               every process in PIDS)
#   start_local_broker DIR [extra conf lines]   a Mosquitto on a free loopback
#                                               port: sets BROKER_PORT, BROKER_PID
#   sed_agent_config DIR INTERVAL > FILE        the shipped config, pointed at it

PIDS=()
make_work_dir() {
  WORK=$(mktemp -d "/tmp/classroom-$1-XXXXXX")
  trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
}

start_local_broker() {
  local dir=$1
  shift
  BROKER_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  {
    printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$BROKER_PORT"
    # Started as root, mosquitto would switch to its own user.
    printf 'user %s\n' "$(id -un)"
    for line in "$@"; do printf '%s\n' "$line"; done
  } >"$dir/mosquitto.conf"
  mosquitto -c "$dir/mosquitto.conf" >"$dir/mosquitto.log" 2>&1 &
  BROKER_PID=$!
  PIDS+=("$BROKER_PID")
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$BROKER_PORT") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "mosquitto did not start:" >&2
  cat "$dir/mosquitto.log" >&2
  return 1
}

sed_agent_config() {
  local dir=$1 interval=$2 root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  sed -e "s|tcp://127.0.0.1:1883|tcp://127.0.0.1:$BROKER_PORT|" \
      -e "s|/var/lib/classroom-agent|$dir/state|" \
      -e "s|interval = \"10s\"|interval = \"$interval\"|" "$root/config/agent.toml"
}
