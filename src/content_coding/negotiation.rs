//! Content negotiation (RFC 9110 §12.5.3): which coding an
//! `Accept-Encoding` field prefers among those the gateway has, by
//! q-value, then the order the client lists them in.

use super::Coding;

/// The coding `fields` (the values of every `Accept-Encoding` field of a
/// request, in order) prefer to sending the answer as it is, if any, and
/// whether sending it as it is (`identity`) is acceptable.
pub fn negotiate<'t>(fields: impl Iterator<Item = &'t str>) -> (Option<Coding>, bool) {
    Accepted::parse(fields).choose()
}

/// The codings one `Accept-Encoding` field lists, in its order.
struct Accepted {
    /// Each listed coding the gateway has, with its weight in thousandths
    /// and its place in the list.
    codings: [Option<(u16, usize)>; 3],
    identity: Option<(u16, usize)>,
    any: Option<(u16, usize)>,
}

impl Accepted {
    fn parse<'t>(fields: impl Iterator<Item = &'t str>) -> Self {
        let mut accepted = Accepted {
            codings: [None; 3],
            identity: None,
            any: None,
        };
        let members = fields.flat_map(|field| field.split(','));
        for (place, member) in members.enumerate() {
            let mut parts = member.split(';');
            let name = parts.next().unwrap_or_default().trim();
            if name.is_empty() {
                continue;
            }
            // A member whose weight does not parse is ignored rather than
            // guessed at.
            let Some(weight) = weight(parts) else {
                continue;
            };
            // Tokens are case-insensitive; compared without allocating, as
            // this runs on every request.
            let named = |token: &str| name.eq_ignore_ascii_case(token);
            let slot = if named("br") {
                &mut accepted.codings[Coding::Brotli.index()]
            } else if named("zstd") {
                &mut accepted.codings[Coding::Zstd.index()]
            } else if named("gzip") || named("x-gzip") {
                &mut accepted.codings[Coding::Gzip.index()]
            } else if named("identity") {
                &mut accepted.identity
            } else if name == "*" {
                &mut accepted.any
            } else {
                continue;
            };
            // The first mention of a coding is the one that counts.
            slot.get_or_insert((weight, place));
        }
        accepted
    }

    /// The preferred coding, if the client prefers one to `identity`, and
    /// whether `identity` is acceptable.
    fn choose(&self) -> (Option<Coding>, bool) {
        // `identity` is acceptable unless refused by name, or by `*;q=0`
        // without naming it; unnamed, it comes after every coding the client
        // asks for, whatever their weight.
        let identity = self
            .identity
            .or(self.any.map(|(weight, _)| (weight, usize::MAX)));
        let identity = identity.unwrap_or((1, usize::MAX));
        let mut best: Option<(Coding, u16, usize)> = None;
        for coding in Coding::ALL {
            // A coding matched by `*` sits at the star's place, the
            // gateway's own order breaking ties among them.
            let rated = self.codings[coding.index()].or(self.any);
            let Some((weight, place)) = rated.filter(|(weight, _)| *weight > 0) else {
                continue;
            };
            let better = best.is_none_or(|(_, best_weight, best_place)| {
                weight > best_weight || (weight == best_weight && place < best_place)
            });
            if better {
                best = Some((coding, weight, place));
            }
        }
        let coding = best
            .filter(|(_, weight, place)| {
                *weight > identity.0 || (*weight == identity.0 && *place < identity.1)
            })
            .map(|(coding, ..)| coding);
        (coding, identity.0 > 0)
    }
}

/// The weight a member's parameters give (RFC 9110 §12.4.2): `q=` and a
/// qvalue, in thousandths; 1 without one; `None` if malformed.
fn weight<'p>(mut parameters: impl Iterator<Item = &'p str>) -> Option<u16> {
    let Some(parameter) = parameters.next() else {
        return Some(1000);
    };
    let (name, value) = parameter.trim().split_once('=')?;
    if !name.trim().eq_ignore_ascii_case("q") || parameters.next().is_some() {
        return None;
    }
    qvalue(value.trim())
}

/// RFC 9110's `qvalue` (§12.4.2): `0[.ddd]` or `1[.000]`, in thousandths;
/// the weight of a media range in `Accept` too.
pub fn qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    // "5" is 500 thousandths, "05" 50, "005" 5.
    let thousandths = (fraction.bytes())
        .zip([100, 10, 1])
        .map(|(digit, scale)| u16::from(digit - b'0') * scale)
        .sum::<u16>();
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}
