//! The façade's clients: registered by DCR (RFC 7591) or described by a Client ID Metadata
//! Document, and the rules their redirect URIs follow.

use icu_properties::{
    CodePointMapData, CodePointSetData,
    props::{
        DefaultIgnorableCodePoint, Emoji, EmojiModifier, ExtendedPictographic, GeneralCategory,
        GeneralCategoryGroup,
    },
};
use serde::{Deserialize, Serialize};

use super::store::{Kind, Record};
use crate::{
    endpoint::{is_loopback_http, loopback_host_prefix},
    oauth::shown,
};

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A public client (PKCE only).
    None,
    /// HTTP Basic with the client secret.
    ClientSecretBasic,
    /// The client secret in the form body.
    ClientSecretPost,
}

impl AuthMethod {
    /// Parses the RFC 7591 value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            _ => None,
        }
    }

    /// The RFC 7591 value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }
}

/// Where a client's metadata came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Dynamic Client Registration.
    Dcr,
    /// A Client ID Metadata Document.
    Cimd,
}

/// A client the façade knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// The client id (for CIMD, the document's URL).
    pub client_id: String,
    /// SHA-256 of the secret, hex; secrets are 256-bit random, so a fast hash is enough.
    pub secret_sha256: Option<String>,
    /// Token endpoint authentication.
    pub auth_method: AuthMethod,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// A name to show on the consent page.
    pub client_name: Option<String>,
    /// Registered grant types.
    pub grant_types: Vec<String>,
    /// Where it came from.
    pub origin: Origin,
    /// When it was registered (seconds since the epoch).
    pub issued_at: u64,
}

impl Record for Client {
    const KIND: Kind = Kind::Client;
}

impl Client {
    /// Whether `requested` is one of the client's redirect URIs: exactly, except that for
    /// loopback redirect URIs the port may differ (RFC 8252 section 7.3).
    pub fn accepts_redirect(&self, requested: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| redirect_matches(registered, requested))
    }

    /// The name to show, falling back to the id.
    pub fn display_name(&self) -> &str {
        self.client_name.as_deref().unwrap_or(&self.client_id)
    }
}

/// Exact string matching (RFC 9700 section 2.1), except that the port of a loopback redirect
/// URI may differ (RFC 8252 section 7.3). Nothing is parsed: a URL parser would repair dot
/// segments, case, octal addresses and stray whitespace into the registered URI.
pub fn redirect_matches(registered: &str, requested: &str) -> bool {
    registered == requested
        || matches!(
            (loopback_without_port(registered), loopback_without_port(requested)),
            (Some(r), Some(q)) if r == q
        )
}

/// `(host, path and query)` of `http://<loopback host>[:<port>]<path>` as written, the port
/// dropped; `None` for anything else, or a port not written as 1 to 65535 in canonical decimal.
fn loopback_without_port(uri: &str) -> Option<(&str, &str)> {
    let authority = uri.strip_prefix("http://")?;
    let host = loopback_host_prefix(authority)?;
    let after_host = &authority[host.len()..];
    let rest = match after_host.strip_prefix(':') {
        Some(port_on) => {
            let digits = port_on
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(port_on.len());
            let port = &port_on[..digits];
            let canonical = !port.starts_with('0') && port.parse::<u16>().is_ok();
            if !canonical {
                return None;
            }
            &port_on[digits..]
        }
        None => after_host,
    };
    (rest.is_empty() || rest.starts_with('/')).then_some((host, rest))
}

/// Most redirect URIs one client may have, registered or in a metadata document.
pub const MAX_REDIRECT_URIS: usize = 10;
/// Longest redirect URI, in bytes: far beyond any real one, and it bounds what a registration
/// stores (ten of these and a 200-character name, a few KiB).
pub const MAX_REDIRECT_URI_BYTES: usize = 2048;

/// Why a client's redirect URIs cannot be accepted: the one rule for registrations and
/// metadata documents alike.
pub fn redirect_uris_problem(uris: &[String]) -> Option<String> {
    if uris.is_empty() || uris.len() > MAX_REDIRECT_URIS {
        return Some(format!("give 1 to {MAX_REDIRECT_URIS} redirect_uris"));
    }
    uris.iter().find_map(|uri| {
        redirect_uri_problem(uri).map(|problem| format!("redirect URI {} {problem}", shown(uri)))
    })
}

