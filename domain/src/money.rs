//! Exact money: `numeric(10,2)` as a validated [`Decimal`].

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, Violation};

/// Digits after the decimal point that money may have.
pub const SCALE: u32 = 2;

/// A non-negative amount with at most two decimals that fits `numeric(10,2)`
/// (0 to 99,999,999.99). Always carries scale 2, so `0.1` is shown as `0.10`.
///
/// In JSON it is a string (`"19.90"`), which keeps it exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Money(Decimal);

impl Money {
    /// The largest amount `numeric(10,2)` holds.
    pub const MAX: Decimal = Decimal::from_parts(1_410_065_407, 2, 0, false, 2); // 9_999_999_999 × 10⁻²

    /// Validates `amount` for the input field `field`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `field`: [`Violation::Format`] for more than two decimals,
    /// [`Violation::OutOfRange`] when negative or above [`Money::MAX`].
    pub fn parse(field: &'static str, amount: Decimal) -> Result<Self> {
        if amount.normalize().scale() > SCALE {
            return Err(Error::Invalid {
                field,
                violation: Violation::Format,
            });
        }
        if amount.is_sign_negative() && !amount.is_zero() || amount > Self::MAX {
            return Err(Error::Invalid {
                field,
                violation: Violation::OutOfRange {
                    min: 0,
                    max: 99_999_999,
                },
            });
        }
        Ok(Self(with_scale(amount)))
    }

    /// Reads a stored amount. SQLite keeps money as a float and loses the scale (`0.10` reads
    /// as `0.1`); rounding to two places restores the exact value that was written.
    pub(crate) fn from_db(stored: Decimal) -> Self {
        Self(with_scale(stored.round_dp(SCALE)))
    }

    /// The amount, with scale 2.
    pub fn amount(self) -> Decimal {
        self.0
    }
}

impl TryFrom<Decimal> for Money {
    type Error = Error;

    fn try_from(amount: Decimal) -> Result<Self> {
        Self::parse("amount", amount)
    }
}

impl From<Money> for Decimal {
    fn from(money: Money) -> Self {
        money.0
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

fn with_scale(mut amount: Decimal) -> Decimal {
    amount.rescale(SCALE);
    amount
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal literal")
    }

    #[test]
    fn amounts_are_shown_with_two_decimals() {
        let money = Money::parse("price", dec("0.1")).expect("valid");
        assert_eq!(money.to_string(), "0.10");
        assert_eq!(
            Money::from_db(dec("12345678.99")).to_string(),
            "12345678.99"
        );
    }

    #[test]
    fn more_than_two_decimals_negative_or_too_large_amounts_are_refused() {
        for (input, violation) in [
            ("1.005", Violation::Format),
            (
                "-0.01",
                Violation::OutOfRange {
                    min: 0,
                    max: 99_999_999,
                },
            ),
            (
                "100000000.00",
                Violation::OutOfRange {
                    min: 0,
                    max: 99_999_999,
                },
            ),
        ] {
            let err = Money::parse("price", dec(input)).expect_err(input);
            assert!(
                matches!(err, Error::Invalid { field: "price", violation: v } if v == violation),
                "{input}: {err:?}"
            );
        }
        assert_eq!(
            Money::parse("price", dec("99999999.99"))
                .map(Money::amount)
                .ok(),
            Some(Money::MAX)
        );
        assert!(
            Money::parse("price", dec("1.500")).is_ok(),
            "trailing zeros are not decimals"
        );
    }
}
