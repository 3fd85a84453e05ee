//! OAuth provider links ("accounts"): signing in with Google, GitHub and the like.
//!
//! [`sign_in`] decides in one write transaction: an existing link signs its user in; a new
//! provider account whose *verified* email matches a user is linked to that user; otherwise a
//! new user is created (its email marked verified when the provider verified it). The
//! provider's refresh, access and id tokens are encrypted with the [`KeyRing`], bound to their
//! row, and only [`tokens`] hands them back.

use entity::{accounts, users};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use crate::clock::now;
use crate::crypto::{Binding, KeyRing, Secret};
use crate::error::{Error, Result, Table, Violation};
use crate::rules::UniqueRule;
use crate::txn::retry_transient;
use crate::users::{DisplayName, Email, ImageUrl, User};
use crate::violations::OnTable;

/// The longest provider name (`google`, `github`, …).
pub const PROVIDER_MAX_LEN: usize = 50;
/// The longest provider account id, account type, token type or session state.
pub const SHORT_FIELD_MAX_LEN: usize = 255;
/// The longest token or scope a provider may hand over, in bytes.
pub const TOKEN_MAX_LEN: usize = 16 * 1024;

/// What the provider said about the person signing in.
#[derive(Debug, Clone)]
pub struct OAuthProfile {
    /// The provider's name: lower-case letters, digits, `-` and `_` (e.g. `google`).
    pub provider: String,
    /// The person's id at the provider.
    pub provider_account_id: String,
    /// The account type, as Auth.js names it (`oauth`, `oidc`, …).
    pub kind: String,
    /// The email the provider reported, if any.
    pub email: Option<Email>,
    /// Whether the provider verified that email.
    pub email_verified: bool,
    /// The name the provider reported, for a new user.
    pub name: Option<DisplayName>,
    /// The picture the provider reported, for a new user.
    pub image: Option<ImageUrl>,
    /// The tokens the provider issued.
    pub tokens: OAuthTokens,
}

/// A provider's tokens and their metadata. The three tokens are encrypted at rest; `Debug`
/// redacts them. On a repeated sign-in a `None` token keeps the stored one (providers send a
/// refresh token only the first time).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OAuthTokens {
    /// The refresh token.
    pub refresh_token: Option<Secret>,
    /// The access token.
    pub access_token: Option<Secret>,
    /// The OpenID Connect id token.
    pub id_token: Option<Secret>,
    /// When the access token expires, in Unix seconds.
    pub expires_at: Option<i64>,
    /// The token type, e.g. `Bearer`.
    pub token_type: Option<String>,
    /// The granted scopes.
    pub scope: Option<String>,
    /// The provider's session state.
    pub session_state: Option<String>,
}

/// A provider link as services see it: never a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The link's id.
    pub id: Uuid,
    /// The linked user.
    pub user_id: Uuid,
    /// The account type (`oauth`, `oidc`, …).
    pub kind: String,
    /// The provider's name.
    pub provider: String,
    /// The person's id at the provider.
    pub provider_account_id: String,
    /// When the access token expires, in Unix seconds.
    pub expires_at: Option<i64>,
    /// The token type.
    pub token_type: Option<String>,
    /// The granted scopes.
    pub scope: Option<String>,
    /// Whether a refresh token is stored.
    pub has_refresh_token: bool,
}

impl From<accounts::Model> for Account {
    fn from(model: accounts::Model) -> Self {
        Self {
            id: model.id,
            user_id: model.user_id,
            kind: model.r#type,
            provider: model.provider,
            provider_account_id: model.provider_account_id,
            expires_at: model.expires_at,
            token_type: model.token_type,
            scope: model.scope,
            has_refresh_token: model.refresh_token.is_some(),
        }
    }
}

/// How [`sign_in`] found the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthOutcome {
    /// The provider account was already linked.
    SignedIn,
    /// The provider account was linked to the existing user with its verified email.
    Linked,
    /// A new user was created.
    Created,
}

/// The result of [`sign_in`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSignIn {
    /// The signed-in user.
    pub user: User,
    /// The provider link.
    pub account: Account,
    /// Whether the link or the user is new.
    pub outcome: OAuthOutcome,
}

