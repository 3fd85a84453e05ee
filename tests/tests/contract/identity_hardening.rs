//! Identity and supplier accounts as an adversary tries them: look-alike identifiers, NUL and
//! control characters, lifetimes and expiries at their limits, read-then-write paths under
//! eight concurrent callers, and random values stored and read back through `domain`. Every
//! test runs on SQLite, Postgres and MariaDB and expects the same answers on each.

use std::time::Duration;

use domain::crypto::Secret;
use domain::paging::PageRequest;
use domain::supplier_accounts::{
    self, ACCOUNT_ID_MAX_LEN, ApiKey, ApiSecret, CREDENTIAL_MAX_LEN, ExternalAccountId,
    NewSupplierAccount, SupplierProvider,
};
use domain::users::accounts::{
    self, AccessToken, AccountKind, IdToken, OAuthOutcome, OAuthProfile, OAuthProvider,
    OAuthTokens, ProviderAccountId, RefreshToken, Scope, SessionState, TokenExpiry, TokenType,
};
use domain::users::{
    self, DisplayName, Email, ImageUrl, NewUser, StripeAccountId, UserPatch, sessions,
    verification_tokens,
};
use domain::{Error, UniqueRule, Violation};
use entity::{
    accounts as account_rows, supplier_accounts as supplier_account_rows, users as user_rows,
};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, TestRunner};
use sea_orm::{EntityTrait, PaginatorTrait};

use super::identity::{email, hasher, keys, password, register};
use super::*;

/// `n` values of `strategy` from a seeded runner (the same values on every backend, so that
/// the backends answer the same inputs).
pub fn samples<S: Strategy>(strategy: S, n: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).expect("a value").current())
        .collect()
}

/// Text an adversary tries: arbitrary Unicode, look-alikes, controls, NUL, odd spaces.
pub fn edgy() -> impl Strategy<Value = String> + Clone {
    proptest::prop_oneof![
        2 => "[a-zA-Z0-9 éÉ\\-]{1,40}",
        1 => proptest::arbitrary::any::<String>(),
        1 => "[aA \\u{0}\\u{1}\\t\\n\\u{7f}\\u{301}\\u{e1}\\u{ff41}\\u{430}\\u{3000}]{0,12}",
    ]
}

fn oauth(provider_account_id: &str, email: Option<Email>, verified: bool) -> OAuthProfile {
    OAuthProfile {
        provider: OAuthProvider::parse("google").expect("provider"),
        provider_account_id: ProviderAccountId::parse(provider_account_id)
            .expect("provider account id"),
        kind: AccountKind::parse("oidc").expect("kind"),
        email,
        email_verified: verified,
        name: None,
        image: None,
        tokens: OAuthTokens {
            access_token: Some(
                AccessToken::parse(Secret::new(format!("access-{}", unique())))
                    .expect("access_token"),
            ),
            ..OAuthTokens::default()
        },
    }
}

async fn rows(t: &TestDb) -> (u64, u64, u64) {
    (
        user_rows::Entity::find().count(&t.db).await.expect("users"),
        account_rows::Entity::find()
            .count(&t.db)
            .await
            .expect("accounts"),
        supplier_account_rows::Entity::find()
            .count(&t.db)
            .await
            .expect("supplier accounts"),
    )
}

/// `ann` with a suffix that keeps the test's addresses apart from other rows.
fn address(local: &str, tag: &str) -> String {
    format!("{local}@example-{tag}.com")
}

