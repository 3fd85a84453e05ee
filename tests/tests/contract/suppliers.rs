//! Supplier accounts with encrypted credentials, and key rotation, through `domain::supplier_accounts`
//! and `domain::crypto`.

use domain::crypto::{EncryptionKey, KeyRing, RotationReport, Secret};
use domain::error::DecryptionProblem;
use domain::supplier_accounts::{
    self, ApiKey, ApiSecret, ExternalAccountId, NewSupplierAccount, SupplierProvider,
};
use domain::users::accounts::{self, AccessToken, AccountKind, IdToken, OAuthProvider};
use domain::{Error, ForeignKeyRule, Violation};
use entity::{accounts as account_rows, supplier_accounts as supplier_account_rows};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use super::identity::{email, keys, raw_dump, register};
use super::*;

fn new_account(provider: SupplierProvider) -> (NewSupplierAccount, String, String) {
    let (key, secret) = (format!("ak_{}", unique()), format!("sk_{}", unique()));
    (
        NewSupplierAccount {
            provider,
            api_key: ApiKey::parse(Secret::new(key.clone())).expect("api key"),
            api_secret: Some(ApiSecret::parse(Secret::new(secret.clone())).expect("api secret")),
            account_id: Some(ExternalAccountId::parse("merchant-42").expect("account id")),
        },
        key,
        secret,
    )
}

/// Both tables with encrypted columns, rotated as an operator does: supplier accounts, then
/// OAuth links.
async fn rotate(t: &TestDb, keys: &KeyRing, batch_size: u64) -> domain::Result<RotationReport> {
    Ok(
        supplier_accounts::rotate_keys(&t.db, keys, batch_size).await?
            + accounts::rotate_keys(&t.db, keys, batch_size).await?,
    )
}

async fn stored(t: &TestDb, id: Uuid) -> supplier_account_rows::Model {
    supplier_account_rows::Entity::find_by_id(id)
        .one(&t.db)
        .await
        .expect("read")
        .expect("row")
}

backend_test!(
    async fn credentials_are_encrypted_at_rest_and_read_back_only_through_credentials(t: &TestDb) {
        let keys = keys(1);
        let user = register(&t.db, &email()).await;
        let (new, key, secret) = new_account(SupplierProvider::Aliexpress);
        let account = supplier_accounts::create(&t.db, &keys, user.id, new)
            .await
            .expect("connect");
        assert_eq!(account.provider, SupplierProvider::Aliexpress);
        assert_eq!(account.account_id.as_deref(), Some("merchant-42"));
        assert!(account.is_active && account.has_api_secret);

        let dump = raw_dump(&t.db).await;
        assert!(!dump.contains(&key) && !dump.contains(&secret), "{dump}");
        let row = stored(t, account.id).await;
        assert!(row.api_key.starts_with("xc1:1:"), "{}", row.api_key);
        assert!(
            row.api_secret
                .as_deref()
                .expect("secret")
                .starts_with("xc1:1:")
        );

        let listed = supplier_accounts::list(&t.db, user.id).await.expect("list");
        assert_eq!(listed, vec![account.clone()]);
        let shown = format!("{listed:?}");
        assert!(!shown.contains(&key) && !shown.contains(&secret));

        let credentials = supplier_accounts::get_credentials(&t.db, &keys, user.id, account.id)
            .await
            .expect("credentials");
        assert_eq!(credentials.api_key.expose(), key);
        assert_eq!(
            credentials.api_secret.as_ref().map(ApiSecret::expose),
            Some(secret.as_str())
        );
        let shown = format!("{credentials:?}");
        assert!(!shown.contains(&key) && !shown.contains(&secret), "{shown}");
    }
);

