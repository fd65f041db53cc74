package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/smartlead-etl/smartlead-etl/internal/diskfull"
)

// probeName is the scratch file recover writes to find out whether the
// disk takes writes again. Segments ignores it (not a segment name).
const probeName = ".probe"

// probeSize is what recover must be able to write and fsync before it
// accepts appends again: more than a typical delivery, so that a disk
// with a few bytes free does not flap between ready and broken on every
// delivery.
const probeSize = 64 << 10

var zeros = make([]byte, probeSize)

// failure marks err, about path, as a disk-full error when it is one,
// saying what the receiver does meanwhile.
func (w *Writer) failure(err error, path string) error {
	return diskfull.Wrap("webhook spool", path, "deliveries are refused (503) until a write succeeds again", err)
}

// setBroken records that appends are refused because of err (the first
// failure's time is kept while it lasts).
func (w *Writer) setBroken(err error) {
	w.mu.Lock()
	first := w.broken == nil
	w.broken = err
	w.stats.Failures++
	if first {
		w.brokenSince = time.Now()
	}
	w.mu.Unlock()
	if first && w.notify != nil {
		w.notify(err)
	}
}

// recover makes the writer accept appends again after a failed write or
// fsync: it seals the broken segment at its last synced record, checks
// that the disk takes a write and an fsync again (probe), and starts a new
// segment. It returns why not when a step fails; the loop tries again
// later. Records acknowledged before the failure are in the sealed
// segment, untouched; the failed batch was answered with an error and
// is not in any segment once the seal succeeds.
func (w *Writer) recover() error {
	if w.f != nil {
		if err := w.seal(); err != nil {
			return err
		}
	}
	if err := w.probe(); err != nil {
		return err
	}
	if err := w.rotate(); err != nil {
		return err
	}
	w.mu.Lock()
	w.broken, w.brokenSince = nil, time.Time{}
	w.stats.Recoveries++
	w.mu.Unlock()
	if w.notify != nil {
		w.notify(nil)
	}
	return nil
}

// seal cuts the current segment back to its last good record (a failed
// write may have left part of a batch after it) and syncs it. The segment
// is never appended to again: once the next one exists it is sealed for
// readers too. On failure the segment stays current, to be sealed by a
// later attempt.
func (w *Writer) seal() error {
	path := filepath.Join(w.dir, w.name)
	if err := w.f.Truncate(w.size); err != nil {
		return w.failure(fmt.Errorf("spool: seal %s: %w", path, err), path)
	}
	if err := w.sync(w.f); err != nil {
		return w.failure(fmt.Errorf("spool: seal %s: fsync: %w", path, err), path)
	}
	w.mu.Lock()
	f := w.f
	w.f = nil
	w.mu.Unlock()
	_ = f.Close()
	return nil
}

// probe writes and fsyncs probeSize bytes to a scratch file, then removes
// it.
func (w *Writer) probe() error {
	path := filepath.Join(w.dir, probeName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return w.failure(fmt.Errorf("spool: %w", err), path)
	}
	_, err = w.write(f, zeros)
	if err == nil {
		err = w.sync(f)
	}
	err = errors.Join(err, f.Close(), os.Remove(path))
	if err != nil {
		return w.failure(fmt.Errorf("spool: the disk still refuses writes: %w", err), path)
	}
	return nil
}

// Health returns nil when appends are accepted; otherwise the failure
// that makes the writer refuse them, and since when. A broken writer
// tries to recover every Options.RetryEvery.
func (w *Writer) Health() (since time.Time, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.brokenSince, w.broken
}
