//! The data folder: creation, reuse of files, name checks, permissions and racing writers.

use std::cell::Cell;
use std::sync::Barrier;
use weft_storage::{DataDir, StorageError};

fn never_called() -> Result<Vec<u8>, std::io::Error> {
    panic!("the content of an existing file must not be produced again")
}

fn file_names(dir: &DataDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.root())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn open_creates_the_folder_and_its_parents() {
    let temp = tempfile::tempdir().unwrap();
    let wanted = temp.path().join("a").join("b").join("data");
    assert!(!wanted.exists());

    let dir = DataDir::open(&wanted).unwrap();

    assert!(wanted.is_dir());
    assert_eq!(dir.root(), std::fs::canonicalize(&wanted).unwrap());
    assert!(dir.root().is_absolute());
    assert!(
        file_names(&dir).is_empty(),
        "the writability probe must be removed"
    );
}

#[test]
fn open_keeps_an_existing_folder_and_its_files() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(temp.path().join("keep.txt"), b"old").unwrap();

    let dir = DataDir::open(temp.path()).unwrap();

    assert_eq!(
        std::fs::read(dir.path("keep.txt").unwrap()).unwrap(),
        b"old"
    );
    assert_eq!(file_names(&dir), ["keep.txt"]);
}

#[test]
fn open_rejects_a_path_that_is_a_file() {
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();

    let err = DataDir::open(&file).unwrap_err();
    assert!(matches!(err, StorageError::CreateDir { .. }), "{err:?}");
}

#[test]
fn path_joins_plain_names() {
    let temp = tempfile::tempdir().unwrap();
    let dir = DataDir::open(temp.path()).unwrap();
    assert_eq!(
        dir.path("collab-key.pem").unwrap(),
        dir.root().join("collab-key.pem")
    );
    assert_eq!(dir.path(".hidden").unwrap(), dir.root().join(".hidden"));
}

#[test]
fn bad_names_are_rejected_everywhere() {
    let temp = tempfile::tempdir().unwrap();
    let dir = DataDir::open(temp.path().join("data")).unwrap();
    let bad = [
        "",
        ".",
        "..",
        "../escape",
        "a/../b",
        "sub/file",
        "/etc/passwd",
        "back\\slash",
        "trailing/",
        "nul\0byte",
    ];
    for name in bad {
        let err = dir.path(name).unwrap_err();
        assert!(
            matches!(&err, StorageError::InvalidName { name: n, .. } if n == name),
            "{name:?}: {err:?}"
        );
        let err = dir.read_or_create(name, never_called).unwrap_err();
        assert!(
            matches!(err, StorageError::InvalidName { .. }),
            "{name:?}: {err:?}"
        );
    }
    assert!(file_names(&dir).is_empty());
    assert!(!temp.path().join("escape").exists());
}

#[test]
fn read_or_create_writes_a_missing_file() {
    let temp = tempfile::tempdir().unwrap();
    let dir = DataDir::open(temp.path()).unwrap();
    let content = b"-----BEGIN PRIVATE KEY-----\n".to_vec();

    let (bytes, created) = dir
        .read_or_create("key.pem", || Ok::<_, std::io::Error>(content.clone()))
        .unwrap();

    assert!(created);
    assert_eq!(bytes, content);
    assert_eq!(
        std::fs::read(dir.path("key.pem").unwrap()).unwrap(),
        content
    );
    assert_eq!(file_names(&dir), ["key.pem"], "no temporary file is left");
}

#[test]
fn read_or_create_returns_the_existing_file_without_calling_create() {
    let temp = tempfile::tempdir().unwrap();
    let dir = DataDir::open(temp.path()).unwrap();
    let (first, created) = dir
        .read_or_create("key.pem", || Ok::<_, std::io::Error>(b"first".to_vec()))
        .unwrap();
    assert!(created);

    let calls = Cell::new(0);
    let (second, created) = dir
        .read_or_create("key.pem", || {
            calls.set(calls.get() + 1);
            Ok::<_, std::io::Error>(b"second".to_vec())
        })
        .unwrap();

    assert!(!created);
    assert_eq!(second, first);
    assert_eq!(calls.get(), 0);

    // A fresh handle on the same folder (a restarted server) sees the same file.
    let reopened = DataDir::open(temp.path()).unwrap();
    let (third, created) = reopened.read_or_create("key.pem", never_called).unwrap();
    assert!(!created);
    assert_eq!(third, b"first");
}

#[test]
fn read_or_create_reports_the_create_error_and_writes_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let dir = DataDir::open(temp.path()).unwrap();

    let err = dir
        .read_or_create("key.pem", || Err(std::io::Error::other("no entropy today")))
        .unwrap_err();

    match err {
        StorageError::Create { name, source } => {
            assert_eq!(name, "key.pem");
            assert_eq!(source.to_string(), "no entropy today");
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(file_names(&dir).is_empty());
}

#[test]
fn read_or_create_keeps_an_empty_file() {
    let temp = tempfile::tempdir().unwrap();
    let dir = DataDir::open(temp.path()).unwrap();
    let (bytes, created) = dir
        .read_or_create("empty", || Ok::<_, std::io::Error>(Vec::new()))
        .unwrap();
    assert!(created);
    assert!(bytes.is_empty());
    let (bytes, created) = dir.read_or_create("empty", never_called).unwrap();
    assert!(!created);
    assert!(bytes.is_empty());
}

#[cfg(unix)]
#[test]
fn created_files_are_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let temp = tempfile::tempdir().unwrap();
    let dir = DataDir::open(temp.path()).unwrap();
    dir.read_or_create("key.pem", || Ok::<_, std::io::Error>(b"secret".to_vec()))
        .unwrap();

    let mode = std::fs::metadata(dir.path("key.pem").unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode was {mode:o}");
}

#[test]
fn racing_creators_agree_on_one_content() {
    const WRITERS: usize = 8;
    let temp = tempfile::tempdir().unwrap();
    let dir = DataDir::open(temp.path()).unwrap();
    let barrier = Barrier::new(WRITERS);

    let results: Vec<(Vec<u8>, bool)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|i| {
                let (dir, barrier) = (&dir, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    dir.read_or_create("key.pem", || {
                        Ok::<_, std::io::Error>(format!("writer {i}").into_bytes())
                    })
                    .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let on_disk = std::fs::read(dir.path("key.pem").unwrap()).unwrap();
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
    for (bytes, _) in &results {
        assert_eq!(bytes, &on_disk);
    }
    assert_eq!(file_names(&dir), ["key.pem"]);
}
