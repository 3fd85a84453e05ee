//! Users, sign-in, OAuth links, sessions, email verification and Stripe Connect, through
//! `domain::users` as services call it.

use std::sync::OnceLock;
use std::time::Duration;

use domain::crypto::{EncryptionKey, KeyRing, Secret};
use domain::error::DecryptionProblem;
use domain::paging::PageRequest;
use domain::supplier_accounts::ApiKey;
use domain::users::accounts::{
    self, AccessToken, AccountKind, IdToken, OAuthOutcome, OAuthProfile, OAuthProvider,
    OAuthTokens, ProviderAccountId, RefreshToken, Scope, TokenExpiry, TokenType,
};
use domain::users::{
    self, Argon2Params, DisplayName, Email, ImageUrl, NewUser, Password, PasswordHasher,
    StripeAccountId, User, UserPatch, sessions, verification_tokens,
};
use domain::{Error, ForeignKeyRule, UniqueRule, Violation};
use entity::{accounts as account_rows, sessions as session_rows, users as user_rows};
use entity::{
    supplier_accounts as supplier_account_rows, verification_tokens as verification_token_rows,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use super::*;

/// Cheap argon2id parameters: the cost of a hash is not what these tests are about.
pub fn hasher() -> &'static PasswordHasher {
    static HASHER: OnceLock<PasswordHasher> = OnceLock::new();
    HASHER.get_or_init(|| {
        PasswordHasher::new(Argon2Params::new(1_024, 1, 1).expect("params")).expect("hasher")
    })
}

/// A key ring with one fresh random key of `version`.
pub fn keys(version: u32) -> KeyRing {
    KeyRing::new(EncryptionKey::generate(version).expect("key"), []).expect("ring")
}

pub fn email() -> Email {
    Email::parse(&format!("user-{}@example.com", unique())).expect("email")
}

pub fn password() -> Password {
    Password::parse("correct horse battery staple").expect("password")
}

pub async fn register<C: ConnectionTrait>(db: &C, email: &Email) -> User {
    users::create(
        db,
        hasher(),
        NewUser {
            email: email.clone(),
            password: password(),
            name: Some(DisplayName::parse("Ann Lee").expect("name")),
            image: None,
        },
    )
    .await
    .expect("register")
}

/// Every row of every identity and supplier table, as the database holds it, as JSON: what
/// someone with a copy of the database would see.
pub async fn raw_dump<C: ConnectionTrait>(db: &C) -> String {
    let mut dump = String::new();
    for row in user_rows::Entity::find().all(db).await.expect("users") {
        dump += &serde_json::to_string(&row).expect("json");
    }
    for row in account_rows::Entity::find()
        .all(db)
        .await
        .expect("accounts")
    {
        dump += &serde_json::to_string(&row).expect("json");
    }
    for row in session_rows::Entity::find()
        .all(db)
        .await
        .expect("sessions")
    {
        dump += &serde_json::to_string(&row).expect("json");
    }
    for row in verification_token_rows::Entity::find()
        .all(db)
        .await
        .expect("verification tokens")
    {
        dump += &serde_json::to_string(&row).expect("json");
    }
    for row in supplier_account_rows::Entity::find()
        .all(db)
        .await
        .expect("supplier accounts")
    {
        dump += &serde_json::to_string(&row).expect("json");
    }
    dump
}

async fn row_count<C: ConnectionTrait>(db: &C) -> u64 {
    user_rows::Entity::find().count(db).await.expect("count")
        + account_rows::Entity::find().count(db).await.expect("count")
        + session_rows::Entity::find().count(db).await.expect("count")
        + verification_token_rows::Entity::find()
            .count(db)
            .await
            .expect("count")
        + supplier_account_rows::Entity::find()
            .count(db)
            .await
            .expect("count")
}

fn profile(provider_account_id: &str, email: Option<Email>, verified: bool) -> OAuthProfile {
    OAuthProfile {
        provider: OAuthProvider::parse("google").expect("provider"),
        provider_account_id: ProviderAccountId::parse(provider_account_id)
            .expect("provider account id"),
        kind: AccountKind::parse("oidc").expect("kind"),
        email,
        email_verified: verified,
        name: Some(DisplayName::parse("Ann from Google").expect("name")),
        image: Some(ImageUrl::parse("https://lh3.example.com/a.png").expect("image")),
        tokens: OAuthTokens {
            refresh_token: Some(
                RefreshToken::parse(Secret::new(format!("refresh-{}", unique())))
                    .expect("refresh_token"),
            ),
            access_token: Some(
                AccessToken::parse(Secret::new(format!("access-{}", unique())))
                    .expect("access_token"),
            ),
            id_token: Some(
                IdToken::parse(Secret::new(format!("eyJid-{}", unique()))).expect("id_token"),
            ),
            expires_at: Some(TokenExpiry::parse(4_102_444_800).expect("expiry")),
            token_type: Some(TokenType::parse("Bearer").expect("token_type")),
            scope: Some(Scope::parse("openid email profile").expect("scope")),
            session_state: None,
        },
    }
}

