use std::fs;

use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, text).unwrap();
    path
}

fn env(name: &str) -> Option<String> {
    match name {
        "HOOK_URL" => Some("http://127.0.0.1:9/hook".into()),
        "SECRET" => Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        _ => None,
    }
}

fn load_str(main: &str) -> Result<Config, ConfigErrors> {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "feedwatch.toml", main);
    load_with_env(&path, &env)
}

fn only_error(result: Result<Config, ConfigErrors>) -> ConfigError {
    let errors = result.expect_err("config should be rejected").0;
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap()
}

#[test]
fn shipped_config_is_valid() {
    let config = load_with_env(Path::new("config/feedwatch.toml"), &|_| None).unwrap();
    assert!(config.feeds.len() >= 12);
    assert!(config.topics.iter().any(|t| t.name == "soldiers-mothers"));
    assert!(
        config
            .topics
            .iter()
            .any(|t| t.name == "mobilization-protests")
    );
    assert_eq!(
        config.daemon.store,
        StoreLocation::Sqlite(PathBuf::from("config/feedwatch.db"))
    );
}

#[test]
fn a_typo_in_a_key_is_located() {
    let error = only_error(load_str("[daemon]\ndefault_intervall = \"5m\"\n"));
    let location = error.location.clone().unwrap();
    assert_eq!((location.line, location.column), (2, 1));
    assert!(
        error.message.contains("unknown field `default_intervall`"),
        "{}",
        error.message
    );
    assert!(error.to_string().contains("^^^^"), "{error}");
}

#[test]
fn an_unbalanced_quote_in_a_query_is_located_inside_the_query() {
    let error = only_error(load_str(
        "[[topic]]\nname = \"t\"\nquery = 'putin AND \"mothers and wives'\n",
    ));
    let location = error.location.clone().unwrap();
    assert_eq!(location.line, 3);
    // The column of the opening `"` inside the literal string.
    assert_eq!(location.column, "query = 'putin AND ".chars().count() + 1);
    assert!(error.message.contains("topic `t`"), "{}", error.message);
}

#[test]
fn an_unbalanced_quote_in_toml_is_located() {
    let error = only_error(load_str(
        "[[feed]]\nname = \"a\nurl = \"http://127.0.0.1/\"\n",
    ));
    assert_eq!(error.location.unwrap().line, 2);
}

#[test]
fn env_vars_are_expanded_and_missing_ones_are_errors() {
    let config =
        load_str("[[webhook]]\nname = \"w\"\nurl = \"${HOOK_URL}\"\nsecret = \"${SECRET}\"\n")
            .unwrap();
    let webhook = &config.webhooks[0];
    assert_eq!(webhook.url.expose_secret(), "http://127.0.0.1:9/hook");
    assert_eq!(webhook.signing_keys.len(), 1);

    let error = only_error(load_str(
        "[[webhook]]\nname = \"w\"\nurl = \"${NOT_SET_ANYWHERE}\"\n",
    ));
    assert!(
        error.message.contains("NOT_SET_ANYWHERE"),
        "{}",
        error.message
    );
    assert_eq!(error.location.unwrap().line, 3);
}

use secrecy::ExposeSecret;

#[test]
fn watchlists_are_read_relative_to_the_main_file_and_names_are_unique() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "feedwatch.toml",
        "[[feed]]\nname = \"a\"\nurl = \"http://127.0.0.1/a\"\ntags = [\"ru\"]\n",
    );
    write(
        dir.path(),
        "watchlists/one.toml",
        "[[topic]]\nname = \"t\"\nquery = 'putin'\nfeeds = [\"tag:ru\"]\n",
    );
    let config = load_with_env(&main, &env).unwrap();
    assert_eq!(config.topics.len(), 1);
    assert!(config.topics[0].watches("a"));
    assert!(!config.topics[0].watches("b"));

    write(
        dir.path(),
        "watchlists/two.toml",
        "[[feed]]\nname = \"a\"\nurl = \"http://127.0.0.1/again\"\n",
    );
    let errors = load_with_env(&main, &env).unwrap_err().0;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].message.contains("duplicate feed name `a`"));
    assert!(
        errors[0].message.contains("feedwatch.toml:2:8"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[0]
            .location
            .as_ref()
            .unwrap()
            .file
            .ends_with("two.toml")
    );
}

