//! The registry of checks: typed ids, and for each its unit (definition, dependencies and
//! judgement together, in `checks::<area>`), plus the words a check is described with.

use serde::Serialize;

use crate::{
    checks::{Finding, as_metadata, authz, challenge, cimd, dcr, prm, token, transport},
    observe::Observations,
};

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

/// One check, whole: what it judges, how strongly the spec asks, where it says so, for which
/// revisions, what it needs to have passed first, and the judgement itself.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// Its id (also its key in the registry below).
    pub id: CheckId,
    /// What a pass means.
    pub title: &'static str,
    /// How strongly the spec asks.
    pub level: Level,
    /// Where.
    pub citation: Citation,
    /// Revisions it applies to.
    pub revisions: &'static [Revision],
    /// Checks whose failure makes this one unanswerable (it is skipped).
    pub depends_on: &'static [CheckId],
    /// How the level was read, where the spec is indirect or silent.
    pub note: Option<&'static str>,
    /// The judgement: a pure function of what was observed. Called only once every check in
    /// `depends_on` has passed.
    pub judge: fn(&Observations) -> Finding,
}

/// The registry: every check's id, its stable name, and its unit, in the order a client
/// discovers things (the order of reports). The exhaustive `match`es the macro writes make the
/// build fail for an id without a unit.
macro_rules! registry {
    ($($variant:ident = $name:literal => $unit:path,)*) => {
        /// A check's id. Its name (`as_str`) is stable: reports, `--only` and baselines use it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum CheckId {
            $(
                #[doc = concat!("`", $name, "`.")]
                $variant,
            )*
        }

        impl CheckId {
            /// Every id, in report order.
            pub const ALL: &'static [CheckId] = &[$(CheckId::$variant),*];

            /// The stable name, `<area>.<rule>`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(CheckId::$variant => $name,)*
                }
            }

            /// The check itself.
            pub fn check(self) -> &'static Check {
                match self {
                    $(CheckId::$variant => &$unit,)*
                }
            }
        }
    };
}

