//! The tables compiled plans write objects by: for each object type, every
//! field a plan may select and how it is written, declared in the object's
//! own file beside its resolvers so that adding a field touches one place.
//! A test in each object's file holds its table to the served schema.

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
