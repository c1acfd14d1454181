"""What the scenarios drive: the binaries under test, the store and agent
processes, the prefill, the Docker Engine, and the tools a run needs."""

import base64
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
WORK = ROOT / "target" / "bench"
SERVER = ROOT / "target" / "release" / "container-info-server"
AGENT = ROOT / "target" / "release" / "container-info-agent"
CLIENT = ROOT / "target" / "release" / "container-info"
FLEET_SIM = ROOT / "target" / "release" / "container-info-fleet-sim"
DOCKER_SOCKET = "/var/run/docker.sock"
# Debian's PostgreSQL 15, as scripts/test installs it.
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")


def say(message):
    print(f"--- {message}", file=sys.stderr, flush=True)


def container_id(n):
    # The same IDs as common.lua's, so that reads find what the prefill wrote.
    return f"{n:08x}" * 8


def snapshot(n, observed_at):
    # The shape of common.lua's snapshot, which the load scripts post.
    return {
        "id": container_id(n),
        "name": f"shop_web.{n}.x7k2p9q4r5s6t7u8v9w0",
        "image": "registry.local/shop/web:1.4.2",
        "image_id": "sha256:5d1e0c8a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6",
        "node": f"worker-{n % 3}",
        "state": "running",
        "created": "2026-11-24T09:00:00.123456789Z",
        "started_at": "2026-11-24T09:00:01.5Z",
        "labels": {
            "com.docker.stack.namespace": "shop",
            "com.docker.swarm.service.name": "shop_web",
            "com.docker.swarm.task.name": f"shop_web.{n}",
        },
        "networks": {
            "shop_default": {"ip_address": f"10.0.1.{n % 250 + 2}", "ipv6_address": "", "gateway": "10.0.1.1"}
        },
        "stats": {
            "cpu_percent": 3.25, "memory_usage_bytes": 52428800, "memory_limit_bytes": 1073741824,
            "network_rx_bytes": 10240, "network_tx_bytes": 20480, "pids": 7,
        },
        "observed_at": observed_at,
    }


def prefill_time(k):
    # Seconds into 2026: never the 2027 times the load scripts post.
    return time.strftime("2026-%m-%dT%H:%M:%SZ", time.gmtime(k))


class Process:
    """A server under test; stopped with SIGTERM, killed if it hangs."""

    def __init__(self, command, health_url, env=None):
        self.health_url = health_url
        self.proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": "warn", **(env or {})},
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(health_url, timeout=1).read()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit(f"{command[0]} exited with {self.proc.returncode}")
                time.sleep(0.1)
        raise SystemExit(f"{command[0]} did not answer {health_url} within 30 s")

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as status:
            kib = int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))
        return kib / 1024

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Stores:
    """`replicas` store processes on one database (a file in `folder`, or the
    PostgreSQL URL `database`), sharing one port with SO_REUSEPORT so that the
    kernel spreads connections over them, as the Swarm routing mesh spreads
    them over tasks."""

    def __init__(self, replicas, folder, port, database=None):
        self.url = f"http://127.0.0.1:{port}"
        self.processes = [
            Process(
                [str(SERVER), "--listen", f"127.0.0.1:{port}", "--reuse-port",
                 "--database", database or str(folder / "store.db"), "--replica-id", f"replica-{n}"],
                f"{self.url}/healthz",
            )
            for n in range(1, replicas + 1)
        ]

    def rss_mib(self):
        return [round(p.rss_mib(), 1) for p in self.processes]

    def stop(self):
        for process in self.processes:
            process.stop()


@contextlib.contextmanager
def running_stores(replicas, port, database=None):
    """`replicas` stores on a new database in a folder of their own (or on the
    PostgreSQL URL `database`), stopped and the folder removed when the block
    ends, however it ends."""
    folder = Path(tempfile.mkdtemp(dir=WORK))
    stores = Stores(replicas, folder, port, database)
    try:
        yield stores
    finally:
        stores.stop()
        shutil.rmtree(folder)


class Peak:
    """The highest value `sample()` gives, every half second, while the block
    runs (lists of figures compare by their sum)."""

    def __init__(self, sample):
        self.sample, self.samples, self.running = sample, [], True
        self.thread = threading.Thread(target=self.watch)

    def watch(self):
        while self.running:
            self.samples.append(self.sample())
            time.sleep(0.5)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.running = False
        self.thread.join()

    @property
    def value(self):
        return max(self.samples, key=lambda v: v if isinstance(v, float) else sum(v))


class SignedReplicas:
    """`replicas` store processes on one database file, each on a port of its
    own (port, port + 1, ...), with the agents' signing key: what a fleet of
    agents reports to. No load balancer on loopback, so the fleet spreads its
    agents over the ports itself."""

    def __init__(self, replicas, folder, port):
        key = folder / "signing-key"
        key.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
        self.key_file = key
        self.urls = [f"http://127.0.0.1:{port + n}" for n in range(replicas)]
        self.processes = []
        try:
            for n, url in enumerate(self.urls, start=1):
                self.processes.append(Process(
                    [str(SERVER), "--listen", url.removeprefix("http://"),
                     "--database", str(folder / "store.db"), "--replica-id", f"replica-{n}",
                     "--signing-key-file", str(key)],
                    f"{url}/healthz",
                ))
        except BaseException:
            self.stop()
            raise

    def cpu_seconds(self):
        """User and system time the replicas have used so far, together."""
        return sum(cpu_seconds(p.proc.pid) for p in self.processes)

    def waiting_seconds(self):
        """Time the replicas' threads have spent ready to run but waiting for a
        CPU, together: on a machine shared with other work, how much of it
        the store could not get."""
        return sum(waiting_seconds(p.proc.pid) for p in self.processes)

    def stop(self):
        for process in self.processes:
            process.stop()