backend_test!(
    async fn registration_stores_a_normalised_email_and_an_argon2id_hash_only(t: &TestDb) {
        let plain = "Tr0ub4dor & 3 horses";
        let user = users::create(
            &t.db,
            hasher(),
            NewUser {
                email: Email::parse("  Ann.Lee@Example.COM ").expect("email"),
                password: Password::parse(plain).expect("password"),
                name: None,
                image: None,
            },
        )
        .await
        .expect("register");

        assert_eq!(user.email.as_ref(), "ann.lee@example.com");
        assert!(user.has_password);
        assert!(user.email_verified.is_none());
        let row = user_rows::Entity::find_by_id(user.id)
            .one(&t.db)
            .await
            .expect("read")
            .expect("row");
        let hash = row.password_hash.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        let dump = raw_dump(&t.db).await;
        assert!(
            dump.contains("ann.lee@example.com"),
            "the dump holds the rows"
        );
        assert!(!dump.contains(plain));
        assert!(!format!("{user:?}").contains(&hash));

        let found = users::find_by_email(&t.db, &Email::parse("ANN.LEE@example.com").expect("e"))
            .await
            .expect("find");
        assert_eq!(found, Some(user.clone()));
        assert_eq!(users::get(&t.db, user.id).await.expect("get"), user);
        assert!(matches!(
            users::get(&t.db, Uuid::now_v7()).await,
            Err(Error::NotFound {
                entity: domain::Table::Users
            })
        ));
    }
);

backend_test!(
    async fn a_wrong_password_and_an_unknown_email_fail_alike_with_one_hash_each(t: &TestDb) {
        let hasher = PasswordHasher::new(Argon2Params::new(1_024, 1, 1).expect("p")).expect("h");
        let email = email();
        users::create(
            &t.db,
            &hasher,
            NewUser {
                email: email.clone(),
                password: password(),
                name: None,
                image: None,
            },
        )
        .await
        .expect("register");
        let in_caps = Email::parse(&email.as_ref().to_uppercase()).expect("email");
        let user = users::authenticate(&t.db, &hasher, &in_caps, &password())
            .await
            .expect("right password");
        assert_eq!(user.email, email);

        let wrong = Password::parse("incorrect horse battery").expect("password");
        let oauth_only = accounts::authenticate(
            &t.db,
            &keys(1),
            profile(&unique(), Some(self::email()), true),
        )
        .await
        .expect("oauth user");
        let before = hasher.verifications();
        for (who, password) in [
            (&email, &wrong),
            (&self::email(), &password()),
            (&oauth_only.user.email, &password()),
        ] {
            let err = users::authenticate(&t.db, &hasher, who, password)
                .await
                .expect_err("refused");
            assert!(matches!(err, Error::AuthenticationFailed), "{err:?}");
        }
        assert_eq!(
            hasher.verifications() - before,
            3,
            "one argon2 verification per attempt, whether or not the account exists"
        );
    }
);

backend_test!(
    async fn eight_concurrent_registrations_of_one_email_give_one_user_seven_conflicts(t: &TestDb) {
        let email = email();
        let attempts: Vec<_> = (0..8)
            .map(|_| {
                let (db, email) = (t.db.clone(), email.clone());
                tokio::spawn(async move {
                    users::create(
                        &db,
                        hasher(),
                        NewUser {
                            email,
                            password: password(),
                            name: None,
                            image: None,
                        },
                    )
                    .await
                })
            })
            .collect();
        let (mut won, mut conflicts) = (0, 0);
        for attempt in attempts {
            match attempt.await.expect("task") {
                Ok(_) => won += 1,
                Err(Error::Conflict {
                    rule: UniqueRule::UsersEmail,
                }) => conflicts += 1,
                Err(other) => panic!("expected the email conflict, got {other:?}"),
            }
        }
        assert_eq!((won, conflicts), (1, 7));
        assert_eq!(
            user_rows::Entity::find().count(&t.db).await.expect("count"),
            1
        );
    }
);

