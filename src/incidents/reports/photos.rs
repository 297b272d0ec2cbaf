//! Photos attached to incidents (现场照片): a grid worker's picture of what they found,
//! a department's of what it fixed (反馈), a citizen's snapshot.
//!
//! A photo is accepted only if its bytes are a JPEG, PNG or WebP image (checked by their
//! magic numbers; the declared type and file name are ignored), at most
//! `reports.max_photo_bytes`, and while the incident has fewer than `reports.max_photos`.
//! It is written to a temporary file while it arrives (hashed and measured on the way, so
//! memory stays flat), synced, renamed to `<attachment id>.<ext>` — a name the server
//! makes, so no client-chosen path ever reaches the file system — and only then recorded
//! in the store with an `attached` event (persist, then announce).

use super::Reports;
use crate::model::{Actor, Incident, IncidentId, Role, Timestamp};
use crate::store::{Attachment, AttachmentId, SharedStore, StoreError};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// The attachment kind of photos.
pub const PHOTO: &str = "photo";
/// Bytes needed to recognise every accepted format (WebP: `RIFF????WEBP`).
const HEAD: usize = 12;

/// An image format accepted for photos.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    Jpeg,
    Png,
    Webp,
}

impl ImageKind {
    /// The format the first bytes of a file announce, if it is one we accept.
    pub fn sniff(head: &[u8]) -> Option<Self> {
        if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if head.len() >= HEAD && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else {
            None
        }
    }

    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
        }
    }

    pub const fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
        }
    }
}

/// Whether `actor` may attach photos to `incident`: whoever reported it, grid workers of
/// its grid, the department it is dispatched to (feedback photos), and the center's
/// dispatchers and duty officers who may see it. Not the wall, engineers or admins.
pub fn may_attach(actor: &Actor, incident: &Incident) -> bool {
    if super::is_reporter(actor, incident) {
        return true;
    }
    match actor.role {
        Role::GridWorker => incident
            .location
            .grid
            .as_ref()
            .is_some_and(|g| actor.grids.contains(g)),
        Role::Department => {
            actor.department.is_some() && actor.department == incident.handling.department
        }
        Role::Dispatcher | Role::DutyOfficer => {
            crate::incidents::lifecycle::may_see(actor, incident)
        }
        _ => false,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("a photo may be at most {max} bytes")]
    TooLarge { max: usize },
    #[error("not a JPEG, PNG or WebP image (judged by its content, not its name or type)")]
    NotAnImage,
    #[error("an incident may have at most {max} photos")]
    TooMany { max: u32 },
    #[error("cannot store the photo: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PhotoError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "photo_too_large",
            Self::NotAnImage => "not_an_image",
            Self::TooMany { .. } => "too_many_photos",
            Self::Io(_) => "io",
            Self::Store(_) => "store",
        }
    }
}

/// A photo being received into a temporary file of the photo directory. Dropped before
/// [`Reports::attach`] takes it, its file is removed.
pub struct Upload {
    path: PathBuf,
    file: Option<tokio::fs::File>,
    hasher: Sha256,
    size: usize,
    max: usize,
    head: Vec<u8>,
    kind: Option<ImageKind>,
    kept: bool,
}

