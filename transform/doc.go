// Package transform turns raw SmartLead JSON records into typed warehouse
// rows. Everything here is a pure function: no I/O, no clock, no goroutines.
// A record that cannot be converted becomes a Rejected value naming the
// stream, record key and field; nothing is dropped silently.
//
// # Entry points
//
// [FromPage] routes a page by its stream and returns a [Batch]: one row
// or one [Rejected] per record, plus the total the API reported on the
// first page of leads or statistics. The per-stream decoders
// ([DecodeLead], [DecodeCampaign], ...) convert a single record and
// return a [*FieldError] naming the dotted field path ("lead.id",
// "warmup_details.warmup_reputation") when they cannot.
//
// [SignalsFromPage] does the same for the account-wide change signals
// (extract.SignalStreams), which feed change detection rather than a
// table: [OverallStat] rows and [LeadActivity] rows with their emails.
// An overall-stats row without its sent and replied counters is
// rejected: reading zeros would call every campaign unchanged.
//
// # What the API sends and what a row holds
//
//   - Numbers: a number or a numeric string ("359"); any exact integer
//     ("12.0", 1.2e1) in int64 range; ids above 2^31 are normal. null and
//     "" are NULL for pointer fields and 0 for counters. "abc", 1.5, true
//     are errors.
//   - Timestamps: see [ParseTime]; always UTC. null and "" are NULL.
//   - Percentages: "95%", "1.6%", 95, "95" all give a number.
//   - Booleans: true/false, "true"/"false", 0/1.
//   - Text: a string, or a number as its literal text; "" stays "".
//     Invalid UTF-8 becomes U+FFFD, as DuckDB requires valid text.
//   - Free-form objects (custom_fields, scheduler_cron_value, tags, ...):
//     compact JSON; null and "" are NULL.
//   - Required keys: a record without its key, with a key that is not a
//     positive integer, or an empty object {} is rejected.
//   - Unknown fields are ignored, so new API fields do not break a run.
//
// # Secrets
//
// Decoders never read password, imap_password or any other secret: such
// members are skipped like unknown fields. [Redact] removes them from the
// raw JSON kept in Rejected.Raw, at any depth.
//
// # Speed
//
// The decoders share a small single-pass scanner instead of
// encoding/json: keys are matched without allocation, values converted
// in place, unknown members validated and skipped. A lead decodes in
// about 1 µs with 4 allocations (encoding/json with flexible field types:
// about 7 µs and 32 allocations).
package transform
