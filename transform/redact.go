package transform

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Redact returns raw as compact JSON without any member whose key
// contains "password", "passwd", "secret", "api_key", "apikey" or
// "api-key" (any case, at any depth, escaped keys included), and with
// the value of any "api_key=" URL parameter inside a string replaced.
// It is what Rejected.Raw holds, so a rejected email account cannot
// carry its password into the warehouse.
//
// Input that is not valid JSON is kept as a JSON string of at most
// 256 bytes, unless it mentions a secret-like word or has escapes (which
// could hide one), in which case only its length is kept.
func Redact(raw []byte) JSON {
	s := scanner{data: raw}
	out := make([]byte, 0, len(raw))
	out, err := redactValue(&s, out)
	if err == nil && !s.atEnd() {
		err = s.errf("unexpected data after the value")
	}
	if err != nil {
		return redactInvalid(raw)
	}
	if !utf8.Valid(out) {
		out = fixUTF8(out)
	}
	return out
}

func redactValue(s *scanner, out []byte) ([]byte, *FieldError) {
	switch s.peek() {
	case '{':
		if s.depth++; s.depth > maxDepth {
			return out, s.errf("nesting deeper than %d", maxDepth)
		}
		it, _ := s.object()
		out = append(out, '{')
		kept := 0
		for {
			key, ok, err := s.next(&it)
			if err != nil {
				return out, err
			}
			if !ok {
				break
			}
			if isSecretKey(key) {
				if _, err := s.value(); err != nil {
					return out, err
				}
				continue
			}
			if kept > 0 {
				out = append(out, ',')
			}
			kept++
			if it.esc {
				q, _ := json.Marshal(string(key))
				out = append(out, q...)
			} else {
				out = append(out, '"')
				out = append(out, key...)
				out = append(out, '"')
			}
			out = append(out, ':')
			if out, err = redactValue(s, out); err != nil {
				return out, err
			}
		}
		s.depth--
		return append(out, '}'), nil
	case '[':
		if s.depth++; s.depth > maxDepth {
			return out, s.errf("nesting deeper than %d", maxDepth)
		}
		s.pos++
		out = append(out, '[')
		if s.peek() == ']' {
			s.pos++
			s.depth--
			return append(out, ']'), nil
		}
		for {
			var err *FieldError
			if out, err = redactValue(s, out); err != nil {
				return out, err
			}
			switch s.peek() {
			case ',':
				s.pos++
				out = append(out, ',')
			case ']':
				s.pos++
				s.depth--
				return append(out, ']'), nil
			default:
				return out, s.errf("expected ',' or ']'")
			}
		}
	}
	v, err := s.value()
	if err != nil {
		return out, err
	}
	if v.kind == kindString {
		return appendScrubbed(out, v.raw), nil
	}
	return append(out, v.raw...), nil
}

var secretWords = [][]byte{[]byte("password"), []byte("passwd"), []byte("secret"), []byte("api_key"), []byte("apikey"), []byte("api-key")}

// isSecretKey reports whether a (decoded) key names a secret.
func isSecretKey(key []byte) bool {
	return containsSecretWord(key)
}

func containsSecretWord(b []byte) bool {
	lower := bytes.ToLower(b)
	for _, w := range secretWords {
		if bytes.Contains(lower, w) {
			return true
		}
	}
	return false
}

// appendScrubbed appends a raw string literal, replacing the value of
// any api_key= parameter (a URL with the key in it, should one ever be
// echoed back) with REDACTED.
func appendScrubbed(out, lit []byte) []byte {
	const param = "api_key="
	for {
		i := indexFold(lit, param)
		if i < 0 {
			return append(out, lit...)
		}
		out = append(out, lit[:i+len(param)]...)
		lit = lit[i+len(param):]
		j := 0
	scan:
		for ; j < len(lit); j++ {
			switch lit[j] {
			case '&', '"', '\\', '#', ' ', '\t':
				break scan
			}
		}
		out = append(out, "REDACTED"...)
		lit = lit[j:]
	}
}

func indexFold(b []byte, sub string) int {
	for i := 0; i+len(sub) <= len(b); i++ {
		if bytes.EqualFold(b[i:i+len(sub)], []byte(sub)) {
			return i
		}
	}
	return -1
}

// redactInvalid keeps what can be kept of input that is not JSON.
func redactInvalid(raw []byte) JSON {
	if containsSecretWord(raw) || bytes.IndexByte(raw, '\\') >= 0 || indexFold(raw, "api_key") >= 0 {
		out, _ := json.Marshal(map[string]any{"invalid_json": true, "bytes": len(raw), "withheld": "may contain a secret"})
		return out
	}
	text := truncate(string(raw), 256)
	out, _ := json.Marshal(map[string]any{"invalid_json": true, "bytes": len(raw), "text": text})
	return out
}
