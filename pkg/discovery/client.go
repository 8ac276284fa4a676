package discovery

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/pkg/httpx"
)

// QueryWait bounds every blocking query, so that each one ends well inside the client's timeout,
// and a registry that has gone away without closing the connection is noticed within seconds.
const QueryWait = 2 * time.Second

// NewClient returns a consul/api client for the registry at registryURL (the hub or a Consul
// agent), sending token as X-Consul-Token when it is set.
func NewClient(registryURL, token string) (*api.Client, error) {
	u, err := url.Parse(registryURL)
	if err != nil {
		return nil, fmt.Errorf("registry URL %q: %w", registryURL, err)
	}
	transport := httpx.NewTransport(16)
	cfg := api.DefaultNonPooledConfig()
	cfg.Address = u.Host
	cfg.Scheme = u.Scheme
	cfg.Token = token
	cfg.WaitTime = QueryWait
	cfg.Transport = transport
	// Each request is bounded: a blocking query takes at most QueryWait plus Consul's jitter.
	cfg.HttpClient = &http.Client{Transport: transport, Timeout: QueryWait + 5*time.Second}
	return api.NewClient(cfg)
}
