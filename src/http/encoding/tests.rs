use super::*;

fn negotiated(accept_encoding: &[&str]) -> Negotiated {
    let mut headers = HeaderMap::new();
    for value in accept_encoding {
        headers.append(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).expect("a value"),
        );
    }
    let server = ServerSettings::default();
    Compression::new(&server).negotiate(&headers)
}

fn chosen(accept_encoding: &str) -> Option<&'static str> {
    let negotiated = negotiated(&[accept_encoding]);
    negotiated.coding.map(Coding::token)
}

#[test]
fn the_highest_weight_wins_then_the_clients_order() {
    assert_eq!(chosen("br, gzip"), Some("br"));
    assert_eq!(chosen("gzip, br"), Some("gzip"));
    assert_eq!(chosen("gzip;q=0.8, br;q=0.9"), Some("br"));
    assert_eq!(chosen("gzip;q=1.0, zstd;q=0.999"), Some("gzip"));
    assert_eq!(chosen("zstd, deflate, gzip"), Some("zstd"));
    assert_eq!(chosen("GZIP"), Some("gzip"));
    assert_eq!(chosen("x-gzip"), Some("gzip"));
    assert_eq!(chosen(" br ; q=0.5 , gzip ; Q=0.4"), Some("br"));
    // What browsers send.
    assert_eq!(chosen("gzip, deflate, br, zstd"), Some("gzip"));
}

#[test]
fn a_star_rates_every_coding_not_named_in_the_gateways_order() {
    assert_eq!(chosen("*"), Some("br"));
    assert_eq!(chosen("br;q=0, *"), Some("zstd"));
    assert_eq!(chosen("gzip;q=0.5, *;q=0.6"), Some("br"));
    assert_eq!(chosen("gzip, *"), Some("gzip"));
}

#[test]
fn identity_is_acceptable_unless_refused_and_wins_where_preferred() {
    assert_eq!(chosen("identity"), None);
    assert_eq!(chosen("identity, gzip"), None);
    assert_eq!(chosen("gzip;q=0.5, identity"), None);
    assert_eq!(chosen("gzip;q=0"), None);
    assert_eq!(chosen("deflate"), None);
    assert_eq!(chosen(""), None);
    assert!(!negotiated(&["gzip;q=0"]).refuses_all());
    assert!(negotiated(&["identity;q=0"]).refuses_all());
    assert!(negotiated(&["*;q=0"]).refuses_all());
    assert!(negotiated(&["deflate, *;q=0"]).refuses_all());
    assert!(!negotiated(&["identity;q=0.1, *;q=0"]).refuses_all());
    let refused = negotiated(&["identity;q=0, gzip"]);
    assert_eq!(
        (refused.coding, refused.refuses_all()),
        (Some(Coding::Gzip), false)
    );
}

#[test]
fn malformed_weights_drop_their_member_only() {
    assert_eq!(chosen("br;q=2, gzip"), Some("gzip"));
    assert_eq!(chosen("br;q=0.1234, gzip;q=0.1"), Some("gzip"));
    assert_eq!(chosen("br;q=abc, zstd;level=3, gzip;q=0.2"), Some("gzip"));
    assert_eq!(chosen("br;q=1.001, gzip;q=0.2"), Some("gzip"));
    assert_eq!(chosen(",,br"), Some("br"));
    assert_eq!(chosen("br;q=0.05, gzip;q=0.049"), Some("br"));
    assert_eq!(chosen("br;q=.5, gzip;q=0.001"), Some("gzip"));
    assert_eq!(chosen("br;q=1., gzip"), Some("br"));
}

#[test]
fn several_fields_are_one_list() {
    let negotiated = negotiated(&["identity;q=0.5", "zstd;q=0.9, br;q=0.9"]);
    assert_eq!(negotiated.coding, Some(Coding::Zstd));
}

#[test]
fn without_the_header_or_with_compression_off_nothing_is_coded() {
    let none = negotiated(&[]);
    assert_eq!((none.coding, none.varies), (None, true));
    let server = ServerSettings {
        compression: false,
        ..ServerSettings::default()
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("br"));
    let off = Compression::new(&server).negotiate(&headers);
    assert_eq!(off, Negotiated::UNCODED);
}

#[test]
fn small_bodies_are_sent_as_they_are_unless_identity_is_refused() {
    let compression = Compression::new(&ServerSettings::default());
    let gzip = negotiated(&["gzip"]);
    assert_eq!(compression.coding_for(gzip, 1023), None);
    assert_eq!(compression.coding_for(gzip, 1024), Some(Coding::Gzip));
    let only_gzip = negotiated(&["gzip, identity;q=0"]);
    assert_eq!(compression.coding_for(only_gzip, 10), Some(Coding::Gzip));
}
