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

#[test]
fn the_guest_exports_restore_client_with_every_contract_function() {
    let (engine, component) = component();
    let ty = component.component_type();
    let exports: Vec<(String, ComponentItem)> = ty
        .exports(&engine)
        .map(|(n, i)| (n.to_string(), i.ty))
        .collect();
    assert_eq!(
        exports.len(),
        1,
        "{:?}",
        exports.iter().map(|e| &e.0).collect::<Vec<_>>()
    );
    let (name, item) = &exports[0];
    assert_eq!(name, "dsrestore:backup/restore-client@0.1.0");
    let ComponentItem::ComponentInstance(instance) = item else {
        panic!("{name} is not an instance")
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
    let expected: Vec<(String, Vec<String>)> = [
        ("[method]restore-context.database-locations", vec!["self"]),
        (
            "[method]restore-context.register",
            vec!["self", "registration"],
        ),
        (
            "[method]restore-context.register-complete",
            vec!["self", "restore-state"],
        ),
        ("end", vec!["hbc"]),
        ("is-ntds-online", vec!["server"]),
        ("prepare", vec!["server", "restore-type", "expiry-token"]),
        ("set-auth-identity", vec!["identity"]),
        ("set-current-backup-log", vec!["server", "log-number"]),
    ]
    .into_iter()
    .map(|(n, p)| (n.to_string(), p.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(functions, expected);
    assert!(instance
        .exports(&engine)
        .any(|(n, i)| n == "restore-context" && matches!(i.ty, ComponentItem::Resource(_))));
}
