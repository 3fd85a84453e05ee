use std::collections::HashMap;
use std::time::{Duration, Instant};

use domain::StoreScope;
use domain::agent_jobs::{
    self as jobs, AgentType, Backoff, BrandBrief, BrandIdentity, ClaimedJob, CopyBrief,
    FailOutcome, JobFailure, JobFilter, JobInput, JobOutput, JobOwner, JobStatus, NewJob,
    ProductSearch, ReleaseReason, RescueReport, ScoutResult, ScoutedProduct, VideoBrief, Wakeup,
    Worker, WorkerId, WorkerOptions,
};
use domain::paging::PageRequest;
use domain::{Error, Violation};
use entity::sea_orm_active_enums::SupplierProvider;
use entity::stores;
use rust_decimal::Decimal;
use sea_orm::{DatabaseConnection, EntityTrait};
use uuid::Uuid;

use super::*;

fn brief(niche: &str) -> JobInput {
    JobInput::BrandGenerator(BrandBrief {
        niche: niche.into(),
        tone: "futuristic".into(),
        store_name: None,
    })
}

fn brand_job() -> NewJob {
    NewJob::new(brief("Cyberpunk home decor"))
}

fn scout_job() -> NewJob {
    NewJob::new(JobInput::ProductScout(ProductSearch {
        provider: SupplierProvider::CjDropshipping,
        query: "neon lamp".into(),
        limit: 20,
    }))
}

fn brand_output() -> JobOutput {
    JobOutput::BrandGenerator(
        BrandIdentity::parse(
            "NeonNest",
            ["#FF00FF", "#00FFFF", "#FFFF00"],
            ["Orbitron", "Inter"],
            "futuristic",
            None,
        )
        .expect("brand identity"),
    )
}

fn worker(name: &str) -> Worker {
    Worker::new(WorkerId::generate(name))
}

async fn claim(worker: &Worker, db: &DatabaseConnection) -> ClaimedJob {
    worker
        .claim(db)
        .await
        .expect("claim")
        .expect("a runnable job")
}

/// Claims the next job once it becomes runnable (after a back-off), giving up after 10 s so
/// that a broken queue fails the test instead of hanging it.
async fn claim_when_due(worker: &Worker, db: &DatabaseConnection) -> ClaimedJob {
    for _ in 0..1_000 {
        if let Some(job) = worker.claim(db).await.expect("claim") {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no job became runnable within 10 s");
}

fn past(seconds: i64) -> chrono::DateTime<chrono::FixedOffset> {
    domain::clock::now() - chrono::Duration::seconds(seconds)
}

backend_test!(
    async fn sixteen_workers_complete_two_thousand_jobs_each_exactly_once(t: &TestDb) {
        const JOBS: usize = 2_000;
        const WORKERS: usize = 16;
        let mut config = t.config.clone();
        config.pool_size = 20;
        let db = domain::connect(&config)
            .await
            .expect("a pool for the workers");
        let scope = owner_scope(&db).await;
        let new_jobs = (0..JOBS).map(|i| {
            let priority = i32::try_from(i % 5).expect("small");
            if i % 2 == 0 {
                brand_job().priority(priority)
            } else {
                scout_job().priority(priority)
            }
        });
        let started = Instant::now();
        let ids = jobs::create_many(&db, &scope, new_jobs)
            .await
            .expect("enqueue in bulk");
        let enqueued = started.elapsed();
        assert_eq!(ids.len(), JOBS);

        let started = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..WORKERS {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let worker = worker(&format!("worker-{w}"));
                let mut done = Vec::new();
                while let Some(job) = worker.claim(&db).await.expect("claim") {
                    let output = match job.job().agent_type() {
                        AgentType::BrandGenerator => brand_output(),
                        _ => JobOutput::ProductScout(ScoutResult { products: vec![] }),
                    };
                    done.push(job.id());
                    job.complete(&db, output).await.expect("complete");
                }
                done
            }));
        }
        let mut completions: HashMap<Uuid, u32> = HashMap::new();
        for task in tasks {
            for id in task.await.expect("worker task") {
                *completions.entry(id).or_default() += 1;
            }
        }
        let worked = started.elapsed();
        eprintln!(
            "{:?}: enqueued {JOBS} jobs in {enqueued:?}; {WORKERS} workers completed them in {worked:?}",
            t.backend
        );

        assert_eq!(completions.len(), JOBS, "every job was completed");
        assert!(
            completions.values().all(|&n| n == 1),
            "no job was completed twice"
        );
        assert!(ids.iter().all(|id| completions.contains_key(id)));
        let counts = jobs::count(&db, &scope).await.expect("counts");
        assert_eq!(counts.by_status(JobStatus::Completed), JOBS as u64);
        assert_eq!(counts.total(), JOBS as u64);
        let page = jobs::list(&db, &scope, &JobFilter::default(), PageRequest::default())
            .await
            .expect("list");
        assert!(page.decoded().all(|job| job.attempts == 1));
    }
);

