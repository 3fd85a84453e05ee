//! Property tests of the payloads: whatever a write accepts reads back as it was.

use proptest::prelude::*;

use super::strategies::{input, output};
use entity::sea_orm_active_enums::SupplierProvider;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::*;
use crate::error::{Error, Result, Violation};

fn has_nul(json: &serde_json::Value) -> bool {
    json.to_string().contains("\\u0000")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// No input makes `validate` panic; an accepted input is stored as JSON that holds no
    /// NUL, fits `MAX_PAYLOAD_BYTES` and reads back as the very same input.
    #[test]
    fn an_accepted_input_reads_back_from_its_json(input in input()) {
        if input.validate().is_ok() {
            let json = input.stored_json().expect("accepted");
            prop_assert!(!has_nul(&json));
            prop_assert!(json.to_string().len() <= MAX_PAYLOAD_BYTES);
            let back = JobInput::from_json(input.agent_type(), json).expect("reads back");
            prop_assert_eq!(back, input);
        }
    }

    /// The same for outputs, in the form `validate` returns (the form stored).
    #[test]
    fn an_accepted_output_reads_back_from_its_json(output in output()) {
        let agent_type = output.agent_type();
        if let Ok(stored) = output.validate() {
            prop_assert_eq!(stored.agent_type(), agent_type);
            let json = stored.to_json();
            prop_assert!(!has_nul(&json));
            prop_assert!(json.to_string().len() <= MAX_PAYLOAD_BYTES);
            let back = JobOutput::from_json(agent_type, json).expect("reads back");
            prop_assert_eq!(&back, &stored);
            // Validating the stored form changes nothing more.
            prop_assert_eq!(back.validate().ok(), Some(stored));
        }
    }
}

fn field_of(result: Result<impl std::fmt::Debug>) -> (&'static str, Violation) {
    match result {
        Err(Error::Invalid { field, violation }) => (field, violation),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn nul_and_control_characters_are_refused_by_field() {
    let brief = |niche: &str| {
        JobInput::BrandGenerator(BrandBrief {
            niche: niche.into(),
            tone: "warm".into(),
            store_name: None,
        })
    };
    assert_eq!(
        field_of(brief("neon\0lamps").validate()),
        ("agent_jobs.input.niche", Violation::ControlCharacter)
    );
    assert_eq!(
        field_of(brief("neon\u{1b}[31m").validate()),
        ("agent_jobs.input.niche", Violation::ControlCharacter)
    );
    assert!(brief("neon\tlamps\n").validate().is_ok());
    let copy = JobOutput::Copywriter(CopyResult {
        products: vec![ProductCopy {
            product_id: Uuid::now_v7(),
            title: "Lamp".into(),
            description: "bright\0".into(),
            meta_title: None,
            meta_description: None,
        }],
    });
    assert_eq!(
        field_of(copy.validate()),
        (
            "agent_jobs.output.products.description",
            Violation::ControlCharacter
        )
    );
}

#[test]
fn a_payload_over_one_mebibyte_is_refused_naming_it() {
    let product = ProductCopy {
        product_id: Uuid::now_v7(),
        title: "Lamp".into(),
        description: "é".repeat(MAX_DESCRIPTION),
        meta_title: None,
        meta_description: None,
    };
    // 100 descriptions of 50,000 two-byte characters: 10 MB of JSON.
    let huge = JobOutput::Copywriter(CopyResult {
        products: vec![product.clone(); MAX_COPY_PRODUCTS],
    });
    assert_eq!(
        field_of(huge.validate()),
        (
            "agent_jobs.output",
            Violation::TooLarge {
                max_bytes: MAX_PAYLOAD_BYTES
            }
        )
    );
    // Ten of them (about 1 MB of text) fit.
    let fits = JobOutput::Copywriter(CopyResult {
        products: vec![product; 10],
    });
    assert!(fits.validate().is_ok());
}

#[test]
fn numbers_at_their_type_limits_are_refused_by_field() {
    let scout = JobInput::ProductScout(ProductSearch {
        provider: SupplierProvider::Spocket,
        query: "lamp".into(),
        limit: u32::MAX,
    });
    assert_eq!(
        field_of(scout.validate()),
        (
            "agent_jobs.input.limit",
            Violation::OutOfRange { min: 1, max: 100 }
        )
    );
    let video = JobOutput::VideoGenerator(GeneratedVideo {
        url: "https://v.example.com/a.mp4".into(),
        duration_seconds: u32::MAX,
    });
    assert_eq!(
        field_of(video.validate()),
        (
            "agent_jobs.output.duration_seconds",
            Violation::OutOfRange { min: 1, max: 180 }
        )
    );
    let scouted = JobOutput::ProductScout(ScoutResult {
        products: vec![ScoutedProduct {
            source_id: "1".into(),
            title: "Lamp".into(),
            url: "https://s.example.com/1".into(),
            cost_price: Decimal::MAX,
        }],
    });
    assert_eq!(
        field_of(scouted.validate()).0,
        "agent_jobs.output.products.cost_price"
    );
}
