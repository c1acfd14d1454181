"""The wrk parser, on output recorded from wrk 4.1 with bench/wrk/report.lua
against python3 -m http.server on 127.0.0.1 (fixtures/wrk/)."""

import unittest
from pathlib import Path

from cibench import wrk
from cibench.wrk import WrkOutputError, WrkResult

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "wrk"


def sample(name):
    return (FIXTURES / name).read_text()


class Parse(unittest.TestCase):
    def test_a_run(self):
        self.assertEqual(wrk.parse(sample("report-ok.txt")),
                         WrkResult(rps=1564.2, p50_ms=1.34, p99_ms=27.874, p999_ms=52.06, errors=0))

    def test_one_connection_as_the_agent_is_asked(self):
        self.assertEqual(wrk.parse(sample("report-one-connection.txt")),
                         WrkResult(rps=1298.0, p50_ms=0.288, p99_ms=19.102, p999_ms=33.571, errors=0))

    def test_error_answers_are_counted(self):
        # 404s: wrk's "Non-2xx or 3xx responses: 3485".
        self.assertEqual(wrk.parse(sample("report-status-errors.txt")).errors, 3485)

    def assertRefused(self, output, problem):
        with self.assertRaises(WrkOutputError) as raised:
            wrk.parse(output)
        self.assertIn(problem, str(raised.exception))
        self.assertIn(output, str(raised.exception))

    def test_no_result_line(self):
        # wrk without report.lua prints only its own summary.
        self.assertRefused(sample("no-script.txt"), "expected one RESULT line, found 0")

    def test_no_request_completed(self):
        # A server that accepts and never answers: wrk counts no error at all.
        self.assertRefused(sample("report-all-timeouts.txt"), "no request completed")

    def test_a_run_of_no_time(self):
        output = sample("report-ok.txt").replace("rps=1564.2", "rps=-nan")
        self.assertRefused(output, "cannot read the RESULT line")

    def test_a_truncated_line(self):
        output = sample("report-ok.txt").replace(" errors=0", "")
        self.assertRefused(output, "cannot read the RESULT line")

    def test_two_result_lines(self):
        output = sample("report-ok.txt") * 2
        self.assertRefused(output, "expected one RESULT line, found 2")

    def test_empty_output(self):
        self.assertRefused("", "expected one RESULT line, found 0")


class Command(unittest.TestCase):
    def test_load(self):
        self.assertEqual(wrk.command("http://127.0.0.1:1/", "post.lua", 10),
                         ["wrk", "-t2", "-c64", "-d10s", "--timeout", "10s",
                          "-s", str(wrk.SCRIPTS / "post.lua"), "http://127.0.0.1:1/"])

    def test_one_request_at_a_time_with_wrks_own_timeout(self):
        self.assertEqual(wrk.command("http://172.17.0.1:1/self", "report.lua", 3,
                                     threads=1, connections=1, timeout=None),
                         ["wrk", "-t1", "-c1", "-d3s", "-s", str(wrk.SCRIPTS / "report.lua"),
                          "http://172.17.0.1:1/self"])


if __name__ == "__main__":
    unittest.main()
