//! The tables compiled plans write objects by: for each object type, every
//! field a plan may select and how it is written, declared in the object's
//! own file beside its resolvers so that adding a field touches one place.
//! A test in each object's file holds its table to the served schema.

use crate::catalog::WrittenForm;

/// How a compiled plan writes one field of a node: its name in the schema
/// and its JSON, as the object above resolves it. Declared beside the
/// object's resolvers.
pub(crate) type FieldWriter<T> = (&'static str, fn(&T, &mut Vec<u8>));

/// A node type compiled plans can write.
pub(crate) trait PlannedNode: Sized + 'static {
    /// Its name, for `__typename`.
    const TYPENAME: &'static str;
    /// Every field a plan may select, with how it is written.
    const FIELDS: &'static [FieldWriter<Self>];
}

/// Where each field of a written form ends: one little-endian `u32` per
/// table field, ahead of the fields' JSON.
const END_BYTES: usize = 4;

/// A planned node's written form is every field of its table as JSON, one
/// after another, behind where each ends: a page copies the fields it
/// selects instead of escaping strings and formatting dates again.
impl<T: PlannedNode> WrittenForm for T {
    fn written_form(&self) -> Box<[u8]> {
        let header = T::FIELDS.len() * END_BYTES;
        let mut form = vec![0; header];
        for (index, (_, write)) in T::FIELDS.iter().enumerate() {
            write(self, &mut form);
            // A field past 4 GiB cannot be in a snapshot; saturating keeps
            // `written_field` within the form regardless.
            let end = u32::try_from(form.len() - header).unwrap_or(u32::MAX);
            form[index * END_BYTES..][..END_BYTES].copy_from_slice(&end.to_le_bytes());
        }
        form.into_boxed_slice()
    }
}

/// The JSON of the table's field at `field` out of `T`'s written form.
pub(crate) fn written_field<T: PlannedNode>(form: &[u8], field: usize) -> &[u8] {
    let header = T::FIELDS.len() * END_BYTES;
    let end_of = |index: usize| {
        let bytes = form.get(index * END_BYTES..(index + 1) * END_BYTES);
        let bytes = bytes.and_then(|bytes| <[u8; END_BYTES]>::try_from(bytes).ok());
        bytes.map_or(0, |bytes| u32::from_le_bytes(bytes) as usize)
    };
    let start = if field == 0 { 0 } else { end_of(field - 1) };
    form.get(header + start..header + end_of(field))
        .unwrap_or_default()
}

/// Test support: every field of the served object `name` is in `T`'s
/// table, or named in `not_planned` as one plans leave to async-graphql,
/// and every field of the table is served.
#[cfg(test)]
pub(crate) fn check_table<T: PlannedNode>(name: &str, not_planned: &[&str]) {
    let planned: Vec<&str> = T::FIELDS.iter().map(|(field, _)| *field).collect();
    for field in schema_fields(name) {
        assert!(
            planned.contains(&field.as_str()) || not_planned.contains(&field.as_str()),
            "{name}.{field} is served but missing from its plan table"
        );
    }
    for field in planned {
        assert!(
            schema_fields(name).iter().any(|served| served == field),
            "{name}.{field} is not served"
        );
    }
}

/// Test support: each field read out of `item`'s written form is the
/// bytes its table writer writes alone.
#[cfg(test)]
pub(crate) fn check_written_form<T: PlannedNode>(item: &T) {
    let form = item.written_form();
    for (index, (field, write)) in T::FIELDS.iter().enumerate() {
        let mut alone = Vec::new();
        write(item, &mut alone);
        assert_eq!(
            String::from_utf8_lossy(written_field::<T>(&form, index)),
            String::from_utf8_lossy(&alone),
            "{field}"
        );
    }
}

/// The fields of `type NAME { … }` in the served schema.
#[cfg(test)]
fn schema_fields(name: &str) -> Vec<String> {
    let sdl = crate::graphql::sdl();
    let start = sdl
        .find(&format!("type {name} {{"))
        .or_else(|| sdl.find(&format!("type {name} implements ")))
        .expect("type in the schema");
    let body = &sdl[start..];
    let body = &body[..body.find("\n}").expect("closing brace")];
    let mut in_description = false;
    body.lines()
        .skip(1)
        .map(str::trim)
        .filter(|line| {
            // Descriptions are `"""` blocks of their own lines, or one
            // `"…"` line.
            if *line == "\"\"\"" {
                in_description = !in_description;
                return false;
            }
            !in_description && !line.is_empty() && !line.starts_with('"')
        })
        .filter_map(|line| line.split([':', '(']).next().map(str::to_owned))
        .collect()
}
