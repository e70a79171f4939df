//! Matching cost per article as the number of topics grows, and compile time.
//!
//! Topics and the article are generated from a deterministic PRNG over a
//! vocabulary of a few thousand English and Russian word forms (real roots
//! with real inflections) drawn with Zipf-like frequencies, so that common
//! words are common in both the article and the topics and a few percent of
//! topics match.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use feedwatch::topics::{AnalyzedArticle, ArticleText, Query, TopicSet, parse};

const EN_ROOTS: &str = "protest rally march strike vote elect campaign govern minist parliament \
    court judge law sanction troop soldier army attack defend border missile drone tank \
    ship port bank market price oil gas export import tax budget debt fund school student \
    teacher hospital doctor patient vaccine report journal editor publish broadcast channel \
    network signal power energy plant factory worker union wage contract deal summit talk \
    negotiat agree treat alli partner neighbour region district city town village capital \
    mayor governor president premier senat deput candidat party opposit activist detain \
    arrest prison sentenc charg investigat prosecut police protest mobiliz conscript \
    recruit veteran refuge migrant citizen resident famili mother father child wife \
    husband brother sister friend church mosque priest bishop festival concert museum \
    theatr film actor singer player team coach match season leagu champion medal record \
    storm flood fire earthquak drought harvest farm crop wheat grain water forest river \
    mountain island coast airport flight train railway road bridg tunnel truck car \
    engin comput phone softwar hack leak spy agent servic embassi diplomat envoy decre \
    order ban block censor protect support oppos condemn warn threaten promis plan \
    launch build destroy repair rescu evacuat shelter suppli aid donat charit volunteer";
const EN_ENDINGS: &[&str] = &["", "s", "ed", "ing", "er", "ion"];
const EN_PREFIXES: &[&str] = &["", "re", "pre", "anti", "co", "counter", "over", "under"];
const RU_PREFIXES: &[&str] = &["", "пере", "за", "вы", "под", "недо", "сверх", "противо"];
const RU_STEMS: &str = "мобилизаци протест митинг пикет забастовк выбор кампани власт \
    министр парламент суд судь закон санкци войск солдат арми атак оборон границ ракет \
    беспилотник танк корабл порт банк рынк цен нефт газ экспорт импорт налог бюджет долг \
    фонд школ студент учител больниц врач пациент вакцин отчет журналист редактор \
    канал сет сигнал энерги завод рабоч профсоюз зарплат контракт сделк саммит переговор \
    соглашени договор союзник партнер сосед регион район город деревн столиц мэр \
    губернатор президент премьер сенатор депутат кандидат парти оппозици активист \
    задержани арест тюрьм приговор обвинени следстви прокурор полици призыв ветеран \
    беженц мигрант гражданин житель семь матер отц ребенк жен муж брат сестр друг церкв \
    мечет священник фестивал концерт музе театр фильм актер певиц игрок команд тренер \
    матч сезон лиг чемпион медал рекорд шторм наводнени пожар землетрясени засух урожа \
    ферм пшениц зерн вод лес рек гор остров побереж аэропорт рейс поезд дорог мост \
    тоннел грузовик машин компьютер телефон хакер утечк шпион агент служб посольств \
    дипломат указ приказ запрет блокировк цензур защит поддержк оппонент угроз обещани \
    план запуск строительств ремонт спасател эвакуаци убежищ помощ волонтер";
const RU_ENDINGS: &[&str] = &["", "а", "ы", "е", "у", "ой", "ам", "ами", "ах", "ия", "ии"];
const STOP: &str = "the of and to in a is that for on was with he it as at by from his \
    и в не на что с по как к из о за от для это но";

/// xorshift64*: tiny, deterministic, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Zipf-like rank in `0..n` (s ≈ 1): inverse CDF of the continuous
    /// 1/x distribution, cheap and close enough for benchmark data.
    fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (((n as f64 + 1.0).powf(u)) - 1.0) as usize % n.max(1)
    }
}

fn vocabulary() -> Vec<String> {
    let mut rng = Rng(7);
    let mut vocab: Vec<String> = STOP.split_whitespace().map(str::to_owned).collect();
    // Stop words first: the Zipf head of any article.
    let mut forms = Vec::new();
    // Real roots with real inflections, and with derivational prefixes so
    // there are a few thousand distinct stems, not a few hundred.
    for p in EN_PREFIXES {
        for root in EN_ROOTS.split_whitespace() {
            for e in EN_ENDINGS {
                forms.push(format!("{p}{root}{e}"));
            }
        }
    }
    for p in RU_PREFIXES {
        for stem in RU_STEMS.split_whitespace() {
            for e in RU_ENDINGS {
                forms.push(format!("{p}{stem}{e}"));
            }
        }
    }
    // Shuffle so frequency ranks mix languages and roots.
    for i in (1..forms.len()).rev() {
        forms.swap(i, rng.below(i + 1));
    }
    vocab.extend(forms);
    vocab
}

