//! pond's command-line tests: transcripts of every command, crashes, concurrent writers,
//! verification and upkeep.

mod copy;
mod crash;
mod factories;
mod formats;
mod help;
mod interop;
mod memory;
mod race;
mod reduce;
mod replica;
mod serve;
mod support;
mod sync;
mod terminal;
mod transcripts;
mod upkeep;
