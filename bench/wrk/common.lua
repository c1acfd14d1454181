-- Shared by the load scripts: the container IDs the prefill used, a
-- snapshot shaped as the agent produces it (about 600 bytes on the wire),
-- and the threads' numbers.
local common = {}

function common.id(n)
  return string.rep(string.format("%08x", n), 8)
end

function common.snapshot(n, observed_at)
  return string.format([[{"id":"%s","name":"shop_web.%d.x7k2p9q4r5s6t7u8v9w0","image":"registry.local/shop/web:1.4.2","image_id":"sha256:5d1e0c8a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6","node":"worker-%d","state":"running","created":"2026-11-24T09:00:00.123456789Z","started_at":"2026-11-24T09:00:01.5Z","labels":{"com.docker.stack.namespace":"shop","com.docker.swarm.service.name":"shop_web","com.docker.swarm.task.name":"shop_web.%d"},"networks":{"shop_default":{"ip_address":"10.0.1.%d","ipv6_address":"","gateway":"10.0.1.1"}},"stats":{"cpu_percent":3.25,"memory_usage_bytes":52428800,"memory_limit_bytes":1073741824,"network_rx_bytes":10240,"network_tx_bytes":20480,"pids":7},"observed_at":"%s"}]],
    common.id(n), n, n % 3, n, n % 250 + 2, observed_at)
end

-- Numbers wrk's threads: each gets `tid` (0, 1, ...), which the load scripts
-- use to keep their threads' containers and observation times apart.
function common.number_threads()
  local threads = 0
  function setup(thread)
    thread:set("tid", threads)
    threads = threads + 1
  end
end

return common
