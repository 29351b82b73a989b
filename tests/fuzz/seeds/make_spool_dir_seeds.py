#!/usr/bin/env python3
"""Writes the seeds of fuzz_spool_dir (the input format is in its header)."""
import os, struct, zlib

def record(rid, payload, ts=1700000000000):
    head = struct.pack('<IQQ', len(payload), rid, ts)
    crc = zlib.crc32(head + payload) & 0xffffffff
    return struct.pack('<I', 0x4C4F5053) + head + struct.pack('<I', crc)

def segment(first, n):
    return b''.join(record(i, b'batch-%d' % i) for i in range(first, first + n))

def entry(name_id=None, raw=None, content=b'', directory=False):
    kind = 0x80 if directory else 0
    if raw is not None:
        out = bytes([kind | 3, len(raw)]) + raw
    else:
        out = bytes([kind | (2 if name_id >= 1000 else 0)]) + struct.pack('>Q', name_id)
    return out + struct.pack('>H', len(content)) + content

def seed(marker, entries):
    return bytes([len(entries), len(marker)]) + marker + b''.join(entries)

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'spool_dir')
os.makedirs(here, exist_ok=True)
seeds = {
    'three-segments': seed(b'2\n', [entry(1, content=segment(1, 3)), entry(4, content=segment(4, 3)),
                                    entry(7, content=segment(7, 2))]),
    'marker-negative': seed(b'-5\n', [entry(5, content=segment(5, 3)), entry(8, content=segment(8, 3))]),
    'marker-overflow': seed(b'99999999999999999999999\n', [entry(1, content=segment(1, 4))]),
    'marker-past-newest': seed(b'1000\n', [entry(1, content=segment(1, 4))]),
    'directory-segment': seed(b'', [entry(1, content=segment(1, 3)), entry(4, directory=True),
                                    entry(7, content=segment(7, 3))]),
    'newest-is-directory': seed(b'', [entry(1, content=segment(1, 3)), entry(4, directory=True)]),
    'stray-wrapping-name': seed(b'', [entry(1, content=segment(1, 3)),
                                      entry(raw=b'18446744073709551615.seg'),
                                      entry(raw=b'99999999999999999999.seg')]),
    'truncated-older': seed(b'', [entry(1, content=segment(1, 3)[:50]), entry(4, content=segment(4, 3))]),
    'all-empty': seed(b'', [entry(1), entry(4), entry(7)]),
    'punched-head': seed(b'3\n', [entry(1, content=b'\0' * 100 + segment(1, 6)[100:])]),
}
for name, data in seeds.items():
    with open(os.path.join(here, name), 'wb') as f:
        f.write(data)
