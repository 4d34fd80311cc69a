//! Loads the HTML report of the fixture in headless Chromium and checks, through the DevTools protocol
//! over a pipe (no network port), that the page loads, logs no console error or exception, makes no
//! request other than the file itself, and renders its charts. At a 1366×768 viewport (a common laptop
//! screen) the decision matrix and the first chart must be visible without scrolling. A full-page
//! screenshot and a first-screen screenshot are saved under `target/tmp/report-browser/` as artifacts
//! for a person to look at.
//!
//! Without Chromium the test is skipped, unless `CI` is set (CI installs the `chromium` package), where
//! it fails. `CHROMIUM` overrides the browser path (default `/usr/bin/chromium`).

use asyncbench::report::{self, Charts};
use asyncbench::results;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Upper bound for the whole browser session.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The first screen a reader sees on a common laptop.
const VIEWPORT: (u32, u32) = (1366, 768);

/// How much of the first chart must show on the first screen to count as visible.
const MIN_VISIBLE_CHART_PX: f64 = 150.0;

/// Standard base64 (DevTools sends screenshots so); panics on invalid input, which would be a test bug.
fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().filter(|c| **c == b'=').count();
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= if *c == b'=' { 0 } else { val(*c) } << (18 - 6 * i);
        }
        let b = n.to_be_bytes();
        out.extend_from_slice(&b[1..4 - pad]);
    }
    out
}

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/chromium".into());
    path.exists().then_some(path)
}

/// A pipe whose ends are close-on-exec and numbered ≥ 10, so they cannot collide with fds 3 and 4.
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid two-element array for pipe2 to fill.
    assert_eq!(
        unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) },
        0,
        "pipe2"
    );
    let high = |fd: i32| {
        // SAFETY: `fd` is a descriptor we own; F_DUPFD_CLOEXEC returns a new one or -1.
        let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
        assert!(new >= 10, "fcntl");
        // SAFETY: `fd` was just duplicated and is closed exactly once here; `new` is owned from now on.
        unsafe {
            libc::close(fd);
            OwnedFd::from_raw_fd(new)
        }
    };
    (high(fds[0]), high(fds[1]))
}

/// A DevTools session over `--remote-debugging-pipe` (fd 3: commands in, fd 4: messages out, each
/// message NUL-terminated JSON).
struct Cdp {
    browser: Child,
    to_browser: std::fs::File,
    messages: mpsc::Receiver<Value>,
    next_id: u64,
    events: Vec<Value>,
    deadline: Instant,
}

/// Closes the browser whatever the test outcome: politely (Browser.close lets it reap its helper
/// processes), then by force after a grace period.
impl Drop for Cdp {
    fn drop(&mut self) {
        let _ = self
            .to_browser
            .write_all(b"{\"id\":999999,\"method\":\"Browser.close\"}\0");
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.browser.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: plain kill(2) of the browser's own process group (it was started as its leader).
        unsafe { libc::kill(-(self.browser.id() as i32), libc::SIGKILL) };
        let _ = self.browser.wait();
    }
}

impl Cdp {
    fn send(&mut self, method: &str, params: Value, session: Option<&str>) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to_browser.write_all(&bytes).expect("write to browser");
        loop {
            let m = self
                .recv()
                .unwrap_or_else(|| panic!("no reply to {method} before the timeout"));
            if m.get("id").and_then(Value::as_u64) == Some(id) {
                assert!(m.get("error").is_none(), "{method} failed: {m}");
                return m["result"].clone();
            }
            self.events.push(m);
        }
    }

    fn recv(&mut self) -> Option<Value> {
        let left = self.deadline.checked_duration_since(Instant::now())?;
        self.messages.recv_timeout(left).ok()
    }

    /// Waits for an event named `method`, keeping every event seen.
    fn wait_for(&mut self, method: &str) {
        if self.events.iter().any(|e| e["method"] == method) {
            return;
        }
        while let Some(m) = self.recv() {
            let found = m["method"] == method;
            self.events.push(m);
            if found {
                return;
            }
        }
        panic!("{method} did not arrive before the timeout");
    }

    /// Collects events for `d` more.
    fn drain(&mut self, d: Duration) {
        let until = Instant::now() + d;
        while Instant::now() < until {
            match self.messages.recv_timeout(until - Instant::now()) {
                Ok(m) => self.events.push(m),
                Err(_) => break,
            }
        }
    }
}

