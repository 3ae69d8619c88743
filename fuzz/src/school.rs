//! The demo school served in process, for the targets that go through the HTTP routes
//! (`fuzz_http_bodies`, `fuzz_manifest`): the real router over a seeded SQLite store, the
//! media engine and a recording service, on a current-thread tokio runtime kept in a static.
//!
//! Each input gets a fresh copy of one template database (the demo seed plus a session per
//! role, signed in through the router once per process, and a finished recording), so what
//! one input changes never leaks into the next and an input replays the same way. Lessons an
//! input starts are ended (recorder sealed, log writer exited) and the object store emptied
//! before the next one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode};
use livegate::config::Config;
use livegate::app::App;
use livegate::http::{fuzzing, router};
use livegate::lesson::LessonMsg;
use livegate::media::MediaHandle;
use livegate::recording::Recordings;
use livegate::store::Store;
use livegate_core::codes::ErrorCode;
use livegate_core::ids::{ClassId, Email, LessonId, SchoolId};
use livegate_core::school::SignInMethod;
use livegate_recorder::objstore::ObjectStoreConfig;
use tower::ServiceExt;

/// Who sends a request: nobody signed in, or one of the seed's people.
pub const ROLES: [Option<(&str, &str)>; 7] = [
    None,
    Some(("admin@demo.sch.uk", "demo-admin")),
    Some(("teacher@demo.sch.uk", "demo-teacher")),
    Some(("dsl@demo.sch.uk", "demo-leader")),
    Some(("ada@pupils.demo.sch.uk", "demo-pupil")),
    Some(("teacher@other.sch.uk", "demo-teacher")),
    Some(("visitor@partner.sch.uk", "demo-teacher")),
];

/// The recording the template holds (its objects are only there if an input puts them there).
pub const RECORDING: &str = "rec_0000000000000000000f022e";

/// Real ids of the template's rows, to fill path parameters with.
#[derive(Debug, Default)]
pub struct Ids {
    pub users: Vec<String>,
    pub consents: Vec<String>,
}

/// The process-wide fixture.
pub struct School {
    pub rt: tokio::runtime::Runtime,
    pub dir: PathBuf,
    template: PathBuf,
    made: Instant,
    media: MediaHandle,
    pub recordings: Arc<Recordings>,
    /// The session cookie (`name=value`) of each role of [`ROLES`].
    pub cookies: Vec<Option<String>>,
    pub ids: Ids,
    runs: u64,
}

/// One input's application: a fresh store from the template.
pub struct Run {
    pub app: App,
    pub store: Store,
    db: PathBuf,
}

/// The fixture, built on first use.
pub fn school() -> MutexGuard<'static, School> {
    static SCHOOL: OnceLock<Mutex<School>> = OnceLock::new();
    SCHOOL.get_or_init(|| Mutex::new(School::new())).lock().unwrap_or_else(|e| e.into_inner())
}

