//! Sessions: an opaque random token handed to the client once; the database keeps only its
//! SHA-256 digest, so a copy of the table cannot be used to sign in.
//!
//! The token is looked up by its digest through the unique index; the digest read back is
//! compared in constant time as well. Timing of the lookup reveals nothing useful: the digest
//! of a 256-bit random token cannot be steered by an attacker towards a stored one.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use entity::{sessions, users};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::clock::now;
use crate::crypto::{self, Secret};
use crate::error::{Error, Result, Table, Violation};
use crate::paging::{Page, PageRequest};
use crate::users::User;
use crate::violations::OnTable;

/// The longest session: a year.
pub const MAX_SESSION_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// A session as services see it: never the token, nor its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session's id, to list and revoke it.
    pub id: Uuid,
    /// Whose session it is.
    pub user_id: Uuid,
    /// When it stops being accepted.
    pub expires: DateTime<FixedOffset>,
    /// When it was created.
    pub created_at: DateTime<FixedOffset>,
}

impl From<sessions::Model> for Session {
    fn from(model: sessions::Model) -> Self {
        Self {
            id: model.id,
            user_id: model.user_id,
            expires: model.expires,
            created_at: model.created_at,
        }
    }
}

/// The plain session token: 256 random bits, base64url. Given out once by [`create`]; the
/// client presents it to [`find_by_token`]. `Debug` redacts it.
#[derive(Debug, Clone)]
pub struct SessionToken(Secret);

impl SessionToken {
    /// The token, to hand to the client (e.g. in a cookie).
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// A new session and its token.
#[derive(Debug, Clone)]
pub struct CreatedSession {
    /// The stored session.
    pub session: Session,
    /// The token, shown here and nowhere else.
    pub token: SessionToken,
}

/// A token that resolved: the session and its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSession {
    /// The session the token opens.
    pub session: Session,
    /// Its user.
    pub user: User,
}

/// Starts a session for `user_id` that lasts `lifetime`.
///
/// # Errors
/// [`Error::Invalid`] for `lifetime` ([`Violation::Lifetime`]) when zero or longer than
/// [`MAX_SESSION_LIFETIME`]; [`Error::MissingReference`] when the user does not exist;
/// [`Error::Crypto`]; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %user_id))]
pub async fn create<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    lifetime: Duration,
) -> Result<CreatedSession> {
    let expires = expiry(lifetime, MAX_SESSION_LIFETIME)?;
    let token = crypto::random_token()?;
    let at = now();
    let model = sessions::Model {
        id: Uuid::now_v7(),
        session_token: crypto::digest(token.expose()),
        user_id,
        expires,
        created_at: at,
    };
    sessions::Entity::insert(sessions::ActiveModel {
        id: Set(model.id),
        session_token: Set(model.session_token.clone()),
        user_id: Set(model.user_id),
        expires: Set(model.expires),
        created_at: Set(model.created_at),
    })
    .exec_without_returning(db)
    .await
    .on_table("sessions")?;
    Ok(CreatedSession {
        session: Session::from(model),
        token: SessionToken(token),
    })
}

/// `now + lifetime`, refusing a zero lifetime or one over `max`.
///
/// # Errors
/// [`Error::Invalid`] for `lifetime`: [`Violation::Lifetime`], or
/// [`Violation::TimeOutOfRange`] past the last storable time.
pub(crate) fn expiry(lifetime: Duration, max: Duration) -> Result<DateTime<FixedOffset>> {
    let refuse = || Error::Invalid {
        field: "lifetime",
        violation: Violation::Lifetime {
            max_seconds: i64::try_from(max.as_secs()).unwrap_or(i64::MAX),
        },
    };
    if lifetime.is_zero() || lifetime > max {
        return Err(refuse());
    }
    crate::clock::from_now("lifetime", lifetime)
}

/// The session and user that `token` opens, if it is a live session's token (unknown,
/// deleted and expired tokens all give `None`).
///
/// # Errors
/// [`Error::Undecodable`] when the user's stored row does not decode; [`Error::Database`].
#[tracing::instrument(skip_all, err)]
pub async fn find_by_token<C: ConnectionTrait>(
    db: &C,
    token: &str,
) -> Result<Option<ResolvedSession>> {
    let digest = crypto::digest(token);
    let found = sessions::Entity::find()
        .filter(sessions::Column::SessionToken.eq(digest.as_str()))
        .filter(sessions::Column::Expires.gt(now()))
        .find_also_related(users::Entity)
        .one(db)
        .await?;
    Ok(match found {
        Some((session, Some(user))) if crypto::digests_match(&session.session_token, &digest) => {
            Some(ResolvedSession {
                session: Session::from(session),
                user: User::try_from(user)?,
            })
        }
        _ => None,
    })
}

/// One page of the user's sessions, live and expired, newest first.
///
/// # Errors
/// [`Error::Invalid`] naming `limit` outside 1..=[`crate::paging::MAX_PAGE_SIZE`];
/// [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %user_id))]
pub async fn list<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    page: PageRequest,
) -> Result<Page<Session>> {
    let limit = page.checked_limit()?;
    // Ids are UUID v7: id order is creation order.
    let mut query = sessions::Entity::find()
        .filter(sessions::Column::UserId.eq(user_id))
        .order_by_desc(sessions::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = page.after {
        query = query.filter(sessions::Column::Id.lt(cursor.last_id()));
    }
    let rows = query.all(db).await?;
    Ok(Page::from_rows(rows, limit, |m| m.id).map(Session::from))
}

/// Deletes (revokes) one of the user's sessions (e.g. "sign out that device").
///
/// # Errors
/// [`Error::NotFound`] when the user has no such session (another user's session is answered
/// the same way); [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %user_id))]
pub async fn delete<C: ConnectionTrait>(db: &C, user_id: Uuid, session_id: Uuid) -> Result<()> {
    let deleted = sessions::Entity::delete_many()
        .filter(sessions::Column::Id.eq(session_id))
        .filter(sessions::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(Error::NotFound {
            entity: Table::Sessions,
        });
    }
    Ok(())
}

/// Deletes the session that `token` opens (sign out); `false` when it opens none.
///
/// # Errors
/// [`Error::Database`].
#[tracing::instrument(skip_all, err)]
pub async fn delete_by_token<C: ConnectionTrait>(db: &C, token: &str) -> Result<bool> {
    let deleted = sessions::Entity::delete_many()
        .filter(sessions::Column::SessionToken.eq(crypto::digest(token)))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// Deletes every session of the user (e.g. after a password change); how many there were.
///
/// # Errors
/// [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %user_id))]
pub async fn delete_for_user<C: ConnectionTrait>(db: &C, user_id: Uuid) -> Result<u64> {
    let deleted = sessions::Entity::delete_many()
        .filter(sessions::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

/// Deletes every expired session of every user (a periodic clean-up); how many.
///
/// # Errors
/// [`Error::Database`].
#[tracing::instrument(skip_all, err)]
pub async fn purge_expired<C: ConnectionTrait>(db: &C) -> Result<u64> {
    let deleted = sessions::Entity::delete_many()
        .filter(sessions::Column::Expires.lte(now()))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}
