use std::collections::HashSet;

use domain::StoreScope;
use domain::media_assets::{self, MediaMetadata, MediaType, NewMediaAsset};
use domain::paging::{MAX_PAGE_SIZE, PageRequest};
use domain::values::HttpUrl;
use domain::{Error, Violation};
use entity::media_assets as asset_rows;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::*;

/// Every asset row of the store, as stored, in id order.
async fn rows<C: ConnectionTrait>(db: &C, scope: &StoreScope) -> Vec<asset_rows::Model> {
    asset_rows::Entity::find()
        .filter(asset_rows::Column::StoreId.eq(scope.store_id()))
        .order_by_asc(asset_rows::Column::Id)
        .all(db)
        .await
        .expect("read media assets")
}

fn image(size: i64) -> NewMediaAsset {
    NewMediaAsset {
        media_type: MediaType::Image,
        filename: format!("lamp-{}.png", unique()),
        mime_type: "image/png".into(),
        size,
        url: url("https://cdn.example.com/lamp.png"),
        original_url: None,
        metadata: None,
    }
}

fn url(value: &str) -> HttpUrl {
    HttpUrl::parse("media_assets.url", value).expect("url")
}

fn assert_asset_not_found<T: std::fmt::Debug>(result: domain::Result<T>) {
    assert!(
        matches!(
            result,
            Err(Error::NotFound {
                entity: domain::Table::MediaAssets
            })
        ),
        "expected Error::NotFound for a media asset, got {result:?}"
    );
}

backend_test!(
    async fn an_asset_round_trips_with_its_typed_metadata_and_a_lower_cased_mime_type(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        let metadata =
            MediaMetadata::new(Some(1920), Some(1080), Some(" h264 "), Some(12.5)).expect("valid");

        let video = media_assets::create(
            db,
            &scope,
            NewMediaAsset {
                media_type: MediaType::Video,
                filename: " Neon Lamp — promo.MP4 ".into(),
                mime_type: "Video/MP4".into(),
                size: 3 * (1 << 30),
                url: url("https://cdn.example.com/v/promo.mp4"),
                original_url: Some(url("https://supplier.example.com/raw.mp4")),
                metadata: Some(metadata.clone()),
            },
        )
        .await
        .expect("register");
        let logo = media_assets::create(
            db,
            &scope,
            NewMediaAsset {
                media_type: MediaType::Logo,
                mime_type: "image/svg+xml".into(),
                original_url: None,
                ..image(0)
            },
        )
        .await
        .expect("register an empty logo");

        assert_eq!(
            media_assets::get(db, &scope, video.id).await.expect("get"),
            video
        );
        assert_eq!(video.store_id, scope.store_id());
        assert_eq!(video.media_type, MediaType::Video);
        assert_eq!(video.filename, "Neon Lamp — promo.MP4");
        assert_eq!(video.mime_type, "video/mp4");
        assert_eq!(video.size, 3 * (1 << 30));
        assert_eq!(
            video.original_url.as_deref(),
            Some("https://supplier.example.com/raw.mp4")
        );
        assert_eq!(video.metadata, Some(metadata.clone()));
        assert_eq!(metadata.format(), Some("h264"), "the format is trimmed");
        assert_eq!(
            media_assets::get(db, &scope, logo.id).await.expect("get"),
            logo
        );
        assert_eq!(logo.original_url, None);
        assert_eq!(logo.metadata, None);
        media_assets::delete(db, &scope, logo.id)
            .await
            .expect("delete");
        assert_asset_not_found(media_assets::get(db, &scope, logo.id).await);
        assert_asset_not_found(media_assets::delete(db, &scope, logo.id).await);
        assert_eq!(rows(db, &scope).await.len(), 1);
    }
);

