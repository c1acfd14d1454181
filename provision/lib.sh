# shellcheck shell=bash
# shellcheck disable=SC2034 # the settings are used by the scripts that source this
# Shared by provision/*.sh and scripts/*: settings and helpers (the one
# place that defines say, die, run and their kin).
# Sourced, not run. Every setting comes from the environment, with the
# defaults of the Vagrant setup (see ../Vagrantfile), so the same scripts run
# in the VMs, on one host (scripts/one-host-up) and in the tests.

# The repository: docker_server/, docker_client/, scripts/ (/vagrant in the VMs).
CONTAINER_INFO_SOURCE_DIR="${CONTAINER_INFO_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
# The manager's address: swarm init advertises it, clients join it and reach
# the store there on port 5001.
CONTAINER_INFO_SERVER_IP="${CONTAINER_INFO_SERVER_IP:-192.168.56.10}"
# Where the server leaves the swarm join token and the clients read it: a
# folder every VM sees (under /vagrant, in Vagrant's own .vagrant folder).
CONTAINER_INFO_SHARED_DIR="${CONTAINER_INFO_SHARED_DIR:-/vagrant/.vagrant/container-info}"
# How images are built: `source` (multi-stage Dockerfiles, pulls the Rust
# image) or `prebuilt` (static binaries built on this host by cargo, then
# FROM scratch; no pull).
CONTAINER_INFO_BUILD="${CONTAINER_INFO_BUILD:-source}"
# The image tag scripts/build-images gives.
CONTAINER_INFO_TAG="${CONTAINER_INFO_TAG:-latest}"
# The stack, its store service and the overlay network the clients join.
CONTAINER_INFO_STACK="${CONTAINER_INFO_STACK:-container-info}"
CONTAINER_INFO_NETWORK="${CONTAINER_INFO_NETWORK:-container-info-net}"
# How port 5001 reaches the store: `ingress` (the swarm's routing mesh, as
# stack.yml says; it needs the kernel's IPVS), `host` (host networking, with
# docker_server/stack.host-network.yml over the stack), or `auto`: ingress
# where the kernel has IPVS, host where it has none (some CI machines,
# containers, small VMs, and the node containers of the docker provider).
CONTAINER_INFO_PUBLISH="${CONTAINER_INFO_PUBLISH:-auto}"
# An extra compose file deployed over docker_server/stack.yml; set, it wins
# over CONTAINER_INFO_PUBLISH. Empty: as CONTAINER_INFO_PUBLISH chooses.
CONTAINER_INFO_STACK_OVERRIDE="${CONTAINER_INFO_STACK_OVERRIDE:-}"
# Where the store keeps its data: `sqlite` (one file on the labelled node, its
# replicas all there) or `postgres` (PostgreSQL as a service of the stack, its
# data on the labelled node, a replica of the store on every node:
# docker_server/stack.postgres.yml).
CONTAINER_INFO_DATABASE="${CONTAINER_INFO_DATABASE:-sqlite}"
# PostgreSQL's image for the `postgres` variant: the official one, pulled by
# the node, or where nothing can be pulled (prebuilt), the one
# scripts/build-images makes from the host's own PostgreSQL.
if [ "$CONTAINER_INFO_BUILD" = prebuilt ]; then
    CONTAINER_INFO_POSTGRES_IMAGE="${CONTAINER_INFO_POSTGRES_IMAGE:-container-info-postgres:15}"
else
    CONTAINER_INFO_POSTGRES_IMAGE="${CONTAINER_INFO_POSTGRES_IMAGE:-postgres:15-bookworm}"
