//! Users: registration and sign-in with email and password, profiles, deletion, and Stripe
//! Connect; with submodules for OAuth provider links ([`accounts`]), sessions ([`sessions`])
//! and email verification ([`verification_tokens`]). Supplier credentials are in
//! [`crate::supplier_accounts`]; the keys that encrypt secrets at rest in [`crate::crypto`].
//!
//! Inputs are parsed first ([`Email`], [`Password`], [`DisplayName`], [`ImageUrl`],
//! [`StripeAccountId`]: one `parse` each, [`crate::Error::Invalid`] naming the field and the
//! rule otherwise), so nothing invalid is written. Password hashes never leave this module:
//! the read model [`User`] only says whether there is one.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> domain::Result<()> {
//! # let mut config = domain::Config::new("sqlite::memory:");
//! # config.migrate_on_start = true;
//! # let db = &domain::connect(&config).await?;
//! use domain::users::{self, Argon2Params, Email, NewUser, Password, PasswordHasher, sessions};
//! let hasher = PasswordHasher::new(Argon2Params::OWASP)?;   // once per process
//! # let keys = domain::crypto::KeyRing::parse(domain::crypto::EncryptionKey::generate(1)?.encode().expose())?;
//! // In a service: let keys = domain::crypto::KeyRing::from_env()?;   (ZYENTA_ENCRYPTION_KEY)
//! let email = Email::parse("Ann@Example.com")?;             // stored as ann@example.com
//! let password = Password::parse("correct horse battery")?;
//! let new = NewUser { email: email.clone(), password: password.clone(), name: None, image: None };
//! users::create(db, &hasher, new).await?;
//! let user = users::authenticate(db, &hasher, &email, &password).await?;
//! let created = sessions::create(db, user.id, std::time::Duration::from_secs(30 * 86_400)).await?;
//! let cookie = created.token.expose();                      // given once; only its SHA-256 is stored
//! assert!(sessions::find_by_token(db, cookie).await?.is_some());
//! # let _ = keys; Ok(())
//! # }
//! ```
//!
//! # Users
//! [`create`]: a taken email is [`crate::Error::Conflict`] naming
//! [`crate::UniqueRule::UsersEmail`], decided by the database's unique index, so concurrent
//! registrations cannot both win. Then [`authenticate`], [`get`] / [`find`], [`find_by_email`] (any
//! casing: emails are stored lower-cased in Unicode NFC and compared exactly, so an accent, a
//! full-width or a look-alike letter is another address), [`update`] and [`delete`]
//! (accounts, sessions, supplier accounts and stores go with the user by `ON DELETE CASCADE`;
//! verification tokens for the email in the same transaction). An unknown email, a user
//! without a password and a wrong password all answer [`crate::Error::AuthenticationFailed`]
//! after exactly one argon2 verification (against a dummy hash when there is no real one).
//!
//! Callers match on the variants, never on message text:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> domain::Result<()> {
//! # let mut config = domain::Config::new("sqlite::memory:");
//! # config.migrate_on_start = true;
//! # let db = domain::connect(&config).await?;
//! use domain::users::{self, Argon2Params, Email, NewUser, Password, PasswordHasher};
//! use domain::{Error, UniqueRule, Violation};
//!
//! let hasher = PasswordHasher::new(Argon2Params::new(1024, 1, 1)?)?;   // cheap, for the example
//! let new = || Ok::<_, Error>(NewUser {
//!     email: Email::parse("ann@example.com")?,
//!     password: Password::parse("correct horse battery staple")?,
//!     name: None,
//!     image: None,
//! });
//! users::create(&db, &hasher, new()?).await?;
//! match users::create(&db, &hasher, new()?).await {
//!     Err(Error::Conflict { rule: UniqueRule::UsersEmail }) => {}         // the email is taken
//!     other => panic!("{other:?}"),
//! }
//! assert!(matches!(
//!     Email::parse("not an address"),
//!     Err(Error::Invalid { field: "users.email", violation: Violation::Format })
//! ));
//! # Ok(())
//! # }
//! ```
//!
//! # Passwords
//! 8 to 128 characters, not only whitespace; hashed with argon2id and
//! [`Argon2Params::OWASP`]: m = 19456 KiB, t = 2, p = 1, 16-byte salt, 32-byte hash (OWASP's
//! first recommended setting: tens of milliseconds per hash, one core). Hashing runs on
//! tokio's blocking pool. The parameters are stored in each PHC string, so they can be raised
//! later; tests use cheaper ones through [`Argon2Params::new`].
//!
//! # OAuth
//! [`accounts::authenticate`]`(db, &keys, profile)`: an existing link signs its user in; a new
//! provider account whose *verified* email belongs to a user is linked to that user;
//! otherwise a user is created (email verified when the provider verified it). An unverified
//! email that belongs to a user is a `UsersEmail` conflict, never a link. The refresh, access
//! and id tokens are encrypted: [`accounts::list`] never shows them, [`accounts::get_tokens`] is
//! the one call that decrypts; [`accounts::delete`] removes a link. Provider account ids
//! compare exactly (case, accents, width). What each identity and job field accepts and how
//! identifiers compare: `docs/identity-and-jobs-limits.md` in the repository.
//!
//! # Sessions and email verification
//! [`sessions::create`] returns a 256-bit random token (base64url, 43 characters) once and
//! stores its SHA-256 digest; [`sessions::find_by_token`] gives the session and user while it is
//! live; [`sessions::delete`] (one of the user's), [`sessions::delete_by_token`] (sign-out),
//! [`sessions::delete_for_user`], [`sessions::purge_expired`].
//!
//! [`verification_tokens::create`]`(db, &email, lifetime)` gives a token once (digest stored);
//! [`verification_tokens::delete`] succeeds at most once, atomically (the `DELETE` decides between
//! concurrent consumers), fails with [`crate::Error::Expired`] after its lifetime and
//! [`crate::Error::NotFound`] otherwise, and marks the user's email verified.
//!
//! # Stripe Connect
//! [`update_stripe_account`] (an account already attached to another user is a conflict on
//! [`crate::UniqueRule::UsersStripeAccountId`]), [`update_stripe_onboarded`],
//! [`find_by_stripe_account`].
//!
//! # Secrets
//! Secrets in memory are [`crate::crypto::Secret`] (wiped on drop, `Debug` prints
//! `Secret(***)`); nothing holding a secret prints it, and no error carries one. Besides the
//! usual variants, this module and [`crate::supplier_accounts`] answer [`crate::Error::Expired`] (a
//! verification token past its lifetime), [`crate::Error::Decryption`] (a stored secret that
//! no key of the ring opens, or that was tampered with) and [`crate::Error::Crypto`] (the
//! system's random number generator or argon2 failed). The encryption key, its format and its
//! rotation: [`crate::crypto`] and `docs/operations.md`.

