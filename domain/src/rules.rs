//! The rules the database enforces, by the names the migrations give them ([`crate::violations`]
//! translates a violation back into the rule that was broken).
//!
//! The names follow `uq_<table>_<columns>`, `fk_<table>_<column>` and `ck_<table>_<column>`.
//! Every backend reports a violation differently: Postgres names the constraint, MariaDB/MySQL
//! put the name in the message, SQLite names the columns of a unique rule, the name of a CHECK,
//! and nothing at all for a foreign key (the table being written settles that one).

macro_rules! rules {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => ($cname:literal, $table:literal, [$($col:literal),+]), )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                #[doc = concat!("`", $cname, "` on `", $table, "` (", $($col, " "),+, ")")]
                $(#[$vmeta])*
                $variant,
            )+
        }

        impl $name {
            /// Every rule of this kind.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The constraint's name in the schema.
            pub const fn name(self) -> &'static str {
                match self { $($name::$variant => $cname,)+ }
            }

            /// The table the rule is declared on.
            pub const fn table(self) -> &'static str {
                match self { $($name::$variant => $table,)+ }
            }

            /// The columns the rule covers, in declaration order.
            pub const fn columns(self) -> &'static [&'static str] {
                match self { $($name::$variant => &[$($col),+],)+ }
            }

            pub(crate) fn by_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|rule| rule.name() == name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}.{}", self.table(), self.columns().join("+"))
            }
        }
    };
}

rules! {
    /// A uniqueness rule: a write that breaks one is answered with [`crate::Error::Conflict`].
    pub enum UniqueRule {
        UsersEmail => ("uq_users_email", "users", ["email"]),
        UsersStripeAccountId => ("uq_users_stripe_account_id", "users", ["stripe_account_id"]),
        AccountsProviderAccount => ("uq_accounts_provider_provider_account_id", "accounts", ["provider", "provider_account_id"]),
        SessionsToken => ("uq_sessions_session_token", "sessions", ["session_token"]),
        /// The primary key of `verification_tokens`.
        VerificationTokensIdentifierToken => ("pk_verification_tokens", "verification_tokens", ["identifier", "token"]),
        VerificationTokensToken => ("uq_verification_tokens_token", "verification_tokens", ["token"]),
        SupplierAccountsUserProvider => ("uq_supplier_accounts_user_id_provider", "supplier_accounts", ["user_id", "provider"]),
        StoresSlug => ("uq_stores_slug", "stores", ["slug"]),
        StoresCustomDomain => ("uq_stores_custom_domain", "stores", ["custom_domain"]),
        StoresSubdomain => ("uq_stores_subdomain", "stores", ["subdomain"]),
        ProductsStoreSlug => ("uq_products_store_id_slug", "products", ["store_id", "slug"]),
        ProductsStoreSource => ("uq_products_store_id_source_provider_source_id", "products", ["store_id", "source_provider", "source_id"]),
        ProductVariantsProductSku => ("uq_product_variants_product_id_sku", "product_variants", ["product_id", "sku"]),
        PagesStoreSlug => ("uq_pages_store_id_slug", "pages", ["store_id", "slug"]),
        /// The primary key of `agent_job_dependencies`: an edge once.
        AgentJobDependenciesEdge => ("pk_agent_job_dependencies", "agent_job_dependencies", ["job_id", "depends_on"]),
        /// Held only while the job is PENDING or PROCESSING; creating a job with a taken key
        /// returns the job holding it, so callers see this only from a retry or resurrection.
        AgentJobsStoreUniqueKey => ("uq_agent_jobs_store_id_unique_key", "agent_jobs", ["store_id", "unique_key"]),
    }
}

rules! {
    /// A foreign key: a write that points at a row that does not exist is answered with
    /// [`crate::Error::MissingReference`].
    pub enum ForeignKeyRule {
        AccountsUser => ("fk_accounts_user_id", "accounts", ["user_id"]),
        SessionsUser => ("fk_sessions_user_id", "sessions", ["user_id"]),
        SupplierAccountsUser => ("fk_supplier_accounts_user_id", "supplier_accounts", ["user_id"]),
        StoresUser => ("fk_stores_user_id", "stores", ["user_id"]),
        ProductsStore => ("fk_products_store_id", "products", ["store_id"]),
        ProductImagesProduct => ("fk_product_images_product_id", "product_images", ["product_id"]),
        ProductVariantsProduct => ("fk_product_variants_product_id", "product_variants", ["product_id"]),
        PagesStore => ("fk_pages_store_id", "pages", ["store_id"]),
        MediaAssetsStore => ("fk_media_assets_store_id", "media_assets", ["store_id"]),
        AgentJobsStore => ("fk_agent_jobs_store_id", "agent_jobs", ["store_id"]),
        /// On SQLite, which names no foreign key, a refusal on this two-key table stays
        /// [`crate::Error::Database`]; the crate locks both jobs before it writes an edge.
        AgentJobDependenciesJob => ("fk_agent_job_dependencies_job_id", "agent_job_dependencies", ["job_id"]),
        AgentJobDependenciesDependsOn => ("fk_agent_job_dependencies_depends_on", "agent_job_dependencies", ["depends_on"]),
    }
}

