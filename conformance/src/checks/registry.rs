//! The registry beside the checks: for each id, its unit.

use super::{as_metadata, authz, challenge, cimd, dcr, prm, token, transport};
use crate::catalogue::{Check, CheckId};

impl CheckId {
    /// The check itself.
    pub fn check(self) -> &'static Check {
        match self {
            CheckId::ChallengeStatus401 => &challenge::STATUS_401,
            CheckId::ChallengeBearer => &challenge::BEARER,
            CheckId::ChallengeResourceMetadata => &challenge::RESOURCE_METADATA,
            CheckId::ChallengeScope => &challenge::SCOPE,
            CheckId::ChallengeNoErrorWithoutToken => &challenge::NO_ERROR_WITHOUT_TOKEN,
            CheckId::ChallengeEveryMethod => &challenge::EVERY_METHOD,
            CheckId::ChallengeEvery401 => &challenge::EVERY_401,
            CheckId::PrmDiscoverable => &prm::DISCOVERABLE,
            CheckId::PrmJsonObject => &prm::JSON_OBJECT,
            CheckId::PrmResourceMatches => &prm::RESOURCE_MATCHES,
            CheckId::PrmAuthorizationServers => &prm::AUTHORIZATION_SERVERS,
            CheckId::PrmBearerMethods => &prm::BEARER_METHODS,
            CheckId::PrmNoOfflineAccess => &prm::NO_OFFLINE_ACCESS,
            CheckId::AsMetadataDiscoverable => &as_metadata::METADATA_DISCOVERABLE,
            CheckId::AsMetadataJson => &as_metadata::METADATA_JSON,
            CheckId::AsIssuerMatches => &as_metadata::ISSUER_MATCHES,
            CheckId::AsEndpoints => &as_metadata::ENDPOINTS,
            CheckId::AsResponseTypes => &as_metadata::RESPONSE_TYPES,
            CheckId::AsHttps => &as_metadata::HTTPS,
            CheckId::AsPkceS256 => &as_metadata::PKCE_S256,
            CheckId::AsIssParameter => &as_metadata::ISS_PARAMETER,
            CheckId::DcrRegisters => &dcr::REGISTERS,
            CheckId::DcrEchoesMetadata => &dcr::ECHOES_METADATA,
            CheckId::DcrRejectsInsecureRedirect => &dcr::REJECTS_INSECURE_REDIRECT,
            CheckId::DcrRejectsMalformedRedirect => &dcr::REJECTS_MALFORMED_REDIRECT,
            CheckId::DcrRejectsScriptRedirect => &dcr::REJECTS_SCRIPT_REDIRECT,
            CheckId::AuthzCodeFlow => &authz::CODE_FLOW,
            CheckId::AuthzStateReturned => &authz::STATE_RETURNED,
            CheckId::AuthzIssInResponse => &authz::ISS_IN_RESPONSE,
            CheckId::AuthzIssInErrorResponse => &authz::ISS_IN_ERROR_RESPONSE,
            CheckId::AuthzPkceRequired => &authz::PKCE_REQUIRED,
            CheckId::AuthzPkcePlainRefused => &authz::PKCE_PLAIN_REFUSED,
            CheckId::AuthzVerifierChecked => &authz::VERIFIER_CHECKED,
            CheckId::AuthzChallengeNotVerifier => &authz::CHALLENGE_NOT_VERIFIER,
            CheckId::AuthzCodeSingleUse => &authz::CODE_SINGLE_USE,
            CheckId::AuthzCodeBoundToClient => &authz::CODE_BOUND_TO_CLIENT,
            CheckId::AuthzCodeBoundToRedirect => &authz::CODE_BOUND_TO_REDIRECT,
            CheckId::AuthzRefreshBoundToClient => &authz::REFRESH_BOUND_TO_CLIENT,
            CheckId::AuthzRefreshNoWiderScope => &authz::REFRESH_NO_WIDER_SCOPE,
            CheckId::AuthzRedirectUnregisteredRefused => &authz::REDIRECT_UNREGISTERED_REFUSED,
            CheckId::AuthzRedirectExactMatch => &authz::REDIRECT_EXACT_MATCH,
            CheckId::AuthzTokenNoStore => &authz::TOKEN_NO_STORE,
            CheckId::AuthzTokenJson => &authz::TOKEN_JSON,
            CheckId::AuthzTokenTypeBearer => &authz::TOKEN_TYPE_BEARER,
            CheckId::AuthzForeignResourceRefused => &authz::FOREIGN_RESOURCE_REFUSED,
            CheckId::AuthzRefreshRotated => &authz::REFRESH_ROTATED,
            CheckId::CimdAccepted => &cimd::ACCEPTED,
            CheckId::CimdClientIdMismatchRefused => &cimd::CLIENT_ID_MISMATCH_REFUSED,
            CheckId::CimdRedirectUnlistedRefused => &cimd::REDIRECT_UNLISTED_REFUSED,
            CheckId::TokenAccepted => &token::ACCEPTED,
            CheckId::TokenQueryRefused => &token::QUERY_REFUSED,
            CheckId::TokenInvalidRejected => &token::INVALID_REJECTED,
            CheckId::TokenInvalidTokenError => &token::INVALID_TOKEN_ERROR,
            CheckId::TokenUnsignedRejected => &token::UNSIGNED_REJECTED,
            CheckId::TokenTamperedSignatureRejected => &token::TAMPERED_SIGNATURE_REJECTED,
            CheckId::TokenForeignKeyRejected => &token::FOREIGN_KEY_REJECTED,
            CheckId::TokenExpiredRejected => &token::EXPIRED_REJECTED,
            CheckId::TokenInsufficientScope => &token::INSUFFICIENT_SCOPE,
            CheckId::TokenSessionNotAuthentication => &token::SESSION_NOT_AUTHENTICATION,
            CheckId::TransportHttps => &transport::HTTPS,
            CheckId::TransportOriginValidated => &transport::ORIGIN_VALIDATED,
            CheckId::TransportHeaderMismatchRefused => &transport::HEADER_MISMATCH_REFUSED,
            CheckId::TransportMetadataCors => &transport::METADATA_CORS,
            CheckId::TransportTokenNotEchoed => &transport::TOKEN_NOT_ECHOED,
        }
    }
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
