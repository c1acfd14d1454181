"""The figures of one run, typed, and their JSON (the file --json writes and
--report reads; its shape is the one earlier runs saved, bench/results.json)."""

import dataclasses
import types
import typing
from dataclasses import dataclass, field

from .wrk import WrkResult


@dataclass(frozen=True)
class Percentiles:
    """Of timings the harness took itself, one at a time."""
    count: int
    p50_ms: float
    p99_ms: float

    @classmethod
    def of(cls, seconds):
        ordered = sorted(seconds)
        pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000
        return cls(count=len(ordered), p50_ms=pick(0.5), p99_ms=pick(0.99))


@dataclass(frozen=True)
class SelfFigures:
    """The agent's /self under wrk. Saved runs have no p99.9 for it (one
    connection, one request at a time), so neither does this."""
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int

    @classmethod
    def of(cls, wrk):
        return cls(rps=wrk.rps, p50_ms=wrk.p50_ms, p99_ms=wrk.p99_ms, errors=wrk.errors)


@dataclass(frozen=True)
class StoreResult:
    """One store (1 or 3 replicas) at 1 000 snapshots, each figure beside its /healthz."""
    rss_idle_mib: list[float]
    healthz: WrkResult
    write: WrkResult
    rss_under_write_mib: list[float]
    read_by_id: WrkResult
    read_page: WrkResult


@dataclass(frozen=True)
class GrowthStep:
    size: int
    rows_before: int
    rows_after: int
    write: WrkResult
    healthz: WrkResult
    read_page: WrkResult


@dataclass(frozen=True)
class BaselineResult:
    stored: int
    poc_write: WrkResult
    store_write_3_replicas: WrkResult


@dataclass(frozen=True)
class AgentResult:
    self_: SelfFigures = field(metadata={"json": "self"})
    engine_inspect: Percentiles
    engine_stats: Percentiles
    agent_rss_mib: float


@dataclass(frozen=True)
class FootprintResult:
    image_mb: dict[str, float]
    client_to_prompt_ms: Percentiles


@dataclass(frozen=True)
class PostgresResult:
    """The same store figures as SQLite's, on a PostgreSQL cluster of the run's own."""
    version: str
    stores: dict[str, StoreResult]  # by number of replicas: "1", "3"
    growth: list[GrowthStep]


@dataclass(frozen=True)
class EtcdResult:
    """etcd's put beside the store's durable POST (SQLite, one replica) and its
    /healthz, taken one after the other, with a value the size of a record
    the store held."""
    version: str
    value_bytes: int
    healthz: WrkResult
    store_write: WrkResult
    put: WrkResult


@dataclass(frozen=True)
class FleetLags:
    """The lags of one kind of report, from when each was due until the store
    acknowledged its last batch, as container-info-fleet-sim prints them."""
    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    late: int  # longer than one interval


@dataclass(frozen=True)
class FleetStep:
    """One simulated fleet against the store: what container-info-fleet-sim
    printed, and the CPU time the replicas and the simulator used meanwhile."""
    agents: int
    containers_per_agent: int
    containers: int
    interval_ms: int
    intervals: int
    within_interval: bool
    start: FleetLags
    resync: FleetLags
    change: FleetLags
    posts: int  # of snapshots
    node_reports: int
    snapshots: int
    bytes: int
    retries: int
    seconds: float
    snapshots_per_second: float
    store_cpu_cores: float
    store_cpu_wait_cores: float  # ready to run, waiting for a CPU
    simulator_cpu_cores: float


@dataclass(frozen=True)
class FleetResult:
    """Fleets of growing size reporting to `replicas` replicas on one file,
    until one of them has a report land later than one interval."""
    replicas: int
    steps: list[FleetStep]

    @property
    def largest_within(self):
        """The largest fleet whose every report landed within one interval."""
        within = [step for step in self.steps if step.within_interval]
        return max(within, key=lambda step: step.containers) if within else None


@dataclass(frozen=True)
class IngestLoad:
    """One load on the ingest figure's store, and the store's CPU time (user
    and system, all its threads) while it ran."""
    wrk: WrkResult
    store_cpu_s: float


@dataclass(frozen=True)
class IngestResult:
    """One replica holding `containers` containers: single-snapshot POSTs and
    arrays of `batch`, in the same minutes, beside its /healthz."""
    containers: int
    batch: int
    healthz: WrkResult
    single: IngestLoad
    arrays: IngestLoad


@dataclass(frozen=True)
class RunResults:
    seconds: int
    disk_fsync: Percentiles | None  # absent in runs saved before it was measured
    stores: dict[str, StoreResult]  # by number of replicas: "1", "3"
    growth: list[GrowthStep]
    baseline: BaselineResult
    agent: AgentResult
    footprint: FootprintResult
    ingest: IngestResult | None = None  # absent in runs saved before it was measured
    fleet: FleetResult | None = None  # absent in runs saved before it was measured
    # Absent in runs saved before they were measured; etcd also when it is not
    # installed (then `postgres` is there and the report says so).
    postgres: PostgresResult | None = None
    etcd: EtcdResult | None = None


def _key(f):
    return f.metadata.get("json", f.name)


def to_json(value):
    """Plain JSON values, dataclass fields in their declared order; a figure
    not measured (None) is left out, as runs saved before it leave it out."""
    if dataclasses.is_dataclass(value):
        return {_key(f): to_json(getattr(value, f.name)) for f in dataclasses.fields(value)
                if getattr(value, f.name) is not None}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def from_json(kind, data, where="results"):
    """`data` read as `kind`; a missing or mistyped figure raises, naming where."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is types.UnionType:  # X | None
        if data is None:
            return None
        (kind,) = [a for a in args if a is not type(None)]
        return from_json(kind, data, where)
    if dataclasses.is_dataclass(kind):
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object, found {data!r}")
        hints = typing.get_type_hints(kind)
        values = {}
        for f in dataclasses.fields(kind):
            key = _key(f)
            if key in data:
                values[f.name] = from_json(hints[f.name], data[key], f"{where}.{key}")
            elif typing.get_origin(hints[f.name]) is types.UnionType:
                values[f.name] = None
            else:
                raise ValueError(f"{where}: no {key!r}")
        return kind(**values)
    if origin is list and isinstance(data, list):
        return [from_json(args[0], v, f"{where}[{n}]") for n, v in enumerate(data)]
    if origin is dict and isinstance(data, dict):
        return {k: from_json(args[1], v, f"{where}.{k}") for k, v in data.items()}
    if kind is float and isinstance(data, (int, float)) and not isinstance(data, bool):
        return data
    if kind in (int, str, bool) and type(data) is kind:
        return data
    raise ValueError(f"{where}: expected {kind}, found {data!r}")
