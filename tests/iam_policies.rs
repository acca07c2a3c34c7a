//! The two IAM policies the docs show, held to the facts they are made from:
//!
//! - `stacks/deploy-policy.json` (the identity that runs deploy, cleanup and smoke; CloudFormation
//!   acts with it) must grant every permission the CloudFormation registry lists for the handlers
//!   of every resource type the template uses (`tests/iam/registry-handlers.json`, refreshed from
//!   the registry schemas cfn-lint ships), except those tied to properties the template does not
//!   set (`tests/iam/deploy-policy-exclusions.json`), and every AWS call the CLI makes itself
//!   (read from `src/`); and nothing else.
//! - `stacks/runtime-policy.json` (the running server) must grant exactly the DynamoDB calls the
//!   server's code makes (read from `server/src/`).

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use serde_json::Value;
use support::root;

fn read_json(rel: &str) -> Value {
    let path = root().join(rel);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Every action a policy allows, lower-cased (IAM compares actions case-insensitively).
fn policy_actions(rel: &str) -> BTreeSet<String> {
    let policy = read_json(rel);
    assert_eq!(policy["Version"], "2012-10-17", "{rel}");
    let mut actions = BTreeSet::new();
    for statement in policy["Statement"].as_array().expect("a Statement list") {
        assert_eq!(statement["Effect"], "Allow", "{rel}: {statement}");
        for action in statement["Action"].as_array().expect("an Action list") {
            let action = action.as_str().unwrap();
            assert!(
                !action.contains('*'),
                "{rel}: name actions, no wildcards: {action}"
            );
            assert!(
                actions.insert(action.to_ascii_lowercase()),
                "{rel}: {action} twice"
            );
        }
    }
    actions
}

/// The template's resources: logical id to (type, properties).
fn template_resources() -> BTreeMap<String, (String, Value)> {
    let template = support::cfn_template(&root().join("stacks/mcp-auth.yaml"));
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, r)| {
            (
                id.clone(),
                (
                    r["Type"].as_str().unwrap().to_owned(),
                    r.get("Properties").cloned().unwrap_or(Value::Null),
                ),
            )
        })
        .collect()
}

