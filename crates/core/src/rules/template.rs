//! Title and description templates: `"{vendor} {title} | Free shipping"`.
//!
//! A deliberately tiny language: a fixed set of named placeholders and `{{`/`}}`
//! for literal braces. No expressions, no filters, so a template can be checked
//! completely when the rule is saved and rendering can never fail afterwards.

use crate::catalog::Product;

/// The placeholders a template may use, in the order the docs list them.
pub const PLACEHOLDERS: [&str; 5] = ["title", "vendor", "product_type", "handle", "description"];

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(String),
    Field(Field),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Title,
    Vendor,
    ProductType,
    Handle,
    Description,
}

impl Field {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "title" => Field::Title,
            "vendor" => Field::Vendor,
            "product_type" => Field::ProductType,
            "handle" => Field::Handle,
            "description" => Field::Description,
            _ => return None,
        })
    }

    fn value(self, product: &Product) -> &str {
        match self {
            Field::Title => &product.title,
            Field::Vendor => product.vendor.as_deref().unwrap_or(""),
            Field::ProductType => product.product_type.as_deref().unwrap_or(""),
            Field::Handle => &product.handle,
            Field::Description => product.description.as_deref().unwrap_or(""),
        }
    }
}

/// Why a template was refused; the message is shown to the merchant as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "unknown placeholder `{{{0}}}` (expected one of {{title}}, {{vendor}}, {{product_type}}, {{handle}}, {{description}})"
    )]
    UnknownPlaceholder(String),
    #[error("`{{` is never closed (write `{{{{` for a literal brace)")]
    Unclosed,
    #[error("stray `}}` (write `}}}}` for a literal brace)")]
    StrayClose,
}

fn parse(template: &str) -> Result<Vec<Segment>, TemplateError> {
    let mut segments = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => return Err(TemplateError::Unclosed),
                        Some(ch) => name.push(ch),
                    }
                }
                let field = Field::parse(name.trim())
                    .ok_or_else(|| TemplateError::UnknownPlaceholder(name.clone()))?;
                if !text.is_empty() {
                    segments.push(Segment::Text(std::mem::take(&mut text)));
                }
                segments.push(Segment::Field(field));
            }
            '}' => return Err(TemplateError::StrayClose),
            other => text.push(other),
        }
    }
    if !text.is_empty() {
        segments.push(Segment::Text(text));
    }
    Ok(segments)
}

/// Checks a template without rendering it; what rule validation calls.
pub fn check(template: &str) -> Result<(), TemplateError> {
    parse(template).map(|_| ())
}

/// Renders a template against a product. Missing values (no vendor, no
/// description) render as empty text. A template that does not parse renders
/// as itself unchanged, which only happens for rules that skipped validation.
pub fn render(template: &str, product: &Product) -> String {
    match parse(template) {
        Ok(segments) => segments
            .into_iter()
            .map(|s| match s {
                Segment::Text(t) => t,
                Segment::Field(f) => f.value(product).to_string(),
            })
            .collect(),
        Err(_) => template.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::sample_product;

    #[test]
    fn placeholders_are_filled_and_missing_ones_are_empty() {
        let mut p = sample_product();
        p.vendor = Some("Acme".into());
        p.description = None;
        assert_eq!(render("{vendor} {title}!", &p), "Acme Tee!");
        assert_eq!(render("[{description}]", &p), "[]");
        assert_eq!(render("{ handle }/{product_type}", &p), "tee/");
    }

    #[test]
    fn doubled_braces_are_literal() {
        let p = sample_product();
        assert_eq!(render("{{{title}}}", &p), "{Tee}");
        assert_eq!(render("a }} b {{", &p), "a } b {");
    }

    #[test]
    fn bad_templates_are_refused() {
        assert_eq!(
            check("{price}"),
            Err(TemplateError::UnknownPlaceholder("price".into()))
        );
        assert_eq!(check("{title"), Err(TemplateError::Unclosed));
        assert_eq!(check("{ti{tle}"), Err(TemplateError::Unclosed));
        assert_eq!(check("x } y"), Err(TemplateError::StrayClose));
        assert!(
            check("{price}")
                .unwrap_err()
                .to_string()
                .contains("unknown placeholder `{price}`")
        );
        check("plain text").unwrap();
    }
}