#[test]
fn watchlists_cannot_define_webhooks() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(dir.path(), "feedwatch.toml", "");
    write(
        dir.path(),
        "watchlists/w.toml",
        "[[webhook]]\nname = \"w\"\nurl = \"http://127.0.0.1/\"\n",
    );
    let errors = load_with_env(&main, &env).unwrap_err().0;
    assert!(
        errors[0].message.contains("unknown field `webhook`"),
        "{:?}",
        errors
    );
}

#[test]
fn cross_references_are_checked() {
    let errors = load_str(
        "[[topic]]\nname = \"t\"\nquery = 'x'\nnotify = [\"nowhere\"]\nfeeds = [\"tag:none\"]\n",
    )
    .unwrap_err()
    .0;
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].message.contains("unknown webhook `nowhere`"));
    assert!(errors[1].message.contains("selects no feed"));
}

#[test]
fn every_error_is_reported_at_once() {
    let errors = load_str(
        "[daemon]\ndefault_interval = \"soon\"\nfirst_poll = \"never\"\n[[topic]]\nname = \"t\"\nquery = '(a'\n",
    )
    .unwrap_err()
    .0;
    assert_eq!(errors.len(), 3, "{errors:?}");
}

#[test]
fn durations_and_defaults() {
    let config = load_str(
        "[daemon]\ndefault_interval = \"5m\"\n[[feed]]\nname = \"a\"\nurl = \"https://127.0.0.1/a\"\n[[feed]]\nname = \"b\"\nurl = \"https://127.0.0.1/b\"\ninterval = \"90s\"\nfull_text = false\n",
    )
    .unwrap();
    assert_eq!(config.feeds[0].interval, Duration::from_secs(300));
    assert!(config.feeds[0].full_text);
    assert_eq!(config.feeds[1].interval, Duration::from_secs(90));
    assert!(!config.feeds[1].full_text);
    assert_eq!(config.daemon.first_poll, FirstPoll::MarkSeen);
}

#[test]
fn multi_line_query_errors_point_into_the_query() {
    let text = "[[topic]]\nname = \"t\"\nquery = '''\nputin OR\n'''\n";
    let error = only_error(load_str(text));
    // The dangling OR is on line 4.
    assert_eq!(error.location.unwrap().line, 4);
}

#[test]
fn webhook_formats_rates_digests_and_rotating_secrets() {
    let config = load_str(
        "[[webhook]]\nname = \"s\"\nformat = \"slack\"\nurl = \"http://127.0.0.1:9/s\"\nrate_limit = \"30/min\"\ndigest = \"15m\"\n\
         secret = [\"${SECRET}\", \"whsec_b2xk\"]\nmax_age = \"1h\"\n\
         [[webhook]]\nname = \"t\"\nformat = \"template\"\nurl = \"http://127.0.0.1:9/t\"\ntemplate = '{\"text\": {{ alert.article.title }}}'\n",
    )
    .unwrap();
    let slack = &config.webhooks[0];
    assert!(matches!(slack.format, WebhookFormat::Slack));
    assert_eq!(
        slack.rate_limit,
        Some(RateLimit {
            count: 30,
            per: Duration::from_secs(60)
        })
    );
    assert_eq!(slack.digest, Some(Duration::from_secs(900)));
    assert_eq!(slack.signing_keys.len(), 2);
    assert_eq!(slack.max_age, Duration::from_secs(3600));
    assert_eq!(slack.concurrency, 4, "the default");
    assert!(matches!(
        config.webhooks[1].format,
        WebhookFormat::Template(_)
    ));
}

#[test]
fn template_errors_are_config_errors_located_in_the_template() {
    let error = only_error(load_str(
        "[[webhook]]\nname = \"t\"\nformat = \"template\"\nurl = \"http://127.0.0.1:9/t\"\ntemplate = '{{ alert.article.titel }}'\n",
    ));
    assert!(
        error.message.contains("template error"),
        "{}",
        error.message
    );
    assert_eq!(error.location.unwrap().line, 5);

    let error = only_error(load_str(
        "[[webhook]]\nname = \"t\"\nformat = \"template\"\nurl = \"http://127.0.0.1:9/t\"\ntemplate = '{% if %}'\n",
    ));
    assert!(
        error.message.contains("template error"),
        "{}",
        error.message
    );

    let error = only_error(load_str(
        "[[webhook]]\nname = \"t\"\nformat = \"template\"\nurl = \"http://127.0.0.1:9/t\"\n",
    ));
    assert!(
        error.message.contains("needs a `template"),
        "{}",
        error.message
    );
}

