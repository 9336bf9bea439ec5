//! Incremental sync against the sandbox.
