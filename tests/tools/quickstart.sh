#!/usr/bin/env bash
# The README's first command. Installs what is missing, builds the agent, starts
# a Mosquitto on loopback (a free port, nothing left behind), runs the agent
# against it and prints the decoded Sparkplug telemetry for SECONDS (default 30).
# Then stops the agent with SIGTERM, so you also see its NDEATH.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-30}

"$root/tests/tools/install-deps.sh" --quickstart
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

/usr/bin/python3 -u "$root/tests/tools/sparkplug_watch.py" --port "$port" >"$work/watch.log" 2>&1 &
PIDS+=($!)
tail -n +1 -f "$work/watch.log" &
PIDS+=($!)
# The agent starts once the watcher's subscription is confirmed, so that the
# NBIRTH is in what you see.
for _ in $(seq 100); do grep -q '^watching' "$work/watch.log" && break; sleep 0.1; done
grep -q '^watching' "$work/watch.log" || { echo "the decoder did not subscribe" >&2; exit 1; }
echo "== classroom-agent run -c $work/agent.toml  (its log: $work/agent.log)"
"$agent" run -c "$work/agent.toml" >"$work/agent.log" 2>&1 &
agent_pid=$!
PIDS+=("$agent_pid")
sleep "$seconds"
kill -TERM "$agent_pid"
wait "$agent_pid" || true
# The NDEATH the agent published on its way out, before the watcher stops.
for _ in $(seq 50); do grep -q 'NDEATH' "$work/watch.log" && break; sleep 0.1; done
echo "== the agent's log"
cat "$work/agent.log"
