package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

var benchLeads = flag.Int("load.leads", 1_000_000, "synthetic leads loaded by BenchmarkLoadLeads (-short: 20,000)")

// Settings both loaders run under, so that the comparison is DuckDB
// against DuckDB plus Go, on the same budget.
const (
	benchPageSize  = 100
	benchCampaigns = 100
)

// writeLeadPages writes n synthetic leads as leads pages exactly as
// GET /campaigns/{id}/leads returns them (total_leads as a string,
// nested lead object, custom_fields), twice: one page per line, one file
// per campaign (dir/campaign_<id>.ndjson), and one file per page as the
// API returned it (dir/pages/campaign_<id>/offset_<n>.json), the raw
// pages a user would point read_json at.
func writeLeadPages(dir string, n int) error {
	perCampaign := (n + benchCampaigns - 1) / benchCampaigns
	written := 0
	var page bytes.Buffer
	for c := 0; c < benchCampaigns && written < n; c++ {
		cid := int64(3_000_000 + c)
		total := min(perCampaign, n-written)
		pages := filepath.Join(dir, "pages", fmt.Sprintf("campaign_%d", cid))
		if err := os.MkdirAll(pages, 0o755); err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("campaign_%d.ndjson", cid)))
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		for off := 0; off < total; off += benchPageSize {
			page.Reset()
			fmt.Fprintf(&page, `{"total_leads":"%d","offset":%d,"limit":%d,"data":[`, total, off, benchPageSize)
			for i := off; i < min(off+benchPageSize, total); i++ {
				if i > off {
					page.WriteByte(',')
				}
				writeLead(&page, cid, int64(written+i))
			}
			page.WriteString("]}")
			if err := os.WriteFile(filepath.Join(pages, fmt.Sprintf("offset_%07d.json", off)), page.Bytes(), 0o644); err != nil {
				f.Close()
				return err
			}
			w.Write(page.Bytes())
			w.WriteByte('\n')
		}
		written += total
		if err := errors.Join(w.Flush(), f.Close()); err != nil {
			return err
		}
	}
	return nil
}

var benchStatuses = []string{"STARTED", "INPROGRESS", "COMPLETED", "PAUSED", "STOPPED"}

func writeLead(w io.Writer, cid, k int64) {
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(k) * 37 * time.Second)
	category := "null"
	if k%3 == 0 {
		category = strconv.FormatInt(k%7, 10)
	}
	phone := `null`
	if k%2 == 0 {
		phone = fmt.Sprintf(`"+1555%07d"`, k%10_000_000)
	}
	fmt.Fprintf(w, `{"campaign_lead_map_id":%d,"lead_category_id":%s,"status":"%s","created_at":"%s",`+
		`"lead":{"id":%d,"first_name":"First%d","last_name":"Last%d","email":"lead%d@example%d.com",`+
		`"phone_number":%s,"company_name":"Company %d","website":"https://company%d.example.com",`+
		`"location":"City %d, Country","linkedin_profile":"https://linkedin.com/in/lead%d",`+
		`"company_url":"https://company%d.example.com/about","custom_fields":{"job_title":"Title %d","industry":"Industry %d"},`+
		`"is_unsubscribed":%t,"unsubscribed_client_id_map":null}}`,
		2_400_000_000+k, category, benchStatuses[k%5], created.Format("2006-01-02T15:04:05.000Z"),
		2_900_000_000+k, k, k, k, k%97, phone, k%5000, k%5000, k%300, k, k%5000, k%40, k%12, k%50 == 0)
}

