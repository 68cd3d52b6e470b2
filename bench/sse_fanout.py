"""SSE fan-out benchmark: the web UI's `/events` next to a bare sse-starlette broadcast, in one run.

    .venv/bin/python bench/sse_fanout.py --viewers 100 --hosts 1000 --rate 2 --duration 15
    .venv/bin/python bench/sse_fanout.py --page --page-hosts 10000      # the page in Chromium too

Three servers run as subprocesses, all on port 0:
- `upstream`: a FleetService that serves WatchFleet (a snapshot of --hosts synthetic hosts, then
  --rate host changes a second, each carrying its sequence number and send time in a compartment's
  message) and GetWebSession (every token is a viewer's session). Both relays below watch it, so
  they get the same events at the same moment.
- `webui`: the real web UI (`webui.app.create_app`) under uvicorn, a client of the upstream.
- `bare`: a Starlette app with one WatchFleet, each event made JSON once (sse-starlette
  ServerSentEvent) and put on every client's queue; a new client gets the last snapshot first.

The same client process then connects --viewers streams to the bare broadcaster, waits until all
have their snapshot, then --viewers streams to the web UI (connect storms one after the other), and
measures --duration seconds with all of them open. Figures: time until all viewers are live, server
CPU per connect, p50/p99 change -> client latency, delivery ratio (changes received / changes sent
in the window x viewers), server CPU (utime+stime of each server process over the window).

`--webui-path DIR` runs the web UI from another source tree (DIR/src first on PYTHONPATH), e.g. main
before a change: `git archive main src/webui | tar -x -C /tmp/before`.

`--page` opens the dashboard in headless Chromium (Playwright, /usr/bin/chromium) with a
--page-hosts snapshot and --page-changes changes, framed by the web UI's own fan-out and routed to
the page, and prints the page's performance measures: first snapshot applied and painted, and the
time each change took to apply.

Run it at small scale on a shared machine (e.g. 100 viewers); it prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))  # the synthetic fleet (liveview.py)

import grpc  # noqa: E402
import liveview  # noqa: E402
from figures import Figure  # noqa: E402
from figures import read as read_figures  # noqa: E402
from figures import write as write_figures  # noqa: E402
from google.protobuf import timestamp_pb2  # noqa: E402
from sse_viewer import Viewer, follow  # noqa: E402

from fleetdeck.v1 import fleet_service_pb2 as fleet_pb  # noqa: E402
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc  # noqa: E402
from fleetdeck.v1 import types_pb2 as pb  # noqa: E402

COOKIE_KEY = b"bench-cookie-key-" + b"k" * 32
TOKEN = "bench-session"
LOAD_BEFORE = os.getloadavg()[0]


def announce(**fields: Any) -> None:
    """A child tells the orchestrator its port on its first line of output."""
    print(json.dumps(fields), flush=True)


# --- the upstream FleetService ---------------------------------------------------------------------


class Upstream(fleet_grpc.FleetServiceServicer):
    """WatchFleet: a snapshot, then every change to every watcher; GetWebSession: always a viewer."""

    def __init__(self, hosts: int) -> None:
        self.hosts = liveview.fleet(hosts)
        self.version = 1
        self.watchers: set[asyncio.Queue[fleet_pb.WatchFleetResponse]] = set()

    async def WatchFleet(
        self, request: fleet_pb.WatchFleetRequest, context: Any
    ) -> AsyncIterator[fleet_pb.WatchFleetResponse]:
        queue: asyncio.Queue[fleet_pb.WatchFleetResponse] = asyncio.Queue()
        self.watchers.add(queue)
        try:
            yield liveview.snapshot(self.hosts, self.version)
            while True:
                yield await queue.get()
        finally:
            self.watchers.discard(queue)

    async def GetWebSession(
        self, request: fleet_pb.GetWebSessionRequest, context: Any
    ) -> fleet_pb.GetWebSessionResponse:
        expires = timestamp_pb2.Timestamp()
        expires.FromSeconds(int(time.time()) + 86_400)
        session = fleet_pb.WebSession(
            username="bench", role=pb.ROLE_VIEWER, csrf_token="c" * 32, expires_at=expires
        )
        return fleet_pb.GetWebSessionResponse(session=session)

    async def changes(self, rate: float) -> None:
        """One host change every 1/rate seconds, for ever."""
        seq = 0
        started = time.monotonic()
        while True:
            seq += 1
            await asyncio.sleep(max(0.0, started + seq / rate - time.monotonic()))
            index = seq % len(self.hosts)
            tests = pb.COMPARTMENT_STATUS_ERROR if seq % 2 else pb.COMPARTMENT_STATUS_OK
            changed = liveview.host(index, tests=tests, note=f"bench {seq} {time.time():.6f}")
            self.hosts[index] = changed
            self.version += 1
            event = liveview.change(changed, self.version)
            for queue in self.watchers:
                queue.put_nowait(event)


async def run_upstream(args: argparse.Namespace) -> None:
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    server = grpc.aio.server()
    upstream = Upstream(args.hosts)
    fleet_grpc.add_FleetServiceServicer_to_server(upstream, server)
    checks = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checks, server)
    name = fleet_pb.DESCRIPTOR.services_by_name["FleetService"].full_name
    await checks.set(name, health_pb2.HealthCheckResponse.SERVING)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    announce(port=port)
    changes = asyncio.create_task(upstream.changes(args.rate))
    try:
        await server.wait_for_termination()
    finally:
        changes.cancel()


# --- the two relays ----------------------------------------------------------------------------------


def serve(app: Any) -> None:
    import socket

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    announce(port=sock.getsockname()[1])
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", backlog=4096, timeout_graceful_shutdown=1
    )
    uvicorn.Server(config).run(sockets=[sock])


def run_webui(args: argparse.Namespace) -> None:
    from webui.app import create_app

    serve(create_app(args.upstream, cookie_key=COOKIE_KEY, api_token=args.api_token or None))


def run_bare(args: argparse.Namespace) -> None:
    from sse_starlette import EventSourceResponse, ServerSentEvent
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route

    from webui.convert import to_json

    clients: set[asyncio.Queue[ServerSentEvent]] = set()
    latest: dict[str, ServerSentEvent] = {}

    async def relay() -> None:
        async with grpc.aio.insecure_channel(args.upstream) as channel:
            stub: Any = fleet_grpc.FleetServiceStub(channel)
            metadata = (("authorization", f"Bearer {args.api_token}"),) if args.api_token else None
            async for event in stub.WatchFleet(fleet_pb.WatchFleetRequest(), metadata=metadata):
                kind = event.WhichOneof("event")
                message = ServerSentEvent(
                    data=to_json(getattr(event, kind)), event=kind, id=str(event.version)
                )
                if kind == "snapshot":
                    latest["snapshot"] = message
                for queue in clients:
                    queue.put_nowait(message)

    async def events(request: Request) -> EventSourceResponse:
        queue: asyncio.Queue[ServerSentEvent] = asyncio.Queue()

        async def stream() -> AsyncIterator[ServerSentEvent]:
            clients.add(queue)
            try:
                if "snapshot" in latest:
                    yield latest["snapshot"]
                while True:
                    yield await queue.get()
            finally:
                clients.discard(queue)

        return EventSourceResponse(stream(), ping=15)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(relay())
        yield
        task.cancel()

    serve(Starlette(routes=[Route("/events", events)], lifespan=lifespan))


# --- the clients ---------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Side:
    name: str
    port: int
    pid: int
    headers: dict[str, str]
    got: list[dict[int, tuple[float, float]]] = field(default_factory=list)
    """Per viewer: sequence number -> (send time, latency) of every change it received."""
    live: int = 0
    errors: int = 0
    snapshot_bytes: int = 0
    why: list[str] = field(default_factory=list)
    connect_seconds: float = 0.0
    connect_cpu: float = 0.0
    window_cpu: float = 0.0


async def start_child(
    role: str, *extra: str, env: dict[str, str] | None = None
) -> tuple[asyncio.subprocess.Process, int]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), role, *extra, stdout=asyncio.subprocess.PIPE, env=env
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    return process, int(json.loads(line)["port"])


class Child:
    """A helper process driven by JSON lines (the clients, the agents)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, role: str, config: dict[str, Any], workdir: Path) -> Child:
        path = workdir / f"{role}.json"
        path.write_text(json.dumps(config))
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(SCRIPT), role, "--config", str(path),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 26,
        )  # fmt: skip
        return cls(process)

    async def receive(self, within: float = 300.0) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), within)
        if not line:
            raise RuntimeError(f"a bench process exited ({await self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()
        return await self.receive()

    async def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), 10)