use chrono::{DateTime, FixedOffset};
use entity::users;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionSession,
    TransactionTrait,
};
use uuid::Uuid;

use crate::clock::now;
use crate::error::{Error, Result, Table, Violation};
#[cfg(doc)]
use crate::rules::UniqueRule;
use crate::txn::retry_transient;
use crate::violations::OnTable;

pub mod accounts;
mod password;
pub mod sessions;
mod values;
pub mod verification_tokens;

pub use password::{
    Argon2Params, PASSWORD_MAX_LEN, PASSWORD_MIN_LEN, Password, PasswordHasher, SALT_LEN,
};
pub use values::{
    DISPLAY_NAME_MAX_LEN, DisplayName, EMAIL_MAX_LEN, Email, IMAGE_URL_MAX_LEN, ImageUrl,
    STRIPE_ACCOUNT_ID_MAX_LEN, StripeAccountId,
};

/// A user as services see it: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user's id (UUID v7).
    pub id: Uuid,
    /// The normalised email address.
    pub email: Email,
    /// The display name, if any.
    pub name: Option<String>,
    /// When the email address was verified, if it was.
    pub email_verified: Option<DateTime<FixedOffset>>,
    /// The profile picture URL, if any.
    pub image: Option<String>,
    /// Whether the user can sign in with a password (OAuth-only users cannot).
    pub has_password: bool,
    /// The attached Stripe Connect account, if any.
    pub stripe_account_id: Option<String>,
    /// Whether Stripe reported the account's onboarding as complete.
    pub stripe_onboarded: bool,
    /// When the user registered.
    pub created_at: DateTime<FixedOffset>,
    /// The last write to the user.
    pub updated_at: DateTime<FixedOffset>,
}

