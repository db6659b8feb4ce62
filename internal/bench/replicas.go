package bench

import (
	"strings"
	"sync/atomic"
)

// Endpoints returns the GraphQL endpoints of a comma-separated list of
// service URLs, one per replica, each as Endpoint gives it.
func Endpoints(raw string) ([]string, error) {
	var eps []string
	for u := range strings.SplitSeq(raw, ",") {
		ep, err := Endpoint(strings.TrimSpace(u))
		if err != nil {
			return nil, err
		}
		eps = append(eps, ep)
	}
	return eps, nil
}

// NewReplicasClient returns a client of the endpoints of several replicas
// that sends each request to the next of them in turn, as a round-robin
// load balancer does: the requests of every worker, refresh chains
// included, are spread evenly over the replicas.
func NewReplicasClient(endpoints []string, workers int) *Client {
	c := NewClient(endpoints[0], workers)
	if len(endpoints) > 1 {
		c.replicas = &replicas{endpoints: endpoints}
	}
	return c
}

// replicas are the endpoints a Client spreads its requests over.
type replicas struct {
	endpoints []string
	next      atomic.Uint64
}

// target is the endpoint of c's next request.
func (c *Client) target() string {
	if c.replicas == nil {
		return c.endpoint
	}
	r := c.replicas
	return r.endpoints[(r.next.Add(1)-1)%uint64(len(r.endpoints))]
}
