//! verify finds damaged and missing bodies; maintain removes what nothing references.

use crate::support::{TestPond, write};

fn body(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(seed)).collect()
}

#[test]
fn verify_reports_mismatched_and_missing_bodies() {
    let pond = TestPond::new();
    for (name, seed) in [("a", 3u8), ("b", 5), ("c", 7)] {
        let host = pond.host(name);
        write(&host, &body(seed, 100_000));
        pond.ok(&["copy", host.to_str().unwrap(), &format!("/{name}")]);
    }
    let ok = pond.ok(&["verify"]);
    assert_eq!(ok, "verified 3 file versions (293.0 KiB): all intact\n");

    let store = pond.path().join("content");
    let path_of = |data: &[u8]| {
        let hex = blake3_hex(data);
        store.join(&hex[..2]).join(hex)
    };
    std::fs::write(path_of(&body(3, 100_000)), b"damaged").unwrap();
    std::fs::remove_file(path_of(&body(5, 100_000))).unwrap();
    let out = pond.run(&["verify"]);
    assert!(!out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("MISMATCH /a@v1: "), "{text}");
    assert!(text.contains("MISSING  /b@v1: "), "{text}");
    assert!(text.ends_with("1 mismatched, 1 missing\n"), "{text}");
    let err = pond.fails(&["cat", "/b"]);
    assert!(err.contains("No such file or directory"), "{err}");
}

#[test]
fn maintain_removes_orphans_and_keeps_everything_referenced() {
    let pond = TestPond::new();
    let host = pond.host("kept");
    write(&host, &body(9, 200_000));
    pond.ok(&["copy", host.to_str().unwrap(), "/kept"]);
    // What an interrupted commit leaves: a body and a log data file no commit names.
    let orphan = pond.path().join("content").join("ab").join("ab".repeat(32));
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"orphan").unwrap();
    let stray = pond
        .path()
        .join("log")
        .join(format!("part_id={}", "0".repeat(32)))
        .join(format!("{}-99-stray.parquet", "0".repeat(32)));
    std::fs::write(&stray, b"PAR1").unwrap();

    let young = pond.ok(&["maintain"]);
    assert!(
        young.contains("removed 0 unreferenced log files"),
        "{young}"
    );
    assert!(
        orphan.exists() && stray.exists(),
        "the grace period protects young files"
    );

    let out = pond.ok(&["maintain", "--grace", "0s"]);
    assert!(
        out.starts_with("wrote a checkpoint at pond version 1\n"),
        "{out}"
    );
    assert!(out.contains("removed 1 unreferenced log files"), "{out}");
    assert!(out.contains("removed 1 unreferenced bodies (6 B)"), "{out}");
    assert!(!orphan.exists() && !stray.exists());
    assert!(pond.ok(&["verify"]).contains("all intact"));
    assert_eq!(pond.run(&["cat", "/kept"]).stdout, body(9, 200_000));
    assert!(
        pond.path()
            .join("log/_delta_log/00000000000000000001.checkpoint.parquet")
            .exists(),
        "maintain writes a Delta checkpoint"
    );
}

#[test]
fn without_a_pond_the_error_says_how_to_name_one() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pond"))
        .args(["list"])
        .env_remove("POND")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: list: no pond given: pass --pond DIR or set POND=DIR (make one with `pond init`)\n"
    );
}

fn blake3_hex(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}
