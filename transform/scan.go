package transform

import (
	"encoding/json"
	"fmt"
)

// A small single-pass JSON scanner. The decoders walk each record once,
// matching keys without allocating and converting only the fields they
// keep; unknown fields are validated and skipped. encoding/json would
// cost reflection plus a map or an UnmarshalJSON call per field, and its
// errors cannot name a dotted field path.

// kind is the JSON type of a value.
type kind uint8

const (
	kindNull kind = iota + 1
	kindBool
	kindNumber
	kindString
	kindObject
	kindArray
)

func (k kind) String() string {
	switch k {
	case kindNull:
		return "null"
	case kindBool:
		return "a boolean"
	case kindNumber:
		return "a number"
	case kindString:
		return "a string"
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	}
	return "nothing"
}

// value is one JSON value as a span of the input. For strings raw
// includes the quotes and esc reports a backslash escape inside.
type value struct {
	kind kind
	raw  []byte
	esc  bool
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 512

type scanner struct {
	data  []byte
	pos   int
	depth int
}

func (s *scanner) errf(format string, args ...any) *FieldError {
	return &FieldError{Reason: fmt.Sprintf("invalid JSON at byte %d: ", s.pos) + fmt.Sprintf(format, args...)}
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end of input.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// atEnd reports whether only white space is left. peek's 0 cannot say
// so: a NUL byte in the input also peeks as 0.
func (s *scanner) atEnd() bool {
	s.ws()
	return s.pos >= len(s.data)
}

// value reads the next value. Objects and arrays are validated and
// returned whole.
func (s *scanner) value() (value, *FieldError) {
	c := s.peek()
	start := s.pos
	switch {
	case c == '"':
		esc, err := s.str()
		return value{kind: kindString, raw: s.data[start:s.pos], esc: esc}, err
	case c == '{':
		err := s.composite()
		return value{kind: kindObject, raw: s.data[start:s.pos]}, err
	case c == '[':
		err := s.composite()
		return value{kind: kindArray, raw: s.data[start:s.pos]}, err
	case c == 't':
		return s.literal(kindBool, "true")
	case c == 'f':
		return s.literal(kindBool, "false")
	case c == 'n':
		return s.literal(kindNull, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		n := numberLen(s.data[s.pos:])
		if n == 0 {
			return value{}, s.errf("malformed number")
		}
		s.pos += n
		return value{kind: kindNumber, raw: s.data[start:s.pos]}, nil
	case s.pos >= len(s.data):
		return value{}, s.errf("unexpected end of input")
	}
	return value{}, s.errf("unexpected character %q", c)
}

func (s *scanner) literal(k kind, lit string) (value, *FieldError) {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return value{}, s.errf("invalid literal")
	}
	s.pos += len(lit)
	return value{kind: k, raw: s.data[s.pos-len(lit) : s.pos]}, nil
}

// numberLen returns the length of the JSON number at the start of b, or
// 0 if b does not start with one.
func numberLen(b []byte) int {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return 0
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return 0
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return 0
		}
	}
	return i
}

// str consumes a string starting at the opening quote.
func (s *scanner) str() (esc bool, err *FieldError) {
	s.pos++
	d := s.data
	for {
		i := s.pos
		for i < len(d) && d[i] != '"' && d[i] != '\\' && d[i] >= 0x20 {
			i++
		}
		s.pos = i
		if i >= len(d) {
			return esc, s.errf("unterminated string")
		}
		switch d[i] {
		case '"':
			s.pos++
			return esc, nil
		case '\\':
			esc = true
			if i+1 >= len(d) {
				return esc, s.errf("unterminated string")
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if i+6 > len(d) || !isHex(d[i+2]) || !isHex(d[i+3]) || !isHex(d[i+4]) || !isHex(d[i+5]) {
					return esc, s.errf("malformed \\u escape")
				}
				s.pos += 6
			default:
				return esc, s.errf("invalid escape %q", d[i+1])
			}
		default:
			return esc, s.errf("control character in string")
		}
	}
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// composite consumes an object or array starting at its opening bracket.
func (s *scanner) composite() *FieldError {
	if s.depth++; s.depth > maxDepth {
		return s.errf("nesting deeper than %d", maxDepth)
	}
	defer func() { s.depth-- }()
	isObj := s.data[s.pos] == '{'
	closing := byte(']')
	if isObj {
		closing = '}'
	}
	s.pos++
	if s.peek() == closing {
		s.pos++
		return nil
	}
	for {
		if isObj {
			if s.peek() != '"' {
				return s.errf("expected a key")
			}
			if _, err := s.str(); err != nil {
				return err
			}
			if s.peek() != ':' {
				return s.errf("expected ':'")
			}
			s.pos++
		}
		if _, err := s.value(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case closing:
			s.pos++
			return nil
		default:
			return s.errf("expected ',' or %q", closing)
		}
	}
}

// objIter walks the members of one object: call next, then consume
// exactly one value, until next reports false.
type objIter struct {
	n   int
	esc bool // the last key had an escape
}

// object consumes the opening brace of an object.
func (s *scanner) object() (objIter, *FieldError) {
	if s.peek() != '{' {
		return objIter{}, s.errf("expected an object")
	}
	s.pos++
	return objIter{}, nil
}

// next returns the next key, decoded, or ok=false after the closing brace.
func (s *scanner) next(it *objIter) (key []byte, ok bool, err *FieldError) {
	c := s.peek()
	if it.n == 0 {
		if c == '}' {
			s.pos++
			return nil, false, nil
		}
	} else {
		switch c {
		case ',':
			s.pos++
			c = s.peek()
		case '}':
			s.pos++
			return nil, false, nil
		default:
			return nil, false, s.errf("expected ',' or '}'")
		}
	}
	if c != '"' {
		return nil, false, s.errf("expected a key")
	}
	start := s.pos
	esc, err := s.str()
	if err != nil {
		return nil, false, err
	}
	key = s.data[start+1 : s.pos-1]
	it.esc = esc
	if esc {
		key = []byte(unquote(s.data[start:s.pos]))
	}
	if s.peek() != ':' {
		return nil, false, s.errf("expected ':'")
	}
	s.pos++
	it.n++
	return key, true, nil
}

// unquote decodes a string literal that the scanner has validated.
// Only strings with escapes come here, so encoding/json's cost is fine.
func unquote(raw []byte) string {
	var out string
	if err := json.Unmarshal(raw, &out); err != nil {
		// Unreachable for scanner-validated input; keep the text rather
		// than lose it.
		return string(raw[1 : len(raw)-1])
	}
	return out
}

// arrIter walks the elements of one array: call nextElem, then consume
// exactly one value, until nextElem reports false.
type arrIter struct{ n int }

// nextElem reports whether another element follows, consuming the
// separator or the closing bracket.
func (s *scanner) nextElem(it *arrIter) (ok bool, err *FieldError) {
	c := s.peek()
	if it.n == 0 {
		if c == ']' {
			s.pos++
			return false, nil
		}
	} else {
		switch c {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return false, nil
		default:
			return false, s.errf("expected ',' or ']'")
		}
	}
	if s.pos >= len(s.data) {
		return false, s.errf("unexpected end of input")
	}
	it.n++
	return true, nil
}
