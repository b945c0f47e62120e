//! The pure core of Shelfsync: domain types and the logic over them.
//!
//! Nothing here performs I/O, spawns tasks or reads the clock; time is passed in.
//! That keeps the rules that decide what a merchant's channels hold testable in
//! microseconds and identical whichever storage or queue a deployment uses.

pub mod catalog;
pub mod ids;
pub mod money;
pub mod platform;
pub mod quota;
pub mod retry;
pub mod rules;
pub mod slug;
pub mod validation;
pub mod vault;

pub use ids::*;
pub use money::{Currency, Price};
pub use platform::Platform;
pub use validation::{FieldError, ValidationErrors};
