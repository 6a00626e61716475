//! Backups and replicas from the command line: a pond pushed to a directory on another
//! disk, read there as a pond, cloned, pulled, and checked.

use crate::support::TestPond;

#[test]
fn a_pond_pushed_to_a_backup_is_a_pond_and_comes_back_by_clone_and_pull() {
    let pond = TestPond::new();
    pond.copy_testdata_series("weather_head.csv", "/weather.series");
    let backup = pond.host("backup");
    let backup_arg = backup.to_string_lossy().to_string();
    let out = pond.ok(&["remote", "add", "backup", &backup_arg]);
    assert_eq!(out, format!("added remote backup: {backup_arg}\n"));
    assert_eq!(
        pond.ok(&["remote", "list"]),
        format!("backup\t{backup_arg}\n")
    );

    let out = pond.ok(&["push"]);
    assert!(
        out.starts_with("pushed pond versions 0-1 to backup (2 commits"),
        "{out}"
    );
    assert_eq!(
        pond.ok(&["push", "backup"]),
        "backup is up to date (pond version 1)\n"
    );
    let out = pond.ok(&["verify", "--remote", "backup"]);
    assert!(
        out.starts_with("backup holds this pond: every commit to pond version 1"),
        "{out}"
    );

    // The backup is a pond: read it directly.
    let rows = |dir: &str| {
        pond.ok(&[
            "--pond",
            dir,
            "query",
            "SELECT count(*) AS n, max(temp) AS t FROM \"/weather.series\"",
        ])
    };
    assert_eq!(rows(&backup_arg), rows(&pond.path().to_string_lossy()));

    // Named by a file:// URL, too.
    let url = format!("file://{backup_arg}");
    assert_eq!(pond.ok(&["--pond", &url, "list"]), "/weather.series\n");

    // A clone of it has every version, and `origin` to pull from.
    let station = pond.host("station");
    let station_arg = station.to_string_lossy().to_string();
    let out = pond.ok(&["clone", &backup_arg, &station_arg]);
    assert!(out.contains("at pond version 1"), "{out}");
    assert_eq!(rows(&station_arg), rows(&backup_arg));
    assert!(
        pond.fails(&["clone", &backup_arg, &station_arg])
            .contains("not empty")
    );

    // New readings here, pushed; the clone pulls them.
    pond.copy_testdata_series("weather_next.csv", "/weather.series");
    let out = pond.ok(&["push"]);
    assert!(
        out.starts_with("pushed pond version 2 to backup (1 commit"),
        "{out}"
    );
    let out = pond.ok(&["--pond", &station_arg, "pull"]);
    assert!(
        out.starts_with("pulled pond version 2 from origin"),
        "{out}"
    );
    assert_eq!(rows(&station_arg), rows(&pond.path().to_string_lossy()));
    let at_v1 = pond.ok(&[
        "--pond",
        &station_arg,
        "cat",
        "--format",
        "csv",
        "/weather.series@v1",
    ]);
    assert_eq!(at_v1.lines().count(), 201);

    // Pulling what this pond already has more than: nothing to do.
    let out = pond.ok(&["pull"]);
    assert!(out.starts_with("up to date with backup"), "{out}");
    pond.ok(&["mkdir", "/later"]);
    let out = pond.ok(&["pull"]);
    assert!(
        out.starts_with("this pond is ahead of backup (pond version 3 against 2)"),
        "{out}"
    );
    pond.ok(&["push"]);
    pond.ok(&["--pond", &station_arg, "pull"]);

    // Both change on their own: the next push is refused, naming where they parted.
    pond.ok(&["mkdir", "/here"]);
    pond.ok(&["--pond", &station_arg, "mkdir", "/there"]);
    pond.ok(&["--pond", &station_arg, "push"]);
    let err = pond.fails(&["push"]);
    assert!(
        err.contains("the histories differ from pond version 4"),
        "{err}"
    );
    let out = pond.run(&["verify", "--remote", "backup"]);
    assert!(!out.status.success());

    let err = pond.fails(&["remote", "add", "ftp", "ftp://host/pond"]);
    assert!(err.contains("ftp://"), "{err}");
    assert!(
        pond.fails(&["push", "nope"])
            .contains("no remote named \"nope\"")
    );
}

