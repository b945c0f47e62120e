//! Just enough GraphQL for the simulated Admin API.
//!
//! A simulator cannot be a GraphQL engine with Shopify's schema, but it has
//! to read what a client sends the way Shopify would: which root fields (and
//! aliases) an operation has, their arguments with `$variables` resolved, the
//! selection sets (to answer only what was asked and to price the query) and
//! directives (`@idempotent`). This module parses that subset of the
//! GraphQL grammar (https://spec.graphql.org/October2021/#sec-Document):
//! one operation, fields, aliases, arguments, variables, directives. It
//! refuses fragments, which the adapter does not use.
//! Pricing and answering a parsed query is in `answer.rs`.

use serde_json::{Map, Value, json};

/// Whether the operation reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Query,
    Mutation,
}

/// A directive (`@idempotent(key: …)`) and its resolved arguments.
pub type Directive = (String, Map<String, Value>);

/// One field of a selection set, arguments already resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub alias: Option<String>,
    pub name: String,
    pub args: Map<String, Value>,
    pub directives: Vec<Directive>,
    pub selections: Vec<Field>,
}

impl Field {
    /// The key of this field in the answer.
    pub fn key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }

    pub fn arg(&self, name: &str) -> Option<&Value> {
        self.args.get(name).filter(|v| !v.is_null())
    }

    pub fn directive(&self, name: &str) -> Option<&Map<String, Value>> {
        self.directives
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, args)| args)
    }

    /// The page size of a connection field (`first` or `last`).
    pub fn page_size(&self) -> Option<usize> {
        self.arg("first")
            .or_else(|| self.arg("last"))
            .and_then(Value::as_u64)
            .map(|n| n as usize)
    }
}

/// A parsed operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub kind: OpKind,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Var(String),
    Punct(char),
    Spread,
    Str(String),
    Int(i64),
    Float(f64),
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' | ',' | '\u{feff}' => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '{' | '}' | '(' | ')' | '[' | ']' | ':' | '!' | '=' | '@' | '|' | '&' => {
                toks.push(Tok::Punct(c));
                i += 1;
            }
            '.' => {
                if chars.get(i + 1) == Some(&'.') && chars.get(i + 2) == Some(&'.') {
                    toks.push(Tok::Spread);
                    i += 3;
                } else {
                    return Err(format!("Parse error on \".\" at {i}"));
                }
            }
            '$' => {
                i += 1;
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                if start == i {
                    return Err("Parse error on \"$\"".into());
                }
                toks.push(Tok::Var(chars[start..i].iter().collect()));
            }
            '"' => {
                if chars.get(i + 1) == Some(&'"') && chars.get(i + 2) == Some(&'"') {
                    return Err("block strings are not supported by the simulator".into());
                }
                i += 1;
                let mut s = String::new();
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err("Parse error: unterminated string".into());
                    };
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' => {
                            let Some(&e) = chars.get(i) else {
                                return Err("Parse error: bad escape".into());
                            };
                            i += 1;
                            match e {
                                'n' => s.push('\n'),
                                't' => s.push('\t'),
                                'r' => s.push('\r'),
                                'b' => s.push('\u{8}'),
                                'f' => s.push('\u{c}'),
                                'u' => {
                                    let hex: String = chars.iter().skip(i).take(4).collect();
                                    let code = u32::from_str_radix(&hex, 16)
                                        .map_err(|_| "Parse error: bad unicode escape")?;
                                    s.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                                    i += 4;
                                }
                                other => s.push(other),
                            }
                        }
                        '\n' => return Err("Parse error: newline in string".into()),
                        other => s.push(other),
                    }
                }
                toks.push(Tok::Str(s));
            }
            c if c == '-' || c.is_ascii_digit() => {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_digit()
                        || matches!(chars[i], '.' | 'e' | 'E' | '+' | '-'))
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                if let Ok(n) = text.parse::<i64>() {
                    toks.push(Tok::Int(n));
                } else if let Ok(f) = text.parse::<f64>() {
                    toks.push(Tok::Float(f));
                } else {
                    return Err(format!("Parse error on \"{text}\""));
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                toks.push(Tok::Name(chars[start..i].iter().collect()));
            }
            other => return Err(format!("Parse error on \"{other}\"")),
        }
    }
    Ok(toks)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    variables: &'a Map<String, Value>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn at(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        match self.next() {
            Some(Tok::Punct(p)) if p == c => Ok(()),
            other => Err(format!("Parse error: expected \"{c}\", found {other:?}")),
        }
    }

    fn name(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Name(n)) => Ok(n),
            other => Err(format!("Parse error: expected a name, found {other:?}")),
        }
    }

    fn document(&mut self) -> Result<Operation, String> {
        let kind = match self.peek() {
            Some(Tok::Punct('{')) => OpKind::Query,
            Some(Tok::Name(n)) if n == "query" => {
                self.pos += 1;
                OpKind::Query
            }
            Some(Tok::Name(n)) if n == "mutation" => {
                self.pos += 1;
                OpKind::Mutation
            }
            Some(Tok::Name(n)) if n == "fragment" => {
                return Err("fragments are not supported by the simulator".into());
            }
            other => return Err(format!("Parse error on {other:?}")),
        };
        if matches!(self.peek(), Some(Tok::Name(_))) {
            self.pos += 1;
        }
        if self.at('(') {
            // Variable definitions: their values arrive in `variables`.
            let mut depth = 0;
            loop {
                match self.next() {
                    Some(Tok::Punct('(')) => depth += 1,
                    Some(Tok::Punct(')')) => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    Some(_) => {}
                    None => return Err("Parse error: unbalanced variable definitions".into()),
                }
            }
        }
        let _ = self.directives()?;
        let fields = self.selection_set()?;
        if self.peek().is_some() {
            return Err("only one operation per document is supported by the simulator".into());
        }
        Ok(Operation { kind, fields })
    }

    fn selection_set(&mut self) -> Result<Vec<Field>, String> {
        self.expect('{')?;
        let mut fields = Vec::new();
        while !self.at('}') {
            if self.peek() == Some(&Tok::Spread) {
                return Err("fragments are not supported by the simulator".into());
            }
            if self.peek().is_none() {
                return Err("Parse error: unterminated selection set".into());
            }
            fields.push(self.field()?);
        }
        self.expect('}')?;
        Ok(fields)
    }

    fn field(&mut self) -> Result<Field, String> {
        let first = self.name()?;
        let (alias, name) = if self.at(':') {
            self.pos += 1;
            (Some(first), self.name()?)
        } else {
            (None, first)
        };
        let args = if self.at('(') {
            self.arguments()?
        } else {
            Map::new()
        };
        let directives = self.directives()?;
        let selections = if self.at('{') {
            self.selection_set()?
        } else {
            Vec::new()
        };
        Ok(Field {
            alias,
            name,
            args,
            directives,
            selections,
        })
    }

    fn arguments(&mut self) -> Result<Map<String, Value>, String> {
        self.expect('(')?;
        let mut args = Map::new();
        while !self.at(')') {
            let name = self.name()?;
            self.expect(':')?;
            let value = self.value()?;
            args.insert(name, value);
        }
        self.expect(')')?;
        Ok(args)
    }

    fn directives(&mut self) -> Result<Vec<Directive>, String> {
        let mut out = Vec::new();
        while self.at('@') {
            self.pos += 1;
            let name = self.name()?;
            let args = if self.at('(') {
                self.arguments()?
            } else {
                Map::new()
            };
            out.push((name, args));
        }
        Ok(out)
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.next() {
            Some(Tok::Var(v)) => Ok(self.variables.get(&v).cloned().unwrap_or(Value::Null)),
            Some(Tok::Int(n)) => Ok(json!(n)),
            Some(Tok::Float(f)) => Ok(json!(f)),
            Some(Tok::Str(s)) => Ok(Value::String(s)),
            Some(Tok::Name(n)) => Ok(match n.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => Value::String(n),
            }),
            Some(Tok::Punct('[')) => {
                let mut list = Vec::new();
                while !self.at(']') {
                    if self.peek().is_none() {
                        return Err("Parse error: unterminated list".into());
                    }
                    list.push(self.value()?);
                }
                self.pos += 1;
                Ok(Value::Array(list))
            }
            Some(Tok::Punct('{')) => {
                let mut obj = Map::new();
                while !self.at('}') {
                    let name = self.name()?;
                    self.expect(':')?;
                    obj.insert(name, self.value()?);
                }
                self.pos += 1;
                Ok(Value::Object(obj))
            }
            other => Err(format!("Parse error: expected a value, found {other:?}")),
        }
    }
}

