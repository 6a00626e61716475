//! pond's command-line tests: transcripts of every command, crashes, concurrent writers.

mod transcripts;
