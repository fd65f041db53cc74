package pipeline

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/load"
)

// TestSignalEndpointRefusals: whatever an account-wide endpoint answers
// instead of its documented shape (404, 400, 422, a body that does not
// decode), the night is told why it cannot use that signal, keeps the
// other one, and carries on (no error: the per-campaign path stands in;
// TestSignalFallbacks runs whole nights of it).
func TestSignalEndpointRefusals(t *testing.T) {
	synctest.Test(t, testSignalEndpointRefusals)
}

func testSignalEndpointRefusals(t *testing.T) {
	fc := fakeapi.AgencyConfig(19, 5)
	fc.APIKey = testKey
	fake := fakeapi.New(fc)
	client, err := extract.NewClient(testKey, extract.WithBaseURL("http://localhost"+fakeapi.BasePath),
		extract.WithHTTPClient(&http.Client{Transport: fake.Transport()}))
	require.NoError(t, err)
	now := time.Now()
	in := PlanInput{Now: now, Prev: &load.RunInfo{RunID: "prev", StartedAt: now.Add(-24 * time.Hour)}}

	sig, err := gatherSignals(t.Context(), client, nil, in)
	require.NoError(t, err)
	require.Empty(t, sig.ActivitiesFailed)
	require.Empty(t, sig.OverallFailed)
	require.NotEmpty(t, sig.Overall, "the healthy endpoints answer")

	for _, tc := range []struct {
		fault fakeapi.EndpointFault
		why   string
	}{
		{fakeapi.FaultNotFound, "answered 404"},
		{fakeapi.FaultBadRequest, "answered 400"},
		{fakeapi.FaultUnprocessable, "answered 422"},
		{fakeapi.FaultGarbage, "does not decode"},
	} {
		for _, ep := range []string{fakeapi.PathLeadActivities, fakeapi.PathOverallStats} {
			fake.SetEndpointFault(ep, tc.fault)
			before := fake.Stats().Requests
			sig, err := gatherSignals(t.Context(), client, nil, in)
			fake.SetEndpointFault(ep, fakeapi.FaultNone)
			t.Logf("%s %v: %d requests", ep, tc.fault, fake.Stats().Requests-before)
			require.NoError(t, err, "%s %v: the night goes on", ep, tc.fault)
			failed, other := sig.ActivitiesFailed, sig.OverallFailed
			if ep == fakeapi.PathOverallStats {
				failed, other = other, failed
				require.Nil(t, sig.Overall, "no rows of an endpoint that failed")
			} else {
				require.Nil(t, sig.Activities, "no rows of an endpoint that failed")
			}
			require.Contains(t, failed, tc.why, "%s %v", ep, tc.fault)
			require.Empty(t, other, "%s %v: the other signal is still used", ep, tc.fault)
		}
	}
}