backend_test!(
    async fn an_email_finds_only_its_own_account_whatever_looks_like_it(t: &TestDb) {
        let tag = unique();
        let ann = register(&t.db, &Email::parse(&address("ann", &tag)).expect("email")).await;

        // The same address in another case is the same account.
        let upper = Email::parse(&address("ANN", &tag).to_uppercase()).expect("email");
        let found = users::find_by_email(&t.db, &upper).await.expect("find");
        assert_eq!(found.map(|u| u.id), Some(ann.id));

        // An accent (composed or decomposed), a full-width letter, a Cyrillic `а`, or an
        // accented domain: someone else's address, so nobody is found.
        for look_alike in [
            address("\u{e1}nn", &tag),
            address("a\u{301}nn", &tag),
            address("\u{ff41}nn", &tag),
            address("\u{430}nn", &tag),
            format!("ann@ex\u{e1}mple-{tag}.com"),
        ] {
            let email = Email::parse(&look_alike).expect("a look-alike is a valid address");
            assert_ne!(email.as_ref(), ann.email.as_ref());
            let found = users::find_by_email(&t.db, &email).await.expect("find");
            assert!(found.is_none(), "{look_alike:?} found {found:?}");
        }

        // Each look-alike can register its own account; a composed and a decomposed
        // spelling are one address, so the second registration is a conflict.
        let composed = register(&t.db, &Email::parse(&address("\u{e1}nn", &tag)).expect("e")).await;
        let decomposed = users::create(
            &t.db,
            hasher(),
            NewUser {
                email: Email::parse(&address("a\u{301}nn", &tag)).expect("email"),
                password: password(),
                name: None,
                image: None,
            },
        )
        .await;
        assert!(matches!(
            decomposed,
            Err(Error::Conflict {
                rule: UniqueRule::UsersEmail
            })
        ));
        let wide = register(
            &t.db,
            &Email::parse(&address("\u{ff41}nn", &tag)).expect("e"),
        )
        .await;
        let cyrillic = register(
            &t.db,
            &Email::parse(&address("\u{430}nn", &tag)).expect("e"),
        )
        .await;
        let ids = [ann.id, composed.id, wide.id, cyrillic.id];
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                assert_ne!(a, b);
            }
        }
        let by_decomposed = users::find_by_email(
            &t.db,
            &Email::parse(&address("a\u{301}nn", &tag)).expect("email"),
        )
        .await
        .expect("find");
        assert_eq!(by_decomposed.map(|u| u.id), Some(composed.id));
        // Each reads back exactly as stored.
        for (user, local) in [
            (&ann, "ann"),
            (&composed, "\u{e1}nn"),
            (&wide, "\u{ff41}nn"),
        ] {
            let back = users::get(&t.db, user.id).await.expect("get");
            assert_eq!(back.email.as_ref(), address(local, &tag));
        }
    }
);

backend_test!(
    async fn a_provider_vouching_for_a_look_alike_email_never_lands_in_the_real_account(
        t: &TestDb,
    ) {
        let keys = keys(1);
        let tag = unique();
        let ann = register(&t.db, &Email::parse(&address("ann", &tag)).expect("email")).await;
        for (i, look_alike) in [
            address("\u{e1}nn", &tag),
            address("\u{ff41}nn", &tag),
            address("\u{430}nn", &tag),
        ]
        .into_iter()
        .enumerate()
        {
            let email = Email::parse(&look_alike).expect("email");
            let signed = accounts::authenticate(
                &t.db,
                &keys,
                oauth(&format!("look-alike-{i}-{tag}"), Some(email), true),
            )
            .await
            .expect("sign in");
            assert_eq!(signed.outcome, OAuthOutcome::Created, "{look_alike:?}");
            assert_ne!(signed.user.id, ann.id, "{look_alike:?}");
        }
        // The real address, verified, links to ann.
        let real = accounts::authenticate(
            &t.db,
            &keys,
            oauth(&format!("real-{tag}"), Some(ann.email.clone()), true),
        )
        .await
        .expect("sign in");
        assert_eq!((real.outcome, real.user.id), (OAuthOutcome::Linked, ann.id));
    }
);

