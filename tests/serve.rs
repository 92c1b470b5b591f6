//! `po3ad serve` over loopback (issue #14 part 2): the server is the real binary on an
//! ephemeral port, the client a few lines of HTTP/1.1 over a `TcpStream`, so requests
//! can lie in ways an HTTP library would not let them. Expectations come from `po3ad
//! predict` on the same files (scores must be equal, not close) and from the status
//! codes the service documents.

use crate::common;
use common::po3ad;

use po3ad_core::PointCloud;
use rand::{Rng, SeedableRng};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A trained `tiny` PO3AD model (with its nearest-template companion and default
/// calibration) on the built-in bowl, and the synthetic test scans; made once.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    scans: Vec<PathBuf>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        po3ad(
            &[
                "synth",
                "--builtin",
                "bowl",
                "--out",
                "data",
                "--n-good",
                "2",
                "--n-per-defect",
                "1",
                "--defects",
                "bulge,hole",
                "--points",
                "3000",
                "--template-vertices",
                "2000",
                "--seed",
                "5",
            ],
            &d,
        );
        po3ad(
            &[
                "train",
                "--preset",
                "tiny",
                "--out",
                "model",
                "--layout",
                "anomaly-shapenet",
                "--root",
                "data",
                "--category",
                "bowl",
            ],
            &d,
        );
        let mut scans: Vec<PathBuf> = std::fs::read_dir(d.join("data/pcd/bowl/test"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        scans.sort();
        assert!(scans.len() >= 4, "{scans:?}");
        Fixture {
            _dir: dir,
            root: d,
            scans,
        }
    })
}

