"""make bench-tauri: plugin-shell directly against process-sidecar, inside the real app (WebKitGTK under Xvfb).

The app is the test build (cargo feature `bench`, which includes `e2e`), opened on the benchmark's page
(bench/page/bench.ts) with PROCESS_SIDECAR_TAURI_PAGE=bench.html. This harness decides everything: it writes the
children's input files, asks the page for one side of one figure at a time (each round runs both sides of every
figure back to back, alternating which goes first), samples the memory of the app and its web process from
outside (psutil) during the flood, reloads the page for the start-up figure, and then prints the table and
writes bench/results/latest.json (every round, the machine). `--smoke`: tiny sizes, one round, no targets
judged; make test-tauri runs it (tests/test_tauri_bench.py).

    python bench/bench_tauri.py [--rounds N] [--smoke] [--out FILE] [--only text,binary,...]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
APP_DIR = HERE.parent
REPO = APP_DIR.parent.parent
sys.path.insert(0, str(APP_DIR / "tests"))

from app import App, app_binary, xvfb  # noqa: E402

MIB = 1 << 20
LINE = 80


@dataclass
class Sizes:
    text_bytes: int = 64 * MIB
    binary_bytes: int = 64 * MIB
    exec_sequential: int = 300
    exec_parallel: int = 600
    in_flight: int = 16
    echo_round_trips: int = 1000
    flood_bytes: int = 1 << 30
    flood_warmup_bytes: int = 64 * MIB
    slow_ms: float = 1.0
    direct_flood_limit_ms: int = 10000
    direct_flood_cap_mib: int = 512
    startup_reloads: int = 5


SMOKE = Sizes(
    text_bytes=LINE * 4096, binary_bytes=MIB, exec_sequential=10, exec_parallel=32, echo_round_trips=50,
    flood_bytes=16 * MIB, flood_warmup_bytes=MIB, direct_flood_limit_ms=1500, direct_flood_cap_mib=256, startup_reloads=1,
)

FIGURES = ("text", "binary", "execSequential", "execParallel", "echo", "overhead", "flood")
"""overhead: the cheapest round trip on each road (see the page), the floor under every request; with the
sequential execute it bounds the execute ratio the sidecar's road allows (analyse)."""


# --- input files ----------------------------------------------------------------------------------------


def write_inputs(directory: Path, sizes: Sizes) -> dict:
    lines = sizes.text_bytes // LINE
    text_path = directory / "lines.bin"
    with open(text_path, "wb") as out:
        block = b"".join(b"line %010d " % i + b"x" * (LINE - 17) + b"\n" for i in range(1024))
        assert len(block) == 1024 * LINE
        whole, rest = divmod(lines, 1024)
        for _ in range(whole):
            out.write(block)
        out.write(block[: rest * LINE])
    random_path = directory / "random.bin"
    crc = 0
    with open(random_path, "wb") as out, open("/dev/urandom", "rb") as source:
        left = sizes.binary_bytes
        while left:
            piece = source.read(min(left, 4 * MIB))
            crc = zlib.crc32(piece, crc)
            out.write(piece)
            left -= len(piece)
    return {
        "text": {"path": str(text_path), "lines": lines, "bytes": lines * LINE},
        "binary": {"path": str(random_path), "bytes": sizes.binary_bytes, "crc": crc},
    }


# --- memory, seen from outside ---------------------------------------------------------------------------


