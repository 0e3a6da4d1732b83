//! The chat socket at `/chat`: clients on different nodes, recovery on reconnect, idempotent
//! sends, access control, typing and presence across nodes, both encodings, hostile frames.

mod access;
mod bus_loss;
mod hostile;
mod limits;
mod messaging;
mod one_process;
mod presence;
mod recovery;
mod support;
mod typing;
