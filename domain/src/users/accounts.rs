//! OAuth provider links ("accounts"): signing in with Google, GitHub and the like.
//!
//! [`authenticate`] decides in one write transaction: an existing link signs its user in; a new
//! provider account whose *verified* email matches a user is linked to that user; otherwise a
//! new user is created (its email marked verified when the provider verified it). The
//! provider's refresh, access and id tokens are encrypted with the [`KeyRing`], bound to their
//! row, and only [`get_tokens`] hands them back.

use entity::{accounts, users};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use crate::clock::now;
use crate::crypto::{Binding, KeyRing};
use crate::error::{Error, Result, Table, Violation};
use crate::rules::UniqueRule;
use crate::txn::retry_transient;
use crate::users::User;
use crate::violations::OnTable;

mod tokens;
mod values;

pub use tokens::{get_tokens, rotate_keys};
pub use values::{
    AccessToken, AccountKind, IdToken, OAuthProfile, OAuthProvider, OAuthTokens, PROVIDER_MAX_LEN,
    ProviderAccountId, RefreshToken, SHORT_FIELD_MAX_LEN, Scope, SessionState, TOKEN_MAX_LEN,
    TokenExpiry, TokenType,
};

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

/// How [`authenticate`] found the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthOutcome {
    /// The provider account was already linked.
    SignedIn,
    /// The provider account was linked to the existing user with its verified email.
    Linked,
    /// A new user was created.
    Created,
}

/// The result of [`authenticate`].
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
/// [`Error::Invalid`] naming `users.email` ([`Violation::Empty`]) when a new user would have
/// no email; [`Error::Transient`] when it lost a deadlock inside the caller's transaction;
/// [`Error::Conflict`] with [`UniqueRule::UsersEmail`] when the email belongs to a user but
/// the provider did not verify it (the person must sign in another way first);
/// [`Error::Undecodable`] when the user's stored row does not decode; [`Error::Crypto`];
/// [`Error::Database`].
#[tracing::instrument(
    skip_all,
    err,
    fields(provider = %profile.provider.as_ref(), user_id, account_id)
)]
pub async fn authenticate<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    keys: &KeyRing,
    profile: OAuthProfile,
) -> Result<OAuthSignIn> {
    // A concurrent first sign-in of the same person can insert the link (or the user) first;
    // a second attempt then finds it.
    let once = || retry_transient(db, || authenticate_once(db, keys, &profile));
    let signed_in = match once().await {
        Err(Error::Conflict {
            rule: UniqueRule::AccountsProviderAccount | UniqueRule::UsersEmail,
        }) => once().await,
        other => other,
    }?;
    let span = tracing::Span::current();
    span.record("user_id", tracing::field::display(signed_in.user.id));
    span.record("account_id", tracing::field::display(signed_in.account.id));
    Ok(signed_in)
}

async fn authenticate_once<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    keys: &KeyRing,
    profile: &OAuthProfile,
) -> Result<OAuthSignIn> {
    let txn = crate::db::begin_write(db).await?;
    let existing = accounts::Entity::find()
        .filter(accounts::Column::Provider.eq(profile.provider.as_ref()))
        .filter(accounts::Column::ProviderAccountId.eq(profile.provider_account_id.as_ref()))
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
            field: "users.email",
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

/// The three encrypted tokens of `tokens`, sealed for the link `id` (`None` where absent).
fn seal_tokens(keys: &KeyRing, id: Uuid, tokens: &OAuthTokens) -> Result<[Option<String>; 3]> {
    let seal = |token: Option<&str>, binding: Binding| {
        token.map(|t| keys.encrypt(t, &binding)).transpose()
    };
    Ok([
        seal(
            tokens.refresh_token.as_ref().map(RefreshToken::expose),
            Binding::accounts_refresh_token(id),
        )?,
        seal(
            tokens.access_token.as_ref().map(AccessToken::expose),
            Binding::accounts_access_token(id),
        )?,
        seal(
            tokens.id_token.as_ref().map(IdToken::expose),
            Binding::accounts_id_token(id),
        )?,
    ])
}

fn text<T: AsRef<str>>(value: Option<&T>) -> Option<String> {
    value.map(|v| v.as_ref().to_owned())
}

async fn insert_account<C: ConnectionTrait>(
    txn: &C,
    keys: &KeyRing,
    user_id: Uuid,
    profile: &OAuthProfile,
) -> Result<Account> {
    let id = Uuid::now_v7();
    let tokens = &profile.tokens;
    let [refresh_token, access_token, id_token] = seal_tokens(keys, id, tokens)?;
    let model = accounts::Model {
        id,
        user_id,
        r#type: profile.kind.as_ref().to_owned(),
        provider: profile.provider.as_ref().to_owned(),
        provider_account_id: profile.provider_account_id.as_ref().to_owned(),
        refresh_token,
        access_token,
        expires_at: tokens.expires_at.map(TokenExpiry::unix_seconds),
        token_type: text(tokens.token_type.as_ref()),
        scope: text(tokens.scope.as_ref()),
        id_token,
        session_state: text(tokens.session_state.as_ref()),
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
    let [refresh_token, access_token, id_token] = seal_tokens(keys, id, tokens)?;
    for (column, value, slot) in [
        (
            Column::RefreshToken,
            refresh_token,
            &mut account.refresh_token,
        ),
        (Column::AccessToken, access_token, &mut account.access_token),
        (Column::IdToken, id_token, &mut account.id_token),
        (
            Column::TokenType,
            text(tokens.token_type.as_ref()),
            &mut account.token_type,
        ),
        (
            Column::Scope,
            text(tokens.scope.as_ref()),
            &mut account.scope,
        ),
        (
            Column::SessionState,
            text(tokens.session_state.as_ref()),
            &mut account.session_state,
        ),
    ] {
        if let Some(value) = value {
            update = update.col_expr(column, Expr::value(value.clone()));
            *slot = Some(value);
            changed = true;
        }
    }
    if let Some(expires_at) = tokens.expires_at.map(TokenExpiry::unix_seconds) {
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
#[tracing::instrument(skip_all, err, fields(user_id = %user_id))]
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

/// Deletes (unlinks) one of the user's provider links.
///
/// # Errors
/// [`Error::NotFound`] when the user has no such link (another user's link is answered the
/// same way); [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %user_id, account_id = %account_id))]
pub async fn delete<C: ConnectionTrait>(db: &C, user_id: Uuid, account_id: Uuid) -> Result<()> {
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
