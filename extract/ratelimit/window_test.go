package ratelimit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tiers are the vendor's documented limits (docs/ and the seed notes:
// standard 10/s, 60/min, 1000/h; pro 20/s, 120/min, 3000/h), and every
// rendering of them derives from that one table.
func TestTiers(t *testing.T) {
	std, err := Preset(" Standard ")
	require.NoError(t, err)
	assert.Equal(t, []Window{{time.Second, 10}, {time.Minute, 60}, {time.Hour, 1000}}, std)
	pro, err := Preset(TierPro)
	require.NoError(t, err)
	assert.Equal(t, []Window{{time.Second, 20}, {time.Minute, 120}, {time.Hour, 3000}}, pro)
	assert.Equal(t, std, MustPreset(DefaultTier))

	std[0].Max = 1
	assert.Equal(t, 10, MustPreset(TierStandard)[0].Max, "Preset returns a copy")

	_, err = Preset("enterprise")
	assert.EqualError(t, err, `unknown tier "enterprise" (want standard or pro)`)
	assert.Equal(t, []string{"standard", "pro"}, TierNames())
	assert.Equal(t, "standard (10/s, 60/min, 1000/h) or pro (20/s, 120/min, 3000/h)", DescribeTiers())
	assert.Equal(t, "10/1s,60/1m,1000/1h", Format(MustPreset(DefaultTier)))
	assert.Equal(t, "100/1s,600/1m,10000/1h", Format(Multiply(MustPreset(DefaultTier), 10)))
	assert.Equal(t, "5/2s", Describe([]Window{{2 * time.Second, 5}}))
}
