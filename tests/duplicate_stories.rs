//! One story published by three outlets — each with its own page template, GUIDs and URLs, a
//! changed headline, an agency credit, a paragraph more or less — alerts a deduplicating topic
//! once, and that alert lists the two other URLs in `duplicates`; `alerts show` lists the copies.
//! Two different stories of one outlet are two alerts, and a topic with `dedupe = false` alerts on
//! every copy.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::{Receiver, TestStore};

const STORY: [&str; 6] = [
    "The mothers and wives of mobilised soldiers gathered outside the defence ministry in Moscow on Monday, demanding that their sons and husbands be brought home after more than a year at the front.",
    "Holding handwritten signs and photographs of their relatives, about forty women stood in the cold for several hours while police officers watched from a distance and took down the names of some of them.",
    "Organisers said they had written to the ministry, to regional governors and to the presidential administration since the spring, and had received only form letters promising that rotation would come in time.",
    "One woman, who gave only her first name, Olga, said her husband had been given two weeks of leave in fourteen months and that his unit had lost half of its men in the fighting near Avdiivka last winter.",
    "The ministry did not respond to a request for comment. State television did not mention the gathering, and a similar protest planned in St Petersburg was called off after organisers were summoned by police.",
    "Human rights groups say the authorities have tolerated small protests by soldiers' relatives so far, wary of appearing to punish the families of men fighting in Ukraine, but have pressed organisers to keep them quiet.",
];

const OTHER_STORY: [&str; 4] = [
    "A court in Yekaterinburg fined three mothers and wives of reservists for holding an unauthorised picket near the regional military enlistment office, their lawyer said on Tuesday.",
    "The women had asked the regional governor to publish the rules for demobilisation and to say how many men from the region had been called up since the autumn of last year.",
    "Their lawyer said they would appeal, arguing that a picket by one person at a time needs no permission and that the police had arrested them before the second woman even arrived.",
    "The enlistment office said in a statement that it had answered every letter it received and that questions about service terms were a matter for the defence ministry in Moscow.",
];

/// An outlet: its feed lists its stories, its pages wrap them in its own furniture.
#[derive(Clone)]
struct Outlet {
    name: &'static str,
    /// (slug, headline, paragraphs)
    stories: Arc<Vec<(String, String, Vec<String>)>>,
}

async fn feed(State(outlet): State<Outlet>, UrlPath(_): UrlPath<String>) -> Response {
    let items: String = outlet
        .stories
        .iter()
        .map(|(slug, title, _)| {
            format!(
                "<item><title>{title}</title><link>{{base}}/story/{slug}</link><guid>{}-{slug}</guid><description>Read the full report.</description></item>",
                outlet.name
            )
        })
        .collect();
    (
        [(header::CONTENT_TYPE, "application/rss+xml")],
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{}</title>{items}</channel></rss>",
            outlet.name
        ),
    )
        .into_response()
}

async fn page(State(outlet): State<Outlet>, UrlPath(slug): UrlPath<String>) -> Response {
    let Some((_, title, paragraphs)) = outlet.stories.iter().find(|(s, _, _)| *s == slug) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    let name = outlet.name;
    let furniture: String = (1..=6)
        .map(|i| {
            format!("<li><a href=\"/s/{i}\">{name} section {i}: the latest headlines</a></li>")
        })
        .collect();
    let html = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} — {name}</title></head>