fn article(vocab: &[String]) -> (String, String) {
    let mut rng = Rng(99);
    let mut words = |n: usize| {
        (0..n)
            .map(|i| {
                let w = vocab[rng.zipf(vocab.len())].as_str();
                if i % 12 == 11 {
                    format!("{w}.")
                } else {
                    w.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    (words(12), words(1000))
}

/// One topic in the mix the issue asks for: words, phrases, NEAR, prefixes,
/// fields, exact forms, proximity, OR groups, negations, metadata.
fn topic(rng: &mut Rng, vocab: &[String]) -> String {
    // Topic words skip the stop words and are drawn uniformly: watchlists
    // name specific things, most of which a given article does not mention.
    let skip = STOP.split_whitespace().count();
    let shape = rng.below(20);
    let mut w = || vocab[skip + rng.below(vocab.len() - skip)].clone();
    match shape {
        0..=4 => format!("{} {}", w(), w()),
        5..=6 => format!("({} OR {} OR {}) {}", w(), w(), w(), w()),
        7..=8 => format!("\"{} {}\"", w(), w()),
        9..=10 => format!("{} NEAR/5 ({} OR {})", w(), w(), w()),
        11 => {
            let word = w();
            let prefix: String = word.chars().take(5).collect();
            format!("{prefix}* {}", w())
        }
        12 => format!("title:{} OR ({} {})", w(), w(), w()),
        13 => format!("\"{} {}\"~4 -{}", w(), w(), w()),
        14 => format!("={} {}", w(), w()),
        15 => format!("{} {} -{}", w(), w(), w()),
        16 => format!("tag:news {} {}", w(), w()),
        17 => format!("text:({} OR {}) {}", w(), w(), w()),
        18 => format!("({} {}) NEAR/10 {}", w(), w(), w()),
        _ => format!("\"{} {}\" OR ({} {})", w(), w(), w(), w()),
    }
}

fn topics(n: usize, vocab: &[String]) -> Vec<(String, Query)> {
    let mut rng = Rng(12345);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let src = topic(&mut rng, vocab);
        if let Ok(q) = parse(&src) {
            out.push((format!("t{}", out.len()), q));
        }
    }
    out
}

/// Nanoseconds this thread has spent on a CPU (Linux schedstat). The build
/// machine is shared, so wall-clock medians swing with other jobs; CPU time
/// per iteration is the steadier number and is printed next to criterion's.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Mean CPU time of `f` over enough runs to take about `budget_ns` of CPU.
fn cpu_ns_per_run<R>(budget_ns: u64, mut f: impl FnMut() -> R) -> Option<f64> {
    let start = thread_cpu_ns()?;
    let mut runs = 0u64;
    loop {
        black_box(f());
        runs += 1;
        let spent = thread_cpu_ns()? - start;
        if spent >= budget_ns && runs >= 3 {
            return Some(spent as f64 / runs as f64);
        }
    }
}

fn bench(c: &mut Criterion) {
    let vocab = vocabulary();
    let (title, text) = article(&vocab);
    let tags = vec!["news".to_owned()];
    let art = ArticleText::new(&title, &text).with_tags(&tags);
    let analyzed = AnalyzedArticle::new(&art);
    let mut stems: Vec<&str> = analyzed
        .body_tokens()
        .iter()
        .map(|t| t.stem.as_str())
        .collect();
    stems.sort_unstable();
    stems.dedup();
    eprintln!(
        "article: {} body words, {} distinct stems; vocabulary {} forms",
        analyzed.body_tokens().len(),
        stems.len(),
        vocab.len()
    );

    let mut group = c.benchmark_group("topics");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    group.bench_function("analyze_article_1000_words", |b| {
        b.iter(|| AnalyzedArticle::new(black_box(&art)))
    });

    let sources: Vec<String> = {
        let mut rng = Rng(12345);
        (0..10_000).map(|_| topic(&mut rng, &vocab)).collect()
    };
    let compile = || {
        let parsed: Vec<(String, Query)> = sources
            .iter()
            .filter_map(|s| parse(s).ok().map(|q| (String::new(), q)))
            .collect();
        TopicSet::new(parsed)
    };
    eprintln!(
        "parse+compile 10000 topics: cpu time {:.1} ms",
        cpu_ns_per_run(2_000_000_000, compile).unwrap_or(f64::NAN) / 1e6
    );
    group.bench_function("parse_and_compile_10000", |b| {
        b.iter(|| {
            let parsed: Vec<(String, Query)> = sources
                .iter()
                .filter_map(|s| parse(s).ok().map(|q| (String::new(), q)))
                .collect();
            TopicSet::new(parsed)
        })
    });

    for n in [100, 1_000, 10_000, 100_000] {
        let set = TopicSet::new(topics(n, &vocab));
        // Count on a copy: snippet pieces are rendered lazily per article,
        // and each measured run must pay for that like a fresh article does.
        let matched = set.matches(&analyzed.clone()).len();
        let cpu = cpu_ns_per_run(1_000_000_000, || set.matches(&analyzed.clone()));
        let clone = cpu_ns_per_run(300_000_000, || analyzed.clone());
        eprintln!(
            "N={n}: cpu time per article {:.0} µs (fresh copy each time, copying excluded)",
            (cpu.unwrap_or(f64::NAN) - clone.unwrap_or(f64::NAN)) / 1000.0
        );
        eprintln!(
            "N={n}: {matched} topics match ({:.1}%), {} candidates, {} always run",
            100.0 * matched as f64 / n as f64,
            set.candidate_count(&analyzed),
            set.always_run()
        );
        group.bench_with_input(BenchmarkId::new("match_article", n), &set, |b, set| {
            b.iter_batched_ref(
                || analyzed.clone(),
                |fresh| set.matches(black_box(fresh)),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
