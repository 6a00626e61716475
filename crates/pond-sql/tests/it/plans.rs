//! `import_plan`: which host files a copy imports, and where.

use tinyfs::TxnMeta;
use tlogfs::Pond;

#[tokio::test]
async fn a_recursive_plan_walks_in_name_order_and_skips_what_is_not_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("in");
    std::fs::create_dir_all(host.join("b")).unwrap();
    std::fs::write(host.join("z.csv"), "x\n1\n").unwrap();
    std::fs::write(host.join("a.csv"), "x\n1\n").unwrap();
    std::fs::write(host.join("b/c.csv"), "x\n1\n").unwrap();
    std::os::unix::fs::symlink(host.join("a.csv"), host.join("link")).unwrap();
    let pond = Pond::init(&dir.path().join("pond")).await.unwrap();
    let tx = pond.fs().begin(TxnMeta::default()).await.unwrap();
    let root = tx.root();
    root.create_dir("/d").await.unwrap();
    let sources = [host.display().to_string()];

    let err = pond_sql::import_plan(&root, &sources, "/d", false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is a directory (use -r"), "{err}");
    let plan = pond_sql::import_plan(&root, &sources, "/d", true)
        .await
        .unwrap();
    let dests: Vec<&str> = plan.jobs.iter().map(|j| j.dest.as_str()).collect();
    assert_eq!(dests, ["/d/in/a.csv", "/d/in/z.csv", "/d/in/b/c.csv"]);
    assert_eq!(plan.skipped, [host.join("link")]);
    assert!(
        root.exists("/d/in/b").await.unwrap(),
        "pond directories are made"
    );

    let two = [sources[0].clone(), "-".to_string()];
    let err = pond_sql::import_plan(&root, &two, "/d/in/a.csv", true)
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("/d/in/a.csv: not a directory"),
        "{err}"
    );
    let err = pond_sql::import_plan(&root, &["-".to_string()], "/d", false)
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("-: standard input has no name"),
        "{err}"
    );
}
