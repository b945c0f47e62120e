//! Text as Etsy takes it: plain-text descriptions and tags within the
//! reference's pattern and limits.

/// Etsy descriptions are plain text: drop markup, keep paragraph breaks,
/// decode the common entities.
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut tag = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                let name = tag
                    .trim_start_matches('/')
                    .split(|c: char| c.is_whitespace() || c == '/')
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if matches!(
                    name.as_str(),
                    "br" | "p" | "div" | "li" | "h1" | "h2" | "h3"
                ) && !out.ends_with('\n')
                    && !out.is_empty()
                {
                    out.push('\n');
                }
            }
            (true, c) => tag.push(c),
            (false, c) => out.push(c),
        }
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded.trim().to_owned()
}

/// Tags as Etsy accepts them: letters, digits, spaces, `-`, `'`, ™, ©, ®
/// (the reference's pattern), at most 20 characters and 13 tags.
pub fn etsy_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let cleaned: String = tag
            .chars()
            .filter(|c| {
                c.is_alphanumeric()
                    || c.is_whitespace()
                    || matches!(c, '-' | '\'' | '™' | '©' | '®')
            })
            .take(20)
            .collect();
        let cleaned = cleaned.trim().to_owned();
        if !cleaned.is_empty() && !out.contains(&cleaned) {
            out.push(cleaned);
        }
        if out.len() == 13 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_lose_markup_and_tags_fit_etsy() {
        assert_eq!(
            plain_text("<p>Soft &amp; warm.</p><p>Cotton<br/>only</p>"),
            "Soft & warm.\nCotton\nonly"
        );
        let tags: Vec<String> = [
            "summer!",
            "a very long tag that goes on and on",
            "summer",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(etsy_tags(&tags), vec!["summer", "a very long tag that"]);
        let many: Vec<String> = (0..20).map(|n| format!("t{n}")).collect();
        assert_eq!(etsy_tags(&many).len(), 13);
    }
}
