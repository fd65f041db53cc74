package transform_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/transform"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"id": 1, "password": "p", "imap_password": "q", "from_email": "a@b"}`, `{"id":1,"from_email":"a@b"}`},
		{`{"a":{"SMTP_Password":"x","b":[{"api_key":"k","c":1},{"clientSecret":{"deep":1}}]}}`, `{"a":{"b":[{"c":1},{}]}}`},
		{`{"pass\u0077ord":"escaped key","ok":"caf\u00e9"}`, `{"ok":"caf\u00e9"}`},
		{`{"esc\"aped":1}`, `{"esc\"aped":1}`},
		{`{"apiKey":"x","API-KEY":"y","passwd":"z","keep":true}`, `{"keep":true}`},
		{`{"url":"https://server.smartlead.ai/api/v1/campaigns?api_key=abc123&offset=0"}`, `{"url":"https://server.smartlead.ai/api/v1/campaigns?api_key=REDACTED&offset=0"}`},
		{`[1, {"secret_key": 2}, "x"]`, `[1,{},"x"]`},
		{` "plain" `, `"plain"`},
		{`{}`, `{}`},
		{"{\"a\":\"\xff\"}", "{\"a\":\"\uFFFD\"}"},
	} {
		got := transform.Redact([]byte(tc.in))
		require.Equal(t, tc.want, string(got), tc.in)
	}
}

func TestRedactInvalidJSON(t *testing.T) {
	got := transform.Redact([]byte(`{"id": 1, "name": "trunc`))
	require.JSONEq(t, `{"invalid_json":true,"bytes":24,"text":"{\"id\": 1, \"name\": \"trunc"}`, string(got))

	for _, in := range []string{`{"password": "hunter2"`, `{"x": "hunter2", "pass\u0077ord"`, `api_key=hunter2 oops`} {
		got := transform.Redact([]byte(in))
		require.True(t, json.Valid(got))
		require.NotContains(t, string(got), "hunter2", in)
		require.Contains(t, string(got), "withheld")
	}
}

// A NUL byte after a value is not white space: input that encoding/json
// rejects must not pass as a record (found by FuzzRedact).
func TestTrailingNULIsNotTheEnd(t *testing.T) {
	out := transform.Redact([]byte("\"\"\x00"))
	require.Contains(t, string(out), `"invalid_json":true`)
	_, err := transform.DecodeClient([]byte("{\"id\":7,\"name\":\"x\"}\x00"))
	require.Error(t, err)
	_, err = transform.DecodeClient([]byte("{\"id\":7,\"name\":\"x\"} \n"))
	require.NoError(t, err)
}
