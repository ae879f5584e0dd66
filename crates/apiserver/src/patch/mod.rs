//! Patch and apply semantics of the API server, as pure functions on `serde_json::Value`:
//!
//! - [`apply_json_patch`]: RFC 6902 JSON Patch (`application/json-patch+json`);
//! - [`apply_merge_patch`]: RFC 7386 JSON merge patch (`application/merge-patch+json`);
//! - [`apply_strategic_merge_patch`]: Kubernetes strategic merge patch
//!   (`application/strategic-merge-patch+json`), built-in kinds only;
//! - [`server_side_apply`]: server-side apply (`application/apply-patch+yaml`) with
//!   `metadata.managedFields` ownership and conflicts;
//! - [`track_update`]: the managed-fields bookkeeping every other write (create, update,
//!   patch) does.
//!
//! The per-kind facts all of this needs (list merge keys, atomic maps, zero values) come from
//! [`Schema`]; field ownership is expressed as [`FieldSet`]s. Nothing here does I/O: the caller
//! decodes bodies, picks the schema, runs admission/defaulting and stores the result, and maps a
//! [`PatchError`] to its HTTP status with [`PatchError::status_code`].

mod apply;
mod fields;

use ferry_api::patch::{json, merge, schema, strategic};

pub use apply::{
    APPLY_RESET_FIELDS, BEFORE_FIRST_APPLY, STRIPPED_META_FIELDS, server_side_apply, track_update,
};
pub(crate) use fields::list_item_element;
pub use fields::{FieldSet, PathElement, path_to_string};
pub use json::apply_json_patch;
pub use merge::apply_merge_patch;
pub use schema::{ListStrategy, Schema};
pub use strategic::apply_strategic_merge_patch;

pub use ferry_api::patch::{
    FieldConflict, PatchError, STRATEGIC_UNSUPPORTED_MESSAGE, conflict_message,
};