backend_test!(
    async fn provider_account_ids_that_only_look_alike_are_different_people(t: &TestDb) {
        let keys = keys(1);
        let base = format!("AbC{}", unique());
        // Case, accent (composed and decomposed), full width, Cyrillic: each its own person.
        let variants = [
            base.clone(),
            base.to_lowercase(),
            base.to_uppercase(),
            base.replacen('A', "\u{c0}", 1),
            base.replacen('A', "A\u{300}", 1),
            base.replacen('A', "\u{ff21}", 1),
            base.replacen('A', "\u{410}", 1),
        ];
        let mut users_seen = Vec::new();
        for (i, id) in variants.iter().enumerate() {
            let signed = accounts::authenticate(&t.db, &keys, oauth(id, Some(email()), true))
                .await
                .expect("sign in");
            assert_eq!(signed.outcome, OAuthOutcome::Created, "variant {i}: {id:?}");
            assert_eq!(signed.account.provider_account_id, *id);
            assert!(
                !users_seen.contains(&signed.user.id),
                "variant {i} reused a user"
            );
            users_seen.push(signed.user.id);
        }
        // Signing in again with each exact id finds its own user and nobody else's.
        for (id, user_id) in variants.iter().zip(&users_seen) {
            let again = accounts::authenticate(&t.db, &keys, oauth(id, Some(email()), true))
                .await
                .expect("sign in again");
            assert_eq!(
                (again.outcome, again.user.id),
                (OAuthOutcome::SignedIn, *user_id)
            );
            let listed = accounts::list(&t.db, *user_id).await.expect("list");
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0].provider_account_id, *id);
        }
        // MariaDB ignores trailing spaces even in a binary collation: such ids are refused
        // everywhere rather than being one id there and two elsewhere.
        for spaced in [format!("{base} "), format!(" {base}")] {
            assert_eq!(
                invalid(ProviderAccountId::parse(&spaced)),
                ("accounts.provider_account_id", Violation::Format)
            );
        }
    }
);

backend_test!(
    async fn stripe_ids_that_differ_by_case_are_two_accounts_and_each_webhook_finds_its_user(
        t: &TestDb,
    ) {
        let suffix = unique();
        let first = register(&t.db, &email()).await;
        let second = register(&t.db, &email()).await;
        let upper = StripeAccountId::parse(&format!("acct_1AbC{suffix}X")).expect("id");
        let lower = StripeAccountId::parse(&format!("acct_1aBc{suffix}x")).expect("id");
        users::update_stripe_account(&t.db, first.id, &upper)
            .await
            .expect("attach");
        users::update_stripe_account(&t.db, second.id, &lower)
            .await
            .expect("a case variant is another account, not a conflict");
        let by_upper = users::find_by_stripe_account(&t.db, &upper)
            .await
            .expect("find");
        let by_lower = users::find_by_stripe_account(&t.db, &lower)
            .await
            .expect("find");
        assert_eq!(by_upper.map(|u| u.id), Some(first.id));
        assert_eq!(by_lower.map(|u| u.id), Some(second.id));
        let other = StripeAccountId::parse(&format!("acct_1ABC{suffix}X")).expect("id");
        assert!(
            users::find_by_stripe_account(&t.db, &other)
                .await
                .expect("find")
                .is_none()
        );
        // The exact id again is the conflict.
        let third = register(&t.db, &email()).await;
        assert!(matches!(
            users::update_stripe_account(&t.db, third.id, &upper).await,
            Err(Error::Conflict {
                rule: UniqueRule::UsersStripeAccountId
            })
        ));
    }
);

backend_test!(
    async fn supplier_account_ids_are_kept_exactly_as_given(t: &TestDb) {
        let keys = keys(1);
        let user = register(&t.db, &email()).await;
        let ids = [
            "supplier-X",
            "SUPPLIER-x",
            "supplier-\u{d7}",
            "s\u{fc}pplier-x",
            "su\u{308}pplier-x",
            "\u{ff53}upplier-x",
        ];
        for (provider, id) in [
            SupplierProvider::Aliexpress,
            SupplierProvider::CjDropshipping,
            SupplierProvider::Spocket,
        ]
        .into_iter()
        .zip(ids)
        {
            let account = supplier_accounts::create(
                &t.db,
                &keys,
                user.id,
                NewSupplierAccount {
                    provider,
                    api_key: ApiKey::parse(Secret::new("key".to_owned())).expect("api key"),
                    api_secret: None,
                    account_id: Some(ExternalAccountId::parse(id).expect("account id")),
                },
            )
            .await
            .expect("connect");
            let back = supplier_accounts::get(&t.db, user.id, account.id)
                .await
                .expect("get");
            assert_eq!(back.account_id.as_deref(), Some(id));
        }
        // Another user may use the look-alikes (there is no uniqueness on the supplier's id,
        // and nothing is folded): each reads back its own.
        for id in &ids[3..] {
            let other = register(&t.db, &email()).await;
            let account = supplier_accounts::create(
                &t.db,
                &keys,
                other.id,
                NewSupplierAccount {
                    provider: SupplierProvider::Aliexpress,
                    api_key: ApiKey::parse(Secret::new("key".to_owned())).expect("api key"),
                    api_secret: None,
                    account_id: Some(ExternalAccountId::parse(id).expect("account id")),
                },
            )
            .await
            .expect("connect");
            assert_eq!(account.account_id.as_deref(), Some(*id));
        }
    }
);

