//! The `dsrestore` command and the agent, run as processes as a person or a
//! script would, in one test binary.

mod support;

mod agent;
mod bacula;
mod cli;
mod completions_and_man;
mod crash;
mod encrypted;
mod encrypted_sets;
mod lifetime;
mod links;
mod metrics;
mod races;
mod streams;
mod trust;
