// Package tmpfs gives tests a real small filesystem to fill: a tmpfs
// mounted under the test's temporary directory and unmounted at its end.
// Mounting needs root (CAP_SYS_ADMIN); elsewhere the test is skipped with
// a message saying so, and the behaviour is covered by injected write
// failures instead.
package tmpfs
