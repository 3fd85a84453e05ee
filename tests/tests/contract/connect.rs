use super::*;

backend_test!(
    async fn health_answers_with_the_round_trip_time(t: &TestDb) {
        let elapsed = domain::health(&t.db).await.expect("healthy");
        assert!(elapsed < std::time::Duration::from_secs(5), "{elapsed:?}");
    }
);

backend_test!(
    async fn connect_with_migrate_on_start_leaves_nothing_pending(t: &TestDb) {
        let mut config = t.config.clone();
        config.migrate_on_start = true;
        let db = domain::connect(&config).await.expect("connect");
        assert_eq!(
            domain::pending_migrations(&db).await.expect("read"),
            Vec::<String>::new()
        );
    }
);

#[tokio::test]
async fn an_unreachable_server_is_a_database_error_not_a_panic() {
    let mut config = domain::Config::new("postgres://nobody@127.0.0.1:1/none");
    config.acquire_timeout = std::time::Duration::from_millis(500);
    let err = domain::connect(&config)
        .await
        .expect_err("nothing listens on port 1");
    assert!(matches!(err, domain::Error::Database(_)), "{err:?}");
}
