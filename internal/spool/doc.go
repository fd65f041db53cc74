// Package spool is the webhook receiver's durable queue: append-only
// segment files in one directory (the warehouse path plus ".events",
// mode 0700; files 0600). A [Writer] appends records with group commit:
// every caller waiting at one moment shares one write and one fsync, and
// Append returns only once its record is on disk, which is when the
// receiver may answer 200. Readers ([Segments], [Read]) see only whole
// records: each is framed by its length and a CRC-32C, so a record torn
// by a crash mid-write is recognised and never read.
//
// Segment names carry a sequence number and a random tag
// (seg-0000000000000042-9f3a1c07.log). Only the newest segment is ever
// appended to, and a Writer starts a new one when it opens, so an older
// segment is sealed: it will never grow again and can be deleted once it
// has been merged. The random tag means a name is never reused, so a
// merge position recorded for a deleted segment can never be mistaken
// for one in a new file.
//
// A failed write or fsync (a full disk) breaks the writer: the segment's
// tail is then unknown, so every Append fails at once with that error
// (the receiver answers 503) and [Writer.Health] reports it. Every
// Options.RetryEvery the writer tries to recover: it truncates the broken
// segment back to its last synced record and syncs it (sealing it), checks
// that a write and an fsync succeed again, and starts a new segment; then
// appends succeed again. Acknowledged records are never touched; a record
// refused meanwhile is in no segment, and is stored when its sender
// retries.
//
// One Writer per directory: a lock file (writer.lock) held by the
// writing process makes a second receiver fail fast instead of
// interleaving segments.
package spool
