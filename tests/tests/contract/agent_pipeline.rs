//! The agent pipeline: unique jobs, dependencies, follow-ups, snooze, re-runs, batches, stats
//! and events, on every backend.

use std::collections::HashSet;
use std::time::Duration;

use domain::agent_jobs::{
    self, AgentType, BrandBrief, BrandIdentity, ClaimedJob, CopyBrief, CopyResult, GeneratedVideo,
    Graph, ImageOperation, ImageWork, JobInput, JobOutput, JobOwner, JobStatus, NewJob,
    ProcessedImage, ProcessedImages, ProductCopy, ProductSearch, RetryOptions, ScoutResult,
    UniqueKey, VideoBrief, Worker, WorkerId,
};
use domain::{Error, StoreScope, Violation};
use entity::agent_jobs as job_rows;
use entity::sea_orm_active_enums::SupplierProvider;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use super::identity;
use super::*;

pub(crate) async fn new_scope(db: &DatabaseConnection) -> StoreScope {
    let (user, store) = user_with_store(db).await;
    StoreScope::obtain(db, user.id, store.id)
        .await
        .expect("scope")
}

pub(crate) fn brand_job() -> NewJob {
    NewJob::new(JobInput::BrandGenerator(BrandBrief {
        niche: "Cyberpunk home decor".into(),
        tone: "futuristic".into(),
        store_name: None,
    }))
}

pub(crate) fn brand_output() -> JobOutput {
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

fn scout_job() -> NewJob {
    NewJob::new(JobInput::ProductScout(ProductSearch {
        provider: SupplierProvider::CjDropshipping,
        query: "neon lamp".into(),
        limit: 20,
    }))
}

fn copy_job(product: Uuid) -> NewJob {
    NewJob::new(JobInput::Copywriter(CopyBrief {
        product_ids: vec![product],
        tone: "futuristic".into(),
        language: "en".into(),
    }))
}

fn copy_output(product: Uuid) -> JobOutput {
    JobOutput::Copywriter(CopyResult {
        products: vec![ProductCopy {
            product_id: product,
            title: "Neon lamp".into(),
            description: "Glows.".into(),
            meta_title: None,
            meta_description: None,
        }],
    })
}

fn image_job(product: Uuid) -> NewJob {
    NewJob::new(JobInput::ImageProcessor(ImageWork {
        source_urls: vec![format!("https://cdn.example.com/{product}.jpg")],
        operations: vec![ImageOperation::RemoveBackground],
    }))
}

fn video_job(product: Uuid) -> NewJob {
    NewJob::new(JobInput::VideoGenerator(VideoBrief {
        product_id: product,
        duration_seconds: 15,
        style: None,
    }))
}

fn video_output() -> JobOutput {
    JobOutput::VideoGenerator(GeneratedVideo {
        url: "https://cdn.example.com/v.mp4".into(),
        duration_seconds: 15,
    })
}

fn key(text: &str) -> UniqueKey {
    UniqueKey::parse(text).expect("unique key")
}

fn worker(name: &str) -> Worker {
    Worker::new(WorkerId::generate(name))
}

async fn row(db: &DatabaseConnection, id: Uuid) -> job_rows::Model {
    job_rows::Entity::find_by_id(id)
        .one(db)
        .await
        .expect("read")
        .expect("job")
}

/// The ids a worker can claim now (claimed and put back by cancelling nothing: each claim is
/// completed by the caller).
async fn claim_all(worker: &Worker, db: &DatabaseConnection) -> Vec<ClaimedJob> {
    let mut claimed = Vec::new();
    while let Some(job) = worker.claim(db).await.expect("claim") {
        claimed.push(job);
    }
    claimed
}

fn output_for(job: &ClaimedJob) -> JobOutput {
    match job.input() {
        JobInput::BrandGenerator(_) => brand_output(),
        JobInput::Copywriter(brief) => copy_output(brief.product_ids[0]),
        JobInput::VideoGenerator(_) => video_output(),
        JobInput::ImageProcessor(work) => JobOutput::ImageProcessor(ProcessedImages {
            images: work
                .source_urls
                .iter()
                .map(|url| ProcessedImage {
                    source_url: url.clone(),
                    processed_url: url.replace(".jpg", "-clean.png"),
                })
                .collect(),
        }),
        JobInput::ProductScout(_) => JobOutput::ProductScout(ScoutResult { products: vec![] }),
    }
}

backend_test!(
    async fn eight_concurrent_creates_of_one_unique_key_make_one_job(t: &TestDb) {
        let scope = new_scope(&t.db).await;
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let db = t.db.clone();
                tokio::spawn(async move {
                    agent_jobs::create(&db, &scope, brand_job().unique(key("brand:first-run")))
                        .await
                        .expect("create")
                        .id
                })
            })
            .collect();
        let mut ids = HashSet::new();
        for handle in handles {
            ids.insert(handle.await.expect("task"));
        }
        assert_eq!(ids.len(), 1, "every caller got the one job");
        let stored = job_rows::Entity::find()
            .filter(job_rows::Column::UniqueKey.eq("brand:first-run"))
            .count(&t.db)
            .await
            .expect("count");
        assert_eq!(stored, 1);

        // The key is per owner: another store and the system each get their own job.
        let other = new_scope(&t.db).await;
        let theirs = agent_jobs::create(&t.db, &other, brand_job().unique(key("brand:first-run")))
            .await
            .expect("other store");
        let system = agent_jobs::create(
            &t.db,
            JobOwner::SYSTEM,
            brand_job().unique(key("brand:first-run")),
        )
        .await
        .expect("system");
        let system_again = agent_jobs::create(
            &t.db,
            JobOwner::SYSTEM,
            brand_job().unique(key("brand:first-run")),
        )
        .await
        .expect("system again");
        assert!(!ids.contains(&theirs.id) && !ids.contains(&system.id));
        assert_eq!(
            system.id, system_again.id,
            "system jobs share one namespace"
        );

        // Once the job finishes, the key is free again.
        let first = *ids.iter().next().expect("one");
        let claimed = worker("unique")
            .only([AgentType::BrandGenerator])
            .claim(&t.db)
            .await
            .expect("claim")
            .expect("job");
        assert_eq!(claimed.job().unique_key.as_deref(), Some("brand:first-run"));
        // Still held while PROCESSING.
        let while_running =
            agent_jobs::create(&t.db, &scope, brand_job().unique(key("brand:first-run")))
                .await
                .expect("while running");
        assert_eq!(while_running.id, claimed.id());
        let done_id = claimed.id();
        claimed
            .complete(&t.db, brand_output())
            .await
            .expect("complete");
        let next = agent_jobs::create(&t.db, &scope, brand_job().unique(key("brand:first-run")))
            .await
            .expect("after completion");
        assert_ne!(next.id, done_id);
        assert!(ids.contains(&done_id) || done_id == first);
    }
);

