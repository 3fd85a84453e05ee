//! A waiting worker is woken by a notification, well before its poll interval runs out.

use std::time::{Duration, Instant};

use domain::agent_jobs::{
    self as jobs, AgentType, BrandBrief, JobInput, NewJob, Wakeup, Woken, Worker, WorkerId,
};

use super::*;

fn brand_job() -> NewJob {
    NewJob::new(JobInput::BrandGenerator(BrandBrief {
        niche: "Cyberpunk home decor".into(),
        tone: "futuristic".into(),
        store_name: None,
    }))
}

backend_test!(
    async fn a_waiting_worker_wakes_on_enqueue_on_postgres_and_polls_elsewhere(t: &TestDb) {
        let _alone = ALONE.lock().await;
        let db = t.db.clone();
        let scope = owner_scope(&db).await;
        let wakeup = Wakeup::listen(&db).await.expect("wakeup");
        let mut any = wakeup.subscribe(&[]);
        let mut copywriters = wakeup.subscribe(&[AgentType::Copywriter]);

        if t.backend != Backend::Postgres {
            // No notifications: a wait lasts its (bounded) interval, enqueue or not.
            assert!(!wakeup.is_listening());
            jobs::create(&db, &scope, brand_job())
                .await
                .expect("enqueue");
            assert_eq!(any.wait(Duration::from_millis(50)).await, Woken::TimedOut);
            return;
        }
        assert!(wakeup.is_listening());

        let enqueue_db = db.clone();
        let enqueuing = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let started = Instant::now();
            jobs::create(&enqueue_db, &scope, brand_job())
                .await
                .expect("enqueue");
            (started, Instant::now())
        });
        let waiting = Instant::now();
        let woken = any.wait(Duration::from_secs(10)).await;
        let woke_at = Instant::now();
        let (enqueue_started, enqueue_returned) = enqueuing.await.expect("enqueue task");
        let latency = woke_at.saturating_duration_since(enqueue_started);
        eprintln!(
            "Postgres: woke {latency:?} after the enqueue call began (the call took {:?}; \
             waited {:?} in all, poll interval 10 s)",
            enqueue_returned - enqueue_started,
            woke_at - waiting
        );
        assert_eq!(woken, Woken::Notified);
        assert!(latency < Duration::from_secs(1), "{latency:?}");
        let job = Worker::new(WorkerId::generate("woken"))
            .claim(&db)
            .await
            .expect("claim");
        assert!(job.is_some(), "the enqueued job is there to claim");

        // A worker of another type is not woken by it.
        assert_eq!(
            copywriters.wait(Duration::from_millis(300)).await,
            Woken::TimedOut
        );
    }
);
