"""Each measurement of a run, and the run itself. Every figure is taken beside
its ceiling or baseline, minutes apart at most."""

import base64
import json
import os
import pty
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from . import wrk
from .harness import (AGENT, CLIENT, FLEET_SIM, ROOT, WORK, Peak, Process, SignedReplicas, Stores,
                      container_id, docker, docker_quietly, engine_get, etcd_member, etcd_version,
                      poc_python, post_json, postgres_cluster, prefill, prefill_time, rows,
                      running_stores, say, snapshot)
from .results import (AgentResult, BaselineResult, EtcdResult, FleetResult, FleetStep,
                      FootprintResult, GrowthStep, IngestLoad, IngestResult, Percentiles,
                      PostgresResult, RunResults, SelfFigures, StoreResult, from_json)

PROBE = "container-info-bench-probe"
CHECKPOINT_DRAIN_SECONDS = 5
IMAGES = ["container-info-server", "container-info-client", "container-info-agent"]


def measure_disk(appends=300):
    """What one durable commit costs this disk at least: fsync after a 4 KiB
    append, in the folder where the stores keep their files."""
    say("disk: fsync after a 4 KiB append")
    path = WORK / "fsync-probe"
    block, times = b"x" * 4096, []
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for _ in range(appends):
            os.write(descriptor, block)
            start = time.perf_counter()
            os.fsync(descriptor)
            times.append(time.perf_counter() - start)
    finally:
        os.close(descriptor)
        path.unlink()
    return Percentiles.of(times)


def measure_store(replicas, seconds, port, database=None):
    say(f"{replicas} replica(s){' on PostgreSQL' if database else ''}: ceiling, writes, reads")
    with running_stores(replicas, port, database) as stores:
        prefill(stores.url, 0, 1000, 1000)
        rss_idle = stores.rss_mib()
        healthz = wrk.run(f"{stores.url}/healthz", "report.lua", seconds)
        with Peak(stores.rss_mib) as rss_under_write:
            write = wrk.run(stores.url, "post.lua", seconds)
        read_by_id = wrk.run(stores.url, "get_by_id.lua", seconds)
        read_page = wrk.run(f"{stores.url}/containers?limit=100", "report.lua", seconds)
        return StoreResult(rss_idle_mib=rss_idle, healthz=healthz, write=write,
                           rss_under_write_mib=rss_under_write.value,
                           read_by_id=read_by_id, read_page=read_page)


def measure_growth(sizes, seconds, port, database=None):
    say(f"growth{' on PostgreSQL' if database else ''}: writes and page reads at {sizes} stored snapshots")
    results, stored = [], 0
    containers = max(sizes) // 100
    with running_stores(1, port, database) as stores:
        for size in sizes:
            prefill(stores.url, stored, size, containers)
            stored = size
            before = rows(stores.url)
            # Each figure starts with the write-ahead log copied back: the
            # checkpointer would otherwise still be working off the last burst.
            time.sleep(CHECKPOINT_DRAIN_SECONDS)
            write = wrk.run(stores.url, "post.lua", seconds, env={"CONTAINERS": str(containers)})
            time.sleep(CHECKPOINT_DRAIN_SECONDS)
            # The sizes are minutes apart, and a shared machine's speed drifts
            # in minutes: each page figure stands beside a ceiling of its own.
            healthz = wrk.run(f"{stores.url}/healthz", "report.lua", seconds)
            page = wrk.run(f"{stores.url}/containers?limit=100", "report.lua", seconds)
            results.append(GrowthStep(size=size, rows_before=before, rows_after=rows(stores.url),
                                      write=write, healthz=healthz, read_page=page))
            stored = rows(stores.url)
        return results


INGEST_BATCH = 50


