//! `shelfsync keys`: the encryption keys of channel credentials.

use anyhow::Context;
use shelfsync_core::vault::{ExposeSecret, KeyRing};

use super::channels::{KEY_FILE, key_ring, new_key_id, write_key_file};
use crate::config::{GlobalOptions, KeysCommand};

pub async fn run(global: &GlobalOptions, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Generate { id } => {
            let id = id.unwrap_or_else(new_key_id);
            // Validate the id the same way the ring will.
            let entry = KeyRing::generate_entry(&id);
            KeyRing::parse(entry.expose_secret()).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", entry.expose_secret());
            eprintln!(
                "Put this entry first in SHELFSYNC_ENCRYPTION_KEYS (keep the old ones after it), \
                 restart, then run `shelfsync keys rotate`."
            );
            Ok(())
        }
        KeysCommand::Status => {
            let store = super::open_store(global).await?;
            let ring = key_ring(global)?;
            println!("current key: {}", ring.current_id());
            let counts = store.credentials_by_key().await?;
            if counts.is_empty() {
                println!("no stored credentials");
            }
            for (key_id, n) in counts {
                let mark = if key_id == ring.current_id() {
                    ""
                } else {
                    "  (stale)"
                };
                println!("  {key_id}: {n} connection(s){mark}");
            }
            store.close().await;
            Ok(())
        }
        KeysCommand::Rotate { add_key } => {
            if add_key {
                add_key_to_file(global)?;
            }
            let store = super::open_store(global).await?;
            let hub = super::channels::hub(global, &store).await?;
            println!(
                "re-encrypting credentials under key {}",
                hub.vault().current_id()
            );
            let report = hub.rotate_keys(100).await?;
            println!(
                "re-encrypted {} connection(s); {} changed meanwhile (already under the new key); {} unreadable",
                report.resealed, report.raced, report.unreadable
            );
            let stale: i64 = store
                .credentials_by_key()
                .await?
                .into_iter()
                .filter(|(id, _)| id != hub.vault().current_id())
                .map(|(_, n)| n)
                .sum();
            store.close().await;
            if report.unreadable > 0 || stale > 0 {
                anyhow::bail!(
                    "{stale} credential(s) are still under an old key; is every key that sealed them configured?"
                );
            }
            println!(
                "every stored credential is under the current key; old keys may now be removed"
            );
            Ok(())
        }
    }
}

/// Embedded mode: prepend a fresh key to the data dir's key file.
fn add_key_to_file(global: &GlobalOptions) -> anyhow::Result<()> {
    if global.encryption_keys.is_some() {
        anyhow::bail!(
            "--add-key edits the data dir's key file, but keys come from SHELFSYNC_ENCRYPTION_KEYS: \
             put a `shelfsync keys generate` entry first there instead"
        );
    }
    // Make sure the file exists and parses before changing it.
    key_ring(global)?;
    let path = global.data_dir.join(KEY_FILE);
    let current = std::fs::read_to_string(&path)
        .with_context(|| format!("could not read {}", path.display()))?;
    let entry = KeyRing::generate_entry(&new_key_id());
    let spec = format!("{},{}", entry.expose_secret(), current.trim());
    KeyRing::parse(&spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    write_key_file(&path, &spec)?;
    println!("added a new key to {}", path.display());
    Ok(())
}
