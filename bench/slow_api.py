"""Key-press-to-frame latency while the Kubernetes API answers after 2 s: a tiny delaying
proxy in front of the drill world; the app (Pilot, headless) toggles the diff pane with
``d`` on the history screen while its polls wait on the slow API. Prints p50/p99.

    python bench/slow_api.py [presses]
"""
from __future__ import annotations

import asyncio
import http.client
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, ".")

DELAY = 2.0


def proxy(upstream_port: int) -> ThreadingHTTPServer:
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):  # noqa: D401
            pass

        def _any(self):
            time.sleep(DELAY)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
            c = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
            c.request(self.command, self.path, body, {k: v for k, v in self.headers.items() if k.lower() != "host"})
            r = c.getresponse()
            data = r.read()
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PATCH = do_POST = _any

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


async def main(presses: int) -> None:
    from cockpit.app import CockpitApp
    from cockpit.world.world import World
    from tests.ui.fakes import args

    world = World("bad-image").start()
    srv = proxy(world.port)
    kc = world.write_kubeconfig(tempfile.mktemp())
    text = kc.read_text().replace(f":{world.port}", f":{srv.server_address[1]}")
    kc.write_text(text)
    app = CockpitApp(args(kubeconfig=str(kc)))
    lat = []
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.data.targets:
            await pilot.pause(0.1)
        await pilot.press("enter")
        await pilot.press("h")
        await pilot.pause(0.5)
        for _ in range(presses):
            box = app.screen.query_one("#diffbox") if app.screen.query("#diffbox") else None
            t0 = time.perf_counter()
            await pilot.press("d")
            await pilot.pause()  # one frame: the key handled and the screen refreshed
            lat.append((time.perf_counter() - t0) * 1000)
            await pilot.pause(0.05)
    srv.shutdown()
    world.stop()
    lat.sort()
    print(f"API delay {DELAY:.0f}s; {len(lat)} key presses")
    print(f"key-press-to-frame latency p50 {statistics.median(lat):.1f} ms  p99 {lat[int(len(lat) * 0.99) - 1]:.1f} ms  max {lat[-1]:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
