//! tlogfs integration tests: the tinyfs conformance kit and model test on a real pond,
//! and what only a log on disk can show: reopening, time travel, crashes, concurrency, on a
//! local disk and on an S3 server.

mod concurrency;
mod durability;
mod kit;
mod on_s3;
mod replicas;
