//! What the smoke run checks in AWS before the server starts: the stack, the env file against
//! it, and the Cognito settings a sign-in depends on.

use aws_sdk_cognitoidentityprovider::types::{
    DeletionProtectionType, EmailSendingAccountType, ExplicitAuthFlowsType, UserPoolTierType,
};
use mcp_auth_server::cognito::Deployment;

use super::verdict::{Check, Verdict};
use crate::{
    aws::{AwsContext, AwsError},
    stack::{self, StackName, outputs::StackOutputs, status::is_updatable},
};

/// Runs every check; a check that cannot ask AWS fails with AWS's answer.
pub async fn run(ctx: &AwsContext, name: &StackName, deployment: &Deployment) -> Vec<Check> {
    let mut checks = vec![stack_matches(ctx, name, deployment).await];
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&ctx.config);
    let pool = pool_id(deployment);
    checks.push(resource_server(&cognito, pool, deployment).await);
    checks.push(upstream_client(&cognito, pool, deployment).await);
    checks.extend(user_pool(&cognito, pool).await);
    checks.push(table(ctx, deployment).await);
    checks
}

fn check(name: &'static str, verdict: Verdict, detail: impl Into<String>) -> Check {
    Check {
        name,
        verdict,
        detail: detail.into(),
    }
}

async fn stack_matches(ctx: &AwsContext, name: &StackName, d: &Deployment) -> Check {
    let cf = aws_sdk_cloudformation::Client::new(&ctx.config);
    let found = match stack::describe(&cf, name.as_str()).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return check(
                "stack",
                Verdict::Fail,
                format!(
                    "no stack {name} in {}: pass --stack-name and --region",
                    ctx.region
                ),
            );
        }
        Err(e) => return check("stack", Verdict::Fail, e.to_string()),
    };
    if !is_updatable(&found.status) {
        return check(
            "stack",
            Verdict::Fail,
            format!("{name} is {}", found.status),
        );
    }
    let outputs = match StackOutputs::from_stack(&found) {
        Ok(o) => o,
        Err(e) => return check("stack", Verdict::Fail, e.to_string()),
    };
    let stale: Vec<&str> = [
        (
            "MCP_RESOURCE_URI",
            outputs.resource_uri == d.resource.as_str(),
        ),
        ("COGNITO_ISSUER", outputs.issuer_url == d.issuer),
        (
            "COGNITO_DOMAIN_URL",
            outputs.domain_base_url == d.domain_url,
        ),
        (
            "COGNITO_UPSTREAM_CLIENT_ID",
            outputs.upstream_client_id == d.client_id,
        ),
        ("DYNAMODB_TABLE", outputs.table_name == d.table),
    ]
    .into_iter()
    .filter_map(|(key, same)| (!same).then_some(key))
    .collect();
    if stale.is_empty() {
        check(
            "stack",
            Verdict::Pass,
            format!(
                "{name} is {}; the env file matches its outputs",
                found.status
            ),
        )
    } else {
        check(
            "stack",
            Verdict::Fail,
            format!(
                "the env file's {} differ from stack {name}'s outputs: run `cargo xtask deploy`",
                stale.join(", ")
            ),
        )
    }
}

async fn resource_server(
    cognito: &aws_sdk_cognitoidentityprovider::Client,
    pool: &str,
    d: &Deployment,
) -> Check {
    let answer = cognito
        .describe_resource_server()
        .user_pool_id(pool)
        .identifier(d.resource.as_str())
        .send()
        .await;
    let server = match answer {
        Ok(out) => out.resource_server().cloned(),
        Err(e) => {
            return check(
                "resource server",
                Verdict::Fail,
                format!(
                    "no resource server {}: {}",
                    d.resource,
                    AwsError::from_sdk("DescribeResourceServer", e)
                ),
            );
        }
    };
    let scopes: Vec<String> = server
        .iter()
        .flat_map(|s| s.scopes())
        .map(|s| s.scope_name().to_owned())
        .collect();
    if ["mcp:read", "mcp:write"]
        .iter()
        .all(|s| scopes.iter().any(|x| x == s))
    {
        check(
            "resource server",
            Verdict::Pass,
            format!("{} with scopes {}", d.resource, scopes.join(", ")),
        )
    } else {
        check(
            "resource server",
            Verdict::Fail,
            format!(
                "{} has scopes {scopes:?}, not mcp:read and mcp:write",
                d.resource
            ),
        )
    }
}

