//! The deployment's app registrations for OpenID Connect sign-in (`[sso.microsoft]`,
//! `[sso.google]`): one per provider for every school on this server, each school choosing its
//! provider and directory on its admin page (the database). The client secret is read from a
//! file or an environment variable when the server starts; it is never in the configuration
//! file, the database or a log line, and this type does not hold it.

use std::path::PathBuf;

use serde::Deserialize;

use super::StartupError;

/// The app registrations, by provider. A provider without one offers no sign-in button.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SsoConfig {
    pub microsoft: Option<AppRegistration>,
    pub google: Option<AppRegistration>,
}

/// One app registration: its client id, where its secret is, and (for tests against a local
/// provider only) another issuer base.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppRegistration {
    pub client_id: String,
    /// A file holding the client secret (its first line; mode 0600 advised).
    pub client_secret_file: Option<PathBuf>,
    /// The name of an environment variable holding the client secret.
    pub client_secret_env: Option<String>,
    /// Microsoft: the authority before `/{tenant}/v2.0` (default
    /// `https://login.microsoftonline.com`). Google: the issuer (default
    /// `https://accounts.google.com`). Change it only to test against a local provider.
    pub issuer_base: Option<String>,
}

impl AppRegistration {
    /// The client secret, read now from its file or environment variable.
    pub fn read_secret(&self, get: impl Fn(&str) -> Option<String>) -> Result<String, StartupError> {
        let secret = match (&self.client_secret_file, &self.client_secret_env) {
            (Some(path), None) => std::fs::read_to_string(path)
                .map_err(|e| StartupError::Config(format!("sso client secret file {}: {e}", path.display())))?
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned(),
            (None, Some(name)) => get(name)
                .ok_or_else(|| StartupError::Config(format!("sso client secret: {name} is not set")))?
                .trim()
                .to_owned(),
            _ => {
                return Err(StartupError::Config(
                    "sso: give exactly one of client_secret_file and client_secret_env".into(),
                ))
            }
        };
        if secret.is_empty() || self.client_id.trim().is_empty() {
            return Err(StartupError::Config(
                "sso: the client id and secret may not be empty".into(),
            ));
        }
        Ok(secret)
    }
}

impl SsoConfig {
    /// `LIVEGATE_SSO_MICROSOFT_CLIENT_ID` (and `_GOOGLE_`) with `..._CLIENT_SECRET_FILE`, or
    /// `..._CLIENT_SECRET` holding the secret itself, and `..._ISSUER_BASE`.
    pub fn apply_env(&mut self, get: &impl Fn(&str) -> Option<String>) {
        for (name, slot) in [("MICROSOFT", &mut self.microsoft), ("GOOGLE", &mut self.google)] {
            let key = |k: &str| format!("LIVEGATE_SSO_{name}_{k}");
            if let Some(id) = get(&key("CLIENT_ID")) {
                *slot = Some(AppRegistration {
                    client_id: id,
                    client_secret_file: None,
                    client_secret_env: None,
                    issuer_base: None,
                });
            }
            let Some(reg) = slot else { continue };
            if let Some(file) = get(&key("CLIENT_SECRET_FILE")) {
                (reg.client_secret_file, reg.client_secret_env) = (Some(file.into()), None);
            } else if get(&key("CLIENT_SECRET")).is_some() {
                (reg.client_secret_file, reg.client_secret_env) = (None, Some(key("CLIENT_SECRET")));
            }
            if let Some(base) = get(&key("ISSUER_BASE")) {
                reg.issuer_base = Some(base);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_from_file_and_env() {
        let c: SsoConfig =
            toml::from_str("[microsoft]\nclient_id = \"abc\"\nclient_secret_env = \"MS_SECRET\"\n").unwrap();
        let ms = c.microsoft.clone().unwrap();
        assert_eq!(
            ms.read_secret(|k| (k == "MS_SECRET").then(|| "s3cret\n".into()))
                .unwrap(),
            "s3cret"
        );
        assert!(ms.read_secret(|_| None).is_err(), "an unset variable stops start-up");
        assert!(
            toml::from_str::<SsoConfig>("[google]\nclient_id = \"a\"\nclient_secret = \"x\"\n").is_err(),
            "a secret in the file itself is refused"
        );
        let mut c = SsoConfig::default();
        c.apply_env(&|k: &str| match k {
            "LIVEGATE_SSO_GOOGLE_CLIENT_ID" => Some("g".into()),
            "LIVEGATE_SSO_GOOGLE_CLIENT_SECRET" => Some("gs".into()),
            "LIVEGATE_SSO_GOOGLE_ISSUER_BASE" => Some("http://127.0.0.1:9".into()),
            _ => None,
        });
        let g = c.google.unwrap();
        assert_eq!(
            g.client_secret_env.as_deref(),
            Some("LIVEGATE_SSO_GOOGLE_CLIENT_SECRET")
        );
        assert_eq!(g.issuer_base.as_deref(), Some("http://127.0.0.1:9"));
        assert!(c.microsoft.is_none());
    }
}
