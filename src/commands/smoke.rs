//! `cargo xtask smoke`: after `deploy`, on real AWS, the path CI cannot take. It checks the stack
//! and the env file, starts the bundled server in Cognito mode, runs the conformance tester
//! against it with an interactive sign-in (you sign in in your browser), checks the access token
//! Cognito issued (its `aud` is the resource, its scopes `<resource>/mcp:*`), and writes a report
//! you can attach to a bug: no secrets, no tokens.

mod preflight;
mod recorder;
mod verdict;

use std::{path::Path, sync::Arc, time::Duration};

use anyhow::Context;
use mcp_auth_conformance::{
    observe::flow::{Interactive, Login},
    report::Report as ConformanceReport,
    run::{RunError, RunOptions, run as run_checks},
};
use mcp_auth_server::{
    cognito::{self, CognitoOptions, Deployment},
    resource::ResourceUri,
};
use preflight::pool_id;
use recorder::{Recorder, TokenExchange};
pub use verdict::{Check, Verdict};

use crate::{aws, cli::SmokeArgs, commands::conformance::open_in_browser, env_layout};

/// Runs the smoke path; fails (exit 1) when any check fails.
pub async fn run(mut args: SmokeArgs, root: &Path) -> anyhow::Result<()> {
    let env_file = args
        .env_file
        .clone()
        .unwrap_or_else(|| root.join(env_layout::SERVER));
    let deployment = Deployment::from_env_file(&env_file).with_context(|| {
        format!(
            "reading {}; run `cargo xtask deploy` first",
            env_file.display()
        )
    })?;
    args.aws
        .region
        .get_or_insert_with(|| deployment.region.clone());
    let ctx = args.aws.connect().await?;
    eprintln!(
        "Checking stack {} in {} against {}.",
        args.aws.stack_name,
        ctx.region,
        env_file.display()
    );
    let mut checks = preflight::run(&ctx, &args.aws.stack_name, &deployment).await;
    for c in &checks {
        eprintln!("  {:<20} {:?}: {}", c.name, c.verdict, c.detail);
    }

    let (conformance, exchanges) = run_flows(&args, &ctx, &deployment).await?;
    checks.extend(judge_tokens(&exchanges, &deployment.resource));
    let conformance = match conformance {
        Ok(report) => Some(report),
        Err(e) => {
            checks.push(Check {
                name: "conformance",
                verdict: Verdict::Fail,
                detail: format!("the tester could not run: {e}"),
            });
            None
        }
    };
    if let Some(report) = &conformance {
        checks.push(conformance_check(report));
    }
    finish(
        &args,
        &ctx.region,
        &deployment,
        &checks,
        &exchanges,
        conformance.as_ref(),
    )
}

/// Starts the server in Cognito mode behind the recorder and runs the conformance tester with an
/// interactive sign-in; returns the tester's report and the token requests Cognito answered.
async fn run_flows(
    args: &SmokeArgs,
    ctx: &aws::AwsContext,
    deployment: &Deployment,
) -> anyhow::Result<(Result<ConformanceReport, RunError>, Vec<TokenExchange>)> {
    let recorder = Recorder::start(&deployment.domain_url)
        .await
        .context("starting the loopback stand-in for the managed login domain")?;
    let mut observed = deployment.clone();
    observed.domain_url = recorder.base.clone();
    let server = cognito::start(
        observed,
        CognitoOptions {
            listen: args.listen,
            aws: Some(ctx.config.clone()),
            trusted_proxies: Default::default(),
            ..Default::default()
        },
    )
    .await
    .context("starting the server in Cognito mode")?;
    eprintln!(
        "Server (Cognito mode) listening on {} for {}. The conformance tester now signs in \
         through your browser: sign in once with a user of the pool; later sign-ins reuse the \
         session.",
        server.addr, server.resource
    );
    let target: url::Url = server.resource.as_str().parse()?;
    let options = RunOptions {
        login: Login::Interactive(Interactive {
            open: Arc::new(open_in_browser),
            patience: Duration::from_secs(args.interactive_timeout),
        }),
        step_up_tool: Some("notes_add".into()),
        ..RunOptions::new(None)
    };
    let conformance = run_checks(&target, &options).await;
    server.shutdown().await.context("stopping the server")?;

    Ok((conformance, recorder.exchanges()))
}