backend_test!(
    async fn look_alike_keys_are_different_keys_on_every_backend(t: &TestDb) {
        let scope = new_scope(&t.db).await;
        let keys = [
            "sync",
            "Sync",
            "SYNC",
            "sÿnc",
            "café",
            "cafe\u{301}",
            "ｓｙｎｃ",
            "ѕync", // Cyrillic dze
            "sync-",
        ];
        let mut ids = HashSet::new();
        for text in keys {
            let job = agent_jobs::create(&t.db, &scope, brand_job().unique(key(text)))
                .await
                .expect("create");
            assert_eq!(job.unique_key.as_deref(), Some(text));
            let read = agent_jobs::get(&t.db, &scope, job.id).await.expect("get");
            assert_eq!(
                read.unique_key.as_deref(),
                Some(text),
                "reads back as given"
            );
            ids.insert(job.id);
        }
        assert_eq!(ids.len(), keys.len(), "no two look-alike keys collided");

        // The limits of a key, refused before anything is written.
        let longest = "k".repeat(agent_jobs::MAX_UNIQUE_KEY);
        let job = agent_jobs::create(&t.db, &scope, brand_job().unique(key(&longest)))
            .await
            .expect("the longest key");
        assert_eq!(job.unique_key.as_deref(), Some(longest.as_str()));
        for (bad, violation) in [
            (
                "k".repeat(agent_jobs::MAX_UNIQUE_KEY + 1),
                Violation::TooLong {
                    max: agent_jobs::MAX_UNIQUE_KEY,
                },
            ),
            ("".into(), Violation::Empty),
            ("  ".into(), Violation::Empty),
            ("a\0b".into(), Violation::ControlCharacter),
            ("a\nb".into(), Violation::ControlCharacter),
            ("sync ".into(), Violation::Format),
        ] {
            let err = UniqueKey::parse(bad.clone()).expect_err("refused");
            assert!(
                matches!(err, Error::Invalid { field: "agent_jobs.unique_key", violation: v } if v == violation),
                "{bad:?}: {err:?}"
            );
        }
    }
);

