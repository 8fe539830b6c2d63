//! The standard library: components written in the language (`stdlib/*.kdl`),
//! embedded in the binary. `expand` reads one when a `use` names it.

/// Every component of the standard library: its name and its source.
pub const COMPONENTS: &[(&str, &str)] = &[
    ("authelia", include_str!("../../../stdlib/authelia.kdl")),
    ("crowdsec", include_str!("../../../stdlib/crowdsec.kdl")),
    ("postgres", include_str!("../../../stdlib/postgres.kdl")),
    ("redis", include_str!("../../../stdlib/redis.kdl")),
    ("valkey", include_str!("../../../stdlib/valkey.kdl")),
    (
        "volume-backup",
        include_str!("../../../stdlib/volume-backup.kdl"),
    ),
];

pub fn source(name: &str) -> Option<&'static str> {
    COMPONENTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    COMPONENTS.iter().map(|(name, _)| *name)
}