def measure_ingest(containers, seconds, port):
    """An agent's resync as the store sees it: one replica holding `containers`
    containers, posted arrays of INGEST_BATCH distinct containers' snapshots
    (one host's), then one snapshot per request, each with a new observation
    time, beside its /healthz. The store's CPU time during each load says what
    a snapshot costs it, whatever wrk took of the machine."""
    say(f"ingest: single snapshots and arrays of {INGEST_BATCH}, one replica, {containers} containers")
    with running_stores(1, port) as stores:
        prefill_hosts(stores.url, containers, INGEST_BATCH)
        time.sleep(CHECKPOINT_DRAIN_SECONDS)
        pid = stores.processes[0].proc.pid
        env = {"CONTAINERS": str(containers), "BATCH": str(INGEST_BATCH)}
        healthz = wrk.run(f"{stores.url}/healthz", "report.lua", seconds)
        # Arrays first: single POSTs of random containers would scatter what
        # the hosts' resyncs keep together.
        arrays = ingest_load(pid, lambda: wrk.run(stores.url, "post_batch.lua", seconds, env=env))
        time.sleep(CHECKPOINT_DRAIN_SECONDS)
        single = ingest_load(pid, lambda: wrk.run(stores.url, "post.lua", seconds, env=env))
        return IngestResult(containers=containers, batch=INGEST_BATCH, healthz=healthz,
                            single=single, arrays=arrays)


def prefill_hosts(url, containers, batch):
    """One snapshot of each container, posted host by host as post_batch.lua
    groups them (host h: containers h + i * hosts), as agents' earlier
    resyncs leave a store: a host's containers updated together, next to each
    other in the store's order of updates, while their IDs are spread."""
    hosts = containers // batch
    order = [host + i * hosts for host in range(hosts) for i in range(batch)]
    for start in range(0, len(order), 1000):
        post_json(f"{url}/containers", [snapshot(n, prefill_time(n)) for n in order[start:start + 1000]])


def ingest_load(pid, load):
    before = cpu_seconds(pid)
    figures = load()
    return IngestLoad(wrk=figures, store_cpu_s=round(cpu_seconds(pid) - before, 3))


def cpu_seconds(pid):
    """User and system time of a process, all its threads, so far."""
    with open(f"/proc/{pid}/stat") as stat:
        # Fields after the command's closing parenthesis; utime and stime are
        # the 14th and 15th of the whole line.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_postgres(seconds, sizes, growth_seconds, port):
    """The store's figures again, the same scenarios, on a PostgreSQL cluster
    of this run's own: each store on a new database, as each SQLite store is
    on a new file."""
    with postgres_cluster(port + 20) as cluster:
        stores = {str(replicas): measure_store(replicas, seconds, port, cluster.database(f"store_{replicas}"))
                  for replicas in (1, 3)}
        growth = measure_growth(sizes, growth_seconds, port, cluster.database("growth"))
        return PostgresResult(version=cluster.version(), stores=stores, growth=growth)


def measure_etcd(seconds, port):
    """What a registry-minded user would put the snapshots in instead: one
    etcd member, puts through its JSON gateway at the same concurrency, the
    value a record the store holds. The store's /healthz and durable POST
    (SQLite, one replica) are taken just before, to stand beside it."""
    version = etcd_version()
    if version is None:
        say("etcd is not installed (apt-get install etcd-server): no etcd figure in this run")
        return None
    say("etcd: one member, puts through the JSON gateway, beside the store's POST")
    with running_stores(1, port) as stores:
        prefill(stores.url, 0, 1000, 1000)
        with urllib.request.urlopen(f"{stores.url}/containers/{container_id(0)}", timeout=10) as answer:
            record = answer.read()
        healthz = wrk.run(f"{stores.url}/healthz", "report.lua", seconds)
        store_write = wrk.run(stores.url, "post.lua", seconds)
    with etcd_member(port + 30) as url:
        put = wrk.run(url, "etcd_put.lua", seconds, env={"VALUE": base64.b64encode(record).decode()})
    return EtcdResult(version=version, value_bytes=len(record), healthz=healthz,
                      store_write=store_write, put=put)


