#!/usr/bin/env bash
# Every node: Docker Engine (with Swarm mode, which the engine always has),
# running and enabled at boot, usable by the login user without sudo.
# Idempotent: on a host that already has a working engine it installs nothing.
#
# Environment (besides provision/lib.sh):
#   CONTAINER_INFO_DOCKER_FROM  distro (default): Debian/Ubuntu's docker.io;
#                               docker: Docker's own apt repository (docker-ce)
#   CONTAINER_INFO_DOCKER_USER  user to add to the docker group (default:
#                               vagrant, when that user exists)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DOCKER_FROM="${CONTAINER_INFO_DOCKER_FROM:-distro}"
DOCKER_USER="${CONTAINER_INFO_DOCKER_USER:-vagrant}"

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    run apt-get update -q
    run apt-get install -y -q --no-install-recommends "$@"
}

install_from_distro() {
    # docker.io is the engine and CLI; docker-buildx (where the release has
    # it) gives BuildKit. The Dockerfiles build with either builder.
    local packages=(docker.io ca-certificates curl)
    if apt-cache show docker-buildx >/dev/null 2>&1; then
        packages+=(docker-buildx)
    fi
    apt_install "${packages[@]}"
}

install_from_docker() {
    apt_install ca-certificates curl
    local id codename arch
    # shellcheck source=/dev/null
    id="$(. /etc/os-release && printf '%s' "$ID")"
    # shellcheck source=/dev/null
    codename="$(. /etc/os-release && printf '%s' "$VERSION_CODENAME")"
    arch="$(dpkg --print-architecture)"
    run install -m 0755 -d /etc/apt/keyrings
    if [ ! -s /etc/apt/keyrings/docker.asc ]; then
        run curl -fsSL "https://download.docker.com/linux/$id/gpg" -o /etc/apt/keyrings/docker.asc
        run chmod a+r /etc/apt/keyrings/docker.asc
    fi
    say "writing /etc/apt/sources.list.d/docker.list"
    printf 'deb [arch=%s signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/%s %s stable\n' \
        "$arch" "$id" "$codename" >/etc/apt/sources.list.d/docker.list
    apt_install docker-ce docker-ce-cli containerd.io docker-buildx-plugin
}

if command -v docker >/dev/null && docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    say "Docker Engine $(docker version --format '{{.Server.Version}}') is installed and running: nothing to install"
else
    [ "$(id -u)" = 0 ] || die "installing Docker Engine needs root"
    command -v apt-get >/dev/null || die "no apt-get: install Docker Engine by hand (Debian/Ubuntu only here)"
    case "$DOCKER_FROM" in
        distro)
            say "installing Docker Engine from the distribution (docker.io)"
            install_from_distro
            ;;
        docker)
            say "installing Docker Engine from Docker's apt repository (docker-ce)"
            install_from_docker
            ;;
        *) die "CONTAINER_INFO_DOCKER_FROM must be distro or docker, not $DOCKER_FROM" ;;
    esac
    say "starting Docker Engine, and at every boot"
    run systemctl enable --now docker
    wait_for "the Docker Engine to answer" docker version
fi

# curl: provision/*.sh check the store and the agent with it.
if ! command -v curl >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    say "installing curl"
    apt_install curl ca-certificates
fi

if id "$DOCKER_USER" >/dev/null 2>&1 && getent group docker >/dev/null; then
    if id -nG "$DOCKER_USER" | tr ' ' '\n' | grep -qx docker; then
        say "$DOCKER_USER is already in the docker group"
    else
        say "letting $DOCKER_USER use Docker without sudo (from the next login)"
        run usermod -aG docker "$DOCKER_USER"
    fi
fi

say "Docker Engine $(docker version --format '{{.Server.Version}}'), swarm: $(swarm_state)"
