use hop::import::{run, ImportPaths};
use hop::store::{EventFilter, LinkFilter};

use crate::both_backends;
use crate::harness::{json, seed_dir, TestApp};

both_backends!(
    a_large_link_file_takes_the_bulk_path_with_the_same_rules,
    two_imports_of_one_large_file_at_once_both_succeed,
    the_sample_data_imports_whole_and_a_second_import_changes_nothing,
    broken_rows_are_reported_by_line_and_good_rows_land,
    events_whose_numbers_the_store_rewrites_import_again_unchanged,
);

async fn the_sample_data_imports_whole_and_a_second_import_changes_nothing(app: TestApp) {
    let store = app.store().await;
    let paths = ImportPaths::from_dir(&seed_dir()).unwrap();

    let first = run(store.as_ref(), &paths, |_| {}).await.unwrap();
    let second = run(store.as_ref(), &paths, |_| {}).await.unwrap();

    let created: Vec<u64> = first.iter().map(|r| r.tally.created).collect();
    assert_eq!(created, vec![400, 2000, 3422]);
    let unchanged: Vec<u64> = second.iter().map(|r| r.tally.unchanged).collect();
    assert_eq!(unchanged, vec![400, 2000, 3422]);
    assert!(second
        .iter()
        .all(|r| r.tally.created == 0 && r.tally.updated == 0));
    let links = store
        .list_links(&LinkFilter::default(), None)
        .await
        .unwrap();
    assert_eq!(links.len(), 2000);
    let events = store
        .list_events(&EventFilter::default(), None)
        .await
        .unwrap();
    assert_eq!(events.len(), 3422);
    let next = app.user("newcomer").await;
    assert_eq!(next, 401);
    let link = app.link(next, "https://example.com/new").await;
    assert_eq!(link["id"], 2001);
    let mut ids: Vec<i64> = json(app.get("/events").await)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    ids.dedup();
    assert_eq!(
        *ids.last().unwrap(),
        3423,
        "the created event follows the imported ones"
    );
}

async fn broken_rows_are_reported_by_line_and_good_rows_land(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let users = "\u{feff}id,username,email,created_at\r\n\
                 1,ada,ada@x.io,2025-01-01 00:00:00\r\n\
                 2,bob,bob@x.io\r\n\
                 1,ada-again,again@x.io,2025-01-01 00:00:00\r\n\
                 3,\"cy \"\"the\"\" third\",cy@x.io,2025-01-01 00:00:00\r\n";
    let urls = "id,user_id,short_code,original_url,title,is_active,created_at,updated_at\n\
                1,1,abcDEF,https://example.com/1,One,True,2025-01-01 00:00:00,\
                2025-01-01 00:00:00\n\
                2,99,abcDEG,https://example.com/2,Two,True,2025-01-01 00:00:00,\
                2025-01-01 00:00:00\n\
                3,3,abcDEH,not a url,Three,True,2025-01-01 00:00:00,2025-01-01 00:00:00\n\
                4,3,abcDEI,https://example.com/4,\"Four,False,2025-01-01 00:00:00,\
                2025-01-01 00:00:00\n\
                5,3,abcDEJ,https://example.com/5,Five,True,2025-01-01 00:00:00,\
                2025-01-01 00:00:00\n";
    std::fs::write(dir.path().join("users.csv"), users).unwrap();
    std::fs::write(dir.path().join("urls.csv"), urls).unwrap();
    let store = app.store().await;

    let reports = run(
        store.as_ref(),
        &ImportPaths::from_dir(dir.path()).unwrap(),
        |_| {},
    )
    .await
    .unwrap();

    let users = &reports[0].tally;
    assert_eq!(users.created, 2);
    let lines: Vec<u64> = users.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![3, 4]);
    assert_eq!(users.rejected[0].error, "expected 4 fields, found 3");
    let cy = json(app.get("/users/3").await).await;
    assert_eq!(cy["username"], "cy \"the\" third");
    let links = &reports[1].tally;
    assert_eq!(links.created, 1);
    let lines = links.rejections();
    assert_eq!(lines[0], (3, "user 99 does not exist"));
    assert_eq!(lines[1].0, 4);
    assert_eq!(
        lines[2],
        (
            5,
            "a quote opened here is not closed: lines 5 to 7 were not read"
        )
    );
    assert_eq!(links.rejected.len(), 3);
}