def cpu_seconds(pid):
    """utime + stime of a running process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        # The fields after the command's name, which may hold spaces, start
        # with the state (field 3); utime and stime are fields 14 and 15.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def waiting_seconds(pid):
    """Run-queue time of a running process's threads, from their schedstat
    (time on a CPU, time waiting for one, time slices; in nanoseconds)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended meanwhile
    return total / 1e9


def post_json(url, body):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as answer:
        answer.read()


def prefill(url, start, end, containers):
    """Snapshots number start..end, spread evenly over `containers` containers."""
    batch = []
    for k in range(start, end):
        batch.append(snapshot(k % containers, prefill_time(k // containers * 60 + k % 60)))
        if len(batch) == 1000:
            post_json(f"{url}/containers", batch)
            batch = []
    if batch:
        post_json(f"{url}/containers", batch)


def rows(url):
    """The number of snapshots the store holds, from its metrics."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    match = re.search(r"^container_info_snapshots (\d+)", text, re.M)
    if not match:
        raise SystemExit(f"no container_info_snapshots in {url}/metrics:\n{text}")
    return int(match.group(1))


class PostgresCluster:
    """A PostgreSQL cluster of the run's own, on a loopback TCP port as a
    replica on another host would reach it (a Unix socket would spare the
    store the TCP stack that a deployment pays)."""

    def __init__(self, folder, port):
        self.folder, self.port = folder, port

    def run(self, *command):
        # initdb refuses to run as root; the cluster's files belong to postgres.
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*as_postgres, *command], check=True, capture_output=True, text=True).stdout

    def database(self, name):
        """A new, empty database; the URL a store takes."""
        self.run(str(POSTGRES_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def version(self):
        return self.run(str(POSTGRES_BIN / "postgres"), "--version").strip()


@contextlib.contextmanager
def postgres_cluster(port):
    """Started with Debian's defaults but for durability stated outright:
    fsync on, synchronous_commit on (the store sets it on every connection
    too), full_page_writes on. Stopped and its folder removed when the block
    ends, however it ends."""
    folder = Path(tempfile.mkdtemp(prefix="container-info-bench-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    cluster = PostgresCluster(folder, port)
    data = folder / "data"
    try:
        cluster.run(str(POSTGRES_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                    "--encoding=UTF8", "--locale=C")
        cluster.run(str(POSTGRES_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-o",
                    f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='{folder}' "
                    "-c fsync=on -c synchronous_commit=on -c full_page_writes=on", "start")
        yield cluster
    finally:
        subprocess.run([*(["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []),
                        str(POSTGRES_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(folder)


def etcd_version():
    """etcd's version line, or None when etcd-server is not installed."""
    if not shutil.which("etcd"):
        return None
    return subprocess.run(["etcd", "--version"], check=True, capture_output=True,
                          text=True).stdout.splitlines()[0]


@contextlib.contextmanager
def etcd_member(port):
    """One etcd member in a folder of its own on loopback ports (clients on
    `port`, peers on the next), its data removed when the block ends. Its WAL
    is fsynced before each put is answered, as the store's commits are."""
    folder = Path(tempfile.mkdtemp(dir=WORK))
    client, peer = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"
    member = Process(["etcd", "--name", "bench", "--data-dir", str(folder / "data"),
                      "--listen-client-urls", client, "--advertise-client-urls", client,
                      "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                      "--initial-cluster", f"bench={peer}", "--log-level", "error"],
                     f"{client}/health")
    try:
        yield client
    finally:
        member.stop()
        shutil.rmtree(folder)


def poc_python():
    venv = WORK / "poc-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        say("installing bottle and TinyDB into target/bench/poc-venv")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r",
                        str(ROOT / "bench" / "poc" / "requirements.txt")], check=True)
    return python


def docker(*args):
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def docker_quietly(*args):
    """For cleaning up: whatever is already gone stays gone."""
    subprocess.run(["docker", *args], capture_output=True)


def engine_get(path):
    """One GET to the Docker Engine's socket; returns seconds taken."""

    class UnixConnection(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(DOCKER_SOCKET)

    connection = UnixConnection("localhost", timeout=30)
    started = time.perf_counter()
    connection.request("GET", path)
    answer = connection.getresponse()
    answer.read()
    taken = time.perf_counter() - started
    connection.close()
    if answer.status != 200:
        raise SystemExit(f"the engine answered {answer.status} to {path}")
    return taken


def missing_tools():
    """Stops before the first figure, not a quarter of an hour into the run."""
    missing = [package for tool, package in (("wrk", "wrk"), ("nsenter", "util-linux"),
                                             ("/bin/busybox", "busybox-static"))
               if not shutil.which(tool)]
    if not (POSTGRES_BIN / "initdb").exists():
        missing.append("postgresql-15")
    if missing:
        raise SystemExit(f"bench/run needs {', '.join(missing)}: apt-get install {' '.join(missing)}")
    if not Path(DOCKER_SOCKET).exists():
        raise SystemExit(f"bench/run needs a Docker Engine at {DOCKER_SOCKET} for the agent and the images")


def build():
    say("building the store, the agent and the client (release)")
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "container-info-server",
                    "-p", "container-info-agent", "-p", "container-info-client",
                    "-p", "container-info-fleet-sim"], cwd=ROOT, check=True)
    WORK.mkdir(parents=True, exist_ok=True)
