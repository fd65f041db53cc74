// Package report is the warehouse's read side for people: the named SQL
// reports of sql/reports, ad-hoc read-only queries, and the output formats
// (table, csv, json, markdown) both print in.
//
// It reads the warehouse through a [Source] (a *load.Store is one) and
// imports no pipeline stage. Report filters are bound as query parameters
// ($campaign, $since, $until), never spliced into SQL, and a query is
// prepared as exactly one statement and refused unless it only reads.
package report