backend_test!(
    async fn bad_asset_input_names_the_field_and_rule_and_writes_nothing(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        let before = row_count::<asset_rows::Entity, _>(db).await;
        let cases: Vec<(NewMediaAsset, (&str, Violation))> = vec![
            (
                NewMediaAsset {
                    filename: " ".into(),
                    ..image(1)
                },
                ("media_assets.filename", Violation::Empty),
            ),
            (
                NewMediaAsset {
                    filename: format!("{}.png", "a".repeat(252)),
                    ..image(1)
                },
                ("media_assets.filename", Violation::TooLong { max: 255 }),
            ),
            (
                NewMediaAsset {
                    filename: "../etc/passwd".into(),
                    ..image(1)
                },
                ("media_assets.filename", Violation::Format),
            ),
            (
                NewMediaAsset {
                    filename: "c:\\lamp.png".into(),
                    ..image(1)
                },
                ("media_assets.filename", Violation::Format),
            ),
            (
                NewMediaAsset {
                    mime_type: String::new(),
                    ..image(1)
                },
                ("media_assets.mime_type", Violation::Empty),
            ),
            (
                NewMediaAsset {
                    mime_type: "png".into(),
                    ..image(1)
                },
                ("media_assets.mime_type", Violation::Format),
            ),
            (
                NewMediaAsset {
                    mime_type: "image/png; charset=x".into(),
                    ..image(1)
                },
                ("media_assets.mime_type", Violation::Format),
            ),
            (
                NewMediaAsset {
                    mime_type: "video/mp4".into(),
                    ..image(1)
                },
                ("media_assets.mime_type", Violation::MediaTypeMismatch),
            ),
            (
                NewMediaAsset {
                    media_type: MediaType::Logo,
                    mime_type: "application/pdf".into(),
                    ..image(1)
                },
                ("media_assets.mime_type", Violation::MediaTypeMismatch),
            ),
            (
                NewMediaAsset {
                    media_type: MediaType::Background,
                    mime_type: "video/webm".into(),
                    ..image(1)
                },
                ("media_assets.mime_type", Violation::MediaTypeMismatch),
            ),
            (
                NewMediaAsset {
                    media_type: MediaType::Video,
                    mime_type: "image/gif".into(),
                    ..image(1)
                },
                ("media_assets.mime_type", Violation::MediaTypeMismatch),
            ),
            (
                image(-1),
                (
                    "media_assets.size",
                    Violation::OutOfRange {
                        min: 0,
                        max: media_assets::SIZE_MAX,
                    },
                ),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                invalid(media_assets::create(db, &scope, input).await),
                expected
            );
        }
        // URLs and metadata are parsed before they can be given.
        let range = |min, max| Violation::OutOfRange { min, max };
        let parsed: Vec<(domain::Result<()>, (&str, Violation))> = vec![
            (
                HttpUrl::parse("media_assets.url", "ftp://cdn.example.com/lamp.png").map(|_| ()),
                ("media_assets.url", Violation::Format),
            ),
            (
                HttpUrl::parse("media_assets.url", "").map(|_| ()),
                ("media_assets.url", Violation::Empty),
            ),
            (
                HttpUrl::parse("media_assets.original_url", "javascript:alert(1)").map(|_| ()),
                ("media_assets.original_url", Violation::Format),
            ),
            (
                MediaMetadata::new(Some(0), None, None, None).map(|_| ()),
                ("media_assets.metadata.width", range(1, i64::from(u32::MAX))),
            ),
            (
                MediaMetadata::new(None, Some(0), None, None).map(|_| ()),
                (
                    "media_assets.metadata.height",
                    range(1, i64::from(u32::MAX)),
                ),
            ),
            (
                MediaMetadata::new(
                    None,
                    None,
                    Some(&"x".repeat(media_assets::FORMAT_MAX + 1)),
                    None,
                )
                .map(|_| ()),
                (
                    "media_assets.metadata.format",
                    Violation::TooLong {
                        max: media_assets::FORMAT_MAX,
                    },
                ),
            ),
            (
                MediaMetadata::new(None, None, None, Some(-0.5)).map(|_| ()),
                (
                    "media_assets.metadata.duration_seconds",
                    range(0, media_assets::DURATION_MAX_SECONDS),
                ),
            ),
        ];
        for (result, expected) in parsed {
            assert_eq!(invalid(result), expected);
        }
        for limit in [0, MAX_PAGE_SIZE + 1] {
            assert_eq!(
                invalid(media_assets::list(db, &scope, None, PageRequest::first(limit)).await),
                (
                    "limit",
                    Violation::OutOfRange {
                        min: 1,
                        max: MAX_PAGE_SIZE as i64,
                    }
                )
            );
        }

        assert_eq!(row_count::<asset_rows::Entity, _>(db).await, before);
    }
);

backend_test!(
    async fn paging_returns_every_asset_once_newest_first_while_assets_are_added(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        let mut existing = Vec::new();
        for n in 0..23 {
            let asset = if n % 3 == 0 {
                NewMediaAsset {
                    media_type: MediaType::Background,
                    ..image(n)
                }
            } else {
                image(n)
            };
            existing.push(
                media_assets::create(db, &scope, asset)
                    .await
                    .expect("register")
                    .id,
            );
        }

        let mut seen = Vec::new();
        let mut request = PageRequest::first(5);
        let mut pages = 0;
        loop {
            let page = media_assets::list(db, &scope, None, request)
                .await
                .expect("page");
            assert!(page.items.len() <= 5);
            pages += 1;
            seen.extend(page.items.iter().map(|asset| asset.id));
            // A new asset arrives between two requests.
            media_assets::create(db, &scope, image(1))
                .await
                .expect("new asset");
            match page.next {
                Some(cursor) => request = PageRequest::after(cursor, 5),
                None => break,
            }
        }
        let backgrounds = media_assets::list(
            db,
            &scope,
            Some(MediaType::Background),
            PageRequest::first(MAX_PAGE_SIZE),
        )
        .await
        .expect("backgrounds");

        let newest_first: Vec<Uuid> = existing.iter().rev().copied().collect();
        assert_eq!(seen, newest_first);
        assert_eq!(pages, 5);
        assert_eq!(
            seen.iter().collect::<HashSet<_>>().len(),
            existing.len(),
            "no asset twice"
        );
        assert_eq!(backgrounds.next, None);
        assert!(
            backgrounds
                .items
                .iter()
                .all(|asset| asset.media_type == MediaType::Background)
        );
        assert_eq!(
            backgrounds
                .items
                .iter()
                .map(|asset| asset.id)
                .collect::<Vec<_>>(),
            newest_first
                .iter()
                .copied()
                .filter(|id| existing
                    .iter()
                    .position(|e| e == id)
                    .is_some_and(|n| n % 3 == 0))
                .collect::<Vec<_>>()
        );
    }
);

