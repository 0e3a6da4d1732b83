//! An owned snapshot of a Yjs document's roots, read once and compared or copied freely.
//!
//! [`crate::doc_json`] renders it as JSON and [`crate::restore`] compares and writes it into
//! another document, so what the JSON view shows is exactly what a restore writes. Each root's
//! kind comes from [`crate::root_kind`], since roots of a document rebuilt from bytes have no
//! declared type. Reading stops [`MAX_DEPTH`] levels below a root (a hostile document must not
//! overflow the stack).

use crate::root_kind::{RootKind, root_kind};
use std::collections::BTreeMap;
use yrs::branch::BranchPtr;
use yrs::types::Attrs;
use yrs::types::text::YChange;
use yrs::{
    Any, Array, ArrayRef, Doc, Map, MapRef, Out, ReadTxn, Text, TextRef, Xml, XmlElementRef,
    XmlFragment, XmlFragmentRef, XmlOut, XmlTextRef,
};

/// One root of a document as read by [`read_roots`].
pub(crate) struct Root {
    pub(crate) branch: BranchPtr,
    pub(crate) kind: RootKind,
    /// `None` exactly when `kind` is [`RootKind::Empty`].
    pub(crate) node: Option<Node>,
}

/// Every root of a document, by name.
pub(crate) struct Roots {
    pub(crate) roots: BTreeMap<String, Root>,
    /// Some shared type sat deeper than [`MAX_DEPTH`] and was read as `null`.
    pub(crate) truncated: bool,
}

/// How many shared types may nest inside a root before reading stops (and reads `null`).
/// Reading recurses once per level, and a document is client input: a hostile one nested
/// thousands deep would otherwise overflow the reading thread's stack. Real documents (ProseMirror
/// trees, nested maps) stay far below this. Servers refuse updates that nest deeper
/// ([`crate::nesting`]), so only documents stored before that check can be cut short here.
pub(crate) const MAX_DEPTH: usize = crate::nesting::MAX_NESTING as usize;

/// Every root of the document `txn` reads.
pub(crate) fn read_roots<T: ReadTxn>(txn: &T) -> Roots {
    let branches: Vec<(String, BranchPtr)> = txn
        .root_refs()
        .filter_map(|(name, out)| Some((name.to_owned(), branch_of(&out)?)))
        .collect();
    let mut reader = Reader {
        txn,
        depth: 0,
        truncated: false,
    };
    let roots = branches
        .into_iter()
        .map(|(name, branch)| {
            let kind = root_kind(txn, branch);
            let node = reader.branch(branch, kind);
            (name, Root { branch, kind, node })
        })
        .collect();
    Roots {
        roots,
        truncated: reader.truncated,
    }
}

/// The branch behind a shared value; `None` for plain values and subdocuments.
fn branch_of(out: &Out) -> Option<BranchPtr> {
    let branch: &yrs::branch::Branch = match out {
        Out::YText(v) => v.as_ref(),
        Out::YArray(v) => v.as_ref(),
        Out::YMap(v) => v.as_ref(),
        Out::YXmlElement(v) => v.as_ref(),
        Out::YXmlFragment(v) => v.as_ref(),
        Out::YXmlText(v) => v.as_ref(),
        Out::UndefinedRef(ptr) => return Some(*ptr),
        _ => return None,
    };
    Some(BranchPtr::from(branch))
}

/// An owned, document-independent copy of a shared value, deep enough to write it back
/// elsewhere (including formatting, XML attributes of any type and nested shared types).
/// Equality is content equality; subdocuments compare by guid.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Any(Any),
    Text(Vec<Chunk>),
    Map(BTreeMap<String, Node>),
    Array(Vec<Node>),
    XmlElement {
        tag: String,
        attrs: BTreeMap<String, Node>,
        children: Vec<Node>,
    },
    XmlFragment(Vec<Node>),
    XmlText {
        attrs: BTreeMap<String, Node>,
        chunks: Vec<Chunk>,
    },
    Doc(SubDoc),
}

/// One run of a text's delta: a string (as `Node::Any(Any::String)`), an embedded value or an
/// embedded shared type, with the formatting attributes around it (empty when unformatted).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chunk {
    pub(crate) insert: Node,
    pub(crate) marks: BTreeMap<String, Any>,
}

impl Chunk {
    /// The formatting as yrs delta attributes (`None` when unformatted).
    pub(crate) fn marks_as_attrs(&self) -> Option<Box<Attrs>> {
        if self.marks.is_empty() {
            None
        } else {
            Some(Box::new(
                self.marks
                    .iter()
                    .map(|(k, v)| (k.as_str().into(), v.clone()))
                    .collect(),
            ))
        }
    }
}

/// A subdocument reference: what its parent's update holds about it.
#[derive(Debug, Clone)]
pub(crate) struct SubDoc(pub(crate) Doc);

impl PartialEq for SubDoc {
    fn eq(&self, other: &Self) -> bool {
        self.0.guid() == other.0.guid()
    }
}

