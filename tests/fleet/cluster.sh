#!/usr/bin/env bash
# A broker for the fleet simulator (tests/fleet/README.md): a three-node
# RabbitMQ cluster with the MQTT plugin (Debian's rabbitmq-server 3.10), or one
# Mosquitto to compare with. Everything lives in one temp dir; the machine's
# own rabbitmq-server service, its epmd and its config are never used.
#
#   cluster.sh start [--mosquitto] [--nodes N]   start (3 RabbitMQ nodes by default)
#   cluster.sh servers                 the MQTT servers, comma-separated (for --servers)
#   cluster.sh kill N                  SIGKILL node N (1..3): the node is lost
#   cluster.sh restart N               start node N again (it rejoins the cluster)
#   cluster.sh pids                    "N PID" per running node (for CPU and memory figures)
#   cluster.sh ctl N ARGS...           rabbitmqctl on node N
#   cluster.sh stop                    stop every node, remove the temp dir
#
# FLEET_CLUSTER_DIR names the dir (default: ${TMPDIR:-/tmp}/classroom-fleet-cluster);
# two clusters at once need two dirs. Nodes are rabbit1..3@localhost, each with
# its own AMQP, distribution and MQTT port (free loopback ports picked at
# start), one Erlang cookie, an epmd of their own on its own port, and
# `mqtt.sparkplug = true` (else RabbitMQ turns spBv1.0/ into spBv1/0/).
set -euo pipefail

dir=${FLEET_CLUSTER_DIR:-${TMPDIR:-/tmp}/classroom-fleet-cluster}
rmq=/usr/lib/rabbitmq/bin

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

# Erlang's own ports on loopback only: epmd, distribution, the CLI's node.
rabbit_env() {
  local n=$1
  # shellcheck disable=SC1091
  . "$dir/env"
  export HOME="$dir" # the cookie: $HOME/.erlang.cookie, for nodes and rabbitmqctl alike
  export ERL_EPMD_PORT=$epmd_port ERL_EPMD_ADDRESS=127.0.0.1
  export ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_CONF_ENV_FILE=/dev/null # not /etc/rabbitmq/rabbitmq-env.conf
  export RABBITMQ_NODENAME="rabbit$n@localhost"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$((base + 10 * n))
  export RABBITMQ_DIST_PORT=$((base + 10 * n + 1))
  export RABBITMQ_CONFIG_FILE="$dir/rabbit$n/rabbitmq.conf"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$dir/rabbit$n/advanced.config"
  export RABBITMQ_MNESIA_BASE="$dir/rabbit$n/mnesia"
  export RABBITMQ_LOG_BASE="$dir/rabbit$n/log"
  export RABBITMQ_PID_FILE="$dir/rabbit$n/pid"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
  export RABBITMQ_PLUGINS_EXPAND_DIR="$dir/rabbit$n/plugins"
}

mqtt_port() { echo $((base + 10 * $1 + 2)); }

# A base port with base .. base+40 free on loopback (epmd on base itself).
pick_base() {
  local used b p ok
  used=$(ss -Htan | awk '{print $4}' | sed 's/.*://' | sort -u)
  for _ in $(seq 1 50); do
    b=$((20000 + (RANDOM % 400) * 100))
    ok=1
    for p in $(seq "$b" $((b + 40))); do
      if grep -qx "$p" <<<"$used"; then
        ok=0
        break
      fi
    done
    ((ok)) && {
      echo "$b"
      return
    }
  done
  die "no free port range found"
}

raise_fd_limit() { ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; }

