//! A validating pass over Yjs v1 updates and state vectors, run before yrs decodes them.
//!
//! yrs trusts its input in ways a server may not: it keeps client ids above 2^53-1 only by a
//! debug assertion (in release builds they silently alias smaller ids), adds block lengths to
//! clocks without checking for overflow (a panic with overflow checks, a wrapped clock without),
//! and decodes nested `Any` values recursively with no depth limit (a few bytes per level, so a
//! frame of nested arrays overflows the stack and aborts the process). This module walks the
//! lib0 encoding exactly as `yrs::Update::decode_v1` and `StateVector::decode_v1` read it and
//! refuses those inputs (and block clocks past 2^31-1, which yrs subtracts as `i32`), so what
//! reaches yrs is what a JavaScript Yjs client can produce. It also refuses legacy JSON
//! content, which yrs decodes with an off-by-one (see [`content`]).
//!
//! It also refuses an update that lists one client twice. Every encoder (Yjs's
//! `writeClientsStructs` and `mergeUpdates`, yrs's `encode_diff`) writes each client once, its
//! blocks contiguous (gaps are skip blocks), but yrs 0.28's decoder appends a repeated client's
//! blocks to the first list, so clocks run backwards inside one client's blocks; integrating
//! such an update leaves dangling block pointers that a later `Text::diff` dereferences (a
//! segmentation fault, found by fuzzing). Within one listing the clocks are implicit (each block
//! starts where the previous ended), so a repeat is the only way to overlap or go backwards.
//! The only allocation is the set of clients seen, at most one entry per two input bytes.

use crate::awareness::MAX_SAFE_INTEGER;
use crate::message::DecodeError;
use std::collections::HashSet;
use yrs::StateVector;
use yrs::encoding::read::{Cursor, Read};
use yrs::updates::decoder::Decode;

/// Deepest nesting of `Any` arrays and maps accepted, the same bound serde_json puts on JSON.
pub const MAX_ANY_DEPTH: usize = 128;

/// Highest clock a block may reach. yrs computes a block's offset from the document's clock as
/// `local as i32 - clock as i32`, so a block at clock 2^31 or above looks already known, is
/// integrated without the skip before it, and `BlockStore::push` panics on the gap (found by
/// fuzzing). No client makes two billion changes.
pub const MAX_CLOCK: u32 = i32::MAX as u32;

/// Block info bytes and content references of the v1 format (yrs `block.rs`).
const BLOCK_GC: u8 = 0;
const BLOCK_SKIP: u8 = 10;
const HAS_ORIGIN: u8 = 0b1000_0000;
const HAS_RIGHT_ORIGIN: u8 = 0b0100_0000;
const HAS_PARENT_SUB: u8 = 0b0010_0000;

fn bad(what: impl Into<String>) -> DecodeError {
    DecodeError::Update(what.into())
}

/// Longest signed var int a Yjs client writes: 6 + 7 × 7 = 55 bits, room for every integer
/// JavaScript holds exactly (lib0 writes `Any` integers only up to 2^31). yrs's reader shifts
/// past 64 bits on an 11th byte (a panic with overflow checks) and negates `i64::MIN`.
pub const MAX_VAR_INT_BYTES: usize = 8;

/// Skips one lib0 signed var int of at most [`MAX_VAR_INT_BYTES`] bytes.
pub(crate) fn skip_var_int(cur: &mut Cursor<'_>) -> Result<(), DecodeError> {
    for _ in 0..MAX_VAR_INT_BYTES {
        if cur.read_u8()? & 0b1000_0000 == 0 {
            return Ok(());
        }
    }
    Err(bad(format!(
        "an integer runs past {MAX_VAR_INT_BYTES} bytes"
    )))
}

/// A client id read from the wire, refused above 2^53-1.
fn client(cur: &mut Cursor<'_>) -> Result<u64, DecodeError> {
    let client: u64 = cur.read_var()?;
    if client > MAX_SAFE_INTEGER {
        return Err(bad(format!("client id {client} exceeds 2^53-1")));
    }
    Ok(client)
}

/// Decodes a v1 state vector, refusing client ids above 2^53-1 and trailing bytes.
pub fn decode_state_vector(bytes: &[u8]) -> Result<StateVector, DecodeError> {
    let mut cur = Cursor::new(bytes);
    let len: u32 = cur.read_var()?;
    for _ in 0..len {
        client(&mut cur)?;
        let _clock: u32 = cur.read_var()?;
    }
    if cur.has_content() {
        return Err(DecodeError::Malformed(
            "trailing bytes after state vector".into(),
        ));
    }
    StateVector::decode_v1(bytes).map_err(DecodeError::from)
}

