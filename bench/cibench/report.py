"""The Markdown report of a run, as bench/run prints it (and BENCHMARKS.md
quotes it)."""

from .results import RunResults
from .wrk import CONNECTIONS


def ratio(a, b):
    return f"{a / b:.2f}" if b else "—"


def render(results: RunResults, cores):
    """The report; `cores` is the machine's, as printed on its first line."""
    return "\n".join([*_machine(results, cores), *_stores(results), *_growth(results),
                      *_ingest(results), *_backends(results), *_etcd(results),
                      *_baseline(results), *_agent(results),
                      *_footprint(results), *_memory(results), *_fleet(results.fleet)])


def _machine(results, cores):
    lines = [f"Machine: {cores} cores; wrk, {CONNECTIONS} connections; "
             f"{results.seconds} s per figure."]
    if results.disk_fsync is not None:
        d = results.disk_fsync
        lines.append(f"Disk: fsync after a 4 KiB append, p50 {d.p50_ms:.2f} ms, p99 {d.p99_ms:.2f} ms.")
    return lines


def _stores(results):
    lines = ["", "| replicas | what | requests/s | p50 ms | p99 ms | p99.9 ms | errors | of /healthz |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for replicas in ("1", "3"):
        r = results.stores[replicas]
        for what in ("healthz", "write", "read_by_id", "read_page"):
            f = getattr(r, what)
            lines.append(f"| {replicas} | {what} | {f.rps:.0f} | {f.p50_ms:.2f} | {f.p99_ms:.2f} "
                         f"| {f.p999_ms:.2f} | {f.errors} | {ratio(f.rps, r.healthz.rps)} |")
    return lines


def _growth(results):
    return _growth_table(results.growth)


def _growth_table(growth):
    lines = ["", "| stored snapshots (before → after) | write req/s | write p99 ms "
             "| page req/s | page p50 ms | page p99 ms | page of /healthz |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for g in growth:
        lines.append(f"| {g.rows_before} → {g.rows_after} | {g.write.rps:.0f} | "
                     f"{g.write.p99_ms:.2f} | {g.read_page.rps:.0f} | {g.read_page.p50_ms:.2f} | "
                     f"{g.read_page.p99_ms:.2f} | {ratio(g.read_page.rps, g.healthz.rps)} |")
    first, last = growth[0], growth[-1]
    lines.append(f"\nAt the largest size / at the smallest: write p99 "
                 f"{ratio(last.write.p99_ms, first.write.p99_ms)}, page p50 "
                 f"{ratio(last.read_page.p50_ms, first.read_page.p50_ms)}, page p99 "
                 f"{ratio(last.read_page.p99_ms, first.read_page.p99_ms)}")
    return lines


def _ingest(results):
    """Snapshots per second and per second of the store's CPU, one per POST
    and in arrays, beside /healthz: what batching buys an agent's resync."""
    i = results.ingest
    if i is None:
        return []
    lines = ["", f"Ingest, one replica holding {i.containers} containers; arrays of {i.batch} "
             "distinct containers, each snapshot newly observed:", "",
             "| what | requests/s | snapshots/s | p50 ms | p99 ms | errors "
             "| store CPU µs per snapshot | snapshots per store CPU second |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |",
             f"| healthz | {i.healthz.rps:.0f} | — | {i.healthz.p50_ms:.2f} | "
             f"{i.healthz.p99_ms:.2f} | {i.healthz.errors} | — | — |"]
    rates = []
    for what, load, per_request in (("one snapshot per POST", i.single, 1),
                                    (f"arrays of {i.batch}", i.arrays, i.batch)):
        f = load.wrk
        rates.append(f.rps * per_request)
        # wrk's rate over the figure's seconds: the snapshots the store took.
        snapshots = f.rps * per_request * results.seconds
        per_cpu = f"{snapshots / load.store_cpu_s:.0f}" if load.store_cpu_s else "—"
        lines.append(f"| {what} | {f.rps:.0f} | {rates[-1]:.0f} | {f.p50_ms:.2f} | {f.p99_ms:.2f} "
                     f"| {f.errors} | {load.store_cpu_s / snapshots * 1e6:.1f} | {per_cpu} |")
    lines.append(f"\nSnapshots/s, arrays / one per POST: {ratio(rates[1], rates[0])}; "
                 f"arrays' snapshots/s / /healthz requests/s: {ratio(rates[1], i.healthz.rps)}")
    return lines




def _backends(results):
    """SQLite's store figures beside PostgreSQL's, each as a share of its own
    /healthz; then PostgreSQL's growth."""
    pg = results.postgres
    if pg is None:
        return []
    lines = ["", f"Both backends, the same scenarios ({pg.version}, a cluster of the run's own, "
             "fsync and synchronous_commit on):", "",
             "| replicas | what | SQLite req/s | p99 ms | of /healthz | PostgreSQL req/s | p99 ms "
             "| of /healthz | errors | PostgreSQL / SQLite |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for replicas in ("1", "3"):
        lite, post = results.stores[replicas], pg.stores[replicas]
        for what in ("healthz", "write", "read_by_id", "read_page"):
            a, b = getattr(lite, what), getattr(post, what)
            lines.append(f"| {replicas} | {what} | {a.rps:.0f} | {a.p99_ms:.2f} | "
                         f"{ratio(a.rps, lite.healthz.rps)} | {b.rps:.0f} | {b.p99_ms:.2f} | "
                         f"{ratio(b.rps, post.healthz.rps)} | {a.errors} / {b.errors} | {ratio(b.rps, a.rps)} |")
    lines += ["", "Growth on PostgreSQL:", *_growth_table(pg.growth)]
    return lines


def _etcd(results):
    """etcd's put beside the store's durable POST and /healthz of the same minute."""
    if results.postgres is None:
        return []
    e = results.etcd
    if e is None:
        return ["", "etcd: not installed (apt-get install etcd-server), so no etcd figure in this run."]
    rows = [("store `/healthz` (SQLite, 1 replica)", e.healthz),
            ("store durable POST (SQLite, 1 replica)", e.store_write),
            (f"etcd put, 1 member, JSON gateway, {e.value_bytes}-byte value", e.put)]
    return ["", f"{e.version}, against the store in the same minute:", "",
            "| what | requests/s | p50 ms | p99 ms | p99.9 ms | errors | of /healthz |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            *[f"| {what} | {f.rps:.0f} | {f.p50_ms:.2f} | {f.p99_ms:.2f} | {f.p999_ms:.2f} "
              f"| {f.errors} | {ratio(f.rps, e.healthz.rps)} |" for what, f in rows],
            f"\netcd put / store POST: {ratio(e.put.rps, e.store_write.rps)}"]


def _baseline(results):
    b = results.baseline
    poc, ours = b.poc_write, b.store_write_3_replicas
    return ["", f"At {b.stored} stored snapshots:", "",
            "| store | write req/s | p50 ms | p99 ms | errors |", "| --- | --- | --- | --- | --- |",
            f"| proof of concept (bottle + TinyDB) | {poc.rps:.1f} | {poc.p50_ms:.1f} | {poc.p99_ms:.1f} | {poc.errors} |",
            f"| container-info-server, 3 replicas | {ours.rps:.0f} | {ours.p50_ms:.2f} | {ours.p99_ms:.2f} | {ours.errors} |",
            f"\nThroughput ratio, store / proof of concept: {ratio(ours.rps, poc.rps)}"]


def _agent(results):
    a = results.agent
    return ["", "Agent, one request at a time from inside a container:", "",
            "| what | p50 ms | p99 ms |", "| --- | --- | --- |",
            f"| agent `/self` (with stats) | {a.self_.p50_ms:.3f} | {a.self_.p99_ms:.3f} |",
            f"| engine: inspect of the same container | {a.engine_inspect.p50_ms:.3f} | {a.engine_inspect.p99_ms:.3f} |",
            f"| engine: stats, stream=false (the proof of concept's call) | {a.engine_stats.p50_ms:.1f} | {a.engine_stats.p99_ms:.1f} |",
            f"\n`/self` p50 / inspect p50: {ratio(a.self_.p50_ms, a.engine_inspect.p50_ms)}; "
            f"stats p50 / `/self` p50: {ratio(a.engine_stats.p50_ms, a.self_.p50_ms)}"]


def _footprint(results):
    f = results.footprint
    start = f.client_to_prompt_ms
    return ["", "Images (MB): " + ", ".join(f"{name} {size:.1f}" for name, size in f.image_mb.items()),
            f"\nClient, start to prompt on a terminal: p50 {start.p50_ms:.1f} ms, "
            f"p99 {start.p99_ms:.1f} ms ({start.count} starts)"]


def _memory(results):
    return ["", "Resident memory (MiB) per replica: "
            + "; ".join(f"{k} replica(s) idle {results.stores[k].rss_idle_mib}, "
                        f"under writes {results.stores[k].rss_under_write_mib}" for k in ("1", "3"))
            + f"; agent {results.agent.agent_rss_mib}"]


def _fleet(fleet):
    """Fleets of growing size, and the largest whose every report landed within
    one interval; nothing for a run saved before the fleet was measured."""
    if fleet is None:
        return []
    first = fleet.steps[0]
    interval_s = first.interval_ms / 1000
    lines = ["", f"Fleet: agents of {first.containers_per_agent} containers reporting to "
             f"{fleet.replicas} replicas on one file, a resync every {interval_s:g} s, "
             f"{first.intervals} intervals; lag from when a report was due until its last "
             "batch was acknowledged:", "",
             "| agents | containers | snapshots/s | store CPU (cores) | store waiting for a CPU "
             "(cores) | simulator CPU (cores) | resync lag p50 / p99 / max ms | change lag p99 ms "
             "| late | retries |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for step in fleet.steps:
        r = step.resync
        late = step.start.late + r.late + step.change.late
        lines.append(f"| {step.agents} | {step.containers} | {step.snapshots_per_second:.0f} "
                     f"| {step.store_cpu_cores:.2f} | {step.store_cpu_wait_cores:.2f} "
                     f"| {step.simulator_cpu_cores:.2f} "
                     f"| {r.p50_ms:.0f} / {r.p99_ms:.0f} / {r.max_ms:.0f} "
                     f"| {step.change.p99_ms:.0f} | {late} | {step.retries} |")
    best = fleet.largest_within
    if best is None:
        lines.append(f"\nNo fleet had every report land within {interval_s:g} s.")
    else:
        lines.append(f"\nLargest fleet with every report within {interval_s:g} s: {best.agents} × "
                     f"{best.containers_per_agent} = {best.containers} containers "
                     f"({best.snapshots_per_second:.0f} snapshots/s, store {best.store_cpu_cores:.2f} "
                     f"cores, resync lag p99 {best.resync.p99_ms:.0f} ms)"
                     + ("" if best is not fleet.steps[-1] else "; the largest tried"))
    return lines
