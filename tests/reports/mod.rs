//! Every report format, and proof that each is well-formed whatever text it carries: JUnit
//! parsed by a strict XML parser (Python's expat), SARIF validated against the SARIF 2.1.0
//! schema (the one `@microsoft/jest-sarif` ships, checked with ajv), Markdown parsed as
//! CommonMark with tables (every row keeps its four cells, every reason reads back as it was).

#![allow(
    dead_code,
    reason = "each test file that includes this module uses a part of it"
)]

use std::{path::Path, process::Command};

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD},
};
use mcp_auth_conformance::report::Report;

/// Ports change from run to run: they go, wherever they show (target, reasons, evidence).
pub fn stable(text: &str) -> String {
    let mut out = text.to_owned();
    for host in ["127.0.0.1:", "localhost:"] {
        let mut done = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find(host) {
            done.push_str(&rest[..i + host.len()]);
            rest = &rest[i + host.len()..];
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            done.push_str("[PORT]");
            rest = &rest[digits..];
        }
        done.push_str(rest);
        out = done;
    }
    out
}

/// Each format's name and text.
pub fn every_format(report: &Report) -> Vec<(&'static str, String)> {
    vec![
        ("table", report.table()),
        ("json", report.json()),
        ("markdown", report.markdown()),
        ("junit", report.junit()),
        ("sarif", report.sarif()),
    ]
}

/// The forms a credential could take in a report if it leaked.
pub fn encodings(credential: &str) -> Vec<String> {
    let bytes = credential.as_bytes();
    vec![
        credential.to_owned(),
        URL_SAFE_NO_PAD.encode(bytes),
        STANDARD.encode(bytes),
        STANDARD_NO_PAD.encode(bytes),
        url::form_urlencoded::byte_serialize(bytes).collect(),
    ]
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Asserts that every format of `report` is well-formed.
pub fn assert_valid(report: &Report) {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("report.junit.xml");
    std::fs::write(&junit, report.junit()).unwrap();
    let sarif = dir.path().join("report.sarif");
    std::fs::write(&sarif, report.sarif()).unwrap();
    assert_files_valid(&junit, &sarif);
    assert_markdown_holds(report);
}

/// Asserts that a JUnit file is well-formed XML and a SARIF file valid SARIF 2.1.0.
pub fn assert_files_valid(junit: &Path, sarif: &Path) {
    let parsed = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])",
        ])
        .arg(junit)
        .output()
        .expect("python3 runs (it parses the JUnit report)");
    assert!(
        parsed.status.success(),
        "the JUnit report is not well-formed XML: {}\n{}",
        String::from_utf8_lossy(&parsed.stderr),
        std::fs::read_to_string(junit).unwrap_or_default()
    );
    let validator = root().join("tests/third_party/validate_sarif.mjs");
    let modules = root().join("tests/third_party/node_modules/@microsoft/jest-sarif");
    assert!(
        modules.exists(),
        "the SARIF schema is not installed: run\n  npm ci --prefix tests/third_party\n(.ci/run does)"
    );
    let checked = Command::new("node")
        .arg(&validator)
        .arg(sarif)
        .output()
        .expect("node runs (it validates the SARIF report)");
    assert!(
        checked.status.success(),
        "the SARIF report does not validate: {}{}\n{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr),
        std::fs::read_to_string(sarif).unwrap_or_default()
    );
}

/// Every result is one table row of four cells, and its reason reads back as it was (control
/// characters aside, which become spaces).
fn assert_markdown_holds(report: &Report) {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let markdown = report.markdown();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut in_cell = false;
    for event in Parser::new_ext(&markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::TableRow) => rows.push(Vec::new()),
            Event::Start(Tag::TableCell) => {
                in_cell = true;
                if let Some(row) = rows.last_mut() {
                    row.push(String::new());
                }
            }
            Event::End(TagEnd::TableCell) => in_cell = false,
            Event::Text(t) | Event::Code(t) if in_cell => {
                if let Some(cell) = rows.last_mut().and_then(|r| r.last_mut()) {
                    cell.push_str(&t);
                }
            }
            Event::Html(_) | Event::InlineHtml(_) => {
                panic!("server text became HTML in the Markdown report:\n{markdown}")
            }
            _ => {}
        }
    }
    assert_eq!(rows.len(), report.results.len(), "{markdown}");
    for (row, result) in rows.iter().zip(&report.results) {
        assert_eq!(row.len(), 4, "{row:?}\n{markdown}");
        assert_eq!(row[0], result.id.as_str());
        let expected: String = result
            .reason
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        assert_eq!(row[3], expected, "{markdown}");
    }
}
