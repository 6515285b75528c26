//! What Cognito reads from a SAML metadata document given inline (`MetadataFile`): the IdP's
//! HTTP-Redirect sign-in and sign-out locations. A small tag scanner: the document is the client's,
//! so nothing here may panic on odd input.

/// The SAML 2.0 HTTP-Redirect binding.
const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// The `Location` of the first `<LocalName Binding="...HTTP-Redirect" Location="...">` element.
pub fn redirect_location(xml: &str, local_name: &str) -> Option<String> {
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let end = tag_end(rest)?;
        let tag = &rest[..end];
        rest = &rest[end..];
        if tag.starts_with('/') || tag.starts_with('!') || tag.starts_with('?') {
            continue;
        }
        let name_len = tag
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(tag.len());
        let name = &tag[..name_len];
        let local = name.rsplit(':').next().unwrap_or(name);
        if local != local_name {
            continue;
        }
        let attrs = attributes(&tag[name_len..]);
        let binding = attrs.iter().find(|(k, _)| k == "Binding").map(|(_, v)| v);
        if binding.map(String::as_str) == Some(REDIRECT_BINDING) {
            if let Some((_, loc)) = attrs.iter().find(|(k, _)| k == "Location") {
                if !loc.is_empty() {
                    return Some(loc.clone());
                }
            }
        }
    }
    None
}

/// Where the tag that starts at `s` ends (the index of its `>`), skipping quoted values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"') | (None, '\'') => quote = Some(c),
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn attributes(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            break;
        };
        let body = &after[1..];
        let Some(close) = body.find(q) else { break };
        let key_local = key.rsplit(':').next().unwrap_or(key);
        out.push((key_local.to_string(), unescape(&body[..close])));
        rest = &body[close + 1..];
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example.com/slo/post"/>
    <md:SingleLogoutService Binding='urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect' Location='https://idp.example.com/slo?a=1&amp;b=2'/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"></md:SingleSignOnService>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#;

    #[test]
    fn finds_redirect_bindings() {
        assert_eq!(
            redirect_location(META, "SingleSignOnService").as_deref(),
            Some("https://idp.example.com/sso")
        );
        assert_eq!(
            redirect_location(META, "SingleLogoutService").as_deref(),
            Some("https://idp.example.com/slo?a=1&b=2")
        );
    }

    #[test]
    fn garbage_finds_nothing() {
        for s in [
            "",
            "<",
            "<<>>",
            "<a b='>",
            "no xml at all",
            "<SingleSignOnService Binding=",
        ] {
            assert_eq!(redirect_location(s, "SingleSignOnService"), None);
        }
    }
}
