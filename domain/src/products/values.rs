//! Validation of a product's inputs.

use std::collections::BTreeMap;

use crate::error::{Error, Result, Violation};
use crate::money::Money;

/// The longest SKU, in characters.
pub const SKU_MAX: usize = 64;
/// The most options a variant may have.
pub const OPTIONS_MAX: usize = 10;
/// The longest option name or value, in characters.
pub const OPTION_TEXT_MAX: usize = 100;

/// A stock keeping unit: 1 to [`SKU_MAX`] of letters, digits, `.`, `_` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sku(String);

impl Sku {
    /// Validates a SKU (surrounding spaces are trimmed).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `field`: [`Violation::Empty`], [`Violation::TooLong`] or
    /// [`Violation::Format`].
    pub fn parse(field: &'static str, value: &str) -> Result<Self> {
        let value = value.trim();
        if value.is_empty() {
            return Err(Error::Invalid {
                field,
                violation: Violation::Empty,
            });
        }
        if value.chars().count() > SKU_MAX {
            return Err(Error::Invalid {
                field,
                violation: Violation::TooLong { max: SKU_MAX },
            });
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(Error::Invalid {
                field,
                violation: Violation::Format,
            });
        }
        Ok(Self(value.to_owned()))
    }

    /// The SKU as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A non-negative stock count.
///
/// # Errors
/// [`Error::Invalid`] naming `field` with [`Violation::OutOfRange`] for a negative count.
pub fn stock(field: &'static str, value: i32) -> Result<i32> {
    if value < 0 {
        return Err(Error::Invalid {
            field,
            violation: Violation::OutOfRange {
                min: 0,
                max: i64::from(i32::MAX),
            },
        });
    }
    Ok(value)
}

/// The product's stock as the total of its variants' stock, which must fit the same range
/// as each of them (the product's `stock_quantity` is an `int` too).
///
/// # Errors
/// [`Error::Invalid`] naming `stock_quantity` with [`Violation::OutOfRange`] when the total
/// passes `i32::MAX`.
pub fn total_stock(stocks: impl IntoIterator<Item = i32>) -> Result<i32> {
    stocks
        .into_iter()
        .try_fold(0i32, i32::checked_add)
        .ok_or(Error::Invalid {
            field: "products.stock_quantity",
            violation: Violation::OutOfRange {
                min: 0,
                max: i64::from(i32::MAX),
            },
        })
}

/// The selling price and the compare-at ("was") price, which must be above it when set.
///
/// # Errors
/// [`Error::Invalid`] naming `selling_price` or `compare_at_price` (money rules), or
/// `compare_at_price` with [`Violation::NotAbove`] when it is not above the selling price.
pub fn prices(selling: Money, compare_at: Option<Money>) -> Result<(Money, Option<Money>)> {
    if let Some(compare_at) = compare_at
        && compare_at <= selling
    {
        return Err(Error::Invalid {
            field: "products.compare_at_price",
            violation: Violation::NotAbove {
                other: "products.selling_price",
            },
        });
    }
    Ok((selling, compare_at))
}

/// A variant's options, e.g. `{"color": "Red", "size": "L"}`: at most [`OPTIONS_MAX`]
/// non-empty names and values of at most [`OPTION_TEXT_MAX`] characters.
///
/// # Errors
/// [`Error::Invalid`] naming `variants.options`.
pub fn options(options: BTreeMap<String, String>) -> Result<BTreeMap<String, String>> {
    let field = "product_variants.options";
    if options.len() > OPTIONS_MAX {
        return Err(Error::Invalid {
            field,
            violation: Violation::TooMany { max: OPTIONS_MAX },
        });
    }
    let mut checked = BTreeMap::new();
    for (name, value) in options {
        let name = crate::values::required_text(field, &name, OPTION_TEXT_MAX)?;
        let value = crate::values::required_text(field, &value, OPTION_TEXT_MAX)?;
        // Two names that differ only in surrounding spaces would silently become one.
        if checked.insert(name, value).is_some() {
            return Err(Error::Invalid {
                field,
                violation: Violation::Format,
            });
        }
    }
    Ok(checked)
}

/// The stored form of checked options: a JSON object of strings.
pub(super) fn options_json(options: BTreeMap<String, String>) -> serde_json::Value {
    serde_json::Value::Object(
        options
            .into_iter()
            .map(|(name, value)| (name, serde_json::Value::String(value)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;

    fn money(cents: i64) -> Money {
        Money::parse("price", Decimal::new(cents, 2)).expect("valid amount")
    }

    #[test]
    fn the_compare_at_price_must_be_above_the_selling_price() {
        let (selling, compare) = prices(money(1999), Some(money(2999))).expect("valid");
        assert_eq!(
            (selling.to_string(), compare.map(|c| c.to_string())),
            ("19.99".into(), Some("29.99".into()))
        );
        for compare_at in [money(1999), money(999)] {
            assert!(matches!(
                prices(money(1999), Some(compare_at)),
                Err(Error::Invalid {
                    field: "products.compare_at_price",
                    violation: Violation::NotAbove {
                        other: "products.selling_price"
                    }
                })
            ));
        }
    }

    #[test]
    fn skus_are_short_codes() {
        assert_eq!(
            Sku::parse("product_variants.sku", " NEON-LAMP_01.R ")
                .map(|s| s.0)
                .ok()
                .as_deref(),
            Some("NEON-LAMP_01.R")
        );
        assert!(matches!(
            Sku::parse("product_variants.sku", "a b"),
            Err(Error::Invalid {
                violation: Violation::Format,
                ..
            })
        ));
        assert!(matches!(
            Sku::parse("product_variants.sku", ""),
            Err(Error::Invalid {
                violation: Violation::Empty,
                ..
            })
        ));
    }
}
