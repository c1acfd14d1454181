"""The fleet's figures: read from what container-info-fleet-sim prints, saved
and read back, and rendered after the rest of a run."""

import json
import unittest
from pathlib import Path

from cibench import report
from cibench.results import FleetResult, FleetStep, RunResults, from_json, to_json

BENCH = Path(__file__).resolve().parent.parent
SAVED = json.loads((BENCH / "results.json").read_text())


def lags(p99, late=0):
    return {"count": 40, "p50_ms": p99 / 4, "p99_ms": p99, "max_ms": p99 + 1, "late": late}


def step(agents, resync_p99, late=0):
    # The shape of the simulator's JSON, with the CPU figures the harness adds.
    return {"agents": agents, "containers_per_agent": 50, "containers": agents * 50,
            "interval_ms": 5000, "intervals": 4, "within_interval": late == 0,
            "start": lags(30.0), "resync": lags(resync_p99, late), "change": lags(12.5),
            "posts": 10, "node_reports": 5, "snapshots": 1000, "bytes": 1_500_000, "retries": 0, "seconds": 25.5,
            "snapshots_per_second": agents * 10.0,
            "store_cpu_cores": 0.42, "store_cpu_wait_cores": 1.5, "simulator_cpu_cores": 0.11}


def fleet(*steps):
    return {"replicas": 3, "steps": list(steps)}


def rendered(fleet_json):
    results = from_json(RunResults, {**SAVED, "fleet": fleet_json})
    return report.render(results, cores=2).split("\n")


class Fleet(unittest.TestCase):
    def test_the_largest_fleet_within_the_interval_is_named(self):
        lines = rendered(fleet(step(25, 80.0), step(50, 900.5), step(100, 7000.0, late=3)))
        self.assertIn("| 50 | 2500 | 500 | 0.42 | 1.50 | 0.11 | 225 / 900 / 902 | 12 | 0 | 0 |", lines)
        self.assertIn("| 100 | 5000 | 1000 | 0.42 | 1.50 | 0.11 | 1750 / 7000 / 7001 | 12 | 3 | 0 |", lines)
        self.assertEqual(lines[-1], "Largest fleet with every report within 5 s: 50 × 50 = 2500 "
                                    "containers (500 snapshots/s, store 0.42 cores, resync lag p99 900 ms)")

    def test_a_fleet_that_never_missed_says_it_was_the_largest_tried(self):
        self.assertTrue(rendered(fleet(step(25, 80.0)))[-1].endswith("; the largest tried"))

    def test_a_fleet_that_always_missed_says_so(self):
        self.assertEqual(rendered(fleet(step(25, 6000.0, late=1)))[-1],
                         "No fleet had every report land within 5 s.")

    def test_a_run_without_the_fleet_ends_before_it(self):
        older = {k: v for k, v in SAVED.items() if k != "fleet"}
        self.assertFalse(any("Fleet" in line for line in report.render(from_json(RunResults, older), 2).split("\n")))

    def test_the_fleet_is_saved_and_read_back(self):
        saved = {**SAVED, "fleet": fleet(step(25, 80.0), step(50, 7000.0, late=1))}
        results = from_json(RunResults, saved)
        self.assertEqual(results.fleet.largest_within.agents, 25)
        self.assertEqual(to_json(results), saved)

    def test_a_mistyped_fleet_figure_is_named(self):
        broken = step(25, 80.0)
        broken["within_interval"] = 1
        with self.assertRaisesRegex(ValueError, r"step\.within_interval: expected <class 'bool'>"):
            from_json(FleetStep, broken, "step")
        self.assertIsInstance(from_json(FleetResult, fleet(step(25, 80.0))), FleetResult)


if __name__ == "__main__":
    unittest.main()