backend_test!(
    async fn connecting_the_same_provider_again_updates_the_one_account(t: &TestDb) {
        let keys = keys(1);
        let user = register(&t.db, &email()).await;
        let (first, _, _) = new_account(SupplierProvider::CjDropshipping);
        let account = supplier_accounts::create(&t.db, &keys, user.id, first)
            .await
            .expect("connect");
        supplier_accounts::update_active(&t.db, user.id, account.id, false)
            .await
            .expect("deactivate");

        let again = NewSupplierAccount {
            provider: SupplierProvider::CjDropshipping,
            api_key: ApiKey::parse(Secret::new("ak_rotated")).expect("api key"),
            api_secret: None,
            account_id: None,
        };
        let updated = supplier_accounts::create(&t.db, &keys, user.id, again)
            .await
            .expect("reconnect");
        assert_eq!(updated.id, account.id);
        assert_eq!(updated.created_at, account.created_at);
        assert!(updated.is_active, "connecting again reactivates");
        assert!(!updated.has_api_secret);
        assert_eq!(updated.account_id, None);
        let credentials = supplier_accounts::get_credentials(&t.db, &keys, user.id, account.id)
            .await
            .expect("credentials");
        assert_eq!(credentials.api_key.expose(), "ak_rotated");
        assert_eq!(credentials.api_secret, None);

        let (spocket, _, _) = new_account(SupplierProvider::Spocket);
        supplier_accounts::create(&t.db, &keys, user.id, spocket)
            .await
            .expect("another provider");
        assert_eq!(
            supplier_accounts::list(&t.db, user.id)
                .await
                .expect("list")
                .len(),
            2
        );
    }
);

backend_test!(
    async fn an_account_is_deactivated_reactivated_and_disconnected(t: &TestDb) {
        let keys = keys(1);
        let user = register(&t.db, &email()).await;
        let (new, _, _) = new_account(SupplierProvider::Spocket);
        let account = supplier_accounts::create(&t.db, &keys, user.id, new)
            .await
            .expect("connect");
        let off = supplier_accounts::update_active(&t.db, user.id, account.id, false)
            .await
            .expect("deactivate");
        assert!(!off.is_active);
        assert!(off.updated_at >= account.updated_at);
        let on = supplier_accounts::update_active(&t.db, user.id, account.id, true)
            .await
            .expect("reactivate");
        assert!(on.is_active);
        supplier_accounts::delete(&t.db, user.id, account.id)
            .await
            .expect("disconnect");
        assert!(matches!(
            supplier_accounts::get(&t.db, user.id, account.id).await,
            Err(Error::NotFound {
                entity: domain::Table::SupplierAccounts
            })
        ));
        assert_eq!(
            supplier_account_rows::Entity::find()
                .count(&t.db)
                .await
                .expect("n"),
            0
        );
    }
);

backend_test!(
    async fn one_user_can_never_read_or_change_another_users_supplier_accounts(t: &TestDb) {
        let keys = keys(1);
        let ann = register(&t.db, &email()).await;
        let bob = register(&t.db, &email()).await;
        let (new, _, _) = new_account(SupplierProvider::Aliexpress);
        let anns = supplier_accounts::create(&t.db, &keys, ann.id, new)
            .await
            .expect("connect");
        let before = stored(t, anns.id).await;

        let not_found = |r: &domain::Result<_>| {
            matches!(
                r,
                Err(Error::NotFound {
                    entity: domain::Table::SupplierAccounts
                })
            )
        };
        assert!(not_found(
            &supplier_accounts::get(&t.db, bob.id, anns.id)
                .await
                .map(|_| ())
        ));
        assert!(not_found(
            &supplier_accounts::get_credentials(&t.db, &keys, bob.id, anns.id)
                .await
                .map(|_| ())
        ));
        assert!(not_found(
            &supplier_accounts::update_active(&t.db, bob.id, anns.id, false)
                .await
                .map(|_| ())
        ));
        assert!(not_found(
            &supplier_accounts::update_active(&t.db, bob.id, anns.id, true)
                .await
                .map(|_| ())
        ));
        assert!(not_found(
            &supplier_accounts::delete(&t.db, bob.id, anns.id).await
        ));
        assert_eq!(
            supplier_accounts::list(&t.db, bob.id).await.expect("list"),
            vec![]
        );
        assert_eq!(stored(t, anns.id).await, before, "untouched");

        // Bob's own row with Ann's ciphertext copied in does not decrypt: values are bound
        // to their owner.
        let (bobs, _, _) = new_account(SupplierProvider::Aliexpress);
        let bobs = supplier_accounts::create(&t.db, &keys, bob.id, bobs)
            .await
            .expect("connect");
        supplier_account_rows::Entity::update_many()
            .col_expr(
                supplier_account_rows::Column::ApiKey,
                Expr::value(before.api_key),
            )
            .filter(supplier_account_rows::Column::Id.eq(bobs.id))
            .exec(&t.db)
            .await
            .expect("copy");
        assert!(matches!(
            supplier_accounts::get_credentials(&t.db, &keys, bob.id, bobs.id).await,
            Err(Error::Decryption {
                field: "supplier_accounts.api_key",
                problem: DecryptionProblem::Inauthentic
            })
        ));
    }
);

