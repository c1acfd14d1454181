//! `/replicas`: the roll call, as the database holds it.

use actix_web::{get, web};
use container_info_wire::replicas::{Lease, ReplicaRole, ReplicaStatus, Replicas};

use super::{StorageFailures, from_ms};
use crate::error::ApiError;
use crate::storage::{ALIVE_WITHIN_MS, LeaseRow, ReplicaRow, RollCall, Storage};

#[utoipa::path(
    tag = "replicas",
    responses(
        (status = 200, description = "Every replica that sent a heartbeat and was not yet forgotten, whether it is alive, which one leads, and the lease", body = Replicas),
        StorageFailures,
    )
)]
#[get("/replicas")]
pub(crate) async fn list_replicas(
    store: web::Data<dyn Storage>,
) -> Result<web::Json<Replicas>, ApiError> {
    Ok(web::Json(roll_call(store.get_ref()).await?))
}

/// The roll call as `GET /replicas` answers it; the status page shows the same.
pub(crate) async fn roll_call(store: &dyn Storage) -> Result<Replicas, ApiError> {
    let RollCall {
        replicas,
        lease,
        now_ms: now,
    } = store.roll_call().await?;
    let leader = lease.holder_at(now);
    let items = replicas
        .into_iter()
        .map(|row| status(row, leader, now))
        .collect();
    Ok(Replicas {
        items,
        lease: lease_of(&lease, leader),
    })
}

fn status(row: ReplicaRow, leader: Option<&str>, now: i64) -> ReplicaStatus {
    let role = if leader == Some(row.beat.id.as_str()) {
        ReplicaRole::Leader
    } else {
        ReplicaRole::Follower
    };
    ReplicaStatus {
        role,
        last_heartbeat_at: from_ms(row.heartbeat_at_ms),
        alive: now - row.heartbeat_at_ms <= ALIVE_WITHIN_MS,
        addresses: row.beat.addresses,
        listen: row.beat.listen,
        port_shared: row.beat.port_shared,
        version: row.beat.version,
        started_at: from_ms(row.beat.started_at_ms),
        id: row.beat.id,
    }
}

fn lease_of(lease: &LeaseRow, holder: Option<&str>) -> Lease {
    let ever_taken = lease.generation > 0;
    Lease {
        holder: holder.map(str::to_owned),
        acquired_at: ever_taken.then(|| from_ms(lease.acquired_at_ms)),
        renewed_at: ever_taken.then(|| from_ms(lease.renewed_at_ms)),
        duration_seconds: lease.duration_ms as f64 / 1000.0,
        generation: lease.generation,
        transitions: lease.transitions,
    }
}
