//! A stack-safe first reading of a Yjs v1 update, before yrs decodes or integrates it.
//!
//! yrs decodes and integrates updates with recursion that a hostile update controls:
//! `Any::decode` recurses once per nested array/object (a 20 kB update of arrays nested 10,000
//! deep overflows the stack and aborts the whole process), and integration recurses once per
//! consecutive client section without structs. Neither can be caught (a stack overflow is an
//! abort, not a panic), so every update a peer sends is walked here first, iteratively:
//!
//! - plain values (`Any`) may nest at most [`MAX_ANY_DEPTH`] arrays/objects deep, as many as
//!   serde_json (and so yrs's own JSON content) accepts;
//! - every client section must hold at least one struct (Yjs and yrs never write an empty one);
//! - no length prefix may promise more items than the bytes left could hold, so yrs's
//!   `try_reserve` calls cannot be made to reserve gigabytes for a few bytes of input.
//!
//! The walk consumes exactly what yrs's `Update::decode_v1` consumes (same field order, same
//! quirks), so an update accepted here is read by yrs the same way. [`UpdateShape`] is what the
//! walk learned about the structs that create shared types, which [`crate::nesting`] needs to
//! bound how deep shared types nest in a document.

use std::collections::HashMap;
use yrs::encoding::read::{Cursor, Read};

/// Deepest nesting of arrays and objects inside one plain value (the outermost container is
/// level 1), the same bound serde_json puts on JSON.
pub const MAX_ANY_DEPTH: usize = 128;

/// Why an update was refused before yrs read it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("the update is truncated or malformed: {0}")]
    Malformed(&'static str),
    #[error("a value in the update nests arrays and objects deeper than {MAX_ANY_DEPTH} levels")]
    TooDeep,
    #[error("the update has a client section without any struct")]
    EmptyClient,
}

/// Where an item of an update lives, as its encoding says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParentRef {
    /// A root type, by name.
    Root,
    /// The shared type created by the item with this id.
    Type(u64, u32),
    /// The same parent as its neighbours: the item at `origin` (left) and `right` (either may be
    /// absent), as yrs infers it.
    Inherit {
        origin: Option<(u64, u32)>,
        right: Option<(u64, u32)>,
    },
    /// No parent: garbage-collected content.
    None,
}

/// One struct of an update: its id range, parent, and whether it creates a shared type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeItem {
    pub client: u64,
    pub clock: u32,
    pub len: u32,
    pub parent: ParentRef,
    pub creates_type: bool,
}

/// What [`read_update_shape`] learned: every struct of the update (GC structs as
/// [`ParentRef::None`]; skipped ranges are left out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateShape {
    pub items: Vec<ShapeItem>,
}

impl UpdateShape {
    /// Whether any struct creates a shared type (only those can make a document nest deeper).
    pub fn creates_types(&self) -> bool {
        self.items.iter().any(|i| i.creates_type)
    }
}

/// Checks `bytes` as a v1 update without keeping anything; returns how many structs create
/// shared types.
pub fn check_update_shape(bytes: &[u8]) -> Result<usize, ShapeError> {
    let mut types = 0;
    walk(bytes, |item| types += usize::from(item.creates_type))?;
    Ok(types)
}

/// Checks `bytes` as a v1 update and returns its structs.
pub fn read_update_shape(bytes: &[u8]) -> Result<UpdateShape, ShapeError> {
    let mut items = Vec::new();
    walk(bytes, |item| items.push(item))?;
    Ok(UpdateShape { items })
}

/// The structs of `bytes` when some create shared types (what [`crate::nesting`] must measure),
/// `None` when none does; one walk for the common case of plain edits.
pub fn read_type_shape(bytes: &[u8]) -> Result<Option<UpdateShape>, ShapeError> {
    if check_update_shape(bytes)? == 0 {
        return Ok(None);
    }
    read_update_shape(bytes).map(Some)
}

