package load

import (
	"fmt"
	"time"

	"github.com/smartlead-etl/smartlead-etl/transform"
)

// synthLeads returns n deterministic leads of a campaign, keys from
// campaign*1e6+from.
func synthLeads(campaign int64, from, n int) []transform.Lead {
	out := make([]transform.Lead, n)
	for i := range out {
		k := int64(from + i)
		id := campaign*1_000_000 + k
		created := t0.Add(-time.Duration(k) * time.Minute)
		out[i] = transform.Lead{CampaignLeadMapID: id, LeadID: 7_000_000_000 + id, CampaignID: campaign,
			Email: fmt.Sprintf("lead%d@example.com", id), FirstName: p("Lead"), LastName: p(fmt.Sprint(k)),
			CompanyName: p("Acme"), Status: p("INPROGRESS"), CreatedAt: &created,
			CustomFields: transform.JSON(fmt.Sprintf(`{"n":%d}`, k))}
	}
	return out
}
