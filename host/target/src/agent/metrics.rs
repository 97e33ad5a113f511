//! What an agent saw, as Prometheus metrics: connections, authentications by
//! outcome, lockouts, bytes in frames each way, and reloads; with the
//! target's own ([`TargetMetrics`](crate::metrics::TargetMetrics): requests,
//! sessions, restores and backups by outcome, bindings leaked), encoded in
//! the OpenMetrics text format by [`AgentMetrics::encode`] and served over
//! HTTP by [`serve_metrics`].

use std::future::Future;
use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::Shared;

/// A connection accepted, or refused at a cap.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub(super) enum Admission {
    accepted,
    refused,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AdmissionLabels {
    outcome: Admission,
}

/// How an authentication ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub(super) enum Authentication {
    ok,
    /// An unknown user or a wrong password.
    denied,
    /// Refused because the name or the address is locked out.
    locked_out,
    /// No authentication (or no TLS handshake) before the deadline.
    timeout,
    /// A first frame over its cap or not an authentication.
    malformed,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AuthenticationLabels {
    outcome: Authentication,
}

/// What a reload replaced.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub(super) enum Reloaded {
    users,
    certificate,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    what: Reloaded,
    outcome: crate::metrics::Outcome,
}

/// The agent's counters.
#[derive(Debug, Default)]
pub(super) struct Counters {
    connections: Family<AdmissionLabels, Counter>,
    pub(super) connections_open: Gauge,
    authentications: Family<AuthenticationLabels, Counter>,
    pub(super) bytes_received: Counter,
    pub(super) bytes_sent: Counter,
    reloads: Family<ReloadLabels, Counter>,
}

impl Counters {
    pub(super) fn connection(&self, outcome: Admission) {
        self.connections
            .get_or_create(&AdmissionLabels { outcome })
            .inc();
    }

    pub(super) fn authentication(&self, outcome: Authentication) {
        self.authentications
            .get_or_create(&AuthenticationLabels { outcome })
            .inc();
    }

    pub(super) fn reload(&self, what: Reloaded, ok: bool) {
        let outcome = if ok {
            crate::metrics::Outcome::ok
        } else {
            crate::metrics::Outcome::error
        };
        self.reloads
            .get_or_create(&ReloadLabels { what, outcome })
            .inc();
    }

    fn register(&self, registry: &mut Registry) {
        registry.register(
            "dsrestore_agent_connections",
            "Connections accepted, or refused at the connection caps",
            self.connections.clone(),
        );
        registry.register(
            "dsrestore_agent_connections_open",
            "Connections open now",
            self.connections_open.clone(),
        );
        registry.register(
            "dsrestore_agent_authentications",
            "Authentications by outcome",
            self.authentications.clone(),
        );
        registry.register(
            "dsrestore_agent_received_bytes",
            "Bytes of frames received (inside TLS)",
            self.bytes_received.clone(),
        );
        registry.register(
            "dsrestore_agent_sent_bytes",
            "Bytes of frames sent (inside TLS)",
            self.bytes_sent.clone(),
        );
        registry.register(
            "dsrestore_agent_reloads",
            "Reloads of the users file and the certificate, by outcome",
            self.reloads.clone(),
        );
    }
}

/// A serving agent's metrics ([`Agent::metrics`](super::Agent::metrics));
/// cheap to clone.
#[derive(Clone)]
pub struct AgentMetrics {
    registry: Arc<Registry>,
}

impl AgentMetrics {
    pub(super) fn new(shared: &Shared) -> AgentMetrics {
        let mut registry = Registry::default();
        shared.counters.register(&mut registry);
        registry.register(
            "dsrestore_agent_lockouts",
            "Lockouts begun (a name or an address after too many failures)",
            shared.throttle.lockouts(),
        );
        shared.target.metrics().register(&mut registry);
        AgentMetrics {
            registry: Arc::new(registry),
        }
    }

    /// Every counter, in the OpenMetrics text format Prometheus scrapes.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String does not fail");
        text
    }
}

/// How many connections [`serve_metrics`] serves at once. One more is closed
/// as soon as it is accepted, so that a peer opening connections and sending
/// nothing holds at most this many of the agent's descriptors, each for at
/// most 10 s (the protocol port has caps of its own). A scraper needs one.
pub const MAX_METRICS_CONNECTIONS: usize = 8;

/// Serves `metrics` over HTTP on `listener` (`GET /metrics`; anything else
/// is 404) until `shutdown` completes. Each connection is read for at most
/// 10 s, and at most [`MAX_METRICS_CONNECTIONS`] are open at once; the
/// endpoint serves counters only, no target data and no names.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    metrics: AgentMetrics,
    shutdown: impl Future<Output = ()>,
) {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper::{Method, Request, Response, StatusCode};

    tokio::pin!(shutdown);
    let open = Arc::new(tokio::sync::Semaphore::new(MAX_METRICS_CONNECTIONS));
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("metrics: accepting a connection failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(place) = Arc::clone(&open).try_acquire_owned() else {
            tracing::debug!(%peer, "metrics: {MAX_METRICS_CONNECTIONS} connections open; closed");
            drop(stream);
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let _place = place;
            let service =
                hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    let metrics = metrics.clone();
                    async move {
                        let response = if request.method() == Method::GET
                            && request.uri().path() == "/metrics"
                        {
                            Response::builder()
                                .header(
                                    "content-type",
                                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                                )
                                .body(Full::new(Bytes::from(metrics.encode())))
                        } else {
                            Response::builder()
                                .status(StatusCode::NOT_FOUND)
                                .body(Full::new(Bytes::from_static(b"dsrestore: GET /metrics\n")))
                        };
                        Ok::<_, hyper::http::Error>(response.expect("a valid response"))
                    }
                });
            let io = hyper_util::rt::TokioIo::new(stream);
            let served = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                hyper::server::conn::http1::Builder::new()
                    .keep_alive(false)
                    .serve_connection(io, service),
            )
            .await;
            if let Ok(Err(e)) = served {
                tracing::info!(%peer, "metrics: {e}");
            }
        });
    }
}