fi
# The agent's container, and the engine socket it reads.
CONTAINER_INFO_AGENT_CONTAINER="${CONTAINER_INFO_AGENT_CONTAINER:-container-info-agent}"
CONTAINER_INFO_DOCKER_SOCKET="${CONTAINER_INFO_DOCKER_SOCKET:-/var/run/docker.sock}"
# Fleet mode: every node's agent reports all its containers to the store
# (`on`, the default), or only answers /self (`off`). The agent runs on the
# node's own network, where the stack's overlay network and its names are out
# of reach; the server's address on port 5001 reaches the store from every
# node whichever way the port is published (the routing mesh answers on every
# node, host networking only on the server), and from the server node itself.
CONTAINER_INFO_REPORT="${CONTAINER_INFO_REPORT:-on}"
# Where the agents report: the store's URL, or several, comma-separated.
CONTAINER_INFO_REPORT_TO="${CONTAINER_INFO_REPORT_TO:-http://$CONTAINER_INFO_SERVER_IP:5001}"
# The named volume that holds the agent's outbox (what the store has not
# acknowledged yet), so that a replaced or restarted agent sends it still.
# It carries the deployment's label: scripts/one-host-down removes it with
# the store's data, unless --keep-data.
CONTAINER_INFO_AGENT_OUTBOX_VOLUME="${CONTAINER_INFO_AGENT_OUTBOX_VOLUME:-container-info-agent-outbox}"
# Where client.sh installs the `container-info` wrapper.
CONTAINER_INFO_WRAPPER="${CONTAINER_INFO_WRAPPER:-/usr/local/bin/container-info}"
# Where provision/server.sh keeps the store's token (store-token: what an
# operator sends to write without a signature, or to delete) and the key the
# agents sign with (signing-key), each made once, at random; the clients read
# the key there. Vagrant: the shared folder, so .vagrant/container-info/ on
# the host that ran `vagrant up`.
CONTAINER_INFO_SECRETS_DIR="${CONTAINER_INFO_SECRETS_DIR:-$CONTAINER_INFO_SHARED_DIR}"
# Where scripts/one-host-up keeps them instead (its shared folder is
# temporary), and scripts/one-host-down removes them.
ONE_HOST_SECRETS_DIR="${XDG_STATE_HOME:-$HOME/.local/state}/container-info"
# The agent's copy of the signing key on each client node, readable only by
# the group of the engine socket, which the agent runs in (whoever is in that
# group can run any container, so could read the key anyway).
if [ "$(id -u)" = 0 ]; then
    CONTAINER_INFO_AGENT_KEY="${CONTAINER_INFO_AGENT_KEY:-/var/lib/container-info/agent-signing-key}"
else
    CONTAINER_INFO_AGENT_KEY="${CONTAINER_INFO_AGENT_KEY:-${XDG_STATE_HOME:-$HOME/.local/state}/container-info/agent-signing-key}"
fi
# How long to wait for the swarm, the replicas and the agent, in seconds.
CONTAINER_INFO_WAIT="${CONTAINER_INFO_WAIT:-300}"

# The node label that marks where the store's volume lives (stack.yml's
# placement constraint), and the one that says these scripts initialised the
# swarm (so that scripts/one-host-down leaves it again, and only then).
STORE_LABEL="container-info.store"
SWARM_OWNER_LABEL="container-info.swarm-initialised-by"

STORE_SERVICE="${CONTAINER_INFO_STACK}_server"

# Everything a deployment creates on an engine carries this label (the agent,
# client containers, the stack's containers and volume, the network, the
# images), so that scripts/one-host-down and the tests find it all by the
# label rather than by lists of names.
MANAGED_LABEL="container-info.managed=true"

say() {
    printf '==> %s\n' "$*" >&2
}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Print the comment block at the top of the script $1 (its --help).
print_help() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$1"
}

# Show a command, then run it.
run() {
    printf '    $ %s\n' "$*" >&2
    "$@"
}

require_docker() {
    command -v docker >/dev/null || die "docker is not installed (run provision/common.sh first)"
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
        die "cannot reach the Docker Engine (is it running, and may $(id -un) use it?)"
}

swarm_state() {
    docker info --format '{{.Swarm.LocalNodeState}}'
}

# This node's ID in the swarm (`docker node update` does not take "self").
self_node_id() {
    docker info --format '{{.Swarm.NodeID}}'
}

is_swarm_manager() {
    [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = "true" ]
}

# This node's address on the network it shares with the manager: the source
# address the kernel picks to reach it (on the manager itself, that address).
node_ip() {
    if [ -n "${CONTAINER_INFO_NODE_IP:-}" ]; then
        printf '%s\n' "$CONTAINER_INFO_NODE_IP"
        return
    fi
    ip -4 route get "$CONTAINER_INFO_SERVER_IP" |
        sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -n 1
}

# The image's ID, without "sha256:" and cut to 12 characters.
short_image_id() {
    local id
    id="$(docker image inspect --format '{{.Id}}' "$1")"
    id="${id#sha256:}"
    printf '%s\n' "${id:0:12}"
}

# Wait until "$@" succeeds, at most CONTAINER_INFO_WAIT seconds.
wait_for() {
    local what="$1"
    shift
    local deadline=$((SECONDS + CONTAINER_INFO_WAIT))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            die "gave up after ${CONTAINER_INFO_WAIT}s waiting for $what"
        fi
        sleep 2
    done
}

# A random secret in $CONTAINER_INFO_SECRETS_DIR/$1, made once (32 random
# bytes, base64: 43 characters).
ensure_secret_file() {
    local file="$CONTAINER_INFO_SECRETS_DIR/$1"
    [ -s "$file" ] && return
    say "making a new $1 in $file"
    (
        umask 077
        mkdir -p "$CONTAINER_INFO_SECRETS_DIR"
        head -c 32 /dev/urandom | base64 | tr -d '\n=' >"$file.new"
        mv "$file.new" "$file"
    )
}