#[test]
fn rate_limits_parse() {
    assert_eq!(
        "1/s".parse::<RateLimit>(),
        Ok(RateLimit {
            count: 1,
            per: Duration::from_secs(1)
        })
    );
    assert_eq!(
        "10/5m".parse::<RateLimit>().map(|r| r.per),
        Ok(Duration::from_secs(300))
    );
    assert!("0/s".parse::<RateLimit>().is_err());
    assert!("fast".parse::<RateLimit>().is_err());
}

/// Where a setting lives, so each bound can be tried in its own place.
#[derive(Clone, Copy)]
enum Table {
    Daemon,
    Feed,
    Webhook,
}

/// A config whose only setting of note is `key = value` in `table`.
fn config_with(table: Table, key: &str, value: &str) -> String {
    match table {
        Table::Daemon => format!("[daemon]\n{key} = {value}\n"),
        Table::Feed => {
            format!("[[feed]]\nname = \"f\"\nurl = \"http://127.0.0.1:1/f\"\n{key} = {value}\n")
        }
        Table::Webhook => {
            format!("[[webhook]]\nname = \"w\"\nurl = \"http://127.0.0.1:1/w\"\n{key} = {value}\n")
        }
    }
}

/// Each duration key with its bound: written at the bound, and one second beyond it.
const DURATION_BOUNDS: &[(Table, &str, &str, &str, &str)] = &[
    (
        Table::Daemon,
        "default_interval",
        "30d",
        "30d 1s",
        "at most 30d",
    ),
    (Table::Feed, "interval", "30d", "30d 1s", "at most 30d"),
    (
        Table::Daemon,
        "max_interval",
        "30d",
        "30d 1s",
        "at most 30d",
    ),
    (
        Table::Daemon,
        "health_threshold",
        "30d",
        "30d 1s",
        "at most 30d",
    ),
    (
        Table::Daemon,
        "connect_timeout",
        "1h",
        "1h 1s",
        "at most 1h",
    ),
    (Table::Daemon, "read_timeout", "1h", "1h 1s", "at most 1h"),
    (Table::Daemon, "fetch_timeout", "1h", "1h 1s", "at most 1h"),
    (Table::Daemon, "retry_initial", "1h", "1h 1s", "at most 1h"),
    (
        Table::Daemon,
        "per_host_spacing",
        "1h",
        "1h 1s",
        "at most 1h",
    ),
    (Table::Webhook, "timeout", "1h", "1h 1s", "at most 1h"),
    (
        Table::Daemon,
        "analysis_budget",
        "10m",
        "10m 1s",
        "at most 10m",
    ),
    (
        Table::Daemon,
        "shutdown_timeout",
        "10m",
        "10m 1s",
        "at most 10m",
    ),
    (
        Table::Daemon,
        "retention",
        "3650d",
        "3650d 1s",
        "at most 3650d",
    ),
    (Table::Daemon, "article_retry", "1h", "1h 1s", "at most 1h"),
    (Table::Webhook, "digest", "7d", "7d 1s", "at most 7d"),
    (
        Table::Webhook,
        "max_age",
        "3650d",
        "3650d 1s",
        "at most 3650d",
    ),
];

/// Each size or count key with its bound.
const COUNT_BOUNDS: &[(Table, &str, u64, &str)] = &[
    (Table::Daemon, "article_attempts", 10, "at most 10"),
    (
        Table::Daemon,
        "max_concurrent_fetches",
        4096,
        "at most 4096",
    ),
    (Table::Daemon, "per_host_concurrency", 256, "at most 256"),
    (
        Table::Daemon,
        "max_body_bytes",
        1 << 30,
        "at most 1073741824 (1 GiB)",
    ),
    (
        Table::Daemon,
        "max_items_per_feed",
        100_000,
        "at most 100000",
    ),
    (
        Table::Daemon,
        "max_article_chars",
        10_000_000,
        "at most 10000000",
    ),
    (
        Table::Daemon,
        "max_concurrent_article_fetches",
        4096,
        "at most 4096",
    ),
    (Table::Webhook, "concurrency", 256, "at most 256"),
];

