"""bench/run's parts: harness (the processes and tools it drives), scenarios
(each measurement), report (the printed table), results (the typed figures and
their JSON) and wrk (running wrk and reading what it prints)."""