backend_test!(
    async fn bad_input_for_every_field_names_the_field_and_rule_and_writes_nothing(t: &TestDb) {
        assert_eq!(
            invalid(Email::parse("not-an-email")),
            ("users.email", Violation::Format)
        );
        assert_eq!(
            invalid(Email::parse(" ")),
            ("users.email", Violation::Empty)
        );
        assert_eq!(
            invalid(Password::parse("short")),
            ("password", Violation::TooShort { min: 8 })
        );
        assert_eq!(
            invalid(Password::parse(&"p".repeat(129))),
            ("password", Violation::TooLong { max: 128 })
        );
        assert_eq!(
            invalid(Password::parse("         ")),
            ("password", Violation::Empty)
        );
        assert_eq!(
            invalid(DisplayName::parse("")),
            ("users.name", Violation::Empty)
        );
        assert_eq!(
            invalid(DisplayName::parse(&"n".repeat(101))),
            ("users.name", Violation::TooLong { max: 100 })
        );
        assert_eq!(
            invalid(ImageUrl::parse("ftp://example.com/a.png")),
            ("users.image", Violation::Scheme { expected: "https" })
        );
        assert_eq!(
            invalid(StripeAccountId::parse("cus_123")),
            ("users.stripe_account_id", Violation::Format)
        );

        let user = register(&t.db, &email()).await;
        let before = row_count(&t.db).await;

        let keys = keys(1);
        assert_eq!(
            invalid(OAuthProvider::parse("Google!")),
            ("accounts.provider", Violation::Format)
        );
        assert_eq!(
            invalid(ProviderAccountId::parse(" ")),
            ("accounts.provider_account_id", Violation::Empty)
        );
        assert_eq!(
            invalid(AccessToken::parse(Secret::new(""))),
            ("accounts.access_token", Violation::Empty)
        );
        let no_email = profile(&unique(), None, true);
        assert_eq!(
            invalid(accounts::authenticate(&t.db, &keys, no_email).await),
            ("users.email", Violation::Empty)
        );
        assert_eq!(
            invalid(sessions::create(&t.db, user.id, Duration::ZERO).await).0,
            "lifetime"
        );
        assert_eq!(
            invalid(sessions::create(&t.db, user.id, Duration::from_secs(400 * 24 * 3600)).await),
            (
                "lifetime",
                Violation::Lifetime {
                    max_seconds: 365 * 24 * 3600
                }
            )
        );
        assert_eq!(
            invalid(
                verification_tokens::create(&t.db, &user.email, Duration::from_secs(8 * 24 * 3600))
                    .await
            ),
            (
                "lifetime",
                Violation::Lifetime {
                    max_seconds: 7 * 24 * 3600
                }
            )
        );
        assert_eq!(row_count(&t.db).await, before, "nothing was written");
        assert!(matches!(
            sessions::create(&t.db, Uuid::now_v7(), Duration::from_secs(60)).await,
            Err(Error::MissingReference {
                rule: ForeignKeyRule::SessionsUser
            })
        ));
    }
);

backend_test!(
    async fn a_profile_update_changes_clears_and_keeps_fields(t: &TestDb) {
        let user = register(&t.db, &email()).await;
        let image = ImageUrl::parse("https://cdn.example.com/ann.png").expect("image");
        let updated = users::update(
            &t.db,
            user.id,
            UserPatch {
                name: None,
                image: Some(Some(image.clone())),
            },
        )
        .await
        .expect("update");
        assert_eq!(updated.name.as_deref(), Some("Ann Lee"), "kept");
        assert_eq!(updated.image.as_deref(), Some(image.as_ref()));
        assert!(updated.updated_at >= user.updated_at);

        let cleared = users::update(
            &t.db,
            user.id,
            UserPatch {
                name: Some(None),
                image: None,
            },
        )
        .await
        .expect("update");
        assert_eq!(cleared.name, None);
        assert_eq!(cleared.image.as_deref(), Some(image.as_ref()));
        assert_eq!(users::get(&t.db, user.id).await.expect("get"), cleared);
        assert!(matches!(
            users::update(&t.db, Uuid::now_v7(), UserPatch::default()).await,
            Err(Error::NotFound {
                entity: domain::Table::Users
            })
        ));
    }
);

