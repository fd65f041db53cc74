// Package webhook is the receiver for SmartLead's webhook deliveries
// (`smartlead-etl listen`). [Handler] authenticates a delivery (the
// secret_key field and, when present, the X-Smartlead-Signature HMAC),
// decodes it with transform.DecodeWebhook, appends it to the durable spool
// beside the warehouse and answers 200 only once the spool has fsynced
// it. [Serve] runs the handler on a listener together with the merger,
// which moves spooled events into the warehouse (load.Store.MergeEvents)
// whenever no other process holds it: the receiver never holds the
// warehouse while it waits for deliveries, so the nightly run is never
// kept out, and the run merges what is spooled at its own commit.
//
// Durability: a delivery is acknowledged after fsync, so a receiver
// killed at any moment has lost only deliveries it had not answered, and
// SmartLead retries those. A delivery spooled twice (a retry, or a double
// send) is merged once: email_events is keyed by the event's identity.
package webhook
