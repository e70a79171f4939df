//! `feedwatch feeds import|export|add|status` and progress output as people and scripts meet
//! them: OPML lists from real readers in and out again, feed discovery against sites served
//! on 127.0.0.1 by the test, the status table on a terminal (a pseudo-terminal here) against
//! the line format in a pipe, and progress bars that reach a terminal and nothing else.

use std::io::Read as _;
use std::os::fd::{FromRawFd as _, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

fn command(config: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_feedwatch"));
    command
        .args(args)
        .arg("-c")
        .arg(config)
        .env_remove("FEEDWATCH_CONFIG")
        .env("FEEDWATCH_LOG", "warn")
        .stdin(Stdio::null());
    command
}

fn feedwatch(config: &Path, args: &[&str]) -> Output {
    command(config, args).output().expect("feedwatch runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/opml")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// A config folder: `feedwatch.toml` and, when given, `watchlists/w.toml`.
fn config_dir(main: &str, watchlist: Option<&str>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    if let Some(watchlist) = watchlist {
        std::fs::create_dir_all(dir.path().join("watchlists")).unwrap();
        std::fs::write(dir.path().join("watchlists/w.toml"), watchlist).unwrap();
    }
    let path = dir.path().join("feedwatch.toml");
    std::fs::write(&path, main).unwrap();
    (dir, path)
}

/// A feed as (url, name or title, tags or folders).
type Listed = (String, String, Vec<String>);

/// (url, name, tags) of every feed of the config, sorted.
fn configured(config: &Path) -> Vec<Listed> {
    let config = feedwatch::config::load(config).unwrap_or_else(|e| panic!("{e}"));
    let mut feeds: Vec<_> = config
        .feeds
        .iter()
        .map(|f| (f.url.to_string(), f.name.clone(), f.tags.clone()))
        .collect();
    feeds.sort();
    feeds
}

/// (url, title, categories) of every feed of an OPML document, sorted.
fn listed(opml: &str) -> Vec<Listed> {
    let list = feedwatch::feeds::opml::parse(opml.as_bytes()).unwrap();
    let mut feeds: Vec<_> = list
        .feeds
        .into_iter()
        .map(|f| (f.url, f.title.unwrap_or_default(), f.categories))
        .collect();
    feeds.sort();
    feeds
}

fn feed(url: &str, name: &str, tags: &[&str]) -> Listed {
    (
        url.to_string(),
        name.to_string(),
        tags.iter().map(|t| t.to_string()).collect(),
    )
}

const MAIN: &str = "# The round trip's config: every byte of this file must survive.\n\
[daemon]\n\
store = \"sqlite://state/feedwatch.db\"   # kept as written\n\
\n\
[[feed]]\n\
name  =  \"ars-technica\"     # the name an import must not take\n\
url = 'https://other-ars.example/rss'\n\
tags = [ \"old\" ]\n";

const WATCHLIST: &str = "# Topics.\t(tabs and odd spacing stay)\n\
[[topic]]\n\
name = \"mothers\"\n\
query = '\"mothers and wives\"'   # a comment after a value\n\
\n\
# the last line has no line break";

#[test]
fn opml_round_trip_keeps_feeds_tags_and_every_other_byte() {
    let (dir, config) = config_dir(MAIN, Some(WATCHLIST));
    let watchlist = dir.path().join("watchlists/w.toml");
    for file in ["feedly.opml", "inoreader-nested.opml"] {
        let output = feedwatch(&config, &["feeds", "import", &fixture(file)]);
        assert!(output.status.success(), "{}", text(&output.stderr));
    }
    // The new feeds went to the first watchlist, after its old text, which is unchanged.
    assert_eq!(std::fs::read_to_string(&config).unwrap(), MAIN);
    let written = std::fs::read_to_string(&watchlist).unwrap();
    assert!(written.starts_with(&format!("{WATCHLIST}\n")), "{written}");
    let check = feedwatch(&config, &["check"]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    let expected = vec![
        feed(
            "http://oldblog.example/index.rss",
            "old-blog",
            &["news", "europe"],
        ),
        feed("https://ars.example/feed/", "ars-technica-2", &["tech"]),
        feed(
            "https://cafebabel.example/feed?lang=en&format=rss",
            "cafe-babel",
            &["news", "europe"],
        ),
        feed("https://digest.example/atom.xml", "daily-digest", &["news"]),
        feed(
            "https://lemonde.example/rss/une.xml",
            "le-monde-a-la-une",
            &[],
        ),
        feed("https://meduza.example/rss/all", "медуза", &["новости"]),
        feed(
            "https://meduza.example/rss/en/all",
            "meduza-friends-english",
            &["russia-ukraine"],
        ),
        feed(
            "https://moscowtimes.example/rss/news",
            "the-moscow-times",
            &["russia-ukraine", "tech"],
        ),
        feed("https://other-ars.example/rss", "ars-technica", &["old"]),
    ];
    assert_eq!(configured(&config), expected);

    // Export lists exactly the configured feeds: URL, name as title, tags as folders.
    let exported = feedwatch(&config, &["feeds", "export"]);
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let exported = text(&exported.stdout);
    assert_eq!(listed(&exported), expected);

    // Importing the export elsewhere and exporting again gives the same document.
    let (other_dir, other) = config_dir("[daemon]\n", Some(""));
    let opml_file = other_dir.path().join("export.opml");
    std::fs::write(&opml_file, &exported).unwrap();
    let output = feedwatch(&other, &["feeds", "import", opml_file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(configured(&other), expected);
    let out_file = other_dir.path().join("again.opml");
    let again = feedwatch(
        &other,
        &["feeds", "export", "--out", out_file.to_str().unwrap()],
    );
    assert!(again.status.success(), "{}", text(&again.stderr));
    let without_date = |doc: &str| {
        doc.lines()
            .filter(|l| !l.contains("<dateCreated>"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        without_date(&std::fs::read_to_string(&out_file).unwrap()),
        without_date(&exported)
    );

    // And into the config it came from, it adds nothing and writes nothing.
    let output = feedwatch(&config, &["feeds", "import", opml_file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("nothing to add"), "{stdout}");
    assert_eq!(
        stdout.matches("already configured as").count(),
        9,
        "{stdout}"
    );
    assert_eq!(std::fs::read_to_string(&watchlist).unwrap(), written);
}

#[test]
fn sloppy_exports_of_real_readers_import() {
    let cases: [(&str, Vec<Listed>); 3] = [
        (
            "miniflux.opml",
            vec![
                feed(
                    "https://hn2.example/rss",
                    "hacker-news-2",
                    &["all", "tech", "startups"],
                ),
                feed("https://json.example/feed.json", "json-feed", &["all"]),
                feed("https://news.hn.example/rss", "hacker-news", &["all"]),
                feed(
                    "https://untitled.example/feed",
                    "untitled-example",
                    &["all"],
                ),
            ],
        ),
        (
            "netnewswire.opml",
            vec![
                feed("https://df.example/feeds/main", "daring-fireball", &[]),
                feed("https://swift.example/atom.xml", "swift-org", &["swift"]),
            ],
        ),
        (
            "inoreader-nested.opml",
            vec![
                feed(
                    "http://oldblog.example/index.rss",
                    "old-blog",
                    &["news", "europe"],
                ),
                feed(
                    "https://cafebabel.example/feed?lang=en&format=rss",
                    "cafe-babel",
                    &["news", "europe"],
                ),
                feed("https://digest.example/atom.xml", "daily-digest", &["news"]),
                feed("https://meduza.example/rss/all", "медуза", &["новости"]),
            ],
        ),
    ];
    for (file, expected) in cases {
        // No watchlist: the feeds go to the main file.
        let main = "[daemon]\nwatchlists = []\n";
        let (_dir, config) = config_dir(main, None);
        let dry = feedwatch(&config, &["feeds", "import", &fixture(file), "--dry-run"]);
        assert!(dry.status.success(), "{file}: {}", text(&dry.stderr));
        assert_eq!(std::fs::read_to_string(&config).unwrap(), main, "{file}");
        assert_eq!(
            text(&dry.stdout).matches("would add ").count(),
            expected.len(),
            "{file}: {}",
            text(&dry.stdout)
        );
        let output = feedwatch(&config, &["feeds", "import", &fixture(file)]);
        assert!(output.status.success(), "{file}: {}", text(&output.stderr));
        assert_eq!(configured(&config), expected, "{file}");
        let stdout = text(&output.stdout);
        match file {
            "miniflux.opml" => assert!(
                stdout.contains("(1 listed more than once, their folders merged)"),
                "{stdout}"
            ),
            "inoreader-nested.opml" => {
                assert!(
                    stdout.contains("skipped   \"Broken entry\": no xmlUrl"),
                    "{stdout}"
                );
                assert!(
                    stdout.contains(
                        "skipped   \"Relative entry\" /rss.xml: not an absolute http(s) URL"
                    ),
                    "{stdout}"
                );
            }
            _ => {}
        }
    }
}

#[test]
fn import_refuses_what_is_not_opml_and_files_the_config_would_not_read() {
    let (dir, config) = config_dir("[daemon]\n", Some(""));
    let rss = dir.path().join("feed.xml");
    std::fs::write(
        &rss,
        "<rss version=\"2.0\"><channel><title>x</title></channel></rss>",
    )
    .unwrap();
    let output = feedwatch(&config, &["feeds", "import", rss.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("not an OPML file: it is a feed"),
        "{}",
        text(&output.stderr)
    );

    let elsewhere = dir.path().join("elsewhere.toml");
    let output = feedwatch(
        &config,
        &[
            "feeds",
            "import",
            &fixture("netnewswire.opml"),
            "--into",
            elsewhere.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("would not be read"),
        "{}",
        text(&output.stderr)
    );
    assert!(!elsewhere.exists());

    // A new file that the watchlists pattern matches is created.
    let new = dir.path().join("watchlists/imported.toml");
    let output = feedwatch(
        &config,
        &[
            "feeds",
            "import",
            &fixture("netnewswire.opml"),
            "--into",
            new.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(std::fs::read_to_string(&new).unwrap().starts_with(
        "# Daring Fireball (https://df.example/)\n[[feed]]\nname = \"daring-fireball\"\n"
    ));
    assert_eq!(configured(&config).len(), 2);
}

/// A web site on 127.0.0.1 with fixed pages; everything else is 404. Records each request.
struct Site {
    addr: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone)]
struct SiteState {
    pages: Arc<Vec<(String, &'static str, String)>>,
    requests: Arc<Mutex<Vec<String>>>,
    delay: Duration,
}

async fn serve(State(state): State<SiteState>, uri: Uri) -> Response {
    let wanted = uri
        .path_and_query()
        .map_or(uri.path().to_string(), |p| p.to_string());
    state.requests.lock().unwrap().push(wanted.clone());
    tokio::time::sleep(state.delay).await;
    match state.pages.iter().find(|(path, _, _)| *path == wanted) {
        Some((_, content_type, body)) => {
            ([(header::CONTENT_TYPE, *content_type)], body.clone()).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

impl Site {
    async fn start(pages: Vec<(&str, &'static str, String)>, delay: Duration) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let state = SiteState {
            pages: Arc::new(
                pages
                    .into_iter()
                    .map(|(path, ct, body)| (path.to_string(), ct, body))
                    .collect(),
            ),
            requests: requests.clone(),
            delay,
        };
        let app = Router::new().fallback(serve).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

const HTML: &str = "text/html; charset=utf-8";
const RSS_TYPE: &str = "application/rss+xml";

fn rss(title: &str, items: usize) -> String {
    let items: String = (0..items)
        .map(|n| format!("<item><guid>{n}</guid><title>Item {n}</title><link>http://127.0.0.1/{n}</link></item>"))
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{title}</title>{items}</channel></rss>"
    )
}

async fn run(config: &Path, args: &[&str]) -> Output {
    let config = config.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        feedwatch(&config, &args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_add_finds_feeds_on_pages_and_at_common_places() {
    let linked = Site::start(
        vec![
            (
                "/",
                HTML,
                "<html><head><title>Site A</title>\
                 <link rel=\"alternate\" type=\"application/atom+xml\" title=\"Comments Feed\" href=\"/comments/feed.atom\">\
                 <link rel=\"alternate\" type=\"application/rss+xml\" title=\"Site A\" href=\"blog/rss.xml\">\
                 </head><body><p>Hello</p></body></html>"
                    .to_string(),
            ),
            ("/blog/rss.xml", RSS_TYPE, rss("Site A Blog", 3)),
            (
                "/comments/feed.atom",
                "application/atom+xml",
                "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Site A Comments</title><id>urn:c</id>\
                 <entry><id>urn:c:1</id><title>c</title><updated>2022-11-25T10:00:00Z</updated></entry></feed>"
                    .to_string(),
            ),
        ],
        Duration::ZERO,
    )
    .await;
    let unlinked = Site::start(
        vec![
            (
                "/about",
                HTML,
                "<html><head><title>B</title></head><body>About</body></html>".to_string(),
            ),
            ("/feed.xml", RSS_TYPE, rss("Site B News", 2)),
        ],
        Duration::ZERO,
    )
    .await;
    let bare = Site::start(
        vec![(
            "/",
            HTML,
            "<html><head><title>C</title></head><body>No feed</body></html>".to_string(),
        )],
        Duration::ZERO,
    )
    .await;
    let main = "[daemon]\nwatchlists = []\n";
    let (_dir, config) = config_dir(main, None);

    // Several feeds, no terminal to ask on and no --yes: listed, nothing written, status 1.
    let output = run(&config, &["feeds", "add", &linked.url("/")]).await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(&format!(
            "  1. Site A Blog — {} (3 items)",
            linked.url("/blog/rss.xml")
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "  2. Site A Comments — {} (1 item)",
            linked.url("/comments/feed.atom")
        )),
        "{stdout}"
    );
    assert!(
        text(&output.stderr).contains("--yes"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), main);

    // On a terminal, the person is asked; the answer 2 is the comments feed.
    let config_path = config.clone();
    let page = linked.url("/");
    let (terminal, output) = tokio::task::spawn_blocking(move || {
        on_terminal(
            &config_path,
            &["feeds", "add", &page, "--dry-run"],
            OnTerminal::StdinAndStderr {
                prompt: "Add which feed? [1-2, Enter for 1, q to cancel]",
                answer: "2\n",
            },
            100,
        )
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{terminal}");
    assert!(
        text(&output.stdout).contains(&format!(
            "would add `site-a-comments` ({})",
            linked.url("/comments/feed.atom")
        )),
        "{}",
        text(&output.stdout)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), main);

    // With --yes, the first: the site's own feed, comments last.
    let output = run(
        &config,
        &[
            "feeds",
            "add",
            &linked.url("/"),
            "--yes",
            "--tags",
            "blogs, local",
        ],
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("added `site-a-blog`"),
        "{}",
        text(&output.stdout)
    );

    // No link: the common places are tried in order until one is a feed.
    let output = run(&config, &["feeds", "add", &unlinked.url("/about")]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains(&format!(
            "found Site B News — {} (2 items)",
            unlinked.url("/feed.xml")
        )),
        "{}",
        text(&output.stdout)
    );
    assert_eq!(
        unlinked.requests(),
        vec![
            "/about",
            "/feed",
            "/rss",
            "/rss.xml",
            "/atom.xml",
            "/feed.xml"
        ]
    );

    // A URL that is a feed is added as it is, after one request; again, it is known.
    let direct_site = Site::start(
        vec![("/feed.xml?edition=2", RSS_TYPE, rss("Site B News", 2))],
        Duration::ZERO,
    )
    .await;
    let direct = direct_site.url("/feed.xml?edition=2");
    let output = run(&config, &["feeds", "add", &direct, "--name", "b-second"]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(direct_site.requests().len(), 1);
    let again = run(&config, &["feeds", "add", &direct]).await;
    assert!(again.status.success());
    assert!(
        text(&again.stderr).contains("already configured as `b-second`"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        direct_site.requests().len(),
        1,
        "a known URL is not fetched"
    );

    let mut expected = vec![
        feed(
            &linked.url("/blog/rss.xml"),
            "site-a-blog",
            &["blogs", "local"],
        ),
        feed(&direct, "b-second", &[]),
        feed(&unlinked.url("/feed.xml"), "site-b-news", &[]),
    ];
    expected.sort();
    assert_eq!(configured(&config), expected);

    // No feed anywhere: a clear error, status 1, nothing written.
    let before = std::fs::read_to_string(&config).unwrap();
    let output = run(&config, &["feeds", "add", &bare.url("/")]).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("no feed found at {}", bare.url("/"))),
        "{stderr}"
    );
    assert!(stderr.contains("links to no feed"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);

    // A name the config would refuse: its error, on the real file, and nothing written.
    let output = run(
        &config,
        &[
            "feeds",
            "add",
            &linked.url("/comments/feed.atom"),
            "--name",
            "@mine",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("was not changed"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:", config.display())),
        "{stderr}"
    );
    assert!(!stderr.contains(".feedwatch-"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
}

/// Which of feedwatch's streams a test puts on a pseudo-terminal.
enum OnTerminal {
    Stdout,
    Stderr,
    /// Stdin and stderr, as a person at a terminal with stdout redirected; `answer` is typed
    /// once `prompt` has appeared.
    StdinAndStderr {
        prompt: &'static str,
        answer: &'static str,
    },
}

/// Runs feedwatch with some streams on a pseudo-terminal `columns` wide; returns what the
/// terminal received (line breaks as `\n`) and the output of the other streams.
fn on_terminal(
    config: &Path,
    args: &[&str],
    streams: OnTerminal,
    columns: u16,
) -> (String, Output) {
    let mut master = 0;
    let mut slave = 0;
    let size = libc::winsize {
        ws_row: 50,
        ws_col: columns,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors into the given ints and reads the size; the
    // name and termios pointers may be null.
    let opened = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(opened, 0, "openpty failed");
    // SAFETY: both descriptors were just opened and are owned by nothing else.
    let (master, slave) = unsafe {
        (
            std::fs::File::from_raw_fd(master),
            OwnedFd::from_raw_fd(slave),
        )
    };
    let mut cmd = command(config, args);
    let mut typed = None;
    match streams {
        OnTerminal::Stdout => {
            cmd.stdout(Stdio::from(slave)).stderr(Stdio::piped());
        }
        OnTerminal::Stderr => {
            cmd.stderr(Stdio::from(slave)).stdout(Stdio::piped());
        }
        OnTerminal::StdinAndStderr { prompt, answer } => {
            cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
                .stderr(Stdio::from(slave))
                .stdout(Stdio::piped());
            typed = Some((prompt, answer));
        }
    }
    let child = cmd.spawn().expect("feedwatch runs");
    // The child holds the only copies of the terminal's end now, so reading ends with it.
    drop(cmd);
    let mut keyboard = master.try_clone().unwrap();
    let (chunks, received) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut master = master;
        let mut buf = [0u8; 4096];
        loop {
            match master.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let _ = chunks.send(buf[..n].to_vec());
                }
                // Linux answers EIO once the other end is closed.
                Err(_) => break,
            }
        }
    });
    let mut seen = Vec::new();
    if let Some((prompt, answer)) = typed {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !text(&seen).contains(prompt) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match received.recv_timeout(left) {
                Ok(chunk) => seen.extend(chunk),
                Err(_) => panic!("no prompt `{prompt}` on the terminal: {}", text(&seen)),
            }
        }
        std::io::Write::write_all(&mut keyboard, answer.as_bytes()).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    reader.join().unwrap();
    seen.extend(received.try_iter().flatten());
    (text(&seen).replace("\r\n", "\n"), output)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_status_is_a_table_on_a_terminal_and_lines_in_a_pipe() {
    let site = Site::start(vec![("/rss.xml", RSS_TYPE, rss("Good", 1))], Duration::ZERO).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let main = format!(
        "[daemon]\nwatchlists = []\n[[feed]]\nname = \"good\"\nurl = \"{}\"\nfull_text = false\n\
         [[feed]]\nname = \"down\"\nurl = \"http://127.0.0.1:{closed}/rss.xml\"\nfull_text = false\n",
        site.url("/rss.xml")
    );
    let (_dir, config) = config_dir(&main, None);
    let once = run(&config, &["once"]).await;
    assert_eq!(once.status.code(), Some(2), "{}", text(&once.stderr));

    let piped = run(&config, &["feeds", "status"]).await;
    assert_eq!(piped.status.code(), Some(2));
    let lines: Vec<String> = text(&piped.stdout).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("{:<28} {:<12} last success 20", "good", "ok")),
        "{lines:?}"
    );
    assert!(lines[0].ends_with("failures   0"), "{lines:?}");
    assert!(
        lines[1].starts_with(&format!(
            "{:<28} {:<12} last success {:<20} failures   1  fetching the feed failed",
            "down", "failing", "never"
        )),
        "{lines:?}"
    );

    let json = run(&config, &["feeds", "status", "--format", "json"]).await;
    for line in text(&json.stdout).lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        for key in [
            "feed",
            "url",
            "status",
            "last_success",
            "last_error",
            "consecutive_failures",
            "next_poll",
        ] {
            assert!(value.get(key).is_some(), "{key} missing in {line}");
        }
    }

    let (table, output) = tokio::task::spawn_blocking(move || {
        on_terminal(&config, &["feeds", "status"], OnTerminal::Stdout, 90)
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 4, "{table}");
    for (header, column) in rows[0].split("  ").filter(|c| !c.is_empty()).zip([
        "FEED",
        "STATUS",
        "LAST SUCCESS",
        "FAILURES",
        "NEXT POLL",
        "ERROR",
    ]) {
        assert_eq!(header.trim(), column, "{table}");
    }
    assert!(rows[1].chars().all(|c| c == '─'), "{table}");
    assert!(
        rows[2].starts_with("good  ") && rows[2].contains(" s ago"),
        "{table}"
    );
    assert!(
        rows[3].starts_with("down  ")
            && rows[3].contains("never")
            && rows[3].contains("fetching the feed failed"),
        "{table}"
    );
    // The error is cut where the terminal ends, so every row stays one line.
    assert!(rows[3].ends_with('…'), "{table}");
    for row in &rows {
        assert!(
            row.chars().count() <= 90,
            "{row:?} is wider than the terminal"
        );
    }
}

/// What a progress bar leaves in a stream: its labels, carriage returns, or cursor moves.
fn has_progress(stream: &str) -> bool {
    [
        "feeds polled",
        "feeds fetched",
        "documents",
        "\r",
        "\u{1b}[",
    ]
    .iter()
    .any(|mark| stream.contains(mark))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_reaches_a_terminal_and_never_stdout_or_a_pipe() {
    let mut pages: Vec<(String, String)> = (0..8)
        .map(|n| (format!("/rss.xml?n={n}"), rss(&format!("Feed {n}"), 1)))
        .collect();
    pages.push(("/new.xml".to_string(), rss("New", 1)));
    let site = Site::start(
        pages
            .iter()
            .map(|(path, body)| (path.as_str(), RSS_TYPE, body.clone()))
            .collect(),
        // Slow enough that the bar is drawn while the round runs.
        Duration::from_millis(300),
    )
    .await;
    let feeds: String = (0..8)
        .map(|n| {
            format!(
                "[[feed]]\nname = \"f{n}\"\nurl = \"{}\"\nfull_text = false\n",
                site.url(&format!("/rss.xml?n={n}"))
            )
        })
        .collect();
    let (dir, config) = config_dir(
        &format!(
            "[daemon]\nwatchlists = []\nper_host_concurrency = 8\nper_host_spacing = \"100ms\"\n{feeds}"
        ),
        None,
    );

    // stderr on a terminal: the bar is drawn there, and stdout (a pipe) stays clean.
    let config_path = config.clone();
    let (terminal, output) = tokio::task::spawn_blocking(move || {
        on_terminal(&config_path, &["once"], OnTerminal::Stderr, 100)
    })
    .await
    .unwrap();
    assert!(output.status.success());
    assert!(terminal.contains("/8 feeds polled"), "{terminal:?}");
    assert!(
        !has_progress(&text(&output.stdout)),
        "{}",
        text(&output.stdout)
    );

    // Everything piped: no bar anywhere.
    let output = run(&config, &["once"]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        !has_progress(&text(&output.stdout)) && !has_progress(&text(&output.stderr)),
        "{}",
        text(&output.stderr)
    );

    let conll = dir.path().join("tiny.conll");
    std::fs::write(&conll, "-DOCSTART- -X- -X- O\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n\n-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n").unwrap();
    let output = run(&config, &["eval", "ner", conll.to_str().unwrap()]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("f1="));
    assert!(
        !has_progress(&text(&output.stdout)) && !has_progress(&text(&output.stderr)),
        "{}",
        text(&output.stderr)
    );

    let opml = dir.path().join("list.opml");
    std::fs::write(
        &opml,
        format!("<opml version=\"2.0\"><body><outline text=\"New\" xmlUrl=\"{}\"/><outline text=\"Gone\" xmlUrl=\"{}\"/></body></opml>", site.url("/new.xml"), site.url("/missing.xml")),
    )
    .unwrap();
    let output = run(
        &config,
        &["feeds", "import", opml.to_str().unwrap(), "--verify"],
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("added     new"), "{stdout}");
    assert!(
        stdout.contains("missing.xml: not a feed: HTTP status 404"),
        "{stdout}"
    );
    assert!(
        !has_progress(&stdout) && !has_progress(&text(&output.stderr)),
        "{}",
        text(&output.stderr)
    );
}
