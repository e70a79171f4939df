//! feedwatch: watches news feeds and posts webhook alerts when an article matches a topic.
//!
//! The crate is a pipeline of stages, one module each (see ARCHITECTURE in the README):
//! `config` → `scheduler` → `fetch` → `feeds` → `store` (new items, exactly once) → `extract`
//! → `topics` → `alerts` (outbox) → webhooks. The analysis cores (`text`, `extract`, `topics`)
//! are pure and synchronous; everything that touches the network, the clock or the database
//! lives in the shell modules (`fetch`, `store`, `pipeline`, `scheduler`, `alerts::outbox`, `cli`).

pub mod alerts;
pub mod analysis_pool;
pub mod article;
pub mod cli;
pub mod config;
pub mod dedupe;
pub mod entities;
pub mod extract;
pub mod feeds;
pub mod fetch;
pub mod metrics;
pub mod pipeline;
pub mod reload;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod systemd;
pub mod text;
pub mod topics;
pub mod websub;