backend_test!(
    async fn deleting_a_user_deletes_their_links_sessions_tokens_and_supplier_accounts(t: &TestDb) {
        let keys = keys(1);
        let signed = accounts::authenticate(&t.db, &keys, profile(&unique(), Some(email()), true))
            .await
            .expect("oauth user");
        let user = signed.user;
        sessions::create(&t.db, user.id, Duration::from_secs(3600))
            .await
            .expect("session");
        verification_tokens::create(&t.db, &user.email, Duration::from_secs(3600))
            .await
            .expect("token");
        domain::supplier_accounts::create(
            &t.db,
            &keys,
            user.id,
            domain::supplier_accounts::NewSupplierAccount {
                provider: domain::supplier_accounts::SupplierProvider::Spocket,
                api_key: ApiKey::parse(Secret::new("spk_live_1")).expect("api key"),
                api_secret: None,
                account_id: None,
            },
        )
        .await
        .expect("supplier");
        let other = register(&t.db, &email()).await;
        sessions::create(&t.db, other.id, Duration::from_secs(3600))
            .await
            .expect("other session");
        let others_rows = row_count(&t.db).await - 5;

        users::delete(&t.db, user.id).await.expect("delete");
        assert_eq!(row_count(&t.db).await, others_rows);
        assert_eq!(
            row_count(&t.db).await,
            2,
            "the other user and their session"
        );
        assert!(matches!(
            users::delete(&t.db, user.id).await,
            Err(Error::NotFound {
                entity: domain::Table::Users
            })
        ));
    }
);

backend_test!(
    async fn a_session_token_is_given_once_stored_as_a_digest_and_resolves(t: &TestDb) {
        let user = register(&t.db, &email()).await;
        let created = sessions::create(&t.db, user.id, Duration::from_secs(3600))
            .await
            .expect("session");
        let token = created.token.expose().to_owned();
        assert!(token.len() >= 43, "at least 256 bits");
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "URL-safe: {token}"
        );
        assert!(!format!("{created:?}").contains(&token));

        let row = session_rows::Entity::find_by_id(created.session.id)
            .one(&t.db)
            .await
            .expect("read")
            .expect("row");
        assert_eq!(row.session_token.len(), 64, "a SHA-256 digest in hex");
        assert!(!raw_dump(&t.db).await.contains(&token));

        let resolved = sessions::find_by_token(&t.db, &token)
            .await
            .expect("resolve")
            .expect("live session");
        assert_eq!(resolved.user, user);
        assert_eq!(resolved.session, created.session);
        assert_eq!(
            sessions::find_by_token(&t.db, &row.session_token)
                .await
                .expect("r"),
            None
        );
        assert_eq!(sessions::find_by_token(&t.db, "").await.expect("r"), None);
        assert_eq!(
            sessions::find_by_token(&t.db, "' OR 1=1 --")
                .await
                .expect("r"),
            None
        );
    }
);

backend_test!(
    async fn an_expired_session_does_not_resolve_and_is_purged(t: &TestDb) {
        let user = register(&t.db, &email()).await;
        let short = sessions::create(&t.db, user.id, Duration::from_millis(1))
            .await
            .expect("session");
        let long = sessions::create(&t.db, user.id, Duration::from_secs(3600))
            .await
            .expect("session");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            sessions::find_by_token(&t.db, short.token.expose())
                .await
                .expect("resolve"),
            None
        );
        assert_eq!(sessions::purge_expired(&t.db).await.expect("purge"), 1);
        assert_eq!(
            sessions::list(&t.db, user.id, PageRequest::default())
                .await
                .expect("list")
                .items,
            vec![long.session]
        );
    }
);

