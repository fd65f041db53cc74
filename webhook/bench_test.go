package webhook

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/smartlead-etl/smartlead-etl/internal/spool"
)

// BenchmarkHandler is the receiver's CPU cost per delivery (decode,
// authenticate, spool with fsync), without the network.
func BenchmarkHandler(b *testing.B) {
	w, err := spool.Open(b.TempDir(), spool.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	h := NewHandler(w, secret, nil)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			body := fmt.Sprintf(`{"webhook_id":1,"event_type":"EMAIL_OPEN","event_timestamp":"2026-11-27T10:00:00.%03dZ","campaign_id":101,"campaign_name":"Load","sl_email_lead_map_id":%d,"sl_lead_email":"lead@example.com","stats_id":"st","sequence_number":1,"secret_key":%q}`, i%1000, i, secret)
			req := httptest.NewRequest(http.MethodPost, Path, strings.NewReader(body))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatal(rec.Code, rec.Body.String())
			}
		}
	})
}