/// Checks that `bytes` is a v1 update yrs can decode and integrate without overflowing.
pub(crate) fn check_update_v1(bytes: &[u8]) -> Result<(), DecodeError> {
    scan(bytes, None)
}

/// Checks a v1 update (already accepted by `decode_update`) against the state vector of the
/// document it is about to be applied to, refusing an item that starts below the document's
/// clock for its client and runs past it, and whose origin, right origin or parent the
/// document lacks, or that names its parent itself (see [`check_straddle`]).
///
/// yrs trims the known part of such an item (`Update::exclude`): the unknown rest gets the
/// origin `(client, state clock - 1)` but keeps its parent id. Since that parent is missing,
/// the rest waits in the document's pending update, and the document's encoded state writes
/// it with its new origin, which the v1 format writes *instead of* the parent. A copy built
/// from that state (a joiner's SyncStep2, a compaction) integrates it; the document itself does
/// not: two state vectors for one document, and replicas that never converge (found by
/// fuzzing). An honest peer never sends such an item: the document already holds the start of
/// it, integrated, so it holds what that start depended on, which the whole item shares (Yjs
/// squashes items only when they have the same parent and right origin).
pub fn check_update_against(
    bytes: &[u8],
    state: &StateVector,
    sender: Sender,
) -> Result<(), DecodeError> {
    scan(bytes, Some((state, sender)))
}

/// Where an update comes from, for [`check_update_against`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// A client (a socket, a REST call): a straddling item that names its parent is refused.
    Client,
    /// Another node, which already checked its clients' updates. Its sync replies are encoded
    /// by yrs from a state that may have moved on since the request, so they can straddle what
    /// this node received meanwhile while naming the right parent: only unknown dependencies
    /// are refused.
    Node,
}

fn scan(bytes: &[u8], state: Option<(&StateVector, Sender)>) -> Result<(), DecodeError> {
    let mut cur = Cursor::new(bytes);
    for_each_block(&mut cur, |owner, start, block| {
        if let Some((state, sender)) = state {
            let explicit_parent = block.parent.is_some() && sender == Sender::Client;
            check_straddle(
                state,
                owner,
                start,
                start + block.len,
                &block.deps(),
                explicit_parent,
            )?;
        }
        Ok(())
    })?;
    delete_set(&mut cur)
}

/// Walks the structs section of a v1 update, calling `visit` with each block, its client and
/// the clock it starts at; leaves `cur` at the delete set. Refuses a client listed twice and
/// blocks running past [`MAX_CLOCK`], so `start + block.len` never overflows.
pub(crate) fn for_each_block(
    cur: &mut Cursor<'_>,
    mut visit: impl FnMut(u64, u32, &Block) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let clients: u32 = cur.read_var()?;
    let mut seen = HashSet::new();
    for _ in 0..clients {
        let blocks: u32 = cur.read_var()?;
        let owner = client(cur)?;
        if !seen.insert(owner) {
            return Err(bad(format!("client {owner} is listed twice")));
        }
        let mut clock: u32 = cur.read_var()?;
        for _ in 0..blocks {
            let block = block(cur)?;
            let end = clock
                .checked_add(block.len)
                .filter(|end| *end <= MAX_CLOCK)
                .ok_or_else(|| bad(format!("blocks of client {owner} run past clock 2^31-1")))?;
            visit(owner, clock, &block)?;
            clock = end;
        }
    }
    Ok(())
}

/// The delete set, as every encoder writes it (Yjs's `writeDeleteSet` after
/// `sortAndMergeDeleteSet`, yrs's squashed `IdSet`): each client once, its ranges in clock
/// order without overlap. yrs applies an unsorted, overlapping set range by range, splitting
/// items inside ranges it already deleted, and its accounting of a type's length goes wrong:
/// `block_len` underflows (a panic with overflow checks, a wrapped length without; found by
/// libFuzzer).
fn delete_set(cur: &mut Cursor<'_>) -> Result<(), DecodeError> {
    let clients: u32 = cur.read_var()?;
    let mut seen = HashSet::new();
    for _ in 0..clients {
        let owner = client(cur)?;
        if !seen.insert(owner) {
            return Err(bad(format!(
                "client {owner} is listed twice in the delete set"
            )));
        }
        let ranges: u32 = cur.read_var()?;
        let mut deleted_to = 0u32;
        for _ in 0..ranges {
            let start: u32 = cur.read_var()?;
            let len: u32 = cur.read_var()?;
            if start < deleted_to {
                return Err(bad(format!(
                    "deleted ranges of client {owner} are out of order or overlap"
                )));
            }
            deleted_to = start.checked_add(len).ok_or_else(|| {
                bad(format!(
                    "deleted range of client {owner} runs past clock 2^32-1"
                ))
            })?;
        }
    }
    Ok(())
}

