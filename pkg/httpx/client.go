package httpx

import (
	"net"
	"net/http"
	"time"
)

// NewTransport returns the http.Transport a service dials its peers with: never through a proxy
// (peers are on the service network and are always dialled directly), a 2 s dial timeout,
// 30 s TCP keep-alives, and an idle pool of idlePerHost connections per peer, so that a busy
// caller reuses connections instead of dialling one per request.
func NewTransport(idlePerHost int) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          max(100, 4*idlePerHost),
		MaxIdleConnsPerHost:   idlePerHost,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