/// Writes and prints the report; fails when a check failed.
fn finish(
    args: &SmokeArgs,
    region: &str,
    deployment: &Deployment,
    checks: &[Check],
    exchanges: &[TokenExchange],
    conformance: Option<&ConformanceReport>,
) -> anyhow::Result<()> {
    let text = report(args, region, deployment, checks, exchanges, conformance);
    let path = args
        .report
        .clone()
        .unwrap_or_else(|| "smoke-report.md".into());
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    println!("{text}");
    eprintln!(
        "Report written to {} (no secrets or tokens in it: attach it to a bug report).",
        path.display()
    );
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .map(|c| c.name)
        .collect();
    if !failed.is_empty() {
        anyhow::bail!("the smoke run failed: {}", failed.join(", "));
    }
    Ok(())
}

fn conformance_check(report: &ConformanceReport) -> Check {
    let s = &report.summary;
    let detail = format!(
        "{} passed, {} failed ({} MUST), {} warnings, {} skipped",
        s.pass, s.fail, s.must_failures, s.warn, s.skip
    );
    let verdict = if s.must_failures > 0 {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    Check {
        name: "conformance",
        verdict,
        detail,
    }
}

/// The tokens Cognito issued to the server: bound to the resource (`aud`), with the resource's
/// scopes; and every token request answered.
fn judge_tokens(exchanges: &[TokenExchange], resource: &ResourceUri) -> Vec<Check> {
    let issued: Vec<&TokenExchange> = exchanges.iter().filter(|e| e.claims.is_some()).collect();
    let mut checks = Vec::new();
    for refused in exchanges.iter().filter(|e| e.claims.is_none()) {
        checks.push(Check {
            name: "token request",
            verdict: Verdict::Fail,
            detail: format!(
                "Cognito answered a {} grant{} with HTTP {}: {}",
                refused.grant_type,
                refused
                    .resource
                    .as_ref()
                    .map(|r| format!(" (resource {r})"))
                    .unwrap_or_default(),
                refused.status,
                refused.error.as_deref().unwrap_or("no error code")
            ),
        });
    }
    if issued.is_empty() {
        checks.push(Check {
            name: "token",
            verdict: Verdict::Fail,
            detail: "Cognito issued no access token: the sign-in was not completed".into(),
        });
        return checks;
    }
    for exchange in issued {
        let claims = exchange.claims.as_ref().expect("issued");
        checks.push(audience(claims, resource, &exchange.grant_type));
        checks.push(scopes(claims, resource, &exchange.grant_type));
    }
    checks
}

fn audience(claims: &serde_json::Value, resource: &ResourceUri, grant: &str) -> Check {
    let aud: Vec<&str> = match &claims["aud"] {
        serde_json::Value::String(s) => vec![s.as_str()],
        serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
        _ => Vec::new(),
    };
    let bound = aud.contains(&resource.as_str());
    Check {
        name: "token aud",
        verdict: if bound { Verdict::Pass } else { Verdict::Fail },
        detail: if bound {
            format!("{grant}: aud is {resource}")
        } else {
            format!(
                "{grant}: aud is {aud:?}, not {resource}: Cognito did not bind the token to the resource (Essentials tier, and resource on /oauth2/authorize)"
            )
        },
    }
}

fn scopes(claims: &serde_json::Value, resource: &ResourceUri, grant: &str) -> Check {
    let scope = claims["scope"].as_str().unwrap_or_default();
    let custom: Vec<&str> = scope
        .split_whitespace()
        .filter(|s| s.contains('/'))
        .collect();
    let prefix = format!("{resource}/mcp:");
    let ok = !custom.is_empty() && custom.iter().all(|s| s.starts_with(&prefix));
    Check {
        name: "token scopes",
        verdict: if ok { Verdict::Pass } else { Verdict::Fail },
        detail: format!("{grant}: scope is {scope:?}; the resource's scopes must read {prefix}*"),
    }
}

fn report(
    args: &SmokeArgs,
    region: &str,
    d: &Deployment,
    checks: &[Check],
    exchanges: &[TokenExchange],
    conformance: Option<&ConformanceReport>,
) -> String {
    let failed = checks.iter().any(|c| c.verdict == Verdict::Fail);
    let mut text = format!(
        "# mcp-auth-kit smoke report\n\n\
         Result: **{}**\n\n\
         - xtask {} ({} {})\n- stack {} in {region}, user pool {}\n- resource {}\n- managed login {}\n",
        if failed { "FAIL" } else { "PASS" },
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
        args.aws.stack_name,
        pool_id(d),
        d.resource,
        d.domain_url,
    );
    if let Some(endpoint) = &d.endpoint_url {
        text.push_str(&format!(
            "- AWS endpoint override {endpoint} (not real AWS)\n"
        ));
    }
    text.push_str("\n## Checks\n\n| check | result | detail |\n| --- | --- | --- |\n");
    for c in checks {
        text.push_str(&format!(
            "| {} | {:?} | {} |\n",
            c.name,
            c.verdict,
            c.detail.replace('|', "\\|")
        ));
    }
    text.push_str("\n## Requests to Cognito's token endpoint\n\n| grant | resource sent | HTTP | error | aud | scope |\n| --- | --- | --- | --- | --- | --- |\n");
    for e in exchanges {
        let claim = |k: &str| {
            e.claims
                .as_ref()
                .map(|c| c[k].to_string())
                .unwrap_or_default()
        };
        text.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            e.grant_type,
            e.resource.as_deref().unwrap_or("-"),
            e.status,
            e.error.as_deref().unwrap_or("-"),
            claim("aud"),
            claim("scope"),
        ));
    }
    if let Some(report) = conformance {
        text.push_str("\n## Conformance of the server in Cognito mode\n\n");
        text.push_str(&report.markdown());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource() -> ResourceUri {
        "https://mcp.example.com/mcp".parse().unwrap()
    }

    fn issued(claims: serde_json::Value) -> TokenExchange {
        TokenExchange {
            grant_type: "authorization_code".into(),
            resource: None,
            status: 200,
            error: None,
            claims: Some(claims),
        }
    }

    fn verdicts(checks: &[Check]) -> Vec<(&str, Verdict)> {
        checks.iter().map(|c| (c.name, c.verdict)).collect()
    }

    #[test]
    fn a_bound_token_with_the_resources_scopes_passes() {
        let token = issued(serde_json::json!({
            "aud": "https://mcp.example.com/mcp",
            "scope": "openid email https://mcp.example.com/mcp/mcp:read"
        }));
        assert_eq!(
            verdicts(&judge_tokens(&[token], &resource())),
            [
                ("token aud", Verdict::Pass),
                ("token scopes", Verdict::Pass)
            ]
        );
    }

    #[test]
    fn an_unbound_token_or_foreign_scopes_fail() {
        let unbound = issued(serde_json::json!({
            "client_id": "abc",
            "scope": "https://mcp.example.com//mcp:read"
        }));
        let other = issued(serde_json::json!({
            "aud": ["https://other.example/mcp"],
            "scope": "openid"
        }));
        let checks = judge_tokens(&[unbound, other], &resource());
        assert!(
            checks.iter().all(|c| c.verdict == Verdict::Fail),
            "{checks:#?}"
        );
        assert!(
            checks[0].detail.contains("did not bind"),
            "{}",
            checks[0].detail
        );
    }

    #[test]
    fn no_token_or_a_refused_request_fails_with_cognitos_answer() {
        let refused = TokenExchange {
            grant_type: "authorization_code".into(),
            resource: Some("https://mcp.example.com/mcp".into()),
            status: 400,
            error: Some("invalid_request: resource".into()),
            claims: None,
        };
        let checks = judge_tokens(&[refused], &resource());
        assert_eq!(
            verdicts(&checks),
            [("token request", Verdict::Fail), ("token", Verdict::Fail)]
        );
        assert!(
            checks[0].detail.contains("HTTP 400: invalid_request"),
            "{}",
            checks[0].detail
        );
        assert!(
            judge_tokens(&[], &resource())[0]
                .detail
                .contains("not completed")
        );
    }
}
