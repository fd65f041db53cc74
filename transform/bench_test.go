package transform_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// benchLead is a lead as GET /campaigns/{id}/leads returns it, with the
// usual mix of strings, nulls and a small custom_fields object.
func benchLead(i int) []byte {
	return fmt.Appendf(nil, `{"campaign_lead_map_id":%d,"lead_category_id":null,"status":"INPROGRESS","created_at":"2025-11-25T12:54:54.000Z",`+
		`"lead":{"id":%d,"first_name":"John","last_name":"Doe","email":"john.doe.%d@example.com","phone_number":"+1234567890",`+
		`"company_name":"Acme Corp","website":"https://acme.com","location":"San Francisco, CA","linkedin_profile":"https://linkedin.com/in/johndoe",`+
		`"company_url":"https://acme.com","custom_fields":{"job_title":"CEO","industry":"Technology"},"is_unsubscribed":false,"unsubscribed_client_id_map":null}}`,
		2433664091+i, 2995276770+i, i)
}

func BenchmarkDecodeLead(b *testing.B) {
	raw := benchLead(1)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := transform.DecodeLead(2710262, raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFromPageLeads converts full 100-lead pages, as the loader
// does; ns/op is per page.
func BenchmarkFromPageLeads(b *testing.B) {
	p := extract.Page{Item: extract.Item{Stream: extract.StreamLeads, CampaignID: 2710262}, Total: -1}
	var size int64
	for i := range 100 {
		r := benchLead(i)
		size += int64(len(r))
		p.Records = append(p.Records, json.RawMessage(r))
	}
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		if bt := transform.FromPage(p); len(bt.Leads) != 100 {
			b.Fatal(bt.Rejected)
		}
	}
}

func BenchmarkRedact(b *testing.B) {
	raw := benchLead(1)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		transform.Redact(raw)
	}
}
