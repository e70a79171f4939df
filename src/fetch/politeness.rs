//! Politeness towards the hosts we poll: at most `per_host_concurrency` requests to one host at
//! once, and starts at least `per_host_spacing` apart. Keyed on the host actually contacted (a
//! feed's stored new location, not the URL in the config), and created on first use, so every
//! host anyone reaches is covered. When several instances share a store, the spacing is kept
//! across all of them: each start is also reserved in the store. Concurrency stays per
//! instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use chrono::Utc;

use crate::store::Store;

/// The gates of all hosts, shared by every feed task.
#[derive(Clone)]
pub struct HostGates {
    per_host: Arc<Mutex<HashMap<String, Arc<HostGate>>>>,
    concurrency: usize,
    spacing: Duration,
    /// The store other instances reserve their starts in, when they share it.
    shared: Option<Store>,
}

struct HostGate {
    slots: Arc<Semaphore>,
    next_start: Mutex<Instant>,
}

/// Held for the length of one request to a host. The request may start once
/// [`HostPermit::wait_turn`] returns: taken last, right before sending, so that a wait
/// elsewhere in between (for a global fetch slot) cannot bunch two starts together.
pub struct HostPermit {
    _slot: OwnedSemaphorePermit,
    gate: Arc<HostGate>,
    host: String,
    spacing: Duration,
    shared: Option<Store>,
}

impl HostGates {
    pub fn new(concurrency: usize, spacing: Duration) -> Self {
        Self {
            per_host: Arc::default(),
            concurrency: concurrency.max(1),
            spacing,
            shared: None,
        }
    }

    /// Keeps the spacing across every instance on `store` too (when given, and when there is
    /// a spacing to keep).
    pub fn shared_through(mut self, store: Option<Store>) -> Self {
        self.shared = store.filter(|_| !self.spacing.is_zero());
        self
    }

    /// Waits for a slot at `host`; the request then waits for its start with
    /// [`HostPermit::wait_turn`].
    pub async fn enter(&self, host: &str) -> HostPermit {
        let host = host.to_ascii_lowercase();
        let gate = {
            let mut hosts = self.per_host.lock().unwrap_or_else(|e| e.into_inner());
            hosts
                .entry(host.clone())
                .or_insert_with(|| {
                    Arc::new(HostGate {
                        slots: Arc::new(Semaphore::new(self.concurrency)),
                        next_start: Mutex::new(Instant::now()),
                    })
                })
                .clone()
        };
        // The semaphore is never closed, so acquiring cannot fail.
        let slot = gate
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("host semaphores are never closed");
        HostPermit {
            _slot: slot,
            gate,
            host,
            spacing: self.spacing,
            shared: self.shared.clone(),
        }
    }
}

impl HostPermit {
    /// Reserves this request's start, `spacing` after the one reserved before it (by any
    /// instance on a shared store), and waits for it.
    pub async fn wait_turn(&self) {
        if self.spacing.is_zero() {
            return;
        }
        let local = || {
            let mut next = self
                .gate
                .next_start
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let start = (*next).max(Instant::now());
            *next = start + self.spacing;
            start
        };
        let start = match &self.shared {
            // One reservation, in the store, orders the starts of every instance.
            Some(store) => match store
                .reserve_host_start(&self.host, Utc::now(), self.spacing)
                .await
            {
                Ok(at) => Instant::now() + (at - Utc::now()).to_std().unwrap_or_default(),
                Err(err) => {
                    // Politeness must not stop polling: this instance's own spacing holds.
                    tracing::warn!(host = %self.host, error = %err,
                        "cannot reserve a start at this host in the store");
                    local()
                }
            },
            None => local(),
        };
        tokio::time::sleep_until(start).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn starts_at_one_host_are_spaced_and_other_hosts_are_not_held_up() {
        let gates = HostGates::new(4, Duration::from_millis(300));
        let t0 = Instant::now();
        gates.enter("news.example").await.wait_turn().await;
        gates.enter("NEWS.example").await.wait_turn().await;
        assert!(t0.elapsed() >= Duration::from_millis(300));
        let before_other = Instant::now();
        gates.enter("other.example").await.wait_turn().await;
        assert!(before_other.elapsed() < Duration::from_millis(300));
    }

    #[tokio::test]
    async fn concurrency_per_host_is_capped() {
        let gates = HostGates::new(1, Duration::ZERO);
        let first = gates.enter("h").await;
        let waiting = tokio::time::timeout(Duration::from_millis(200), gates.enter("h")).await;
        assert!(waiting.is_err(), "a second request waited for the first");
        drop(first);
        let _second = gates.enter("h").await;
    }
}