def measure_baseline(stored, seconds, port):
    say(f"proof of concept against the store, both holding {stored} snapshots")
    folder = Path(tempfile.mkdtemp(dir=WORK))
    try:
        # TinyDB's own file format, written directly: posting 10 000 snapshots
        # one by one would rewrite the whole file 10 000 times.
        table = {str(k + 1): snapshot(k % 100, prefill_time(k)) for k in range(stored)}
        (folder / "poc.json").write_text(json.dumps({"_default": table}))
        poc = Process([str(poc_python()), str(ROOT / "bench" / "poc" / "app.py"), str(port),
                       str(folder / "poc.json")], f"http://127.0.0.1:{port}/healthz")
        try:
            baseline = wrk.run(f"http://127.0.0.1:{port}", "post.lua", seconds,
                               env={"POST_PATH": "/service"})
        finally:
            poc.stop()
        stores = Stores(3, folder, port + 1)
        try:
            prefill(stores.url, 0, stored, 100)
            ours = wrk.run(stores.url, "post.lua", seconds)
        finally:
            stores.stop()
        return BaselineResult(stored=stored, poc_write=baseline, store_write_3_replicas=ours)
    finally:
        shutil.rmtree(folder)


def measure_agent(seconds, port):
    """/self asked from inside a container, one request at a time, against the
    engine's own inspect of that container (the ceiling: the agent cannot know
    more than the engine tells it) and the non-streaming stats call the proof
    of concept made on every answer."""
    say("agent: /self from a container, engine inspect, engine stats")
    busybox = Path("/bin/busybox")
    context = Path(tempfile.mkdtemp(dir=WORK))
    shutil.copy(busybox, context / "busybox")
    (context / "Dockerfile").write_text('FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox", "sleep", "3600"]\n')
    docker("build", "-q", "-t", f"{PROBE}:latest", str(context))
    shutil.rmtree(context)
    try:
        container = docker("run", "-d", "--name", PROBE, f"{PROBE}:latest")
        agent = Process([str(AGENT), "--listen", f"0.0.0.0:{port}"], f"http://127.0.0.1:{port}/readyz")
        try:
            gateway = docker("inspect", "-f", "{{.NetworkSettings.Gateway}}", container)
            pid = docker("inspect", "-f", "{{.State.Pid}}", container)
            # wrk from the host, in the container's network namespace: the agent
            # sees the container's address, as when the container itself asks.
            self_figures = wrk.run(f"http://{gateway}:{port}/self", "report.lua", seconds,
                                   prefix=("nsenter", "-t", pid, "-n"),
                                   threads=1, connections=1, timeout=None)
            inspect = Percentiles.of([engine_get(f"/containers/{container}/json") for _ in range(300)])
            stats = Percentiles.of([engine_get(f"/containers/{container}/stats?stream=false") for _ in range(5)])
            return AgentResult(self_=SelfFigures.of(self_figures), engine_inspect=inspect,
                               engine_stats=stats, agent_rss_mib=round(agent.rss_mib(), 1))
        finally:
            agent.stop()
    finally:
        docker_quietly("rm", "-f", PROBE)
        docker_quietly("rmi", f"{PROBE}:latest")


def measure_footprint():
    """Each image's size (built the prebuilt way, tagged for this run and
    removed after), and the client's time from start to its prompt."""
    say("footprint: image sizes, the client's start")
    tag = "bench"
    stages_before = set(build_stages())
    subprocess.run([str(ROOT / "scripts" / "build-images"), "all"], cwd=ROOT, check=True,
                   env={**os.environ, "CONTAINER_INFO_TAG": tag}, stdout=sys.stderr)
    sizes = {}
    try:
        for image in IMAGES:
            sizes[image] = int(docker("image", "inspect", "-f", "{{.Size}}", f"{image}:{tag}")) / 1e6
    finally:
        docker_quietly("rmi", *[f"{image}:{tag}" for image in IMAGES])
        # The legacy builder keeps each build stage as an untagged image.
        # Only this build's: others may be building on the same engine.
        stages = [image for image in build_stages() if image not in stages_before]
        if stages:
            docker_quietly("rmi", *stages)
    return FootprintResult(image_mb=sizes, client_to_prompt_ms=client_start_to_prompt())


