//! Politeness towards the hosts we poll: at most `per_host_concurrency` requests to one host at
//! once, and starts at least `per_host_spacing` apart. Keyed on the host actually contacted (a
//! feed's stored new location, not the URL in the config), and created on first use, so every
//! host anyone reaches is covered. Owns no I/O beyond waiting.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The gates of all hosts, shared by every feed task.
#[derive(Clone)]
pub struct HostGates {
    per_host: Arc<Mutex<HashMap<String, Arc<HostGate>>>>,
    concurrency: usize,
    spacing: Duration,
}

struct HostGate {
    slots: Arc<Semaphore>,
    next_start: Mutex<Instant>,
}

/// Held for the length of one request to a host.
pub struct HostPermit {
    _slot: OwnedSemaphorePermit,
}

impl HostGates {
    pub fn new(concurrency: usize, spacing: Duration) -> Self {
        Self {
            per_host: Arc::default(),
            concurrency: concurrency.max(1),
            spacing,
        }
    }

    /// Waits for a slot at `host` and for its next start time.
    pub async fn enter(&self, host: &str) -> HostPermit {
        let gate = {
            let mut hosts = self.per_host.lock().unwrap_or_else(|e| e.into_inner());
            hosts
                .entry(host.to_ascii_lowercase())
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
        let start = {
            let mut next = gate.next_start.lock().unwrap_or_else(|e| e.into_inner());
            let start = (*next).max(Instant::now());
            *next = start + self.spacing;
            start
        };
        tokio::time::sleep_until(start).await;
        HostPermit { _slot: slot }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn starts_at_one_host_are_spaced_and_other_hosts_are_not_held_up() {
        let gates = HostGates::new(4, Duration::from_millis(300));
        let t0 = Instant::now();
        let _a = gates.enter("news.example").await;
        let _b = gates.enter("NEWS.example").await;
        assert!(t0.elapsed() >= Duration::from_millis(300));
        let before_other = Instant::now();
        let _c = gates.enter("other.example").await;
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
