//! The little URL handling the Hub client needs: percent-encoding path segments,
//! resolving redirect targets, comparing origins, and reading `Link: <...>; rel="next"`.

use ureq::http::Uri;

/// Percent-encodes everything but unreserved characters (RFC 3986), `/` included.
pub(crate) fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes each `/`-separated segment of a repo file path.
pub(crate) fn encode_path(path: &str) -> String {
    path.split('/').map(encode_segment).collect::<Vec<_>>().join("/")
}

/// Resolves `location` (absolute, scheme-relative, absolute-path or relative) against `base`.
pub(crate) fn join(base: &str, location: &str) -> String {
    if has_scheme(location) {
        return location.to_string();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let scheme = &base[..scheme_end];
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{scheme}{rest}");
    }
    let authority_end = base[scheme_end..].find(['/', '?', '#']).map_or(base.len(), |i| scheme_end + i);
    let origin = &base[..authority_end];
    if location.starts_with('/') {
        return format!("{origin}{location}");
    }
    let path_end = base[authority_end..].find(['?', '#']).map_or(base.len(), |i| authority_end + i);
    let dir = base[authority_end..path_end].rfind('/').map_or("/", |i| &base[authority_end..=authority_end + i]);
    format!("{origin}{dir}{location}")
}

fn has_scheme(text: &str) -> bool {
    match text.find("://") {
        Some(i) => i > 0 && text[..i].bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)),
        None => false,
    }
}

/// Scheme, host and port (with the scheme's default port filled in), lower-cased.
fn origin(url: &str) -> Option<(String, String, u16)> {
    let uri: Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host()?.to_ascii_lowercase();
    let port = uri.port_u16().or(match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    })?;
    Some((scheme, host, port))
}

/// True when both URLs have the same scheme, host and port.
pub(crate) fn same_origin(a: &str, b: &str) -> bool {
    match (origin(a), origin(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// The `rel="next"` target of a `Link` header, if any.
pub(crate) fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let target = &after[..close];
        let tail = &after[close + 1..];
        let params_end = tail.find('<').unwrap_or(tail.len());
        let is_next = tail[..params_end].split([';', ',']).any(|p| {
            let p = p.trim().replace(' ', "");
            p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
        });
        if is_next {
            return Some(target.to_string());
        }
        rest = &tail[params_end..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        assert_eq!(encode_segment("Q4_K_M.gguf"), "Q4_K_M.gguf");
        assert_eq!(encode_segment("a b/c%"), "a%20b%2Fc%25");
        assert_eq!(encode_path("dir/a b.gguf"), "dir/a%20b.gguf");
    }

    #[test]
    fn joining() {
        let base = "https://hf.co/o/n/resolve/main/x.gguf?download=1";
        assert_eq!(join(base, "https://cdn.example/x?sig=1"), "https://cdn.example/x?sig=1");
        assert_eq!(join(base, "//cdn.example/x"), "https://cdn.example/x");
        assert_eq!(join(base, "/api/resolve-cache/x"), "https://hf.co/api/resolve-cache/x");
        assert_eq!(join(base, "y.gguf"), "https://hf.co/o/n/resolve/main/y.gguf");
        assert_eq!(join("http://127.0.0.1:8000", "a"), "http://127.0.0.1:8000/a");
    }

    #[test]
    fn origins() {
        assert!(same_origin("https://hf.co/a", "https://HF.co:443/b?c"));
        assert!(!same_origin("https://hf.co/a", "https://cdn.hf.co/a"));
        assert!(!same_origin("http://127.0.0.1:1/a", "http://127.0.0.1:2/a"));
        assert!(!same_origin("http://hf.co/a", "https://hf.co/a"));
        assert!(!same_origin("not a url", "not a url"));
    }

    #[test]
    fn links() {
        let h = r#"<https://hf.co/api/models/o/n/tree/main?cursor=abc>; rel="next""#;
        assert_eq!(next_link(h).unwrap(), "https://hf.co/api/models/o/n/tree/main?cursor=abc");
        assert_eq!(next_link(r#"<a>; rel="prev", <b>; rel="next""#).unwrap(), "b");
        assert_eq!(next_link(r#"<a>; rel="prev""#), None);
        assert_eq!(next_link(""), None);
        assert_eq!(next_link(r#"<https://h/x?c=a,b>; rel="next""#).unwrap(), "https://h/x?c=a,b");
    }
}