# Prints the name of the Swarm secret holding $CONTAINER_INFO_SECRETS_DIR/$1,
# creating it when missing. A secret cannot change, so it is named by its
# content's digest: a new file makes a new secret, and the stack rolls over
# to it.
swarm_secret() {
    local file="$CONTAINER_INFO_SECRETS_DIR/$1" name
    name="container-info-$1-$(sha256sum "$file" | cut -c 1-12)"
    if ! docker secret inspect "$name" >/dev/null 2>&1; then
        docker secret create --label "$MANAGED_LABEL" "$name" "$file" >/dev/null
    fi
    printf '%s\n' "$name"
}

# Deploy docker_server/stack.yml as $CONTAINER_INFO_STACK, with
# stack.postgres.yml over it for the PostgreSQL variant and the publishing
# override when there is one. Images are local to the node (no registry):
# never ask a registry to resolve them.
deploy_stack() {
    # The stack files name their external secrets by these.
    CONTAINER_INFO_TOKEN_SECRET="$(swarm_secret store-token)"
    CONTAINER_INFO_SIGNING_KEY_SECRET="$(swarm_secret signing-key)"
    export CONTAINER_INFO_TOKEN_SECRET CONTAINER_INFO_SIGNING_KEY_SECRET
    local base="$CONTAINER_INFO_SOURCE_DIR/docker_server/stack.yml"
    local override edits=() files=()
    override="$(stack_override)"
    case "$CONTAINER_INFO_DATABASE" in
        sqlite) ;;
        postgres)
            ensure_secret_file postgres-password
            CONTAINER_INFO_POSTGRES_PASSWORD_SECRET="$(swarm_secret postgres-password)"
            export CONTAINER_INFO_POSTGRES_PASSWORD_SECRET CONTAINER_INFO_POSTGRES_IMAGE
            say "the store on PostgreSQL ($CONTAINER_INFO_POSTGRES_IMAGE), a replica on every node"
            edits+=(drop_store_placement)
            files+=("$CONTAINER_INFO_SOURCE_DIR/docker_server/stack.postgres.yml")
            ;;
        *) die "CONTAINER_INFO_DATABASE must be sqlite or postgres, not $CONTAINER_INFO_DATABASE" ;;
    esac
    if [ -n "$override" ]; then
        # A compose override can add or change a published port, never remove
        # one; the override runs the store on the host's network, where a
        # published port is meaningless (and a host-mode one admits a single
        # task per node). So the stack file goes without its services'
        # `ports:`, and `docker stack deploy` merges the override over it (the
        # Docker CLI of Debian 12 and Ubuntu 24.04, 20.10, has no `docker
        # stack config`). PostgreSQL, on the host's network too, is at the
        # manager's address, where the labelled node is.
        say "deploying with the override $override, without published ports"
        edits+=(drop_service_ports)
        files+=("$override")
        export CONTAINER_INFO_POSTGRES_HOST="$CONTAINER_INFO_SERVER_IP"
    fi
    if [ ${#edits[@]} -eq 0 ]; then
        run docker stack deploy --resolve-image never --prune \
            -c "$base" "$CONTAINER_INFO_STACK"
        return
    fi
    local edited edit
    edited="$(mktemp --suffix=.yml)"
    cp "$base" "$edited"
    for edit in "${edits[@]}"; do
        "$edit" <"$edited" >"$edited.new" && mv "$edited.new" "$edited"
    done
    local args=(-c "$edited") file
    for file in "${files[@]}"; do
        args+=(-c "$file")
    done
    run docker stack deploy --resolve-image never --prune "${args[@]}" "$CONTAINER_INFO_STACK" ||
        { rm -f "$edited"; return 1; }
    rm -f "$edited"
}

# The compose file to deploy over stack.yml, if any (see CONTAINER_INFO_PUBLISH).
stack_override() {
    if [ -n "$CONTAINER_INFO_STACK_OVERRIDE" ]; then
        printf '%s\n' "$CONTAINER_INFO_STACK_OVERRIDE"
        return
    fi
    local host_network="$CONTAINER_INFO_SOURCE_DIR/docker_server/stack.host-network.yml"
    case "$CONTAINER_INFO_PUBLISH" in
        ingress) ;;
        host) printf '%s\n' "$host_network" ;;
        auto)
            if [ -e /proc/net/ip_vs ] || modprobe -q ip_vs 2>/dev/null; then
                say "this kernel has IPVS: port 5001 through the swarm's routing mesh"
            else
                say "this kernel has no IPVS, so the routing mesh cannot work here: the store gets host networking"
                printf '%s\n' "$host_network"
            fi
            ;;
        *) die "CONTAINER_INFO_PUBLISH must be auto, ingress or host, not $CONTAINER_INFO_PUBLISH" ;;
    esac
}

