package webhook

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// helperEnv makes the test binary, re-executed, run a receiver process:
// DuckDB locks a database file per process, so a receiver that must
// contend with a run (or be killed) has to be a process of its own.
const helperEnv = "WEBHOOK_TEST_RECEIVER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(receiverMain())
	}
	os.Exit(m.Run())
}

// receiverMain serves on WEBHOOK_ADDR for WEBHOOK_DB until SIGTERM,
// printing "ready ADDR" once listening.
func receiverMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", os.Getenv("WEBHOOK_ADDR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	every, _ := time.ParseDuration(os.Getenv("WEBHOOK_MERGE_EVERY"))
	err = Serve(ctx, ln, Config{DB: os.Getenv("WEBHOOK_DB"), Schema: os.DirFS("../sql/schema"),
		Secret: os.Getenv("WEBHOOK_SECRET"), MergeEvery: every,
		Ready: func(a net.Addr) { fmt.Println("ready", a.String()) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// receiverProc is a receiver running as a child process.
type receiverProc struct {
	cmd    *exec.Cmd
	url    string
	stderr *strings.Builder
}

// startReceiverProc starts a receiver process on addr (":0" style for any
// port) and waits until it listens.
func startReceiverProc(t testing.TB, db, addr, sec string, mergeEvery time.Duration) *receiverProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "WEBHOOK_DB="+db, "WEBHOOK_ADDR="+addr,
		"WEBHOOK_SECRET="+sec, "WEBHOOK_MERGE_EVERY="+mergeEvery.String())
	p := &receiverProc{cmd: cmd, stderr: &strings.Builder{}}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
			p.url = "http://" + a
			go func() { // keep the pipe drained
				for sc.Scan() {
				}
			}()
			return p
		}
	}
	_ = cmd.Wait()
	t.Fatalf("receiver process ended before listening:\n%s", p.stderr)
	return nil
}

// stop sends SIGTERM and waits for a clean exit.
func (p *receiverProc) stop(t testing.TB) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, p.cmd.Wait(), p.stderr.String())
}

// kill sends SIGKILL and reaps the process.
func (p *receiverProc) kill(t testing.TB) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()
}