backend_test!(
    async fn a_user_revokes_their_own_sessions_and_never_another_users(t: &TestDb) {
        let ann = register(&t.db, &email()).await;
        let bob = register(&t.db, &email()).await;
        let day = Duration::from_secs(86_400);
        let ann_1 = sessions::create(&t.db, ann.id, day).await.expect("s");
        let ann_2 = sessions::create(&t.db, ann.id, day).await.expect("s");
        let ann_3 = sessions::create(&t.db, ann.id, day).await.expect("s");
        let bob_1 = sessions::create(&t.db, bob.id, day).await.expect("s");

        assert!(matches!(
            sessions::delete(&t.db, ann.id, bob_1.session.id).await,
            Err(Error::NotFound {
                entity: domain::Table::Sessions
            })
        ));
        sessions::delete(&t.db, ann.id, ann_1.session.id)
            .await
            .expect("revoke");
        assert_eq!(
            sessions::find_by_token(&t.db, ann_1.token.expose())
                .await
                .expect("r"),
            None
        );
        assert!(
            sessions::delete_by_token(&t.db, ann_2.token.expose())
                .await
                .expect("sign out")
        );
        assert!(
            !sessions::delete_by_token(&t.db, ann_2.token.expose())
                .await
                .expect("again")
        );
        assert_eq!(
            sessions::delete_for_user(&t.db, ann.id).await.expect("all"),
            1
        );
        assert_eq!(
            sessions::find_by_token(&t.db, ann_3.token.expose())
                .await
                .expect("r"),
            None
        );
        let bob_still = sessions::find_by_token(&t.db, bob_1.token.expose())
            .await
            .expect("resolve")
            .expect("bob's session is untouched");
        assert_eq!(bob_still.user.id, bob.id);
        assert_eq!(
            sessions::list(&t.db, ann.id, PageRequest::default())
                .await
                .expect("list")
                .items,
            vec![]
        );
    }
);

backend_test!(
    async fn a_verification_token_is_consumed_once_and_marks_the_email_verified(t: &TestDb) {
        let user = register(&t.db, &email()).await;
        let issued = verification_tokens::create(&t.db, &user.email, Duration::from_secs(3600))
            .await
            .expect("issue");
        let token = issued.token.expose().to_owned();
        assert!(!format!("{issued:?}").contains(&token));
        assert!(!raw_dump(&t.db).await.contains(&token));

        let someone_else = email();
        assert!(matches!(
            verification_tokens::delete(&t.db, &someone_else, &token).await,
            Err(Error::NotFound {
                entity: domain::Table::VerificationTokens
            })
        ));
        let verified = verification_tokens::delete(&t.db, &user.email, &token)
            .await
            .expect("consume");
        assert_eq!(verified.email, user.email);
        let verified_user = verified.user.expect("the user");
        assert!(verified_user.email_verified.is_some());
        assert_eq!(
            users::get(&t.db, user.id)
                .await
                .expect("get")
                .email_verified,
            verified_user.email_verified
        );
        assert!(matches!(
            verification_tokens::delete(&t.db, &user.email, &token).await,
            Err(Error::NotFound {
                entity: domain::Table::VerificationTokens
            })
        ));
    }
);

backend_test!(
    async fn two_concurrent_consumes_of_one_token_give_one_success_and_one_failure(t: &TestDb) {
        let user = register(&t.db, &email()).await;
        for _ in 0..5 {
            let issued = verification_tokens::create(&t.db, &user.email, Duration::from_secs(3600))
                .await
                .expect("issue");
            let consume = |db: sea_orm::DatabaseConnection| {
                let (email, token) = (user.email.clone(), issued.token.expose().to_owned());
                tokio::spawn(async move { verification_tokens::delete(&db, &email, &token).await })
            };
            let (a, b) = (consume(t.db.clone()), consume(t.db.clone()));
            let results = [a.await.expect("task"), b.await.expect("task")];
            let successes = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(successes, 1, "{results:?}");
            assert!(
                results.iter().any(|r| matches!(
                    r,
                    Err(Error::NotFound {
                        entity: domain::Table::VerificationTokens
                    })
                )),
                "{results:?}"
            );
        }
    }
);

backend_test!(
    async fn an_expired_verification_token_fails_and_verifies_nothing(t: &TestDb) {
        let user = register(&t.db, &email()).await;
        let issued = verification_tokens::create(&t.db, &user.email, Duration::from_millis(1))
            .await
            .expect("issue");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(matches!(
            verification_tokens::delete(&t.db, &user.email, issued.token.expose()).await,
            Err(Error::Expired {
                entity: domain::Table::VerificationTokens
            })
        ));
        assert_eq!(
            users::get(&t.db, user.id)
                .await
                .expect("get")
                .email_verified,
            None
        );
        verification_tokens::create(&t.db, &user.email, Duration::from_secs(60))
            .await
            .expect("a live token is not purged");
        assert_eq!(
            verification_tokens::purge_expired(&t.db)
                .await
                .expect("purge"),
            0
        );
    }
);

