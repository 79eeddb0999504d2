#!/usr/bin/env python
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A TCP relay that adds a fixed delay in each direction: a CA "100 ms away" on loopback.

The kernel here has no netem, so the benchmark puts this in front of pebble. Every chunk read
from one side is written to the other side ``delay`` seconds after it was read, in order, so a
request/response round trip costs ``2 * delay`` more and bandwidth is not limited. TLS passes
through untouched (the relay never looks at the bytes).

    python3 latency_proxy.py --listen 127.0.0.1:14444 --target 127.0.0.1:14000 --delay 0.05

It is also importable: ``LatencyProxy(listen, target, delay).start()`` runs it in a thread.
"""
import argparse
import asyncio
import threading
import time

CHUNK = 65536


async def _pump(reader, writer, delay):
    """Copy reader -> writer, each chunk delayed by ``delay`` seconds after it arrived."""
    queue = asyncio.Queue()

    async def read_side():
        try:
            while True:
                data = await reader.read(CHUNK)
                queue.put_nowait((time.monotonic() + delay, data))
                if not data:
                    return
        except (ConnectionError, OSError):
            queue.put_nowait((time.monotonic() + delay, b''))

    async def write_side():
        try:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    await writer.drain()
                    return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            return

    await asyncio.gather(read_side(), write_side())


class LatencyProxy:
    def __init__(self, listen, target, delay):
        self.listen = listen
        self.target = target
        self.delay = delay
        self.connections = 0
        self._loop = None
        self._server = None
        self._ready = threading.Event()
        self._thread = None
        self._stopping = None

    async def _handle(self, client_reader, client_writer):
        self.connections += 1
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.target), timeout=10)
        except (OSError, asyncio.TimeoutError):
            client_writer.close()
            return
        try:
            await asyncio.gather(_pump(client_reader, upstream_writer, self.delay),
                                 _pump(upstream_reader, client_writer, self.delay))
        except asyncio.CancelledError:
            pass  # stop(): asyncio's stream callback would log a cancelled handler as an error
        finally:
            for w in (client_writer, upstream_writer):
                try:
                    w.close()
                except (OSError, RuntimeError):
                    pass

    async def _serve(self):
        self._stopping = asyncio.Event()
        self._server = await asyncio.start_server(self._handle, *self.listen)
        self.listen = self._server.sockets[0].getsockname()[:2]
        self._ready.set()
        await self._stopping.wait()
        self._server.close()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def run(self):
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    def start(self):
        """Run in a daemon thread; returns once listening (``self.listen`` has the real port)."""
        self._thread = threading.Thread(target=self.run, daemon=True, name='latency-proxy')
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError('latency proxy did not start on %s:%d' % self.listen)
        return self

    def stop(self):
        if self._loop is not None and self._ready.is_set():
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)


def _addr(text):
    host, _sep, port = text.rpartition(':')
    return host, int(port)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--listen', type=_addr, required=True, help='HOST:PORT to listen on')
    parser.add_argument('--target', type=_addr, required=True, help='HOST:PORT to relay to')
    parser.add_argument('--delay', type=float, default=0.05, help='seconds added in each direction (default 0.05)')
    args = parser.parse_args()
    LatencyProxy(args.listen, args.target, args.delay).run()


if __name__ == '__main__':
    main()
