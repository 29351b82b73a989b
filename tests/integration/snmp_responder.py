#!/usr/bin/env python3
"""An SNMPv2c agent whose behaviour the tests script: what snmpd cannot serve.

  snmp_responder.py PORT_FILE SCENARIO_JSON

Listens on a free UDP port of 127.0.0.1 and writes it to PORT_FILE. Answers
GET, GETNEXT and GETBULK (raw BER, no library) with the system group and the
IF-MIB columns the agent polls, built from SCENARIO_JSON for each poll. A poll
starts with a GET that asks sysUpTime.0 (the agent's first request); polls are
numbered from 0. Any field may be a list, one value per poll (the last one
repeats):

  community    "public"
  interfaces   number of interface rows (10)
  first_index  ifIndex of the first row (1)
  renumber     N: ifIndex of row i is first_index + i + poll x N (0: stable)
  named        true: ifName "port<i+1>" and ifDescr; false: neither column
  speed_mbps   ifHighSpeed; ifSpeed in bit/s (capped at 2^32 - 1) (1000)
  octets       ifInOctets/ifOutOctets of every row, taken mod 2^32
               (default: poll x 1000 x (i + 1))
  hc           serve ifHCInOctets/ifHCOutOctets (true)
  hc_octets    their value (default: as octets, not reduced)
  uptime       sysUpTime in ticks (default: 100000 + poll x 100)
  drop         datagram numbers within a poll to drop unanswered (1 is the
               poll's first GET), such as [3]: a link that loses them
  drop_from    drop every datagram of a poll from this number on
  delay_ms     answer every request this late (a slow device)
  max_size     a response longer than this many bytes is answered with
               tooBig instead (a device with a small buffer)
  objects      any other OIDs: {"1.3.6.1.4.1.318.1.1.1.2.2.1.0": ["Gauge32", 87], ...}
               with the types INTEGER, Gauge32, Counter32, Counter64,
               TimeTicks, STRING, OID (value: dotted text); a value that is
               a list is one value per poll (the last one repeats)
Each poll's start is logged to stdout, with the number of OIDs its GET asks,
and each GETBULK as "bulk: max-repetitions R of C columns -> V values" (or
"-> tooBig").
"""
import bisect
import os
import json
import socket
import sys
import time

SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)
SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SYS_NAME = (1, 3, 6, 1, 2, 1, 1, 5, 0)
IF_NUMBER = (1, 3, 6, 1, 2, 1, 2, 1, 0)
IF_TABLE = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IF_X_TABLE = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)

INTEGER, OCTETS, NULL, OID, SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
COUNTER32, GAUGE32, TIMETICKS, COUNTER64 = 0x41, 0x42, 0x43, 0x46
NO_SUCH_OBJECT, END_OF_MIB_VIEW = 0x80, 0x82
GET, GETNEXT, RESPONSE, GETBULK = 0xA0, 0xA1, 0xA2, 0xA5


