#!/usr/bin/env bash
# The server node (Swarm manager): the swarm, the join token for the clients,
# the clients' overlay network, the store's image and the store as a stack of
# 3 replicas on port 5001 (with CONTAINER_INFO_DATABASE=postgres: PostgreSQL
# here and a replica on every node). Idempotent: an active manager is kept as it is, and
# a second run changes only what changed (a rebuilt image rolls out, start-first).
#
# Environment: see provision/lib.sh (CONTAINER_INFO_SERVER_IP,
# CONTAINER_INFO_SHARED_DIR, CONTAINER_INFO_SOURCE_DIR, CONTAINER_INFO_BUILD,
# CONTAINER_INFO_STACK_OVERRIDE, ...).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_docker
NODE_IP="$(node_ip)"
[ -n "$NODE_IP" ] || die "cannot tell this node's address towards $CONTAINER_INFO_SERVER_IP (set CONTAINER_INFO_NODE_IP)"

# 1. The swarm.
case "$(swarm_state)" in
    inactive)
        say "initialising a swarm, advertising $NODE_IP"
        # (its output would print the join token; provision/server.sh keeps
        # that in the shared folder only)
        run docker swarm init --advertise-addr "$NODE_IP" >/dev/null
        run docker node update --label-add "$SWARM_OWNER_LABEL=container-info" "$(self_node_id)" >/dev/null
        ;;
    active)
        is_swarm_manager || die "this node is a swarm worker; the store needs a manager"
        say "already a swarm manager: keeping the swarm"
        ;;
    *) die "swarm state is $(swarm_state); fix or leave the swarm (docker swarm leave) and run again" ;;
esac

# 2. Where the store's volume lives: here (stack.yml's placement constraint).
say "marking this node as the store's node ($STORE_LABEL=true)"
run docker node update --label-add "$STORE_LABEL=true" "$(self_node_id)" >/dev/null

# 3. The store's token and the agents' signing key, before the join token:
# a client that can join finds the key too.
ensure_secret_file store-token
ensure_secret_file signing-key

# 4. What the clients need to join: the worker token and the manager's address.
say "writing the join token and the manager address to $CONTAINER_INFO_SHARED_DIR"
mkdir -p "$CONTAINER_INFO_SHARED_DIR"
(
    umask 077
    docker swarm join-token --quiet worker >"$CONTAINER_INFO_SHARED_DIR/worker-token.new"
    mv "$CONTAINER_INFO_SHARED_DIR/worker-token.new" "$CONTAINER_INFO_SHARED_DIR/worker-token"
)
printf '%s:2377\n' "$CONTAINER_INFO_SERVER_IP" >"$CONTAINER_INFO_SHARED_DIR/manager-addr"

# 5. The overlay network the clients' containers join.
if docker network inspect "$CONTAINER_INFO_NETWORK" >/dev/null 2>&1; then
    say "network $CONTAINER_INFO_NETWORK exists"
else
    say "creating the attachable overlay network $CONTAINER_INFO_NETWORK"
    run docker network create --driver overlay --attachable \
        --label "$MANAGED_LABEL" "$CONTAINER_INFO_NETWORK"
fi

# 6. The store's image, tagged also with its own ID: the stack deploys that
# tag, so a rebuilt image changes the service and rolls out, and an unchanged
# one changes nothing.
# With PostgreSQL where nothing can be pulled, its image too.
parts=(server)
if [ "$CONTAINER_INFO_DATABASE" = postgres ] && [ "$CONTAINER_INFO_POSTGRES_IMAGE" = container-info-postgres:15 ]; then
    parts+=(postgres)
fi
say "building the store's image ($CONTAINER_INFO_BUILD)"
run "$CONTAINER_INFO_SOURCE_DIR/scripts/build-images" --mode "$CONTAINER_INFO_BUILD" "${parts[@]}"
image_id="$(short_image_id "container-info-server:$CONTAINER_INFO_TAG")"
run docker tag "container-info-server:$CONTAINER_INFO_TAG" "container-info-server:$image_id"
# With PostgreSQL a replica runs on every node, and each node builds the image
# itself (no registry): it gives its build this tag (provision/client.sh).
printf '%s\n' "$image_id" >"$CONTAINER_INFO_SHARED_DIR/store-image-tag"

# 7. The stack (the Swarm secrets made from the files of step 3 with it).
say "deploying the stack $CONTAINER_INFO_STACK (image container-info-server:$image_id)"
CONTAINER_INFO_TAG="$image_id" deploy_stack

say "waiting for the replicas of $STORE_SERVICE"
wait_for "all replicas of $STORE_SERVICE to run" store_is_up
run docker service ps --filter desired-state=running \
    --format '{{.Name}} {{.Node}} {{.CurrentState}}' "$STORE_SERVICE"

if command -v curl >/dev/null; then
    say "asking the store: curl http://127.0.0.1:5001/healthz"
    wait_for "the store to answer on port 5001" curl -fsS --max-time 3 http://127.0.0.1:5001/healthz
fi
say "the store is up: curl http://$CONTAINER_INFO_SERVER_IP:5001/containers"
say "writes other than an agent's signed snapshots need the token in $CONTAINER_INFO_SECRETS_DIR/store-token"