/// Signs in with a provider account, linking or creating the user as the module documentation
/// says, and stores the provider's tokens encrypted.
///
/// The provider account id is compared exactly (case, accents and width included, the same
/// on every backend): a provider id that only looks like a linked one is another person.
///
/// # Errors
/// [`Error::Invalid`] naming the field for a bad profile (`provider`, `provider_account_id`,
/// `type`, a token or `email` when a new user would have no email): [`Violation::Empty`],
/// [`Violation::TooLong`], [`Violation::ControlCharacter`], [`Violation::Format`]
/// (`provider_account_id` with surrounding whitespace) or [`Violation::TimeOutOfRange`]
/// (`expires_at`); [`Error::Transient`] when it lost a deadlock inside the caller's
/// transaction; [`Error::Conflict`] with
/// [`UniqueRule::UsersEmail`] when the email belongs to a user but the provider did not verify
/// it (the person must sign in another way first); [`Error::Crypto`]; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(provider = %profile.provider))]
pub async fn sign_in<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    keys: &KeyRing,
    profile: OAuthProfile,
) -> Result<OAuthSignIn> {
    validate(&profile)?;
    // A concurrent first sign-in of the same person can insert the link (or the user) first;
    // a second attempt then finds it.
    let once = || retry_transient(db, || sign_in_once(db, keys, &profile));
    match once().await {
        Err(Error::Conflict {
            rule: UniqueRule::AccountsProviderAccount | UniqueRule::UsersEmail,
        }) => once().await,
        other => other,
    }
}

async fn sign_in_once<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    keys: &KeyRing,
    profile: &OAuthProfile,
) -> Result<OAuthSignIn> {
    let txn = crate::db::begin_write(db).await?;
    let existing = accounts::Entity::find()
        .filter(accounts::Column::Provider.eq(profile.provider.as_str()))
        .filter(accounts::Column::ProviderAccountId.eq(profile.provider_account_id.as_str()))
        .one(&txn)
        .await?;
    let result = if let Some(account) = existing {
        let account = update_tokens(&txn, keys, account, &profile.tokens).await?;
        let user = crate::users::get(&txn, account.user_id).await?;
        OAuthSignIn {
            user,
            account,
            outcome: OAuthOutcome::SignedIn,
        }
    } else {
        let email = profile.email.as_ref().ok_or(Error::Invalid {
            field: "email",
            violation: Violation::Empty,
        })?;
        let at = now();
        let verified_at = profile.email_verified.then_some(at);
        let found = match profile.email_verified {
            true => crate::users::find_by_email(&txn, email).await?,
            false => None,
        };
        let (user, outcome) = match found {
            Some(user) => {
                if user.email_verified.is_none() {
                    users::Entity::update_many()
                        .col_expr(users::Column::EmailVerified, Expr::value(at))
                        .col_expr(users::Column::UpdatedAt, Expr::value(at))
                        .filter(users::Column::Id.eq(user.id))
                        .exec(&txn)
                        .await?;
                }
                (
                    crate::users::get(&txn, user.id).await?,
                    OAuthOutcome::Linked,
                )
            }
            None => {
                let user = crate::users::insert(
                    &txn,
                    users::Model {
                        id: Uuid::now_v7(),
                        email: email.as_ref().to_owned(),
                        name: profile.name.as_ref().map(|n| n.as_ref().to_owned()),
                        password_hash: None,
                        email_verified: verified_at,
                        image: profile.image.as_ref().map(|i| i.as_ref().to_owned()),
                        stripe_account_id: None,
                        stripe_onboarded: false,
                        created_at: at,
                        updated_at: at,
                    },
                )
                .await?;
                (user, OAuthOutcome::Created)
            }
        };
        let account = insert_account(&txn, keys, user.id, profile).await?;
        OAuthSignIn {
            user,
            account,
            outcome,
        }
    };
    txn.commit().await?;
    Ok(result)
}