backend_test!(
    async fn a_dependant_runs_only_after_every_parent_completed(t: &TestDb) {
        let scope = new_scope(&t.db).await;
        let product = Uuid::now_v7();
        let mut graph = Graph::new();
        let a = graph.add(brand_job());
        let b = graph.add(copy_job(product));
        graph.add_after(video_job(product), &[a, b]);
        let jobs = agent_jobs::create_graph(&t.db, &scope, graph)
            .await
            .expect("graph");
        assert_eq!(jobs.len(), 3);
        let finale = jobs[2].id;
        assert_eq!(jobs[2].waiting_for, 2);

        let w = worker("deps");
        let first = claim_all(&w, &t.db).await;
        let claimed: HashSet<Uuid> = first.iter().map(ClaimedJob::id).collect();
        assert_eq!(
            claimed,
            HashSet::from([jobs[0].id, jobs[1].id]),
            "the finale waits"
        );
        let mut first = first.into_iter();
        let one = first.next().expect("one");
        let output = output_for(&one);
        one.complete(&t.db, output).await.expect("complete one");
        assert!(
            w.claim(&t.db).await.expect("claim").is_none(),
            "one parent is not enough"
        );
        assert_eq!(row(&t.db, finale).await.waiting_for, 1);
        let two = first.next().expect("two");
        let output = output_for(&two);
        two.complete(&t.db, output).await.expect("complete two");
        let last = w
            .claim(&t.db)
            .await
            .expect("claim")
            .expect("the finale is runnable");
        assert_eq!(last.id(), finale);
        let parents = last.list_parents(&t.db).await.expect("parents");
        assert_eq!(parents.len(), 2);
        assert!(
            parents
                .iter()
                .all(|p| p.status == JobStatus::Completed && p.output.is_some())
        );

        // A job may wait for existing jobs too, of its own owner only.
        let parent = agent_jobs::create(&t.db, &scope, brand_job())
            .await
            .expect("parent");
        let child = agent_jobs::create(&t.db, &scope, copy_job(product).after([parent.id]))
            .await
            .expect("child");
        assert_eq!(child.waiting_for, 1);
        let other = new_scope(&t.db).await;
        assert!(matches!(
            agent_jobs::create(&t.db, &other, copy_job(product).after([parent.id])).await,
            Err(Error::NotFound {
                entity: domain::Table::AgentJobs
            })
        ));
        // A parent that is COMPLETED already does not hold the child back.
        let done = agent_jobs::create(&t.db, &scope, copy_job(product).after([jobs[0].id]))
            .await
            .expect("after a completed job");
        assert_eq!(done.waiting_for, 0);
    }
);

