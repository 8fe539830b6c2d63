//! Typed values of the language: how a KDL value becomes a port, a duration, an
//! image reference… Each parser returns the typed value or a message saying what
//! is wrong, for the caller to turn into a diagnostic.

use std::net::IpAddr;

use base64::Engine;
use ipnet::IpNet;
use kdl::KdlValue;

use crate::schema::ValueType;

/// A checked value. Which variant is decided by the schema type.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    String(String),
    Integer(u64),
    Number(f64),
    Bool(bool),
    Port(u16),
    /// In bytes.
    Size(u64),
    Image(ImageRef),
    Ip(IpAddr),
    Cidr(IpNet),
    Duration(Duration),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_integer(&self) -> Option<u64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_port(&self) -> Option<u16> {
        match self {
            Value::Port(p) => Some(*p),
            _ => None,
        }
    }

    pub fn as_cidr(&self) -> Option<IpNet> {
        match self {
            Value::Cidr(net) => Some(*net),
            _ => None,
        }
    }

    pub fn as_duration(&self) -> Option<Duration> {
        match self {
            Value::Duration(d) => Some(d.clone()),
            _ => None,
        }
    }

    pub fn as_ip(&self) -> Option<IpAddr> {
        match self {
            Value::Ip(ip) => Some(*ip),
            _ => None,
        }
    }

    pub fn as_image(&self) -> Option<&ImageRef> {
        match self {
            Value::Image(image) => Some(image),
            _ => None,
        }
    }

    /// Bytes of a `size` value.
    pub fn as_size(&self) -> Option<u64> {
        match self {
            Value::Size(bytes) => Some(*bytes),
            _ => None,
        }
    }
}

/// A failed check: the message, help where there is something to suggest, and
/// the source text that would be right where the compiler knows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Invalid {
    pub message: String,
    pub help: Option<String>,
    pub fix: Option<ValueFix>,
}

/// What the value should have been written as.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueFix {
    /// This source text instead of the value.
    Replace(String),
    /// The value as written, in quotes (a number meant as a string).
    QuoteAsWritten,
}

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid {
        message: message.into(),
        help: None,
        fix: None,
    }
}

impl Invalid {
    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    fn fix(mut self, fix: ValueFix) -> Self {
        self.fix = Some(fix);
        self
    }
}

/// Checks a KDL value against a schema type.
pub fn check(ty: &ValueType, value: &KdlValue) -> Result<Value, Invalid> {
    match (ty, value) {
        (ValueType::Any, KdlValue::Bool(b)) => Ok(Value::Bool(*b)),
        (ValueType::Any, KdlValue::Integer(i)) if *i >= 0 => Ok(Value::Integer(*i as u64)),
        (ValueType::Any, KdlValue::Float(f)) if f.is_finite() => Ok(Value::Number(*f)),
        (ValueType::Bool, KdlValue::Bool(b)) => Ok(Value::Bool(*b)),
        (ValueType::Bool, KdlValue::String(s)) if matches!(s.as_str(), "true" | "false") => {
            Err(invalid("expected a boolean, found a string")
                .help(format!("KDL 2 writes booleans as `#{s}`"))
                .fix(ValueFix::Replace(format!("#{s}"))))
        }
        (ValueType::Port, KdlValue::Integer(i)) => u16::try_from(*i)
            .ok()
            .filter(|p| *p != 0)
            .map(Value::Port)
            .ok_or_else(|| invalid(format!("port {i} is out of range")).help("ports are 1–65535")),
        (ValueType::Integer, KdlValue::Integer(i)) => u64::try_from(*i)
            .map(Value::Integer)
            .map_err(|_| invalid(format!("{i} is negative"))),
        (ValueType::Number, KdlValue::Integer(i)) if *i > 0 => Ok(Value::Number(*i as f64)),
        (ValueType::Number, KdlValue::Float(f)) if *f > 0.0 && f.is_finite() => {
            Ok(Value::Number(*f))
        }
        (ValueType::Number, KdlValue::Integer(_) | KdlValue::Float(_)) => {
            Err(invalid("expected a positive number"))
        }
        (ValueType::String, KdlValue::Integer(_) | KdlValue::Float(_) | KdlValue::Bool(_)) => {
            Err(invalid(format!("expected a string, found {}", kind_of(value)))
                .help("quote the value: strings are written in quotes, so `1.10` stays `\"1.10\"` and does not become 1.1")
                .fix(ValueFix::QuoteAsWritten))
        }
        (ty, KdlValue::String(s)) => check_string(ty, s),
        (ty, other) => Err(invalid(format!(
            "expected {}, found {}",
            ty.describe(),
            kind_of(other)
        ))),
    }
}

