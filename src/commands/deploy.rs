//! `cargo xtask deploy`: create or update the stack, then write the env files.

use std::{path::Path, time::Duration};

use anyhow::{Context, anyhow, bail};
use aws_sdk_cloudformation::{
    Client,
    types::{Capability, OnFailure, Tag},
};

use crate::{
    app_clients,
    aws::{self, AwsError},
    cli::DeployArgs,
    commands::xtask_command,
    env_layout::{self, Deployment},
    envfile,
    stack::{
        self, ExistingStack, OWNER_TAG_KEY, OWNER_TAG_VALUE, StackName,
        events::{EventWatch, FailedResource},
        outputs::{self, StackOutputs},
        parameters::{default_domain_prefix, parameter_list},
        plan::{DeployPlan, Refusal, plan},
        status::Operation,
        template::Template,
    },
};

/// Runs the command; `root` is the workspace root (default template and env folder).
pub async fn run(args: DeployArgs, root: &Path) -> anyhow::Result<()> {
    note_canonical_resource(&args);
    let template_path = args
        .template
        .clone()
        .unwrap_or_else(|| root.join("stacks/mcp-auth.yaml"));
    let template = Template::load(&template_path)?;
    let ctx = args.aws.connect().await?;
    let cf = Client::new(&ctx.config);
    let name = &args.aws.stack_name;
    let capabilities = validate(&cf, &template).await?;
    let timeout = args.timeout;
    let mut given = args.parameters.given();
    // Every deploy puts the users' protection back, should a cleanup have stopped half-way.
    given.push(("DeletionProtection", "ACTIVE".to_owned()));
    let create = |previous: Option<ExistingStack>| async {
        if let Some(failed) = previous {
            eprintln!(
                "Deleting stack {name}, left in {} by a failed create.",
                failed.status
            );
            let watch = EventWatch::existing(&cf, &failed).await?;
            cf.delete_stack()
                .stack_name(&failed.id)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DeleteStack", e))?;
            watch.until_settled(Operation::Delete, timeout).await?;
        }
        let mut given = given.clone();
        if args.parameters.domain_prefix.is_none() {
            let account = aws::account_id(&ctx.config).await?;
            let prefix =
                default_domain_prefix(name, &account, &ctx.region).map_err(|e| anyhow!(e))?;
            given.push(("DomainPrefix", prefix));
        }
        eprintln!(
            "Creating stack {name} in {} from {}.",
            ctx.region,
            template.shown(root)
        );
        let created = cf
            .create_stack()
            .stack_name(name.as_str())
            .template_body(&template.body)
            .set_parameters(Some(parameter_list(&given, &[])))
            .set_capabilities(Some(capabilities.clone()))
            .tags(owner_tag())
            .on_failure(OnFailure::Rollback)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateStack", e))?;
        let id = created.stack_id().unwrap_or(name.as_str()).to_owned();
        let stack = EventWatch::created(&cf, name.as_str(), &id)
            .until_settled(Operation::Create, timeout)
            .await?;
        anyhow::Ok(stack)
    };

    let existing = stack::describe(&cf, name.as_str()).await?;
    let settled = match plan(existing.as_ref(), args.replace_failed) {
        DeployPlan::Create => create(None).await?,
        DeployPlan::ReplaceFailed => create(existing).await?,
        DeployPlan::Update => {
            let existing = existing.expect("plan only updates a stack that exists");
            if let Some(wanted) = &args.parameters.domain_prefix {
                refuse_domain_change(&ctx, &existing, wanted, &args).await?;
            }
            eprintln!(
                "Updating stack {name} in {} from {}.",
                ctx.region,
                template.shown(root)
            );
            update(
                &cf,
                name,
                &template,
                &given,
                &capabilities,
                existing,
                timeout,
            )
            .await?
        }
        DeployPlan::Refuse(refusal) => {
            let existing = existing.expect("plan only refuses a stack that exists");
            let failures = match refusal {
                Refusal::RolledBackCreate => EventWatch::past_failures(&cf, &existing).await?,
                _ => Vec::new(),
            };
            bail!(refusal_message(&refusal, &args, &ctx.region, &failures));
        }
    };

    write_env_files(&args, root, &ctx, &settled).await
}

/// Says so when `--resource-uri` was not canonical as typed.
fn note_canonical_resource(args: &DeployArgs) {
    if let Some(flag) = &args.parameters.resource_uri
        && flag.given != flag.canonical.as_str()
    {
        eprintln!(
            "Resource URI {}: the canonical form of {:?}, as the server compares it and Cognito \
             binds tokens to it.",
            flag.canonical, flag.given
        );
    }
}