backend_test!(
    async fn jobs_are_claimed_by_priority_then_run_at_then_age_never_early(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        let old_low = jobs::create(db, &scope, brand_job().run_at(past(180)))
            .await
            .expect("enqueue");
        let high_later = jobs::create(db, &scope, brand_job().priority(5).run_at(past(60)))
            .await
            .expect("enqueue");
        let high_earlier = jobs::create(db, &scope, brand_job().priority(5).run_at(past(120)))
            .await
            .expect("enqueue");
        let young_low = jobs::create(db, &scope, brand_job().run_at(old_low.run_at))
            .await
            .expect("enqueue");
        let future = jobs::create(
            db,
            &scope,
            brand_job()
                .priority(100)
                .run_at(domain::clock::now() + chrono::Duration::hours(1)),
        )
        .await
        .expect("enqueue");

        let worker = worker("ordered");
        let mut order = Vec::new();
        while let Some(job) = worker.claim(db).await.expect("claim") {
            order.push(job.id());
        }
        assert_eq!(
            order,
            [high_earlier.id, high_later.id, old_low.id, young_low.id]
        );
        let waiting = jobs::get(db, &scope, future.id).await.expect("get");
        assert_eq!(waiting.status, JobStatus::Pending);
        assert_eq!(waiting.attempts, 0);
    }
);

backend_test!(
    async fn a_claim_takes_one_job_and_sets_its_holder_attempt_start_and_heartbeat(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        let queued = jobs::create(db, &scope, brand_job().priority(1))
            .await
            .expect("enqueue");
        jobs::create_many(db, &scope, [brand_job(), brand_job()])
            .await
            .expect("enqueue");
        let worker = worker("holder");
        let job = claim(&worker, db).await;
        // One claim takes one job, however the database plans the statement.
        let counts = jobs::count(db, &scope).await.expect("counts");
        assert_eq!(counts.by_status(JobStatus::Processing), 1);
        assert_eq!(counts.by_status(JobStatus::Pending), 2);
        let stored = jobs::get(db, &scope, queued.id).await.expect("get");
        assert_eq!(stored.status, JobStatus::Processing);
        assert_eq!(stored.locked_by.as_deref(), Some(worker.id().as_str()));
        assert_eq!(stored.attempts, 1);
        assert!(stored.started_at.is_some());
        assert!(stored.heartbeat_at.is_some());
        assert_eq!(&stored, job.job());
        assert_eq!(job.input(), &queued.input);
    }
);

backend_test!(
    async fn a_worker_of_some_agent_types_leaves_the_other_types_alone(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        jobs::create(db, &scope, brand_job().priority(10))
            .await
            .expect("enqueue");
        let scout = jobs::create(db, &scope, scout_job())
            .await
            .expect("enqueue");
        let scouts_only = worker("scout").only([AgentType::ProductScout]);
        let job = claim(&scouts_only, db).await;
        assert_eq!(job.id(), scout.id);
        assert!(scouts_only.claim(db).await.expect("claim").is_none());
    }
);

