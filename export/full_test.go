package export

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/internal/fixture"
	"github.com/smartlead-etl/smartlead-etl/internal/tmpfs"
)

// sameAsManifest checks that dir holds exactly what its manifest.json
// lists, byte for byte (checksums), and nothing left over by a failed
// export (staging directory, lock file).
func sameAsManifest(t *testing.T, dir string, manifest []byte, filler string) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	require.NoError(t, err)
	require.Equal(t, string(manifest), string(got), "manifest.json unchanged")
	var m Manifest
	require.NoError(t, json.Unmarshal(got, &m))
	for _, tbl := range m.Tables {
		for _, f := range tbl.Files {
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
			require.NoError(t, err, f.Path)
			sum := sha256.Sum256(b)
			require.Equal(t, f.SHA256, hex.EncodeToString(sum[:]), f.Path)
		}
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if e.Name() != filepath.Base(filler) {
			require.False(t, strings.HasPrefix(e.Name(), "."), "left behind: %s", e.Name())
		}
	}
}

// TestExportOnFullDisk: on a real full filesystem (a tmpfs), whether the
// disk is full from the start or fills up while the export stages its
// files, the export fails with one line naming the file it could not
// write and saying the previous export is unchanged; the previous export
// is then still complete and consistent with its manifest, and the next
// export, once space is back, succeeds.
func TestExportOnFullDisk(t *testing.T) {
	f := fixture.New(t)
	dir := tmpfs.Mount(t, 4<<20)
	m, err := Export(t.Context(), f.Store.DB(), dir, Options{Now: f.Clock.Now})
	require.NoError(t, err)
	var size int64
	for _, tbl := range m.Tables {
		for _, fl := range tbl.Files {
			fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(fl.Path)))
			require.NoError(t, err)
			size += fi.Size()
		}
	}
	before, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	require.NoError(t, err)

	filler := tmpfs.Fill(t, dir)
	fi, err := os.Stat(filler)
	require.NoError(t, err)
	for _, free := range []int64{0, size / 2} {
		// Leave free bytes (whole pages): none, or half of what the
		// export needs, so that it fails part way through staging.
		require.NoError(t, os.Truncate(filler, max(fi.Size()-free, 0)))
		_, err := Export(t.Context(), f.Store.DB(), dir, Options{Now: f.Clock.Now, AllSnapshots: true})
		require.Error(t, err, "free %d", free)
		require.ErrorIs(t, err, syscall.ENOSPC)
		msg := err.Error()
		assert.True(t, strings.HasPrefix(msg, "export: disk full: no space left on the device for "+dir+"/"), msg)
		assert.True(t, strings.HasSuffix(msg, "; the previous export is unchanged"), msg)
		assert.NotContains(t, msg, "\n")
		t.Logf("free %d bytes: %s", free, msg)
		sameAsManifest(t, dir, before, filler)
	}
	require.NoError(t, os.Remove(filler))
	m, err = Export(t.Context(), f.Store.DB(), dir, Options{Now: f.Clock.Now, AllSnapshots: true})
	require.NoError(t, err)
	checkExport(t, f.Store, dir, m)
}

// TestExportFullAtTheManifest: the disk fills up after the Parquet files
// are staged, when the new manifest is written (an injected ENOSPC, so
// this runs without root): the export fails with the one line, and the
// previous export is untouched, since nothing was swapped yet.
func TestExportFullAtTheManifest(t *testing.T) {
	f := fixture.New(t)
	dir := filepath.Join(t.TempDir(), "lake")
	_, err := Export(t.Context(), f.Store.DB(), dir, Options{Now: f.Clock.Now})
	require.NoError(t, err)
	before, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	require.NoError(t, err)

	writeManifest = func(path string, _ *Manifest) error {
		return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
	}
	defer func() { writeManifest = writeManifestFile }()
	_, err = Export(t.Context(), f.Store.DB(), dir, Options{Now: f.Clock.Now, AllSnapshots: true})
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.Equal(t, "export: disk full: no space left on the device for "+dir+"; the previous export is unchanged", err.Error())
	sameAsManifest(t, dir, before, "")
}
