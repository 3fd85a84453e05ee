//! A ready-made worker loop: claim, run a handler, complete or fail, wait when idle, stop
//! gracefully.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use entity::agent_jobs::{Column, Entity};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{ClaimedJob, FailOutcome, JobOutput, JobStatus, Wakeup, Worker};
use crate::clock;
use crate::error::{Error, Result};

/// The shortest idle wait: a job that is runnable but was just taken by a concurrent claim
/// is looked at again this soon, not at once.
const MIN_IDLE_WAIT: Duration = Duration::from_millis(50);

/// How [`Worker::run`] paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerOptions {
    /// The longest an idle worker waits before it looks for work again. On Postgres an
    /// enqueue wakes it sooner; elsewhere this is how late it may notice a new job.
    pub poll_interval: Duration,
    /// How often the job being worked on is heartbeated (and checked for cancellation)
    /// while the handler runs. Keep it well under the lease given to [`super::rescue`].
    pub heartbeat_interval: Duration,
}

impl Default for WorkerOptions {
    /// Poll every 5 s, heartbeat every 15 s (for a lease of a minute or more).
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(5),
            heartbeat_interval: Duration::from_secs(15),
        }
    }
}

/// The future a handler returns: the job's output, or why it failed. Boxed, so that it may
/// borrow the handle and the connection it is given (as SeaORM's `transaction` closures do).
pub type HandlerFuture<'a> =
    Pin<Box<dyn Future<Output = std::result::Result<JobOutput, JobFailure>> + Send + 'a>>;

/// Why a handler could not produce an output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    message: String,
    permanent: bool,
}

impl JobFailure {
    /// A failure worth retrying (a timeout, a rate limit…): the job backs off and runs again
    /// while attempts remain.
    pub fn retry(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
        }
    }

    /// A failure no retry can fix: the job fails for good at once.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
        }
    }

    /// The message kept on the job.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the job fails for good.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }
}

impl From<Error> for JobFailure {
    /// A data layer error inside a handler (e.g. its progress report found the job
    /// cancelled) fails the attempt as retryable; if the job is no longer held, the loop's
    /// own write is refused too and nothing changes.
    fn from(err: Error) -> Self {
        Self::retry(err.to_string())
    }
}

/// What a [`Worker::run`] loop did before it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkerStats {
    /// Jobs completed.
    pub completed: u64,
    /// Attempts failed with attempts left (the job will run again).
    pub retried: u64,
    /// Jobs failed for good.
    pub failed: u64,
    /// Jobs taken away while running (cancelled, or rescued after a missed heartbeat);
    /// nothing the worker did afterwards was written.
    pub released: u64,
    /// Database errors met (claims, writes); the loop carried on after each.
    pub errors: u64,
}