/// The ids an item depends on: origin, right origin, parent given by id.
type Deps = [Option<(u64, u32)>; 3];

/// Refuses an item of `owner` at clocks `start..end` that straddles the document's clock for
/// `owner` while depending on an id the document lacks, or while naming its parent itself (see
/// [`check_update_against`]).
///
/// yrs trims the known part and gives the rest the origin `(owner, known - 1)` but keeps the
/// parent the item named; a copy rebuilt from the encoding finds the parent through that origin
/// instead. When the named parent is not the one `(owner, known - 1)` lies in (a forged item),
/// the document and every copy of it differ (found by libFuzzer). Which parent that id lies in
/// is not visible through yrs's API, so a client's straddling item with an explicit parent is
/// refused outright (`explicit_parent` is false for other nodes, see [`Sender::Node`]; their
/// items are held to the parent the document's item-parent index knows, see
/// [`crate::item_parents`]). An
/// honest client sends one only as a merge of updates the server partly has
/// (Yjs's `mergeUpdates` squashes them); refused, a provider reconnects and its sync sends the
/// rest trimmed at the server's clock, so nothing is lost.
fn check_straddle(
    state: &StateVector,
    owner: u64,
    start: u32,
    end: u32,
    deps: &Deps,
    explicit_parent: bool,
) -> Result<(), DecodeError> {
    let known = state.get(&yrs::ClientID::new(owner));
    if !(start < known && known < end) {
        return Ok(());
    }
    for (client, clock) in deps.iter().flatten() {
        if *clock >= state.get(&yrs::ClientID::new(*client)) {
            return Err(bad(format!(
                "an item of client {owner} at clock {start} overlaps the document's clock \
                 {known} but depends on {client}:{clock}, which the document lacks"
            )));
        }
    }
    if explicit_parent {
        return Err(bad(format!(
            "an item of client {owner} at clock {start} overlaps the document's clock {known} \
             and names its parent; send what the document lacks from its state vector"
        )));
    }
    Ok(())
}

/// An item's id: client and clock.
pub(crate) type Id = (u64, u32);

/// The parent an item names instead of having origins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NamedParent {
    /// A root type, by name.
    Root(String),
    /// A nested type, by the id of the item that holds it.
    Nested(Id),
}

/// What the walk keeps of one block.
pub(crate) struct Block {
    /// Its length in clock ticks as yrs gives it (0 for an item it drops as empty).
    pub(crate) len: u32,
    /// A GC or skip block rather than an item.
    pub(crate) collected: bool,
    /// A skip block: a gap in the update, not content.
    pub(crate) skip: bool,
    /// The item's left origin: the item it was inserted after.
    pub(crate) origin: Option<Id>,
    /// The item's right origin: the item it was inserted before.
    pub(crate) right_origin: Option<Id>,
    /// The parent an item without origins names.
    pub(crate) parent: Option<NamedParent>,
    /// The map key such an item is written under.
    pub(crate) parent_sub: Option<String>,
}

impl Block {
    /// The ids the item depends on: origin, right origin, parent given by id.
    fn deps(&self) -> Deps {
        let parent = match &self.parent {
            Some(NamedParent::Nested(id)) => Some(*id),
            _ => None,
        };
        [self.origin, self.right_origin, parent]
    }
}