backend_test!(
    async fn oauth_signs_in_a_linked_account_links_a_verified_email_or_creates_a_user(t: &TestDb) {
        let keys = keys(1);
        // A new person: a user is created with the email verified.
        let first = profile(&unique(), Some(email()), true);
        let created = accounts::authenticate(&t.db, &keys, first.clone())
            .await
            .expect("created");
        assert_eq!(created.outcome, OAuthOutcome::Created);
        assert!(created.user.email_verified.is_some());
        assert!(!created.user.has_password);
        assert_eq!(created.user.name.as_deref(), Some("Ann from Google"));

        // The same provider account again: the same user, tokens refreshed; a token the
        // provider does not send again is kept.
        let mut again = first.clone();
        again.tokens.access_token =
            Some(AccessToken::parse(Secret::new("access-second")).expect("token"));
        again.tokens.refresh_token = None;
        let signed = accounts::authenticate(&t.db, &keys, again)
            .await
            .expect("again");
        assert_eq!(signed.outcome, OAuthOutcome::SignedIn);
        assert_eq!(signed.user.id, created.user.id);
        assert_eq!(signed.account.id, created.account.id);
        let tokens = accounts::get_tokens(&t.db, &keys, created.user.id, created.account.id)
            .await
            .expect("tokens");
        assert_eq!(
            tokens.access_token.as_ref().map(AccessToken::expose),
            Some("access-second")
        );
        assert_eq!(tokens.refresh_token, first.tokens.refresh_token);
        assert_eq!(tokens.id_token, first.tokens.id_token);

        // A password user; a provider account with their verified email links to them.
        let password_user = register(&t.db, &email()).await;
        let mut github = profile(&unique(), Some(password_user.email.clone()), true);
        github.provider = OAuthProvider::parse("github").expect("provider");
        let linked = accounts::authenticate(&t.db, &keys, github)
            .await
            .expect("linked");
        assert_eq!(linked.outcome, OAuthOutcome::Linked);
        assert_eq!(linked.user.id, password_user.id);
        assert!(linked.user.email_verified.is_some());

        // An unverified email that belongs to a user is neither linked nor duplicated.
        let other_user = register(&t.db, &email()).await;
        let unverified = profile(&unique(), Some(other_user.email.clone()), false);
        assert!(matches!(
            accounts::authenticate(&t.db, &keys, unverified).await,
            Err(Error::Conflict {
                rule: UniqueRule::UsersEmail
            })
        ));
        assert_eq!(
            accounts::list(&t.db, other_user.id).await.expect("list"),
            vec![]
        );
        assert_eq!(
            accounts::list(&t.db, password_user.id)
                .await
                .expect("list")
                .len(),
            1
        );
    }
);

backend_test!(
    async fn oauth_tokens_are_encrypted_and_only_their_owner_reads_or_unlinks_them(t: &TestDb) {
        let keys = keys(1);
        let profile = profile(&unique(), Some(email()), true);
        let tokens = &profile.tokens;
        let plain: Vec<String> = [
            tokens.refresh_token.as_ref().map(RefreshToken::expose),
            tokens.access_token.as_ref().map(AccessToken::expose),
            tokens.id_token.as_ref().map(IdToken::expose),
        ]
        .into_iter()
        .map(|t| t.expect("token").to_owned())
        .collect();
        let ann = accounts::authenticate(&t.db, &keys, profile)
            .await
            .expect("ann");
        let bob = register(&t.db, &email()).await;

        let dump = raw_dump(&t.db).await;
        for token in &plain {
            assert!(
                !dump.contains(token.as_str()),
                "{token} is stored in the clear"
            );
        }
        let row = account_rows::Entity::find_by_id(ann.account.id)
            .one(&t.db)
            .await
            .expect("read")
            .expect("row");
        for stored in [&row.refresh_token, &row.access_token, &row.id_token] {
            assert!(stored.as_deref().expect("set").starts_with("xc1:1:"));
        }
        let listed = accounts::list(&t.db, ann.user.id).await.expect("list");
        assert_eq!(listed, vec![ann.account.clone()]);
        assert!(listed[0].has_refresh_token);

        assert!(matches!(
            accounts::get_tokens(&t.db, &keys, bob.id, ann.account.id).await,
            Err(Error::NotFound {
                entity: domain::Table::Accounts
            })
        ));
        assert!(matches!(
            accounts::delete(&t.db, bob.id, ann.account.id).await,
            Err(Error::NotFound {
                entity: domain::Table::Accounts
            })
        ));
        let tokens = accounts::get_tokens(&t.db, &keys, ann.user.id, ann.account.id)
            .await
            .expect("owner reads");
        assert_eq!(
            tokens.access_token.as_ref().map(AccessToken::expose),
            Some(plain[1].as_str())
        );
        let shown = format!("{tokens:?}");
        for token in &plain {
            assert!(!shown.contains(token.as_str()), "{shown}");
        }
        assert!(matches!(
            accounts::get_tokens(&t.db, &self::keys(1), ann.user.id, ann.account.id).await,
            Err(Error::Decryption {
                field: "accounts.refresh_token",
                problem: DecryptionProblem::Inauthentic
            })
        ));

        accounts::delete(&t.db, ann.user.id, ann.account.id)
            .await
            .expect("unlink");
        assert_eq!(
            accounts::list(&t.db, ann.user.id).await.expect("list"),
            vec![]
        );
    }
);

