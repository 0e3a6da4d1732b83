//! Reading an incoming frame that may carry several messages.
//!
//! Clients are allowed to pack several y-websocket messages into one frame (yrs peers do), so
//! the server reads until the frame is exhausted. Any malformed or truncated message ends the
//! iteration with an error; what was read before it stays valid.

use crate::message::{DecodeError, Message, decoder};
use yrs::updates::decoder::DecoderV1;

/// Iterates over the messages of one incoming frame.
pub struct FrameReader<'a> {
    decoder: DecoderV1<'a>,
    failed: bool,
}

impl std::fmt::Debug for FrameReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReader")
            .field("failed", &self.failed)
            .finish()
    }
}

impl<'a> FrameReader<'a> {
    pub fn new(frame: &'a [u8]) -> Self {
        FrameReader {
            decoder: decoder(frame),
            failed: false,
        }
    }
}

impl Iterator for FrameReader<'_> {
    type Item = Result<Message, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        use yrs::updates::decoder::Decoder;
        // `read_to_end` only peeks at what is left; it does not advance the decoder.
        let exhausted = self
            .decoder
            .read_to_end()
            .map_or(true, |rest| rest.is_empty());
        if self.failed || exhausted {
            return None;
        }
        let result = Message::read(&mut self.decoder);
        self.failed = result.is_err();
        Some(result)
    }
}

/// Decodes every message of `frame`, failing on the first malformed one.
pub fn decode_frame(frame: &[u8]) -> Result<Vec<Message>, DecodeError> {
    if frame.is_empty() {
        return Err(DecodeError::Empty);
    }
    FrameReader::new(frame).collect()
}