// splitLeadsPage reads a leads page's envelope in one pass and returns
// total_leads, offset and the raw records (aliasing page). Only the
// envelope is parsed; each record is checked by the lead decoder. It is
// the benchmark's stand-in for the extractor's envelope decoding, which
// with encoding/json (validate, then decode) costs several times what
// decoding the leads does.
func splitLeadsPage(page []byte) (total int64, offset int, records []json.RawMessage, err error) {
	i := skipSpace(page, 0)
	if i >= len(page) || page[i] != '{' {
		return 0, 0, nil, errors.New("page is not a JSON object")
	}
	i++
	for {
		i = skipSpace(page, i)
		if i < len(page) && page[i] == '}' {
			return total, offset, records, nil
		}
		ks := i
		if i, err = skipValue(page, i); err != nil {
			return 0, 0, nil, err
		}
		key := string(bytes.Trim(page[ks:i], `"`))
		i = skipSpace(page, i)
		if i >= len(page) || page[i] != ':' {
			return 0, 0, nil, fmt.Errorf("missing ':' after %q", key)
		}
		i = skipSpace(page, i+1)
		vs := i
		if key == "data" && i < len(page) && page[i] == '[' {
			for i = skipSpace(page, i+1); i < len(page) && page[i] != ']'; {
				rs := i
				if i, err = skipValue(page, i); err != nil {
					return 0, 0, nil, err
				}
				records = append(records, page[rs:i])
				if i = skipSpace(page, i); i < len(page) && page[i] == ',' {
					i = skipSpace(page, i+1)
				}
			}
			i++
		} else if i, err = skipValue(page, i); err != nil {
			return 0, 0, nil, err
		}
		switch key {
		case "total_leads":
			if total, err = strconv.ParseInt(string(bytes.Trim(page[vs:i], `"`)), 10, 64); err != nil {
				return 0, 0, nil, fmt.Errorf("total_leads: %w", err)
			}
		case "offset":
			if offset, err = strconv.Atoi(string(page[vs:i])); err != nil {
				return 0, 0, nil, fmt.Errorf("offset: %w", err)
			}
		}
		if i = skipSpace(page, i); i < len(page) && page[i] == ',' {
			i++
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just after the JSON value starting at i.
func skipValue(b []byte, i int) (int, error) {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if i >= len(b) {
				return 0, errors.New("unterminated string")
			}
			if depth == 0 {
				return i + 1, nil
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
			if depth < 0 {
				return 0, errors.New("unbalanced brackets")
			}
		case ',', ' ', '\n', '\t', '\r':
			if depth == 0 {
				return i, nil
			}
		}
	}
	if depth != 0 {
		return 0, errors.New("unterminated value")
	}
	return i, nil
}

// loadLeadPages is the Go load path under test, as run drives it: the
// plan queues each campaign's first page (SetPlan), one goroutine reads
// and decodes pages (envelope, then transform.FromPage, which calls the
// lead decoder per record) while the calling goroutine, which owns the
// run's Appenders, hands each page over with CompleteItem, queueing the
// next page of its campaign, exactly as the pipeline's emit does.
func loadLeadPages(ctx context.Context, s *Store, dir string) (*Summary, error) {
	r, err := s.BeginRun(ctx, RunStart{SnapshotDate: t0})
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "campaign_*.ndjson"))
	if err != nil {
		return nil, err
	}
	var first []extract.Item
	for _, name := range files {
		cid, err := campaignOfFile(name)
		if err != nil {
			return nil, err
		}
		first = append(first, extract.Item{Stream: extract.StreamLeads, CampaignID: cid})
	}
	if err := r.SetPlan(ctx, ModeFull, first, nil); err != nil {
		return nil, err
	}
	pending, err := r.PendingItems(ctx)
	if err != nil {
		return nil, err
	}
	seqOf := map[int64]int64{} // campaign -> seq of its next page
	for _, w := range pending {
		seqOf[w.Item.CampaignID] = w.Seq
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan pageBatch, 8)
	decodeErr := make(chan error, 1)
	go func() {
		defer close(pages)
		decodeErr <- decodePages(ctx, files, pages)
	}()
	var werr error
	for p := range pages {
		if werr != nil {
			continue
		}
		cid := p.item.CampaignID
		var next *extract.Item
		if off := p.item.Offset + benchPageSize; int64(off) < p.total {
			next = &extract.Item{Stream: extract.StreamLeads, CampaignID: cid, Offset: off}
		}
		seq, err := r.CompleteItem(ctx, seqOf[cid], p.batch, next)
		if err != nil {
			werr = err
			cancel()
			continue
		}
		seqOf[cid] = seq
	}
	if err := errors.Join(werr, <-decodeErr); err != nil {
		return nil, errors.Join(err, r.Abort(ctx, StatusFailed, err, Counters{}))
	}
	return r.Commit(ctx, Counters{})
}