class MemorySampler:
    """RSS of the app process plus its WebKit web process(es), every 50 ms, between mem-start and mem-stop.
    The sidecar's processes are sampled too (reported apart: they are not in the figure). On plugin-shell's
    side it kills the flooding child (a direct child of the app named `head`) after `limit_s`, or as soon as
    growth passes `cap_mib`: nothing else would stop it (the page's own kill would wait behind the flood)."""

    def __init__(self, app_pid: int, cap_mib: int | None, limit_s: float | None = None):
        self.app = psutil.Process(app_pid)
        self.cap = cap_mib * MIB if cap_mib else None
        self.limit = limit_s
        self.kill_reason: str | None = None
        self.samples: list[tuple[float, int, int, int]] = []  # (t, app, web, sidecar)
        self.killed_at: float | None = None
        self._stop = threading.Event()
        self.started = time.monotonic()
        self.baseline = self._sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> tuple[float, int, int, int]:
        app = web = sidecar = 0
        try:
            app = self.app.memory_info().rss
            for child in self.app.children(recursive=True):
                try:
                    name = child.name()
                    if name.startswith("WebKitWebProces"):
                        web += child.memory_info().rss
                    elif name.startswith("process-sidecar"):
                        sidecar += child.memory_info().rss
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        return (time.monotonic() - self.started, app, web, sidecar)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            sample = self._sample()
            self.samples.append(sample)
            if self.killed_at is not None:
                continue
            over = self.cap and sample[1] + sample[2] - (self.baseline[1] + self.baseline[2]) > self.cap
            late = self.limit is not None and sample[0] >= self.limit
            if over or late:
                self._kill_flood()
                self.killed_at = sample[0]
                self.kill_reason = "memory" if over else "time"

    def _kill_flood(self) -> None:
        for child in self.app.children():
            try:
                if child.name() == "head":
                    child.kill()
            except psutil.Error:
                pass

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join(5)
        samples = self.samples or [self.baseline]
        base = self.baseline[1] + self.baseline[2]
        totals = [s[1] + s[2] for s in samples]
        peak_index = max(range(len(totals)), key=totals.__getitem__)
        step = max(1, len(samples) // 60)
        # Growth: where memory settled, the median of the last quarter of the samples, against the baseline (a
        # garbage-collected heap saws up and down; its teeth are the peak's business). Peak: the highest sample.
        settled = statistics.median(totals[-max(1, len(totals) // 4):])
        return {
            "growthMiB": round((settled - base) / MIB, 1),
            "peakGrowthMiB": round((totals[peak_index] - base) / MIB, 1),
            "baselineMiB": round(base / MIB, 1),
            "baselineApp": round(self.baseline[1] / MIB, 1),
            "baselineWeb": round(self.baseline[2] / MIB, 1),
            "peakMiB": round(totals[peak_index] / MIB, 1),
            "endMiB": round(totals[-1] / MIB, 1),
            "peakApp": round(samples[peak_index][1] / MIB, 1),
            "peakWeb": round(samples[peak_index][2] / MIB, 1),
            "sidecarPeakMiB": round(max(s[3] for s in samples) / MIB, 1),
            "killed": self.killed_at is not None,
            "killReason": self.kill_reason,
            "killedAtS": None if self.killed_at is None else round(self.killed_at, 2),
            "samples": len(samples),
            # (seconds, app + web MiB), about 60 points
            "series": [[round(s[0], 2), round((s[1] + s[2]) / MIB, 1)] for s in samples[::step]],
        }


# --- driving the page ------------------------------------------------------------------------------------


class Bench:
    def __init__(self, app: App, sizes: Sizes):
        self.app = app
        self.sizes = sizes
        self.sampler: MemorySampler | None = None

    def measure(self, figure: str, side: str, params: dict, timeout: float) -> dict:
        message = self.app.run(figure, timeout, ask={"side": side, "params": params}, check=self.check)
        if not message["ok"]:
            raise AssertionError(f"{figure} {side}: {message.get('error')}\n{message.get('stack') or ''}")
        return message["detail"]

    def check(self, message: dict) -> dict:
        what = message.get("what")
        if what == "mem-start":
            direct = message.get("side") == "direct"
            self.sampler = MemorySampler(
                self.app.process.pid, self.sizes.direct_flood_cap_mib if direct else None,
                self.sizes.direct_flood_limit_ms / 1000 if direct else None,
            )
            return {"ok": True}
        if what == "mem-stop":
            assert self.sampler is not None
            result, self.sampler = self.sampler.stop(), None
            return result
        raise AssertionError(f"unknown check {message}")

    def reload(self, timeout: float, launch: dict | None = None) -> dict:
        self.app.reply({"run": "reload", **({"launch": launch} if launch is not None else {})})
        while True:
            _, message = self.app.message(timeout)
            if message["type"] == "ready":
                return message


def params_for(figure: str, sizes: Sizes, inputs: dict) -> dict:
    if figure == "text":
        return inputs["text"]
    if figure == "binary":
        return inputs["binary"]
    if figure == "execSequential":
        return {"count": sizes.exec_sequential, "inFlight": 1}
    if figure == "execParallel":
        return {"count": sizes.exec_parallel, "inFlight": sizes.in_flight}
    if figure in ("echo", "overhead"):
        return {"count": sizes.echo_round_trips}
    if figure == "flood":
        return {"bytes": sizes.flood_bytes, "slowMs": sizes.slow_ms, "directLimitMs": sizes.direct_flood_limit_ms,
                "warmupBytes": sizes.flood_warmup_bytes}
    raise ValueError(figure)


PAGE_FIGURE = {"execSequential": "execute", "execParallel": "execute"}


def run(sizes: Sizes, rounds: int, figures: tuple[str, ...], *, launch: dict | None = None, display: str | None = None,
        sides: tuple[str, ...] = ("direct", "sidecar"), timeout: float = 600, log=print) -> dict:
    """`launch`: options for the page's Sidecar.launch() (stdoutMode, flowControl), to compare the transport's
    settings; None: its defaults. `display`: an X display to use (else a private Xvfb is started)."""
    binary = app_binary()
    if not binary.is_file():
        raise SystemExit(f"{binary} is missing: make bench-tauri builds it (cargo feature bench)")
    workdir = Path(tempfile.mkdtemp(prefix="process-sidecar-bench-", dir="/tmp"))
    log_dir = APP_DIR / "target-e2e-logs"
    results: dict = {"rounds": [], "startup": [], "failures": []}
    try:
        inputs = write_inputs(workdir, sizes)
        with (nullcontext(display) if display else xvfb()) as display:

            def start(name: str) -> tuple[App, Bench, dict]:
                app = App(binary, display, log_dir=log_dir, name=name, env={"PROCESS_SIDECAR_TAURI_PAGE": "bench.html"})
                try:
                    ready = app.ready(120)
                    bench = Bench(app, sizes)
                    if launch is not None:
                        ready = bench.reload(120, launch)
                except BaseException:
                    app.stop()
                    raise
                return app, bench, ready

            app, bench, ready = start("bench")
            try:
                results["launch"] = ready.get("launch")
                results["flowControl"] = ready.get("flowControl")
                results["clock"] = ready.get("clock")
                results["features"] = ready.get("features")
                log(f"page ready: flow control {ready.get('flowControl')}, clock {ready.get('clock')}, {ready.get('features')}")
                results["startup"].append({"load": ready["load"], **ready["startup"]})
                for r in range(rounds):
                    order = tuple(side for side in (("direct", "sidecar") if r % 2 == 0 else ("sidecar", "direct")) if side in sides)
                    this_round: dict = {"round": r + 1, "first": order[0]}
                    for figure in figures:
                        this_round[figure] = {}
                        for side in order:
                            params = params_for(figure, sizes, inputs)
                            try:
                                if figure == "flood":
                                    # A fresh app for each side: what the other side left (plugin-shell's side
                                    # leaves a lot) must not count, either way.
                                    flood_app, flood_bench, _ = start(f"bench-flood-{side}")
                                    try:
                                        detail = flood_bench.measure(figure, side, params, timeout)
                                    finally:
                                        flood_app.stop()
                                else:
                                    detail = bench.measure(PAGE_FIGURE.get(figure, figure), side, params, timeout)
                            except AssertionError as failure:
                                # One side that fails or stalls (plugin-shell's has been seen to wait for events
                                # that never came) costs its round that figure, not the run.
                                results["failures"].append({"round": r + 1, "figure": figure, "side": side, "error": str(failure)})
                                log(f"round {r + 1} {figure:>15} {side:>7}: FAILED: {str(failure).splitlines()[0]}")
                                if figure != "flood":  # the page may still be inside the figure: a fresh app
                                    app.stop()
                                    app, bench, _ = start("bench")
                                continue
                            this_round[figure][side] = detail
                            log(f"round {r + 1} {figure:>15} {side:>7}: {summary_of(figure, detail)}")
                        if figure == "overhead":
                            this_round["spawnFloor"] = spawn_floor(sizes.exec_sequential)
                            log(f"round {r + 1} {'spawn floor':>15} harness: p50 {this_round['spawnFloor']['p50Ms']} ms")
                    results["rounds"].append(this_round)
                for _ in range(sizes.startup_reloads):
                    ready = bench.reload(120)
                    results["startup"].append({"load": ready["load"], **ready["startup"]})
                    log(f"start-up (load {ready['load']}): {ready['startup']}")
            finally:
                app.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def spawn_floor(count: int) -> dict:
    """The bare start and reaping of `true` from this process (posix_spawn, waitpid), p50: the least any sidecar
    would spend on an execute besides its round trip."""
    true = shutil.which("true") or "/bin/true"
    times = []
    for _ in range(count):
        started = time.perf_counter()
        pid = os.posix_spawn(true, ["true"], os.environ)
        os.waitpid(pid, 0)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50Ms": round(statistics.median(times), 4)}


def summary_of(figure: str, d: dict) -> str:
    if figure in ("text", "binary"):
        return f"{d['mibPerSecond']} MiB/s ({d['seconds']} s)"
    if figure.startswith("exec"):
        return f"{d['perSecond']}/s"
    if figure in ("echo", "overhead"):
        return f"p50 {d['p50Ms']} ms, p99 {d['p99Ms']} ms"
    if figure == "flood":
        m = d["memory"]
        return (f"{d['bytes'] / MIB:.0f} MiB in {d['seconds']} s ({d['events']} events), growth {m['growthMiB']} MiB "
                f"(peak +{m['peakGrowthMiB']}), {'complete' if d['complete'] else 'stopped'}{', killed by the harness' if m['killed'] else ''}")
    return json.dumps(d)


# --- the table -------------------------------------------------------------------------------------------


def size_label(n: int) -> str:
    return f"{n / MIB:,.0f} MiB" if n >= MIB else f"{n / 1024:,.0f} KiB"


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def analyse(results: dict, sizes: Sizes) -> list[dict]:
    rounds = results["rounds"]
    rows = []

    def both_sides(figure):
        """The rounds in which both sides of `figure` were measured (a side can fail, see run)."""
        return [r for r in rounds if len(r.get(figure, {})) == 2]

    def counted(name, figure):
        """The figure's name, saying so when some rounds could not count."""
        n = len(both_sides(figure))
        return name if n == len(rounds) else f"{name} ({n} of {len(rounds)} rounds)"

    def per_side(figure, key):
        return {side: [r[figure][side][key] for r in both_sides(figure)] for side in ("direct", "sidecar")}

    def ratio_row(name, figure, key, unit, target, better="higher", fmt="{:,.1f}"):
        values = per_side(figure, key)
        if not values["direct"]:
            return
        ratios = [s / d for s, d in zip(values["sidecar"], values["direct"])]
        ratio = med(ratios)
        if better == "higher":
            meets = ratio >= target
            target_text = f">= {target:g}x"
        else:
            meets = ratio <= target
            target_text = f"<= {target:g}x"
        rows.append({
            "figure": counted(name, figure), "direct": f"{fmt.format(med(values['direct']))} {unit}", "sidecar": f"{fmt.format(med(values['sidecar']))} {unit}",
            "ratio": f"{ratio:.2f}x", "target": target_text, "meets": meets, "ratios": [round(x, 3) for x in ratios],
        })

    ratio_row(f"text throughput ({size_label(sizes.text_bytes)} of 80-byte lines)", "text", "mibPerSecond", "MiB/s", 2)
    ratio_row(f"binary throughput ({size_label(sizes.binary_bytes)} random, raw, CRC-32)", "binary", "mibPerSecond", "MiB/s", 3)
    ratio_row("execute rate, sequential (`true`)", "execSequential", "perSecond", "/s", 1, fmt="{:,.0f}")
    ratio_row(f"execute rate, {sizes.in_flight} in flight (`true`)", "execParallel", "perSecond", "/s", 1, fmt="{:,.0f}")
    ratio_row("echo latency through `cat`, p50", "echo", "p50Ms", "ms", 1.5, better="lower", fmt="{:.3f}")
    values = per_side("echo", "p99Ms")
    if values["direct"]:
        ratios = [s / d for s, d in zip(values["sidecar"], values["direct"])]
        rows.append({"figure": counted("echo latency through `cat`, p99", "echo"), "direct": f"{med(values['direct']):.3f} ms",
                     "sidecar": f"{med(values['sidecar']):.3f} ms", "ratio": f"{med(ratios):.2f}x", "target": "report",
                     "meets": None, "ratios": [round(x, 3) for x in ratios]})
    values = per_side("overhead", "p50Ms")
    if values["direct"]:
        ratios = [s / d for s, d in zip(values["sidecar"], values["direct"])]
        rows.append({"figure": counted("the cheapest round trip, p50 (direct: a write of nothing to a child, one call; "
                                       "sidecar: `list`, one call in, one event out)", "overhead"),
                     "direct": f"{med(values['direct']):.3f} ms", "sidecar": f"{med(values['sidecar']):.3f} ms",
                     "ratio": f"{med(ratios):.2f}x", "target": "report", "meets": None, "ratios": [round(x, 3) for x in ratios]})
    ceiling_rounds = [r for r in both_sides("overhead") if len(r.get("execSequential", {})) == 2 and "spawnFloor" in r]
    if ceiling_rounds:
        # plugin-shell's execute is one call that starts the child inside the app. Through the sidecar, the least an
        # execute can take is the sidecar's cheapest round trip plus the bare start and reaping of `true`
        # (posix_spawn and waitpid, measured by this harness in the same round): a sidecar that did nothing else.
        ceilings, own = [], []
        for r in ceiling_rounds:
            floor_ms = r["overhead"]["sidecar"]["p50Ms"] + r["spawnFloor"]["p50Ms"]
            ceilings.append((1000 / r["execSequential"]["direct"]["perSecond"]) / floor_ms)
            own.append(1000 / r["execSequential"]["sidecar"]["perSecond"] - floor_ms)
        spawn = med([r["spawnFloor"]["p50Ms"] for r in ceiling_rounds])
        rows.append({"figure": counted("execute rate, sequential: the most a sidecar that did nothing but start the child "
                                       "could reach (its cheapest round trip + a bare posix_spawn and waitpid of `true`)", "overhead"),
                     "direct": "-", "sidecar": f"{med(own):.3f} ms per execute above that floor (spawn alone {spawn:.3f} ms)",
                     "ratio": f"{med(ceilings):.2f}x", "target": "report", "meets": None, "ratios": [round(x, 3) for x in ceilings]})
    floods = [r["flood"] for r in both_sides("flood")]
    if floods:
        s_growth = [f["sidecar"]["memory"]["growthMiB"] for f in floods]
        s_peak = [f["sidecar"]["memory"]["peakGrowthMiB"] for f in floods]
        s_complete = all(f["sidecar"]["complete"] for f in floods)
        s_rate = [f["sidecar"]["bytes"] / MIB / f["sidecar"]["seconds"] for f in floods]
        d_growth = [f["direct"]["memory"]["growthMiB"] for f in floods]
        d_peak = [f["direct"]["memory"]["peakGrowthMiB"] for f in floods]
        d_slow = [f["direct"]["slowSeconds"] for f in floods]
        d_bytes = [f["direct"]["bytesWhenStopped"] / MIB for f in floods]
        d_memory_kills = [f["direct"]["memory"]["killedAtS"] for f in floods if f["direct"]["memory"]["killReason"] == "memory"]
        d_no_close = sum(not f["direct"]["closeArrived"] for f in floods)
        notes = []
        if d_memory_kills:
            notes.append(f"in {len(d_memory_kills)} of {len(floods)} rounds the harness killed the child at +{sizes.direct_flood_cap_mib:,} MiB, "
                         f"{med(d_memory_kills):.1f} s in, and memory went on growing while what was read drained")
        if d_no_close:
            notes.append(f"its close never arrived in {d_no_close} of {len(floods)} rounds")
        rows.append({
            "figure": counted(f"memory under a flood ({size_label(sizes.flood_bytes)}, handler {sizes.slow_ms:g} ms per event): app + web process, growth (peak)", "flood"),
            "direct": f"+{med(d_growth):,.0f} MiB (peak +{med(d_peak):,.0f}); the page took {med(d_bytes):,.0f} MiB in its first {med(d_slow):.0f} s"
                      + (f" ({'; '.join(notes)})" if notes else ""),
            "sidecar": f"+{med(s_growth):,.0f} MiB (peak +{med(s_peak):,.0f}, highest +{max(s_peak):,.0f}); all {size_label(sizes.flood_bytes)}, {med(s_rate):,.0f} MiB/s"
                       + ("" if s_complete else " (INCOMPLETE)"),
            "ratio": "-", "target": "sidecar: growth <= 64 MiB, no byte lost", "meets": med(s_growth) <= 64 and s_complete,
        })
    startup = results.get("startup") or []
    if startup:
        reloads = [s for s in startup if s["load"] > 1] or startup
        rows.append({
            "figure": "start-up: page load -> first answer of the one-file sidecar",
            "direct": "-",
            "sidecar": f"{med([s['sincePageLoadMs'] for s in reloads]):,.0f} ms (launch() alone {med([s['launchMs'] for s in reloads]):,.0f} ms); "
                       f"first load after the app's start {startup[0]['sincePageLoadMs']:,.0f} ms",
            "ratio": "-", "target": "report", "meets": None,
        })
    return rows


def table(rows: list[dict]) -> str:
    out = ["| figure | plugin-shell directly | through the sidecar | sidecar/direct | target | verdict |", "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        verdict = "-" if row["meets"] is None else ("meets" if row["meets"] else "**misses**")
        out.append(f"| {row['figure']} | {row['direct']} | {row['sidecar']} | {row['ratio']} | {row['target']} | {verdict} |")
    return "\n".join(out)


def machine() -> dict:
    def cmd(*args):
        try:
            return subprocess.run(args, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    lock = (APP_DIR / "src-tauri" / "Cargo.lock").read_text()

    def crate(name):
        marker = f'name = "{name}"\nversion = "'
        i = lock.find(marker)
        return lock[i + len(marker): lock.index('"', i + len(marker))] if i >= 0 else None

    shell_js = json.loads((APP_DIR / "node_modules" / "@tauri-apps" / "plugin-shell" / "package.json").read_text())["version"]
    return {
        "cpus": os.cpu_count(),
        "cpu": next((line.split(":", 1)[1].strip() for line in cmd("lscpu").splitlines() if line.startswith("Model name")), platform.processor()),
        "memoryGiB": round(psutil.virtual_memory().total / (1 << 30), 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tauri": crate("tauri"),
        "tauriPluginShell": crate("tauri-plugin-shell"),
        "pluginShellJs": shell_js,
        "webkit2gtk": cmd("dpkg-query", "-W", "-f=${Version}", "libwebkit2gtk-4.1-0"),
        "commit": cmd("git", "-C", str(REPO), "rev-parse", "--short", "HEAD"),
        "dirty": bool(cmd("git", "-C", str(REPO), "status", "--porcelain", "--", "sidecar", "ts-client/src", "examples/tauri-app")),
        "loadAverage": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one round, no targets judged")
    parser.add_argument("--only", help="comma-separated figures: " + ",".join(FIGURES))
    parser.add_argument("--launch", type=json.loads, help="options for the page's Sidecar.launch(), as JSON, e.g. "
                        "'{\"stdoutMode\": \"raw\", \"flowControl\": false}' (to compare the transport's settings)")
    parser.add_argument("--flood-mib", type=int, help="for exploring: the flood's size")
    parser.add_argument("--sides", default="direct,sidecar", help="for exploring: only these sides (no ratios without both)")
    parser.add_argument("--out", type=Path, help="where the JSON goes (default bench/results/latest.json; smoke: not written)")
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else Sizes()
    if args.flood_mib:
        sizes = dataclasses.replace(sizes, flood_bytes=args.flood_mib * MIB)
    rounds = 1 if args.smoke else args.rounds
    figures = tuple(args.only.split(",")) if args.only else FIGURES
    unknown = [name for name in figures if name not in FIGURES]
    if unknown:
        parser.error(f"--only names no figure {', '.join(map(repr, unknown))}; the figures: {', '.join(FIGURES)}")
    sides = tuple(args.sides.split(","))
    if not sides or any(side not in ("direct", "sidecar") for side in sides):
        parser.error(f"--sides takes direct, sidecar or both, not {args.sides!r}")
    started = time.time()
    results = run(sizes, rounds, figures, launch=args.launch, sides=sides)
    rows = analyse(results, sizes)
    print()
    print(table(rows))
    for failure in results["failures"]:
        print(f"round {failure['round']} {failure['figure']} {failure['side']} failed: {failure['error'].splitlines()[0]}")
    document = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.time() - started, 1),
        "smoke": args.smoke,
        "sizes": sizes.__dict__,
        "machine": machine(),
        "table": rows,
        **results,
    }
    out = args.out or (None if args.smoke else HERE / "results" / "latest.json")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(document, indent=1) + "\n")
        print(f"\nwritten: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
