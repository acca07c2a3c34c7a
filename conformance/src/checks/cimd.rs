//! Client ID Metadata Documents: a client named by its document's URL can start authorization,
//! and documents that lie about themselves are refused.

use super::{AsAnswer, Finding, fail, navigation_answer, pass, skip};
use crate::{
    catalogue::{Check, CheckId, Citation, Level},
    client::browser::Navigation,
    observe::{Observations, flow::CimdAttempts},
    revision::BOTH,
};

/// Where MCP 2026-07-28 defines Client ID Metadata Documents.
const CIMD: Citation = Citation {
    url: "https://modelcontextprotocol.io/specification/2026-07-28/basic/authorization/client-registration#client-id-metadata-documents",
    section: "MCP Authorization (2026-07-28), Client ID Metadata Documents",
};

/// `cimd.accepted`.
pub const ACCEPTED: Check = Check {
    id: CheckId::CimdAccepted,
    title: "A client identified by its metadata document URL can start authorization",
    level: Level::Should,
    citation: CIMD,
    revisions: BOTH,
    depends_on: &[CheckId::AsEndpoints],
    note: Some(
        "Only when client_id_metadata_document_supported is true and the server is on loopback: the tester serves its documents on http loopback, as development servers accept; a remote server cannot fetch them.",
    ),
    judge: accepted,
};

/// `cimd.client-id-mismatch-refused`.
pub const CLIENT_ID_MISMATCH_REFUSED: Check = Check {
    id: CheckId::CimdClientIdMismatchRefused,
    title: "A metadata document whose client_id is not its URL is refused",
    level: Level::Must,
    citation: CIMD,
    revisions: BOTH,
    depends_on: &[CheckId::CimdAccepted],
    note: None,
    judge: client_id_mismatch_refused,
};

/// `cimd.redirect-unlisted-refused`.
pub const REDIRECT_UNLISTED_REFUSED: Check = Check {
    id: CheckId::CimdRedirectUnlistedRefused,
    title: "A redirect_uri the metadata document does not list is refused",
    level: Level::Must,
    citation: CIMD,
    revisions: BOTH,
    depends_on: &[CheckId::CimdAccepted],
    note: None,
    judge: redirect_unlisted_refused,
};

/// The CIMD attempts, or why none ran.
fn attempts(o: &Observations) -> Result<&CimdAttempts, Finding> {
    match o.flows.as_ref().map(|f| &f.cimd) {
        None => Err(skip(
            "the authorization server metadata names no usable authorization and token endpoints",
        )),
        Some(Err(why)) => Err(skip(why.clone())),
        Some(Ok(a)) => Ok(a),
    }
}

/// Whether the AS went on with the request: a code, or a consent or sign-in page.
fn went_on(n: &Navigation) -> bool {
    n.issued_code() || (n.saw_form && !n.refused())
}

fn accepted(o: &Observations) -> Finding {
    let (n, document, fetched) = match attempts(o) {
        Ok(a) => (&a.accepted, &a.document, a.fetched),
        Err(skipped) => return skipped,
    };
    // The CIMD rules ask for https client_ids: an AS that refuses the tester's http:// document
    // without fetching it is doing what they require, not failing (issue 24 item 9). One that
    // fetched it and refused all the same refused the client, whatever its scheme.
    if n.refused() && document.scheme() == "http" && fetched != Some(true) {
        return skip(format!(
            "the AS refused the tester's http:// document ({document}); client_id metadata URLs must be https, so the refusal is right: publish the document over https and pass --cimd-url to judge CIMD"
        ));
    }
    if went_on(n) {
        pass(
            if n.issued_code() {
                "the AS fetched the document and issued a code"
            } else {
                "the AS fetched the document and went on to consent or sign-in"
            },
            n.hops.clone(),
        )
    } else if n.refused() {
        fail(
            format!("{} to a client identified by its document", n.describe()),
            n.hops.clone(),
        )
    } else {
        skip(n.describe())
    }
}

fn client_id_mismatch_refused(o: &Observations) -> Finding {
    match attempts(o).map(|a| &a.mismatched) {
        Err(skipped) => skipped,
        Ok(Err(why)) => skip(why.clone()),
        Ok(Ok(n)) => refused(n, "a document whose client_id is not its URL"),
    }
}

fn redirect_unlisted_refused(o: &Observations) -> Finding {
    match attempts(o) {
        Err(skipped) => skipped,
        Ok(a) => refused(&a.unlisted, "a redirect_uri the document does not list"),
    }
}

/// A CIMD request the AS must turn down.
fn refused(n: &Navigation, what: &str) -> Finding {
    if went_on(n) {
        let how = if n.issued_code() {
            n.describe()
        } else {
            "the AS went on to consent or sign-in".to_owned()
        };
        return fail(format!("{how} for {what}"), n.hops.clone());
    }
    match navigation_answer(n) {
        AsAnswer::Refused(said, _) => pass(format!("refused: {said}"), n.hops.clone()),
        AsAnswer::Fault(said) => fail(format!("{said} for {what}"), n.hops.clone()),
        AsAnswer::WentOn(_) | AsAnswer::Unclear(_) => skip(n.describe()),
    }
}
