package registry

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
)

// decodeRegistration decodes and validates an AgentServiceRegistration body.
func decodeRegistration(body []byte) (*serviceState, []*checkState, error) {
	var reg api.AgentServiceRegistration
	if err := httpx.DecodeJSONBytes(body, &reg); err != nil {
		return nil, nil, err
	}
	return parseRegistration(&reg)
}

// parseRegistration turns a registration into catalog records as a Consul agent would: ID
// defaults to Name, check IDs are "service:<id>" (or "service:<id>:<n>" for Checks), and new
// checks start critical unless they say otherwise.
func parseRegistration(reg *api.AgentServiceRegistration) (*serviceState, []*checkState, error) {
	fe := errs.FieldErrors{}
	name := strings.TrimSpace(reg.Name)
	if name == "" {
		fe["Name"] = "is required"
	}
	id := reg.ID
	if id == "" {
		id = name
	}
	if name != "" {
		validIdentifier(fe, "Name", name)
	}
	if reg.ID != "" {
		validIdentifier(fe, "ID", id)
	}
	validTags(fe, reg.Tags)
	validMeta(fe, reg.Meta)
	if reg.Port < 0 || reg.Port > 65535 {
		fe["Port"] = "must be from 0 to 65535"
	}
	if reg.Kind != "" {
		fe["Kind"] = "only plain services are supported"
	}
	type numbered struct {
		c     *api.AgentServiceCheck
		field string
		id    string
	}
	var defs []numbered
	if reg.Check != nil {
		defs = append(defs, numbered{reg.Check, "Check", "service:" + id})
	}
	for i, c := range reg.Checks {
		if c == nil {
			continue
		}
		defs = append(defs, numbered{c, fmt.Sprintf("Checks[%d]", i), fmt.Sprintf("service:%s:%d", id, i+1)})
	}
	var checks []*checkState
	seen := map[string]bool{}
	for _, d := range defs {
		if d.c.CheckID != "" {
			if p := identifierProblem(d.c.CheckID); p != "" {
				fe[d.field] = "CheckID " + p
				continue
			}
		}
		cs, err := parseCheck(d.c, d.id, name)
		if err != nil {
			fe[d.field] = err.Error()
			continue
		}
		if seen[cs.Def.CheckID] {
			fe[d.field] = fmt.Sprintf("duplicate CheckID %q", cs.Def.CheckID)
			continue
		}
		seen[cs.Def.CheckID] = true
		checks = append(checks, cs)
	}
	if len(fe) > 0 {
		return nil, nil, fe
	}
	weights := api.AgentWeights{Passing: 1, Warning: 1}
	if reg.Weights != nil {
		weights = *reg.Weights
	}
	svc := &serviceState{Service: api.AgentService{
		ID:                id,
		Service:           name,
		Tags:              nonNil(reg.Tags),
		Meta:              reg.Meta,
		Port:              reg.Port,
		Address:           reg.Address,
		TaggedAddresses:   reg.TaggedAddresses,
		Weights:           weights,
		EnableTagOverride: reg.EnableTagOverride,
		Datacenter:        datacenter,
	}}
	if svc.Service.Meta == nil {
		svc.Service.Meta = map[string]string{}
	}
	return svc, checks, nil
}

