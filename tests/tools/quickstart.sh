#!/usr/bin/env bash
# The README's first command. Installs what is missing, builds the agent, starts
# a Mosquitto on loopback (a free port, nothing left behind), runs the agent
# against it and prints the decoded Sparkplug telemetry for SECONDS (default 30).
# Then stops the agent with SIGTERM, so you also see its NDEATH.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-30}

"$root/tests/tools/install-deps.sh" --no-interop
echo "== building (build/)"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target classroom-agent >/dev/null
agent="$root/build/agent/classroom-agent"

. "$root/tests/tools/local-broker.sh"
make_work_dir quickstart
work=$WORK
start_local_broker "$work"
port=$BROKER_PORT
echo "== mosquitto listening on 127.0.0.1:$port"

# The shipped config, pointed at this broker, sampling every 5 s.
sed_agent_config "$work" 5s >"$work/agent.toml"
"$agent" check-config -c "$work/agent.toml"

/usr/bin/python3 "$root/tests/tools/sparkplug_watch.py" --port "$port" &
PIDS+=($!)
sleep 1
echo "== classroom-agent run -c $work/agent.toml  (its log: $work/agent.log)"
"$agent" run -c "$work/agent.toml" >"$work/agent.log" 2>&1 &
agent_pid=$!
sleep "$seconds"
kill -TERM "$agent_pid"
wait "$agent_pid" || true
sleep 1
echo "== the agent's log"
cat "$work/agent.log"
