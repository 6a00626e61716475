//! A writer killed at any instant leaves the pond at its last commit: every acknowledged
//! commit is there, nothing partial is visible, and the pond still verifies.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::{Rng, TestPond, write};

#[test]
fn sigkill_during_copy_loses_nothing_acknowledged_and_shows_nothing_partial() {
    let pond = TestPond::new();
    let mut rng = Rng::new();
    // Bodies of several sizes: inline, one content file, and large enough that a kill
    // often lands while the body streams.
    let sizes = [100usize, 200_000, 6_000_000];
    let mut acknowledged: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut killed = 0;
    for i in 0..24 {
        let size = sizes[i % sizes.len()];
        let body: Vec<u8> = (0..size).map(|j| ((i * 31 + j * 7) % 251) as u8).collect();
        let host = pond.host(&format!("body{i}"));
        write(&host, &body);
        let dest = format!("/f{i}");
        let mut child = pond
            .command(&["copy", host.to_str().unwrap(), &dest])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn pond copy");
        std::thread::sleep(Duration::from_millis(rng.below(60)));
        let _ = child.kill(); // SIGKILL; a no-op if it already finished
        let out = child.wait_with_output().expect("wait");
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && stdout.contains("committed pond version") {
            acknowledged.insert(dest, body);
        } else {
            killed += 1;
        }
        // After every kill the pond opens and lists.
        pond.ok(&["list"]);
    }
    eprintln!("{killed} of 24 copies killed before acknowledging");

    let listed: Vec<String> = pond.ok(&["list"]).lines().map(String::from).collect();
    for (path, body) in &acknowledged {
        assert!(listed.contains(path), "acknowledged {path} is missing");
        let out = pond.run(&["cat", path]);
        assert_eq!(&out.stdout, body, "{path} has the wrong bytes");
    }
    // Whatever is visible is whole: a file is there with all its bytes, or not at all.
    for path in &listed {
        let i: usize = path.trim_start_matches("/f").parse().unwrap();
        let expected: Vec<u8> = (0..sizes[i % sizes.len()])
            .map(|j| ((i * 31 + j * 7) % 251) as u8)
            .collect();
        assert_eq!(
            pond.run(&["cat", path]).stdout,
            expected,
            "{path} is partial"
        );
    }
    let verify = pond.ok(&["verify"]);
    assert!(verify.contains("all intact"), "{verify}");
    // Leftovers of killed writers are removed by maintain, and the pond still verifies.
    pond.ok(&["maintain", "--grace", "0s"]);
    assert!(pond.ok(&["verify"]).contains("all intact"));
    assert_eq!(pond.ok(&["list"]).lines().count(), listed.len());
}
