//! Cursor pagination shared by every list: `?after=<id>&limit=<n>` in, `{items, next}` out.
//!
//! Ids are UUIDv7, so their order is creation order and a cursor stays valid while rows are
//! added or removed.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Largest page a client may ask for.
pub const MAX_LIMIT: u32 = 100;
/// Page size when the client names none.
pub const DEFAULT_LIMIT: u32 = 50;

/// Query parameters of a list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Return items after this id (the `next` of the previous page).
    pub after: Option<Uuid>,
    /// Items per page, 1 to 100 (default 50); anything else is a 400 problem.
    #[param(minimum = 1, maximum = 100)]
    #[serde(default, deserialize_with = "limit_in_range")]
    pub limit: Option<u32>,
}

/// Reads `limit`, refusing anything outside 1 to [`MAX_LIMIT`] (for other lists' queries too).
pub fn limit_in_range<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let limit = u32::deserialize(d)?;
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(Some(limit))
    } else {
        Err(serde::de::Error::custom(format!(
            "limit must be 1 to {MAX_LIMIT}, not {limit}"
        )))
    }
}

impl PageQuery {
    /// The limit to ask storage for: one more than the page, to learn whether there is a next.
    pub fn fetch_limit(&self) -> u32 {
        self.page_size() + 1
    }

    pub fn page_size(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<Uuid>,
}

impl<T> Page<T> {
    /// Cuts `rows` (fetched with [`PageQuery::fetch_limit`]) to a page.
    pub fn from_rows(mut rows: Vec<T>, query: &PageQuery, id: impl Fn(&T) -> Uuid) -> Page<T> {
        let size = query.page_size() as usize;
        let next = if rows.len() > size {
            rows.truncate(size);
            rows.last().map(&id)
        } else {
            None
        };
        Page { items: rows, next }
    }
}