backend_test!(
    async fn a_parent_failure_cancels_dependants_and_a_rerun_revives_them_only_when_asked(
        t: &TestDb,
    ) {
        let scope = new_scope(&t.db).await;
        let product = Uuid::now_v7();
        let chain = |graph: &mut Graph| {
            let a = graph.add(brand_job().max_attempts(1));
            let b = graph.add_after(copy_job(product), &[a]);
            graph.add_after(video_job(product), &[b]);
        };
        let mut graph = Graph::new();
        chain(&mut graph);
        let jobs = agent_jobs::create_graph(&t.db, &scope, graph)
            .await
            .expect("graph");
        let (a, b, c) = (jobs[0].id, jobs[1].id, jobs[2].id);

        let w = worker("fail").only([AgentType::BrandGenerator]);
        let claimed = w.claim(&t.db).await.expect("claim").expect("a");
        claimed
            .fail(&t.db, "the provider is down")
            .await
            .expect("fail");
        let b_row = row(&t.db, b).await;
        assert_eq!(b_row.status, JobStatus::Cancelled);
        assert_eq!(b_row.cancelled_by, Some(a));
        let reason = b_row.error.expect("a reason");
        assert!(reason.starts_with(agent_jobs::DEPENDENCY_ENDED), "{reason}");
        assert!(
            reason.contains(&a.to_string()) && reason.ends_with("failed"),
            "{reason}"
        );
        let c_row = row(&t.db, c).await;
        assert_eq!(c_row.status, JobStatus::Cancelled);
        assert_eq!(c_row.cancelled_by, Some(b));
        assert!(c_row.error.expect("reason").ends_with("was cancelled"));

        // Running the parent again leaves its dependants cancelled.
        agent_jobs::retry(&t.db, &scope, a).await.expect("retry");
        assert_eq!(row(&t.db, a).await.status, JobStatus::Pending);
        assert_eq!(row(&t.db, b).await.status, JobStatus::Cancelled);
        assert_eq!(row(&t.db, c).await.status, JobStatus::Cancelled);
        let claimed = w.claim(&t.db).await.expect("claim").expect("a again");
        assert_eq!(claimed.attempt(), 2, "its history is kept");
        claimed
            .complete(&t.db, brand_output())
            .await
            .expect("complete");
        assert!(worker("any").claim(&t.db).await.expect("claim").is_none());

        // Unless asked: the dependants come back, waiting again.
        let mut graph = Graph::new();
        chain(&mut graph);
        let jobs = agent_jobs::create_graph(&t.db, &scope, graph)
            .await
            .expect("graph");
        let (a, b, c) = (jobs[0].id, jobs[1].id, jobs[2].id);
        let claimed = w.claim(&t.db).await.expect("claim").expect("a");
        claimed
            .fail_permanently(&t.db, "bad brief")
            .await
            .expect("fail");
        let revived = agent_jobs::retry_with(
            &t.db,
            &scope,
            a,
            RetryOptions {
                dependants: true,
                ..RetryOptions::default()
            },
        )
        .await
        .expect("retry with dependants");
        assert_eq!(revived, 2);
        let b_row = row(&t.db, b).await;
        assert_eq!(
            (b_row.status, b_row.waiting_for, b_row.cancelled_by),
            (JobStatus::Pending, 1, None)
        );
        assert_eq!(row(&t.db, c).await.waiting_for, 1);
        let claimed = w.claim(&t.db).await.expect("claim").expect("a");
        claimed
            .complete(&t.db, brand_output())
            .await
            .expect("complete");
        let any = worker("any");
        let next = any.claim(&t.db).await.expect("claim").expect("b");
        assert_eq!(next.id(), b);
        next.complete(&t.db, copy_output(product)).await.expect("b");
        let next = any.claim(&t.db).await.expect("claim").expect("c");
        assert_eq!(next.id(), c);

        // Cancelling a parent cancels its dependants too, with that reason.
        let parent = agent_jobs::create(&t.db, &scope, brand_job())
            .await
            .expect("parent");
        let child = agent_jobs::create(&t.db, &scope, copy_job(product).after([parent.id]))
            .await
            .expect("child");
        agent_jobs::cancel(&t.db, &scope, parent.id)
            .await
            .expect("cancel");
        let child = row(&t.db, child.id).await;
        assert_eq!(child.status, JobStatus::Cancelled);
        assert!(child.error.expect("reason").ends_with("was cancelled"));
        // And a job created after a parent that failed is cancelled at once.
        let late = agent_jobs::create(&t.db, &scope, copy_job(product).after([parent.id]))
            .await
            .expect("late child");
        assert_eq!(
            (late.status, late.cancelled_by),
            (JobStatus::Cancelled, Some(parent.id))
        );
    }
);

