//! `config.json` with Mystikos's keys. Unknown keys are reported by name (Mystikos ignores
//! them silently).

use serde_json::Value;

/// Keys Mystikos defines (all accepted; those myst does not act on yet are listed in
/// [`NOT_YET_USED`]).
pub const KNOWN_KEYS: &[&str] = &[
    "version",
    "Debug",
    "ProductID",
    "SecurityVersion",
    "CreateZeroBaseEnclave",
    "EnclaveStartAddress",
    "MemorySize",
    "UserMemSize",
    "MainStackSize",
    "ThreadStackSize",
    "MaxAffinityCPUs",
    "NoBrk",
    "ExecStack",
    "ApplicationPath",
    "HostApplicationParameters",
    "ApplicationParameters",
    "EnvironmentVariables",
    "HostEnvironmentVariables",
    "CurrentWorkingDirectory",
    "Hostname",
    "ForkMode",
    "UnhandledSyscallEnosys",
    "SyslogLevel",
    "HostUDS",
    "Mount",
    "Secret",
];

/// Keys accepted but without effect on the linux target today.
pub const NOT_YET_USED: &[&str] = &[
    "ProductID",
    "SecurityVersion",
    "CreateZeroBaseEnclave",
    "EnclaveStartAddress",
    "NoBrk",
    "ExecStack",
    "ForkMode",
    "SyslogLevel",
    "HostUDS",
    "Secret",
];

/// A parsed configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// Application memory size in bytes.
    pub memory_size: Option<u64>,
    /// Main-thread stack size.
    pub main_stack_size: Option<u64>,
    /// Default thread stack size.
    pub thread_stack_size: Option<u64>,
    /// Program path inside the rootfs.
    pub application_path: Option<String>,
    /// Fixed arguments (argv[1..]).
    pub application_parameters: Option<Vec<String>>,
    /// Whether host arguments are used.
    pub host_application_parameters: bool,
    /// "K=V" entries.
    pub environment_variables: Vec<String>,
    /// Host variable names to import.
    pub host_environment_variables: Vec<String>,
    /// Initial working directory.
    pub cwd: Option<String>,
    /// Host name.
    pub hostname: Option<String>,
    /// Affinity cap.
    pub max_affinity_cpus: Option<u32>,
    /// `Debug`: a debug run may use unverified images.
    pub debug: bool,
    /// `Mount` entries.
    pub mounts: Vec<ConfigMount>,
    /// Unknown keys found (for warnings).
    pub unknown_keys: Vec<String>,
}

/// One `Mount` entry of config.json.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigMount {
    /// Absolute target path inside myst.
    pub target: String,
    /// "ext2", "hostfs" or "ramfs".
    pub fs_type: String,
    /// Mount flags (accepted: none yet).
    pub flags: Vec<String>,
    /// Trusted public key (a PEM file path on the host) for an ext2 mount.
    pub public_key: Option<String>,
    /// Trusted root hash (hex) for an ext2 mount.
    pub root_hash: Option<String>,
    /// For an encrypted ext2 mount: a file *inside* myst's file systems (the verified rootfs
    /// or an earlier mount) holding the 64-byte key. myst's own key; Mystikos has none.
    pub key_file: Option<String>,
}

/// Config errors.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    /// Not JSON.
    #[error("{path}: not valid JSON: {msg}")]
    Json {
        /// File.
        path: String,
        /// Parser message.
        msg: String,
    },
    /// A key has the wrong type or value.
    #[error("{path}: key \"{key}\": {msg}")]
    Key {
        /// File.
        path: String,
        /// Key.
        key: String,
        /// What is wrong.
        msg: String,
    },
}

fn strip_line_comments(s: &str) -> String {
    // Mystikos's parser accepts `//` line comments outside strings.
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        let mut in_str = false;
        let mut esc = false;
        let mut cut = line.len();
        let b = line.as_bytes();
        for i in 0..b.len() {
            let c = b[i];
            if in_str {
                if esc {
                    esc = false;
                } else if c == b'\\' {
                    esc = true;
                } else if c == b'"' {
                    in_str = false;
                }
            } else if c == b'"' {
                in_str = true;
            } else if c == b'/' && b.get(i + 1) == Some(&b'/') {
                cut = i;
                break;
            }
        }
        out.push_str(&line[..cut]);
        out.push('\n');
    }
    out
}