def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def enc_int(tag, value):
    if tag == INTEGER:
        return tlv(tag, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return tlv(tag, (b"\x00" + raw) if raw[0] & 0x80 else raw)


def enc_oid(oid):
    out = bytearray([oid[0] * 40 + oid[1]])
    for n in oid[2:]:
        chunk = [n & 0x7F]
        n >>= 7
        while n:
            chunk.append(0x80 | (n & 0x7F))
            n >>= 7
        out += bytes(reversed(chunk))
    return tlv(OID, bytes(out))


def enc_value(value):
    tag, v = value
    if tag == OCTETS:
        return tlv(OCTETS, v.encode())
    if tag == OID:
        return enc_oid(v)
    if tag in (NULL, NO_SUCH_OBJECT, END_OF_MIB_VIEW):
        return bytes([tag, 0])
    return enc_int(tag, v)


def read_tlv(data, pos):
    tag, n = data[pos], data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(data[pos:pos + k], "big")
        pos += k
    return tag, data[pos:pos + n], pos + n


def dec_int(body):
    return int.from_bytes(body, "big", signed=True)


def dec_oid(body):
    oid = [body[0] // 40, body[0] % 40]
    n = 0
    for b in body[1:]:
        n = (n << 7) | (b & 0x7F)
        if not b & 0x80:
            oid.append(n)
            n = 0
    return tuple(oid)


def decode(data):
    """(version, community, pdu tag, request id, a, b, [oids]) of a request."""
    _, msg, _ = read_tlv(data, 0)
    _, version, pos = read_tlv(msg, 0)
    _, community, pos = read_tlv(msg, pos)
    tag, pdu, _ = read_tlv(msg, pos)
    _, reqid, pos = read_tlv(pdu, 0)
    _, a, pos = read_tlv(pdu, pos)
    _, b, pos = read_tlv(pdu, pos)
    _, binds, _ = read_tlv(pdu, pos)
    oids, p = [], 0
    while p < len(binds):
        _, vb, p = read_tlv(binds, p)
        _, name, _ = read_tlv(vb, 0)
        oids.append(dec_oid(name))
    return dec_int(version), community.decode(), tag, dec_int(reqid), dec_int(a), dec_int(b), oids


def encode(version, community, reqid, binds, status=0):
    body = b"".join(tlv(SEQUENCE, enc_oid(o) + enc_value(v)) for o, v in binds)
    pdu = tlv(RESPONSE, enc_int(INTEGER, reqid) + enc_int(INTEGER, status) + enc_int(INTEGER, 0) +
              tlv(SEQUENCE, body))
    return tlv(SEQUENCE, enc_int(INTEGER, version) + tlv(OCTETS, community.encode()) + pdu)


TYPES = {"INTEGER": INTEGER, "Gauge32": GAUGE32, "Counter32": COUNTER32, "Counter64": COUNTER64,
         "TimeTicks": TIMETICKS, "STRING": OCTETS, "OID": OID}


def parse_oid(text):
    return tuple(int(n) for n in text.strip(".").split("."))


class Device:
    def __init__(self, path):
        with open(path) as f:
            self.scenario = json.load(f)
        self.poll = -1
        self.datagram = 0
        self.oids = []
        self.objects = {parse_oid(k): v for k, v in self.scenario.get("objects", {}).items()}

    def at(self, key, default):
        v = self.scenario.get(key, default)
        if isinstance(v, list) and key != "drop":
            return v[min(self.poll, len(v) - 1)] if v else default
        return v

    def build(self):
        """The poll's OIDs in order; rebuilt only when the rows change."""
        p = max(self.poll, 0)
        self.base = self.at("first_index", 1) + p * self.at("renumber", 0)
        shape = (self.at("interfaces", 10), self.base, self.at("named", True), self.at("hc", True))
        if shape == getattr(self, "shape", None):
            return
        self.shape = shape
        n, base, named, hc = shape
        columns = [(IF_TABLE, c) for c in ((2,) if named else ()) + (5, 8, 10, 13, 14, 16, 19, 20)]
        columns += [(IF_X_TABLE, c) for c in ((1,) if named else ()) + ((6, 10) if hc else ()) + (15,)]
        self.oids = [SYS_DESCR, SYS_UPTIME, SYS_NAME, IF_NUMBER]
        for table, column in columns:
            self.oids += [table + (column, base + i) for i in range(n)]
        self.oids = sorted(set(self.oids) | set(self.objects))

    def value(self, oid):
        """The value of an OID of this poll's table."""
        p = max(self.poll, 0)
        if oid in self.objects:
            kind, v = self.objects[oid]
            if isinstance(v, list):
                v = v[min(p, len(v) - 1)]
            tag = TYPES[kind]
            return (tag, parse_oid(v) if tag == OID else v)
        if oid == SYS_DESCR:
            return (OCTETS, "scripted responder")
        if oid == SYS_NAME:
            return (OCTETS, "responder")
        if oid == SYS_UPTIME:
            return (TIMETICKS, self.at("uptime", 100000 + p * 100))
        if oid == IF_NUMBER:
            return (INTEGER, self.shape[0])
        column, i = oid[-2], oid[-1] - self.base
        speed = self.at("speed_mbps", 1000)
        octets = self.at("octets", p * 1000 * (i + 1))
        if oid[:len(IF_X_TABLE)] == IF_X_TABLE:
            if column == 1:
                return (OCTETS, "port%d" % (i + 1))
            if column == 15:
                return (GAUGE32, speed)
            return (COUNTER64, self.at("hc_octets", octets) % 2**64)
        if column == 2:
            return (OCTETS, "port%d" % (i + 1))
        if column == 5:
            return (GAUGE32, min(speed * 1000000, 2**32 - 1))
        if column == 8:
            return (INTEGER, 1)
        if column in (10, 16):
            return (COUNTER32, octets % 2**32)
        return (COUNTER32, 0)

    def get(self, oid):
        i = bisect.bisect_left(self.oids, oid)
        if i < len(self.oids) and self.oids[i] == oid:
            return self.value(oid)
        return (NO_SUCH_OBJECT, 0)

    def next_of(self, oid):
        i = bisect.bisect_right(self.oids, oid)
        if i == len(self.oids):
            return oid, (END_OF_MIB_VIEW, 0)
        return self.oids[i], self.value(self.oids[i])

    def answer(self, tag, a, b, oids):
        if tag == GET:
            return [(o, self.get(o)) for o in oids]
        if tag == GETNEXT:
            return [self.next_of(o) for o in oids]
        binds = [self.next_of(o) for o in oids[:a]]
        cursor = list(oids[a:])
        for _ in range(max(b, 0)):
            for k, o in enumerate(cursor):
                cursor[k], value = self.next_of(o)
                binds.append((cursor[k], value))
        return binds

    def handle(self, data):
        version, community, tag, reqid, a, b, oids = decode(data)
        if tag == GET and SYS_UPTIME in oids:
            self.poll += 1
            self.datagram = 0
            self.build()
            print("poll %d: a GET of %d OIDs" % (self.poll, len(oids)), flush=True)
        self.datagram += 1
        drop_from = self.at("drop_from", 0)
        if self.datagram in self.scenario.get("drop", []) or 0 < drop_from <= self.datagram:
            return None
        if community != self.at("community", "public"):
            return None
        binds = self.answer(tag, a, b, oids)
        reply = encode(version, community, reqid, binds)
        too_big = 0 < self.at("max_size", 0) < len(reply)
        if tag == GETBULK:
            print("bulk: max-repetitions %d of %d columns -> %s" %
                  (b, len(oids) - a, "tooBig" if too_big else "%d values" % len(binds)), flush=True)
        if too_big:
            reply = encode(version, community, reqid, [(o, (NULL, 0)) for o in oids], status=1)
        delay = self.at("delay_ms", 0)
        if delay:
            time.sleep(delay / 1000.0)
        return reply


def main():
    device = Device(sys.argv[2])
    device.build()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(sock.getsockname()[1]))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    while True:
        data, peer = sock.recvfrom(65535)
        try:
            reply = device.handle(data)
        except (IndexError, ValueError) as e:
            print("undecodable request from %s: %s" % (peer, e), flush=True)
            continue
        if reply:
            sock.sendto(reply, peer)


if __name__ == "__main__":
    main()
