//! For tests (feature `testkit`): a real S3-compatible server on 127.0.0.1.
//!
//! [`S3Server::start`] runs moto's server (PyPI `moto[server]`, which honours conditional
//! writes as S3 does) on a free local port with one empty bucket, and stops it when
//! dropped. Tests reach it in process through [`S3Server::settings`] and in child processes
//! through [`S3Server::env`]: the `AWS_*` variables a pond on S3 is configured by.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The bucket every server starts with.
pub const BUCKET: &str = "pond-test";

/// A running S3 server.
#[derive(Debug)]
pub struct S3Server {
    child: Child,
    addr: SocketAddr,
    endpoint: String,
}

impl S3Server {
    /// Starts a server with an empty bucket [`BUCKET`]; panics, saying what to install,
    /// if it cannot.
    pub fn start() -> S3Server {
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free local port");
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(addr.port().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs (the S3 tests need `pip install 'moto[server]'`)");
        let mut server = S3Server {
            child,
            addr,
            endpoint: format!("http://{addr}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("moto's S3 server exited ({status}): `pip install 'moto[server]'`");
            }
            assert!(Instant::now() < deadline, "moto's S3 server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        server.request(&format!("PUT /{BUCKET} HTTP/1.1"));
        server
    }

    /// Sends one bodiless request; panics unless it succeeds.
    fn request(&self, line: &str) {
        let mut stream = TcpStream::connect(self.addr).expect("connect to the S3 server");
        write!(
            stream,
            "{line}\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .expect("send");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).expect("reply");
        assert!(reply.starts_with("HTTP/1.1 200"), "{line}: {reply}");
    }

    /// `s3://BUCKET/prefix`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{BUCKET}/{prefix}")
    }

    /// The settings of a store on this server, for [`crate::store::Store::open_with`].
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("aws_endpoint", self.endpoint.clone()),
            ("aws_allow_http", "true".into()),
            ("aws_access_key_id", "test".into()),
            ("aws_secret_access_key", "test".into()),
            ("aws_region", "us-east-1".into()),
        ]
    }

    /// The same settings as the environment of a child process.
    pub fn env(&self) -> Vec<(String, String)> {
        self.settings()
            .into_iter()
            .map(|(k, v)| (k.to_ascii_uppercase(), v))
            .collect()
    }

    /// The store at `prefix` in the bucket.
    pub fn store(&self, prefix: &str) -> crate::store::Store {
        let settings = self.settings();
        let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
        crate::store::Store::open_with(&self.url(prefix), &settings).expect("an S3 store")
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