func parseCheck(c *api.AgentServiceCheck, defaultID, serviceName string) (*checkState, error) {
	def := checkDef{
		CheckID: c.CheckID, Name: c.Name, Notes: c.Notes,
		HTTP: c.HTTP, Method: strings.ToUpper(c.Method), Header: c.Header, Body: c.Body, TCP: c.TCP, GRPC: c.GRPC,
	}
	if def.CheckID == "" {
		def.CheckID = defaultID
	}
	if def.Name == "" {
		def.Name = fmt.Sprintf("Service '%s' check", serviceName)
	}
	var err error
	if def.Interval, err = parseDuration("Interval", c.Interval); err != nil {
		return nil, err
	}
	if def.Timeout, err = parseDuration("Timeout", c.Timeout); err != nil {
		return nil, err
	}
	if def.TTL, err = parseDuration("TTL", c.TTL); err != nil {
		return nil, err
	}
	if def.DeregisterCriticalServiceAfter, err = parseDuration("DeregisterCriticalServiceAfter", c.DeregisterCriticalServiceAfter); err != nil {
		return nil, err
	}
	def.SuccessBeforePassing, def.FailuresBeforeWarning, def.FailuresBeforeCritical =
		c.SuccessBeforePassing, c.FailuresBeforeWarning, c.FailuresBeforeCritical
	switch {
	case def.SuccessBeforePassing < 0 || def.FailuresBeforeWarning < 0 || def.FailuresBeforeCritical < 0:
		return nil, errors.New("SuccessBeforePassing, FailuresBeforeWarning and FailuresBeforeCritical must be 0 or more")
	case def.FailuresBeforeWarning == 0:
		// Consul's default: no warning before critical.
		def.FailuresBeforeWarning = def.FailuresBeforeCritical
	case def.FailuresBeforeWarning > def.FailuresBeforeCritical:
		return nil, errors.New("FailuresBeforeWarning can't be higher than FailuresBeforeCritical")
	}
	kinds := 0
	for _, set := range []bool{def.HTTP != "", def.TCP != "", def.TTL > 0, def.GRPC != ""} {
		if set {
			kinds++
		}
	}
	switch {
	case len(c.Args) > 0 || c.Shell != "" || c.DockerContainerID != "" || c.H2PING != "" || c.UDP != "":
		return nil, fmt.Errorf("only HTTP, TCP, GRPC and TTL checks are supported")
	case c.GRPCUseTLS:
		return nil, fmt.Errorf("GRPC checks over TLS are not supported")
	case kinds == 0:
		return nil, fmt.Errorf("needs one of HTTP, TCP, GRPC or TTL")
	case kinds > 1:
		return nil, fmt.Errorf("must have only one of HTTP, TCP, GRPC or TTL")
	}
	switch {
	case def.HTTP != "":
		u, err := url.Parse(def.HTTP)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("HTTP %q is not an http(s) URL", def.HTTP)
		}
		if def.Method == "" {
			def.Method = "GET"
		}
	case def.TCP != "":
		if _, _, err := net.SplitHostPort(def.TCP); err != nil {
			return nil, fmt.Errorf("TCP %q is not host:port", def.TCP)
		}
	case def.GRPC != "":
		if addr, _ := splitGRPCTarget(def.GRPC); !validHostPort(addr) {
			return nil, fmt.Errorf("GRPC %q is not host:port or host:port/service", def.GRPC)
		}
	}
	if def.TTL == 0 {
		if def.Interval <= 0 {
			return nil, errors.New("an Interval is required for HTTP, TCP and GRPC checks")
		}
		def.Interval = max(def.Interval, minInterval)
		if def.Timeout <= 0 {
			def.Timeout = defaultTimeout
		}
		// A probe that outlives its interval would only delay the next one.
		def.Timeout = min(def.Timeout, def.Interval)
	}
	status := api.HealthCritical
	if c.Status != "" {
		s, ok := normalizeStatus(c.Status)
		if !ok {
			return nil, fmt.Errorf("check status %q: want passing, warning or critical", c.Status)
		}
		status = s
	}
	return &checkState{Def: def, Status: status}, nil
}

// parseDuration reads a Consul duration: a Go duration such as "10s" or "1500ms", or a bare
// number of seconds.
func parseDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		n, nerr := strconv.ParseUint(s, 10, 32)
		if nerr != nil {
			return 0, fmt.Errorf("%s %q is not a duration such as 10s or 500ms", field, s)
		}
		d = time.Duration(n) * time.Second
	}
	if d < 0 {
		return 0, fmt.Errorf("%s %q must not be negative", field, s)
	}
	return d, nil
}

// normalizeStatus accepts Consul's status names and the short forms its TTL calls use.
func normalizeStatus(s string) (string, bool) {
	switch strings.ToLower(s) {
	case "passing", "pass":
		return api.HealthPassing, true
	case "warning", "warn":
		return api.HealthWarning, true
	case "critical", "fail":
		return api.HealthCritical, true
	}
	return "", false
}