#[test]
fn a_pond_backed_up_to_s3_clones_back_whole() {
    let server = tlogfs::testkit::S3Server::start();
    let pond = TestPond::new();
    pond.copy_testdata_series("weather_head.csv", "/weather.series");
    pond.copy_testdata_series("weather_next.csv", "/weather.series");
    let on_s3 = |args: &[&str]| pond.ok_with_env(args, server.env());
    let url = server.url("stations/a");
    on_s3(&["remote", "add", "offsite", &url]);
    let out = on_s3(&["push", "offsite"]);
    assert!(
        out.starts_with("pushed pond versions 0-2 to offsite (3 commits"),
        "{out}"
    );
    let out = on_s3(&["verify", "--remote", "offsite"]);
    assert!(out.starts_with("offsite holds this pond"), "{out}");
    // Nothing secret went into the pond: the remote is its URL alone.
    let remotes: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pond.path().join("remotes.json")).unwrap()).unwrap();
    assert_eq!(remotes, serde_json::json!({"remotes": {"offsite": url}}));

    let clone = pond.host("restored");
    let clone_arg = clone.to_string_lossy().to_string();
    on_s3(&["clone", &url, &clone_arg]);
    let all = |dir: &str| {
        pond.ok(&[
            "--pond",
            dir,
            "cat",
            "--format",
            "csv",
            "/weather.series@v1",
        ])
    };
    assert_eq!(all(&clone_arg), all(&pond.path().to_string_lossy()));
    assert!(
        pond.ok(&["--pond", &clone_arg, "verify"])
            .contains("all intact")
    );
    // Without the server's settings, the store cannot be reached, and says so.
    let err = pond.fails(&["push", "offsite"]);
    assert!(
        err.starts_with("error: push: to offsite: s3://pond-test/stations/a/log/_delta_log"),
        "{err}"
    );
}

