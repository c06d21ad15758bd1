//! Content negotiation of `/graphql` answers: which media type a request's
//! `Accept` prefers among what the gateway speaks (RFC 9110 §12.5.1).

use axum::http::{HeaderMap, header};

use super::media::MediaType;
use crate::content_coding::qvalue;

/// What a `/graphql` request's `Accept` prefers among what it may be
/// answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Preferred {
    /// One JSON response in this media type.
    Response(MediaType),
    /// A GraphQL over Server-Sent Events stream.
    EventStream,
}

/// What `/graphql` can answer with, in the order a tie between equally
/// wanted types is settled: a wildcard gets the legacy JSON type, which
/// every client reads, and never an event stream (named explicitly only).
const OFFERS: [(Preferred, &str); 3] = [
    (Preferred::Response(MediaType::Json), "application/json"),
    (
        Preferred::Response(MediaType::GraphqlResponse),
        "application/graphql-response+json",
    ),
    (Preferred::EventStream, "text/event-stream"),
];

impl Preferred {
    /// Content negotiation as RFC 9110 §12.5.1 has it: each offered type
    /// takes the quality of the most specific range that matches it; the
    /// highest quality above zero wins, then the range listed first, then
    /// [`OFFERS`]' order. No `Accept` (or an empty one) means
    /// `application/json`, as GraphQL over HTTP asks for legacy clients.
    /// `None`: nothing offered is acceptable (406). Allocation-free: this
    /// runs on every request, the raw lane's hits included.
    pub(super) fn negotiate(headers: &HeaderMap) -> Option<Self> {
        Self::best(headers, &OFFERS)
    }

    /// The JSON type the client prefers, leaving event streams aside.
    pub(super) fn json_only(headers: &HeaderMap) -> Option<MediaType> {
        match Self::best(headers, &OFFERS[..2])? {
            Preferred::Response(media) => Some(media),
            Preferred::EventStream => None,
        }
    }

    fn best(headers: &HeaderMap, offers: &[(Preferred, &str)]) -> Option<Self> {
        let mut values = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .peekable();
        if values.peek().is_none_or(|value| value.trim().is_empty()) {
            return Some(Preferred::Response(MediaType::Json));
        }
        let ranges = || {
            super::header_list(headers, header::ACCEPT)
                .filter_map(MediaRange::parse)
                .enumerate()
        };
        let mut chosen: Option<(Preferred, u16, usize)> = None;
        for (offer, name) in offers {
            // The most specific matching range decides the offer's quality.
            let matched = ranges()
                .filter_map(|(position, range)| {
                    let specificity = range.matches(name, *offer == Preferred::EventStream)?;
                    Some((specificity, range.quality, position))
                })
                .max_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)));
            let Some((_, quality, position)) = matched else {
                continue;
            };
            let better = chosen.is_none_or(|(_, best_quality, best_position)| {
                quality > best_quality || (quality == best_quality && position < best_position)
            });
            if quality > 0 && better {
                chosen = Some((*offer, quality, position));
            }
        }
        chosen.map(|(offer, _, _)| offer)
    }
}

/// One entry of `Accept`: a media range and its quality in thousandths.
struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
    quality: u16,
}

impl<'a> MediaRange<'a> {
    /// `None` for an entry that is not a media range or whose `q` is not a
    /// valid quality value (such an entry is ignored, not trusted).
    fn parse(entry: &'a str) -> Option<Self> {
        let mut parts = entry.split(';');
        let (kind, subtype) = parts.next()?.trim().split_once('/')?;
        let mut quality = 1000;
        for parameter in parts {
            let Some((name, value)) = parameter.split_once('=') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("q") {
                quality = qvalue(value.trim())?;
            }
        }
        Some(Self {
            kind: kind.trim(),
            subtype: subtype.trim(),
            quality,
        })
    }

