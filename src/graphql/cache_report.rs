//! Tells clients how old the data they got is: every response that read a
//! snapshot carries `extensions.cache.<collection> = { ageMs, stale }`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextRequest,
};
use async_graphql::{Context, Name, Request, Response, ServerResult, Value};

use crate::cache::Served;

/// The snapshots one request read: collection → (age in ms, stale).
#[derive(Default)]
pub(crate) struct CacheReport {
    /// std `Mutex`: never held across `.await`.
    read: Mutex<BTreeMap<&'static str, (u64, bool)>>,
}

/// Records that the request read `collection` as `served`; when a
/// collection is read twice, the older reading is kept.
pub(crate) fn record<T>(ctx: &Context<'_>, collection: &'static str, served: &Served<T>) {
    if let Ok(report) = ctx.data::<Arc<CacheReport>>() {
        let age_ms = served.age.as_millis() as u64;
        let mut read = report
            .read
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = read.entry(collection).or_insert((age_ms, served.stale));
        if age_ms > entry.0 {
            *entry = (age_ms, served.stale);
        }
    }
}

/// Installs a fresh `CacheReport` per request.
pub(crate) struct CacheReporting;

impl ExtensionFactory for CacheReporting {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CacheReportExtension {
            report: Arc::default(),
        })
    }
}

struct CacheReportExtension {
    report: Arc<CacheReport>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for CacheReportExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        next.run(ctx, request.data(Arc::clone(&self.report))).await
    }

    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        let read = std::mem::take(
            &mut *self
                .report
                .read
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        if !read.is_empty() {
            let entries = read
                .into_iter()
                .map(|(collection, (age_ms, stale))| {
                    let mut entry = async_graphql::indexmap::IndexMap::new();
                    entry.insert(Name::new("ageMs"), Value::from(age_ms));
                    entry.insert(Name::new("stale"), Value::from(stale));
                    (Name::new(collection), Value::Object(entry))
                })
                .collect();
            response
                .extensions
                .insert("cache".to_owned(), Value::Object(entries));
        }
        response
    }
}
