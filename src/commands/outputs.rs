//! `cargo xtask outputs`: the stack's status and outputs.

use anyhow::{Context, bail};
use aws_sdk_cloudformation::Client;

use crate::{
    cli::OutputsArgs,
    stack::{self, events::EventWatch, outputs, status::is_in_progress},
};

/// Runs the command.
pub async fn run(args: OutputsArgs) -> anyhow::Result<()> {
    let ctx = args.aws.connect().await?;
    let cf = Client::new(&ctx.config);
    let name = &args.aws.stack_name;
    let Some(mut found) = stack::describe(&cf, name.as_str()).await? else {
        bail!(
            "no stack named {name} in region {}: deploy it with `cargo xtask deploy`, or pass the \
             --region and --stack-name it was deployed with",
            ctx.region
        );
    };
    if args.wait && is_in_progress(&found.status) {
        eprintln!("Stack {name} is {}; following its events.", found.status);
        found = EventWatch::existing(&cf, &found)
            .await?
            .until_idle(args.timeout)
            .await
            .context("waiting for the stack to settle")?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outputs::json(&found))?);
        return Ok(());
    }
    println!("Stack {name} ({}): {}", ctx.region, found.status);
    if let Some(reason) = found.stack.stack_status_reason() {
        println!("Reason: {reason}");
    }
    if found.stack.outputs().is_empty() {
        println!("No outputs (yet).");
    } else {
        println!("{}", outputs::table(&found));
    }
    Ok(())
}