impl Upload {
    /// Starts receiving a photo of at most `max` bytes into `dir`.
    pub async fn start(dir: &Path, max: usize) -> Result<Self, PhotoError> {
        let path = dir.join(format!(".upload-{}.part", uuid::Uuid::now_v7()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(Self {
            path,
            file: Some(file),
            hasher: Sha256::new(),
            size: 0,
            max,
            head: Vec::with_capacity(HEAD),
            kind: None,
            kept: false,
        })
    }

    /// Appends the next bytes; `TooLarge` as soon as the photo passes the limit. The
    /// first bytes must already look like an image: a text file is refused before it has
    /// been written out.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), PhotoError> {
        self.size += chunk.len();
        if self.size > self.max {
            return Err(PhotoError::TooLarge { max: self.max });
        }
        if self.head.len() < HEAD {
            let take = (HEAD - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            if self.head.len() == HEAD && ImageKind::sniff(&self.head).is_none() {
                return Err(PhotoError::NotAnImage);
            }
        }
        self.hasher.update(chunk);
        let file = self.file.as_mut().ok_or(PhotoError::NotAnImage)?;
        file.write_all(chunk).await?;
        Ok(())
    }

    /// Ends the photo: its bytes must be an image; they are synced to disk.
    pub async fn finish(&mut self) -> Result<ImageKind, PhotoError> {
        let kind = ImageKind::sniff(&self.head).ok_or(PhotoError::NotAnImage)?;
        if let Some(mut file) = self.file.take() {
            file.flush().await?;
            file.sync_all().await?;
        }
        self.kind = Some(kind);
        Ok(kind)
    }

    pub fn size(&self) -> usize {
        self.size
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.kept {
            // Best effort: a leftover `.upload-*.part` file is harmless and never served.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Reports {
    /// Stores a finished upload as a photo of `incident` by `actor` at `now`: moves it to
    /// its final name and records it (with its `attached` event). `TooMany` when the
    /// incident already has the most photos allowed; a store refusal removes the file.
    pub async fn attach(
        &self,
        store: &SharedStore,
        incident: IncidentId,
        actor: &Actor,
        mut upload: Upload,
        now: Timestamp,
    ) -> Result<Attachment, PhotoError> {
        let kind = match upload.kind {
            Some(kind) => kind,
            None => upload.finish().await?,
        };
        let id = AttachmentId::new_v7();
        let file = format!("{id}.{}", kind.extension());
        let path = self.photo_dir.join(&file);
        tokio::fs::rename(&upload.path, &path).await?;
        upload.kept = true;
        let attachment = Attachment {
            id,
            incident,
            kind: PHOTO.to_owned(),
            content_type: kind.content_type().to_owned(),
            size: i64::try_from(upload.size).unwrap_or(i64::MAX),
            sha256: upload
                .hasher
                .clone()
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            file,
            uploaded_by: actor.log_name(),
            at: now,
        };
        match store.add_attachment(&attachment, self.max_photos).await {
            Ok(()) => {
                tracing::info!(%incident, attachment = %id, size = upload.size, "photo attached");
                Ok(attachment)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&path).await;
                // A conflict is either the limit (reached by a concurrent upload) or a
                // final incident; the count tells which.
                if let StoreError::Conflict(_) = e {
                    let has = store.attachments(incident).await?;
                    let photos = has.iter().filter(|a| a.kind == PHOTO).count();
                    if photos >= self.max_photos as usize {
                        return Err(PhotoError::TooMany {
                            max: self.max_photos,
                        });
                    }
                }
                Err(PhotoError::Store(e))
            }
        }
    }

    /// Where an attachment's bytes are, if its stored name is one the server could have
    /// made (a plain file name: never a path). Anything else is treated as missing.
    pub fn photo_path(&self, a: &Attachment) -> Option<PathBuf> {
        let plain = !a.file.is_empty()
            && !a.file.starts_with('.')
            && a.file
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        plain.then(|| self.photo_dir.join(&a.file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_recognised_by_their_bytes() {
        assert_eq!(
            ImageKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]),
            Some(ImageKind::Jpeg)
        );
        assert_eq!(
            ImageKind::sniff(b"\x89PNG\r\n\x1a\n\0\0\0\x0d"),
            Some(ImageKind::Png)
        );
        assert_eq!(
            ImageKind::sniff(b"RIFF\x24\0\0\0WEBPVP8 "),
            Some(ImageKind::Webp)
        );
        assert_eq!(ImageKind::sniff(b"RIFF\x24\0\0\0WAVEfmt "), None);
        assert_eq!(ImageKind::sniff(b"hello, this is text"), None);
        assert_eq!(
            ImageKind::sniff(b"<svg xmlns="),
            None,
            "SVG can carry script"
        );
        assert_eq!(ImageKind::sniff(b""), None);
    }

    #[tokio::test]
    async fn uploads_are_bounded_checked_and_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        let files = || std::fs::read_dir(dir.path()).unwrap().count();

        let mut big = Upload::start(dir.path(), 16).await.unwrap();
        big.write(b"\x89PNG\r\n\x1a\n").await.unwrap();
        assert!(matches!(
            big.write(&[0; 9]).await,
            Err(PhotoError::TooLarge { max: 16 })
        ));
        drop(big);
        assert_eq!(files(), 0, "a refused upload leaves no file");

        let mut text = Upload::start(dir.path(), 1024).await.unwrap();
        assert!(matches!(
            text.write(b"just some text, not a picture").await,
            Err(PhotoError::NotAnImage)
        ));
        drop(text);
        let mut short = Upload::start(dir.path(), 1024).await.unwrap();
        short.write(b"\xFF\xD8").await.unwrap();
        assert!(matches!(short.finish().await, Err(PhotoError::NotAnImage)));
        drop(short);
        assert_eq!(files(), 0);

        let mut png = Upload::start(dir.path(), 1024).await.unwrap();
        png.write(b"\x89PNG\r\n").await.unwrap();
        png.write(b"\x1a\n\0\0\0\x0dIHDR").await.unwrap();
        assert_eq!(png.finish().await.unwrap(), ImageKind::Png);
        assert_eq!(png.size(), 16);
    }
}
