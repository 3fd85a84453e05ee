//! The agent job queue as an adversary tries it: random typed payloads stored and read back
//! through `domain`, payloads at and over their size limit, NUL and control characters,
//! times and counters at their limits, a row whose payload does not read, and read-then-write
//! paths under eight concurrent callers. Every test runs on SQLite, Postgres and MariaDB and
//! expects the same answers on each.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use domain::StoreScope;
use domain::agent_jobs::{
    self as jobs, AgentType, BrandBrief, BrandIdentity, CopyBrief, CopyResult, GeneratedVideo,
    ImageOperation, ImageWork, JobFilter, JobInput, JobOutput, JobStatus, MAX_ATTEMPTS,
    MAX_DESCRIPTION, MAX_PAYLOAD_BYTES, NewJob, ProcessedImage, ProcessedImages, ProductCopy,
    ProductSearch, ScoutResult, ScoutedProduct, VideoBrief, Wakeup, Worker, WorkerId,
    WorkerOptions,
};
use domain::paging::{MAX_PAGE_SIZE, PageRequest};
use domain::{Error, Table, Violation};
use entity::agent_jobs as job_rows;
use entity::sea_orm_active_enums::SupplierProvider;
use proptest::prelude::*;
use rust_decimal::Decimal;
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};
use uuid::Uuid;

use super::identity_hardening::{edgy, samples};
use super::*;

async fn store_scope(db: &DatabaseConnection) -> StoreScope {
    let (user, store) = user_with_store(db).await;
    StoreScope::obtain(db, user.id, store.id)
        .await
        .expect("the owner obtains the scope")
}

fn brief(niche: &str) -> JobInput {
    JobInput::BrandGenerator(BrandBrief {
        niche: niche.into(),
        tone: "futuristic".into(),
        store_name: None,
    })
}

fn invalid<T: std::fmt::Debug>(result: domain::Result<T>) -> (&'static str, Violation) {
    match result {
        Err(Error::Invalid { field, violation }) => (field, violation),
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
}

async fn job_count(db: &DatabaseConnection) -> u64 {
    job_rows::Entity::find().count(db).await.expect("count")
}

fn url() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        3 => "https://cdn\\.example\\.com/[a-z0-9/]{0,30}\\.png",
        1 => edgy(),
        1 => edgy().prop_map(|s| format!("https://cdn.example.com/{s}")),
        1 => (2_020usize..2_050).prop_map(|n| format!("https://c.example.com/{}", "a".repeat(n))),
    ]
}

fn any_u32() -> impl Strategy<Value = u32> + Clone {
    prop_oneof![0u32..300, any::<u32>(), Just(u32::MAX)]
}

fn input() -> impl Strategy<Value = JobInput> {
    prop_oneof![
        (edgy(), edgy(), proptest::option::of(edgy())).prop_map(|(niche, tone, store_name)| {
            JobInput::BrandGenerator(BrandBrief {
                niche,
                tone,
                store_name,
            })
        }),
        (edgy(), any_u32()).prop_map(|(query, limit)| {
            JobInput::ProductScout(ProductSearch {
                provider: SupplierProvider::CjDropshipping,
                query,
                limit,
            })
        }),
        (0usize..4, edgy(), "[a-z]{2}(-[A-Z]{2})?|.{0,6}").prop_map(|(n, tone, language)| {
            JobInput::Copywriter(CopyBrief {
                product_ids: (0..n).map(|_| Uuid::now_v7()).collect(),
                tone,
                language,
            })
        }),
        (proptest::collection::vec(url(), 0..3), any_u32(), any_u32()).prop_map(
            |(source_urls, width, height)| JobInput::ImageProcessor(ImageWork {
                source_urls,
                operations: vec![
                    ImageOperation::RemoveBackground,
                    ImageOperation::Resize { width, height },
                ],
            })
        ),
        (any_u32(), proptest::option::of(edgy())).prop_map(|(duration_seconds, style)| {
            JobInput::VideoGenerator(VideoBrief {
                product_id: Uuid::now_v7(),
                duration_seconds,
                style,
            })
        }),
    ]
}

