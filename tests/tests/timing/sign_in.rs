//! Sign-in answers an unknown email as slowly as a wrong password, so that timing does not
//! tell whether an account exists.

use std::time::Instant;

use domain::users::{self, Argon2Params, Email, NewUser, Password, PasswordHasher};

use super::*;

backend_test!(
    async fn an_unknown_email_takes_about_as_long_as_a_wrong_password(t: &TestDb) {
        let _alone = ALONE.lock().await;
        // Production costs, so that hashing dominates the time of an attempt.
        let hasher = PasswordHasher::new(Argon2Params::OWASP).expect("hasher");
        let email = Email::parse(&format!("user-{}@example.com", unique())).expect("email");
        users::create(
            &t.db,
            &hasher,
            NewUser {
                email: email.clone(),
                password: Password::parse("correct horse battery staple").expect("password"),
                name: None,
                image: None,
            },
        )
        .await
        .expect("register");
        let wrong = Password::parse("incorrect horse battery").expect("password");
        let unknown = Email::parse(&format!("user-{}@example.com", unique())).expect("email");
        let (mut known_times, mut unknown_times) = (Vec::new(), Vec::new());
        // Interleaved, so that load from other tests weighs on both alike.
        for _ in 0..7 {
            let started = Instant::now();
            let _ = users::authenticate(&t.db, &hasher, &email, &wrong).await;
            known_times.push(started.elapsed());
            let started = Instant::now();
            let _ = users::authenticate(&t.db, &hasher, &unknown, &wrong).await;
            unknown_times.push(started.elapsed());
        }
        known_times.sort();
        unknown_times.sort();
        let (known, unknown) = (known_times[3], unknown_times[3]);
        assert!(
            unknown * 3 > known && known * 3 > unknown,
            "medians: wrong password {known:?}, unknown email {unknown:?}"
        );
    }
);