/// A pond whose home is S3: made there, written and read there by every command, its
/// history read; cloned here whole; upkeep that needs a local pond says so.
#[test]
fn a_pond_on_s3_is_used_directly_by_every_command() {
    let server = tlogfs::testkit::S3Server::start();
    let pond = TestPond::new();
    let s3 = pond.on_s3(&server, "direct");
    let (url, on_s3) = (&s3.url, |args: &[&str]| s3.ok(args));
    assert_eq!(
        on_s3(&["init"]),
        format!("initialized an empty pond in {url}\n")
    );
    let data = |name: &str| format!("{}/../../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    on_s3(&["mkdir", "/stations"]);
    for day in ["weather_head.csv", "weather_next.csv"] {
        on_s3(&[
            "copy",
            "--format",
            "series",
            &data(day),
            "/stations/w.series",
        ]);
        pond.copy_testdata_series(day, "/stations_w.series");
    }
    // A body larger than the inline limit goes to the store's content.
    let big: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    crate::support::write(&pond.host("big.bin"), &big);
    on_s3(&["copy", &pond.host("big.bin").to_string_lossy(), "/big.bin"]);
    let count = "SELECT count(*) AS n, max(temp) AS t FROM ";
    assert_eq!(
        on_s3(&["query", &format!("{count}\"/stations/w.series\"")]),
        pond.ok(&["query", &format!("{count}\"/stations_w.series\"")])
    );
    let cat = on_s3(&["cat", "/big.bin"]);
    assert_eq!(cat.len(), big.len());
    let log = on_s3(&["log"]);
    assert!(log.contains("copy /"), "{log}");
    let at_v1 = on_s3(&["cat", "--format", "csv", "/stations/w.series@v1"]);
    assert_eq!(at_v1.lines().count(), 201);
    assert!(on_s3(&["verify"]).contains("all intact"));

    let clone = pond.host("here");
    let clone_arg = clone.to_string_lossy().to_string();
    pond.ok_with_env(&["clone", url, &clone_arg], s3.env.clone());
    assert!(
        pond.ok(&["--pond", &clone_arg, "verify"])
            .contains("all intact")
    );
    assert_eq!(
        pond.ok(&["--pond", &clone_arg, "cat", "/big.bin"]).len(),
        big.len()
    );

    let err = pond.fails(&["--pond", "memory://here", "list"]);
    assert!(
        err.contains("a memory:// pond lives in one process"),
        "{err}"
    );
    let err = s3.fails(&["maintain"]);
    assert!(err.contains("maintain works on a local pond"), "{err}");
    let out = s3.run(&["remote", "list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("this command works on a local pond"), "{err}");
}

/// How many files are below `dir`.
fn files_below(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type().is_ok_and(|t| t.is_dir()) {
            true => files_below(&e.path()),
            false => 1,
        })
        .sum()
}

/// A push killed at any instant leaves the backup a pond at a version it had or one the
/// push completed, every file version it shows whole; the next push finishes the job.
#[test]
fn a_push_killed_at_any_instant_leaves_a_pond_and_the_next_finishes() {
    let pond = TestPond::new();
    let mut rng = crate::support::Rng::new();
    let backup = pond.host("backup");
    let backup_arg = backup.to_string_lossy().to_string();
    pond.ok(&["remote", "add", "backup", &backup_arg]);
    // Each round adds three versions with bodies of 3 MB, so a push has work to be killed
    // in, and kills it at a random instant: either before it wrote anything, or (half the
    // rounds) once it has begun to write, whatever this machine's speed.
    let (mut rounds, mut killed, mut partial) = (0, 0, 0);
    while partial < 6 && rounds < 30 {
        for i in 0..3usize {
            let n = rounds * 3 + i;
            let body: Vec<u8> = (0..3_000_000)
                .map(|j| ((n * 31 + j * 7) % 251) as u8)
                .collect();
            let host = pond.host(&format!("body{n}"));
            crate::support::write(&host, &body);
            pond.ok(&["copy", &host.to_string_lossy(), &format!("/f{}", n % 4)]);
        }
        let before = files_below(&backup);
        let mut child = pond
            .command(&["push"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn pond push");
        if rng.below(2) == 0 {
            // Wait until the push has written something.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while files_below(&backup) == before
                && child.try_wait().unwrap().is_none()
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(rng.below(150)));
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        rounds += 1;
        if out.status.success() {
            continue;
        }
        killed += 1;
        // Killed after it had written something: part way.
        if files_below(&backup) > before {
            partial += 1;
        }
        // Whatever version the backup is at (none before its first commit is linked in),
        // it is a whole pond.
        if backup
            .join("log/_delta_log/00000000000000000000.json")
            .exists()
        {
            let verified = pond.run(&["--pond", &backup_arg, "verify"]);
            assert!(
                verified.status.success(),
                "round {rounds}: {}",
                String::from_utf8_lossy(&verified.stdout)
            );
        }
    }
    eprintln!("{rounds} rounds: {killed} pushes killed, {partial} of them part way");
    assert!(partial > 0, "no kill landed during a push");
    pond.ok(&["push"]);
    let out = pond.ok(&["verify", "--remote", "backup"]);
    assert!(out.starts_with("backup holds this pond"), "{out}");
    for i in 0..4 {
        let path = format!("/f{i}");
        assert_eq!(
            pond.run(&["--pond", &backup_arg, "cat", &path]).stdout,
            pond.run(&["cat", &path]).stdout
        );
    }
}

/// A `pond copy` into a pond on S3, killed at random instants (before its upload, during
/// it, around its commit): the pond is always one that verifies, at the version before the
/// copy or the one it made, and the file reads whole or is not there.
#[test]
fn a_write_to_a_pond_on_s3_killed_at_any_instant_leaves_a_whole_pond() {
    let server = tlogfs::testkit::S3Server::start();
    let pond = TestPond::new();
    let mut rng = crate::support::Rng::new();
    let s3 = pond.on_s3(&server, "killed");
    let run = |args: &[&str]| s3.run(args);
    assert!(run(&["init"]).status.success());
    // Each round kills at a random instant below `bound`; a round whose copy landed halves
    // it, so kills land before commits on a fast machine too.
    let (mut killed, mut landed, mut bound) = (0, 0, 400);
    let mut round = 0usize;
    while (killed < 3 || landed < 1) && round < 24 {
        round += 1;
        let body: Vec<u8> = (0..4_000_000usize)
            .map(|j| b'a' + ((round * 31 + j * 7) % 26) as u8)
            .collect();
        let host = pond.host(&format!("body{round}"));
        crate::support::write(&host, &body);
        let host_arg = host.to_string_lossy().to_string();
        let dest = format!("/f{round}");
        let mut child = s3.command(&["copy", &host_arg, &dest]).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(rng.below(bound)));
        let _ = child.kill();
        let status = child.wait().unwrap();
        let verified = run(&["verify"]);
        assert!(
            verified.status.success(),
            "round {round}: {}{}",
            String::from_utf8_lossy(&verified.stdout),
            String::from_utf8_lossy(&verified.stderr)
        );
        let read = run(&["cat", &dest]);
        if read.status.success() {
            assert_eq!(read.stdout, body, "round {round}: {dest} reads whole");
            landed += 1;
            bound = (bound / 2).max(1);
        } else {
            assert!(!status.success(), "round {round}: the copy succeeded");
            killed += 1;
        }
    }
    eprintln!("{round} rounds: {killed} copies killed before their commit, {landed} landed");
    assert!(killed > 0, "no kill landed before a commit");
    // Whatever the kills left (incoming bodies, unreferenced uploads), the next write lands.
    let again = run(&["copy", &pond.host("body1").to_string_lossy(), "/again"]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
