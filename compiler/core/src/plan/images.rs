//! What infrac knows about well-known images, read from `schema/images.kdl`
//! (embedded at build time). In: an image reference. Out: whether it is a
//! datastore and which capabilities its entrypoint needs.

use std::sync::OnceLock;

use kdl::KdlDocument;

use crate::values::ImageRef;

pub const IMAGES_SOURCE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../schema/images.kdl"
));

#[derive(Clone, Debug, PartialEq)]
pub struct KnownImage {
    /// Matches the last path component of a reference by prefix.
    pub name: String,
    pub datastore: bool,
    /// Capabilities the image's entrypoint needs, without `CAP_`.
    pub capabilities: Vec<String>,
}

/// The entry for an image, if infrac knows it.
pub fn known(image: &ImageRef) -> Option<&'static KnownImage> {
    let base = image.base_name();
    table().iter().find(|known| base.starts_with(&known.name))
}

pub fn table() -> &'static [KnownImage] {
    static TABLE: OnceLock<Vec<KnownImage>> = OnceLock::new();
    TABLE.get_or_init(|| match parse(IMAGES_SOURCE) {
        Ok(table) => table,
        // Embedded and covered by tests; a broken table cannot ship.
        Err(message) => panic!("schema/images.kdl is invalid: {message}"),
    })
}

pub fn parse(text: &str) -> Result<Vec<KnownImage>, String> {
    let document = KdlDocument::parse(text).map_err(|e| format!("{e:?}"))?;
    document
        .nodes()
        .iter()
        .map(|node| {
            if node.name().value() != "image" {
                return Err(format!("unknown entry `{}`", node.name().value()));
            }
            let name = node
                .entries()
                .first()
                .and_then(|e| e.value().as_string())
                .ok_or("an image needs a name")?
                .to_string();
            let capabilities = node
                .children()
                .and_then(|c| c.get("capabilities"))
                .map(|c| {
                    c.entries()
                        .iter()
                        .filter_map(|e| e.value().as_string().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            Ok(KnownImage {
                datastore: node
                    .get("datastore")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false),
                name,
                capabilities,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{check_capability, parse_image};

    #[test]
    fn the_table_parses_and_names_real_capabilities() {
        let table = parse(IMAGES_SOURCE).unwrap();
        assert!(table.len() > 10);
        for image in &table {
            for capability in &image.capabilities {
                assert!(check_capability(capability).is_ok(), "{capability}");
            }
        }
    }

    #[test]
    fn images_match_by_last_component() {
        let pgvector = parse_image("pgvector/pgvector:pg16").unwrap();
        let entry = known(&pgvector).unwrap();
        assert!(entry.datastore);
        assert!(entry.capabilities.contains(&"CHOWN".to_string()));
        assert!(known(&parse_image("ghcr.io/acme/blog:1.4.2").unwrap()).is_none());
    }
}
