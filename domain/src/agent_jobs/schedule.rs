//! Periodic jobs: a schedule makes one job (or runs one upkeep task) per tick, and each tick
//! is taken exactly once across any number of schedulers.
//!
//! A tick is taken by a compare-and-set on the schedule's row: `UPDATE agent_job_schedules
//! SET next_run_at = <the tick after now> WHERE name = ? AND next_run_at = <the tick read>`.
//! Only one scheduler's update matches; the work of the ticks it took (the jobs it creates, the
//! upkeep it runs) is written in the same transaction, so a tick is never taken without its
//! work, nor its work done twice.

use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use entity::agent_job_schedules::{self as schedules, Column, Entity};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement,
    TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::{JobOwner, NewJob, graph, purge_finished, rescue, wakeup};
use crate::clock;
use crate::db::begin_write;
use crate::error::{Error, Result, Violation};
use crate::txn::retry_transient;
use crate::violations::OnTable;

/// The most missed ticks one pass catches up on; older ones are skipped (with a warning).
pub const MAX_CATCH_UP: usize = 1_000;
/// The shortest interval of a schedule.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1);
/// Longest schedule name, in characters.
pub const MAX_SCHEDULE_NAME: usize = 255;

/// When a schedule ticks.
#[derive(Debug, Clone)]
enum Every {
    /// Every `interval`, on multiples of it since the Unix epoch (so every scheduler agrees
    /// on the ticks, whenever it started).
    Interval(i64),
    /// The ticks of a cron expression, in UTC.
    Cron(Box<cron::Schedule>),
}

/// What a schedule does after downtime, when more than one tick is due at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Missed {
    /// Runs the latest due tick only; the earlier ones are skipped.
    #[default]
    Skip,
    /// Runs every due tick (at most [`MAX_CATCH_UP`] per pass), oldest first.
    CatchUp,
}

/// What a tick does.
#[derive(Debug, Clone)]
pub enum ScheduledWork {
    /// Creates this job for this owner, with its run-at set to the tick.
    Job {
        /// Whose job it is.
        owner: JobOwner,
        /// The job, as [`super::create`] takes it (its unique key and parents apply).
        job: NewJob,
    },
    /// Runs [`rescue`] with this lease.
    Rescue {
        /// Heartbeats older than this are taken back.
        lease: Duration,
    },
    /// Runs [`purge_finished`] with this age.
    PurgeFinished {
        /// Finished jobs last changed longer ago than this are deleted.
        age: Duration,
    },
}

/// A named periodic schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    name: String,
    every: Every,
    missed: Missed,
    work: ScheduledWork,
}

/// One tick a scheduler took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    /// The schedule's name.
    pub schedule: String,
    /// The tick's time.
    pub at: DateTime<FixedOffset>,
    /// The job it created, for [`ScheduledWork::Job`].
    pub job_id: Option<Uuid>,
}

