//! The browser demo end to end, in real headless Debian Chromium driven by playwright-core
//! (`tests/interop/browser.mjs`): the one-process `collab-server` binary serves the app at `/`
//! and two users in two browser contexts share a document (text and cursors), chat (typing
//! indicator before the message), reload, upload and download a file, and import a design.
//!
//! Screenshots land in `target/tmp/e2e-screenshots/` (or `WEFT_E2E_SCREENSHOTS`). Chromium is
//! `/usr/bin/chromium` (Debian's package; `CHROMIUM` overrides): the README's test command
//! installs it, and without it this test fails rather than skip.

use crate::support::process::ServerProcess;
use std::path::PathBuf;
use std::time::Duration;

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

fn screenshot_dir() -> PathBuf {
    std::env::var_os("WEFT_E2E_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-screenshots"))
}

#[tokio::test]
async fn two_users_in_chromium_edit_chat_upload_and_import_through_the_demo() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: `apt-get install chromium` (bash .ci/test does)"
    );
    assert!(
        interop_dir().join("node_modules/playwright-core").is_dir(),
        "run `npm ci` in {} (bash .ci/test does)",
        interop_dir().display()
    );
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&["--data-dir", data.path().to_str().unwrap()], &[]).await;
    let base = format!("http://127.0.0.1:{}", server.port);

    let page = reqwest::get(&base).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<div id=\"app\">"));

    let shots = screenshot_dir();
    let _ = std::fs::remove_dir_all(&shots);
    let run = tokio::process::Command::new("node")
        .arg("browser.mjs")
        .arg(&base)
        .arg(&shots)
        .env("CHROMIUM", &chromium)
        .current_dir(interop_dir())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(240), run).await;
    // The server goes before any assertion can panic, so a failed run leaves no process behind.
    server.signal("-KILL");
    let _ = server.wait().await;
    let out = out
        .expect("the browser test finishes within 4 minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser e2e failed (screenshots in {}):\n{stdout}\n{stderr}",
        shots.display()
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
    for name in [
        "01-editor-ada-sees-bob.png",
        "02-editor-bob-sees-ada.png",
        "03-chat-ada-sees-bob-typing.png",
        "04-chat-ada-sees-bob-message.png",
        "05-after-reload.png",
        "06-file-uploaded.png",
        "07-design-tree-bob-sees-rename.png",
    ] {
        let len = std::fs::metadata(shots.join(name)).map(|m| m.len());
        assert!(
            matches!(len, Ok(n) if n > 1000),
            "screenshot {name}: {len:?}"
        );
    }
    println!("browser e2e screenshots: {}", shots.display());
}
