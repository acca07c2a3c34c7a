//! `cargo xtask cleanup`: delete the stack and the env files `deploy` wrote. Safe to re-run.
//!
//! The user pool is deletion-protected, so nothing deletes its users by mistake: cleanup says
//! what it is about to delete, asks for a confirmation (`--yes`, or the stack name typed on a
//! terminal), and only then turns the protection off and deletes the stack.

use std::{
    io::{BufRead, IsTerminal},
    path::Path,
    time::Duration,
};

use anyhow::{Context, bail};
use aws_sdk_cloudformation::{Client, types::Parameter};
use aws_sdk_cognitoidentityprovider::types::DeletionProtectionType;

use crate::{
    aws::{AwsContext, AwsError},
    cli::CleanupArgs,
    commands::xtask_command,
    env_layout, envfile,
    stack::{
        self, ExistingStack, OWNER_TAG_KEY, OWNER_TAG_VALUE, StackName,
        events::EventWatch,
        status::{Operation, is_updatable},
    },
};

/// The template parameter that holds the pool's deletion protection.
const PROTECTION: &str = "DeletionProtection";

/// Runs the command; `root` is the workspace root (the default env folder).
pub async fn run(args: CleanupArgs, root: &Path) -> anyhow::Result<()> {
    let ctx = args.aws.connect().await?;
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
            eprintln!("{}", Inventory::read(&ctx, &found).await.describe(name));
            let stdin = std::io::stdin();
            confirm(
                args.yes,
                name,
                &mut stdin.lock(),
                stdin.is_terminal(),
                &xtask_command("cleanup --yes", name, &ctx.region, &args.aws),
            )?;
            unprotect(&ctx, &cf, &found, args.timeout).await?;
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

/// What a deletion destroys, as far as AWS tells (counts are estimates).
#[derive(Debug, Default)]
struct Inventory {
    pool: Option<(String, Option<i32>)>,
    table: Option<(String, Option<i64>)>,
}

impl Inventory {
    /// Reads the pool's and the table's sizes; what cannot be read is reported as unknown.
    async fn read(ctx: &AwsContext, found: &ExistingStack) -> Self {
        let mut inventory = Self::default();
        if let Some(pool) = found.output("UserPoolId").map(str::to_owned) {
            let users = aws_sdk_cognitoidentityprovider::Client::new(&ctx.config)
                .describe_user_pool()
                .user_pool_id(&pool)
                .send()
                .await
                .ok()
                .and_then(|o| o.user_pool().map(|p| p.estimated_number_of_users()));
            inventory.pool = Some((pool, users));
        }
        if let Some(table) = found.output("TableName").map(str::to_owned) {
            let items = aws_sdk_dynamodb::Client::new(&ctx.config)
                .describe_table()
                .table_name(&table)
                .send()
                .await
                .ok()
                .and_then(|o| o.table().and_then(|t| t.item_count()));
            inventory.table = Some((table, items));
        }
        inventory
    }

    /// What the deletion destroys, for the person about to confirm it.
    fn describe(&self, stack: &StackName) -> String {
        let about = |n: Option<i64>| {
            n.map_or_else(|| "an unknown number of".into(), |n| format!("about {n}"))
        };
        let mut text = format!("Deleting stack {stack} deletes, for good:");
        match &self.pool {
            Some((pool, users)) => text.push_str(&format!(
                "\n  - user pool {pool} with {} users: their accounts and passwords (they \
                 cannot sign in again; re-deploying creates an empty pool)",
                about(users.map(i64::from))
            )),
            None => text.push_str("\n  - the user pool and every user in it"),
        }
        match &self.table {
            Some((table, items)) => text.push_str(&format!(
                "\n  - table {table} with {} items: client registrations (DCR, CIMD) and \
                 sign-ins in progress (DynamoDB refreshes this count about every six hours)",
                about(*items)
            )),
            None => text.push_str("\n  - the table with every client registration in it"),
        }
        text.push_str("\n  - the app clients, the managed login domain and its branding");
        text
    }
}

/// Asks for the confirmation: `--yes`, or the stack name typed on a terminal. Without a terminal
/// it refuses at once (it never waits on input nobody can type), saying what to pass.
fn confirm(
    yes: bool,
    stack: &StackName,
    input: &mut dyn BufRead,
    is_terminal: bool,
    with_yes: &str,
) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !is_terminal {
        bail!(
            "nothing was deleted: deleting the stack needs a confirmation, and standard input is \
             not a terminal to type it on. To delete it, run\n  {with_yes}"
        );
    }
    eprint!("Type the stack name ({stack}) to delete it, or anything else to keep it: ");
    let mut line = String::new();
    input
        .read_line(&mut line)
        .context("reading the confirmation")?;
    if line.trim() != stack.as_str() {
        bail!("nothing was deleted: the stack name was not typed");
    }
    Ok(())
}

