//! The data the workloads write: products shaped as `bench/README.md` says, and a small fast
//! RNG.

use std::collections::BTreeMap;

use domain::money::Money;
use domain::products::images::NewImage;
use domain::products::variants::NewVariant;
use domain::products::{NewProduct, ProductStatus, Sku, SupplierProvider};
use domain::values::HttpUrl;
use rust_decimal::Decimal;

/// SplitMix64: deterministic, fast, good enough to pick rows at random.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

const COLORS: [&str; 3] = ["Red", "Blue", "Green"];
const SIZES: [&str; 3] = ["S", "M", "L"];

/// Product `i` of a batch tagged `tag`: 3 variants (colour and size options, `stock` each),
/// 2 images; ACTIVE when `active`, else DRAFT. Titles, source ids and SKUs are distinct.
pub fn product(tag: &str, i: usize, active: bool, variants: usize, stock: i32) -> NewProduct {
    let mut p = NewProduct::new(
        SupplierProvider::Aliexpress,
        format!("{tag}-{i}"),
        format!("Bench {tag} product {i}"),
        money(1250),
        money(2999),
    );
    p.source_url = Some(url(&format!(
        "https://www.aliexpress.com/item/{tag}-{i}.html"
    )));
    p.description = format!(
        "Product {i} of the {tag} batch: a sturdy, good-looking item with a long enough \
         description to be realistic, sold in three colours and sizes."
    );
    p.compare_at_price = Some(money(3999));
    p.status = Some(if active {
        ProductStatus::Active
    } else {
        ProductStatus::Draft
    });
    p.variants = (0..variants)
        .map(|j| {
            let color = COLORS[j % COLORS.len()];
            let size = SIZES[(j / COLORS.len() + i) % SIZES.len()];
            NewVariant {
                sku: Some(
                    Sku::parse("product_variants.sku", &format!("SKU-{i}-{j}"))
                        .expect("a valid SKU"),
                ),
                title: format!("{color} / {size}"),
                price: money(2999),
                cost_price: money(1250),
                stock,
                options: BTreeMap::from([
                    ("color".to_owned(), color.to_owned()),
                    ("size".to_owned(), size.to_owned()),
                ]),
            }
        })
        .collect();
    p.images = (0..2)
        .map(|j| NewImage {
            original_url: url(&format!("https://cdn.example.com/{tag}/{i}/{j}.jpg")),
            alt_text: Some(format!("Bench product {i}, view {j}")),
        })
        .collect();
    p
}

/// The import of `bench/README.md`: `count` products, every other one ACTIVE, in batches of
/// `batch`.
pub fn import_batches(tag: &str, count: usize, batch: usize) -> Vec<Vec<NewProduct>> {
    let products: Vec<NewProduct> = (0..count)
        .map(|i| product(tag, i, i % 2 == 0, 3, 10))
        .collect();
    products.chunks(batch).map(<[NewProduct]>::to_vec).collect()
}

/// How `total` operations are split among `tasks` tasks.
pub fn share(total: usize, tasks: usize, task: usize) -> usize {
    total / tasks + usize::from(task < total % tasks)
}

/// A bench price: always a valid amount.
fn money(cents: i64) -> Money {
    Money::parse("price", Decimal::new(cents, 2)).expect("a valid amount")
}

/// A bench URL: always a valid https URL.
fn url(text: &str) -> HttpUrl {
    HttpUrl::parse("url", text).expect("a valid URL")
}
