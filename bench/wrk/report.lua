-- Prints one machine-readable line with throughput and latency percentiles (ms).
function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "RESULT rps=%.1f p50=%.3f p99=%.3f p999=%.3f errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000,
    errors.status + errors.connect + errors.read + errors.write + errors.timeout))
end
