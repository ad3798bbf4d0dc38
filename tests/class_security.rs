//! The class server refuses what it must, with a 4xx and a reason, and keeps serving: a wrong
//! join code, a forged, malformed or missing token, another participant's or the teacher's
//! resources, oversized bodies, `../` paths, out-of-range answers, sequences out of turn. A
//! participant token reaches only its own session; the answers are saved exactly as sent.

mod class_common;

use class_common::*;
use occlab::quiz::session::SessionRecord;
use serde_json::json;

#[test]
fn the_server_refuses_bad_requests_with_a_reason_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in_process(dir.path(), quiz(1, 1, None));
    let c = Client::new(server.addr);
    let code = server.state.join_code().to_string();
    let teacher = server.state.teacher_token().to_string();

    // Joining: a wrong code, an empty one, a body that is not JSON, one with unknown fields.
    let wrong = if code == "ABCDEF" { "ABCDEG" } else { "ABCDEF" };
    let r = c.post_json("/api/join", None, &json!({"code": wrong}));
    assert_eq!(r.status, 403);
    assert!(r.reason().contains("wrong join code"), "{}", r.text());
    let r = c.post_json("/api/join", None, &json!({"code": ""}));
    assert_eq!(r.status, 400, "{}", r.text());
    let r = c.request("POST", "/api/join", None, Some(b"{not json"));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.reason().contains("bad request body"), "{}", r.text());
    let r = c.post_json("/api/join", None, &json!({"code": code, "admin": true}));
    assert_eq!(r.status, 422, "{}", r.text());
    let r = c.post_json(
        "/api/join",
        None,
        &json!({"code": code, "name": "x".repeat(41)}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(server.state.participant_count(), 0);
    // The code is read case-insensitively and trimmed, as people type it off a projector.
    let ada = c.join(&format!(" {} ", code.to_lowercase()), "Ada");
    let bob = c.join(&code, "Bob");
    // A join sent again (its reply lost) with the page's request id is the same participant.
    let join_bob2 = json!({"code": code, "name": "Bob2", "request": "page-42"});
    let bob2 = c.post_json("/api/join", None, &join_bob2).json()["token"].clone();
    assert_eq!(
        c.post_json("/api/join", None, &join_bob2).json()["token"],
        bob2
    );
    let r = c.post_json("/api/join", None, &json!({"code": code, "request": "../x"}));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(server.state.participant_count(), 3);
    assert_ne!(ada, bob);
    assert_eq!(ada.len(), 64, "256-bit tokens");

    // Tokens: missing, malformed, forged (well formed, never issued), the teacher's.
    for (token, status) in [
        (None, 401),
        (Some("not-a-token"), 401),
        (Some(&*"0".repeat(64)), 401),
        (Some(&*teacher), 401),
    ] {
        let r = c.request("GET", "/api/state", token, None);
        assert_eq!(r.status, status, "{token:?}: {}", r.text());
        assert!(!r.reason().is_empty());
        let r = c.post_json("/api/submit", token, &submission(0, 5, 1));
        assert_eq!(r.status, status, "{token:?}: {}", r.text());
        let r = c.request("GET", "/api/image/0/0", token, None);
        assert_eq!(r.status, status, "{token:?}: {}", r.text());
    }

    // A participant sees only their own session: their ID and name, nothing of the others.
    let s = c.state(&ada);
    assert_eq!(s["participant"], "P001");
    assert_eq!(s["name"], "Ada");
    assert!(!s.to_string().contains("Bob") && !s.to_string().contains(&bob));
    assert!(!s.to_string().contains(&code) && !s.to_string().contains(&teacher));
    // The teacher's pages are not theirs.
    for path in [
        "/api/teacher/status",
        "/api/teacher/answers.csv",
        "/api/teacher/qr.png",
    ] {
        let r = c.request("GET", path, Some(&ada), None);
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        let r = c.request("GET", path, None, None);
        assert_eq!(r.status, 401, "{path}: {}", r.text());
    }
    let r = c.request("GET", "/api/teacher/status", Some(&teacher), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["view"]["participants"].as_array().unwrap().len(),
        3
    );

    // Images: only the sequence being answered, positions in range, numbers in the path.
    let r = c.request("GET", "/api/image/0/0", Some(&ada), None);
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[1..4], b"PNG");
    for (path, status) in [
        ("/api/image/1/0", 403),
        ("/api/image/0/5", 404),
        ("/api/image/99/0", 404),
        ("/api/image/x/0", 400),
        ("/api/image/-1/0", 400),
        ("/api/image/0", 404),
    ] {
        let r = c.request("GET", path, Some(&ada), None);
        assert_eq!(r.status, status, "{path}: {}", r.text());
    }

    // Oversized bodies: refused before they are read in full.
    let big = json!({"code": "A".repeat(20_000)}).to_string();
    let r = c.request("POST", "/api/join", None, Some(big.as_bytes()));
    assert_eq!(r.status, 413, "{}", r.text());
    let mut huge = submission(0, 5, 1);
    huge["answers"] = json!(vec![1; 10_000]);
    let r = c.post_json("/api/submit", Some(&ada), &huge);
    assert_eq!(r.status, 413, "{}", r.text());

    // `../` and other paths: only the embedded pages exist.
    for path in [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/app.js/../../Cargo.toml",
        "/..%2f..%2fCargo.toml",
        "/static/../src/main.rs",
        "/api/image/0/0/../../../../etc/passwd",
        "//etc/passwd",
    ] {
        let r = raw_request(
            server.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        );
        assert!(
            r.status == 404 || r.status == 400,
            "{path}: {} {}",
            r.status,
            r.text()
        );
        assert!(!r.text().contains("root:") && !r.text().contains("[package]"));
    }
    // A request line that is not HTTP at all.
    let r = raw_request(server.addr, "GARBAGE\r\n\r\n");
    assert_eq!(r.status, 400);

    // Out-of-range and malformed answers (sequence 0 of 3, five images, ten classes).
    let bad = |patch: serde_json::Value| {
        let mut s = submission(0, 5, 1);
        for (k, v) in patch.as_object().unwrap() {
            s[k] = v.clone();
        }
        c.post_json("/api/submit", Some(&ada), &s)
    };
    for (patch, status, reason) in [
        (
            json!({"answers": [1, 2, 3, 10, 4]}),
            400,
            "not one of the 10 classes",
        ),
        (
            json!({"answers": [1, 2, 3, 70000, 4]}),
            422,
            "bad request body",
        ),
        (
            json!({"answers": [1, 2, 3, -1, 4]}),
            422,
            "bad request body",
        ),
        (
            json!({"answers": [1, 2, 3, 4]}),
            400,
            "for a sequence of 5 images",
        ),
        (
            json!({"answers": [1, 2, 3, null, 4]}),
            400,
            "an answer needs its time",
        ),
        (
            json!({"answers": [1, 2, 3, null, 4], "answer_ms": [1, 2, 3, null, 5]}),
            400,
            "have no answer yet",
        ),
        (
            json!({"answer_ms": [1, 2, -3, 4, 5]}),
            400,
            "not between 0 and a day",
        ),
        (json!({"sequence_ms": 1e12}), 400, "not between 0 and a day"),
        (json!({"timed_out": true}), 400, "no time limit"),
        (json!({"item": 1}), 409, "not the one being answered"),
        (json!({"item": 3}), 400, "does not exist"),
        (json!({"item": "zero"}), 422, "bad request body"),
        (json!({"extra": 1}), 422, "bad request body"),
    ] {
        let r = bad(patch.clone());
        assert_eq!(r.status, status, "{patch}: {}", r.text());
        assert!(r.reason().contains(reason), "{patch}: {}", r.text());
    }
    let r = c.request("POST", "/api/submit", Some(&ada), Some(b"[]"));
    assert_eq!(r.status, 422, "{}", r.text());
    // Wrong method, no content type.
    let r = c.request("GET", "/api/submit", Some(&ada), None);
    assert_eq!(r.status, 405);
    let r = raw_request(
        server.addr,
        &format!(
            "POST /api/submit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ada}\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        ),
    );
    assert_eq!(r.status, 415, "{}", r.text());

    // Nothing of the above reached a session file.
    let path = dir.path().join("P001-digits-embedded.jsonl");
    assert!(SessionRecord::read(&path).unwrap().responses.is_empty());

    // And the server still works: Ada answers her practice sequence (with feedback), a second
    // send of it is acknowledged without writing, and Bob's session is untouched.
    let r = c.post_json("/api/submit", Some(&ada), &submission(0, 5, 3));
    assert_eq!(r.status, 200, "{}", r.text());
    let reply = r.json();
    assert_eq!(reply["already_saved"], false);
    assert_eq!(reply["feedback"].as_array().unwrap().len(), 5);
    let r = c.post_json("/api/submit", Some(&ada), &submission(0, 5, 3));
    assert_eq!(r.json()["already_saved"], true);
    let ada_file = SessionRecord::read(&path).unwrap();
    assert_eq!(ada_file.responses.len(), 1);
    assert_eq!(ada_file.responses[0].answers, vec![Some(3); 5]);
    assert_eq!(ada_file.header.config.participant, "P001");
    let bob_file = SessionRecord::read(&dir.path().join("P002-digits-embedded.jsonl")).unwrap();
    assert!(bob_file.responses.is_empty());
    assert_eq!(c.state(&bob)["submitted"], 0);
    // The trial images of sequence 1 are Ada's now, not sequence 0's.
    assert_eq!(
        c.request("GET", "/api/image/0/0", Some(&ada), None).status,
        403
    );
    assert_eq!(
        c.request("GET", "/api/image/1/4", Some(&ada), None).status,
        200
    );
}

#[test]
fn a_class_folder_with_other_settings_is_refused_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let first = start_in_process(dir.path(), quiz(1, 1, None));
    let code = first.state.join_code().to_string();
    drop(first);
    let class_json = std::fs::read(dir.path().join("class.json")).unwrap();
    let err = occlab::classroom::start(occlab::classroom::ClassSettings {
        quiz: quiz(1, 2, None),
        dir: dir.path().to_path_buf(),
        data_dir: None,
        bind: "127.0.0.1:0".parse().unwrap(),
        public_host: None,
        runs: Vec::new(),
        backend: occlab::train::BackendChoice::Flex,
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("class.json") && err.contains("other quiz settings"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("class.json")).unwrap(),
        class_json
    );
    // The same settings continue it, with the same join code.
    let again = start_in_process(dir.path(), quiz(1, 1, None));
    assert_eq!(again.state.join_code(), code);
}

#[test]
fn the_time_limit_is_kept_by_the_server_too() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in_process(dir.path(), quiz(0, 1, Some(30.0)));
    let c = Client::new(server.addr);
    let t = c.join(server.state.join_code(), "");
    let s = c.state(&t);
    assert_eq!(s["time_limit_ms"], 30000.0);
    let left = s["next"]["remaining_ms"].as_f64().unwrap();
    assert!(left > 0.0 && left <= 30000.0);
    // A sequence closed by the limit: what was answered in time is kept, later answers are not.
    let r = c.post_json(
        "/api/submit",
        Some(&t),
        &json!({
            "item": 0,
            "answers": [1, 2, null, null, 9],
            "answer_ms": [1000.0, 2000.0, null, null, 31000.0],
            "sequence_ms": 30000.0,
            "corrections": 0,
            "timed_out": true,
        }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let rec = SessionRecord::read(&dir.path().join("P001-digits-embedded.jsonl")).unwrap();
    let resp = &rec.responses[0];
    assert!(resp.timed_out);
    assert_eq!(resp.answers, vec![Some(1), Some(2), None, None, None]);
    assert_eq!(resp.sequence_ms, 30000.0);
}

#[test]
fn every_participant_gets_the_desktop_quiz_in_their_own_order() {
    use occlab::quiz::items::{Stimuli, select_items};
    let dir = tempfile::tempdir().unwrap();
    let server = start_in_process(dir.path(), quiz(1, 2, Some(20.0)));
    let c = Client::new(server.addr);
    c.join(server.state.join_code(), "");
    c.join(server.state.join_code(), "");
    let mut orders = Vec::new();
    for id in ["P001", "P002"] {
        let rec =
            SessionRecord::read(&dir.path().join(format!("{id}-digits-embedded.jsonl"))).unwrap();
        // Exactly the config and items `occlab quiz --participant P001 …` would have.
        let mut desktop = quiz(1, 2, Some(20.0));
        desktop.participant = id.into();
        desktop.order_seed = occlab::quiz::config::participant_seed(id);
        assert_eq!(rec.header.config, desktop);
        let stimuli = Stimuli::load(&desktop, None).unwrap();
        assert_eq!(
            rec.header.items,
            select_items(&desktop, stimuli.images.clone()).unwrap()
        );
        orders.push(rec.header.items);
    }
    // The same sequences, each participant in their own order.
    let key = |items: &[occlab::quiz::QuizItem]| {
        let mut k: Vec<_> = items.iter().map(|i| i.key()).collect();
        k.sort();
        k
    };
    assert_eq!(key(&orders[0]), key(&orders[1]));
}