registry! {
    ChallengeStatus401 = "challenge.status-401" => challenge::STATUS_401,
    ChallengeBearer = "challenge.bearer" => challenge::BEARER,
    ChallengeResourceMetadata = "challenge.resource-metadata" => challenge::RESOURCE_METADATA,
    ChallengeScope = "challenge.scope" => challenge::SCOPE,
    ChallengeNoErrorWithoutToken = "challenge.no-error-without-token" => challenge::NO_ERROR_WITHOUT_TOKEN,
    ChallengeEveryMethod = "challenge.every-method" => challenge::EVERY_METHOD,
    ChallengeEvery401 = "challenge.every-401" => challenge::EVERY_401,
    PrmDiscoverable = "prm.discoverable" => prm::DISCOVERABLE,
    PrmJsonObject = "prm.json-object" => prm::JSON_OBJECT,
    PrmResourceMatches = "prm.resource-matches" => prm::RESOURCE_MATCHES,
    PrmAuthorizationServers = "prm.authorization-servers" => prm::AUTHORIZATION_SERVERS,
    PrmBearerMethods = "prm.bearer-methods" => prm::BEARER_METHODS,
    PrmNoOfflineAccess = "prm.no-offline-access" => prm::NO_OFFLINE_ACCESS,
    AsMetadataDiscoverable = "as.metadata-discoverable" => as_metadata::METADATA_DISCOVERABLE,
    AsMetadataJson = "as.metadata-json" => as_metadata::METADATA_JSON,
    AsIssuerMatches = "as.issuer-matches" => as_metadata::ISSUER_MATCHES,
    AsEndpoints = "as.endpoints" => as_metadata::ENDPOINTS,
    AsResponseTypes = "as.response-types" => as_metadata::RESPONSE_TYPES,
    AsHttps = "as.https" => as_metadata::HTTPS,
    AsPkceS256 = "as.pkce-s256" => as_metadata::PKCE_S256,
    AsIssParameter = "as.iss-parameter" => as_metadata::ISS_PARAMETER,
    DcrRegisters = "dcr.registers" => dcr::REGISTERS,
    DcrEchoesMetadata = "dcr.echoes-metadata" => dcr::ECHOES_METADATA,
    DcrRejectsInsecureRedirect = "dcr.rejects-insecure-redirect" => dcr::REJECTS_INSECURE_REDIRECT,
    DcrRejectsMalformedRedirect = "dcr.rejects-malformed-redirect" => dcr::REJECTS_MALFORMED_REDIRECT,
    DcrRejectsScriptRedirect = "dcr.rejects-script-redirect" => dcr::REJECTS_SCRIPT_REDIRECT,
    AuthzCodeFlow = "authz.code-flow" => authz::CODE_FLOW,
    AuthzStateReturned = "authz.state-returned" => authz::STATE_RETURNED,
    AuthzIssInResponse = "authz.iss-in-response" => authz::ISS_IN_RESPONSE,
    AuthzIssInErrorResponse = "authz.iss-in-error-response" => authz::ISS_IN_ERROR_RESPONSE,
    AuthzPkceRequired = "authz.pkce-required" => authz::PKCE_REQUIRED,
    AuthzPkcePlainRefused = "authz.pkce-plain-refused" => authz::PKCE_PLAIN_REFUSED,
    AuthzVerifierChecked = "authz.verifier-checked" => authz::VERIFIER_CHECKED,
    AuthzChallengeNotVerifier = "authz.challenge-not-verifier" => authz::CHALLENGE_NOT_VERIFIER,
    AuthzCodeSingleUse = "authz.code-single-use" => authz::CODE_SINGLE_USE,
    AuthzCodeBoundToClient = "authz.code-bound-to-client" => authz::CODE_BOUND_TO_CLIENT,
    AuthzCodeBoundToRedirect = "authz.code-bound-to-redirect" => authz::CODE_BOUND_TO_REDIRECT,
    AuthzRefreshBoundToClient = "authz.refresh-bound-to-client" => authz::REFRESH_BOUND_TO_CLIENT,
    AuthzRedirectUnregisteredRefused = "authz.redirect-unregistered-refused" => authz::REDIRECT_UNREGISTERED_REFUSED,
    AuthzRedirectExactMatch = "authz.redirect-exact-match" => authz::REDIRECT_EXACT_MATCH,
    AuthzTokenNoStore = "authz.token-no-store" => authz::TOKEN_NO_STORE,
    AuthzTokenJson = "authz.token-json" => authz::TOKEN_JSON,
    AuthzTokenTypeBearer = "authz.token-type-bearer" => authz::TOKEN_TYPE_BEARER,
    AuthzForeignResourceRefused = "authz.foreign-resource-refused" => authz::FOREIGN_RESOURCE_REFUSED,
    AuthzRefreshRotated = "authz.refresh-rotated" => authz::REFRESH_ROTATED,
    CimdAccepted = "cimd.accepted" => cimd::ACCEPTED,
    CimdClientIdMismatchRefused = "cimd.client-id-mismatch-refused" => cimd::CLIENT_ID_MISMATCH_REFUSED,
    CimdRedirectUnlistedRefused = "cimd.redirect-unlisted-refused" => cimd::REDIRECT_UNLISTED_REFUSED,
    TokenAccepted = "token.accepted" => token::ACCEPTED,
    TokenQueryRefused = "token.query-refused" => token::QUERY_REFUSED,
    TokenInvalidRejected = "token.invalid-rejected" => token::INVALID_REJECTED,
    TokenInvalidTokenError = "token.invalid-token-error" => token::INVALID_TOKEN_ERROR,
    TokenUnsignedRejected = "token.unsigned-rejected" => token::UNSIGNED_REJECTED,
    TokenTamperedSignatureRejected = "token.tampered-signature-rejected" => token::TAMPERED_SIGNATURE_REJECTED,
    TokenForeignKeyRejected = "token.foreign-key-rejected" => token::FOREIGN_KEY_REJECTED,
    TokenExpiredRejected = "token.expired-rejected" => token::EXPIRED_REJECTED,
    TokenInsufficientScope = "token.insufficient-scope" => token::INSUFFICIENT_SCOPE,
    TokenSessionNotAuthentication = "token.session-not-authentication" => token::SESSION_NOT_AUTHENTICATION,
    TransportHttps = "transport.https" => transport::HTTPS,
    TransportOriginValidated = "transport.origin-validated" => transport::ORIGIN_VALIDATED,
    TransportHeaderMismatchRefused = "transport.header-mismatch-refused" => transport::HEADER_MISMATCH_REFUSED,
    TransportMetadataCors = "transport.metadata-cors" => transport::METADATA_CORS,
    TransportTokenNotEchoed = "transport.token-not-echoed" => transport::TOKEN_NOT_ECHOED,
}

impl CheckId {
    /// The id named `name`, exactly.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|id| id.as_str() == name)
    }

    /// Its area, the part before the dot (`prm` of `prm.discoverable`).
    pub fn area(self) -> &'static str {
        self.as_str().split('.').next().unwrap_or_default()
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Every check, in report order.
pub fn catalogue() -> impl Iterator<Item = &'static Check> {
    CheckId::ALL.iter().map(|id| id.check())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_name_their_own_ids_and_dependencies_come_first() {
        for (i, id) in CheckId::ALL.iter().enumerate() {
            let check = id.check();
            assert_eq!(
                check.id, *id,
                "{id} is registered with another check's unit"
            );
            for dep in check.depends_on {
                assert!(
                    CheckId::ALL[..i].contains(dep),
                    "{id} depends on {dep}, which must come first"
                );
            }
            let name = id.as_str();
            assert!(
                name.contains('.') && name == name.to_ascii_lowercase(),
                "{name}"
            );
            assert_eq!(CheckId::parse(name), Some(*id));
            assert!(!check.revisions.is_empty(), "{id} applies to no revision");
        }
    }
}
