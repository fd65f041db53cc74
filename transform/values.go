package transform

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// FieldError says which field of a record could not be converted and
// why. Every decoder returns one (use errors.As); Field is a dotted JSON
// path such as "lead.id" or "warmup_details.warmup_reputation", empty
// when the record as a whole is unusable (not JSON, not an object).
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// maxShown caps how much of a bad value a reason quotes.
const maxShown = 40

// describe names a bad value for an error reason: scalars are quoted
// (truncated), containers only named, so a reason never copies a nested
// object that might hold a secret.
func describe(v value) string {
	switch v.kind {
	case kindObject, kindArray, kindNull, 0:
		return v.kind.String()
	}
	b := v.raw
	cut := len(b) > maxShown
	if cut {
		b = b[:maxShown]
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if cut {
		s += "…"
	}
	return s
}

// bytes returns the content of a string value; escapes are decoded.
func (v value) bytes() []byte {
	if v.esc {
		return []byte(unquote(v.raw))
	}
	return v.raw[1 : len(v.raw)-1]
}

// text returns the content of a string value as valid UTF-8 (the
// warehouse rejects anything else; invalid bytes become U+FFFD, as
// encoding/json does).
func (v value) text() string {
	if v.esc {
		return unquote(v.raw)
	}
	b := v.raw[1 : len(v.raw)-1]
	if !utf8.Valid(b) {
		return string(fixUTF8(b))
	}
	return string(b)
}

// fixUTF8 replaces each invalid byte with U+FFFD, exactly as
// encoding/json does when it decodes a string, so that text reads the
// same whichever path it took.
func fixUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return out
}

// trimSpace trims ASCII space without allocating.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// numericBytes returns the digits of a number or numeric string, with
// null=true for null and "". Anything else gets a reason.
func numericBytes(v value, want string) (b []byte, null bool, reason string) {
	switch v.kind {
	case kindNull:
		return nil, true, ""
	case kindNumber:
		return v.raw, false, ""
	case kindString:
		b = trimSpace(v.bytes())
		return b, len(b) == 0, ""
	}
	return nil, false, "expected " + want + ", got " + describe(v)
}

// parseInt accepts 12, "12", "12.0" and 1.2e1: any exact integer in
// int64 range. Counts come as strings on some endpoints and numbers on
// others, so both are normal.
func parseInt(v value) (n int64, null bool, reason string) {
	b, null, reason := numericBytes(v, "an integer")
	if null || reason != "" {
		return 0, null, reason
	}
	if n, ok := atoi(b); ok {
		return n, false, ""
	}
	if n, ok := exactInt(b); ok {
		return n, false, ""
	}
	return 0, false, "not an integer: " + describe(v)
}