/// Reads the app clients' secrets, writes the env files and prints the outputs.
async fn write_env_files(
    args: &DeployArgs,
    root: &Path,
    ctx: &aws::AwsContext,
    settled: &ExistingStack,
) -> anyhow::Result<()> {
    let name = &args.aws.stack_name;
    let outputs = StackOutputs::from_stack(settled)?;
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&ctx.config);
    let upstream =
        app_clients::read(&cognito, &outputs.user_pool_id, &outputs.upstream_client_id).await?;
    let example =
        app_clients::read(&cognito, &outputs.user_pool_id, &outputs.example_client_id).await?;
    let env_dir = args.env_dir.clone().unwrap_or_else(|| root.to_owned());
    // Kept across deploys: a new key would void every consent page and cookie in flight.
    let csrf_key = env_layout::existing_csrf_key(&env_dir)
        .unwrap_or_else(|| mcp_auth_server::secret::random_token(32));
    let files = env_layout::files(
        &env_dir,
        &Deployment {
            outputs: &outputs,
            upstream: &upstream,
            example: &example,
            endpoint_url: ctx.endpoint_url.as_deref(),
            csrf_key: &csrf_key,
        },
    );
    for file in &files {
        file.write(envfile::Owner::Stack(name.as_str()))
            .context("the stack is deployed, but its env files are not all written")?;
    }

    println!("Stack {name} ({}): {}", ctx.region, settled.status);
    println!("{}", outputs::table(settled));
    println!("Env files (mode 0600, git-ignored; client secrets included):");
    for file in &files {
        println!("  {}", file.path.display());
    }
    Ok(())
}

/// Refuses a change of the managed login domain prefix while the stack's domain exists: the
/// prefix is create-only, so CloudFormation would create the new domain first, which Cognito
/// refuses (a pool holds one prefix domain), and roll back. Once the old domain is deleted, the
/// update creates the new one.
async fn refuse_domain_change(
    ctx: &aws::AwsContext,
    existing: &ExistingStack,
    wanted: &str,
    args: &DeployArgs,
) -> anyhow::Result<()> {
    let outputs = StackOutputs::from_stack(existing)?;
    let Some(current) = outputs.domain_prefix() else {
        return Ok(());
    };
    if current == wanted {
        return Ok(());
    }
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&ctx.config);
    let described = cognito
        .describe_user_pool_domain()
        .domain(current)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeUserPoolDomain", e))?;
    let exists = described
        .domain_description()
        .and_then(|d| d.user_pool_id())
        .is_some_and(|pool| pool == outputs.user_pool_id);
    if !exists {
        eprintln!("The managed login domain {current} is gone; the update creates {wanted}.");
        return Ok(());
    }
    bail!(domain_change_message(
        current,
        wanted,
        &outputs.user_pool_id,
        args,
        &ctx.region
    ))
}

fn domain_change_message(
    current: &str,
    wanted: &str,
    pool: &str,
    args: &DeployArgs,
    region: &str,
) -> String {
    let profile = args
        .aws
        .profile
        .as_ref()
        .map(|p| format!(" --profile {p}"))
        .unwrap_or_default();
    format!(
        "stack {name}'s managed login domain prefix is {current:?}, and a prefix cannot change \
         in place: CloudFormation would create the {wanted:?} domain first, which Cognito refuses \
         (a user pool holds one prefix domain), and roll back. Nothing was changed.\n\
         Change it in two steps (sign-in is unavailable between them):\n  \
         1. aws cognito-idp delete-user-pool-domain --domain {current} --user-pool-id {pool} \
         --region {region}{profile}\n  \
         2. {deploy}\n\
         Clients and bookmarks that use https://{current}.auth.{region}.amazoncognito.com stop \
         working; the server's env file is rewritten by step 2",
        name = args.aws.stack_name,
        deploy = xtask_command(
            &format!("deploy --domain-prefix {wanted}"),
            &args.aws.stack_name,
            region,
            &args.aws
        ),
    )
}

/// Asks CloudFormation to validate the template; returns the capabilities it requires.
async fn validate(cf: &Client, template: &Template) -> anyhow::Result<Vec<Capability>> {
    match cf
        .validate_template()
        .template_body(&template.body)
        .send()
        .await
    {
        Ok(out) => Ok(out.capabilities().to_vec()),
        Err(err) => {
            let err = AwsError::from_sdk("ValidateTemplate", err);
            match &err {
                AwsError::Service { code, message, .. } if code == "ValidationError" => bail!(
                    "the template {} is invalid: {message}\nFix it (cfn-lint {} shows every \
                     problem) and deploy again; nothing was changed in AWS",
                    template.path.display(),
                    template.path.display()
                ),
                _ => Err(err.into()),
            }
        }
    }
}

