//! Waking idle workers when work arrives, without polling the database all the time.
//!
//! On Postgres an enqueue sends `NOTIFY` on [`CHANNEL`] (in its transaction, so on commit),
//! with the agent type as payload; one [`Wakeup`] per process `LISTEN`s on a connection of
//! its own and passes each notification to the workers waiting for that type. On SQLite and
//! MariaDB/MySQL there is nothing to listen to: a wait simply lasts its bounded poll interval.

use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, RuntimeErr, Statement};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use sea_orm::{ActiveEnum, Iterable};

use super::AgentType;
use crate::error::Result;

/// The Postgres notification channel of enqueued jobs; the payload is the agent type as
/// stored (`"COPYWRITER"`), or empty for "any type".
pub const CHANNEL: &str = "zyenta_agent_jobs";

/// What a waiting worker is told: a job of this type (`None`: of any type) may be runnable.
type Signal = Option<AgentType>;

/// The least time between two notifications of unblocked jobs from one process.
const UNBLOCKED_NOTIFY_EVERY_MS: u64 = 50;

/// Whether a completion that unblocked jobs should notify now: at most once per
/// [`UNBLOCKED_NOTIFY_EVERY_MS`] per process. Postgres serialises the commits of every
/// transaction that notifies (a database-wide lock), so a notification per completed parent
/// would queue the completing workers behind each other. A skipped notification is not
/// sent later: the completing worker and every busy one find the unblocked jobs at their
/// next claim, and an idle worker at the next notification or its poll interval.
pub(super) fn unblocked_notify_due() -> bool {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(u64::MAX);
    let last = LAST.load(Ordering::Relaxed);
    now.saturating_sub(last) >= UNBLOCKED_NOTIFY_EVERY_MS
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// Sends one notification per signal, on Postgres; nothing elsewhere.
pub(super) async fn notify<C: ConnectionTrait>(
    db: &C,
    signals: impl IntoIterator<Item = Signal>,
) -> Result<()> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for signal in signals {
        let payload = signal.map_or_else(String::new, |agent_type| {
            agent_type.to_value().value.into_owned()
        });
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), payload.into()],
        ))
        .await?;
    }
    Ok(())
}

/// The wake-up source of one process: on Postgres a listener on [`CHANNEL`] (it keeps one
/// connection of the pool for itself), elsewhere nothing (waits are plain bounded polls).
/// Make one per process and [`Wakeup::subscribe`] each worker; dropping it stops listening.
#[derive(Debug)]
pub struct Wakeup {
    sender: Option<broadcast::Sender<Signal>>,
    listener: Option<JoinHandle<()>>,
}

/// Why [`WakeSubscription::wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// A job of a type the worker runs was enqueued (or the listener reconnected and may have
    /// missed one).
    Notified,
    /// The poll interval ran out.
    TimedOut,
}

impl Wakeup {
    /// Listens for enqueued jobs on Postgres; on the other backends returns
    /// [`Wakeup::poll_only`].
    ///
    /// # Errors
    /// [`crate::Error::Database`] when the listening connection cannot be opened.
    #[tracing::instrument(skip_all, err)]
    pub async fn listen(db: &DatabaseConnection) -> Result<Self> {
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(Self::poll_only());
        }
        let pool = db.get_postgres_connection_pool();
        let mut listener = PgListener::connect_with(pool).await.map_err(sqlx_error)?;
        listener.listen(CHANNEL).await.map_err(sqlx_error)?;
        let (sender, _) = broadcast::channel(256);
        let tx = sender.clone();
        let task = tokio::spawn(async move {
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => {
                        let signal = AgentType::iter()
                            .find(|t| t.to_value().value == notification.payload());
                        let _ = tx.send(signal);
                    }
                    // The connection was lost and is re-established at the next call:
                    // notifications may have been missed, so everyone looks.
                    Ok(None) => {
                        let _ = tx.send(None);
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "agent job listener failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        let _ = tx.send(None);
                    }
                }
            }
        });
        Ok(Self {
            sender: Some(sender),
            listener: Some(task),
        })
    }

    /// No listening: every wait lasts its full interval.
    pub fn poll_only() -> Self {
        Self {
            sender: None,
            listener: None,
        }
    }

    /// Whether enqueues wake waiting workers (Postgres), or waits are plain polls.
    pub fn is_listening(&self) -> bool {
        self.sender.is_some()
    }

    /// A subscription for a worker of these agent types (empty: every type). Notifications
    /// that arrive between two waits are kept, so a job enqueued while the worker was busy
    /// is not slept through.
    pub fn subscribe(&self, types: &[AgentType]) -> WakeSubscription {
        WakeSubscription {
            receiver: self.sender.as_ref().map(broadcast::Sender::subscribe),
            types: types.to_vec(),
        }
    }
}

impl Drop for Wakeup {
    fn drop(&mut self) {
        if let Some(task) = self.listener.take() {
            task.abort();
        }
    }
}

/// One worker's end of a [`Wakeup`].
#[derive(Debug)]
pub struct WakeSubscription {
    receiver: Option<broadcast::Receiver<Signal>>,
    types: Vec<AgentType>,
}

impl WakeSubscription {
    /// Waits until a job of one of the worker's types is enqueued, or `timeout` passes,
    /// whichever comes first (on backends without notifications: `timeout`).
    pub async fn wait(&mut self, timeout: Duration) -> Woken {
        let Some(receiver) = self.receiver.as_mut() else {
            tokio::time::sleep(timeout).await;
            return Woken::TimedOut;
        };
        let types = &self.types;
        let wanted = async {
            loop {
                match receiver.recv().await {
                    Ok(Some(t)) if !types.is_empty() && !types.contains(&t) => continue,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => return Woken::Notified,
                    // The Wakeup is gone: nothing will ever arrive.
                    Err(broadcast::error::RecvError::Closed) => {
                        std::future::pending::<()>().await;
                    }
                }
            }
        };
        tokio::time::timeout(timeout, wanted)
            .await
            .unwrap_or(Woken::TimedOut)
    }
}

fn sqlx_error(err: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Conn(RuntimeErr::SqlxError(std::sync::Arc::new(err)))
}