# Remove the store's `replicas:` and its `placement:` block from
# docker_server/stack.yml (deploy's keys at six spaces, what placement holds
# deeper), for the PostgreSQL variant's global mode.
drop_store_placement() {
    awk '
        /^      replicas: / { next }
        /^      placement:$/ { skipping = 1; next }
        skipping && /^        / { next }
        { skipping = 0; print }
    '
}

# Remove every `ports:` block of a service from docker_server/stack.yml
# (two-space indentation: services at 2, their keys at 4, what a key holds,
# comments included, deeper).
drop_service_ports() {
    awk '
        /^    ports:$/ { skipping = 1; next }
        skipping && /^      / { next }
        { skipping = 0; print }
    '
}

# "running/desired" for the store service, e.g. "3/3".
store_replicas() {
    docker service ls --filter "name=$STORE_SERVICE" --format '{{.Name}} {{.Replicas}}' |
        awk -v name="$STORE_SERVICE" '$1 == name { print $2 }'
}

store_is_up() {
    local replicas
    replicas="$(store_replicas)"
    [ -n "$replicas" ] && [ "${replicas%%/*}" = "${replicas##*/}" ] && [ "${replicas%%/*}" != 0 ]
}

# Write the `container-info` wrapper to $1 for a node whose address is $2: a
# short script running the client image in a throw-away container on the
# stack's network, told where the store and this node's agent are.
write_wrapper() {
    local path="$1" node_ip="$2"
    mkdir -p "$(dirname "$path")"
    cat >"$path.new" <<EOF
#!/bin/bash
# container-info: the container-info client, run in a throw-away container on
# the network of the container-info stack. Installed by provision/client.sh;
# a new provisioning rewrites it. Every setting can be overridden from the
# environment, e.g. CONTAINER_INFO_SERVER=http://10.0.0.5:5001 container-info get
set -eu
network="\${CONTAINER_INFO_NETWORK:-$CONTAINER_INFO_NETWORK}"
manager="\${CONTAINER_INFO_MANAGER:-$CONTAINER_INFO_SERVER_IP}"
# A terminal gets a terminal (the prompt); a pipe gets plain output.
tty=--tty=false
if [ -t 0 ] && [ -t 1 ]; then
    tty=--tty
fi
# Attaching a container to the swarm's overlay network needs the swarm's
# manager; cut off from it, the engine gives up only after 20 s. So when the
# manager's port does not answer at once, the client runs on this node's
# bridge network: its agent still answers (whoami), and a store out of reach
# is reported by the client itself, naming the store's URL.
if ! timeout 2 bash -c ": </dev/tcp/\$manager/2377" 2>/dev/null; then
    echo "container-info: the swarm's manager \$manager:2377 does not answer: running on this node's bridge network, not \$network" >&2
    network=bridge
fi
# Without NET_RAW a container cannot forge a neighbour's address on the
# bridge (ARP spoofing), the address the agent knows callers by; and nothing
# in it may gain privileges. Its root file system is read-only: the prompt's
# history, the one file it writes, goes to a small tmpfs home, which goes
# with the container. The engine gives that tmpfs the mode of the image's
# folder but root as its owner, so it is given the user the client runs as.
# Limits: many times what the client uses, one CPU.
exec docker run --rm --interactive "\$tty" \\
    --cap-drop NET_RAW --security-opt no-new-privileges \\
    --user 65532:65532 --read-only \\
    --tmpfs /home/container-info:size=1m,uid=65532,gid=65532 \\
    --memory 64m --cpus 1 \\
    --network "\$network" \\
    --label container-info.role=client --label $MANAGED_LABEL \\
    --env CONTAINER_INFO_SERVER="\${CONTAINER_INFO_SERVER:-http://$CONTAINER_INFO_SERVER_IP:5001}" \\
    --env CONTAINER_INFO_AGENT="\${CONTAINER_INFO_AGENT:-http://$node_ip:5002}" \\
    --env CONTAINER_INFO_SERVICE="\${CONTAINER_INFO_SERVICE:-$STORE_SERVICE}" \\
    "\${CONTAINER_INFO_IMAGE:-container-info-client:$CONTAINER_INFO_TAG}" "\$@"
EOF
    chmod 0755 "$path.new"
    mv "$path.new" "$path"
}
