#!/usr/bin/env python3
"""Echo servers and load clients for the network tests (run natively and under myst).

  echo.py server tcp|udp          serve on 127.0.0.1, an ephemeral port; prints "listening PORT"
  echo.py client tcp|udp PORT N C  N connections (or datagram exchanges), C at a time; each
                                   sends its own payload and checks the echo; prints a summary
  echo.py server asyncio          an asyncio echo server (epoll through selectors)
  echo.py burst PORT N             N connections open at once (asyncio): each sends its payload,
                                   half-closes and reads the echo to EOF; prints a summary
  echo.py load PORT SECONDS C      C threads doing connect/send/echo/close for SECONDS; prints
                                   "requests N errors E rate R/s"
  echo.py send PORT FILE           connect, send FILE, close the sending side, wait for close
  echo.py recv-one                 accept one TCP connection; print the SHA-256 and length of
                                   everything received
"""
import hashlib
import socket
import socketserver
import sys
import threading


class TcpEcho(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)


class UdpEcho(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data, self.client_address)


class ThreadedTcp(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def serve(kind):
    if kind == "tcp":
        srv = ThreadedTcp(("127.0.0.1", 0), TcpEcho)
    else:
        srv = socketserver.UDPServer(("127.0.0.1", 0), UdpEcho)
    print("listening", srv.server_address[1], flush=True)
    srv.serve_forever()


def payload(i):
    # Sizes from 1 byte to 64 KiB, contents unique per exchange.
    size = 1 + (i * 7919) % (65536 if i % 10 == 0 else 2048)
    seed = hashlib.sha256(str(i).encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def tcp_once(port, i):
    data = payload(i)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    return got == data, len(data)


def udp_once(port, i):
    data = payload(i)[:1400]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        for _ in range(5):  # UDP may drop; retry
            s.sendto(data, ("127.0.0.1", port))
            try:
                got, _ = s.recvfrom(65536)
                return got == data, len(data)
            except socket.timeout:
                continue
    return False, len(data)


def client(kind, port, n, conc):
    once = tcp_once if kind == "tcp" else udp_once
    ok = 0
    total = 0
    errors = []
    lock = threading.Lock()
    next_i = [0]

    def worker():
        nonlocal ok, total
        while True:
            with lock:
                i = next_i[0]
                if i >= n:
                    return
                next_i[0] += 1
            try:
                good, size = once(port, i)
            except OSError as e:
                good, size = False, 0
                with lock:
                    errors.append(f"#{i}: {e}")
            with lock:
                ok += good
                total += size if good else 0

    threads = [threading.Thread(target=worker) for _ in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"{kind}: {n} exchanges, {conc} at a time: {ok} echoed correctly, {total} bytes")
    for e in errors[:5]:
        print("error", e)
    return 0 if ok == n else 1


def serve_asyncio():
    import asyncio

    async def handle(reader, writer):
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def run():
        srv = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        print("listening", srv.sockets[0].getsockname()[1], flush=True)
        async with srv:
            await srv.serve_forever()

    asyncio.run(run())


def burst(port, n):
    import asyncio
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))

    opened = [0]

    async def one(i, gate):
        data = payload(i)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        opened[0] += 1
        if opened[0] == n:
            gate.set()
        try:  # every connection is open before any sends (unless some failed to open)
            await asyncio.wait_for(gate.wait(), 30)
        except asyncio.TimeoutError:
            pass
        writer.write(data)
        await writer.drain()
        writer.write_eof()
        got = await reader.read(-1)
        writer.close()
        return got == data, len(data)

    async def run():
        gate = asyncio.Event()
        return await asyncio.gather(*(one(i, gate) for i in range(n)), return_exceptions=True)

    results = asyncio.run(run())
    ok = sum(1 for r in results if isinstance(r, tuple) and r[0])
    total = sum(r[1] for r in results if isinstance(r, tuple) and r[0])
    errors = [r for r in results if isinstance(r, Exception)]
    print(f"burst: {n} connections open at once: {ok} echoed correctly, {total} bytes")
    for e in errors[:5]:
        print("error", repr(e))
    return 0 if ok == n else 1


def load(port, seconds, conc):
    import time

    end = time.time() + seconds
    counts = [0, 0]
    lock = threading.Lock()

    def worker(w):
        i = w
        while time.time() < end:
            try:
                good, _ = tcp_once(port, i % 1000)
            except OSError:
                good = False
            with lock:
                counts[0 if good else 1] += 1
            i += conc

    t0 = time.time()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    el = time.time() - t0
    print(f"requests {counts[0]} errors {counts[1]} rate {counts[0] / el:.0f}/s")
    return 0 if counts[1] == 0 else 1


def send(port, path):
    with open(path, "rb") as f:
        data = f.read()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass


def recv_one():
    with socket.socket() as lst:
        lst.bind(("127.0.0.1", 0))
        lst.listen(1)
        print("listening", lst.getsockname()[1], flush=True)
        conn, _ = lst.accept()
        h = hashlib.sha256()
        n = 0
        with conn:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                h.update(chunk)
                n += len(chunk)
        print(f"received {n} bytes, sha256 {h.hexdigest()}")


def main():
    if sys.argv[1:] == ["server", "asyncio"]:
        serve_asyncio()
    elif len(sys.argv) == 4 and sys.argv[1] == "burst":
        sys.exit(burst(int(sys.argv[2]), int(sys.argv[3])))
    elif len(sys.argv) == 5 and sys.argv[1] == "load":
        sys.exit(load(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])))
    elif len(sys.argv) == 4 and sys.argv[1] == "send":
        send(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) == 2 and sys.argv[1] == "recv-one":
        recv_one()
    elif len(sys.argv) >= 3 and sys.argv[1] == "server" and sys.argv[2] in ("tcp", "udp"):
        serve(sys.argv[2])
    elif len(sys.argv) == 6 and sys.argv[1] == "client" and sys.argv[2] in ("tcp", "udp"):
        sys.exit(client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
