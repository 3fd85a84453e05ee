//! Reading products, variants and images for the read paths ([`super::get`],
//! [`super::list`]): each value is read by its position in the select list, and a variant's
//! options go from the stored JSON straight to a map.
//!
//! Reading by column name looks every name up in the row, for every value; a page of 50
//! products with their variants and images is some 4,000 values. Positions are fixed here by
//! the select lists below (and for products by the entity's column order, which a test pins).

use std::collections::BTreeMap;
use std::fmt;

use entity::{product_images, product_variants, products};
use sea_orm::{DbErr, FromQueryResult, QueryResult, TryGetableFromJson};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::images::Image;
use super::variants::Variant;
use crate::money::Money;

/// A whole `products` row, as `products::Entity::find()` selects it (every column, in the
/// entity's order).
pub(super) struct ProductRow(pub(super) products::Model);

impl FromQueryResult for ProductRow {
    fn from_query_result(res: &QueryResult, _pre: &str) -> Result<Self, DbErr> {
        Ok(Self(products::Model {
            id: res.try_get_by_index(0)?,
            store_id: res.try_get_by_index(1)?,
            source_provider: res.try_get_by_index(2)?,
            source_id: res.try_get_by_index(3)?,
            source_url: res.try_get_by_index(4)?,
            title: res.try_get_by_index(5)?,
            original_title: res.try_get_by_index(6)?,
            description: res.try_get_by_index(7)?,
            slug: res.try_get_by_index(8)?,
            cost_price: res.try_get_by_index(9)?,
            selling_price: res.try_get_by_index(10)?,
            compare_at_price: res.try_get_by_index(11)?,
            currency: res.try_get_by_index(12)?,
            stock_quantity: res.try_get_by_index(13)?,
            track_inventory: res.try_get_by_index(14)?,
            meta_title: res.try_get_by_index(15)?,
            meta_description: res.try_get_by_index(16)?,
            status: res.try_get_by_index(17)?,
            created_at: res.try_get_by_index(18)?,
            updated_at: res.try_get_by_index(19)?,
            deleted_at: res.try_get_by_index(20)?,
            search_title: res.try_get_by_index(21)?,
        }))
    }
}

/// The columns of a variant that [`VariantRow`] reads, in its order.
pub(super) const VARIANT_COLUMNS: [product_variants::Column; 8] = [
    product_variants::Column::Id,
    product_variants::Column::ProductId,
    product_variants::Column::Sku,
    product_variants::Column::Title,
    product_variants::Column::Price,
    product_variants::Column::CostPrice,
    product_variants::Column::Stock,
    product_variants::Column::Options,
];

/// A variant read through [`VARIANT_COLUMNS`]; `None` when its stored options do not decode
/// (the id is kept to name the row).
pub(super) struct VariantRow(pub(super) Result<Variant, uuid::Uuid>);

impl FromQueryResult for VariantRow {
    fn from_query_result(res: &QueryResult, _pre: &str) -> Result<Self, DbErr> {
        let id = res.try_get_by_index(0)?;
        let Some(options) = Options::try_get_from_json(res, 7)?.0 else {
            return Ok(Self(Err(id)));
        };
        Ok(Self(Ok(Variant {
            id,
            product_id: res.try_get_by_index(1)?,
            sku: res.try_get_by_index(2)?,
            title: res.try_get_by_index(3)?,
            price: Money::from_db(res.try_get_by_index(4)?),
            cost_price: Money::from_db(res.try_get_by_index(5)?),
            stock: res.try_get_by_index(6)?,
            options,
        })))
    }
}

/// The columns of an image that [`ImageRow`] reads, in its order.
pub(super) const IMAGE_COLUMNS: [product_images::Column; 6] = [
    product_images::Column::Id,
    product_images::Column::ProductId,
    product_images::Column::OriginalUrl,
    product_images::Column::ProcessedUrl,
    product_images::Column::AltText,
    product_images::Column::Position,
];

/// An image read through [`IMAGE_COLUMNS`].
pub(super) struct ImageRow(pub(super) Image);