#[test]
fn every_duration_is_accepted_up_to_its_bound() {
    for &(table, key, at_bound, _, _) in DURATION_BOUNDS {
        let config = load_str(&config_with(table, key, &format!("\"{at_bound}\"")));
        let config = config.unwrap_or_else(|e| panic!("{key} = {at_bound}: {e}"));
        let expected = humantime::parse_duration(at_bound).unwrap();
        let got = match key {
            "default_interval" => config.daemon.default_interval,
            "interval" => config.feeds[0].interval,
            "max_interval" => config.daemon.max_interval,
            "health_threshold" => config.daemon.health_threshold,
            "connect_timeout" => config.daemon.connect_timeout,
            "read_timeout" => config.daemon.read_timeout,
            "fetch_timeout" => config.daemon.fetch_timeout,
            "retry_initial" => config.daemon.retry_initial,
            "per_host_spacing" => config.daemon.per_host_spacing,
            "timeout" => config.webhooks[0].timeout,
            "analysis_budget" => config.daemon.analysis_budget,
            "shutdown_timeout" => config.daemon.shutdown_timeout,
            "retention" => config.daemon.retention,
            "article_retry" => config.daemon.article_retry,
            "digest" => config.webhooks[0].digest.unwrap(),
            "max_age" => config.webhooks[0].max_age,
            other => panic!("no check for {other}"),
        };
        assert_eq!(got, expected, "{key}");
    }
}

#[test]
fn a_duration_beyond_its_bound_is_a_located_error_naming_the_bound() {
    for &(table, key, _, beyond, bound) in DURATION_BOUNDS {
        for value in [beyond, "500000y"] {
            let text = config_with(table, key, &format!("\"{value}\""));
            let error = only_error(load_str(&text));
            assert!(error.message.contains(bound), "{key}: {}", error.message);
            assert!(
                error.message.contains(&format!("`{key}`")),
                "{}",
                error.message
            );
            let location = error.location.clone().unwrap();
            let line = text.lines().position(|l| l.starts_with(key)).unwrap() + 1;
            assert_eq!(
                (location.line, location.column),
                (line, key.len() + 4),
                "{key}"
            );
        }
    }
}

#[test]
fn every_size_and_count_is_accepted_up_to_its_bound_and_not_beyond() {
    for &(table, key, bound, message) in COUNT_BOUNDS {
        let text = config_with(table, key, &bound.to_string());
        let config = load_str(&text).unwrap_or_else(|e| panic!("{key} = {bound}: {e}"));
        let daemon = &config.daemon;
        let got = match key {
            "max_concurrent_fetches" => daemon.max_concurrent_fetches as u64,
            "per_host_concurrency" => daemon.per_host_concurrency as u64,
            "max_body_bytes" => daemon.max_body_bytes,
            "max_items_per_feed" => daemon.max_items_per_feed as u64,
            "max_article_chars" => daemon.max_article_chars as u64,
            "max_concurrent_article_fetches" => daemon.max_concurrent_article_fetches as u64,
            "article_attempts" => u64::from(daemon.article_attempts),
            "concurrency" => config.webhooks[0].concurrency as u64,
            other => panic!("no check for {other}"),
        };
        assert_eq!(got, bound, "{key}");
        let line = text.lines().position(|l| l.starts_with(key)).unwrap() + 1;

        for beyond in [bound + 1, i64::MAX as u64] {
            let error = only_error(load_str(&config_with(table, key, &beyond.to_string())));
            assert!(error.message.contains(message), "{key}: {}", error.message);
            let location = error.location.unwrap();
            assert_eq!(
                (location.line, location.column),
                (line, key.len() + 4),
                "{key}"
            );
        }
        let error = only_error(load_str(&config_with(table, key, "0")));
        assert!(
            error.message.contains("positive"),
            "{key}: {}",
            error.message
        );
    }
}

