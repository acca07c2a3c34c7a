//! The checks, as data: what each one judges, how strongly the spec asks for it, where it says
//! so, and for which revisions.

use serde::Serialize;

/// How strongly the spec asks (RFC 2119 words, taken from the spec text the check cites).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Level {
    /// MUST / MUST NOT / REQUIRED.
    #[serde(rename = "MUST")]
    Must,
    /// SHOULD / RECOMMENDED.
    #[serde(rename = "SHOULD")]
    Should,
    /// MAY / OPTIONAL.
    #[serde(rename = "MAY")]
    May,
}

impl Level {
    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        }
    }
}

/// A revision of the MCP specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Revision {
    /// 2025-11-25.
    #[serde(rename = "2025-11-25")]
    R2025_11_25,
    /// 2026-07-28, the current one.
    #[serde(rename = "2026-07-28")]
    R2026_07_28,
}

impl Revision {
    /// The revision's date.
    pub fn as_str(self) -> &'static str {
        match self {
            Revision::R2025_11_25 => "2025-11-25",
            Revision::R2026_07_28 => "2026-07-28",
        }
    }

    /// Parses a date.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "2025-11-25" => Some(Revision::R2025_11_25),
            "2026-07-28" => Some(Revision::R2026_07_28),
            _ => None,
        }
    }
}

/// Both revisions.
pub const BOTH: &[Revision] = &[Revision::R2025_11_25, Revision::R2026_07_28];

/// Where the rule is written.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Citation {
    /// The document and anchor.
    pub url: &'static str,
    /// A short name for it.
    pub section: &'static str,
}

/// One check.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CheckDef {
    /// Stable id, `<area>.<rule>`.
    pub id: &'static str,
    /// What a pass means.
    pub title: &'static str,
    /// How strongly the spec asks.
    pub level: Level,
    /// Where.
    pub citation: Citation,
    /// Revisions it applies to.
    pub revisions: &'static [Revision],
    /// Checks whose failure makes this one unanswerable (it is skipped).
    pub depends_on: &'static [&'static str],
    /// How the level was read, where the spec is indirect or silent.
    pub note: Option<&'static str>,
}