fn kind_of(value: &KdlValue) -> &'static str {
    match value {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "an integer",
        KdlValue::Float(_) => "a number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}

fn check_string(ty: &ValueType, s: &str) -> Result<Value, Invalid> {
    let string = || Value::String(s.to_string());
    match ty {
        ValueType::String | ValueType::Any => Ok(string()),
        ValueType::Name => check_name(s).map(|()| string()),
        ValueType::Hostname => check_hostname(s).map(|()| string()),
        ValueType::Duration => parse_duration(s).map(Value::Duration),
        ValueType::Size => parse_size(s).map(Value::Size),
        ValueType::Image => parse_image(s).map(Value::Image),
        ValueType::Ip => s
            .parse()
            .map(Value::Ip)
            .map_err(|_| invalid(format!("`{s}` is not an IP address"))),
        ValueType::EnvName => check_env_name(s).map(|()| string()),
        ValueType::Path => check_path(s).map(|()| string()),
        ValueType::Capability => check_capability(s).map(|()| string()),
        ValueType::Cidr => parse_cidr(s).map(Value::Cidr),
        // An address (it has `.`, `:` or `/`) is a CIDR; anything else names a `cidr-set`.
        ValueType::Source if s.contains(['.', ':', '/']) => parse_cidr(s).map(Value::Cidr),
        ValueType::Source => check_name(s).map(|()| string()),
        ValueType::Interface => check_interface(s).map(|()| string()),
        ValueType::SshKey => check_ssh_key(s).map(|()| string()),
        ValueType::Package => check_package(s).map(|()| string()),
        ValueType::Email => check_email(s).map(|()| string()),
        ValueType::Uuid => check_uuid(s).map(|()| string()),
        ValueType::UrlPath => check_url_path(s).map(|()| string()),
        ValueType::StatusRange => check_status_range(s).map(|()| string()),
        ValueType::GitRef => check_git_ref(s).map(|()| string()),
        ValueType::RunnerLabel => check_runner_label(s).map(|()| string()),
        ValueType::GitUrl => check_git_url(s).map(|()| string()),
        ValueType::Username => check_username(s).map(|()| string()),
        ValueType::K8sVersion => check_k8s_version(s).map(|()| string()),
        ValueType::LabelSelector => check_label_selector(s).map(|()| string()),
        ValueType::CommitSha => check_commit_sha(s).map(|()| string()),
        ValueType::ActionName => check_action_name(s).map(|()| string()),
        ValueType::RelativePath => check_word_path(s, false).map(|()| string()),
        ValueType::Endpoint => check_endpoint(s).map(|()| string()),
        ValueType::Cron => parse_cron(s).map(|_| string()),
        ValueType::Bucket => check_bucket(s).map(|()| string()),
        ValueType::SafePath => check_word_path(s, true).map(|()| string()),
        ValueType::Enum { values, .. } if values.iter().any(|v| v == s) => Ok(string()),
        ValueType::Enum { values, .. } => {
            let error = invalid(format!("`{s}` is not {}", ty.describe()));
            Err(
                match crate::diagnostic::closest(s, values.iter().map(String::as_str)) {
                    Some(value) => error
                        .help(format!("did you mean `{value}`?"))
                        .fix(ValueFix::Replace(format!("{value:?}"))),
                    None => error,
                },
            )
        }
        ValueType::Port if s.parse::<u16>().is_ok() => {
            Err(invalid("expected a port number, found a string")
                .help(format!("write the port without quotes: `{s}`"))
                .fix(ValueFix::Replace(s.to_string())))
        }
        ValueType::Bool | ValueType::Port | ValueType::Integer | ValueType::Number => Err(invalid(
            format!("expected {}, found a string", ty.describe()),
        )),
    }
}

/// A DNS label (RFC 1123): safe as a file name, a Compose key and a Kubernetes name.
pub fn check_name(s: &str) -> Result<(), Invalid> {
    let problem = if s.is_empty() {
        Some("it is empty")
    } else if s.len() > 63 {
        Some("it is longer than 63 characters")
    } else if s.chars().any(|c| c.is_ascii_uppercase()) {
        Some("it contains upper-case letters")
    } else if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        Some("only a-z, 0-9 and `-` are allowed")
    } else if s.starts_with('-') || s.ends_with('-') {
        Some("it starts or ends with `-`")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => {
            let suggestion = suggest_label(s);
            let err = invalid(format!("`{s}` is not a DNS label: {problem}"));
            Err(match suggestion {
                Some(label) => err.help(format!("names are DNS labels; try `{label}`")),
                None => err.help("names are DNS labels: a-z, 0-9 and `-`, at most 63 characters"),
            })
        }
    }
}