impl Schedule {
    /// A schedule that ticks every `interval` (at least [`MIN_INTERVAL`], whole
    /// microseconds), on multiples of it since the Unix epoch: every hour on the hour,
    /// every day at midnight UTC.
    ///
    /// # Errors
    /// [`Error::Invalid`]: `agent_job_schedules.name` (empty, too long, control character),
    /// `interval` ([`Violation::OutOfRange`]).
    pub fn every(name: impl Into<String>, interval: Duration, work: ScheduledWork) -> Result<Self> {
        let micros = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX);
        // At most about 100 years, so that tick arithmetic stays far from overflow.
        let max = 100 * 366 * 86_400 * 1_000_000_i64;
        if interval < MIN_INTERVAL || micros > max {
            return Err(Error::Invalid {
                field: "interval",
                violation: Violation::OutOfRange { min: 1_000, max },
            });
        }
        Ok(Self {
            name: check_name(name.into())?,
            every: Every::Interval(micros),
            missed: Missed::default(),
            work,
        })
    }

    /// A schedule that ticks on a cron expression (seconds first, as the `cron` crate reads
    /// it: `"0 0 3 * * *"` is every day at 03:00 UTC).
    ///
    /// # Errors
    /// [`Error::Invalid`]: `agent_job_schedules.name`, `cron` ([`Violation::Format`]) for an
    /// expression that does not parse or never ticks.
    pub fn cron(name: impl Into<String>, expression: &str, work: ScheduledWork) -> Result<Self> {
        let invalid = || Error::Invalid {
            field: "cron",
            violation: Violation::Format,
        };
        let schedule = cron::Schedule::from_str(expression).map_err(|_| invalid())?;
        schedule.upcoming(Utc).next().ok_or_else(invalid)?;
        Ok(Self {
            name: check_name(name.into())?,
            every: Every::Cron(Box::new(schedule)),
            missed: Missed::default(),
            work,
        })
    }

    /// Sets what happens to ticks missed during downtime (default [`Missed::Skip`]).
    #[must_use]
    pub fn missed(mut self, missed: Missed) -> Self {
        self.missed = missed;
        self
    }

    /// The schedule's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ticks from `first` (the stored next tick, due) to `now`, at most the newest
    /// `limit` of them, oldest first. Walked backwards from `now`, so that a long downtime
    /// costs `limit` steps, not one per missed tick.
    fn due(
        &self,
        first: DateTime<FixedOffset>,
        now: DateTime<FixedOffset>,
        limit: usize,
    ) -> Vec<DateTime<FixedOffset>> {
        let mut ticks = Vec::new();
        let mut cursor = self.at_or_before(now);
        while let Some(tick) = cursor {
            if tick < first || ticks.len() >= limit {
                break;
            }
            ticks.push(tick);
            cursor = self.before(tick);
        }
        // The stored tick may lie off the schedule's ticks (its definition changed): it is
        // due all the same.
        if ticks.len() < limit && ticks.last() != Some(&first) {
            ticks.push(first);
        }
        ticks.reverse();
        ticks
    }

    /// The latest tick at or before `at`.
    fn at_or_before(&self, at: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        match &self.every {
            Every::Interval(micros) => {
                let tick = at
                    .timestamp_micros()
                    .div_euclid(*micros)
                    .checked_mul(*micros)?;
                Utc.timestamp_micros(tick)
                    .single()
                    .map(|t| t.fixed_offset())
            }
            Every::Cron(schedule) => {
                // Cron ticks are whole seconds: the ticks before the next second, back to
                // the first one not after `at`.
                let bound = at.with_timezone(&Utc) + chrono::Duration::seconds(1);
                schedule
                    .after(&bound)
                    .rev()
                    .take(3)
                    .find(|tick| *tick <= at)
                    .map(|t| t.fixed_offset())
            }
        }
    }

    /// The latest tick strictly before `at`.
    fn before(&self, at: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        match &self.every {
            Every::Interval(micros) => {
                let tick = (at.timestamp_micros() - 1)
                    .div_euclid(*micros)
                    .checked_mul(*micros)?;
                Utc.timestamp_micros(tick)
                    .single()
                    .map(|t| t.fixed_offset())
            }
            Every::Cron(schedule) => schedule
                .after(&at.with_timezone(&Utc))
                .next_back()
                .map(|t| t.fixed_offset()),
        }
    }

    /// The first tick strictly after `at`.
    fn after(&self, at: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        match &self.every {
            Every::Interval(micros) => {
                let now = at.timestamp_micros();
                let next = (now.div_euclid(*micros) + 1).checked_mul(*micros)?;
                Utc.timestamp_micros(next)
                    .single()
                    .map(|t| t.fixed_offset())
            }
            Every::Cron(schedule) => schedule
                .after(&at.with_timezone(&Utc))
                .next()
                .map(|t| t.fixed_offset()),
        }
    }
}

fn check_name(name: String) -> Result<String> {
    let invalid = |violation| Error::Invalid {
        field: "agent_job_schedules.name",
        violation,
    };
    if name.trim().is_empty() {
        return Err(invalid(Violation::Empty));
    }
    if name.chars().count() > MAX_SCHEDULE_NAME {
        return Err(invalid(Violation::TooLong {
            max: MAX_SCHEDULE_NAME,
        }));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid(Violation::ControlCharacter));
    }
    if name.trim() != name {
        return Err(invalid(Violation::Format));
    }
    Ok(name)
}

/// Runs a set of schedules. Run one in every service instance that should keep them
/// ([`Scheduler::run`]); however many run, each tick is taken once.
#[derive(Debug)]
pub struct Scheduler {
    schedules: Vec<Schedule>,
    registered: AtomicBool,
}

impl Scheduler {
    /// A scheduler for `schedules`.
    ///
    /// # Errors
    /// [`Error::Invalid`] (`agent_job_schedules.name`, [`Violation::Reserved`]) when two
    /// schedules share a name.
    pub fn new(schedules: impl IntoIterator<Item = Schedule>) -> Result<Self> {
        let schedules: Vec<Schedule> = schedules.into_iter().collect();
        for (i, schedule) in schedules.iter().enumerate() {
            if schedules[..i].iter().any(|s| s.name == schedule.name) {
                return Err(Error::Invalid {
                    field: "agent_job_schedules.name",
                    violation: Violation::Reserved,
                });
            }
        }
        Ok(Self {
            schedules,
            registered: AtomicBool::new(false),
        })
    }

