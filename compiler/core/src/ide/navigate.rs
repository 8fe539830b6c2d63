//! Definitions, uses and renames of declared names, from the resolved model.

use std::collections::BTreeMap;

use crate::diagnostic::Edit;
use crate::model::Model;
use crate::names::{self, Key, Kind};
use crate::source::{FileId, Origin, SourceMap, Span};

/// A declared name with every place it is used.
#[derive(Clone, Debug, PartialEq)]
pub struct Symbol {
    pub key: Key,
    pub name: String,
    /// The stack a service belongs to.
    pub stack: Option<String>,
    pub definition: Span,
    pub uses: Vec<Span>,
}

impl Symbol {
    /// The definition and every use, in source order.
    pub fn spans(&self) -> Vec<Span> {
        let mut spans = vec![self.definition];
        spans.extend(&self.uses);
        spans.sort();
        spans
    }
}

#[derive(Clone, Debug, Default)]
pub struct Index {
    pub symbols: Vec<Symbol>,
}

/// Every declaration of the model with its bound uses. What a component
/// produced is placed at its `use`: a name equal to the instance's at the
/// instance's name, anything else at the `use` node.
pub fn index(model: &Model, sources: &SourceMap) -> Index {
    let place = |span: Span, name: &str| match sources.file(span.file).origin {
        Origin::Expansion {
            use_site, instance, ..
        } => {
            let text = &sources.file(instance.file).text[instance.start..instance.end];
            if text.trim_matches('"') == name {
                instance
            } else {
                use_site
            }
        }
        _ => span,
    };
    let mut symbols: Vec<Symbol> = Vec::new();
    let mut by_key: BTreeMap<Key, usize> = BTreeMap::new();
    for definition in names::definitions(model) {
        // A name declared twice (E009) keeps its first declaration, as resolve does.
        if by_key.contains_key(&definition.key) {
            continue;
        }
        by_key.insert(definition.key, symbols.len());
        symbols.push(Symbol {
            key: definition.key,
            name: definition.name.value.clone(),
            stack: definition
                .key
                .stack
                .map(|s| model.stacks[s].name.value.clone()),
            definition: place(definition.name.span, &definition.name.value),
            uses: Vec::new(),
        });
    }
    for used in names::uses(model) {
        if let Some(&at) = used.target.and_then(|key| by_key.get(&key)) {
            symbols[at]
                .uses
                .push(place(used.name.span, &used.name.value));
        }
    }
    Index { symbols }
}

impl Index {
    /// The symbol whose definition or use is at `offset` (its ends included).
    pub fn at(&self, file: FileId, offset: usize) -> Option<&Symbol> {
        let holds = |span: &Span| span.file == file && span.start <= offset && offset <= span.end;
        self.symbols
            .iter()
            .find(|s| holds(&s.definition) || s.uses.iter().any(holds))
    }

    /// The names of a kind; for services, those of one stack.
    pub fn names(&self, kind: Kind, stack: Option<&str>) -> impl Iterator<Item = &Symbol> {
        self.symbols.iter().filter(move |s| {
            s.key.kind == kind && (kind != Kind::Service || s.stack.as_deref() == stack)
        })
    }
}