<body><header><a href="/">{name}</a><nav><ul>{furniture}</ul></nav></header>
<div class="{name}-layout"><main><article><h1>{title}</h1><p class="byline">By the {name} staff</p>
{body}</article></main>
<aside><h2>More from {name}</h2><ul>{furniture}</ul></aside></div>
<footer><p>© {name} media group. All rights reserved. Subscribe to the {name} newsletter.</p></footer>
</body></html>"#
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// Serves the outlet on 127.0.0.1 and returns its base URL.
async fn serve(outlet: Outlet) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // The feed's links need the base, which is known only now.
    let stories = outlet
        .stories
        .iter()
        .map(|(slug, title, paragraphs)| (slug.clone(), title.clone(), paragraphs.clone()))
        .collect();
    let outlet = Outlet {
        name: outlet.name,
        stories: Arc::new(stories),
    };
    let base_for_feed = base.clone();
    let app = Router::new()
        .route(
            "/feed/{name}",
            get(move |state, path| {
                let base = base_for_feed.clone();
                async move {
                    let response = feed(state, path).await;
                    let (parts, body) = response.into_parts();
                    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
                    let text = String::from_utf8_lossy(&bytes).replace("{base}", &base);
                    Response::from_parts(parts, axum::body::Body::from(text))
                }
            }),
        )
        .route("/story/{*slug}", get(page))
        .with_state(outlet);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn story(slug: &str, title: &str, paragraphs: Vec<String>) -> (String, String, Vec<String>) {
    (slug.into(), title.into(), paragraphs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_story_from_three_outlets_alerts_once_per_topic() {
    let original: Vec<String> = STORY.iter().map(|p| p.to_string()).collect();
    // An agency rewrite: credit added, the last paragraph dropped.
    let mut agency = original.clone();
    agency[0] = format!("MOSCOW (Reuters) - {}", agency[0]);
    agency.pop();
    // A third outlet adds a paragraph of its own.
    let mut extended = original.clone();
    extended.insert(
        3,
        "Several of the women said they had travelled from other regions, some of them overnight, and planned to return next week if they received no answer.".into(),
    );
    let daily = serve(Outlet {
        name: "daily",
        stories: Arc::new(vec![
            story("vigil", "Soldiers' wives protest in Moscow", original),
            story(
                "fined",
                "Court fines soldiers' mothers over picket",
                OTHER_STORY.iter().map(|p| p.to_string()).collect(),
            ),
        ]),
    })
    .await;
    let wire = serve(Outlet {
        name: "wire",
        stories: Arc::new(vec![story(
            "russia-protest-1",
            "Russian women demand return of mobilised men",
            agency,
        )]),
    })
    .await;
    let weekly = serve(Outlet {
        name: "weekly",
        stories: Arc::new(vec![story(
            "2026/mothers",
            "'Bring them home': relatives rally at ministry",
            extended,
        )]),
    })
    .await;

    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let config = format!(
        r#"
[daemon]
store = {store}
per_host_spacing = "0s"
allow_private = ["127.0.0.1/32"]
watchlists = []
first_poll = "alert"

[[webhook]]
name = "hook"
url = "{hook}"

[[topic]]
name = "relatives"
query = '"mothers and wives"'
notify = ["hook"]

[[topic]]
name = "every-copy"
query = '"mothers and wives"'
notify = ["hook"]
dedupe = false

[[feed]]
name = "daily"
url = "{daily}/feed/daily"

[[feed]]
name = "wire"
url = "{wire}/feed/wire"

[[feed]]
name = "weekly"
url = "{weekly}/feed/weekly"
"#,
        hook = receiver.url(),
        store = test_store.config_value(),
    );
    let config_path = dir.path().join("feedwatch.toml");
    std::fs::write(&config_path, config).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .args(["once", "--deliver", "-c"])
        .arg(&config_path)
        .output()
        .unwrap();
    assert!(
        output.status.code().is_some_and(|c| c == 0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // relatives: the story once + the other story; every-copy: three copies + the other story.
    let received = receiver.wait_for(6, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let alerts: Vec<serde_json::Value> = receiver.received().iter().map(|r| r.json()).collect();
    assert_eq!(received.len(), 6, "{alerts:#?}");
    let of_topic = |topic: &str| -> Vec<&serde_json::Value> {
        alerts.iter().filter(|a| a["topic"] == topic).collect()
    };
    let copies: BTreeSet<String> = [
        format!("{daily}/story/vigil"),
        format!("{wire}/story/russia-protest-1"),
        format!("{weekly}/story/2026/mothers"),
    ]
    .into();
    let relatives = of_topic("relatives");
    assert_eq!(relatives.len(), 2, "{relatives:#?}");
    let (story_alert, other_alert): (Vec<&serde_json::Value>, Vec<&serde_json::Value>) = relatives
        .iter()
        .copied()
        .partition(|a| copies.contains(a["article"]["url"].as_str().unwrap_or_default()));
    assert_eq!(story_alert.len(), 1, "{relatives:#?}");
    let first = story_alert[0];
    let listed: BTreeSet<String> = first["duplicates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_string())
        .collect();
    let mut expected = copies.clone();
    expected.remove(first["article"]["url"].as_str().unwrap());
    assert_eq!(
        listed, expected,
        "the first alert lists the two other copies"
    );
    // The other story of the same outlet shares its furniture, not its text.
    assert_eq!(
        other_alert[0]["article"]["url"],
        format!("{daily}/story/fined")
    );
    assert_eq!(other_alert[0]["duplicates"], serde_json::json!([]));
    assert_eq!(of_topic("every-copy").len(), 4);

    let shown = std::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .args(["alerts", "show", first["id"].as_str().unwrap(), "-c"])
        .arg(&config_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&shown.stderr);
    for url in &expected {
        assert!(stderr.contains(url.as_str()), "{url} not in: {stderr}");
    }
}
