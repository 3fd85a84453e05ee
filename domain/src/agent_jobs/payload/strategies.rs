//! Strategies for every typed payload, shared by the property tests here and in the
//! contract tests' spirit: edge and random strings in every text field, numbers across their
//! whole range.

use proptest::prelude::*;

use entity::sea_orm_active_enums::SupplierProvider;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::*;

/// Arbitrary text, and text made of the characters that break naive checks.
pub(crate) fn edgy() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => "[a-zA-Z0-9 éÉ\\-]{1,40}",
        1 => any::<String>(),
        1 => "[a \\u{0}\\u{1}\\t\\n\\u{7f}\\u{301}\\u{ff41}\\u{430}é]{0,12}",
        1 => (195usize..206).prop_map(|n| "a".repeat(n)),
    ]
}

pub(crate) fn url() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "https://cdn\\.example\\.com/[a-z0-9/]{0,30}\\.png",
        1 => edgy(),
        1 => edgy().prop_map(|s| format!("https://cdn.example.com/{s}")),
        1 => (2_020usize..2_040).prop_map(|n| format!("https://c.example.com/{}", "a".repeat(n))),
    ]
}

fn price() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (0i64..10_000_000_000).prop_map(|cents| Decimal::new(cents, 2)),
        (any::<i64>(), 0u32..6).prop_map(|(n, scale)| Decimal::new(n, scale)),
    ]
}

fn provider() -> impl Strategy<Value = SupplierProvider> {
    prop_oneof![
        Just(SupplierProvider::Aliexpress),
        Just(SupplierProvider::CjDropshipping),
        Just(SupplierProvider::Spocket),
    ]
}

fn small_u32() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..300, any::<u32>(), Just(u32::MAX)]
}

pub(crate) fn input() -> impl Strategy<Value = JobInput> {
    prop_oneof![
        (edgy(), edgy(), proptest::option::of(edgy())).prop_map(|(niche, tone, store_name)| {
            JobInput::BrandGenerator(BrandBrief {
                niche,
                tone,
                store_name,
            })
        }),
        (provider(), edgy(), small_u32()).prop_map(|(provider, query, limit)| {
            JobInput::ProductScout(ProductSearch {
                provider,
                query,
                limit,
            })
        }),
        (
            0usize..103,
            edgy(),
            "[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8}){0,2}|.{0,10}"
        )
            .prop_map(|(n, tone, language)| JobInput::Copywriter(CopyBrief {
                product_ids: (0..n).map(|_| Uuid::now_v7()).collect(),
                tone,
                language,
            })),
        (
            proptest::collection::vec(url(), 0..22),
            proptest::collection::vec(
                prop_oneof![
                    Just(ImageOperation::RemoveBackground),
                    Just(ImageOperation::Enhance),
                    (small_u32(), prop_oneof![1u32..9_000, any::<u32>()])
                        .prop_map(|(width, height)| ImageOperation::Resize { width, height }),
                ],
                0..12
            )
        )
            .prop_map(
                |(source_urls, operations)| JobInput::ImageProcessor(ImageWork {
                    source_urls,
                    operations
                })
            ),
        (
            any::<u128>().prop_map(Uuid::from_u128),
            small_u32(),
            proptest::option::of(edgy())
        )
            .prop_map(|(product_id, duration_seconds, style)| {
                JobInput::VideoGenerator(VideoBrief {
                    product_id,
                    duration_seconds,
                    style,
                })
            }),
    ]
}

pub(crate) fn output() -> impl Strategy<Value = JobOutput> {
    let color = prop_oneof!["#[0-9a-fA-F]{6}", "#[0-9a-fA-F]{3}"];
    prop_oneof![
        // Built from text as a handler does (`BrandIdentity::parse`, the one way to build
        // one): untrimmed text is normalised; text it refuses never reaches an output, so
        // such a case stands in a fixed brand.
        (
            edgy(),
            [color.clone(), color.clone(), color],
            [edgy(), edgy()],
            edgy(),
            proptest::option::of(url())
        )
            .prop_map(
                |(name, [primary, secondary, accent], [heading, body], tone, logo)| {
                    let brand = BrandIdentity::parse(
                        &name,
                        [&primary, &secondary, &accent],
                        [&heading, &body],
                        &tone,
                        logo.as_deref(),
                    )
                    .or_else(|_| {
                        BrandIdentity::parse(
                            "NeonNest",
                            [&primary, &secondary, &accent],
                            ["Orbitron", "Inter"],
                            "futuristic",
                            None,
                        )
                    })
                    .expect("a fixed brand parses");
                    JobOutput::BrandGenerator(brand)
                }
            ),
        proptest::collection::vec((edgy(), edgy(), url(), price()), 0..4).prop_map(|ps| {
            JobOutput::ProductScout(ScoutResult {
                products: ps
                    .into_iter()
                    .map(|(source_id, title, url, cost_price)| ScoutedProduct {
                        source_id,
                        title,
                        url,
                        cost_price,
                    })
                    .collect(),
            })
        }),
        proptest::collection::vec(
            (
                edgy(),
                edgy(),
                proptest::option::of(edgy()),
                proptest::option::of(edgy())
            ),
            0..4
        )
        .prop_map(|ps| JobOutput::Copywriter(CopyResult {
            products: ps
                .into_iter()
                .map(
                    |(title, description, meta_title, meta_description)| ProductCopy {
                        product_id: Uuid::now_v7(),
                        title,
                        description,
                        meta_title,
                        meta_description,
                    }
                )
                .collect(),
        })),
        proptest::collection::vec((url(), url()), 0..4).prop_map(|images| {
            JobOutput::ImageProcessor(ProcessedImages {
                images: images
                    .into_iter()
                    .map(|(source_url, processed_url)| ProcessedImage {
                        source_url,
                        processed_url,
                    })
                    .collect(),
            })
        }),
        (url(), small_u32()).prop_map(|(url, duration_seconds)| {
            JobOutput::VideoGenerator(GeneratedVideo {
                url,
                duration_seconds,
            })
        }),
    ]
}