fn output_for(agent_type: AgentType) -> BoxedStrategy<JobOutput> {
    match agent_type {
        AgentType::BrandGenerator => (edgy(), edgy(), edgy(), proptest::option::of(url()))
            .prop_map(|(name, font, tone, logo)| {
                // A handler builds the identity from text (`BrandIdentity::parse`, the one
                // way): untrimmed text is normalised; text it refuses never reaches the queue,
                // so such a case stands in a fixed brand.
                let logo = logo.filter(|l| domain::values::HttpUrl::parse("logo_url", l).is_ok());
                let brand = BrandIdentity::parse(
                    &name,
                    ["#FF00FF", "#00FFFF", "#FFFF00"],
                    ["Orbitron", &font],
                    &tone,
                    logo.as_deref(),
                )
                .or_else(|_| {
                    BrandIdentity::parse(
                        "Neon",
                        ["#FF00FF", "#00FFFF", "#FFFF00"],
                        ["Orbitron", "Inter"],
                        "bold",
                        None,
                    )
                })
                .expect("brand");
                JobOutput::BrandGenerator(brand)
            })
            .boxed(),
        AgentType::ProductScout => {
            proptest::collection::vec((edgy(), edgy(), url(), (any::<i64>(), 0u32..4)), 0..3)
                .prop_map(|ps| {
                    JobOutput::ProductScout(ScoutResult {
                        products: ps
                            .into_iter()
                            .map(|(source_id, title, url, (n, scale))| ScoutedProduct {
                                source_id,
                                title,
                                url,
                                cost_price: Decimal::new(n % 10_000_000_000, scale),
                            })
                            .collect(),
                    })
                })
                .boxed()
        }
        AgentType::Copywriter => (edgy(), edgy(), proptest::option::of(edgy()))
            .prop_map(|(title, description, meta_title)| {
                JobOutput::Copywriter(CopyResult {
                    products: vec![ProductCopy {
                        product_id: Uuid::now_v7(),
                        title,
                        description,
                        meta_title,
                        meta_description: None,
                    }],
                })
            })
            .boxed(),
        AgentType::ImageProcessor => (url(), url())
            .prop_map(|(source_url, processed_url)| {
                JobOutput::ImageProcessor(ProcessedImages {
                    images: vec![ProcessedImage {
                        source_url,
                        processed_url,
                    }],
                })
            })
            .boxed(),
        AgentType::VideoGenerator => (url(), any_u32())
            .prop_map(|(url, duration_seconds)| {
                JobOutput::VideoGenerator(GeneratedVideo {
                    url,
                    duration_seconds,
                })
            })
            .boxed(),
    }
}

backend_test!(
    async fn every_accepted_input_reads_back_and_every_refused_one_writes_nothing(t: &TestDb) {
        let db = &t.db;
        let scope = store_scope(db).await;
        let (mut accepted, mut refused) = (0, 0);
        for input in samples(input(), 400) {
            let before = job_count(db).await;
            match jobs::create(db, &scope, NewJob::new(input.clone())).await {
                Ok(job) => {
                    accepted += 1;
                    assert_eq!(job.input, input);
                    let back = jobs::get(db, &scope, job.id).await.expect("reads back");
                    assert_eq!(back, job);
                }
                Err(Error::Invalid { field, .. }) => {
                    refused += 1;
                    assert!(field.starts_with("agent_jobs.input"), "{field}");
                    assert_eq!(
                        input.validate().err().map(|e| e.to_string()),
                        Some(
                            Error::Invalid {
                                field,
                                violation: invalid(input.validate()).1
                            }
                            .to_string()
                        )
                    );
                    assert_eq!(job_count(db).await, before, "nothing written");
                }
                Err(other) => panic!("{input:?}: {other:?}"),
            }
        }
        assert!(
            accepted > 100 && refused > 50,
            "{accepted} accepted, {refused} refused"
        );
        // Every page of the list reads (nothing unreadable was written).
        let mut page_request = PageRequest::first(100);
        let mut listed = 0;
        loop {
            let page = jobs::list(db, &scope, &JobFilter::default(), page_request)
                .await
                .expect("list");
            assert_eq!(page.undecodable().count(), 0);
            listed += page.decoded().count();
            match page.next {
                Some(next) => page_request = PageRequest::after(next, 100),
                None => break,
            }
        }
        assert_eq!(listed, accepted);
    }
);