async def run_clients(config: dict[str, Any]) -> None:
    """The viewers, in a process of their own at a lower priority: connect a side's viewers when told,
    answer when all are live; at "report", stop and hand over every viewer's changes."""
    os.nice(config["nice"])
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    stop = asyncio.Event()
    sides: dict[str, list[Viewer]] = {}
    tasks: list[asyncio.Task[None]] = []
    while line := await commands.readline():
        command = json.loads(line)
        if command["cmd"] == "connect":
            viewers = sides[command["side"]] = [Viewer() for _ in range(command["count"])]
            started = time.monotonic()
            tasks += [
                asyncio.create_task(
                    follow("127.0.0.1", command["port"], "/events", command["headers"], v, stop)
                )
                for v in viewers
            ]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(v.live.wait() for v in viewers)), 120)
            live = [v.live_at for v in viewers if v.live_at is not None]
            announce(live=len(live), seconds=(max(live) if live else started + 120) - started)
        elif command["cmd"] == "report":
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            announce(
                sides={
                    name: {
                        "got": [{str(k): v for k, v in viewer.got.items()} for viewer in viewers],
                        "errors": sum(v.errors for v in viewers),
                        "snapshot_bytes": max((v.snapshot_bytes for v in viewers), default=0),
                        "why": sorted({v.why for v in viewers if v.why})[:5],
                    }
                    for name, viewers in sides.items()
                }
            )
            return