// pageBatch is one decoded page: its item, the total it states and its rows.
type pageBatch struct {
	item  extract.Item
	total int64
	batch transform.Batch
}

func campaignOfFile(name string) (int64, error) {
	return strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(name), "campaign_"), ".ndjson"), 10, 64)
}

func decodePages(ctx context.Context, files []string, out chan<- pageBatch) error {
	for _, name := range files {
		cid, err := campaignOfFile(name)
		if err != nil {
			return err
		}
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		br := bufio.NewReaderSize(f, 1<<20)
		for {
			line, err := br.ReadBytes('\n')
			if errors.Is(err, io.EOF) && len(line) == 0 {
				break
			}
			if err != nil && !errors.Is(err, io.EOF) {
				f.Close()
				return err
			}
			total, offset, records, err := splitLeadsPage(line)
			if err != nil {
				f.Close()
				return fmt.Errorf("%s: %w", name, err)
			}
			page := extract.Page{Item: extract.Item{Stream: extract.StreamLeads, CampaignID: cid, Offset: offset},
				Records: records, Total: total}
			select {
			case out <- pageBatch{item: page.Item, total: total, batch: transform.FromPage(page)}:
			case <-ctx.Done():
				f.Close()
				return ctx.Err()
			}
		}
		f.Close()
	}
	return nil
}

// readJSONColumns types the leads page for read_json, so that it yields
// the same typed columns as the Go path without sampling.
const readJSONColumns = `{total_leads: 'VARCHAR', "offset": 'BIGINT', "limit": 'BIGINT', data: 'STRUCT(
	campaign_lead_map_id BIGINT, lead_category_id BIGINT, status VARCHAR, created_at TIMESTAMPTZ,
	lead STRUCT(id BIGINT, first_name VARCHAR, last_name VARCHAR, email VARCHAR, phone_number VARCHAR,
		company_name VARCHAR, website VARCHAR, location VARCHAR, linkedin_profile VARCHAR, company_url VARCHAR,
		custom_fields JSON, is_unsubscribed BOOLEAN))[]'}`

// The read_json baselines, each a way to ingest the same leads into a
// table shaped like leads_history.
const (
	// rjNDJSON reads the pages one per line, one file per campaign,
	// detecting the types itself.
	rjNDJSON = "read_json"
	// rjNDJSONTyped reads the same files with the types given
	// (readJSONColumns): DuckDB's best case.
	rjNDJSONTyped = "read_json_typed"
	// rjRawPages reads the pages as the API returned them, one JSON file
	// per page, with read_json's defaults: what a user would run.
	rjRawPages = "read_json_raw_pages"
)

