//! The words a check is described with: its id and stable name, how strongly the spec asks,
//! where it says so, and the shape of a check's unit (definition, dependencies, judgement). The
//! units are in `checks::<area>`, their registry in `checks::registry`.

use serde::Serialize;

use crate::{checks::Finding, observe::Observations, revision::Revision};

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

/// Every check's id and its stable name, in the order a client discovers things (the order of
/// reports). Each id's unit is in `checks::<area>`, found through `checks::registry`, whose
/// exhaustive `match` makes the build fail for an id without a unit.
macro_rules! ids {
    ($($variant:ident = $name:literal,)*) => {
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
        }
    };
}

ids! {
    ChallengeStatus401 = "challenge.status-401",
    ChallengeBearer = "challenge.bearer",
    ChallengeResourceMetadata = "challenge.resource-metadata",
    ChallengeScope = "challenge.scope",
    ChallengeNoErrorWithoutToken = "challenge.no-error-without-token",
    ChallengeEveryMethod = "challenge.every-method",
    ChallengeEvery401 = "challenge.every-401",
    PrmDiscoverable = "prm.discoverable",
    PrmJsonObject = "prm.json-object",
    PrmResourceMatches = "prm.resource-matches",
    PrmAuthorizationServers = "prm.authorization-servers",
    PrmBearerMethods = "prm.bearer-methods",
    PrmNoOfflineAccess = "prm.no-offline-access",
    AsMetadataDiscoverable = "as.metadata-discoverable",
    AsMetadataJson = "as.metadata-json",
    AsIssuerMatches = "as.issuer-matches",
    AsEndpoints = "as.endpoints",
    AsResponseTypes = "as.response-types",
    AsHttps = "as.https",
    AsPkceS256 = "as.pkce-s256",
    AsIssParameter = "as.iss-parameter",
    DcrRegisters = "dcr.registers",
    DcrEchoesMetadata = "dcr.echoes-metadata",
    DcrRejectsInsecureRedirect = "dcr.rejects-insecure-redirect",
    DcrRejectsMalformedRedirect = "dcr.rejects-malformed-redirect",
    DcrRejectsScriptRedirect = "dcr.rejects-script-redirect",
    AuthzCodeFlow = "authz.code-flow",
    AuthzStateReturned = "authz.state-returned",
    AuthzIssInResponse = "authz.iss-in-response",
    AuthzIssInErrorResponse = "authz.iss-in-error-response",
    AuthzPkceRequired = "authz.pkce-required",
    AuthzPkcePlainRefused = "authz.pkce-plain-refused",
    AuthzVerifierChecked = "authz.verifier-checked",
    AuthzChallengeNotVerifier = "authz.challenge-not-verifier",
    AuthzCodeSingleUse = "authz.code-single-use",
    AuthzCodeBoundToClient = "authz.code-bound-to-client",
    AuthzCodeBoundToRedirect = "authz.code-bound-to-redirect",
    AuthzRefreshBoundToClient = "authz.refresh-bound-to-client",
    AuthzRefreshNoWiderScope = "authz.refresh-no-wider-scope",
    AuthzRedirectUnregisteredRefused = "authz.redirect-unregistered-refused",
    AuthzRedirectExactMatch = "authz.redirect-exact-match",
    AuthzTokenNoStore = "authz.token-no-store",
    AuthzTokenJson = "authz.token-json",
    AuthzTokenTypeBearer = "authz.token-type-bearer",
    AuthzForeignResourceRefused = "authz.foreign-resource-refused",
    AuthzRefreshRotated = "authz.refresh-rotated",
    CimdAccepted = "cimd.accepted",
    CimdClientIdMismatchRefused = "cimd.client-id-mismatch-refused",
    CimdRedirectUnlistedRefused = "cimd.redirect-unlisted-refused",
    TokenAccepted = "token.accepted",
    TokenQueryRefused = "token.query-refused",
    TokenInvalidRejected = "token.invalid-rejected",
    TokenInvalidTokenError = "token.invalid-token-error",
    TokenUnsignedRejected = "token.unsigned-rejected",
    TokenTamperedSignatureRejected = "token.tampered-signature-rejected",
    TokenForeignKeyRejected = "token.foreign-key-rejected",
    TokenExpiredRejected = "token.expired-rejected",
    TokenInsufficientScope = "token.insufficient-scope",
    TokenSessionNotAuthentication = "token.session-not-authentication",
    TransportHttps = "transport.https",
    TransportOriginValidated = "transport.origin-validated",
    TransportHeaderMismatchRefused = "transport.header-mismatch-refused",
    TransportMetadataCors = "transport.metadata-cors",
    TransportTokenNotEchoed = "transport.token-not-echoed",
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
