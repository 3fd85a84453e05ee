//! A store's brand identity: the typed JSON of `stores.brand_identity`.

use serde::{Deserialize, Serialize};

use super::values::HexColor;
use crate::error::{Error, Result};
use crate::values::{HttpUrl, required_text};

/// The longest brand name, font name or tone, in characters.
pub const BRAND_TEXT_MAX: usize = 100;

/// The three brand colours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandColors {
    /// The main colour (buttons, links).
    pub primary: HexColor,
    /// The supporting colour.
    pub secondary: HexColor,
    /// The highlight colour.
    pub accent: HexColor,
}

/// The two brand fonts, by family name (checked as part of a [`BrandIdentity`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandFonts {
    /// Font family of headings, e.g. `Orbitron`.
    pub heading: String,
    /// Font family of body text, e.g. `Inter`.
    pub body: String,
}

/// A store's brand identity, stored in `stores.brand_identity` (usually written by the brand
/// generator agent).
///
/// [`BrandIdentity::parse`] is the one way to build one; reading one from JSON validates it
/// exactly as `parse` does, so a document that reads is one that could have been written, and
/// one that was written (trimmed and checked) reads back equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BrandIdentityDocument")]
pub struct BrandIdentity {
    name: String,
    colors: BrandColors,
    fonts: BrandFonts,
    tone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    logo_url: Option<HttpUrl>,
}

/// [`BrandIdentity`] as it is in JSON, before validation.
#[derive(Deserialize)]
struct BrandIdentityDocument {
    name: String,
    colors: BrandColors,
    fonts: BrandFonts,
    tone: String,
    #[serde(default)]
    logo_url: Option<HttpUrl>,
}

impl TryFrom<BrandIdentityDocument> for BrandIdentity {
    type Error = Error;

    fn try_from(doc: BrandIdentityDocument) -> Result<Self> {
        Self {
            name: doc.name,
            colors: doc.colors,
            fonts: doc.fonts,
            tone: doc.tone,
            logo_url: doc.logo_url,
        }
        .validated()
    }
}

impl BrandIdentity {
    /// Builds a brand identity from plain text, as a brand generator produces it:
    /// `colors` are primary, secondary, accent (`#RRGGBB` or `#RGB`); `fonts` are heading,
    /// body. Text is trimmed.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field (`stores.brand_identity.name`,
    /// `stores.brand_identity.colors.primary`, …, `stores.brand_identity.fonts.heading`,
    /// `stores.brand_identity.tone`, `stores.brand_identity.logo_url`) and the rule.
    pub fn parse(
        name: &str,
        colors: [&str; 3],
        fonts: [&str; 2],
        tone: &str,
        logo_url: Option<&str>,
    ) -> Result<Self> {
        let [primary, secondary, accent] = colors;
        let [heading, body] = fonts;
        Self {
            name: name.to_owned(),
            colors: BrandColors {
                primary: HexColor::parse("stores.brand_identity.colors.primary", primary)?,
                secondary: HexColor::parse("stores.brand_identity.colors.secondary", secondary)?,
                accent: HexColor::parse("stores.brand_identity.colors.accent", accent)?,
            },
            fonts: BrandFonts {
                heading: heading.to_owned(),
                body: body.to_owned(),
            },
            tone: tone.to_owned(),
            logo_url: logo_url
                .map(|url| HttpUrl::parse("stores.brand_identity.logo_url", url))
                .transpose()?,
        }
        .validated()
    }

    /// Checks the free-text fields (colours and URL are checked by their types) and trims them.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `stores.brand_identity.name`,
    /// `stores.brand_identity.fonts.heading`, `stores.brand_identity.fonts.body` or
    /// `stores.brand_identity.tone`.
    pub(crate) fn validated(mut self) -> Result<Self> {
        self.name = required_text("stores.brand_identity.name", &self.name, BRAND_TEXT_MAX)?;
        self.fonts.heading = required_text(
            "stores.brand_identity.fonts.heading",
            &self.fonts.heading,
            BRAND_TEXT_MAX,
        )?;
        self.fonts.body = required_text(
            "stores.brand_identity.fonts.body",
            &self.fonts.body,
            BRAND_TEXT_MAX,
        )?;
        self.tone = required_text("stores.brand_identity.tone", &self.tone, BRAND_TEXT_MAX)?;
        Ok(self)
    }

    /// The brand's name, e.g. `NeonNest`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The brand colours.
    pub fn colors(&self) -> &BrandColors {
        &self.colors
    }

    /// The brand fonts.
    pub fn fonts(&self) -> &BrandFonts {
        &self.fonts
    }

    /// The voice of the copy, e.g. `futuristic`.
    pub fn tone(&self) -> &str {
        &self.tone
    }

    /// The logo, when there is one.
    pub fn logo_url(&self) -> Option<&HttpUrl> {
        self.logo_url.as_ref()
    }
}
