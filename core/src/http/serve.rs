//! `tuneloop serve`: the router on a socket, with graceful shutdown and, optionally, the
//! weekly schedule in the same process.

use super::{router, HttpSettings};
use crate::service::{CancellationToken, ScheduleEvent, ScheduleOptions};
use crate::{Error, Result, Tuneloop};
use std::future::Future;
use std::net::SocketAddr;

/// Where and what [`serve`] runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to listen on; port 0 picks a free port ([`Server::local_addr`]).
    pub listen: SocketAddr,
    /// Also run the weekly job on its schedule (one holder across instances, as always).
    pub schedule: Option<ScheduleOptions>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            schedule: None,
        }
    }
}

/// A bound server, not yet serving.
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    tl: Tuneloop,
    settings: HttpSettings,
    schedule: Option<ScheduleOptions>,
}

/// Binds `options.listen`. Refuses an address other than loopback without an admin token;
/// on loopback without one, admin endpoints are open (a warning is logged).
pub async fn bind(tl: Tuneloop, settings: HttpSettings, options: ServeOptions) -> Result<Server> {
    let mut settings = settings;
    let has_token = settings.admin_token.as_ref().is_some_and(|t| !t.is_empty());
    if !has_token {
        if !options.listen.ip().is_loopback() {
            return Err(Error::invalid(
                "listen",
                format!(
                    "refusing to listen on {} without an admin token: set {} (or listen on \
                     127.0.0.1)",
                    options.listen,
                    super::ENV_ADMIN_TOKEN
                ),
            ));
        }
        tracing::warn!(
            target: "tuneloop::http",
            "no admin token ({}): admin endpoints are open to anyone on this machine",
            super::ENV_ADMIN_TOKEN
        );
        settings.open_admin = true;
    }
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| {
            Error::invalid(
                "listen",
                format!("cannot listen on {}: {e}", options.listen),
            )
        })?;
    Ok(Server {
        listener,
        tl,
        settings,
        schedule: options.schedule,
    })
}

impl Server {
    /// The address actually bound (the port chosen for port 0).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener.local_addr().map_err(|source| Error::Io {
            path: "the listening socket".into(),
            source,
        })
    }

    /// Serves until `shutdown` completes; then stops accepting, lets requests in flight
    /// finish (their writes commit), stops the schedule and closes the store.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let app = router(self.tl.clone(), self.settings);
        let stop = CancellationToken::new();
        let schedule = self.schedule.map(|options| {
            let tl = self.tl.clone();
            let stop = stop.clone();
            tokio::spawn(async move { tl.run_schedule(&options, stop, log_event).await })
        });
        let stop_on_signal = stop.clone();
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!(target: "tuneloop::http", "shutting down: finishing requests in flight");
                stop_on_signal.cancel();
            })
            .await
            .map_err(|source| Error::Io {
                path: "the listening socket".into(),
                source,
            });
        stop.cancel();
        let scheduled = match schedule {
            Some(task) => match task.await {
                Ok(result) => result,
                Err(_) => Err(Error::invalid("schedule", "the schedule task failed")),
            },
            None => Ok(()),
        };
        let closed = self.tl.close().await;
        served?;
        scheduled?;
        closed
    }
}

/// [`bind`] then [`Server::run`].
pub async fn serve(
    tl: Tuneloop,
    settings: HttpSettings,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    bind(tl, settings, options).await?.run(shutdown).await
}

fn log_event(event: ScheduleEvent) {
    match event {
        ScheduleEvent::Failed { error, .. } => {
            tracing::error!(target: "tuneloop::schedule", %error, "the weekly run failed")
        }
        other => match serde_json::to_string(&other) {
            Ok(json) => tracing::info!(target: "tuneloop::schedule", event = %json, "schedule"),
            Err(_) => tracing::info!(target: "tuneloop::schedule", "schedule event"),
        },
    }
}

/// Completes on Ctrl-C or, on Unix, SIGTERM: the signals a terminal and a service manager
/// stop a server with.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        // Without a signal handler the server runs until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