fn suggest_label(s: &str) -> Option<String> {
    let mut label: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while label.contains("--") {
        label = label.replace("--", "-");
    }
    let label = label.trim_matches('-');
    (!label.is_empty() && label.len() <= 63 && label != s).then(|| label.to_string())
}

pub fn check_hostname(s: &str) -> Result<(), Invalid> {
    let lower = s.to_ascii_lowercase();
    let labels_ok = lower.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    if s.is_empty() || s.len() > 253 || !labels_ok {
        return Err(invalid(format!("`{s}` is not a valid hostname"))
            .help("a hostname is dot-separated labels of a-z, 0-9 and `-` (RFC 1123), e.g. `blog.acme.example`"));
    }
    if lower != s {
        return Err(
            invalid(format!("hostname `{s}` contains upper-case letters"))
                .help(format!("write it in lower case: `{lower}`")),
        );
    }
    Ok(())
}

/// A length of time in Go-style notation (`30s`, `1m30s`, `500ms`), which
/// Compose reads as written.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration {
    pub millis: u64,
    pub written: String,
}

impl Duration {
    /// Whole seconds, rounded up, at least one (Kubernetes probes count seconds).
    pub fn seconds_ceil(&self) -> u64 {
        self.millis.div_ceil(1000).max(1)
    }
}

/// Go-style durations as Compose accepts them: `30s`, `1m30s`, `500ms`, `2h`.
pub fn parse_duration(s: &str) -> Result<Duration, Invalid> {
    let mut rest = s;
    let mut millis: u64 = 0;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let after = &rest[digits..];
        let unit = [("ms", 1), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
            .into_iter()
            .find(|(u, _)| after.starts_with(u));
        let amount = rest[..digits].parse::<u64>().ok();
        match (amount, unit) {
            (Some(amount), Some((unit, scale))) => {
                millis = amount
                    .checked_mul(scale)
                    .and_then(|m| millis.checked_add(m))
                    .ok_or_else(|| invalid(format!("`{s}` is too long a duration")))?;
                rest = &after[unit.len()..];
                parts += 1;
            }
            _ => {
                return Err(invalid(format!("`{s}` is not a duration"))
                    .help("write a number and a unit (ms, s, m, h), e.g. `30s` or `1m30s`"));
            }
        }
    }
    if parts == 0 {
        return Err(invalid("the duration is empty").help("e.g. `30s`"));
    }
    Ok(Duration {
        millis,
        written: s.to_string(),
    })
}

/// Sizes in bytes from `512MiB`, `2GiB`, `100MB`, `1024`.
pub fn parse_size(s: &str) -> Result<u64, Invalid> {
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    let multiplier: Option<u64> = match &s[digits..] {
        "" | "B" => Some(1),
        "KiB" => Some(1 << 10),
        "MiB" => Some(1 << 20),
        "GiB" => Some(1 << 30),
        "TiB" => Some(1 << 40),
        "kB" | "KB" => Some(1_000),
        "MB" => Some(1_000_000),
        "GB" => Some(1_000_000_000),
        "TB" => Some(1_000_000_000_000),
        _ => None,
    };
    let bytes = s[..digits]
        .parse::<u64>()
        .ok()
        .zip(multiplier)
        .and_then(|(n, m)| n.checked_mul(m))
        .filter(|b| *b > 0);
    bytes.ok_or_else(|| {
        invalid(format!("`{s}` is not a size"))
            .help("write a whole number and a unit: B, KiB, MiB, GiB, TiB (or kB, MB, GB, TB), e.g. `512MiB`")
    })
}

pub fn check_env_name(s: &str) -> Result<(), Invalid> {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(
            invalid(format!("`{s}` is not an environment variable name"))
                .help("use letters, digits and `_`, not starting with a digit"),
        )
    }
}

pub fn check_path(s: &str) -> Result<(), Invalid> {
    if !s.starts_with('/') {
        return Err(invalid(format!("`{s}` is not an absolute path")).help("paths start with `/`"));
    }
    if s.chars().any(char::is_control) {
        return Err(invalid("the path contains a control character"));
    }
    if s.split('/').any(|part| part == "..") {
        return Err(
            invalid(format!("`{s}` contains `..`")).help("write the path without `..` segments")
        );
    }
    Ok(())
}

