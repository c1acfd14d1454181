#!/usr/bin/env bash
# Every node that runs containers: a client node (Swarm worker) joins the
# swarm; every node, the server too, builds the client and agent images (and
# with CONTAINER_INFO_DATABASE=postgres the store's, for its replica), runs
# the agent, which reports the node's containers to the store (fleet mode,
# unless CONTAINER_INFO_REPORT=off), and installs the `container-info` wrapper.
# Idempotent: a node already in the swarm (worker, or the manager: the server
# node, or one host) stays as it is; the agent is recreated only when its
# image, key or options changed.
#
# Why the agent is a container with a restart policy and not a systemd unit:
# it ships as an image like everything else (nothing to install on the host,
# the same binary and build on every node), it starts with the engine at boot
# (`--restart unless-stopped`; the engine is enabled at boot) and is restarted
# when it crashes, and the engine socket is the only thing of the host it gets.
# Host networking lets it see the real source address of the calling
# container, which is how it knows who is calling.
#
# Environment: see provision/lib.sh (CONTAINER_INFO_SERVER_IP,
# CONTAINER_INFO_NODE_IP, CONTAINER_INFO_SHARED_DIR, CONTAINER_INFO_BUILD,
# CONTAINER_INFO_WRAPPER, CONTAINER_INFO_REPORT, CONTAINER_INFO_REPORT_TO,
# CONTAINER_INFO_AGENT_OUTBOX_VOLUME, ...).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_docker
case "$CONTAINER_INFO_REPORT" in
    on | off) ;;
    *) die "CONTAINER_INFO_REPORT must be on or off, not $CONTAINER_INFO_REPORT" ;;
esac
NODE_IP="$(node_ip)"
[ -n "$NODE_IP" ] || die "cannot tell this node's address towards $CONTAINER_INFO_SERVER_IP (set CONTAINER_INFO_NODE_IP)"

# Join the swarm with the token and manager address provision/server.sh left
# in the shared folder. Machines come up side by side, so the folder may still
# hold the token of a swarm destroyed before: a join that fails waits for a
# token it has not tried yet.
join_swarm() {
    local token_file="$CONTAINER_INFO_SHARED_DIR/worker-token"
    local addr_file="$CONTAINER_INFO_SHARED_DIR/manager-addr"
    local deadline=$((SECONDS + CONTAINER_INFO_WAIT)) tried="" token manager
    say "waiting for the join token in $token_file (written by provision/server.sh)"
    while :; do
        if [ -s "$token_file" ] && [ -s "$addr_file" ]; then
            token="$(cat "$token_file")"
            manager="$(cat "$addr_file")"
            if [ "$manager $token" != "$tried" ]; then
                tried="$manager $token"
                say "joining the swarm at $manager as a worker, advertising $NODE_IP"
                # The token stays off the command line that `run` prints.
                if docker swarm join --token "$token" --advertise-addr "$NODE_IP" "$manager"; then
                    return
                fi
                say "the join failed (a token of an earlier swarm?): waiting for a new one"
            fi
        fi
        ((SECONDS < deadline)) || die "gave up after ${CONTAINER_INFO_WAIT}s waiting for a join token that works in $token_file"
        sleep 2
    done
}

# 1. The swarm: join as a worker, unless this node is in it already.
case "$(swarm_state)" in
    active)
        if is_swarm_manager; then
            say "already in the swarm, as a manager (the server node, or one host): not joining"
        else
            say "already in the swarm as a worker: not joining"
        fi
        ;;
    inactive) join_swarm ;;
    *) die "swarm state is $(swarm_state); fix or leave the swarm (docker swarm leave) and run again" ;;
esac

# 2. The images: the client's and the agent's.
say "building the client and agent images ($CONTAINER_INFO_BUILD)"
run "$CONTAINER_INFO_SOURCE_DIR/scripts/build-images" --mode "$CONTAINER_INFO_BUILD" client

# With PostgreSQL, a replica of the store runs on this node too, and no
# registry brings its image: it is built here, under the tag the server
# deployed (provision/server.sh leaves it in the shared folder). Until then
# Swarm retries this node's replica.
if [ "$CONTAINER_INFO_DATABASE" = postgres ]; then
    tag_file="$CONTAINER_INFO_SHARED_DIR/store-image-tag"
    wait_for "the store's image tag in $tag_file (written by provision/server.sh)" test -s "$tag_file"
    store_image="container-info-server:$(cat "$tag_file")"
    if docker image inspect "$store_image" >/dev/null 2>&1; then
        say "the store's image $store_image is here"
    else
        say "building the store's image $store_image for this node's replica ($CONTAINER_INFO_BUILD)"
        run "$CONTAINER_INFO_SOURCE_DIR/scripts/build-images" --mode "$CONTAINER_INFO_BUILD" server
        run docker tag "container-info-server:$CONTAINER_INFO_TAG" "$store_image"
    fi
fi

