package spool

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/smartlead-etl/smartlead-etl/internal/lockfile"
	"github.com/smartlead-etl/smartlead-etl/internal/privfile"
)

// MaxRecord is the largest record accepted (the receiver caps bodies at
// 1 MB; a record is the body plus its decoded fields).
const MaxRecord = 8 << 20

// DefaultSegmentSize is when a Writer starts a new segment.
const DefaultSegmentSize = 64 << 20

// headerLen is a record's frame: 4 bytes length, 4 bytes CRC-32C.
const headerLen = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var segmentName = regexp.MustCompile(`^seg-(\d{16})-([0-9a-f]{8})\.log$`)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("spool: writer closed")

// Writer appends records to the newest segment of a spool directory. It
// is safe for concurrent use.
type Writer struct {
	dir     string
	lock    *lockfile.Lock
	segSize int64
	retry   time.Duration                           // between recovery attempts while broken
	notify  func(error)                             // Options.OnChange
	write   func(f *os.File, b []byte) (int, error) // f.Write; tests inject failures
	sync    func(f *os.File) error                  // f.Sync; likewise

	reqs chan *request
	quit chan struct{}
	done chan struct{}

	mu     sync.Mutex // guards closed and the fields the loop owns when read by Stats
	closed bool
	f      *os.File // nil once a broken segment is sealed, until the next one starts
	name   string
	seq    int64
	size   int64 // bytes of f written and synced: its last good record ends here
	stats  Stats
	// broken is why appends are refused (nil: they are not), since when.
	// After a failed write or fsync the segment's tail is unknown; the
	// loop keeps answering with this error until recover succeeds.
	broken      error
	brokenSince time.Time
}

// Stats counts what a Writer did.
type Stats struct {
	Records    int64 // records made durable
	Syncs      int64 // fsyncs (group commits)
	Bytes      int64
	Segment    string // the segment being appended to
	Failures   int64  // writes, fsyncs or new segments that failed
	Recoveries int64  // times appends were accepted again after a failure
}

type request struct {
	data []byte
	done chan error
}

// Options configure a Writer; zero values take the defaults.
type Options struct {
	SegmentSize int64 // start a new segment beyond this many bytes (DefaultSegmentSize)
	// RetryEvery is how often a writer whose last write or fsync failed
	// tries to recover (DefaultRetryEvery).
	RetryEvery time.Duration
	// OnChange, if set, is called (from the writer's goroutine) with the
	// error when appends start failing, and with nil when they succeed
	// again.
	OnChange func(err error)
}

// DefaultRetryEvery is how often a broken writer tries to recover.
const DefaultRetryEvery = time.Second

// Open creates dir (0700) if needed, takes its writer lock, and starts a
// new segment. It fails with an error matching lockfile.ErrHeld when
// another process is writing to dir.
func Open(dir string, opts Options) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", dir, err)
	}
	// MkdirAll leaves an existing directory's mode alone: make it private.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	lock, err := lockfile.Acquire(filepath.Join(dir, "writer.lock"))
	if errors.Is(err, lockfile.ErrHeld) {
		return nil, fmt.Errorf("spool %s: another receiver is writing to it: %w", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	w := &Writer{dir: dir, lock: lock, segSize: opts.SegmentSize, retry: opts.RetryEvery, notify: opts.OnChange,
		write: (*os.File).Write, sync: (*os.File).Sync,
		reqs: make(chan *request, 1024), quit: make(chan struct{}), done: make(chan struct{})}
	if w.segSize <= 0 {
		w.segSize = DefaultSegmentSize
	}
	if w.retry <= 0 {
		w.retry = DefaultRetryEvery
	}
	segs, err := Segments(dir)
	if err != nil {
		lock.Release()
		return nil, err
	}
	if len(segs) > 0 {
		w.seq = segs[len(segs)-1].Seq
	}
	if err := w.rotate(); err != nil {
		lock.Release()
		return nil, err
	}
	go w.loop()
	return w, nil
}

// Dir returns the spool directory.
func (w *Writer) Dir() string { return w.dir }

// Append writes rec and returns once it is on disk (fsynced), or with the
// error that prevented it. Records appended concurrently share one fsync.
// When ctx ends first the record may still be written; the caller must
// then treat it as not acknowledged.
func (w *Writer) Append(ctx context.Context, rec []byte) error {
	if len(rec) > MaxRecord {
		return fmt.Errorf("spool: record of %d bytes is larger than %d", len(rec), MaxRecord)
	}
	r := &request{data: rec, done: make(chan error, 1)}
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}
	select {
	case w.reqs <- r:
	case <-w.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns the counters.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	s.Segment = w.name
	return s
}

// Close writes what was appended before it, fsyncs, and releases the
// directory. Appends after Close fail with ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.quit)
	<-w.done
	var err error
	switch {
	case w.f == nil: // a broken segment, sealed already
	case w.broken != nil:
		// Best effort: the next writer starts a new segment anyway.
		if w.seal() != nil {
			_ = w.f.Close()
		}
	default:
		err = w.f.Close()
	}
	if lerr := w.lock.Release(); err == nil {
		err = lerr
	}
	return err
}

// maxBatch bounds one group commit, so one write stays a few MB at most.
const maxBatch = 512