/// Turns the pool's deletion protection off: through the stack while CloudFormation can update
/// it, else (a deletion that already failed on it, a create that never settled) on the pool.
async fn unprotect(
    ctx: &AwsContext,
    cf: &Client,
    found: &ExistingStack,
    timeout: Duration,
) -> anyhow::Result<()> {
    if !is_updatable(&found.status) {
        return unprotect_pool(ctx, found).await;
    }
    let protected =
        found.stack.parameters().iter().any(|p| {
            p.parameter_key() == Some(PROTECTION) && p.parameter_value() == Some("ACTIVE")
        });
    if !protected {
        return Ok(());
    }
    eprintln!("Turning the user pool's deletion protection off.");
    let watch = EventWatch::existing(cf, found).await?;
    let parameters = found
        .parameter_keys
        .iter()
        .map(|key| {
            let p = Parameter::builder().parameter_key(key);
            if key == PROTECTION {
                p.parameter_value("INACTIVE").build()
            } else {
                p.use_previous_value(true).build()
            }
        })
        .collect();
    cf.update_stack()
        .stack_name(&found.id)
        .use_previous_template(true)
        .set_parameters(Some(parameters))
        .set_tags(Some(found.stack.tags().to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("UpdateStack", e))?;
    watch.until_settled(Operation::Update, timeout).await?;
    Ok(())
}

/// Turns deletion protection off on the pool itself. UpdateUserPool resets every setting it is
/// not given, so each one the pool has is passed back unchanged.
async fn unprotect_pool(ctx: &AwsContext, found: &ExistingStack) -> anyhow::Result<()> {
    let Some(pool_id) = found.output("UserPoolId") else {
        return Ok(());
    };
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&ctx.config);
    let described = match cognito
        .describe_user_pool()
        .user_pool_id(pool_id)
        .send()
        .await
    {
        Ok(described) => described,
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            return Ok(());
        }
        Err(e) => return Err(AwsError::from_sdk("DescribeUserPool", e).into()),
    };
    let Some(pool) = described
        .user_pool()
        .filter(|p| p.deletion_protection() == Some(&DeletionProtectionType::Active))
    else {
        return Ok(());
    };
    eprintln!(
        "Turning deletion protection off on user pool {pool_id} (the stack's last deletion stopped on it)."
    );
    cognito
        .update_user_pool()
        .user_pool_id(pool_id)
        .deletion_protection(DeletionProtectionType::Inactive)
        .set_policies(pool.policies().cloned())
        .set_lambda_config(pool.lambda_config().cloned())
        .set_auto_verified_attributes(Some(pool.auto_verified_attributes().to_vec()))
        .set_verification_message_template(pool.verification_message_template().cloned())
        .set_sms_authentication_message(pool.sms_authentication_message().map(str::to_owned))
        .set_user_attribute_update_settings(pool.user_attribute_update_settings().cloned())
        .set_mfa_configuration(pool.mfa_configuration().cloned())
        .set_device_configuration(pool.device_configuration().cloned())
        .set_email_configuration(pool.email_configuration().cloned())
        .set_sms_configuration(pool.sms_configuration().cloned())
        .set_admin_create_user_config(pool.admin_create_user_config().cloned())
        .set_user_pool_add_ons(pool.user_pool_add_ons().cloned())
        .set_account_recovery_setting(pool.account_recovery_setting().cloned())
        .set_user_pool_tier(pool.user_pool_tier().cloned())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("UpdateUserPool", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack() -> StackName {
        "demo".parse().unwrap()
    }

    const WITH_YES: &str = "cargo xtask cleanup --yes --stack-name demo --region us-east-1";

    #[test]
    fn yes_confirms_without_reading_anything() {
        let mut nothing: &[u8] = b"";
        assert!(confirm(true, &stack(), &mut nothing, false, WITH_YES).is_ok());
    }

    #[test]
    fn without_a_terminal_it_refuses_at_once_and_names_the_flag() {
        // Input that would confirm is never read: only a person at a terminal types the name.
        let mut input: &[u8] = b"demo\n";
        let err = confirm(false, &stack(), &mut input, false, WITH_YES).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("nothing was deleted"), "{msg}");
        assert!(msg.contains(WITH_YES), "{msg}");
        assert_eq!(input, b"demo\n", "stdin was read");
    }

    #[test]
    fn on_a_terminal_only_the_exact_stack_name_confirms() {
        let mut typed: &[u8] = b"demo\n";
        assert!(confirm(false, &stack(), &mut typed, true, WITH_YES).is_ok());
        for other in [&b"y\n"[..], b"yes\n", b"Demo\n", b"demo2\n", b"", b"\n"] {
            let mut input = other;
            assert!(
                confirm(false, &stack(), &mut input, true, WITH_YES).is_err(),
                "{:?} confirmed",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn the_inventory_names_users_and_registrations() {
        let inventory = Inventory {
            pool: Some(("us-east-1_abc".into(), Some(42))),
            table: Some(("demo-StateTable-X".into(), None)),
        };
        let text = inventory.describe(&stack());
        assert!(
            text.contains("user pool us-east-1_abc with about 42 users"),
            "{text}"
        );
        assert!(
            text.contains("table demo-StateTable-X with an unknown number of items"),
            "{text}"
        );
        assert!(text.contains("client registrations"), "{text}");
    }
}
