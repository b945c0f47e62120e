//! Handles: the URL-safe product names Shopify and others key products by.

/// Lower-case ASCII letters and digits joined by single hyphens, as Shopify makes handles.
pub fn handleize(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    let mut pending_hyphen = false;
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_hyphen && !out.is_empty() {
                out.push('-');
            }
            pending_hyphen = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_hyphen = true;
        }
    }
    if out.is_empty() {
        out.push_str("product");
    }
    out.truncate(200);
    out.trim_end_matches('-').to_string()
}

/// Whether a caller-supplied handle is already in canonical form.
pub fn is_valid_handle(handle: &str) -> bool {
    !handle.is_empty()
        && handle.len() <= 255
        && !handle.starts_with('-')
        && !handle.ends_with('-')
        && handle
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_shopify_style_handles() {
        assert_eq!(handleize("Classic Tee — Red / XL"), "classic-tee-red-xl");
        assert_eq!(handleize("  "), "product");
        assert!(is_valid_handle(&handleize("Über  Schuh!")));
    }
}