backend_test!(
    async fn a_stripe_account_belongs_to_one_user_and_is_marked_onboarded(t: &TestDb) {
        let ann = register(&t.db, &email()).await;
        let bob = register(&t.db, &email()).await;
        let account = StripeAccountId::parse(&format!("acct_{}", unique())).expect("id");

        assert!(matches!(
            users::update_stripe_onboarded(&t.db, ann.id).await,
            Err(Error::Invalid {
                field: "users.stripe_account_id",
                violation: Violation::NotSet
            })
        ));
        let attached = users::update_stripe_account(&t.db, ann.id, &account)
            .await
            .expect("attach");
        assert_eq!(
            attached.stripe_account_id.as_deref(),
            Some(account.as_ref())
        );
        assert!(!attached.stripe_onboarded);
        assert!(matches!(
            users::update_stripe_account(&t.db, bob.id, &account).await,
            Err(Error::Conflict {
                rule: UniqueRule::UsersStripeAccountId
            })
        ));
        let onboarded = users::update_stripe_onboarded(&t.db, ann.id)
            .await
            .expect("onboarded");
        assert!(onboarded.stripe_onboarded);
        let again = users::update_stripe_account(&t.db, ann.id, &account)
            .await
            .expect("same account again");
        assert!(
            again.stripe_onboarded,
            "re-attaching the same account changes nothing"
        );
        assert_eq!(
            users::find_by_stripe_account(&t.db, &account)
                .await
                .expect("find")
                .map(|u| u.id),
            Some(ann.id)
        );
        assert!(matches!(
            users::update_stripe_account(&t.db, Uuid::now_v7(), &account).await,
            Err(Error::NotFound {
                entity: domain::Table::Users
            })
        ));
    }
);

/// Every log line of this test process, at every level.
pub(crate) fn captured_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    use std::sync::{Arc, Mutex, OnceLock};

    #[derive(Clone)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER
        .get_or_init(|| {
            let buffer = Arc::new(Mutex::new(Vec::new()));
            let writer = Captured(buffer.clone());
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("the only global subscriber");
            buffer
        })
        .clone()
}

backend_test!(
    async fn no_secret_appears_in_debug_display_errors_or_logs(t: &TestDb) {
        // One process-wide subscriber: a thread-local one misses events that tracing's
        // callsite cache decided on another thread while tests run in parallel. The buffer
        // then holds every test's logs, which only makes the search for secrets wider.
        let captured = captured_logs();

        let plain_password = "my very secret passphrase";
        let keys = keys(1);
        let email = email();
        let user = users::create(
            &t.db,
            hasher(),
            NewUser {
                email: email.clone(),
                password: Password::parse(plain_password).expect("password"),
                name: None,
                image: None,
            },
        )
        .await
        .expect("register");
        let wrong = users::authenticate(
            &t.db,
            hasher(),
            &email,
            &Password::parse("not my passphrase").expect("p"),
        )
        .await
        .expect_err("wrong");
        let duplicate = users::create(
            &t.db,
            hasher(),
            NewUser {
                email: email.clone(),
                password: Password::parse(plain_password).expect("password"),
                name: None,
                image: None,
            },
        )
        .await
        .expect_err("duplicate");
        let session = sessions::create(&t.db, user.id, Duration::from_secs(60))
            .await
            .expect("session");
        let issued = verification_tokens::create(&t.db, &email, Duration::from_secs(60))
            .await
            .expect("issue");
        let profile = profile(&unique(), Some(self::email()), true);
        let oauth = accounts::authenticate(&t.db, &keys, profile.clone())
            .await
            .expect("oauth");
        let tokens = accounts::get_tokens(&t.db, &keys, oauth.user.id, oauth.account.id)
            .await
            .expect("tokens");
        let decryption =
            accounts::get_tokens(&t.db, &self::keys(1), oauth.user.id, oauth.account.id)
                .await
                .expect_err("wrong key");
        let short = Password::parse("hunter2").expect_err("short");
        let hash = user_rows::Entity::find()
            .filter(user_rows::Column::Email.eq(email.as_ref()))
            .one(&t.db)
            .await
            .expect("read")
            .expect("row")
            .password_hash
            .expect("hash");

        let shown = format!(
            "{user:?} {wrong:?} {wrong} {duplicate:?} {duplicate} {session:?} {issued:?} \
             {profile:?} {oauth:?} {tokens:?} {decryption:?} {decryption} {short:?} {short} \
             {keys:?} {:?} {hasher:?}",
            Password::parse(plain_password).expect("password"),
            hasher = hasher(),
        );
        let logs = String::from_utf8(captured.lock().expect("logs").clone()).expect("utf-8");
        assert!(logs.contains("AuthenticationFailed") || logs.contains("authentication failed"));
        let secrets = [
            plain_password.to_owned(),
            "hunter2".to_owned(),
            hash,
            session.token.expose().to_owned(),
            issued.token.expose().to_owned(),
            tokens.refresh_token.expect("refresh").expose().to_owned(),
            tokens.access_token.expect("access").expose().to_owned(),
            tokens.id_token.expect("id").expose().to_owned(),
        ];
        for secret in &secrets {
            assert!(
                !shown.contains(secret.as_str()),
                "{secret} shown in {shown}"
            );
            assert!(!logs.contains(secret.as_str()), "{secret} logged in {logs}");
        }
    }
);