async def run_agents(config: dict[str, Any]) -> None:
    """Real agents of the control plane (raw HTTP/2, each from its own address): hello, a heartbeat
    every interval, and `rate` fact changes a second (round robin), each carrying its sequence number
    and send time in the host's `generation`, as the synthetic upstream does in a compartment."""
    import rawagent
    from heartbeats import facts
    from welcome import source_address

    from fleetdeck.v1 import agent_service_pb2 as agent_pb

    os.nice(config["nice"])
    loop = asyncio.get_running_loop()
    name, port = config["target"].rsplit(":", 1)
    status = pb.TestStatus(state=pb.TEST_STATE_NOT_RUN, defined_cases=3)

    def heartbeat(generation: str) -> bytes:
        beat = agent_pb.Heartbeat(facts=facts(), test_status=status)
        beat.facts.generation = generation
        return rawagent.data_frame(rawagent.grpc_message(agent_pb.ConnectRequest(heartbeat=beat)))

    async def connect(index: int, host: str, token: str) -> rawagent.Connection:
        hello = agent_pb.ConnectRequest(hello=agent_pb.Hello(host=host, facts=facts(), test_status=status))
        connection = rawagent.Connection(rawagent.opening(config["target"], token, hello))
        await loop.create_connection(
            lambda: connection, name, int(port), local_addr=(source_address(index), 0)
        )
        await asyncio.wait_for(connection.welcome, 120)
        connection.beat(
            heartbeat(facts().generation), config["interval"], random.uniform(0, config["interval"])
        )
        return connection

    agents = config["agents"]
    connections = await asyncio.gather(*(connect(i, h, t) for i, (h, t) in enumerate(agents)))
    announce(ready=len(connections))
    seq = 0
    started = time.monotonic()
    while True:
        seq += 1
        await asyncio.sleep(max(0.0, started + seq / config["rate"] - time.monotonic()))
        frame = heartbeat(f"bench {seq} {time.time():.6f}")
        connection = connections[seq % len(connections)]
        connection.heartbeat = frame  # its regular heartbeats repeat it: no change back
        connection.write(frame)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def real_upstream(
    args: argparse.Namespace, workdir: Path, stack: contextlib.AsyncExitStack
) -> tuple[str, str, str]:
    """The control plane with --agents real agents (in a process of their own): (its target, the
    admin API token the relays watch with, a web session token for the viewers' cookie)."""
    from heartbeats import ADMIN, ADMIN_PASSWORD, ADMIN_TOKEN, create_tokens, prepare_fleet, start_server

    server = await start_server("control plane", workdir)
    stack.push_async_callback(server.stop)
    await prepare_fleet(server, 5.0)
    tokens, _ = await create_tokens(server, args.agents)
    agents = await Child.start(
        "agents",
        {"target": server.target, "agents": tokens, "rate": args.rate, "interval": 5.0, "nice": 10},
        workdir,
    )
    stack.push_async_callback(agents.stop)
    ready = await agents.receive()
    print(f"  {ready['ready']} real agents connected to the control plane", flush=True)
    login = await server.fleet.Login(
        fleet_pb.LoginRequest(username="admin", password=ADMIN_PASSWORD), timeout=30, metadata=ADMIN
    )
    return server.target, ADMIN_TOKEN, login.session_token