// Struct info byte, as yrs and Yjs encode it.
const BLOCK_GC: u8 = 0;
const BLOCK_SKIP: u8 = 10;
const HAS_ORIGIN: u8 = 0b1000_0000;
const HAS_RIGHT_ORIGIN: u8 = 0b0100_0000;
const HAS_PARENT_SUB: u8 = 0b0010_0000;
// Content kinds (the low four bits of the info byte).
const CONTENT_DELETED: u8 = 1;
const CONTENT_JSON: u8 = 2;
const CONTENT_BINARY: u8 = 3;
const CONTENT_STRING: u8 = 4;
const CONTENT_EMBED: u8 = 5;
const CONTENT_FORMAT: u8 = 6;
const CONTENT_TYPE: u8 = 7;
const CONTENT_ANY: u8 = 8;
const CONTENT_DOC: u8 = 9;
// Shared type kinds that carry a name, and every kind yrs reads (without its "weak" feature).
const TYPE_XML_ELEMENT: u8 = 3;
const TYPE_XML_HOOK: u8 = 5;
const KNOWN_TYPES: [u8; 9] = [0, 1, 2, 3, 4, 5, 6, 9, 15];

fn malformed(_: yrs::encoding::read::Error) -> ShapeError {
    ShapeError::Malformed("a field runs past the end")
}

/// A cursor whose lengths are checked without overflow (yrs adds them unchecked).
struct Input<'a> {
    cursor: Cursor<'a>,
}

impl<'a> Input<'a> {
    fn left(&self) -> usize {
        self.cursor.buf.len().saturating_sub(self.cursor.next)
    }

    fn u8(&mut self) -> Result<u8, ShapeError> {
        self.cursor.read_u8().map_err(malformed)
    }

    fn var_u32(&mut self) -> Result<u32, ShapeError> {
        self.cursor.read_var::<u32>().map_err(malformed)
    }

    fn var_u64(&mut self) -> Result<u64, ShapeError> {
        self.cursor.read_var::<u64>().map_err(malformed)
    }

    fn skip(&mut self, len: u64) -> Result<(), ShapeError> {
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= self.left())
            .ok_or(ShapeError::Malformed("a length runs past the end"))?;
        self.cursor.next += len;
        Ok(())
    }

    fn buf(&mut self) -> Result<&'a [u8], ShapeError> {
        let len = self.var_u64()?;
        let start = self.cursor.next;
        self.skip(len)?;
        Ok(&self.cursor.buf[start..self.cursor.next])
    }

    fn string(&mut self) -> Result<&'a str, ShapeError> {
        std::str::from_utf8(self.buf()?).map_err(|_| ShapeError::Malformed("a string is not UTF-8"))
    }

    /// A count of things each at least `min_bytes` long, refused when the rest cannot hold it.
    fn count(&mut self, min_bytes: u64) -> Result<u64, ShapeError> {
        let n = self.var_u64()?;
        if n.saturating_mul(min_bytes) > self.left() as u64 {
            return Err(ShapeError::Malformed(
                "a count promises more than the bytes left",
            ));
        }
        Ok(n)
    }

    fn id(&mut self) -> Result<(u64, u32), ShapeError> {
        Ok((self.var_u64()?, self.var_u32()?))
    }
}

fn walk(bytes: &[u8], mut each: impl FnMut(ShapeItem)) -> Result<(), ShapeError> {
    let mut input = Input {
        cursor: Cursor::new(bytes),
    };
    // Structs per client, over every section (yrs merges sections of one client).
    let mut structs: HashMap<u64, u64> = HashMap::new();
    let sections = input.count(3)?;
    for _ in 0..sections {
        let count = input.count(1)?;
        let client = input.var_u64()?;
        let mut clock = input.var_u32()?;
        let kept = structs.entry(client).or_insert(0);
        for _ in 0..count {
            let Some(read) = read_struct(&mut input, client, clock)? else {
                continue;
            };
            clock = clock
                .checked_add(read.len)
                .ok_or(ShapeError::Malformed("a clock overflows"))?;
            *kept += 1;
            if let Some(item) = read.item {
                each(item);
            }
        }
    }
    if structs.values().any(|&n| n == 0) {
        return Err(ShapeError::EmptyClient);
    }
    Ok(())
}

/// What one struct occupies: its length in clock ticks, and the item when it is content or
/// garbage (a skipped range has none).
struct Struct {
    len: u32,
    item: Option<ShapeItem>,
}