pub fn check_capability(s: &str) -> Result<(), Invalid> {
    let name = s.strip_prefix("CAP_").unwrap_or(s);
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
        Ok(())
    } else {
        Err(invalid(format!("`{s}` is not a capability name"))
            .help("e.g. `NET_BIND_SERVICE` or `CHOWN`"))
    }
}

/// A network in CIDR notation; a bare address is a network of one address.
/// Host bits must be zero, so `10.0.0.1/8` is refused with the network it meant.
pub fn parse_cidr(s: &str) -> Result<IpNet, Invalid> {
    let net = match s.split_once('/') {
        Some(_) => s.parse::<IpNet>().map_err(|_| ()),
        None => s.parse::<IpAddr>().map(IpNet::from).map_err(|_| ()),
    }
    .map_err(|()| {
        invalid(format!("`{s}` is not a CIDR"))
            .help("write an address and a prefix length, e.g. `198.51.100.0/24` or `2001:db8::/32`")
    })?;
    if net.trunc() != net {
        return Err(invalid(format!("`{s}` has host bits set")).help(format!(
            "the network is `{}`; a CIDR names the first address of its range",
            net.trunc()
        )));
    }
    Ok(net)
}

/// A Linux network interface name: 1–15 bytes, no `/`, `:`, whitespace or quotes.
pub fn check_interface(s: &str) -> Result<(), Invalid> {
    let valid = !s.is_empty()
        && s.len() <= 15
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(invalid(format!("`{s}` is not an interface name"))
            .help("Linux interface names have 1–15 characters of a-z, A-Z, 0-9, `-`, `_` and `.`, e.g. `eth0` or `ens3`"))
    }
}

/// A Debian package name (Debian Policy §5.6.7): lower case, digits, `+`, `-`, `.`,
/// at least two characters, starting with a letter or digit.
pub fn check_package(s: &str) -> Result<(), Invalid> {
    let valid = s.len() >= 2
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'));
    if valid {
        Ok(())
    } else {
        Err(invalid(format!("`{s}` is not a Debian package name"))
            .help("package names are lower case letters, digits, `+`, `-` and `.`, e.g. `unattended-upgrades`"))
    }
}

/// An address as ACME accounts take it: `local@domain`, nothing a YAML or shell
/// reader could take for syntax.
pub fn check_email(s: &str) -> Result<(), Invalid> {
    let valid = s.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c))
            && check_hostname(domain).is_ok()
            && domain.contains('.')
    });
    if valid {
        Ok(())
    } else {
        Err(invalid(format!("`{s}` is not an email address")).help("e.g. `ops@acme.example`"))
    }
}

/// A UUID in its canonical lower-case 8-4-4-4-12 form.
pub fn check_uuid(s: &str) -> Result<(), Invalid> {
    let groups: Vec<&str> = s.split('-').collect();
    let valid = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| {
            g.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        });
    if valid {
        Ok(())
    } else {
        Err(invalid(format!("`{s}` is not a UUID"))
            .help("copy the tunnel's id as `cloudflared tunnel list` prints it, e.g. `6ff42ae2-765d-4adf-8112-31c55c1551ef`"))
    }
}

/// A path prefix for a proxy rule: starts with `/`, and holds only characters
/// that are literal in a URL path, so it cannot break out of a Traefik rule.
pub fn check_url_path(s: &str) -> Result<(), Invalid> {
    let valid = s.starts_with('/')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-._~%!&'()*+,;=:@".contains(c));
    if valid {
        Ok(())
    } else {
        Err(invalid(format!("`{s}` is not a URL path"))
            .help("a path starts with `/` and holds letters, digits and `-._~/`, e.g. `/api`"))
    }
}

/// One HTTP status (`404`) or a range (`400-599`) of three-digit codes.
pub fn check_status_range(s: &str) -> Result<(), Invalid> {
    let status = |part: &str| {
        part.len() == 3
            && part
                .parse::<u16>()
                .is_ok_and(|code| (100..=599).contains(&code))
    };
    let valid = match s.split_once('-') {
        Some((from, to)) => status(from) && status(to) && from <= to,
        None => status(s),
    };
    if valid {
        Ok(())
    } else {
        Err(invalid(format!("`{s}` is not an HTTP status range"))
            .help("write a status such as `404` or a range such as `400-599`"))
    }
}

/// Characters that are literal everywhere a workflow or a shell script puts a
/// value: no `$`, quote, space, brace or newline can start an expansion.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')
}

