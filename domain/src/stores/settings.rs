//! A store's settings: the typed JSON of `stores.settings`.

use serde::{Deserialize, Serialize};

use super::values::invalid;
use crate::error::{Error, Result, Violation};
use crate::money::Money;
use crate::values::Currency;

/// A store's settings, stored in `stores.settings`; every field has a default, so a store
/// without settings reads as [`StoreSettings::default`].
///
/// [`StoreSettings::new`] is the one way to build them; reading them from JSON checks them
/// as `new` does. A stored document is read more leniently in one respect only: its currency
/// may be any ISO 4217 code, so that settings stored before a code was superseded still read
/// (they cannot be written back as they are).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoreSettingsDocument")]
pub struct StoreSettings {
    currency: Currency,
    language: String,
    show_out_of_stock: bool,
    free_shipping_threshold: Option<Money>,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            currency: Currency::USD,
            language: "en".into(),
            show_out_of_stock: false,
            free_shipping_threshold: None,
        }
    }
}

/// [`StoreSettings`] as it is in JSON, before validation; absent fields take the defaults.
#[derive(Deserialize)]
#[serde(default)]
struct StoreSettingsDocument {
    currency: Currency,
    language: String,
    show_out_of_stock: bool,
    free_shipping_threshold: Option<Money>,
}

impl Default for StoreSettingsDocument {
    fn default() -> Self {
        let StoreSettings {
            currency,
            language,
            show_out_of_stock,
            free_shipping_threshold,
        } = StoreSettings::default();
        Self {
            currency,
            language,
            show_out_of_stock,
            free_shipping_threshold,
        }
    }
}

impl TryFrom<StoreSettingsDocument> for StoreSettings {
    type Error = Error;

    fn try_from(doc: StoreSettingsDocument) -> Result<Self> {
        Self::new(
            doc.currency,
            &doc.language,
            doc.show_out_of_stock,
            doc.free_shipping_threshold,
        )
    }
}

impl StoreSettings {
    /// Settings with prices shown in `currency`, the storefront in `language` (a two-letter
    /// ISO 639-1 code, any case), out-of-stock products listed or not, and free shipping from
    /// `free_shipping_threshold` (`None` for never).
    ///
    /// # Errors
    /// [`Error::Invalid`] with [`Violation::Format`] naming `stores.settings.currency` for a
    /// currency that prices may not use ([`Currency::parse`]), or `stores.settings.language`.
    pub fn new(
        currency: Currency,
        language: &str,
        show_out_of_stock: bool,
        free_shipping_threshold: Option<Money>,
    ) -> Result<Self> {
        Currency::parse("stores.settings.currency", currency.code())?;
        Ok(Self {
            currency,
            language: checked_language(language)?,
            show_out_of_stock,
            free_shipping_threshold,
        })
    }

    /// Reads stored settings: as [`Deserialize`], but any ISO 4217 currency.
    pub(crate) fn from_stored(json: serde_json::Value) -> serde_json::Result<Self> {
        let doc: StoreSettingsDocument = serde_json::from_value(json)?;
        Ok(Self {
            currency: doc.currency,
            language: checked_language(&doc.language).map_err(serde::de::Error::custom)?,
            show_out_of_stock: doc.show_out_of_stock,
            free_shipping_threshold: doc.free_shipping_threshold,
        })
    }

    /// The currency prices are shown in.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The storefront's language, as a lower-case two-letter ISO 639-1 code.
    pub fn language(&self) -> &str {
        &self.language
    }

    /// Whether products that are out of stock are listed in the storefront.
    pub fn show_out_of_stock(&self) -> bool {
        self.show_out_of_stock
    }

    /// Orders from this amount ship free; `None` for never.
    pub fn free_shipping_threshold(&self) -> Option<Money> {
        self.free_shipping_threshold
    }
}

fn checked_language(language: &str) -> Result<String> {
    let language = language.trim().to_ascii_lowercase();
    if language.len() != 2 || !language.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(invalid("stores.settings.language", Violation::Format));
    }
    Ok(language)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_and_read_back_from_partial_json() {
        let settings: StoreSettings =
            serde_json::from_value(serde_json::json!({"currency": "EUR"})).expect("partial");
        assert_eq!(settings.currency().code(), "EUR");
        assert_eq!(settings.language(), "en");
        assert!(
            serde_json::from_value::<StoreSettings>(serde_json::json!({"currency": "EURO"}))
                .is_err()
        );
    }

    #[test]
    fn stored_settings_read_a_superseded_currency_that_input_refuses() {
        let json = serde_json::json!({"currency": "XAU", "language": "DE"});
        let stored = StoreSettings::from_stored(json.clone()).expect("stored reads");
        assert_eq!(stored.currency().code(), "XAU");
        assert_eq!(stored.language(), "de");
        assert!(serde_json::from_value::<StoreSettings>(json).is_err());
    }
}