// exactInt reads a JSON number with a fraction or exponent when its
// value is exactly an integer ("12.0", "1.2e1"). It works on the digits
// rather than through float64, which would round 4503599627370496.5 to
// an integer.
func exactInt(b []byte) (int64, bool) {
	if len(b) == 0 || numberLen(b) != len(b) {
		return 0, false
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	mant, exp := b, 0
	if i := bytes.IndexAny(b, "eE"); i >= 0 {
		mant = b[:i]
		e, ok := atoi(bytes.TrimPrefix(b[i+1:], []byte("+")))
		if !ok || e > 100 || e < -100 {
			// Such an exponent is only an integer in int64 range if the
			// mantissa is zero.
			if len(bytes.Trim(mant, "0.")) > 0 {
				return 0, false
			}
			return 0, true
		}
		exp = int(e)
	}
	intPart, frac := mant, []byte(nil)
	if i := bytes.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	// The value is 0.<digits> * 10^point.
	var buf [64]byte
	digits := append(append(buf[:0], intPart...), frac...)
	point := len(intPart) + exp
	var whole []byte
	switch {
	case point <= 0:
		whole = nil
		frac = digits
	case point >= len(digits):
		whole = digits
		for range point - len(digits) {
			whole = append(whole, '0')
			if len(whole) > 40 {
				break
			}
		}
		frac = nil
	default:
		whole, frac = digits[:point], digits[point:]
	}
	for _, c := range frac {
		if c != '0' {
			return 0, false
		}
	}
	whole = bytes.TrimLeft(whole, "0")
	if len(whole) == 0 {
		return 0, true
	}
	if neg {
		whole = append([]byte{'-'}, whole...)
	}
	return atoi(whole)
}

// atoi parses an optionally negative run of decimal digits, reporting
// false on anything else or on overflow.
func atoi(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0') // 19 digits cannot overflow uint64
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// parseFloat accepts a number or numeric string; with pct, a trailing
// "%" is allowed too ("95%", "1.6%"), because warmup_reputation comes
// both ways.
func parseFloat(v value, pct bool) (f float64, null bool, reason string) {
	b, null, reason := numericBytes(v, "a number")
	if null || reason != "" {
		return 0, null, reason
	}
	if pct && v.kind == kindString && b[len(b)-1] == '%' {
		b = trimSpace(b[:len(b)-1])
	}
	if len(b) == 0 || numberLen(b) != len(b) {
		return 0, false, "not a number: " + describe(v)
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, false, "number out of range: " + describe(v)
	}
	return f, false, ""
}

// parseBool accepts true/false, "true"/"false" and 0/1 in either form.
func parseBool(v value) (b, null bool, reason string) {
	var t []byte
	switch v.kind {
	case kindNull:
		return false, true, ""
	case kindBool, kindNumber:
		t = v.raw
	case kindString:
		t = trimSpace(v.bytes())
		if len(t) == 0 {
			return false, true, ""
		}
	default:
		return false, false, "expected a boolean, got " + describe(v)
	}
	switch {
	case bytes.EqualFold(t, []byte("true")), string(t) == "1":
		return true, false, ""
	case bytes.EqualFold(t, []byte("false")), string(t) == "0":
		return false, false, ""
	}
	return false, false, "not a boolean: " + describe(v)
}

// parseString accepts a string, or a number as its literal text
// (phone numbers sometimes arrive unquoted). "" stays "": an empty
// subject means something in SmartLead.
func parseString(v value) (s string, null bool, reason string) {
	switch v.kind {
	case kindNull:
		return "", true, ""
	case kindString:
		return v.text(), false, ""
	case kindNumber:
		return string(v.raw), false, ""
	}
	return "", false, "expected a string, got " + describe(v)
}

// parseTextOrJSON keeps scalars as text and containers as compact JSON
// text; lead_category is a string on some accounts and an object on
// others.
func parseTextOrJSON(v value) (s string, null bool) {
	switch v.kind {
	case kindNull:
		return "", true
	case kindString:
		return v.text(), false
	case kindObject, kindArray:
		return string(compact(v.raw)), false
	}
	return string(v.raw), false
}

// parseJSON returns a free-form value as compact JSON; null and "" are
// NULL.
func parseJSON(v value) JSON {
	switch v.kind {
	case kindNull:
		return nil
	case kindString:
		if len(v.raw) == 2 {
			return nil
		}
	}
	return compact(v.raw)
}

// compact copies a scanner-validated JSON value without insignificant
// whitespace, repairing invalid UTF-8 inside strings.
func compact(raw []byte) JSON {
	out := make([]byte, 0, len(raw))
	inStr := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if inStr {
			out = append(out, c)
			switch c {
			case '\\':
				i++
				out = append(out, raw[i])
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			inStr = true
		}
		out = append(out, c)
	}
	if !utf8.Valid(out) {
		out = fixUTF8(out)
	}
	return out
}

// parseTimeValue accepts a timestamp string in any format the API uses.
func parseTimeValue(v value) (t time.Time, null bool, reason string) {
	switch v.kind {
	case kindNull:
		return time.Time{}, true, ""
	case kindString:
		b := trimSpace(v.bytes())
		if len(b) == 0 {
			return time.Time{}, true, ""
		}
		t, ok := parseTime(b)
		if !ok {
			return time.Time{}, false, "not a timestamp: " + describe(v)
		}
		return t, false, ""
	}
	return time.Time{}, false, "expected a timestamp string, got " + describe(v)
}