// readJSONLoad ingests the benchmark's pages with DuckDB's read_json the
// way kind says into a table shaped like leads_history.
func readJSONLoad(ctx context.Context, s *Store, dir, kind string) (int64, error) {
	if _, err := s.DB().ExecContext(ctx, `CREATE OR REPLACE TABLE leads_read_json AS SELECT * FROM leads_history LIMIT 0`); err != nil {
		return 0, err
	}
	source, custom := `read_json(?, format = 'newline_delimited', filename = true)`, `to_json(d.lead.custom_fields)`
	glob := filepath.Join(dir, "campaign_*.ndjson")
	switch kind {
	case rjNDJSON:
	case rjNDJSONTyped:
		source, custom = `read_json(?, format = 'newline_delimited', filename = true, columns = `+readJSONColumns+`)`, `d.lead.custom_fields`
	case rjRawPages:
		source, glob = `read_json(?, filename = true)`, filepath.Join(dir, "pages", "campaign_*", "*.json")
	default:
		return 0, fmt.Errorf("unknown read_json load %q", kind)
	}
	res, err := s.DB().ExecContext(ctx, `INSERT INTO leads_read_json
		SELECT 'read_json', DATE '2026-11-27', now(), d.campaign_lead_map_id, d.lead.id,
			regexp_extract(filename, 'campaign_(\d+)', 1)::BIGINT, d.lead.email, d.lead.first_name, d.lead.last_name,
			d.lead.company_name, d.lead.phone_number, d.lead.website, d.lead.location, d.lead.linkedin_profile,
			d.lead.company_url, d.status, d.lead_category_id, d.created_at, d.lead.is_unsubscribed, `+custom+`
		FROM (SELECT filename, unnest(data) AS d FROM `+source+`)`, glob)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// benchOptions are the Store settings of both measured loads.
func benchOptions() Options { return Options{Threads: 2} }

// loadResult is what a measuring child process reports.
type loadResult struct {
	Rows       int64   `json:"rows"`
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"` // user + system, all threads
	MaxRSS     int64   `json:"max_rss_bytes"`
	GoSys      uint64  `json:"go_sys_bytes"` // memory the Go runtime obtained: the rest of MaxRSS is DuckDB's
}

// helperLoad is the child side of BenchmarkLoadLeads: it runs one load
// ("go" or "read_json") of the pages in LOAD_BENCH_DIR into a fresh
// warehouse and prints a loadResult. A process per load makes the peak
// RSS its own. LOAD_BENCH_KIND, when set, names the load instead of the
// helper role (which only knows the first read_json baselines).
func helperLoad(kind string) error {
	if k := os.Getenv("LOAD_BENCH_KIND"); k != "" {
		kind = k
	}
	dir := os.Getenv("LOAD_BENCH_DIR")
	ctx := context.Background()
	opts := benchOptions()
	if kind == rjRawPages {
		// DuckDB's defaults, as a user would run it: a thread per core and
		// 80% of the RAM (under the Store's default memory_limit read_json
		// runs out of memory on these files).
		var si syscall.Sysinfo_t
		if err := syscall.Sysinfo(&si); err != nil {
			return err
		}
		opts.Threads, opts.MemoryLimit = 0, fmt.Sprintf("%dMB", uint64(si.Totalram)*uint64(si.Unit)*8/10>>20)
	}
	s, err := Open(ctx, filepath.Join(dir, kind+".duckdb"), os.DirFS(os.Getenv("LOAD_SCHEMA_DIR")), opts)
	if err != nil {
		return err
	}
	var res loadResult
	start := time.Now()
	switch kind {
	case "go":
		var sum *Summary
		if sum, err = loadLeadPages(ctx, s, dir); err == nil {
			res.Rows = sum.Rows["leads"]
			if sum.Rejected > 0 || sum.Warnings > 0 {
				err = fmt.Errorf("load had %d rejected, %d warnings: %+v", sum.Rejected, sum.Warnings, sum.Checks)
			}
		}
	case rjNDJSON, rjNDJSONTyped, rjRawPages:
		res.Rows, err = readJSONLoad(ctx, s, dir, kind)
	default:
		err = fmt.Errorf("unknown load %q", kind)
	}
	// Closing checkpoints what the WAL still holds into the database file:
	// part of the load's cost, for both loaders.
	if err := errors.Join(err, s.Close()); err != nil {
		return err
	}
	res.Seconds = time.Since(start).Seconds()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return err
	}
	// The child's own peak (VmHWM), not ru_maxrss: os/exec starts it with
	// vfork, and exec folds the parent's peak into ru_maxrss.
	if res.MaxRSS, err = ownPeakRSS(); err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.GoSys = ms.Sys
	res.CPUSeconds = time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime)).Seconds()
	return json.NewEncoder(os.Stdout).Encode(res)
}

