//! The daemon's HTTP server on `[daemon] listen`: `/healthz` (the process answers), `/readyz`
//! (the store answers, its migrations ran, a valid config is loaded, the scheduler's heartbeat
//! is recent) and `/metrics` (Prometheus text). With `metrics_token` set, those but
//! `/healthz` want `Authorization: Bearer <token>`, compared in constant time. They only report:
//! nothing there changes the daemon's state. `/websub/{id}` is the WebSub callback, for hubs
//! (which have no token: a callback id is unguessable and pushes are signed); what it accepts
//! is `websub`'s to decide.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::{DefaultBodyLimit, Path, Query};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::pipeline::Pipeline;
use crate::store::Store;
use crate::websub::{PushOutcome, Verification, VerifyAnswer};

/// When the scheduler last showed it was alive (unix milliseconds; 0 before its first beat).
#[derive(Clone, Default)]
pub struct Liveness(Arc<AtomicI64>);

impl Liveness {
    pub fn beat(&self) {
        self.0
            .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    /// How long ago the last beat was, if there was one.
    fn since_last(&self) -> Option<Duration> {
        let last = self.0.load(Ordering::Relaxed);
        (last > 0)
            .then(|| Duration::from_millis((Utc::now().timestamp_millis() - last).max(0) as u64))
    }
}

/// What the endpoints read.
#[derive(Clone)]
pub struct ServerState {
    pub store: Store,
    pub metrics: PrometheusHandle,
    pub configs: watch::Receiver<Arc<Config>>,
    pub liveness: Liveness,
    /// The scheduler counts as wedged after this long without a heartbeat.
    pub stale_after: Duration,
    /// The current pipeline, which takes WebSub pushes.
    pub pipelines: watch::Receiver<Pipeline>,
}

/// Binds `listen` up front, so a taken port is an error at start, before readiness is told.
pub async fn bind(listen: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(listen).await
}

/// Serves until `shutdown`.
pub async fn serve(listener: TcpListener, state: ServerState, shutdown: CancellationToken) {
    // A pushed feed is held to the same size cap as a fetched one.
    let body_limit =
        usize::try_from(state.configs.borrow().daemon.max_body_bytes).unwrap_or(usize::MAX);
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/websub/{id}",
            get(websub_verify)
                .post(websub_push)
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .with_state(state);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(err) = served {
        tracing::error!(error = %err, "the HTTP server stopped");
    }
}

/// Whether the request carries the configured token (always true without one).
fn authorised(state: &ServerState, headers: &HeaderMap) -> bool {
    let config = state.configs.borrow().clone();
    let Some(token) = &config.daemon.metrics_token else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Comparing digests takes the same time wherever the two strings differ.
    let digest = |text: &str| Sha256::digest(text.as_bytes());
    digest(given) == digest(token.expose_secret())
}

fn unauthorised() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "metrics_token required\n",
    )
        .into_response()
}

async fn readyz(State(state): State<ServerState>, headers: HeaderMap) -> Response {
    if !authorised(&state, &headers) {
        return unauthorised();
    }
    let store = match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => "ok".to_string(),
        Ok(Err(err)) => format!("unreachable: {err}"),
        Err(_) => "no answer within 2 s".to_string(),
    };
    let scheduler = match state.liveness.since_last() {
        Some(ago) if ago <= state.stale_after => "ok".to_string(),
        Some(ago) => format!("no heartbeat for {} s", ago.as_secs()),
        None => "not started".to_string(),
    };
    // Migrations run when the store opens and the config is validated before it is used, so
    // a running server has both.
    let checks = serde_json::json!({
        "store": store,
        "migrations": "ok",
        "config": "ok",
        "scheduler": scheduler,
    });
    let ready = store == "ok" && scheduler == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({"ready": ready, "checks": checks});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn metrics(State(state): State<ServerState>, headers: HeaderMap) -> Response {
    if !authorised(&state, &headers) {
        return unauthorised();
    }
    let config = state.configs.borrow().clone();
    let mut sinks: Vec<String> = config.webhooks.iter().map(|w| w.name.clone()).collect();
    sinks.push(crate::store::Sink::Stdout.stored().to_string());
    let text = crate::metrics::render(&state.metrics, &state.store, &sinks).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// The hub's verification of intent (or denial) for the subscription at callback `id`.
async fn websub_verify(
    State(state): State<ServerState>,
    Path(id): Path<String>,
    Query(query): Query<Verification>,
) -> Response {
    let websub = state.pipelines.borrow().websub().clone();
    match websub.verify(&id, &query).await {
        Ok(VerifyAnswer::Confirm(challenge)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            challenge,
        )
            .into_response(),
        Ok(VerifyAnswer::Noted) => StatusCode::OK.into_response(),
        Ok(VerifyAnswer::Unknown) => StatusCode::NOT_FOUND.into_response(),
        Err(err) => {
            tracing::error!(error = %err, "cannot read or record a WebSub verification");
            // A 5xx makes the hub try the verification again later.
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// A content distribution from the hub at callback `id`.
async fn websub_push(
    State(state): State<ServerState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pipeline = state.pipelines.borrow().clone();
    let websub = pipeline.websub().clone();
    let signature = headers.get("x-hub-signature").and_then(|v| v.to_str().ok());
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match websub
        .distribute(pipeline, &id, signature, content_type, body)
        .await
    {
        // Every authenticated or not push hears 2xx (WebSub §8): a hub must not learn
        // from the answer whether its signature was right.
        Ok(PushOutcome::Accepted | PushOutcome::BadSignature | PushOutcome::Ignored) => {
            StatusCode::ACCEPTED.into_response()
        }
        Ok(PushOutcome::Unknown) => StatusCode::NOT_FOUND.into_response(),
        Err(err) => {
            tracing::error!(error = %err, "cannot read the WebSub subscription of a push");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
