// Package pipeline wires one run of the ETL: it takes the overlap lock,
// opens the warehouse, builds the one shared rate limiter (seeded with the
// requests earlier runs made, from the ledger), crawls the API, hands
// every page through transform to load, and commits or rolls back the
// snapshot. Data flows one way: extract, then transform, then load. It
// holds no flag parsing or output formatting; internal/cli does that.
package pipeline