async fn upstream_client(
    cognito: &aws_sdk_cognitoidentityprovider::Client,
    pool: &str,
    d: &Deployment,
) -> Check {
    let answer = cognito
        .describe_user_pool_client()
        .user_pool_id(pool)
        .client_id(&d.client_id)
        .send()
        .await;
    let client = match answer.map(|o| o.user_pool_client().cloned()) {
        Ok(Some(c)) => c,
        Ok(None) => {
            return check(
                "upstream client",
                Verdict::Fail,
                "Cognito described no client",
            );
        }
        Err(e) => {
            return check(
                "upstream client",
                Verdict::Fail,
                AwsError::from_sdk("DescribeUserPoolClient", e).to_string(),
            );
        }
    };
    let scopes = client.allowed_o_auth_scopes();
    let missing: Vec<String> = ["mcp:read", "mcp:write"]
        .iter()
        .map(|s| format!("{}/{s}", d.resource))
        .filter(|s| !scopes.contains(s))
        .collect();
    if !missing.is_empty() {
        return check(
            "upstream client",
            Verdict::Fail,
            format!("lacks the scopes {missing:?} the server asks for"),
        );
    }
    if !client.callback_urls().contains(&d.callback_url) {
        return check(
            "upstream client",
            Verdict::Fail,
            format!("{} is not among its callback URLs", d.callback_url),
        );
    }
    let flows = client.explicit_auth_flows();
    if !flows.contains(&ExplicitAuthFlowsType::AllowUserSrpAuth)
        && !flows.contains(&ExplicitAuthFlowsType::AllowUserAuth)
    {
        return check(
            "upstream client",
            Verdict::Warn,
            "no password sign-in flow (ALLOW_USER_SRP_AUTH, ALLOW_USER_AUTH): managed login may offer no way to sign in",
        );
    }
    check(
        "upstream client",
        Verdict::Pass,
        "scopes, callback and sign-in flows as the server needs",
    )
}

async fn user_pool(cognito: &aws_sdk_cognitoidentityprovider::Client, pool: &str) -> Vec<Check> {
    let described = match cognito.describe_user_pool().user_pool_id(pool).send().await {
        Ok(out) => out.user_pool().cloned(),
        Err(e) => {
            return vec![check(
                "user pool",
                Verdict::Fail,
                AwsError::from_sdk("DescribeUserPool", e).to_string(),
            )];
        }
    };
    let Some(p) = described else {
        return vec![check(
            "user pool",
            Verdict::Fail,
            "Cognito described no pool",
        )];
    };
    let tier = match p.user_pool_tier() {
        Some(UserPoolTierType::Essentials | UserPoolTierType::Plus) => check(
            "user pool tier",
            Verdict::Pass,
            "Essentials or Plus: resource binding (aud) is available",
        ),
        other => check(
            "user pool tier",
            Verdict::Fail,
            format!("{other:?}: resource binding needs Essentials or Plus"),
        ),
    };
    let protection = if p.deletion_protection() == Some(&DeletionProtectionType::Active) {
        check("deletion protection", Verdict::Pass, "active")
    } else {
        check(
            "deletion protection",
            Verdict::Warn,
            "inactive: a mistaken stack deletion deletes every user",
        )
    };
    let self_sign_up = p
        .admin_create_user_config()
        .is_some_and(|c| !c.allow_admin_create_user_only());
    let default_email = p
        .email_configuration()
        .and_then(|e| e.email_sending_account())
        .is_none_or(|a| *a == EmailSendingAccountType::CognitoDefault);
    let email = match (self_sign_up, default_email) {
        (true, true) => check(
            "email",
            Verdict::Warn,
            "self sign-up is on with Cognito's default email sender, which sends only a few emails a day: configure Amazon SES (EmailSendingAccount DEVELOPER) before real users sign up",
        ),
        (_, true) => check(
            "email",
            Verdict::Pass,
            "Cognito's default sender (a small daily quota; enough while only administrators create users)",
        ),
        _ => check("email", Verdict::Pass, "Amazon SES"),
    };
    vec![tier, protection, email]
}

async fn table(ctx: &AwsContext, d: &Deployment) -> Check {
    let answer = aws_sdk_dynamodb::Client::new(&ctx.config)
        .describe_table()
        .table_name(&d.table)
        .send()
        .await;
    match answer {
        Ok(out) => {
            let status = out
                .table()
                .and_then(|t| t.table_status())
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default();
            let verdict = if status == "ACTIVE" {
                Verdict::Pass
            } else {
                Verdict::Fail
            };
            check("table", verdict, format!("{} is {status}", d.table))
        }
        Err(e) => check(
            "table",
            Verdict::Fail,
            AwsError::from_sdk("DescribeTable", e).to_string(),
        ),
    }
}

/// The pool id, the last segment of the issuer.
pub(super) fn pool_id(d: &Deployment) -> &str {
    d.issuer.rsplit('/').next().unwrap_or_default()
}
