//! Diagnostics as data: a stable code from one registry, a message, a labelled
//! primary span, secondary labels, help, and fixes a tool can apply (edits of
//! the source). Rendering lives in `render`.

use crate::source::{FileId, Span};

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
    E013 Error "env-value" "an `env` needs exactly one of a value or a secret";
    E014 Error "middleware-kind" "a middleware needs exactly one kind";
    E015 Error "certificate-sources" "the proxy has both `tls` and `acme`";
    E016 Error "dashboard-hostname" "an enabled dashboard has no hostname";
    E017 Error "pool-size" "an address pool cannot hand out networks of its size";
    E018 Error "nesting-too-deep" "blocks are nested deeper than the parser allows";
    E019 Error "component-definition" "a component definition is invalid";
    E020 Error "file-text" "a `file` needs exactly one of `source` and `content`";
    E101 Error "missing-networks" "a service does not name its networks";
    E102 Error "published-ports" "a service publishes ports";
    E103 Error "route-without-ingress" "a routed service is not on the ingress tier";
    E104 Error "exposed-datastore" "a datastore is on the ingress or egress tier";
    E105 Error "dependency-without-shared-network" "a dependency shares no network";
    E106 Error "cross-stack-dependency" "a dependency on another stack's service";
    E107 Error "dependency-cycle" "services depend on each other in a cycle";
    E108 Error "duplicate-route" "a route hostname is used twice";
    E109 Error "route-without-proxy" "a route on a host without a proxy";
    E110 Error "route-port-reserved" "a route uses a port the proxy listens on";
    E111 Error "ingress-without-route" "a service on `ingress` has no route";
    E112 Error "project-name-taken" "a stack has the name of the proxy's Compose project";
    E113 Error "stack-placement" "a stack names neither or both of a host and a cluster";
    E114 Error "backup-agent-without-egress" "a backup agent cannot reach its backup target";
    E115 Error "dependency-on-job" "a service depends on a scheduled job";
    E116 Error "volume-sharing" "a volume is shared between stacks without both declaring it";
    E117 Error "forward-auth-unreachable" "the proxy cannot reach a forward-auth service";
    E118 Error "service-sharing" "a service is reached across stacks without both declaring it";
    E201 Error "overlapping-cidrs" "networks that must be disjoint overlap";
    E202 Error "cidr-family-mismatch" "a rule's networks are of a family the host does not have";
    E203 Error "ssh-lockout" "the firewall would drop every SSH connection";
    E204 Error "host-os-missing" "a host does not say which operating system it runs";
    E205 Error "allow-all-from-anywhere" "an `allow` opens every port to everyone";
    E301 Error "grpc-through-tunnel" "a gRPC route is served through a Cloudflare Tunnel";
    E302 Error "acme-challenge-unreachable" "Let's Encrypt cannot reach the port its challenge uses";
    E501 Error "replicas-with-volume" "several replicas of a service share one volume";
    E502 Error "volume-size-missing" "a volume on a cluster has no size";
    E503 Error "bind-on-cluster" "a service on a cluster mounts a file of the node";
    E504 Error "user-name-on-cluster" "a service on a cluster runs as a user name";
    E505 Error "middleware-on-cluster" "a route on a cluster has middlewares";
    E506 Error "job-volume-on-cluster" "a job on a cluster mounts a volume";
    E507 Error "secret-default-on-cluster" "a secret has a default on a cluster";
    E401 Error "deploy-unreachable" "a deployed host has no IPv4 address";
    E402 Error "infrac-source-missing" "the workflows do not say where infrac comes from";
    W101 Warning "literal-secret" "a secret-looking variable has a literal value";
    W102 Warning "unpinned-image" "an image has no pinned tag";
    W103 Warning "route-without-healthcheck" "a routed service has no healthcheck";
    W104 Warning "volume-name-in-two-stacks" "two stacks of a host have volumes of one name";
    W201 Warning "ssh-open-to-world" "SSH is open to the whole internet";
    W301 Warning "route-outside-domain" "a route's hostname is not under the project's domains";
    W302 Warning "unused-middleware" "a middleware is not used";
    W401 Warning "deploy-user-unknown" "the deploy user is not a sudo user of the host";
    W501 Warning "replicas-on-host" "`replicas` on a host has no effect";
    W502 Warning "pod-security-not-restricted" "a namespace cannot enforce the restricted Pod Security Standard";
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

