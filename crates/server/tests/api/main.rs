//! The whole API, driven over HTTP, against SQLite and against PostgreSQL + Redis.
//! Every test here runs once per backend (see `backend_tests!`).

mod support;

mod auth;
mod catalog;
mod conflicts;
mod connections;

mod edge;
mod idempotency;
mod isolation;
mod listings;
mod overview;
mod rate_limit;
mod refunds;
mod rules;
mod sync;
mod webhooks;
