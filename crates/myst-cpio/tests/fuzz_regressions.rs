//! Every input in tests/fuzz-regressions/ (crashes found by `cargo fuzz run parse`, plus
//! interesting seeds) is run through the fuzz target's checks.

mod common {
    include!("common/fuzz_check.rs");
}

#[test]
fn saved_fuzz_inputs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        eprintln!("checking {}", path.display());
        common::check(&data);
        count += 1;
    }
    assert!(count > 0);
}
