// Package lockfile is the overlap guard for cron: an flock(2)-held file
// beside the database with the holder's PID inside. The kernel releases
// the lock when its holder dies, so a stale file from a crashed run is
// simply taken over; only a live holder makes Acquire fail.
package lockfile
