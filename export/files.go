package export

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/smartlead-etl/smartlead-etl/internal/privfile"
)

func randomHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// removeStaleTmp deletes staging directories a crashed export left behind
// (the caller holds the export lock, so none is in use).
func removeStaleTmp(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), exportTmpPrefix) {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// syncAndHash fsyncs a written file and returns its SHA-256 in hex.
func syncAndHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// exchange is exchangeDirs; tests replace it to cover systems without an
// atomic exchange.
var exchange = exchangeDirs

// swapPartition puts the staged directory at dst. When dst exists the two
// are exchanged in one step where the system can (exchangeDirs), else dst
// is moved aside first; the old contents end up under tmp and are removed.
func swapPartition(staged, dst, tmp string) error {
	parent := filepath.Dir(dst)
	if err := privfile.MkdirAll(parent); err != nil {
		return err
	}
	if _, err := os.Lstat(dst); errors.Is(err, os.ErrNotExist) {
		if err := os.Rename(staged, dst); err != nil {
			return err
		}
		return privfile.SyncDir(parent)
	}
	swapped, err := exchange(staged, dst)
	if err != nil {
		return err
	}
	if !swapped {
		old := filepath.Join(tmp, "old-"+randomHex())
		if err := os.Rename(dst, old); err != nil {
			return err
		}
		if err := os.Rename(staged, dst); err != nil {
			// Put the old partition back rather than leave none.
			return errors.Join(err, os.Rename(old, dst))
		}
		staged = old
	}
	if err := privfile.SyncDir(parent); err != nil {
		return err
	}
	return os.RemoveAll(staged)
}

// writeManifest is writeManifestFile; tests replace it to fail as a
// full disk does.
var writeManifest = writeManifestFile

// writeManifestFile writes m as indented JSON to path, atomically.
func writeManifestFile(path string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return privfile.WriteFile(path, append(b, '\n'))
}
