use crate::config::GlobalOptions;

pub async fn run(global: &GlobalOptions) -> anyhow::Result<()> {
    let store = super::open_store(global).await?;
    store.close().await;
    println!(
        "migrations applied ({})",
        super::redact_url(&global.database_url())
    );
    Ok(())
}