# 3. The agent: one per node, on the host's network, reading the engine socket,
# signing what it answers and reports with the key provision/server.sh made
# (its own copy, readable by the socket's group, which the agent runs in).
[ -S "$CONTAINER_INFO_DOCKER_SOCKET" ] || die "no engine socket at $CONTAINER_INFO_DOCKER_SOCKET"
socket_group="$(stat -c %g "$CONTAINER_INFO_DOCKER_SOCKET")"
key_source="$CONTAINER_INFO_SECRETS_DIR/signing-key"
wait_for "the signing key in $key_source (written by provision/server.sh)" test -s "$key_source"
install -D -m 0440 -g "$socket_group" "$key_source" "$CONTAINER_INFO_AGENT_KEY"
key_digest="$(sha256sum "$CONTAINER_INFO_AGENT_KEY" | cut -c 1-12)"
agent_image="container-info-agent:$CONTAINER_INFO_TAG"
# The image runs as a non-root user: give it the group that owns the socket
# here. The socket is mounted read-only, which stops the file being replaced,
# not API calls; the agent itself only reads from the engine.
agent_options=(
    --restart unless-stopped
    --network host
    --volume "$CONTAINER_INFO_DOCKER_SOCKET:/var/run/docker.sock:ro"
    --group-add "$socket_group"
    --volume "$CONTAINER_INFO_AGENT_KEY:/run/secrets/container-info-signing-key:ro"
    --env CONTAINER_INFO_AGENT_SIGNING_KEY_FILE=/run/secrets/container-info-signing-key
    # It writes nothing but its outbox, on a volume (below), so no tmpfs; it
    # listens on 5002 as an ordinary user and reads the engine through the
    # socket's group, so no capability; and nothing in it may gain privileges. Limits: many times what it uses
    # (BENCHMARKS.md), and one CPU, which every node has.
    --read-only
    --cap-drop ALL --security-opt no-new-privileges
    --memory 128m --cpus 1
    --log-opt max-size=10m --log-opt max-file=3
)
# Fleet mode: the agent posts every container of this node to the store, and
# keeps what the store has not acknowledged in its outbox, on a named volume
# that outlives the container (a replaced agent sends what the old one left).
# The image has the mount point, owned by the agent's user, and a new volume
# takes that owner. Made here, not by `docker run`, so that it carries the
# deployment's label (scripts/one-host-down finds it by that).
if [ "$CONTAINER_INFO_REPORT" = on ]; then
    if ! docker volume inspect "$CONTAINER_INFO_AGENT_OUTBOX_VOLUME" >/dev/null 2>&1; then
        run docker volume create --label "$MANAGED_LABEL" "$CONTAINER_INFO_AGENT_OUTBOX_VOLUME" >/dev/null
    fi
    agent_options+=(
        --volume "$CONTAINER_INFO_AGENT_OUTBOX_VOLUME:/var/lib/container-info-agent"
        --env CONTAINER_INFO_OUTBOX=/var/lib/container-info-agent/outbox
        --env "CONTAINER_INFO_REPORT_TO=$CONTAINER_INFO_REPORT_TO"
    )
else
    say "CONTAINER_INFO_REPORT=off: the agent answers /self and reports nothing"
fi
# The image, the key and these options, as a label on the container: a node
# provisioned again gets a new agent when any of them changed (new options
# reach agents started by an older provisioning), and keeps it otherwise.
wanted="$(docker image inspect --format '{{.Id}}' "$agent_image") $key_digest ${agent_options[*]}"
wanted="$(printf '%s' "$wanted" | sha256sum | cut -c 1-16)"
current="$(docker container inspect --format '{{ index .Config.Labels "container-info.agent-run" }}' "$CONTAINER_INFO_AGENT_CONTAINER" 2>/dev/null || true)"
running="$(docker container inspect --format '{{.State.Running}}' "$CONTAINER_INFO_AGENT_CONTAINER" 2>/dev/null || true)"
if [ "$current" = "$wanted" ] && [ "$running" = true ]; then
    say "the agent $CONTAINER_INFO_AGENT_CONTAINER runs the current image, key and options: keeping it"
else
    if [ -n "$running" ]; then
        say "replacing the agent container $CONTAINER_INFO_AGENT_CONTAINER (new image, key or options, or not running)"
        run docker rm --force "$CONTAINER_INFO_AGENT_CONTAINER"
    fi
    if [ "$CONTAINER_INFO_REPORT" = on ]; then
        say "starting the agent $CONTAINER_INFO_AGENT_CONTAINER (restarts with the engine), reporting to $CONTAINER_INFO_REPORT_TO"
    else
        say "starting the agent $CONTAINER_INFO_AGENT_CONTAINER (restarts with the engine)"
    fi
    run docker run --detach --name "$CONTAINER_INFO_AGENT_CONTAINER" \
        "${agent_options[@]}" \
        --label "$MANAGED_LABEL" --label "container-info.agent-run=$wanted" \
        "$agent_image"
fi
if command -v curl >/dev/null; then
    say "asking the agent: curl http://127.0.0.1:5002/healthz"
    wait_for "the agent to answer on port 5002" curl -fsS --max-time 3 http://127.0.0.1:5002/healthz
fi

# 4. The wrapper: `container-info` runs the client in a throw-away container
# on the stack's network, told where the store and this node's agent are.
say "installing the wrapper $CONTAINER_INFO_WRAPPER"
write_wrapper "$CONTAINER_INFO_WRAPPER" "$NODE_IP"
say "done: run \`container-info\` (prompt) or \`container-info get --json\`"