/// One block.
fn block(cur: &mut Cursor<'_>) -> Result<Block, DecodeError> {
    let info = cur.read_u8()?;
    let mut block = Block {
        len: 0,
        collected: false,
        skip: false,
        origin: None,
        right_origin: None,
        parent: None,
        parent_sub: None,
    };
    match info {
        BLOCK_SKIP | BLOCK_GC => {
            let len: u32 = cur.read_var()?;
            if len == 0 {
                return Err(bad("empty GC or skip block"));
            }
            block.len = len;
            block.collected = true;
            block.skip = info == BLOCK_SKIP;
            Ok(block)
        }
        info => {
            if info & HAS_ORIGIN != 0 {
                block.origin = Some(id(cur)?);
            }
            if info & HAS_RIGHT_ORIGIN != 0 {
                block.right_origin = Some(id(cur)?);
            }
            // An item is inserted between its origins, so they are two different items. yrs
            // integrates one naming the same item as both differently from how it integrates
            // the same item re-encoded, so a rebuilt document or a restore would differ
            // (found by libFuzzer).
            if block.origin.is_some() && block.origin == block.right_origin {
                return Err(bad("an item's left and right origins are the same item"));
            }
            if info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) == 0 {
                let parent_info: u32 = cur.read_var()?;
                block.parent = Some(if parent_info == 1 {
                    NamedParent::Root(cur.read_string()?.to_owned())
                } else {
                    NamedParent::Nested(id(cur)?)
                });
                if info & HAS_PARENT_SUB != 0 {
                    block.parent_sub = Some(cur.read_string()?.to_owned());
                }
            }
            block.len = content(cur, info & 0b1111)?;
            Ok(block)
        }
    }
}

fn id(cur: &mut Cursor<'_>) -> Result<Id, DecodeError> {
    let client = client(cur)?;
    let clock: u32 = cur.read_var()?;
    Ok((client, clock))
}

/// An item's content; returns its length in UTF-16 code units / elements, as yrs counts it.
fn content(cur: &mut Cursor<'_>, content_ref: u8) -> Result<u32, DecodeError> {
    Ok(match content_ref {
        // Deleted
        1 => cur.read_var::<u32>()?,
        // JSON: legacy content no Yjs since v13 writes (it writes `Any`). yrs 0.28 reads one
        // string more than the count says but writes the count, so such an item does not
        // survive re-encoding: a pending one makes the next state encoding panic.
        2 => return Err(bad("legacy JSON content is not accepted")),
        // Binary
        3 => {
            cur.read_buf()?;
            1
        }
        // String
        4 => {
            let s = cur.read_string()?;
            u32::try_from(s.encode_utf16().count()).map_err(|_| bad("string too long"))?
        }
        // Embed
        5 => {
            cur.read_string()?;
            1
        }
        // Format
        6 => {
            cur.read_string()?;
            cur.read_string()?;
            1
        }
        // Type
        7 => {
            type_ref(cur)?;
            1
        }
        // Any
        8 => {
            let len: u32 = cur.read_var()?;
            for _ in 0..len {
                any(cur, 0)?;
            }
            len
        }
        // Doc: guid, then options as an Any
        9 => {
            cur.read_string()?;
            any(cur, 0)?;
            1
        }
        other => return Err(bad(format!("unknown content type {other}"))),
    })
}

fn type_ref(cur: &mut Cursor<'_>) -> Result<(), DecodeError> {
    match cur.read_u8()? {
        // XmlElement carries its tag name.
        3 => {
            cur.read_string()?;
        }
        // XmlHook: Yjs writes a hook name after it, yrs 0.28 neither reads nor writes one, so
        // the two read the same bytes differently; no editor binding uses hooks.
        5 => return Err(bad("XML hooks are not accepted")),
        // Array, Map, Text, XmlFragment, XmlText, SubDoc, Undefined.
        0 | 1 | 2 | 4 | 6 | 9 | 15 => {}
        other => return Err(bad(format!("unknown type reference {other}"))),
    }
    Ok(())
}

/// One lib0 `Any` value inside `depth` arrays/maps; a container may open at most
/// [`MAX_ANY_DEPTH`] levels deep (the outermost is level 1).
fn any(cur: &mut Cursor<'_>, depth: usize) -> Result<(), DecodeError> {
    let tag = cur.read_u8()?;
    if matches!(tag, 117 | 118) && depth >= MAX_ANY_DEPTH {
        return Err(bad(format!("values nested deeper than {MAX_ANY_DEPTH}")));
    }
    match tag {
        // undefined, null, false, true
        127 | 126 | 121 | 120 => {}
        125 => skip_var_int(cur)?,
        124 => {
            cur.read_exact(4)?;
        }
        123 | 122 => {
            cur.read_exact(8)?;
        }
        119 => {
            cur.read_string()?;
        }
        118 => {
            let len: u64 = cur.read_var()?;
            for _ in 0..len {
                cur.read_string()?;
                any(cur, depth + 1)?;
            }
        }
        117 => {
            let len: u64 = cur.read_var()?;
            for _ in 0..len {
                any(cur, depth + 1)?;
            }
        }
        116 => {
            cur.read_buf()?;
        }
        other => return Err(bad(format!("unknown value type {other}"))),
    }
    Ok(())
}