backend_test!(
    async fn a_job_failing_twice_then_succeeding_completes_on_attempt_three(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        let queued = jobs::create(db, &scope, brand_job().max_attempts(3))
            .await
            .expect("enqueue");
        let backoff = Backoff {
            base: Duration::from_millis(40),
            max: Duration::from_secs(10),
        };
        let worker = worker("flaky").backoff(backoff);

        let mut delays = Vec::new();
        for attempt in 1..=2 {
            let job = claim_when_due(&worker, db).await;
            assert_eq!(job.attempt(), attempt);
            let outcome = job
                .fail(db, &format!("timeout {attempt}"))
                .await
                .expect("fail");
            let FailOutcome::Retrying { delay, run_at } = outcome else {
                panic!("attempts remain: {outcome:?}");
            };
            let stored = jobs::get(db, &scope, queued.id).await.expect("get");
            assert_eq!(stored.status, JobStatus::Pending);
            assert_eq!(stored.run_at, run_at);
            assert_eq!(
                stored.error.as_deref(),
                Some(&*format!("timeout {attempt}"))
            );
            assert!(stored.locked_by.is_none());
            assert!(delay >= backoff.ceiling(attempt) / 2 && delay <= backoff.ceiling(attempt));
            delays.push(delay);
        }
        assert!(delays[1] >= delays[0], "the back-off grows: {delays:?}");

        let job = claim_when_due(&worker, db).await;
        assert_eq!(job.attempt(), 3);
        let done = job.complete(db, brand_output()).await.expect("complete");
        let stored = jobs::get(db, &scope, queued.id).await.expect("get");
        assert_eq!(stored, done);
        assert_eq!(stored.status, JobStatus::Completed);
        assert_eq!(stored.attempts, 3);
        assert_eq!(stored.progress.percent(), 100);
        assert!(stored.completed_at.is_some());
        assert_eq!(stored.output, Some(brand_output()));
    }
);

backend_test!(
    async fn a_job_failing_on_every_attempt_ends_failed_with_its_last_error(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        let queued = jobs::create(db, &scope, brand_job().max_attempts(2))
            .await
            .expect("enqueue");
        let worker = worker("doomed").backoff(Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(40),
        });
        let first = claim_when_due(&worker, db).await;
        assert!(matches!(
            first.fail(db, "rate limited").await,
            Ok(FailOutcome::Retrying { .. })
        ));
        let second = claim_when_due(&worker, db).await;
        assert!(second.is_last_attempt());
        assert_eq!(
            second.fail(db, "provider down").await.expect("fail"),
            FailOutcome::Failed
        );
        let stored = jobs::get(db, &scope, queued.id).await.expect("get");
        assert_eq!(stored.status, JobStatus::Failed);
        assert_eq!(stored.attempts, 2);
        assert_eq!(stored.error.as_deref(), Some("provider down"));
        assert!(stored.completed_at.is_some());
        assert!(worker.claim(db).await.expect("claim").is_none());
    }
);

backend_test!(
    async fn cancelling_a_processing_job_stops_its_worker_from_writing(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        let queued = jobs::create(db, &scope, brand_job())
            .await
            .expect("enqueue");
        let mut job = claim(&worker("busy"), db).await;
        job.update_progress(db, 30, Some("naming"))
            .await
            .expect("progress");

        jobs::cancel(db, &scope, queued.id).await.expect("cancel");

        let err = job
            .update_progress(db, 60, Some("colours"))
            .await
            .expect_err("cancelled");
        assert!(
            matches!(err, Error::JobReleased { job_id, reason: ReleaseReason::Cancelled } if job_id == queued.id),
            "{err:?}"
        );
        assert!(matches!(
            job.heartbeat(db).await,
            Err(Error::JobReleased {
                reason: ReleaseReason::Cancelled,
                ..
            })
        ));
        assert!(matches!(
            job.complete(db, brand_output()).await,
            Err(Error::JobReleased {
                reason: ReleaseReason::Cancelled,
                ..
            })
        ));
        let stored = jobs::get(db, &scope, queued.id).await.expect("get");
        assert_eq!(stored.status, JobStatus::Cancelled);
        assert_eq!(stored.progress.percent(), 30);
        assert_eq!(stored.current_step.as_deref(), Some("naming"));
        assert_eq!(stored.output, None);
    }
);