impl TryFrom<users::Model> for User {
    type Error = Error;

    /// The read model of a stored row.
    ///
    /// # Errors
    /// [`Error::Undecodable`] naming `users.email` when the stored address is not in the form
    /// [`Email::parse`] writes (a row written by hand, or by another program).
    fn try_from(model: users::Model) -> Result<Self> {
        let email = Email::from_stored(model.email).ok_or(Error::Undecodable {
            table: Table::Users,
            column: "email",
            row: model.id,
        })?;
        Ok(Self {
            id: model.id,
            email,
            name: model.name,
            email_verified: model.email_verified,
            image: model.image,
            has_password: model.password_hash.is_some(),
            stripe_account_id: model.stripe_account_id,
            stripe_onboarded: model.stripe_onboarded,
            created_at: model.created_at,
            updated_at: model.updated_at,
        })
    }
}

/// What creating a user needs; every field is already validated.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The email address, unique across users.
    pub email: Email,
    /// The password; only its argon2id hash is stored.
    pub password: Password,
    /// An optional display name.
    pub name: Option<DisplayName>,
    /// An optional profile picture.
    pub image: Option<ImageUrl>,
}

/// A profile change: `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// The new display name.
    pub name: Option<Option<DisplayName>>,
    /// The new profile picture.
    pub image: Option<Option<ImageUrl>>,
}

/// Creates (registers) a user with email and password, hashed with the hasher's argon2id
/// parameters.
///
/// # Errors
/// [`Error::Conflict`] with [`UniqueRule::UsersEmail`] when the email is taken (decided by the
/// unique index, so concurrent registrations cannot both win); [`Error::Crypto`];
/// [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id))]
pub async fn create<C: ConnectionTrait>(
    db: &C,
    hasher: &PasswordHasher,
    new: NewUser,
) -> Result<User> {
    let password_hash = hasher.hash(&new.password).await?;
    let at = now();
    let model = users::Model {
        id: Uuid::now_v7(),
        email: new.email.as_ref().to_owned(),
        name: new.name.map(|n| n.as_ref().to_owned()),
        password_hash: Some(password_hash),
        email_verified: None,
        image: new.image.map(|i| i.as_ref().to_owned()),
        stripe_account_id: None,
        stripe_onboarded: false,
        created_at: at,
        updated_at: at,
    };
    let user = insert(db, model).await?;
    tracing::Span::current().record("user_id", tracing::field::display(user.id));
    Ok(user)
}

/// Inserts a complete user row and hands back its read model.
///
/// # Errors
/// [`Error::Conflict`] for a taken email; [`Error::Undecodable`] when the model's email is not
/// a parsed one; [`Error::Database`].
pub(crate) async fn insert<C: ConnectionTrait>(db: &C, model: users::Model) -> Result<User> {
    let active = users::ActiveModel {
        id: Set(model.id),
        email: Set(model.email.clone()),
        name: Set(model.name.clone()),
        password_hash: Set(model.password_hash.clone()),
        email_verified: Set(model.email_verified),
        image: Set(model.image.clone()),
        stripe_account_id: Set(model.stripe_account_id.clone()),
        stripe_onboarded: Set(model.stripe_onboarded),
        created_at: Set(model.created_at),
        updated_at: Set(model.updated_at),
    };
    users::Entity::insert(active)
        .exec_without_returning(db)
        .await
        .on_table("users")?;
    User::try_from(model)
}