async def fan_out(args: argparse.Namespace) -> None:
    import tempfile

    from webui.cookie import COOKIE_NAME, CookieSigner

    async with contextlib.AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fleetdeck-sse-")))
        processes: list[asyncio.subprocess.Process] = []
        if args.agents:
            target, api_token, session = await real_upstream(args, workdir, stack)
        else:
            upstream, upstream_port = await start_child(
                "upstream", "--hosts", str(args.hosts), "--rate", str(args.rate)
            )
            processes.append(upstream)
            target, api_token, session = f"127.0.0.1:{upstream_port}", "", TOKEN
        env = dict(os.environ)
        if args.webui_path:
            env["PYTHONPATH"] = os.pathsep.join(
                [str(Path(args.webui_path) / "src"), env.get("PYTHONPATH", "")]
            )
        token = ["--api-token", api_token] if api_token else []
        webui, webui_port = await start_child("webui", "--upstream", target, *token, env=env)
        bare, bare_port = await start_child("bare", "--upstream", target, *token)
        processes += [webui, bare]
        cookie = f"{COOKIE_NAME}={CookieSigner(COOKIE_KEY).sign(session)}"
        sides = [
            Side("bare sse-starlette", bare_port, bare.pid, {}),
            Side("web UI /events", webui_port, webui.pid, {"cookie": cookie}),
        ]
        clients = await Child.start("clients", {"nice": args.client_nice}, workdir)
        try:
            for side in sides:
                cpu = cpu_seconds(side.pid)
                answer = await clients.ask(
                    cmd="connect", side=side.name, port=side.port, headers=side.headers, count=args.viewers
                )
                side.connect_cpu = cpu_seconds(side.pid) - cpu
                side.connect_seconds = answer["seconds"]
                side.live = answer["live"]
            await asyncio.sleep(1.0)  # let the connect storms settle before the window
            before = {side.name: cpu_seconds(side.pid) for side in sides}
            client_before = cpu_seconds(clients.process.pid)
            window_start = time.time()
            await asyncio.sleep(args.duration)
            window_end = time.time()
            for side in sides:
                side.window_cpu = cpu_seconds(side.pid) - before[side.name]
            client_cpu = cpu_seconds(clients.process.pid) - client_before
            await asyncio.sleep(1.0)  # what was sent in the window has a second to arrive
            answer = await clients.ask(cmd="report")
            for side in sides:
                seen = answer["sides"][side.name]
                side.got = [{int(k): tuple(v) for k, v in got.items()} for got in seen["got"]]
                side.errors, side.why, side.snapshot_bytes = (
                    seen["errors"],
                    seen["why"],
                    seen["snapshot_bytes"],
                )
            report(sides, args, window_start, window_end, client_cpu)
            for side in sides:
                if side.why:
                    print(f"  {side.name} stream errors: {'; '.join(side.why)[:300]}")
        finally:
            await clients.stop()
            for process in processes:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), 5)