backend_test!(
    async fn a_pending_job_can_be_cancelled_and_is_then_never_claimed(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        let queued = jobs::create(db, &scope, brand_job())
            .await
            .expect("enqueue");
        jobs::cancel(db, &scope, queued.id).await.expect("cancel");
        assert!(worker("idle").claim(db).await.expect("claim").is_none());
        assert!(matches!(
            jobs::cancel(db, &scope, queued.id).await,
            Err(Error::InvalidTransition(domain::Transition::AgentJob {
                from: JobStatus::Cancelled,
                to: JobStatus::Cancelled,
            }))
        ));
    }
);

backend_test!(
    async fn a_job_whose_worker_stopped_heartbeating_is_rescued(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        let queued = jobs::create(db, &scope, brand_job())
            .await
            .expect("enqueue");
        let last_chance = jobs::create(db, &scope, brand_job().max_attempts(1))
            .await
            .expect("enqueue");
        let gone = worker("gone");
        let mut stale = claim(&gone, db).await;
        let stale_last = claim(&gone, db).await;
        assert_eq!(stale.id(), queued.id);
        assert_eq!(stale_last.id(), last_chance.id);

        // A fresh heartbeat is within any lease.
        let report = jobs::rescue(db, Duration::from_secs(3_600))
            .await
            .expect("rescue");
        assert_eq!(report, RescueReport::default());

        tokio::time::sleep(Duration::from_millis(5)).await;
        let report = jobs::rescue(db, Duration::ZERO).await.expect("rescue");
        assert_eq!(
            report,
            RescueReport {
                requeued: 1,
                failed: 1
            }
        );
        let requeued = jobs::get(db, &scope, queued.id).await.expect("get");
        assert_eq!(requeued.status, JobStatus::Pending);
        assert!(requeued.locked_by.is_none());
        assert_eq!(requeued.error.as_deref(), Some(jobs::RESCUED_ERROR));
        let failed = jobs::get(db, &scope, last_chance.id).await.expect("get");
        assert_eq!(failed.status, JobStatus::Failed);

        // The old handle can no longer write: the job is PENDING again …
        assert!(matches!(
            stale.update_progress(db, 50, None).await,
            Err(Error::InvalidTransition(domain::Transition::AgentJob {
                from: JobStatus::Pending,
                to: JobStatus::Processing,
            }))
        ));
        // … and once another worker holds it, the old handle learns it lost it.
        let mut fresh = claim(&worker("fresh"), db).await;
        assert_eq!(fresh.id(), queued.id);
        assert_eq!(fresh.attempt(), 2);
        assert!(matches!(
            stale.heartbeat(db).await,
            Err(Error::JobReleased {
                reason: ReleaseReason::LeaseLost,
                ..
            })
        ));
        assert!(matches!(
            stale.complete(db, brand_output()).await,
            Err(Error::JobReleased {
                reason: ReleaseReason::LeaseLost,
                ..
            })
        ));
        fresh
            .update_progress(db, 10, Some("again"))
            .await
            .expect("the new holder writes");
        assert!(matches!(
            stale_last.fail(db, "late").await,
            Err(Error::InvalidTransition(domain::Transition::AgentJob {
                from: JobStatus::Failed,
                to: JobStatus::Failed,
            }))
        ));
        let stored = jobs::get(db, &scope, queued.id).await.expect("get");
        assert_eq!(stored.status, JobStatus::Processing);
        assert_eq!(stored.progress.percent(), 10);
    }
);