/// Why a redirect URI cannot be registered.
pub fn redirect_uri_problem(uri: &str) -> Option<&'static str> {
    if uri.len() > MAX_REDIRECT_URI_BYTES {
        return Some("is longer than 2048 bytes");
    }
    // URL parsers drop tabs and newlines and turn backslashes into slashes: what is registered
    // must be exactly what is later compared, so such input is refused, not repaired.
    if uri
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return Some("contains whitespace, control characters or backslashes");
    }
    let Ok(url) = url::Url::parse(uri) else {
        return Some("is not an absolute URI");
    };
    // `http://localhost:3000` and `http://localhost:3000/` are the same URI; nothing else may differ.
    if url.as_str() != uri && url.as_str().strip_suffix('/') != Some(uri) {
        return Some(
            "is not in canonical form (lower-case scheme and host, no default port, no dot segments)",
        );
    }
    if url.fragment().is_some() || uri.contains('#') {
        return Some("has a fragment");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("has user information");
    }
    match url.scheme() {
        "https" if url.host_str().is_some() => None,
        "http" if is_loopback_http(&url) => None,
        "http" => Some("uses http on a host that is not loopback (use https)"),
        _ => Some("uses a scheme other than https or loopback http"),
    }
}

/// Why a client name cannot be shown on the consent page: too long, blank, or written so that
/// it reads differently from what it is (hidden characters, bidirectional overrides, stacked
/// marks). Character properties are Unicode 18.0's, from `icu_properties`.
pub fn client_name_problem(name: &str) -> Option<&'static str> {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() > 200 {
        return Some("is longer than 200 characters");
    }
    if chars.iter().all(|&c| renders_blank(c)) {
        return Some("is empty or blank");
    }
    let hidden = (0..chars.len()).any(|i| {
        is_hidden(chars[i])
            && !joins_emoji(
                i.checked_sub(1).map(|p| chars[p]),
                chars[i],
                chars.get(i + 1).copied(),
            )
    });
    if hidden {
        return Some(
            "contains control, format, invisible or unassigned characters \
             (bidirectional overrides, zero-width or tag characters, line separators)",
        );
    }
    if stacks_marks(&chars) {
        return Some("stacks more than 4 combining marks on one character, or begins with one");
    }
    None
}

/// Combining marks one character may carry: Vietnamese needs 2, Tibetan stacks 3 or 4.
const MAX_MARKS_PER_CHARACTER: usize = 4;

/// Characters that change the text without showing: general category Other (Cc control, Cf
/// format, Co private use, Cn unassigned), line and paragraph separators, and
/// Default_Ignorable_Code_Point (zero-width and tag characters, variation selectors, fillers).
fn is_hidden(c: char) -> bool {
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    GeneralCategoryGroup::Other.contains(category)
        || matches!(
            category,
            GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
        )
        || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

/// The two hidden characters an emoji is made of: a variation selector 16 after an emoji
/// (`❤️`) and a zero-width joiner between two pictographs (`👩‍💻`, also after a skin tone).
fn joins_emoji(before: Option<char>, c: char, after: Option<char>) -> bool {
    let emoji = |c: Option<char>| c.is_some_and(|c| CodePointSetData::new::<Emoji>().contains(c));
    let pictograph = |c: Option<char>| {
        c.is_some_and(|c| CodePointSetData::new::<ExtendedPictographic>().contains(c))
    };
    let modifier =
        |c: Option<char>| c.is_some_and(|c| CodePointSetData::new::<EmojiModifier>().contains(c));
    match c {
        '\u{FE0F}' => emoji(before),
        '\u{200D}' => {
            (pictograph(before) || modifier(before) || before == Some('\u{FE0F}'))
                && pictograph(after)
        }
        _ => false,
    }
}

/// Whether a character shows as nothing even when it is not hidden: white space, the Hangul
/// fillers and the blank Braille pattern.
fn renders_blank(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}'
        )
}

