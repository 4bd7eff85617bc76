use hop::import::{run, ImportPaths};
use hop::store::{EventFilter, LinkFilter};

use crate::both_backends;
use crate::harness::{json, seed_dir, TestApp};

both_backends!(
    the_sample_data_imports_whole_and_a_second_import_changes_nothing,
    broken_rows_are_reported_by_line_and_good_rows_land,
);

async fn the_sample_data_imports_whole_and_a_second_import_changes_nothing(app: TestApp) {
    let store = app.store().await;
    let paths = ImportPaths::from_dir(&seed_dir()).unwrap();

    let first = run(store.as_ref(), &paths).await.unwrap();
    let second = run(store.as_ref(), &paths).await.unwrap();

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
                1,1,abcDEF,https://example.com/1,One,True,2025-01-01 00:00:00,2025-01-01 00:00:00\n\
                2,99,abcDEG,https://example.com/2,Two,True,2025-01-01 00:00:00,2025-01-01 00:00:00\n\
                3,3,abcDEH,not a url,Three,True,2025-01-01 00:00:00,2025-01-01 00:00:00\n\
                4,3,abcDEI,https://example.com/4,\"Four,False,2025-01-01 00:00:00,\
                2025-01-01 00:00:00\n\
                5,3,abcDEJ,https://example.com/5,Five,True,2025-01-01 00:00:00,\
                2025-01-01 00:00:00\n";
    std::fs::write(dir.path().join("users.csv"), users).unwrap();
    std::fs::write(dir.path().join("urls.csv"), urls).unwrap();
    let store = app.store().await;

    let reports = run(store.as_ref(), &ImportPaths::from_dir(dir.path()).unwrap())
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
    let lines: Vec<(u64, &str)> = links
        .rejected
        .iter()
        .map(|r| (r.line, r.error.as_str()))
        .collect();
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