backend_test!(
    async fn a_tampered_ciphertext_or_a_wrong_key_gives_a_typed_error_never_garbage(t: &TestDb) {
        let keys = keys(1);
        let user = register(&t.db, &email()).await;
        let (new, _, _) = new_account(SupplierProvider::Aliexpress);
        let account = supplier_accounts::create(&t.db, &keys, user.id, new)
            .await
            .expect("connect");

        // Another key under the same version, and a ring without version 1.
        for (ring, problem) in [
            (self::keys(1), DecryptionProblem::Inauthentic),
            (
                self::keys(2),
                DecryptionProblem::UnknownKeyVersion { version: 1 },
            ),
        ] {
            let err = supplier_accounts::get_credentials(&t.db, &ring, user.id, account.id)
                .await
                .expect_err("wrong key");
            assert!(
                matches!(err, Error::Decryption { field: "supplier_accounts.api_key", problem: p } if p == problem),
                "{err:?}"
            );
        }

        // One character of the stored value changed.
        let row = stored(t, account.id).await;
        let mut chars: Vec<char> = row.api_key.chars().collect();
        let at = chars.len() - 5;
        chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        supplier_account_rows::Entity::update_many()
            .col_expr(supplier_account_rows::Column::ApiKey, Expr::value(tampered))
            .filter(supplier_account_rows::Column::Id.eq(account.id))
            .exec(&t.db)
            .await
            .expect("tamper");
        assert!(matches!(
            supplier_accounts::get_credentials(&t.db, &keys, user.id, account.id).await,
            Err(Error::Decryption {
                field: "supplier_accounts.api_key",
                problem: DecryptionProblem::Inauthentic
            })
        ));
        supplier_account_rows::Entity::update_many()
            .col_expr(
                supplier_account_rows::Column::ApiKey,
                Expr::value("plain-text-key".to_owned()),
            )
            .filter(supplier_account_rows::Column::Id.eq(account.id))
            .exec(&t.db)
            .await
            .expect("overwrite");
        assert!(matches!(
            supplier_accounts::get_credentials(&t.db, &keys, user.id, account.id).await,
            Err(Error::Decryption {
                problem: DecryptionProblem::Malformed,
                ..
            })
        ));
    }
);