/// Whether marks pile up past [`MAX_MARKS_PER_CHARACTER`] on one character ("Zalgo" text that
/// covers the lines around it) or the name begins with a mark that has nothing to sit on.
fn stacks_marks(chars: &[char]) -> bool {
    let marks = CodePointMapData::<GeneralCategory>::new();
    let is_mark = |c: &char| GeneralCategoryGroup::Mark.contains(marks.get(*c));
    chars.first().is_some_and(is_mark)
        || chars
            .split(|c| !is_mark(c))
            .any(|run| run.len() > MAX_MARKS_PER_CHARACTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_lists_are_bounded_in_count_and_length() {
        let ok = "https://app.example/cb".to_owned();
        assert_eq!(redirect_uris_problem(std::slice::from_ref(&ok)), None);
        assert!(redirect_uris_problem(&[]).unwrap().contains("give 1 to 10"));
        assert!(
            redirect_uris_problem(&vec![ok; 11])
                .unwrap()
                .contains("give 1 to 10")
        );
        let long = format!("https://app.example/{}", "a".repeat(MAX_REDIRECT_URI_BYTES));
        let said = redirect_uris_problem(&[long]).unwrap();
        assert!(said.contains("longer than 2048 bytes"), "{said}");
        assert!(
            said.len() < 200,
            "the URI is cut where it is echoed: {said}"
        );
    }

    #[test]
    fn loopback_ports_are_free_everything_else_exact() {
        assert!(redirect_matches(
            "http://127.0.0.1/callback",
            "http://127.0.0.1:53124/callback"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1:3000/callback",
            "http://127.0.0.1:53124/callback"
        ));
        assert!(redirect_matches(
            "http://localhost:3000/cb",
            "http://localhost:4000/cb"
        ));
        assert!(redirect_matches("http://[::1]/cb", "http://[::1]:4000/cb"));
        assert!(!redirect_matches(
            "http://127.0.0.1/callback",
            "http://127.0.0.1:5/other"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/callback",
            "http://localhost:5/callback"
        ));
        assert!(!redirect_matches(
            "https://app.example.com/cb",
            "https://app.example.com:444/cb"
        ));
        assert!(!redirect_matches(
            "https://app.example.com/cb",
            "https://app.example.com/cb/"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:1/cb#frag"
        ));
    }

    #[test]
    fn only_a_canonical_port_may_differ() {
        let r = "http://127.0.0.1:3000/cb";
        assert!(redirect_matches(r, "http://127.0.0.1:65535/cb"));
        assert!(redirect_matches(
            "http://localhost:3000",
            "http://localhost:4000"
        ));
        for q in [
            "http://127.0.0.1:03000/cb",
            "http://127.0.0.1:0/cb",
            "http://127.0.0.1:65536/cb",
            "http://127.0.0.1:/cb",
            "http://127.0.0.1:+1/cb",
            "http://127.0.0.1:3000x/cb",
            "http://127.0.0.10:3000/cb",
            "http://127.0.0.1%2e:3000/cb",
            "http://127.0.0.1:3000%2fcb",
            "http://127.0.0.1:3000/cb/",
            "http://127.0.0.1:3000/./cb",
        ] {
            assert!(!redirect_matches(r, q), "{q}");
        }
        assert!(!redirect_matches(
            "http://localhost/cb",
            "http://localhost.evil.example/cb"
        ));
        assert!(!redirect_matches(
            "http://localhost:3000",
            "http://localhost:4000/"
        ));
        // Only what was registered as loopback gets a free port.
        assert!(!redirect_matches(
            "https://localhost/cb",
            "https://localhost:4000/cb"
        ));
    }

    #[test]
    fn client_names_say_what_is_wrong() {
        assert_eq!(client_name_problem("Claude Desktop"), None);
        assert_eq!(client_name_problem("\u{3164}"), Some("is empty or blank"));
        assert_eq!(client_name_problem(""), Some("is empty or blank"));
        assert!(
            client_name_problem("a\u{200B}b")
                .unwrap()
                .contains("invisible")
        );
        assert!(
            client_name_problem("a\u{10FFFF}b")
                .unwrap()
                .contains("unassigned")
        );
        assert!(client_name_problem("a\u{E000}b").is_some(), "private use");
        assert!(
            client_name_problem("\u{0301}a")
                .unwrap()
                .contains("begins with")
        );
        assert!(client_name_problem("a\u{0301}\u{0301}\u{0301}\u{0301}\u{0301}b").is_some());
        assert_eq!(
            client_name_problem("a\u{0301}\u{0301}\u{0301}\u{0301}b\u{0301}"),
            None
        );
        // Emoji keep their joiners and presentation selectors, and nothing more.
        assert_eq!(client_name_problem("👨\u{200D}👩\u{200D}👧"), None);
        assert!(client_name_problem("👨\u{200D}").is_some());
        assert!(client_name_problem("a\u{FE0F}").is_some());
        assert!(client_name_problem("👩\u{FE0E}").is_some());
    }

    #[test]
    fn registrable_redirect_uris() {
        assert_eq!(redirect_uri_problem("https://app.example.com/cb"), None);
        assert_eq!(redirect_uri_problem("http://127.0.0.1:3000/cb"), None);
        assert_eq!(redirect_uri_problem("http://localhost/cb"), None);
        assert!(redirect_uri_problem("http://app.example.com/cb").is_some());
        assert!(redirect_uri_problem("https://app.example.com/cb#x").is_some());
        assert!(redirect_uri_problem("javascript:alert(1)").is_some());
        assert!(redirect_uri_problem("/relative").is_some());
        assert!(redirect_uri_problem("https://user:pw@app.example.com/cb").is_some());
    }
}
