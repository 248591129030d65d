//! The integration-test binary: the CLI run as a user runs it, against the
//! real emulators (LocalStack for S3/EC2, moto for RDS) and PostgreSQL that
//! `make test` starts. Each file is one area; `support` is the harness.

mod support;

mod postgres;
mod s3_drill;
