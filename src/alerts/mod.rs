//! Alerts: the payload receivers get (`payload`), its Standard Webhooks signature (`signing`)
//! and the worker that drains the durable outbox (`outbox`). Alerts are created by the
//! pipeline inside the store transaction that records their item; this module only sends.

pub mod formats;
pub mod outbox;
pub mod payload;
pub mod signing;