backend_test!(
    async fn every_accepted_output_reads_back_and_a_refused_one_leaves_the_job_held(t: &TestDb) {
        let db = &t.db;
        let scope = store_scope(db).await;
        let worker = Worker::new(WorkerId::generate("outputs"));
        let kinds = [
            (AgentType::BrandGenerator, brief("Neon decor")),
            (
                AgentType::ProductScout,
                JobInput::ProductScout(ProductSearch {
                    provider: SupplierProvider::Spocket,
                    query: "lamp".into(),
                    limit: 5,
                }),
            ),
            (
                AgentType::Copywriter,
                JobInput::Copywriter(CopyBrief {
                    product_ids: vec![Uuid::now_v7()],
                    tone: "warm".into(),
                    language: "en".into(),
                }),
            ),
            (
                AgentType::ImageProcessor,
                JobInput::ImageProcessor(ImageWork {
                    source_urls: vec!["https://cdn.example.com/a.png".into()],
                    operations: vec![ImageOperation::Enhance],
                }),
            ),
            (
                AgentType::VideoGenerator,
                JobInput::VideoGenerator(VideoBrief {
                    product_id: Uuid::now_v7(),
                    duration_seconds: 30,
                    style: None,
                }),
            ),
        ];
        let (mut accepted, mut refused) = (0, 0);
        for (agent_type, input) in kinds {
            for output in samples(output_for(agent_type), 60) {
                let queued = jobs::create(db, &scope, NewJob::new(input.clone()))
                    .await
                    .expect("enqueue");
                let job = worker.claim(db).await.expect("claim").expect("the job");
                assert_eq!(job.id(), queued.id);
                let held = jobs::get(db, &scope, queued.id).await.expect("get");
                match job.complete(db, output.clone()).await {
                    Ok(done) => {
                        accepted += 1;
                        assert_eq!(
                            done.output.as_ref().map(JobOutput::agent_type),
                            Some(agent_type)
                        );
                        let back = jobs::get(db, &scope, queued.id).await.expect("reads back");
                        assert_eq!(back, done);
                        let page =
                            jobs::list(db, &scope, &JobFilter::default(), PageRequest::default())
                                .await
                                .expect("list");
                        assert_eq!(page.undecodable().count(), 0);
                    }
                    Err(Error::Invalid { field, .. }) => {
                        refused += 1;
                        assert!(
                            field.starts_with("agent_jobs.output")
                                || field.starts_with("brand_identity"),
                            "{field}"
                        );
                        // Nothing was written: the job is exactly as it was, still held.
                        let after = jobs::get(db, &scope, queued.id).await.expect("get");
                        assert_eq!(after, held);
                        assert_eq!(after.status, JobStatus::Processing);
                        jobs::cancel(db, &scope, queued.id).await.expect("cancel");
                    }
                    Err(other) => panic!("{output:?}: {other:?}"),
                }
            }
        }
        assert!(
            accepted > 80 && refused > 30,
            "{accepted} accepted, {refused} refused"
        );
    }
);

backend_test!(
    async fn a_row_whose_payload_does_not_read_is_reported_alone_and_never_claimed(t: &TestDb) {
        let db = &t.db;
        let scope = store_scope(db).await;
        let good = jobs::create(db, &scope, NewJob::new(brief("Neon")).priority(1))
            .await
            .expect("enqueue");
        // Written by other means: an input without the brief's `tone`, and a completed job
        // whose output is not a brand identity.
        let mut broken_input = agent_job(Some(scope.store_id()));
        broken_input.priority = 5;
        let broken_input = insert(db, broken_input).await.expect("insert");
        let mut broken_output = agent_job(Some(scope.store_id()));
        broken_output.input = serde_json::json!({"niche": "Neon", "tone": "bold"});
        broken_output.status = JobStatus::Completed;
        broken_output.output = Some(serde_json::json!({"name": 42}));
        let broken_output = insert(db, broken_output).await.expect("insert");

        let page = jobs::list(db, &scope, &JobFilter::default(), PageRequest::default())
            .await
            .expect("the page reads");
        assert_eq!(page.decoded().map(|j| j.id).collect::<Vec<_>>(), [good.id]);
        let mut unreadable: Vec<_> = page
            .undecodable()
            .map(|u| (u.table, u.row, u.column))
            .collect();
        unreadable.sort_by_key(|(_, row, _)| *row);
        let mut expected = vec![
            (Table::AgentJobs, broken_input.id, "input"),
            (Table::AgentJobs, broken_output.id, "output"),
        ];
        expected.sort_by_key(|(_, row, _)| *row);
        assert_eq!(unreadable, expected);
        assert_eq!(page.items.len(), 3, "every row has its place in the page");
        for (broken, column) in [(broken_input.id, "input"), (broken_output.id, "output")] {
            assert!(matches!(
                jobs::get(db, &scope, broken).await,
                Err(Error::Undecodable { table: Table::AgentJobs, column: c, row })
                    if c == column && row == broken
            ));
        }
        assert_eq!(jobs::get(db, &scope, good.id).await.expect("get"), good);

        // The claim fails the unreadable job for good (it can never run) and hands out the
        // next one.
        let worker = Worker::new(WorkerId::generate("poison"));
        let claimed = worker.claim(db).await.expect("claim").expect("a job");
        assert_eq!(claimed.id(), good.id);
        let row = job_rows::Entity::find_by_id(broken_input.id)
            .one(db)
            .await
            .expect("read")
            .expect("row");
        assert_eq!(row.status, JobStatus::Failed);
        assert!(
            row.error
                .as_deref()
                .is_some_and(|e| e.contains("agent_jobs.input"))
        );
        assert!(worker.claim(db).await.expect("claim").is_none());
    }
);

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<FixedOffset> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("a time")
        .fixed_offset()
}

