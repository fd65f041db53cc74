// Package privfile creates the files and directories that hold people's
// data (the warehouse, its WAL, lock files, exports) private to their
// owner: files 0600, directories 0700, whatever the umask. Files another
// library creates (DuckDB's database, WAL and Parquet files, made with
// 0666 minus the umask) are covered by Umask, which the command calls
// first thing, and by Restrict after the fact where a path is known.
package privfile