/// The edits that rename the symbol at `offset` everywhere, or why not. Every
/// place must read the name itself: a name a component builds (`{{name}}-data`)
/// is renamed in the component, not here.
pub fn rename(
    index: &Index,
    sources: &SourceMap,
    file: FileId,
    offset: usize,
    new_name: &str,
) -> Result<Vec<Edit>, String> {
    let symbol = index
        .at(file, offset)
        .ok_or("there is no declared name here")?;
    crate::values::check_name(new_name)
        .map_err(|invalid| format!("`{new_name}` is not a valid name: {}", invalid.message))?;
    let taken = index
        .names(symbol.key.kind, symbol.stack.as_deref())
        .any(|s| s.name == new_name && s.key != symbol.key);
    if taken {
        return Err(format!(
            "a {} named `{new_name}` already exists",
            symbol.key.kind.as_str()
        ));
    }
    let spans = symbol.spans();
    let literal = spans.iter().all(|span| {
        let text = &sources.file(span.file).text;
        text.get(span.start..span.end)
            .is_some_and(|t| t.trim_matches('"') == symbol.name)
    });
    if !literal {
        return Err(format!(
            "`{}` is built by a component; rename it where the component is used",
            symbol.name
        ));
    }
    Ok(spans
        .into_iter()
        .map(|span| Edit {
            span,
            replacement: format!("\"{new_name}\""),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{LoadError, SourceLoader};

    struct Files(&'static [(&'static str, &'static str)]);

    impl SourceLoader for Files {
        fn load(&self, path: &str) -> Result<String, LoadError> {
            self.0
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, text)| text.to_string())
                .ok_or(LoadError::NotFound)
        }
    }

    const MAIN: &str =
        "include \"stack.kdl\"\nhost \"vps\" {\n    os \"debian-12\"\n}\nsecret \"db-password\"\n";
    const STACK: &str = "stack \"blog\" host=\"vps\" {\n    service \"db\" image=\"postgres:16.4\" {\n        networks \"internal\"\n        env \"POSTGRES_PASSWORD\" secret=\"db-password\"\n    }\n    service \"web\" image=\"ghost:5\" {\n        networks \"internal\"\n        depends-on \"db\"\n    }\n}\n";

    #[test]
    fn finds_uses_across_files_and_renames_them() {
        let compilation = crate::compile(
            "infrac.kdl",
            &Files(&[("infrac.kdl", MAIN), ("stack.kdl", STACK)]),
        );
        let index = index(&compilation.model, &compilation.sources);
        let stack_file = compilation.sources.find("stack.kdl").unwrap();
        let main_file = compilation.sources.find("infrac.kdl").unwrap();
        let use_at = STACK.find("\"vps\"").unwrap() + 2;
        let host = index.at(stack_file, use_at).unwrap();
        assert_eq!(host.key.kind, Kind::Host);
        assert_eq!(host.definition.file, main_file);
        assert_eq!(&MAIN[host.definition.start..host.definition.end], "\"vps\"");

        let db = index
            .at(stack_file, STACK.find("depends-on \"db\"").unwrap() + 12)
            .unwrap();
        assert_eq!(
            (db.name.as_str(), db.stack.as_deref()),
            ("db", Some("blog"))
        );
        let edits = rename(
            &index,
            &compilation.sources,
            stack_file,
            STACK.find("\"db\"").unwrap(),
            "postgres",
        )
        .unwrap();
        assert_eq!(edits.len(), 2);
        for edit in &edits {
            assert_eq!(&STACK[edit.span.start..edit.span.end], "\"db\"");
        }
        let secret = index
            .at(main_file, MAIN.find("db-password").unwrap())
            .unwrap();
        assert_eq!(secret.uses.len(), 1);
        assert!(
            rename(
                &index,
                &compilation.sources,
                stack_file,
                use_at,
                "Not A Name"
            )
            .is_err()
        );
        assert!(
            rename(
                &index,
                &compilation.sources,
                stack_file,
                STACK.find("\"web\"").unwrap(),
                "db"
            )
            .is_err()
        );
    }

    struct Disk;

    impl SourceLoader for Disk {
        fn load(&self, path: &str) -> Result<String, LoadError> {
            std::fs::read_to_string(path).map_err(|e| LoadError::Other(e.to_string()))
        }
    }

    /// The schema's `refers=` and the model's references agree: completion
    /// (schema) offers the names that navigation (model) binds.
    #[test]
    fn every_use_sits_where_the_schema_refers_to_its_kind() {
        let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
        let mut checked = 0;
        for example in ["vps", "homeserver", "cluster"] {
            let compilation = crate::compile(&format!("{examples}/{example}/infrac.kdl"), &Disk);
            for used in names::uses(&compilation.model) {
                let text = &compilation.sources.file(used.name.span.file).text;
                let cursor = crate::ide::find_at(text, used.name.span.start);
                let refers = match cursor.schema_item(text) {
                    Some(crate::ide::SchemaItem::Argument(_, a)) => a.refers.clone(),
                    Some(crate::ide::SchemaItem::Property(_, p)) => p.refers.clone(),
                    _ => None,
                };
                assert_eq!(
                    refers.as_deref(),
                    Some(used.kind.as_str()),
                    "{}",
                    used.name.value
                );
                checked += 1;
            }
        }
        assert!(checked > 20, "only {checked} uses");
    }
}