impl School {
    fn new() -> School {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let base = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
        remove_stale(&base);
        let dir = base.join(format!("livegate-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("fuzz dir");
        let (media, recordings) = rt.block_on(async {
            let media = livegate::media::start("127.0.0.1:0".parse().unwrap(), "127.0.0.1".parse().unwrap(), Default::default()).await.expect("media");
            let objects = ObjectStoreConfig::Local { path: dir.join("objects") };
            let recordings = Recordings::start(dir.join("spool"), &objects, dir.join("keys"), |_| {}).expect("recordings");
            for school in ["sch_demo", "sch_other"] {
                recordings.keyring.ensure(school).expect("key");
            }
            (media, recordings)
        });
        let mut s = School {
            rt,
            template: dir.join("template.db"),
            dir,
            made: Instant::now(),
            media,
            recordings,
            cookies: Vec::new(),
            ids: Ids::default(),
            runs: 0,
        };
        s.make_template();
        s
    }

    /// The demo seed, a session per role and a finished recording, written to `template.db`.
    /// Sessions idle out after two hours: a long run makes a new template every half hour.
    fn make_template(&mut self) {
        let seed = self.dir.join("seed.db");
        let _ = std::fs::remove_file(&seed);
        let _ = std::fs::remove_file(&self.template);
        let (cookies, ids) = self.rt.block_on(async {
            let store = Store::open(&format!("sqlite:{}", seed.display())).await.expect("store");
            livegate::store::seed::seed_if_empty(&store).await.expect("seed");
            let app = fuzzing::app(Config::default(), store.clone(), self.media.clone(), Some(self.recordings.clone()));
            let mut cookies = Vec::new();
            for role in ROLES {
                cookies.push(match role {
                    Some((email, password)) => Some(sign_in(&app, email, password).await),
                    None => None,
                });
            }
            let ids = template_rows(&store).await;
            let target = self.template.display().to_string();
            sqlx::query(&format!("VACUUM INTO '{target}'")).execute(store.pool()).await.expect("vacuum into");
            store.pool().close().await;
            (cookies, ids)
        });
        let _ = std::fs::remove_file(&seed);
        self.cookies = cookies;
        self.ids = ids;
        self.made = Instant::now();
    }

    /// A fresh application over a copy of the template.
    pub fn begin(&mut self) -> Run {
        if self.made.elapsed() > Duration::from_secs(1800) {
            self.make_template();
        }
        self.runs += 1;
        let db = self.dir.join(format!("run-{}.db", self.runs));
        std::fs::copy(&self.template, &db).expect("copy template");
        let store = self.rt.block_on(Store::open(&format!("sqlite:{}", db.display()))).expect("open copy");
        let app = fuzzing::app(Config::default(), store.clone(), self.media.clone(), Some(self.recordings.clone()));
        Run { app, store, db }
    }

    /// Ends what the input started, checks the audit chain, and removes the copy.
    pub fn end(&mut self, run: Run) {
        let Run { app, store, db } = run;
        self.rt.block_on(async {
            end_lessons(&app).await;
            let chain = store.verify_audit().await.expect("the store answers");
            assert!(chain.is_ok(), "the audit chain no longer verifies: {chain:?}");
            drop(app);
            store.pool().close().await;
        });
        let _ = std::fs::remove_file(db);
        self.clear_objects();
    }

    /// Waits (briefly) for the uploader to take what ended lessons sealed, then empties the
    /// object store, so a long run does not fill the disk.
    fn clear_objects(&mut self) {
        let spool = self.recordings.spool.clone();
        let busy = || std::fs::read_dir(&spool).is_ok_and(|mut d| d.next().is_some());
        if busy() {
            self.rt.block_on(async {
                for _ in 0..400 {
                    if !busy() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            });
        }
        let objects = self.dir.join("objects");
        if std::fs::read_dir(&objects).is_ok_and(|mut d| d.next().is_some()) {
            let _ = std::fs::remove_dir_all(&objects);
            let _ = std::fs::create_dir_all(&objects);
        }
    }
}

/// Removes the folders of fuzz processes that have exited (a process cannot remove its own: the
/// fixture lives in a static, and libFuzzer exits without dropping it).
fn remove_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("livegate-fuzz-").and_then(|p| p.parse::<u32>().ok()) else { continue };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Signs in through the router (the password), then holds a session that counts two factors,
/// as after an authenticator's code, so that the routes which need two (a leader's recordings)
/// are reached; returns the cookie as a request sends it.
async fn sign_in(app: &App, email: &str, password: &str) -> String {
    let body = format!(r#"{{"email":"{email}","password":"{password}"}}"#);
    let req = Request::post("/api/session").header("content-type", "application/json").header("host", "localhost");
    let res = router(app.clone()).oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "sign in as {email}");
    let user = app.store.user_by_email(&Email::parse(email).expect("an email")).await.unwrap().expect("the user");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let token = app.sessions.create(&app.store, &user.id, SignInMethod::PasswordTotp, now).await.expect("a session");
    format!("livegate_session={token}")
}

/// Users and consent records of both schools, and a finished recording of 7A.
async fn template_rows(store: &Store) -> Ids {
    let mut ids = Ids::default();
    // By school, then email: the same order in every process, whatever ids the seed drew.
    for school in ["sch_demo", "sch_other"] {
        let school = SchoolId::parse(school).unwrap();
        let mut users = store.users(&school).await.expect("users");
        users.sort_by(|a, b| a.email.expose().cmp(b.email.expose()));
        for user in users {
            for c in store.consents(&school, &user.id).await.expect("consents") {
                ids.consents.push(c.id.clone());
            }
            ids.users.push(user.id.to_string());
        }
    }
    let demo = SchoolId::parse("sch_demo").unwrap();
    let teacher = store.user_by_email(&Email::parse("teacher@demo.sch.uk").unwrap()).await.unwrap().expect("teacher");
    let class = ClassId::parse("7a").unwrap();
    store.create_recording(&demo, RECORDING, &LessonId::generate(), &class, &teacher.id, b"not a key").await.expect("recording");
    store.finish_recording(RECORDING, false, &"0".repeat(64)).await.expect("finished");
    ids
}

/// Ends every lesson the input started, as a shutdown would, and waits until each one's
/// recorder has sealed its recording and its log writer has exited.
async fn end_lessons(app: &App) {
    let lessons = app.lessons.take_all();
    for lesson in &lessons {
        let _ = lesson.send(LessonMsg::Stop).await;
    }
    for lesson in &lessons {
        if let Some(r) = &lesson.info.recorder {
            r.finished().await;
        }
        lesson.log_flushed.wait().await;
    }
}

/// Sends one request through the router and reads the whole answer.
pub async fn send(app: &App, req: Request<Body>) -> (Response<()>, Vec<u8>) {
    let res = router(app.clone()).oneshot(req).await.expect("the router answers");
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("the body reads");
    (Response::from_parts(parts, ()), bytes.to_vec())
}

/// A request with the role's cookie, as a browser on the same site sends it.
pub fn request(school: &School, method: Method, uri: &str, role: usize) -> axum::http::request::Builder {
    let mut req = Request::builder().method(method).uri(uri).header("host", "localhost");
    if let Some(cookie) = &school.cookies[role % ROLES.len()] {
        req = req.header("cookie", cookie);
    }
    req
}

/// The error body as the protocol defines it (the roster import adds `line`, `detail` and a
/// `report` beside it, which this ignores).
#[derive(serde::Deserialize)]
struct ErrorShape {
    error: ErrorDetail,
}

#[derive(serde::Deserialize)]
struct ErrorDetail {
    code: ErrorCode,
    message: String,
}

/// Checks one answer: a non-2xx answer is the JSON error shape with a known code, that code's
/// status and sentence; a 5xx only for the codes that are one by design. Returns the code.
pub fn check(what: &str, status: StatusCode, body: &[u8]) -> Option<ErrorCode> {
    // A 303 is the school-account sign-in's callback sending the browser to the sign-in page
    // (PROTOCOL.md section 7): an answer, not an error body.
    if status.is_success() || status == StatusCode::SEE_OTHER {
        return None;
    }
    let shape: ErrorShape = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!("{what}: {status} answered without the JSON error shape ({e}): {:?}", String::from_utf8_lossy(body))
    });
    let code = shape.error.code;
    assert_eq!(livegate::http::error::status_of(code), status, "{what}: {} with the wrong status", code.as_str());
    assert_eq!(shape.error.message, code.message(), "{what}: {} with another sentence", code.as_str());
    if status.is_server_error() {
        assert!(
            matches!(code, ErrorCode::StoreUnavailable | ErrorCode::ServerStopping | ErrorCode::RecordingTampered),
            "{what}: a server error, {}",
            code.as_str()
        );
    }
    Some(code)
}