backend_test!(
    async fn progress_that_goes_backwards_or_beyond_100_is_refused(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        let queued = jobs::create(db, &scope, brand_job())
            .await
            .expect("enqueue");
        let mut job = claim(&worker("reporter"), db).await;
        job.update_progress(db, 50, Some("logo"))
            .await
            .expect("progress");
        job.update_progress(db, 50, None)
            .await
            .expect("the same progress again");

        assert!(matches!(
            job.update_progress(db, 40, None).await,
            Err(Error::Invalid {
                field: "agent_jobs.progress",
                violation: Violation::Backwards { current: 50 }
            })
        ));
        assert!(matches!(
            job.update_progress(db, 101, None).await,
            Err(Error::Invalid {
                field: "agent_jobs.progress",
                violation: Violation::OutOfRange { min: 0, max: 100 }
            })
        ));
        assert!(matches!(
            job.update_progress(db, 60, Some(&"x".repeat(jobs::MAX_STEP + 1)))
                .await,
            Err(Error::Invalid {
                field: "agent_jobs.current_step",
                violation: Violation::TooLong { .. }
            })
        ));
        let stored = jobs::get(db, &scope, queued.id).await.expect("get");
        assert_eq!(stored.progress.percent(), 50);
        assert_eq!(stored.current_step.as_deref(), Some("logo"));
        assert!(stored.heartbeat_at >= job.job().started_at);
    }
);

backend_test!(
    async fn illegal_transitions_are_typed_errors(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        let brand = jobs::create(db, &scope, brand_job())
            .await
            .expect("enqueue");
        let scout = jobs::create(db, &scope, scout_job())
            .await
            .expect("enqueue");

        // Completing a PENDING job: the handle's attempt was rescued.
        let stale = claim(&worker("stale").only([AgentType::BrandGenerator]), db).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        jobs::rescue(db, Duration::ZERO).await.expect("rescue");
        assert!(matches!(
            stale.complete(db, brand_output()).await,
            Err(Error::InvalidTransition(domain::Transition::AgentJob {
                from: JobStatus::Pending,
                to: JobStatus::Completed,
            }))
        ));

        // Completing with another agent type's output.
        let scouting = claim(&worker("scout").only([AgentType::ProductScout]), db).await;
        assert_eq!(scouting.id(), scout.id);
        assert!(matches!(
            scouting.complete(db, brand_output()).await,
            Err(Error::Invalid {
                field: "agent_jobs.output",
                violation: Violation::AgentTypeMismatch {
                    expected: AgentType::ProductScout,
                    found: AgentType::BrandGenerator,
                },
            })
        ));

        // Cancelling a COMPLETED job.
        let job = claim(&worker("finisher").only([AgentType::BrandGenerator]), db).await;
        job.complete(db, brand_output()).await.expect("complete");
        assert!(matches!(
            jobs::cancel(db, &scope, brand.id).await,
            Err(Error::InvalidTransition(domain::Transition::AgentJob {
                from: JobStatus::Completed,
                to: JobStatus::Cancelled,
            }))
        ));
    }
);