backend_test!(
    async fn the_store_building_chain_fans_out_on_the_scouts_products_and_fans_in(t: &TestDb) {
        let scope = new_scope(&t.db).await;
        let showcase = Uuid::now_v7();
        let mut graph = Graph::new();
        let brand = graph.add(brand_job());
        let scout = graph.add_after(scout_job(), &[brand]);
        graph.add_after(video_job(showcase), &[scout]);
        let jobs = agent_jobs::create_graph(&t.db, &scope, graph)
            .await
            .expect("graph");
        let finale = jobs[2].id;

        let w = worker("chain");
        let b = w.claim(&t.db).await.expect("claim").expect("brand");
        assert_eq!(b.id(), jobs[0].id);
        b.complete(&t.db, brand_output()).await.expect("brand");
        let mut s = w.claim(&t.db).await.expect("claim").expect("scout");
        assert_eq!(s.id(), jobs[1].id);
        // The scout imported three products: one copywriter job each and an image processor
        // for each one's images, between it and the finale.
        let products: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        for product in &products {
            s.add_follow_up(copy_job(*product)).expect("follow-up");
            s.add_follow_up(image_job(*product)).expect("follow-up");
        }
        assert_eq!(s.follow_ups(), 6);
        s.complete(
            &t.db,
            JobOutput::ProductScout(ScoutResult { products: vec![] }),
        )
        .await
        .expect("scout");
        assert_eq!(row(&t.db, finale).await.waiting_for, 6);
        let copies = claim_all(&w, &t.db).await;
        assert_eq!(
            copies.len(),
            6,
            "the finale waits for the copywriters and images"
        );
        for copy in copies {
            let output = output_for(&copy);
            copy.complete(&t.db, output).await.expect("copy");
        }
        let last = w.claim(&t.db).await.expect("claim").expect("finale");
        assert_eq!(last.id(), finale);
        let parents = last.list_parents(&t.db).await.expect("parents");
        assert_eq!(parents.len(), 7, "the scout and its six follow-ups");
        let copied: HashSet<Uuid> = parents
            .iter()
            .filter_map(|p| match &p.output {
                Some(JobOutput::Copywriter(copy)) => Some(copy.products[0].product_id),
                _ => None,
            })
            .collect();
        assert_eq!(
            copied,
            products.iter().copied().collect(),
            "the finale reads every copy"
        );

        // A scout that fails instead creates no follow-up, and the finale is cancelled.
        let mut graph = Graph::new();
        let scout = graph.add(scout_job().max_attempts(1));
        graph.add_after(video_job(showcase), &[scout]);
        let jobs = agent_jobs::create_graph(&t.db, &scope, graph)
            .await
            .expect("graph");
        let mut s = w.claim(&t.db).await.expect("claim").expect("scout");
        s.add_follow_up(copy_job(products[0])).expect("follow-up");
        s.fail(&t.db, "supplier unreachable").await.expect("fail");
        assert_eq!(row(&t.db, jobs[1].id).await.status, JobStatus::Cancelled);
        assert!(
            w.claim(&t.db).await.expect("claim").is_none(),
            "no follow-up was created"
        );
    }
);

backend_test!(
    async fn snooze_defers_a_job_without_using_an_attempt(t: &TestDb) {
        let scope = new_scope(&t.db).await;
        let job = agent_jobs::create(
            &t.db,
            &scope,
            brand_job().max_attempts(1).unique(key("snoozy")),
        )
        .await
        .expect("create");
        let w = worker("snooze");
        let claimed = w.claim(&t.db).await.expect("claim").expect("job");
        assert_eq!(claimed.attempt(), 1);
        let run_at = claimed
            .snooze(&t.db, Duration::from_millis(300))
            .await
            .expect("snooze");
        let stored = row(&t.db, job.id).await;
        assert_eq!((stored.status, stored.attempts), (JobStatus::Pending, 0));
        assert_eq!(stored.run_at, run_at);
        assert!(
            w.claim(&t.db).await.expect("claim").is_none(),
            "not before its time"
        );
        // The key stays held while it sleeps.
        let same = agent_jobs::create(&t.db, &scope, brand_job().unique(key("snoozy")))
            .await
            .expect("same key");
        assert_eq!(same.id, job.id);
        tokio::time::sleep(Duration::from_millis(400)).await;
        let again = w.claim(&t.db).await.expect("claim").expect("due again");
        assert_eq!(again.attempt(), 1, "the snooze used no attempt");
        assert!(again.is_last_attempt());
        // A snooze past year 9999 is refused and changes nothing.
        let err = again
            .snooze(&t.db, Duration::from_secs(u64::MAX / 4))
            .await
            .expect_err("too far");
        assert!(
            matches!(err, Error::Invalid { field: "delay", .. }),
            "{err:?}"
        );
        assert_eq!(row(&t.db, job.id).await.status, JobStatus::Processing);
    }
);