fn validate(profile: &OAuthProfile) -> Result<()> {
    let invalid = |field, violation| Err(Error::Invalid { field, violation });
    let p = profile.provider.as_str();
    if p.is_empty() {
        return invalid("provider", Violation::Empty);
    }
    if p.len() > PROVIDER_MAX_LEN {
        return invalid(
            "provider",
            Violation::TooLong {
                max: PROVIDER_MAX_LEN,
            },
        );
    }
    if !p
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return invalid("provider", Violation::Format);
    }
    for (field, value) in [
        ("provider_account_id", Some(&profile.provider_account_id)),
        ("type", Some(&profile.kind)),
        ("token_type", profile.tokens.token_type.as_ref()),
        ("session_state", profile.tokens.session_state.as_ref()),
    ] {
        let Some(value) = value else { continue };
        if value.trim().is_empty() {
            return invalid(field, Violation::Empty);
        }
        if value.chars().count() > SHORT_FIELD_MAX_LEN {
            return invalid(
                field,
                Violation::TooLong {
                    max: SHORT_FIELD_MAX_LEN,
                },
            );
        }
        // One line, no NUL: Postgres stores no NUL, and an id is never meant with one.
        if value.chars().any(char::is_control) {
            return invalid(field, Violation::ControlCharacter);
        }
    }
    // Provider ids are compared exactly. MariaDB ignores trailing spaces even in a binary
    // collation ("PAD SPACE"), so `123` and `123 ` would be one id there and two elsewhere;
    // no provider issues such ids, so they are refused.
    let id = profile.provider_account_id.as_str();
    if id.trim() != id {
        return invalid("provider_account_id", Violation::Format);
    }
    if let Some(at) = profile.tokens.expires_at {
        // Unix seconds of 1970-01-01 ..= 9999-12-31T23:59:59Z, as every other stored time.
        if !(0..=253_402_300_799).contains(&at) {
            return invalid(
                "expires_at",
                Violation::TimeOutOfRange {
                    earliest: crate::clock::EARLIEST,
                    latest: crate::clock::LATEST,
                },
            );
        }
    }
    for (field, value) in [
        (
            "refresh_token",
            profile.tokens.refresh_token.as_ref().map(Secret::expose),
        ),
        (
            "access_token",
            profile.tokens.access_token.as_ref().map(Secret::expose),
        ),
        (
            "id_token",
            profile.tokens.id_token.as_ref().map(Secret::expose),
        ),
        ("scope", profile.tokens.scope.as_deref()),
    ] {
        let Some(value) = value else { continue };
        if value.is_empty() {
            return invalid(field, Violation::Empty);
        }
        if value.len() > TOKEN_MAX_LEN {
            return invalid(field, Violation::TooLong { max: TOKEN_MAX_LEN });
        }
        if value.chars().any(char::is_control) {
            return invalid(field, Violation::ControlCharacter);
        }
    }
    Ok(())
}

fn seal(
    keys: &KeyRing,
    field: &'static str,
    account_id: Uuid,
    token: Option<&Secret>,
) -> Result<Option<String>> {
    token
        .map(|t| keys.encrypt(t.expose(), &Binding::new(field, account_id.to_string())))
        .transpose()
}

async fn insert_account<C: ConnectionTrait>(
    txn: &C,
    keys: &KeyRing,
    user_id: Uuid,
    profile: &OAuthProfile,
) -> Result<Account> {
    let id = Uuid::now_v7();
    let tokens = &profile.tokens;
    let model = accounts::Model {
        id,
        user_id,
        r#type: profile.kind.clone(),
        provider: profile.provider.clone(),
        provider_account_id: profile.provider_account_id.clone(),
        refresh_token: seal(
            keys,
            "accounts.refresh_token",
            id,
            tokens.refresh_token.as_ref(),
        )?,
        access_token: seal(
            keys,
            "accounts.access_token",
            id,
            tokens.access_token.as_ref(),
        )?,
        expires_at: tokens.expires_at,
        token_type: tokens.token_type.clone(),
        scope: tokens.scope.clone(),
        id_token: seal(keys, "accounts.id_token", id, tokens.id_token.as_ref())?,
        session_state: tokens.session_state.clone(),
    };
    accounts::Entity::insert(accounts::ActiveModel {
        id: Set(model.id),
        user_id: Set(model.user_id),
        r#type: Set(model.r#type.clone()),
        provider: Set(model.provider.clone()),
        provider_account_id: Set(model.provider_account_id.clone()),
        refresh_token: Set(model.refresh_token.clone()),
        access_token: Set(model.access_token.clone()),
        expires_at: Set(model.expires_at),
        token_type: Set(model.token_type.clone()),
        scope: Set(model.scope.clone()),
        id_token: Set(model.id_token.clone()),
        session_state: Set(model.session_state.clone()),
    })
    .exec_without_returning(txn)
    .await
    .on_table("accounts")?;
    Ok(Account::from(model))
}

async fn update_tokens<C: ConnectionTrait>(
    txn: &C,
    keys: &KeyRing,
    mut account: accounts::Model,
    tokens: &OAuthTokens,
) -> Result<Account> {
    use accounts::Column;
    let id = account.id;
    let mut update = accounts::Entity::update_many().filter(Column::Id.eq(id));
    let mut changed = false;
    for (column, field, token, slot) in [
        (
            Column::RefreshToken,
            "accounts.refresh_token",
            tokens.refresh_token.as_ref(),
            &mut account.refresh_token,
        ),
        (
            Column::AccessToken,
            "accounts.access_token",
            tokens.access_token.as_ref(),
            &mut account.access_token,
        ),
        (
            Column::IdToken,
            "accounts.id_token",
            tokens.id_token.as_ref(),
            &mut account.id_token,
        ),
    ] {
        if let Some(sealed) = seal(keys, field, id, token)? {
            update = update.col_expr(column, Expr::value(sealed.clone()));
            *slot = Some(sealed);
            changed = true;
        }
    }
    for (column, value, slot) in [
        (
            Column::TokenType,
            &tokens.token_type,
            &mut account.token_type,
        ),
        (Column::Scope, &tokens.scope, &mut account.scope),
        (
            Column::SessionState,
            &tokens.session_state,
            &mut account.session_state,
        ),
    ] {
        if let Some(value) = value {
            update = update.col_expr(column, Expr::value(value.clone()));
            *slot = Some(value.clone());
            changed = true;
        }
    }
    if let Some(expires_at) = tokens.expires_at {
        update = update.col_expr(Column::ExpiresAt, Expr::value(expires_at));
        account.expires_at = Some(expires_at);
        changed = true;
    }
    if changed {
        update.exec(txn).await.on_table("accounts")?;
    }
    Ok(Account::from(account))
}

