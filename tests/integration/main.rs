//! The integration-test binary: the CLI run as a user runs it, against the
//! real emulators (`LocalStack` for S3/EC2, moto for RDS) and `PostgreSQL` that
//! `make test` starts. Each file is one area; `support` is the harness.

mod support;

mod chaos;
mod chaos_answers;
mod chaos_proxy;
mod concurrency;
mod coverage;
mod crash_matrix;
mod depends;
mod ec2;
mod evidence;
mod evidence_s3;
mod gates;
mod guards;
mod hook_server;
mod iam;
mod kill_loop;
mod layering;
mod metrics;
mod notify;
mod postgres;
mod rds;
mod retries;
mod runbook;
mod s3_content;
mod s3_drill;
mod scenario_errors;
mod secrets;
mod select;
mod select_kinds;
mod signals;
mod sources;