def report(
    sides: list[Side], args: argparse.Namespace, window_start: float, window_end: float, client_cpu: float
) -> None:
    # The changes sent in the window: sequence numbers whose send time lies in it, as any client saw.
    seen = {
        seq
        for side in sides
        for got in side.got
        for seq, (sent, _) in got.items()
        if window_start <= sent <= window_end
    }
    window = set(range(min(seen), max(seen) + 1)) if seen else set()
    agents = f"{args.agents:,} real agents" if args.agents else "a synthetic upstream"
    print(
        f"SSE fan-out: {args.viewers} viewers per server, {args.hosts if not args.agents else args.agents} hosts "
        f"({agents}), {args.rate} changes/s, {window_end - window_start:.1f} s window (load average before: "
        f"{LOAD_BEFORE:.1f}); the viewers' own process used {client_cpu / (window_end - window_start):.2f} "
        f"cores in the window (nice {args.client_nice})"
    )
    figures: dict[str, dict[str, float]] = {}
    for side in sides:
        latencies = [lat for got in side.got for seq, (_, lat) in got.items() if seq in window]
        expected = len(window) * len(side.got)
        figures[side.name] = {
            "connect": side.connect_seconds,
            "connect_cpu_ms": side.connect_cpu / max(1, len(side.got)) * 1000,
            "p50": percentile(latencies, 0.5) * 1000,
            "p99": percentile(latencies, 0.99) * 1000,
            "delivery": len(latencies) / expected if expected else float("nan"),
            "cpu": side.window_cpu / (window_end - window_start),
            "errors": side.errors,
            "snapshot_kb": side.snapshot_bytes / 1024,
        }
    names = [side.name for side in sides]
    print(f"{'':40}" + "".join(f"{name:>22}" for name in names) + f"{'ratio':>10}")
    lines = [
        ("all viewers live after (s)", "connect", "{:.2f}"),
        ("server CPU per connect (ms)", "connect_cpu_ms", "{:.2f}"),
        ("change -> client p50 (ms)", "p50", "{:.1f}"),
        ("change -> client p99 (ms)", "p99", "{:.1f}"),
        ("delivery ratio", "delivery", "{:.3f}"),
        ("server CPU in the window (cores)", "cpu", "{:.3f}"),
        ("stream errors / retries", "errors", "{:.0f}"),
        ("snapshot frame (KiB)", "snapshot_kb", "{:.0f}"),
    ]
    for label, key, fmt in lines:
        values = [figures[name][key] for name in names]
        ratio = values[1] / values[0] if values[0] else float("nan")
        print(f"  {label:38}" + "".join(f"{fmt.format(v):>22}" for v in values) + f"{ratio:>9.2f}x")
    if args.figures:
        bare, webui = (figures[name] for name in names)
        hosts = f"{args.agents:,} real agents" if args.agents else f"{args.hosts:,} hosts"
        scale = f"{args.viewers:,} viewers, {hosts}"
        rows = [
            (f"{scale}: all viewers live after", "s", "connect", "< 10 s at 1,000 viewers"),
            (f"{scale}: server CPU per connect", "ms", "connect_cpu_ms", "<= 5 ms at 1,000 hosts"),
            (f"{scale}: change -> browser p99", "ms", "p99", "<= 2x bare and < 250 ms"),
            (f"{scale}: delivery ratio", "", "delivery", "1.000"),
            (f"{scale}: server CPU in the window", "cores", "cpu", "<= 2x bare"),
        ]
        write_figures(
            Path(args.figures),
            [
                *read_figures(Path(args.figures)),
                *(
                    Figure("sse_fanout", n, u, webui[k], bare[k], "bare sse-starlette", t)
                    for n, u, k, t in rows
                ),
            ],
        )


# --- the page --------------------------------------------------------------------------------------


