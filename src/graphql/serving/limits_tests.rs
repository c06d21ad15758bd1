use super::Shape;

fn shape(document: &str) -> Shape {
    Shape::of(&async_graphql::parser::parse_query(document).expect("parses"))
}

#[test]
fn doubling_fragments_are_counted_without_expanding_them() {
    let mut document = String::from("{ ...F0 }");
    for level in 0..40 {
        document.push_str(&format!(
            " fragment F{level} on Query {{ ...F{} ...F{} }}",
            level + 1,
            level + 1
        ));
    }
    document.push_str(" fragment F40 on Query { __typename }");
    assert_eq!(shape(&document).fields, 1u64 << 40);
}

#[test]
fn aliases_and_root_fields() {
    let counted = shape("{ a: x b: y ...R } fragment R on Query { c: z w }");
    assert_eq!(counted.aliases, 3);
    assert_eq!(counted.root_fields, 4);
    assert_eq!(counted.fields, 4);
}

#[test]
fn fragment_cycles_do_not_loop() {
    assert_eq!(
        shape("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }").fields,
        u64::MAX
    );
}
