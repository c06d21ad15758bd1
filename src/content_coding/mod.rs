//! Content codings (RFC 9110 §8.4.1): brotli, zstd and gzip, written so
//! that a prefix compressed once can end many answers. A [`Compressor`]
//! leaves its stream open at a block boundary after every push; an
//! [`Ending`] then closes a copy of that stream with raw bytes appended as
//! stored blocks (gzip), uncompressed meta-blocks (brotli) or raw blocks
//! (zstd), and the trailer the format needs. The response cache keeps a
//! body's `data` compressed this way and ends it with each answer's own
//! snapshot ages: a compressed hit costs no compression work. Streams
//! (event streams) push one event at a time. Which coding a request
//! prefers is [`negotiate`]d here too, from its `Accept-Encoding` text.

mod ending;
mod negotiation;

use std::io::Write;

use bytes::Bytes;

pub use ending::Ending;
pub use negotiation::{negotiate, qvalue};

/// A content coding the gateway can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// `br` (RFC 7932).
    Brotli,
    /// `zstd` (RFC 8878).
    Zstd,
    /// `gzip` (RFC 1952).
    Gzip,
}

impl Coding {
    /// Every coding, in the gateway's own order of preference: the one
    /// used where a client rates several alike.
    pub const ALL: [Coding; 3] = [Coding::Brotli, Coding::Zstd, Coding::Gzip];

    /// The token that names it in `Accept-Encoding` and `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }

    /// Its place in [`Coding::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// How much a compressor keeps: a body compressed at once may use a
/// larger window than a stream that stays open for hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// A whole answer, compressed when it is sent or kept.
    Body,
    /// An event stream's compressor, alive as long as the stream.
    Stream,
}

/// Fast levels: an answer compressed on a miss is on the request's path.
const GZIP_LEVEL: u32 = 1;
/// Brotli's quality 3 compresses pages and events within 1 % of quality
/// 4's bytes for four fifths of its work: a filtered page's miss cost
/// 2.34M instructions in `br` at quality 4 and 1.86M at 3, against 350k
/// sent as it is, most of it the encoder clearing and searching its
/// match table. A stream's compressor at quality 3 holds 411 KiB, at 4
/// 715 KiB (`tests/stream_memory.rs`).
const BROTLI_QUALITY: u32 = 3;
const ZSTD_LEVEL: i32 = 1;
/// Window sizes (log2 bytes). A stream keeps its window for its life;
/// 64 KiB holds several events, which is where repetition is.
const BROTLI_BODY_WINDOW: u32 = 20;
const STREAM_WINDOW: u32 = 16;

/// Compresses pushed bytes, each push ending on a block boundary so that
/// its output can be sent (or kept) at once and the stream can still be
/// ended, by [`Compressor::ending`], with any tail.
pub struct Compressor {
    encoder: Encoder,
    /// What the stream holds so far, for gzip's trailer and the endings.
    ending: Ending,
}

enum Encoder {
    Gzip(flate2::write::DeflateEncoder<Vec<u8>>),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

/// A gzip member's header: deflate, no flags, no time, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

impl Compressor {
    /// A compressor for `coding`; an error only if its codec cannot
    /// allocate its state.
    pub fn new(coding: Coding, profile: Profile) -> std::io::Result<Self> {
        let encoder = match coding {
            Coding::Gzip => {
                let mut out = Vec::new();
                out.extend_from_slice(&GZIP_HEADER);
                let level = flate2::Compression::new(GZIP_LEVEL);
                Encoder::Gzip(flate2::write::DeflateEncoder::new(out, level))
            }
            Coding::Brotli => {
                let window = match profile {
                    Profile::Body => BROTLI_BODY_WINDOW,
                    Profile::Stream => STREAM_WINDOW,
                };
                let writer =
                    brotli::CompressorWriter::new(Vec::new(), 4096, BROTLI_QUALITY, window);
                Encoder::Brotli(Box::new(writer))
            }
            Coding::Zstd => {
                let mut writer = zstd::stream::write::Encoder::new(Vec::new(), ZSTD_LEVEL)?;
                // The endings append raw blocks to the frame: no checksum
                // and no size announced beforehand.
                writer.include_checksum(false)?;
                writer.include_contentsize(false)?;
                if profile == Profile::Stream {
                    writer.window_log(STREAM_WINDOW)?;
                }
                Encoder::Zstd(writer)
            }
        };
        Ok(Self {
            encoder,
            ending: Ending::new(coding),
        })
    }

    /// Compresses `input` and returns the stream's bytes since the last
    /// push, ending on a block boundary.
    pub fn push(&mut self, input: &[u8]) -> std::io::Result<Bytes> {
        self.ending.extend(input);
        let out = match &mut self.encoder {
            Encoder::Gzip(writer) => write_flushed(writer, input).map(|()| writer.get_mut())?,
            Encoder::Brotli(writer) => write_flushed(writer, input).map(|()| writer.get_mut())?,
            Encoder::Zstd(writer) => write_flushed(writer, input).map(|()| writer.get_mut())?,
        };
        Ok(Bytes::from(std::mem::take(out)))
    }

    /// What ends the stream as it stands.
    pub fn ending(&self) -> &Ending {
        &self.ending
    }

    /// `body` compressed whole, ended.
    pub fn whole(coding: Coding, body: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut compressor = Compressor::new(coding, Profile::Body)?;
        let mut whole = compressor.push(body)?.to_vec();
        whole.extend(compressor.ending.close(b""));
        Ok(whole)
    }
}

fn write_flushed(writer: &mut impl Write, input: &[u8]) -> std::io::Result<()> {
    writer.write_all(input)?;
    // A sync flush (deflate), BROTLI_OPERATION_FLUSH, ZSTD_e_flush: each
    // ends the output on a byte and block boundary, the stream still open.
    writer.flush()
}

#[cfg(test)]
mod tests;
