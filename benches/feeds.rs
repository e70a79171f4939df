//! Criterion bench of the feed reader: a realistic 200-item RSS 2.0 feed (HTML descriptions in
//! CDATA, content:encoded, Dublin Core authors, dates), a 60,000-item feed, and the hostile
//! documents whose cost must stay linear: a 5 MB title and 100,000 entries under a stack of
//! relative `xml:base`. Feeds are generated here; the whole run takes well under a minute.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use feedwatch::feeds::parse_fetched;

fn realistic(items: usize) -> String {
    let mut doc = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel><title>Example News &#8211; World</title><link>https://news.example.com/</link>
<atom:link href="https://news.example.com/feed/" rel="self" type="application/rss+xml"/>
<description>The latest from Example News</description><language>en-US</language><ttl>15</ttl>
"#,
    );
    for i in 0..items {
        doc.push_str(&format!(
            r#"<item>
<title>Protests over mobilisation spread to {i} more cities &amp; towns</title>
<link>https://news.example.com/2024/05/{i}/protests-spread/?utm_source=rss&amp;utm_medium=rss</link>
<comments>https://news.example.com/2024/05/{i}/protests-spread/#respond</comments>
<dc:creator><![CDATA[Isabel van Brugen]]></dc:creator>
<pubDate>Fri, 25 Nov 2022 10:{:02}:00 +0000</pubDate>
<category><![CDATA[World]]></category>
<guid isPermaLink="false">https://news.example.com/?p={i}</guid>
<description><![CDATA[<p>The mothers and wives of mobilised soldiers gathered outside the regional administration on Friday, demanding that their relatives be brought home.&nbsp;<a href="https://news.example.com/2024/05/{i}/">Read more&hellip;</a></p>]]></description>
<content:encoded><![CDATA[<figure><img src="https://cdn.example.com/{i}.jpg" alt="Protesters"/><figcaption>Protesters in the city centre.</figcaption></figure>
<p>The mothers and wives of mobilised soldiers gathered outside the regional administration on Friday, demanding that their relatives be brought home.</p>
<p>&#8220;We have written to every office,&#8221; said one of the organisers. &#8220;Nobody answers.&#8221;</p>
<h2>What happens next</h2><p>The council of mothers and wives said it would return <strong>every week</strong> until the men were home.</p>
<script>window.analytics && analytics.track("article")</script>]]></content:encoded>
</item>
"#,
            i % 60
        ));
    }
    doc.push_str("</channel></rss>\n");
    doc
}

fn huge_title() -> String {
    format!(
        "<rss version=\"2.0\"><channel><title>T</title><item><guid>1</guid><title>{}</title></item></channel></rss>",
        "word ".repeat(1_000_000)
    )
}

fn base_flood() -> String {
    let mut doc = String::from(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:base=\"http://example.org/\"><title>B</title>",
    );
    for _ in 0..240 {
        doc.push_str("<x xml:base=\"aaaaaaaaaaaaaaaa/\">");
    }
    for i in 0..100_000 {
        doc.push_str(&format!(
            "<entry xml:base=\"b{i}/\"><id>{i}</id><link href=\"p.html\"/></entry>"
        ));
    }
    doc.push_str("</feed>");
    doc
}

fn bench(c: &mut Criterion) {
    let cases = [
        ("rss_200_items", realistic(200), 10),
        ("rss_60000_items", realistic(60_000), 10),
        ("hostile_5mb_title", huge_title(), 10),
        ("hostile_xml_base_flood_100000_entries", base_flood(), 10),
    ];
    let mut group = c.benchmark_group("feeds_parse");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for (name, doc, samples) in &cases {
        let bytes = doc.as_bytes();
        group.sample_size(*samples);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| {
                let feed = parse_fetched(
                    black_box(bytes),
                    None,
                    Some("https://news.example.com/feed/"),
                );
                black_box(feed.map(|f| f.items.len()).unwrap_or(0))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