/// A branch name that git accepts (git-check-ref-format) and that is one plain
/// word for a shell or an Actions expression.
/// A runner label such as `ubuntu-24.04` or `self-hosted`: one plain word.
pub fn check_runner_label(s: &str) -> Result<(), Invalid> {
    let valid = !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !s.starts_with(['-', '.']);
    if valid {
        Ok(())
    } else {
        Err(invalid(format!("`{s}` is not a runner label"))
            .help("use letters, digits, `.`, `_` and `-`, e.g. `ubuntu-24.04` or `self-hosted`"))
    }
}

/// An HTTPS URL of a git repository, one shell word: `https://host/path`.
/// A schedule written as cron writes it, and the same as systemd calendar
/// events (a timer elapses when any of them does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    pub calendars: Vec<String>,
}

const DAY_NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Reads a five-field cron expression (`minute hour day-of-month month
/// day-of-week`, with `*`, lists, ranges and steps, month and day names) or a
/// macro (`@daily` …) into systemd calendar events with the same meaning.
/// Cron runs when either day field matches if both are restricted (not `*`);
/// systemd needs both, so such a schedule becomes two events.
pub fn parse_cron(s: &str) -> Result<Cron, Invalid> {
    let macro_ = match s.trim() {
        "@yearly" | "@annually" => Some("*-01-01 00:00:00"),
        "@monthly" => Some("*-*-01 00:00:00"),
        "@weekly" => Some("Sun *-*-* 00:00:00"),
        "@daily" | "@midnight" => Some("*-*-* 00:00:00"),
        "@hourly" => Some("*-*-* *:00:00"),
        _ => None,
    };
    if let Some(calendar) = macro_ {
        return Ok(Cron {
            calendars: vec![calendar.to_string()],
        });
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    let help = "five fields: minute hour day-of-month month day-of-week, e.g. `\"30 3 * * *\"`, or `@daily`";
    let [minute, hour, dom, month, dow] = fields[..] else {
        return Err(invalid(format!("`{s}` is not a cron schedule")).help(help));
    };
    let minutes = cron_field(minute, 0, 59, &[])?;
    let hours = cron_field(hour, 0, 23, &[])?;
    let days = cron_field(dom, 1, 31, &[])?;
    let months = cron_field(month, 1, 12, &MONTH_NAMES)?;
    let weekdays = cron_field(
        dow,
        0,
        7,
        &DAY_NAMES
            .map(|d| d.to_ascii_lowercase())
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )?;
    let list = |values: &Option<Vec<u32>>| match values {
        None => "*".to_string(),
        Some(values) => values
            .iter()
            .map(|v| format!("{v:02}"))
            .collect::<Vec<_>>()
            .join(","),
    };
    let weekday_names = weekdays.as_ref().map(|days| {
        let mut names: Vec<usize> = days.iter().map(|d| (*d % 7) as usize).collect();
        names.sort_unstable();
        names.dedup();
        names
            .into_iter()
            .map(|d| DAY_NAMES[d])
            .collect::<Vec<_>>()
            .join(",")
    });
    let time = format!("{}:{}:00", list(&hours), list(&minutes));
    let event = |weekdays: Option<&String>, days: &Option<Vec<u32>>| match weekdays {
        Some(names) => format!("{names} *-{}-{} {time}", list(&months), list(days)),
        None => format!("*-{}-{} {time}", list(&months), list(days)),
    };
    // A day field is unrestricted only as `*`: `*/2` restricts it, as
    // Kubernetes' CronJobs (robfig/cron) and croniter read it (Vixie cron
    // would not), so a stack means the same on a host and on a cluster.
    let both_restricted = dom != "*" && dow != "*";
    let calendars = match &weekday_names {
        Some(names) if both_restricted => vec![event(None, &days), event(Some(names), &None)],
        names => vec![event(names.as_ref(), &days)],
    };
    Ok(Cron { calendars })
}

/// The values a cron field allows, `None` for `*` (every value).
fn cron_field(
    field: &str,
    low: u32,
    high: u32,
    names: &[&str],
) -> Result<Option<Vec<u32>>, Invalid> {
    if field == "*" {
        return Ok(None);
    }
    let number = |text: &str| -> Result<u32, Invalid> {
        let lower = text.to_ascii_lowercase();
        let value = match names.iter().position(|n| *n == lower) {
            // Month names count from 1, day names from 0.
            Some(index) => index as u32 + low,
            None => text
                .parse::<u32>()
                .map_err(|_| invalid(format!("`{text}` is not a number in `{field}`")))?,
        };
        if (low..=high).contains(&value) {
            Ok(value)
        } else {
            Err(invalid(format!("{value} is out of range in `{field}`"))
                .help(format!("this field takes {low}–{high}")))
        }
    };
    let mut values = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (
                range,
                step.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| invalid(format!("`{step}` is not a step in `{field}`")))?,
            ),
            None => (item, 1),
        };
        let (from, to) = match range {
            "*" => (low, high),
            _ => match range.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None if step > 1 => (number(range)?, high),
                None => (number(range)?, number(range)?),
            },
        };
        if from > to {
            return Err(invalid(format!("`{range}` runs backwards in `{field}`")));
        }
        values.extend((from..=to).step_by(step as usize));
    }
    values.sort_unstable();
    values.dedup();
    Ok(Some(values))
}

