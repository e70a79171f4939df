//! The command line as users and scripts drive it: exit codes and output shapes.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{NewsSite, Story};

fn feedwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .args(args)
        .env_remove("FEEDWATCH_CONFIG")
        .output()
        .expect("feedwatch runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The seed article, from the shared data set beside the repository.
fn sample() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/samples/soldiers-mothers-newsweek.txt");
    if path.exists() {
        Some(path)
    } else {
        eprintln!("SKIPPED: {} is not present", path.display());
        None
    }
}

#[test]
fn test_query_on_the_sample_article() {
    let Some(sample) = sample() else { return };
    let sample = sample.to_str().unwrap();
    let output = feedwatch(&[
        "test",
        "--query",
        "\"mothers and wives\" AND putin",
        sample,
        "--format",
        "json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["matched"], true);
    assert!(json["score"].as_f64().unwrap() > 0.0);
    assert_eq!(
        json["hits"],
        serde_json::json!(["mothers and wives", "putin"])
    );
    let entities = json["entities"].as_array().unwrap();
    let kind_of = |name: &str| {
        entities
            .iter()
            .find(|e| e["text"] == name)
            .map(|e| e["kind"].as_str().unwrap().to_string())
    };
    assert_eq!(kind_of("Vladimir Putin").as_deref(), Some("person"));
    assert_eq!(kind_of("Vedomosti").as_deref(), Some("org"));
    assert_eq!(kind_of("Newsweek").as_deref(), Some("org"));
    assert_eq!(kind_of("Samara").as_deref(), Some("place"));
    assert!(
        json["title"]
            .as_str()
            .unwrap()
            .starts_with("Putin 'Hiding'")
    );
    assert!(json["text"].as_str().unwrap().contains("Olga Tsukanova"));

    let output = feedwatch(&[
        "test",
        "--query",
        "\"mothers and wives\" AND NOT putin",
        sample,
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["matched"], false);
}

#[test]
fn test_with_a_bad_query_shows_where() {
    let output = feedwatch(&["test", "--query", "putin AND (mothers", "-"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("unclosed `(`"), "{err}");
    assert!(err.contains("          ^"), "{err}");
}

fn write_config(dir: &Path, main: &str, watchlist: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("watchlists")).unwrap();
    std::fs::write(dir.join("watchlists/w.toml"), watchlist).unwrap();
    let path = dir.join("feedwatch.toml");
    std::fs::write(&path, main).unwrap();
    path
}

#[test]
fn check_accepts_the_shipped_config() {
    let output = feedwatch(&["check", "-c", "config/feedwatch.toml"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("ok (13 feeds, 2 topics"));
}

#[test]
fn check_names_line_and_column_of_a_typo_and_an_unbalanced_quote() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[[feed]]\nname = \"a\"\nurl = \"http://127.0.0.1:1/feed\"\nintervall = \"5m\"\n",
        "[[topic]]\nname = \"t\"\nquery = '\"mothers and wives AND putin'\n",
    );
    let output = feedwatch(&["check", "-c", config.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("unknown field `intervall`"), "{err}");
    assert!(err.contains("feedwatch.toml:4:1"), "{err}");

    std::fs::write(
        &config,
        "[[feed]]\nname = \"a\"\nurl = \"http://127.0.0.1:1/feed\"\n",
    )
    .unwrap();
    let output = feedwatch(&["check", "-c", config.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("unclosed"), "{err}");
    assert!(err.contains("w.toml:3:10"), "{err}");
    assert!(err.contains("1 configuration error"), "{err}");
}

#[test]
fn check_rejects_a_duration_beyond_its_bound_where_it_stands() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[[feed]]\nname = \"a\"\nurl = \"http://127.0.0.1:1/feed\"\ninterval = \"500000y\"\n",
        "",
    );
    let output = feedwatch(&["check", "-c", config.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("feedwatch.toml:4:12"), "{err}");
    assert!(err.contains("`interval` is too long: at most 30d"), "{err}");
    assert!(err.contains("^^^^^^^^^"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // The other commands refuse it the same way rather than overflow later.
    let output = feedwatch(&["once", "-c", config.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("at most 30d"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn extract_writes_one_text_file_per_page() {
    let dir = tempfile::tempdir().unwrap();
    let story = Story {
        slug: "s".into(),
        title: "Council demands a meeting".into(),
        summary: "x".into(),
        paragraphs: vec![
            "The Council of Mothers and Wives demanded a meeting with the president on Sunday, its members said in a statement.".into(),
            "The last paragraph of the story says the council will keep asking until it is heard.".into(),
        ],
        related: vec!["Mothers of soldiers protest in Moscow".into()],
    };
    std::fs::create_dir_all(dir.path().join("pages/abc")).unwrap();
    std::fs::write(
        dir.path().join("pages/abc/page.html"),
        common::article_page(&story),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pages/flat.html"),
        common::article_page(&story),
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = feedwatch(&[
        "extract",
        dir.path().join("pages/abc/page.html").to_str().unwrap(),
        dir.path().join("pages/flat.html").to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    for id in ["abc", "flat"] {
        let text = std::fs::read_to_string(out.join(format!("{id}.txt"))).unwrap();
        assert!(text.contains("keep asking until it is heard"), "{text}");
        assert!(!text.contains("protest in Moscow"), "{text}");
        assert!(!text.contains("Subscribe"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_prints_new_alerts_once_and_queues_them_for_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let site = NewsSite::start().await;
    site.add_rss(Story {
        slug: "council".into(),
        title: "Mothers and wives of soldiers demand a meeting".into(),
        summary: "The council of mothers and wives asks for a meeting.".into(),
        paragraphs: vec![],
        related: vec![],
    });
    let config = write_config(
        dir.path(),
        &format!(
            "[daemon]\nfirst_poll = \"alert\"\n[[feed]]\nname = \"daily\"\nurl = \"{}\"\nfull_text = false\n",
            site.url("/rss.xml")
        ),
        "[[topic]]\nname = \"mothers\"\nquery = '\"mothers and wives\"'\n",
    );
    let config = config.to_str().unwrap().to_string();
    let run = move |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["-c", config.as_str()]);
        feedwatch(&all)
    };
    let first = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(&["once"])
    })
    .await
    .unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&first.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["topic"], "mothers");
    assert_eq!(
        lines[0]["article"]["title"],
        "Mothers and wives of soldiers demand a meeting"
    );

    let again = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(&["once"])
    })
    .await
    .unwrap();
    assert!(
        again.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );

    site.add_rss(Story {
        slug: "second".into(),
        title: "More mothers and wives join".into(),
        summary: "A second story.".into(),
        paragraphs: vec![],
        related: vec![],
    });
    let delivered = tokio::task::spawn_blocking(move || run(&["once", "--deliver"]))
        .await
        .unwrap();
    assert!(delivered.status.success(), "{}", stderr(&delivered));
    let jsonl = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    let recorded: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The first round's alert was queued too, and goes out with this one: nothing is lost.
    assert_eq!(recorded.len(), 2);
    let titles: Vec<&str> = recorded
        .iter()
        .map(|r| r["article"]["title"].as_str().unwrap())
        .collect();
    assert!(titles.contains(&"Mothers and wives of soldiers demand a meeting"));
    assert!(titles.contains(&"More mothers and wives join"));
}

#[test]
fn feeds_parse_shows_what_feedwatch_makes_of_a_feed() {
    let dir = tempfile::tempdir().unwrap();
    let xml = "<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss version=\"2.0\"><channel><title>Новости</title><link>https://news.example/</link>\
        <item><guid>a-1</guid><title>Мобилизация</title><link>https://news.example/a</link><description>Протесты</description>\
        <pubDate>Fri, 25 Nov 2022 10:00:00 GMT</pubDate><author>reporter@news.example (Ольга)</author></item></channel></rss>";
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(xml);
    let path = dir.path().join("feed.xml");
    std::fs::write(&path, bytes).unwrap();
    let output = feedwatch(&["feeds", "parse", path.to_str().unwrap(), "--format", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["title"], "Новости");
    assert_eq!(json["link"], "https://news.example/");
    let item = &json["items"][0];
    assert_eq!(item["id"], "a-1");
    assert_eq!(item["title"], "Мобилизация");
    assert_eq!(item["link"], "https://news.example/a");
    assert_eq!(item["summary"], "Протесты");
    assert_eq!(item["published"], "2022-11-25T10:00:00Z");
    for key in ["content", "authors"] {
        assert!(item.get(key).is_some(), "missing {key}");
    }

    std::fs::write(&path, "<html>not a feed</html>").unwrap();
    let output = feedwatch(&["feeds", "parse", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("not a readable RSS, Atom or JSON feed"),
        "{}",
        stderr(&output)
    );
}

/// Runs feedwatch with stdout a pipe whose reader reads `lines` lines and then goes away, as
/// `feedwatch … | head -n LINES` does; with `lines` 0 the reader is gone before feedwatch
/// writes anything, so the first write meets a closed pipe.
fn with_reader_gone_after(lines: usize, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .args(args)
        .env_remove("FEEDWATCH_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("feedwatch runs");
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    for _ in 0..lines {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
    }
    drop(reader);
    child.wait_with_output().expect("feedwatch ends")
}

/// A command cut off by its reader ends quietly: 141 (as if by SIGPIPE) or 0, no panic and no
/// error message.
fn assert_quiet_end(output: &Output) {
    let err = stderr(output);
    assert!(
        matches!(output.status.code(), Some(0 | 141)),
        "status {:?}: {err}",
        output.status
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !err.contains("Broken pipe") && !err.contains("error:"),
        "{err}"
    );
}

fn big_feed(dir: &Path) -> PathBuf {
    let items: String = (0..3000)
        .map(|i| {
            format!(
                "<item><guid>item-{i}</guid><title>Mothers and wives protest, day {i}</title>\
                 <link>https://news.example/{i}</link><description>Story {i}</description></item>"
            )
        })
        .collect();
    let path = dir.join("feed.xml");
    std::fs::write(
        &path,
        format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Big</title>{items}</channel></rss>"),
    )
    .unwrap();
    path
}

#[test]
fn feeds_parse_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let feed = big_feed(dir.path());
    let feed = feed.to_str().unwrap();
    for lines in [0, 1] {
        for format in ["text", "json"] {
            let output =
                with_reader_gone_after(lines, &["feeds", "parse", feed, "--format", format]);
            assert_quiet_end(&output);
            assert_eq!(output.status.code(), Some(141), "{}", stderr(&output));
        }
    }
}

#[test]
fn test_and_extract_into_a_closed_pipe_end_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("article.txt");
    let body =
        "The council of mothers and wives of mobilized soldiers asked for a meeting. ".repeat(3000);
    std::fs::write(&text, format!("Mothers and wives protest\n{body}")).unwrap();
    let text = text.to_str().unwrap();
    let query = "\"mothers and wives\"";
    for (lines, format) in [(0, "text"), (0, "json"), (1, "json")] {
        let output =
            with_reader_gone_after(lines, &["test", "--query", query, text, "--format", format]);
        assert_quiet_end(&output);
    }

    let story = Story {
        slug: "s".into(),
        title: "Council demands a meeting".into(),
        summary: "x".into(),
        paragraphs: (0..2000)
            .map(|i| format!("Paragraph {i}: the Council of Mothers and Wives demanded a meeting with the president on Sunday."))
            .collect(),
        related: vec![],
    };
    let page = dir.path().join("page.html");
    std::fs::write(&page, common::article_page(&story)).unwrap();
    let page = page.to_str().unwrap();
    for (lines, format) in [(0, "text"), (1, "text"), (1, "json")] {
        let output = with_reader_gone_after(lines, &["extract", page, page, "--format", format]);
        assert_quiet_end(&output);
    }
}

#[test]
fn check_into_a_closed_pipe_ends_quietly() {
    let output = with_reader_gone_after(0, &["check", "-c", "config/feedwatch.toml"]);
    assert_quiet_end(&output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_and_alerts_list_into_a_closed_pipe_end_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let site = NewsSite::start().await;
    for i in 0..30 {
        site.add_rss(Story {
            slug: format!("council-{i}"),
            title: format!("Mothers and wives of soldiers demand a meeting, part {i}"),
            summary: "The council of mothers and wives asks for a meeting.".into(),
            paragraphs: vec![],
            related: vec![],
        });
    }
    let config = write_config(
        dir.path(),
        &format!(
            "[daemon]\nfirst_poll = \"alert\"\n[[feed]]\nname = \"daily\"\nurl = \"{}\"\nfull_text = false\n",
            site.url("/rss.xml")
        ),
        "[[topic]]\nname = \"mothers\"\nquery = '\"mothers and wives\"'\n",
    );
    let config = config.to_str().unwrap().to_string();
    let run = move |lines: usize, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["-c", config.as_str()]);
        with_reader_gone_after(lines, &all)
    };
    // `once` with its reader gone before the first alert is printed: the round still
    // completes, its alerts are recorded and the status is the round's.
    let once = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(0, &["once"])
    })
    .await
    .unwrap();
    assert_quiet_end(&once);
    assert_eq!(once.status.code(), Some(0), "{}", stderr(&once));
    let listed = tokio::task::spawn_blocking(move || {
        let all = run(0, &["alerts", "list"]);
        let one = run(1, &["alerts", "list", "--format", "json"]);
        (all, one)
    })
    .await
    .unwrap();
    assert_quiet_end(&listed.0);
    assert_quiet_end(&listed.1);
    let output = feedwatch(&[
        "alerts",
        "list",
        "--format",
        "json",
        "-c",
        dir.path().join("feedwatch.toml").to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 30);
}

#[test]
fn a_closed_stderr_is_no_panic_either() {
    let dir = tempfile::tempdir().unwrap();
    let feed = big_feed(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .args([
            "feeds",
            "parse",
            feed.to_str().unwrap(),
            "-c",
            "/nonexistent/feedwatch.toml",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    // 101 would be a panic.
    assert!(matches!(status.code(), Some(0 | 141)), "{status:?}");
}