/// The handler permissions of one resource type, from the kept registry data.
fn handler_permissions(registry: &Value, resource_type: &str) -> BTreeSet<String> {
    registry["resource_types"][resource_type]["handlers"]
        .as_object()
        .unwrap_or_else(|| {
            panic!(
                "the template uses {resource_type}, which tests/iam/registry-handlers.json does \
                 not cover: refresh it with `.venv/bin/python tests/iam/registry.py > \
                 tests/iam/registry-handlers.json`, then cover the new permissions in \
                 stacks/deploy-policy.json"
            )
        })
        .values()
        .flat_map(|perms| perms.as_array().unwrap())
        .map(|p| p.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_registry_data_is_what_the_pinned_cfn_lint_ships_for_the_template() {
    let out = std::process::Command::new(support::python())
        .arg(root().join("tests/iam/registry.py"))
        .output()
        .expect("run tests/iam/registry.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fresh: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        fresh,
        read_json("tests/iam/registry-handlers.json"),
        "tests/iam/registry-handlers.json is not what the registry schemas say for the \
         template's resource types (a new type, or new schemas): refresh it with \
         `.venv/bin/python tests/iam/registry.py > tests/iam/registry-handlers.json` and \
         review the deploy policy"
    );
}

#[test]
fn the_deploy_policy_covers_every_handler_permission_of_the_template() {
    let registry = read_json("tests/iam/registry-handlers.json");
    let left_out = read_json("tests/iam/deploy-policy-exclusions.json")["left_out"].clone();
    let granted = policy_actions("stacks/deploy-policy.json");
    let resources = template_resources();
    let types: BTreeSet<&str> = resources.values().map(|(t, _)| t.as_str()).collect();
    let mut missing = Vec::new();
    for resource_type in types {
        for permission in handler_permissions(&registry, resource_type) {
            if !granted.contains(&permission.to_ascii_lowercase())
                && left_out.get(&permission).is_none()
            {
                missing.push(format!("{permission} ({resource_type})"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "stacks/deploy-policy.json lacks handler permissions: {missing:#?}"
    );
}

#[test]
fn each_permission_left_out_is_needed_only_by_properties_the_template_does_not_set() {
    let registry = read_json("tests/iam/registry-handlers.json");
    let left_out = read_json("tests/iam/deploy-policy-exclusions.json")["left_out"].clone();
    let granted = policy_actions("stacks/deploy-policy.json");
    let resources = template_resources();
    for (permission, why) in left_out.as_object().unwrap() {
        let listed = registry["resource_types"]
            .as_object()
            .unwrap()
            .keys()
            .any(|t| handler_permissions(&registry, t).contains(permission));
        assert!(
            listed,
            "{permission} is left out, but no handler lists it any more: drop it"
        );
        assert!(
            !granted.contains(&permission.to_ascii_lowercase()),
            "{permission} is both granted and left out"
        );
        assert!(
            why["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{permission}: say why"
        );
        for needed_with in why["only_with"].as_array().unwrap() {
            let (resource_type, property) = needed_with.as_str().unwrap().rsplit_once('.').unwrap();
            for (id, (t, properties)) in &resources {
                assert!(
                    t != resource_type || properties.get(property).is_none(),
                    "{id} sets {property}, which needs {permission}: grant it in \
                     stacks/deploy-policy.json and drop it from the exclusions"
                );
            }
        }
    }
}

/// What the CLI calls that no handler list names, and why the policy grants it.
const CLI_ONLY: &[(&str, &str)] = &[(
    "cloudformation:tagresource",
    "CreateStack and UpdateStack carry the ownership tag",
)];

#[test]
fn the_deploy_policy_covers_every_aws_call_the_cli_makes_and_grants_nothing_unexplained() {
    let called = aws_calls(
        &root().join("src"),
        &[
            "cloudformation",
            "cognitoidentityprovider",
            "dynamodb",
            "sts",
        ],
    );
    assert!(
        called.contains("cloudformation:createstack")
            && called.contains("cognito-idp:describeuserpoolclient"),
        "the scan finds the CLI's calls: {called:?}"
    );
    let granted = policy_actions("stacks/deploy-policy.json");
    // GetCallerIdentity needs no permission: STS answers it for any valid credentials.
    let missing: Vec<_> = called
        .iter()
        .filter(|a| !granted.contains(*a) && a.as_str() != "sts:getcalleridentity")
        .collect();
    assert!(
        missing.is_empty(),
        "the CLI calls these, and stacks/deploy-policy.json does not grant them: {missing:?}"
    );

    let registry = read_json("tests/iam/registry-handlers.json");
    let handlers: BTreeSet<String> = registry["resource_types"]
        .as_object()
        .unwrap()
        .keys()
        .flat_map(|t| handler_permissions(&registry, t))
        .map(|p| p.to_ascii_lowercase())
        .collect();
    let unexplained: Vec<_> = granted
        .iter()
        .filter(|a| {
            !handlers.contains(*a)
                && !called.contains(*a)
                && !CLI_ONLY.iter().any(|(action, _)| action == a)
        })
        .collect();
    assert!(
        unexplained.is_empty(),
        "stacks/deploy-policy.json grants what neither a handler nor the CLI needs: {unexplained:?}"
    );
}

#[test]
fn the_runtime_policy_is_exactly_the_dynamodb_calls_of_the_server() {
    let called = aws_calls(&root().join("server/src"), &["dynamodb"]);
    assert!(
        called.contains("dynamodb:getitem"),
        "the scan finds the server's calls: {called:?}"
    );
    let granted = policy_actions("stacks/runtime-policy.json");
    // `cargo xtask smoke` runs the server with the deploy identity's credentials.
    let deploy = policy_actions("stacks/deploy-policy.json");
    assert!(
        granted.is_subset(&deploy),
        "smoke runs the server with the deploy policy, which lacks {:?}",
        granted.difference(&deploy).collect::<Vec<_>>()
    );
    assert_eq!(
        granted, called,
        "stacks/runtime-policy.json must grant exactly the DynamoDB calls in server/src \
         (left: granted, right: called); update it and docs/deploying.md"
    );
}

#[test]
fn the_scan_would_see_a_new_call_and_asks_a_person_about_transactions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("store.rs"),
        "use aws_sdk_dynamodb::Client;\n\
         // self.client.query() in a comment is not a call\n\
         async fn f(c: &Client) { c.update_item().send().await; c\n    .get_item()\n    .send(); }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("other.rs"),
        "fn g(u: url::Url) { u.query(); }\n",
    )
    .unwrap();
    assert_eq!(
        aws_calls(dir.path(), &["dynamodb"]),
        BTreeSet::from([
            "dynamodb:getitem".to_owned(),
            "dynamodb:updateitem".to_owned()
        ]),
        "a file that does not name the SDK is not read as its calls"
    );
    std::fs::write(
        dir.path().join("tx.rs"),
        "use aws_sdk_dynamodb::Client;\nfn h(c: &Client) { c.transact_write_items(); }\n",
    )
    .unwrap();
    let asked = std::panic::catch_unwind(|| aws_calls(dir.path(), &["dynamodb"]));
    assert!(
        asked.is_err(),
        "a transaction needs a person to name its item actions"
    );
}

#[test]
fn the_docs_show_the_policies_as_shipped() {
    let docs = std::fs::read_to_string(root().join("docs/deploying.md")).unwrap();
    for file in ["stacks/deploy-policy.json", "stacks/runtime-policy.json"] {
        let policy = std::fs::read_to_string(root().join(file)).unwrap();
        assert!(
            docs.contains(&format!("```json\n{policy}```")),
            "docs/deploying.md does not show {file} as it is"
        );
    }
}

/// IAM actions of the calls made, in the `.rs` files under `dir`, through the AWS SDK crates
/// `aws_sdk_<service>` those files name: a call is `.operation()` with the operation's
/// snake-case name, the SDK's own list of operations deciding what is one.
fn aws_calls(dir: &Path, services: &[&str]) -> BTreeSet<String> {
    let operations: Vec<(&str, BTreeSet<String>)> =
        services.iter().map(|s| (*s, sdk_operations(s))).collect();
    let mut actions = BTreeSet::new();
    for file in rust_files(dir) {
        let text = std::fs::read_to_string(&file).unwrap();
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for (service, ops) in &operations {
            if !code.contains(&format!("aws_sdk_{service}")) {
                continue;
            }
            for call in method_calls(&code) {
                if ops.contains(&call) {
                    actions.insert(iam_action(service, &call, &file));
                }
            }
        }
    }
    actions
}

/// The IAM action of an SDK operation. Transactions and PartiQL are authorised per item action,
/// which the call alone does not tell: a person decides, and lists them here.
fn iam_action(service: &str, operation: &str, file: &Path) -> String {
    let per_item = [
        "transact_write_items",
        "transact_get_items",
        "execute_statement",
        "batch_execute_statement",
        "execute_transaction",
    ];
    assert!(
        !(service == "dynamodb" && per_item.contains(&operation)),
        "{} calls {operation}, which IAM authorises per item action (PutItem, UpdateItem, \
         DeleteItem, ConditionCheckItem; PartiQL*): decide which it uses, grant them in \
         stacks/runtime-policy.json, and map them here",
        file.display()
    );
    let prefix = match service {
        "cognitoidentityprovider" => "cognito-idp",
        other => other,
    };
    let pascal: String = operation
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    format!("{prefix}:{pascal}").to_ascii_lowercase()
}

/// `name` for every `.name()` call (no arguments: SDK operations start a builder).
fn method_calls(code: &str) -> BTreeSet<String> {
    regex::Regex::new(r"\.\s*([a-z][a-z0-9_]*)\s*\(\s*\)")
        .unwrap()
        .captures_iter(code)
        .map(|c| c[1].to_owned())
        .collect()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The operations of the AWS SDK crate `aws-sdk-<service>` at the version Cargo.lock pins: one
/// module per operation under its `src/operation/`, in Cargo's registry sources.
fn sdk_operations(service: &str) -> BTreeSet<String> {
    let name = format!("aws-sdk-{service}");
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains(&format!("name = \"{name}\"\n")))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .unwrap_or_else(|| panic!("{name} is not in Cargo.lock"))
        .trim_matches('"')
        .to_owned();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
    let sources = cargo_home.join("registry/src");
    let operations = std::fs::read_dir(&sources)
        .unwrap_or_else(|e| panic!("read {}: {e}", sources.display()))
        .map(|index| {
            index
                .unwrap()
                .path()
                .join(format!("{name}-{version}/src/operation"))
        })
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| panic!("no sources of {name} {version} under {}", sources.display()));
    let names: BTreeSet<String> = std::fs::read_dir(&operations)
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.path()
                .is_dir()
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    assert!(names.len() > 10, "{name}: {names:?}");
    names
}
