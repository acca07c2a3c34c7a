//! The template and `deploy` give the same answers: what `deploy` accepts, the template's
//! parameter constraints accept (so nothing fails after validation), and what the template accepts
//! is canonical (so a stack made without `deploy` still works); create-only properties fed by a
//! parameter are either safe to replace or guarded by `deploy`.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use serde_json::Value;
use support::{bare_xtask, root, run};

fn template() -> Value {
    support::cfn_template(&root().join("stacks/mcp-auth.yaml"))
}

/// A parameter's AllowedPattern as a regex, and its MaxLength.
fn constraint(template: &Value, parameter: &str) -> (regex::Regex, usize) {
    let p = &template["Parameters"][parameter];
    let pattern = p["AllowedPattern"].as_str().unwrap();
    // CloudFormation matches the whole value; the patterns are anchored so that both agree.
    assert!(
        pattern.starts_with('^') && pattern.ends_with('$'),
        "{pattern}"
    );
    let max = p["MaxLength"]
        .as_str()
        .map(|s| s.parse().unwrap())
        .or_else(|| p["MaxLength"].as_u64().map(|n| n as usize))
        .unwrap_or(usize::MAX);
    (regex::Regex::new(pattern).unwrap(), max)
}

/// What `deploy` makes of `--resource-uri uri`: the canonical URI it would send, or `None` when
/// it refuses. The template path does not exist, so nothing reaches AWS.
fn deploy_answer(uri: &str) -> Option<String> {
    let out = run(
        bare_xtask(),
        &[
            "deploy",
            "--resource-uri",
            uri,
            "--template",
            "/nonexistent/template.yaml",
        ],
    );
    if out.code == Some(2) {
        assert!(
            out.stderr.contains("invalid value"),
            "{uri}: {}",
            out.stderr
        );
        return None;
    }
    assert!(
        out.stderr.contains("cannot read the template"),
        "{uri}: {}",
        out.stderr
    );
    let canonical = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("Resource URI "))
        .map(|l| l.split(": the canonical form").next().unwrap().to_owned());
    Some(canonical.unwrap_or_else(|| uri.to_owned()))
}

const RESOURCE_URIS: &[&str] = &[
    // canonical
    "https://mcp.example.com/mcp",
    "https://mcp.example.com",
    "https://mcp.example.com:8443/mcp",
    "https://mcp.example.com/mcp/",
    "https://mcp.example.com/server/mcp",
    "https://mcp.example.com:1/mcp",
    "https://mcp.example.com:65535",
    "https://mcp.example.com:444/mcp",
    "https://mcp.example.com:4430/mcp",
    "https://mcp.example.com:80/mcp",
    "https://127.0.0.1/mcp",
    "https://xn--mnchen-3ya.example/mcp",
    "https://mcp.example.com/a%20b",
    "https://mcp.example.com/a:b@c",
    "http://localhost/mcp",
    "http://localhost:8080/mcp",
    "http://localhost:8080",
    "http://localhost:443/mcp",
    "http://localhost:81/mcp",
    "http://localhost:8/mcp",
    "http://localhost:800/mcp",
    "https://localhost:8443/mcp",
    // canonicalised by deploy, refused by the template as typed
    "https://mcp.example.com/",
    "https://MCP.example.com/mcp",
    "HTTPS://mcp.example.com/mcp",
    "https://mcp.example.com:443/mcp",
    "https://mcp.example.com:0443/mcp",
    "http://localhost:80/mcp",
    "http://LOCALHOST:8080/mcp",
    "http://localhost/",
    "https://münchen.example/mcp",
    // refused by both
    "http://mcp.example.com/mcp",
    "http://127.0.0.1:8080/mcp",
    "http://localhost.example.com/mcp",
    "https://mcp.example.com/mcp?x=1",
    "https://mcp.example.com/mcp#top",
    "https://mcp.example.com:0/mcp",
    "https://mcp.example.com:65536/mcp",
    "https://[::1]/mcp",
    "https://under_score.example.com/mcp",
    "https://mcp.example.com/a|b",
    "https://mcp.example.com/a b",
    "ftp://mcp.example.com/mcp",
    "mcp.example.com/mcp",
    "",
];