/// Parse `query` with `variables` substituted into its arguments.
pub fn parse(query: &str, variables: &Map<String, Value>) -> Result<Operation, String> {
    let toks = lex(query)?;
    Parser {
        toks,
        pos: 0,
        variables,
    }
    .document()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_aliases_arguments_variables_and_directives() {
        let vars: Map<String, Value> =
            serde_json::from_value(json!({"in0": {"title": "A"}, "n": 3})).unwrap();
        let op = parse(
            r#"mutation Sync($in0: ProductSetInput!, $n: Int = 1) {
                p0: productSet(input: $in0, synchronous: true) { product { id } userErrors { field message } }
                inventorySetQuantities(input: {name: "available", quantities: [{quantity: 2, changeFromQuantity: null}]})
                  @idempotent(key: "k-1") { userErrors { code } }
                products(first: $n) { nodes { id } }
            }"#,
            &vars,
        )
        .unwrap();
        assert_eq!(op.kind, OpKind::Mutation);
        assert_eq!(op.fields.len(), 3);
        assert_eq!(op.fields[0].key(), "p0");
        assert_eq!(op.fields[0].name, "productSet");
        assert_eq!(op.fields[0].args["input"], json!({"title": "A"}));
        assert_eq!(op.fields[0].args["synchronous"], json!(true));
        let idem = op.fields[1].directive("idempotent").unwrap();
        assert_eq!(idem["key"], json!("k-1"));
        assert_eq!(
            op.fields[1].args["input"]["quantities"][0]["changeFromQuantity"],
            Value::Null
        );
        assert_eq!(op.fields[2].page_size(), Some(3));
        assert!(parse("{ a { ...F } }", &Map::new()).is_err());
        assert!(parse("query { a(", &Map::new()).is_err());
    }
}
