//! The one `bindgen!` of the host: Rust types and traits for `wit/backup.wit`.
//!
//! Imports are trappable and fail with [`HostError`](crate::error::HostError):
//! host functions use `?`, an [`Error`](crate::Error) reaches the guest as the
//! WIT `error` value (every denial: policy, limits, transport failures), and
//! only a host bug (a handle the table does not hold) traps.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "client",
    imports: { default: trappable },
    trappable_error_type: {
        "dsrestore:backup/types.error" => crate::error::HostError,
    },
    with: {
        "dsrestore:backup/binding-transport.binding": crate::binding::Binding,
    },
});