impl Config {
    /// Parses config text; `path` is used in messages.
    pub fn parse(path: &str, text: &str) -> Result<Config, ConfigError> {
        let v: Value =
            serde_json::from_str(&strip_line_comments(text)).map_err(|e| ConfigError::Json { path: path.into(), msg: e.to_string() })?;
        let obj = v.as_object().ok_or_else(|| ConfigError::Json { path: path.into(), msg: "the top level must be an object".into() })?;
        let kerr = |key: &str, msg: &str| ConfigError::Key { path: path.into(), key: key.into(), msg: msg.into() };
        let mut c = Config::default();
        let size = |key: &str, v: &Value| -> Result<u64, ConfigError> {
            match v {
                Value::Number(n) => n.as_u64().ok_or_else(|| kerr(key, "must be a non-negative integer")),
                Value::String(s) => crate::size::parse_size(s).map_err(|e| kerr(key, &e)),
                _ => Err(kerr(key, "must be a number or a size string like \"512m\"")),
            }
        };
        let boolish = |key: &str, v: &Value| -> Result<bool, ConfigError> {
            match v {
                Value::Bool(b) => Ok(*b),
                Value::Number(n) => Ok(n.as_i64().unwrap_or(0) != 0),
                _ => Err(kerr(key, "must be true/false or 0/1")),
            }
        };
        let strings = |key: &str, v: &Value| -> Result<Vec<String>, ConfigError> {
            v.as_array()
                .ok_or_else(|| kerr(key, "must be an array of strings"))?
                .iter()
                .map(|x| x.as_str().map(String::from).ok_or_else(|| kerr(key, "must be an array of strings")))
                .collect()
        };
        let string = |key: &str, v: &Value| -> Result<String, ConfigError> {
            v.as_str().map(String::from).ok_or_else(|| kerr(key, "must be a string"))
        };
        for (k, v) in obj {
            match k.as_str() {
                "version" => {
                    if v.as_str() != Some("0.1") {
                        return Err(kerr(k, "only \"0.1\" is supported"));
                    }
                }
                "MemorySize" | "UserMemSize" => c.memory_size = Some(size(k, v)?),
                "MainStackSize" => c.main_stack_size = Some(size(k, v)?),
                "ThreadStackSize" => c.thread_stack_size = Some(size(k, v)?),
                "ApplicationPath" => {
                    let p = string(k, v)?;
                    if !p.starts_with('/') {
                        return Err(kerr(k, "must be an absolute path"));
                    }
                    c.application_path = Some(p);
                }
                "ApplicationParameters" => c.application_parameters = Some(strings(k, v)?),
                "HostApplicationParameters" => c.host_application_parameters = boolish(k, v)?,
                "EnvironmentVariables" => {
                    let e = strings(k, v)?;
                    if let Some(bad) = e.iter().find(|s| !s.contains('=')) {
                        return Err(kerr(k, &format!("entry \"{bad}\" is not of the form NAME=VALUE")));
                    }
                    c.environment_variables = e;
                }
                "HostEnvironmentVariables" => c.host_environment_variables = strings(k, v)?,
                "CurrentWorkingDirectory" => c.cwd = Some(string(k, v)?),
                "Hostname" => c.hostname = Some(string(k, v)?),
                "Debug" => c.debug = boolish(k, v)?,
                "Mount" => {
                    let arr = v.as_array().ok_or_else(|| kerr(k, "must be an array of objects"))?;
                    for m in arr {
                        let o = m.as_object().ok_or_else(|| kerr(k, "entries must be objects"))?;
                        let get = |f: &str| o.get(f).and_then(|x| x.as_str()).map(String::from);
                        let target = get("Target").ok_or_else(|| kerr(k, "entry without \"Target\""))?;
                        if !target.starts_with('/') {
                            return Err(kerr(k, &format!("Target \"{target}\" must be an absolute path")));
                        }
                        let fs_type = get("Type").unwrap_or_else(|| "hostfs".into());
                        if !matches!(fs_type.as_str(), "ext2" | "hostfs" | "ramfs") {
                            return Err(kerr(k, &format!("Type \"{fs_type}\" must be ext2, hostfs or ramfs")));
                        }
                        let flags = match o.get("Flags") {
                            None => Vec::new(),
                            Some(f) => strings("Mount.Flags", f)?,
                        };
                        for key in o.keys() {
                            if !matches!(key.as_str(), "Target" | "Type" | "Flags" | "PublicKey" | "RootHash" | "KeyFile") {
                                c.unknown_keys.push(format!("Mount.{key}"));
                            }
                        }
                        let key_file = get("KeyFile");
                        if key_file.as_ref().is_some_and(|f| !f.starts_with('/')) {
                            return Err(kerr(k, "KeyFile must be an absolute path inside myst's file systems"));
                        }
                        c.mounts.push(ConfigMount {
                            target,
                            fs_type,
                            flags,
                            public_key: get("PublicKey"),
                            root_hash: get("RootHash"),
                            key_file,
                        });
                    }
                }
                "MaxAffinityCPUs" => {
                    let n = v.as_u64().filter(|n| *n > 0 && *n <= 1 << 16).ok_or_else(|| kerr(k, "must be a positive integer"))?;
                    c.max_affinity_cpus = Some(n as u32);
                }
                other if KNOWN_KEYS.contains(&other) => {}
                other => c.unknown_keys.push(other.to_string()),
            }
        }
        Ok(c)
    }

