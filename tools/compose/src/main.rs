//! `cargo run -p dsrestore-compose -- <release-dir> <out.wasm>`: plugs the TCP
//! transport into the guest's `binding-transport` import and the guest's
//! `restore-client` and `backup-client` exports into the command, and exports
//! the command's `wasi:cli/run`; the transport also exports the shared
//! `dsrestore:backup/types`. The result imports only WASI, so the stock
//! `wasmtime` CLI runs it.

use std::path::PathBuf;

use anyhow::{Context, Result};
use wac_graph::{types::Package, CompositionGraph, EncodeOptions};

const TYPES: &str = "dsrestore:backup/types@0.1.0";
const BINDING_TRANSPORT: &str = "dsrestore:backup/binding-transport@0.1.0";
const RESTORE_CLIENT: &str = "dsrestore:backup/restore-client@0.1.0";
const BACKUP_CLIENT: &str = "dsrestore:backup/backup-client@0.1.0";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .context("usage: dsrestore-compose <release-dir> <out.wasm>")?,
    );
    let out = PathBuf::from(
        args.next()
            .context("usage: dsrestore-compose <release-dir> <out.wasm>")?,
    );

    let mut graph = CompositionGraph::new();
    let mut register = |name: &str, file: &str| -> Result<_> {
        let path = dir.join(file);
        let package = Package::from_file(name, None, &path, graph.types_mut())
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(graph.register_package(package)?)
    };
    let transport = register("dsrestore:tcp-transport", "dsrestore_transport_tcp.wasm")?;
    let guest = register("dsrestore:guest", "dsrestore.wasm")?;
    let command = register("dsrestore:command", "dsrestore-command.wasm")?;

    let transport = graph.instantiate(transport);
    let types = graph.alias_instance_export(transport, TYPES)?;
    let binding_transport = graph.alias_instance_export(transport, BINDING_TRANSPORT)?;
    let guest = graph.instantiate(guest);
    graph.set_instantiation_argument(guest, TYPES, types)?;
    graph.set_instantiation_argument(guest, BINDING_TRANSPORT, binding_transport)?;
    let restore_client = graph.alias_instance_export(guest, RESTORE_CLIENT)?;
    let backup_client = graph.alias_instance_export(guest, BACKUP_CLIENT)?;
    let command = graph.instantiate(command);
    graph.set_instantiation_argument(command, TYPES, types)?;
    graph.set_instantiation_argument(command, RESTORE_CLIENT, restore_client)?;
    graph.set_instantiation_argument(command, BACKUP_CLIENT, backup_client)?;
    let run = graph.alias_instance_export(command, "wasi:cli/run@0.2.0")?;
    graph.export(run, "wasi:cli/run@0.2.0")?;

    let bytes = graph.encode(EncodeOptions::default())?;
    std::fs::write(&out, bytes).with_context(|| format!("writing {}", out.display()))?;
    println!("composed {}", out.display());
    Ok(())
}