rules! {
    /// A CHECK constraint: a write that breaks one is answered with [`crate::Error::Invalid`] naming
    /// the column and [`crate::Violation::Check`]. The enum checks exist on SQLite only, where enum
    /// columns are text; the other backends refuse a bad variant through their enum types.
    pub enum CheckRule {
        ProductsCostPrice => ("ck_products_cost_price", "products", ["cost_price"]),
        ProductsSellingPrice => ("ck_products_selling_price", "products", ["selling_price"]),
        ProductsCompareAtPrice => ("ck_products_compare_at_price", "products", ["compare_at_price"]),
        ProductsStockQuantity => ("ck_products_stock_quantity", "products", ["stock_quantity"]),
        ProductsSourceProvider => ("ck_products_source_provider", "products", ["source_provider"]),
        ProductsStatus => ("ck_products_status", "products", ["status"]),
        ProductImagesPosition => ("ck_product_images_position", "product_images", ["position"]),
        ProductVariantsPrice => ("ck_product_variants_price", "product_variants", ["price"]),
        ProductVariantsCostPrice => ("ck_product_variants_cost_price", "product_variants", ["cost_price"]),
        ProductVariantsStock => ("ck_product_variants_stock", "product_variants", ["stock"]),
        MediaAssetsSize => ("ck_media_assets_size", "media_assets", ["size"]),
        MediaAssetsType => ("ck_media_assets_type", "media_assets", ["type"]),
        PagesType => ("ck_pages_type", "pages", ["type"]),
        StoresStatus => ("ck_stores_status", "stores", ["status"]),
        SupplierAccountsProvider => ("ck_supplier_accounts_provider", "supplier_accounts", ["provider"]),
        AgentJobsProgress => ("ck_agent_jobs_progress", "agent_jobs", ["progress"]),
        AgentJobsAttempts => ("ck_agent_jobs_attempts", "agent_jobs", ["attempts"]),
        AgentJobsMaxAttempts => ("ck_agent_jobs_max_attempts", "agent_jobs", ["max_attempts"]),
        AgentJobsType => ("ck_agent_jobs_type", "agent_jobs", ["type"]),
        AgentJobsStatus => ("ck_agent_jobs_status", "agent_jobs", ["status"]),
        AgentJobsWaitingFor => ("ck_agent_jobs_waiting_for", "agent_jobs", ["waiting_for"]),
        AgentJobDependenciesDependsOn => ("ck_agent_job_dependencies_depends_on", "agent_job_dependencies", ["depends_on"]),
    }
}

impl CheckRule {
    /// The column the check guards, as `table.column`.
    pub fn field(self) -> &'static str {
        // Every check covers exactly one column; the name is `ck_<table>_<column>`, so the
        // qualified field name is spelled out once here instead of built at run time.
        match self {
            CheckRule::ProductsCostPrice => "products.cost_price",
            CheckRule::ProductsSellingPrice => "products.selling_price",
            CheckRule::ProductsCompareAtPrice => "products.compare_at_price",
            CheckRule::ProductsStockQuantity => "products.stock_quantity",
            CheckRule::ProductsSourceProvider => "products.source_provider",
            CheckRule::ProductsStatus => "products.status",
            CheckRule::ProductImagesPosition => "product_images.position",
            CheckRule::ProductVariantsPrice => "product_variants.price",
            CheckRule::ProductVariantsCostPrice => "product_variants.cost_price",
            CheckRule::ProductVariantsStock => "product_variants.stock",
            CheckRule::MediaAssetsSize => "media_assets.size",
            CheckRule::MediaAssetsType => "media_assets.type",
            CheckRule::PagesType => "pages.type",
            CheckRule::StoresStatus => "stores.status",
            CheckRule::SupplierAccountsProvider => "supplier_accounts.provider",
            CheckRule::AgentJobsProgress => "agent_jobs.progress",
            CheckRule::AgentJobsAttempts => "agent_jobs.attempts",
            CheckRule::AgentJobsMaxAttempts => "agent_jobs.max_attempts",
            CheckRule::AgentJobsType => "agent_jobs.type",
            CheckRule::AgentJobsStatus => "agent_jobs.status",
            CheckRule::AgentJobsWaitingFor => "agent_jobs.waiting_for",
            CheckRule::AgentJobDependenciesDependsOn => "agent_job_dependencies.depends_on",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_name_follows_the_naming_pattern_of_its_table() {
        for rule in UniqueRule::ALL {
            let name = rule.name();
            assert!(
                name.starts_with(&format!("uq_{}_", rule.table()))
                    || name == format!("pk_{}", rule.table()),
                "{name}"
            );
        }
        for rule in ForeignKeyRule::ALL {
            assert_eq!(
                rule.name(),
                format!("fk_{}_{}", rule.table(), rule.columns()[0])
            );
        }
        for rule in CheckRule::ALL {
            assert_eq!(
                rule.name(),
                format!("ck_{}_{}", rule.table(), rule.columns()[0])
            );
            assert_eq!(
                rule.field(),
                format!("{}.{}", rule.table(), rule.columns()[0])
            );
        }
    }
}