    /// Reads and parses a config file.
    pub fn load(path: &str) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read config {path}: {e}"))?;
        Config::parse(path, &text).map_err(|e| e.to_string())
    }

    /// The program's environment: `EnvironmentVariables`, then the allowed host variables
    /// (taken from `host_env`), then `MYST_TARGET=linux`.
    pub fn environment(&self, host_env: &[(String, String)]) -> Vec<String> {
        let mut env: Vec<String> = self.environment_variables.clone();
        for name in &self.host_environment_variables {
            if let Some((k, v)) = host_env.iter().find(|(k, _)| k == name) {
                env.retain(|e| e.split('=').next() != Some(k.as_str()));
                env.push(format!("{k}={v}"));
            }
        }
        env.push("MYST_TARGET=linux".into());
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_key_file_must_be_an_absolute_path_inside_myst() {
        let c = Config::parse("c.json", r#"{ "Mount": [ { "Target": "/m", "Type": "ext2", "KeyFile": "/etc/k" } ] }"#).unwrap();
        assert_eq!(c.mounts[0].key_file.as_deref(), Some("/etc/k"));
        assert!(c.unknown_keys.is_empty());
        let e = Config::parse("c.json", r#"{ "Mount": [ { "Target": "/m", "Type": "ext2", "KeyFile": "etc/k" } ] }"#).unwrap_err();
        assert!(e.to_string().contains("KeyFile must be an absolute path"), "{e}");
    }

    #[test]
    fn mystikos_keys_parse_and_unknown_keys_are_named() {
        let c = Config::parse(
            "c.json",
            r#"{
                // comment
                "version": "0.1",
                "MemorySize": "512m",
                "EnvironmentVariables": ["A=1", "B=two"],
                "HostEnvironmentVariables": ["HOME"],
                "CurrentWorkingDirectory": "/tmp",
                "ApplicationParameters": ["x"],
                "Debug": 1,
                "Frobnicate": true
            }"#,
        )
        .unwrap();
        assert_eq!(c.memory_size, Some(512 << 20));
        assert_eq!(c.cwd.as_deref(), Some("/tmp"));
        assert_eq!(c.unknown_keys, vec!["Frobnicate".to_string()]);
        let env = c.environment(&[("HOME".into(), "/root".into()), ("SECRET".into(), "x".into())]);
        assert_eq!(env, vec!["A=1", "B=two", "HOME=/root", "MYST_TARGET=linux"]);
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = Config::parse("c.json", r#"{"MemorySize": "huge"}"#).unwrap_err().to_string();
        assert!(e.contains("MemorySize"), "{e}");
        let e = Config::parse("c.json", r#"{"EnvironmentVariables": ["NOEQUALS"]}"#).unwrap_err().to_string();
        assert!(e.contains("NOEQUALS"), "{e}");
        let e = Config::parse("c.json", "{not json").unwrap_err().to_string();
        assert!(e.contains("not valid JSON"), "{e}");
    }
}
