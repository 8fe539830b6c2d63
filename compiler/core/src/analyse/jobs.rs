//! E115: no service depends on a job. A job runs on its schedule and exits;
//! a service waiting for it would wait for a container that is not there.

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::Model;

pub fn check_jobs(model: &Model, diagnostics: &mut Diagnostics) {
    for (_, _, service) in model.services() {
        for dependency in &service.depends_on {
            let Some(target) = dependency.target.map(|id| model.service(id)) else {
                continue;
            };
            if target.schedule.is_some() {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E115,
                        format!(
                            "`{}` depends on job `{}`, which is not kept running",
                            service.name.value, target.name.value
                        ),
                        dependency.name.span,
                        "a scheduled job",
                    )
                    .with_help("depend on the services a job uses, not on the job; a job may depend on services"),
                );
            }
        }
    }
}