backend_test!(
    async fn a_batch_claim_takes_n_jobs_once_and_a_batch_complete_completes_them(t: &TestDb) {
        let scope = new_scope(&t.db).await;
        let created = agent_jobs::create_many(&t.db, &scope, (0..60).map(|_| brand_job()))
            .await
            .expect("create");
        // 8 workers at once, 10 each per call, until nothing is left: no job twice.
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let db = t.db.clone();
                tokio::spawn(async move {
                    let w = worker(&format!("batch-{i}"));
                    let mut mine = Vec::new();
                    loop {
                        let batch = w.claim_many(&db, 10).await.expect("claim many");
                        if batch.is_empty() {
                            break;
                        }
                        assert!(batch.len() <= 10);
                        mine.extend(batch);
                    }
                    mine
                })
            })
            .collect();
        let mut claimed = Vec::new();
        for handle in handles {
            claimed.extend(handle.await.expect("task"));
        }
        let ids: HashSet<Uuid> = claimed.iter().map(ClaimedJob::id).collect();
        assert_eq!(ids.len(), claimed.len(), "no job was claimed twice");
        assert_eq!(ids, created.iter().copied().collect::<HashSet<_>>());

        // One job is cancelled under its worker: the batch completes the others and says why
        // not that one.
        let lost = claimed[0].id();
        agent_jobs::cancel(&t.db, &scope, lost)
            .await
            .expect("cancel");
        let results = agent_jobs::complete_many(
            &t.db,
            claimed
                .into_iter()
                .map(|job| (job, brand_output()))
                .collect(),
        )
        .await
        .expect("complete many");
        assert_eq!(results.len(), 60);
        assert!(matches!(results[0], Err(Error::JobReleased { job_id, .. }) if job_id == lost));
        assert!(
            results[1..]
                .iter()
                .all(|r| matches!(r, Ok(job) if job.status == JobStatus::Completed))
        );
        let completed = job_rows::Entity::find()
            .filter(job_rows::Column::Status.eq(JobStatus::Completed))
            .count(&t.db)
            .await
            .expect("count");
        assert_eq!(completed, 59);

        for limit in [0, agent_jobs::MAX_BATCH + 1] {
            let err = worker("w")
                .claim_many(&t.db, limit)
                .await
                .expect_err("limit");
            assert!(
                matches!(err, Error::Invalid { field: "limit", .. }),
                "{err:?}"
            );
        }
    }
);

backend_test!(
    async fn stats_and_events_tell_throughput_latency_and_attempts(t: &TestDb) {
        let logs = identity::captured_logs();
        let scope = new_scope(&t.db).await;
        for _ in 0..5 {
            agent_jobs::create(&t.db, &scope, brand_job())
                .await
                .expect("create");
        }
        let w = worker("stats");
        let mut ids = Vec::new();
        for job in claim_all(&w, &t.db).await {
            ids.push(job.id());
            job.complete(&t.db, brand_output()).await.expect("complete");
        }
        let stats = agent_jobs::stats(&t.db, Duration::from_secs(3_600))
            .await
            .expect("stats");
        assert_eq!(stats.completed, 5);
        assert!(stats.throughput_per_second > 0.0);
        assert!(stats.queue_latency.p50.is_some() && stats.run_time.max.is_some());
        assert!(stats.queue_latency.p50 <= stats.queue_latency.p95);
        assert!(stats.queue_latency.p95 <= stats.queue_latency.max);
        assert!(matches!(
            agent_jobs::stats(&t.db, Duration::from_secs(u64::MAX / 4)).await,
            Err(Error::Invalid {
                field: "window",
                ..
            })
        ));

        let text = String::from_utf8_lossy(&logs.lock().expect("logs")).into_owned();
        for id in ids {
            let claimed = text
                .lines()
                .find(|l| l.contains("event=\"job_claimed\"") && l.contains(&id.to_string()))
                .unwrap_or_else(|| panic!("no job_claimed event for {id}"));
            assert!(
                claimed.contains("queue_latency_ms=") && claimed.contains("attempt=1"),
                "{claimed}"
            );
            assert!(claimed.contains("agent_type=BRAND_GENERATOR"), "{claimed}");
            let done = text
                .lines()
                .find(|l| l.contains("event=\"job_completed\"") && l.contains(&id.to_string()))
                .unwrap_or_else(|| panic!("no job_completed event for {id}"));
            assert!(done.contains("run_time_ms="), "{done}");
        }
    }
);