    /// Takes every tick that is due now, of every schedule, and does its work. Returns the
    /// ticks this call took (ticks another scheduler took are not repeated).
    ///
    /// # Errors
    /// [`Error::Invalid`] from a scheduled job's fields; [`Error::Transient`];
    /// [`Error::Database`].
    #[tracing::instrument(skip_all, err, fields(ticks))]
    pub async fn run_due<C>(&self, db: &C) -> Result<Vec<Tick>>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        if !self.registered.load(Ordering::Acquire) {
            for schedule in &self.schedules {
                register(db, schedule).await?;
            }
            self.registered.store(true, Ordering::Release);
        }
        let mut taken = Vec::new();
        for schedule in &self.schedules {
            taken.extend(take_due(db, schedule).await?);
        }
        tracing::Span::current().record("ticks", taken.len());
        Ok(taken)
    }

    /// Runs [`Scheduler::run_due`] every `poll` (or sooner, when a tick is due sooner) until
    /// `shutdown` resolves. A failed pass is logged and tried again at the next poll. Returns
    /// how many ticks it took.
    #[tracing::instrument(skip_all, fields(schedules = self.schedules.len()))]
    pub async fn run<C, S>(&self, db: &C, poll: Duration, shutdown: S) -> u64
    where
        C: ConnectionTrait + TransactionTrait,
        S: Future<Output = ()>,
    {
        tokio::pin!(shutdown);
        let mut ticks = 0;
        loop {
            match self.run_due(db).await {
                Ok(taken) => ticks += taken.len() as u64,
                Err(err) => {
                    tracing::warn!(target: "zyenta::agent_jobs", error = %err, "a scheduler pass failed");
                }
            }
            let now = clock::now();
            let soonest = self
                .schedules
                .iter()
                .filter_map(|s| s.after(now))
                .min()
                .and_then(|next| (next - now).to_std().ok())
                .unwrap_or(poll);
            let wait = soonest.min(poll).max(Duration::from_millis(1));
            tokio::select! {
                () = &mut shutdown => return ticks,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// Creates the schedule's row when it is missing, its first tick the one after now.
async fn register<C: ConnectionTrait>(db: &C, schedule: &Schedule) -> Result<()> {
    let now = clock::now();
    let Some(first) = schedule.after(now) else {
        return Ok(());
    };
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::MySql => {
            "INSERT INTO agent_job_schedules (name, next_run_at, updated_at) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE name = name"
        }
        DbBackend::Sqlite => {
            "INSERT INTO agent_job_schedules (name, next_run_at, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO NOTHING"
        }
        _ => {
            "INSERT INTO agent_job_schedules (name, next_run_at, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING"
        }
    };
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [schedule.name.clone().into(), first.into(), now.into()],
    ))
    .await
    .on_table("agent_job_schedules")?;
    Ok(())
}

/// Takes the due ticks of one schedule, if no other scheduler took them first.
async fn take_due<C>(db: &C, schedule: &Schedule) -> Result<Vec<Tick>>
where
    C: ConnectionTrait + TransactionTrait,
{
    let Some(row) = Entity::find_by_id(schedule.name.clone()).one(db).await? else {
        return Ok(Vec::new());
    };
    let now = clock::now();
    if row.next_run_at > now {
        return Ok(Vec::new());
    }
    let limit = match schedule.missed {
        Missed::Skip => 1,
        Missed::CatchUp => MAX_CATCH_UP,
    };
    let due = schedule.due(row.next_run_at, now, limit);
    if due.first() != Some(&row.next_run_at) {
        tracing::info!(target: "zyenta::agent_jobs", schedule = %schedule.name, since = %row.next_run_at, "missed ticks skipped");
    }
    let Some(next) = schedule
        .after(now)
        .and_then(|t| clock::bounded("agent_job_schedules.next_run_at", t).ok())
    else {
        // The schedule never ticks again within the storable range.
        return Ok(Vec::new());
    };
    let last = *due.last().unwrap_or(&row.next_run_at);
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        let taken = Entity::update_many()
            .set(schedules::ActiveModel {
                next_run_at: Set(next),
                last_run_at: Set(Some(last)),
                updated_at: Set(now),
                ..Default::default()
            })
            .filter(Column::Name.eq(schedule.name.as_str()))
            .filter(Column::NextRunAt.eq(row.next_run_at))
            .exec(&txn)
            .await
            .on_table("agent_job_schedules")?;
        if taken.rows_affected == 0 {
            // Another scheduler took these ticks.
            return Ok(Vec::new());
        }
        let mut ticks = Vec::with_capacity(due.len());
        for at in &due {
            let job_id = match &schedule.work {
                ScheduledWork::Job { owner, job } => {
                    let row = job.clone().run_at(*at).into_row(*owner, now)?;
                    let parents = job.depends_on.clone();
                    Some(graph::insert_job(&txn, *owner, row, &parents).await?.id)
                }
                ScheduledWork::Rescue { lease } => {
                    rescue(&txn, *lease).await?;
                    None
                }
                ScheduledWork::PurgeFinished { age } => {
                    purge_finished(&txn, *age).await?;
                    None
                }
            };
            ticks.push(Tick {
                schedule: schedule.name.clone(),
                at: *at,
                job_id,
            });
        }
        if matches!(schedule.work, ScheduledWork::Job { .. }) {
            wakeup::notify(&txn, [None]).await?;
        }
        txn.commit().await?;
        Ok(ticks)
    })
    .await
}
