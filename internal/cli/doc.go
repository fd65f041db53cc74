// Package cli is smartlead-etl's command line: one file per command, each
// declaring only the flags it honours from small groups (the warehouse,
// the log, the API, what a run fetches, a run's bounds, its outputs), each
// flag also read from its own SMARTLEAD_ variable; and the exit codes
// scripts branch on. It holds no business logic: it turns flags into the
// configuration of pipeline, report, export, dashboard and webhook, prints
// their results, and maps their errors to exit codes. Nothing imports it
// but package main.
package cli
