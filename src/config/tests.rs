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
