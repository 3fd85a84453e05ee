//! The pipeline under load: many workers in separate pools with dependencies, unique keys
//! and caps all in use, and periodic schedules run by several schedulers at once.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::agent_jobs::{
    self, AgentType, Graph, JobOwner, JobStatus, Missed, Schedule, ScheduledWork, Scheduler,
    UniqueKey, Worker, WorkerId,
};
use domain::{Error, Violation};
use entity::agent_job_schedules;
use entity::agent_jobs as job_rows;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::agent_pipeline::{brand_job, brand_output, new_scope};
use super::*;

/// The most PROCESSING jobs of any one store (or, with `of_type`, of that agent type) right
/// now, as the database says.
async fn processing_peak(db: &DatabaseConnection, of_type: Option<AgentType>) -> i64 {
    let mut query = job_rows::Entity::find()
        .select_only()
        .column(job_rows::Column::StoreId)
        .column_as(job_rows::Column::Id.count(), "n")
        .filter(job_rows::Column::Status.eq(JobStatus::Processing))
        .group_by(job_rows::Column::StoreId);
    if let Some(agent_type) = of_type {
        query = query.filter(job_rows::Column::Type.eq(agent_type));
    }
    let rows: Vec<(Option<Uuid>, i64)> = query.into_tuple().all(db).await.expect("sample");
    if of_type.is_some() {
        rows.iter().map(|(_, n)| n).sum()
    } else {
        rows.iter().map(|(_, n)| *n).max().unwrap_or(0)
    }
}