backend_test!(
    async fn run_at_outside_1970_to_9999_is_refused_and_the_edges_read_back(t: &TestDb) {
        let db = &t.db;
        let scope = store_scope(db).await;
        let far = utc(9_999, 12, 31, 23, 59, 59) + chrono::Duration::days(365 * 26 + 7);
        for bad in [
            far,
            utc(10_026, 1, 1, 0, 0, 0),
            utc(1_969, 12, 31, 23, 59, 59),
            DateTime::<Utc>::MIN_UTC.fixed_offset(),
            DateTime::<Utc>::MAX_UTC.fixed_offset(),
        ] {
            assert!(matches!(
                invalid(jobs::create(db, &scope, NewJob::new(brief("x")).run_at(bad)).await),
                ("agent_jobs.run_at", Violation::TimeOutOfRange { .. })
            ));
            // In a batch, one bad time refuses the whole batch.
            assert!(matches!(
                invalid(
                    jobs::create_many(
                        db,
                        &scope,
                        [NewJob::new(brief("x")), NewJob::new(brief("y")).run_at(bad)]
                    )
                    .await
                ),
                ("agent_jobs.run_at", Violation::TimeOutOfRange { .. })
            ));
        }
        assert_eq!(job_count(db).await, 0, "nothing written");

        let last = utc(9_999, 12, 31, 23, 59, 59);
        let epoch = utc(1_970, 1, 1, 0, 0, 0);
        let late = jobs::create(db, &scope, NewJob::new(brief("late")).run_at(last))
            .await
            .expect("the last second of 9999");
        // A time in another offset is stored in UTC and read back equal.
        let offset = FixedOffset::east_opt(5 * 3600).expect("offset");
        let early = jobs::create(
            db,
            &scope,
            NewJob::new(brief("early")).run_at(epoch.with_timezone(&offset)),
        )
        .await
        .expect("the epoch");
        assert_eq!(
            jobs::get(db, &scope, late.id).await.expect("get").run_at,
            last
        );
        assert_eq!(
            jobs::get(db, &scope, early.id).await.expect("get").run_at,
            epoch
        );
        // Only the due one is claimed: year 9999 is in the future on every backend.
        let worker = Worker::new(WorkerId::generate("times"));
        let claimed = worker.claim(db).await.expect("claim").expect("a job");
        assert_eq!(claimed.id(), early.id);
        assert!(worker.claim(db).await.expect("claim").is_none());
    }
);

