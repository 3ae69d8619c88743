//! The catalogue keeps its promises: `tests/hostile/README.md` lists exactly the test functions
//! of this binary (and, beside them, cases of the aiortc suite that exist), and every test
//! `SECURITY.md` names exists where it says: a Rust `path.rs::name` or a pytest `path.py::name`.

use anyhow::{ensure, Context, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The case modules (the catalogue's chapters).
const MODULES: [&str; 8] = [
    "identity",
    "privilege",
    "signalling",
    "transport",
    "storage",
    "web",
    "flood",
    "sso",
];

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

/// The names of the pytest test functions (`def test_...`, plain or async) in a Python file.
fn pytest_functions(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim_start)
        .filter_map(|l| l.strip_prefix("async def ").or_else(|| l.strip_prefix("def ")))
        .filter(|l| l.starts_with("test_"))
        .map(|l| l.split('(').next().unwrap_or_default().to_string())
        .collect()
}

/// Whether `span` is a test reference (`path.rs::name` or `path.py::name`, from the repository
/// root); an error if it is one but names no test function of that file.
fn cited_test_exists(span: &str) -> Result<bool> {
    let rust = span.split_once(".rs::").map(|(file, name)| (file, name, "rs"));
    let Some((file, name, ext)) = rust.or_else(|| span.split_once(".py::").map(|(file, name)| (file, name, "py")))
    else {
        return Ok(false);
    };
    let path = repo().join(format!("{file}.{ext}"));
    let text = read(&path)?;
    let names = if ext == "rs" {
        test_functions(&text)
    } else {
        pytest_functions(&text)
    };
    ensure!(
        names.contains(name),
        "`{span}`: {} has no test function {name}",
        path.display()
    );
    Ok(true)
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
    let (aiortc, listed): (Vec<String>, Vec<String>) = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .partition(|case| case.contains(".py::"));
    for case in &aiortc {
        ensure!(cited_test_exists(case)?, "README.md lists {case}");
    }
    let unique: BTreeSet<String> = listed.iter().cloned().collect();
    ensure!(unique.len() == listed.len(), "README.md lists a case twice");
    let cases = cases()?;
    let missing: Vec<_> = cases.difference(&unique).collect();
    let stale: Vec<_> = unique.difference(&cases).collect();
    ensure!(
        missing.is_empty() && stale.is_empty(),
        "README.md is out of date: missing {missing:?}, no such case {stale:?}"
    );
    ensure!(cases.len() >= 64, "only {} hostile cases", cases.len());
    ensure!(
        readme.contains(&format!("{} named hostile cases", cases.len())),
        "README.md's count is not {}",
        cases.len()
    );
    Ok(())
}

#[test]
fn every_test_security_md_cites_exists() -> Result<()> {
    let security = read(&repo().join("SECURITY.md"))?;
    let mut checked = 0;
    for (i, span) in security.split('`').enumerate().filter(|(i, _)| i % 2 == 1) {
        if cited_test_exists(span).with_context(|| format!("SECURITY.md cites `{span}` (span {i})"))? {
            checked += 1;
        }
    }
    ensure!(checked >= 64, "SECURITY.md cites only {checked} tests");
    // Every promise names at least one test.
    for section in security
        .split("\n## ")
        .skip(1)
        .filter(|s| s.starts_with(char::is_numeric))
    {
        let title = section.lines().next().unwrap_or_default();
        ensure!(
            section.contains(".rs::") || section.contains(".py::"),
            "SECURITY.md: promise {title:?} names no test"
        );
    }
    Ok(())
}

#[test]
fn the_test_function_reader_sees_plain_and_async_tests() {
    let text = "#[test]\nfn a() {}\n#[tokio::test(flavor = \"multi_thread\")]\nasync fn b() {}\nfn helper() {}\n    #[test]\n    fn c() {}\n";
    let names: Vec<String> = test_functions(text).into_iter().collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[test]
fn the_pytest_function_reader_sees_plain_and_async_tests() {
    let text = "def test_a(server):\n    pass\nasync def test_b():\n    pass\ndef helper():\n    pass\nclass TestC:\n    def test_c(self):\n        pass\n";
    let names: Vec<String> = pytest_functions(text).into_iter().collect();
    assert_eq!(names, ["test_a", "test_b", "test_c"]);
    assert!(
        cited_test_exists("tests/aiortc/test_aiortc_pupil.py::test_pupil_receives_and_decodes_teacher_camera").unwrap()
    );
    assert!(cited_test_exists("tests/aiortc/test_aiortc_pupil.py::test_no_such_thing").is_err());
    assert!(!cited_test_exists("identity::reused_ticket_is_ticket_invalid").unwrap());
}