backend_test!(
    async fn another_store_cannot_read_cancel_list_or_count_a_stores_jobs(t: &TestDb) {
        let db = &t.db;
        let (owner, store) = user_with_store(db).await;
        let mine = StoreScope::obtain(db, owner.id, store.id)
            .await
            .expect("scope");
        let theirs = owner_scope(db).await;
        let job = jobs::create(db, &mine, brand_job()).await.expect("enqueue");
        let system = jobs::create(db, JobOwner::SYSTEM, brand_job())
            .await
            .expect("enqueue a system job");

        // The other owner cannot even obtain a scope on the store …
        let (stranger, _) = user_with_store(db).await;
        assert!(matches!(
            StoreScope::obtain(db, stranger.id, store.id).await,
            Err(Error::NotFound {
                entity: domain::Table::Stores
            })
        ));
        // … and through their own scope the job does not exist.
        assert!(matches!(
            jobs::get(db, &theirs, job.id).await,
            Err(Error::NotFound {
                entity: domain::Table::AgentJobs
            })
        ));
        assert!(matches!(
            jobs::cancel(db, &theirs, job.id).await,
            Err(Error::NotFound {
                entity: domain::Table::AgentJobs
            })
        ));
        assert!(matches!(
            jobs::get(db, JobOwner::SYSTEM, job.id).await,
            Err(Error::NotFound {
                entity: domain::Table::AgentJobs
            })
        ));
        assert!(matches!(
            jobs::get(db, &mine, system.id).await,
            Err(Error::NotFound {
                entity: domain::Table::AgentJobs
            })
        ));
        let page = jobs::list(db, &theirs, &JobFilter::default(), PageRequest::default())
            .await
            .expect("list");
        assert!(page.items.is_empty());
        assert_eq!(jobs::count(db, &theirs).await.expect("counts").total(), 0);

        let stored = jobs::get(db, &mine, job.id)
            .await
            .expect("the owner reads it");
        assert_eq!(stored.status, JobStatus::Pending);
        assert_eq!(stored.store_id, Some(store.id));
        assert_eq!(
            jobs::get(db, JobOwner::SYSTEM, system.id)
                .await
                .expect("system job")
                .store_id,
            None
        );
    }
);

backend_test!(
    async fn deleting_a_store_leaves_its_jobs_without_a_store(t: &TestDb) {
        let db = &t.db;
        let (user, store) = user_with_store(db).await;
        let scope = StoreScope::obtain(db, user.id, store.id)
            .await
            .expect("scope");
        let job = jobs::create(db, &scope, brand_job())
            .await
            .expect("enqueue");

        stores::Entity::delete_by_id(store.id)
            .exec(db)
            .await
            .expect("delete the store");

        assert!(matches!(
            jobs::get(db, &scope, job.id).await,
            Err(Error::NotFound {
                entity: domain::Table::AgentJobs
            })
        ));
        let kept = jobs::get(db, JobOwner::SYSTEM, job.id)
            .await
            .expect("the job history stays");
        assert_eq!(kept.store_id, None);
        assert_eq!(kept.input, job.input);
    }
);

backend_test!(
    async fn inputs_are_validated_when_enqueued_and_outputs_read_back_typed(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        assert!(matches!(
            jobs::create(db, &scope, NewJob::new(brief("   "))).await,
            Err(Error::Invalid {
                field: "agent_jobs.input.niche",
                violation: Violation::Empty
            })
        ));
        let too_many = NewJob::new(JobInput::ProductScout(ProductSearch {
            provider: SupplierProvider::Aliexpress,
            query: "desk lamp".into(),
            limit: jobs::MAX_SCOUT_LIMIT + 1,
        }));
        assert!(matches!(
            jobs::create(db, &scope, too_many).await,
            Err(Error::Invalid {
                field: "agent_jobs.input.limit",
                violation: Violation::OutOfRange { min: 1, max: 100 }
            })
        ));
        let no_products = NewJob::new(JobInput::Copywriter(CopyBrief {
            product_ids: vec![],
            tone: "warm".into(),
            language: "en".into(),
        }));
        // One bad job in a batch: nothing is written.
        assert!(matches!(
            jobs::create_many(db, &scope, [brand_job(), no_products]).await,
            Err(Error::Invalid {
                field: "agent_jobs.input.product_ids",
                violation: Violation::Empty
            })
        ));
        assert!(matches!(
            jobs::create(db, &scope, brand_job().max_attempts(0)).await,
            Err(Error::Invalid {
                field: "agent_jobs.max_attempts",
                violation: Violation::OutOfRange { min: 1, .. }
            })
        ));
        assert_eq!(jobs::count(db, &scope).await.expect("counts").total(), 0);

        let video = JobInput::VideoGenerator(VideoBrief {
            product_id: Uuid::now_v7(),
            duration_seconds: 30,
            style: Some("neon night".into()),
        });
        let scout = scout_job().priority(-3).max_attempts(5);
        let queued = jobs::create_many(db, &scope, [NewJob::new(video.clone()), scout.clone()])
            .await
            .expect("enqueue valid jobs");
        let stored = jobs::get(db, &scope, queued[0]).await.expect("get");
        assert_eq!(stored.input, video);
        assert_eq!(stored.agent_type(), AgentType::VideoGenerator);
        let stored = jobs::get(db, &scope, queued[1]).await.expect("get");
        assert_eq!(stored.input, scout.input);
        assert_eq!((stored.priority, stored.max_attempts), (-3, 5));

        let found = JobOutput::ProductScout(ScoutResult {
            products: vec![ScoutedProduct {
                source_id: "cj-1".into(),
                title: "Neon lamp «Tokyo» 'night' \"edition\"".into(),
                url: "https://cj.example.com/p/1".into(),
                cost_price: Decimal::new(1_299, 2),
            }],
        });
        let job = claim(&worker("scout").only([AgentType::ProductScout]), db).await;
        job.complete(db, found.clone()).await.expect("complete");
        let stored = jobs::get(db, &scope, queued[1]).await.expect("get");
        assert_eq!(stored.output, Some(found));
    }
);

