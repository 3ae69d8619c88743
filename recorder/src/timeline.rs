//! Who is who in a recording: its streams grouped into one timeline per person and kind, each
//! named as the lesson showed the person ("Ms Rivera, camera", "Ada, microphone", or a pupil's
//! privacy alias where one is set).
//!
//! Every publish is a stream of its own (a camera turned off and on, or a rejoin, starts a new
//! one), but a leader wants to see one person's camera as one track with gaps. The manifest
//! (version 2) says who published each stream and what kind it is ([`Source`]) and names each
//! person ([`Person`]); [`timelines`] groups and names from that alone, so the leader's player,
//! the leader's download and `livegate-recorder export` say the same thing. A version 1
//! manifest has no sources: each stream is its own timeline, named by its label.

use std::collections::HashMap;

use crate::spool::{Manifest, Person, SegmentInfo, Source};

/// One publish within a timeline: a stream and the span its segments cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The stream's label in the manifest (`s1`, `s2`, ...).
    pub stream: String,
    pub start_ms: i64,
    pub end_ms: i64,
}

/// One person's streams of one kind (or, in a version 1 manifest, one stream).
#[derive(Clone, PartialEq, Eq)]
pub struct Timeline {
    /// The label of its first stream: how the routes and the command line name the timeline.
    pub label: String,
    /// "Ms Rivera, camera"; "Stream s3" in a version 1 manifest.
    pub title: String,
    /// `teacher`, `pupil` or `guest`, if the manifest says.
    pub role: Option<String>,
    /// `camera`, `screen` or `microphone`, if the manifest says.
    pub kind: Option<String>,
    /// True when the name in the title is a pupil's privacy alias.
    pub alias: bool,
    /// `video`, `audio`: the same for every segment of the timeline.
    pub tracks: Vec<String>,
    /// The publishes, in time order; the time between two is a gap (camera off, away).
    pub parts: Vec<Part>,
    /// Positions in the manifest's `segments`, in time order.
    pub segments: Vec<usize>,
}

/// Titles are names: a `Timeline` prints without its title.
impl std::fmt::Debug for Timeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeline")
            .field("label", &self.label)
            .field("role", &self.role)
            .field("kind", &self.kind)
            .field("parts", &self.parts)
            .field("segments", &self.segments.len())
            .finish_non_exhaustive()
    }
}

impl Timeline {
    /// The first and last moment of its media (ms since the recording started).
    pub fn span(&self) -> (i64, i64) {
        let start = self.parts.iter().map(|p| p.start_ms).min().unwrap_or(0);
        let end = self.parts.iter().map(|p| p.end_ms).max().unwrap_or(0);
        (start, end)
    }

    /// A file name for an export of it: the title with anything a file system or a download
    /// header could trip on replaced, and `.webm`.
    pub fn file_name(&self) -> String {
        file_name(&self.title)
    }
}

/// What groups segments into one timeline.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// Version 2: one person, one kind, one set of tracks (a player cannot switch tracks
    /// within one element).
    Source(Source, Vec<String>),
    /// Version 1, or a stream without a source: the stream alone.
    Stream(String),
}

fn key_of(s: &SegmentInfo) -> Key {
    match &s.source {
        Some(source) => Key::Source(source.clone(), s.tracks.clone()),
        None => Key::Stream(s.stream.clone()),
    }
}

/// The words for a kind of stream with these tracks.
fn kind_words(kind: &str, tracks: &[String]) -> &'static str {
    let sound = tracks.iter().any(|t| t == "audio");
    match (kind, sound) {
        ("camera", false) => "camera",
        ("camera", true) => "camera and microphone",
        ("microphone", _) => "microphone",
        ("screen", false) => "screen",
        ("screen", true) => "screen and sound",
        _ => "stream",
    }
}

/// Sorts `s1`, `s2`, `s10` as numbers, anything else after them by its text.
fn label_order(label: &str) -> (u64, String) {
    let n = label.strip_prefix('s').and_then(|n| n.parse().ok()).unwrap_or(u64::MAX);
    (n, label.to_owned())
}

fn role_rank(role: Option<&str>) -> u8 {
    match role {
        Some("teacher") => 0,
        Some("pupil") => 1,
        Some("guest") => 2,
        _ => 3,
    }
}

fn kind_rank(kind: Option<&str>) -> u8 {
    match kind {
        Some("camera") => 0,
        Some("screen") => 1,
        Some("microphone") => 2,
        _ => 3,
    }
}

