//! Rebuilds or checks the search index and the statistics counters from the customer items.
//!
//! ```sh
//! TABLE_NAME=<the stack's TableName output> cargo run --release -p local-stack --bin search-index -- reindex
//! TABLE_NAME=... cargo run --release -p local-stack --bin search-index -- verify
//! ```
//!
//! `reindex` is idempotent and resumable: interrupted, run it again and it carries on where it
//! stopped (`reindex --restart` starts over). `verify` writes nothing and exits with status 1
//! when the index or the counters drifted from the customers. Both scan the whole table: run
//! them with credentials allowed to read (and, for `reindex`, write) it, and `DYNAMODB_ENDPOINT`
//! for DynamoDB Local.

use local_stack::reindex::{reindex, verify};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let store = local_stack::tool_store().await?;
    match args.first().map(String::as_str) {
        Some("reindex") => {
            let restart = args.iter().any(|a| a == "--restart");
            let report = reindex(&store, restart).await?;
            println!(
                "reindexed {} customers{}: {} entries written, {} stale entries deleted, {} counters corrected",
                report.customers,
                if report.resumed { " (resumed from a checkpoint)" } else { "" },
                report.entries_written,
                report.stale_deleted,
                report.counters_corrected
            );
            Ok(())
        }
        Some("verify") => {
            let drift = verify(&store).await?;
            print!("{drift}");
            if drift.is_zero() {
                println!("no drift");
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        _ => Err("usage: search-index reindex [--restart] | verify".into()),
    }
}