/// A running `po3ad serve`; killed when dropped (unless it already exited).
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(model: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_po3ad"))
            .arg("serve")
            .arg("--model")
            .arg(model)
            .args(["--addr", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start po3ad serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server { child, addr }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the server process, in KiB (Linux).
    fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Send raw bytes (a whole request, possibly malformed) and read the answer to EOF.
fn raw(addr: &str, request: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    // The server may answer (413, 415) and close before it read everything we send.
    let _ = s.write_all(request);
    let mut bytes = Vec::new();
    let _ = s.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Answer { status, body }
}

fn request(method: &str, addr: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    raw(addr, &bytes)
}

fn post(addr: &str, path: &str, content_type: &str, body: &[u8]) -> Answer {
    request("POST", addr, path, &[("Content-Type", content_type)], body)
}

fn get(addr: &str, path: &str) -> Answer {
    request("GET", addr, path, &[], b"")
}

/// A value of a metric line `name{labels} value` in /metrics, summed over label sets
/// that contain `labels`.
fn metric(addr: &str, name: &str, labels: &str) -> f64 {
    get(addr, "/metrics")
        .body
        .lines()
        .filter(|l| l.starts_with(name) && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn read_f32s(path: &Path) -> Vec<f32> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

/// A bowl surface sample of `n` points as binary PCD bytes.
fn bowl_scan(n: usize, seed: u64) -> Vec<u8> {
    let mesh = po3ad_core::synth::builtin("bowl").unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let cloud = po3ad_core::geometry::sample_surface(&mesh, n, &mut rng).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("scan.pcd");
    po3ad_core::io::write_pcd(
        &p,
        &PointCloud {
            points: cloud.points,
            normals: None,
            labels: None,
            faces: Vec::new(),
        },
        po3ad_core::io::PcdData::Binary,
    )
    .unwrap();
    std::fs::read(p).unwrap()
}

#[test]
fn serve_scores_like_predict_refuses_bad_input_and_holds_load() {
    let f = fixture();
    let server = Server::start(&f.root.join("model"), &["--workers", "2", "--queue", "16"]);
    let addr = server.addr.clone();
    let health = get(&addr, "/healthz");
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(health.json()["detector"], "po3ad");
    assert_eq!(health.json()["calibrated"], true);

    // 1. The same numbers as `po3ad predict` on the same files.
    let mut args = vec![
        "predict",
        "--model",
        "model",
        "--out",
        "pred",
        "--point-scores",
    ];
    let names: Vec<String> = f.scans.iter().map(|p| p.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    po3ad(&args, &f.root);
    let predictions: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(f.root.join("pred/predictions.json")).unwrap(),
    )
    .unwrap();
    for (i, scan) in f.scans.iter().enumerate() {
        let bytes = std::fs::read(scan).unwrap();
        let a = post(
            &addr,
            "/v1/score?point_scores=true&heatmap=true",
            "application/x-pcd",
            &bytes,
        );
        assert_eq!(a.status, 200, "{}: {}", scan.display(), a.body);
        let got = a.json();
        let want = &predictions[i];
        for key in [
            "object_score",
            "normalized_score",
            "verdict",
            "max_point_score",
            "points",
            "anomalous_points",
            "regions",
            "frame",
            "registration",
        ] {
            assert_eq!(got[key], want[key], "{}: {key}", scan.display());
        }
        let stem = scan.file_stem().unwrap().to_str().unwrap();
        let want_points = read_f32s(&f.root.join(format!("pred/{stem}.scores.txt")));
        let got_points: Vec<f32> = got["point_scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(got_points, want_points, "{}", scan.display());
        // The heatmap is a binary PLY of the scan's points, readable by po3ad itself.
        use base64::Engine;
        let ply = base64::engine::general_purpose::STANDARD
            .decode(got["heatmap_ply"].as_str().unwrap())
            .unwrap();
        let cloud = po3ad_core::io::parse_bytes(Path::new("h.ply"), &ply, 1 << 20).unwrap();
        assert_eq!(cloud.points.len(), want_points.len());
    }

    // 2. 100+ malformed requests: each a 4xx with a JSON error, and the server lives.
    let good = std::fs::read(&f.scans[0]).unwrap();
    let ply = {
        let cloud = po3ad_core::io::read(&f.scans[0]).unwrap();
        po3ad_core::io::encode_ply(&cloud, None, true).unwrap()
    };
    let mut bad: Vec<(String, String, Vec<u8>)> = Vec::new(); // (query, content type, body)
    for k in 1..=30 {
        let cut = good.len() * k / 31;
        bad.push(("".into(), "application/x-pcd".into(), good[..cut].to_vec()));
        let cut = ply.len() * k / 31;
        bad.push(("".into(), "application/ply".into(), ply[..cut].to_vec()));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    for i in 0..20 {
        let len = rng.random_range(0..4000);
        let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let ct = ["application/octet-stream", "application/x-pcd", "model/stl"][i % 3];
        bad.push(("".into(), ct.into(), bytes));
    }
    let huge = [
        "# .PCD v0.7\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 99999999999\nHEIGHT 1\nPOINTS 99999999999\nDATA binary\n",
        "# .PCD v0.7\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 4000000000\nHEIGHT 4000000000\nPOINTS 1\nDATA ascii\n0 0 0\n",
        "ply\nformat binary_little_endian 1.0\nelement vertex 4000000000\nproperty float x\nproperty float y\nproperty float z\nend_header\n",
        "ply\nformat ascii 1.0\nelement vertex 18446744073709551615\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 2 3\n",
        "ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty list uint float x\nend_header\n\u{ff}\u{ff}\u{ff}\u{ff}",
    ];
    for h in huge {
        bad.push((
            "".into(),
            "application/octet-stream".into(),
            h.as_bytes().to_vec(),
        ));
    }
    let mut stl = vec![0u8; 80];
    stl.extend_from_slice(&u32::MAX.to_le_bytes());
    stl.extend_from_slice(&[0u8; 50]);
    bad.push(("".into(), "model/stl".into(), stl));
    // Readable files the detector cannot use: too few points, NaN, empty.
    bad.push((
        "".into(),
        "text/plain".into(),
        b"0 0 0\n1 0 0\n0 1 0\n".to_vec(),
    ));
    bad.push((
        "".into(),
        "text/plain".into(),
        b"0 0 0\nnan 1 2\n".repeat(80),
    ));
    bad.push(("".into(), "text/plain".into(), b"inf 0 0\n".repeat(200)));
    bad.push(("".into(), "application/x-pcd".into(), Vec::new()));
    bad.push(("".into(), "text/plain".into(), b"\n\n\n".to_vec()));
    // Wrong content types and bad query parameters, with a good body.
    for ct in [
        "image/png",
        "application/json",
        "text/html",
        "multipart/form-data",
    ] {
        bad.push(("".into(), ct.into(), good.clone()));
    }
    for q in [
        "?format=png",
        "?format=",
        "?point_scores=maybe",
        "?heatmap=2",
    ] {
        bad.push((q.into(), "application/x-pcd".into(), good.clone()));
    }
    // A lying type: PLY bytes sent as PCD.
    bad.push(("".into(), "application/x-pcd".into(), ply.clone()));
    bad.push((
        "?format=stl".into(),
        "application/x-pcd".into(),
        b"not stl".to_vec(),
    ));
    assert!(bad.len() >= 100, "{}", bad.len());
    for (i, (query, ct, body)) in bad.iter().enumerate() {
        let a = post(&addr, &format!("/v1/score{query}"), ct, body);
        assert!(
            (400..500).contains(&a.status),
            "malformed request {i} ({query} {ct}, {} bytes): {} {}",
            body.len(),
            a.status,
            a.body
        );
        let e = a.json();
        assert_eq!(e["status"], a.status, "{}", a.body);
        assert!(!e["error"].as_str().unwrap().is_empty());
    }
    // Lies in the HTTP layer itself.
    let a = request(
        "POST",
        &addr,
        "/v1/score",
        &[
            ("Content-Type", "application/x-pcd"),
            ("Content-Length", "99999999999"),
        ],
        &good,
    );
    assert_eq!(a.status, 413, "{}", a.body);
    // Declares more bytes than it sends, then waits: the read timeout answers 408.
    let a = request(
        "POST",
        &addr,
        "/v1/score",
        &[
            ("Content-Type", "application/x-pcd"),
            ("Content-Length", "5000"),
        ],
        &good[..100],
    );
    assert_eq!(a.status, 408, "{}", a.body);
    assert_eq!(get(&addr, "/nowhere").status, 404);
    assert_eq!(get(&addr, "/v1/score").status, 405);
    let a = raw(&addr, b"GARBAGE / NOT-HTTP\r\n\r\n");
    assert!((400..500).contains(&a.status), "{}", a.status);
    // Still serving, with the same numbers.
    let a = post(&addr, "/v1/score", "application/x-pcd", &good);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["object_score"], predictions[0]["object_score"]);
    assert_eq!(metric(&addr, "po3ad_scoring_panics_total", ""), 0.0);

    // 3. Bounded concurrent load: 8 clients × 50 requests, no error, bounded memory.
    let warm_rss = server.rss_kib();
    let scans: Vec<Vec<u8>> = f.scans.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let expected: Vec<serde_json::Value> = (0..scans.len())
        .map(|i| predictions[i]["object_score"].clone())
        .collect();
    std::thread::scope(|s| {
        for c in 0..8 {
            let (addr, scans, expected) = (&addr, &scans, &expected);
            s.spawn(move || {
                for r in 0..50 {
                    let i = (c + r) % scans.len();
                    let a = post(addr, "/v1/score", "application/x-pcd", &scans[i]);
                    assert_eq!(a.status, 200, "client {c} request {r}: {}", a.body);
                    assert_eq!(a.json()["object_score"], expected[i]);
                }
            });
        }
    });
    assert_eq!(
        metric(
            &addr,
            "po3ad_http_requests_total",
            "route=\"/v1/score\",status=\"200\""
        ),
        (f.scans.len() + 1 + 400) as f64
    );
    assert_eq!(metric(&addr, "po3ad_rejected_requests_total", ""), 0.0);
    if let (Some(before), Some(after)) = (warm_rss, server.rss_kib()) {
        // 400 scans of 3000 points pass through; nothing per request may stay. The
        // bound allows for allocator caches and the second worker's first use.
        assert!(
            after < before + 150 * 1024,
            "RSS grew from {before} KiB to {after} KiB over 400 requests"
        );
    }
}

#[test]
fn serve_refuses_beyond_its_queue_and_drains_on_sigterm() {
    let f = fixture();
    // One worker, no queue: while one scan is scored, the next is refused.
    let mut server = Server::start(
        &f.root.join("model/nearest.json"),
        &["--workers", "1", "--queue", "0"],
    );
    let addr = server.addr.clone();
    let big = bowl_scan(400_000, 1);
    let slow = {
        let (addr, big) = (addr.clone(), big.clone());
        std::thread::spawn(move || post(&addr, "/v1/score", "application/x-pcd", &big))
    };
    let wait_busy = |addr: &str| {
        let start = Instant::now();
        while metric(addr, "po3ad_scans_in_progress", "") < 1.0 {
            assert!(start.elapsed() < Duration::from_secs(60), "never busy");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    wait_busy(&addr);
    let small = std::fs::read(&f.scans[0]).unwrap();
    let refused = post(&addr, "/v1/score", "application/x-pcd", &small);
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(slow.join().unwrap().status, 200);
    assert_eq!(metric(&addr, "po3ad_rejected_requests_total", ""), 1.0);

    // SIGTERM while a scan is being scored: it is answered, then the server exits 0.
    let slow = {
        let (addr, big) = (addr.clone(), big.clone());
        std::thread::spawn(move || post(&addr, "/v1/score", "application/x-pcd", &big))
    };
    wait_busy(&addr);
    let killed = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let a = slow.join().unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["points"], 400_000);
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut err = String::new();
    server
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("stopped"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Parses the status code and body of a raw HTTP answer.
fn answer_of(bytes: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(bytes).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Answer { status, body }
}

#[test]
fn serve_reads_bodies_before_taking_a_place_and_refuses_too_many_points() {
    let f = fixture();
    // One worker and 8 queue places: before issue #22 a request took its place before
    // its body arrived, so 40 slow uploads held all 9 and everyone else got 503.
    let server = Server::start(
        &f.root.join("model/nearest.json"),
        &[
            "--workers",
            "1",
            "--queue",
            "8",
            "--read-timeout",
            "600",
            "--max-points",
            "5000",
            // No registration: the 40 scans are scored one after another while the last
            // ones wait within their read timeout.
            "--frame",
            "fixed",
        ],
    );
    let addr = server.addr.clone();
    let scan = std::fs::read(&f.scans[0]).unwrap();
    let head = format!(
        "POST /v1/score HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-pcd\r\nContent-Length: {}\r\n\r\n",
        scan.len()
    );
    let half = scan.len() / 2;
    // 40 clients send their headers and half of their body, then stall.
    let mut slow: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(600))).unwrap();
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(&scan[..half]).unwrap();
            s
        })
        .collect();
    // Give the server time to start a handler for each of them.
    std::thread::sleep(Duration::from_millis(500));
    let fast = post(&addr, "/v1/score", "application/x-pcd", &scan);
    assert_eq!(
        fast.status, 200,
        "a fast client behind 40 slow uploads: {}",
        fast.body
    );
    let want = fast.json()["object_score"].clone();
    // More points than --max-points: 413, not 400.
    let a = post(&addr, "/v1/score", "application/x-pcd", &bowl_scan(6000, 3));
    assert_eq!(a.status, 413, "{}", a.body);
    assert!(
        a.json()["error"]
            .as_str()
            .unwrap()
            .contains("limit of 5000"),
        "{}",
        a.body
    );
    // The slow clients finish one by one; each is scored like the fast one.
    for (i, s) in slow.iter_mut().enumerate() {
        s.write_all(&scan[half..]).unwrap();
        let mut bytes = Vec::new();
        let _ = s.read_to_end(&mut bytes);
        let a = answer_of(&bytes);
        assert_eq!(a.status, 200, "slow client {i}: {}", a.body);
        assert_eq!(a.json()["object_score"], want, "slow client {i}");
    }
    assert_eq!(metric(&addr, "po3ad_rejected_requests_total", ""), 0.0);
}

#[test]
fn serve_answers_late_scans_503_and_frees_the_worker() {
    let f = fixture();
    let small = std::fs::read(&f.scans[0]).unwrap();
    // The deadline must lie far above a small scan's scoring time and far below the big
    // one's, on any machine: measure the small one first (no deadline to speak of), then
    // give it 20 times that. The big scan has 500 times the points (scoring is linear
    // in them once registration is skipped: `--frame fixed`).
    const LATE_POINTS: usize = 1_500_000;
    let small_ms = {
        let server = Server::start(
            &f.root.join("model/nearest.json"),
            &["--workers", "1", "--frame", "fixed"],
        );
        (0..3)
            .map(|_| {
                let a = post(&server.addr, "/v1/score", "application/x-pcd", &small);
                assert_eq!(a.status, 200, "{}", a.body);
                a.json()["scoring_ms"].as_f64().unwrap()
            })
            .fold(0.0, f64::max)
    };
    let deadline = format!("{:.3}", (20.0 * small_ms / 1e3).max(0.5));
    // One worker, one spare scorer for a late scan.
    let server = Server::start(
        &f.root.join("model/nearest.json"),
        &[
            "--workers",
            "1",
            "--queue",
            "4",
            "--frame",
            "fixed",
            "--score-timeout",
            &deadline,
            "--max-overrun",
            "1",
        ],
    );
    let addr = server.addr.clone();
    let big = bowl_scan(LATE_POINTS, 7);
    let late = post(&addr, "/v1/score", "application/x-pcd", &big);
    assert_eq!(late.status, 503, "deadline {deadline} s: {}", late.body);
    assert!(late.body.contains("score-timeout"), "{}", late.body);
    // The late scan still computes, on the spare; the worker takes the next scan at
    // once. (On a loaded machine that scan may itself run past the deadline while the
    // late one holds the cores: then it is answered 503 for its own time, but it was
    // admitted and scored, never refused for want of a worker.)
    assert_eq!(metric(&addr, "po3ad_scans_overrunning", ""), 1.0);
    let next = post(&addr, "/v1/score", "application/x-pcd", &small);
    assert!(
        next.status == 200 || (next.status == 503 && next.body.contains("score-timeout")),
        "the scan after a late one (deadline {deadline} s): {} {}",
        next.status,
        next.body
    );
    assert_eq!(metric(&addr, "po3ad_rejected_requests_total", ""), 0.0);
    assert!(metric(&addr, "po3ad_scoring_timeouts_total", "") >= 1.0);
    // When the late scan ends, its scorer is back: the pool serves as before.
    let start = Instant::now();
    while metric(&addr, "po3ad_scans_overrunning", "") > 0.0 {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the late scan never ended"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(metric(&addr, "po3ad_scans_in_progress", ""), 0.0);
    let mut objects = Vec::new();
    for _ in 0..3 {
        let a = post(&addr, "/v1/score", "application/x-pcd", &small);
        assert_eq!(a.status, 200, "{}", a.body);
        objects.push(a.json()["object_score"].clone());
    }
    if next.status == 200 {
        objects.push(next.json()["object_score"].clone());
    }
    assert!(objects.windows(2).all(|w| w[0] == w[1]), "{objects:?}");
}