backend_test!(
    async fn total_bytes_is_exact_beyond_2_pow_31_and_counts_only_the_store(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        let other = owner_scope(db).await;
        let empty = media_assets::count_bytes(db, &scope)
            .await
            .expect("empty total");
        // 2^31 and 2^32 overflow 32-bit sums; the largest asset allowed is 2^40.
        let sizes: [i64; 4] = [1 << 31, 1 << 32, media_assets::SIZE_MAX, 1];
        for size in sizes {
            media_assets::create(db, &scope, image(size))
                .await
                .expect("register");
        }
        media_assets::create(db, &other, image(7))
            .await
            .expect("other");

        let total = media_assets::count_bytes(db, &scope).await.expect("total");

        assert_eq!(empty, 0);
        assert_eq!(total, (1_i64 << 31) + (1 << 32) + (1 << 40) + 1);
        assert_eq!(total, 1_105_954_078_721);
        assert_eq!(
            media_assets::count_bytes(db, &other).await.expect("other"),
            7
        );
    }
);

backend_test!(
    async fn another_owner_cannot_reach_a_stores_media_by_any_function(t: &TestDb) {
        let db = &t.db;
        let victim = owner_scope(db).await;
        let mut ids = Vec::new();
        for size in [10, 20, 30] {
            ids.push(
                media_assets::create(db, &victim, image(size))
                    .await
                    .expect("victim's asset")
                    .id,
            );
        }
        let before = rows(db, &victim).await;
        let intruder = owner_scope(db).await;

        for id in &ids {
            assert_asset_not_found(media_assets::get(db, &intruder, *id).await);
            assert_asset_not_found(media_assets::delete(db, &intruder, *id).await);
        }
        let listed = media_assets::list(db, &intruder, None, PageRequest::first(MAX_PAGE_SIZE))
            .await
            .expect("list");
        // A cursor taken from the victim's ids leads nowhere either.
        let after_victim = media_assets::list(
            db,
            &intruder,
            Some(MediaType::Image),
            PageRequest::after(
                media_assets::list(db, &victim, None, PageRequest::first(1))
                    .await
                    .expect("victim's own first page")
                    .next
                    .expect("a next page"),
                MAX_PAGE_SIZE,
            ),
        )
        .await
        .expect("list after a foreign cursor");

        assert_eq!(listed.items, vec![]);
        assert_eq!(listed.next, None);
        assert_eq!(after_victim.items, vec![]);
        assert_eq!(
            media_assets::count_bytes(db, &intruder)
                .await
                .expect("total"),
            0
        );
        assert_eq!(rows(db, &victim).await, before);
        assert_eq!(
            media_assets::count_bytes(db, &victim).await.expect("total"),
            60
        );
    }
);

backend_test!(
    async fn stored_metadata_that_does_not_decode_is_an_undecodable_error_naming_the_column(
        t: &TestDb,
    ) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        let asset = media_assets::create(db, &scope, image(1))
            .await
            .expect("create");
        let id = match t.db_backend() {
            sea_orm::DbBackend::Postgres => format!("'{}'", asset.id),
            _ => format!("x'{}'", asset.id.simple()),
        };
        for json in [r#"{"width": 0}"#, r#"{"width": "wide"}"#, "[]"] {
            db.execute_raw(sea_orm::Statement::from_string(
                t.db_backend(),
                format!("UPDATE media_assets SET metadata = '{json}' WHERE id = {id}"),
            ))
            .await
            .expect("write the row by hand");
            for err in [
                media_assets::get(db, &scope, asset.id)
                    .await
                    .expect_err(json),
                media_assets::list(db, &scope, None, PageRequest::first(10))
                    .await
                    .expect_err(json),
            ] {
                assert!(
                    matches!(
                        err,
                        Error::Undecodable {
                            table: domain::Table::MediaAssets,
                            column: "metadata",
                            row,
                        } if row == asset.id
                    ),
                    "{json}: {err:?}"
                );
            }
        }
    }
);