backend_test!(
    async fn nul_and_control_characters_are_refused_by_name_and_nothing_is_written(t: &TestDb) {
        let user = register(&t.db, &email()).await;
        let before = rows(t).await;

        // The inputs cannot even be built: every field's constructor refuses them by name.
        let control = |result: domain::Result<()>| invalid(result);
        let cases = [
            (
                control(ProviderAccountId::parse("12\u{0}34").map(drop)),
                "accounts.provider_account_id",
            ),
            (
                control(ProviderAccountId::parse("12\n34").map(drop)),
                "accounts.provider_account_id",
            ),
            (
                control(AccountKind::parse("oidc\u{0}").map(drop)),
                "accounts.type",
            ),
            (
                control(TokenType::parse("Bearer\u{0}").map(drop)),
                "accounts.token_type",
            ),
            (
                control(SessionState::parse("s\u{1b}").map(drop)),
                "accounts.session_state",
            ),
            (
                control(Scope::parse("openid\u{0}email").map(drop)),
                "accounts.scope",
            ),
            (
                control(AccessToken::parse(Secret::new("a\u{0}b")).map(drop)),
                "accounts.access_token",
            ),
            (
                control(ExternalAccountId::parse("acc\u{0}ount").map(drop)),
                "supplier_accounts.account_id",
            ),
        ];
        for (refused, field) in cases {
            assert_eq!(refused, (field, Violation::ControlCharacter));
        }
        assert_eq!(rows(t).await, before, "nothing was written");

        // Email, name and image refuse them at parse time.
        assert_eq!(
            invalid(Email::parse("ann\u{0}@example.com")),
            ("users.email", Violation::ControlCharacter)
        );
        assert_eq!(
            invalid(DisplayName::parse("Ann\u{0}")),
            ("users.name", Violation::ControlCharacter)
        );
        assert_eq!(
            invalid(ImageUrl::parse("https://cdn.example.com/\u{0}.png")),
            ("users.image", Violation::ControlCharacter)
        );

        // Tokens are looked up by digest: a NUL finds nothing, it is never a database error.
        assert!(
            sessions::find_by_token(&t.db, "tok\u{0}en")
                .await
                .expect("resolve")
                .is_none()
        );
        assert!(
            !sessions::delete_by_token(&t.db, "\u{0}")
                .await
                .expect("revoke")
        );
        assert!(matches!(
            verification_tokens::delete(&t.db, &user.email, "tok\u{0}en").await,
            Err(Error::NotFound { .. })
        ));
    }
);