backend_test!(
    async fn counters_at_their_limits_are_refused_by_name_and_priorities_span_i32(t: &TestDb) {
        let db = &t.db;
        let scope = store_scope(db).await;
        for bad in [i32::MIN, -1, 0, MAX_ATTEMPTS + 1, i32::MAX] {
            assert_eq!(
                invalid(jobs::create(db, &scope, NewJob::new(brief("x")).max_attempts(bad)).await),
                (
                    "agent_jobs.max_attempts",
                    Violation::OutOfRange {
                        min: 1,
                        max: MAX_ATTEMPTS.into()
                    }
                )
            );
        }
        assert_eq!(job_count(db).await, 0);
        for limit in [0, MAX_PAGE_SIZE + 1, u64::MAX] {
            let page = PageRequest::first(limit);
            assert_eq!(
                invalid(jobs::list(db, &scope, &JobFilter::default(), page).await).0,
                "limit"
            );
        }
        let top = jobs::create(
            db,
            &scope,
            NewJob::new(brief("top"))
                .priority(i32::MAX)
                .max_attempts(MAX_ATTEMPTS),
        )
        .await
        .expect("enqueue");
        let bottom = jobs::create(db, &scope, NewJob::new(brief("bottom")).priority(i32::MIN))
            .await
            .expect("enqueue");
        let middle = jobs::create(db, &scope, NewJob::new(brief("middle")))
            .await
            .expect("enqueue");
        assert_eq!(jobs::get(db, &scope, top.id).await.expect("get"), top);
        assert_eq!(jobs::get(db, &scope, bottom.id).await.expect("get"), bottom);
        let worker = Worker::new(WorkerId::generate("priorities"));
        let mut order = Vec::new();
        while let Some(job) = worker.claim(db).await.expect("claim") {
            assert_eq!(job.attempt(), 1);
            order.push(job.id());
        }
        assert_eq!(order, [top.id, middle.id, bottom.id]);

        // A row written by other means with no attempts left (or at i32::MAX) is never
        // claimed, so `attempts + 1` cannot overflow.
        let mut spent = agent_job(Some(scope.store_id()));
        spent.input = serde_json::json!({"niche": "Neon", "tone": "bold"});
        spent.attempts = i32::MAX;
        spent.max_attempts = i32::MAX;
        insert(db, spent.clone()).await.expect("insert");
        assert!(worker.claim(db).await.expect("claim").is_none());
        let row = job_rows::Entity::find_by_id(spent.id)
            .one(db)
            .await
            .expect("read")
            .expect("row");
        assert_eq!((row.status, row.attempts), (JobStatus::Pending, i32::MAX));
    }
);

backend_test!(
    async fn nul_and_control_characters_are_refused_by_name_and_errors_are_stored_alike(
        t: &TestDb,
    ) {
        let db = &t.db;
        let scope = store_scope(db).await;
        for (input, field) in [
            (brief("neon\u{0}decor"), "agent_jobs.input.niche"),
            (
                JobInput::BrandGenerator(BrandBrief {
                    niche: "neon".into(),
                    tone: "bold\u{1b}[1m".into(),
                    store_name: None,
                }),
                "agent_jobs.input.tone",
            ),
            (
                JobInput::ProductScout(ProductSearch {
                    provider: SupplierProvider::Aliexpress,
                    query: "lamp\u{0}".into(),
                    limit: 1,
                }),
                "agent_jobs.input.query",
            ),
            (
                JobInput::ImageProcessor(ImageWork {
                    source_urls: vec!["https://cdn.example.com/a\u{0}.png".into()],
                    operations: vec![ImageOperation::Enhance],
                }),
                "agent_jobs.input.source_urls",
            ),
        ] {
            let (f, violation) = invalid(jobs::create(db, &scope, NewJob::new(input)).await);
            assert_eq!(f, field);
            assert!(matches!(
                violation,
                Violation::ControlCharacter | Violation::Format
            ));
        }
        assert_eq!(job_count(db).await, 0);
        assert_eq!(
            invalid(WorkerId::parse("worker\u{0}1")),
            ("agent_jobs.locked_by", Violation::ControlCharacter)
        );
        assert_eq!(
            invalid(WorkerId::parse("worker-1 ")),
            ("agent_jobs.locked_by", Violation::Format)
        );

        let queued = jobs::create(db, &scope, NewJob::new(brief("neon")).max_attempts(2))
            .await
            .expect("enqueue");
        let worker = Worker::new(WorkerId::generate("nul\u{0}worker"));
        let mut job = worker.claim(db).await.expect("claim").expect("job");
        assert_eq!(
            invalid(job.update_progress(db, 10, Some("step\u{0}")).await),
            ("agent_jobs.current_step", Violation::ControlCharacter)
        );
        // A handler's error message may hold anything: it is stored with controls replaced,
        // the same on every backend, and the job moves on.
        job.fail(db, "upstream said \u{0}\u{7}boom\nline two")
            .await
            .expect("fail");
        let stored = jobs::get(db, &scope, queued.id).await.expect("get");
        assert_eq!(stored.status, JobStatus::Pending);
        assert_eq!(
            stored.error.as_deref(),
            Some("upstream said \u{fffd}\u{fffd}boom\nline two")
        );
        assert_eq!(stored.current_step, None);
    }
);

