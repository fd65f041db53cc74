// Package export writes the warehouse as Hive-partitioned, ZSTD-compressed
// Parquet files with a manifest.json, for any other warehouse to read.
//
// It reads the public views of an open warehouse through a *sql.DB and
// imports no pipeline stage. Each partition it touches is written aside
// and swapped in whole, so readers never see a partial export; see
// [Export].
package export
