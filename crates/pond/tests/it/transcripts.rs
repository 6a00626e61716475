//! The transcripts in `tests/cmd/*.md`: each runs its commands in order in a fresh copy of
//! its `.in/` directory, with `POND=pond` and `TZ=UTC`, and compares everything printed.
//! `TRYCMD=overwrite cargo test -p pond` rewrites them from what pond prints now.

#[test]
fn transcripts() {
    trycmd::TestCases::new()
        .register_bin("pond", std::path::Path::new(env!("CARGO_BIN_EXE_pond")))
        .env("POND", "pond")
        .env("USER", "tester")
        // Dates and times typed without an offset are local: these are in UTC.
        .env("TZ", "UTC")
        .case("tests/cmd/*.md");
}