backend_test!(
    async fn a_stored_value_that_does_not_decode_is_named_by_table_column_and_row(t: &TestDb) {
        use sea_orm::sea_query::Expr;

        // An email written around the domain (by hand, or by another program) in a form
        // `Email::parse` never writes: every read of the user names the row.
        let user = register(&t.db, &email()).await;
        let shouted = user.email.as_ref().to_uppercase();
        user_rows::Entity::update_many()
            .col_expr(user_rows::Column::Email, Expr::value(shouted.clone()))
            .filter(user_rows::Column::Id.eq(user.id))
            .exec(&t.db)
            .await
            .expect("corrupt");
        let undecodable = |result: domain::Result<User>| match result {
            Err(Error::Undecodable { table, column, row }) => (table, column, row),
            other => panic!("expected Undecodable, got {other:?}"),
        };
        let expected = (domain::Table::Users, "email", user.id);
        assert_eq!(undecodable(users::get(&t.db, user.id).await), expected);
        assert_eq!(
            undecodable(users::find(&t.db, user.id).await.map(|u| u.expect("row"))),
            expected
        );
        // A stored token type with a control character: the tokens of the link name it.
        let keys = keys(1);
        let signed = accounts::authenticate(&t.db, &keys, profile(&unique(), Some(email()), true))
            .await
            .expect("sign in");
        account_rows::Entity::update_many()
            .col_expr(account_rows::Column::TokenType, Expr::value("Bear\u{1}er"))
            .filter(account_rows::Column::Id.eq(signed.account.id))
            .exec(&t.db)
            .await
            .expect("corrupt");
        assert!(matches!(
            accounts::get_tokens(&t.db, &keys, signed.user.id, signed.account.id).await,
            Err(Error::Undecodable {
                table: domain::Table::Accounts,
                column: "token_type",
                row,
            }) if row == signed.account.id
        ));
    }
);

backend_test!(
    async fn a_users_sessions_are_listed_newest_first_a_page_at_a_time(t: &TestDb) {
        let user = register(&t.db, &email()).await;
        let mut created = Vec::new();
        for _ in 0..3 {
            created.push(
                sessions::create(&t.db, user.id, Duration::from_secs(3600))
                    .await
                    .expect("session")
                    .session,
            );
        }
        created.reverse();
        let first = sessions::list(&t.db, user.id, PageRequest::first(2))
            .await
            .expect("first page");
        assert_eq!(first.items, created[..2]);
        let next = first.next.expect("a second page");
        let second = sessions::list(&t.db, user.id, PageRequest::after(next, 2))
            .await
            .expect("second page");
        assert_eq!(second.items, created[2..]);
        assert_eq!(second.next, None);
        assert!(matches!(
            sessions::list(&t.db, user.id, PageRequest::first(0)).await,
            Err(Error::Invalid { field: "limit", .. })
        ));
    }
);
