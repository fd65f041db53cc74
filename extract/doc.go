// Package extract is the SmartLead REST client: one shared multi-window
// rate limiter, retries that honour Retry-After, bounded concurrency and
// pagination. It yields raw records as Pages; it never decodes them into
// warehouse rows (that is package transform's job) and never touches the
// database.
package extract
