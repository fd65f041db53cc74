package transform

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scan reads one value from a JSON literal.
func scan(t *testing.T, lit string) value {
	t.Helper()
	s := scanner{data: []byte(lit)}
	v, err := s.value()
	require.Nil(t, err, "%s: %v", lit, err)
	require.Zero(t, s.peek(), "trailing data in %s", lit)
	return v
}

func TestParseInt(t *testing.T) {
	for _, tc := range []struct {
		in     string
		want   int64
		null   bool
		reason string
	}{
		{`359`, 359, false, ""},
		{`"359"`, 359, false, ""},
		{`" 359 "`, 359, false, ""},
		{`-7`, -7, false, ""},
		{`"2433664091"`, 2433664091, false, ""},
		{`9223372036854775807`, 9223372036854775807, false, ""},
		{`-9223372036854775808`, -9223372036854775808, false, ""},
		{`"12.0"`, 12, false, ""},
		{`12.0`, 12, false, ""},
		{`1e3`, 1000, false, ""},
		{`"\u0031\u0032"`, 12, false, ""},
		{`null`, 0, true, ""},
		{`""`, 0, true, ""},
		{`"  "`, 0, true, ""},
		{`9223372036854775808`, 0, false, "not an integer: 9223372036854775808"},
		{`1e300`, 0, false, "not an integer: 1e300"},
		{`9007199254740993.0`, 9007199254740993, false, ""},
		{`1.5`, 0, false, "not an integer: 1.5"},
		{`4503599627370496.5`, 0, false, "not an integer: 4503599627370496.5"},
		{`1.0000000000000001e15`, 0, false, "not an integer: 1.0000000000000001e15"},
		{`1.5e1`, 15, false, ""},
		{`-2.50e1`, -25, false, ""},
		{`-2.5e1`, -25, false, ""},
		{`-2.50e2`, -250, false, ""},
		{`25e-1`, 0, false, "not an integer: 25e-1"},
		{`250e-1`, 25, false, ""},
		{`0.0e-999999999999`, 0, false, ""},
		{`0e99999999999999999999`, 0, false, ""},
		{`1e99999999999999999999`, 0, false, "not an integer: 1e99999999999999999999"},
		{`9.223372036854775807e18`, 9223372036854775807, false, ""},
		{`9.223372036854775808e18`, 0, false, "not an integer: 9.223372036854775808e18"},
		{`"00012"`, 12, false, ""},
		{`"abc"`, 0, false, `not an integer: "abc"`},
		{`"12abc"`, 0, false, `not an integer: "12abc"`},
		{`"+5"`, 0, false, `not an integer: "+5"`},
		{`"NaN"`, 0, false, `not an integer: "NaN"`},
		{`"Infinity"`, 0, false, `not an integer: "Infinity"`},
		{`"0x10"`, 0, false, `not an integer: "0x10"`},
		{`true`, 0, false, "expected an integer, got true"},
		{`{"a":1}`, 0, false, "expected an integer, got an object"},
		{`[1]`, 0, false, "expected an integer, got an array"},
		{`"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"`, 0, false, `not an integer: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…`},
	} {
		n, null, reason := parseInt(scan(t, tc.in))
		assert.Equal(t, tc.want, n, tc.in)
		assert.Equal(t, tc.null, null, tc.in)
		assert.Equal(t, tc.reason, reason, tc.in)
	}
}

func TestParsePercent(t *testing.T) {
	for _, tc := range []struct {
		in     string
		want   float64
		null   bool
		reason string
	}{
		{`"95%"`, 95, false, ""},
		{`"1.6%"`, 1.6, false, ""},
		{`" 95 % "`, 95, false, ""},
		{`95`, 95, false, ""},
		{`"95"`, 95, false, ""},
		{`0.5`, 0.5, false, ""},
		{`null`, 0, true, ""},
		{`""`, 0, true, ""},
		{`"%"`, 0, false, `not a number: "%"`},
		{`"95%%"`, 0, false, `not a number: "95%%"`},
		{`"NaN"`, 0, false, `not a number: "NaN"`},
		{`"ninety"`, 0, false, `not a number: "ninety"`},
		{`1e999`, 0, false, `number out of range: 1e999`},
		{`false`, 0, false, `expected a number, got false`},
	} {
		f, null, reason := parseFloat(scan(t, tc.in), true)
		assert.Equal(t, tc.want, f, tc.in)
		assert.Equal(t, tc.null, null, tc.in)
		assert.Equal(t, tc.reason, reason, tc.in)
	}
	_, _, reason := parseFloat(scan(t, `"95%"`), false)
	assert.Equal(t, `not a number: "95%"`, reason, "% only where a percentage is expected")
}