/// Samples `peak` every few milliseconds until `stop`, keeping the highest value seen.
fn sampler(
    db: DatabaseConnection,
    of_type: Option<AgentType>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(i64, u64)> {
    tokio::spawn(async move {
        let (mut max, mut samples) = (0, 0);
        while !stop.load(Ordering::Acquire) {
            max = max.max(processing_peak(&db, of_type).await);
            samples += 1;
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        (max, samples)
    })
}

backend_test!(
    async fn sixteen_workers_run_two_thousand_jobs_with_dependencies_unique_keys_and_a_store_cap(
        t: &TestDb,
    ) {
        const STORES: usize = 10;
        const GROUPS: usize = 50; // per store: a parent and three dependants each
        const TOTAL: usize = STORES * GROUPS * 4;
        let mut scopes = Vec::new();
        for _ in 0..STORES {
            let scope = new_scope(&t.db).await;
            let mut graph = Graph::new();
            for group in 0..GROUPS {
                let key = UniqueKey::parse(format!("group-{group}")).expect("key");
                let parent = graph.add(brand_job().unique(key));
                for _ in 0..3 {
                    graph.add_after(brand_job(), &[parent]);
                }
            }
            agent_jobs::create_graph(&t.db, &scope, graph)
                .await
                .expect("graph");
            scopes.push(scope);
        }
        // Unique keys in use: 8 concurrent enqueues of a taken key add nothing.
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let db = t.db.clone();
                let scope = scopes[i % STORES];
                tokio::spawn(async move {
                    agent_jobs::create(
                        &db,
                        &scope,
                        brand_job().unique(UniqueKey::parse("group-7").expect("key")),
                    )
                    .await
                    .expect("create")
                })
            })
            .collect();
        for handle in handles {
            let job = handle.await.expect("task");
            assert_eq!(job.unique_key.as_deref(), Some("group-7"));
        }
        assert_eq!(
            job_rows::Entity::find().count(&t.db).await.expect("count"),
            TOTAL as u64
        );

        let done = Arc::new(AtomicUsize::new(0));
        let started: Arc<Mutex<HashMap<Uuid, usize>>> = Arc::default();
        let early: Arc<Mutex<Vec<Uuid>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let peak = sampler(t.db.clone(), None, stop.clone());
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut workers = Vec::new();
        for pool in 0..4 {
            let db = domain::connect(&t.config).await.expect("a separate pool");
            for n in 0..4 {
                let db = db.clone();
                let (done, started, early) = (done.clone(), started.clone(), early.clone());
                workers.push(tokio::spawn(async move {
                    let worker = Worker::new(WorkerId::generate(&format!("load-{pool}-{n}")))
                        .cap_per_store(NonZeroU32::new(2).expect("2"));
                    while done.load(Ordering::Acquire) < TOTAL {
                        assert!(Instant::now() < deadline, "the queue did not drain");
                        let Some(job) = worker.claim(&db).await.expect("claim") else {
                            tokio::time::sleep(Duration::from_millis(2)).await;
                            continue;
                        };
                        *started
                            .lock()
                            .expect("started")
                            .entry(job.id())
                            .or_default() += 1;
                        let parents = job.list_parents(&db).await.expect("parents");
                        if parents.iter().any(|p| p.status != JobStatus::Completed) {
                            early.lock().expect("early").push(job.id());
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        job.complete(&db, brand_output()).await.expect("complete");
                        done.fetch_add(1, Ordering::AcqRel);
                    }
                }));
            }
        }
        for worker in workers {
            worker.await.expect("worker");
        }
        stop.store(true, Ordering::Release);
        let (max, samples) = peak.await.expect("sampler");
        eprintln!(
            "{:?}: max PROCESSING jobs of one store observed: {max} (cap 2, {samples} samples)",
            t.backend
        );

        {
            let started = started.lock().expect("started");
            assert_eq!(started.len(), TOTAL, "every job ran");
            assert!(started.values().all(|&runs| runs == 1), "no job ran twice");
        }
        assert!(
            early.lock().expect("early").is_empty(),
            "a dependant started before its parents completed"
        );
        let completed = job_rows::Entity::find()
            .filter(job_rows::Column::Status.eq(JobStatus::Completed))
            .count(&t.db)
            .await
            .expect("count");
        assert_eq!(completed, TOTAL as u64);
        assert!(max <= 2, "a store ran {max} jobs at once");
        assert!(max >= 1 && samples > 0, "the sampler saw the jobs run");
    }
);

backend_test!(
    async fn a_cap_per_agent_type_holds_across_pools(t: &TestDb) {
        let scope = new_scope(&t.db).await;
        agent_jobs::create_many(&t.db, &scope, (0..40).map(|_| brand_job()))
            .await
            .expect("create");
        let stop = Arc::new(AtomicBool::new(false));
        let peak = sampler(t.db.clone(), Some(AgentType::BrandGenerator), stop.clone());
        let done = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for pool in 0..2 {
            let db = domain::connect(&t.config).await.expect("a separate pool");
            for n in 0..4 {
                let (db, done) = (db.clone(), done.clone());
                workers.push(tokio::spawn(async move {
                    let worker = Worker::new(WorkerId::generate(&format!("typed-{pool}-{n}")))
                        .cap_per_type(AgentType::BrandGenerator, NonZeroU32::new(1).expect("1"));
                    let deadline = Instant::now() + Duration::from_secs(300);
                    while done.load(Ordering::Acquire) < 40 {
                        assert!(Instant::now() < deadline, "the queue did not drain");
                        match worker.claim(&db).await.expect("claim") {
                            Some(job) => {
                                tokio::time::sleep(Duration::from_millis(5)).await;
                                job.complete(&db, brand_output()).await.expect("complete");
                                done.fetch_add(1, Ordering::AcqRel);
                            }
                            None => tokio::time::sleep(Duration::from_millis(2)).await,
                        }
                    }
                }));
            }
        }
        for worker in workers {
            worker.await.expect("worker");
        }
        stop.store(true, Ordering::Release);
        let (max, samples) = peak.await.expect("sampler");
        eprintln!(
            "{:?}: max PROCESSING brand jobs observed: {max} (cap 1, {samples} samples)",
            t.backend
        );
        assert_eq!(max, 1, "the type cap held and jobs ran");
    }
);

fn every_tick(name: &str, interval: Duration, missed: Missed) -> Schedule {
    Schedule::every(
        name,
        interval,
        ScheduledWork::Job {
            owner: JobOwner::SYSTEM,
            job: brand_job(),
        },
    )
    .expect("schedule")
    .missed(missed)
}

backend_test!(
    async fn a_schedule_run_by_four_pools_makes_exactly_one_job_per_tick(t: &TestDb) {
        let interval = Duration::from_millis(200);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut schedulers = Vec::new();
        for _ in 0..4 {
            let db = domain::connect(&t.config).await.expect("a separate pool");
            let mut stopped = stopped.clone();
            schedulers.push(tokio::spawn(async move {
                let scheduler = Scheduler::new([every_tick("digest", interval, Missed::CatchUp)])
                    .expect("scheduler");
                scheduler
                    .run(&db, Duration::from_millis(20), async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    })
                    .await
            }));
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while job_rows::Entity::find().count(&t.db).await.expect("count") < 21 {
            assert!(Instant::now() < deadline, "the schedule did not tick");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.send(true).expect("stop");
        let mut taken = 0;
        for scheduler in schedulers {
            taken += scheduler.await.expect("scheduler");
        }
        let ticks: Vec<chrono::DateTime<chrono::FixedOffset>> = job_rows::Entity::find()
            .select_only()
            .column(job_rows::Column::RunAt)
            .order_by_asc(job_rows::Column::RunAt)
            .into_tuple()
            .all(&t.db)
            .await
            .expect("ticks");
        assert_eq!(
            taken,
            ticks.len() as u64,
            "each job is a tick one scheduler took"
        );
        let distinct: HashSet<_> = ticks.iter().collect();
        assert_eq!(distinct.len(), ticks.len(), "no tick ran twice");
        let first = ticks[0];
        let twenty: Vec<_> = ticks
            .iter()
            .filter(|at| **at < first + chrono::Duration::milliseconds(20 * 200))
            .collect();
        assert_eq!(twenty.len(), 20, "20 ticks, 20 jobs");
        for (k, at) in twenty.iter().enumerate() {
            assert_eq!(
                **at,
                first + chrono::Duration::milliseconds(200 * k as i64),
                "tick {k}"
            );
        }
    }
);

backend_test!(
    async fn missed_ticks_are_skipped_or_caught_up_and_upkeep_runs_on_a_schedule(t: &TestDb) {
        let hour = Duration::from_secs(3_600);
        // Registered now: its first tick is the next hour.
        let skip = Scheduler::new([every_tick("hourly-skip", hour, Missed::Skip)]).expect("s");
        let catch_up =
            Scheduler::new([every_tick("hourly-catch-up", hour, Missed::CatchUp)]).expect("s");
        assert!(skip.run_due(&t.db).await.expect("run").is_empty());
        assert!(catch_up.run_due(&t.db).await.expect("run").is_empty());
        let now = chrono::Utc::now();
        let this_hour = now
            - chrono::Duration::seconds(now.timestamp() % 3_600)
            - chrono::Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos()));
        // Five hours of downtime.
        let five_ago = (this_hour - chrono::Duration::hours(5)).fixed_offset();
        for name in ["hourly-skip", "hourly-catch-up"] {
            agent_job_schedules::Entity::update(agent_job_schedules::ActiveModel {
                name: Set(name.to_owned()),
                next_run_at: Set(five_ago),
                ..Default::default()
            })
            .exec(&t.db)
            .await
            .expect("back-date");
        }
        let skipped = skip.run_due(&t.db).await.expect("run");
        assert_eq!(skipped.len(), 1, "only the latest due tick");
        assert_eq!(skipped[0].at, this_hour.fixed_offset());
        let caught = catch_up.run_due(&t.db).await.expect("run");
        assert_eq!(
            caught.len(),
            6,
            "every tick from five hours ago to this one"
        );
        assert_eq!(caught[0].at, five_ago);
        assert!(
            skip.run_due(&t.db).await.expect("run").is_empty(),
            "nothing due again"
        );
        assert!(catch_up.run_due(&t.db).await.expect("run").is_empty());
        let row = agent_job_schedules::Entity::find_by_id("hourly-skip".to_owned())
            .one(&t.db)
            .await
            .expect("read")
            .expect("row");
        assert_eq!(
            row.next_run_at,
            (this_hour + chrono::Duration::hours(1)).fixed_offset()
        );
        assert_eq!(
            job_rows::Entity::find().count(&t.db).await.expect("count"),
            7
        );

        // A day of downtime on a schedule of every second: catching up takes the newest
        // MAX_CATCH_UP ticks, walked back from now (not 86,400 steps); skipping takes one.
        let second = Duration::from_secs(1);
        let fast_catch_up =
            Scheduler::new([every_tick("every-second-catch-up", second, Missed::CatchUp)])
                .expect("s");
        let fast_skip =
            Scheduler::new([every_tick("every-second-skip", second, Missed::Skip)]).expect("s");
        fast_catch_up.run_due(&t.db).await.expect("register");
        fast_skip.run_due(&t.db).await.expect("register");
        let day_ago = (this_hour - chrono::Duration::days(1)).fixed_offset();
        for name in ["every-second-catch-up", "every-second-skip"] {
            agent_job_schedules::Entity::update(agent_job_schedules::ActiveModel {
                name: Set(name.to_owned()),
                next_run_at: Set(day_ago),
                ..Default::default()
            })
            .exec(&t.db)
            .await
            .expect("back-date");
        }
        let started = Instant::now();
        let caught = fast_catch_up.run_due(&t.db).await.expect("catch up");
        assert_eq!(caught.len(), agent_jobs::MAX_CATCH_UP);
        let newest = caught.last().expect("ticks").at;
        assert!(
            newest <= chrono::Utc::now()
                && newest > chrono::Utc::now() - chrono::Duration::seconds(30)
        );
        assert!(
            caught
                .windows(2)
                .all(|w| w[1].at - w[0].at == chrono::Duration::seconds(1))
        );
        assert_eq!(fast_skip.run_due(&t.db).await.expect("skip").len(), 1);
        eprintln!(
            "{:?}: caught up {} ticks in {:?}",
            t.backend,
            caught.len(),
            started.elapsed()
        );

        // Rescue as a schedule: a job whose worker went silent is taken back at the tick.
        job_rows::Entity::delete_many()
            .exec(&t.db)
            .await
            .expect("clear the scheduled jobs");
        let scope = new_scope(&t.db).await;
        let job = agent_jobs::create(&t.db, &scope, brand_job())
            .await
            .expect("job");
        let held = Worker::new(WorkerId::generate("silent"))
            .claim(&t.db)
            .await
            .expect("claim")
            .expect("a job");
        assert_eq!(held.id(), job.id);
        job_rows::Entity::update(job_rows::ActiveModel {
            id: Set(job.id),
            heartbeat_at: Set(Some((now - chrono::Duration::minutes(10)).fixed_offset())),
            ..Default::default()
        })
        .exec(&t.db)
        .await
        .expect("silence");
        let upkeep = Scheduler::new([Schedule::every(
            "rescue",
            hour,
            ScheduledWork::Rescue {
                lease: Duration::from_secs(60),
            },
        )
        .expect("schedule")])
        .expect("scheduler");
        upkeep.run_due(&t.db).await.expect("register");
        agent_job_schedules::Entity::update(agent_job_schedules::ActiveModel {
            name: Set("rescue".to_owned()),
            next_run_at: Set(this_hour.fixed_offset()),
            ..Default::default()
        })
        .exec(&t.db)
        .await
        .expect("due now");
        let ticks = upkeep.run_due(&t.db).await.expect("rescue tick");
        assert_eq!(ticks.len(), 1);
        let rescued = job_rows::Entity::find_by_id(job.id)
            .one(&t.db)
            .await
            .expect("read")
            .expect("job");
        assert_eq!(rescued.status, JobStatus::Pending);
        assert_eq!(rescued.error.as_deref(), Some(agent_jobs::RESCUED_ERROR));

        // A cron schedule ticks on its expression, in UTC.
        let nightly = Scheduler::new([Schedule::cron(
            "nightly-sync",
            "0 0 3 * * *",
            ScheduledWork::PurgeFinished {
                age: Duration::from_secs(30 * 86_400),
            },
        )
        .expect("cron")])
        .expect("scheduler");
        nightly.run_due(&t.db).await.expect("register");
        let row = agent_job_schedules::Entity::find_by_id("nightly-sync".to_owned())
            .one(&t.db)
            .await
            .expect("read")
            .expect("row");
        let at = row.next_run_at.with_timezone(&chrono::Utc);
        assert_eq!(at.format("%H:%M:%S").to_string(), "03:00:00");
        assert!(at > now && at <= now + chrono::Duration::days(1));

        // A cron schedule catches up on its own ticks: every minute, ten minutes down.
        let minutely = Scheduler::new([Schedule::cron(
            "minutely",
            "0 * * * * *",
            ScheduledWork::PurgeFinished {
                age: Duration::from_secs(86_400),
            },
        )
        .expect("cron")
        .missed(Missed::CatchUp)])
        .expect("scheduler");
        minutely.run_due(&t.db).await.expect("register");
        let now = chrono::Utc::now();
        let this_minute = now
            - chrono::Duration::seconds(now.timestamp() % 60)
            - chrono::Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos()));
        agent_job_schedules::Entity::update(agent_job_schedules::ActiveModel {
            name: Set("minutely".to_owned()),
            next_run_at: Set((this_minute - chrono::Duration::minutes(10)).fixed_offset()),
            ..Default::default()
        })
        .exec(&t.db)
        .await
        .expect("back-date");
        let ticks = minutely.run_due(&t.db).await.expect("catch up");
        // Ten minutes ago through this minute (the next minute may have begun meanwhile).
        assert!((11..=12).contains(&ticks.len()), "{} ticks", ticks.len());
        assert_eq!(
            ticks[0].at,
            (this_minute - chrono::Duration::minutes(10)).fixed_offset()
        );
        assert!(
            ticks
                .windows(2)
                .all(|w| w[1].at - w[0].at == chrono::Duration::minutes(1))
        );

        // Bad schedules are refused, naming the field.
        let job = || ScheduledWork::Job {
            owner: JobOwner::SYSTEM,
            job: brand_job(),
        };
        for (result, field) in [
            (Schedule::cron("c", "not a cron", job()).map(|_| ()), "cron"),
            (
                Schedule::every("i", Duration::ZERO, job()).map(|_| ()),
                "interval",
            ),
            (
                Schedule::every("", hour, job()).map(|_| ()),
                "agent_job_schedules.name",
            ),
            (
                Schedule::every("a\0b", hour, job()).map(|_| ()),
                "agent_job_schedules.name",
            ),
            (
                Scheduler::new([
                    Schedule::every("twice", hour, job()).expect("s"),
                    Schedule::every("twice", hour, job()).expect("s"),
                ])
                .map(|_| ()),
                "agent_job_schedules.name",
            ),
        ] {
            assert!(
                matches!(result, Err(Error::Invalid { field: f, .. }) if f == field),
                "{field}: {result:?}"
            );
        }
        assert!(matches!(
            Schedule::every("i", Duration::ZERO, job()),
            Err(Error::Invalid {
                violation: Violation::OutOfRange { .. },
                ..
            })
        ));
    }
);

