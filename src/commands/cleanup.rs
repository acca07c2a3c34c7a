//! `cargo xtask cleanup`: delete the stack and the env files `deploy` wrote. Safe to re-run.

use std::path::Path;

use anyhow::bail;
use aws_sdk_cloudformation::Client;

use crate::{
    aws::{self, AwsError},
    cli::CleanupArgs,
    env_layout, envfile,
    stack::{self, OWNER_TAG_KEY, OWNER_TAG_VALUE, events::EventWatch, status::Operation},
};

/// Runs the command; `root` is the workspace root (the default env folder).
pub async fn run(args: CleanupArgs, root: &Path) -> anyhow::Result<()> {
    let ctx = aws::connect(&args.aws).await?;
    let cf = Client::new(&ctx.config);
    let name = &args.aws.stack_name;
    match stack::describe(&cf, name.as_str()).await? {
        None => eprintln!(
            "No stack named {name} in {}: nothing to delete in AWS.",
            ctx.region
        ),
        Some(found) if !found.owned => bail!(
            "stack {name} in {} was not created by `cargo xtask deploy` (it lacks the tag \
             {OWNER_TAG_KEY}={OWNER_TAG_VALUE}), so it is not deleted. Check --stack-name",
            ctx.region
        ),
        Some(found) => {
            eprintln!(
                "Deleting stack {name} in {}: user pool, app clients, and the table with every \
                 registration in it.",
                ctx.region
            );
            let watch = EventWatch::existing(&cf, &found).await?;
            if found.status != "DELETE_IN_PROGRESS" {
                cf.delete_stack()
                    .stack_name(&found.id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DeleteStack", e))?;
            }
            watch.until_settled(Operation::Delete, args.timeout).await?;
            eprintln!("Deleted stack {name}.");
        }
    }
    if args.keep_env {
        return Ok(());
    }
    let env_dir = args.env_dir.clone().unwrap_or_else(|| root.to_owned());
    for path in env_layout::paths(&env_dir) {
        match envfile::remove(&path, envfile::Owner::Stack(name.as_str())) {
            Ok(envfile::Removal::Removed(p)) => eprintln!("Removed {}", p.display()),
            Ok(envfile::Removal::Absent(_)) => {}
            // Not ours to delete: say so, and let the stack's deletion stand as success.
            Err(e) => eprintln!("warning: {e}"),
        }
    }
    Ok(())
}