/// A host name or IP address with an optional port: `minio.lan:9000`.
pub fn check_endpoint(s: &str) -> Result<(), Invalid> {
    let host = match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            port.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| invalid(format!("`{port}` is not a port")))?;
            host
        }
        _ => s,
    };
    if check_hostname(host).is_ok() || host.parse::<IpAddr>().is_ok() {
        Ok(())
    } else {
        Err(
            invalid(format!("`{s}` is not a host with an optional port")).help(
                "write the host alone, without a scheme or path: `s3.eu-central-1.amazonaws.com`",
            ),
        )
    }
}

/// S3's bucket naming rules: 3–63 characters of a-z, 0-9, `.` and `-`,
/// starting and ending with a letter or digit.
pub fn check_bucket(s: &str) -> Result<(), Invalid> {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let valid = (3..=63).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && alnum(s.chars().next())
        && alnum(s.chars().last())
        && !s.contains("..");
    if valid {
        Ok(())
    } else {
        Err(invalid(format!("`{s}` is not a bucket name"))
            .help("bucket names are 3–63 characters of a-z, 0-9, `.` and `-`, starting and ending with a letter or digit"))
    }
}

pub fn check_git_url(s: &str) -> Result<(), Invalid> {
    let valid = s.strip_prefix("https://").is_some_and(|rest| {
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        check_hostname(host).is_ok()
            && !path.is_empty()
            && path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | '~'))
            && !path.contains("..")
    });
    if valid {
        Ok(())
    } else {
        Err(
            invalid(format!("`{s}` is not an HTTPS git URL infrac accepts")).help(
                "write `https://host/owner/repo` with letters, digits, `.`, `_`, `-`, `~` and `/`",
            ),
        )
    }
}

/// The Kubernetes releases whose API the manifests can be checked against.
pub const K8S_RELEASES: std::ops::RangeInclusive<u32> = 25..=37;

/// A Kubernetes release, `1.NN`.
pub fn check_k8s_version(s: &str) -> Result<(), Invalid> {
    let minor = s.strip_prefix("1.").and_then(|m| m.parse::<u32>().ok());
    match minor {
        Some(minor) if K8S_RELEASES.contains(&minor) => Ok(()),
        _ => Err(
            invalid(format!("`{s}` is not a Kubernetes release infrac targets"))
                .help("write the release as `\"1.31\"`; 1.25 to 1.37 are known"),
        ),
    }
}