#[test]
fn html_report_loads_in_headless_chromium_without_errors_or_requests() {
    let Some(browser_path) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!("chromium is required in CI (Debian package `chromium`) but was not found");
        }
        eprintln!("SKIPPED: chromium not found at /usr/bin/chromium (set CHROMIUM to its path)");
        return;
    };

    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small.json");
    let r = results::load(&fixture).unwrap();
    let html = report::html::render(&r, &Charts::build(&r)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();

    let mut cdp = launch(&browser_path, &dir.path().join("profile"));

    let url = format!("file://{}", page.display());
    let session = open(&mut cdp, &url);

    let eval = |cdp: &mut Cdp, expr: &str| -> Value {
        let r = cdp.send(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true}),
            Some(&session),
        );
        r["result"]["value"].clone()
    };
    let title = eval(&mut cdp, "document.title");
    assert!(
        title
            .as_str()
            .is_some_and(|t| t.starts_with("asyncbench report")),
        "title: {title}"
    );
    let svgs = eval(&mut cdp, "document.querySelectorAll('figure svg').length");
    assert_eq!(
        svgs.as_u64(),
        Some(Charts::build(&r).charts.len() as u64 + 1),
        "every chart is in the DOM, and the first one again beside the summary"
    );

    // The first screen: no scrolling has happened, so bounding rectangles are viewport positions.
    let rect = |cdp: &mut Cdp, selector: &str| -> Value {
        eval(
            cdp,
            &format!(
                "(() => {{ const e = document.querySelector({selector:?}); if (!e) return null; \
                 const r = e.getBoundingClientRect(); return {{top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width}}; }})()"
            ),
        )
    };
    let scroll = eval(
        &mut cdp,
        "[window.scrollY, window.innerWidth, window.innerHeight]",
    );
    assert_eq!(
        scroll,
        json!([0, VIEWPORT.0, VIEWPORT.1]),
        "viewport as emulated"
    );
    let matrix = rect(&mut cdp, "table.matrix");
    assert!(!matrix.is_null(), "the decision matrix exists");
    let num = |v: &Value, k: &str| v[k].as_f64().unwrap();
    assert!(
        num(&matrix, "top") >= 0.0 && num(&matrix, "bottom") <= f64::from(VIEWPORT.1),
        "the whole decision matrix is on the first screen: {matrix}"
    );
    assert!(
        num(&matrix, "right") <= f64::from(VIEWPORT.0),
        "no horizontal scrolling for the matrix: {matrix}"
    );
    let chart = rect(&mut cdp, "#first-chart svg");
    assert!(!chart.is_null(), "the first chart is beside the summary");
    assert!(
        num(&chart, "top") + MIN_VISIBLE_CHART_PX <= f64::from(VIEWPORT.1)
            && num(&chart, "width") > 300.0,
        "the first chart starts on the first screen with at least {MIN_VISIBLE_CHART_PX} px visible: {chart}"
    );

    // Artifacts: the first screen and the full page.
    save_screenshots(&mut cdp, &session);
    // Charts have a real size once laid out (a broken SVG renders as 0×0).
    let widths = eval(
        &mut cdp,
        "Array.from(document.querySelectorAll('figure svg')).every(s => s.getBoundingClientRect().width > 100)",
    );
    assert_eq!(widths, json!(true), "every chart is laid out");
    // Resource timing sees every fetch the page made; only the document itself is allowed.
    let resources = eval(
        &mut cdp,
        "performance.getEntriesByType('resource').map(e => e.name)",
    );
    assert_eq!(resources, json!([]), "the page fetched resources");

    let problems = page_problems(&cdp.events, &session, &url);
    assert!(
        problems.is_empty(),
        "the page misbehaved:\n{}",
        problems.join("\n")
    );
    assert!(
        cdp.events
            .iter()
            .any(|e| e["method"] == "Network.requestWillBeSent"),
        "network events are observed (the check above is not vacuous)"
    );
}

/// Starts Chromium with the DevTools protocol on a pipe (fds 3 and 4) and a fresh profile, with a
/// thread that parses its NUL-separated messages.
fn launch(browser_path: &Path, profile: &Path) -> Cdp {
    let (cmd_read, cmd_write) = pipe();
    let (msg_read, msg_write) = pipe();
    let (cmd_fd, msg_fd) = (cmd_read.as_raw_fd(), msg_write.as_raw_fd());
    let mut command = Command::new(browser_path);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--no-first-run",
            "--no-default-browser-check",
            "--remote-debugging-pipe",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    // SAFETY: only async-signal-safe calls (dup2) between fork and exec; the sources are ≥ 10, so
    // duplicating onto 3 and 4 cannot clobber each other, and dup2 clears close-on-exec on the copies.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(cmd_fd, 3) < 0 || libc::dup2(msg_fd, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let browser = command.spawn().expect("start chromium");
    drop(cmd_read);
    drop(msg_write);

    let (tx, rx) = mpsc::channel();
    let mut from_browser = std::fs::File::from(msg_read);
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 65536];
        loop {
            let n = match from_browser.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            while let Some(end) = buf.iter().position(|b| *b == 0) {
                let msg: Vec<u8> = buf.drain(..=end).collect();
                if let Ok(v) = serde_json::from_slice::<Value>(&msg[..msg.len() - 1])
                    && tx.send(v).is_err()
                {
                    return;
                }
            }
        }
    });
    Cdp {
        browser,
        to_browser: std::fs::File::from(cmd_write),
        messages: rx,
        next_id: 0,
        events: Vec::new(),
        deadline: Instant::now() + TIMEOUT,
    }
}

