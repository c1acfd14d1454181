//! The deployment, for real, on this machine's Docker Engine: one host
//! provisioned by the scripts themselves (`one_host`), and several hosts made
//! by `vagrant up --provider docker` as the README tells users (`many_hosts`,
//! and `many_hosts_postgres` for the store on PostgreSQL).
//! All drive the system from outside, through the provisioning scripts, the
//! docker CLI, curl, vagrant and the installed wrapper; no crate of the
//! workspace is imported. They run one at a time (.config/nextest.toml): all
//! use port 5001 of this host.

mod helpers;
mod many_hosts;
mod many_hosts_postgres;
mod one_host;
