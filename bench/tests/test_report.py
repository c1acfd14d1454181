"""The report and the saved JSON, on the published run (bench/results.json,
printed by bench/run --report before it was split into cibench/)."""

import json
import unittest
from pathlib import Path

from cibench import report
from cibench.results import RunResults, from_json, to_json

BENCH = Path(__file__).resolve().parent.parent
SAVED = json.loads((BENCH / "results.json").read_text())


def wrk_figures(rps, p50, p99, errors=0):
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "p999_ms": p99, "errors": errors}


def with_ingest():
    """The published run with an ingest figure of round numbers."""
    return {**json.loads(json.dumps(SAVED)), "ingest": {
        "containers": 100000, "batch": 50,
        "healthz": wrk_figures(80000.0, 0.5, 4.0),
        "single": {"wrk": wrk_figures(2000.0, 30.0, 60.0), "store_cpu_s": 4.0},
        "arrays": {"wrk": wrk_figures(500.0, 120.0, 250.0, errors=1), "store_cpu_s": 5.0},
    }}


def with_backends():
    """The saved run with PostgreSQL at half SQLite's throughput on every
    figure (the same ceilings) and an etcd figure: known ratios to find."""
    run = json.loads(json.dumps(SAVED))
    run.pop("etcd", None)
    stores = json.loads(json.dumps(SAVED["stores"]))
    for store in stores.values():
        for what in ("write", "read_by_id", "read_page"):
            store[what]["rps"] /= 2
    one = SAVED["stores"]["1"]
    put = {**one["write"], "rps": 4821.0}
    run["postgres"] = {"version": "postgres (PostgreSQL) 15.8", "stores": stores, "growth": SAVED["growth"]}
    run["etcd"] = {"version": "etcd Version: 3.4.23", "value_bytes": 1201, "healthz": one["healthz"],
                   "store_write": {**one["write"], "rps": 9642.0}, "put": put}
    return run


class Report(unittest.TestCase):
    def test_the_published_run_renders_as_printed(self):
        expected = (BENCH / "tests" / "fixtures" / "results-report.txt").read_text()
        self.assertEqual(report.render(from_json(RunResults, SAVED), cores=2) + "\n", expected)

    def test_a_run_saved_before_the_disk_line(self):
        older = {k: v for k, v in SAVED.items() if k != "disk_fsync"}
        text = report.render(from_json(RunResults, older), cores=2)
        self.assertNotIn("Disk:", text)
        self.assertIn(f"| 3 | write | {SAVED['stores']['3']['write']['rps']:.0f} |", text)

    def test_the_ingest_figure_in_snapshots_and_store_cpu(self):
        text = report.render(from_json(RunResults, with_ingest()), cores=2)
        self.assertIn("Ingest, one replica holding 100000 containers; arrays of 50 ", text)
        # 2 000 req/s for 10 s, 20 000 snapshots in 4 s of the store's CPU.
        self.assertIn("| one snapshot per POST | 2000 | 2000 | 30.00 | 60.00 | 0 | 200.0 | 5000 |", text)
        # 500 arrays/s of 50: 250 000 snapshots in 5 s.
        self.assertIn("| arrays of 50 | 500 | 25000 | 120.00 | 250.00 | 1 | 20.0 | 50000 |", text)
        self.assertIn("Snapshots/s, arrays / one per POST: 12.50; "
                      "arrays' snapshots/s / /healthz requests/s: 0.31", text)
        # After the growth table, before the proof of concept.
        self.assertLess(text.index("At the largest size"), text.index("Ingest,"))
        self.assertLess(text.index("Ingest,"), text.index("proof of concept"))

    def test_a_run_without_the_ingest_figure_has_no_ingest_section(self):
        older = {k: v for k, v in SAVED.items() if k != "ingest"}
        self.assertNotIn("Ingest", report.render(from_json(RunResults, older), cores=2))


    def test_a_run_saved_before_the_backends_has_no_such_section(self):
        older = {k: v for k, v in SAVED.items() if k not in ("postgres", "etcd")}
        text = report.render(from_json(RunResults, older), cores=2)
        self.assertNotIn("PostgreSQL", text)
        self.assertNotIn("etcd", text)

    def test_without_etcd_the_report_says_it_was_not_installed(self):
        without = {k: v for k, v in with_backends().items() if k != "etcd"}
        text = report.render(from_json(RunResults, without), cores=2)
        self.assertIn("etcd: not installed (apt-get install etcd-server), so no etcd figure", text)
        self.assertIn("Growth on PostgreSQL:", text)

    def test_both_backends_side_by_side(self):
        text = report.render(from_json(RunResults, with_backends()), cores=2)
        # SQLite's figure, its share of its ceiling, PostgreSQL's (half), its
        # share of its own ceiling, and PostgreSQL / SQLite.
        lite = SAVED["stores"]["3"]
        write, healthz = lite["write"]["rps"], lite["healthz"]["rps"]
        self.assertIn(f"| 3 | write | {write:.0f} | {lite['write']['p99_ms']:.2f} | "
                      f"{write / healthz:.2f} | {write / 2:.0f} |", text)
        self.assertIn("| 0 / 0 | 0.50 |", text)
        self.assertIn("| etcd put, 1 member, JSON gateway, 1201-byte value | 4821 |", text)
        self.assertIn("etcd put / store POST: 0.50", text)

    def test_a_ceiling_of_zero_gives_a_dash(self):
        self.assertEqual(report.ratio(1.0, 0), "—")


class Json(unittest.TestCase):
    def test_the_saved_file_reads_and_writes_back_the_same(self):
        self.assertEqual(json.dumps(to_json(from_json(RunResults, SAVED)), indent=2),
                         json.dumps(SAVED, indent=2))

    def test_the_ingest_figure_reads_and_writes_back_the_same(self):
        saved = with_ingest()
        self.assertEqual(to_json(from_json(RunResults, saved)), saved)

    def test_a_run_with_both_backends_and_etcd_reads_and_writes_back_the_same(self):
        run = with_backends()
        self.assertEqual(to_json(from_json(RunResults, run)), run)

    def test_figures_not_measured_are_left_out_not_written_as_null(self):
        without = {k: v for k, v in with_backends().items() if k != "etcd"}
        self.assertNotIn("etcd", to_json(from_json(RunResults, without)))

    def test_a_missing_figure_is_named(self):
        broken = json.loads(json.dumps(SAVED))
        del broken["stores"]["3"]["read_page"]["p99_ms"]
        with self.assertRaisesRegex(ValueError, r"results\.stores\.3\.read_page: no 'p99_ms'"):
            from_json(RunResults, broken)

    def test_a_mistyped_figure_is_named(self):
        broken = json.loads(json.dumps(SAVED))
        broken["growth"][0]["write"]["errors"] = None
        with self.assertRaisesRegex(ValueError, r"results\.growth\[0\]\.write\.errors: expected"):
            from_json(RunResults, broken)


if __name__ == "__main__":
    unittest.main()
