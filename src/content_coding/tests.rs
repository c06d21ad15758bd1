use std::io::Read;

use super::*;

fn decode(coding: Coding, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        Coding::Gzip => flate2::read::GzDecoder::new(bytes).read_to_end(&mut out),
        Coding::Brotli => brotli::Decompressor::new(bytes, 4096).read_to_end(&mut out),
        Coding::Zstd => {
            zstd::stream::read::Decoder::new(bytes).and_then(|mut d| d.read_to_end(&mut out))
        }
    }
    .unwrap_or_else(|error| panic!("{coding:?} decodes: {error}"));
    out
}

/// A page-like JSON head: repetitive, as a device list is.
fn page(items: usize) -> Vec<u8> {
    let mut head = b"{\"data\":{\"devices\":{\"edges\":[".to_vec();
    for index in 0..items {
        let item = format!(
            "{{\"node\":{{\"id\":\"RGV2aWNlOj{index:05}\",\"name\":\"PC-{index}\",\"status\":\"ONLINE\"}}}},"
        );
        head.extend_from_slice(item.as_bytes());
    }
    head.extend_from_slice(b"]}},\"extensions\":{\"cache\":");
    head
}

#[test]
fn a_kept_head_ends_with_any_tail_and_decodes_to_both() {
    let head = page(50);
    let tails: [&[u8]; 3] = [b"{\"devices\":{\"ageMs\":12}}}}", b"", b"}"];
    for coding in Coding::ALL {
        let mut compressor = Compressor::new(coding, Profile::Body).expect("a compressor");
        let compressed = compressor.push(&head).expect("compresses");
        assert!(
            compressed.len() * 4 < head.len(),
            "{coding:?}: {} of {}",
            compressed.len(),
            head.len()
        );
        for tail in tails {
            let mut body = compressed.to_vec();
            body.extend(compressor.ending().close(tail));
            let mut expected = head.clone();
            expected.extend_from_slice(tail);
            assert_eq!(decode(coding, &body), expected, "{coding:?} with {tail:?}");
        }
    }
}

#[test]
fn tails_longer_than_a_stored_block_are_split() {
    let tail: Vec<u8> = (0..200_000u32)
        .map(|index| (index * 7 % 251) as u8)
        .collect();
    for coding in Coding::ALL {
        let mut compressor = Compressor::new(coding, Profile::Body).expect("a compressor");
        let mut body = compressor.push(b"{\"data\":").expect("compresses").to_vec();
        body.extend(compressor.ending().close(&tail));
        let mut expected = b"{\"data\":".to_vec();
        expected.extend_from_slice(&tail);
        assert_eq!(decode(coding, &body), expected, "{coding:?}");
    }
}

#[test]
fn a_stream_decodes_after_every_push_and_at_its_end() {
    for coding in Coding::ALL {
        let mut compressor = Compressor::new(coding, Profile::Stream).expect("a compressor");
        let mut sent = Vec::new();
        let mut expected = Vec::new();
        for event in 0..20 {
            let text =
                format!("event: next\ndata: {{\"id\":{event},\"payload\":{{\"data\":{{}}}}}}\n\n");
            sent.extend_from_slice(&compressor.push(text.as_bytes()).expect("compresses"));
            expected.extend_from_slice(text.as_bytes());
            // What was sent so far is a whole prefix: a reader sees every
            // event without waiting for the next.
            let mut ended = sent.clone();
            ended.extend(compressor.ending().close(b""));
            assert_eq!(decode(coding, &ended), expected, "{coding:?} after {event}");
        }
    }
}