backend_test!(
    async fn a_schedule_of_the_longest_interval_ticks_at_the_epoch_and_a_century_later(t: &TestDb) {
        let longest = Duration::from_micros(100 * 366 * 86_400 * 1_000_000);
        let work = || ScheduledWork::Job {
            owner: JobOwner::SYSTEM,
            job: brand_job(),
        };
        let err = Schedule::every("too-long", longest + Duration::from_micros(1), work())
            .expect_err("one microsecond past the longest interval");
        assert!(
            matches!(
                err,
                Error::Invalid {
                    field: "interval",
                    violation: Violation::OutOfRange { .. }
                }
            ),
            "{err:?}"
        );
        let century = Scheduler::new([Schedule::every("century", longest, work())
            .expect("the longest interval")
            .missed(Missed::CatchUp)])
        .expect("scheduler");
        assert!(century.run_due(&t.db).await.expect("run").is_empty());
        let epoch = chrono::DateTime::from_timestamp(0, 0).expect("epoch");
        let second_tick =
            (epoch + chrono::Duration::from_std(longest).expect("span")).fixed_offset();
        let stored = agent_job_schedules::Entity::find_by_id("century".to_owned())
            .one(&t.db)
            .await
            .expect("read")
            .expect("registered");
        assert_eq!(stored.next_run_at, second_tick, "its first tick after now");

        // Back-dated to the epoch: that one tick is due, then the next is 2070's again.
        agent_job_schedules::Entity::update(agent_job_schedules::ActiveModel {
            name: Set("century".to_owned()),
            next_run_at: Set(epoch.fixed_offset()),
            ..Default::default()
        })
        .exec(&t.db)
        .await
        .expect("back-date");
        let ticks = century.run_due(&t.db).await.expect("run");
        assert_eq!(ticks.len(), 1);
        assert_eq!(ticks[0].at, epoch.fixed_offset());
        let stored = agent_job_schedules::Entity::find_by_id("century".to_owned())
            .one(&t.db)
            .await
            .expect("read")
            .expect("registered");
        assert_eq!(stored.next_run_at, second_tick);
        assert!(century.run_due(&t.db).await.expect("run").is_empty());
    }
);