async def page_figures(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright

    from webui.cookie import COOKIE_NAME, CookieSigner
    from webui.fanout import Fanout
    from webui.relay import Status

    fanout = Fanout(None)
    fanout.apply(Status(True, "live"))
    fanout.apply(liveview.snapshot(liveview.fleet(args.page_hosts), 100))
    opening = b"retry: 500\r\n\r\n" + fanout.opening(0)
    for i in range(args.page_changes):
        tests = pb.COMPARTMENT_STATUS_ERROR if i % 2 == 0 else pb.COMPARTMENT_STATUS_OK
        fanout.apply(liveview.change(liveview.host((i * 7919) % args.page_hosts, tests=tests), 101 + i))
    changes = fanout.opening(100)

    upstream, upstream_port = await start_child("upstream", "--hosts", "1", "--rate", "0.001")
    env = dict(os.environ)
    if args.webui_path:
        env["PYTHONPATH"] = os.pathsep.join([str(Path(args.webui_path) / "src"), env.get("PYTHONPATH", "")])
    webui, webui_port = await start_child("webui", "--upstream", f"127.0.0.1:{upstream_port}", env=env)
    base = f"http://127.0.0.1:{webui_port}"
    served = 0
    fulfilled = 0.0

    async def route(request_route: Any) -> None:
        nonlocal served, fulfilled
        served += 1
        body = opening if served == 1 else changes if served == 2 else b"retry: 600000\r\n\r\n"
        if served == 1:
            fulfilled = time.monotonic()
        await request_route.fulfill(status=200, headers={"content-type": "text/event-stream"}, body=body)

    # The page's own measures where it has them (not before this change: then only the outside view).
    marks = not args.webui_path
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"]
            )
            context = await browser.new_context(viewport={"width": 1400, "height": 900})
            await context.add_cookies(
                [{"name": COOKIE_NAME, "value": CookieSigner(COOKIE_KEY).sign(TOKEN), "url": base}]
            )
            page = await context.new_page()
            await page.route("**/events*", route)
            await page.goto(base + "/")
            await page.wait_for_function(
                f"() => document.getElementById('summary').textContent.startsWith('{args.page_hosts} hosts')",
                timeout=120_000,
                polling=10,
            )
            outside = (time.monotonic() - fulfilled) * 1000
            measures: dict[str, list[float]] = {}
            if marks:
                await page.wait_for_function(
                    f"() => performance.getEntriesByName('fleetdeck:host').length >= {args.page_changes}",
                    timeout=60_000,
                )
                measures = await page.evaluate(
                    """names => Object.fromEntries(names.map(n => [n, performance.getEntriesByName(`fleetdeck:${n}`).map(e => e.duration)]))""",
                    ["snapshot", "snapshot-painted", "host"],
                )
            rows = await page.locator("tr.host-row").count()
            await browser.close()
    finally:
        for process in (webui, upstream):
            process.terminate()
            await process.wait()
    print(
        f"Page in Chromium: {args.page_hosts} hosts ({len(opening) / 1e6:.1f} MB snapshot), {args.page_changes} changes"
    )
    print(
        f"  snapshot handed to the page -> summary shows it  {outside:8.0f} ms   (seen from outside, 10 ms polling)"
    )
    if measures:
        host = measures["host"]
        print(f"  first snapshot applied (parse + table)           {measures['snapshot'][0]:8.0f} ms")
        print(
            f"  first snapshot painted                           {measures['snapshot-painted'][0]:8.0f} ms   (budget 1000 ms)"
        )
        print(
            f"  change applied p50 / max                         {statistics.median(host):8.1f} / {max(host):.1f} ms"
            "   (budget 16 ms)"
        )
    print(f"  rows in the DOM                                  {rows:8d}")
    if args.figures and measures:
        nan, scale = float("nan"), f"page, {args.page_hosts:,} hosts"
        write_figures(
            Path(args.figures),
            [
                *read_figures(Path(args.figures)),
                Figure(
                    "sse_fanout",
                    f"{scale}: first snapshot painted",
                    "ms",
                    measures["snapshot-painted"][0],
                    nan,
                    "",
                    "< 1000 ms",
                ),
                Figure(
                    "sse_fanout",
                    f"{scale}: change applied (max)",
                    "ms",
                    max(measures["host"]),
                    nan,
                    "",
                    "< 16 ms",
                ),
            ],
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "role",
        nargs="?",
        default="bench",
        choices=["bench", "upstream", "webui", "bare", "clients", "agents"],
    )
    parser.add_argument(
        "--agents", type=int, default=0, help="real agents of a real control plane as upstream"
    )
    parser.add_argument("--client-nice", type=int, default=10, help="niceness of the viewers' process")
    parser.add_argument("--api-token", default="", help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=2.0, help="host changes a second")
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--upstream", default="")
    parser.add_argument("--webui-path", default="", help="run the web UI from DIR/src (e.g. main's)")
    parser.add_argument("--page", action="store_true", help="also measure the page in Chromium")
    parser.add_argument("--page-only", action="store_true", help="only measure the page")
    parser.add_argument("--page-hosts", type=int, default=10_000)
    parser.add_argument("--page-changes", type=int, default=20)
    parser.add_argument(
        "--figures", default="", help="add the figures as JSON to this file (for bench/all.py)"
    )
    args = parser.parse_args(argv)
    if args.role == "upstream":
        asyncio.run(run_upstream(args))
    elif args.role == "webui":
        run_webui(args)
    elif args.role == "bare":
        run_bare(args)
    elif args.role in ("clients", "agents"):
        runner = run_clients if args.role == "clients" else run_agents
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(runner(json.loads(args.config.read_text())))
    else:
        if not args.page_only:
            asyncio.run(fan_out(args))
        if args.page or args.page_only:
            asyncio.run(page_figures(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
