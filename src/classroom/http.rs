//! The class server's routes, over hyper (HTTP/1). Only these are served; everything else is a
//! 404 with a reason (there is no file system behind the server: the pages are compiled into the
//! binary, so no path can reach a file).
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET /`, `/app.js`, `/style.css` | anyone | the participant's page |
//! | `GET /teacher`, `/teacher.js` | anyone | the teacher page (useless without the token) |
//! | `POST /api/join` `{"code","name","request"}` | anyone with the join code | → `{"token"}` |
//! | `GET /api/state` | participant | instructions, keys, the sequence to answer now |
//! | `GET /api/image/{item}/{position}` | participant | one image of that sequence, PNG |
//! | `POST /api/submit` | participant | saves the sequence (fsync), → feedback on practice |
//! | `GET /api/teacher/status` | teacher | who joined, progress, the class against the runs |
//! | `GET /api/teacher/answers.csv` | teacher | one row per image answer |
//! | `GET /api/teacher/qr.png` | teacher | the join address as a QR code |
//!
//! Tokens travel in `Authorization: Bearer <token>`. Request bodies are JSON
//! (`Content-Type: application/json`, else 415) of at most [`MAX_BODY`] bytes (else 413); a body
//! that is not JSON is a 400, JSON of the wrong shape a 422. Every refusal is a 4xx with
//! `{"error": reason}`. The work that touches the disk or renders (saving a sequence, an image,
//! the analysis) runs on the runtime's blocking pool; a panic there is a 500, never a crash.

use super::qr;
use super::results::{self, ClassView};
use super::state::{ClassState, Reject, Submission};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// The largest request body accepted (a submission of a few dozen images is well under 2 KiB).
pub const MAX_BODY: usize = 16 * 1024;
/// A body over [`MAX_BODY`] is read up to this many bytes, then refused.
const DRAIN_LIMIT: usize = 256 * 1024;
/// A client must send its request's headers within this time.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");
const TEACHER_HTML: &str = include_str!("assets/teacher.html");
const TEACHER_JS: &str = include_str!("assets/teacher.js");

/// Only the page's own scripts, styles and images (blob: for the images fetched with the token).
const CSP: &str = "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; \
                   style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
                   form-action 'none'";

type Reply = Response<Full<Bytes>>;

/// What every request handler shares.
pub struct App {
    pub state: Arc<ClassState>,
    /// What the QR code encodes.
    pub join_url: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct JoinRequest {
    code: String,
    #[serde(default)]
    name: String,
    /// The page's id of this join, so that sending it again is harmless.
    #[serde(default)]
    request: Option<String>,
}

/// What the teacher page polls.
#[derive(serde::Serialize)]
struct TeacherStatus<'a> {
    join_url: &'a str,
    view: &'a ClassView,
}

/// Accepts connections until the task is dropped; each connection is served on a task of its
/// own.
pub async fn serve(listener: tokio::net::TcpListener, app: Arc<App>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of file descriptors and the like: wait a little rather than spin.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(handle(&app, req).await) }
            });
            // A connection that fails (the client went away, sent garbage) ends here; hyper has
            // answered what it could (400 for a request it cannot parse).
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The routes other than images, with their method.
const ROUTES: &[(&str, &str)] = &[
    ("/", "GET"),
    ("/app.js", "GET"),
    ("/style.css", "GET"),
    ("/teacher", "GET"),
    ("/teacher.js", "GET"),
    ("/api/join", "POST"),
    ("/api/state", "GET"),
    ("/api/submit", "POST"),
    ("/api/teacher/status", "GET"),
    ("/api/teacher/answers.csv", "GET"),
    ("/api/teacher/qr.png", "GET"),
];

/// Answers one request.
pub async fn handle(app: &App, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let token = bearer(req.headers()).map(str::to_string);
    let token = token.as_deref();
    if let Some(rest) = path.strip_prefix("/api/image/") {
        if method != Method::GET {
            return reject(Reject::new(405, "use GET for images"));
        }
        return image(app, token, rest).await;
    }
    match ROUTES.iter().find(|(p, _)| *p == path) {
        None => {
            return reject(Reject::new(
                404,
                "no such page: this server serves only the quiz page and its API",
            ));
        }
        Some((_, m)) if *m != method.as_str() => {
            return reject(Reject::new(405, format!("use {m} for {path}")));
        }
        Some(_) => {}
    }
    match path.as_str() {
        "/" => asset("text/html; charset=utf-8", INDEX_HTML),
        "/app.js" => asset("text/javascript; charset=utf-8", APP_JS),
        "/style.css" => asset("text/css; charset=utf-8", STYLE_CSS),
        "/teacher" => asset("text/html; charset=utf-8", TEACHER_HTML),
        "/teacher.js" => asset("text/javascript; charset=utf-8", TEACHER_JS),
        "/api/join" => {
            let req: JoinRequest = match read_json(req).await {
                Ok(r) => r,
                Err(r) => return reject(r),
            };
            let state = app.state.clone();
            match blocking(move || state.join(&req.code, &req.name, req.request.as_deref())).await {
                Ok(token) => json_ok(&serde_json::json!({ "token": token })),
                Err(r) => reject(r),
            }
        }
        "/api/state" => {
            let p = match app.state.participant(token) {
                Ok(p) => p,
                Err(r) => return reject(r),
            };
            let state = app.state.clone();
            match blocking(move || Ok(state.state(&p))).await {
                Ok(s) => json_ok(&s),
                Err(r) => reject(r),
            }
        }
        "/api/submit" => {
            let p = match app.state.participant(token) {
                Ok(p) => p,
                Err(r) => return reject(r),
            };
            let sub: Submission = match read_json(req).await {
                Ok(s) => s,
                Err(r) => return reject(r),
            };
            let state = app.state.clone();
            match blocking(move || state.submit(&p, sub)).await {
                Ok(reply) => json_ok(&reply),
                Err(r) => reject(r),
            }
        }
        "/api/teacher/status" => {
            if let Err(r) = app.state.check_teacher(token) {
                return reject(r);
            }
            let state = app.state.clone();
            match blocking(move || Ok(results::view(&state))).await {
                Ok(view) => json_ok(&TeacherStatus {
                    join_url: &app.join_url,
                    view: &view,
                }),
                Err(r) => reject(r),
            }
        }
        "/api/teacher/answers.csv" => {
            if let Err(r) = app.state.check_teacher(token) {
                return reject(r);
            }
            let state = app.state.clone();
            match blocking(move || Ok(results::csv(&state))).await {
                Ok(csv) => {
                    let mut r = bytes_ok("text/csv; charset=utf-8", csv.into_bytes());
                    r.headers_mut().insert(
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_static("attachment; filename=\"class-answers.csv\""),
                    );
                    r
                }
                Err(r) => reject(r),
            }
        }
        "/api/teacher/qr.png" => {
            if let Err(r) = app.state.check_teacher(token) {
                return reject(r);
            }
            let url = app.join_url.clone();
            match blocking(move || {
                qr::png(&url, 12)
                    .ok_or_else(|| Reject::new(500, "the join address is too long for a QR code"))
            })
            .await
            {
                Ok(png) => bytes_ok("image/png", png),
                Err(r) => reject(r),
            }
        }
        _ => reject(Reject::new(404, "no such page")),
    }
}

/// `GET /api/image/{item}/{position}` (`rest` is what follows `/api/image/`).
async fn image(app: &App, token: Option<&str>, rest: &str) -> Reply {
    let parts: Vec<&str> = rest.split('/').collect();
    let &[item, position] = parts.as_slice() else {
        return reject(Reject::new(
            404,
            "no such page: images are /api/image/<sequence>/<position>",
        ));
    };
    let p = match app.state.participant(token) {
        Ok(p) => p,
        Err(r) => return reject(r),
    };
    let number = |what: &str, s: &str| {
        s.parse::<usize>().map_err(|_| {
            Reject::new(
                400,
                format!("bad image address: the {what} \"{s}\" is not a number"),
            )
        })
    };
    let (item, position) = match (number("sequence", item), number("position", position)) {
        (Ok(i), Ok(p)) => (i, p),
        (Err(r), _) | (_, Err(r)) => return reject(r),
    };
    let state = app.state.clone();
    match blocking(move || state.image_png(&p, item, position)).await {
        Ok(png) => bytes_ok("image/png", png),
        Err(r) => reject(r),
    }
}

/// Reads a JSON body of at most [`MAX_BODY`] bytes.
async fn read_json<T: serde::de::DeserializeOwned>(req: Request<Incoming>) -> Result<T, Reject> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    if !json {
        return Err(Reject::new(
            415,
            "bad request body: expected `Content-Type: application/json`",
        ));
    }
    let too_big = || {
        Reject::new(
            413,
            format!("bad request body: longer than {MAX_BODY} bytes"),
        )
    };
    // A body over the limit is still read (up to DRAIN_LIMIT) before the 413, so that the client,
    // still sending, sees the reply instead of a reset connection; beyond that it is cut off.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT as u64) {
        return Err(too_big());
    }
    let bytes = match Limited::new(req.into_body(), DRAIN_LIMIT).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_big()),
        Err(e) => {
            return Err(Reject::new(
                400,
                format!("bad request body: reading it failed: {e}"),
            ));
        }
    };
    if bytes.len() > MAX_BODY {
        return Err(too_big());
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        use serde_json::error::Category;
        let status = match e.classify() {
            Category::Data => 422,
            Category::Syntax | Category::Eof | Category::Io => 400,
        };
        Reject::new(status, format!("bad request body: {e}"))
    })
}

/// Headers every reply carries: never cached, never sniffed, never framed.
fn secure(mut r: Reply) -> Reply {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    secure(r)
}

fn asset(content_type: &'static str, body: &'static str) -> Reply {
    let mut r = reply(StatusCode::OK, content_type, body);
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    r
}

fn reject(r: Reject) -> Reply {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({ "error": r.reason }).to_string();
    reply(status, "application/json", body)
}

fn json_ok<T: serde::Serialize>(value: &T) -> Reply {
    match serde_json::to_vec(value) {
        Ok(body) => reply(StatusCode::OK, "application/json", body),
        Err(e) => reject(Reject::new(500, format!("writing the reply: {e}"))),
    }
}

fn bytes_ok(content_type: &'static str, body: Vec<u8>) -> Reply {
    reply(StatusCode::OK, content_type, body)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Runs `f` on the blocking pool (it touches the disk or computes); a panic in it becomes a 500.
async fn blocking<T, F>(f: F) -> Result<T, Reject>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, Reject> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|_| Err(Reject::new(500, "the server failed on this request")))
}
