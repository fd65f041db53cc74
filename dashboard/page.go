package dashboard

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/smartlead-etl/smartlead-etl/internal/diskfull"
	"github.com/smartlead-etl/smartlead-etl/internal/privfile"
	"github.com/smartlead-etl/smartlead-etl/report"
)

// The page's parts. chart.umd.min.js is Chart.js as published on npm
// (assets/README.md says which version and how to update it).
var (
	//go:embed assets/chart.umd.min.js
	chartJS string
	//go:embed assets/page.js
	pageJS string
	//go:embed assets/page.css
	pageCSS string
	//go:embed assets/page.html
	pageBody string
)

// Generate reads the warehouse and returns the page.
func Generate(ctx context.Context, src report.Source, opts Options) ([]byte, error) {
	d, err := Collect(ctx, src, opts)
	if err != nil {
		return nil, err
	}
	return Render(d)
}

// Render writes d into the page: one HTML file holding every script, style
// and the data, viewable offline from file://.
func Render(d *Data) ([]byte, error) {
	data, err := json.Marshal(d) // escapes <, > and &: the block cannot be closed by data
	if err != nil {
		return nil, fmt.Errorf("dashboard: encode data: %w", err)
	}
	lib := stripSourceMap(chartJS)
	for name, s := range map[string]string{"chart.umd.min.js": lib, "page.js": pageJS, "page.css": pageCSS, "page.html": pageBody} {
		// A literal closing tag inside an inlined asset would end its
		// element early; the assets are ours, so this is a build mistake.
		low := strings.ToLower(s)
		if strings.Contains(low, "</script") || strings.Contains(low, "</style") || strings.Contains(low, "<!--") {
			return nil, fmt.Errorf("dashboard: asset %s holds a closing tag or comment opener and cannot be inlined", name)
		}
	}
	var b bytes.Buffer
	b.Grow(len(lib) + len(data) + 64<<10)
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	// Only the page's own two scripts may run (by hash), nothing may be
	// fetched: the page works offline and data can never become code.
	fmt.Fprintf(&b, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src %s %s; "+
		"style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\n", scriptHash(lib), scriptHash(pageJS))
	b.WriteString("<meta name=\"generator\" content=\"smartlead-etl dashboard\">\n<title>SmartLead dashboard</title>\n<style>\n")
	b.WriteString(pageCSS)
	b.WriteString("</style>\n</head>\n<body>\n")
	b.WriteString(pageBody)
	b.WriteString("<script type=\"application/json\" id=\"dashboard-data\">")
	b.Write(data)
	b.WriteString("</script>\n<script>")
	b.WriteString(lib)
	b.WriteString("</script>\n<script>")
	b.WriteString(pageJS)
	b.WriteString("</script>\n</body>\n</html>\n")
	return b.Bytes(), nil
}

// stripSourceMap drops the trailing sourceMappingURL comment, which would
// point developer tools at a file the page does not carry.
func stripSourceMap(js string) string {
	if i := strings.LastIndex(js, "\n//# sourceMappingURL="); i >= 0 {
		return js[:i+1]
	}
	return js
}

func scriptHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// WriteFile writes the page to path with mode 0600 (it holds campaign and
// mailbox data), replacing any file there only once the new one is
// complete and synced, so a reader never sees half a page.
func WriteFile(path string, page []byte) error {
	if err := privfile.WriteFile(path, page); err != nil {
		kept := "no page was written"
		if _, serr := os.Stat(path); serr == nil {
			kept = "the previous page is unchanged"
		}
		return diskfull.Wrap("dashboard", path, kept, fmt.Errorf("dashboard: write %s: %w", path, err))
	}
	return nil
}
