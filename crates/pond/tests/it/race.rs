//! Several processes writing at once: no lost update, and a clear conflict when two change
//! the same thing.

use std::process::{Command, Stdio};

use crate::support::{TestPond, write};

/// Eight `pond copy` processes started at once (`command` makes each), half into one
/// directory and half into three others, on a pond `ok` runs commands on: every write
/// lands, each one commit, with no version lost or doubled.
fn eight_writers_all_land(
    command: impl Fn(&[&str]) -> Command,
    ok: impl Fn(&[&str]) -> String,
    host: impl Fn(&str) -> std::path::PathBuf,
) {
    ok(&["mkdir", "/shared", "/a", "/b", "/c"]);
    let mut children = Vec::new();
    for i in 0..8 {
        let host = host(&format!("in{i}.csv"));
        write(&host, format!("i,v\n{i},{}\n", i * i).as_bytes());
        let dest = match i % 2 {
            0 => format!("/shared/f{i}.csv"),
            _ => format!("/{}/f{i}.csv", ["a", "b", "c"][i % 3]),
        };
        children.push((
            dest.clone(),
            command(&["copy", host.to_str().unwrap(), &dest])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn"),
        ));
    }
    for (dest, child) in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{dest}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let all = ok(&["list", "/**/*.csv"]);
    assert_eq!(all.lines().count(), 8, "{all}");
    for i in 0..8 {
        let path = all
            .lines()
            .find(|p| p.ends_with(&format!("/f{i}.csv")))
            .expect("every file landed");
        assert_eq!(ok(&["cat", path]), format!("i,v\n{i},{}\n", i * i));
    }
    // One commit per writer, and versions have no gaps.
    let log = ok(&["log"]);
    assert!(log.starts_with("v9 "), "{log}");
}

#[test]
fn writers_in_the_same_and_different_directories_all_land() {
    let pond = TestPond::new();
    eight_writers_all_land(|a| pond.command(a), |a| pond.ok(a), |n| pond.host(n));
}

#[test]
fn writers_of_the_same_file_either_land_or_fail_with_a_conflict() {
    let pond = TestPond::new();
    let host = pond.host("x.csv");
    write(&host, b"x\n1\n");
    pond.ok(&["copy", host.to_str().unwrap(), "/same.csv"]);
    let mut children = Vec::new();
    for _ in 0..6 {
        children.push(
            pond.command(&["copy", host.to_str().unwrap(), "/same.csv"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn"),
        );
    }
    let mut landed = 0;
    for child in children {
        let out = child.wait_with_output().expect("wait");
        if out.status.success() {
            landed += 1;
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.starts_with("error: copy: /same.csv: conflict: changed concurrently"),
                "{err}"
            );
        }
    }
    assert!(landed >= 1);
    let describe = pond.ok(&["describe", "/same.csv"]);
    assert!(
        describe.contains(&format!("versions:  {} ", landed + 1)),
        "every landed writer made exactly one version: {describe}"
    );
}

/// Eight `pond` processes writing one pond on S3 at once, in one directory and in others:
/// every write lands, each one commit, with no version lost or doubled.
#[test]
fn processes_writing_one_pond_on_s3_all_land() {
    let server = tlogfs::testkit::S3Server::start();
    let pond = TestPond::new();
    let s3 = pond.on_s3(&server, "race");
    s3.ok(&["init"]);
    eight_writers_all_land(|a| s3.command(a), |a| s3.ok(a), |n| pond.host(n));
}
