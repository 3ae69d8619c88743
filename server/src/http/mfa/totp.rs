//! The second factor's arithmetic, with no I/O: RFC 6238 TOTP through `totp-rs` (HMAC-SHA-1,
//! 6 digits, 30-second steps, one step of clock skew either way, as every authenticator app
//! expects), new secrets, the enrolment QR code as SVG, and recovery codes.
//!
//! `check` answers the time step a code matched; spending that step once (the replay cursor)
//! is the store's, so two nodes cannot both accept one code.

use ring::rand::{SecureRandom, SystemRandom};
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Seconds per TOTP step.
pub const STEP_SECS: u64 = 30;
/// How many recovery codes an enrolment hands out.
pub const RECOVERY_CODES: usize = 10;
/// The issuer shown in the authenticator app.
pub const ISSUER: &str = "Livegate";

/// `n` random bytes from the system's generator.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The system generator failing means the machine cannot make any secret at all.
    SystemRandom::new().fill(&mut bytes).expect("system random generator");
    bytes
}

/// A new 160-bit secret (the size RFC 4226 recommends), as base32 for the authenticator.
pub fn new_secret() -> String {
    Secret::from(random_bytes::<20>()).to_base32()
}

/// The TOTP for a stored secret, labelled with the account's name for the app. `None` for a
/// secret that is not valid base32 of at least 128 bits.
fn totp(secret: &str, account: &str) -> Option<Totp> {
    let secret = Secret::try_from_base32(secret).ok()?;
    // The label may not contain ':' (the otpauth format's separator).
    let account = account.replace(':', " ");
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECS)
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .ok()
}

/// A code as typed (spaces allowed, as apps show "123 456") if it is six digits.
pub fn normalise_code(code: &str) -> Option<String> {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// The time step a code is valid for at `unix_secs` (now, one step before or after), if any.
pub fn check(secret: &str, code: &str, unix_secs: u64) -> Option<i64> {
    let code = normalise_code(code)?;
    let step = totp(secret, "x")?.check(&code, unix_secs)?;
    i64::try_from(step).ok()
}

/// The code for `unix_secs` (for the tests).
#[cfg(test)]
pub fn code_at(secret: &str, unix_secs: u64) -> Option<String> {
    Some(totp(secret, "x")?.generate(unix_secs).to_string())
}

/// The `otpauth://` address an authenticator app reads from the QR code.
pub fn otpauth_url(secret: &str, account: &str) -> Option<String> {
    totp(secret, account)?.to_url().ok()
}

/// The QR code of an `otpauth://` address as an SVG document.
pub fn qr_svg(url: &str) -> Option<String> {
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

/// Ten new recovery codes, each 80 random bits as 16 base32 letters and digits in groups of
/// four (`abcd-efgh-ijkl-mnop`).
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let text = Secret::from(random_bytes::<10>()).to_base32().to_lowercase();
            let groups: Vec<&str> = (0..4).map(|i| &text[i * 4..i * 4 + 4]).collect();
            groups.join("-")
        })
        .collect()
}

/// A recovery code as typed, in the form it was hashed (lowercase, no dashes or spaces), if it
/// has a recovery code's shape.
pub fn normalise_recovery_code(code: &str) -> Option<String> {
    let text: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_lowercase();
    (text.len() == 16
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)))
    .then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 key, "12345678901234567890", in base32.
    const RFC_KEY: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn matches_the_rfc_6238_sha1_vectors_to_six_digits() {
        // Appendix B's 8-digit values, last six digits.
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(RFC_KEY, t).unwrap(), code, "t={t}");
            assert_eq!(check(RFC_KEY, code, t), Some((t / 30) as i64));
        }
    }

    #[test]
    fn accepts_one_step_either_way_and_no_further() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let code = code_at(&secret, now).unwrap();
        let step = (now / STEP_SECS) as i64;
        assert_eq!(check(&secret, &code, now), Some(step));
        assert_eq!(check(&secret, &code, now + 30), Some(step), "one step late");
        assert_eq!(check(&secret, &code, now - 30), Some(step), "one step early");
        assert_eq!(check(&secret, &code, now + 60), None, "two steps late");
        assert_eq!(check(&secret, &code, now - 60), None, "two steps early");
    }

    #[test]
    fn refuses_codes_of_the_wrong_shape() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let code = code_at(&secret, now).unwrap();
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(check(&secret, &spaced, now).is_some(), "apps show codes in two groups");
        for bad in ["", "12345", "1234567", "+12345", "12a456", "１２３４５６"] {
            assert_eq!(check(&secret, bad, now), None, "{bad:?}");
        }
        assert_eq!(check("not base32!", &code, now), None);
    }

    #[test]
    fn secrets_are_160_bits_and_enrol_as_an_otpauth_address_with_a_qr_code() {
        let secret = new_secret();
        assert_eq!(Secret::try_from_base32(&secret).unwrap().len(), 20);
        assert_ne!(secret, new_secret());
        let url = otpauth_url(&secret, "dsl@demo.sch.uk").unwrap();
        assert!(url.starts_with("otpauth://totp/Livegate:dsl%40demo.sch.uk?"), "{url}");
        assert!(
            url.contains(&format!("secret={secret}")) && url.contains("issuer=Livegate"),
            "{url}"
        );
        assert!(qr_svg(&url).unwrap().starts_with("<?xml"));
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_read_back_however_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(codes.iter().collect::<std::collections::HashSet<_>>().len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 19, "{code}");
            let plain = normalise_recovery_code(code).unwrap();
            assert_eq!(
                normalise_recovery_code(&code.to_uppercase().replace('-', " ")),
                Some(plain)
            );
        }
        assert_eq!(normalise_recovery_code("abcd-efgh-ijkl-mno1"), None, "1 is not base32");
        assert_eq!(normalise_recovery_code("abcd-efgh"), None);
    }
}