func (w *Writer) loop() {
	defer close(w.done)
	var batch []*request
	var buf []byte
	retry := time.NewTimer(w.retry)
	retry.Stop()
	for {
		batch = batch[:0]
		select {
		case r := <-w.reqs:
			batch = append(batch, r)
		case <-retry.C:
			if err := w.recover(); err != nil {
				w.setBroken(err)
				retry.Reset(w.retry)
			}
			continue
		case <-w.quit:
			retry.Stop()
			// Drain what was queued before Close: those callers wait.
			for {
				select {
				case r := <-w.reqs:
					batch = append(batch, r)
					continue
				default:
				}
				break
			}
			if len(batch) > 0 {
				w.commit(batch, &buf)
			}
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-w.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		wasBroken := w.broken != nil
		w.commit(batch, &buf)
		if w.broken != nil && !wasBroken {
			retry.Reset(w.retry)
		}
	}
}

// commit writes a batch with one write and one fsync and answers every
// caller in it. While the writer is broken it answers with the failure at
// once: nothing is written until recover has sealed the segment.
func (w *Writer) commit(batch []*request, buf *[]byte) {
	err := w.broken
	if err == nil {
		b := (*buf)[:0]
		for _, r := range batch {
			b = appendRecord(b, r.data)
		}
		*buf = b
		path := filepath.Join(w.dir, w.name)
		if _, werr := w.write(w.f, b); werr != nil {
			err = w.failure(fmt.Errorf("spool: write %s: %w", path, werr), path)
		} else if serr := w.sync(w.f); serr != nil {
			err = w.failure(fmt.Errorf("spool: fsync %s: %w", path, serr), path)
		}
		if err != nil {
			w.setBroken(err)
		} else {
			w.mu.Lock()
			w.size += int64(len(b))
			w.stats.Records += int64(len(batch))
			w.stats.Syncs++
			w.stats.Bytes += int64(len(b))
			w.mu.Unlock()
		}
	}
	for _, r := range batch {
		r.done <- err
	}
	if w.broken == nil && w.size >= w.segSize {
		if rerr := w.rotate(); rerr != nil {
			w.setBroken(rerr)
		}
	}
}

// rotate starts the next segment. The old one, fully written and synced,
// is sealed from now on.
func (w *Writer) rotate() error {
	// The number is used up even if the segment cannot be made: two
	// segments never share one, whatever a failed attempt left.
	w.seq++
	name := fmt.Sprintf("seg-%016d-%08x.log", w.seq, rand.Uint32())
	path := filepath.Join(w.dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return w.failure(fmt.Errorf("spool: create segment: %w", err), path)
	}
	if err := privfile.SyncDir(w.dir); err != nil {
		f.Close()
		_ = os.Remove(path)
		return w.failure(fmt.Errorf("spool: fsync %s: %w", w.dir, err), w.dir)
	}
	w.mu.Lock()
	old := w.f
	w.f, w.name, w.size = f, name, 0
	w.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	return nil
}

func appendRecord(b, rec []byte) []byte {
	var h [headerLen]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(rec)))
	binary.LittleEndian.PutUint32(h[4:8], crc32.Checksum(rec, castagnoli))
	b = append(b, h[:]...)
	return append(b, rec...)
}

// Segment is one segment file.
type Segment struct {
	Name   string
	Seq    int64
	Size   int64
	Sealed bool // a newer segment exists: this one will never grow again
}

// Segments lists dir's segments, oldest first. A missing dir has none.
func Segments(dir string) ([]Segment, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("spool: list %s: %w", dir, err)
	}
	var out []Segment
	for _, e := range entries {
		m := segmentName.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			continue
		}
		seq, _ := strconv.ParseInt(m[1], 10, 64)
		info, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted since the listing
		}
		if err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
		out = append(out, Segment{Name: e.Name(), Seq: seq, Size: info.Size()})
	}
	slices.SortFunc(out, func(a, b Segment) int { return cmp.Compare(a.Seq, b.Seq) })
	for i := range out {
		out[i].Sealed = i < len(out)-1
	}
	return out, nil
}

// Read calls fn with each whole record of segment name from offset on,
// and end, the offset just after it. It stops at the end of the file or
// at the first record that is incomplete or fails its checksum (one
// being written now, or torn by a crash), returning the offset after the
// last whole record: the next Read starts there. A segment that was
// deleted meanwhile reads as empty.
func Read(dir, name string, offset int64, fn func(rec []byte, end int64) error) (int64, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return offset, nil
	}
	if err != nil {
		return offset, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return offset, fmt.Errorf("spool: %w", err)
	}
	r := bufio.NewReaderSize(f, 256<<10)
	var h [headerLen]byte
	for {
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return offset, nil // EOF, or a header cut short
		}
		n := binary.LittleEndian.Uint32(h[0:4])
		if n > MaxRecord {
			return offset, nil // not a header we wrote: a torn tail
		}
		rec := make([]byte, n)
		if _, err := io.ReadFull(r, rec); err != nil {
			return offset, nil
		}
		if crc32.Checksum(rec, castagnoli) != binary.LittleEndian.Uint32(h[4:8]) {
			return offset, nil
		}
		end := offset + headerLen + int64(n)
		if err := fn(rec, end); err != nil {
			return offset, err
		}
		offset = end
	}
}

// Remove deletes a segment (one that is sealed and fully merged).
func Remove(dir, name string) error {
	if !segmentName.MatchString(name) {
		return fmt.Errorf("spool: %q is not a segment name", name)
	}
	err := os.Remove(filepath.Join(dir, name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}
