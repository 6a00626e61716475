//! Running the `pond` binary against a pond in a temp directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A pond in a temp directory, and a way to run commands on it.
pub struct TestPond {
    pub dir: tempfile::TempDir,
}

impl TestPond {
    /// A new, initialized pond.
    pub fn new() -> Self {
        let pond = TestPond {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        pond.ok(&["init"]);
        pond
    }

    /// The pond directory.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("pond")
    }

    /// A host path inside the temp directory, beside the pond.
    pub fn host(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A `pond` command on this pond, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pond"));
        cmd.args(args)
            .env("POND", self.path())
            .env("USER", "tester")
            .current_dir(self.dir.path());
        cmd
    }

    /// Imports `name` from the repository's `testdata/` as the series `dest`.
    pub fn copy_testdata_series(&self, name: &str, dest: &str) {
        let data = format!("{}/../../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        self.ok(&["copy", "--format", "series", &data, dest]);
    }

    /// Writes `yaml` to a new host file beside the pond; its path, for `--config`.
    pub fn config(&self, yaml: &str) -> String {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = self.host(&format!("config-{n}.yaml"));
        write(&path, yaml.as_bytes());
        path.to_string_lossy().into_owned()
    }

    /// Appends the CSV text `csv` (written to a host file beside the pond) to the series
    /// `dest`; the command's output.
    pub fn copy_series(&self, csv: &str, dest: &str) -> String {
        let name = format!("{}.csv", dest.trim_start_matches('/').replace('/', "_"));
        write(&self.host(&name), csv.as_bytes());
        self.ok(&["copy", "--format", "series", &name, dest])
    }

    /// Appends the CSV text `csv`, written to the host file `name`, to the series `dest`,
    /// its time in column `t`; the command's output.
    pub fn append_t(&self, name: &str, dest: &str, csv: &str) -> String {
        write(&self.host(name), csv.as_bytes());
        self.ok(&[
            "copy",
            "--format",
            "series",
            "--timestamp-column",
            "t",
            name,
            dest,
        ])
    }

    /// Runs a command.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run pond")
    }

    /// Runs a command that must succeed; returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        self.succeeded(args, self.run(args))
    }

    /// Runs a command with `env` added to its environment, that must succeed; returns its
    /// standard output.
    pub fn ok_with_env(&self, args: &[&str], env: Vec<(String, String)>) -> String {
        self.succeeded(
            args,
            self.command(args).envs(env).output().expect("run pond"),
        )
    }

    /// Runs a command fed `input` on its standard input, that must succeed; returns its
    /// standard output.
    pub fn ok_with_input(&self, args: &[&str], input: &[u8]) -> String {
        let mut child = self
            .command(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run pond");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input)
            .expect("write stdin");
        self.succeeded(args, child.wait_with_output().expect("run pond"))
    }

    fn succeeded(&self, args: &[&str], out: Output) -> String {
        assert!(
            out.status.success(),
            "pond {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    /// Runs a command that must fail; returns its standard error.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "pond {args:?} should have failed");
        String::from_utf8(out.stderr).expect("UTF-8 errors")
    }
}

/// A pond at `url` on a test S3 server, run by a [`TestPond`]'s binary with the server's
/// settings; its working directory (incoming bodies, caches) stays in the test's.
pub struct OnS3<'a> {
    pond: &'a TestPond,
    pub url: String,
    pub env: Vec<(String, String)>,
}

impl TestPond {
    /// The pond at `prefix` of `server`'s bucket, run from this test pond's directory.
    pub fn on_s3(&self, server: &tlogfs::testkit::S3Server, prefix: &str) -> OnS3<'_> {
        let mut env = server.env();
        env.push((
            "XDG_CACHE_HOME".into(),
            self.host("cache").to_string_lossy().to_string(),
        ));
        OnS3 {
            pond: self,
            url: server.url(prefix),
            env,
        }
    }
}

impl OnS3<'_> {
    /// `pond --pond URL ARGS` with the server's settings, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut all = vec!["--pond", self.url.as_str()];
        all.extend(args);
        let mut cmd = self.pond.command(&all);
        cmd.envs(self.env.clone());
        cmd
    }

    /// Runs a command.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run pond")
    }

    /// Runs a command that must succeed; returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        self.pond.succeeded(args, self.run(args))
    }

    /// Runs a command that must fail; returns its standard error.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "pond {args:?} should have failed");
        String::from_utf8(out.stderr).expect("UTF-8 errors")
    }
}

/// Writes `bytes` to a host file.
pub fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("write a host file");
}

/// A small deterministic generator (xorshift), so a failing run can be repeated by seed.
pub struct Rng(u64);

impl Rng {
    /// Seeded from the clock unless `POND_TEST_SEED` is set; prints the seed.
    pub fn new() -> Self {
        let seed = std::env::var("POND_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            })
            | 1;
        eprintln!("random seed: POND_TEST_SEED={seed}");
        Rng(seed)
    }

    /// The next number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}
