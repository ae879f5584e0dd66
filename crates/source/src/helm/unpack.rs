//! Safe extraction of chart archives (`.tgz`): nothing lands outside the destination, and a
//! hostile archive cannot fill the disk.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use ferry_api::{Classify, Disposition};

/// Bounds for one archive.
#[derive(Clone, Copy, Debug)]
pub struct UnpackLimits {
    /// Total bytes of file contents after decompression.
    pub max_bytes: u64,
    /// Most entries (files, directories, links) in one archive.
    pub max_entries: usize,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        Self {
            max_bytes: 100 << 20,
            max_entries: 10_000,
        }
    }
}

/// Why a chart archive was not unpacked. Nothing outside the destination is touched either way.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// An entry's path is absolute or climbs out with `..`.
    #[error("archive entry {0:?} escapes the destination (absolute path or '..')")]
    Escapes(String),
    /// A symbolic link that points outside the chart.
    #[error("archive entry {entry:?} is a link to {target:?} outside the chart")]
    LinkEscapes {
        /// The link's path in the archive.
        entry: String,
        /// Where it points.
        target: String,
    },
    /// A device, FIFO or hard link.
    #[error("archive entry {0:?} is a device, FIFO or hard link, which charts never contain")]
    SpecialFile(String),
    /// The contents exceed [`UnpackLimits::max_bytes`].
    #[error("archive expands past {0} bytes")]
    TooLarge(u64),
    /// The entries exceed [`UnpackLimits::max_entries`].
    #[error("archive has more than {0} entries")]
    TooManyEntries(usize),
    /// Not a readable gzip-compressed tar.
    #[error("corrupt archive: {0}")]
    Corrupt(String),
    /// Writing to the destination failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl Classify for UnpackError {
    /// Local disk trouble is retried; an archive's content stays what it is.
    fn disposition(&self) -> Disposition {
        match self {
            Self::Io { .. } => Disposition::Retry,
            Self::Escapes(_)
            | Self::LinkEscapes { .. }
            | Self::SpecialFile(_)
            | Self::TooLarge(_)
            | Self::TooManyEntries(_)
            | Self::Corrupt(_) => Disposition::GiveUp,
        }
    }
}

/// Extracts a gzip'd tarball into `dest` (which must exist), returning the relative paths of
/// the files written.
pub fn unpack_tgz(
    archive: impl Read,
    dest: &Path,
    limits: UnpackLimits,
) -> Result<Vec<PathBuf>, UnpackError> {
    let corrupt = |e: std::io::Error| UnpackError::Corrupt(e.to_string());
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut written = Vec::new();
    let mut total: u64 = 0;
    for (count, entry) in tar.entries().map_err(corrupt)?.enumerate() {
        if count >= limits.max_entries {
            return Err(UnpackError::TooManyEntries(limits.max_entries));
        }
        let mut entry = entry.map_err(corrupt)?;
        let raw_path = entry.path().map_err(corrupt)?.into_owned();
        let shown = raw_path.to_string_lossy().into_owned();
        let rel = safe_relative(&raw_path).ok_or_else(|| UnpackError::Escapes(shown.clone()))?;
        let target = dest.join(&rel);
        let io = |source| UnpackError::Io {
            path: rel.clone(),
            source,
        };
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&target).map_err(io)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.header().size().map_err(corrupt)?;
                total = total.saturating_add(size);
                if total > limits.max_bytes {
                    return Err(UnpackError::TooLarge(limits.max_bytes));
                }
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                refuse_symlinked_parents(dest, &rel)?;
                let mut file = std::fs::File::create(&target).map_err(io)?;
                // Copy at most the declared size: a lying header cannot write more.
                let copied = std::io::copy(&mut (&mut entry).take(size), &mut file).map_err(io)?;
                if copied != size {
                    return Err(UnpackError::Corrupt(format!("{shown}: truncated")));
                }
                written.push(rel);
            }
            tar::EntryType::Symlink => {
                let link = entry
                    .link_name()
                    .map_err(corrupt)?
                    .map(|l| l.into_owned())
                    .unwrap_or_default();
                let resolved = rel.parent().unwrap_or(Path::new("")).join(&link);
                if link.is_absolute() || safe_relative(&resolved).is_none() {
                    return Err(UnpackError::LinkEscapes {
                        entry: shown,
                        target: link.to_string_lossy().into_owned(),
                    });
                }
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                std::os::unix::fs::symlink(&link, &target).map_err(io)?;
            }
            // PAX/GNU metadata records are consumed by the tar crate's iterator already.
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            _ => return Err(UnpackError::SpecialFile(shown)),
        }
    }
    Ok(written)
}

