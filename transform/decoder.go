package transform

import "time"

// decoder reads one record. A bad field does not stop it: the first
// field error is kept and decoding goes on, so the record's key can still
// be read for the Rejected row. Only a syntax error stops it.
type decoder struct {
	s      scanner
	fatal  *FieldError // malformed JSON
	first  *FieldError // first bad field, in document order
	keyErr bool        // first is about a required key (it wins)
}

// record opens the top-level object of a record.
func (d *decoder) record(raw []byte) objIter {
	d.s = scanner{data: raw}
	switch c := d.s.peek(); c {
	case '{':
		it, _ := d.s.object()
		return it
	case 0:
		d.fatal = &FieldError{Reason: "record is empty"}
	default:
		got := "invalid JSON"
		if v, err := d.s.value(); err == nil {
			got = describe(v)
		}
		d.fatal = &FieldError{Reason: "record is not a JSON object: got " + got}
	}
	return objIter{}
}

// next returns the next key of it; false at its end or after a syntax
// error. The caller must then consume exactly one value.
func (d *decoder) next(it *objIter) ([]byte, bool) {
	if d.fatal != nil {
		return nil, false
	}
	k, ok, err := d.s.next(it)
	if err != nil {
		d.fatal = err
		return nil, false
	}
	return k, ok
}

// val reads the next value; ok is false after a syntax error.
func (d *decoder) val() (value, bool) {
	v, err := d.s.value()
	if err != nil {
		d.fatal = err
		return v, false
	}
	return v, true
}

func (d *decoder) skip() { d.val() }

func (d *decoder) fail(field, reason string) {
	if d.first == nil {
		d.first = &FieldError{Field: field, Reason: reason}
	}
}

// failKey records a problem with a required key; it takes precedence
// over other field errors because without the key the row is useless.
func (d *decoder) failKey(field, reason string) {
	if !d.keyErr {
		d.first = &FieldError{Field: field, Reason: reason}
		d.keyErr = true
	}
}

// finish checks that nothing follows the record and returns its error.
// keyField names the key for an empty object's rejection.
func (d *decoder) finish(it objIter, keyField string) *FieldError {
	if d.fatal == nil {
		if !d.s.atEnd() {
			d.fatal = d.s.errf("unexpected data after the record")
		} else if it.n == 0 {
			return &FieldError{Field: keyField, Reason: "empty object"}
		}
	}
	if d.fatal != nil {
		return d.fatal
	}
	return d.first
}

// nested opens an object-valued field. null means absent; anything
// else but an object is an error.
func (d *decoder) nested(field string) (objIter, bool) {
	if c := d.s.peek(); c == '{' {
		it, _ := d.s.object()
		d.s.depth++ // counted like composite, so depth stays bounded
		if d.s.depth > maxDepth {
			d.fatal = d.s.errf("nesting deeper than %d", maxDepth)
			return it, false
		}
		return it, true
	}
	v, ok := d.val()
	if ok && v.kind != kindNull {
		d.fail(field, "expected an object, got "+describe(v))
	}
	return objIter{}, false
}

// endNested must follow a nested loop that ran to its end.
func (d *decoder) endNested() { d.s.depth-- }

// key reads a required positive integer key.
func (d *decoder) key(field string) (int64, bool) {
	v, ok := d.val()
	if !ok {
		return 0, false
	}
	n, null, reason := parseInt(v)
	switch {
	case reason != "":
		d.failKey(field, reason)
	case null:
		d.failKey(field, "required key is "+nullWord(v))
	case n <= 0:
		d.failKey(field, "key must be positive, got "+describe(v))
	default:
		return n, true
	}
	return 0, false
}

func nullWord(v value) string {
	if v.kind == kindNull {
		return "null"
	}
	return "empty"
}

// int reads an optional integer; ok is false for null, "" or an error.
func (d *decoder) int(field string) (int64, bool) {
	v, ok := d.val()
	if !ok {
		return 0, false
	}
	n, null, reason := parseInt(v)
	if reason != "" {
		d.fail(field, reason)
		return 0, false
	}
	return n, !null
}

