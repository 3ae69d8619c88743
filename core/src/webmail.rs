//! Public webmail domains: anyone in the world can make an account on them, so trusting one
//! for live lessons trusts strangers. The admin route refuses to trust one unless the
//! superuser confirms (`public_webmail_domain`). The list is fixed and deliberately short:
//! the providers families in UK schools actually use. A provider whose name is used with many
//! country endings (`yahoo.co.uk`, `hotmail.fr`) is matched by its name and any ending of one
//! or two short labels.

/// Whole domains that are public webmail.
const DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "msn.com",
    "proton.me",
    "protonmail.com",
    "mail.com",
    "zoho.com",
    "yandex.com",
    "btinternet.com",
    "sky.com",
    "virginmedia.com",
    "talktalk.net",
    "blueyonder.co.uk",
];

/// Providers with many country endings: `<name>.<ending>`.
const FAMILIES: &[&str] = &["yahoo", "ymail", "hotmail", "outlook", "live", "aol", "gmx", "web"];

/// Whether `domain` (any case, with or without a leading `@` or a trailing dot) is a public
/// webmail domain.
pub fn is_public_webmail(domain: &str) -> bool {
    let d = domain
        .trim()
        .trim_start_matches('@')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if DOMAINS.contains(&d.as_str()) {
        return true;
    }
    let Some((name, ending)) = d.split_once('.') else {
        return false;
    };
    let labels: Vec<&str> = ending.split('.').collect();
    FAMILIES.contains(&name)
        && labels.len() <= 2
        && labels
            .iter()
            .all(|l| (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::is_public_webmail;

    #[test]
    fn webmail_is_recognised_in_any_spelling() {
        for d in [
            "gmail.com",
            "GMail.com",
            "@gmail.com",
            "gmail.com.",
            " outlook.com ",
            "hotmail.com",
            "hotmail.co.uk",
            "yahoo.com",
            "yahoo.co.uk",
            "yahoo.fr",
            "icloud.com",
            "live.co.uk",
            "aol.com",
        ] {
            assert!(is_public_webmail(d), "{d}");
        }
    }

    #[test]
    fn school_and_partner_domains_are_not_webmail() {
        for d in [
            "pupils.demo.sch.uk",
            "demo.sch.uk",
            "partner.sch.uk",
            "mail.gmail.com.example",
            "gmail.com.evil.example",
            "yahoo.school.sch.uk",
            "outlook.example.org",
            "mygmail.com",
            "live.ac.uk.example",
            "yahoo",
            "",
        ] {
            assert!(!is_public_webmail(d), "{d}");
        }
    }
}
