//! Diagnostics as data: a stable code from one registry, a message, a labelled
//! primary span, secondary labels and help. Rendering lives in `render`.

use crate::source::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

macro_rules! codes {
    ($($code:ident $severity:ident $slug:literal $title:literal;)*) => {
        /// Every diagnostic infrac reports. Codes are stable: never renumber one.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($code,)*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$code,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$code => stringify!($code),)* }
            }

            /// A short kebab-case name, shown beside the code.
            pub fn slug(self) -> &'static str {
                match self { $(Code::$code => $slug,)* }
            }

            pub fn title(self) -> &'static str {
                match self { $(Code::$code => $title,)* }
            }

            pub fn severity(self) -> Severity {
                match self { $(Code::$code => Severity::$severity,)* }
            }

            /// The page under `docs/diagnostics/`, embedded so `infrac explain` works anywhere.
            pub fn docs(self) -> &'static str {
                match self {
                    $(Code::$code => include_str!(concat!(
                        env!("CARGO_MANIFEST_DIR"), "/../../docs/diagnostics/", stringify!($code), ".md"
                    )),)*
                }
            }
        }
    };
}

codes! {
    E001 Error "syntax" "invalid KDL syntax";
    E002 Error "unreadable-source" "a source file cannot be read";
    E003 Error "unknown-node" "unknown node";
    E004 Error "unknown-property" "unknown property";
    E005 Error "missing-value" "a required argument, property or node is missing";
    E006 Error "unexpected-argument" "too many arguments";
    E007 Error "invalid-value" "a value does not have the expected type";
    E008 Error "invalid-name" "a name is not a DNS label";
    E009 Error "duplicate-name" "a name is declared twice";
    E010 Error "unknown-reference" "a reference does not resolve";
    E011 Error "reserved-label" "a label key is reserved for generated labels";
    E012 Error "repeated-node" "a node that may appear once appears again";
    E013 Error "conflicting-entries" "entries that exclude each other";
    E101 Error "missing-networks" "a service does not name its networks";
    E102 Error "published-ports" "a service publishes ports";
    E103 Error "route-without-ingress" "a routed service is not on the ingress tier";
    E104 Error "exposed-datastore" "a datastore is on the ingress or egress tier";
    E105 Error "dependency-without-shared-network" "a dependency shares no network";
    E106 Error "cross-stack-dependency" "a dependency on another stack's service";
    E107 Error "dependency-cycle" "services depend on each other in a cycle";
    E108 Error "duplicate-route" "a route hostname is used twice";
    E109 Error "route-without-proxy" "a route on a host without a proxy";
    E201 Error "overlapping-cidrs" "networks that must be disjoint overlap";
    E202 Error "cidr-family-mismatch" "a rule's networks are of a family the host does not have";
    E203 Error "ssh-lockout" "the firewall would drop every SSH connection";
    E301 Error "grpc-through-tunnel" "a gRPC route is served through a Cloudflare Tunnel";
    E302 Error "acme-challenge-unreachable" "Let's Encrypt cannot reach the port its challenge uses";
    E401 Error "deploy-unreachable" "a deployed host has no IPv4 address";
    W101 Warning "literal-secret" "a secret-looking variable has a literal value";
    W102 Warning "unpinned-image" "an image has no pinned tag";
    W103 Warning "route-without-healthcheck" "a routed service has no healthcheck";
    W201 Warning "ssh-open-to-world" "SSH is open to the whole internet";
    W301 Warning "route-outside-domain" "a route's hostname is not under the project's domains";
    W302 Warning "unused-middleware" "a middleware is not used";
    W401 Warning "deploy-user-unknown" "the deploy user is not a sudo user of the host";
    W402 Warning "deploy-blocked-by-firewall" "the host's SSH rule does not admit the deploy runner";
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Code {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(s) || c.slug() == s)
            .ok_or(())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub span: Span,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    pub primary: Label,
    pub secondary: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(
        code: Code,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            primary: Label {
                span,
                text: label.into(),
            },
            secondary: Vec::new(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_secondary(mut self, span: Span, text: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            text: text.into(),
        });
        self
    }

    pub fn severity(&self) -> Severity {
        self.code.severity()
    }
}

/// Collects the diagnostics of every stage; nothing aborts on the first problem.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity() == Severity::Error)
    }

    /// Sorted by file, position, then code, without exact duplicates.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort_by(|a, b| {
            (a.primary.span, a.code, &a.message).cmp(&(b.primary.span, b.code, &b.message))
        });
        self.items.dedup();
        self.items
    }
}

/// "did you mean" help: the closest candidate, if it is close enough to be a typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let limit = (name.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|candidate| (strsim::levenshtein(name, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, candidate)| format!("did you mean `{candidate}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("ingres", ["ingress", "internal"]).as_deref(),
            Some("did you mean `ingress`?")
        );
        assert_eq!(did_you_mean("xyz", ["ingress", "internal"]), None);
    }

    #[test]
    fn codes_round_trip() {
        for code in Code::ALL {
            assert_eq!(code.as_str().parse::<Code>(), Ok(*code));
            assert!(
                !code.docs().trim().is_empty(),
                "{code} has an empty docs page"
            );
        }
    }
}