impl FromQueryResult for ImageRow {
    fn from_query_result(res: &QueryResult, _pre: &str) -> Result<Self, DbErr> {
        Ok(Self(Image {
            id: res.try_get_by_index(0)?,
            product_id: res.try_get_by_index(1)?,
            original_url: res.try_get_by_index(2)?,
            processed_url: res.try_get_by_index(3)?,
            alt_text: res.try_get_by_index(4)?,
            position: res.try_get_by_index(5)?,
        }))
    }
}

/// A variant's options, decoded from the stored JSON in one pass. The domain writes a map of
/// strings; anything else (another JSON shape, or a map with a value that is not a string)
/// is `None`, which the read paths report as [`crate::Error::Undecodable`].
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Options(pub(super) Option<BTreeMap<String, String>>);

impl TryGetableFromJson for Options {}

impl<'de> Deserialize<'de> for Options {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OptionsVisitor)
    }
}

struct OptionsVisitor;

impl<'de> Visitor<'de> for OptionsVisitor {
    type Value = Options;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Options, A::Error> {
        let mut options = BTreeMap::new();
        let mut all_text = true;
        while let Some(name) = map.next_key::<String>()? {
            match map.next_value::<Text>()?.0 {
                Some(value) => {
                    options.insert(name, value);
                }
                None => all_text = false,
            }
        }
        Ok(Options(all_text.then_some(options)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Options, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Options(None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Options, E> {
        Ok(Options(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Options, E> {
        Ok(Options(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Options, E> {
        Ok(Options(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Options, E> {
        Ok(Options(None))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Options, E> {
        Ok(Options(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Options, E> {
        Ok(Options(None))
    }
}

/// A JSON value that is kept when it is a string.
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Text, E> {
        Ok(Text(Some(value.to_owned())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Text, E> {
        Ok(Text(Some(value)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Text(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Text(None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Text, E> {
        Ok(Text(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Text, E> {
        Ok(Text(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Text, E> {
        Ok(Text(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Text, E> {
        Ok(Text(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
        Ok(Text(None))
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{Iden, Iterable};

    use super::*;

    #[test]
    fn product_rows_are_read_in_the_entity_s_column_order() {
        let columns: Vec<String> = products::Column::iter().map(|c| c.to_string()).collect();
        assert_eq!(
            columns,
            [
                "id",
                "store_id",
                "source_provider",
                "source_id",
                "source_url",
                "title",
                "original_title",
                "description",
                "slug",
                "cost_price",
                "selling_price",
                "compare_at_price",
                "currency",
                "stock_quantity",
                "track_inventory",
                "meta_title",
                "meta_description",
                "status",
                "created_at",
                "updated_at",
                "deleted_at",
                "search_title",
            ]
        );
    }

    #[test]
    fn options_read_as_a_map_of_strings_or_not_at_all() {
        let read = |json: &str| serde_json::from_str::<Options>(json).expect("any JSON").0;
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(
            read(r#"{"color":"Red","size":"L"}"#),
            Some(map(&[("color", "Red"), ("size", "L")]))
        );
        assert_eq!(read("{}"), Some(map(&[])));
        assert_eq!(read(r#"{"a":"1","a":"2"}"#), Some(map(&[("a", "2")])));
        for other in [
            r#"{"color":"Red","size":3}"#,
            r#"{"color":{"name":"Red"}}"#,
            r#"{"color":["Red"]}"#,
            r#"{"color":null}"#,
            r#"["Red","L"]"#,
            r#""Red""#,
            "42",
            "-1",
            "1.5",
            "true",
            "null",
        ] {
            // The same answer as reading the whole JSON value and converting it.
            let converted: Option<BTreeMap<String, String>> =
                serde_json::from_str::<serde_json::Value>(other)
                    .ok()
                    .and_then(|v| serde_json::from_value(v).ok());
            assert_eq!(read(other), converted, "{other}");
            assert_eq!(read(other), None, "{other}");
        }
    }
}