backend_test!(
    async fn the_dashboard_counts_jobs_by_status_and_type_and_lists_them_in_pages(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        jobs::create_many(
            db,
            &scope,
            [
                brand_job(),
                brand_job(),
                brand_job(),
                scout_job(),
                scout_job(),
            ],
        )
        .await
        .expect("enqueue");
        let w = worker("counter").only([AgentType::BrandGenerator]);
        claim(&w, db)
            .await
            .complete(db, brand_output())
            .await
            .expect("complete");
        let _processing = claim(&w, db).await;

        let counts = jobs::count(db, &scope).await.expect("counts");
        assert_eq!(
            counts.get(AgentType::BrandGenerator, JobStatus::Completed),
            1
        );
        assert_eq!(
            counts.get(AgentType::BrandGenerator, JobStatus::Processing),
            1
        );
        assert_eq!(counts.get(AgentType::BrandGenerator, JobStatus::Pending), 1);
        assert_eq!(counts.get(AgentType::ProductScout, JobStatus::Pending), 2);
        assert_eq!(counts.by_status(JobStatus::Pending), 3);
        assert_eq!(counts.by_type(AgentType::BrandGenerator), 3);
        assert_eq!(counts.by_type(AgentType::Copywriter), 0);
        assert_eq!(counts.total(), 5);

        let mut page_request = PageRequest::first(2);
        let mut seen = Vec::new();
        loop {
            let page = jobs::list(db, &scope, &JobFilter::default(), page_request)
                .await
                .expect("list");
            seen.extend(page.decoded().map(|job| job.id));
            match page.next {
                Some(next) => {
                    page_request = PageRequest::after(next.to_string().parse().expect("cursor"), 2);
                }
                None => break,
            }
        }
        assert_eq!(seen.len(), 5);
        assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first");
        let pending_scouts = jobs::list(
            db,
            &scope,
            &JobFilter {
                status: Some(JobStatus::Pending),
                agent_type: Some(AgentType::ProductScout),
            },
            PageRequest::default(),
        )
        .await
        .expect("list");
        assert_eq!(pending_scouts.decoded().count(), 2);
        assert!(matches!(
            jobs::list(db, &scope, &JobFilter::default(), PageRequest::first(0)).await,
            Err(Error::Invalid { field: "limit", .. })
        ));
    }
);