func TestParseBool(t *testing.T) {
	for _, tc := range []struct {
		in         string
		want, null bool
		reason     string
	}{
		{`true`, true, false, ""},
		{`false`, false, false, ""},
		{`"true"`, true, false, ""},
		{`"FALSE"`, false, false, ""},
		{`1`, true, false, ""},
		{`0`, false, false, ""},
		{`"1"`, true, false, ""},
		{`null`, false, true, ""},
		{`""`, false, true, ""},
		{`2`, false, false, "not a boolean: 2"},
		{`"yes"`, false, false, `not a boolean: "yes"`},
		{`[]`, false, false, "expected a boolean, got an array"},
	} {
		b, null, reason := parseBool(scan(t, tc.in))
		assert.Equal(t, tc.want, b, tc.in)
		assert.Equal(t, tc.null, null, tc.in)
		assert.Equal(t, tc.reason, reason, tc.in)
	}
}

func TestParseStringAndJSON(t *testing.T) {
	s, null, reason := parseString(scan(t, `"caf\u00e9 \"x\""`))
	require.Equal(t, `café "x"`, s)
	require.False(t, null)
	require.Empty(t, reason)

	s, _, _ = parseString(scan(t, "\"bad \xff byte\""))
	require.Equal(t, "bad \uFFFD byte", s, "the warehouse needs valid UTF-8")
	s, _, _ = parseString(scan(t, "\"\xda\xda\""))
	require.Equal(t, "\uFFFD\uFFFD", s, "one U+FFFD per bad byte, as encoding/json does")

	s, _, _ = parseString(scan(t, `4915112345678`))
	require.Equal(t, "4915112345678", s)

	_, null, _ = parseString(scan(t, `null`))
	require.True(t, null)
	_, _, reason = parseString(scan(t, `{"password":"x"}`))
	require.Equal(t, "expected a string, got an object", reason, "containers are named, never quoted")

	require.Equal(t, JSON(`{"a":[1,2,{"b":"x y"}],"c":"\"q\\\\"}`), parseJSON(scan(t, "{ \"a\" : [1, 2,\n {\"b\": \"x y\"}], \"c\": \"\\\"q\\\\\\\\\" }")))
	require.Nil(t, parseJSON(scan(t, `null`)))
	require.Nil(t, parseJSON(scan(t, `""`)))
	require.Equal(t, JSON(`"x"`), parseJSON(scan(t, `"x"`)))
	require.Equal(t, JSON("[\"\uFFFD\"]"), parseJSON(scan(t, "[\"\xff\"]")))

	txt, null := parseTextOrJSON(scan(t, `{ "id": 3 }`))
	require.Equal(t, `{"id":3}`, txt)
	require.False(t, null)
	txt, _ = parseTextOrJSON(scan(t, `"Interested"`))
	require.Equal(t, "Interested", txt)
}

func TestParseTime(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return tm.UTC()
	}
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2025-02-24T11:51:47.872Z", utc("2025-02-24T11:51:47.872Z")},
		{"2023-09-25T17:29:11.618881+00:00", utc("2023-09-25T17:29:11.618881Z")},
		{"2025-03-28T09:35:01+00:00", utc("2025-03-28T09:35:01Z")},
		{"2025-03-28T09:35:01+02:00", utc("2025-03-28T07:35:01Z")},
		{"2025-03-28T09:35:01-05:30", utc("2025-03-28T15:05:01Z")},
		{"2023-10-16 10:33:02.000Z", utc("2023-10-16T10:33:02Z")},
		{"2025-01-29", utc("2025-01-29T00:00:00Z")},
		{"2024-02-29", utc("2024-02-29T00:00:00Z")},
		{"2025-12-31T23:59:59.123456789Z", utc("2025-12-31T23:59:59.123456789Z")},
	} {
		got, err := ParseTime(tc.in)
		require.NoError(t, err, tc.in)
		require.True(t, tc.want.Equal(got), "%s: got %v", tc.in, got)
		require.Equal(t, time.UTC, got.Location(), tc.in)
	}
	for _, bad := range []string{
		"", "garbage", "2025-02-30", "2023-02-29", "2025-13-01", "2025-00-10", "2025-1-01",
		"2025-02-24T24:00:00Z", "2025-02-24T11:60:00Z", "2025-02-24T11:51:60Z",
		"2025-02-24T11:51:47", "2025-02-24T11:51:47.Z", "2025-02-24T11:51:47.1234567890Z",
		"2025-02-24T11:51:47+0000", "2025-02-24T11:51:47+24:00", "2025-02-24T11:51:47z",
		"2025-02-24X11:51:47Z", "2025-02-24T11:51Z", "2025-02-24T11:51:47ZZ", "1700000000",
		"2025-02-24 ", "２０２５-02-24",
	} {
		_, err := ParseTime(bad)
		require.Error(t, err, bad)
	}
}