#[test]
fn rate_limits_are_bounded() {
    assert!("1000000/s".parse::<RateLimit>().is_ok());
    assert!("1/7d".parse::<RateLimit>().is_ok());
    let err = "1000001/s".parse::<RateLimit>().unwrap_err();
    assert!(err.contains("at most 1000000"), "{err}");
    let err = "1/7d 1s".parse::<RateLimit>().unwrap_err();
    assert!(err.contains("at most 7d"), "{err}");
    let err = "1/500000y".parse::<RateLimit>().unwrap_err();
    assert!(err.contains("at most 7d"), "{err}");
    let error = only_error(load_str(&config_with(
        Table::Webhook,
        "rate_limit",
        "\"1/500000y\"",
    )));
    assert_eq!(error.location.unwrap().line, 4);
}

#[test]
fn the_shipped_config_documents_every_bound() {
    let shipped = fs::read_to_string("config/feedwatch.toml").unwrap();
    for &(_, key, at_bound, _, _) in DURATION_BOUNDS {
        let documented = shipped
            .lines()
            .any(|l| l.contains(key) && l.contains(&format!("at most {at_bound}")));
        assert!(
            documented,
            "config/feedwatch.toml does not give the bound of `{key}`"
        );
    }
    for &(_, key, bound, _) in COUNT_BOUNDS {
        let human = super::human_size(bound);
        let documented = shipped.lines().any(|l| {
            l.contains(key)
                && (l.contains(&format!("at most {bound}"))
                    || l.contains(&format!("at most {human}")))
        });
        assert!(
            documented,
            "config/feedwatch.toml does not give the bound of `{key}`"
        );
    }
}

#[test]
fn public_url_is_optional_and_must_be_a_plain_http_address() {
    let config = load_str("[daemon]\n").unwrap();
    assert_eq!(config.daemon.public_url, None);
    let config = load_str("[daemon]\npublic_url = \"https://watch.example.org/fw/\"\n").unwrap();
    assert_eq!(
        config.daemon.public_url.unwrap().as_str(),
        "https://watch.example.org/fw/"
    );
    for (bad, why) in [
        ("ftp://watch.example.org", "http:// or https://"),
        ("watch.example.org", "relative URL"),
        ("https://watch.example.org/?a=1", "query or fragment"),
        ("https://user:pw@watch.example.org", "credentials"),
    ] {
        let error = only_error(load_str(&format!("[daemon]\npublic_url = \"{bad}\"\n")));
        assert!(error.message.contains("public_url"), "{}", error.message);
        assert!(error.message.contains(why), "{bad}: {}", error.message);
        let location = error.location.unwrap();
        assert_eq!((location.line, location.column), (2, 14), "{bad}");
    }
    let error = only_error(load_str(
        "[daemon]\nlisten = \"off\"\npublic_url = \"https://watch.example.org\"\n",
    ));
    assert!(error.message.contains("set `listen`"), "{}", error.message);
}

#[test]
fn a_postgres_store_is_read_and_its_password_never_shown() {
    let config = load_str(
        "[daemon]\nstore = \"postgres://feedwatch:s3cret@db.internal:5432/feedwatch\"\nwatchlists = []\n",
    )
    .unwrap();
    let StoreLocation::Postgres(postgres) = &config.daemon.store else {
        panic!("{:?}", config.daemon.store);
    };
    assert_eq!(
        postgres.url(),
        "postgres://feedwatch:s3cret@db.internal:5432/feedwatch"
    );
    let shown = config.daemon.store.shown();
    assert!(
        !shown.contains("s3cret") && shown.contains("***"),
        "{shown}"
    );
    assert!(!format!("{:?}", config.daemon.store).contains("s3cret"));

    let error = only_error(load_str(
        "[daemon]\nstore = \"postgres://x/db?sslmode=sometimes\"\nwatchlists = []\n",
    ));
    assert!(
        error.message.contains("not a PostgreSQL URL"),
        "{}",
        error.message
    );
    let error = only_error(load_str(
        "[daemon]\nstore = \"mysql://x/db\"\nwatchlists = []\n",
    ));
    assert!(
        error.message.contains("unsupported store `mysql`"),
        "{}",
        error.message
    );
}