backend_test!(
    async fn random_unique_keys_that_are_accepted_read_back_equal_and_never_merge(t: &TestDb) {
        use proptest::prelude::*;
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;

        let scope = new_scope(&t.db).await;
        let chars = prop_oneof![
            100 => Just('a'), 30 => Just('A'), 20 => Just(' '), 20 => Just('é'),
            10 => Just('e'), 10 => Just('\u{301}'), 10 => Just('ｓ'), 10 => Just('ѕ'),
            5 => Just('\u{1F600}'), 1 => Just('\0'), 1 => Just('\t'), 5 => Just('ß'),
            5 => Just('\u{3000}'), 5 => Just('\u{200b}'),
        ];
        // Mostly short keys, sometimes around the limit (255 characters).
        let text = prop_oneof![
            4 => proptest::collection::vec(chars.clone(), 0..40),
            1 => proptest::collection::vec(chars, 250..260),
        ]
        .prop_map(|c| c.into_iter().collect::<String>());
        let mut runner = TestRunner::deterministic();
        let mut by_key: std::collections::HashMap<String, Uuid> = Default::default();
        let mut accepted = 0;
        for _ in 0..64 {
            let input = text.new_tree(&mut runner).expect("value").current();
            let Ok(parsed) = UniqueKey::parse(input.clone()) else {
                continue;
            };
            // An accepted key is exactly the input, and parses to itself again.
            assert_eq!(parsed.as_str(), input);
            assert_eq!(UniqueKey::parse(parsed.as_str()).expect("again"), parsed);
            accepted += 1;
            let job = agent_jobs::create(&t.db, &scope, brand_job().unique(parsed))
                .await
                .expect("create");
            let read = agent_jobs::get(&t.db, &scope, job.id).await.expect("get");
            assert_eq!(read.unique_key.as_deref(), Some(input.as_str()));
            // The same key gives the same job; a different key never does.
            let known = *by_key.entry(input.clone()).or_insert(job.id);
            assert_eq!(known, job.id, "{input:?}");
        }
        let distinct: HashSet<&Uuid> = by_key.values().collect();
        assert_eq!(distinct.len(), by_key.len(), "two keys shared a job");
        assert!(
            accepted > 10,
            "the generator must produce valid keys ({accepted})"
        );
    }
);

