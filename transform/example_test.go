package transform_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

func ExampleFromPage() {
	p := extract.Page{
		Item: extract.Item{Stream: extract.StreamLeads, CampaignID: 2710262},
		Records: []json.RawMessage{
			json.RawMessage(`{"campaign_lead_map_id": "2433664091", "status": "INPROGRESS",
				"created_at": "2023-09-25T17:29:11.618881+02:00",
				"lead": {"id": 2995276770, "email": "john@example.com", "custom_fields": {"job_title": "CEO"}}}`),
			json.RawMessage(`{"campaign_lead_map_id": 2433664092, "lead": {"id": "n/a", "email": "x@example.com"}}`),
		},
		Total: 42,
	}
	b := transform.FromPage(p)
	l := b.Leads[0]
	fmt.Println(l.CampaignLeadMapID, l.LeadID, l.Email, *l.Status, l.CreatedAt, string(l.CustomFields))
	r := b.Rejected[0]
	fmt.Printf("%s %s %s: %s\n", r.Stream, r.RecordKey, r.Field, r.Reason)
	fmt.Printf("%+v\n", b.Totals)
	// Output:
	// 2433664091 2995276770 john@example.com INPROGRESS 2023-09-25 15:29:11.618881 +0000 UTC {"job_title":"CEO"}
	// leads 2433664092 lead.id: not an integer: "n/a"
	// [{Stream:leads CampaignID:2710262 Total:42}]
}

func ExampleDecodeEmailAccount() {
	a, err := transform.DecodeEmailAccount([]byte(`{"id": 123, "from_email": "john@example.com",
		"password": "never kept", "warmup_details": {"warmup_reputation": "95%"}}`))
	fmt.Println(a.EmailAccountID, a.FromEmail, *a.WarmupReputation, err)

	_, err = transform.DecodeEmailAccount([]byte(`{"id": 124, "from_email": "x@example.com", "warmup_details": {"warmup_reputation": "high"}}`))
	var fe *transform.FieldError
	fmt.Println(errors.As(err, &fe), fe.Field)
	// Output:
	// 123 john@example.com 95 <nil>
	// true warmup_details.warmup_reputation
}
