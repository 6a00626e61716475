//! tlogfs integration tests: the tinyfs conformance kit and model test on a real pond,
//! and what only a log on disk can show: reopening, time travel, crashes, concurrency.

mod concurrency;
mod durability;
mod kit;
mod replicas;
