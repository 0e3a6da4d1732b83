//! Target `hocuspocus_frame`: a frame in the Hocuspocus framing (document-name-prefixed
//! messages), as the load tester's codec reads what a Hocuspocus server sends. A thin call, so
//! the target follows the codec wherever it lives.

use weft_loadtest::wire::Framing;
use weft_loadtest::wire::hocuspocus::Hocuspocus;

pub fn hocuspocus_frame(data: &[u8]) {
    // Any result is fine; a panic is not.
    let _ = Hocuspocus.decode("doc", data);
    let _ = Hocuspocus.decode("", data);
}
