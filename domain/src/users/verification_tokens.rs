//! Email verification: a single-use token with a lifetime, issued for an email address. As
//! for sessions, only the token's SHA-256 digest is stored.
//!
//! Consuming is one write transaction whose `DELETE` decides: of two concurrent consumes of
//! one token, exactly one deletes the row and succeeds; the other deletes nothing and fails.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use entity::{users, verification_tokens};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionSession,
    TransactionTrait,
};

use crate::clock::now;
use crate::crypto::{self, Secret};
use crate::error::{Error, Result, Table};
use crate::txn::retry_transient;
use crate::users::{Email, User, sessions::expiry};
use crate::violations::OnTable;

/// The longest a verification token lives: a week.
pub const MAX_VERIFICATION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The plain verification token, to put in the link sent to the address. `Debug` redacts it.
#[derive(Debug, Clone)]
pub struct VerificationToken(Secret);

impl VerificationToken {
    /// The token, to send to the address.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// A token just issued.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The address it verifies.
    pub identifier: Email,
    /// The token, shown here and nowhere else.
    pub token: VerificationToken,
    /// When it stops being accepted.
    pub expires: DateTime<FixedOffset>,
}

/// A token consumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The address it verified.
    pub email: Email,
    /// The user with that address, now marked verified; `None` when no user has it (yet).
    pub user: Option<User>,
}

/// Creates (issues) a token for `identifier` that lives `lifetime`.
///
/// # Errors
/// [`Error::Invalid`] for `lifetime` when zero or over [`MAX_VERIFICATION_LIFETIME`];
/// [`Error::Crypto`]; [`Error::Database`].
#[tracing::instrument(skip_all, err)]
pub async fn create<C: ConnectionTrait>(
    db: &C,
    identifier: &Email,
    lifetime: Duration,
) -> Result<IssuedToken> {
    let expires = expiry(lifetime, MAX_VERIFICATION_LIFETIME)?;
    let token = crypto::random_token()?;
    verification_tokens::Entity::insert(verification_tokens::ActiveModel {
        identifier: Set(identifier.as_ref().to_owned()),
        token: Set(crypto::digest(token.expose())),
        expires: Set(expires),
    })
    .exec_without_returning(db)
    .await
    .on_table("verification_tokens")?;
    Ok(IssuedToken {
        identifier: identifier.clone(),
        token: VerificationToken(token),
        expires,
    })
}

/// Deletes (consumes) the token issued for `identifier`, at most once, and marks the user
/// with that address verified (keeping the first verification time). The delete decides: of
/// two concurrent calls with one token, exactly one succeeds.
///
/// # Errors
/// [`Error::NotFound`] ([`Table::VerificationTokens`]) when the token is unknown, was issued
/// for another address or was already consumed; [`Error::Expired`] when its lifetime is over
/// (it is deleted all the same); [`Error::Transient`] when it lost a deadlock inside the
/// caller's transaction; [`Error::Undecodable`] when the user's stored row does not decode;
/// [`Error::Database`].
#[tracing::instrument(skip_all, err)]
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    identifier: &Email,
    token: &str,
) -> Result<Verified> {
    retry_transient(db, || delete_once(db, identifier, token)).await
}

async fn delete_once<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    identifier: &Email,
    token: &str,
) -> Result<Verified> {
    let not_found = Error::NotFound {
        entity: Table::VerificationTokens,
    };
    let digest = crypto::digest(token);
    let txn = crate::db::begin_write(db).await?;
    let Some(row) = verification_tokens::Entity::find()
        .filter(verification_tokens::Column::Identifier.eq(identifier.as_ref()))
        .filter(verification_tokens::Column::Token.eq(digest.as_str()))
        .one(&txn)
        .await?
    else {
        return Err(not_found);
    };
    if !crypto::digests_match(&row.token, &digest) {
        return Err(not_found);
    }
    // The delete is the arbiter: a concurrent consume that read the same row deletes nothing.
    let deleted = verification_tokens::Entity::delete_many()
        .filter(verification_tokens::Column::Identifier.eq(identifier.as_ref()))
        .filter(verification_tokens::Column::Token.eq(digest.as_str()))
        .exec(&txn)
        .await?;
    if deleted.rows_affected != 1 {
        return Err(not_found);
    }
    let at = now();
    if row.expires <= at {
        txn.commit().await?;
        return Err(Error::Expired {
            entity: Table::VerificationTokens,
        });
    }
    users::Entity::update_many()
        .col_expr(users::Column::EmailVerified, Expr::value(at))
        .col_expr(users::Column::UpdatedAt, Expr::value(at))
        .filter(users::Column::Email.eq(identifier.as_ref()))
        .filter(users::Column::EmailVerified.is_null())
        .exec(&txn)
        .await?;
    let user = users::Entity::find()
        .filter(users::Column::Email.eq(identifier.as_ref()))
        .one(&txn)
        .await?
        .map(User::try_from)
        .transpose()?;
    txn.commit().await?;
    Ok(Verified {
        email: identifier.clone(),
        user,
    })
}

/// Deletes every expired verification token; how many.
///
/// # Errors
/// [`Error::Database`].
#[tracing::instrument(skip_all, err)]
pub async fn purge_expired<C: ConnectionTrait>(db: &C) -> Result<u64> {
    let deleted = verification_tokens::Entity::delete_many()
        .filter(verification_tokens::Column::Expires.lte(now()))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}