/// The path with `.` removed, or `None` if it is absolute or climbs out with `..`.
fn safe_relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// A file must not be written through a symlinked directory an earlier entry created.
fn refuse_symlinked_parents(dest: &Path, rel: &Path) -> Result<(), UnpackError> {
    let mut at = dest.to_path_buf();
    let parents: Vec<_> = rel
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for component in parents {
        at.push(component);
        if at
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            return Err(UnpackError::LinkEscapes {
                entry: rel.to_string_lossy().into_owned(),
                target: at
                    .strip_prefix(dest)
                    .unwrap_or(&at)
                    .to_string_lossy()
                    .into_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_has_its_disposition() {
        let table = [
            (UnpackError::Escapes("../x".into()), Disposition::GiveUp),
            (
                UnpackError::LinkEscapes {
                    entry: "l".into(),
                    target: "/etc".into(),
                },
                Disposition::GiveUp,
            ),
            (UnpackError::SpecialFile("fifo".into()), Disposition::GiveUp),
            (UnpackError::TooLarge(1), Disposition::GiveUp),
            (UnpackError::TooManyEntries(1), Disposition::GiveUp),
            (UnpackError::Corrupt("eof".into()), Disposition::GiveUp),
            (
                UnpackError::Io {
                    path: "/tmp/x".into(),
                    source: std::io::Error::other("disk full"),
                },
                Disposition::Retry,
            ),
        ];
        for (error, expected) in table {
            assert_eq!(error.disposition(), expected, "{error}");
        }
    }

    /// Builds a .tgz from (path, kind) entries with raw headers, so hostile paths survive.
    fn tgz(entries: &[(&str, Entry)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, kind) in entries {
            let mut header = tar::Header::new_gnu();
            {
                let name = &mut header.as_old_mut().name;
                name[..path.len()].copy_from_slice(path.as_bytes());
            }
            header.set_mode(0o644);
            match kind {
                Entry::File(body) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(body.len() as u64);
                    header.set_cksum();
                    builder.append(&header, body.as_bytes()).unwrap();
                }
                Entry::Symlink(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    header.set_link_name(target).unwrap();
                    header.set_cksum();
                    builder.append(&header, std::io::empty()).unwrap();
                }
                Entry::Fifo => {
                    header.set_entry_type(tar::EntryType::Fifo);
                    header.set_size(0);
                    header.set_cksum();
                    builder.append(&header, std::io::empty()).unwrap();
                }
                Entry::Zeros(n) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(*n);
                    header.set_cksum();
                    builder
                        .append(&header, std::io::repeat(0).take(*n))
                        .unwrap();
                }
            }
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    enum Entry {
        File(&'static str),
        Symlink(&'static str),
        Fifo,
        Zeros(u64),
    }

    fn unpack(
        bytes: &[u8],
        limits: UnpackLimits,
    ) -> (tempfile::TempDir, Result<Vec<PathBuf>, UnpackError>) {
        let outer = tempfile::tempdir().unwrap();
        let dest = outer.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        let result = unpack_tgz(bytes, &dest, limits);
        (outer, result)
    }

    /// Everything outside `dest` in the temp dir: must stay empty.
    fn outside(dir: &tempfile::TempDir) -> Vec<String> {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "dest")
            .collect()
    }

    #[test]
    fn unpacks_a_chart() {
        let bytes = tgz(&[
            ("app/Chart.yaml", Entry::File("name: app\nversion: 1.0.0\n")),
            ("app/templates/cm.yaml", Entry::File("kind: ConfigMap\n")),
            ("app/templates/link.yaml", Entry::Symlink("cm.yaml")),
        ]);
        let (dir, result) = unpack(&bytes, UnpackLimits::default());
        assert_eq!(result.unwrap().len(), 2);
        let cm = dir.path().join("dest/app/templates/link.yaml");
        assert_eq!(std::fs::read_to_string(cm).unwrap(), "kind: ConfigMap\n");
    }

    #[test]
    fn refuses_escapes_links_and_special_files() {
        let cases: Vec<(Vec<(&str, Entry)>, &str)> = vec![
            (vec![("../evil", Entry::File("x"))], "escapes"),
            (vec![("/etc/evil", Entry::File("x"))], "escapes"),
            (vec![("app/../../evil", Entry::File("x"))], "escapes"),
            (
                vec![("app/l", Entry::Symlink("../../evil"))],
                "outside the chart",
            ),
            (
                vec![("app/l", Entry::Symlink("/etc/passwd"))],
                "outside the chart",
            ),
            (
                vec![
                    ("app/l", Entry::Symlink(".")),
                    ("app/l/x", Entry::File("x")),
                ],
                "outside the chart",
            ),
            (vec![("app/fifo", Entry::Fifo)], "device, FIFO"),
        ];
        for (entries, expected) in cases {
            let (dir, result) = unpack(&tgz(&entries), UnpackLimits::default());
            let err = result.unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
            assert!(outside(&dir).is_empty(), "{err}: wrote {:?}", outside(&dir));
        }
    }

    #[test]
    fn refuses_tar_bombs() {
        // 64 MiB of zeros compress to ~64 KiB.
        let bomb = tgz(&[("app/zeros", Entry::Zeros(64 << 20))]);
        assert!(bomb.len() < 1 << 20);
        let limits = UnpackLimits {
            max_bytes: 1 << 20,
            max_entries: 10,
        };
        let (_dir, result) = unpack(&bomb, limits);
        assert!(matches!(result, Err(UnpackError::TooLarge(_))));

        let many: Vec<(String, Entry)> = (0..20)
            .map(|i| (format!("app/f{i}"), Entry::File("x")))
            .collect();
        let many: Vec<(&str, Entry)> = many
            .iter()
            .map(|(p, _)| (p.as_str(), Entry::File("x")))
            .collect();
        let (_dir, result) = unpack(&tgz(&many), limits);
        assert!(matches!(result, Err(UnpackError::TooManyEntries(10))));

        let (_dir, result) = unpack(b"not gzip at all", limits);
        assert!(matches!(result, Err(UnpackError::Corrupt(_))));
    }
}