backend_test!(
    async fn after_rotation_every_secret_opens_with_the_new_key_none_with_the_old(t: &TestDb) {
        let old_key = EncryptionKey::generate(1).expect("key");
        let old = KeyRing::new(old_key.clone(), []).expect("ring");
        let mut owners = Vec::new();
        for _ in 0..3 {
            let user = register(&t.db, &email()).await;
            for provider in [SupplierProvider::Aliexpress, SupplierProvider::Spocket] {
                let (new, key, secret) = new_account(provider);
                let account = supplier_accounts::create(&t.db, &old, user.id, new)
                    .await
                    .expect("connect");
                owners.push((user.id, account.id, key, secret));
            }
        }
        let oauth = accounts::authenticate(
            &t.db,
            &old,
            accounts::OAuthProfile {
                provider: OAuthProvider::parse("github").expect("provider"),
                provider_account_id: accounts::ProviderAccountId::parse(&unique()).expect("id"),
                kind: AccountKind::parse("oauth").expect("kind"),
                email: Some(email()),
                email_verified: true,
                name: None,
                image: None,
                tokens: accounts::OAuthTokens {
                    refresh_token: None,
                    access_token: Some(
                        AccessToken::parse(Secret::new("gho_access")).expect("access_token"),
                    ),
                    id_token: Some(IdToken::parse(Secret::new("id-token")).expect("id_token")),
                    ..Default::default()
                },
            },
        )
        .await
        .expect("oauth");

        // During the rotation the service runs with the new key first and the old one kept.
        let new_key = EncryptionKey::generate(2).expect("key");
        let rotating = KeyRing::new(new_key.clone(), [old_key]).expect("ring");
        let (user_id, account_id, key, _) = &owners[0];
        assert_eq!(
            supplier_accounts::get_credentials(&t.db, &rotating, *user_id, *account_id)
                .await
                .expect("old values still read")
                .api_key
                .expose(),
            key
        );

        let report = rotate(t, &rotating, 2).await.expect("rotate");
        assert_eq!(report.rows_scanned, 7);
        assert_eq!(report.values_reencrypted, 6 * 2 + 2);
        assert_eq!(report.rows_skipped, 0);
        assert_eq!(
            rotate(t, &rotating, 2)
                .await
                .expect("again")
                .values_reencrypted,
            0,
            "a second run has nothing left to do"
        );

        let new_only = KeyRing::new(new_key, []).expect("ring");
        for (user_id, account_id, key, secret) in &owners {
            let row = stored(t, *account_id).await;
            assert!(row.api_key.starts_with("xc1:2:"));
            let credentials =
                supplier_accounts::get_credentials(&t.db, &new_only, *user_id, *account_id)
                    .await
                    .expect("new key");
            assert_eq!(credentials.api_key.expose(), key);
            assert_eq!(credentials.api_secret.expect("secret").expose(), secret);
            assert!(matches!(
                supplier_accounts::get_credentials(&t.db, &old, *user_id, *account_id).await,
                Err(Error::Decryption {
                    problem: DecryptionProblem::UnknownKeyVersion { version: 2 },
                    ..
                })
            ));
        }
        let tokens = accounts::get_tokens(&t.db, &new_only, oauth.user.id, oauth.account.id)
            .await
            .expect("new key");
        assert_eq!(
            tokens.access_token.as_ref().map(AccessToken::expose),
            Some("gho_access")
        );
        assert_eq!(
            tokens.id_token.as_ref().map(IdToken::expose),
            Some("id-token")
        );
        assert!(matches!(
            accounts::get_tokens(&t.db, &old, oauth.user.id, oauth.account.id).await,
            Err(Error::Decryption { .. })
        ));
        let row = account_rows::Entity::find_by_id(oauth.account.id)
            .one(&t.db)
            .await
            .expect("read")
            .expect("row");
        assert!(row.access_token.expect("access").starts_with("xc1:2:"));
        assert_eq!(row.refresh_token, None);
    }
);

backend_test!(
    async fn bad_supplier_input_names_the_field_and_writes_nothing(t: &TestDb) {
        let keys = keys(1);
        let base = || NewSupplierAccount {
            provider: SupplierProvider::Aliexpress,
            api_key: ApiKey::parse(Secret::new("ak_1")).expect("api key"),
            api_secret: None,
            account_id: None,
        };
        // Bad values cannot become an input at all: each constructor names its column.
        let refused = |result: domain::Result<()>| match result {
            Err(Error::Invalid { field, violation }) => (field, violation),
            other => panic!("expected Invalid, got {other:?}"),
        };
        assert_eq!(
            refused(ApiKey::parse(Secret::new("  ")).map(drop)),
            ("supplier_accounts.api_key", Violation::Empty)
        );
        assert_eq!(
            refused(ApiSecret::parse(Secret::new("s".repeat(4_097))).map(drop)),
            (
                "supplier_accounts.api_secret",
                Violation::TooLong { max: 4_096 }
            )
        );
        assert_eq!(
            refused(ExternalAccountId::parse("").map(drop)),
            ("supplier_accounts.account_id", Violation::Empty)
        );
        for too_large in [0, domain::crypto::MAX_ROTATION_BATCH + 1] {
            assert!(matches!(
                supplier_accounts::rotate_keys(&t.db, &keys, too_large).await,
                Err(Error::Invalid {
                    field: "batch_size",
                    ..
                })
            ));
            assert!(matches!(
                accounts::rotate_keys(&t.db, &keys, too_large).await,
                Err(Error::Invalid {
                    field: "batch_size",
                    ..
                })
            ));
        }
        assert_eq!(
            supplier_account_rows::Entity::find()
                .count(&t.db)
                .await
                .expect("n"),
            0
        );
        assert!(matches!(
            supplier_accounts::create(&t.db, &keys, Uuid::now_v7(), base()).await,
            Err(Error::MissingReference {
                rule: ForeignKeyRule::SupplierAccountsUser
            })
        ));
    }
);
