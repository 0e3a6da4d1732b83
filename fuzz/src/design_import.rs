//! Target `design_import`: a design document as `POST …/imports` takes it (JSON bytes).
//!
//! Parsing and validating must never panic; a valid design must build into an update that
//! passes the strict decoder, applies to an empty document (which then checks out like any
//! document and renders as JSON), and applying a second build changes nothing, as the import
//! worker relies on.

use crate::fixture::check_doc;
use weft_protocol::decode_update;
use weft_protocol::design::{Limits, build_update, parse};
use weft_protocol::yrs::{Doc, ReadTxn, Transact};

pub fn design_import(data: &[u8]) {
    let Ok(design) = parse(data, &Limits::default()) else {
        return;
    };
    let update = build_update(design.clone(), 1);
    let doc = Doc::new();
    let decoded =
        decode_update(&update).unwrap_or_else(|e| panic!("a built design is refused: {e}"));
    assert!(
        crate::yrs_update::apply(&doc, decoded),
        "a built design does not apply"
    );
    let sv = check_doc(&doc, &[&update]);
    let again = decode_update(&build_update(design, 1)).expect("a second build decodes");
    assert!(
        crate::yrs_update::apply(&doc, again),
        "a second build does not apply"
    );
    assert_eq!(
        doc.transact().state_vector(),
        sv,
        "a second build changed the document"
    );
}
