//! W102: images are pinned to a tag other than `latest`, or to a digest.

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::Model;
use crate::source::Spanned;
use crate::values::ImageRef;

pub fn check_pinned_images(model: &Model, diagnostics: &mut Diagnostics) {
    let proxies = model
        .hosts
        .iter()
        .filter_map(|h| h.proxy.as_ref()?.image.as_ref());
    let services = model.services().filter_map(|(_, _, s)| s.image.as_ref());
    for image in proxies.chain(services) {
        check_image(image, diagnostics);
    }
}

fn check_image(image: &Spanned<ImageRef>, diagnostics: &mut Diagnostics) {
    if image.value.digest.is_some() {
        return;
    }
    let problem = match image.value.tag.as_deref() {
        None => "has no tag",
        Some("latest") => "uses the `latest` tag",
        Some(_) => return,
    };
    diagnostics.push(
        Diagnostic::new(
            Code::W102,
            format!("image `{}` {problem}", image.value.reference),
            image.span,
            "unpinned image",
        )
        .with_help(format!(
            "pin a version, e.g. `\"{}:1.2.3\"`, or a digest, so every deploy runs the same image",
            image
                .value
                .reference
                .strip_suffix(":latest")
                .unwrap_or(&image.value.reference)
        )),
    );
}
