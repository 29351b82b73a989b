#!/usr/bin/env bash
# A short fleet run with a broker lost and back, checked: every gateway online
# again, every sample taken delivered (live or from the spool's backlog),
# no hole in any gateway's series. The ctest runs it on one Mosquitto; on the
# RabbitMQ cluster it is the documented run of tests/fleet/README.md.
#
#   fleet-test.sh SIMULATE [--cluster] [--gateways N] [--interval D] [--duration D]
#                 [--kill-after D] [--down D] [--no-restart] [--json FILE]
#
# The broker (cluster.sh, its own temp dir) is killed --kill-after after every
# gateway was online, and started again --down later; with --no-restart (a
# cluster only) it stays down and the gateways must fail over to the other
# nodes, as the agent must (docs/fleet-sizing.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
simulate=${1:?usage: fleet-test.sh SIMULATE [options]}
shift
kind=mosquitto gateways=200 interval=5s duration=45s kill_after=8s down=8s restart=1 json_out=""
while (($#)); do
  case $1 in
    --cluster) kind=rabbitmq ;;
    --gateways) gateways=$2 && shift ;;
    --interval) interval=$2 && shift ;;
    --duration) duration=$2 && shift ;;
    --kill-after) kill_after=$2 && shift ;;
    --down) down=$2 && shift ;;
    --no-restart) restart=0 ;;
    --json) json_out=$2 && shift ;;
    *) echo "fleet-test.sh: unknown option $1" >&2 && exit 2 ;;
  esac
  shift
done

work=$(mktemp -d)
export FLEET_CLUSTER_DIR="$work/broker"
cleanup() {
  "$here/cluster.sh" stop || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ "$kind" = rabbitmq ]; then
  servers=$("$here/cluster.sh" start)
else
  servers=$("$here/cluster.sh" start --mosquitto)
fi
echo "broker: $kind, $servers"

# Seconds of a duration such as 8s, for the restart time.
secs() { python3 -c 'import re,sys; m=re.fullmatch(r"(\d+)(ms|s|m)",sys.argv[1]); v=int(m[1]); print({"ms":v/1000,"s":v,"m":v*60}[m[2]])' "$1"; }
restart_at=$(python3 -c "print(f'{$(secs "$kill_after") + $(secs "$down"):g}s')")
args=(--gateways "$gateways" --servers "$servers" --interval "$interval" --duration "$duration"
  --group-prefix fleettest --json --at "online+$kill_after=$here/cluster.sh kill 1")
((restart)) && args+=(--at "online+$restart_at=$here/cluster.sh restart 1")
echo "simulate ${args[*]}"
"$simulate" "${args[@]}" >"$work/result.json"
cat "$work/result.json"
[ -n "$json_out" ] && cp "$work/result.json" "$json_out"

python3 - "$work/result.json" "$gateways" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
problems = []
def need(cond, what):
    if not cond:
        problems.append(what)
need(r["online_at_end"] == n, f"{r['online_at_end']} of {n} gateways online at the end")
need(r["samples_taken"] > 0, "no sample taken")
need(r["samples_lost"] == 0, f"{r['samples_lost']} samples lost in {r['gateways_with_holes']} gateways")
need(r["samples_delivered"] == r["samples_taken"],
     f"{r['samples_delivered']} samples delivered of {r['samples_taken']} taken")
need(r["samples_confirmed"] == r["samples_spooled"],
     f"{r['samples_confirmed']} samples confirmed by the broker of {r['samples_spooled']} spooled")
need(r["samples_dropped"] == 0, f"{r['samples_dropped']} samples dropped from the spools")
need(len(r["losses"]) >= 1, "no gateway lost its broker: the kill did not happen")
for l in r["losses"]:
    need(l["all_online_after_s"] >= 0, f"after the loss at {l['at_s']} s not every gateway came back")
need(r["delivered_historical"] > 0, "nothing came from a spool's backlog: the outage was not exercised")
lost = sum(l["gateways_lost"] for l in r["losses"])
need(r["births"] >= n + lost, f"{r['births']} births: every gateway that lost its broker is born again")
for c in r["commands"]:
    need("(exit 0," in c, f"command failed: {c}")
if problems:
    print("FAILED:\n  " + "\n  ".join(problems))
    sys.exit(1)
worst = max(l["all_online_after_s"] for l in r["losses"])
print(f"ok: {n} gateways, {r['samples_taken']} samples, 0 lost "
      f"({r['delivered_historical']} from the backlog), all online again {worst:.1f} s after the loss")
EOF