#[test]
fn deploy_and_the_template_agree_on_resource_uris() {
    let template = template();
    let (pattern, max) = constraint(&template, "ResourceUri");
    let allowed = |s: &str| pattern.is_match(s) && s.len() <= max;
    let long = format!("https://e.com/{}", "a".repeat(232));
    let too_long = format!("{long}a");
    let mut corpus: Vec<&str> = RESOURCE_URIS.to_vec();
    corpus.extend([long.as_str(), too_long.as_str()]);
    let mut disagreements = Vec::new();
    for uri in corpus {
        let answer = deploy_answer(uri);
        if let Some(canonical) = &answer
            && !allowed(canonical)
        {
            disagreements.push(format!(
                "deploy sends {canonical:?} (for {uri:?}), which the template refuses"
            ));
        }
        let canonical_as_typed = answer.as_deref() == Some(uri);
        if allowed(uri) != canonical_as_typed {
            disagreements.push(format!(
                "{uri:?}: the template {} it, deploy makes it {answer:?}",
                if allowed(uri) { "accepts" } else { "refuses" }
            ));
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
    assert_eq!(
        deploy_answer(&long).as_deref(),
        Some(long.as_str()),
        "246 characters fit"
    );
    assert_eq!(deploy_answer(&too_long), None, "247 do not");
}

#[test]
fn every_callback_url_deploy_accepts_the_template_accepts() {
    let template = template();
    let (pattern, _) = constraint(&template, "UpstreamCallbackUrl");
    for url in [
        "https://mcp.example.com/oauth/callback",
        "https://MCP.example.com",
        "HTTPS://mcp.example.com/cb",
        "http://localhost",
        "http://localhost:8080/oauth/callback",
        "http://LOCALHOST:8080/cb",
    ] {
        let out = run(
            bare_xtask(),
            &[
                "deploy",
                "--callback-url",
                url,
                "--template",
                "/nonexistent/template.yaml",
            ],
        );
        assert_ne!(out.code, Some(2), "{url}: {}", out.stderr);
        // deploy sends the URL as the URL parser writes it.
        let sent = url::Url::parse(url).unwrap();
        assert!(pattern.is_match(sent.as_str()), "{url} -> {sent}");
    }
}

/// Create-only properties a parameter feeds, and what keeps a change of that parameter safe.
const PARAMETER_FED_CREATE_ONLY: &[(&str, &str, &str, &str)] = &[
    (
        "UserPoolDomain",
        "Domain",
        "DomainPrefix",
        "deploy refuses the change while the domain exists (a pool holds one prefix domain), \
         tests/stack_lifecycle.rs",
    ),
    (
        "McpResourceServer",
        "Identifier",
        "ResourceUri",
        "the replacement is created before the old one is deleted, and a pool holds many \
         resource servers; the clients' scopes move with it in the same update",
    ),
];

#[test]
fn every_create_only_property_a_parameter_feeds_is_safe_to_change() {
    let template = template();
    let registry: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/iam/registry-handlers.json")).unwrap(),
    )
    .unwrap();
    let parameters: Vec<&String> = template["Parameters"].as_object().unwrap().keys().collect();
    let mut found = Vec::new();
    for (id, resource) in template["Resources"].as_object().unwrap() {
        let kind = resource["Type"].as_str().unwrap();
        for property in registry["resource_types"][kind]["createOnlyProperties"]
            .as_array()
            .unwrap()
        {
            let property = property.as_str().unwrap();
            let Some(value) = resource["Properties"].get(property) else {
                continue;
            };
            let text = value.to_string();
            for parameter in &parameters {
                let by_ref = text.contains(&format!("{{\"Ref\":\"{parameter}\"}}"));
                let by_sub = text.contains(&format!("${{{parameter}}}"));
                if by_ref || by_sub {
                    found.push((id.clone(), property.to_owned(), parameter.to_string()));
                }
            }
        }
    }
    let known: Vec<_> = PARAMETER_FED_CREATE_ONLY
        .iter()
        .map(|(id, property, parameter, _)| {
            (id.to_string(), property.to_string(), parameter.to_string())
        })
        .collect();
    for f in &found {
        assert!(
            known.contains(f),
            "{f:?}: a parameter feeds a create-only property, so changing it replaces the \
             resource; make that safe (or refused by deploy) and list it here"
        );
    }
    for k in &known {
        assert!(
            found.contains(k),
            "{k:?} is listed but no longer in the template"
        );
    }
}

#[test]
fn the_table_costs_no_kms_and_the_clients_offer_password_sign_in() {
    let template = template();
    for (id, resource) in template["Resources"].as_object().unwrap() {
        match resource["Type"].as_str().unwrap() {
            // SSEEnabled: true moves the table to the AWS-managed KMS key, billed per request;
            // without it DynamoDB encrypts with the AWS-owned key at no cost.
            "AWS::DynamoDB::Table" => assert!(
                resource["Properties"].get("SSESpecification").is_none(),
                "{id}: {}",
                resource["Properties"]
            ),
            // Managed login offers the sign-in methods the client's auth flows allow.
            "AWS::Cognito::UserPoolClient" => {
                let flows = resource["Properties"]["ExplicitAuthFlows"].to_string();
                for flow in [
                    "ALLOW_USER_SRP_AUTH",
                    "ALLOW_USER_AUTH",
                    "ALLOW_REFRESH_TOKEN_AUTH",
                ] {
                    assert!(flows.contains(flow), "{id}: {flows}");
                }
            }
            _ => {}
        }
    }
}