/// Opens `url` in a new target at the emulated viewport with the Page, Runtime, Log and Network
/// events on, waits for its load event and half a second more, and returns the session id.
fn open(cdp: &mut Cdp, url: &str) -> String {
    let target = cdp.send("Target.createTarget", json!({"url": "about:blank"}), None);
    let target_id = target["targetId"].as_str().expect("targetId").to_string();
    let attached = cdp.send(
        "Target.attachToTarget",
        json!({"targetId": target_id, "flatten": true}),
        None,
    );
    let session = attached["sessionId"]
        .as_str()
        .expect("sessionId")
        .to_string();
    for domain in [
        "Page.enable",
        "Runtime.enable",
        "Log.enable",
        "Network.enable",
    ] {
        cdp.send(domain, json!({}), Some(&session));
    }
    cdp.send(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": VIEWPORT.0, "height": VIEWPORT.1, "deviceScaleFactor": 1, "mobile": false}),
        Some(&session),
    );
    cdp.send("Page.navigate", json!({"url": url}), Some(&session));
    cdp.wait_for("Page.loadEventFired");
    cdp.drain(Duration::from_millis(500));
    session
}

/// What the page did wrong in `session`, from the recorded events: exceptions, console errors and
/// warnings, log errors and warnings, requests for anything but `url` itself, failed loads.
fn page_problems(events: &[Value], session: &str, url: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for e in events {
        if e.get("sessionId").and_then(Value::as_str) != Some(session) {
            continue;
        }
        let p = &e["params"];
        match e["method"].as_str().unwrap_or("") {
            "Runtime.exceptionThrown" => {
                problems.push(format!("exception: {}", p["exceptionDetails"]))
            }
            "Runtime.consoleAPICalled"
                if matches!(p["type"].as_str(), Some("error" | "warning" | "assert")) =>
            {
                problems.push(format!("console {}: {}", p["type"], p["args"]))
            }
            "Log.entryAdded"
                if matches!(p["entry"]["level"].as_str(), Some("error" | "warning")) =>
            {
                problems.push(format!(
                    "log {}: {}",
                    p["entry"]["level"], p["entry"]["text"]
                ))
            }
            "Network.requestWillBeSent" => {
                let u = p["request"]["url"].as_str().unwrap_or("");
                if u != url && !u.starts_with("data:") && u != "about:blank" {
                    problems.push(format!("request: {u}"));
                }
            }
            "Network.loadingFailed" => problems.push(format!("loading failed: {p}")),
            _ => {}
        }
    }
    problems
}

/// Saves the first screen and the full page as PNGs under `target/tmp/report-browser/` (artifacts for
/// a human), checking that both are PNGs and that the page is longer than one screen.
fn save_screenshots(cdp: &mut Cdp, session: &str) {
    let eval = |cdp: &mut Cdp, expr: &str| -> Value {
        let r = cdp.send(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true}),
            Some(session),
        );
        r["result"]["value"].clone()
    };
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-browser");
    std::fs::create_dir_all(&out).unwrap();
    let shot = cdp.send(
        "Page.captureScreenshot",
        json!({"format": "png"}),
        Some(session),
    );
    let first = base64_decode(shot["data"].as_str().expect("screenshot data"));
    assert!(first.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(out.join("first-screen.png"), &first).unwrap();
    let size = eval(
        cdp,
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]",
    );
    let (w, h) = (size[0].as_f64().unwrap(), size[1].as_f64().unwrap());
    assert!(
        h > f64::from(VIEWPORT.1),
        "the report is longer than one screen"
    );
    let shot = cdp.send(
        "Page.captureScreenshot",
        json!({"format": "png", "captureBeyondViewport": true,
               "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}}),
        Some(session),
    );
    let full = base64_decode(shot["data"].as_str().expect("screenshot data"));
    assert!(
        full.starts_with(b"\x89PNG") && full.len() > first.len(),
        "a full-page PNG"
    );
    std::fs::write(out.join("full-page.png"), &full).unwrap();
    eprintln!("screenshots: {}", out.display());
}
