//! Ending an open compressed stream with bytes that are not compressed: a
//! few bytes of framing per answer instead of compression work. Each
//! format allows it at a block boundary, which is where a
//! [`super::Compressor`] leaves its stream after every push.

use super::Coding;

/// What closes a stream that holds `length` bytes so far: stored blocks
/// for the tail and the format's end (gzip's CRC-32 and size, brotli's
/// last empty meta-block, zstd's last block).
#[derive(Clone)]
pub struct Ending {
    coding: Coding,
    /// gzip's running CRC-32 of the uncompressed bytes (unused otherwise).
    crc: crc32fast::Hasher,
    length: u64,
}

/// Deflate's stored blocks hold at most 65,535 bytes; brotli's meta-blocks
/// with 4 nibbles of length at most 65,536; zstd's blocks at most the
/// window, which is at least 64 KiB here (and 128 KiB at most).
const STORED_BLOCK: usize = 65_535;
const ZSTD_RAW_BLOCK: usize = 32 * 1024;

impl Ending {
    pub(super) fn new(coding: Coding) -> Self {
        Self {
            coding,
            crc: crc32fast::Hasher::new(),
            length: 0,
        }
    }

    /// Counts bytes the stream compressed.
    pub(super) fn extend(&mut self, input: &[u8]) {
        if self.coding == Coding::Gzip {
            self.crc.update(input);
        }
        self.length += input.len() as u64;
    }

    /// Bytes of this ending, kept beside the compressed prefix.
    pub fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
    }

    /// The bytes that end the stream with `tail` appended uncompressed.
    pub fn close(&self, tail: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(tail.len() + 16);
        match self.coding {
            Coding::Gzip => self.close_gzip(tail, &mut out),
            Coding::Brotli => close_brotli(tail, &mut out),
            Coding::Zstd => close_zstd(tail, &mut out),
        }
        out
    }

    fn close_gzip(&self, tail: &[u8], out: &mut Vec<u8>) {
        let mut chunks = tail.chunks(STORED_BLOCK).peekable();
        if chunks.peek().is_none() {
            // An empty final stored block: BFINAL, LEN 0, NLEN !0.
            out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
        }
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            // BFINAL and BTYPE 00 in the first 3 bits; the rest of the
            // byte is padding, as the stream is byte-aligned.
            out.push(u8::from(last));
            let length = chunk.len() as u16;
            out.extend_from_slice(&length.to_le_bytes());
            out.extend_from_slice(&(!length).to_le_bytes());
            out.extend_from_slice(chunk);
        }
        let mut crc = self.crc.clone();
        crc.update(tail);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        // ISIZE: the length modulo 2^32, by definition.
        let size = (self.length + tail.len() as u64) as u32;
        out.extend_from_slice(&size.to_le_bytes());
    }
}

fn close_brotli(tail: &[u8], out: &mut Vec<u8>) {
    for chunk in tail.chunks(STORED_BLOCK + 1) {
        // ISLAST 0, MNIBBLES 0 (4 nibbles), MLEN - 1 in 16 bits,
        // ISUNCOMPRESSED 1, then padding to the byte: 24 bits, LSB first.
        let header = ((chunk.len() as u32 - 1) << 3) | (1 << 19);
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.extend_from_slice(chunk);
    }
    // ISLAST 1, ISLASTEMPTY 1.
    out.push(0b11);
}

fn close_zstd(tail: &[u8], out: &mut Vec<u8>) {
    let mut chunks = tail.chunks(ZSTD_RAW_BLOCK).peekable();
    if chunks.peek().is_none() {
        // An empty last raw block, as zstd itself ends a flushed frame.
        out.extend_from_slice(&[1, 0, 0]);
    }
    while let Some(chunk) = chunks.next() {
        let last = u32::from(chunks.peek().is_none());
        // Last_Block, Block_Type 0 (raw), Block_Size: 24 bits, LSB first.
        let header = ((chunk.len() as u32) << 3) | last;
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.extend_from_slice(chunk);
    }
}