backend_test!(
    async fn lifetimes_and_expiries_are_bounded_at_the_input(t: &TestDb) {
        let keys = keys(1);
        let user = register(&t.db, &email()).await;
        let max_session = sessions::MAX_SESSION_LIFETIME;
        for bad in [
            Duration::ZERO,
            max_session + Duration::from_nanos(1),
            Duration::from_secs(u64::MAX),
            Duration::MAX,
        ] {
            assert_eq!(
                invalid(sessions::create(&t.db, user.id, bad).await).0,
                "lifetime"
            );
            assert_eq!(
                invalid(verification_tokens::create(&t.db, &user.email, bad).await).0,
                "lifetime"
            );
        }
        assert!(
            sessions::list(&t.db, user.id, PageRequest::default())
                .await
                .expect("list")
                .items
                .is_empty()
        );
        let longest = sessions::create(&t.db, user.id, max_session)
            .await
            .expect("a year");
        let resolved = sessions::find_by_token(&t.db, longest.token.expose())
            .await
            .expect("resolve")
            .expect("live");
        assert_eq!(resolved.session, longest.session);
        verification_tokens::create(
            &t.db,
            &user.email,
            verification_tokens::MAX_VERIFICATION_LIFETIME,
        )
        .await
        .expect("a week");

        // A provider's expiry is a time: 1970 ..= 9999 in Unix seconds.
        for bad in [i64::MAX, i64::MIN, -1, 253_402_300_800] {
            assert_eq!(
                invalid(TokenExpiry::parse(bad)).0,
                "accounts.expires_at",
                "{bad}"
            );
        }
        for good in [0, 253_402_300_799] {
            let mut profile = oauth(&format!("exp-{}", unique()), Some(email()), true);
            profile.tokens.expires_at = Some(TokenExpiry::parse(good).expect("expiry"));
            let signed = accounts::authenticate(&t.db, &keys, profile)
                .await
                .expect("sign in");
            let listed = accounts::list(&t.db, signed.user.id).await.expect("list");
            assert_eq!(listed[0].expires_at, Some(good));
        }
    }
);