backend_test!(
    async fn finished_jobs_older_than_the_age_are_pruned_and_the_others_kept(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        let ids = jobs::create_many(db, &scope, [brand_job(), brand_job(), brand_job()])
            .await
            .expect("enqueue");
        let w = worker("pruner");
        claim(&w, db)
            .await
            .complete(db, brand_output())
            .await
            .expect("complete");
        jobs::cancel(db, &scope, ids[1]).await.expect("cancel");

        assert_eq!(
            jobs::purge_finished(db, Duration::from_secs(3_600))
                .await
                .expect("prune"),
            0
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(
            jobs::purge_finished(db, Duration::ZERO)
                .await
                .expect("prune"),
            2
        );
        let counts = jobs::count(db, &scope).await.expect("counts");
        assert_eq!(counts.total(), 1);
        assert_eq!(counts.by_status(JobStatus::Pending), 1);
        assert!(
            jobs::find(db, &scope, ids[2])
                .await
                .expect("find")
                .is_some()
        );
    }
);

backend_test!(
    async fn a_worker_loop_runs_jobs_stops_cancelled_work_and_shuts_down_gracefully(t: &TestDb) {
        let db = t.db.clone();
        let scope = owner_scope(&db).await;
        let brands = jobs::create_many(&db, &scope, [brand_job(), brand_job(), brand_job()])
            .await
            .expect("enqueue");
        let scout = jobs::create(&db, &scope, scout_job())
            .await
            .expect("enqueue");
        let long_video = NewJob::new(JobInput::VideoGenerator(VideoBrief {
            product_id: Uuid::now_v7(),
            duration_seconds: 60,
            style: None,
        }))
        .priority(-1);
        let video = jobs::create(&db, &scope, long_video)
            .await
            .expect("enqueue");

        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let loop_db = db.clone();
        let running = tokio::spawn(async move {
            let wakeup = Wakeup::listen(&loop_db).await.expect("wakeup");
            let options = WorkerOptions {
                poll_interval: Duration::from_millis(50),
                heartbeat_interval: Duration::from_millis(20),
            };
            worker("loop")
                .run(
                    &loop_db,
                    &wakeup,
                    &options,
                    async move {
                        let _ = stopped.await;
                    },
                    |job, db| {
                        Box::pin(async move {
                            match job.input().clone() {
                                JobInput::BrandGenerator(_) => {
                                    job.update_progress(db, 50, Some("naming")).await?;
                                    Ok(brand_output())
                                }
                                JobInput::VideoGenerator(_) => {
                                    // Rendering takes "forever"; only cancellation ends it.
                                    tokio::time::sleep(Duration::from_secs(600)).await;
                                    Err(JobFailure::retry("render timed out"))
                                }
                                _ => Err(JobFailure::permanent("no scout in this worker")),
                            }
                        })
                    },
                )
                .await
        });

        // Wait (bounded) until the video job is being worked on, then cancel it.
        let mut processing = false;
        for _ in 0..1_000 {
            let job = jobs::get(&db, &scope, video.id).await.expect("get");
            if job.status == JobStatus::Processing {
                processing = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(processing, "the loop picked up the video job");
        jobs::cancel(&db, &scope, video.id).await.expect("cancel");
        // The loop notices at its next heartbeat, drops the handler and goes idle; then it
        // is asked to stop.
        let mut idle = false;
        for _ in 0..1_000 {
            if running.is_finished() {
                break;
            }
            let counts = jobs::count(&db, &scope).await.expect("counts");
            if counts.by_status(JobStatus::Processing) == 0 {
                idle = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(idle);
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(()).expect("the loop is running");
        let stats = running.await.expect("the loop ends");

        assert_eq!(stats.completed, 3);
        assert_eq!(stats.failed, 1);
        assert_eq!(stats.released, 1);
        assert_eq!(stats.retried, 0);
        for id in brands {
            let job = jobs::get(&db, &scope, id).await.expect("get");
            assert_eq!(job.status, JobStatus::Completed);
            assert_eq!(job.output, Some(brand_output()));
        }
        let failed = jobs::get(&db, &scope, scout.id).await.expect("get");
        assert_eq!(failed.status, JobStatus::Failed);
        assert_eq!(failed.attempts, 1);
        assert_eq!(failed.error.as_deref(), Some("no scout in this worker"));
        let cancelled = jobs::get(&db, &scope, video.id).await.expect("get");
        assert_eq!(cancelled.status, JobStatus::Cancelled);
        assert_eq!(cancelled.error, None);
    }
);
