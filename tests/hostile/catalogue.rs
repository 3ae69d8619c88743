//! The catalogue keeps its promises: `tests/hostile/README.md` lists exactly the test functions
//! of this binary, and every test `SECURITY.md` names exists where it says.

use anyhow::{bail, ensure, Context, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The case modules (the catalogue's chapters).
const MODULES: [&str; 6] = ["identity", "privilege", "signalling", "transport", "storage", "web"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// The names of the `#[test]` functions (plain or `#[tokio::test(...)]`) in a Rust file.
fn test_functions(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut armed = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with("#[test]") || line.starts_with("#[tokio::test") {
            armed = true;
        } else if armed && (line.starts_with("fn ") || line.starts_with("async fn ")) {
            let name = line.trim_start_matches("async ").trim_start_matches("fn ");
            names.insert(name.split('(').next().unwrap_or_default().to_string());
            armed = false;
        }
    }
    names
}

/// Every `module::name` case of this binary.
fn cases() -> Result<BTreeSet<String>> {
    let mut all = BTreeSet::new();
    for m in MODULES {
        let text = read(&repo().join(format!("tests/hostile/{m}.rs")))?;
        all.extend(test_functions(&text).into_iter().map(|n| format!("{m}::{n}")));
    }
    Ok(all)
}

#[test]
fn readme_lists_every_case_once() -> Result<()> {
    let readme = read(&repo().join("tests/hostile/README.md"))?;
    let listed: Vec<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect();
    let unique: BTreeSet<String> = listed.iter().cloned().collect();
    ensure!(unique.len() == listed.len(), "README.md lists a case twice");
    let cases = cases()?;
    let missing: Vec<_> = cases.difference(&unique).collect();
    let stale: Vec<_> = unique.difference(&cases).collect();
    ensure!(missing.is_empty() && stale.is_empty(), "README.md is out of date: missing {missing:?}, no such case {stale:?}");
    ensure!(cases.len() >= 64, "only {} hostile cases", cases.len());
    ensure!(readme.contains(&format!("{} named hostile cases", cases.len())), "README.md's count is not {}", cases.len());
    Ok(())
}

#[test]
fn every_test_security_md_cites_exists() -> Result<()> {
    let security = read(&repo().join("SECURITY.md"))?;
    let mut checked = 0;
    for (i, span) in security.split('`').enumerate().filter(|(i, _)| i % 2 == 1) {
        let Some((file, name)) = span.split_once(".rs::") else { continue };
        let path = repo().join(format!("{file}.rs"));
        let text = read(&path).with_context(|| format!("SECURITY.md cites `{span}` (span {i})"))?;
        if !test_functions(&text).contains(name) {
            bail!("SECURITY.md cites `{span}`, but {} has no test function {name}", path.display());
        }
        checked += 1;
    }
    ensure!(checked >= 64, "SECURITY.md cites only {checked} tests");
    // Every promise names at least one test.
    for section in security.split("\n## ").skip(1).filter(|s| s.starts_with(char::is_numeric)) {
        let title = section.lines().next().unwrap_or_default();
        ensure!(section.contains(".rs::"), "SECURITY.md: promise {title:?} names no test");
    }
    Ok(())
}

#[test]
fn the_test_function_reader_sees_plain_and_async_tests() {
    let text = "#[test]\nfn a() {}\n#[tokio::test(flavor = \"multi_thread\")]\nasync fn b() {}\nfn helper() {}\n    #[test]\n    fn c() {}\n";
    let names: Vec<String> = test_functions(text).into_iter().collect();
    assert_eq!(names, ["a", "b", "c"]);
}
