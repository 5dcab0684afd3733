//! A host log sink may call back into the library while llama.cpp is logging with a
//! library lock held (context creation, the image encoder): it must get its lines
//! after the lock is released, not wait for the lock inside the callback forever.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::{demo_model, fixture, solid_png};
use vlmjudge::engine::{set_log_sink, LogLevel, Model, ModelParams};
use vlmjudge::judge::{ImageSource, Judge, JudgeParams};
use vlmjudge_lab::fixture::FixtureKind;

/// The sink is process-wide: one test at a time installs one.
fn sink_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `work` on a thread of its own and waits at most two minutes for it: a
/// deadlock fails the test instead of hanging it.
fn within_timeout<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    rx.recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("{what} did not finish in 2 minutes: the log callback deadlocked"))
}

fn small_params() -> JudgeParams {
    JudgeParams { parallel: 1, ctx_per_seq: 256, ..JudgeParams::default() }
}

#[test]
fn a_log_callback_may_open_a_judge_while_a_judge_is_being_opened() {
    let _serial = sink_lock();
    let model = demo_model();
    // What the callback saw: lines, and the result of the judge it opened.
    let lines = Arc::new(AtomicUsize::new(0));
    let inner: Arc<OnceLock<Result<(), String>>> = Arc::new(OnceLock::new());
    let armed = Arc::new(AtomicBool::new(true));
    {
        let (lines, inner, armed) = (lines.clone(), inner.clone(), armed.clone());
        set_log_sink(Some(Arc::new(move |_: LogLevel, _: &str| {
            lines.fetch_add(1, Ordering::SeqCst);
            // Only the first line re-enters, so the nested judge's own lines do not
            // open judges without end.
            if armed.swap(false, Ordering::SeqCst) {
                let opened = Judge::new(demo_model(), small_params()).map(drop).map_err(|e| e.to_string());
                let _ = inner.set(opened);
            }
        })));
    }
    let outer = within_timeout("opening a judge", move || Judge::new(model, small_params()).map(drop));
    set_log_sink(None);
    outer.expect("the outer judge opens");
    assert!(lines.load(Ordering::SeqCst) > 0, "llama.cpp logged nothing while a context was created");
    assert_eq!(inner.get(), Some(&Ok(())), "the callback's judge did not open");
}

#[test]
fn a_log_callback_may_encode_an_image_while_one_is_being_encoded() {
    let _serial = sink_lock();
    static MODEL: OnceLock<Model> = OnceLock::new();
    let model = MODEL.get_or_init(|| {
        let files = fixture(FixtureKind::TinyVlm);
        Model::load(&files.model, Some(&files.mmproj), &ModelParams::default()).expect("fixture loads")
    });
    let red = ImageSource::Bytes(solid_png(48, 40, [220, 30, 30]).into());
    let blue = ImageSource::Bytes(solid_png(40, 48, [30, 30, 220]).into());
    let lines = Arc::new(AtomicUsize::new(0));
    let inner: Arc<OnceLock<Result<usize, String>>> = Arc::new(OnceLock::new());
    let armed = Arc::new(AtomicBool::new(true));
    {
        let (lines, inner, armed) = (lines.clone(), inner.clone(), armed.clone());
        set_log_sink(Some(Arc::new(move |_: LogLevel, line: &str| {
            lines.fetch_add(1, Ordering::SeqCst);
            // mtmd logs "clip_encode: ..." from inside the encoder, where the lock is
            // held (earlier lines come from preprocessing, before it is taken).
            if line.contains("clip_encode") && armed.swap(false, Ordering::SeqCst) {
                let _ = inner.set(model.encode_image(&blue).map(|image| image.n_tokens));
            }
        })));
    }
    let outer = within_timeout("encoding an image", move || model.encode_image(&red).map(|image| image.n_tokens));
    set_log_sink(None);
    assert!(outer.expect("the outer image encodes") > 0);
    assert!(lines.load(Ordering::SeqCst) > 0, "mtmd logged nothing while encoding");
    assert!(matches!(inner.get(), Some(Ok(n)) if *n > 0), "the callback's encode failed: {:?}", inner.get());
}