backend_test!(
    async fn a_store_at_its_cap_does_not_hold_back_another_stores_job_behind_its_backlog(
        t: &TestDb,
    ) {
        use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
        let big = new_scope(&t.db).await;
        let small = new_scope(&t.db).await;
        // 300 jobs of one merchant first, then one of another: in claim order the other
        // store's job comes after the whole backlog.
        agent_jobs::create_many(&t.db, &big, (0..300).map(|_| brand_job()))
            .await
            .expect("backlog");
        let theirs = agent_jobs::create(&t.db, &small, brand_job())
            .await
            .expect("the other store's job");
        let cap = NonZeroU32::new(2).expect("cap");
        let worker = |name: &str| Worker::new(WorkerId::generate(name)).cap_per_store(cap);

        let first = worker("cap-1")
            .claim(&t.db)
            .await
            .expect("claim")
            .expect("a job of the backlog");
        assert_eq!(first.job().store_id, Some(big.store_id()));

        // The other store's next job, once the big store is at its cap.
        let other_store_next = if t.backend != Backend::Sqlite {
            // Another claim of the big store in progress: it holds that store's gate. A claim
            // now passes over the store, through its whole backlog, to the other store's job.
            // (SQLite has no gates: its single writer serialises the claims.)
            let holding = t.db.begin().await.expect("begin");
            let gate = format!("store:{}", big.store_id());
            let sql = match t.backend {
                Backend::MySql => "SELECT gate FROM agent_job_gates WHERE gate = ? FOR UPDATE",
                _ => "SELECT gate FROM agent_job_gates WHERE gate = $1 FOR UPDATE",
            };
            let held = holding
                .query_one_raw(Statement::from_sql_and_values(
                    t.db.get_database_backend(),
                    sql,
                    [gate.into()],
                ))
                .await
                .expect("lock the gate");
            assert!(held.is_some(), "the first claim made the store's gate");
            let passed_over = worker("cap-busy")
                .claim(&t.db)
                .await
                .expect("claim")
                .expect("the other store's job");
            assert_eq!(passed_over.id(), theirs.id);
            holding.rollback().await.expect("rollback");
            passed_over
                .complete(&t.db, brand_output())
                .await
                .expect("complete");
            agent_jobs::create(&t.db, &small, brand_job())
                .await
                .expect("another job of the other store")
                .id
        } else {
            theirs.id
        };
        let second = worker("cap-2")
            .claim(&t.db)
            .await
            .expect("claim")
            .expect("the backlog's next job");
        assert_eq!(second.job().store_id, Some(big.store_id()));
        let third = worker("cap-3")
            .claim(&t.db)
            .await
            .expect("claim")
            .expect("past the store at its cap");
        assert_eq!(third.id(), other_store_next);
        // The big store at its cap, the other store's work done or running: nothing more.
        assert!(worker("cap-4").claim(&t.db).await.expect("claim").is_none());
    }
);
