// Package transform turns raw SmartLead JSON records into typed warehouse
// rows. Everything here is a pure function: no I/O, no clock, no goroutines.
// A record that cannot be converted becomes a Rejected value naming the
// stream, record key and field; nothing is dropped silently.
package transform