/// Names for people the manifest has no record of (a crash lost it): by role, numbered in the
/// order they first appear when a role has more than one ("Pupil 1", "Pupil 2"; "Teacher").
fn fallback_names(
    manifest: &Manifest,
    first_seen: &[(String, i64)],
    role_of: &HashMap<String, String>,
) -> HashMap<String, String> {
    let unnamed: Vec<&String> = first_seen
        .iter()
        .map(|(p, _)| p)
        .filter(|p| !manifest.people.iter().any(|q| &q.person == *p))
        .collect();
    let role_word = |p: &String| match role_of.get(p).map(String::as_str) {
        Some("teacher") => "Teacher",
        Some("pupil") => "Pupil",
        Some("guest") => "Visitor",
        _ => "Participant",
    };
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for p in &unnamed {
        *counts.entry(role_word(p)).or_default() += 1;
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut out = HashMap::new();
    for p in unnamed {
        let word = role_word(p);
        let n = seen.entry(word).or_default();
        *n += 1;
        let name = if counts[word] > 1 {
            format!("{word} {n}")
        } else {
            word.to_owned()
        };
        out.insert(p.clone(), name);
    }
    out
}

/// The recording's timelines: the teacher's first (camera, screen, microphone), then everyone
/// else in the order they first published; a version 1 manifest's streams in label order.
pub fn timelines(manifest: &Manifest) -> Vec<Timeline> {
    let mut groups: Vec<(Key, Vec<usize>)> = Vec::new();
    let mut at: HashMap<Key, usize> = HashMap::new();
    // A stream belongs whole to the timeline its first segment names, so no label is in two
    // timelines (and the label of each names one), whatever a manifest says.
    let mut stream_key: HashMap<&str, Key> = HashMap::new();
    for (i, s) in manifest.segments.iter().enumerate() {
        let key = stream_key.entry(s.stream.as_str()).or_insert_with(|| key_of(s)).clone();
        let g = *at.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }
    let person_of = |p: &str| manifest.people.iter().find(|q| q.person == p);
    let role_of: HashMap<String, String> = manifest
        .people
        .iter()
        .map(|p| (p.person.clone(), p.role.clone()))
        .collect();
    // When each person first appears, for the order and for numbering unnamed people.
    let mut first_seen: Vec<(String, i64)> = Vec::new();
    for s in &manifest.segments {
        if let Some(src) = &s.source {
            match first_seen.iter_mut().find(|(p, _)| *p == src.person) {
                Some((_, t)) => *t = (*t).min(s.start_ms),
                None => first_seen.push((src.person.clone(), s.start_ms)),
            }
        }
    }
    first_seen.sort_by_key(|(p, t)| (role_rank(role_of.get(p).map(String::as_str)), *t, p.clone()));
    let fallback = fallback_names(manifest, &first_seen, &role_of);
    let mut out: Vec<Timeline> = groups
        .into_iter()
        .map(|(key, mut segs)| build(manifest, key, &mut segs, person_of, &fallback))
        .collect();
    let person_rank = |t: &Timeline| -> usize {
        let person = t
            .segments
            .first()
            .and_then(|&i| manifest.segments[i].source.as_ref())
            .map(|s| &s.person);
        person
            .and_then(|p| first_seen.iter().position(|(q, _)| q == p))
            .unwrap_or(usize::MAX)
    };
    out.sort_by_cached_key(|t| {
        (
            person_rank(t),
            kind_rank(t.kind.as_deref()),
            t.span().0,
            label_order(&t.label),
        )
    });
    disambiguate(&mut out);
    out
}

fn build<'a>(
    manifest: &'a Manifest,
    key: Key,
    segs: &mut [usize],
    person_of: impl Fn(&str) -> Option<&'a Person>,
    fallback: &HashMap<String, String>,
) -> Timeline {
    let all = &manifest.segments;
    segs.sort_by_key(|&i| (all[i].start_ms, all[i].index));
    let mut parts: Vec<Part> = Vec::new();
    for &i in segs.iter() {
        let s = &all[i];
        match parts.iter_mut().find(|p| p.stream == s.stream) {
            Some(p) => {
                p.start_ms = p.start_ms.min(s.start_ms);
                p.end_ms = p.end_ms.max(s.end_ms);
            }
            None => parts.push(Part {
                stream: s.stream.clone(),
                start_ms: s.start_ms,
                end_ms: s.end_ms,
            }),
        }
    }
    parts.sort_by_key(|p| (p.start_ms, label_order(&p.stream)));
    let label = parts
        .iter()
        .map(|p| &p.stream)
        .min_by_key(|l| label_order(l))
        .cloned()
        .unwrap_or_default();
    let tracks = segs.first().map(|&i| all[i].tracks.clone()).unwrap_or_default();
    let (title, role, kind, alias) = match &key {
        Key::Source(src, _) => {
            let person = person_of(&src.person);
            let name = person
                .map(|p| p.name.clone())
                .or_else(|| fallback.get(&src.person).cloned());
            let name = name.unwrap_or_else(|| "Participant".to_owned());
            let title = format!("{name}, {}", kind_words(&src.kind, &tracks));
            (
                title,
                person.map(|p| p.role.clone()),
                Some(src.kind.clone()),
                person.is_some_and(|p| p.alias),
            )
        }
        Key::Stream(stream) => (format!("Stream {stream}"), None, None, false),
    };
    Timeline {
        label,
        title,
        role,
        kind,
        alias,
        tracks,
        parts,
        segments: segs.to_vec(),
    }
}

/// Two timelines never share a title: a second "Ada, camera" (two pupils called Ada) becomes
/// "Ada, camera (2)".
fn disambiguate(timelines: &mut [Timeline]) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for t in timelines.iter_mut() {
        let n = seen.entry(t.title.clone()).or_default();
        *n += 1;
        if *n > 1 {
            t.title = format!("{} ({n})", t.title);
        }
    }
}

/// `title` as a file name: letters, digits, spaces and `,-_.'()` kept, anything else `_`, at
/// most 120 characters, never starting with a dot; then `.webm`.
pub fn file_name(title: &str) -> String {
    let safe: String = title
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || " ,-_.'()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    let safe = safe.trim().trim_start_matches('.');
    let safe = if safe.is_empty() { "stream" } else { safe };
    format!("{safe}.webm")
}

#[cfg(test)]
mod tests;
