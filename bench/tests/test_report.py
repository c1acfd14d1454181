"""The report and the saved JSON, on the published run (bench/results.json,
printed by bench/run --report before it was split into cibench/)."""

import json
import unittest
from pathlib import Path

from cibench import report
from cibench.results import RunResults, from_json, to_json

BENCH = Path(__file__).resolve().parent.parent
SAVED = json.loads((BENCH / "results.json").read_text())


class Report(unittest.TestCase):
    def test_the_published_run_renders_as_printed(self):
        expected = (BENCH / "tests" / "fixtures" / "results-report.txt").read_text()
        self.assertEqual(report.render(from_json(RunResults, SAVED), cores=2) + "\n", expected)

    def test_a_run_saved_before_the_disk_line(self):
        older = {k: v for k, v in SAVED.items() if k != "disk_fsync"}
        text = report.render(from_json(RunResults, older), cores=2)
        self.assertNotIn("Disk:", text)
        self.assertIn("| 3 | write | 9642 |", text)

    def test_a_ceiling_of_zero_gives_a_dash(self):
        self.assertEqual(report.ratio(1.0, 0), "—")


class Json(unittest.TestCase):
    def test_the_saved_file_reads_and_writes_back_the_same(self):
        self.assertEqual(json.dumps(to_json(from_json(RunResults, SAVED)), indent=2),
                         json.dumps(SAVED, indent=2))

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
