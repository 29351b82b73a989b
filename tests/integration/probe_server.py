#!/usr/bin/env python3
"""Servers whose behaviour the probe tests control, on loopback only.

  probe_server.py http  PORT_FILE [CERT KEY]   HTTP, or HTTPS with CERT/KEY
  probe_server.py dns-servfail PORT_FILE       a DNS server answering SERVFAIL

HTTP paths:
  /ok                    200, 5 bytes
  /delay?ms=N            200 after N ms
  /status?code=N         that status
  /bytes?n=N&rate=R      N bytes at R bytes per second (chunks of 16 KiB)
  /upload (POST)         reads the body, 200
The chosen port is written to PORT_FILE once the server listens.
"""
import http.server
import socket
import socketserver
import ssl
import sys
import time
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        if url.path == "/ok":
            return self.reply(200, b"hello")
        if url.path == "/delay":
            time.sleep(int(q["ms"]) / 1000)
            return self.reply(200, b"late")
        if url.path == "/status":
            return self.reply(int(q["code"]), b"")
        if url.path == "/bytes":
            n, rate = int(q["n"]), float(q["rate"])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            chunk = 16384
            start = time.monotonic()
            sent = 0
            try:
                while sent < n:
                    size = min(chunk, n - sent)
                    self.wfile.write(b"x" * size)
                    sent += size
                    # Pace to the rate: the time by which `sent` bytes are due.
                    ahead = start + sent / rate - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        return self.reply(404)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        while n > 0:
            got = self.rfile.read(min(n, 65536))
            if not got:
                break
            n -= len(got)
        return self.reply(200, b"ok")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def serve_http(port_file, cert=None, key=None):
    srv = Server(("127.0.0.1", 0), Handler)
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


def serve_dns_servfail(port_file):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    with open(port_file + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    while True:
        q, peer = s.recvfrom(512)
        if len(q) < 12:
            continue
        # Same id and question; QR, RD, RA and rcode 2 (SERVFAIL); no answers.
        flags = bytes([0x80 | (q[2] & 0x01), 0x82])
        s.sendto(q[:2] + flags + q[4:6] + b"\0\0\0\0\0\0" + q[12:], peer)


if __name__ == "__main__":
    mode, port_file = sys.argv[1], sys.argv[2]
    if mode == "http":
        serve_http(port_file, *(sys.argv[3:5] if len(sys.argv) >= 5 else ()))
    elif mode == "dns-servfail":
        serve_dns_servfail(port_file)