/// One replacement of source text: `span` becomes `replacement`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Edit {
    #[serde(skip)]
    pub span: Span,
    pub replacement: String,
}

/// Whether a fix keeps what the author meant. `infrac check --fix` applies only
/// safe fixes; editors offer both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Applicability {
    /// Corrects a typo or a notation; the author's meaning is clear.
    Safe,
    /// Makes the source compile, but chooses something the author should review.
    Unsafe,
}

/// A machine-applicable fix: edits in one file.
#[derive(Clone, Debug, PartialEq)]
pub struct Fix {
    pub message: String,
    pub applicability: Applicability,
    pub edits: Vec<Edit>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    pub primary: Label,
    pub secondary: Vec<Label>,
    pub help: Option<String>,
    pub fixes: Vec<Fix>,
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
            fixes: Vec::new(),
        }
    }

    /// Offers to replace `span` with `replacement`.
    pub fn with_fix(
        mut self,
        message: impl Into<String>,
        applicability: Applicability,
        span: Span,
        replacement: impl Into<String>,
    ) -> Self {
        self.fixes.push(Fix {
            message: message.into(),
            applicability,
            edits: vec![Edit {
                span,
                replacement: replacement.into(),
            }],
        });
        self
    }

    /// "did you mean" help, and the safe fix that writes the suggestion at `span`.
    pub fn with_suggestion(self, span: Span, suggestion: &str, replacement: String) -> Self {
        self.with_help(format!("did you mean `{suggestion}`?"))
            .with_fix(
                format!("replace with `{replacement}`"),
                Applicability::Safe,
                span,
                replacement,
            )
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

    pub fn for_each(&mut self, f: impl FnMut(&mut Diagnostic)) {
        self.items.iter_mut().for_each(f);
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

/// The candidate closest to `name`, if it is close enough to be a typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|candidate| (strsim::levenshtein(name, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, candidate)| candidate)
}

/// Applies the edits of one file to its text. Edits are applied from the end so
/// earlier offsets stay valid; an edit that overlaps one already taken is
/// skipped (the next run of the fixer applies it against the new text).
pub fn apply_edits(text: &str, file: FileId, edits: &[Edit]) -> String {
    let mut edits: Vec<&Edit> = edits.iter().filter(|e| e.span.file == file).collect();
    edits.sort_by_key(|e| (e.span.start, e.span.end));
    let mut kept: Vec<&Edit> = Vec::new();
    for edit in edits {
        let overlaps = kept
            .last()
            .is_some_and(|last| edit.span.start < last.span.end || edit.span == last.span);
        let in_bounds = edit.span.end <= text.len()
            && text.is_char_boundary(edit.span.start)
            && text.is_char_boundary(edit.span.end);
        if !overlaps && in_bounds {
            kept.push(edit);
        }
    }
    let mut out = text.to_string();
    for edit in kept.into_iter().rev() {
        out.replace_range(edit.span.start..edit.span.end, &edit.replacement);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(closest("ingres", ["ingress", "internal"]), Some("ingress"));
        assert_eq!(closest("xyz", ["ingress", "internal"]), None);
    }

    #[test]
    fn edits_apply_from_the_end_and_skip_overlaps() {
        let file = FileId(0);
        let edit = |start, end, text: &str| Edit {
            span: Span { file, start, end },
            replacement: text.to_string(),
        };
        let text = "service \"web\" imag=\"x\"";
        let edits = [edit(14, 18, "image"), edit(0, 7, "svc"), edit(15, 16, "z")];
        assert_eq!(apply_edits(text, file, &edits), "svc \"web\" image=\"x\"");
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
