package load

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// The warehouse's own guard against credentials: the extractor already
// redacts, but nothing that reaches a table may hold a key or password.

// secretParam matches a credential in a URL or message; the extractor
// already redacts, this is the warehouse's own guard.
var secretParam = regexp.MustCompile(`(?i)((?:api[_-]?key|password|secret)["']?\s*[=:]\s*["']?)[^&\s"']+`)

func redact(s string) string { return secretParam.ReplaceAllString(s, "${1}REDACTED") }

// secretKey matches config keys that would hold a credential.
var secretKey = regexp.MustCompile(`(?i)api[_-]?key|password|secret`)

// configJSON renders a run's config as JSON and refuses one holding a key
// that names a credential.
func configJSON(c any) (any, error) {
	var raw []byte
	switch v := c.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		raw = v
	case []byte:
		raw = v
	case string:
		raw = []byte(v)
	default:
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("load: run config: %w", err)
		}
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("load: run config is not JSON: %w", err)
	}
	if k := findKey(doc, secretKey); k != "" {
		return nil, fmt.Errorf("load: run config key %q looks like a credential; secrets are never stored", k)
	}
	return string(raw), nil
}

func findKey(doc any, re *regexp.Regexp) string {
	switch v := doc.(type) {
	case map[string]any:
		for k, x := range v {
			if re.MatchString(k) {
				return k
			}
			if f := findKey(x, re); f != "" {
				return f
			}
		}
	case []any:
		for _, x := range v {
			if f := findKey(x, re); f != "" {
				return f
			}
		}
	}
	return ""
}