node_pid() {
  local f="$dir/rabbit$1/pid"
  [ "${kind:-}" = mosquitto ] && f="$dir/mosquitto.pid"
  [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}

start_rabbit_node() {
  local n=$1
  (
    rabbit_env "$n"
    raise_fd_limit
    # setsid: the node outlives this script and the shell that ran it.
    setsid "$rmq/rabbitmq-server" >"$dir/rabbit$n/stdout.log" 2>&1 </dev/null &
  )
}

wait_rabbit_node() {
  local n=$1
  (
    rabbit_env "$n"
    # Waits for the pid file, then for the broker's applications (the MQTT
    # listener is up when this returns).
    "$rmq/rabbitmqctl" -q wait "$RABBITMQ_PID_FILE" --timeout 120 >/dev/null 2>"$dir/rabbit$n/wait.err" ||
      {
        tail -5 "$dir/rabbit$n/stdout.log" >&2
        die "node rabbit$n did not start (see $dir/rabbit$n/)"
      }
  )
  local port
  port=$(mqtt_port "$n")
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.2
  done
  die "node rabbit$n: no MQTT listener on port $port"
}

write_rabbit_config() {
  local n=$1 nodes=$2
  mkdir -p "$dir/rabbit$n"
  {
    echo "listeners.tcp.default = 127.0.0.1:$((base + 10 * n))"
    echo "mqtt.listeners.tcp.default = 127.0.0.1:$(mqtt_port "$n")"
    echo "mqtt.sparkplug = true"
    echo "mqtt.allow_anonymous = true"
    echo "loopback_users = none"
    echo "log.file.level = warning"
    echo "log.console = false"
    # Thousands of gateways connect within a second after a node is lost.
    echo "mqtt.tcp_listen_options.backlog = 4096"
    echo "mqtt.num_acceptors.tcp = 20"
    # Nodes 2.. join node 1 on their first start (classic peer discovery).
    if ((n > 1)); then
      echo "cluster_formation.peer_discovery_backend = classic_config"
      echo "cluster_formation.classic_config.nodes.1 = rabbit1@localhost"
    fi
    # Extra lines for every node (FLEET_RABBIT_CONF: e.g. mqtt.durable_queue_type = quorum).
    if [ -n "${FLEET_RABBIT_CONF:-}" ]; then printf '%s\n' "$FLEET_RABBIT_CONF"; fi
  } >"$dir/rabbit$n/rabbitmq.conf"
  echo "[]." >"$dir/rabbit$n/advanced.config"
  : "$nodes"
}

start_mosquitto() {
  raise_fd_limit
  # Mosquitto started as root runs as the user "mosquitto": its files are
  # opened here, by the shell.
  setsid mosquitto -c "$dir/mosquitto.conf" >>"$dir/mosquitto.log" 2>&1 </dev/null &
  echo $! >"$dir/mosquitto.pid"
  local port
  port=$(mqtt_port 1)
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  die "mosquitto did not listen on port $port (see $dir/mosquitto.log)"
}

cmd_start() {
  kind=rabbitmq
  local nodes=3
  while (($#)); do
    case $1 in
      --mosquitto) kind=mosquitto nodes=1 ;;
      --nodes)
        nodes=$2
        shift
        ;;
      *) die "start: unknown option $1" ;;
    esac
    shift
  done
  [ -e "$dir/env" ] && die "$dir holds a cluster already: cluster.sh stop first"
  mkdir -p "$dir"
  chmod 700 "$dir"
  : >"$dir/created-by-cluster.sh"
  base=$(pick_base)
  {
    echo "kind=$kind"
    echo "nodes=$nodes"
    echo "base=$base"
    echo "epmd_port=$base"
  } >"$dir/env"
  if [ "$kind" = mosquitto ]; then
    command -v mosquitto >/dev/null || die "mosquitto is not installed (tests/tools/install-deps.sh)"
    {
      echo "listener $(mqtt_port 1) 127.0.0.1"
      echo "allow_anonymous true"
      echo "max_connections -1"
      echo "persistence false"
      echo "log_type error"
      echo "log_type warning"
    } >"$dir/mosquitto.conf"
    start_mosquitto
  else
    [ -x "$rmq/rabbitmq-server" ] ||
      die "rabbitmq-server is not installed (tests/tools/install-deps.sh --fleet)"
    head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$dir/.erlang.cookie"
    chmod 400 "$dir/.erlang.cookie"
    echo "[rabbitmq_mqtt]." >"$dir/enabled_plugins"
    local n
    for n in $(seq 1 "$nodes"); do write_rabbit_config "$n" "$nodes"; done
    # Node 1 first; the others find it and join it as they start.
    start_rabbit_node 1
    wait_rabbit_node 1
    for n in $(seq 2 "$nodes"); do start_rabbit_node "$n"; done
    for n in $(seq 2 "$nodes"); do wait_rabbit_node "$n"; done
    local running
    running=$(cmd_ctl 1 -q cluster_status --formatter json |
      python3 -c 'import json,sys; print(len(json.load(sys.stdin)["running_nodes"]))')
    [ "$running" = "$nodes" ] || die "the cluster runs $running of $nodes nodes"
  fi
  cmd_servers
}

cmd_servers() {
  load
  local n out=""
  for n in $(seq 1 "$nodes"); do out+="${out:+,}tcp://127.0.0.1:$(mqtt_port "$n")"; done
  echo "$out"
}

load() {
  [ -s "$dir/env" ] || die "no cluster in $dir (cluster.sh start first)"
  # shellcheck disable=SC1091
  . "$dir/env"
}

check_node() {
  [[ $1 =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= nodes)) || die "no node $1 (1..$nodes)"
}

cmd_kill() {
  load
  check_node "$1"
  local pid
  pid=$(node_pid "$1") || die "node $1 is not running"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}

cmd_restart() {
  load
  check_node "$1"
  node_pid "$1" >/dev/null && die "node $1 is running"
  if [ "$kind" = mosquitto ]; then
    start_mosquitto
  else
    start_rabbit_node "$1"
    wait_rabbit_node "$1"
  fi
}

cmd_pids() {
  load
  local n pid
  for n in $(seq 1 "$nodes"); do
    if pid=$(node_pid "$n"); then echo "$n $pid"; fi
  done
}

cmd_ctl() {
  load
  [ "$kind" = rabbitmq ] || die "ctl: not a RabbitMQ cluster"
  local n=$1
  shift
  check_node "$n"
  (
    rabbit_env "$n"
    "$rmq/rabbitmqctl" -n "rabbit$n@localhost" "$@"
  )
}

cmd_stop() {
  [ -e "$dir/env" ] || return 0
  load
  local n pid pids=()
  for n in $(seq 1 "$nodes"); do
    if pid=$(node_pid "$n"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  # A node ends within seconds on SIGTERM; one that does not is killed.
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "$kind" = rabbitmq ]; then
    ERL_EPMD_PORT=$epmd_port epmd -kill >/dev/null 2>&1 || true
  fi
  # Only a dir this script made is removed.
  [ -e "$dir/created-by-cluster.sh" ] && rm -rf "$dir"
  return 0
}

case ${1:-} in
  start) shift && cmd_start "$@" ;;
  servers) cmd_servers ;;
  kill) cmd_kill "${2:?kill N}" ;;
  restart) cmd_restart "${2:?restart N}" ;;
  pids) cmd_pids ;;
  ctl) shift && cmd_ctl "$@" ;;
  stop) cmd_stop ;;
  *) sed -n '2,20p' "$0" >&2 && exit 2 ;;
esac
