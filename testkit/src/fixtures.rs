//! Snapshots and IDs for tests to post.

use serde_json::{Value, json};

/// A container ID made from a number, so tests can make many distinct ones;
/// spread out so that different numbers differ in the first digits too.
pub fn container_id(n: u64) -> String {
    format!("{:016x}", (n + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)).repeat(4)
}

/// A snapshot of container `n` (its ID from [`container_id`]), named `web-{n}`,
/// shaped as the agent produces it.
pub fn snapshot(n: u64, observed_at: &str) -> Value {
    let mut snapshot = snapshot_with_id(&container_id(n), observed_at);
    snapshot["name"] = json!(format!("web-{n}"));
    snapshot
}

/// A snapshot of the container with this ID (say, one made to share a prefix
/// with another), named after its first six digits.
pub fn snapshot_with_id(id: &str, observed_at: &str) -> Value {
    json!({
        "id": id,
        "name": format!("web-{}", &id[..6]),
        "image": "registry.local/web:1.4",
        "image_id": "sha256:5d1e0c8a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6",
        "node": "node-1",
        "state": "running",
        "created": "2026-11-24T09:00:00.123456789Z",
        "started_at": "2026-11-24T09:00:01Z",
        "labels": {
            "com.docker.stack.namespace": "shop",
            "com.docker.swarm.service.name": "shop_web",
        },
        "networks": {
            "bridge": {"ip_address": "172.17.0.5", "ipv6_address": "", "gateway": "172.17.0.1"}
        },
        "stats": {
            "cpu_percent": 3.25, "memory_usage_bytes": 52_428_800, "memory_limit_bytes": 1_073_741_824,
            "network_rx_bytes": 1_024, "network_tx_bytes": 2_048, "pids": 7
        },
        "observed_at": observed_at,
    })
}

/// A time `seconds` after a fixed start, as RFC 3339.
pub fn at(seconds: u32) -> String {
    format!("2026-11-24T10:{:02}:{:02}Z", seconds / 60, seconds % 60)
}

/// A node's report as its agent posts it to `POST /nodes`, unsigned.
pub fn node_report(node: &str, interval_ms: u64, reported_at: &str) -> Value {
    json!({
        "node": node,
        "agent_version": "0.1.0",
        "report_interval_ms": interval_ms,
        "reported_at": reported_at,
    })
}
