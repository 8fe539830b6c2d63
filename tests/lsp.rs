//! The language server in real clients: pytest-lsp drives `infrac lsp` through
//! diagnostics as typed, hover, completion, definition across includes,
//! rename, quick fixes, outline and formatting (`tests/lsp/test_server.py`);
//! a headless Neovim attaches it with its built-in client and receives a
//! diagnostic on the right line (`tests/lsp/smoke.lua`).

mod support;

use support::{Check, Needs::*};

fn main() -> std::process::ExitCode {
    support::run_checks(vec![
        Check {
            name: "pytest_lsp_drives_the_server",
            needs: &[Venv("pytest")],
            run: pytest_lsp_drives_the_server,
        },
        Check {
            name: "neovim_receives_diagnostics",
            needs: &[System("nvim")],
            run: neovim_receives_diagnostics,
        },
    ])
}

fn pytest_lsp_drives_the_server() {
    let workspace = support::workspace();
    let mut command = std::process::Command::new(workspace.join(".tools/venv/bin/python"));
    command
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=auto",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
        ])
        .arg(workspace.join("tests/lsp/test_server.py"))
        .env("INFRAC_BIN", env!("CARGO_BIN_EXE_infrac"))
        .current_dir(workspace.join("tests/lsp"));
    let report = succeeds(command);
    assert!(
        report.contains(" passed") && !report.contains("skipped"),
        "{report}"
    );
}

fn neovim_receives_diagnostics() {
    let project = support::scratch_dir("nvim").join("vps");
    support::copy_dir(&support::workspace().join("examples/vps"), &project);
    let shop = project.join("stacks/shop.kdl");
    let text = std::fs::read_to_string(&shop).unwrap();
    let typo = text.replacen(
        "secret=\"shop-stripe-key\"",
        "secret=\"shop-stripe-kee\"",
        1,
    );
    let line = typo
        .lines()
        .position(|l| l.contains("shop-stripe-kee"))
        .unwrap()
        + 1;
    std::fs::write(&shop, typo).unwrap();
    let mut command = std::process::Command::new(support::system_tool("nvim").unwrap());
    command
        .args(["--headless", "--clean", "-u"])
        .arg(support::workspace().join("tests/lsp/smoke.lua"))
        .arg(&shop)
        .env("INFRAC_BIN", env!("CARGO_BIN_EXE_infrac"))
        .env("INFRAC_EXPECT", format!("E010:{line}"));
    let report = succeeds(command);
    assert!(
        report.contains("unknown secret `shop-stripe-kee`"),
        "{report}"
    );
}

/// What a command printed, once it exited 0.
fn succeeds(mut command: std::process::Command) -> String {
    let (ok, stdout, stderr) = support::run(&mut command);
    let report = format!("{stdout}{stderr}");
    assert!(ok, "{report}");
    report
}