impl Node {
    /// Whether this value is a shared type (what a text delta reports as a non-`Any` insert).
    pub(crate) fn is_shared_type(&self) -> bool {
        !matches!(self, Node::Any(_) | Node::Doc(_))
    }
}

/// Reads shared types into [`Node`]s, counting nesting depth.
struct Reader<'t, T: ReadTxn> {
    txn: &'t T,
    depth: usize,
    truncated: bool,
}

impl<T: ReadTxn> Reader<'_, T> {
    /// Reads a branch of known kind; `None` for [`RootKind::Empty`].
    fn branch(&mut self, branch: BranchPtr, kind: RootKind) -> Option<Node> {
        Some(match kind {
            RootKind::Empty => return None,
            RootKind::Text => Node::Text(self.text(&TextRef::from(branch))),
            RootKind::Map => Node::Map(self.map(&MapRef::from(branch))),
            RootKind::Array => Node::Array(self.array(&ArrayRef::from(branch))),
            RootKind::XmlFragment => {
                Node::XmlFragment(self.xml_children(&XmlFragmentRef::from(branch)))
            }
        })
    }

    /// Reads any value a shared type can hold, one level deeper.
    fn out(&mut self, out: Out) -> Node {
        if let Out::Any(any) = out {
            return Node::Any(any);
        }
        if self.depth >= MAX_DEPTH {
            self.truncated = true;
            return Node::Any(Any::Null);
        }
        self.depth += 1;
        let node = match out {
            Out::YText(text) => Node::Text(self.text(&text)),
            Out::YArray(array) => Node::Array(self.array(&array)),
            Out::YMap(map) => Node::Map(self.map(&map)),
            Out::YXmlElement(element) => self.xml_element(&element),
            Out::YXmlFragment(fragment) => Node::XmlFragment(self.xml_children(&fragment)),
            Out::YXmlText(text) => self.xml_text(&text),
            Out::YDoc(doc) => Node::Doc(SubDoc(doc)),
            Out::UndefinedRef(branch) => {
                let kind = root_kind(self.txn, branch);
                self.branch(branch, kind).unwrap_or(Node::Any(Any::Null))
            }
            // `Out::Any` is handled above; weak links exist only when some crate enables yrs's
            // "weak" feature, and are references into other content, not content of their own.
            #[allow(unreachable_patterns)]
            _ => Node::Any(Any::Null),
        };
        self.depth -= 1;
        node
    }

    /// A text's delta, with adjacent strings of equal formatting joined: yrs splits a run
    /// wherever a formatting item sits, even one that no longer changes anything, and such
    /// leftovers must not make equal texts differ.
    fn text<X: Text>(&mut self, text: &X) -> Vec<Chunk> {
        let mut chunks: Vec<Chunk> = Vec::new();
        for diff in text.diff(self.txn, YChange::identity) {
            let marks: BTreeMap<String, Any> = diff
                .attributes
                .map(|attrs| {
                    attrs
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            let insert = self.out(diff.insert);
            if let (Some(last), Node::Any(Any::String(s))) = (chunks.last_mut(), &insert)
                && let Node::Any(Any::String(prev)) = &last.insert
                && last.marks == marks
            {
                last.insert = Node::Any(Any::String(format!("{prev}{s}").into()));
                continue;
            }
            chunks.push(Chunk { insert, marks });
        }
        chunks
    }

    fn map(&mut self, map: &MapRef) -> BTreeMap<String, Node> {
        let entries: Vec<(String, Out)> = map
            .iter(self.txn)
            .map(|(key, value)| (key.to_owned(), value))
            .collect();
        entries
            .into_iter()
            .map(|(key, value)| (key, self.out(value)))
            .collect()
    }

    fn array(&mut self, array: &ArrayRef) -> Vec<Node> {
        let items: Vec<Out> = array.iter(self.txn).collect();
        items.into_iter().map(|value| self.out(value)).collect()
    }

    fn attrs<X: Xml>(&mut self, xml: &X) -> BTreeMap<String, Node> {
        let attrs: Vec<(String, Out)> = xml
            .attributes(self.txn)
            .map(|(key, value)| (key.to_owned(), value))
            .collect();
        attrs
            .into_iter()
            .map(|(key, value)| (key, self.out(value)))
            .collect()
    }

    fn xml_element(&mut self, element: &XmlElementRef) -> Node {
        Node::XmlElement {
            tag: element.tag().to_string(),
            attrs: self.attrs(element),
            children: self.xml_children(element),
        }
    }

    fn xml_text(&mut self, text: &XmlTextRef) -> Node {
        Node::XmlText {
            attrs: self.attrs(text),
            chunks: self.text(text),
        }
    }

    fn xml_children<F: XmlFragment>(&mut self, parent: &F) -> Vec<Node> {
        let children: Vec<XmlOut> = parent.children(self.txn).collect();
        children
            .into_iter()
            .map(|child| self.out(child.into()))
            .collect()
    }
}