/// One struct; `None` for what yrs drops (an item with empty content).
fn read_struct(
    input: &mut Input<'_>,
    client: u64,
    clock: u32,
) -> Result<Option<Struct>, ShapeError> {
    let info = input.u8()?;
    let item = |len, parent, creates_type| ShapeItem {
        client,
        clock,
        len,
        parent,
        creates_type,
    };
    if info == BLOCK_SKIP || info == BLOCK_GC {
        let len = input.var_u32()?;
        if len == 0 {
            return Err(ShapeError::Malformed("a struct has length 0"));
        }
        let gc = (info == BLOCK_GC).then(|| item(len, ParentRef::None, false));
        return Ok(Some(Struct { len, item: gc }));
    }
    let origin = if info & HAS_ORIGIN != 0 {
        Some(input.id()?)
    } else {
        None
    };
    let right = if info & HAS_RIGHT_ORIGIN != 0 {
        Some(input.id()?)
    } else {
        None
    };
    let explicit_parent = info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) == 0;
    let parent = if explicit_parent {
        if input.var_u32()? == 1 {
            input.string()?;
            ParentRef::Root
        } else {
            let (c, k) = input.id()?;
            ParentRef::Type(c, k)
        }
    } else {
        ParentRef::Inherit { origin, right }
    };
    if explicit_parent && info & HAS_PARENT_SUB != 0 {
        input.string()?;
    }
    let (len, creates_type) = read_content(input, info)?;
    Ok((len > 0).then(|| Struct {
        len,
        item: Some(item(len, parent, creates_type)),
    }))
}

/// Reads an item's content; returns its length in clock ticks (as yrs counts it: UTF-16 code
/// units for strings, values for arrays) and whether it is a shared type.
fn read_content(input: &mut Input<'_>, info: u8) -> Result<(u32, bool), ShapeError> {
    let one = |n: u64| u32::try_from(n).map_err(|_| ShapeError::Malformed("a length overflows"));
    Ok(match info & 0b1111 {
        CONTENT_DELETED => (input.var_u32()?, false),
        CONTENT_JSON => {
            // yrs reads one string more than the count says (`while remaining >= 0`).
            let count = input.count(1)?;
            for _ in 0..=count {
                input.string()?;
            }
            (one(count + 1)?, false)
        }
        CONTENT_BINARY => {
            input.buf()?;
            (1, false)
        }
        CONTENT_STRING => {
            let s = input.string()?;
            (one(s.encode_utf16().count() as u64)?, false)
        }
        CONTENT_EMBED => {
            input.string()?;
            (1, false)
        }
        CONTENT_FORMAT => {
            input.string()?;
            input.string()?;
            (1, false)
        }
        CONTENT_TYPE => {
            let kind = input.u8()?;
            if kind == TYPE_XML_HOOK {
                // Yjs writes a hook name, yrs reads none: refused, as `update_scan` does.
                return Err(ShapeError::Malformed("XML hooks are not accepted"));
            }
            if kind == TYPE_XML_ELEMENT {
                input.string()?;
            }
            if !KNOWN_TYPES.contains(&kind) {
                return Err(ShapeError::Malformed("unknown shared type kind"));
            }
            (1, true)
        }
        CONTENT_ANY => {
            let count = input.count(1)?;
            for _ in 0..count {
                skip_any(input)?;
            }
            (one(count)?, false)
        }
        CONTENT_DOC => {
            input.string()?;
            skip_any(input)?;
            (1, false)
        }
        _ => return Err(ShapeError::Malformed("unknown content kind")),
    })
}

/// Skips one lib0 `Any` value without recursion, refusing containers nested deeper than
/// [`MAX_ANY_DEPTH`].
fn skip_any(input: &mut Input<'_>) -> Result<(), ShapeError> {
    // Per open container: values still to read, and whether each is preceded by a key.
    let mut open: Vec<(u64, bool)> = Vec::new();
    loop {
        if let Some((left, is_map)) = open.last_mut() {
            if *left == 0 {
                open.pop();
                if open.is_empty() {
                    return Ok(());
                }
                continue;
            }
            *left -= 1;
            if *is_map {
                input.string()?;
            }
        }
        match input.u8()? {
            127 | 126 | 121 | 120 => {}
            125 => crate::update_scan::skip_var_int(&mut input.cursor).map_err(|_| {
                ShapeError::Malformed("an integer is too long or runs past the end")
            })?,
            124 => input.skip(4)?,
            123 | 122 => input.skip(8)?,
            119 => {
                input.string()?;
            }
            116 => {
                input.buf()?;
            }
            tag @ (117 | 118) => {
                let is_map = tag == 118;
                let count = input.count(if is_map { 2 } else { 1 })?;
                if open.len() >= MAX_ANY_DEPTH {
                    return Err(ShapeError::TooDeep);
                }
                open.push((count, is_map));
                continue;
            }
            _ => return Err(ShapeError::Malformed("unknown value tag")),
        }
        if open.is_empty() {
            return Ok(());
        }
    }
}