backend_test!(
    async fn eight_users_racing_for_one_stripe_account_leave_exactly_one_owner(t: &TestDb) {
        let account = StripeAccountId::parse(&format!("acct_race{}", unique())).expect("id");
        let mut contenders = Vec::new();
        for _ in 0..8 {
            contenders.push(register(&t.db, &email()).await.id);
        }
        let tasks: Vec<_> = contenders
            .iter()
            .map(|&id| {
                let (db, account) = (t.db.clone(), account.clone());
                tokio::spawn(async move { users::update_stripe_account(&db, id, &account).await })
            })
            .collect();
        let mut winners = Vec::new();
        for (task, id) in tasks.into_iter().zip(&contenders) {
            match task.await.expect("task") {
                Ok(user) => winners.push(user.id),
                Err(Error::Conflict {
                    rule: UniqueRule::UsersStripeAccountId,
                }) => {}
                Err(other) => panic!("user {id}: {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "{winners:?}");
        let owner = users::find_by_stripe_account(&t.db, &account)
            .await
            .expect("find");
        assert_eq!(owner.map(|u| u.id), Some(winners[0]));
    }
);

backend_test!(
    async fn eight_first_sign_ins_of_one_person_make_one_user_and_one_link(t: &TestDb) {
        let keys = keys(1);
        let id = format!("person-{}", unique());
        let address = email();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (db, keys, profile) = (
                    t.db.clone(),
                    keys.clone(),
                    oauth(&id, Some(address.clone()), true),
                );
                tokio::spawn(async move { accounts::authenticate(&db, &keys, profile).await })
            })
            .collect();
        let mut users_seen = Vec::new();
        let mut created = 0;
        for task in tasks {
            let signed = task.await.expect("task").expect("every sign-in succeeds");
            created += usize::from(signed.outcome == OAuthOutcome::Created);
            users_seen.push(signed.user.id);
        }
        users_seen.dedup();
        assert_eq!(users_seen.len(), 1, "one user for one person");
        assert_eq!(created, 1);
        assert_eq!(
            accounts::list(&t.db, users_seen[0])
                .await
                .expect("list")
                .len(),
            1
        );
    }
);

backend_test!(
    async fn eight_registrations_of_one_address_spelled_eight_ways_leave_one_account(t: &TestDb) {
        let tag = unique();
        let spellings = [
            address("\u{e1}nn", &tag),
            address("a\u{301}nn", &tag),
            address("\u{c1}NN", &tag),
            address("A\u{301}nn", &tag),
            format!(" {} ", address("\u{e1}nn", &tag)),
            address("\u{e1}nN", &tag).to_uppercase(),
            address("\u{e1}Nn", &tag),
            address("a\u{301}NN", &tag),
        ];
        let tasks: Vec<_> = spellings
            .iter()
            .map(|spelling| {
                let db = t.db.clone();
                let email = Email::parse(spelling).expect("email");
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
        let mut won = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(_) => won += 1,
                Err(Error::Conflict {
                    rule: UniqueRule::UsersEmail,
                }) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(won, 1);
    }
);

backend_test!(
    async fn eight_concurrent_supplier_connections_leave_one_account(t: &TestDb) {
        let keys = keys(1);
        let user = register(&t.db, &email()).await;
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (db, keys) = (t.db.clone(), keys.clone());
                tokio::spawn(async move {
                    supplier_accounts::create(
                        &db,
                        &keys,
                        user.id,
                        NewSupplierAccount {
                            provider: SupplierProvider::Aliexpress,
                            api_key: ApiKey::parse(Secret::new(format!("key-{i}")))
                                .expect("api key"),
                            api_secret: None,
                            account_id: Some(
                                ExternalAccountId::parse(&format!("acc-{i}")).expect("id"),
                            ),
                        },
                    )
                    .await
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task").expect("every connect succeeds");
        }
        let listed = supplier_accounts::list(&t.db, user.id).await.expect("list");
        assert_eq!(listed.len(), 1);
        // Its credentials are those of the account id it shows (one writer's whole row).
        let credentials = supplier_accounts::get_credentials(&t.db, &keys, user.id, listed[0].id)
            .await
            .expect("credentials");
        let i = listed[0]
            .account_id
            .as_deref()
            .expect("id")
            .trim_start_matches("acc-");
        assert_eq!(credentials.api_key.expose(), format!("key-{i}"));
    }
);

backend_test!(
    async fn random_profiles_names_and_provider_ids_read_back_exactly(t: &TestDb) {
        let keys = keys(1);
        let user = register(&t.db, &email()).await;
        let mut accepted = 0;
        for (name, image) in samples((edgy(), edgy()), 150) {
            let name = DisplayName::parse(&name);
            let image = ImageUrl::parse(&format!("https://cdn.example.com/{image}"));
            let (Ok(name), Ok(image)) = (name, image) else {
                continue;
            };
            accepted += 1;
            let patch = UserPatch {
                name: Some(Some(name.clone())),
                image: Some(Some(image.clone())),
            };
            let updated = users::update(&t.db, user.id, patch).await.expect("update");
            let back = users::get(&t.db, user.id).await.expect("get");
            assert_eq!(back, updated);
            assert_eq!(back.name.as_deref(), Some(name.as_ref()));
            assert_eq!(back.image.as_deref(), Some(image.as_ref()));
        }
        assert!(
            accepted > 50,
            "the generator must produce valid values too ({accepted})"
        );

        let mut linked = 0;
        for (i, id) in samples(edgy(), 150).into_iter().enumerate() {
            let id = format!("{i}-{id}");
            let signed_in = match ProviderAccountId::parse(&id) {
                Ok(_) => {
                    accounts::authenticate(&t.db, &keys, oauth(&id, Some(email()), true)).await
                }
                Err(refused) => Err(refused),
            };
            match signed_in {
                Ok(signed) => {
                    linked += 1;
                    let listed = accounts::list(&t.db, signed.user.id).await.expect("list");
                    assert_eq!(listed[0].provider_account_id, id);
                    let again =
                        accounts::authenticate(&t.db, &keys, oauth(&id, Some(email()), true))
                            .await
                            .expect("again");
                    assert_eq!(again.user.id, signed.user.id);
                }
                Err(Error::Invalid {
                    field: "accounts.provider_account_id",
                    ..
                }) => {
                    assert!(
                        id.chars().any(char::is_control)
                            || id.trim() != id
                            || id.chars().count() > 255
                    );
                }
                Err(other) => panic!("{id:?}: {other:?}"),
            }
        }
        assert!(linked > 50, "{linked}");

        let mut connected = 0;
        for id in samples(edgy(), 100) {
            let result = match ExternalAccountId::parse(&id) {
                Ok(account_id) => {
                    supplier_accounts::create(
                        &t.db,
                        &keys,
                        user.id,
                        NewSupplierAccount {
                            provider: SupplierProvider::CjDropshipping,
                            api_key: ApiKey::parse(Secret::new("key")).expect("api key"),
                            api_secret: None,
                            account_id: Some(account_id),
                        },
                    )
                    .await
                }
                Err(refused) => Err(refused),
            };
            match result {
                Ok(account) => {
                    connected += 1;
                    let back = supplier_accounts::get(&t.db, user.id, account.id)
                        .await
                        .expect("get");
                    assert_eq!(back.account_id.as_deref(), Some(id.trim()));
                    assert_eq!(back, account);
                }
                Err(Error::Invalid {
                    field: "supplier_accounts.account_id",
                    ..
                }) => assert!(
                    id.trim().is_empty()
                        || id.chars().any(char::is_control)
                        || id.trim().chars().count() > ACCOUNT_ID_MAX_LEN
                ),
                Err(other) => panic!("{id:?}: {other:?}"),
            }
        }
        assert!(connected > 50, "{connected}");

        let mut found = 0;
        for local in samples("[a-z\u{e1}\u{301}\u{ff41}\u{430}A-Z]{1,12}", 100) {
            let Ok(address) = Email::parse(&format!("{local}-{}@example.com", unique())) else {
                continue;
            };
            let user = register(&t.db, &address).await;
            let back = users::find_by_email(&t.db, &address)
                .await
                .expect("find")
                .expect("found");
            assert_eq!((back.id, back.email), (user.id, address));
            found += 1;
        }
        assert!(found > 50, "{found}");
    }
);

backend_test!(
    async fn every_limited_text_field_stores_its_maximum_in_four_byte_characters(t: &TestDb) {
        const WIDE: char = '\u{1f600}';
        let wide = |n: usize| WIDE.to_string().repeat(n);
        let keys = keys(1);

        // Email: 254 characters (64 in the local part, labels of at most 63).
        let longest = format!(
            "{}@{}.{}.{}{}.com",
            "a".repeat(64),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(57 - unique().len()),
            unique()
        );
        assert_eq!(longest.chars().count(), users::EMAIL_MAX_LEN);
        let longest_email = Email::parse(&longest).expect("254 characters");
        assert_eq!(
            longest_email.as_ref().chars().count(),
            longest.chars().count()
        );
        let user = register(&t.db, &longest_email).await;
        assert_eq!(
            users::find_by_email(&t.db, &longest_email)
                .await
                .expect("find")
                .map(|u| u.id),
            Some(user.id)
        );

        // Display name: 100 four-byte characters; image URL: 2,048 characters.
        let name = DisplayName::parse(&wide(users::DISPLAY_NAME_MAX_LEN)).expect("name");
        assert!(DisplayName::parse(&wide(users::DISPLAY_NAME_MAX_LEN + 1)).is_err());
        let prefix = "https://cdn.example.com/";
        let image = ImageUrl::parse(&format!(
            "{prefix}{}",
            "a".repeat(users::IMAGE_URL_MAX_LEN - prefix.len())
        ))
        .expect("image");
        let updated = users::update(
            &t.db,
            user.id,
            UserPatch {
                name: Some(Some(name.clone())),
                image: Some(Some(image.clone())),
            },
        )
        .await
        .expect("update");
        assert_eq!(users::get(&t.db, user.id).await.expect("get"), updated);
        assert_eq!(updated.name.as_deref(), Some(name.as_ref()));
        assert_eq!(updated.image.as_deref(), Some(image.as_ref()));

        // OAuth: ids, type, token type and state of 255 four-byte characters; a scope and
        // tokens of 16 KiB.
        let short = accounts::SHORT_FIELD_MAX_LEN;
        let big = accounts::TOKEN_MAX_LEN;
        let mut profile = oauth(&wide(short), Some(email()), true);
        profile.kind = AccountKind::parse(&wide(short)).expect("kind");
        profile.tokens = OAuthTokens {
            refresh_token: Some(
                RefreshToken::parse(Secret::new(wide(big / 4))).expect("refresh_token"),
            ),
            access_token: Some(
                AccessToken::parse(Secret::new("t".repeat(big))).expect("access_token"),
            ),
            id_token: Some(IdToken::parse(Secret::new(wide(big / 4))).expect("id_token")),
            expires_at: Some(TokenExpiry::parse(253_402_300_799).expect("expiry")),
            token_type: Some(TokenType::parse(&wide(short)).expect("token_type")),
            scope: Some(Scope::parse(&wide(big / 4)).expect("scope")),
            session_state: Some(SessionState::parse(&wide(short)).expect("session_state")),
        };
        let signed = accounts::authenticate(&t.db, &keys, profile.clone())
            .await
            .expect("sign in");
        let stored = accounts::get_tokens(&t.db, &keys, signed.user.id, signed.account.id)
            .await
            .expect("tokens");
        assert_eq!(stored, profile.tokens);
        let listed = accounts::list(&t.db, signed.user.id).await.expect("list");
        assert_eq!(listed[0].provider_account_id, wide(short));
        assert_eq!(listed[0].kind, wide(short));
        assert_eq!(
            invalid(ProviderAccountId::parse(&wide(short + 1))).0,
            "accounts.provider_account_id"
        );
        assert_eq!(
            invalid(Scope::parse(&format!("{}s", wide(big / 4)))).0,
            "accounts.scope"
        );

        // Supplier: an account id of 255 four-byte characters, credentials of 4 KiB.
        let account = supplier_accounts::create(
            &t.db,
            &keys,
            user.id,
            NewSupplierAccount {
                provider: SupplierProvider::Aliexpress,
                api_key: ApiKey::parse(Secret::new(wide(CREDENTIAL_MAX_LEN / 4))).expect("api key"),
                api_secret: Some(
                    ApiSecret::parse(Secret::new("s".repeat(CREDENTIAL_MAX_LEN)))
                        .expect("api secret"),
                ),
                account_id: Some(
                    ExternalAccountId::parse(&wide(ACCOUNT_ID_MAX_LEN)).expect("account id"),
                ),
            },
        )
        .await
        .expect("connect");
        let back = supplier_accounts::get(&t.db, user.id, account.id)
            .await
            .expect("get");
        assert_eq!(back.account_id, Some(wide(ACCOUNT_ID_MAX_LEN)));
        let credentials = supplier_accounts::get_credentials(&t.db, &keys, user.id, account.id)
            .await
            .expect("credentials");
        assert_eq!(credentials.api_key.expose(), wide(CREDENTIAL_MAX_LEN / 4));
        assert_eq!(
            invalid(ExternalAccountId::parse(&wide(ACCOUNT_ID_MAX_LEN + 1))).0,
            "supplier_accounts.account_id"
        );
    }
);

backend_test!(
    async fn eight_concurrent_consumes_of_one_token_verify_once_and_look_alike_tokens_open_nothing(
        t: &TestDb,
    ) {
        let user = register(&t.db, &email()).await;
        let issued = verification_tokens::create(&t.db, &user.email, Duration::from_secs(600))
            .await
            .expect("issue");
        let token = issued.token.expose().to_owned();
        // A token differing only by case (tokens are case-sensitive base64url) opens nothing.
        let flipped: String = token
            .chars()
            .map(|c| {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        assert_ne!(flipped, token);
        assert!(matches!(
            verification_tokens::delete(&t.db, &user.email, &flipped).await,
            Err(Error::NotFound { .. })
        ));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (db, email, token) = (t.db.clone(), user.email.clone(), token.clone());
                tokio::spawn(async move { verification_tokens::delete(&db, &email, &token).await })
            })
            .collect();
        let mut verified = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(done) => {
                    verified += 1;
                    assert_eq!(done.user.map(|u| u.id), Some(user.id));
                }
                Err(Error::NotFound { .. }) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(verified, 1);

        let session = sessions::create(&t.db, user.id, Duration::from_secs(600))
            .await
            .expect("session");
        let token = session.token.expose();
        let flipped: String = token
            .chars()
            .map(|c| {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        assert!(
            sessions::find_by_token(&t.db, &flipped)
                .await
                .expect("resolve")
                .is_none()
        );
        assert!(
            sessions::find_by_token(&t.db, &format!("{token} "))
                .await
                .expect("resolve")
                .is_none()
        );
        assert!(
            sessions::find_by_token(&t.db, token)
                .await
                .expect("resolve")
                .is_some()
        );
    }
);