/// The user's provider links.
///
/// # Errors
/// [`Error::Database`].
pub async fn list<C: ConnectionTrait>(db: &C, user_id: Uuid) -> Result<Vec<Account>> {
    Ok(accounts::Entity::find()
        .filter(accounts::Column::UserId.eq(user_id))
        .order_by_asc(accounts::Column::Provider)
        .order_by_asc(accounts::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Account::from)
        .collect())
}

/// The decrypted tokens of one of the user's provider links: the one explicit way to read
/// them (e.g. to call the provider's API).
///
/// # Errors
/// [`Error::NotFound`] when the user has no such link (another user's link is answered the
/// same way); [`Error::Decryption`] when a stored token was altered or its key is not in the
/// ring; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %user_id))]
pub async fn tokens<C: ConnectionTrait>(
    db: &C,
    keys: &KeyRing,
    user_id: Uuid,
    account_id: Uuid,
) -> Result<OAuthTokens> {
    let account = accounts::Entity::find_by_id(account_id)
        .filter(accounts::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound {
            entity: Table::Accounts,
        })?;
    let open = |field: &'static str, stored: Option<&String>| {
        stored
            .map(|s| keys.decrypt(s, &Binding::new(field, account.id.to_string())))
            .transpose()
    };
    Ok(OAuthTokens {
        refresh_token: open("accounts.refresh_token", account.refresh_token.as_ref())?,
        access_token: open("accounts.access_token", account.access_token.as_ref())?,
        id_token: open("accounts.id_token", account.id_token.as_ref())?,
        expires_at: account.expires_at,
        token_type: account.token_type.clone(),
        scope: account.scope.clone(),
        session_state: account.session_state.clone(),
    })
}

/// Removes one of the user's provider links.
///
/// # Errors
/// [`Error::NotFound`] when the user has no such link (another user's link is answered the
/// same way); [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %user_id))]
pub async fn unlink<C: ConnectionTrait>(db: &C, user_id: Uuid, account_id: Uuid) -> Result<()> {
    let deleted = accounts::Entity::delete_many()
        .filter(accounts::Column::Id.eq(account_id))
        .filter(accounts::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(Error::NotFound {
            entity: Table::Accounts,
        });
    }
    Ok(())
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => "[a-zA-Z0-9_\\-]{1,30}",
            1 => any::<String>(),
            1 => "[a \\u{0}\\u{1}\\t\\n\\u{301}\\u{ff41}\\u{430}]{0,10}",
            1 => (250usize..260).prop_map(|n| "\u{1f600}".repeat(n)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        /// No profile makes the check panic; an accepted one has only one-line, NUL-free,
        /// bounded fields, ids without surrounding whitespace and an expiry in range.
        #[test]
        fn an_accepted_profile_is_storable_everywhere(
            provider in prop_oneof!["[a-z0-9_\\-]{1,50}", text()],
            id in text(),
            kind in text(),
            token in proptest::option::of(text()),
            scope in proptest::option::of(text()),
            expires_at in proptest::option::of(prop_oneof![any::<i64>(), 0i64..253_402_300_800]),
        ) {
            let profile = OAuthProfile {
                provider,
                provider_account_id: id,
                kind,
                email: None,
                email_verified: false,
                name: None,
                image: None,
                tokens: OAuthTokens {
                    access_token: token.clone().map(Secret::new),
                    token_type: token,
                    scope,
                    expires_at,
                    ..OAuthTokens::default()
                },
            };
            if validate(&profile).is_ok() {
                let id = &profile.provider_account_id;
                prop_assert!(id.chars().count() <= SHORT_FIELD_MAX_LEN);
                prop_assert_eq!(id.trim(), id.as_str());
                for field in [Some(id), Some(&profile.kind), profile.tokens.token_type.as_ref(), profile.tokens.scope.as_ref()].into_iter().flatten() {
                    prop_assert!(!field.chars().any(char::is_control));
                }
                prop_assert!(profile.tokens.expires_at.is_none_or(|at| (0..=253_402_300_799).contains(&at)));
            }
        }
    }
}
