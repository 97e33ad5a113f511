//! The one `bindgen!` of the host: Rust types and traits for `wit/backup.wit`.
//!
//! Imports are trappable: a host function's `Err` is a trap, reserved for host
//! bugs (a handle the table does not hold). Every denial a guest should see —
//! policy, limits, transport failures — is a WIT `error` value instead.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "client",
    imports: { default: trappable },
    with: {
        "dsrestore:backup/binding-transport.binding": crate::binding::Binding,
    },
});
