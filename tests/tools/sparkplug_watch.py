#!/usr/bin/python3
"""Watch a broker and print the agent's Sparkplug B messages, decoded.

Decodes with protobuf's own Python runtime from the project's .proto (compiled
with protoc at start), resolves aliases through the NBIRTH, and prints each
metric as `name = value unit`. Usage:

    sparkplug_watch.py --port 1883 [--host 127.0.0.1] [--seconds N]
"""
import argparse
import datetime
import importlib
import os
import subprocess
import sys
import tempfile
import time

import paho.mqtt.client as mqtt

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "..", "agent")


def load_proto():
    out = tempfile.mkdtemp(prefix="sparkplug-watch-")
    subprocess.run(["protoc", "-I", PROTO_DIR, "--python_out", out, "sparkplug_b.proto"], check=True)
    sys.path.insert(0, out)
    return importlib.import_module("sparkplug_b_pb2")


def value_of(metric):
    if metric.is_null:
        return "(null)"
    field = metric.WhichOneof("value")
    if field is None:
        return "(none)"
    v = getattr(metric, field)
    if isinstance(v, bool):
        return "true" if v else "false"
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def clock(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--seconds", type=float, default=0, help="stop after this long (0: never)")
    args = ap.parse_args()
    pb = load_proto()
    births = {}  # node topic prefix -> {alias: (name, unit)}

    def on_connect(client, userdata, flags, rc):
        client.subscribe("spBv1.0/#", qos=1)

    def on_subscribe(client, userdata, mid, granted_qos):
        print(f"watching spBv1.0/# on {args.host}:{args.port}", flush=True)

    def on_message(client, userdata, msg):
        parts = msg.topic.split("/")
        if len(parts) < 4:
            return
        group, kind, node = parts[1], parts[2], parts[3]
        p = pb.Payload()
        try:
            p.ParseFromString(msg.payload)
        except Exception as e:  # a malformed payload is reported, not fatal
            print(f"{kind} {group}/{node}: not a Sparkplug payload ({e})", flush=True)
            return
        key = (group, node)
        seq = f" seq {p.seq}" if p.HasField("seq") else ""
        if kind == "NBIRTH":
            table = {}
            for m in p.metrics:
                unit = ""
                for k, v in zip(m.properties.keys, m.properties.values):
                    if k == "engUnit":
                        unit = v.string_value
                if m.HasField("alias"):
                    table[m.alias] = (m.name, unit)
            births[key] = table
        table = births.get(key, {})
        hist = sum(1 for m in p.metrics if m.is_historical)
        note = f" ({hist} historical)" if hist else ""
        print(f"{clock(p.timestamp)} {kind} {group}/{node}{seq}, {len(p.metrics)} metrics{note}", flush=True)
        for m in p.metrics:
            name, unit = (m.name, "") if m.name else table.get(m.alias, (f"alias {m.alias}", ""))
            if m.name and m.HasField("alias"):
                unit = table.get(m.alias, ("", ""))[1]
            print(f"    {name} = {value_of(m)} {unit}".rstrip(), flush=True)

    client = mqtt.Client(client_id=f"sparkplug-watch-{os.getpid()}")
    client.on_connect = on_connect
    client.on_message = on_message
    client.on_subscribe = on_subscribe
    client.connect(args.host, args.port)
    client.loop_start()
    try:
        if args.seconds:
            time.sleep(args.seconds)
        else:
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    client.loop_stop()


if __name__ == "__main__":
    main()