def build_stages():
    return docker("images", "-q", "--filter", "dangling=true",
                  "--filter", "label=container-info.stage=build").split()


def client_start_to_prompt(runs=20):
    """Milliseconds from exec to the prompt on a pseudo-terminal, as a person sees it."""
    taken = []
    for _ in range(runs):
        started = time.perf_counter()
        pid, terminal = pty.fork()
        if pid == 0:
            os.execv(str(CLIENT), [str(CLIENT), "--no-history"])
        seen = b""
        while b"container-info> " not in seen:
            ready, _, _ = select.select([terminal], [], [], 10)
            if not ready:
                raise SystemExit(f"no prompt from {CLIENT} within 10 s: {seen!r}")
            seen += os.read(terminal, 4096)
        taken.append(time.perf_counter() - started)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(terminal)
    return Percentiles.of(taken)


FLEET_REPLICAS = 3


def measure_fleet(quick, port):
    """Fleets of agents reporting to 3 replicas on one file, doubling the
    number of agents until a report lands later than one interval after it
    was due (or the largest fleet tried passes). Each fleet gets a new store."""
    containers, interval, intervals = (20, "1s", 2) if quick else (50, "5s", 4)
    agents = [4, 8] if quick else [25 * 2 ** k for k in range(9)]  # up to 6 400 agents
    say(f"fleet: agents of {containers} containers, a resync every {interval}, "
        f"{FLEET_REPLICAS} replicas on one file")
    steps = []
    for n in agents:
        steps.append(fleet_step(n, containers, interval, intervals, port))
        if not steps[-1].within_interval:
            break
    return FleetResult(replicas=FLEET_REPLICAS, steps=steps)


def fleet_step(agents, containers, interval, intervals, port):
    say(f"fleet: {agents} agents x {containers} containers")
    folder = Path(tempfile.mkdtemp(dir=WORK))
    replicas = SignedReplicas(FLEET_REPLICAS, folder, port)
    try:
        command = [str(FLEET_SIM), "--agents", str(agents), "--containers", str(containers),
                   "--interval", interval, "--intervals", str(intervals),
                   "--signing-key-file", str(replicas.key_file)]
        for url in replicas.urls:
            command += ["--store", url]
        # The simulator is the only child waited for meanwhile: the growth of
        # the children's times is its own.
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        store_before, waited_before = replicas.cpu_seconds(), replicas.waiting_seconds()
        started = time.perf_counter()
        run = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - started
        store_cpu = replicas.cpu_seconds() - store_before
        store_waited = replicas.waiting_seconds() - waited_before
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if run.returncode != 0:
            raise SystemExit(f"{FLEET_SIM.name} failed: {run.stderr.strip()}")
        simulator_cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
        return from_json(FleetStep, {**json.loads(run.stdout),
                                     "store_cpu_cores": round(store_cpu / wall, 2),
                                     "store_cpu_wait_cores": round(store_waited / wall, 2),
                                     "simulator_cpu_cores": round(simulator_cpu / wall, 2)})
    finally:
        replicas.stop()
        shutil.rmtree(folder)


def run_all(quick, port):
    """Every measurement, in the order the report gives them."""
    seconds = 3 if quick else 10
    sizes = [1_000, 10_000] if quick else [1_000, 100_000, 1_000_000]
    disk = measure_disk()
    stores = {str(replicas): measure_store(replicas, seconds, port) for replicas in (1, 3)}
    # Right after SQLite's, so that both backends' figures are minutes apart.
    postgres = measure_postgres(seconds, sizes, 3 if quick else 5, port)
    etcd = measure_etcd(seconds, port)
    return RunResults(
        seconds=seconds,
        disk_fsync=disk,
        stores=stores,
        postgres=postgres,
        etcd=etcd,
        growth=measure_growth(sizes, 3 if quick else 5, port),
        ingest=measure_ingest(10_000 if quick else 100_000, seconds, port),
        baseline=measure_baseline(10_000, seconds, port),
        agent=measure_agent(seconds, port + 10),
        footprint=measure_footprint(),
        fleet=measure_fleet(quick, port + 20),
    )