/// `key=value` with Kubernetes' label syntax: an optional DNS prefix and `/`,
/// a name of at most 63 characters, and a value of at most 63.
pub fn check_label_selector(s: &str) -> Result<(), Invalid> {
    let segment = |part: &str| {
        !part.is_empty()
            && part.len() <= 63
            && part.starts_with(|c: char| c.is_ascii_alphanumeric())
            && part.ends_with(|c: char| c.is_ascii_alphanumeric())
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    let valid = s.split_once('=').is_some_and(|(key, value)| {
        let name = match key.split_once('/') {
            Some((prefix, name)) => check_hostname(prefix).is_ok().then_some(name),
            None => Some(key),
        };
        name.is_some_and(segment) && (value.is_empty() || segment(value))
    });
    if valid {
        Ok(())
    } else {
        Err(
            invalid(format!("`{s}` is not a label selector `key=value`"))
                .help("e.g. `app.kubernetes.io/name=traefik`"),
        )
    }
}

/// A registry user name.
pub fn check_username(s: &str) -> Result<(), Invalid> {
    let valid = !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        && !s.starts_with('-');
    if valid {
        Ok(())
    } else {
        Err(invalid(format!("`{s}` is not a user name infrac accepts"))
            .help("use letters, digits, `.`, `_`, `-` and `@`"))
    }
}

pub fn check_git_ref(s: &str) -> Result<(), Invalid> {
    let valid = !s.is_empty()
        && s.chars().all(is_word_char)
        && !s.starts_with(['-', '/', '.'])
        && !s.ends_with(['/', '.'])
        && !s.ends_with(".lock")
        && !s.contains("..")
        && !s.contains("//")
        && !s.contains("/.");
    if valid {
        Ok(())
    } else {
        Err(
            invalid(format!("`{s}` is not a branch name infrac accepts"))
                .help("use letters, digits, `.`, `_`, `-` and `/`, e.g. `main` or `release/1.2`"),
        )
    }
}

pub fn check_commit_sha(s: &str) -> Result<(), Invalid> {
    if s.len() == 40
        && s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    {
        Ok(())
    } else {
        Err(invalid(format!("`{s}` is not a full commit SHA")).help(
            "pin actions by the 40-digit lower-case SHA of a release commit; tags can be moved",
        ))
    }
}

/// `owner/repo` of a GitHub action.
pub fn check_action_name(s: &str) -> Result<(), Invalid> {
    let part_ok = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    match s.split_once('/') {
        Some((owner, repo)) if part_ok(owner) && part_ok(repo) => Ok(()),
        _ => Err(invalid(format!("`{s}` is not an action name"))
            .help("write `owner/repo`, e.g. `actions/checkout`")),
    }
}

/// A path that is one plain word (letters, digits, `.`, `_`, `-`, `/`) without
/// `..`: absolute or relative as asked.
pub fn check_word_path(s: &str, absolute: bool) -> Result<(), Invalid> {
    let words_ok =
        !s.is_empty() && s.chars().all(is_word_char) && !s.split('/').any(|part| part == "..");
    let anchored = s.starts_with('/') == absolute;
    if words_ok && anchored {
        Ok(())
    } else {
        let example = if absolute { "/opt/infrac" } else { "compiled" };
        Err(invalid(format!("`{s}` is not a path infrac can pass to a workflow")).help(format!(
            "write {} path of letters, digits, `.`, `_`, `-` and `/`, without `..`, e.g. `{example}`",
            if absolute { "an absolute" } else { "a relative" }
        )))
    }
}

/// Key types OpenSSH accepts in `authorized_keys`.
const SSH_KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// A public key line as `authorized_keys` takes it: `TYPE BASE64 [COMMENT]`, where
/// the decoded key starts with its own type name (RFC 4253 §6.6), so a pasted
/// private key, a truncated blob or a type that disagrees with the blob is refused.
pub fn check_ssh_key(s: &str) -> Result<(), Invalid> {
    let help =
        "paste one line of a `.pub` file, e.g. `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA… user@laptop`";
    if s.contains("PRIVATE KEY") {
        return Err(invalid("this is a private key").help(
            "give the public half (the `.pub` file); the private key never leaves its owner's machine",
        ));
    }
    if s.contains(['\n', '\r']) {
        return Err(invalid("an SSH key is one line").help(help));
    }
    let mut words = s.split_whitespace();
    let (Some(kind), Some(blob)) = (words.next(), words.next()) else {
        return Err(invalid("an SSH public key needs a type and a key").help(help));
    };
    if !SSH_KEY_TYPES.contains(&kind) {
        return Err(invalid(format!("`{kind}` is not an SSH public key type"))
            .help(format!("known types: {}", SSH_KEY_TYPES.join(", "))));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .map_err(|_| invalid("the SSH key's data is not valid base64").help(help))?;
    let embedded = decoded
        .get(..4)
        .map(|len| u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize)
        .and_then(|len| decoded.get(4..4 + len));
    if embedded != Some(kind.as_bytes()) {
        return Err(
            invalid(format!("the SSH key's data is not a `{kind}` key")).help(
                "the key is truncated or its type does not match its data; copy the whole line again",
            ),
        );
    }
    Ok(())
}

/// An OCI image reference: `[registry/]path[:tag][@digest]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    pub reference: String,
    /// The registry's host (and port) when the reference names one, e.g. `ghcr.io`.
    pub registry: Option<String>,
    /// The path without registry, e.g. `acme/blog` or `postgres`.
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// The last path component: `postgres` for `docker.io/library/postgres:16`.
    pub fn base_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The registry the image is pulled from, when the reference names one.
    pub fn registry(&self) -> Option<&str> {
        self.registry.as_deref()
    }
}

pub fn parse_image(s: &str) -> Result<ImageRef, Invalid> {
    let bad = |why: &str| {
        invalid(format!("`{s}` is not an image reference: {why}")).help(
            "an image reference looks like `\"ghcr.io/acme/app:1.2.3\"` or `\"postgres:16.4\"`",
        )
    };
    let (name_tag, digest) = match s.split_once('@') {
        Some((name, digest)) => {
            let valid = digest.split_once(':').is_some_and(|(algo, hex)| {
                !algo.is_empty() && hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
            });
            if !valid {
                return Err(bad("the digest is not `algorithm:hex`"));
            }
            (name, Some(digest.to_string()))
        }
        None => (s, None),
    };
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => (
            &name_tag[..last_slash + i],
            Some(&name_tag[last_slash + i + 1..]),
        ),
        None => (name_tag, None),
    };
    if let Some(tag) = tag {
        let tag_ok = !tag.is_empty()
            && tag.len() <= 128
            && !tag.starts_with(['.', '-'])
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !tag_ok {
            return Err(bad("the tag is not valid"));
        }
    }
    let mut components: Vec<&str> = name.split('/').collect();
    let has_registry = components.len() > 1
        && (components[0].contains(['.', ':']) || components[0] == "localhost");
    let mut registry_host = None;
    if has_registry {
        let registry = components.remove(0);
        registry_host = Some(registry.to_string());
        if !registry
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | ':'))
        {
            return Err(bad("the registry is not a lower-case host name"));
        }
    }
    let component_ok = |c: &&str| {
        !c.is_empty()
            && c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.ends_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.chars().all(|ch| {
                ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '.' | '_' | '-')
            })
    };
    if components.is_empty() || !components.iter().all(component_ok) {
        return Err(bad(
            "repository names are lower-case letters, digits and `.`, `_`, `-`",
        ));
    }
    Ok(ImageRef {
        reference: s.to_string(),
        registry: registry_host,
        path: components.join("/"),
        tag: tag.map(str::to_string),
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images() {
        let image = parse_image("ghcr.io/acme/blog:1.4.2").unwrap();
        assert_eq!(
            (image.path.as_str(), image.tag.as_deref()),
            ("acme/blog", Some("1.4.2"))
        );
        assert_eq!(parse_image("localhost:5000/app").unwrap().tag, None);
        assert_eq!(
            parse_image("postgres:16.4").unwrap().base_name(),
            "postgres"
        );
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert!(
            parse_image(&format!("redis@{digest}"))
                .unwrap()
                .digest
                .is_some()
        );
        assert!(parse_image("Postgres:16").is_err());
        assert!(parse_image("postgres:").is_err());
        assert!(parse_image("").is_err());
        assert!(parse_image("a b").is_err());
    }

    #[test]
    fn names_are_dns_labels() {
        assert!(check_name("blog-db").is_ok());
        assert!(check_name("../x").is_err());
        assert!(check_name("Blog").is_err());
        assert!(check_name(&"a".repeat(64)).is_err());
        assert!(check_name("-a").is_err());
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("1m30s").map(|d| d.millis), Ok(90_000));
        assert_eq!(parse_duration("2m").map(|d| d.seconds_ceil()), Ok(120));
        assert_eq!(parse_duration("500ms").map(|d| d.seconds_ceil()), Ok(1));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("99999999999999999h").is_err());
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert!(parse_size("1.5GiB").is_err());
        assert!(parse_size("0B").is_err());
    }

    #[test]
    fn cidrs() {
        assert_eq!(parse_cidr("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(
            parse_cidr("2001:db8::1").unwrap().to_string(),
            "2001:db8::1/128"
        );
        assert!(parse_cidr("10.0.0.1/8").is_err());
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("admins").is_err());
    }

    #[test]
    fn ssh_keys() {
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPdHfSbvVigFFPVMEhb3yfIixa00/SG9V3u+SKsHDSHj deploy@laptop";
        assert!(check_ssh_key(key).is_ok());
        assert!(check_ssh_key(&key.replace("ssh-ed25519", "ssh-rsa")).is_err());
        assert!(check_ssh_key("ssh-ed25519 AAAAC3NzaC1lZDI1").is_err());
        assert!(check_ssh_key("-----BEGIN OPENSSH PRIVATE KEY-----").is_err());
        assert!(check_ssh_key("ssh-ed25519").is_err());
    }

    #[test]
    fn hostnames() {
        assert!(check_hostname("blog.acme.example").is_ok());
        assert!(check_hostname("Blog.acme.example").is_err());
        assert!(check_hostname("a`) || Host(`evil").is_err());
        assert!(check_hostname("a..b").is_err());
    }
}
