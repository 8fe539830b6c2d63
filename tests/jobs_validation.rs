//! Scheduled jobs as systemd runs them: the unit files of every project pass
//! `systemd-analyze verify` (in a root holding Debian's systemd units and the
//! docker.io package's own docker.service), and the calendar events infrac
//! writes for a cron schedule elapse exactly when croniter says cron would run
//! it, over the next runs of each schedule. Each validator is first shown a
//! broken input.

mod support;

use support::{Check, Needs::*};

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() -> std::process::ExitCode {
    support::run_checks(vec![
        Check {
            name: "job_units_pass_systemd_analyze_verify",
            needs: &[
                System("systemd-analyze"),
                Installed(".tools/engine/lib/systemd/system/docker.service"),
            ],
            run: job_units_pass_systemd_analyze_verify,
        },
        Check {
            name: "timers_elapse_when_cron_would",
            needs: &[System("systemd-analyze"), Venv("python")],
            run: timers_elapse_when_cron_would,
        },
    ])
}

/// A root for `systemd-analyze verify --root`: the host's systemd units and
/// binaries, and Docker's unit and CLI from the unpacked docker.io package.
fn verify_root() -> PathBuf {
    let root = support::scratch_dir("systemd-root");
    let engine = support::workspace().join(".tools/engine");
    let copy = |from: &Path, to: &str| {
        let target = root.join(to);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        let (ok, _, stderr) = support::run(Command::new("cp").arg("-a").arg(from).arg(&target));
        assert!(ok, "copying {}: {stderr}", from.display());
    };
    copy(Path::new("/usr/lib/systemd"), "usr/lib/systemd");
    for unit in ["docker.service", "docker.socket"] {
        copy(
            &engine.join("lib/systemd/system").join(unit),
            &format!("etc/systemd/system/{unit}"),
        );
    }
    for binary in ["usr/bin/docker", "usr/sbin/dockerd"] {
        if engine.join(binary).exists() {
            copy(&engine.join(binary), binary);
        }
    }
    root
}

fn verify(root: &Path, units: &[(String, String)]) -> (bool, String) {
    let dir = root.join("etc/systemd/system");
    let mut paths = Vec::new();
    for (name, text) in units {
        std::fs::write(dir.join(name), text.replace("@ROOT@", "/opt/infrac")).unwrap();
        paths.push(format!("/etc/systemd/system/{name}"));
    }
    let (ok, stdout, stderr) = support::run(
        Command::new(support::system_tool("systemd-analyze").unwrap())
            .args(["verify", "--man=no"])
            .arg(format!("--root={}", root.display()))
            .args(&paths),
    );
    for (name, _) in units {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    // verify exits 0 with warnings; a warning about our units counts too.
    let report = format!("{stdout}{stderr}");
    (ok && !report.contains("infrac-job"), report)
}

fn job_units_pass_systemd_analyze_verify() {
    let root = verify_root();
    let broken = vec![(
        "infrac-job-x-y.timer".to_string(),
        "[Timer]\nOnCalendar=*-*-* 3:99:00\n[Install]\nWantedBy=timers.target\n".to_string(),
    )];
    let (ok, _) = verify(&root, &broken);
    assert!(!ok, "systemd-analyze verify accepted a broken timer");
    let mut checked = 0;
    for (project, artifacts) in support::validated_projects() {
        let units: Vec<(String, String)> = artifacts
            .iter()
            .filter(|(path, _)| path.contains("/jobs/infrac-job-"))
            .map(|(path, text)| (path.rsplit('/').next().unwrap().to_string(), text.clone()))
            .collect();
        if units.is_empty() {
            continue;
        }
        let (ok, report) = verify(&root, &units);
        assert!(ok, "{project}: systemd-analyze verify:\n{report}");
        checked += units.len();
    }
    assert!(checked >= 2, "only {checked} job units");
}

/// Cron schedules that exercise every form: lists, ranges, steps, names, both
/// day fields (cron's OR), a day field written from `*` (AND), and macros.
const SCHEDULES: [&str; 12] = [
    "30 3 * * *",
    "*/15 * * * *",
    "0 9-17/2 * * 1-5",
    "5,35 0 1,15 * *",
    "0 0 13 * 5",
    "0 12 */2 * mon",
    "0 6 * jan,jul sun",
    "45 23 * * 7",
    "0 0 1 */3 *",
    "@daily",
    "@weekly",
    "@hourly",
];

/// The next `count` runs of a schedule after `base` (Unix seconds), as systemd
/// computes them for infrac's calendar events, in UTC.
fn systemd_runs(calendars: &[String], base: u64, count: usize) -> Vec<String> {
    let mut runs = Vec::new();
    for calendar in calendars {
        let (ok, stdout, stderr) = support::run(
            Command::new(support::system_tool("systemd-analyze").unwrap())
                .env("TZ", "UTC")
                .args(["calendar", &format!("--iterations={count}")])
                .arg(format!("--base-time=@{base}"))
                .arg(calendar),
        );
        assert!(ok, "systemd-analyze calendar {calendar:?}: {stderr}");
        for line in stdout.lines() {
            let line = line.trim();
            if line.starts_with("Next elapse:") || line.starts_with("Iter. #") {
                // "Iter. #2: Wed 2026-11-25 03:30:00 UTC" → "2026-11-25 03:30:00"
                let fields: Vec<&str> = line.split_whitespace().collect();
                let at = fields.len() - 3;
                runs.push(format!("{} {}", fields[at], fields[at + 1]));
            }
        }
    }
    runs.sort();
    runs.dedup();
    runs.truncate(count);
    runs
}

fn croniter_runs(schedule: &str, base: u64, count: usize) -> Vec<String> {
    let script = format!(
        "import datetime, croniter\n\
         base = datetime.datetime.fromtimestamp({base}, datetime.timezone.utc)\n\
         it = croniter.croniter({schedule:?}, base)\n\
         for _ in range({count}):\n\
         \x20   print(it.get_next(datetime.datetime).strftime('%Y-%m-%d %H:%M:%S'))\n"
    );
    let (ok, stdout, stderr) = support::run(
        Command::new(support::workspace().join(".tools/venv/bin/python")).args(["-c", &script]),
    );
    assert!(ok, "croniter {schedule:?}: {stderr}");
    stdout.lines().map(str::to_string).collect()
}

fn timers_elapse_when_cron_would() {
    // 2026-11-23 00:00:00 UTC, a Monday.
    let base = 1_795_392_000;
    let wrong = infrac_core::values::parse_cron("30 4 * * *").unwrap();
    assert_ne!(
        systemd_runs(&wrong.calendars, base, 5),
        croniter_runs("30 3 * * *", base, 5),
        "the comparison cannot tell two schedules apart"
    );
    for schedule in SCHEDULES {
        let cron = infrac_core::values::parse_cron(schedule)
            .unwrap_or_else(|e| panic!("{schedule}: {}", e.message));
        let count = 25;
        assert_eq!(
            systemd_runs(&cron.calendars, base, count),
            croniter_runs(schedule, base, count),
            "{schedule:?} as {:?}",
            cron.calendars
        );
    }
}
