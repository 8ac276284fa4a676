package testkit

import "time"

// Control measures how well any process on this machine can keep a schedule just now: a 10 ms
// ticker in this process records how late each tick is received. A timing figure taken while the
// control is badly late says more about the machine (other test binaries, -race) than about the
// code under test, so timing targets are checked only when the control is on time.
type Control struct {
	stop chan struct{}
	done chan []time.Duration
}

// ControlLimit is how late (p99) the control may run for timing targets still to be checked.
const ControlLimit = 10 * time.Millisecond

// StartControl starts the control ticker; Stop ends it.
func StartControl() *Control {
	c := &Control{stop: make(chan struct{}), done: make(chan []time.Duration, 1)}
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var late []time.Duration
		for {
			select {
			case <-c.stop:
				c.done <- late
				return
			case due := <-tick.C:
				late = append(late, time.Since(due))
			}
		}
	}()
	return c
}

// Stop ends the control and returns its p99 and maximum lateness.
func (c *Control) Stop() (p99, worst time.Duration) {
	close(c.stop)
	late := <-c.done
	return Percentile(late, 99), Percentile(late, 100)
}
