//! The deployment, for real, on this machine's Docker Engine: one host
//! provisioned by the scripts themselves (`one_host`), and several hosts made
//! by `vagrant up --provider docker` as the README tells users (`many_hosts`).
//! Both drive the system from outside, through the provisioning scripts, the
//! docker CLI, curl, vagrant and the installed wrapper; no crate of the
//! workspace is imported. They run one at a time (.config/nextest.toml): both
//! use port 5001 of this host.

mod helpers;
mod many_hosts;
mod one_host;