/// Updates our stack; "No updates are to be performed" is success, not an error.
async fn update(
    cf: &Client,
    name: &StackName,
    template: &Template,
    given: &[(&'static str, String)],
    capabilities: &[Capability],
    existing: ExistingStack,
    timeout: Duration,
) -> anyhow::Result<ExistingStack> {
    let watch = EventWatch::existing(cf, &existing).await?;
    let sent = cf
        .update_stack()
        .stack_name(&existing.id)
        .template_body(&template.body)
        .set_parameters(Some(parameter_list(given, &existing.parameter_keys)))
        .set_capabilities(Some(capabilities.to_vec()))
        .tags(owner_tag())
        .send()
        .await;
    match sent {
        Ok(_) => Ok(watch.until_settled(Operation::Update, timeout).await?),
        Err(err) => {
            let err = AwsError::from_sdk("UpdateStack", err);
            if err.is_validation_error_containing("No updates are to be performed") {
                eprintln!("Stack {name} is already up to date.");
                Ok(existing)
            } else {
                Err(err.into())
            }
        }
    }
}

fn owner_tag() -> Tag {
    Tag::builder()
        .key(OWNER_TAG_KEY)
        .value(OWNER_TAG_VALUE)
        .build()
}

fn refusal_message(
    refusal: &Refusal,
    args: &DeployArgs,
    region: &str,
    failures: &[FailedResource],
) -> String {
    let name = &args.aws.stack_name;
    let cmd = |sub: &str| xtask_command(sub, name, region, &args.aws);
    match refusal {
        Refusal::NotOurs => format!(
            "stack {name} in {region} exists but was not created by `cargo xtask deploy` (it lacks \
             the tag {OWNER_TAG_KEY}={OWNER_TAG_VALUE}), so it is left alone. Choose another \
             name with --stack-name"
        ),
        Refusal::RolledBackCreate => {
            let mut msg = format!(
                "stack {name} is in ROLLBACK_COMPLETE: its first create failed, and CloudFormation \
                 cannot update such a stack."
            );
            if !failures.is_empty() {
                msg.push_str("\nThat create failed on:");
                for f in failures {
                    msg.push_str(&format!(
                        "\n  {} ({}): {}",
                        f.logical_id, f.resource_type, f.reason
                    ));
                }
            }
            msg.push_str(&format!(
                "\nFix the cause, then recreate it (the failed stack holds no data) with:\n  {}\n\
                 or remove it with:\n  {}",
                cmd("deploy --replace-failed"),
                cmd("cleanup")
            ));
            msg
        }
        Refusal::Busy(status) => format!(
            "stack {name} is {status}: CloudFormation is working on it. Follow it with\n  {}\n\
             then deploy again",
            cmd("outputs --wait")
        ),
        Refusal::UpdateRollbackFailed => format!(
            "stack {name} is UPDATE_ROLLBACK_FAILED: an update failed and so did its rollback. \
             Fix the resource named in its events, run\n  aws cloudformation \
             continue-update-rollback --stack-name {name} --region {region}\nthen deploy again"
        ),
        Refusal::Unrecoverable(status) => format!(
            "stack {name} is {status} and cannot be updated. Remove it with\n  {}\nthen deploy again",
            cmd("cleanup")
        ),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn deploy_args(extra: &[&str]) -> DeployArgs {
        let cli = Cli::parse_from([&["cargo xtask", "deploy"][..], extra].concat());
        match cli.command {
            Command::Deploy(args) => args,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_rolled_back_create_names_its_failures_and_the_exact_recovery_commands() {
        let args = deploy_args(&["--stack-name", "demo", "--profile", "dev"]);
        let failures = [FailedResource {
            logical_id: "UserPoolDomain".into(),
            resource_type: "AWS::Cognito::UserPoolDomain".into(),
            status: "CREATE_FAILED".into(),
            reason: "Domain already associated with another user pool.".into(),
        }];
        let msg = refusal_message(&Refusal::RolledBackCreate, &args, "eu-west-1", &failures);
        assert!(msg.contains("stack demo is in ROLLBACK_COMPLETE"), "{msg}");
        assert!(
            msg.contains("UserPoolDomain (AWS::Cognito::UserPoolDomain): Domain already"),
            "{msg}"
        );
        assert!(
            msg.contains(
                "cargo xtask deploy --replace-failed --stack-name demo --region eu-west-1 --profile dev"
            ),
            "{msg}"
        );
        assert!(
            msg.contains("cargo xtask cleanup --stack-name demo --region eu-west-1 --profile dev"),
            "{msg}"
        );
    }

    #[test]
    fn other_refusals_say_what_to_do() {
        let args = deploy_args(&["--stack-name", "demo"]);
        let busy = refusal_message(
            &Refusal::Busy("UPDATE_IN_PROGRESS".into()),
            &args,
            "us-east-1",
            &[],
        );
        assert!(
            busy.contains("cargo xtask outputs --wait --stack-name demo --region us-east-1"),
            "{busy}"
        );
        let stuck = refusal_message(&Refusal::UpdateRollbackFailed, &args, "us-east-1", &[]);
        assert!(
            stuck.contains("continue-update-rollback --stack-name demo"),
            "{stuck}"
        );
        let foreign = refusal_message(&Refusal::NotOurs, &args, "us-east-1", &[]);
        assert!(
            foreign.contains("mcp-auth-kit:template=cognito-v1"),
            "{foreign}"
        );
    }
}
