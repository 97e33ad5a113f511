//! The shipped guest component against its contract: it exports
//! `restore-client` with the functions of `wit/backup.wit`, and imports nothing
//! but `binding-transport` and the WASI interfaces std needs for stdio.

use dsrestore_host::guests::RESTORE_GUEST;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

fn component() -> (Engine, Component) {
    let mut config = Config::new();
    config.wasm_component_model(true);
    let engine = Engine::new(&config).unwrap();
    let component = Component::new(&engine, RESTORE_GUEST).unwrap();
    (engine, component)
}

#[test]
fn the_guest_imports_only_binding_transport_and_stdio_wasi() {
    let (engine, component) = component();
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(&engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let allowed = |name: &str| {
        name.starts_with("dsrestore:backup/binding-transport@")
            || name.starts_with("dsrestore:backup/types@")
            || name.starts_with("wasi:io/")
            || [
                "environment",
                "exit",
                "stdin",
                "stdout",
                "stderr",
                "terminal-",
            ]
            .iter()
            .any(|i| name.starts_with(&format!("wasi:cli/{i}")))
    };
    let refused: Vec<&String> = imports.iter().filter(|n| !allowed(n)).collect();
    assert!(
        refused.is_empty(),
        "unexpected imports {refused:?} in {imports:?}"
    );
    assert!(
        imports
            .iter()
            .any(|n| n == "dsrestore:backup/binding-transport@0.1.0"),
        "{imports:?}"
    );
    assert!(!imports
        .iter()
        .any(|n| n.starts_with("wasi:sockets") || n.starts_with("wasi:filesystem")));
}

/// The functions (with their parameter names) of the exported instance `name`,
/// and whether it exports the resource `resource`.
fn exported_functions(name: &str, resource: &str) -> (Vec<(String, Vec<String>)>, bool) {
    let (engine, component) = component();
    let ty = component.component_type();
    let exports: Vec<(String, ComponentItem)> = ty
        .exports(&engine)
        .map(|(n, i)| (n.to_string(), i.ty))
        .collect();
    let names: Vec<&String> = exports.iter().map(|e| &e.0).collect();
    assert_eq!(
        names,
        [
            "dsrestore:backup/restore-client@0.1.0",
            "dsrestore:backup/backup-client@0.1.0"
        ]
    );
    let Some((_, ComponentItem::ComponentInstance(instance))) =
        exports.iter().find(|e| e.0 == name)
    else {
        panic!("{name} is not an exported instance")
    };
    let mut functions: Vec<(String, Vec<String>)> = instance
        .exports(&engine)
        .filter_map(|(n, item)| match item.ty {
            ComponentItem::ComponentFunc(f) => Some((
                n.to_string(),
                f.params().map(|(p, _)| p.to_string()).collect(),
            )),
            _ => None,
        })
        .collect();
    functions.sort();
    let has_resource = instance
        .exports(&engine)
        .any(|(n, i)| n == resource && matches!(i.ty, ComponentItem::Resource(_)));
    (functions, has_resource)
}

fn expected(list: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    list.iter()
        .map(|(n, p)| (n.to_string(), p.iter().map(|s| s.to_string()).collect()))
        .collect()
}

#[test]
fn the_guest_exports_restore_client_with_every_contract_function() {
    // The contract, plus the upload extension (put-file .. place-files).
    let (functions, has_context) =
        exported_functions("dsrestore:backup/restore-client@0.1.0", "restore-context");
    assert!(has_context);
    assert_eq!(
        functions,
        expected(&[
            ("[method]restore-context.database-locations", &["self"]),
            ("[method]restore-context.place-files", &["self"]),
            ("[method]restore-context.put-data", &["self", "data"]),
            (
                "[method]restore-context.put-file",
                &["self", "kind", "name", "size"]
            ),
            ("[method]restore-context.put-file-end", &["self", "sha256"]),
            (
                "[method]restore-context.register",
                &["self", "registration"]
            ),
            (
                "[method]restore-context.register-complete",
                &["self", "restore-state"]
            ),
            ("end", &["hbc"]),
            ("is-ntds-online", &["server"]),
            ("prepare", &["server", "restore-type", "expiry-token"]),
            ("set-auth-identity", &["identity"]),
            ("set-current-backup-log", &["server", "log-number"]),
        ])
    );
}

#[test]
fn the_guest_exports_backup_client_with_every_contract_function() {
    let (functions, has_context) =
        exported_functions("dsrestore:backup/backup-client@0.1.0", "backup-context");
    assert!(has_context);
    assert_eq!(
        functions,
        expected(&[
            ("[method]backup-context.close-file", &["self"]),
            ("[method]backup-context.get-backup-logs", &["self"]),
            ("[method]backup-context.get-database-names", &["self"]),
            (
                "[method]backup-context.open-file",
                &["self", "name", "read-hint-size"]
            ),
            ("[method]backup-context.read", &["self", "max-bytes"]),
            ("[method]backup-context.truncate-logs", &["self"]),
            ("end", &["hbc"]),
            ("prepare", &["server", "grbit", "backup-type"]),
        ])
    );
}
