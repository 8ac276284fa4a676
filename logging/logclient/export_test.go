package logclient

// Failures is the number of failed delivery attempts so far, for the external tests, which run
// the Shipper against the real log service (the logging package imports this one, so those
// tests cannot live inside it).
func (s *Shipper) Failures() uint64 { return s.failures.Load() }

// Enqueued is the number of entries Log has accepted.
func (s *Shipper) Enqueued() uint64 { return s.enqueued.Load() }
