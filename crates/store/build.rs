// `sqlx::migrate!` embeds the migration files at compile time; without this,
// adding a migration would not rebuild the crate (as `sqlx migrate
// build-script` generates).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