/// A job that starts waiting for a running job while that job completes: the new edge is
/// committed after the completion began (it waits for the row lock the edge's transaction
/// holds). Whichever way the completion goes (one statement on Postgres, a transaction
/// elsewhere), the new dependant is counted down and runs; none is left waiting for ever.
async fn dependant_added_while_the_parent_completes(t: &TestDb, had_dependants: bool) {
    use sea_orm::TransactionTrait;
    let scope = new_scope(&t.db).await;
    let parent = agent_jobs::create(&t.db, &scope, scout_job())
        .await
        .expect("parent");
    let mut children = Vec::new();
    if had_dependants {
        let first = agent_jobs::create(&t.db, &scope, copy_job(Uuid::now_v7()).after([parent.id]))
            .await
            .expect("first dependant");
        children.push(first.id);
    }
    let claimed = worker("racing")
        .only([AgentType::ProductScout])
        .claim(&t.db)
        .await
        .expect("claim")
        .expect("the parent");
    assert_eq!(claimed.id(), parent.id);

    // The edge's transaction locks the parent and adds the dependant, then holds on.
    let txn = t.db.begin().await.expect("begin");
    let late = agent_jobs::create(&txn, &scope, copy_job(Uuid::now_v7()).after([parent.id]))
        .await
        .expect("late dependant");
    assert_eq!(late.status, JobStatus::Pending);
    children.push(late.id);
    let db = t.db.clone();
    let completing = tokio::spawn(async move {
        claimed
            .complete(
                &db,
                JobOutput::ProductScout(ScoutResult { products: vec![] }),
            )
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    txn.commit().await.expect("commit");
    let completed = completing.await.expect("task").expect("complete");
    assert_eq!(completed.status, JobStatus::Completed);

    for child in &children {
        let stored = row(&t.db, *child).await;
        assert_eq!(
            (stored.status, stored.waiting_for),
            (JobStatus::Pending, 0),
            "dependant {child} waits for nothing once its parent completed"
        );
        assert!(
            stored.updated_at > stored.created_at,
            "the count-down of {child} is its last change"
        );
    }
    let runnable: HashSet<Uuid> = claim_all(&worker("after").only([AgentType::Copywriter]), &t.db)
        .await
        .iter()
        .map(ClaimedJob::id)
        .collect();
    assert_eq!(runnable, children.iter().copied().collect::<HashSet<_>>());
}

backend_test!(
    async fn a_dependant_added_while_its_parent_completes_runs(t: &TestDb) {
        dependant_added_while_the_parent_completes(t, true).await;
    }
);

backend_test!(
    async fn a_first_dependant_added_while_its_parent_completes_runs(t: &TestDb) {
        dependant_added_while_the_parent_completes(t, false).await;
    }
);

backend_test!(
    async fn a_rerun_that_would_overflow_the_attempt_count_is_refused_and_changes_nothing(
        t: &TestDb,
    ) {
        use sea_orm::sea_query::Expr;
        let scope = new_scope(&t.db).await;
        let job = agent_jobs::create(&t.db, &scope, brand_job())
            .await
            .expect("create");
        let claimed = worker("overflow")
            .claim(&t.db)
            .await
            .expect("claim")
            .expect("the job");
        claimed.fail_permanently(&t.db, "boom").await.expect("fail");
        // An attempt count near the top of i32, written by other means.
        job_rows::Entity::update_many()
            .col_expr(job_rows::Column::Attempts, Expr::value(i32::MAX - 2))
            .col_expr(job_rows::Column::MaxAttempts, Expr::value(i32::MAX - 2))
            .filter(job_rows::Column::Id.eq(job.id))
            .exec(&t.db)
            .await
            .expect("write attempts");
        let before = row(&t.db, job.id).await;
        let options = |attempts| RetryOptions {
            attempts,
            dependants: false,
        };
        let err = agent_jobs::retry_with(&t.db, &scope, job.id, options(3))
            .await
            .expect_err("i32::MAX - 2 + 3 overflows");
        assert!(
            matches!(
                err,
                Error::Invalid {
                    field: "attempts",
                    violation: Violation::OutOfRange { .. }
                }
            ),
            "{err:?}"
        );
        assert_eq!(row(&t.db, job.id).await, before, "nothing written");

        // Up to i32::MAX exactly: the job runs again, and its last attempt is i32::MAX.
        agent_jobs::retry_with(&t.db, &scope, job.id, options(2))
            .await
            .expect("to i32::MAX");
        let stored = row(&t.db, job.id).await;
        assert_eq!(
            (stored.status, stored.attempts, stored.max_attempts),
            (JobStatus::Pending, i32::MAX - 2, i32::MAX)
        );
        let again = worker("overflow")
            .claim(&t.db)
            .await
            .expect("claim")
            .expect("the job again");
        assert_eq!(again.attempt(), i32::MAX - 1);
        assert!(!again.is_last_attempt());
    }
);

backend_test!(
    async fn eight_parents_completed_at_once_count_their_shared_dependant_down_to_zero(t: &TestDb) {
        let scope = new_scope(&t.db).await;
        let mut graph = Graph::new();
        let parents: Vec<_> = (0..8).map(|_| graph.add(scout_job())).collect();
        graph.add_after(video_job(Uuid::now_v7()), &parents);
        let created = agent_jobs::create_graph(&t.db, &scope, graph)
            .await
            .expect("graph");
        let final_job = created.last().expect("the final job").id;
        let claimed = claim_all(&worker("fan-in").only([AgentType::ProductScout]), &t.db).await;
        assert_eq!(claimed.len(), 8, "every parent runnable, the final job not");

        // The eight completions race on the one row they all count down.
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(8));
        let handles: Vec<_> = claimed
            .into_iter()
            .map(|job| {
                let db = t.db.clone();
                let barrier = std::sync::Arc::clone(&barrier);
                tokio::spawn(async move {
                    let output = output_for(&job);
                    barrier.wait().await;
                    job.complete(&db, output).await
                })
            })
            .collect();
        for handle in handles {
            let done = handle.await.expect("task").expect("complete");
            assert_eq!(done.status, JobStatus::Completed);
        }
        let stored = row(&t.db, final_job).await;
        assert_eq!((stored.status, stored.waiting_for), (JobStatus::Pending, 0));
        let runnable = claim_all(&worker("final"), &t.db).await;
        assert_eq!(
            runnable.iter().map(ClaimedJob::id).collect::<Vec<_>>(),
            [final_job],
            "the final job runs once every parent completed, and only it"
        );
        assert_eq!(
            runnable[0]
                .list_parents(&t.db)
                .await
                .expect("parents")
                .len(),
            8
        );
    }
);
