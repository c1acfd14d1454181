#!/bin/sh
# Turns a bare Debian root file system into a container-info node: what the
# Vagrant VMs are, as a container (see docker_node/Dockerfile): systemd as PID 1,
# Docker Engine from Debian's packages, sshd, and a `vagrant` user with sudo and
# Vagrant's insecure public key, so that the Vagrant docker provider and the
# multi-node tests can use it as they use a VM.
#
# Run as root inside the root file system, by the Dockerfile (RUN) or by
# scripts/node-image in a chroot of a debootstrap tree, so both ways give the
# same file system. Expects /tmp/node/ to hold this folder's files.
set -eu

export DEBIAN_FRONTEND=noninteractive

# No service may start while packages install (a chroot has no init, and a
# build has no engine to start).
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d

apt-get update -q
# systemd and dbus: PID 1 and what systemctl talks to. docker.io: the engine
# and CLI the provisioning would install (provision/common.sh then finds it).
# openssh-server and sudo: how Vagrant and the tests log in. iproute2,
# iptables, curl, procps: what provision/*.sh and the tests call in a node.
apt-get install -y -q --no-install-recommends \
    systemd systemd-sysv dbus \
    docker.io containerd runc \
    openssh-server sudo \
    ca-certificates curl iproute2 iptables procps kmod less
apt-get clean
rm -rf /var/lib/apt/lists/*
rm -f /usr/sbin/policy-rc.d

# The vagrant user, as on a Vagrant box: password `vagrant`, sudo without one,
# Vagrant's well-known insecure key (Vagrant replaces it with a key of its own
# at the first `vagrant up`), and the docker group.
if ! id vagrant >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash --groups docker vagrant
fi
echo 'vagrant:vagrant' | chpasswd
printf 'vagrant ALL=(ALL) NOPASSWD: ALL\nDefaults:vagrant !requiretty\n' >/etc/sudoers.d/vagrant
chmod 0440 /etc/sudoers.d/vagrant
install -d -m 0700 -o vagrant -g vagrant /home/vagrant/.ssh
install -m 0600 -o vagrant -g vagrant /tmp/node/vagrant.pub /home/vagrant/.ssh/authorized_keys

# sshd: no DNS look-ups of clients (nothing resolves them here), and host keys
# made at each node's first boot, not baked into the image that every node
# shares.
printf 'UseDNS no\n' >/etc/ssh/sshd_config.d/container-info-node.conf
rm -f /etc/ssh/ssh_host_*
cat >/etc/systemd/system/ssh-host-keys.service <<'EOF'
[Unit]
Description=Make this node's SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
EOF

# The cgroup set-up that runs before systemd (see node-init).
install -m 0755 /tmp/node/node-init /usr/local/sbin/node-init

# Units that have nothing to do in a container, and would fail or wait there.
systemctl mask \
    getty.target console-getty.service systemd-udevd.service systemd-udev-trigger.service \
    systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount \
    sys-kernel-tracing.mount systemd-remount-fs.service systemd-firstboot.service \
    apt-daily.timer apt-daily-upgrade.timer
systemctl enable ssh-host-keys.service ssh.service docker.service containerd.service
systemctl set-default multi-user.target

# Each node gets its own machine ID at its first boot.
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id