impl Worker {
    /// Runs jobs until `shutdown` resolves: claims the next job, gives it to `handler`,
    /// completes it with the handler's output or fails it with its [`JobFailure`]; when
    /// nothing is runnable, waits for a [`Wakeup`] notification, the next scheduled job or
    /// `options.poll_interval`, whichever is first. While a handler runs, the job is
    /// heartbeated every `options.heartbeat_interval`; if that finds the job cancelled or
    /// taken away, the handler's future is dropped (the work stops) and nothing is written.
    ///
    /// Shutdown is graceful: a job in hand is finished (completed or failed) first. Errors
    /// of the database are logged and counted, never fatal: the loop waits one poll
    /// interval and goes on.
    ///
    /// ```no_run
    /// # async fn example(db: domain::DatabaseConnection) -> domain::Result<()> {
    /// use domain::agent_jobs::{
    ///     AgentType, BrandIdentity, JobFailure, JobInput, JobOutput, Wakeup, Worker,
    ///     WorkerId, WorkerOptions,
    /// };
    ///
    /// let wakeup = Wakeup::listen(&db).await?;
    /// let worker = Worker::new(WorkerId::generate("brand")).only([AgentType::BrandGenerator]);
    /// // The service keeps `stop` and sends on it (or drops it) to shut the worker down.
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let shutdown = async move {
    ///     let _ = stopped.await;
    /// };
    /// # drop(stop);
    /// let stats = worker
    ///     .run(&db, &wakeup, &WorkerOptions::default(), shutdown, |job, db| {
    ///         Box::pin(async move {
    ///             let JobInput::BrandGenerator(brief) = job.input().clone() else {
    ///                 return Err(JobFailure::permanent("not a brand brief"));
    ///             };
    ///             job.update_progress(db, 50, Some("naming")).await?;
    ///             let brand = BrandIdentity::parse(
    ///                 "NeonNest",
    ///                 ["#FF00FF", "#00FFFF", "#FFFF00"],
    ///                 ["Orbitron", "Inter"],
    ///                 &brief.tone,
    ///                 None,
    ///             )
    ///             .map_err(|e| JobFailure::permanent(e.to_string()))?;
    ///             Ok(JobOutput::BrandGenerator(brand))
    ///         })
    ///     })
    ///     .await;
    /// println!("{stats:?}");
    /// # Ok(())
    /// # }
    /// ```
    #[tracing::instrument(skip_all, fields(worker_id = %self.id()))]
    pub async fn run<F, S>(
        &self,
        db: &DatabaseConnection,
        wakeup: &Wakeup,
        options: &WorkerOptions,
        shutdown: S,
        mut handler: F,
    ) -> WorkerStats
    where
        F: for<'a> FnMut(&'a mut ClaimedJob, &'a DatabaseConnection) -> HandlerFuture<'a>,
        S: Future<Output = ()>,
    {
        let mut subscription = wakeup.subscribe(self.types());
        let mut shutdown = std::pin::pin!(shutdown);
        let mut stopping = false;
        let mut stats = WorkerStats::default();
        let heartbeat_every = options.heartbeat_interval.max(Duration::from_millis(10));

        while !stopping {
            let mut job = match self.claim(db).await {
                Ok(Some(job)) => job,
                Ok(None) => {
                    let pause = self.idle_wait(db, options.poll_interval).await;
                    tokio::select! {
                        () = &mut shutdown => stopping = true,
                        _ = subscription.wait(pause) => {}
                    }
                    continue;
                }
                Err(err) => {
                    stats.errors += 1;
                    tracing::warn!(worker = %self.id(), error = %err, "claiming an agent job failed");
                    tokio::select! {
                        () = &mut shutdown => stopping = true,
                        () = tokio::time::sleep(options.poll_interval) => {}
                    }
                    continue;
                }
            };

            let hold = job.hold();
            let id = job.id();
            let outcome = {
                let mut work = handler(&mut job, db);
                let mut heartbeat = tokio::time::interval(heartbeat_every);
                heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                heartbeat.tick().await; // the first tick is immediate; the claim just beat
                loop {
                    tokio::select! {
                        outcome = &mut work => break Some(outcome),
                        _ = heartbeat.tick() => match hold.beat(db).await {
                            Ok(_) => {}
                            Err(err) if lost(&err) => {
                                tracing::info!(worker = %self.id(), job = %id, error = %err, "agent job taken away; stopping its work");
                                break None;
                            }
                            Err(err) => {
                                stats.errors += 1;
                                tracing::warn!(worker = %self.id(), error = %err, "heartbeat failed");
                            }
                        },
                        // Finish the job in hand first; stop after it.
                        () = &mut shutdown, if !stopping => stopping = true,
                    }
                }
            };

            let written = match outcome {
                None => {
                    stats.released += 1;
                    continue;
                }
                Some(Ok(output)) if output.agent_type() != job.job().agent_type() => {
                    let message = format!(
                        "the handler returned a {:?} output for a {:?} job",
                        output.agent_type(),
                        job.job().agent_type()
                    );
                    job.fail_permanently(db, &message)
                        .await
                        .map(|()| FailOutcome::Failed)
                        .map(Some)
                }
                // An output the queue cannot store (too large, a bad field) fails the attempt
                // instead of leaving the job PROCESSING: another attempt may produce a good one.
                Some(Ok(output)) => match job.check_output(output) {
                    Ok(output) => job.complete(db, output).await.map(|_| None),
                    Err(err) => {
                        let message = format!("the handler's output was refused: {err}");
                        job.fail(db, &message).await.map(Some)
                    }
                },
                Some(Err(failure)) if failure.is_permanent() => job
                    .fail_permanently(db, failure.message())
                    .await
                    .map(|()| Some(FailOutcome::Failed)),
                Some(Err(failure)) => job.fail(db, failure.message()).await.map(Some),
            };
            match written {
                Ok(None) => stats.completed += 1,
                Ok(Some(FailOutcome::Retrying { .. })) => stats.retried += 1,
                Ok(Some(FailOutcome::Failed)) => stats.failed += 1,
                Err(err) if lost(&err) => {
                    stats.released += 1;
                    tracing::info!(worker = %self.id(), job = %id, error = %err, "agent job was taken away before it finished");
                }
                Err(err) => {
                    stats.errors += 1;
                    tracing::warn!(worker = %self.id(), job = %id, error = %err, "finishing an agent job failed; it will be rescued");
                }
            }
        }
        stats
    }

    /// How long to wait when nothing is runnable: until the next scheduled job of the
    /// worker's types, at most `poll_interval`, at least [`MIN_IDLE_WAIT`].
    async fn idle_wait(&self, db: &DatabaseConnection, poll_interval: Duration) -> Duration {
        match self.next_run_at(db).await {
            Ok(Some(at)) => (at - clock::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .clamp(MIN_IDLE_WAIT, poll_interval.max(MIN_IDLE_WAIT)),
            _ => poll_interval,
        }
    }

    /// When the earliest PENDING job of the worker's types becomes runnable.
    async fn next_run_at(&self, db: &DatabaseConnection) -> Result<Option<DateTime<FixedOffset>>> {
        // A job waiting for others is not due at its run-at: its parents' completion wakes
        // the workers.
        let mut query = Entity::find()
            .filter(Column::Status.eq(JobStatus::Pending))
            .filter(Column::WaitingFor.eq(0));
        if !self.types().is_empty() {
            query = query.filter(Column::Type.is_in(self.types().iter().copied()));
        }
        Ok(query
            .select_only()
            .column(Column::RunAt)
            .order_by_asc(Column::RunAt)
            .into_tuple::<DateTime<FixedOffset>>()
            .one(db)
            .await?)
    }
}

/// The job is no longer this worker's: stop, nothing more will be written.
fn lost(err: &Error) -> bool {
    matches!(
        err,
        Error::JobReleased { .. } | Error::InvalidTransition { .. } | Error::NotFound { .. }
    )
}