    /// How specifically this range names `media` (3 exactly, 2 by
    /// `type/*`, 1 by `*/*`), or `None`. `exact_only`: wildcards do not
    /// count.
    fn matches(&self, media: &str, exact_only: bool) -> Option<u8> {
        let (kind, subtype) = media.split_once('/')?;
        let same_kind = self.kind.eq_ignore_ascii_case(kind);
        if same_kind && self.subtype.eq_ignore_ascii_case(subtype) {
            Some(3)
        } else if exact_only {
            None
        } else if same_kind && self.subtype == "*" {
            Some(2)
        } else if self.kind == "*" && self.subtype == "*" {
            Some(1)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn negotiated(accept: &[&str]) -> Option<Preferred> {
        let mut headers = HeaderMap::new();
        for value in accept {
            headers.append(header::ACCEPT, HeaderValue::from_str(value).expect("ASCII"));
        }
        Preferred::negotiate(&headers)
    }

    const GRAPHQL: Option<Preferred> = Some(Preferred::Response(MediaType::GraphqlResponse));
    const JSON: Option<Preferred> = Some(Preferred::Response(MediaType::Json));
    const STREAM: Option<Preferred> = Some(Preferred::EventStream);

    #[test]
    fn urqls_default_accept_gets_json_not_an_event_stream() {
        let urql = "application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed";
        assert_eq!(negotiated(&[urql]), GRAPHQL);
    }

    #[test]
    fn quality_decides_before_order() {
        assert_eq!(
            negotiated(&["text/event-stream;q=0.5, application/json"]),
            JSON
        );
        assert_eq!(
            negotiated(&["application/json;q=0.9, text/event-stream"]),
            STREAM
        );
        assert_eq!(
            negotiated(&["application/json;q=0.9, application/graphql-response+json"]),
            GRAPHQL
        );
        assert_eq!(negotiated(&["text/event-stream;q=0"]), None);
        assert_eq!(negotiated(&["text/event-stream;q=0, */*"]), JSON);
    }

    #[test]
    fn order_settles_equal_qualities() {
        assert_eq!(
            negotiated(&["application/json, application/graphql-response+json"]),
            JSON
        );
        assert_eq!(
            negotiated(&["application/graphql-response+json, application/json"]),
            GRAPHQL
        );
        assert_eq!(
            negotiated(&["text/event-stream", "application/json"]),
            STREAM
        );
    }

    #[test]
    fn the_most_specific_range_gives_the_quality() {
        assert_eq!(
            negotiated(&["application/*;q=0.1, application/graphql-response+json;q=0"]),
            JSON
        );
        assert_eq!(negotiated(&["application/json;q=0, */*"]), GRAPHQL);
        assert_eq!(negotiated(&["*/*"]), JSON, "a wildcard gets legacy JSON");
        assert_eq!(negotiated(&["text/*"]), None, "never a stream by wildcard");
    }

    #[test]
    fn no_accept_is_legacy_json_and_malformed_entries_are_ignored() {
        assert_eq!(negotiated(&[]), JSON);
        assert_eq!(negotiated(&[""]), JSON);
        assert_eq!(negotiated(&["text/html"]), None);
        assert_eq!(
            negotiated(&["application/json;q=2, text/event-stream"]),
            STREAM
        );
        assert_eq!(negotiated(&["garbage, APPLICATION/JSON ; Q=0.5"]), JSON);
    }

    #[test]
    fn a_client_preferring_a_stream_still_gets_a_json_type_for_one_answer() {
        let mut headers = HeaderMap::new();
        let accept = "text/event-stream, application/graphql-response+json;q=0.5";
        headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
        assert_eq!(
            MediaType::negotiate(&headers),
            Some(MediaType::GraphqlResponse)
        );
    }

    #[test]
    fn quality_values_follow_rfc_9110() {
        assert_eq!(qvalue("1"), Some(1000));
        assert_eq!(qvalue("1.000"), Some(1000));
        assert_eq!(qvalue("0.5"), Some(500));
        assert_eq!(qvalue("0.125"), Some(125));
        assert_eq!(qvalue("0."), Some(0));
        assert_eq!(qvalue("1.5"), None);
        assert_eq!(qvalue("0.1234"), None);
        assert_eq!(qvalue("-1"), None);
        assert_eq!(qvalue(""), None);
    }
}
