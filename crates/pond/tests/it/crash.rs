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
    assert!(killed > 0, "no kill landed before a copy was acknowledged");

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

/// The three bodies of round `round` (round 0 is the first copy).
fn bodies(round: usize) -> Vec<Vec<u8>> {
    (0..3)
        .map(|f| {
            (0..3_000_000)
                .map(|j| ((round * 131 + f * 17 + j * 7) % 251) as u8)
                .collect()
        })
        .collect()
}

#[test]
fn sigkill_during_revert_leaves_the_commit_whole_or_undone() {
    let pond = TestPond::new();
    let mut rng = Rng::new();
    pond.ok(&["mkdir", "/d"]);
    let names = ["a", "b", "c"];
    let copy_round = |round: usize| {
        let mut args = vec!["copy".to_string()];
        for (name, body) in names.iter().zip(bodies(round)) {
            let dir = pond.host(&format!("round{round}"));
            std::fs::create_dir_all(&dir).expect("a host directory");
            let host = dir.join(name);
            write(&host, &body);
            args.push(host.to_string_lossy().into_owned());
        }
        args.push("/d".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = pond.ok(&args);
        // The version the copy made: its last line is "committed pond version N".
        out.lines()
            .last()
            .and_then(|l| l.strip_prefix("committed pond version "))
            .and_then(|v| v.parse::<u64>().ok())
            .expect("a committed version")
    };
    let read = |round_of: &dyn Fn(&str) -> Option<usize>| -> Vec<Option<usize>> {
        names
            .iter()
            .map(|name| round_of(&format!("/d/{name}")))
            .collect()
    };
    let mut killed = 0;
    // The round whose bodies the files hold: what a revert of the next copy brings back.
    let mut current = 0;
    copy_round(0);
    // How long a revert takes here, unkilled (round 1): later kills land within it or just
    // after, however loaded the machine is.
    let mut full = Duration::ZERO;
    for round in 1..=13 {
        let version = copy_round(round);
        let started = std::time::Instant::now();
        let mut child = pond
            .command(&["revert", &version.to_string()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn pond revert");
        if round == 1 {
            child.wait().expect("wait");
            full = started.elapsed();
        } else {
            let ms = full.as_millis() as u64;
            std::thread::sleep(Duration::from_millis(rng.below(ms + ms / 2 + 1)));
            let _ = child.kill();
        }
        let out = child.wait_with_output().expect("wait");
        let acknowledged = out.status.success();
        // Every file is as before the copy (reverted) or after it (not): never a mix.
        let (then, now) = (bodies(current), bodies(round));
        let rounds = read(&|path| {
            let body = pond.run(&["cat", path]).stdout;
            let i = names.iter().position(|n| path.ends_with(n)).unwrap();
            if body == then[i] {
                Some(current)
            } else if body == now[i] {
                Some(round)
            } else {
                None
            }
        });
        assert!(
            rounds.iter().all(|r| *r == Some(current)) || rounds.iter().all(|r| *r == Some(round)),
            "round {round}: files at rounds {rounds:?} after a killed revert (expected all {current} or all {round})"
        );
        if acknowledged {
            assert_eq!(
                rounds,
                [Some(current); 3],
                "an acknowledged revert is all there"
            );
        } else if rounds == [Some(round); 3] {
            killed += 1;
        }
        current = rounds[0].expect("checked");
    }
    eprintln!("{killed} of 12 reverts killed before committing");
    assert!(killed > 0, "no kill landed before a revert committed");
    assert!(pond.ok(&["verify"]).contains("all intact"));
    pond.ok(&["maintain", "--grace", "0s"]);
    assert!(pond.ok(&["verify"]).contains("all intact"));
}

#[test]
fn sigkill_during_compaction_loses_nothing() {
    let pond = TestPond::new();
    let mut rng = Rng::new();
    let rows = 20_000;
    let batch = |series: usize, i: usize| {
        let mut csv = String::from("time,v\n");
        for r in 0..rows {
            let second = i * rows + r;
            csv.push_str(&format!(
                "2024-01-{:02}T{:02}:{:02}:{:02}Z,{}\n",
                1 + second / 86400,
                second / 3600 % 24,
                second / 60 % 60,
                second % 60,
                series * 100_000 + second
            ));
        }
        csv
    };
    // The count and sum of the series at `path`, as `n|sum`.
    let totals = |path: &str| {
        let out = pond.ok(&[
            "cat",
            "--format",
            "csv",
            "--sql",
            "SELECT count(*) AS n, sum(v) AS s FROM source",
            path,
        ]);
        out.lines().nth(1).unwrap_or_default().replace(',', "|")
    };
    let mut compacted_before_kill = 0;
    let mut killed_in_between = 0;
    let mut killed_before_append = 0;
    // How long an eighth append and its compaction take, unkilled: kills land within it.
    let mut full = Duration::ZERO;
    for series in 0..7 {
        let path = format!("/s{series}.series");
        for i in 0..7 {
            pond.copy_series(&batch(series, i), &path);
        }
        let seven = totals(&path);
        // The eighth append is followed by a compaction of all eight; kill it somewhere.
        let host = pond.host(&format!("eighth{series}.csv"));
        write(&host, batch(series, 7).as_bytes());
        let started = std::time::Instant::now();
        let mut child = pond
            .command(&["copy", "--format", "series", host.to_str().unwrap(), &path])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn pond copy");
        if series == 0 {
            child.wait().expect("wait");
            full = started.elapsed();
            assert!(pond.ok(&["describe", &path]).contains("versions:  9"));
            continue;
        }
        let ms = full.as_millis() as u64;
        std::thread::sleep(Duration::from_millis(ms / 4 + rng.below(ms * 3 / 4 + 1)));
        let _ = child.kill();
        let out = child.wait_with_output().expect("wait");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let now = totals(&path);
        let describe = pond.ok(&["describe", &path]);
        let appended = describe.contains("versions:  8") || describe.contains("versions:  9");
        if appended {
            // The append landed: all eight batches are there, compacted or not.
            let sum: usize = (0..8 * rows).map(|s| series * 100_000 + s).sum();
            assert_eq!(now, format!("{}|{sum}", 8 * rows), "{path}: {describe}");
            if describe.contains("versions:  9") {
                compacted_before_kill += 1;
            } else {
                killed_in_between += 1;
            }
        } else {
            assert_eq!(now, seven, "{path}: a killed append left the seven batches");
            assert!(!stdout.contains("committed"), "{stdout}");
            killed_before_append += 1;
        }
        assert!(pond.ok(&["verify"]).contains("all intact"), "{path}");
    }
    eprintln!(
        "of 6 killed: {killed_before_append} before the append committed, {killed_in_between} \
         between it and the compaction, {compacted_before_kill} after both"
    );
    assert!(
        killed_before_append + killed_in_between > 0,
        "no kill landed before the compaction committed"
    );
    // Whatever was left undone is done by maintain, with the same rows.
    pond.ok(&["maintain", "--grace", "0s"]);
    assert!(pond.ok(&["verify"]).contains("all intact"));
}