backend_test!(
    async fn an_output_over_the_size_limit_is_refused_and_the_run_loop_retries_the_job(t: &TestDb) {
        let db = &t.db;
        let scope = store_scope(db).await;
        let copy = JobInput::Copywriter(CopyBrief {
            product_ids: vec![Uuid::now_v7(); 30],
            tone: "warm".into(),
            language: "en".into(),
        });
        let product = ProductCopy {
            product_id: Uuid::now_v7(),
            title: "Lamp".into(),
            description: "\u{e9}".repeat(MAX_DESCRIPTION),
            meta_title: None,
            meta_description: None,
        };
        // 30 × 100 kB of JSON: 3 MB, over the 1 MiB limit; 10 of them stay under it.
        let huge = JobOutput::Copywriter(CopyResult {
            products: vec![product.clone(); 30],
        });
        let largest = JobOutput::Copywriter(CopyResult {
            products: vec![product; 10],
        });

        let queued = jobs::create(db, &scope, NewJob::new(copy.clone()))
            .await
            .expect("enqueue");
        let worker = Worker::new(WorkerId::generate("large"));
        let job = worker.claim(db).await.expect("claim").expect("job");
        let held = jobs::get(db, &scope, queued.id).await.expect("get");
        assert_eq!(
            invalid(job.complete(db, huge.clone()).await),
            (
                "agent_jobs.output",
                Violation::TooLarge {
                    max_bytes: MAX_PAYLOAD_BYTES
                }
            )
        );
        assert_eq!(jobs::get(db, &scope, queued.id).await.expect("get"), held);
        jobs::cancel(db, &scope, queued.id).await.expect("cancel");

        // A maximum-size output is stored and read back whole, on every backend.
        let queued = jobs::create(db, &scope, NewJob::new(copy.clone()))
            .await
            .expect("enqueue");
        let job = worker.claim(db).await.expect("claim").expect("job");
        let done = job.complete(db, largest.clone()).await.expect("complete");
        assert_eq!(done.output.as_ref(), Some(&largest));
        assert_eq!(jobs::get(db, &scope, queued.id).await.expect("get"), done);

        // Under the run loop, a handler's oversized output fails the attempt (the job goes
        // back to PENDING with the reason), it never leaves the job PROCESSING.
        let queued = jobs::create(db, &scope, NewJob::new(copy).max_attempts(3))
            .await
            .expect("enqueue");
        let wakeup = Wakeup::poll_only();
        let options = WorkerOptions {
            poll_interval: Duration::from_millis(50),
            heartbeat_interval: Duration::from_secs(5),
        };
        let stats = worker
            .run(
                db,
                &wakeup,
                &options,
                tokio::time::sleep(Duration::from_millis(300)),
                |_, _| {
                    let huge = huge.clone();
                    Box::pin(async move { Ok(huge) })
                },
            )
            .await;
        assert_eq!((stats.completed, stats.errors), (0, 0), "{stats:?}");
        assert!(stats.retried >= 1, "{stats:?}");
        let after = jobs::get(db, &scope, queued.id).await.expect("get");
        assert_eq!(after.status, JobStatus::Pending);
        assert!(
            after
                .error
                .as_deref()
                .is_some_and(|e| e.contains("refused")),
            "{after:?}"
        );
    }
);