func runLoadChild(b *testing.B, kind, dir string) loadResult {
	b.Helper()
	schema, err := filepath.Abs("../sql/schema")
	require.NoError(b, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	role := "load-go"
	if kind != "go" {
		role = "load-" + rjNDJSON
	}
	cmd.Env = append(os.Environ(), helperEnv+"="+role, "LOAD_BENCH_KIND="+kind, "LOAD_BENCH_DIR="+dir, "LOAD_SCHEMA_DIR="+schema)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(b, err, "%s load: %s", kind, stderr.String())
	var res loadResult
	require.NoError(b, json.Unmarshal(out, &res), "%s", out)
	return res
}

// BenchmarkLoadLeads loads -load.leads synthetic leads (1,000,000 by
// default) from raw leads pages, once through this package (decode +
// Appender + commit + close) and once per read_json baseline (NDJSON with
// types detected, NDJSON with types given, and the raw pages one file per
// page with read_json's defaults), each in its own process, and reports
// the throughputs, ratios, CPU time and each peak RSS.
func BenchmarkLoadLeads(b *testing.B) {
	n := *benchLeads
	if testing.Short() {
		n = 20_000
	}
	dir, small := b.TempDir(), b.TempDir()
	require.NoError(b, writeLeadPages(dir, n))
	require.NoError(b, writeLeadPages(small, n/5))
	var goRes, smallRes, rjRes, rtRes, rpRes loadResult
	for b.Loop() {
		goRes = runLoadChild(b, "go", dir)
		smallRes = runLoadChild(b, "go", small)
		rjRes = runLoadChild(b, rjNDJSON, dir)
		rtRes = runLoadChild(b, rjNDJSONTyped, dir)
		rpRes = runLoadChild(b, rjRawPages, dir)
	}
	for _, r := range []loadResult{goRes, rjRes, rtRes, rpRes} {
		require.Equal(b, int64(n), r.Rows)
	}
	// Memory stays flat in the account's size: the same path on a fifth
	// of the leads.
	b.ReportMetric(float64(goRes.MaxRSS)/float64(smallRes.MaxRSS), "x-peak-vs-fifth")
	b.Logf("the path run uses (CompleteItem per page of %d, each flushed and checked off, then commit): %d leads %.2fs, %.0f rows/s, peak RSS %d MB; "+
		"%d leads %.2fs, %.0f rows/s, peak RSS %d MB; peak RSS ratio %.2fx",
		benchPageSize, n, goRes.Seconds, float64(n)/goRes.Seconds, goRes.MaxRSS>>20,
		n/5, smallRes.Seconds, float64(n/5)/smallRes.Seconds, smallRes.MaxRSS>>20, float64(goRes.MaxRSS)/float64(smallRes.MaxRSS))
	goRate, rjRate := float64(n)/goRes.Seconds, float64(n)/rjRes.Seconds
	b.ReportMetric(goRate, "rows/s")
	b.ReportMetric(float64(goRes.MaxRSS)/(1<<20), "peak-MB")
	b.ReportMetric(rjRate, "read_json-rows/s")
	b.ReportMetric(float64(rjRes.MaxRSS)/(1<<20), "read_json-peak-MB")
	b.ReportMetric(goRate/rjRate, "x-read_json")
	b.ReportMetric(rjRes.CPUSeconds/goRes.CPUSeconds, "x-read_json-cpu")
	b.Logf("%d leads: Go %.2fs (%.0f rows/s, %.2f CPU-s, peak RSS %d MB); read_json over NDJSON %.2fs (%.0f rows/s, %.2f CPU-s, peak RSS %d MB); ratio %.2fx (CPU %.2fx)",
		n, goRes.Seconds, goRate, goRes.CPUSeconds, goRes.MaxRSS>>20, rjRes.Seconds, rjRate, rjRes.CPUSeconds, rjRes.MaxRSS>>20,
		goRate/rjRate, rjRes.CPUSeconds/goRes.CPUSeconds)
	rtRate := float64(n) / rtRes.Seconds
	b.ReportMetric(goRate/rtRate, "x-read_json_typed")
	b.Logf("read_json over NDJSON with the columns given: %.2fs (%.0f rows/s, %.2f CPU-s, peak RSS %d MB); ratio %.2fx (CPU %.2fx)",
		rtRes.Seconds, rtRate, rtRes.CPUSeconds, rtRes.MaxRSS>>20, goRate/rtRate, rtRes.CPUSeconds/goRes.CPUSeconds)
	rpRate := float64(n) / rpRes.Seconds
	b.ReportMetric(rpRes.Seconds, "read_json_raw_pages-s")
	b.ReportMetric(rpRate, "read_json_raw_pages-rows/s")
	b.ReportMetric(float64(rpRes.MaxRSS)/(1<<20), "read_json_raw_pages-peak-MB")
	b.ReportMetric(goRate/rpRate, "x-read_json_raw_pages")
	b.Logf("read_json over the raw pages (one file per page, defaults): %.2fs (%.0f rows/s, %.2f CPU-s, peak RSS %d MB); ratio %.2fx (CPU %.2fx)",
		rpRes.Seconds, rpRate, rpRes.CPUSeconds, rpRes.MaxRSS>>20, goRate/rpRate, rpRes.CPUSeconds/goRes.CPUSeconds)
}

// TestLeadPagesLoadLikeReadJSON runs every load path of the benchmark on a
// few thousand leads and finds the same rows: the benchmark compares
// equal work, and the Go path loses nothing.
func TestLeadPagesLoadLikeReadJSON(t *testing.T) {
	dir := t.TempDir()
	const n = 3_050
	require.NoError(t, writeLeadPages(dir, n))
	s, _ := openTest(t, Options{})
	sum, err := loadLeadPages(t.Context(), s, dir)
	require.NoError(t, err)
	require.Equal(t, int64(n), sum.Rows["leads"])
	require.Zero(t, sum.Rejected)
	require.Zero(t, sum.Warnings, "%+v", sum.Checks)
	cols := strings.Join(tLeads.cols, ", ")
	for _, kind := range []string{rjNDJSON, rjNDJSONTyped, rjRawPages} {
		got, err := readJSONLoad(t.Context(), s, dir, kind)
		require.NoError(t, err)
		require.Equal(t, int64(n), got)
		for _, q := range []string{
			"SELECT " + cols + " FROM leads EXCEPT ALL SELECT " + cols + " FROM leads_read_json",
			"SELECT " + cols + " FROM leads_read_json EXCEPT ALL SELECT " + cols + " FROM leads",
		} {
			require.Empty(t, dumpRows(t, s.DB(), q), "%s: %s", kind, q)
		}
	}
	require.Equal(t, int64(n/3+1), count(t, s.DB(), "SELECT count(*) FROM leads WHERE lead_category_id IS NOT NULL"))
}

func TestSplitLeadsPage(t *testing.T) {
	page := []byte(` { "total_leads" : "42", "offset": 100, "limit": 100, "data": [ {"a":"x\"]}"}, {"b":[1,{"c":null}]} ,{} ], "x": {"y": [1]} }`)
	total, offset, recs, err := splitLeadsPage(page)
	require.NoError(t, err)
	require.Equal(t, int64(42), total)
	require.Equal(t, 100, offset)
	require.Equal(t, []json.RawMessage{json.RawMessage(`{"a":"x\"]}"}`), json.RawMessage(`{"b":[1,{"c":null}]}`), json.RawMessage(`{}`)}, recs)
	for _, bad := range []string{`[1]`, `{"data": [{"a": "x}]}`, `{"total_leads": "x", "data": []}`} {
		_, _, _, err := splitLeadsPage([]byte(bad))
		require.Error(t, err, bad)
	}
}

// ownPeakRSS is the process's peak resident set in bytes (VmHWM).
func ownPeakRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			_, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}