func (d *decoder) optInt(field string) *int64 {
	if n, ok := d.int(field); ok {
		return &n
	}
	return nil
}

// count reads a counter: null and "" are 0.
func (d *decoder) count(field string) int64 {
	n, _ := d.int(field)
	return n
}

func (d *decoder) optFloat(field string, pct bool) *float64 {
	v, ok := d.val()
	if !ok {
		return nil
	}
	f, null, reason := parseFloat(v, pct)
	if reason != "" {
		d.fail(field, reason)
		return nil
	}
	if null {
		return nil
	}
	return &f
}

func (d *decoder) str(field string) (string, bool) {
	v, ok := d.val()
	if !ok {
		return "", false
	}
	s, null, reason := parseString(v)
	if reason != "" {
		d.fail(field, reason)
		return "", false
	}
	return s, !null
}

func (d *decoder) optString(field string) *string {
	if s, ok := d.str(field); ok {
		return &s
	}
	return nil
}

// requiredString reads a string that must be present and non-empty.
func (d *decoder) requiredString(field string, dst *string) bool {
	v, ok := d.val()
	if !ok {
		return false
	}
	s, null, reason := parseString(v)
	switch {
	case reason != "":
		d.fail(field, reason)
	case null || s == "":
		d.fail(field, "required field is "+nullWord(v))
	default:
		*dst = s
		return true
	}
	return false
}

func (d *decoder) optTextOrJSON(field string) *string {
	v, ok := d.val()
	if !ok {
		return nil
	}
	if s, null := parseTextOrJSON(v); !null {
		return &s
	}
	return nil
}

func (d *decoder) optTime(field string) *time.Time {
	v, ok := d.val()
	if !ok {
		return nil
	}
	t, null, reason := parseTimeValue(v)
	if reason != "" {
		d.fail(field, reason)
		return nil
	}
	if null {
		return nil
	}
	return &t
}

func (d *decoder) bool(field string) (b, ok bool) {
	v, ok := d.val()
	if !ok {
		return false, false
	}
	b, null, reason := parseBool(v)
	if reason != "" {
		d.fail(field, reason)
		return false, false
	}
	return b, !null
}

func (d *decoder) optBool(field string) *bool {
	if b, ok := d.bool(field); ok {
		return &b
	}
	return nil
}

func (d *decoder) flag(field string) bool {
	b, _ := d.bool(field)
	return b
}

func (d *decoder) json() JSON {
	if v, ok := d.val(); ok {
		return parseJSON(v)
	}
	return nil
}

// enum reads a string field whose values come from a small vocabulary,
// without allocating for the known ones.
func (d *decoder) enum(field string) (string, bool) {
	v, ok := d.val()
	if !ok {
		return "", false
	}
	if v.kind == kindString && !v.esc {
		if s, ok := knownEnum(v.raw[1 : len(v.raw)-1]); ok {
			return s, true
		}
	}
	s, null, reason := parseString(v)
	if reason != "" {
		d.fail(field, reason)
		return "", false
	}
	return s, !null
}

// array opens an array-valued field: ok is false for null (no elements)
// and for anything else but an array, which is an error. A loop over
// elem must follow, then endNested.
func (d *decoder) array(field string) (arrIter, bool) {
	if c := d.s.peek(); c == '[' {
		d.s.pos++
		d.s.depth++
		if d.s.depth > maxDepth {
			d.fatal = d.s.errf("nesting deeper than %d", maxDepth)
			return arrIter{}, false
		}
		return arrIter{}, true
	}
	v, ok := d.val()
	if ok && v.kind != kindNull {
		d.fail(field, "expected an array, got "+describe(v))
	}
	return arrIter{}, false
}

// elem reports whether another element of the array follows; the
// caller then consumes exactly one value.
func (d *decoder) elem(it *arrIter) bool {
	if d.fatal != nil {
		return false
	}
	ok, err := d.s.nextElem(it)
	if err != nil {
		d.fatal = err
		return false
	}
	return ok
}