backend_test!(
    async fn eight_cancels_racing_a_completion_leave_exactly_one_winner(t: &TestDb) {
        let db = &t.db;
        let scope = store_scope(db).await;
        let worker = Worker::new(WorkerId::generate("racer"));
        for round in 0..4 {
            let queued = jobs::create(db, &scope, NewJob::new(brief("race")))
                .await
                .expect("enqueue");
            let job = worker.claim(db).await.expect("claim").expect("job");
            let cancels: Vec<_> = (0..8)
                .map(|_| {
                    let db = db.clone();
                    tokio::spawn(async move { jobs::cancel(&db, &scope, queued.id).await })
                })
                .collect();
            let completion = {
                let db = db.clone();
                tokio::spawn(async move {
                    let output = JobOutput::BrandGenerator(
                        BrandIdentity::parse(
                            "Neon",
                            ["#FF00FF", "#00FFFF", "#FFFF00"],
                            ["Orbitron", "Inter"],
                            "bold",
                            None,
                        )
                        .expect("brand"),
                    );
                    job.complete(&db, output).await
                })
            };
            let mut cancelled = 0;
            for task in cancels {
                match task.await.expect("task") {
                    Ok(()) => cancelled += 1,
                    Err(Error::InvalidTransition(..)) => {}
                    Err(other) => panic!("round {round}: {other:?}"),
                }
            }
            let completed = match completion.await.expect("task") {
                Ok(_) => 1,
                Err(Error::JobReleased { .. } | Error::InvalidTransition(..)) => 0,
                Err(other) => panic!("round {round}: {other:?}"),
            };
            assert_eq!(cancelled + completed, 1, "round {round}");
            let stored = jobs::get(db, &scope, queued.id).await.expect("get");
            let expected = if completed == 1 {
                JobStatus::Completed
            } else {
                JobStatus::Cancelled
            };
            assert_eq!(stored.status, expected);
            assert_eq!(stored.output.is_some(), completed == 1);
        }
    }
);

backend_test!(
    async fn steps_errors_and_worker_ids_store_their_maximum_in_four_byte_characters(t: &TestDb) {
        let wide = |n: usize| '\u{1f600}'.to_string().repeat(n);
        let db = &t.db;
        let scope = store_scope(db).await;
        let queued = jobs::create(db, &scope, NewJob::new(brief("wide")).max_attempts(2))
            .await
            .expect("enqueue");
        assert_eq!(
            invalid(WorkerId::parse(wide(jobs::MAX_WORKER_ID + 1))).0,
            "agent_jobs.locked_by"
        );
        let worker = Worker::new(WorkerId::parse(wide(jobs::MAX_WORKER_ID)).expect("id"));
        let mut job = worker.claim(db).await.expect("claim").expect("job");
        assert_eq!(
            invalid(
                job.update_progress(db, 5, Some(&wide(jobs::MAX_STEP + 1)))
                    .await
            )
            .0,
            "agent_jobs.current_step"
        );
        job.update_progress(db, 10, Some(&wide(jobs::MAX_STEP)))
            .await
            .expect("report");
        let stored = jobs::get(db, &scope, queued.id).await.expect("get");
        assert_eq!(&stored, job.job());
        assert_eq!(stored.current_step, Some(wide(jobs::MAX_STEP)));
        assert_eq!(stored.locked_by, Some(wide(jobs::MAX_WORKER_ID)));
        // An error longer than the limit is cut to it, in whole characters.
        job.fail(db, &wide(jobs::MAX_ERROR + 10))
            .await
            .expect("fail");
        let stored = jobs::get(db, &scope, queued.id).await.expect("get");
        assert_eq!(stored.error, Some(wide(jobs::MAX_ERROR)));
    }
);

backend_test!(
    async fn a_brand_output_with_a_long_spaced_logo_url_never_breaks_get_or_list(t: &TestDb) {
        let db = &t.db;
        let scope = store_scope(db).await;
        let other = jobs::create(db, &scope, NewJob::new(brief("other")))
            .await
            .expect("enqueue");
        let queued = jobs::create(db, &scope, NewJob::new(brief("logo")).priority(1))
            .await
            .expect("enqueue");
        // About 1,800 characters with spaces: over 3,000 once percent-encoded.
        let logo = format!("https://cdn.example.com/{}", "a b ".repeat(450));
        let Ok(brand) = BrandIdentity::parse(
            "Neon",
            ["#FF00FF", "#00FFFF", "#FFFF00"],
            ["Orbitron", "Inter"],
            "bold",
            Some(&logo),
        ) else {
            // Refused at the constructor: nothing can be stored.
            return;
        };
        let worker = Worker::new(WorkerId::generate("logo"));
        let job = worker.claim(db).await.expect("claim").expect("job");
        assert_eq!(job.id(), queued.id);
        let held = jobs::get(db, &scope, queued.id).await.expect("get");
        match job.complete(db, JobOutput::BrandGenerator(brand)).await {
            // Accepted: it reads back equal.
            Ok(done) => assert_eq!(jobs::get(db, &scope, queued.id).await.expect("get"), done),
            // Refused at the write, naming the output: the job is as it was.
            Err(Error::Invalid { field, .. }) => {
                assert!(
                    field.starts_with("agent_jobs.output") || field.starts_with("brand_identity")
                );
                assert_eq!(jobs::get(db, &scope, queued.id).await.expect("get"), held);
            }
            Err(other) => panic!("{other:?}"),
        }
        let page = jobs::list(db, &scope, &JobFilter::default(), PageRequest::default())
            .await
            .expect("list");
        assert_eq!(page.undecodable().count(), 0);
        assert_eq!(page.decoded().count(), 2);
        assert_eq!(jobs::get(db, &scope, other.id).await.expect("get"), other);
    }
);

