package pipeline

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
)

// TestPlanFlagsPerSignal: after a realistic night on a small agency
// account, plan reads only the campaign list and the account-wide
// signals, says how many campaigns each signal flagged (the campaigns
// whose leads or emails changed by activity, those whose settings moved
// by settings, the verification sample as the sample size says), and
// predicts the night's requests within 10%. On a night when a signal
// endpoint fails, plan names it and why.
func TestPlanFlagsPerSignal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(2 * time.Hour)
		e := newEnv(t, dir, fakeapi.AgencyConfig(19, 40))
		_, err := e.run(t, e.cfg)
		require.NoError(t, err)

		time.Sleep(23 * time.Hour)
		rep := e.fake.RealisticNight(smallNight)
		time.Sleep(time.Hour)
		require.NotEmpty(t, rep.Campaigns)
		require.NotEmpty(t, rep.SettingsChanged)

		before := e.fake.Stats().Requests
		f, err := Plan(context.Background(), e.cfg)
		require.NoError(t, err)
		spent := e.fake.Stats().Requests - before
		require.Equal(t, 1+f.SignalRequests, spent, "the campaign list and the signals")
		require.LessOrEqual(t, f.SignalRequests, 6, "one page of activities, a few overall-stats ranges")
		require.Empty(t, f.Fallbacks)
		require.Equal(t, len(rep.Campaigns), f.Flagged[FlagActivity], "campaigns with activity: %v", rep.Campaigns)
		require.Equal(t, len(rep.SettingsChanged), f.Flagged[FlagSettings], "campaigns whose settings moved: %v", rep.SettingsChanged)
		require.Zero(t, f.Flagged[FlagNew])
		require.GreaterOrEqual(t, f.Flagged[FlagSample], 3, "the verification sample")
		require.Less(t, f.Frozen, 40, "some campaigns are read")
		require.Positive(t, f.Frozen, "most are carried")

		n, err := e.run(t, e.cfg)
		require.NoError(t, err)
		t.Logf("plan %d requests (flagged %v); the night made %d", f.Requests, f.Flagged, n)
		require.InEpsilon(t, n, f.Requests, 0.10, "requests")

		// A night whose activities endpoint answers 404: plan says so.
		time.Sleep(23 * time.Hour)
		e.fake.RealisticNight(smallNight)
		time.Sleep(time.Hour)
		e.fake.SetEndpointFault(fakeapi.PathLeadActivities, fakeapi.FaultNotFound)
		f, err = Plan(context.Background(), e.cfg)
		require.NoError(t, err)
		require.Contains(t, f.Fallbacks, fakeapi.PathLeadActivities)
		require.Contains(t, f.Fallbacks[fakeapi.PathLeadActivities], "404")
		require.Equal(t, 40, f.Flagged[FlagProbe], "every campaign is probed")
	})
}