/// Over PostgreSQL's COPY threshold (10,000 rows): the same outcome as the batched path.
async fn a_large_link_file_takes_the_bulk_path_with_the_same_rules(app: TestApp) {
    app.seed().await;
    let dir = tempfile::tempdir().unwrap();
    let write_links = |changed_title: &str| {
        let mut csv = String::from(
            "id,user_id,short_code,original_url,title,is_active,created_at,updated_at\n",
        );
        for n in 0..12_000 {
            let (id, user) = (5_001 + n, 1 + n % 400);
            let title = if n == 7 {
                changed_title.to_owned()
            } else {
                format!("T{n}")
            };
            csv.push_str(&format!(
                "{id},{user},bulk{n:06},https://example.com/bulk/{n},{title},True,\
                 2025-01-01 00:00:00,2025-01-02 00:00:00\n"
            ));
        }
        csv.push_str(
            "17001,999,bulkx1,https://example.com/x,,True,2025-01-01 00:00:00,\
                      2025-01-01 00:00:00\n",
        );
        csv.push_str(
            "17002,1,WqxP6K,https://example.com/y,,True,2025-01-01 00:00:00,\
                      2025-01-01 00:00:00\n",
        );
        // Both faults at once: one line, one reason.
        csv.push_str(
            "17003,999,cCZohi,https://example.com/z,,True,2025-01-01 00:00:00,\
                      2025-01-01 00:00:00\n",
        );
        std::fs::write(dir.path().join("urls.csv"), csv).unwrap();
    };
    let store = app.store().await;
    let import = || async {
        let paths = ImportPaths::from_dir(dir.path()).unwrap();
        run(store.as_ref(), &paths, |_| {})
            .await
            .unwrap()
            .remove(0)
            .tally
    };

    write_links("first");
    let first = import().await;
    write_links("second");
    let second = import().await;

    assert_eq!(
        (first.created, first.updated, first.unchanged),
        (12_000, 0, 0)
    );
    assert_eq!(
        first.rejections(),
        vec![
            (12_002, "user 999 does not exist"),
            (12_003, "short_code belongs to link 1"),
            (12_004, "user 999 does not exist")
        ]
    );
    assert_eq!(
        (second.created, second.updated, second.unchanged),
        (0, 1, 11_999)
    );
    let changed = json(app.get("/urls/5008").await).await;
    assert_eq!(changed["title"], "second");
    let redirect = app.get("/bulk011999").await;
    assert_eq!(
        redirect.headers()["location"],
        "https://example.com/bulk/11999"
    );
    let next = app.link(1, "https://example.com/after").await;
    // PostgreSQL reserves every id the file names before writing; SQLite continues above the
    // largest one written.
    let expected = if app.database_url.starts_with("postgres") {
        17_004
    } else {
        17_001
    };
    assert_eq!(next["id"], expected, "ids continue above the imported ones");
}

/// Two runs of one large link file at the same time (a retried job, two operators): both
/// succeed, one creating the links and the other finding them unchanged, on either backend.
async fn two_imports_of_one_large_file_at_once_both_succeed(app: TestApp) {
    app.seed().await;
    let dir = tempfile::tempdir().unwrap();
    let mut csv =
        String::from("id,user_id,short_code,original_url,title,is_active,created_at,updated_at\n");
    for n in 0..12_000 {
        csv.push_str(&format!(
            "{},{},twice{n:06},https://example.com/twice/{n},,True,\
             2025-01-01 00:00:00,2025-01-01 00:00:00\n",
            5_001 + n,
            1 + n % 400
        ));
    }
    std::fs::write(dir.path().join("urls.csv"), csv).unwrap();
    let store = app.store().await;
    let import = || async {
        let paths = ImportPaths::from_dir(dir.path()).unwrap();
        run(store.as_ref(), &paths, |_| {})
            .await
            .map(|mut reports| reports.remove(0).tally)
    };

    let (one, other) = tokio::join!(import(), import());

    let mut outcomes: Vec<(u64, u64, u64, usize)> = [one, other]
        .into_iter()
        .map(|tally| {
            let tally = tally.expect("both imports succeed");
            (
                tally.created,
                tally.updated,
                tally.unchanged,
                tally.rejected.len(),
            )
        })
        .collect();
    outcomes.sort();
    assert_eq!(outcomes, [(0, 0, 12_000, 0), (12_000, 0, 0, 0)]);
}

/// PostgreSQL gives `details` numbers back in its own notation (`100` for `1E+2`, `0` for
/// `-0`); importing the same file again finds those events unchanged, and a number whose
/// value changed is an update.
async fn events_whose_numbers_the_store_rewrites_import_again_unchanged(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let write = |last: &str| {
        let files = [
            (
                "users.csv",
                "id,username,email,created_at\n1,ada,ada@x.io,2025-01-01 00:00:00\n",
            ),
            (
                "urls.csv",
                "id,user_id,short_code,original_url,title,is_active,created_at,updated_at\n\
                 1,1,abcDEF,https://example.com/1,,True,2025-01-01 00:00:00,2025-01-01 00:00:00\n",
            ),
        ];
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let events = format!(
            "id,url_id,user_id,event_type,timestamp,details\n\
             1,1,1,x,2025-01-02 00:00:00,\"{{\"\"n\"\":1E+2,\"\"z\"\":-0}}\"\n\
             2,1,1,x,2025-01-02 00:00:00,\"{{\"\"n\"\":[1.50,123456789012345678901234567890]}}\"\n\
             3,1,1,x,2025-01-02 00:00:00,\"{{\"\"n\"\":{last}}}\"\n"
        );
        std::fs::write(dir.path().join("events.csv"), events).unwrap();
    };
    let store = app.store().await;
    let import = || async {
        let paths = ImportPaths::from_dir(dir.path()).unwrap();
        let mut reports = run(store.as_ref(), &paths, |_| {}).await.unwrap();
        let events = reports.remove(2).tally;
        (events.created, events.updated, events.unchanged)
    };

    write("1e-3");
    let first = import().await;
    let again = import().await;
    write("0.0010");
    let same_value = import().await;
    write("0.0011");
    let other_value = import().await;

    assert_eq!(first, (3, 0, 0));
    assert_eq!(again, (0, 0, 3));
    assert_eq!(same_value, (0, 0, 3));
    assert_eq!(other_value, (0, 1, 2));
}