/// Signs a user in with email and password.
///
/// An unknown email, a user without a password and a wrong password are answered alike, with
/// the same error and one argon2 verification each (against a dummy hash when there is no
/// real one), so that neither the answer nor its timing tells whether the account exists.
///
/// # Errors
/// [`Error::AuthenticationFailed`]; [`Error::Undecodable`] when the user's stored row does not
/// decode; [`Error::Crypto`]; [`Error::Database`].
#[tracing::instrument(skip_all, err)]
pub async fn authenticate<C: ConnectionTrait>(
    db: &C,
    hasher: &PasswordHasher,
    email: &Email,
    password: &Password,
) -> Result<User> {
    let found = users::Entity::find()
        .filter(users::Column::Email.eq(email.as_ref()))
        .one(db)
        .await?;
    let stored = found.as_ref().and_then(|u| u.password_hash.clone());
    if hasher.verify(password, stored).await? {
        // `verify` is true only for a real stored hash, which only a found user has.
        found
            .map(User::try_from)
            .transpose()?
            .ok_or(Error::AuthenticationFailed)
    } else {
        Err(Error::AuthenticationFailed)
    }
}

/// The user with `id`, if there is one.
///
/// # Errors
/// [`Error::Undecodable`] when the stored row does not decode; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %id))]
pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<User>> {
    users::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(User::try_from)
        .transpose()
}

/// The user with `id`.
///
/// # Errors
/// [`Error::NotFound`] when there is none; [`Error::Undecodable`] when the stored row does not
/// decode; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %id))]
pub async fn get<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<User> {
    find(db, id).await?.ok_or(Error::NotFound {
        entity: Table::Users,
    })
}

/// The user with `email` (in any casing: [`Email`] is normalised), if there is one. The
/// normalised address is compared exactly: an address that differs by an accent, a
/// full-width letter or a look-alike letter of another script finds nobody else's account.
///
/// # Errors
/// [`Error::Undecodable`] when the stored row does not decode; [`Error::Database`].
#[tracing::instrument(skip_all, err)]
pub async fn find_by_email<C: ConnectionTrait>(db: &C, email: &Email) -> Result<Option<User>> {
    users::Entity::find()
        .filter(users::Column::Email.eq(email.as_ref()))
        .one(db)
        .await?
        .map(User::try_from)
        .transpose()
}

/// Updates a user's profile: display name and picture.
///
/// # Errors
/// [`Error::NotFound`] when there is no such user; [`Error::Undecodable`] when the stored row
/// does not decode; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %id))]
pub async fn update<C: ConnectionTrait>(db: &C, id: Uuid, patch: UserPatch) -> Result<User> {
    let mut update = users::Entity::update_many()
        .col_expr(users::Column::UpdatedAt, Expr::value(now()))
        .filter(users::Column::Id.eq(id));
    if let Some(name) = patch.name {
        update = update.col_expr(
            users::Column::Name,
            Expr::value(name.map(|n| n.as_ref().to_owned())),
        );
    }
    if let Some(image) = patch.image {
        update = update.col_expr(
            users::Column::Image,
            Expr::value(image.map(|i| i.as_ref().to_owned())),
        );
    }
    update.exec(db).await.on_table("users")?;
    get(db, id).await
}

/// Deletes a user; the database deletes their OAuth links, sessions, supplier accounts and
/// stores with them (ON DELETE CASCADE). Their pending verification tokens, which are keyed
/// by email rather than by user, are deleted in the same transaction.
///
/// # Errors
/// [`Error::NotFound`] when there is no such user; [`Error::Transient`] when it lost a
/// deadlock inside the caller's transaction (alone, it runs again); [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %id))]
pub async fn delete<C: ConnectionTrait + TransactionTrait>(db: &C, id: Uuid) -> Result<()> {
    retry_transient(db, || delete_once(db, id)).await
}

