//! W101: a variable whose name says it is secret should reference a `secret`.

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{EnvValue, Model};

const SECRET_WORDS: [&str; 5] = ["PASSWORD", "SECRET", "TOKEN", "KEY", "PASSWD"];

pub fn check_literal_secrets(model: &Model, diagnostics: &mut Diagnostics) {
    for (_, _, service) in model.services() {
        for env in &service.env {
            let EnvValue::Literal(value) = &env.value else {
                continue;
            };
            let upper = env.name.value.to_ascii_uppercase();
            // `_FILE` variables name a file that holds the secret, not the secret itself.
            if upper.ends_with("_FILE") || value.is_empty() {
                continue;
            }
            if let Some(word) = SECRET_WORDS.iter().find(|w| upper.contains(*w)) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::W101,
                        format!("`{}` looks like a secret ({word}) but has a literal value", env.name.value),
                        env.value_span,
                        "literal value",
                    )
                    .with_help(format!(
                        "declare `secret \"…\"` and write `env \"{}\" secret=\"…\"`: the value then stays out of source and artifacts",
                        env.name.value
                    )),
                );
            }
        }
    }
}
