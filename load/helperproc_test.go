package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/transform"
)

// helperMain runs a helper-process role and returns the exit code.
func helperMain(role string) int {
	var err error
	switch role {
	case "load-go", "load-read_json", "load-read_json_typed":
		err = helperLoad(strings.TrimPrefix(role, "load-"))
	case "hold-lock":
		err = helperHoldLock()
	case "hold-read":
		err = helperHoldRead()
	case "crash-load":
		err = helperCrashLoad()
	case "crash-queue":
		err = helperCrashQueue()
	case "merge-events":
		err = helperMergeEvents()
	default:
		err = fmt.Errorf("unknown helper role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

// helperHoldLock opens the warehouse at LOAD_DB, says "locked", and holds
// it until its stdin closes.
func helperHoldLock() error {
	s, err := Open(context.Background(), os.Getenv("LOAD_DB"), os.DirFS(os.Getenv("LOAD_SCHEMA_DIR")), Options{})
	if err != nil {
		return err
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return s.Close()
}

// helperHoldRead opens the warehouse at LOAD_DB read-only, as query or
// report do, says "reading", and holds it until its stdin closes.
func helperHoldRead() error {
	s, err := OpenReadOnly(context.Background(), os.Getenv("LOAD_DB"), Options{LockWait: 5 * time.Second})
	if err != nil {
		return err
	}
	var n int64
	if err := s.DB().QueryRow(`SELECT count(*) FROM leads`).Scan(&n); err != nil {
		return err
	}
	fmt.Println("reading")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return s.Close()
}

// helperCrashLoad loads a snapshot of LOAD_LEADS leads into LOAD_DB in
// pages of 100. With LOAD_KILL_AT=staging it says "staging" once the
// first rows are durable, with LOAD_KILL_AT=commit "committing" inside the
// commit's warehouse transaction; either way it then blocks until the
// parent kills it, so that the kill lands exactly there.
func helperCrashLoad() error {
	ctx := context.Background()
	n, err := strconv.Atoi(os.Getenv("LOAD_LEADS"))
	if err != nil {
		return err
	}
	s, err := Open(ctx, os.Getenv("LOAD_DB"), os.DirFS(os.Getenv("LOAD_SCHEMA_DIR")), Options{})
	if err != nil {
		return err
	}
	r, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(2)})
	if err != nil {
		return err
	}
	if err := r.Write(ctx, fullBatch(2)); err != nil {
		return err
	}
	killAt := os.Getenv("LOAD_KILL_AT")
	block := func(say string) {
		fmt.Println(say)
		_, _ = io.Copy(io.Discard, os.Stdin) // until killed
	}
	if killAt == "commit" {
		testHookInCommit = func() { block("committing") }
	}
	announced := false
	for off := 0; off < n; off += 100 {
		b := transform.Batch{Leads: synthLeads(101, off, min(100, n-off))}
		if off == 0 {
			b.Totals = []transform.ReportedTotal{{Stream: "leads", CampaignID: 101, Total: int64(n)}}
		}
		if err := r.Write(ctx, b); err != nil {
			return err
		}
		if !announced && off+100 >= flushEvery {
			if err := r.flush(ctx); err != nil {
				return err
			}
			announced = true
			if killAt == "staging" {
				block("staging")
				return errors.New("not killed")
			}
		}
	}
	if _, err := r.Commit(ctx, Counters{}); err != nil {
		return err
	}
	return errors.New("not killed")
}

// helper is a running helper process.
type helper struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr *strings.Builder
}

// startHelper re-execs the test binary in role with env.
func startHelper(t *testing.T, role string, env ...string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + role, "LOAD_SCHEMA_DIR=../sql/schema"}, env...)...)
	h := &helper{cmd: cmd, stderr: &strings.Builder{}}
	cmd.Stderr = h.stderr
	var err error
	h.stdin, err = cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	h.lines = bufio.NewScanner(out)
	return h
}

// await reads the helper's stdout until it prints want.
func (h *helper) await(t *testing.T, want string) {
	t.Helper()
	for h.lines.Scan() {
		if h.lines.Text() == want {
			return
		}
	}
	_ = h.cmd.Wait()
	t.Fatalf("helper ended before saying %q: %v\n%s", want, h.lines.Err(), h.stderr)
}