async fn delete_once<C: ConnectionTrait + TransactionTrait>(db: &C, id: Uuid) -> Result<()> {
    let txn = crate::db::begin_write(db).await?;
    let user = stored_row(&txn, id).await?;
    entity::verification_tokens::Entity::delete_many()
        .filter(entity::verification_tokens::Column::Identifier.eq(user.email))
        .exec(&txn)
        .await?;
    users::Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// Sets the Stripe Connect account of a user (attaches it). Setting the account the user
/// already has changes nothing; setting another one replaces it and resets `stripe_onboarded`.
///
/// # Errors
/// [`Error::Conflict`] with [`UniqueRule::UsersStripeAccountId`] when another user has the
/// account (the ids are compared exactly: `acct_1Ab` and `acct_1aB` are two accounts);
/// [`Error::NotFound`] when there is no such user; [`Error::Transient`] when it lost a
/// deadlock inside the caller's transaction; [`Error::Undecodable`] when the stored row does
/// not decode; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %id))]
pub async fn update_stripe_account<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    id: Uuid,
    account: &StripeAccountId,
) -> Result<User> {
    retry_transient(db, || update_stripe_account_once(db, id, account)).await
}

async fn update_stripe_account_once<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    id: Uuid,
    account: &StripeAccountId,
) -> Result<User> {
    let txn = crate::db::begin_write(db).await?;
    let user = stored_row(&txn, id).await?;
    if user.stripe_account_id.as_deref() != Some(account.as_ref()) {
        users::Entity::update_many()
            .col_expr(
                users::Column::StripeAccountId,
                Expr::value(account.as_ref().to_owned()),
            )
            .col_expr(users::Column::StripeOnboarded, Expr::value(false))
            .col_expr(users::Column::UpdatedAt, Expr::value(now()))
            .filter(users::Column::Id.eq(id))
            .exec(&txn)
            .await
            .on_table("users")?;
    }
    let user = get(&txn, id).await?;
    txn.commit().await?;
    Ok(user)
}

/// Records that Stripe finished onboarding the user's attached account (sets
/// `users.stripe_onboarded`).
///
/// # Errors
/// [`Error::NotFound`] when there is no such user; [`Error::Invalid`] naming
/// `users.stripe_account_id` with [`Violation::NotSet`] when the user has no Stripe account;
/// [`Error::Undecodable`] when the stored row does not decode; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %id))]
pub async fn update_stripe_onboarded<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<User> {
    users::Entity::update_many()
        .col_expr(users::Column::StripeOnboarded, Expr::value(true))
        .col_expr(users::Column::UpdatedAt, Expr::value(now()))
        .filter(users::Column::Id.eq(id))
        .filter(users::Column::StripeAccountId.is_not_null())
        .exec(db)
        .await?;
    let user = get(db, id).await?;
    if user.stripe_account_id.is_none() {
        return Err(Error::Invalid {
            field: "users.stripe_account_id",
            violation: Violation::NotSet,
        });
    }
    Ok(user)
}

/// The user a Stripe Connect account belongs to (for Stripe's webhooks), if any; the id is
/// compared exactly, case included, on every backend.
///
/// # Errors
/// [`Error::Undecodable`] when the stored row does not decode; [`Error::Database`].
#[tracing::instrument(skip_all, err)]
pub async fn find_by_stripe_account<C: ConnectionTrait>(
    db: &C,
    account: &StripeAccountId,
) -> Result<Option<User>> {
    users::Entity::find()
        .filter(users::Column::StripeAccountId.eq(account.as_ref()))
        .one(db)
        .await?
        .map(User::try_from)
        .transpose()
}

/// The stored row of user `id`, as it is (not decoded), inside a write.
async fn stored_row<C: ConnectionTrait>(txn: &C, id: Uuid) -> Result<users::Model> {
    users::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or(Error::NotFound {
            entity: Table::Users,
        })
}
