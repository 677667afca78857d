//! The SDL is checked in at `graphql/schema.graphql`: dashboards build against that file, so the
//! schema may not drift from it unnoticed.

use std::path::PathBuf;

fn checked_in() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema.graphql")
}

#[test]
fn the_checked_in_sdl_is_the_schema() {
    let current = greenos_graphql::schema_sdl();
    let file = std::fs::read_to_string(checked_in()).unwrap_or_default();
    assert!(
        file == current,
        "graphql/schema.graphql differs from the schema; regenerate it with:\n\n    cargo test -p greenos-graphql --test sdl -- --ignored write_the_sdl\n\nand review the diff"
    );
}

/// Regenerates `graphql/schema.graphql` (run on purpose, with `--ignored`).
#[test]
#[ignore = "writes graphql/schema.graphql; run on purpose after a schema change"]
fn write_the_sdl() {
    std::fs::write(checked_in(), greenos_graphql::schema_sdl()).expect("write schema.graphql");
}
