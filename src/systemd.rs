//! Talking to systemd for `Type=notify` services: readiness once the store, its migrations, the
//! config and the scheduler are up; reloading and ready again around a config reload; stopping;
//! a status line; and watchdog pings, which the scheduler sends only while its heartbeat works,
//! so a wedged daemon is restarted by systemd. Outside systemd (no `NOTIFY_SOCKET`) every call
//! does nothing; a failed notification is logged, never fatal.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState]) {
    if let Err(err) = sd_notify::notify(states) {
        tracing::warn!(error = %err, "cannot notify systemd");
    }
}

pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Before a reload: systemd 253+ wants the monotonic time with it.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("shutting down")]);
}

/// The service's watchdog timeout (`WatchdogSec=`), when systemd set one for this process.
pub fn watchdog_timeout() -> Option<Duration> {
    sd_notify::watchdog_enabled()
}

pub fn watchdog_ping() {
    send(&[NotifyState::Watchdog]);
}