backend_test!(
    async fn leases_ages_and_progress_at_their_extremes_neither_panic_nor_misfire(t: &TestDb) {
        let db = &t.db;
        let scope = store_scope(db).await;
        let queued = jobs::create(db, &scope, NewJob::new(brief("extreme")))
            .await
            .expect("enqueue");
        let worker = Worker::new(WorkerId::generate("extreme"));
        let mut job = worker.claim(db).await.expect("claim").expect("job");
        for bad in [101u8, u8::MAX] {
            assert_eq!(
                invalid(job.update_progress(db, bad, None).await),
                (
                    "agent_jobs.progress",
                    Violation::OutOfRange { min: 0, max: 100 }
                )
            );
        }
        job.update_progress(db, 100, None)
            .await
            .expect("the maximum");
        assert!(matches!(
            invalid(job.update_progress(db, 99, None).await),
            ("agent_jobs.progress", Violation::Backwards { current: 100 })
        ));
        // A lease or an age too long to subtract from now means "since the epoch": nothing
        // is old enough.
        for long in [Duration::MAX, Duration::from_secs(u64::MAX / 2)] {
            assert_eq!(jobs::rescue(db, long).await.expect("rescue").requeued, 0);
            assert_eq!(jobs::purge_finished(db, long).await.expect("prune"), 0);
        }
        let stored = jobs::get(db, &scope, queued.id).await.expect("get");
        assert_eq!(stored.status, JobStatus::Processing);
        assert_eq!(stored.progress.percent(), 100);
        // A worker whose back-off is absurd still computes a next run time in range.
        let queued = jobs::create(db, &scope, NewJob::new(brief("backoff")))
            .await
            .expect("enqueue");
        let absurd = Worker::new(WorkerId::generate("absurd")).backoff(jobs::Backoff {
            base: Duration::MAX,
            max: Duration::MAX,
        });
        let job = absurd.claim(db).await.expect("claim").expect("job");
        assert_eq!(job.id(), queued.id);
        let outcome = job.fail(db, "again").await.expect("fail");
        let jobs::FailOutcome::Retrying { delay, run_at } = outcome else {
            panic!("{outcome:?}");
        };
        assert!(delay <= jobs::MAX_BACKOFF);
        assert_eq!(
            jobs::get(db, &scope, queued.id).await.expect("get").run_at,
            run_at
        );
    }
);

backend_test!(
    async fn a_batch_of_a_thousand_maximal_inputs_is_enqueued_whole_on_every_backend(t: &TestDb) {
        let db = &t.db;
        let scope = store_scope(db).await;
        // Twenty URLs of 2,048 characters: about 41 kB of JSON per job, 41 MB per batch, far
        // over MariaDB's default packet limit if written as one statement.
        let prefix = "https://cdn.example.com/";
        let url = |i: usize| {
            let tail = format!("-{i}.png");
            format!(
                "{prefix}{}{tail}",
                "a".repeat(jobs::MAX_URL - prefix.len() - tail.len())
            )
        };
        let input = JobInput::ImageProcessor(ImageWork {
            source_urls: (0..jobs::MAX_IMAGES).map(url).collect(),
            operations: vec![ImageOperation::Enhance; jobs::MAX_IMAGE_OPERATIONS],
        });
        input
            .validate()
            .expect("the largest input an image job takes");
        let ids = jobs::create_many(db, &scope, (0..1_000).map(|_| NewJob::new(input.clone())))
            .await
            .expect("enqueue the batch");
        assert_eq!(ids.len(), 1_000);
        assert_eq!(job_count(db).await, 1_000);
        let first = jobs::get(db, &scope, ids[0]).await.expect("get");
        let last = jobs::get(db, &scope, ids[999]).await.expect("get");
        assert_eq!((first.input, last.input), (input.clone(), input));
    }
);