/// Every check, in the order a client discovers things.
pub const CATALOGUE: &[CheckDef] = &[
    CheckDef {
        id: "challenge.status-401",
        title: "An MCP request without a token is answered 401",
        level: Level::Must,
        citation: Citation {
            url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-5.3",
            section: "OAuth 2.1 §5.3; MCP Authorization, Error Handling",
        },
        revisions: BOTH,
        depends_on: &[],
        note: None,
    },
    CheckDef {
        id: "challenge.bearer",
        title: "The 401 carries a parseable WWW-Authenticate with a Bearer challenge",
        level: Level::Must,
        citation: Citation {
            url: "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.2",
            section: "RFC 9110 §15.5.2, §11.6.1; RFC 6750 §3",
        },
        revisions: BOTH,
        depends_on: &["challenge.status-401"],
        note: None,
    },
    CheckDef {
        id: "challenge.resource-metadata",
        title: "If the Bearer challenge names resource_metadata, it is an absolute URL",
        level: Level::Must,
        citation: Citation {
            url: "https://datatracker.ietf.org/doc/html/rfc9728#section-5.1",
            section: "MCP Authorization, Protected Resource Metadata Discovery Requirements; RFC 9728 §5.1",
        },
        revisions: BOTH,
        depends_on: &["challenge.bearer"],
        note: Some(
            "Sending it is optional: the spec requires one of two mechanisms (this parameter, or the well-known URIs), which prm.discoverable judges; absent, this check is skipped. Sent, RFC 9728 §5.1 makes it the metadata URL clients use, so it must be an absolute URL.",
        ),
    },
    CheckDef {
        id: "challenge.scope",
        title: "The Bearer challenge says which scope to ask for",
        level: Level::Should,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#protected-resource-metadata-discovery-requirements",
            section: "MCP Authorization, Protected Resource Metadata Discovery Requirements (RFC 6750 §3)",
        },
        revisions: BOTH,
        depends_on: &["challenge.bearer"],
        note: None,
    },
    CheckDef {
        id: "prm.discoverable",
        title: "Protected Resource Metadata is found from the challenge or at a well-known URI",
        level: Level::Must,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#protected-resource-metadata-discovery-requirements",
            section: "MCP Authorization, Protected Resource Metadata Discovery Requirements",
        },
        revisions: BOTH,
        depends_on: &[],
        note: None,
    },
    CheckDef {
        id: "prm.json-object",
        title: "The metadata is a JSON object served as application/json",
        level: Level::Must,
        citation: Citation {
            url: "https://datatracker.ietf.org/doc/html/rfc9728#section-3.2",
            section: "RFC 9728 §3.2",
        },
        revisions: BOTH,
        depends_on: &["prm.discoverable"],
        note: None,
    },
    CheckDef {
        id: "prm.resource-matches",
        title: "The metadata's resource is the MCP server's canonical URI",
        level: Level::Must,
        citation: Citation {
            url: "https://datatracker.ietf.org/doc/html/rfc9728#section-3.3",
            section: "RFC 9728 §3.3; MCP Authorization, Canonical Server URI",
        },
        revisions: BOTH,
        depends_on: &["prm.json-object"],
        note: Some(
            "Compared as the spec allows: scheme and host case-insensitively, nothing else normalised.",
        ),
    },
    CheckDef {
        id: "prm.authorization-servers",
        title: "The metadata names at least one authorization server",
        level: Level::Must,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#authorization-server-location",
            section: "MCP Authorization, Authorization Server Location",
        },
        revisions: BOTH,
        depends_on: &["prm.json-object"],
        note: None,
    },
    CheckDef {
        id: "prm.bearer-methods",
        title: "If bearer_methods_supported is given, it includes header",
        level: Level::Must,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#token-requirements",
            section: "MCP Authorization, Token Requirements; RFC 9728 §2",
        },
        revisions: BOTH,
        depends_on: &["prm.json-object"],
        note: Some(
            "RFC 9728 makes the field optional; MCP clients MUST send tokens in the Authorization header, so a document without header contradicts the spec.",
        ),
    },
    CheckDef {
        id: "as.metadata-discoverable",
        title: "The authorization server's metadata is found by RFC 8414 or OIDC discovery",
        level: Level::Must,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#authorization-server-metadata-discovery",
            section: "MCP Authorization, Authorization Server Metadata Discovery; Overview item 5",
        },
        revisions: BOTH,
        depends_on: &["prm.authorization-servers"],
        note: None,
    },
    CheckDef {
        id: "as.issuer-matches",
        title: "The metadata's issuer is the authorization server the PRM names",
        level: Level::Must,
        citation: Citation {
            url: "https://datatracker.ietf.org/doc/html/rfc8414#section-3.3",
            section: "RFC 8414 §3.3",
        },
        revisions: BOTH,
        depends_on: &["as.metadata-discoverable"],
        note: None,
    },
    CheckDef {
        id: "as.endpoints",
        title: "The metadata gives authorization_endpoint and token_endpoint",
        level: Level::Must,
        citation: Citation {
            url: "https://datatracker.ietf.org/doc/html/rfc8414#section-2",
            section: "RFC 8414 §2",
        },
        revisions: BOTH,
        depends_on: &["as.metadata-discoverable"],
        note: None,
    },
    CheckDef {
        id: "as.https",
        title: "Authorization server endpoints use HTTPS (loopback excepted)",
        level: Level::Must,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#communication-security",
            section: "MCP Authorization, Communication Security",
        },
        revisions: BOTH,
        depends_on: &["as.metadata-discoverable"],
        note: Some(
            "Loopback addresses are accepted over http, for servers under test on a developer's machine.",
        ),
    },
    CheckDef {
        id: "as.pkce-s256",
        title: "code_challenge_methods_supported contains S256",
        level: Level::Must,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#authorization-code-protection",
            section: "MCP Authorization, Authorization Code Protection",
        },
        revisions: BOTH,
        depends_on: &["as.metadata-discoverable"],
        note: Some(
            "Clients MUST refuse to proceed without it, so its absence stops every compliant client.",
        ),
    },
    CheckDef {
        id: "as.iss-parameter",
        title: "authorization_response_iss_parameter_supported is advertised (RFC 9207)",
        level: Level::Should,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2026-07-28/basic/authorization#authorization-response-validation",
            section: "MCP Authorization (2026-07-28), Authorization Response Validation",
        },
        revisions: &[Revision::R2026_07_28],
        depends_on: &["as.metadata-discoverable"],
        note: Some(
            "The spec says authorization servers SHOULD send iss; those that do MUST advertise it. Only the advertisement is judged here.",
        ),
    },
    CheckDef {
        id: "dcr.registers",
        title: "Dynamic Client Registration answers 201 with a client_id",
        level: Level::Must,
        citation: Citation {
            url: "https://datatracker.ietf.org/doc/html/rfc7591#section-3.2.1",
            section: "RFC 7591 §3.2.1; MCP Authorization, Dynamic Client Registration",
        },
        revisions: BOTH,
        depends_on: &["as.metadata-discoverable"],
        note: Some(
            "DCR is optional (MAY; deprecated in 2026-07-28): skipped when no registration_endpoint is advertised; advertised, RFC 7591 applies. The check registers a public loopback client on the server.",
        ),
    },
    CheckDef {
        id: "dcr.echoes-metadata",
        title: "The registration response returns the registered metadata",
        level: Level::Must,
        citation: Citation {
            url: "https://datatracker.ietf.org/doc/html/rfc7591#section-3.2.1",
            section: "RFC 7591 §3.2.1",
        },
        revisions: BOTH,
        depends_on: &["dcr.registers"],
        note: None,
    },
    CheckDef {
        id: "dcr.rejects-insecure-redirect",
        title: "A registration with an http redirect URI on a public host is refused with an RFC 7591 error",
        level: Level::Must,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#communication-security",
            section: "MCP Authorization, Communication Security; RFC 7591 §3.2.2",
        },
        revisions: BOTH,
        depends_on: &["as.metadata-discoverable"],
        note: Some(
            "All redirect URIs MUST be localhost or HTTPS; the error must be invalid_redirect_uri or invalid_client_metadata.",
        ),
    },
    CheckDef {
        id: "authz.code-flow",
        title: "The authorization code flow with PKCE S256 and resource yields an access token",
        level: Level::Must,
        citation: Citation {
            url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-4.1",
            section: "OAuth 2.1 §4.1; MCP Authorization, Authorization Flow Steps",
        },
        revisions: BOTH,
        depends_on: &["as.endpoints"],
        note: Some(
            "Runs as a client registered by DCR. Needs --login form (or an AS that signs in without a form); skipped when the sign-in needs credentials that were not given.",
        ),
    },
    CheckDef {
        id: "authz.state-returned",
        title: "The authorization response returns state unchanged",
        level: Level::Must,
        citation: Citation {
            url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-4.1.2",
            section: "OAuth 2.1 §4.1.2",
        },
        revisions: BOTH,
        depends_on: &["authz.code-flow"],
        note: None,
    },
    CheckDef {
        id: "authz.iss-in-response",
        title: "The authorization response carries iss equal to the issuer (RFC 9207)",
        level: Level::Must,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2026-07-28/basic/authorization#authorization-response-validation",
            section: "MCP Authorization (2026-07-28), Authorization Response Validation; RFC 9207 §2",
        },
        revisions: &[Revision::R2026_07_28],
        depends_on: &["authz.code-flow"],
        note: Some(
            "Sending iss is a SHOULD; an AS that advertises authorization_response_iss_parameter_supported MUST send it, and a present iss MUST equal the issuer exactly. Skipped when neither advertised nor sent.",
        ),
    },
    CheckDef {
        id: "authz.iss-in-error-response",
        title: "Error responses to the client carry iss too (RFC 9207)",
        level: Level::Must,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2026-07-28/basic/authorization#authorization-response-validation",
            section: "MCP Authorization (2026-07-28), Authorization Response Validation; RFC 9207 §2",
        },
        revisions: &[Revision::R2026_07_28],
        depends_on: &["authz.code-flow"],
        note: Some(
            "Judged on the error the AS sends for a request without PKCE; skipped when the AS shows an error page instead of redirecting, or when iss is neither advertised nor sent.",
        ),
    },
    CheckDef {
        id: "authz.pkce-required",
        title: "An authorization request without code_challenge is refused",
        level: Level::Must,
        citation: Citation {
            url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-4.1.1",
            section: "OAuth 2.1 §4.1.1, §7.5.1",
        },
        revisions: BOTH,
        depends_on: &["authz.code-flow"],
        note: Some(
            "OAuth 2.1: authorization servers MUST enforce PKCE, the only exception being confidential OpenID Connect clients using nonce; the tester is a public client.",
        ),
    },
    CheckDef {
        id: "authz.pkce-plain-refused",
        title: "code_challenge_method=plain is refused when the metadata does not offer it",
        level: Level::Should,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#authorization-code-protection",
            section: "MCP Authorization, Authorization Code Protection; RFC 9700 §2.1.1",
        },
        revisions: BOTH,
        depends_on: &["authz.code-flow"],
        note: Some(
            "No RFC makes refusing plain a MUST (OAuth 2.1 still defines it). MCP clients use S256 only, and RFC 9700 recommends S256; an AS that does not list plain should not quietly accept it. A warning when plain is listed and accepted.",
        ),
    },
    CheckDef {
        id: "authz.verifier-checked",
        title: "A code exchanged with the wrong code_verifier is refused with invalid_grant",
        level: Level::Must,
        citation: Citation {
            url: "https://datatracker.ietf.org/doc/html/rfc7636#section-4.6",
            section: "RFC 7636 §4.6; OAuth 2.1 §4.1.3",
        },
        revisions: BOTH,
        depends_on: &["authz.code-flow"],
        note: None,
    },
    CheckDef {
        id: "authz.foreign-resource-refused",
        title: "A token requested for another resource does not work on this server",
        level: Level::Must,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#token-handling",
            section: "MCP Authorization, Token Handling and Access Token Privilege Restriction; RFC 8707 §2",
        },
        revisions: BOTH,
        depends_on: &["authz.code-flow"],
        note: Some(
            "Passes when the AS refuses the other resource (invalid_target) or the MCP server refuses the token it issued; fails when the server accepts a token issued for another resource (the token-passthrough ban).",
        ),
    },
    CheckDef {
        id: "authz.refresh-rotated",
        title: "A used refresh token cannot be used again (rotation for public clients)",
        level: Level::Must,
        citation: Citation {
            url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-4.3.1",
            section: "OAuth 2.1 §4.3.1; MCP Authorization, Refresh Tokens",
        },
        revisions: BOTH,
        depends_on: &["authz.code-flow"],
        note: Some(
            "OAuth 2.1: for public clients, refresh tokens MUST be sender-constrained or rotated. Skipped when no refresh token is issued.",
        ),
    },
    CheckDef {
        id: "cimd.accepted",
        title: "A client identified by its metadata document URL can start authorization",
        level: Level::Should,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2026-07-28/basic/authorization/client-registration#client-id-metadata-documents",
            section: "MCP Authorization (2026-07-28), Client ID Metadata Documents",
        },
        revisions: BOTH,
        depends_on: &["as.endpoints"],
        note: Some(
            "Only when client_id_metadata_document_supported is true and the server is on loopback: the tester serves its documents on http loopback, as development servers accept; a remote server cannot fetch them.",
        ),
    },
    CheckDef {
        id: "cimd.client-id-mismatch-refused",
        title: "A metadata document whose client_id is not its URL is refused",
        level: Level::Must,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2026-07-28/basic/authorization/client-registration#client-id-metadata-documents",
            section: "MCP Authorization (2026-07-28), Client ID Metadata Documents",
        },
        revisions: BOTH,
        depends_on: &["cimd.accepted"],
        note: None,
    },
    CheckDef {
        id: "cimd.redirect-unlisted-refused",
        title: "A redirect_uri the metadata document does not list is refused",
        level: Level::Must,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2026-07-28/basic/authorization/client-registration#client-id-metadata-documents",
            section: "MCP Authorization (2026-07-28), Client ID Metadata Documents",
        },
        revisions: BOTH,
        depends_on: &["cimd.accepted"],
        note: None,
    },
    CheckDef {
        id: "token.accepted",
        title: "A valid token is accepted: the opening request (initialize, or server/discover on 2026-07-28) and tools/list answer with results",
        level: Level::Must,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#token-handling",
            section: "MCP Authorization, Token Handling; OAuth 2.1 §5.2",
        },
        revisions: BOTH,
        depends_on: &[],
        note: Some(
            "Needs a token: the one the authorization code flow obtained, or one given with --token / --token-file; skipped without.",
        ),
    },
    CheckDef {
        id: "token.query-refused",
        title: "A valid token in the query string, without the header, is not accepted",
        level: Level::Should,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#token-requirements",
            section: "MCP Authorization, Token Requirements; RFC 6750 §2.3",
        },
        revisions: BOTH,
        depends_on: &["token.accepted"],
        note: Some(
            "The spec forbids clients to send tokens in the query; for servers it is silent, and RFC 6750 lets them accept it. Accepting it invites tokens into logs, so this is judged a SHOULD. Needs a token.",
        ),
    },
    CheckDef {
        id: "token.invalid-rejected",
        title: "A request with an invalid token is answered 401",
        level: Level::Must,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#token-handling",
            section: "MCP Authorization, Token Handling",
        },
        revisions: BOTH,
        depends_on: &[],
        note: None,
    },
    CheckDef {
        id: "token.invalid-token-error",
        title: "The 401 for an invalid token says error=\"invalid_token\"",
        level: Level::Should,
        citation: Citation {
            url: "https://datatracker.ietf.org/doc/html/rfc6750#section-3.1",
            section: "RFC 6750 §3, §3.1",
        },
        revisions: BOTH,
        depends_on: &["token.invalid-rejected"],
        note: Some(
            "RFC 6750: a server SHOULD include the error attribute when a request carried a token that failed; invalid_token is the code for a malformed, expired or otherwise invalid one.",
        ),
    },
    CheckDef {
        id: "token.unsigned-rejected",
        title: "An unsigned (alg none) JWT naming this issuer and resource is refused",
        level: Level::Must,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#access-token-privilege-restriction",
            section: "MCP Authorization, Access Token Privilege Restriction; OAuth 2.1 §5.2",
        },
        revisions: BOTH,
        depends_on: &[],
        note: None,
    },
    CheckDef {
        id: "token.expired-rejected",
        title: "An expired token is answered 401",
        level: Level::Must,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#token-handling",
            section: "MCP Authorization, Token Handling (\"Invalid or expired tokens MUST receive a HTTP 401 response\"); OAuth 2.1 §5.2",
        },
        revisions: BOTH,
        depends_on: &[],
        note: Some(
            "Needs a token of the server's authorization server that has expired (--expired-token, --expired-token-file); skipped without one. A JWT's exp claim is read, unverified, to make sure it has expired; an opaque token is taken on the caller's word.",
        ),
    },
    CheckDef {
        id: "token.insufficient-scope",
        title: "A tool the token's scope does not allow is answered 403 insufficient_scope with scope",
        level: Level::Should,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#runtime-insufficient-scope-errors",
            section: "MCP Authorization, Runtime Insufficient Scope Errors; RFC 6750 §3.1",
        },
        revisions: BOTH,
        depends_on: &["token.accepted"],
        note: Some(
            "Needs the name of a tool the token's scope does not allow (--step-up-tool); the tool is called with no arguments.",
        ),
    },
    CheckDef {
        id: "transport.https",
        title: "The MCP endpoint and the metadata URL it advertises use HTTPS, or loopback",
        level: Level::Must,
        citation: Citation {
            url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#communication-security",
            section: "MCP Authorization, Communication Security; OAuth 2.1 §1.5; RFC 6750 §5.3",
        },
        revisions: BOTH,
        depends_on: &[],
        note: Some(
            "The spec makes OAuth 2.1 §1.5 a MUST: bearer tokens travel only over TLS. Loopback (127.0.0.0/8, ::1, localhost) is exempt, as for redirect URIs. The AS's endpoints are judged by as.https.",
        ),
    },
    CheckDef {
        id: "transport.metadata-cors",
        title: "The metadata documents can be read from a web page of another origin (CORS)",
        level: Level::May,
        citation: Citation {
            url: "https://fetch.spec.whatwg.org/#http-access-control-allow-origin",
            section: "Fetch Standard, CORS protocol (the MCP spec and RFCs 8414 / 9728 are silent)",
        },
        revisions: BOTH,
        depends_on: &["prm.discoverable"],
        note: Some(
            "No spec asks for it: judged as MAY, so a failure is reported but never fails the gate. Browser-based MCP clients (web inspectors, in-browser agents) can discover authorization only if the PRM and AS metadata answer a cross-origin GET with Access-Control-Allow-Origin.",
        ),
    },
    CheckDef {
        id: "transport.token-not-echoed",
        title: "No response repeats the bearer token the request carried",
        level: Level::Should,
        citation: Citation {
            url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-7.1",
            section: "OAuth 2.1 §7.1 (token theft); MCP Authorization, Security Considerations, Token Theft",
        },
        revisions: BOTH,
        depends_on: &[],
        note: Some(
            "No sentence forbids it outright: judged as SHOULD. A token repeated in an error body or header ends up in client logs, proxies and screens; the spec's token-theft section asks servers not to expose tokens they hold.",
        ),
    },
];

/// A check by id.
pub fn check(id: &str) -> Option<&'static CheckDef> {
    CATALOGUE.iter().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_dependencies_come_first() {
        for (i, c) in CATALOGUE.iter().enumerate() {
            assert!(
                CATALOGUE[..i].iter().all(|o| o.id != c.id),
                "duplicate {}",
                c.id
            );
            for d in c.depends_on {
                assert!(
                    CATALOGUE[..i].iter().any(|o| o.id == *d),
                    "{} depends on {d}, which must come first",
                    c.id
                );
            }
            assert!(
                c.id.contains('.') && c.id == c.id.to_ascii_lowercase(),
                "{}",
                c.id
            );
        }
    }
}
