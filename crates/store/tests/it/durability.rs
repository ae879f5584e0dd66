//! Acknowledged writes survive `kill -9`: a child process (this test binary, re-executed to
//! run only `child_writer`) writes to a SQLite store and prints each acknowledged revision; the
//! parent kills it mid-stream and checks the reopened database holds every acknowledged write.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use ferry_store::{Store, WatchFilter};

use crate::support::*;

/// Tells `child_writer` where the database is; without it the test does nothing.
const DB_ENV: &str = "FERRY_STORE_DURABILITY_DB";
/// Acknowledgements the parent reads before killing the child.
const ACKS: usize = 400;
const SIGKILL: i32 = 9;
/// The longest wait for the child's next line.
const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn kill_9_keeps_acknowledged_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ferry.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "durability::child_writer",
            "--ignored",
            "--nocapture",
        ])
        .env(DB_ENV, &db)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Lines arrive through a thread, so a child that hangs fails the test instead of hanging it.
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (lines, received) = mpsc::channel();
    thread::spawn(move || {
        for line in stdout.lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    // name -> acknowledged revision; the counter object is acknowledged repeatedly.
    let mut acked: BTreeMap<String, u64> = BTreeMap::new();
    let mut count = 0;
    let mut last = 0;
    while count < ACKS {
        let Ok(line) = received.recv_timeout(CHILD_TIMEOUT) else {
            break;
        };
        // libtest may print its own text on the same line.
        if let Some(ack) = line.find("ack ").map(|at| &line[at + 4..]) {
            let (name, revision) = ack.trim().split_once(' ').expect("ack <name> <revision>");
            let revision: u64 = revision.parse().unwrap();
            assert!(revision > last, "acknowledged revisions increase");
            last = revision;
            acked.insert(name.to_owned(), revision);
            count += 1;
        }
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(
        count, ACKS,
        "the child stopped acknowledging ({status}): {stderr}"
    );
    assert_eq!(
        status.signal(),
        Some(SIGKILL),
        "the child was killed mid-write: {stderr}"
    );

    let store = Store::sqlite(&db).unwrap();
    assert!(store.revision().unwrap() >= last);
    for (name, &revision) in &acked {
        let object = store.get(&key("configmaps", "default", name)).unwrap();
        let object = object.unwrap_or_else(|| panic!("acknowledged {name} is lost"));
        if name == "counter" {
            assert!(
                object.revision >= revision,
                "counter went back to {}",
                object.revision
            );
        } else {
            assert_eq!(object.revision, revision, "{name}");
        }
        assert_eq!(resource_version(&object.body), object.revision.to_string());
    }
    // The log holds every acknowledged write, in order and without gaps.
    run(async {
        let mut watch = store.watch(WatchFilter::default(), 0).unwrap();
        let events = take(&mut watch, last as usize).await;
        assert_eq!(revisions(&events), (1..=last).collect::<Vec<_>>());
    });
    // And the store keeps working.
    assert!(create(&store, &key("configmaps", "default", "after-crash")) > last);
}

/// The child process of `kill_9_keeps_acknowledged_writes`: writes until killed, printing
/// `ack <name> <revision>` after each write returns.
#[test]
#[ignore = "run by kill_9_keeps_acknowledged_writes in a child process"]
fn child_writer() {
    let Some(path) = std::env::var_os(DB_ENV) else {
        return;
    };
    let store = Store::sqlite(Path::new(&path)).unwrap();
    let counter = key("configmaps", "default", "counter");
    let mut out = std::io::stdout().lock();
    create(&store, &counter);
    // Bounded, in case the parent goes away without killing it.
    for i in 0..1_000_000 {
        let name = format!("cm-{i:07}");
        let revision = create(&store, &key("configmaps", "default", &name));
        writeln!(out, "ack {name} {revision}").unwrap();
        let revision = store
            .update(&counter, object_with(&counter, &name), None)
            .unwrap()
            .revision;
        writeln!(out, "ack counter {revision}").unwrap();
        out.flush().unwrap();
    }
}
