//! Running a FAILED job again (`agent_jobs::retry`), an operator's action in the studio.

use domain::Error;
use domain::StoreScope;
use domain::agent_jobs::{
    self, BrandBrief, JobInput, JobOwner, JobStatus, NewJob, Worker, WorkerId,
};
use entity::agent_jobs as job_rows;
use sea_orm::{DatabaseConnection, EntityTrait};
use uuid::Uuid;

use super::*;

async fn new_scope(db: &DatabaseConnection) -> StoreScope {
    let (user, store) = user_with_store(db).await;
    StoreScope::obtain(db, user.id, store.id)
        .await
        .expect("scope")
}

fn job() -> NewJob {
    NewJob::new(JobInput::BrandGenerator(BrandBrief {
        niche: "Cyberpunk home decor".into(),
        tone: "futuristic".into(),
        store_name: None,
    }))
    .max_attempts(1)
}

/// A job of `owner` that failed for good after its one attempt.
async fn failed_job(db: &DatabaseConnection, owner: JobOwner) -> Uuid {
    let id = agent_jobs::create(db, owner, job())
        .await
        .expect("enqueue")
        .id;
    let worker = Worker::new(WorkerId::generate("retry-test"));
    let claimed = worker.claim(db).await.expect("claim").expect("a job");
    assert_eq!(claimed.id(), id);
    claimed
        .fail_permanently(db, "supplier API answered 500")
        .await
        .expect("fail");
    id
}

async fn row(db: &DatabaseConnection, id: Uuid) -> job_rows::Model {
    job_rows::Entity::find_by_id(id)
        .one(db)
        .await
        .expect("read")
        .expect("job")
}

backend_test!(
    async fn a_failed_job_runs_again_with_more_attempts_and_its_history_kept(t: &TestDb) {
        let db = &t.db;
        let scope = new_scope(db).await;
        let id = failed_job(db, JobOwner::from(&scope)).await;

        agent_jobs::retry(db, &scope, id).await.expect("retry");

        let job = row(db, id).await;
        assert_eq!(job.status, JobStatus::Pending);
        // The attempt it failed on is kept, and the default number of attempts added.
        assert_eq!(job.attempts, 1);
        assert_eq!(job.max_attempts, 1 + agent_jobs::DEFAULT_MAX_ATTEMPTS);
        assert_eq!(job.progress, 0);
        assert_eq!(job.locked_by, None);
        assert_eq!(job.completed_at, None);
        assert_eq!(job.error.as_deref(), Some("supplier API answered 500"));
        // And a worker gets it again.
        let worker = Worker::new(WorkerId::generate("retry-test"));
        let again = worker
            .claim(db)
            .await
            .expect("claim")
            .expect("runnable again");
        assert_eq!(again.id(), id);
        assert_eq!(again.attempt(), 2);
    }
);

backend_test!(
    async fn only_a_failed_job_of_the_owner_can_run_again(t: &TestDb) {
        let db = &t.db;
        let scope = new_scope(db).await;
        let other = new_scope(db).await;
        let pending = agent_jobs::create(db, &scope, job())
            .await
            .expect("enqueue")
            .id;
        assert!(matches!(
            agent_jobs::retry(db, &scope, pending).await,
            Err(Error::InvalidTransition(domain::Transition::AgentJob {
                from: JobStatus::Pending,
                to: JobStatus::Pending,
            }))
        ));
        agent_jobs::cancel(db, &scope, pending)
            .await
            .expect("cancel");
        assert!(matches!(
            agent_jobs::retry(db, &scope, pending).await,
            Err(Error::InvalidTransition(domain::Transition::AgentJob {
                from: JobStatus::Cancelled,
                ..
            }))
        ));
        let failed = failed_job(db, JobOwner::from(&scope)).await;
        // Another store's owner, the system, and a missing id are all "not found".
        for owner in [JobOwner::from(&other), JobOwner::SYSTEM] {
            assert!(matches!(
                agent_jobs::retry(db, owner, failed).await,
                Err(Error::NotFound {
                    entity: domain::Table::AgentJobs
                })
            ));
        }
        assert!(matches!(
            agent_jobs::retry(db, &scope, Uuid::now_v7()).await,
            Err(Error::NotFound {
                entity: domain::Table::AgentJobs
            })
        ));
        assert_eq!(row(db, failed).await.status, JobStatus::Failed);
    }
);

backend_test!(
    async fn of_eight_concurrent_retries_exactly_one_applies(t: &TestDb) {
        let db = &t.db;
        let scope = new_scope(db).await;
        let id = failed_job(db, JobOwner::from(&scope)).await;
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move { agent_jobs::retry(&db, &scope, id).await })
            })
            .collect();
        let mut applied = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(()) => applied += 1,
                Err(Error::InvalidTransition(domain::Transition::AgentJob {
                    from: JobStatus::Pending,
                    ..
                })) => {}
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(applied, 1);
        assert_eq!(row(db, id).await.status, JobStatus::Pending);
    }
);
