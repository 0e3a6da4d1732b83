//! The chat socket at `/chat`: clients on different nodes, recovery on reconnect, idempotent
//! sends, access control, typing and presence across nodes, both encodings, hostile frames.

mod access;
mod hostile;
mod messaging;
mod presence;
mod recovery;
mod support;
mod typing;
